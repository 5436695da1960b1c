"""The release gate: compare two JSON reports of the same suite and backend.

A *regression* is a test that passed in BASE and does not pass in NEW: it failed,
errored, became an expected failure, got skipped, lost its area, or disappeared from
the run. Each of those means the backend conforms less than it did, so each one fails
the gate; disappearing tests are listed apart because they usually mean a narrower run
(``-k``, a dropped area) rather than a new bug.

A *changed failure* is a test that did not pass in BASE and now fails differently: a
known failure (``xfailed``) that now fails outside its manifest entry or crashes
(``error``), a wrong answer that became a crash, a skipped test that now fails. These are
always listed; ``--strict`` makes them fail the gate too. *Newly passing* tests are
listed so a manifest entry can be removed.

The gate refuses, with exit status 2, what it cannot judge: a malformed report, a
report of a run that did not complete (``--allow-incomplete`` overrides), and two
reports of different backends (``--allow-different-backends`` overrides).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.results import ReportError, read_report

FAILING = ("failed", "error")


@dataclass
class Comparison:
    """What changed between two reports."""

    regressions: list[tuple[str, str, str]] = field(default_factory=list)  # id, base, new
    missing: list[str] = field(default_factory=list)
    changed_failures: list[tuple[str, str, str]] = field(default_factory=list)  # id, base, new
    newly_passing: list[tuple[str, str]] = field(default_factory=list)  # id, base outcome
    added: list[str] = field(default_factory=list)

    def failed(self, *, strict: bool = False) -> bool:
        return bool(self.regressions or self.missing or (strict and self.changed_failures))


def compare_reports(base: dict[str, Any], new: dict[str, Any]) -> Comparison:
    """Compare per-test outcomes of ``base`` and ``new`` (parsed reports)."""
    before = {t["id"]: t for t in base["tests"]}
    after = {t["id"]: t for t in new["tests"]}
    result = Comparison()
    for test_id, old in sorted(before.items()):
        now = after.get(test_id)
        was: str = old["outcome"]
        if now is None:
            if was == "passed":
                result.missing.append(test_id)
            continue
        is_now: str = now["outcome"]
        if was == "passed" and is_now != "passed":
            result.regressions.append((test_id, was, is_now))
        elif was != "passed" and is_now in ("passed", "xpassed"):
            result.newly_passing.append((test_id, was))
        elif is_now in FAILING and is_now != was:
            result.changed_failures.append((test_id, was, is_now))
    result.added = sorted(set(after) - set(before))
    return result


def _label(report: dict[str, Any]) -> str:
    backend = report.get("backend", {})
    return f"{backend.get('name')} {backend.get('version')} (torch {report.get('torch_version')})"


def _reason(test: dict[str, Any]) -> str:
    reason = " ".join(str(test.get("reason", "")).split())
    return f"  ({reason[:300]})" if reason else ""


def format_comparison(
    base: dict[str, Any], new: dict[str, Any], comparison: Comparison, *, strict: bool = False
) -> list[str]:
    """Human-readable lines; the verdict comes last."""
    lines = [f"base: {_label(base)}", f"new:  {_label(new)}"]
    for label, report in (("base", base), ("new", new)):
        run = report["run"]
        if not run["complete"]:
            lines.append(f"note: the {label} run did not complete ({run['status']})")
    if base["backend"].get("name") != new["backend"].get("name"):
        lines.append("note: the reports are for different backends")
    if base.get("options") != new.get("options"):
        lines.append(
            f"note: the runs used different options: {base.get('options')} vs {new.get('options')}"
        )
    after = {t["id"]: t for t in new["tests"]}
    if comparison.regressions:
        lines.append(f"\nREGRESSIONS ({len(comparison.regressions)}): passed before, not now")
        for test_id, _, outcome in comparison.regressions:
            lines.append(f"  {test_id}: passed -> {outcome}{_reason(after[test_id])}")
    if comparison.missing:
        lines.append(f"\nMISSING ({len(comparison.missing)}): passed before, absent from NEW")
        lines.extend(f"  {test_id}" for test_id in comparison.missing)
    if comparison.changed_failures:
        lines.append(
            f"\nCHANGED FAILURES ({len(comparison.changed_failures)}): did not pass before, "
            "now fail differently" + ("" if strict else " (fail the gate with --strict)")
        )
        for test_id, old, outcome in comparison.changed_failures:
            lines.append(f"  {test_id}: {old} -> {outcome}{_reason(after[test_id])}")
    if comparison.newly_passing:
        lines.append(f"\nNEWLY PASSING ({len(comparison.newly_passing)})")
        lines.extend(
            f"  {t}: {old} -> {after[t]['outcome']}" for t, old in comparison.newly_passing
        )
    if comparison.added:
        lines.append(f"\nNEW TESTS ({len(comparison.added)}) not in BASE")
    verdict = "FAIL" if comparison.failed(strict=strict) else "OK"
    lines.append(
        f"\n{verdict}: {len(comparison.regressions)} regression(s), "
        f"{len(comparison.missing)} missing, {len(comparison.changed_failures)} changed "
        f"failure(s), {len(comparison.newly_passing)} newly passing"
    )
    return lines


def run(
    base_path: Path,
    new_path: Path,
    *,
    allow_incomplete: bool = False,
    allow_different_backends: bool = False,
    strict: bool = False,
) -> tuple[int, list[str]]:
    """Exit status (0 ok, 1 regression) and output lines for ``compare BASE NEW``.

    Raises :class:`ReportError` (exit 2) for reports the gate cannot judge.
    """
    base = read_report(base_path, allow_incomplete=allow_incomplete)
    new = read_report(new_path, allow_incomplete=allow_incomplete)
    names = base["backend"].get("name"), new["backend"].get("name")
    if names[0] != names[1] and not allow_different_backends:
        raise ReportError(
            f"{base_path} is a report of backend {names[0]!r} and {new_path} of {names[1]!r}; "
            "the gate compares releases of one backend. Pass --allow-different-backends to "
            "compare them anyway"
        )
    comparison = compare_reports(base, new)
    status = 1 if comparison.failed(strict=strict) else 0
    return status, format_comparison(base, new, comparison, strict=strict)
