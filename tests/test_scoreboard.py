"""The scoreboard command: Markdown and self-contained HTML from one or more reports."""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conformance.__main__ import main
from conformance.results import CaseResult, RunStatus, build_report, write_report
from conformance.scoreboard import Board, op_class
from conformance.scoreboard_html import (
    FILTERS,
    bar_chart,
    fit_label,
    incomplete_banner,
    kind_of,
    release_view,
    render_page,
    table_rows,
    text_width,
)
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


# ------------------------------------------------------------------ the HTML page's pieces

HOSTILE_ID = "parametrize/test_p.py::test_q[\"<img src=x onerror=alert(1)>\"-'a'-&amp;]"
HOSTILE_REASON = "AssertionError: <script>alert(\"x\")</script> & 'quoted' " + "x" * 400


class _Parsed(HTMLParser):
    """Start tags, text and attribute values of a page, as a browser would parse them."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []  # tag, attribute, value
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(tag, name, value or "") for name, value in attrs]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _board(
    name: str, version: str, results: list[CaseResult], run: RunStatus | None = None
) -> Board:
    report = build_report(
        backend={"name": name, "spec": name, "version": version},
        results=results,
        expectations=None,
        unmatched=[],
        run=run or RunStatus("complete", collected=len(results), finished=len(results)),
        torch_version="2.13.0",
    )
    return Board(report, f"{name} {version}")


def test_page_escapes_ids_reasons_and_labels() -> None:
    """Test ids, reasons and labels with <>, quotes and & come out as text, never as markup.

    Two releases of a hostile backend, the newer one crashed: every section of the page
    (header, banner, charts, release view, table) carries the hostile strings.
    """
    name = "<blink>evil</blink>"
    old = _board(name, "0", [CaseResult(id=HOSTILE_ID, area="parametrize", outcome="passed")])
    board = _board(
        name,
        '1"0',
        [CaseResult(id=HOSTILE_ID, area="parametrize", outcome="failed", reason=HOSTILE_REASON)],
        RunStatus("crashed", detail="<blink>crash</blink>", collected=2, finished=1),
    )
    page = render_page([old, board])
    assert 'id="incomplete-banner"' in page
    assert 'id="regressed-0-1"' in page
    parsed = _Parsed(page)
    assert "img" not in parsed.tags
    assert parsed.tags.count("script") == 1  # the page's own
    assert HOSTILE_ID in parsed.text
    assert ("td", "title", HOSTILE_REASON) in parsed.attrs  # the full reason is the tooltip
    assert "blink" not in parsed.tags
    assert '<blink>evil</blink> 1"0' in parsed.text


def test_rows_are_ordered_worst_first_then_by_id() -> None:
    """error < failed < xpassed < xfailed < not run < not implemented < skipped < passed."""
    outcomes = [
        "passed",
        "skipped",
        "not_implemented",
        "interrupted",
        "xfailed",
        "xpassed",
        "failed",
        "error",
    ]
    results = [CaseResult(id=f"fx/t.py::t_{o}", area="fx", outcome=o) for o in outcomes]
    results.append(CaseResult(id="fx/t.py::a_failed", area="fx", outcome="failed"))
    rows = table_rows([_board("a", "1", results).report])
    assert [r[0] for r in rows] == [
        "fx/t.py::t_error",
        "fx/t.py::a_failed",
        "fx/t.py::t_failed",
        "fx/t.py::t_xpassed",
        "fx/t.py::t_xfailed",
        "fx/t.py::t_interrupted",
        "fx/t.py::t_not_implemented",
        "fx/t.py::t_skipped",
        "fx/t.py::t_passed",
    ]


def test_row_rank_is_the_worst_over_reports() -> None:
    """A test that passes in one report and errors in the other sorts with the errors."""
    a = _board(
        "a",
        "1",
        [CaseResult("fx/t.py::b", "fx", "passed"), CaseResult("fx/t.py::a", "fx", "failed")],
    )
    b = _board(
        "b",
        "1",
        [CaseResult("fx/t.py::b", "fx", "error"), CaseResult("fx/t.py::a", "fx", "failed")],
    )
    # b errors in one report: it goes before a, which only fails, despite its id
    assert [r[0] for r in table_rows([a.report, b.report])] == ["fx/t.py::b", "fx/t.py::a"]


def test_not_implemented_is_its_own_class() -> None:
    """The page never files a not-implemented test under skipped."""
    assert FILTERS["not_implemented"] == ("not_implemented",)
    assert "not_implemented" not in FILTERS["skipped"]
    assert kind_of({"outcome": "not_implemented"}) == "not_implemented"
    assert kind_of({"outcome": "interrupted"}) == "not_run"


def test_banner_only_for_incomplete_runs() -> None:
    """No banner when every run completed; a banner naming the run and its status otherwise."""
    done = _board("a", "1", [CaseResult("fx/t.py::x", "fx", "passed")])
    crashed = _board(
        "b",
        "2",
        [CaseResult("fx/t.py::x", "fx", "error")],
        RunStatus("crashed", detail="worker gw0 crashed", collected=3, finished=1),
    )
    assert incomplete_banner([done]) == ""
    assert 'id="incomplete-banner"' not in render_page([done])
    banner = incomplete_banner([done, crashed])
    assert "<b>b 2</b>: run crashed, 1 of 3 collected tests finished; worker gw0 crashed" in banner
    assert "a 1" not in banner
    assert 'id="incomplete-banner"' in render_page([done, crashed])


def test_release_view_classifies_regressed_fixed_and_changed() -> None:
    """passed -> failed is a regression, xfailed -> passed a fix, xfailed -> error a change."""
    old = _board(
        "a",
        "1.0",
        [
            CaseResult("fx/t.py::reg", "fx", "passed"),
            CaseResult("fx/t.py::fix", "fx", "xfailed", reason="[failing] x", category="failing"),
            CaseResult("fx/t.py::chg", "fx", "xfailed"),
            CaseResult("fx/t.py::gone", "fx", "passed"),
            CaseResult("fx/t.py::same", "fx", "failed"),
        ],
    )
    new = _board(
        "a",
        "2.0",
        [
            CaseResult("fx/t.py::reg", "fx", "failed", reason="now <wrong>"),
            CaseResult("fx/t.py::fix", "fx", "passed"),
            CaseResult("fx/t.py::chg", "fx", "error"),
            CaseResult("fx/t.py::same", "fx", "failed"),
        ],
    )
    view = release_view([old, new])

    def items(list_id: str) -> list[str]:
        match = re.search(rf'<ul id="{list_id}" class="changes">(.*?)</ul>', view)
        assert match is not None, view
        return re.findall(r'<code class="tid">(.*?)</code>', match.group(1))

    assert items("regressed-0-1") == ["fx/t.py::reg", "fx/t.py::gone"]
    assert items("fixed-0-1") == ["fx/t.py::fix"]
    assert items("changed-0-1") == ["fx/t.py::chg"]
    assert "now &lt;wrong&gt;" in view
    assert release_view([old, _board("b", "2.0", [])]) == ""  # two backends: no release view
    assert release_view([old, old]) == ""  # one version twice: not releases


def test_chart_labels_are_shortened_to_fit() -> None:
    """A label longer than the label column is cut with an ellipsis and keeps its tooltip."""
    label = "x" * 200
    assert text_width(fit_label(label, 100, 12), 12) <= 100
    assert fit_label(label, 100, 12).endswith("…")
    assert fit_label("short", 100, 12) == "short"
    svg = bar_chart(
        "c",
        "t",
        [(label, Counter(passed=1))],
        ("passed",),
        {"passed": "#000"},
        {"passed": "passed"},
    )
    assert f"<title>{label}</title>" in svg
    assert f">{label}<" not in svg.replace(f"<title>{label}</title>", "")


def test_markdown_lists_releases_and_failures_first(tmp_path: Path) -> None:
    """The Markdown page has the release changes and a not-passing table, worst first."""
    old = _report(
        tmp_path / "old.json",
        "alpha",
        [_op("add", "passed", "native"), _op("sin", "xfailed", "wrong", "[failing] sign")],
    )
    new_backend = {"name": "alpha", "spec": "alpha", "version": "2.0", "areas": []}
    new = write_synthetic_report(
        tmp_path / "new.json",
        new_backend,
        [_op("add", "error", "", "RuntimeError: boom"), _op("sin", "passed", "native")],
    )
    assert main(["scoreboard", str(old), str(new), "-o", str(tmp_path / "b")]) == 0
    md = (tmp_path / "b.md").read_text()
    assert "### alpha 1.0 -> alpha 2.0" in md
    regressed = md.index("Regressed (1):")
    fixed = md.index("Fixed (1):")
    assert "`lazy/test_ops.py::test_op[add-float32]`: passed -> error" in md[regressed:fixed]
    assert "`lazy/test_ops.py::test_op[sin-float32]`: xfailed -> passed" in md[fixed:]
    table = md[md.index("## Not passing") :]
    assert table.index("test_op[add-float32] | passed | error: RuntimeError: boom") < table.index(
        "test_op[sin-float32] | xfailed: [failing] sign | passed"
    )
