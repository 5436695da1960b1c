"""Sync: execute the pending IR of lazy tensors as one graph and give them device data.

:func:`sync_tensors` is what ``mark_step``, ``sync_multi``, CPU fallbacks and copies to
CPU all come down to: it collects the distinct IR roots of the tensors, executes them
as one graph (:func:`reference_impl.lazy.executor.execute`, cached per graph hash),
and re-points each tensor from its IR at the resulting CPU data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from reference_impl.lazy import debug, executor, metrics
from reference_impl.lazy.ir import Value
from reference_impl.lazy.tensor import LazyTensor


def sync_tensors(tensors: Sequence[LazyTensor], *, donate: bool = False) -> None:
    """Execute the pending IR of ``tensors`` (one graph) and give them device data.

    With ``donate`` (a step: every pending tensor is in ``tensors``), graph inputs whose
    data no live lazy tensor holds any more may receive results in place (see
    :mod:`.executor`): an in-place update of a parameter keeps its storage. Only a step
    may donate: after a partial sync, pending IR outside the graph may still read them.
    """
    pending = [t for t in tensors if t.ir is not None]
    if not pending:
        return
    dead = _dead_data(tensors) if donate else None
    for t, result in zip(pending, _execute(pending, dead), strict=True):
        t.data_, t.ir = result, None


def compute(tensors: Sequence[LazyTensor]) -> list[torch.Tensor]:
    """The CPU values of ``tensors`` (one graph for the pending ones); their IR stays.

    This is how PyTorch's lazy core reads the inputs of a CPU fallback
    (``SyncTensorsGraph`` with ``sync_ltc_data=false``): the graph runs, but the tensors
    keep their IR, so later ops and the IR text still show the same nodes.
    """
    pending = [t for t in tensors if t.ir is not None]
    values = dict(zip(map(id, pending), _execute(pending, None), strict=True))
    return [values[id(t)] if t.ir is not None else t.data_ for t in tensors]  # type: ignore[misc]


def _execute(
    pending: Sequence[LazyTensor], dead: Callable[[torch.Tensor], bool] | None
) -> list[torch.Tensor]:
    """The values of ``pending`` (tensors with IR) as one graph, one result per tensor."""
    if not pending:
        return []
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
    results = executor.execute(roots, dead=dead)
    return [results[k] for k in owners]


def _dead_data(tensors: Sequence[LazyTensor]) -> Callable[[torch.Tensor], bool]:
    """Whether a graph input's data is held by no lazy tensor in ``tensors`` (all live ones).

    Device data is only ever shared between lazy tensors (a view run as a view shares
    its input's storage; copies to CPU are always fresh), and scalar constants, which
    are 0-dim and never donated. So data whose storage no live tensor holds can only be
    reached through the graph being executed.
    """
    held: set[int] | None = None

    def dead(data: torch.Tensor) -> bool:
        nonlocal held
        if held is None:  # computed once, on the first candidate
            held = {t.data_.untyped_storage().data_ptr() for t in tensors if t.data_ is not None}
        return data.untyped_storage().data_ptr() not in held

    return dead


def materialize(t: LazyTensor) -> torch.Tensor:
    """The CPU value of ``t``, executing its IR if needed."""
    if t.ir is not None:
        sync_tensors([t])
    return t.data_  # type: ignore[return-value]
