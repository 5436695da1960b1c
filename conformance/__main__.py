"""Command line: ``python -m conformance compare BASE.json NEW.json``,
``python -m conformance scoreboard REPORT.json [REPORT2.json ...] [-o OUTPUT]``,
``python -m conformance merge SHARD.json... -o RUN.json`` and
``python -m conformance durations REPORT.json... -o DURATIONS.json``.

Exit status of compare: 0 when NEW has no regression against BASE, 1 when it has (or,
with ``--strict``, a changed failure); of scoreboard, merge and durations: 0. All exit 2
on bad input: a missing or malformed report, a report of a run that did not complete
(unless ``--allow-incomplete``; merge takes incomplete shards and says so), for compare
two reports of different backends (unless ``--allow-different-backends``), for merge
reports that are not every shard of one run. Errors are one line on stderr, never a
traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from conformance import compare, scoreboard
from conformance.results import ReportError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    gate = commands.add_parser(
        "compare",
        help="release gate: list regressions and newly passing tests between two reports",
    )
    gate.add_argument("base", type=Path, help="report of the accepted baseline")
    gate.add_argument("new", type=Path, help="report of the candidate")
    gate.add_argument(
        "--strict",
        action="store_true",
        help="also fail (exit 1) on changed failures, e.g. a known failure that now crashes",
    )
    gate.add_argument(
        "--allow-different-backends",
        action="store_true",
        help="compare reports of two different backends (by default an error)",
    )
    board = commands.add_parser(
        "scoreboard",
        help="write a Markdown and a self-contained HTML scoreboard from one or more reports",
    )
    board.add_argument(
        "reports",
        type=Path,
        nargs="+",
        help="reports, shown side by side (releases of one backend: oldest first)",
    )
    board.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("scoreboard"),
        help="output path without suffix: writes OUTPUT.md and OUTPUT.html (default: scoreboard)",
    )
    join = commands.add_parser(
        "merge",
        help="join the reports of a sharded run (pytest --shard K/N) into one run's report",
    )
    join.add_argument("shards", type=Path, nargs="+", help="the report of every shard")
    join.add_argument("-o", "--output", type=Path, required=True, help="merged report to write")
    timing = commands.add_parser(
        "durations",
        help="write the durations file that balances --shard, from reports' per-test durations",
    )
    timing.add_argument("reports", type=Path, nargs="+", help="reports of full runs")
    timing.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="durations file to write (the suite ships conformance/durations.json; pass "
        "yours to pytest with --shard-durations)",
    )
    for sub in (gate, board, timing):
        sub.add_argument(
            "--allow-incomplete",
            action="store_true",
            help="accept reports of runs that did not complete (interrupted, crashed, ...); "
            "they are marked as such",
        )
    commands.add_parser("guide", help="print where the backend author's guide is installed")
    args = parser.parse_args(argv)
    if args.command == "guide":
        from conformance.discovery import guide_path

        print(guide_path())
        return 0
    try:
        if args.command == "merge":
            from conformance import merge

            print("\n".join(merge.run(args.shards, args.output)))
            return 0
        if args.command == "durations":
            from conformance import sharding

            print(
                sharding.write_durations(
                    args.reports, args.output, allow_incomplete=args.allow_incomplete
                )
            )
            return 0
        if args.command == "scoreboard":
            written = scoreboard.run(
                args.reports, args.output, allow_incomplete=args.allow_incomplete
            )
            print("\n".join(f"wrote {path}" for path in written))
            return 0
        status, lines = compare.run(
            args.base,
            args.new,
            allow_incomplete=args.allow_incomplete,
            allow_different_backends=args.allow_different_backends,
            strict=args.strict,
        )
    except OSError as exc:
        print(f"error: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main())
