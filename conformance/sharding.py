"""Deterministic, duration-balanced shards of a conformance run, and the durations file.

``pytest --pyargs conformance --shard K/N`` runs the K-th of N groups of the collected
tests. The groups are a pure function of three things: the canonical ids of the tests
the run selected (after ``-k``, ``-m``, ``--ops``, ``--dtypes``...), ``N``, and the
durations file. So N jobs on N machines, each started with the same options and a
different ``K``, split the same selection into disjoint groups that together cover it,
whatever directory each job runs from and whether or not it uses ``-n`` (every xdist
worker computes the same groups from its own collection).

Why our own option rather than pytest-split: pytest-split keys its durations by pytest
node id, which depends on where the suite is installed and how pytest was started
(``conformance/fx/test_x.py::t`` in a checkout, ``fx/test_x.py::t`` with ``--pyargs``,
``test_x.py::t`` with ``--pyargs conformance.fx``); one committed file could not serve
every layout. Ours keys them by canonical id (``conformance.testids``) and uses the same
greedy *least duration* split pytest-split does.

The split: tests sorted by expected duration (longest first, ties by id), each given to
the group with the least total so far (ties to the lowest index). A test absent from
the durations file weighs the median of its module's known tests (a new op of the op
sweep costs about what its neighbours cost), else the median of the whole file, else
one second.

The durations file (``conformance/durations.json``, shipped with the package) maps
canonical ids to seconds. ``python -m conformance durations REPORT.json... -o FILE``
regenerates it from reports, which record each test's duration; pass the result to a
run with ``--shard-durations FILE`` (a backend whose tests cost differently than the
reference's, like a device that compiles per sample, balances better on its own file).
"""

from __future__ import annotations

import hashlib
import heapq
import json
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

