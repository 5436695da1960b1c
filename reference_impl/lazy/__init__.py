"""A pure-Python lazy tensor device, mirroring ``torch._lazy``'s public API.

Importing this package does not create the device; :func:`init` (or any API below)
registers the ``lazy`` factory kernels. Never use it in a process that loaded
``torch._lazy.ts_backend``: both claim device type ``lazy``.

Modules, in the order an op flows through them: :mod:`.tensor` (the tensor type),
:mod:`.lowering` (dispatch: trace, handle or fall back, following the op table
:mod:`.ops`), :mod:`.factories` (``Lazy`` dispatch key kernels), :mod:`.ir` (nodes,
verifier, graph hash), :mod:`.sync` (executing pending IR), :mod:`.executor` (compile
cache and CPU execution); around them :mod:`.text` (the IR text contract),
:mod:`.metrics`, :mod:`.config`, :mod:`.debug` (also the save-graphs hook),
:mod:`.extract` (``extract_compiled_graph``), :mod:`.reuse` (IR node reuse).

Besides ``torch._lazy``'s names, adapters use :func:`native_ops`, :func:`installed`,
:func:`ir_text`, :func:`ir_dot` and :func:`graph_hash`.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.utils._pytree import tree_flatten, tree_unflatten

from reference_impl.lazy import config, debug, metrics, reuse

__all__ = [
    "add_step_closure",
    "config",
    "debug",
    "extract_compiled_graph",
    "get_tensor_id",
    "graph_hash",
    "init",
    "installed",
    "ir_dot",
    "ir_text",
    "mark_step",
    "metrics",
    "native_ops",
    "reset_storage",
    "sync_multi",
    "to_cpu",
    "wait_device_ops",
]

_closures: list[Callable[[], object]] = []
_async_closures: list[Callable[[], object]] = []


class _AsyncClosures:
    """Runs asynchronous step closures in order on one background thread.

    After a closure raised, closures still queued are dropped until the failure was
    reported: the next :func:`mark_step` raises ``RuntimeError`` from that exception.
    """

    def __init__(self) -> None:
        self._queue: queue.Queue[Callable[[], object]] = queue.Queue()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def check(self) -> None:
        """Raise the exception of a failed earlier closure, once."""
        error, self._error = self._error, None
        if error is not None:
            raise RuntimeError("an asynchronous step closure raised") from error

    def submit(self, closures: list[Callable[[], object]]) -> None:
        for closure in closures:
            self._queue.put(closure)
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()

    def wait(self) -> None:
        """Block until every submitted closure ran."""
        self._queue.join()

    def _loop(self) -> None:
        while True:
            closure = self._queue.get()
            try:
                if self._error is None:
                    closure()
            except BaseException as exc:  # reported by the next step
                self._error = exc
            finally:
                self._queue.task_done()


_async_runner = _AsyncClosures()


def init() -> None:
    """Make device ``lazy`` usable in this process (idempotent)."""
    from reference_impl.lazy import factories

    factories.install()


def installed() -> bool:
    """Whether this process made device ``lazy`` the reference device (:func:`init` ran).

    Cheap and import-free when it did not: other devices claiming ``lazy`` (PyTorch's
    own lazy backend) use it to refuse sharing a process with this one.
    """
    import sys

    factories = sys.modules.get("reference_impl.lazy.factories")
    return factories is not None and bool(factories.installed())


def native_ops() -> frozenset[str]:
    """ATen ops (overload packet names) recorded as IR: never a CPU fallback."""
    from reference_impl.lazy import ops

    return ops.LOWERED


def mark_step(device: str = "", wait: bool = False) -> None:
    """Execute the pending IR of every live lazy tensor, then run the step closures."""
    from reference_impl.lazy import sync, tensor

    init()
    metrics.increment("MarkStep")
    sync.sync_tensors(tensor.live_tensors(), donate=True)
    reuse.reset_position()
    _async_runner.check()
    pending, _async_closures[:] = list(_async_closures), []
    if pending:
        _async_runner.submit(pending)
    closures, _closures[:] = list(_closures), []
    for closure in closures:
        closure()


def wait_device_ops(devices: Sequence[str] | None = None) -> None:
    """Wait for device work to finish: execution here is synchronous, so nothing to wait for."""


def add_step_closure(
    closure: Callable[..., object], args: Sequence[Any] = (), run_async: bool = False
) -> None:
    """Run ``closure(*args)`` once after the graph of the next :func:`mark_step` executed.

    Synchronous closures run in order before ``mark_step`` returns and their exceptions
    propagate out of it (the rest of the step's closures are dropped). Asynchronous
    ones run in order on a background thread; if one raises, the next ``mark_step``
    raises ``RuntimeError`` from it.
    """
    bound = functools.partial(closure, *args)
    (_async_closures if run_async else _closures).append(bound)


def sync_multi(tensors: Sequence[torch.Tensor], devices: Sequence[str] = ()) -> None:
    """Execute the pending IR of ``tensors`` only (one graph)."""
    from reference_impl.lazy import sync
    from reference_impl.lazy.tensor import unwrap

    sync.sync_tensors([unwrap(t) for t in tensors])


def to_cpu(tensors: Any, devices: Sequence[str] | None = None) -> Any:
    """Sync a pytree of lazy tensors and copy them to CPU."""
    flat, spec = tree_flatten(tensors)
    sync_multi(flat)
    return tree_unflatten([t.to("cpu") for t in flat], spec)


def get_tensor_id(tensor: torch.Tensor) -> int:
    """A unique id of the lazy tensor behind ``tensor``."""
    from reference_impl.lazy.tensor import unwrap

    return unwrap(tensor).uid


def extract_compiled_graph(model: Any, example_inputs: Sequence[torch.Tensor]) -> Any:
    """Trace ``model`` once and return a callable replaying its graph (see :mod:`.extract`)."""
    from reference_impl.lazy.extract import extract_compiled_graph as extract

    return extract(model, example_inputs)


def ir_text(tensors: Sequence[torch.Tensor]) -> str:
    """The IR of ``tensors`` in PyTorch's lazy IR text (``torch._C._lazy._get_tensors_text``)."""
    return debug.dump_ir(list(tensors), "text")


def ir_dot(tensors: Sequence[torch.Tensor]) -> str:
    """The IR of ``tensors`` in Graphviz dot (``torch._C._lazy._get_tensors_dot``)."""
    return debug.dump_ir(list(tensors), "dot")


def graph_hash(tensors: Sequence[torch.Tensor]) -> str:
    """The compile-cache key of the graph of ``tensors`` (structure only, not data)."""
    from reference_impl.lazy import ir

    return ir.graph_hash(debug.values_of(list(tensors)))


def reset_storage(tensor: torch.Tensor) -> None:
    """Forget the functional storage history of ``tensor`` (``_unsafe_reset_storage``)."""
    torch._C._unsafe_reset_storage(tensor)  # type: ignore[attr-defined]
