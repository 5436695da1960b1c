"""Join the reports of a sharded run into the report of one run.

``python -m conformance merge SHARD.json... -o run.json`` takes the N reports written by
``pytest --shard 1/N ... --shard N/N`` (same options, any machines) and writes one report
with the per-test outcomes an unsharded run gives: the tests of every shard, the summary
recomputed from them, and ``merged_from`` naming each shard's file, run status and
platform. ``compare`` and ``scoreboard`` read it like any other report.

The run status of the merge is the worst of the shards' (a crashed shard makes a
crashed run), so an incomplete shard can never hide behind complete ones. A shard to
which no test fell (more shards than tests) counts as complete.

Merge refuses (exit status 2, one line) what would not be one run: a report that is not
a shard (or already a merge), shards of different backends, backend or torch versions,
Python, suite version, options or expectation manifests, shards of different shard
counts, durations files or selections (they split differently), a missing or duplicated
shard, and a test reported by two shards. When every shard completed, their tests must
also add up to exactly the selection each shard recorded.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conformance.results import (
    REPORT_SCHEMA,
    CaseResult,
    ReportError,
    read_report,
    summary,
    write_report,
)
from conformance.sharding import selection_digest

#: Run statuses from worst to best: a merged run is as bad as its worst shard.
SEVERITY = (
    "usage_error",
    "internal_error",
    "unfinished",
    "crashed",
    "interrupted",
    "collection_error",
    "stopped_early",
    "no_tests",
    "accepted_goldens",
    "complete",
)

_CASE_FIELDS = {f.name for f in fields(CaseResult)}


class MergeError(ReportError):
    """The given reports are not the shards of one run."""


def fingerprint(report: dict[str, Any]) -> dict[str, Any]:
    """What must be equal for reports to be parts of one run (label -> value)."""
    backend = report["backend"]
    python = str(report.get("python_version") or "")
    return {
        "backend": backend.get("name"),
        "backend version": backend.get("version"),
        "device": backend.get("device"),
        "torch version": report.get("torch_version"),
        "Python version": ".".join(python.split(".")[:2]),
        "torch-conformance version": report.get("suite_version"),
        "options": report.get("options"),
        "expectation manifest": report.get("expectations_sha256"),
    }


def _shard_of(path: Path, report: dict[str, Any]) -> dict[str, Any]:
    if report.get("merged_from"):
        raise MergeError(f"{path} is already a merged report; merge the shard reports it came from")
    shard = report.get("shard")
    if not isinstance(shard, dict) or not all(
        isinstance(shard.get(k), int) for k in ("index", "count")
    ):
        raise MergeError(
            f"{path} is not the report of a shard (it has no 'shard'); write shard reports "
            "with pytest --shard K/N --conformance-report=FILE"
        )
    return shard


def _status(report: dict[str, Any]) -> str:
    """A shard's run status; a shard left empty by the split is complete."""
    run = report["run"]
    status = str(run["status"])
    selection = (report.get("shard") or {}).get("selection") or {}
    if status == "no_tests" and selection.get("total"):
        return "complete"
    return status


def check_shards(shards: list[tuple[Path, dict[str, Any]]]) -> None:
    """Raise :class:`MergeError` unless ``shards`` are every shard of one run, once each."""
    if not shards:
        raise MergeError("give the report of every shard")
    first_path, first = shards[0]
    first_print = fingerprint(first)
    first_shard = _shard_of(first_path, first)
    seen: dict[int, Path] = {}
    owner: dict[str, Path] = {}
    for path, report in shards:
        shard = _shard_of(path, report)
        for label, value in fingerprint(report).items():
            if value != first_print[label]:
                raise MergeError(
                    f"{first_path} and {path} differ in {label} ({first_print[label]!r} vs "
                    f"{value!r}); shards of one run use the same backend, versions and options"
                )
        if shard["count"] != first_shard["count"]:
            raise MergeError(
                f"{first_path} is shard {first_shard['index']}/{first_shard['count']} and "
                f"{path} shard {shard['index']}/{shard['count']}; give the shards of one split"
            )
        for key, what in (("durations", "durations files"), ("selection", "test selections")):
            mine, theirs = shard.get(key), first_shard.get(key)
            if mine and theirs and mine.get("sha256") != theirs.get("sha256"):
                raise MergeError(
                    f"{first_path} and {path} were split from different {what}, so their "
                    "groups do not fit together; rerun every shard with the same suite, "
                    "options and --shard-durations"
                )
        if shard["index"] in seen:
            raise MergeError(
                f"shard {shard['index']}/{shard['count']} is given twice: "
                f"{seen[shard['index']]} and {path}"
            )
        seen[shard["index"]] = path
        for test in report["tests"]:
            if test["id"] in owner:
                raise MergeError(
                    f"test {test['id']} is in both {owner[test['id']]} and {path}; shards "
                    "of one split never share a test"
                )
            owner[test["id"]] = path
    count = first_shard["count"]
    missing = [i for i in range(1, count + 1) if i not in seen]
    if missing:
        raise MergeError(
            f"shard(s) {', '.join(f'{i}/{count}' for i in missing)} missing (given: "
            f"{', '.join(f'{i}/{count}' for i in sorted(seen))}); a merge needs every shard"
        )
    selections = [(r.get("shard") or {}).get("selection") for _, r in shards]
    complete = all(_status(r) == "complete" for _, r in shards)
    if complete and all(selections):
        expected = selections[0]
        if selection_digest(owner) != expected["sha256"]:  # type: ignore[index]
            raise MergeError(
                f"the shards hold {len(owner)} tests, not the {expected['total']} tests "  # type: ignore[index]
                "their run selected; rerun the shards with the same options"
            )


