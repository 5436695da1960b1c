"""What a conformance run sets up around its tests: timeouts, threads, golden accept mode.

- **Timeouts.** Every conformance test gets a per-test timeout from the plugin itself
  (``--conformance-timeout``, ini ``conformance_timeout``, default
  :data:`DEFAULT_TIMEOUT` seconds), so an installed suite never hangs a release job. It
  is enforced by pytest-timeout's signal method: the test fails with a timeout, is
  reported as ``error``, and the run goes on. A hang inside native code cannot be
  interrupted that way, so a :class:`Watchdog` thread ends the process once a test
  overruns its timeout by a grace period: under xdist the controller then reports the
  test as a crashed ``error`` and replaces the worker; in a plain run the watchdog first
  writes the report (status ``crashed``, naming the test), so it never says less than
  what happened.
- **Threads.** Two xdist workers each running multi-threaded ATen kernels oversubscribe
  the cores and make timings (and timeouts) depend on load. Each worker limits its
  intra-op threads to ``cores // workers`` (``--threads-per-worker`` overrides).
- **Accept mode.** Golden files are rewritten only when asked: ``--accept``, or
  ``EXPECTTEST_ACCEPT=1`` outside CI. With ``$CI`` set, ``EXPECTTEST_ACCEPT`` is an error:
  a CI job that rewrites its goldens passes any IR.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conformance.plugin import ConformanceState

#: Per-test timeout (seconds) of conformance tests when nothing else is configured.
DEFAULT_TIMEOUT = 300.0
#: Golden files written by the running test (the plugin drains it after each test).
GOLDENS_WRITTEN: list[Path] = []
#: ``--golden-dir``: the directory goldens are read from and accepted into, if given.
GOLDEN_DIR_OVERRIDE: list[Path] = []


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in ("", "0", "false", "no", "off")


def accept_mode(config: pytest.Config) -> tuple[bool, str]:
    """(whether this run rewrites goldens, why) -- raises ValueError for a refused request."""
    if config.getoption("conformance_accept", False):
        return True, "--accept"
    if not _truthy(os.environ.get("EXPECTTEST_ACCEPT")):
        return False, ""
    if _truthy(os.environ.get("CI")):
        raise ValueError(
            "EXPECTTEST_ACCEPT is set while CI is set: golden files are never rewritten "
            "implicitly in CI, since that run would pass any IR. Unset EXPECTTEST_ACCEPT, "
            "or pass --accept if this job really records goldens"
        )
    return True, "EXPECTTEST_ACCEPT=1"


def user_timeout_configured(config: pytest.Config) -> bool:
    """Whether the user gave pytest-timeout a global timeout (option, env or ini)."""
    if config.getoption("timeout", None) is not None:
        return True
    if os.environ.get("PYTEST_TIMEOUT"):
        return True
    try:
        return bool(config.getini("timeout"))
    except ValueError:  # pytest-timeout not installed: no such ini key
        return False


def available_cores() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def worker_threads(workers: int | None, requested: int | None) -> int | None:
    """Intra-op threads per process: ``requested``, else cores // workers under xdist."""
    if requested is not None:
        return requested
    if not workers:
        return None  # a plain run keeps torch's default (all cores)
    return max(1, available_cores() // workers)


def planned_workers(config: pytest.Config) -> int | None:
    """The number of xdist workers this run uses (None without xdist)."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        return int(workerinput.get("workercount", 1))
    count = config.getoption("numprocesses", None)
    return count if isinstance(count, int) and count > 0 else None


def configure_threads(config: pytest.Config, requested: int | None) -> int | None:
    """Limit this process's intra-op threads (xdist workers, or when asked); returns them."""
    if not hasattr(config, "workerinput") and requested is None:
        return None
    threads = worker_threads(planned_workers(config), requested)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    return threads


def item_timeout(item: pytest.Item) -> float | None:
    """The timeout pytest-timeout applies to ``item`` (its marker, else the global)."""
    marker = item.get_closest_marker("timeout")
    if marker is not None:
        value = marker.args[0] if marker.args else marker.kwargs.get("timeout")
    else:
        value = getattr(item.config, "_env_timeout", None)
    try:
        return float(value) if value else None
    except (TypeError, ValueError):
        return None


def grace(timeout: float) -> float:
    """How long past its timeout a test may run before the watchdog ends the process."""
    return max(5.0, 0.2 * timeout)


@dataclass(eq=False)
class Watchdog:
    """Ends a process whose current test overran its timeout in uninterruptible code.

    Registered as a plugin of the run's config, it notes each test's start and end;
    its thread wakes once a second. The overrun test is named on stderr with every
    thread's stack (faulthandler), and in a plain run the report is written first.
    """

    state: ConformanceState
    current: tuple[str, float] | None = None  # (canonical test id, deadline)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @classmethod
    def start(cls, state: ConformanceState) -> Watchdog:
        dog = cls(state)
        state.config.pluginmanager.register(dog, "conformance-watchdog")
        dog._thread = threading.Thread(target=dog._watch, name="conformance-watchdog", daemon=True)
        dog._thread.start()
        return dog

    def stop(self) -> None:
        self._stop.set()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> None:
        timeout = item_timeout(item)
        if timeout:
            test_id = dict(item.user_properties).get("conformance_id", item.nodeid)
            self.current = (str(test_id), time.monotonic() + timeout + grace(timeout))

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self.current = None

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            current = self.current
            if current is not None and time.monotonic() > current[1]:
                self._abort(current[0])

    def _abort(self, nodeid: str) -> None:
        message = (
            f"conformance: test {nodeid} overran its timeout and could not be interrupted "
            "(it is stuck in native code); ending this process"
        )
        capture = self.state.config.pluginmanager.getplugin("capturemanager")
        if capture is not None:  # the test's output is being captured: write to the terminal
            capture.suspend_global_capture(in_=True)
        sys.stderr.write(f"\n{message}\n")
        sys.stderr.flush()
        faulthandler.dump_traceback(all_threads=True)
        try:
            self.state.write_report(hung=message)
        finally:
            sys.stderr.flush()
            os._exit(1)


def describe_threads(config: pytest.Config, requested: int | None) -> str | None:
    """A header line fragment: how many workers and intra-op threads each."""
    workers = planned_workers(config)
    threads = worker_threads(workers, requested)
    if threads is None:
        return None
    where = f"{workers} xdist workers" if workers else "this process"
    return f"{where} x {threads} intra-op thread(s) (of {available_cores()} cores)"
