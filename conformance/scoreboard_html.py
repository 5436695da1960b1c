"""The scoreboard's HTML page: one self-contained file people read and filter.

Every piece is a pure function from parsed reports to an HTML string, and every piece
of report text (test ids with ``[...]``, quotes and ``<>``, reasons, labels) goes
through :func:`_e`. The page has no external assets: inline CSS, inline SVG and a
small inline script that sorts and filters the test table (without the script the page
still shows every row, failures first).

What the page shows, top to bottom:

- what is under test: per report its backend, versions, platform, date and how the
  run ended, and a banner over everything when some run did not complete;
- outcome counts as a chart (whole run and op-sweep classes) and a per-area table;
- for several reports of one backend (releases, oldest first): what regressed and what
  got fixed between consecutive releases;
- every test, failures first, with its outcome, manifest category and reason in each
  report, sortable by any column and filterable by class, area and text.
"""

from __future__ import annotations

import html
from collections import Counter
from typing import TYPE_CHECKING, Any

from conformance.compare import Comparison, compare_reports
from conformance.results import COLUMNS, RUN_STATUSES, is_complete

if TYPE_CHECKING:
    from conformance.scoreboard import Board

#: Outcome kinds shown on the page, worst first (the default sort order).
KINDS = (
    "error",
    "failed",
    "xpassed",
    "xfailed",
    "not_run",
    "not_implemented",
    "skipped",
    "passed",
    "absent",
)
KIND_LABELS = {
    "error": "error",
    "failed": "failed",
    "xpassed": "xpassed",
    "xfailed": "xfailed",
    "not_run": "not run",
    "not_implemented": "not implemented",
    "skipped": "skipped",
    "passed": "passed",
    "absent": "absent",
}
KIND_COLORS = {
    "error": "#6a1b9a",
    "failed": "#c62828",
    "xpassed": "#d84315",
    "xfailed": "#ef6c00",
    "not_run": "#455a64",
    "not_implemented": "#1565c0",
    "skipped": "#9e9e9e",
    "passed": "#2e7d32",
    "absent": "#bdbdbd",
}
#: The filter classes (checkboxes) and the kinds each one selects. A row is shown when
#: one of its reports' outcomes is selected; a report without the test (``absent``)
#: selects nothing.
FILTERS: dict[str, tuple[str, ...]] = {
    "failed": ("failed", "xpassed"),
    "error": ("error",),
    "xfailed": ("xfailed",),
    "not_implemented": ("not_implemented",),
    "skipped": ("skipped",),
    "not_run": ("not_run",),
    "passed": ("passed",),
}
_FILTER_OF = {kind: name for name, kinds in FILTERS.items() for kind in kinds}
#: Longest reason shown in a cell; the full text is the cell's tooltip.
REASON_CHARS = 300


def _e(text: object) -> str:
    """``text`` escaped for HTML element content and quoted attribute values."""
    return html.escape(str(text), quote=True)


def kind_of(test: dict[str, Any] | None) -> str:
    """The page's outcome kind of one report's test entry (``absent`` when missing)."""
    if test is None:
        return "absent"
    outcome = str(test["outcome"])
    return "not_run" if outcome == "interrupted" else outcome


def severity(kind: str) -> int:
    """Sort rank of an outcome kind: 0 is the worst."""
    return KINDS.index(kind)


def reason_text(test: dict[str, Any] | None) -> str:
    """What a reader needs to know about a test's outcome, on one line."""
    if test is None:
        return ""
    reason = " ".join(str(test.get("reason", "")).split())
    category = str(test.get("category", ""))
    prefix = f"[{category}] "
    if category and reason.startswith(prefix):  # the plugin prefixes xfail reasons
        reason = reason[len(prefix) :]
    if not reason and test.get("fallbacks"):
        reason = "falls back: " + ", ".join(test["fallbacks"])
    return reason


