"""The scoreboard command: Markdown and self-contained HTML from one or more reports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conformance.__main__ import main
from conformance.results import CaseResult, write_report
from conformance.scoreboard import op_class
from tests.conftest import RunSuite, write_synthetic_report


def _op(op: str, outcome: str, dispatch: str, reason: str = "") -> CaseResult:
    return CaseResult(
        id=f"lazy/test_ops.py::test_op[{op}-float32]",
        area="lazy",
        outcome=outcome,
        reason=reason,
        dispatch=dispatch,
        fallbacks=["aten::sin"] if dispatch == "fallback" else [],
    )


def _report(path: Path, name: str, results: list[CaseResult]) -> Path:
    backend = {"name": name, "spec": name, "version": "1.0", "device": "cpu", "areas": []}
    return write_synthetic_report(path, backend, results)


@pytest.fixture
def two_reports(tmp_path: Path) -> list[Path]:
    fx = CaseResult(id="fx/test_a.py::test_x", area="fx", outcome="passed")
    first = _report(
        tmp_path / "a.json",
        "alpha",
        [
            fx,
            _op("add", "passed", "native"),
            _op("sin", "passed", "fallback"),
            _op("topk", "failed", "wrong", "wrong: sample 0 (...): output[1]: not close"),
            _op("cos", "error", "", "worker 'gw0' crashed while running 'test_op[cos]'"),
        ],
    )
    second = _report(
        tmp_path / "b.json",
        "beta",
        [
            fx,
            _op("add", "passed", "native"),
            _op("sin", "passed", "native"),
            _op("topk", "xfailed", "wrong", "[failing] known"),
            _op("cos", "passed", "fallback"),
        ],
    )
    return [first, second]


def test_op_class_follows_outcome_and_dispatch() -> None:
    """Passed tests keep their dispatch; crashes and timeouts are errors; skips are skipped."""
    assert op_class({"outcome": "passed", "dispatch": "fallback"}) == "fallback"
    assert op_class({"outcome": "xfailed", "dispatch": "wrong"}) == "wrong"
    assert op_class({"outcome": "error", "dispatch": ""}) == "error"
    assert op_class({"outcome": "failed", "dispatch": "fallback"}) == "fallback"
    assert op_class({"outcome": "skipped", "dispatch": ""}) == "skipped"


def test_side_by_side_markdown_and_html(
    two_reports: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two reports give a comparison per area and per op, a bar chart, and no external assets."""
    out = tmp_path / "board"
    assert main(["scoreboard", *map(str, two_reports), "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    md = (tmp_path / "board.md").read_text()
    assert "| op-dtype | alpha 1.0 | beta 1.0 |" in md
    assert "| topk-float32 | wrong | wrong |" in md
    assert "| cos-float32 | error | fallback |" in md
    assert "| sin-float32 | fallback | native |" in md
    # report, native, fallback, wrong, error, skipped, op tests, conformance
    assert "| alpha 1.0 | 1 | 1 | 1 | 1 | 0 | 4 | 50.0% |" in md
    assert "| beta 1.0 | 2 | 1 | 1 | 0 | 0 | 4 | 75.0% |" in md
    assert re.search(r"\| fx \| 100\.0% \(1 passed.*\| 100\.0% \(1 passed", md)
    page = (tmp_path / "board.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 2  # outcomes of every test, op-sweep classes
    assert "<title>alpha 1.0: 1 wrong</title>" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<script src" not in page
    assert "<link" not in page


def test_single_report_lists_details(tmp_path: Path, two_reports: list[Path]) -> None:
    """With one report the per-op table gives each op's class and the reason or fallbacks."""
    out = tmp_path / "one"
    assert main(["scoreboard", str(two_reports[0]), "-o", str(out)]) == 0
    md = (tmp_path / "one.md").read_text()
    assert "| op-dtype | class | details |" in md
    assert "| sin-float32 | fallback | falls back: aten::sin |" in md
    assert "output[1]: not close" in md


def test_bad_report_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file that is not a report is a usage error (exit 2) naming the file."""
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main(["scoreboard", str(bad), "-o", str(tmp_path / "x")]) == 2
    assert "not a valid torch-conformance report" in capsys.readouterr().err


def test_scoreboard_of_a_real_run(run_suite: RunSuite, tmp_path: Path) -> None:
    """A real sweep's report: abs is native on the reference, sin falls back to CPU."""
    run = run_suite("conformance.lazy.test_ops", "reference", "--ops=abs,sin", "-q")
    assert run.ret == 0, run.text()
    report = tmp_path / "real.json"
    write_report(report, run.report)
    assert main(["scoreboard", str(report), "-o", str(tmp_path / "real")]) == 0
    md = (tmp_path / "real.md").read_text()
    assert "| abs-float32 | native |" in md
    assert "| sin-float32 | fallback | falls back: aten::sin |" in md
