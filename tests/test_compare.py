"""The release gate: ``python -m conformance compare BASE NEW``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.__main__ import main
from conformance.results import CaseResult
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
    assert out.rstrip().endswith("FAIL: 2 regression(s), 1 missing, 2 newly passing")


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
        ("{", "not valid JSON"),
        ('{"a": 1}', "not a torch-conformance"),
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
    assert json.loads(base.read_text())["schema"] == "torch-conformance-report/1"
