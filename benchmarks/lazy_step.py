"""Lazy tensors: per-op trace cost and the steady-state step time of a small training loop.

Measures, in one run, for the ``reference`` lazy device, PyTorch's lazy device
(``torch._lazy``, TorchScript backend) and eager CPU:

- trace cost per op: recording a chain of elementwise ops on a lazy tensor, no execution;
- step time: one SGD step of an MLP (256-512-10, batch 64) including ``mark_step``,
  median over steady-state steps (after warm-up, so compiles are cached).

Each lazy device runs in its own subprocess: both claim device type ``lazy`` and must
never share a process. Eager CPU is measured in each subprocess; ratios are to the eager
time measured alongside, all single-threaded. Run: ``python benchmarks/lazy_step.py [--steps N]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any

import torch
import torch.nn.functional as F

TRACE_OPS = 400


def mlp(device: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(256, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10)
    )
    return model.to(device)


def step_times(device: str, steps: int, warmup: int, mark_step: Any) -> list[float]:
    model = mlp(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.rand(64, 256).to(device)
    y = torch.randint(0, 10, (64,)).to(device)
    if mark_step is not None:
        mark_step()
    samples = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if mark_step is not None:
            mark_step()
        if i >= warmup:
            samples.append(time.perf_counter() - start)
    return samples


def trace_cost(device: str, mark_step: Any) -> float:
    """Seconds per recorded op (median of a few chains)."""
    samples = []
    for _ in range(7):
        x = torch.rand(16).to(device)
        mark_step()
        start = time.perf_counter()
        for i in range(TRACE_OPS):
            x = x * 1.0001 if i % 2 else x + 0.5
        samples.append((time.perf_counter() - start) / TRACE_OPS)
        mark_step()
    return statistics.median(samples)


def worker(backend: str, steps: int) -> dict[str, Any]:
    from conformance.discovery import load_backend

    # One thread: with more, OpenMP spin-waits make timings swing by 100x on a busy machine.
    torch.set_num_threads(1)
    area: Any = load_backend(backend).areas["lazy"]
    area.init()
    eager = statistics.median(step_times("cpu", steps, 5, None))
    lazy = step_times(area.device, steps, 5, area.mark_step)
    area.reset_metrics()
    step_times(area.device, 5, 0, area.mark_step)
    counters = {
        name: area.counter_value(name) for name in area.counter_names() if "Ltc" not in name
    }
    return {
        "backend": backend,
        "eager_step": eager,
        "lazy_step": statistics.median(lazy),
        "trace_per_op": trace_cost(area.device, area.mark_step),
        "counters_in_5_steps": counters,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--worker", choices=["reference", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.steps)))
        return
    results = {}
    for backend in ("reference", "torch"):
        out = subprocess.run(
            [sys.executable, __file__, "--worker", backend, "--steps", str(args.steps)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        results[backend] = json.loads(out.strip().splitlines()[-1])
    ref, pt = results["reference"], results["torch"]
    print(f"MLP 256-512-10, batch 64, SGD; median of {args.steps} steady-state steps")
    print(f"{'':24}{'step ms':>10}{'x eager':>10}{'trace us/op':>14}  ")
    for name, r in (("eager CPU (ref proc)", ref), ("eager CPU (torch proc)", pt)):
        print(f"{name:24}{r['eager_step'] * 1e3:10.3f}{1.0:10.2f}")
    for name, r in (("reference lazy", ref), ("torch._lazy (TS)", pt)):
        print(
            f"{name:24}{r['lazy_step'] * 1e3:10.3f}{r['lazy_step'] / r['eager_step']:10.2f}"
            f"{r['trace_per_op'] * 1e6:14.2f}"
        )
    for name, r in (("reference lazy", ref), ("torch._lazy (TS)", pt)):
        print(f"{name} counters over 5 steps: {r['counters_in_5_steps']}")
    print(
        f"reference vs torch._lazy: step {ref['lazy_step'] / pt['lazy_step']:.2f}x, "
        f"trace per op {ref['trace_per_op'] / pt['trace_per_op']:.2f}x"
    )


if __name__ == "__main__":
    main()
