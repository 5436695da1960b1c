"""Per-test outcomes, the per-area summary and the JSON report.

Outcomes (the ``outcome`` field of each test in the report):

=================== ========================================================== ===========
outcome             meaning                                                    counts as
=================== ========================================================== ===========
``passed``          the backend conforms                                        passed
``failed``          the backend does not conform                                failed
``error``           setup or teardown broke (a fixture, the backend crashing)   failed
``xpassed``         listed as a known failure but passed (strict: fails the run) failed
``xfailed``         failed as the manifest says, with its reason                expected-fail
``skipped``         skipped by the suite itself (reason says why)               skipped
``not_implemented`` the backend does not implement the test's area              not impl.
=================== ========================================================== ===========

Conformance of an area = passed / (passed + failed + expected-fail); skipped and
not-implemented tests are outside the denominator, and an area with no test in it shows
``-``. A known failure still counts against conformance: the manifest explains a gap,
it does not close it.
"""

from __future__ import annotations

import json
import platform
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPORT_SCHEMA = "torch-conformance-report/1"
OUTCOMES = ("passed", "failed", "error", "xpassed", "xfailed", "skipped", "not_implemented")
#: Summary column -> outcomes it adds up.
COLUMNS: dict[str, tuple[str, ...]] = {
    "passed": ("passed",),
    "failed": ("failed", "error", "xpassed"),
    "expected-fail": ("xfailed",),
    "skipped": ("skipped",),
    "not impl.": ("not_implemented",),
}


@dataclass
class CaseResult:
    """The outcome of one conformance test (all its phases folded together)."""

    id: str
    area: str
    outcome: str
    duration: float = 0.0
    reason: str = ""
    category: str = ""
    #: Op sweep only: native / fallback / wrong / error, and the CPU fallbacks seen.
    dispatch: str = ""
    fallbacks: list[str] = field(default_factory=list)


def area_counts(results: list[CaseResult]) -> dict[str, Counter[str]]:
    """Area -> outcome counts, areas in first-seen order."""
    counts: dict[str, Counter[str]] = {}
    for result in results:
        counts.setdefault(result.area, Counter())[result.outcome] += 1
    return counts


def conformance(counts: Counter[str]) -> float | None:
    """passed / (passed + failed + expected-fail), or None when nothing ran."""
    ran = sum(counts[o] for o in ("passed", "failed", "error", "xpassed", "xfailed"))
    return counts["passed"] / ran if ran else None


def summary(results: list[CaseResult]) -> dict[str, dict[str, Any]]:
    """Area -> column counts and conformance fraction, as written to the report."""
    table: dict[str, dict[str, Any]] = {}
    for area, counts in area_counts(results).items():
        row: dict[str, Any] = {
            col: sum(counts[o] for o in outcomes) for col, outcomes in COLUMNS.items()
        }
        row["conformance"] = conformance(counts)
        table[area] = row
    return table


def format_table(results: list[CaseResult]) -> list[str]:
    """The terminal summary table, one string per line."""
    rows = summary(results)
    headers = ["area", *COLUMNS, "conformance"]
    body = []
    for area, row in rows.items():
        pct = row["conformance"]
        body.append([area, *(str(row[c]) for c in COLUMNS), "-" if pct is None else f"{pct:.1%}"])
    widths = [max(len(r[i]) for r in [headers, *body]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest])

    return [line(headers), *(line(r) for r in body)]


def build_report(
    *,
    backend: dict[str, Any],
    results: list[CaseResult],
    expectations: str | None,
    unmatched: list[dict[str, Any]],
    exitstatus: int,
    torch_version: str,
) -> dict[str, Any]:
    """The JSON-ready report. Test entries are sorted by id so reports diff cleanly."""
    return {
        "schema": REPORT_SCHEMA,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "backend": backend,
        "torch_version": torch_version,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "argv": sys.argv[1:],
        "expectations": expectations,
        "unmatched_expectations": unmatched,
        "exitstatus": exitstatus,
        "summary": summary(results),
        "tests": [asdict(r) for r in sorted(results, key=lambda r: r.id)],
    }


class ReportError(ValueError):
    """A report file is missing, unreadable or not a torch-conformance report."""


def write_report(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def read_report(path: Path) -> dict[str, Any]:
    """Load and sanity-check a report written by :func:`write_report`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"{path}: cannot read report ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != REPORT_SCHEMA:
        raise ReportError(
            f"{path}: not a torch-conformance report (expected schema {REPORT_SCHEMA!r}); "
            "write one with pytest --conformance-report=FILE"
        )
    return data
