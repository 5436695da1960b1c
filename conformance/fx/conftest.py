"""Fixtures of the fx area."""

from __future__ import annotations

import pytest

from conformance.contract import FxArea
from conformance.discovery import LoadedBackend


@pytest.fixture
def fx_area(conformance_backend: LoadedBackend) -> FxArea:
    """The backend's fx area object (see conformance.contract.FxArea)."""
    return conformance_backend.areas["fx"]  # type: ignore[return-value]
