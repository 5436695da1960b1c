"""Canonical test ids from node ids, and the recorder's folding of phase reports.

Both are pure functions of their inputs, so these are in-process unit tests; the
end-to-end behaviour (crashes, hangs, interrupts) is in ``test_run_integrity.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conformance import testids
from conformance.recorder import Recorder
from conformance.results import normalize_reason

PKG = testids.package_dir()


@pytest.mark.parametrize(
    ("nodeid", "rootpath", "initial", "expected"),
    [
        # --pyargs conformance from elsewhere: relative to the package (an initial path).
        ("lazy/test_device.py::t[a]", Path("/tmp"), [PKG], ("lazy/test_device.py::t[a]", "lazy")),
        # --pyargs conformance.fx: relative to the area's directory.
        ("test_recompile.py::t", Path("/tmp"), [PKG / "fx"], ("fx/test_recompile.py::t", "fx")),
        # a checkout run: relative to the rootdir that holds the package.
        ("conformance/fx/test_realize.py::t", PKG.parent, [], ("fx/test_realize.py::t", "fx")),
        # a project's own tests, and names the suite does not have.
        ("tests/test_plugin.py::t", PKG.parent, [], None),
        ("lazy/test_nothing_here.py::t", Path("/tmp"), [PKG], None),
        ("::t", Path("/tmp"), [PKG], None),
        # several module arguments: the module that defines the test decides.
        (
            "::test_str_shows_the_edit",
            Path("/tmp"),
            [PKG / "fx" / "test_hooks.py", PKG / "fx" / "test_realize.py"],
            ("fx/test_realize.py::test_str_shows_the_edit", "fx"),
        ),
        (
            "::test_forward_call_runs_no_hooks[x]",
            Path("/tmp"),
            [PKG / "fx" / "test_hooks.py", PKG / "fx" / "test_realize.py"],
            ("fx/test_hooks.py::test_forward_call_runs_no_hooks[x]", "fx"),
        ),
    ],
)
def test_canonical_id_from_any_node_id(
    nodeid: str, rootpath: Path, initial: list[Path], expected: tuple[str, str] | None
) -> None:
    """The xdist controller attributes a node id to its test wherever the suite lives."""
    assert testids.from_nodeid(nodeid, rootpath, initial) == expected


def test_initial_paths_resolve_dotted_names() -> None:
    """--pyargs names become package directories; other arguments are paths."""
    assert testids.initial_paths(["conformance.fx", "x/y.py::t"], Path("/w"), True) == [
        PKG / "fx",
        Path("/w/x/y.py"),
    ]


@pytest.mark.parametrize(
    ("arg", "pyargs", "expected"),
    [
        ("conformance", True, True),
        ("conformance.lazy.test_ops", True, True),
        (str(PKG / "fx" / "test_realize.py") + "::t", False, True),
        (str(PKG.parent), False, True),
        ("tests/conformance", False, False),
        ("conformance_plugin_of_mine", True, False),
        (".", False, False),
    ],
)
def test_which_arguments_name_the_suite(arg: str, pyargs: bool, expected: bool) -> None:
    """Only arguments that select the installed suite make a conformance run."""
    assert testids.names_suite(arg, Path("/nonexistent/project"), pyargs) is expected


@dataclass
class Phase:
    """A stand-in for pytest.TestReport with the fields the recorder reads."""

    when: str
    outcome: str = "passed"
    longrepr: Any = None
    duration: float = 0.1

    @property
    def skipped(self) -> bool:
        return self.outcome == "skipped"

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"


def test_setup_without_call_is_never_passed() -> None:
    """A test whose call never reported is interrupted or error, and its area counted."""
    for interrupted, outcome in ((True, "interrupted"), (False, "error")):
        rec = Recorder()
        rec.collect([("fx/a.py::t", "fx"), ("fx/a.py::u", "fx"), ("lazy/b.py::v", "lazy")])
        rec.fold(Phase("setup"), "fx/a.py::t", "fx")
        results = {r.id: r for r in rec.finish(interrupted=interrupted)}
        assert results["fx/a.py::t"].outcome == outcome
        assert results["fx/a.py::u"].outcome == "not_run"
        assert results["lazy/b.py::v"].outcome == "not_run"
        assert rec.pending() == ["fx/a.py::t"]
        assert rec.not_started() == ["fx/a.py::u", "lazy/b.py::v"]


def test_phases_fold_into_one_outcome() -> None:
    """Call decides; a teardown error turns a pass into an error; a setup error is error."""
    rec = Recorder()
    for phase in (Phase("setup"), Phase("call"), Phase("teardown", "failed", "boom")):
        rec.fold(phase, "fx/a.py::t", "fx")
    rec.fold(Phase("setup", "failed", "fixture broke"), "fx/a.py::u", "fx")
    rec.fold(Phase("teardown"), "fx/a.py::u", "fx")
    results = {r.id: (r.outcome, r.reason) for r in rec.finish(interrupted=False)}
    assert results == {"fx/a.py::t": ("error", "boom"), "fx/a.py::u": ("error", "fixture broke")}


def test_crash_is_error_unless_listed() -> None:
    """A crashed worker's test is an error; when the manifest lists it, an expected failure."""
    listed = {"lazy/b.py::known": ("[failing] aborts in init, mine#7", "failing")}
    rec = Recorder(listed=listed.get)
    rec.crash("lazy/b.py::known", "lazy", "gw1", "worker 'gw1' crashed while running x")
    rec.crash("lazy/b.py::new", "lazy", "gw0", "worker 'gw0' crashed while running y")
    results = {r.id: r for r in rec.finish(interrupted=False)}
    assert results["lazy/b.py::known"].outcome == "xfailed"
    assert results["lazy/b.py::known"].reason.startswith("[failing] aborts in init, mine#7")
    assert "crashed its worker" in results["lazy/b.py::known"].reason
    assert results["lazy/b.py::new"].outcome == "error"
    assert [c["test"] for c in rec.crashes] == ["lazy/b.py::known", "lazy/b.py::new"]


def test_reasons_of_two_runs_diff_clean() -> None:
    """Memory addresses are normalized out of failure reasons."""
    one = normalize_reason("<Linear object at 0x7f3a9c0d1e50> != <T at 0x7f3a9c0d1f10>")
    two = normalize_reason("<Linear object at 0x7fb00112ab30> != <T at 0x55d0c0ffee00>")
    assert one == two == "<Linear object at 0x?> != <T at 0x?>"
    assert normalize_reason("shape 0x10 stays") == "shape 0x10 stays"  # not an address
