"""Lazy graph modules: what deferring recompile saves, and what it costs per call.

Measures, side by side in one run, for the ``reference`` and ``torch`` backends' lazy
graph modules and for the plain (eager-recompiling) ``torch.fx.GraphModule``:

- edit+recompile: ``recompile()`` after each of K graph edits, never calling the module
  (the pattern-matcher workload lazy recompile exists for);
- first call: the first call after ``recompile()`` (where lazy modules pay the codegen);
- steady call: a call of an already realized module (must cost the same as eager).

Prints medians and ratios to the plain GraphModule. Run: ``python benchmarks/fx_recompile.py``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import fx

from conformance.discovery import load_backend

OPS = 200
EDITS = 20
REPEATS = 15


def chain(x: torch.Tensor) -> torch.Tensor:
    for i in range(OPS):
        x = x + i if i % 2 else x * 1.0001
    return x


def median_seconds(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


#: Loaded once, outside every timed region.
FX_AREAS = {name: load_backend(name).areas["fx"] for name in ("torch", "reference")}


def make_module(kind: str) -> fx.GraphModule:
    gm = fx.symbolic_trace(chain)
    if kind == "eager":
        return gm
    lazy: fx.GraphModule = FX_AREAS[kind].from_graphmodule(gm)  # type: ignore[attr-defined]
    return lazy


def edit_and_recompile(kind: str) -> float:
    def work() -> None:
        gm = make_module(kind)
        for _ in range(EDITS):
            node = next(n for n in gm.graph.nodes if n.op == "call_function")
            node.meta["edited"] = True
            gm.recompile()

    return median_seconds(work, repeats=5)


def first_call(kind: str, x: torch.Tensor) -> float:
    gm = make_module(kind)

    def work() -> None:
        gm.recompile()
        gm(x)

    return median_seconds(work)


def steady_call(kind: str, x: torch.Tensor) -> float:
    gm = make_module(kind)
    gm(x)
    return median_seconds(lambda: gm(x), repeats=200)


def main() -> None:
    torch.manual_seed(0)
    x = torch.randn(8)
    kinds = ("eager", "torch", "reference")
    rows = {
        f"edit+recompile x{EDITS}": {k: edit_and_recompile(k) for k in kinds},
        "first call": {k: first_call(k, x) for k in kinds},
        "steady call": {k: steady_call(k, x) for k in kinds},
    }
    print(f"torch {torch.__version__}; graph of {OPS} ops; medians")
    print(
        f"{'measure':<22}{'eager GM':>12}{'torch lazy':>12}{'reference':>12}"
        f"{'torch/eager':>13}{'ref/eager':>11}{'ref/torch':>11}"
    )
    for name, t in rows.items():
        print(
            f"{name:<22}{t['eager'] * 1e3:>10.3f}ms{t['torch'] * 1e3:>10.3f}ms"
            f"{t['reference'] * 1e3:>10.3f}ms{t['torch'] / t['eager']:>13.2f}"
            f"{t['reference'] / t['eager']:>11.2f}{t['reference'] / t['torch']:>11.2f}"
        )


if __name__ == "__main__":
    main()
