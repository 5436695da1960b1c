"""The full test matrix (every ``--dtypes``, ``--grads``) on one machine and as N shards.

For each backend (default ``reference`` and ``torch``) it measures, interleaved round by
round so the shared machine's noise falls on every configuration alike:

- **one run**: ``pytest --pyargs conformance --dtypes=<all> --grads -n W``;
- **N shards side by side**: ``--shard 1/N`` ... ``--shard N/N`` started at once on this
  machine, each with ``-n max(1, W // N)`` and its share of the intra-op threads
  (``--threads-per-worker``; together the same cores), timed until the last one ends;
  their reports are merged with ``python -m conformance merge`` and checked against the
  one run, test by test.

It prints wall times and the ratio sharded / one run (the cost of sharding on one box:
repeated start-up and collection, imbalance), each shard's summed test time, and a
projection for N machines: the one run's wall time x (the longest shard's test time /
all shards' test time). The projection is labelled as such; only the first two columns
are measured.

The full matrix is hours of CPU on a 2-core machine; ``--ops`` narrows the op sweep to
a few ops (every dtype and gradient still), ``--targets`` the suites, for a figure that
fits a shared machine. Each run's ``uptime`` load is printed with it.

Run from the checkout: ``python benchmarks/full_matrix.py [--shards 2] [--ops 'add,mul']
[--targets conformance] [--backends reference,torch] [--rounds 1]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DTYPES = "float32,float64,bfloat16,float16,int64,bool"


def load() -> str:
    return (
        Path("/proc/loadavg").read_text().split(" ", 3)[0]
        if Path("/proc/loadavg").exists()
        else "?"
    )


def pytest_argv(args: argparse.Namespace, backend: str, report: Path, *extra: str) -> list[str]:
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pyargs"]
    argv += args.targets.split(",")
    argv += [f"--backend={backend}", f"--dtypes={DTYPES}", "--grads"]
    argv += [f"--conformance-report={report}", "--conformance-progress=0"]
    if args.ops:
        argv.append(f"--ops={args.ops}")
    return argv + list(extra)


def run_all(commands: list[list[str]], cwd: Path) -> float:
    """Start every command at once; seconds until the last one exits."""
    start = time.perf_counter()
    procs = [
        subprocess.Popen(c, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for c in commands
    ]
    for proc in procs:
        proc.wait()
    return time.perf_counter() - start


def test_seconds(report: Path) -> tuple[int, float, str]:
    data = json.loads(report.read_text())
    return len(data["tests"]), sum(t["duration"] for t in data["tests"]), data["run"]["status"]


def outcomes(report: Path) -> dict[str, tuple[str, str]]:
    data = json.loads(report.read_text())
    return {t["id"]: (t["outcome"], t["reason"]) for t in data["tests"]}


def differences(one: Path, merged: Path) -> list[str]:
    """Test by test, where the merged shards disagree with the one run (id: one -> merged)."""
    a, b = outcomes(one), outcomes(merged)
    return [
        f"{test_id}: {a.get(test_id, ('absent', ''))} -> {b.get(test_id, ('absent', ''))}"
        for test_id in sorted(set(a) | set(b))
        if a.get(test_id) != b.get(test_id)
    ]


def projection(single: dict[str, Any], shards: int) -> float:
    """The one run's wall time x the longest share of its test time when split into
    ``shards`` duration-balanced groups (``conformance.sharding.assign`` on this run's own
    test durations): an estimate for N machines, labelled as one where it is printed."""
    from conformance.sharding import assign

    data = json.loads(single["report"].read_text())
    seconds = {t["id"]: float(t["duration"]) for t in data["tests"]}
    groups = assign(list(seconds), shards, seconds.__getitem__)
    totals = [0.0] * shards
    for test_id, group in groups.items():
        totals[group - 1] += seconds[test_id]
    total = sum(totals)
    return float(single["wall"]) * max(totals) / total if total else float("nan")


def measure(args: argparse.Namespace, backend: str, sharded: bool, work: Path) -> dict[str, Any]:
    tag = f"{backend}-{'sharded' if sharded else 'single'}"
    before = load()
    if not sharded:
        report = work / f"{tag}.json"
        wall = run_all([pytest_argv(args, backend, report, "-n", str(args.workers))], work)
        tests, seconds, status = test_seconds(report)
        return {
            "tag": tag,
            "wall": wall,
            "tests": tests,
            "seconds": [seconds],
            "status": status,
            "load": (before, load()),
            "report": report,
        }
    per_shard = max(1, args.workers // args.shards)
    # Shards side by side share the cores: each worker gets its share of the intra-op
    # threads, as the one run's workers do (else 2 shards x 2 threads oversubscribe).
    threads = max(1, (os.cpu_count() or 1) // (per_shard * args.shards))
    reports = [work / f"{tag}-{k}.json" for k in range(1, args.shards + 1)]
    commands = [
        pytest_argv(
            args,
            backend,
            r,
            f"--shard={k}/{args.shards}",
            "-n",
            str(per_shard),
            f"--threads-per-worker={threads}",
        )
        for k, r in enumerate(reports, 1)
    ]
    wall = run_all(commands, work)
    figures = [test_seconds(r) for r in reports]
    merged = work / f"{tag}-merged.json"
    subprocess.run(
        [sys.executable, "-m", "conformance", "merge", *map(str, reports), "-o", str(merged)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return {
        "tag": tag,
        "wall": wall,
        "tests": sum(f[0] for f in figures),
        "seconds": [f[1] for f in figures],
        "status": json.loads(merged.read_text())["run"]["status"],
        "load": (before, load()),
        "report": merged,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="reference,torch")
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="xdist workers of the one run")
    parser.add_argument("--ops", default="", help="narrow the op sweep (OpInfo names, '*')")
    parser.add_argument("--targets", default="conformance", help="comma-separated --pyargs")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--keep", default="", help="keep the reports in this directory")
    parser.add_argument(
        "--modes",
        default="single,sharded",
        help="which configurations to time: 'single' (one run), 'sharded' (N shards), or both",
    )
    args = parser.parse_args()
    if not args.modes or set(args.modes.split(",")) - {"single", "sharded"}:
        parser.error(f"--modes {args.modes!r}: give 'single', 'sharded' or 'single,sharded'")
    print(f"matrix: --dtypes={DTYPES} --grads; targets {args.targets}; ops {args.ops or 'all'}")
    print(f"load before: {load()} on {os.cpu_count()} cores")
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        for round_ in range(args.rounds):
            modes = [m == "sharded" for m in args.modes.split(",")]
            plan = [(b, s) for b in args.backends.split(",") for s in modes]
            if round_ % 2:
                plan.reverse()
            for backend, sharded in plan:
                result = measure(args, backend, sharded, work)
                results.append(result)
                print(
                    f"  {result['tag']}: {result['wall']:.1f}s, {result['tests']} tests, "
                    f"{result['status']}, load {result['load'][0]} -> {result['load'][1]}",
                    flush=True,
                )
        print()
        print(
            f"{'backend':10} {'one run':>9} {f'{args.shards} shards':>10} {'ratio':>6} "
            f"{'shard test s':>20} {'projected':>10}  merged == one run"
        )
        for backend in args.backends.split(","):
            single = [r for r in results if r["tag"] == f"{backend}-single"]
            shard = [r for r in results if r["tag"] == f"{backend}-sharded"]
            if not shard:
                for r in single:
                    print(
                        f"{backend:10} {r['wall']:8.1f}s {'-':>10} {'-':>6} "
                        f"{'(not run)':>20} {projection(r, args.shards):9.1f}s  -"
                    )
                continue
            if not single:
                for r in shard:
                    print(
                        f"{backend:10} {'-':>9} {r['wall']:9.1f}s {'-':>6} "
                        f"{'/'.join(f'{s:.0f}' for s in r['seconds']):>20} {'-':>10}  -"
                    )
                continue
            one = min(r["wall"] for r in single)
            many = min(r["wall"] for r in shard)
            seconds = shard[0]["seconds"]
            projected = one * max(seconds) / sum(seconds) if sum(seconds) else float("nan")
            differ = differences(single[0]["report"], shard[0]["report"])
            same = not differ
            print(
                f"{backend:10} {one:8.1f}s {many:9.1f}s {many / one:6.2f} "
                f"{'/'.join(f'{s:.0f}' for s in seconds):>20} {projected:9.1f}s  {same}"
            )
            for line in differ[:20]:
                print(f"    differs: {line}")
            if len(differ) > 20:
                print(f"    ... and {len(differ) - 20} more")
    print(f"load after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
