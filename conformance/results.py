"""Per-test outcomes, how the run ended, the per-area summary and the JSON report.

Outcomes (the ``outcome`` field of each test in the report):

=================== ========================================================== ===========
outcome             meaning                                                    counts as
=================== ========================================================== ===========
``passed``          the backend conforms                                        passed
``failed``          the backend does not conform                                failed
``error``           setup or teardown broke, the test hung past its timeout,    failed
                    the worker running it crashed, or it never reported a
                    call-phase result
``xpassed``         listed as a known failure but passed (strict: fails the run) failed
``xfailed``         failed as the manifest says, with its reason                expected-fail
``skipped``         skipped by the suite itself (reason says why)               skipped
``not_implemented`` the backend does not implement the test's area or a         not impl.
                    capability it needs
``interrupted``     the run was interrupted while this test ran                 not run
``not_run``         collected, but the run ended before it started              not run
=================== ========================================================== ===========

A test is ``passed`` only when its call phase reported a pass: a test whose setup
passed but whose call never reported is ``error`` (or ``interrupted``), never ``passed``.

Conformance of an area = passed / (passed + failed + expected-fail); skipped,
not-implemented and not-run tests are outside the denominator, and an area with no test
in it shows ``-``. A known failure still counts against conformance: the manifest
explains a gap, it does not close it.

How the run ended is the report's ``run`` object (see :class:`RunStatus`). Only a run
whose ``run.complete`` is true is a verdict: ``compare`` and ``scoreboard`` refuse any
other report unless told ``--allow-incomplete``.
"""

from __future__ import annotations

import json
import platform
import re
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPORT_SCHEMA = "torch-conformance-report/2"
OUTCOMES = (
    "passed",
    "failed",
    "error",
    "xpassed",
    "xfailed",
    "skipped",
    "not_implemented",
    "interrupted",
    "not_run",
)
#: Summary column -> outcomes it adds up.
COLUMNS: dict[str, tuple[str, ...]] = {
    "passed": ("passed",),
    "failed": ("failed", "error", "xpassed"),
    "expected-fail": ("xfailed",),
    "skipped": ("skipped",),
    "not impl.": ("not_implemented",),
    "not run": ("interrupted", "not_run"),
}
#: Columns the terminal table shows only when some area has a non-zero count.
OPTIONAL_COLUMNS = ("not run",)

