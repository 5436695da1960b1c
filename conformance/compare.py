"""The release gate: compare two JSON reports of the same suite.

A *regression* is a test that passed in BASE and does not pass in NEW: it failed,
errored, became an expected failure, got skipped, lost its area, or disappeared from
the run. Each of those means the backend conforms less than it did, so each one fails
the gate; disappearing tests are listed apart because they usually mean a narrower run
(``-k``, a dropped area) rather than a new bug. *Newly passing* tests are listed so a
manifest entry can be removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.results import read_report


@dataclass
class Comparison:
    """What changed between two reports."""

    regressions: list[tuple[str, str, str]] = field(default_factory=list)  # id, base, new
    missing: list[str] = field(default_factory=list)
    newly_passing: list[tuple[str, str]] = field(default_factory=list)  # id, base outcome
    added: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.regressions or self.missing)


def compare_reports(base: dict[str, Any], new: dict[str, Any]) -> Comparison:
    """Compare per-test outcomes of ``base`` and ``new`` (parsed reports)."""
    before = {t["id"]: t for t in base["tests"]}
    after = {t["id"]: t for t in new["tests"]}
    result = Comparison()
    for test_id, old in sorted(before.items()):
        now = after.get(test_id)
        if now is None:
            if old["outcome"] == "passed":
                result.missing.append(test_id)
        elif old["outcome"] == "passed" and now["outcome"] != "passed":
            result.regressions.append((test_id, old["outcome"], now["outcome"]))
        elif old["outcome"] != "passed" and now["outcome"] == "passed":
            result.newly_passing.append((test_id, old["outcome"]))
    result.added = sorted(set(after) - set(before))
    return result


def _label(report: dict[str, Any]) -> str:
    backend = report.get("backend", {})
    return f"{backend.get('name')} {backend.get('version')} (torch {report.get('torch_version')})"


def format_comparison(
    base: dict[str, Any], new: dict[str, Any], comparison: Comparison
) -> list[str]:
    """Human-readable lines; the verdict comes last."""
    lines = [f"base: {_label(base)}", f"new:  {_label(new)}"]
    if base.get("backend", {}).get("name") != new.get("backend", {}).get("name"):
        lines.append("note: the reports are for different backends")
    after = {t["id"]: t for t in new["tests"]}
    if comparison.regressions:
        lines.append(f"\nREGRESSIONS ({len(comparison.regressions)}): passed before, not now")
        for test_id, _, outcome in comparison.regressions:
            reason = after[test_id].get("reason", "")
            lines.append(f"  {test_id}: passed -> {outcome}" + (f"  ({reason})" if reason else ""))
    if comparison.missing:
        lines.append(f"\nMISSING ({len(comparison.missing)}): passed before, absent from NEW")
        lines.extend(f"  {test_id}" for test_id in comparison.missing)
    if comparison.newly_passing:
        lines.append(f"\nNEWLY PASSING ({len(comparison.newly_passing)})")
        lines.extend(f"  {t}: {old} -> passed" for t, old in comparison.newly_passing)
    if comparison.added:
        lines.append(f"\nNEW TESTS ({len(comparison.added)}) not in BASE")
    verdict = "FAIL" if comparison.failed else "OK"
    lines.append(
        f"\n{verdict}: {len(comparison.regressions)} regression(s), "
        f"{len(comparison.missing)} missing, {len(comparison.newly_passing)} newly passing"
    )
    return lines


def run(base_path: Path, new_path: Path) -> tuple[int, list[str]]:
    """Exit status (0 ok, 1 regression) and output lines for ``compare BASE NEW``."""
    base, new = read_report(base_path), read_report(new_path)
    comparison = compare_reports(base, new)
    return (1 if comparison.failed else 0), format_comparison(base, new, comparison)
