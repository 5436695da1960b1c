"""The op sweep's gradient tier (``--grads``): gradients on the lazy device match CPU's.

Collected only with ``--grads``. For every differentiable OpInfo op and sample, the
gradient of the sum of the op's floating outputs with respect to every input that
requires grad is computed on CPU and on the device and compared (see
``conformance/lazy/opsweep.py``).
"""

from __future__ import annotations

import pytest

from conformance.contract import LazyArea
from conformance.lazy import opsweep


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    opsweep.generate(metafunc, grads=True)


def test_grad(
    request: pytest.FixtureRequest, lazy_area: LazyArea, op_name: str, dtype: str
) -> None:
    """Every sample's input gradients on the device match CPU's."""
    opsweep.sweep(request, lazy_area, op_name, dtype, grads=True)