def _worst(shards: list[tuple[Path, dict[str, Any]]]) -> str:
    return min((_status(r) for _, r in shards), key=SEVERITY.index)


def merge_reports(shards: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    """The report of the run the shards split (checked by :func:`check_shards`)."""
    check_shards(shards)
    shards = sorted(shards, key=lambda s: int(s[1]["shard"]["index"]))
    first = shards[0][1]
    status = _worst(shards)
    problems = [
        f"shard {r['shard']['index']}/{r['shard']['count']} ({path.name}): {_status(r)}"
        + (f", {r['run']['detail']}" if r["run"].get("detail") else "")
        for path, r in shards
        if _status(r) != "complete"
    ]
    exits = [r["run"].get("exitstatus") for _, r in shards if _status(r) == status]
    exitstatus = max((e for e in exits if isinstance(e, int)), default=None)
    if status == "complete":
        exitstatus = max((r["run"].get("exitstatus") or 0 for _, r in shards), default=0)
    tests = sorted((t for _, r in shards for t in r["tests"]), key=lambda t: t["id"])
    results = [CaseResult(**{k: v for k, v in t.items() if k in _CASE_FIELDS}) for t in tests]
    unmatched = [
        entry
        for entry in first.get("unmatched_expectations", [])
        if all(entry in r.get("unmatched_expectations", []) for _, r in shards)
    ]
    selection = first["shard"].get("selection")
    run = {
        "status": status,
        "detail": "; ".join(problems),
        "exitstatus": exitstatus,
        "collected": sum(int(r["run"].get("collected") or 0) for _, r in shards),
        "finished": sum(int(r["run"].get("finished") or 0) for _, r in shards),
        "crashes": [c for _, r in shards for c in r["run"].get("crashes", [])],
        "goldens_written": sorted(
            {g for _, r in shards for g in r["run"].get("goldens_written", [])}
        ),
        "complete": status == "complete",
    }
    if selection and len(tests) != selection.get("total"):
        run["detail"] = "; ".join(
            [*problems, f"{len(tests)} of the {selection['total']} selected tests are reported"]
        )
    return {
        "schema": REPORT_SCHEMA,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "suite_version": first.get("suite_version"),
        "backend": first["backend"],
        "torch_version": first.get("torch_version"),
        "python_version": first.get("python_version"),
        "platform": first.get("platform"),
        "argv": first.get("argv", []),
        "options": first.get("options", {}),
        "expectations": first.get("expectations"),
        "expectations_sha256": first.get("expectations_sha256"),
        "unmatched_expectations": unmatched,
        "shard": None,
        "merged_from": [
            {
                "path": str(path),
                "shard": {"index": r["shard"]["index"], "count": r["shard"]["count"]},
                "created": r.get("created"),
                "platform": r.get("platform"),
                "run": {"status": r["run"]["status"], "detail": r["run"].get("detail", "")},
                "tests": len(r["tests"]),
            }
            for path, r in shards
        ],
        "selection": selection,
        "run": run,
        "exitstatus": exitstatus,
        "summary": summary(results),
        "tests": tests,
    }


def run(paths: list[Path], output: Path) -> list[str]:
    """Merge the shard reports at ``paths`` into ``output``; the lines to print.

    Raises :class:`ReportError` (exit 2) for anything that is not every shard of one run.
    """
    shards = [(path, read_report(path, allow_incomplete=True)) for path in paths]
    merged = merge_reports(shards)
    write_report(output, merged)
    run_status = merged["run"]
    lines = [
        f"merged {len(shards)} shards of backend {merged['backend'].get('name')}: "
        f"{len(merged['tests'])} tests -> {output}"
    ]
    if run_status["complete"]:
        lines.append("run complete")
    else:
        lines.append(
            f"RUN INCOMPLETE ({run_status['status']}): {run_status['detail']}. "
            "The merged report is not a verdict."
        )
    return lines
