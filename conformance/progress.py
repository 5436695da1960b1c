"""Progress of a long run: tests finished per area and an estimate of the time left.

A full run is many minutes of dots (or of ``[gw0] PASSED`` lines under xdist); a backend
author wants to know whether to wait or come back later. Every ``--conformance-progress``
seconds (default 30; 0 turns it off) the plugin prints one line::

    conformance progress: 412/1236 (33%) | fx 49/49 | lazy 300/925 | parametrize 63/262
    | 2m10s elapsed, about 4m20s left

(one line in the terminal, wrapped here).

The estimate weighs each test by the durations file (the same weights that balance
``--shard``) and scales by how fast this machine has gone so far: time left = elapsed x
(weight of the tests still to run / weight of the tests done). So it corrects itself
for a slower machine, more or fewer workers, or a backend slower than the one the file
was measured on, and it does not mistake a run of fast tests for most of the work.

It is pure bookkeeping over canonical ids, fed by the plugin's hooks (on the xdist
controller, from the workers' reports).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from conformance.sharding import format_seconds

DEFAULT_INTERVAL = 30.0


@dataclass
class Progress:
    """Which of the collected tests have finished, and when to say so."""

    interval: float
    weight: Callable[[str], float]
    areas: dict[str, str] = field(default_factory=dict)  # test id -> area, collected order
    done: set[str] = field(default_factory=set)
    started: float | None = None
    last_line: float | None = None
    _total_weight: float = 0.0
    _done_weight: float = 0.0

    def collect(self, ids: list[tuple[str, str]]) -> None:
        """The tests this run selected (canonical id, area); the first call wins."""
        if not self.areas:
            self.areas = dict(ids)
            self._total_weight = sum(self.weight(t) for t in self.areas)

    def start(self, now: float) -> None:
        """The first test began: the clock of the estimate starts."""
        if self.started is None:
            self.started = self.last_line = now

    def finish(self, test_id: str, now: float) -> str | None:
        """``test_id`` ended; the progress line, when one is due."""
        self.start(now)
        if test_id in self.areas and test_id not in self.done:
            self.done.add(test_id)
            self._done_weight += self.weight(test_id)
        if self.interval <= 0 or self.last_line is None or now - self.last_line < self.interval:
            return None
        if len(self.done) >= len(self.areas):
            return None  # the summary table follows at once
        self.last_line = now
        return self.line(now)

    def left(self, now: float) -> float | None:
        """Estimated seconds left, or None before anything with a weight finished."""
        if self.started is None or self._done_weight <= 0:
            return None
        rate = (now - self.started) / self._done_weight
        return max(0.0, self._total_weight - self._done_weight) * rate

    def line(self, now: float) -> str:
        """The progress line (see the module docstring)."""
        total = len(self.areas)
        per_area: dict[str, list[int]] = {}
        for test_id, area in self.areas.items():
            counts = per_area.setdefault(area, [0, 0])
            counts[0] += test_id in self.done
            counts[1] += 1
        parts = [f"{len(self.done)}/{total} ({len(self.done) / total:.0%})" if total else "0/0"]
        parts += [f"{area} {done}/{count}" for area, (done, count) in per_area.items()]
        elapsed = now - (self.started if self.started is not None else now)
        left = self.left(now)
        timing = f"{format_seconds(elapsed)} elapsed"
        if left is not None:
            timing += f", about {format_seconds(left)} left"
        return "conformance progress: " + " | ".join([*parts, timing])


def estimate_line(
    tests: int, seconds: float, workers: int | None, source: str, shard: str | None
) -> str:
    """The line before the run: how many tests, and their summed expected time."""
    where = f"shard {shard}: " if shard else ""
    per = f", about {format_seconds(seconds / workers)} with {workers} workers" if workers else ""
    return (
        f"conformance: {where}{tests} tests, {format_seconds(seconds)} of test time by "
        f"{source}{per} (--conformance-progress prints progress as it runs)"
    )