DURATIONS_SCHEMA = "torch-conformance-durations/1"
#: Weight of a test when the durations file knows nothing at all.
FALLBACK_SECONDS = 1.0
#: Outcomes whose recorded duration is not the test's cost (it never really ran).
_NOT_RAN = ("not_implemented", "interrupted", "not_run")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"2/3"`` -> ``Shard(2, 3)``; :class:`ValueError` naming the problem otherwise."""
    index_text, slash, count_text = (part.strip() for part in text.strip().partition("/"))
    if not slash or not index_text.isdigit() or not count_text.isdigit():
        raise ValueError(
            f"--shard {text!r} is not K/N; give the shard's number and the number of "
            "shards, e.g. --shard 1/3 ... --shard 3/3"
        )
    index, count = int(index_text), int(count_text)
    if count < 1:
        raise ValueError(f"--shard {text!r}: the number of shards must be at least 1")
    if not 1 <= index <= count:
        raise ValueError(
            f"--shard {text!r}: the shard number must be from 1 to {count} (shards count from 1)"
        )
    return Shard(index, count)


class DurationsError(ValueError):
    """A durations file is missing, unreadable or malformed."""


@dataclass(frozen=True)
class Durations:
    """Expected seconds per canonical test id, with the fallbacks of the split."""

    seconds: dict[str, float]
    digest: str
    source: str = ""
    _module_medians: dict[str, float] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        by_module: dict[str, list[float]] = {}
        for test_id, value in self.seconds.items():
            by_module.setdefault(test_id.partition("::")[0], []).append(value)
        self._module_medians.update(
            {module: statistics.median(values) for module, values in by_module.items()}
        )

    @property
    def median(self) -> float:
        return statistics.median(self.seconds.values()) if self.seconds else FALLBACK_SECONDS

    def weight(self, test_id: str) -> float:
        """Expected seconds of ``test_id`` (see the module docstring for the fallbacks)."""
        known = self.seconds.get(test_id)
        if known is not None:
            return known
        module = self._module_medians.get(test_id.partition("::")[0])
        return module if module is not None else self.median


def default_durations_path() -> Path:
    """The durations file shipped inside the installed package."""
    from conformance.testids import package_dir

    return package_dir() / "durations.json"


@cache
def _load(path: Path, _stamp: tuple[int, int]) -> Durations:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DurationsError(
            f"cannot read durations file {path} ({exc.strerror}); pass an existing "
            "--shard-durations FILE (write one with 'python -m conformance durations')"
        ) from None
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DurationsError(f"durations file {path} is not JSON ({exc})") from None
    seconds = data.get("durations") if isinstance(data, dict) else None
    if (
        not isinstance(data, dict)
        or data.get("schema") != DURATIONS_SCHEMA
        or not isinstance(seconds, dict)
        or not all(
            isinstance(k, str) and isinstance(v, int | float) and v >= 0 for k, v in seconds.items()
        )
    ):
        raise DurationsError(
            f"durations file {path} is not a {DURATIONS_SCHEMA} file (an object with "
            "'schema' and 'durations': canonical id -> seconds); regenerate it with "
            "'python -m conformance durations REPORT.json -o FILE'"
        )
    digest = hashlib.sha256(raw).hexdigest()
    return Durations({k: float(v) for k, v in seconds.items()}, digest, str(path))


def load_durations(path: Path) -> Durations:
    """Read a durations file (cached by path, size and mtime: many hooks ask for it)."""
    path = path.resolve()
    try:
        stat = path.stat()
        stamp = (stat.st_size, stat.st_mtime_ns)
    except OSError:
        stamp = (-1, -1)  # _load raises the error with its message
    return _load(path, stamp)


def assign(test_ids: Sequence[str], count: int, weight: Callable[[str], float]) -> dict[str, int]:
    """Canonical id -> 1-based shard, balancing the summed weights (greedy, deterministic).

    Only the *set* of ids matters, not their order, so every process that collected the
    same tests computes the same groups.
    """
    order = sorted(set(test_ids), key=lambda t: (-weight(t), t))
    totals = [(0.0, index) for index in range(1, count + 1)]
    heapq.heapify(totals)
    groups: dict[str, int] = {}
    for test_id in order:
        total, index = heapq.heappop(totals)
        groups[test_id] = index
        heapq.heappush(totals, (total + weight(test_id), index))
    return groups


def selection_digest(test_ids: Iterable[str]) -> str:
    """A digest of the set of selected tests: equal exactly when the selections are."""
    text = "\n".join(sorted(set(test_ids)))
    return hashlib.sha256(text.encode()).hexdigest()


def durations_from_reports(reports: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A durations file (as JSON-ready data) from parsed reports.

    Each test weighs the mean of its durations in the reports where it really ran (not
    skipped for a missing area, interrupted or never started); seconds are rounded to
    milliseconds so the committed file diffs cleanly.
    """
    samples: dict[str, list[float]] = {}
    for report in reports:
        for test in report["tests"]:
            if test.get("outcome") in _NOT_RAN:
                continue
            duration = test.get("duration")
            if isinstance(duration, int | float) and duration >= 0:
                samples.setdefault(test["id"], []).append(float(duration))
    sources = [
        {
            "backend": report["backend"].get("name"),
            "backend_version": report["backend"].get("version"),
            "torch_version": report.get("torch_version"),
            "options": report.get("options", {}),
            "created": report.get("created"),
        }
        for report in reports
    ]
    return {
        "schema": DURATIONS_SCHEMA,
        "generated_from": sources,
        "durations": {
            test_id: round(statistics.fmean(values), 3)
            for test_id, values in sorted(samples.items())
        },
    }


def write_durations(paths: Sequence[Path], output: Path, *, allow_incomplete: bool) -> str:
    """``python -m conformance durations``: read reports, write the file, say what it holds."""
    from conformance.results import read_report, write_report

    reports = [read_report(path, allow_incomplete=allow_incomplete) for path in paths]
    data = durations_from_reports(reports)
    write_report(output, data)
    seconds = sum(data["durations"].values())
    return (
        f"wrote {output}: {len(data['durations'])} tests, {format_seconds(seconds)} of test "
        f"time, from {len(reports)} report(s)"
    )


def format_seconds(seconds: float) -> str:
    """``75.2`` -> ``1m15s``; ``3725`` -> ``1h02m``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
