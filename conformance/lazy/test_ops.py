"""The op sweep: every OpInfo op and sample on the lazy device, compared with CPU.

Tests are parametrized by op name and dtype only (``test_op[add-float32]``); sample
inputs are drawn inside each test. Options (group torch-conformance): ``--dtypes``,
``--ops``, ``--conformance-tier``, ``--op-timeout``; ``--grads`` adds
``test_grads.py``. See ``conformance/lazy/opsweep.py`` for how each sample is classified
(native / fallback / wrong / error) and when a test fails.
"""

from __future__ import annotations

import pytest

from conformance.contract import LazyArea
from conformance.lazy import opsweep


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    opsweep.generate(metafunc, grads=False)


def test_op(request: pytest.FixtureRequest, lazy_area: LazyArea, op_name: str, dtype: str) -> None:
    """Every sample gives CPU's outputs on the device; declared-native ops never fall back."""
    opsweep.sweep(request, lazy_area, op_name, dtype, grads=False)
