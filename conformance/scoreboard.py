"""The scoreboard: ``python -m conformance scoreboard REPORT.json [REPORT2.json ...]``.

Writes a Markdown page and a self-contained HTML page (inline CSS and SVG, no external
assets) from one or more JSON reports: per area the usual outcome counts and
conformance, and for the op sweep (``lazy/test_ops.py``, ``lazy/test_grads.py``) the
class of every op test:

``native``    passed, and no sample fell back to CPU;
``fallback``  passed with some CPU fallback (or failed because the op was declared native);
``wrong``     some output differs from CPU (shape, dtype, value or structure);
``error``     the backend raised, hung past the timeout or crashed the worker;
``skipped``   nothing to compare (CPU rejected every sample, or the area is not implemented).

Several reports (several backends, or one backend across releases) are shown side by
side, each with its own outcome and reason columns. Reports of one backend at different
versions, given oldest first, are releases: the page lists what regressed and what got
fixed between consecutive ones (the same classification as ``compare``).

The HTML page (:mod:`conformance.scoreboard_html`) is interactive: failures first,
sortable and filterable; the Markdown page is the same numbers for reading in a diff or
on a code host.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from conformance import scoreboard_html
from conformance.results import is_complete, read_report

CLASSES = ("native", "fallback", "wrong", "error", "skipped")
COLORS = {
    "native": "#2e7d32",
    "fallback": "#f9a825",
    "wrong": "#c62828",
    "error": "#6a1b9a",
    "skipped": "#9e9e9e",
}
_SWEEP = re.compile(r"^lazy/test_(ops|grads)\.py::test_(?:op|grad)\[(?P<param>.+)\]$")


def op_key(test_id: str) -> str | None:
    """``add-float32`` (``grad:add-float32`` for the gradient tier), or None for other tests."""
    m = _SWEEP.match(test_id)
    if m is None:
        return None
    return ("grad:" if m.group(1) == "grads" else "") + m.group("param")


def op_class(test: dict[str, Any]) -> str:
    """The scoreboard class of one op-sweep test entry of a report."""
    outcome, dispatch = test["outcome"], test.get("dispatch") or ""
    if outcome in ("skipped", "not_implemented"):
        return "skipped"
    if outcome == "error":
        return "error"  # a crash, a timeout or a broken fixture
    if outcome in ("passed", "xpassed"):
        return dispatch if dispatch in ("native", "fallback") else "native"
    return dispatch if dispatch in ("fallback", "wrong", "error") else "error"


class Board:
    """One report's numbers, as the scoreboard shows them."""

    def __init__(self, report: dict[str, Any], label: str) -> None:
        self.report = report
        self.label = label
        self.ops: dict[str, tuple[str, dict[str, Any]]] = {}
        for test in report["tests"]:
            key = op_key(test["id"])
            if key is not None:
                self.ops[key] = (op_class(test), test)
        self.counts: Counter[str] = Counter(klass for klass, _ in self.ops.values())

    @property
    def op_conformance(self) -> float | None:
        ran = sum(
            1 for _, t in self.ops.values() if t["outcome"] not in ("skipped", "not_implemented")
        )
        passed = sum(1 for _, t in self.ops.values() if t["outcome"] == "passed")
        return passed / ran if ran else None


def _labels(reports: list[dict[str, Any]], paths: list[Path]) -> list[str]:
    labels = []
    for report in reports:
        backend = report.get("backend", {})
        labels.append(f"{backend.get('name')} {backend.get('version')}")
    if len(set(labels)) < len(labels):  # same backend and version twice: add the file
        labels = [f"{label} ({path.name})" for label, path in zip(labels, paths, strict=True)]
    return [
        label if is_complete(report) else f"{label} [INCOMPLETE: {report['run']['status']}]"
        for label, report in zip(labels, reports, strict=True)
    ]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _areas(boards: list[Board]) -> list[str]:
    seen: dict[str, None] = {}
    for board in boards:
        seen.update(dict.fromkeys(board.report.get("summary", {})))
    return list(seen)


def _detail(test: dict[str, Any]) -> str:
    if test["outcome"] == "passed" and test.get("fallbacks"):
        return "falls back: " + ", ".join(test["fallbacks"])
    reason = " ".join(str(test.get("reason", "")).split())
    return reason if len(reason) <= 160 else reason[:157] + "..."


def build_tables(boards: list[Board]) -> dict[str, Any]:
    """The scoreboard's tables as rows of strings (shared by the Markdown and HTML pages)."""
    labels = [b.label for b in boards]
    reports = [
        [
            b.label,
            str(b.report.get("torch_version")),
            str(b.report.get("created", "")),
            str(b.report.get("platform", "")),
        ]
        for b in boards
    ]
    area_rows = []
    for area in _areas(boards):
        row = [area]
        for b in boards:
            s = b.report.get("summary", {}).get(area)
            if s is None:
                row.append("-")
                continue
            row.append(
                f"{_pct(s['conformance'])} ({s['passed']} passed, {s['failed']} failed, "
                f"{s['expected-fail']} expected-fail, {s['skipped']} skipped, "
                f"{s['not impl.']} not impl.)"
            )
        area_rows.append(row)
    op_summary = [
        [b.label, *(str(b.counts[c]) for c in CLASSES), str(len(b.ops)), _pct(b.op_conformance)]
        for b in boards
    ]
    keys = sorted({k for b in boards for k in b.ops})
    op_rows = []
    for key in keys:
        cells = [b.ops[key][0] if key in b.ops else "-" for b in boards]
        details = [_detail(b.ops[key][1]) if key in b.ops else "" for b in boards]
        if len(boards) == 1:
            op_rows.append([key, cells[0], details[0]])
        else:
            op_rows.append([key, *cells])
    op_headers = ["op-dtype", "class", "details"] if len(boards) == 1 else ["op-dtype", *labels]
    return {
        "labels": labels,
        "reports": reports,
        "area_rows": area_rows,
        "op_summary": op_summary,
        "op_headers": op_headers,
        "op_rows": op_rows,
    }


