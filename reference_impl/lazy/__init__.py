"""A pure-Python lazy tensor device, mirroring ``torch._lazy``'s public API.

Importing this package does not create the device; :func:`init` (or any API below)
registers the ``lazy`` factory kernels. Never use it in a process that loaded
``torch._lazy.ts_backend``: both claim device type ``lazy``.

Modules: :mod:`.ir` (nodes, verifier, graph hash), :mod:`.text` (the IR text contract),
:mod:`.tensor` (the device), :mod:`.executor` (compile cache and CPU execution),
:mod:`.metrics`, :mod:`.config`, :mod:`.debug`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.utils._pytree import tree_flatten, tree_unflatten

from reference_impl.lazy import config, debug, metrics

__all__ = [
    "add_step_closure",
    "config",
    "debug",
    "get_tensor_id",
    "init",
    "mark_step",
    "metrics",
    "reset_storage",
    "sync_multi",
    "to_cpu",
    "wait_device_ops",
]

_closures: list[Callable[[], object]] = []


def init() -> None:
    """Make device ``lazy`` usable in this process (idempotent)."""
    from reference_impl.lazy.tensor import install

    install()


def mark_step(device: str = "", wait: bool = False) -> None:
    """Execute the pending IR of every live lazy tensor, then run the step closures."""
    from reference_impl.lazy.tensor import live_tensors, sync

    init()
    metrics.increment("MarkStep")
    sync(live_tensors())
    closures, _closures[:] = list(_closures), []
    for closure in closures:
        closure()


def wait_device_ops(devices: Sequence[str] | None = None) -> None:
    """Wait for device work to finish: execution here is synchronous, so nothing to wait for."""


def add_step_closure(closure: Callable[[], object]) -> None:
    """Run ``closure`` once at the end of the next :func:`mark_step`."""
    _closures.append(closure)


def sync_multi(tensors: Sequence[torch.Tensor], devices: Sequence[str] = ()) -> None:
    """Execute the pending IR of ``tensors`` only (one graph)."""
    from reference_impl.lazy.tensor import sync, unwrap

    sync([unwrap(t) for t in tensors])


def to_cpu(tensors: Any, devices: Sequence[str] | None = None) -> Any:
    """Sync a pytree of lazy tensors and copy them to CPU."""
    flat, spec = tree_flatten(tensors)
    sync_multi(flat)
    return tree_unflatten([t.to("cpu") for t in flat], spec)


def get_tensor_id(tensor: torch.Tensor) -> int:
    """A unique id of the lazy tensor behind ``tensor``."""
    from reference_impl.lazy.tensor import unwrap

    return unwrap(tensor).uid


def reset_storage(tensor: torch.Tensor) -> None:
    """Forget the functional storage history of ``tensor`` (``_unsafe_reset_storage``)."""
    torch._C._unsafe_reset_storage(tensor)  # type: ignore[attr-defined]
