"""A report never says more than the run did: interrupts, crashes and hangs, end to end.

Each test runs the installed suite from a temporary directory (``--pyargs``, as users
do) against a backend of ``tests/_backends/faulty_runs.py`` that breaks the run at a
chosen point, then checks the exit status, the terminal and the JSON report, and that
the release gate refuses what is not a verdict.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conformance.__main__ import main
from tests.conftest import RunningSuite, RunSuite

StartSuite = Callable[..., RunningSuite]


def _wait_for(path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"the child never reached {path.name}"
        time.sleep(0.1)


@pytest.mark.parametrize(
    ("signum", "xdist"),
    [(signal.SIGINT, ()), (signal.SIGINT, ("-n", "2")), (signal.SIGTERM, ("-n", "2"))],
    ids=["ctrl-c", "ctrl-c-xdist", "sigterm-xdist"],
)
def test_interrupted_run_is_not_a_verdict(
    start_suite: StartSuite,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    signum: int,
    xdist: tuple[str, ...],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The test cut off is 'interrupted' (never passed); compare and scoreboard refuse."""
    mark = tmp_path / "reached"
    monkeypatch.setenv("FAULTY_MARK", str(mark))
    monkeypatch.setenv("FAULTY_SLEEP", "30")
    run = start_suite("conformance.fx", "faulty_runs:slow_fx", *xdist)
    _wait_for(mark)
    time.sleep(1)  # let an xdist controller take in the worker's "started" message
    unfinished = run.report_path.read_text()
    assert '"status": "unfinished"' in unfinished  # on disk from the start
    run.signal(signum, group=signum == signal.SIGINT)
    status, out, report = run.finish()
    assert status == pytest.ExitCode.INTERRUPTED, out
    assert report["run"]["status"] == "interrupted"
    assert report["run"]["complete"] is False
    outcomes = {t["id"]: t["outcome"] for t in report["tests"]}
    cut_off = mark.read_text().split("::", 1)[1].rsplit(" ", 1)[0]
    [cut_off_id] = [t for t in outcomes if t.endswith("::" + cut_off)]
    assert outcomes[cut_off_id] == "interrupted"  # never "passed"
    assert "not_run" in outcomes.values()
    assert report["run"]["finished"] < report["run"]["collected"] == len(outcomes)
    assert "RUN INCOMPLETE (interrupted)" in out
    assert "This is not a verdict" in out

    capsys.readouterr()
    report_file = str(run.report_path)
    assert main(["compare", report_file, report_file]) == 2
    assert "did not complete (interrupted" in capsys.readouterr().err
    assert main(["compare", report_file, report_file, "--allow-incomplete"]) == 0
    board = str(tmp_path / "board")
    assert main(["scoreboard", report_file, "-o", board]) == 2
    assert main(["scoreboard", report_file, "-o", board, "--allow-incomplete"]) == 0
    assert "INCOMPLETE: interrupted" in (tmp_path / "board.md").read_text()
    assert 'id="incomplete-banner"' in (tmp_path / "board.html").read_text()


def test_crash_in_setup_counts_against_its_area(run_suite: RunSuite) -> None:
    """lazy.init() aborting every worker: lazy tests are errors, the run is 'crashed'."""
    run = run_suite(
        "conformance", "faulty_runs:lazy_init_aborts", "-n", "2", "--max-worker-restart=3"
    )
    assert run.ret == pytest.ExitCode.TESTS_FAILED, run.text()
    summary = run.report["summary"]
    assert summary["lazy"]["failed"] >= 1, summary
    assert summary["lazy"]["passed"] == 0
    lazy = {t: o for t, o in run.outcomes.items() if t.startswith("lazy/")}
    assert set(lazy.values()) <= {"error", "not_run"}
    crashes = run.report["run"]["crashes"]
    assert crashes
    assert all(c["test"].startswith(("lazy/", "parametrize/")) for c in crashes)
    assert run.report["run"]["status"] == "crashed"
    assert "RUN INCOMPLETE (crashed)" in run.text()
    table = run.text()[run.text().index("conformance: backend lazy-init-aborts") :]
    assert "\nlazy " in table  # the area is in the table, not silently dropped


def test_listed_crash_is_an_expected_failure(run_suite: RunSuite, tmp_path: Path) -> None:
    """A crash the manifest lists is xfailed with its reason; the run still passes."""
    manifest = tmp_path / "m.toml"
    target = "fx/test_recompile.py::test_force_recompile_realizes_once"
    manifest.write_text(f'[[expect]]\ntest = "{target}"\nreason = "aborts, mine#12"\n')
    run = run_suite(
        "conformance.fx",
        "faulty_runs:fx_crashes",
        "-n",
        "2",
        f"--expectations={manifest}",
        "-k",
        "test_force_recompile_realizes_once or test_pickle",
    )
    assert run.ret == pytest.ExitCode.OK, run.text()
    entry = next(t for t in run.report["tests"] if t["id"] == target)
    assert entry["outcome"] == "xfailed"
    assert entry["reason"].startswith("[failing] aborts, mine#12")
    assert "crashed" in entry["reason"]
    assert run.report["run"]["status"] == "complete"
    assert [c["test"] for c in run.report["run"]["crashes"]] == [target]


