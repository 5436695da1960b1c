"""Finding and validating backends: every bad input is a usage error that names the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.discovery import BackendError, load_backend
from tests.conftest import RunSuite


def test_builtin_backends_load_through_entry_points() -> None:
    """reference and torch are found by name through the conformance.backends group."""
    for name in ("reference", "torch"):
        loaded = load_backend(name)
        assert loaded.name == name
        assert "fx" in loaded.areas


def test_module_attr_spec_and_class_instantiation() -> None:
    """package.module:attr works, and a class is instantiated with no arguments."""
    loaded = load_backend("fake:PlainReferenceClass")
    assert loaded.name == "plain"
    assert loaded.expectations is None


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        ("nope", ["unknown backend 'nope'", "known backends:", "reference", "torch"]),
        (
            "import_fails:backend",
            [
                "importing module 'import_fails' failed",
                "ModuleNotFoundError",
                "not_an_installed_module_xyz",
            ],
        ),
        ("fake:no_such_attr", ["has no attribute 'no_such_attr'"]),
        ("fake", ["unknown backend 'fake'"]),
        (
            "fake:lacks_members",
            ["lacks required members: version, device", "conformance/writing-a-backend.md"],
        ),
        (
            "fake:incomplete_area",
            ["'fx' area", "lacks required members: force_recompile, needs_recompile"],
        ),
        (
            "fake:area_raises",
            ["providing area 'fx' failed", "RuntimeError", "fx support needs libfoo.so"],
        ),
        (":x", ["malformed"]),
    ],
)
def test_load_errors_name_problem(spec: str, fragments: list[str]) -> None:
    """Each way a backend can be wrong gives a BackendError that says what and where."""
    with pytest.raises(BackendError) as info:
        load_backend(spec)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_usage_error_not_traceback(run_suite: RunSuite) -> None:
    """From pytest, a bad backend ends the run with exit code 4 and one clear line."""
    run = run_suite("conformance.fx", "fake:incomplete_area")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    text = run.text()
    assert "ERROR: torch-conformance: backend 'incomplete'" in text
    assert "needs_recompile" in text
    assert "Traceback" not in text


def test_env_var_selects_backend(run_suite: RunSuite, monkeypatch: pytest.MonkeyPatch) -> None:
    """CONFORMANCE_BACKEND is the fallback when --backend is not given."""
    monkeypatch.setenv("CONFORMANCE_BACKEND", "fake:no_areas")
    run = run_suite("conformance.fx", None)
    assert "conformance: backend nothing 1.0" in run.text()
    assert run.report["backend"]["name"] == "nothing"


def test_unimplemented_area_is_skipped_and_counted(run_suite: RunSuite) -> None:
    """Suites of areas a backend lacks are skipped with a reason and counted as not implemented."""
    run = run_suite("conformance.fx", "fake:no_areas", "-rs")
    assert run.ret == pytest.ExitCode.OK
    outcomes = set(run.outcomes.values())
    assert outcomes == {"not_implemented"}
    assert "backend nothing does not implement fx" in run.text()
    row = run.report["summary"]["fx"]
    assert row["not impl."] == len(run.outcomes) > 0
    assert row["conformance"] is None


def _fake_distribution(root: Path, name: str, entry: str) -> None:
    """An installed-looking distribution (a .dist-info folder) registering one backend."""
    info = root / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[conformance.backends]\n{entry}\n")


def test_entry_point_import_failure_names_distribution_and_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A registered plugin whose import fails is reported with its distribution and cause."""
    _fake_distribution(tmp_path, "broken_plugin", "broken = import_fails:backend")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(BackendError) as info:
        load_backend("broken")
    message = str(info.value)
    assert "backend 'broken' (entry point 'import_fails:backend' from distribution" in message
    assert "'broken_plugin'" in message
    assert "ModuleNotFoundError: No module named 'not_an_installed_module_xyz'" in message


def test_duplicate_registration_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two distributions claiming one backend name is an error naming both."""
    _fake_distribution(tmp_path / "a", "plugin_a", "twin = fake:no_areas")
    _fake_distribution(tmp_path / "b", "plugin_b", "twin = fake:plain_reference")
    monkeypatch.syspath_prepend(str(tmp_path / "a"))
    monkeypatch.syspath_prepend(str(tmp_path / "b"))
    with pytest.raises(BackendError, match="registered more than once") as info:
        load_backend("twin")
    assert "fake:no_areas" in str(info.value)
    assert "fake:plain_reference" in str(info.value)
