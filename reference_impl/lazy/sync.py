"""Sync: execute the pending IR of lazy tensors as one graph and give them device data.

:func:`sync_tensors` is what ``mark_step``, ``sync_multi``, CPU fallbacks and copies to
CPU all come down to: it collects the distinct IR roots of the tensors, executes them
as one graph (:func:`reference_impl.lazy.executor.execute`, cached per graph hash),
and re-points each tensor from its IR at the resulting CPU data.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from reference_impl.lazy import debug, executor, metrics
from reference_impl.lazy.ir import Value
from reference_impl.lazy.tensor import LazyTensor


def sync_tensors(tensors: Sequence[LazyTensor]) -> None:
    """Execute the pending IR of ``tensors`` (one graph) and give them device data."""
    pending = [t for t in tensors if t.ir is not None]
    if not pending:
        return
    roots: list[Value] = []
    owners: list[int] = []
    index: dict[tuple[int, int], int] = {}
    for t in pending:
        ir = t.ir
        assert ir is not None
        key = (id(ir.node), ir.index)
        if key not in index:
            index[key] = len(roots)
            roots.append(ir)
        owners.append(index[key])
    metrics.increment("SyncedTensorsWithIR", len(pending))
    debug.save_graph(roots)
    results = executor.execute(roots)
    for t, k in zip(pending, owners, strict=True):
        t.data_, t.ir = results[k], None


def materialize(t: LazyTensor) -> torch.Tensor:
    """The CPU value of ``t``, executing its IR if needed."""
    if t.ir is not None:
        sync_tensors([t])
    return t.data_  # type: ignore[return-value]
