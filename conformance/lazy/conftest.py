"""Fixtures of the lazy area.

Every test gets a clean slate: pending IR of earlier tests is executed, counters are
reset and force fallback is cleared, so counter assertions only see the test's own work.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.contract import LazyArea
from conformance.discovery import LoadedBackend


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