def table_rows(reports: list[dict[str, Any]]) -> list[tuple[str, str, list[dict[str, Any] | None]]]:
    """``(test id, area, [entry per report])``, worst outcome first, then by id."""
    by_report = [{t["id"]: t for t in report["tests"]} for report in reports]
    areas: dict[str, str] = {}
    for tests in by_report:
        for test_id, test in tests.items():
            areas.setdefault(test_id, test["area"])
    rows = [(tid, areas[tid], [tests.get(tid) for tests in by_report]) for tid in areas]
    rows.sort(key=lambda row: (min(severity(kind_of(t)) for t in row[2]), row[0]))
    return rows


def is_release_series(reports: list[dict[str, Any]]) -> bool:
    """Several reports of one backend, each of a different version: releases."""
    names = {r["backend"].get("name") for r in reports}
    versions = [r["backend"].get("version") for r in reports]
    return len(reports) > 1 and len(names) == 1 and len(set(versions)) == len(versions)


def release_changes(reports: list[dict[str, Any]]) -> list[tuple[int, int, Comparison]]:
    """Consecutive pairs ``(older index, newer index, what changed)`` of a release series."""
    return [
        (i, i + 1, compare_reports(reports[i], reports[i + 1])) for i in range(len(reports) - 1)
    ]


# ---------------------------------------------------------------------------- header


def incomplete_banner(boards: list[Board]) -> str:
    """A banner naming every report whose run did not complete; empty when all did."""
    items = []
    for board in boards:
        if is_complete(board.report):
            continue
        run = board.report["run"]
        detail = run.get("detail") or RUN_STATUSES.get(run["status"], "")
        items.append(
            f"<li><b>{_e(board.label)}</b>: run {_e(run['status'])}, "
            f"{_e(run.get('finished', '?'))} of {_e(run.get('collected', '?'))} collected tests "
            f"finished; {_e(detail)}</li>"
        )
    if not items:
        return ""
    return (
        '<div id="incomplete-banner" class="banner" role="alert"><b>INCOMPLETE RUN: '
        "not a verdict.</b> These reports are of runs that did not finish; their numbers "
        f"leave out tests that never ran.<ul>{''.join(items)}</ul></div>"
    )


def under_test(boards: list[Board]) -> str:
    """The table saying what is under test: backend, versions, platform, date, run status."""
    head = (
        "<tr><th>report</th><th>backend</th><th>version</th><th>device</th><th>torch</th>"
        "<th>python</th><th>platform</th><th>created</th><th>run</th><th>options</th>"
        "<th>manifest</th></tr>"
    )
    rows = []
    for board in boards:
        r, backend, run = board.report, board.report["backend"], board.report["run"]
        if run["complete"]:
            status = f"complete ({run.get('collected', '?')} tests)"
        else:
            status = (
                f"INCOMPLETE: {run['status']} ({run.get('finished', '?')} of "
                f"{run.get('collected', '?')} tests finished)"
            )
        cells = [
            board.label,
            backend.get("name"),
            backend.get("version"),
            backend.get("device", ""),
            r.get("torch_version"),
            r.get("python_version", ""),
            r.get("platform", ""),
            r.get("created", ""),
            status,
            _options(r.get("options") or {}),
        ]
        manifest = str(r.get("expectations") or "none")
        klass = ' class="incomplete"' if not run["complete"] else ""
        rows.append(
            f"<tr{klass}>"
            + "".join(f"<td>{_e(c)}</td>" for c in cells)
            + f'<td title="{_e(manifest)}">{_e(manifest.rsplit("/", 1)[-1])}</td></tr>'
        )
    return f'<table id="under-test">{head}{"".join(rows)}</table>'


def _options(options: dict[str, Any]) -> str:
    """The run's suite options that were set (``tier=full, dtypes=...``)."""
    given = [f"{k}={v}" for k, v in options.items() if v not in (None, False, "", [])]
    return ", ".join(given) or "defaults"


