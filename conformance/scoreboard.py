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
side: a comparison table per area, a stacked bar chart of the op classes, and a per-op
table with one column per report.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from pathlib import Path
from typing import Any

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
    out += ["", "## Per area", ""]
    out += _md_table(["area", *t["labels"]], t["area_rows"])
    out += ["", "## Op sweep (OpInfo ops on the lazy device vs CPU)", ""]
    out += _md_table(["report", *CLASSES, "op tests", "conformance"], t["op_summary"])
    out += ["", "Classes: " + "; ".join(_CLASS_DOC) + ".", ""]
    out += ["## Per op", ""]
    out += _md_table(t["op_headers"], t["op_rows"])
    return "\n".join(out) + "\n"


_CLASS_DOC = (
    "native = passed without CPU fallback",
    "fallback = passed, partly run on CPU (or failed: declared native)",
    "wrong = an output differs from CPU",
    "error = the backend raised, hung or crashed",
    "skipped = nothing to compare",
)


def bar_chart(boards: list[Board]) -> str:
    """An inline SVG: one stacked horizontal bar of op classes per report."""
    width, bar, gap, left, legend = 640, 26, 12, 170, 30
    height = legend + len(boards) * (bar + gap) + gap
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + left + 20}" '
        f'height="{height}" role="img" aria-label="op classes per report">'
    ]
    x = left
    for klass in CLASSES:
        parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{COLORS[klass]}"/>')
        parts.append(f'<text x="{x + 16}" y="17" font-size="12">{klass}</text>')
        x += 100
    for i, board in enumerate(boards):
        y = legend + gap + i * (bar + gap)
        parts.append(
            f'<text x="{left - 8}" y="{y + bar * 0.65:.0f}" font-size="12" '
            f'text-anchor="end">{html.escape(board.label)}</text>'
        )
        total = sum(board.counts.values())
        x0 = float(left)
        for klass in CLASSES:
            n = board.counts[klass]
            if not n or not total:
                continue
            w = width * n / total
            parts.append(
                f'<rect x="{x0:.1f}" y="{y}" width="{w:.1f}" height="{bar}" '
                f'fill="{COLORS[klass]}"><title>{html.escape(board.label)}: {n} {klass}'
                "</title></rect>"
            )
            if w > 28:
                parts.append(
                    f'<text x="{x0 + w / 2:.1f}" y="{y + bar * 0.65:.0f}" font-size="11" '
                    f'fill="white" text-anchor="middle">{n}</text>'
                )
            x0 += w
    parts.append("</svg>")
    return "".join(parts)


def _html_table(headers: list[str], rows: list[list[str]], classed: bool = False) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for j, text in enumerate(row):
            style = f' class="{text}"' if classed and j > 0 and text in COLORS else ""
            cells.append(f"<td{style}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(boards: list[Board]) -> str:
    t = build_tables(boards)
    styles = "".join(f"td.{k}{{color:{c};font-weight:600}}" for k, c in COLORS.items())
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>Conformance scoreboard</title><style>"
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}"
        "table{border-collapse:collapse;margin:1em 0}"
        "th,td{border:1px solid #ccc;padding:2px 8px;text-align:left;font-size:13px}"
        f"th{{background:#eee}}{styles}</style></head><body>"
        "<h1>Conformance scoreboard</h1>"
        "<p>Generated by <code>python -m conformance scoreboard</code> from:</p>"
        + _html_table(["report", "torch", "created", "platform"], t["reports"])
        + "<h2>Per area</h2>"
        + _html_table(["area", *t["labels"]], t["area_rows"])
        + "<h2>Op sweep (OpInfo ops on the lazy device vs CPU)</h2>"
        + bar_chart(boards)
        + _html_table(["report", *CLASSES, "op tests", "conformance"], t["op_summary"])
        + "<p>Classes: "
        + html.escape("; ".join(_CLASS_DOC))
        + ".</p><h2>Per op</h2>"
        + _html_table(t["op_headers"], t["op_rows"], classed=True)
        + "</body></html>\n"
    )


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
