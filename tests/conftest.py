"""Helpers for meta-tests: run the conformance suite end to end against a chosen backend.

Broken and fake backends live in ``tests/_backends/`` (put on ``PYTHONPATH`` of the
child pytest), so a meta-test names one as ``--backend=broken_fx:recompiles_eagerly``.
The child run is a subprocess: it gets a fresh interpreter, as a user's run does, and
backends that patch global state cannot leak into the meta-test process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

import conformance
from conformance.results import CaseResult, RunStatus, build_report, write_report

BACKENDS_DIR = Path(__file__).parent / "_backends"
#: The op sweep's module, wherever conformance is installed (--ignore needs a real path).
SWEEP = Path(conformance.__file__).parent / "lazy" / "test_ops.py"
# In-process tests load the same backends by spec (``fake:no_areas``) as child runs do.
sys.path.insert(0, str(BACKENDS_DIR))


class SuiteRun:
    """The outcome of one child pytest run, with the JSON report it wrote."""

    def __init__(self, result: pytest.RunResult, report_path: Path) -> None:
        self.result = result
        self.ret = result.ret
        self.report: dict[str, Any] = (
            json.loads(report_path.read_text()) if report_path.exists() else {}
        )

    @property
    def outcomes(self) -> dict[str, str]:
        """Canonical test id -> outcome, from the report."""
        return {t["id"]: t["outcome"] for t in self.report.get("tests", [])}

    def failed_ids(self) -> list[str]:
        return sorted(i for i, o in self.outcomes.items() if o in ("failed", "error", "xpassed"))

    def assert_caught_by(self, catching: Iterable[str], label: str) -> None:
        """The run failed, and every test in ``catching`` is among its failures.

        The meta-test contract for broken backends: failing is not enough, the tests
        written for the planted bug must be the ones that notice it.
        """
        catching = list(catching)
        assert self.outcomes, f"no report from the child run:\n{self.text()}"
        assert self.ret != 0, f"the suite passed on {label}:\n{self.text()}"
        failed = set(self.failed_ids())
        # A variant whose patch itself breaks (a hook point that moved) errors every test
        # and would look "caught": a planted bug leaves most of the suite passing.
        others = {o for t, o in self.outcomes.items() if t not in set(catching)}
        assert not others or "passed" in others, (
            f"{label}: no test passed, so the variant is broken as a whole, not by its bug:"
            f"\n{self.text()}"
        )
        missed = [test for test in catching if test not in failed]
        assert not missed, (
            f"{label}: these tests should have failed but were "
            f"{[self.outcomes.get(t, 'not collected') for t in missed]}: {missed}\n"
            f"failed instead: {sorted(failed)}"
        )

    def assert_all_passed(self, tests: Iterable[str]) -> None:
        """The run succeeded and each of ``tests`` was collected and passed."""
        assert self.ret == 0, self.text()
        not_passed = {t: self.outcomes.get(t, "not collected") for t in tests}
        assert {t: o for t, o in not_passed.items() if o != "passed"} == {}

    def text(self) -> str:
        return self.result.stdout.str() + self.result.stderr.str()


RunSuite = Callable[..., SuiteRun]


def write_synthetic_report(
    path: Path,
    backend: dict[str, Any],
    results: list[CaseResult],
    run: RunStatus | None = None,
) -> Path:
    """Write a report as the plugin would, for tests of the commands that read reports.

    The run is complete unless ``run`` says otherwise.
    """
    report = build_report(
        backend=backend,
        results=results,
        expectations=None,
        unmatched=[],
        run=run or RunStatus("complete", exitstatus=0, collected=len(results)),
        torch_version="2.13.0",
    )
    write_report(path, report)
    return path


@pytest.fixture
def run_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> RunSuite:
    """Run ``pytest --pyargs <target> --backend=<backend> <args>`` in a subprocess.

    ``target`` is a dotted suite such as ``conformance.fx``; the report is always
    written so tests can assert per-test outcomes rather than grep output. The op sweep
    (``lazy/test_ops.py``, minutes per run) is left out unless ``target`` names it.
    """
    paths = [str(BACKENDS_DIR), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    monkeypatch.delenv("CONFORMANCE_BACKEND", raising=False)

    def run(target: str, backend: str | None = None, *args: str, timeout: float = 600) -> SuiteRun:
        report = pytester.path / "report.json"
        argv = ["--pyargs", target, f"--conformance-report={report}", "-p", "no:cacheprovider"]
        if backend is not None:
            argv.append(f"--backend={backend}")
        if "test_ops" not in target:
            argv.append(f"--ignore={SWEEP}")
        result = pytester.runpytest_subprocess(*argv, *args, timeout=timeout)
        return SuiteRun(result, report)

    return run


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class RunningSuite:
    """A child pytest started in the background (for interrupt tests)."""

    def __init__(self, proc: subprocess.Popen[str], report: Path) -> None:
        self.proc = proc
        self.report_path = report

    def signal(self, signum: int, *, group: bool = True) -> None:
        """Send ``signum`` to the child (and, like a terminal's Ctrl-C, its workers)."""
        if group:
            os.killpg(self.proc.pid, signum)
        else:
            self.proc.send_signal(signum)

    def finish(self, timeout: float = 300) -> tuple[int, str, dict[str, Any]]:
        """(exit status, output, report) once the child has exited."""
        out, _ = self.proc.communicate(timeout=timeout)
        report = json.loads(self.report_path.read_text()) if self.report_path.exists() else {}
        return self.proc.returncode, out, report


@pytest.fixture
def start_suite(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., RunningSuite]]:
    """Start ``pytest --pyargs <target> --backend=<backend> <args>`` without waiting."""
    paths = [str(BACKENDS_DIR), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    monkeypatch.delenv("CONFORMANCE_BACKEND", raising=False)
    started: list[subprocess.Popen[str]] = []

    def start(target: str, backend: str, *args: str) -> RunningSuite:
        report = pytester.path / "report.json"
        argv = [sys.executable, "-m", "pytest", "--pyargs", target, f"--backend={backend}"]
        argv += [f"--conformance-report={report}", "-p", "no:cacheprovider", *args]
        proc = subprocess.Popen(
            argv,
            cwd=pytester.path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group, as a terminal job has
            # A terminal's Ctrl-C reaches a pytest whose SIGINT is not ignored; an xdist
            # worker (this test's parent under -n) ignores it, and children inherit that.
            preexec_fn=_default_sigint,
        )
        started.append(proc)
        return RunningSuite(proc, report)

    yield start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
