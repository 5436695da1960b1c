"""Parametrizations: what reading a parametrized weight costs in a forward pass.

Measures, side by side in one run, the forward time of a ``Linear`` layer for the
``reference`` and ``torch`` backends' parametrize implementations, against the same
layer unparametrized:

- identity: a parametrization that returns its input (pure bookkeeping overhead);
- symmetric: ``triu(X) + triu(X, 1)^T`` (bookkeeping plus a little real work);
- symmetric, cached: each forward wrapped in its own ``cached()`` block, as users do
  (includes entering and leaving the block).

Prints medians and ratios: each to the plain ``Linear``, and reference to torch (the goal
is a reference no slower than PyTorch's). Run: ``python benchmarks/parametrize_overhead.py``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import Tensor, nn

from conformance.discovery import load_backend

FEATURES = 64
BATCH = 32
CALLS = 200  # forwards per sample
SAMPLES = 25
BACKENDS = ("reference", "torch")


class Identity(nn.Module):
    def forward(self, X: Tensor) -> Tensor:
        return X


class Symmetric(nn.Module):
    def forward(self, X: Tensor) -> Tensor:
        return X.triu() + X.triu(1).mT


#: Loaded once, outside every timed region.
AREAS: dict[str, Any] = {name: load_backend(name).areas["parametrize"] for name in BACKENDS}


def make_step(
    backend: str | None, parametrization: type[nn.Module] | None, cached: bool
) -> Callable[[], Tensor]:
    """One forward of a fresh Linear, parametrized by ``backend`` (plain when None)."""
    torch.manual_seed(0)
    model = nn.Linear(FEATURES, FEATURES)
    if backend is not None and parametrization is not None:
        AREAS[backend].parametrize.register_parametrization(model, "weight", parametrization())
    x = torch.randn(BATCH, FEATURES)

    def context() -> AbstractContextManager[None]:
        if cached and backend is not None:
            block: AbstractContextManager[None] = AREAS[backend].parametrize.cached()
            return block
        return nullcontext()

    def step() -> Tensor:
        with context():
            return model(x)

    return step


def interleaved_medians(steps: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Median seconds per call of each step; samples alternate between steps.

    Alternating (rather than timing one step after the other) spreads any drift in the
    machine's load evenly over the contenders, so their ratios stay meaningful.
    """
    samples: dict[str, list[float]] = {name: [] for name in steps}
    with torch.no_grad():
        for step in steps.values():  # warm-up
            for _ in range(CALLS):
                step()
        for _ in range(SAMPLES):
            for name, step in steps.items():
                start = time.perf_counter()
                for _ in range(CALLS):
                    step()
                samples[name].append((time.perf_counter() - start) / CALLS)
    return {name: statistics.median(times) for name, times in samples.items()}


def main() -> None:
    torch.set_num_threads(1)
    print(
        f"Linear({FEATURES}, {FEATURES}), batch {BATCH}, median of {SAMPLES} x {CALLS} forwards, "
        f"torch {torch.__version__}, 1 thread"
    )
    print(f"{'case':<20} {'backend':<10} {'us/forward':>10} {'vs Linear':>10} {'ref/torch':>10}")
    cases = [
        ("identity", Identity, False),
        ("symmetric", Symmetric, False),
        ("symmetric, cached", Symmetric, True),
    ]
    for label, parametrization, cached in cases:
        steps: dict[str, Callable[[], object]] = {"plain": make_step(None, None, cached=False)}
        steps.update({b: make_step(b, parametrization, cached) for b in BACKENDS})
        seconds = interleaved_medians(steps)
        plain = seconds["plain"]
        ratio = seconds["reference"] / seconds["torch"]
        print(f"{label:<20} {'(Linear)':<10} {plain * 1e6:>10.2f} {1.0:>10.2f} {'':>10}")
        for backend in BACKENDS:
            column = f"{ratio:>10.2f}" if backend == "reference" else f"{'':>10}"
            print(
                f"{'':<20} {backend:<10} {seconds[backend] * 1e6:>10.2f} "
                f"{seconds[backend] / plain:>10.2f} {column}"
            )


if __name__ == "__main__":
    main()