def _md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(map(cell, headers)) + " |"]
    lines.append("|" + "|".join("---" for _ in headers) + "|")
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in rows]
    return lines


def render_markdown(boards: list[Board]) -> str:
    t = build_tables(boards)
    out = ["# Conformance scoreboard", ""]
    out += ["Generated by `python -m conformance scoreboard` from:", ""]
    out += _md_table(["report", "torch", "created", "platform"], t["reports"])
    for board in boards:
        if not is_complete(board.report):
            run = board.report["run"]
            out += [
                "",
                f"**INCOMPLETE RUN, not a verdict: {board.label}**: {run['status']}, "
                f"{run.get('finished', '?')} of {run.get('collected', '?')} collected tests "
                "finished.",
            ]
    out += ["", "## Per area", ""]
    out += _md_table(["area", *t["labels"]], t["area_rows"])
    out += ["", "## Op sweep (OpInfo ops on the lazy device vs CPU)", ""]
    out += _md_table(["report", *CLASSES, "op tests", "conformance"], t["op_summary"])
    out += ["", "Classes: " + "; ".join(_CLASS_DOC) + ".", ""]
    out += _md_releases(boards)
    out += ["## Not passing (worst first)", ""]
    out += _md_table(*_not_passing(boards))
    out += ["", "## Per op", ""]
    out += _md_table(t["op_headers"], t["op_rows"])
    return "\n".join(out) + "\n"


def _not_passing(boards: list[Board]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of every test that did not pass in some report, worst first."""
    headers = ["test", *(b.label for b in boards)]
    rows = []
    for test_id, _, tests in scoreboard_html.table_rows([b.report for b in boards]):
        kinds = [scoreboard_html.kind_of(t) for t in tests]
        if all(k in ("passed", "skipped") for k in kinds):
            continue
        cells = []
        for kind, test in zip(kinds, tests, strict=True):
            reason = scoreboard_html.reason_text(test)
            category = (test or {}).get("category")
            text = scoreboard_html.KIND_LABELS[kind] + (f" [{category}]" if category else "")
            cells.append(f"{text}: {reason[:160]}" if reason and kind != "passed" else text)
        rows.append([test_id, *cells])
    return headers, rows


def _md_releases(boards: list[Board]) -> list[str]:
    """Regressed and fixed tests between consecutive releases of one backend."""
    reports = [b.report for b in boards]
    if not scoreboard_html.is_release_series(reports):
        return []
    out = ["## Release over release (oldest first)", ""]
    for old, new, diff in scoreboard_html.release_changes(reports):
        out += [f"### {boards[old].label} -> {boards[new].label}", ""]
        regressed = [f"- `{t}`: {a} -> {b}" for t, a, b in diff.regressions]
        regressed += [f"- `{t}`: passed -> absent" for t in diff.missing]
        fixed = [f"- `{t}`: {a} -> passed" for t, a in diff.newly_passing]
        changed = [f"- `{t}`: {a} -> {b}" for t, a, b in diff.changed_failures]
        out += [f"Regressed ({len(regressed)}):", "", *(regressed or ["- none"]), ""]
        out += [f"Fixed ({len(fixed)}):", "", *(fixed or ["- none"]), ""]
        out += [f"Changed failures ({len(changed)}):", "", *(changed or ["- none"]), ""]
    return out


_CLASS_DOC = (
    "native = passed without CPU fallback",
    "fallback = passed, partly run on CPU (or failed: declared native)",
    "wrong = an output differs from CPU",
    "error = the backend raised, hung or crashed",
    "skipped = nothing to compare",
)


def render_html(boards: list[Board]) -> str:
    """The interactive, self-contained HTML page (see :mod:`conformance.scoreboard_html`)."""
    return scoreboard_html.render_page(boards)


def run(paths: list[Path], output: Path, *, allow_incomplete: bool = False) -> list[Path]:
    """Read ``paths`` (reports) and write ``output``.md and ``output``.html; returns them.

    Reports of runs that did not complete are refused unless ``allow_incomplete``; then
    their label says so on every page.
    """
    reports = [read_report(p, allow_incomplete=allow_incomplete) for p in paths]
    boards = [Board(r, label) for r, label in zip(reports, _labels(reports, paths), strict=True)]
    md, page = output.with_suffix(".md"), output.with_suffix(".html")
    md.parent.mkdir(parents=True, exist_ok=True)
    md.write_text(render_markdown(boards), encoding="utf-8")
    page.write_text(render_html(boards), encoding="utf-8")
    return [md, page]
