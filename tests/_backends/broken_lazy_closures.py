"""Broken lazy backends for asynchronous step closures: one promise broken each.

Used by ``tests/test_lazy_behaviour_broken_backends.py`` against
``conformance/lazy/test_closures.py``. Each bug is patched into the reference
implementation when the suite's fixture (or an isolated child) calls ``init()``.
Name one as ``--backend=broken_lazy_closures:<attribute>``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from broken_lazy import BrokenBackend


def _patch_submit(start_worker: Callable[[object], bool], daemon: bool) -> None:
    import reference_impl.lazy as lazy

    def submit(self: lazy._AsyncClosures, closures: list[Callable[[], object]]) -> None:
        for closure in closures:
            self._queue.put(closure)
        if start_worker(self._thread):
            self._thread = threading.Thread(target=self._loop, daemon=daemon)
            self._thread.start()

    lazy._AsyncClosures.submit = submit  # type: ignore[method-assign]


def _worker_per_step() -> None:
    """Bug: every step with asynchronous closures starts another worker thread.

    Two workers share the queue, so a later step's closure runs while an earlier one is
    still running (a "restart the worker if it is alive" slip).
    """
    _patch_submit(lambda thread: True, daemon=True)


def _worker_keeps_process_alive() -> None:
    """Bug: the closure worker is a non-daemon thread that waits forever for more work.

    The interpreter waits for it at exit: a program that used asynchronous closures
    never exits.
    """
    _patch_submit(lambda thread: thread is None, daemon=False)


worker_per_step = BrokenBackend("async-worker-per-step", _worker_per_step)
worker_keeps_process_alive = BrokenBackend(
    "async-worker-keeps-process-alive", _worker_keeps_process_alive
)