#: How a run can end (``run.status``); only ``complete`` is a verdict.
RUN_STATUSES: dict[str, str] = {
    "complete": "every collected test ran and reported an outcome",
    "unfinished": "the run has not finished: it is still running, or its process was killed "
    "(SIGKILL, out of memory, a hang no timeout could break) before it could report",
    "interrupted": "the run was interrupted (Ctrl-C, SIGTERM) before every test ran",
    "stopped_early": "the run stopped before every test ran (-x, --maxfail)",
    "crashed": "test workers crashed and the run ended before every test ran",
    "internal_error": "pytest or a plugin raised an internal error",
    "collection_error": "some tests could not be collected",
    "usage_error": "the run was refused before any test ran (bad option, backend or manifest)",
    "no_tests": "no conformance test was collected",
    "accepted_goldens": "the run rewrote golden files instead of comparing against them",
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
    #: Warnings the test raised (kept out of the terminal), ``Category: message (file:line)``.
    warnings: list[str] = field(default_factory=list)


@dataclass
class RunStatus:
    """How a run ended: the report's ``run`` object.

    ``status`` is a key of :data:`RUN_STATUSES`; ``complete`` is true only for
    ``complete``. ``collected`` counts the conformance tests the run selected,
    ``finished`` those with a final outcome. ``crashes`` names every test whose worker
    crashed (the test itself is reported as ``error``, or ``xfailed`` when listed).
    """

    status: str
    detail: str = ""
    exitstatus: int | None = None
    collected: int = 0
    finished: int = 0
    crashes: list[dict[str, str]] = field(default_factory=list)
    goldens_written: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["complete"] = self.complete
        return data


#: Memory addresses (``<object at 0x7f3a...>``) differ between runs of the same program.
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")


def normalize_reason(text: str) -> str:
    """A failure reason that is the same in two runs of the same failure.

    Memory addresses become ``0x?``; the text is capped at 2000 characters.
    """
    text = _ADDRESS.sub("0x?", text)
    return text if len(text) <= 2000 else text[:2000] + " [...]"


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


def format_table(results: list[CaseResult], run: RunStatus | None = None) -> list[str]:
    """The terminal summary table, one string per line, then how the run ended.

    A run that is not complete ends with a line saying so, in words that cannot be
    mistaken for a verdict.
    """
    rows = summary(results)
    columns = [c for c in COLUMNS if c not in OPTIONAL_COLUMNS or any(r[c] for r in rows.values())]
    headers = ["area", *columns, "conformance"]
    body = []
    for area, row in rows.items():
        pct = row["conformance"]
        body.append([area, *(str(row[c]) for c in columns), "-" if pct is None else f"{pct:.1%}"])
    widths = [max(len(r[i]) for r in [headers, *body]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest])

    lines = [line(headers), *(line(r) for r in body)]
    if run is not None and not run.complete:
        lines.append(
            f"RUN INCOMPLETE ({run.status}): {run.finished} of {run.collected} collected tests "
            f"finished; {run.detail or RUN_STATUSES[run.status]}. This is not a verdict."
        )
    elif run is not None and run.crashes:
        lines.append(
            f"note: {len(run.crashes)} test(s) crashed their worker and are reported as errors"
        )
    return lines


def build_report(
    *,
    backend: dict[str, Any],
    results: list[CaseResult],
    expectations: str | None,
    unmatched: list[dict[str, Any]],
    run: RunStatus,
    torch_version: str | None,
    options: dict[str, Any] | None = None,
    shard: dict[str, Any] | None = None,
    expectations_sha256: str | None = None,
) -> dict[str, Any]:
    """The JSON-ready report. Test entries are sorted by id so reports diff cleanly.

    ``shard`` is the ``--shard`` run's group (``index``, ``count``, the ``durations``
    file and the whole ``selection``'s size and digest), None for an unsharded run; a
    merged report has ``merged_from`` instead (see ``conformance.merge``).
    """
    from conformance import __version__

    return {
        "schema": REPORT_SCHEMA,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "suite_version": __version__,
        "backend": backend,
        "torch_version": torch_version,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "argv": sys.argv[1:],
        "options": options or {},
        "expectations": expectations,
        "expectations_sha256": expectations_sha256,
        "unmatched_expectations": unmatched,
        "shard": shard,
        "run": run.to_json(),
        "exitstatus": run.exitstatus,
        "summary": summary(results),
        "tests": [asdict(r) for r in sorted(results, key=lambda r: r.id)],
    }


class ReportError(ValueError):
    """A report file is missing, unreadable or not a torch-conformance report."""


class IncompleteReportError(ReportError):
    """A well-formed report of a run that is not a verdict (interrupted, crashed, ...)."""


def write_report(path: Path, report: dict[str, Any]) -> None:
    """Write ``report`` atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def _problem(data: Any) -> str | None:
    """What is wrong with the structure of a parsed report, or None."""
    if not isinstance(data, dict):
        return "the top level is not a JSON object"
    schema = data.get("schema")
    if schema != REPORT_SCHEMA:
        if isinstance(schema, str) and schema.startswith("torch-conformance-report/"):
            return (
                f"it has schema {schema!r}, this torch-conformance reads {REPORT_SCHEMA!r}; "
                "rerun the suite with this version to write a new report"
            )
        return f"expected schema {REPORT_SCHEMA!r}; write one with pytest --conformance-report=FILE"
    backend = data.get("backend")
    if not isinstance(backend, dict) or not isinstance(backend.get("name"), str | None):
        return "'backend' must be an object with a 'name'"
    run = data.get("run")
    if not isinstance(run, dict) or run.get("status") not in RUN_STATUSES:
        return "'run' must be an object whose 'status' is one of " + ", ".join(RUN_STATUSES)
    if not isinstance(run.get("complete"), bool):
        return "'run.complete' must be true or false"
    tests = data.get("tests")
    if not isinstance(tests, list):
        return "'tests' must be a list of test entries"
    for index, test in enumerate(tests):
        if not isinstance(test, dict):
            return f"tests[{index}] is not an object"
        if not isinstance(test.get("id"), str) or not isinstance(test.get("area"), str):
            return f"tests[{index}] needs string 'id' and 'area'"
        if test.get("outcome") not in OUTCOMES:
            return f"tests[{index}] ({test['id']}) has unknown outcome {test.get('outcome')!r}"
    ids = [t["id"] for t in tests]
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        return f"test {duplicate!r} appears more than once"
    return None


def read_report(path: Path, *, allow_incomplete: bool = False) -> dict[str, Any]:
    """Load and validate a report written by :func:`write_report`.

    Raises :class:`ReportError` for anything that is not a well-formed report, and
    :class:`IncompleteReportError` for a report of a run that is not a verdict, unless
    ``allow_incomplete``.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"{path}: cannot read report ({exc.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path}: not a JSON report: {exc}") from None
    problem = _problem(data)
    if problem is not None:
        raise ReportError(f"{path}: not a valid torch-conformance report: {problem}")
    run = data["run"]
    if not run["complete"] and not allow_incomplete:
        detail = run.get("detail") or RUN_STATUSES[run["status"]]
        raise IncompleteReportError(
            f"{path}: the run did not complete ({run['status']}: {detail}); it is not a "
            "verdict. Rerun the suite, or pass --allow-incomplete to use it anyway"
        )
    return data


def is_complete(report: dict[str, Any]) -> bool:
    """Whether a (validated) report is of a complete run."""
    return bool(report.get("run", {}).get("complete"))
