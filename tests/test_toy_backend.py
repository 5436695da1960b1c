"""The example third-party plugin runs through its own entry point, with its own manifest."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from conformance.manifest import load_manifest
from tests.conftest import RunSuite

INSTALL_HINT = "install it: pip install -c constraints.txt ./examples/toy_backend"


@pytest.fixture
def toy_installed() -> None:
    eps = entry_points(group="conformance.backends", name="toy")
    assert eps, f"the toy backend is not installed; {INSTALL_HINT}"


@pytest.mark.usefixtures("toy_installed")
def test_toy_backend_runs_green_with_its_manifest(run_suite: RunSuite) -> None:
    """`--backend=toy` finds the plugin by entry point; its manifest accounts for every gap."""
    run = run_suite("conformance", "toy")
    assert run.ret == pytest.ExitCode.OK, run.text()
    assert "conformance: backend toy 0.1.0" in run.text()
    assert "toy_conformance_backend/expectations.toml" in run.report["expectations"]
    assert run.report["backend"]["areas"] == ["fx"]

    outcomes = run.outcomes
    fx = {t: o for t, o in outcomes.items() if t.startswith("fx/")}
    assert set(fx.values()) <= {"passed", "xfailed"}
    assert "passed" in fx.values()
    import toy_conformance_backend

    listed = load_manifest(toy_conformance_backend.backend.expectations).entries
    assert sum(o == "xfailed" for o in fx.values()) >= len(listed) > 0
    assert not run.report["unmatched_expectations"]
    others = {o for t, o in outcomes.items() if not t.startswith("fx/")}
    assert others <= {"not_implemented"}
