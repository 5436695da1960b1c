"""Fixtures of the parametrize area.

Tests reach the implementation under test only through ``parametrize_area`` (its
``.parametrize`` and ``.parametrizations`` namespaces) and public torch APIs.

Device hook: a test that takes a ``device`` argument runs once on ``"cpu"`` and once more
on the backend's own device when it is not the CPU (``conformance_backend.device``, e.g.
a lazy device). Such tests build their model on the CPU, move it and the inputs to
``device``, and compare what comes back to a CPU computation, so a new device only
needs a backend that declares it, not new tests.
"""

from __future__ import annotations

import pytest

from conformance.contract import ParametrizeArea
from conformance.discovery import LoadedBackend
from conformance.plugin import state_of


def devices_under_test(config: pytest.Config) -> list[str]:
    """``["cpu"]``, plus the backend's device when it differs."""
    device = state_of(config).backend.device
    return ["cpu"] if device == "cpu" else ["cpu", device]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", devices_under_test(metafunc.config))


@pytest.fixture
def parametrize_area(conformance_backend: LoadedBackend) -> ParametrizeArea:
    """The backend's parametrize area (see conformance.contract.ParametrizeArea)."""
    return conformance_backend.areas["parametrize"]  # type: ignore[return-value]
