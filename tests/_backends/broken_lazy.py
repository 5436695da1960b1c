"""Deliberately broken lazy backends: each is the reference device with one promise broken.

The lazy meta-tests (``tests/test_lazy_broken_backends.py``) run the lazy suite against
each and check that the suite fails, in the tests written to catch that bug. The bug is
patched into the reference implementation when the suite's fixture calls ``init()``,
inside the child pytest process only; loading this module changes nothing.

Name a backend as ``--backend=broken_lazy:<attribute>``, e.g. ``broken_lazy:wrong_add``.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable
from typing import Any

from conformance.backends._reference_lazy import ReferenceLazyArea


def _wrong_add() -> None:
    """Bug: a compiled aten::add adds one too many."""
    from reference_impl.lazy import executor

    real = executor.kernel

    def kernel(instruction: Any) -> Any:
        run = real(instruction)
        if instruction.op != "aten::add":
            return run
        return lambda *args, **kwargs: run(*args, **kwargs) + 1

    executor.kernel = kernel  # type: ignore[assignment]


def _views_stop_aliasing() -> None:
    """Bug: a step gives every user-visible tensor a fresh storage, cutting its views off."""
    import torch

    from reference_impl.lazy import sync, tensor

    wrapped: weakref.WeakSet[torch.Tensor] = weakref.WeakSet()
    real_wrap, real_sync = tensor.wrap, sync.sync_tensors

    def wrap(inner: Any) -> torch.Tensor:
        out = real_wrap(inner)
        wrapped.add(out)
        return out

    def sync_tensors(tensors: Any, *args: Any, **kwargs: Any) -> None:
        real_sync(tensors, *args, **kwargs)
        for t in list(wrapped):
            torch._sync(t)
            torch._C._unsafe_reset_storage(t)

    tensor.wrap = wrap  # type: ignore[assignment]
    sync.sync_tensors = sync_tensors  # type: ignore[assignment]


def _cache_never_hits() -> None:
    """Bug: the compile cache is emptied before every execution."""
    from reference_impl.lazy import executor

    real = executor.execute

    def execute(roots: Any, **kwargs: Any) -> Any:
        executor.clear_cache()
        return real(roots, **kwargs)

    executor.execute = execute  # type: ignore[assignment]


def _counters_lie() -> None:
    """Bug: MarkStep and SyncedTensorsWithIR each count one more than happened."""
    from reference_impl.lazy import metrics

    real = metrics.increment

    def increment(name: str, by: int = 1) -> None:
        real(name, by + 1 if name in ("MarkStep", "SyncedTensorsWithIR") else by)

    metrics.increment = increment  # type: ignore[assignment]


def _ir_dim_off_by_one() -> None:
    """Bug: the IR text prints every ``dim`` attribute one too high."""
    from reference_impl.lazy import text

    real = text.node_line

    def node_line(node: Any, number: Any, roots: Any) -> str:
        line: str = real(node, number, roots)
        return re.sub(r", dim=(-?\d+)", lambda m: f", dim={int(m.group(1)) + 1}", line)

    text.node_line = node_line  # type: ignore[assignment]


def offset_op(op: str, delta: float) -> Callable[[], None]:
    """A bug: the compiled node ``op`` (e.g. ``"aten::relu"``) returns values ``delta`` too high."""

    def patch() -> None:
        from reference_impl.lazy import executor

        real = executor.kernel

        def kernel(instruction: Any) -> Any:
            run = real(instruction)
            if instruction.op != op:
                return run
            return lambda *args, **kwargs: run(*args, **kwargs) + delta

        executor.kernel = kernel  # type: ignore[assignment]

    return patch


class BrokenLazyArea(ReferenceLazyArea):
    """The reference lazy area with ``bug`` patched in at ``init()``."""

    def __init__(self, bug: Callable[[], None]) -> None:
        self._bug = bug
        self._patched = False

    def init(self) -> None:
        super().init()
        if not self._patched:
            self._bug()
            self._patched = True


class BrokenBackend:
    """A backend with only a lazy area; no manifest, so every failure counts."""

    version = "0"
    device = "cpu"
    expectations = None

    def __init__(self, name: str, bug: Callable[[], None]) -> None:
        self.name = name
        self.lazy = BrokenLazyArea(bug)


wrong_add = BrokenBackend("wrong-add", _wrong_add)
views_stop_aliasing = BrokenBackend("views-stop-aliasing", _views_stop_aliasing)
cache_never_hits = BrokenBackend("cache-never-hits", _cache_never_hits)
counters_lie = BrokenBackend("counters-lie", _counters_lie)
ir_dim_off_by_one = BrokenBackend("ir-dim-off-by-one", _ir_dim_off_by_one)