def area_table(boards: list[Board]) -> str:
    """Per area and report: conformance and the summary columns."""
    areas: dict[str, None] = {}
    for board in boards:
        areas.update(dict.fromkeys(board.report.get("summary", {})))
    head = "<tr><th>area</th>" + "".join(f"<th>{_e(b.label)}</th>" for b in boards) + "</tr>"
    rows = []
    for area in areas:
        cells = [f"<td>{_e(area)}</td>"]
        for board in boards:
            s = board.report.get("summary", {}).get(area)
            if s is None:
                cells.append("<td>-</td>")
                continue
            pct = "-" if s.get("conformance") is None else f"{s['conformance']:.1%}"
            counts = ", ".join(f"{s.get(col, 0)} {col}" for col in COLUMNS if s.get(col))
            cells.append(f"<td><b>{_e(pct)}</b> <small>{_e(counts)}</small></td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table id="areas">{head}{"".join(rows)}</table>'


# ----------------------------------------------------------------------------- chart

#: Glyph widths in em, rounded up from DejaVu Sans (Debian's default sans-serif, and
#: wider than most): enough to lay labels out so they fit. The script measures the real
#: width in the browser and shortens any label that still overflows its box (the full
#: text stays in its tooltip).
_NARROW, _WIDE = set("fijlrt.,:;|!'()[]- "), set("mwMW@%")


def text_width(text: str, size: float) -> float:
    """A generous estimate of ``text``'s rendered width in pixels at font ``size``."""
    em = 0.0
    for ch in text:
        if ch in _NARROW:
            em += 0.42
        elif ch in _WIDE:
            em += 1.0
        elif ch.isupper():
            em += 0.76
        else:
            em += 0.66
    return em * size


def fit_label(text: str, width: float, size: float) -> str:
    """``text``, or its longest prefix plus an ellipsis that fits in ``width`` pixels."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def bar_chart(
    chart_id: str,
    title: str,
    series: list[tuple[str, Counter[str]]],
    order: tuple[str, ...],
    colors: dict[str, str],
    names: dict[str, str],
) -> str:
    """An inline SVG of one stacked horizontal bar per ``(label, counts)`` of ``series``.

    Labels get a column as wide as the longest (up to a cap; longer ones are shortened
    with an ellipsis and keep the full text as tooltip); the legend wraps; a count is
    printed inside its segment only when it fits there.
    """
    size, bar, gap, bar_width = 12, 24, 10, 600
    label_width = min(max(text_width(label, size) for label, _ in series) + 8, 300)
    left = label_width + 12
    total_width = left + bar_width + 10
    legend: list[str] = []
    x, y = left, 16
    for kind in order:
        if not any(counts[kind] for _, counts in series):
            continue
        item = names[kind]
        w = 16 + text_width(item, size) + 18
        if x + w > total_width and x > left:
            x, y = left, y + 20
        legend.append(
            f'<g class="legend"><rect x="{x:.0f}" y="{y - 10}" width="12" height="12" '
            f'fill="{colors[kind]}"/><text x="{x + 16:.0f}" y="{y}" font-size="{size}">'
            f"{_e(item)}</text></g>"
        )
        x += w
    top = y + 14
    height = top + len(series) * (bar + gap)
    parts = [
        f'<svg id="{_e(chart_id)}" class="chart" xmlns="http://www.w3.org/2000/svg" '
        f'width="{total_width:.0f}" height="{height}" role="img" aria-label="{_e(title)}">',
        *legend,
    ]
    for i, (label, counts) in enumerate(series):
        y0 = top + i * (bar + gap)
        shown = fit_label(label, label_width - 8, size)
        parts.append(
            f'<text class="bar-label" x="{left - 8:.0f}" y="{y0 + bar * 0.68:.0f}" '
            f'font-size="{size}" text-anchor="end" data-fit="{label_width - 8:.0f}" '
            f'data-full="{_e(label)}"><title>{_e(label)}</title>{_e(shown)}</text>'
        )
        total = sum(counts[k] for k in order)
        x0 = float(left)
        for kind in order:
            n = counts[kind]
            if not n or not total:
                continue
            w = bar_width * n / total
            parts.append(
                f'<rect class="segment" x="{x0:.1f}" y="{y0}" width="{w:.1f}" height="{bar}" '
                f'fill="{colors[kind]}"><title>{_e(label)}: {n} {_e(names[kind])}</title></rect>'
            )
            if text_width(str(n), 11) + 6 < w:
                parts.append(
                    f'<text class="count" x="{x0 + w / 2:.1f}" y="{y0 + bar * 0.68:.0f}" '
                    f'font-size="11" fill="white" text-anchor="middle">{n}</text>'
                )
            x0 += w
    parts.append("</svg>")
    return "".join(parts)


def charts(boards: list[Board]) -> str:
    """The outcome chart of every test, and the op-sweep class chart when there is a sweep."""
    from conformance.scoreboard import CLASSES, COLORS  # scoreboard imports this module

    outcomes = [(b.label, Counter(kind_of(t) for t in b.report["tests"])) for b in boards]
    out = "<h2>Outcomes</h2>" + bar_chart(
        "outcome-chart", "outcomes per report", outcomes, KINDS, KIND_COLORS, KIND_LABELS
    )
    if any(b.ops for b in boards):
        ops = [(b.label, b.counts) for b in boards]
        out += (
            "<h2>Op sweep (OpInfo ops on the lazy device vs CPU)</h2>"
            + bar_chart(
                "op-chart", "op classes per report", ops, CLASSES, COLORS, {c: c for c in CLASSES}
            )
            + '<p class="note">native = passed without CPU fallback; fallback = passed, partly '
            "run on CPU (or failed: declared native); wrong = an output differs from CPU; "
            "error = the backend raised, hung or crashed; skipped = nothing to compare.</p>"
        )
    return out


# ------------------------------------------------------------------ release-over-release


def _change_list(
    list_id: str, title: str, items: list[tuple[str, str, str, str]], empty: str
) -> str:
    """A titled list of ``(test id, before, after, reason)``."""
    if not items:
        return f'<h4>{_e(title)} (0)</h4><p id="{list_id}" class="none">{_e(empty)}</p>'
    lis = "".join(
        f'<li><code class="tid">{_e(tid)}</code>: {_e(KIND_LABELS.get(old, old))} &rarr; '
        f"{_e(KIND_LABELS.get(new, new))}"
        + (f' <span class="reason">({_e(_short(reason))})</span>' if reason else "")
        + "</li>"
        for tid, old, new, reason in items
    )
    return f'<h4>{_e(title)} ({len(items)})</h4><ul id="{list_id}" class="changes">{lis}</ul>'


def release_view(boards: list[Board]) -> str:
    """What regressed and what got fixed between consecutive releases of one backend."""
    reports = [b.report for b in boards]
    if not is_release_series(reports):
        return ""
    sections = []
    for old, new, diff in release_changes(reports):
        after = {t["id"]: t for t in reports[new]["tests"]}
        suffix = f"-{old}-{new}"
        regressed = [(t, a, b, reason_text(after[t])) for t, a, b in diff.regressions]
        regressed += [(t, "passed", "absent", "") for t in diff.missing]
        fixed = [(t, a, after[t]["outcome"], "") for t, a in diff.newly_passing]
        changed = [(t, a, b, reason_text(after[t])) for t, a, b in diff.changed_failures]
        sections.append(
            f'<section class="release"><h3>{_e(boards[old].label)} &rarr; '
            f"{_e(boards[new].label)}</h3>"
            + _change_list(
                "regressed" + suffix,
                "Regressed: passed before, not now",
                regressed,
                "nothing regressed",
            )
            + _change_list(
                "fixed" + suffix, "Fixed: failed before, passes now", fixed, "nothing fixed"
            )
            + _change_list(
                "changed" + suffix,
                "Changed failures: failing before, failing differently now",
                changed,
                "no failure changed",
            )
            + f"<p>{len(diff.added)} new test(s) in {_e(boards[new].label)}.</p></section>"
        )
    return (
        '<h2 id="releases">Release over release</h2><p class="note">Reports of one backend, '
        "in the order given (oldest first).</p>" + "".join(sections)
    )


# ------------------------------------------------------------------------ test table


def _short(reason: str) -> str:
    return reason if len(reason) <= REASON_CHARS else reason[: REASON_CHARS - 1] + "…"


def _outcome_cell(test: dict[str, Any] | None) -> str:
    kind = kind_of(test)
    text = KIND_LABELS[kind]
    dispatch = (test or {}).get("dispatch") or ""
    if dispatch and dispatch != kind:
        text += f" · {dispatch}"
    return f'<td class="outcome k-{kind}" data-key="{severity(kind)}">{_e(text)}</td>'


def _reason_cell(test: dict[str, Any] | None) -> str:
    reason = reason_text(test)
    category = str((test or {}).get("category", ""))
    badge = f'<span class="category">{_e(category)}</span> ' if category else ""
    shown = _short(reason)
    title = f' title="{_e(reason)}"' if shown != reason else ""
    key = f"{category} {reason}".strip()
    return f'<td class="reason" data-key="{_e(key)}"{title}>{badge}{_e(shown)}</td>'


def results_table(boards: list[Board]) -> str:
    """Every test, worst outcome first, with the filter controls above it."""
    rows = table_rows([b.report for b in boards])
    head = ['<th data-type="text">test</th>', '<th data-type="text">area</th>']
    for b in boards:
        head.append(f'<th data-type="num">{_e(b.label)}</th>')
        head.append(f'<th data-type="text">{_e(b.label)}: category, reason</th>')
    body = []
    for tid, area, tests in rows:
        kinds = sorted({_FILTER_OF[kind_of(t)] for t in tests if t is not None})
        rank = min(severity(kind_of(t)) for t in tests)
        cells = [
            f'<td class="tid" data-key="{_e(tid)}"><code>{_e(tid)}</code></td>',
            f'<td data-key="{_e(area)}">{_e(area)}</td>',
        ]
        for test in tests:
            cells.append(_outcome_cell(test))
            cells.append(_reason_cell(test))
        body.append(
            f'<tr data-classes="{" ".join(kinds)}" data-area="{_e(area)}" data-rank="{rank}">'
            + "".join(cells)
            + "</tr>"
        )
    areas = sorted({area for _, area, _ in rows})
    counts = Counter(
        c for _, _, tests in rows for c in {_FILTER_OF[kind_of(t)] for t in tests if t is not None}
    )
    boxes = "".join(
        f'<label class="k-{name}"><input type="checkbox" name="class" value="{name}" checked> '
        f"{_e(KIND_LABELS[name])} ({counts[name]})</label> "
        for name in FILTERS
    )
    options = "".join(f'<option value="{_e(a)}">{_e(a)}</option>' for a in areas)
    controls = (
        f'<form id="filters" onsubmit="return false"><fieldset><legend>class</legend>{boxes}'
        "</fieldset> "
        f'<label>area <select id="area"><option value="">all</option>{options}</select></label> '
        '<label>text <input id="search" type="search" placeholder="test id or reason"></label> '
        f'<span id="shown">{len(rows)} of {len(rows)} tests shown</span></form>'
    )
    return (
        '<h2 id="tests">Tests</h2><p class="note">Worst outcome first. A row is shown when '
        "any report's outcome is of a ticked class. Click a column header to sort.</p>"
        + controls
        + f'<table id="tests-table"><thead><tr>{"".join(head)}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


# ------------------------------------------------------------------------------ page

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:2px 6px;text-align:left;font-size:13px;vertical-align:top}
th{background:#eee}
#tests-table th{cursor:pointer;user-select:none;position:sticky;top:0}
#tests-table th[aria-sort=ascending]::after{content:" \\25B2"}
#tests-table th[aria-sort=descending]::after{content:" \\25BC"}
td.tid{min-width:22em}
td.tid code{font-size:12px;overflow-wrap:anywhere}
p.none{font-size:13px;color:#555}
td.reason{max-width:40em;font-size:12px;word-break:break-word}
td.outcome{font-weight:600;white-space:nowrap}
.category{background:#eee;border-radius:3px;padding:0 3px;font-size:11px}
.banner{background:#fff3e0;border:3px solid #e65100;padding:.6em 1em;margin:1em 0}
tr.incomplete td{background:#fff3e0}
.note{color:#555;font-size:13px}
#filters{padding:.4em 0}
#shown{white-space:nowrap}
#tests-table{width:100%}
#filters fieldset{display:inline;border:1px solid #ccc}
#filters label{margin-right:.6em;font-size:13px}
ul.changes{font-size:13px}
svg.chart{display:block;margin:.5em 0 1em;overflow:visible}
"""

SCRIPT = """
(function(){
  var table=document.getElementById('tests-table');
  var rows=Array.prototype.slice.call(table.tBodies[0].rows);
  var shown=document.getElementById('shown');
  var boxes=Array.prototype.slice.call(document.querySelectorAll('#filters input[name=class]'));
  var areaBox=document.getElementById('area'), search=document.getElementById('search');
  function apply(){
    var on={}, ticked=[];
    boxes.forEach(function(b){on[b.value]=b.checked; if(b.checked){ticked.push(b.value);}});
    var area=areaBox.value, query=search.value.trim(), text=query.toLowerCase();
    var n=0;
    rows.forEach(function(r){
      var ok=r.dataset.classes.split(' ').some(function(c){return on[c];})
        && (!area || r.dataset.area===area)
        && (!text || r.textContent.toLowerCase().indexOf(text)>=0);
      r.hidden=!ok; if(ok){n++;}
    });
    shown.textContent=n+' of '+rows.length+' tests shown';
    var state=new URLSearchParams();  // the filters, in the address: a link others can open
    if(ticked.length!==boxes.length){state.set('class',ticked.join(','));}
    if(area){state.set('area',area);}
    if(query){state.set('q',query);}
    var hash=state.toString();
    try{history.replaceState(null,'',hash?'#'+hash:location.pathname+location.search);}
    catch(e){/* some viewers forbid it: the filters still work */}
  }
  function fromAddress(){
    var given=new URLSearchParams(location.hash.slice(1));
    var wanted=given.has('class')?given.get('class').split(','):null;
    boxes.forEach(function(b){b.checked=!wanted || wanted.indexOf(b.value)>=0;});
    areaBox.value=given.get('area')||'';
    search.value=given.get('q')||'';
  }
  fromAddress();
  window.addEventListener('hashchange',function(){fromAddress(); apply();});
  document.getElementById('filters').addEventListener('input',apply);
  document.getElementById('filters').addEventListener('change',apply);
  var heads=table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads,function(th,col){
    th.tabIndex=0;
    th.addEventListener('keydown',function(ev){if(ev.key==='Enter'){th.click();}});
    th.addEventListener('click',function(){
      var dir=th.getAttribute('aria-sort')==='ascending'?-1:1;
      Array.prototype.forEach.call(heads,function(h){h.removeAttribute('aria-sort');});
      th.setAttribute('aria-sort',dir>0?'ascending':'descending');
      var num=th.dataset.type==='num';
      rows.sort(function(a,b){
        var x=a.cells[col].dataset.key, y=b.cells[col].dataset.key, c;
        c=num?(Number(x)-Number(y)):(x<y?-1:x>y?1:0);
        if(c===0){c=Number(a.dataset.rank)-Number(b.dataset.rank);}
        if(c===0){c=a.cells[0].dataset.key<b.cells[0].dataset.key?-1:1;}
        return dir*c;
      });
      var body=table.tBodies[0];
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
  document.querySelectorAll('svg text[data-fit]').forEach(function(t){
    var max=Number(t.dataset.fit), full=t.dataset.full, s=full;
    var title=t.querySelector('title');
    function set(v){t.textContent=v; if(title){t.insertBefore(title,t.firstChild);}}
    if(t.getComputedTextLength()<=max){return;}
    while(s.length>1){
      s=s.slice(0,-1); set(s+'\\u2026');
      if(t.getComputedTextLength()<=max){return;}
    }
  });
  apply();
})();
"""


def page_title(boards: list[Board]) -> str:
    return "Conformance scoreboard: " + " vs ".join(b.label for b in boards)


def render_page(boards: list[Board]) -> str:
    """The whole self-contained HTML page."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(page_title(boards))}</title><style>{STYLE}"
        + "".join(f".k-{k}{{color:{c}}}" for k, c in KIND_COLORS.items())
        + "</style></head><body>"
        f"<h1>{_e(page_title(boards))}</h1>"
        + incomplete_banner(boards)
        + '<p class="note">Generated by <code>python -m conformance scoreboard</code>.</p>'
        + under_test(boards)
        + charts(boards)
        + "<h2>Per area</h2>"
        + area_table(boards)
        + release_view(boards)
        + results_table(boards)
        + f"<script>{SCRIPT}</script></body></html>\n"
    )
