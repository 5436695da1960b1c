"""Lazy tensors: per-op trace cost and the steady-state step time of a small training loop.

Compares the ``reference`` lazy device, PyTorch's lazy device (``torch._lazy``,
TorchScript backend: its tracer is C++) and eager CPU:

- step time: one SGD step of an MLP (256-512-10, batch 64) including ``mark_step``, in
  steady state (after warm-up, so compiles are cached), as a ratio to an eager CPU step;
- trace cost per op: recording a chain of elementwise ops on a lazy tensor, no execution.

The machine is shared and noisy, so nothing is compared across time: each lazy device
runs in its own subprocess (both claim device type ``lazy`` and must never share a
process), the two kinds of process alternate over ``--rounds`` rounds (reference first
in even rounds, torch first in odd ones), and inside a process eager and lazy steps
alternate step by step. Every figure is a median of paired ratios: lazy step / the
eager step next to it, reference / torch of the same round. Both wall time
(``perf_counter``) and CPU time (``process_time``: what the process itself used, less
sensitive to other load) are reported. All single-threaded.

Run: ``python benchmarks/lazy_step.py [--rounds 5] [--steps 30]``; ``--profile`` prints a
cProfile of the reference's steps instead.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

TRACE_OPS = 400
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


def mlp(device: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(256, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10)
    )
    return model.to(device)


def trainer(device: str, mark_step: Any) -> Callable[[], None]:
    """One SGD step of the MLP on ``device`` per call (``mark_step`` after it, if given)."""
    model = mlp(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.rand(64, 256).to(device)
    y = torch.randint(0, 10, (64,)).to(device)
    if mark_step is not None:
        mark_step()

    def step() -> None:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if mark_step is not None:
            mark_step()

    return step


def timed(fn: Callable[[], None]) -> dict[str, float]:
    start = {name: clock() for name, clock in CLOCKS.items()}
    fn()
    return {name: clock() - start[name] for name, clock in CLOCKS.items()}


def step_ratios(area: Any, steps: int, warmup: int) -> dict[str, dict[str, float]]:
    """Median eager and lazy step times and the median of per-step lazy/eager ratios."""
    eager, lazy = trainer("cpu", None), trainer(area.device, area.mark_step)
    samples: list[tuple[dict[str, float], dict[str, float]]] = []
    for i in range(warmup + steps):
        if i % 2:  # alternate which goes first
            e = timed(eager)
            z = timed(lazy)
        else:
            z = timed(lazy)
            e = timed(eager)
        if i >= warmup:
            samples.append((e, z))
    return {
        clock: {
            "eager": statistics.median(e[clock] for e, _ in samples),
            "lazy": statistics.median(z[clock] for _, z in samples),
            "ratio": statistics.median(z[clock] / e[clock] for e, z in samples if e[clock] > 0),
        }
        for clock in CLOCKS
    }


def trace_cost(area: Any) -> dict[str, float]:
    """Seconds per recorded op (median of a few chains), wall and CPU."""
    samples = []
    for _ in range(7):
        x = torch.rand(16).to(area.device)
        area.mark_step()

        def chain(x: torch.Tensor = x) -> None:
            for i in range(TRACE_OPS):
                x = x * 1.0001 if i % 2 else x + 0.5

        samples.append(timed(chain))
        area.mark_step()
    return {clock: statistics.median(s[clock] for s in samples) / TRACE_OPS for clock in CLOCKS}


def worker(backend: str, steps: int) -> dict[str, Any]:
    from conformance.discovery import load_backend

    # One thread: with more, OpenMP spin-waits make timings swing by 100x on a busy machine.
    torch.set_num_threads(1)
    area: Any = load_backend(backend).areas["lazy"]
    area.init()
    steps_out = step_ratios(area, steps, 5)
    area.reset_metrics()
    run = trainer(area.device, area.mark_step)
    for _ in range(5):
        run()
    counters = {
        name: area.counter_value(name) for name in area.counter_names() if "Ltc" not in name
    }
    return {
        "backend": backend,
        "step": steps_out,
        "trace_per_op": trace_cost(area),
        "counters_in_5_steps": counters,
    }


def profile(steps: int) -> None:
    """cProfile of ``steps`` steady-state reference steps, top functions by own time."""
    from conformance.discovery import load_backend

    torch.set_num_threads(1)
    area: Any = load_backend("reference").areas["lazy"]
    area.init()
    run = trainer(area.device, area.mark_step)
    for _ in range(5):
        run()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        run()
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(25)


def run_worker(backend: str, steps: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", backend, "--steps", str(steps)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="profile the reference's steps")
    parser.add_argument("--worker", choices=["reference", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.steps)))
        return
    if args.profile:
        profile(args.steps)
        return
    rounds: list[dict[str, dict[str, Any]]] = []
    for r in range(args.rounds):
        order = ("reference", "torch") if r % 2 == 0 else ("torch", "reference")
        rounds.append({backend: run_worker(backend, args.steps) for backend in order})
    report(rounds, args.steps)


def report(rounds: list[dict[str, dict[str, Any]]], steps: int) -> None:
    med = statistics.median
    print(
        f"MLP 256-512-10, batch 64, SGD; {len(rounds)} interleaved rounds of {steps} "
        "steady-state steps per device; medians of paired ratios"
    )
    print(
        f"{'':22}{'clock':>6}{'eager ms':>10}{'lazy ms':>10}{'x eager':>9}"
        f"{'trace us/op':>13}{'vs torch step':>15}{'vs torch trace':>16}"
    )
    for backend, name in (("reference", "reference lazy"), ("torch", "torch._lazy (C++)")):
        for clock in CLOCKS:
            step = [r[backend]["step"][clock] for r in rounds]
            trace = [r[backend]["trace_per_op"][clock] for r in rounds]
            vs_step = med(
                r[backend]["step"][clock]["ratio"] / r["torch"]["step"][clock]["ratio"]
                for r in rounds
            )
            vs_trace = med(
                r[backend]["trace_per_op"][clock] / r["torch"]["trace_per_op"][clock]
                for r in rounds
            )
            print(
                f"{name:22}{clock:>6}{med(s['eager'] for s in step) * 1e3:10.3f}"
                f"{med(s['lazy'] for s in step) * 1e3:10.3f}{med(s['ratio'] for s in step):9.2f}"
                f"{med(trace) * 1e6:13.2f}{vs_step:15.2f}{vs_trace:16.2f}"
            )
    for backend in ("reference", "torch"):
        counters = rounds[-1][backend]["counters_in_5_steps"]
        print(f"{backend} counters over 5 steps (after a set-up mark_step): {counters}")


if __name__ == "__main__":
    main()
