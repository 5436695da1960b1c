"""Folding pytest's phase reports into one honest outcome per conformance test.

pytest reports each test in up to three phases (setup, call, teardown); pytest-xdist's
controller adds a synthetic report (phase ``???``) for a test whose worker crashed. The
:class:`Recorder` turns them into one :class:`~conformance.results.CaseResult` per
canonical test id, and at the end of the run decides what became of tests that never
finished:

- a test whose setup passed is *pending* until its call phase reports; if the run ends
  first it is ``interrupted`` (the run was interrupted) or ``error`` (anything else),
  never ``passed``;
- a collected test that never started is ``not_run``;
- a crashed test is ``error``, or ``xfailed`` when the manifest lists it (a listed
  crash is the known failure showing itself).

It knows nothing about pytest objects beyond the few fields it reads, so it is unit
tested with plain stand-ins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from conformance.results import CaseResult, normalize_reason

PENDING = "pending"


class PhaseReport(Protocol):
    """The fields of ``pytest.TestReport`` the recorder reads."""

    @property
    def when(self) -> str | None: ...

    @property
    def duration(self) -> float: ...

    @property
    def longrepr(self) -> Any: ...

    @property
    def skipped(self) -> bool: ...

    @property
    def failed(self) -> bool: ...


@dataclass
class Recorder:
    """Results of one run, built phase by phase."""

    #: test id -> manifest reason (``[category] reason``) and category, for crash handling.
    listed: Callable[[str], tuple[str, str] | None] = lambda _test_id: None
    collected: dict[str, str] = field(default_factory=dict)
    results: dict[str, CaseResult] = field(default_factory=dict)
    crashes: list[dict[str, str]] = field(default_factory=list)
    #: Tests :meth:`finish` had to resolve: (started but unfinished, never started).
    resolved: tuple[set[str], set[str]] = field(default_factory=lambda: (set(), set()))

    def collect(self, ids: list[tuple[str, str]]) -> None:
        """Remember the tests this run selected (canonical id, area), in order."""
        if not self.collected:
            self.collected = dict(ids)

    def start(self, test_id: str, area: str) -> None:
        """Note that ``test_id`` began (it is pending until a phase decides it)."""
        if test_id not in self.results:
            self.results[test_id] = CaseResult(id=test_id, area=area, outcome=PENDING)

    def fold(
        self,
        report: PhaseReport,
        test_id: str,
        area: str,
        *,
        not_implemented: bool = False,
        category: str = "",
    ) -> None:
        """Fold one phase report of test ``test_id`` into its result."""
        result = self.results.get(test_id)
        if result is None:
            result = self.results[test_id] = CaseResult(
                id=test_id, area=area, outcome=PENDING, category=category
            )
        result.category = result.category or category
        result.duration += report.duration or 0.0
        outcome, reason = phase_outcome(report, not_implemented)
        if outcome is None:
            return
        if report.when == "teardown" and result.outcome != "passed":
            return  # the setup or call phase already decided; keep its reason
        if outcome == "failed" and is_timeout(reason):
            outcome = "error"  # a hang is the backend breaking, not a wrong answer
        result.outcome, result.reason = outcome, normalize_reason(reason)

    def crash(self, test_id: str, area: str, worker: str, message: str) -> None:
        """Record that the worker running ``test_id`` died (xdist's ``???`` report)."""
        self.crashes.append({"test": test_id, "worker": worker, "message": message})
        result = self.results.get(test_id)
        if result is None:
            result = self.results[test_id] = CaseResult(id=test_id, area=area, outcome=PENDING)
        listed = self.listed(test_id)
        if listed is not None:
            reason, category = listed
            result.outcome, result.category = "xfailed", category
            result.reason = normalize_reason(f"{reason} (the test crashed its worker: {message})")
        else:
            result.outcome, result.reason = "error", normalize_reason(message)

    def pending(self) -> list[str]:
        """Tests that started but have no final outcome (or only one :meth:`finish` gave)."""
        live = [t for t, r in self.results.items() if r.outcome == PENDING]
        return live + sorted(self.resolved[0] - set(live))

    def not_started(self) -> list[str]:
        """Collected tests with no report at all (or only :meth:`finish`'s ``not_run``)."""
        live = [t for t in self.collected if t not in self.results]
        return live + sorted(self.resolved[1] - set(live))

    def finish(self, *, interrupted: bool, reason: str = "") -> list[CaseResult]:
        """Final results: pending tests resolved, never-started ones marked ``not_run``.

        ``reason`` replaces the default reason of pending tests that become ``error``.
        """
        for test_id in [t for t, r in self.results.items() if r.outcome == PENDING]:
            self.resolved[0].add(test_id)
            result = self.results[test_id]
            if interrupted:
                result.outcome = "interrupted"
                result.reason = "the run was interrupted while this test ran"
            else:
                result.outcome = "error"
                result.reason = reason or (
                    "no call-phase result: the test started but never reported an outcome"
                )
        for test_id in [t for t in self.collected if t not in self.results]:
            self.resolved[1].add(test_id)
            self.results[test_id] = CaseResult(
                id=test_id,
                area=self.collected[test_id],
                outcome="not_run",
                reason="the run ended before this test started",
            )
        return list(self.results.values())


#: What the op sweep says of a sample that overran ``--op-timeout``.
OP_TIMEOUT_NOTE = "the sample overran --op-timeout, which bounds each sample"


def is_timeout(text: str) -> bool:
    """Whether a failure text is pytest-timeout's, or the op sweep's per-sample timeout."""
    return "Timeout (>" in text and ("pytest-timeout" in text or OP_TIMEOUT_NOTE in text)


def phase_outcome(report: PhaseReport, not_implemented: bool) -> tuple[str | None, str]:
    """What one phase report says about the test, or (None, '') if it says nothing new."""
    xfail_reason = getattr(report, "wasxfail", None)
    if report.skipped:
        if xfail_reason is not None:
            return "xfailed", xfail_reason
        return ("not_implemented" if not_implemented else "skipped"), skip_reason(report)
    if report.failed:
        text = failure_text(report)
        if text.startswith("[XPASS(strict)]"):
            return "xpassed", "listed as a known failure but passed: " + text
        return ("failed" if report.when == "call" else "error"), text
    if report.when == "call":
        return "passed", ""
    return None, ""


def skip_reason(report: PhaseReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def failure_text(report: PhaseReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    return str(crash.message if crash is not None else report.longrepr)
