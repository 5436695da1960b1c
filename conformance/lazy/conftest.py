"""Fixtures of the lazy area.

Every test gets a clean slate: pending IR of earlier tests is executed, counters are
reset and force fallback is cleared (on backends that have it), so counter assertions
only see the test's own work.

Tests that need an optional part of the contract say so with
``@pytest.mark.conformance_needs("<capability>")`` (names:
``conformance.contract.LAZY_CAPABILITIES``); the plugin reports them *not implemented*
on a backend that does not declare it, before any fixture runs. Fixtures here call only
mandatory members, or optional ones the backend declares.
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
def lazy_area(_lazy_session: LazyArea, conformance_backend: LoadedBackend) -> Iterator[LazyArea]:
    """The backend's lazy area (see conformance.contract.LazyArea), initialized and reset."""
    area = _lazy_session
    area.mark_step()
    area.reset_metrics()
    yield area
    if "force_fallback" in conformance_backend.capabilities:
        area.set_force_fallback("")
    area.mark_step()
