"""Step closures: callbacks that run once, after the step's graph executed."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest
import torch

from conformance.contract import LazyArea
from conformance.discovery import LoadedBackend
from conformance.lazy.dialects import ops
from conformance.lazy.isolated import run_isolated

TIMEOUT = 10.0
#: How long a later step's closure is given to (wrongly) start while an earlier one is
#: still running. Only a broken backend can be seen in this window; a conforming one
#: passes however long it is.
OVERTAKE_WINDOW = 1.0


def test_sync_closure_runs_after_graph_executed(lazy_area: LazyArea) -> None:
    """A closure sees its tensor argument already executed (device data, no pending ops)."""
    x = torch.rand(3)
    y = x.to(lazy_area.device) * 3 + 1
    seen: list[set[str]] = []

    def inspect(t: torch.Tensor) -> None:
        seen.append(set(ops(lazy_area.ir_text([t]), lazy_area.ir_dialect)))

    lazy_area.add_step_closure(inspect, (y,))
    assert seen == [], "the closure ran before mark_step"
    lazy_area.mark_step()
    assert len(seen) == 1, f"the closure ran {len(seen)} times in mark_step"
    assert seen[0] <= {"device_data"}, f"the closure saw pending IR: {sorted(seen[0])}"
    torch.testing.assert_close(y.cpu(), x * 3 + 1)


def test_sync_closures_run_once_in_order_with_args(lazy_area: LazyArea) -> None:
    """Closures run in the order added, with their args, once: the next step runs none."""
    calls: list[tuple[int, str]] = []
    for k in range(3):
        lazy_area.add_step_closure(lambda k, tag: calls.append((k, tag)), (k, f"c{k}"))
    lazy_area.mark_step()
    assert calls == [(0, "c0"), (1, "c1"), (2, "c2")]
    lazy_area.mark_step()
    assert len(calls) == 3, "closures ran again in a later step"


def test_sync_closure_finishes_before_mark_step_returns(lazy_area: LazyArea) -> None:
    """mark_step waits for a slow synchronous closure."""
    done = threading.Event()

    def slow() -> None:
        time.sleep(0.2)
        done.set()

    lazy_area.add_step_closure(slow)
    lazy_area.mark_step()
    assert done.is_set(), "mark_step returned before its synchronous closure finished"


def test_sync_closure_exception_propagates(lazy_area: LazyArea) -> None:
    """An exception in a synchronous closure comes out of mark_step."""

    def fail() -> None:
        raise ValueError("closure failed on purpose")

    lazy_area.add_step_closure(fail)
    with pytest.raises(ValueError, match="closure failed on purpose"):
        lazy_area.mark_step()


def test_closure_value_matches_cpu(lazy_area: LazyArea) -> None:
    """A closure that copies its tensor to CPU gets the step's value."""
    x = torch.rand(4, 2)
    y = (x.to(lazy_area.device) @ torch.ones(2, 1).to(lazy_area.device)).relu()
    got: list[torch.Tensor] = []
    lazy_area.add_step_closure(lambda t: got.append(t.cpu()), (y,))
    lazy_area.mark_step()
    torch.testing.assert_close(got[0], (x @ torch.ones(2, 1)).relu())


def test_async_closure_runs_in_background(lazy_area: LazyArea) -> None:
    """mark_step returns while an asynchronous closure still waits; it then completes."""
    release, finished = threading.Event(), threading.Event()

    def blocked() -> None:
        release.wait(TIMEOUT)
        finished.set()

    lazy_area.add_step_closure(blocked, run_async=True)
    lazy_area.mark_step()  # would deadlock here if the closure ran synchronously
    assert not finished.is_set()
    release.set()
    assert finished.wait(TIMEOUT), "the asynchronous closure never finished"


def test_async_closures_run_in_order(lazy_area: LazyArea) -> None:
    """Asynchronous closures run once each, in the order added, with their args."""
    calls: list[int] = []
    done = threading.Event()
    for k in range(5):
        lazy_area.add_step_closure(calls.append, (k,), run_async=True)
    lazy_area.add_step_closure(done.set, run_async=True)
    lazy_area.mark_step()
    assert done.wait(TIMEOUT), "the asynchronous closures never ran"
    assert calls == [0, 1, 2, 3, 4]


def test_failed_async_closure_makes_next_step_raise(lazy_area: LazyArea) -> None:
    """After an asynchronous closure raised, a later step queuing one raises RuntimeError."""
    failing = threading.Event()

    def fail() -> None:
        failing.set()
        raise ValueError("async closure failed on purpose")

    lazy_area.add_step_closure(fail, run_async=True)
    lazy_area.mark_step()
    assert failing.wait(TIMEOUT), "the asynchronous closure never ran"
    # The failure is recorded by the background thread just after the closure raised:
    # allow it a moment, step by step, but the step must raise.
    deadline = time.monotonic() + TIMEOUT
    raised: RuntimeError | None = None
    while raised is None and time.monotonic() < deadline:
        lazy_area.add_step_closure(lambda: None, run_async=True)
        try:
            lazy_area.mark_step()
        except RuntimeError as exc:
            raised = exc
        else:
            time.sleep(0.05)
    assert raised is not None, "no step raised after an asynchronous closure failed"
    assert isinstance(raised.__cause__, ValueError), repr(raised.__cause__)


def test_async_closures_of_a_later_step_wait_for_earlier_ones(lazy_area: LazyArea) -> None:
    """Asynchronous closures run one at a time: a later step's wait for an earlier step's.

    PyTorch queues every step's asynchronous closures for one worker thread, so they
    never overlap and run in the order added, across steps too. A backend starting a
    worker per step runs the second step's closure while the first one is still running.
    """
    release, second_ran = threading.Event(), threading.Event()
    calls: list[str] = []

    def first() -> None:
        release.wait(TIMEOUT)
        calls.append("first")

    def second() -> None:
        calls.append("second")
        second_ran.set()

    lazy_area.add_step_closure(first, run_async=True)
    lazy_area.mark_step()
    lazy_area.add_step_closure(second, run_async=True)
    lazy_area.mark_step()
    overtook = second_ran.wait(OVERTAKE_WINDOW)
    release.set()
    assert second_ran.wait(TIMEOUT), "the second step's asynchronous closure never ran"
    assert not overtook, f"the second step's closure ran while the first one was running: {calls}"
    assert calls == ["first", "second"]


def test_program_using_async_closures_exits(conformance_backend: LoadedBackend) -> None:
    """A program exits normally after its asynchronous closures ran.

    The worker running them must not keep the interpreter alive (PyTorch's stops when
    its queue stays empty): a training script would otherwise hang after its last line.
    Runs in a fresh process, which must exit within the isolated run's timeout.
    """
    code = """
        import threading
        done = threading.Event()
        area.add_step_closure(done.set, run_async=True)
        area.mark_step()
        result = done.wait(60)
    """
    try:
        ran = run_isolated(conformance_backend.spec, code, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("the process did not exit within 120 s after its asynchronous closure ran")
    assert ran is True, "the asynchronous closure never ran"
