"""Fixtures of the lazy area.

Every test gets a clean slate: pending IR of earlier tests is executed, counters are
reset and force fallback is cleared, so counter assertions only see the test's own work.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.contract import LazyArea
from conformance.discovery import LoadedBackend


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The op sweep's gradient tier (test_grads.py) is collected only with --grads."""
    if collection_path.name == "test_grads.py" and not config.getoption("conformance_grads"):
        return True
    return None


@pytest.fixture(scope="session")
def _lazy_session(conformance_backend: LoadedBackend) -> LazyArea:
    area: LazyArea = conformance_backend.areas["lazy"]  # type: ignore[assignment]
    area.init()
    return area


@pytest.fixture
def lazy_area(_lazy_session: LazyArea) -> Iterator[LazyArea]:
    """The backend's lazy area (see conformance.contract.LazyArea), initialized and reset."""
    area = _lazy_session
    area.mark_step()
    area.reset_metrics()
    yield area
    area.set_force_fallback("")
    area.mark_step()


@pytest.fixture
def device_rng_matches_cpu(lazy_area: LazyArea) -> LazyArea:
    """The lazy area, for tests that expect the device's *default* RNG to draw CPU's numbers.

    ``torch.manual_seed(s)`` followed by ``torch.rand(..., device=lazy)`` (or ``nn.init``
    under ``with torch.device(lazy)``) gives CPU's numbers on PyTorch's TorchScript lazy
    backend, which runs random ops through CPU kernels, but not on torch_xla, whose
    device RNG is its own. This is a capability, not PyTorch's contract for a device, so
    every test relying on it takes this fixture instead of ``lazy_area``: it is the one
    place where a backend's declaration of the capability will gate them. (Draws from an
    explicit CPU ``torch.Generator`` are contract: both backends give CPU's numbers.)
    """
    return lazy_area
