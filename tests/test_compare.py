"""The release gate: ``python -m conformance compare BASE NEW``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conformance.__main__ import main
from conformance.results import CaseResult, RunStatus
from tests.conftest import write_synthetic_report


def _report(tmp_path: Path, name: str, outcomes: dict[str, str]) -> Path:
    results = [CaseResult(id=i, area=i.split("/")[0], outcome=o) for i, o in outcomes.items()]
    return write_synthetic_report(
        tmp_path / f"{name}.json", {"name": "b", "version": name}, results
    )


BASE = {
    "fx/t.py::stays": "passed",
    "fx/t.py::breaks": "passed",
    "fx/t.py::now_known": "passed",
    "fx/t.py::fixed": "xfailed",
    "fx/t.py::still_bad": "failed",
    "fx/t.py::dropped": "passed",
    "fx/t.py::skipped_before": "skipped",
}
NEW = {
    "fx/t.py::stays": "passed",
    "fx/t.py::breaks": "failed",
    "fx/t.py::now_known": "xfailed",
    "fx/t.py::fixed": "passed",
    "fx/t.py::still_bad": "failed",
    "fx/t.py::skipped_before": "passed",
    "fx/t.py::brand_new": "passed",
}


def test_regressions_and_newly_passing_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Passed->not passed is a regression (exit 1); not passed->passed is listed as new."""
    status = main(["compare", str(_report(tmp_path, "1", BASE)), str(_report(tmp_path, "2", NEW))])
    out = capsys.readouterr().out
    assert status == 1
    assert "REGRESSIONS (2)" in out
    assert "fx/t.py::breaks: passed -> failed" in out
    assert "fx/t.py::now_known: passed -> xfailed" in out
    assert "MISSING (1)" in out
    assert "fx/t.py::dropped" in out
    assert "NEWLY PASSING (2)" in out
    assert "fx/t.py::fixed: xfailed -> passed" in out
    assert "NEW TESTS (1)" in out
    assert "still_bad" not in out
    assert out.rstrip().endswith(
        "FAIL: 2 regression(s), 1 missing, 0 changed failure(s), 2 newly passing"
    )


def test_no_regression_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A candidate that only improves passes the gate."""
    base = _report(tmp_path, "1", {"fx/t.py::a": "passed", "fx/t.py::b": "failed"})
    new = _report(tmp_path, "2", {"fx/t.py::a": "passed", "fx/t.py::b": "passed"})
    assert main(["compare", str(base), str(new)]) == 0
    assert "OK: 0 regression(s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "cannot read report"),
        ("{", "not a JSON report"),
        ('{"a": 1}', "not a valid torch-conformance report"),
    ],
)
def test_bad_report_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, fragment: str
) -> None:
    """A missing, non-JSON or foreign file is a usage error (exit 2), not a traceback."""
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    good = _report(tmp_path, "1", {"fx/t.py::a": "passed"})
    assert main(["compare", str(bad), str(good)]) == 2
    assert fragment in capsys.readouterr().err


def test_cli_entry_point(tmp_path: Path) -> None:
    """``python -m conformance compare`` runs as a command with the documented exit status."""
    base = _report(tmp_path, "1", {"fx/t.py::a": "passed"})
    new = _report(tmp_path, "2", {"fx/t.py::a": "error"})
    proc = subprocess.run(
        [sys.executable, "-m", "conformance", "compare", str(base), str(new)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "fx/t.py::a: passed -> error" in proc.stdout
    assert json.loads(base.read_text())["schema"] == "torch-conformance-report/2"


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda r: r.pop("tests"), "'tests' must be a list"),
        (lambda r: r.pop("run"), "'run' must be an object"),
        (lambda r: r["tests"].append({"id": "fx/t.py::b"}), "needs string 'id' and 'area'"),
        (lambda r: r["tests"][0].update(outcome="fine"), "unknown outcome 'fine'"),
        (lambda r: r["tests"].append(dict(r["tests"][0])), "appears more than once"),
        (lambda r: r.update(schema="torch-conformance-report/1"), "rerun the suite"),
        (lambda r: r.update(backend=[]), "'backend' must be an object"),
    ],
    ids=["no-tests", "no-run", "no-area", "bad-outcome", "duplicate", "old-schema", "backend"],
)
def test_malformed_report_is_one_line_and_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    mutate: Callable[[dict[str, Any]], object],
    fragment: str,
) -> None:
    """A report with the right schema but a broken body is exit 2 naming the problem."""
    good = _report(tmp_path, "1", {"fx/t.py::a": "passed"})
    data = json.loads(good.read_text())
    mutate(data)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    assert main(["compare", str(good), str(bad)]) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_incomplete_report_is_refused_unless_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A report of an interrupted run is not a baseline nor a candidate without the flag."""
    base = _report(tmp_path, "1", {"fx/t.py::a": "passed"})
    partial = write_synthetic_report(
        tmp_path / "partial.json",
        {"name": "b", "version": "2"},
        [CaseResult(id="fx/t.py::a", area="fx", outcome="passed")],
        RunStatus("interrupted", collected=269, finished=1),
    )
    for args in ([str(partial), str(base)], [str(base), str(partial)]):
        assert main(["compare", *args]) == 2
        assert "did not complete (interrupted" in capsys.readouterr().err
    assert main(["compare", str(base), str(partial), "--allow-incomplete"]) == 0
    assert "note: the new run did not complete (interrupted)" in capsys.readouterr().out


def test_different_backends_need_a_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Reports of two backends are not releases of one: exit 2 unless allowed."""
    mine = _report(tmp_path, "1", {"fx/t.py::a": "passed"})
    theirs = write_synthetic_report(
        tmp_path / "theirs.json",
        {"name": "other", "version": "1"},
        [CaseResult(id="fx/t.py::a", area="fx", outcome="passed")],
    )
    assert main(["compare", str(mine), str(theirs)]) == 2
    assert "--allow-different-backends" in capsys.readouterr().err
    assert main(["compare", str(mine), str(theirs), "--allow-different-backends"]) == 0
    assert "note: the reports are for different backends" in capsys.readouterr().out


def test_known_failure_that_now_crashes_is_a_changed_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """xfailed -> error is always listed; it fails the gate under --strict."""
    before = {"fx/t.py::known": "xfailed", "fx/t.py::wrong": "failed", "fx/t.py::ok": "passed"}
    now = {"fx/t.py::known": "error", "fx/t.py::wrong": "error", "fx/t.py::ok": "passed"}
    base, new = _report(tmp_path, "1", before), _report(tmp_path, "2", now)
    assert main(["compare", str(base), str(new)]) == 0
    out = capsys.readouterr().out
    assert "CHANGED FAILURES (2)" in out
    assert "fx/t.py::known: xfailed -> error" in out
    assert "fx/t.py::wrong: failed -> error" in out
    assert main(["compare", str(base), str(new), "--strict"]) == 1
    assert "FAIL: 0 regression(s), 0 missing, 2 changed failure(s)" in capsys.readouterr().out
