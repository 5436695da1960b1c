"""Fixtures of the parametrize area.

Tests reach the implementation under test only through ``parametrize_area`` (its
``.parametrize`` and ``.parametrizations`` namespaces) and public torch APIs.

Device hook: a test that takes a ``device`` argument runs once on ``"cpu"`` and once more
on every other device the backend brings: its declared ``device`` and, when it
implements the lazy area, that area's device (initialized before the test, synced after
it). Such tests build their model on the CPU, move it and the inputs to ``device``, and
compare what comes back to a CPU computation, so a new device only needs a backend that
declares it, not new tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.contract import LazyArea, ParametrizeArea
from conformance.discovery import LoadedBackend
from conformance.plugin import state_of


def devices_under_test(config: pytest.Config) -> list[str]:
    """``["cpu"]``, plus the backend's declared device and its lazy area's device."""
    backend = state_of(config).backend
    lazy = backend.areas.get("lazy")
    devices = ["cpu"]
    for device in (backend.device, getattr(lazy, "device", None)):
        if device is not None and device not in devices:
            devices.append(device)
    return devices


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", devices_under_test(metafunc.config), indirect=True)


@pytest.fixture
def device(request: pytest.FixtureRequest, conformance_backend: LoadedBackend) -> Iterator[str]:
    """The device a test runs on; a lazy device is initialized first and synced after."""
    name: str = request.param
    lazy: LazyArea | None = conformance_backend.areas.get("lazy")  # type: ignore[assignment]
    if lazy is None or name != lazy.device:
        yield name
        return
    lazy.init()
    yield name
    lazy.mark_step()


@pytest.fixture
def parametrize_area(conformance_backend: LoadedBackend) -> ParametrizeArea:
    """The backend's parametrize area (see conformance.contract.ParametrizeArea)."""
    return conformance_backend.areas["parametrize"]  # type: ignore[return-value]