HANGER = "fx/test_recompile.py::test_force_recompile_realizes_once"


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_hang_is_an_error_and_the_run_goes_on(
    run_suite: RunSuite, monkeypatch: pytest.MonkeyPatch, xdist: tuple[str, ...]
) -> None:
    """A hanging test times out into an 'error' naming it; the other tests still run."""
    monkeypatch.setenv("FAULTY_ONLY", "test_force_recompile_realizes_once")
    run = run_suite(
        "conformance.fx",
        "faulty_runs:fx_hangs",
        *xdist,
        "--conformance-timeout=15",
        "-k",
        "test_recompile",
        timeout=300,
    )
    assert run.ret == pytest.ExitCode.TESTS_FAILED, run.text()
    assert run.outcomes[HANGER] == "error"
    entry = next(t for t in run.report["tests"] if t["id"] == HANGER)
    assert "Timeout" in entry["reason"]
    others = {t: o for t, o in run.outcomes.items() if t != HANGER}
    assert others
    assert set(others.values()) == {"passed"}
    assert run.report["run"]["status"] == "complete"


def test_hang_in_native_code_ends_the_run_with_a_report(
    run_suite: RunSuite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hang no signal can break: the watchdog writes a 'crashed' report naming the test."""
    monkeypatch.setenv("FAULTY_ONLY", "test_force_recompile_realizes_once")
    run = run_suite(
        "conformance.fx",
        "faulty_runs:fx_hangs_in_native_code",
        "--conformance-timeout=15",
        "-k",
        "test_recompile",
        timeout=300,
    )
    assert run.ret != pytest.ExitCode.OK
    assert run.report["run"]["status"] == "crashed"
    assert HANGER in run.report["run"]["detail"]
    assert run.outcomes[HANGER] == "error"
    assert "could not be interrupted" in run.text()


def test_hang_in_native_code_under_xdist_replaces_the_worker(
    run_suite: RunSuite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under xdist the stuck worker is ended; its test is an error and the rest run."""
    monkeypatch.setenv("FAULTY_ONLY", "test_force_recompile_realizes_once")
    run = run_suite(
        "conformance.fx",
        "faulty_runs:fx_hangs_in_native_code",
        "-n",
        "2",
        "--conformance-timeout=15",
        "-k",
        "test_recompile",
        timeout=300,
    )
    assert run.outcomes[HANGER] == "error"
    assert run.report["run"]["status"] == "complete"
    assert {o for t, o in run.outcomes.items() if t != HANGER} == {"passed"}


def test_installed_suite_has_a_default_timeout(run_suite: RunSuite) -> None:
    """Run from outside the checkout (no project ini), tests still get a timeout."""
    run = run_suite("conformance.fx", "reference", "-k", "test_pickle")
    assert run.ret == pytest.ExitCode.OK, run.text()
    assert "conformance: per-test timeout 300 s (--conformance-timeout)" in run.text()


def test_ini_timeout_applies_to_installed_suite(
    run_suite: RunSuite, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ini conformance_timeout configures the plugin's timeout for a hanging test."""
    pytester.makeini("[pytest]\nconformance_timeout = 3\n")
    monkeypatch.setenv("FAULTY_ONLY", "test_force_recompile_realizes_once")
    run = run_suite("conformance.fx", "faulty_runs:fx_hangs", "-k", "test_force_recompile")
    assert "per-test timeout 3 s" in run.text()
    assert run.outcomes[HANGER] == "error"


def test_workers_limit_intra_op_threads(run_suite: RunSuite) -> None:
    """Each of n workers uses cores // n intra-op threads; the header says so."""
    from conformance.runtime import available_cores

    run = run_suite("conformance.fx", "reference", "-n", "2", "-k", "test_pickle")
    threads = max(1, available_cores() // 2)
    assert f"conformance: 2 xdist workers x {threads} intra-op thread(s)" in run.text()
    custom = run_suite(
        "conformance.fx", "reference", "-n", "2", "--threads-per-worker=3", "-k", "test_pickle"
    )
    assert "conformance: 2 xdist workers x 3 intra-op thread(s)" in custom.text()


def test_several_module_arguments_keep_every_test_attributed(run_suite: RunSuite) -> None:
    """Two test modules named on the command line: each test keeps its own module's id.

    pytest's node ids are then ``::test_name`` with no file part; the xdist controller
    must still tell which module each test (and each started-but-unfinished test) is in.
    """
    run = run_suite(
        "conformance.fx.test_hooks", "reference", "conformance.fx.test_realize", "-n", "2"
    )
    assert run.ret == 0, run.text()
    assert run.report["run"]["status"] == "complete", run.report["run"]
    ids = set(run.outcomes)
    modules = {test_id.split("::", 1)[0] for test_id in ids}
    assert modules == {"fx/test_hooks.py", "fx/test_realize.py"}
    assert set(run.outcomes.values()) == {"passed"}
