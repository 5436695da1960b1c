"""Broken lazy backends for part two (issue 5): the reference device with one promise broken.

Used by ``tests/test_lazy_part2_broken_backends.py``; each bug is patched into the
reference implementation when the suite's fixture calls ``init()``, in the child
pytest process only. Name one as ``--backend=broken_lazy2:<attribute>``.
"""

from __future__ import annotations

from typing import Any

from broken_lazy import BrokenBackend, BrokenLazyArea, offset_op


def _closure_runs_before_graph() -> None:
    """Bug: mark_step runs the step closures before it executes the pending graph."""
    import reference_impl.lazy as lazy

    real = lazy.mark_step

    def mark_step(device: str = "", wait: bool = False) -> None:
        closures, lazy._closures[:] = list(lazy._closures), []
        for closure in closures:
            closure()
        real(device, wait)

    lazy.mark_step = mark_step  # type: ignore[assignment]


def _reuse_returns_stale_values() -> None:
    """Bug: IR reuse matches nodes by op and type only, ignoring operands and data."""
    from reference_impl.lazy import reuse
    from reference_impl.lazy.ir import node_key

    def same_computation(a: Any, b: Any) -> bool:
        return bool(node_key(a) == node_key(b) and len(a.operands) == len(b.operands))

    reuse.same_computation = same_computation  # type: ignore[assignment]


def _rng_ignores_generator() -> None:
    """Bug: random ops draw from the global generator, ignoring the one passed."""
    from reference_impl.lazy import executor

    executor.generator = lambda state: None  # type: ignore[assignment,return-value]


def _recompiles_every_step() -> None:
    """Bug: the compile-cache key includes the step number, so every step compiles anew."""
    from reference_impl.lazy import executor, metrics

    real = executor.graph_hash

    def graph_hash(roots: Any, order: Any = None) -> str:
        return f"{real(roots, order)}-{metrics.counter_value('MarkStep') or 0}"

    executor.graph_hash = graph_hash  # type: ignore[assignment]


def _scalars_baked_into_graph() -> None:
    """Bug: Python scalars become graph constants, so a step with new scalar values
    (Adam's bias corrections) is a new graph: a recompilation storm."""
    from reference_impl.lazy import ir, lowering

    real = lowering.scalar_data

    def scalar_data(value: Any, dtype: Any = None) -> Any:
        leaf = real(value, dtype)
        return ir.Node(
            ir.CONSTANT,
            attrs=(("value", value),),
            dtypes=leaf.dtypes,
            shapes=leaf.shapes,
            template=leaf.data,
        )

    lowering.scalar_data = scalar_data  # type: ignore[assignment]


closure_runs_before_graph = BrokenBackend("closure-runs-before-graph", _closure_runs_before_graph)
reuse_returns_stale_values = BrokenBackend(
    "reuse-returns-stale-values", _reuse_returns_stale_values
)
rng_ignores_generator = BrokenBackend("rng-ignores-generator", _rng_ignores_generator)
recompiles_every_step = BrokenBackend("recompiles-every-step", _recompiles_every_step)
scalars_baked_into_graph = BrokenBackend("scalars-baked-into-graph", _scalars_baked_into_graph)
relu_off_by_a_hundredth = BrokenBackend("relu-off-by-a-hundredth", offset_op("aten::relu", 1e-2))


class _NoLoneSyncArea(BrokenLazyArea):
    """relu off by a hundredth, and sync_multi raising like torch_xla in the analysis."""

    def sync_multi(self, tensors: Any) -> None:
        raise RuntimeError("Check failed: !buffer->IsDeleted()\n(more C++ context)")


class _NoLoneSyncBackend(BrokenBackend):
    def __init__(self) -> None:
        self.name = "relu-off-no-lone-sync"
        self.lazy = _NoLoneSyncArea(offset_op("aten::relu", 1e-2))


relu_off_and_no_lone_sync = _NoLoneSyncBackend()
