"""Command line: ``python -m conformance compare BASE.json NEW.json`` and
``python -m conformance scoreboard REPORT.json [REPORT2.json ...] [-o OUTPUT]``.

Exit status of compare: 0 when NEW has no regression against BASE, 1 when it has;
of scoreboard: 0. Both exit 2 on bad input (a missing or malformed report).
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
    board = commands.add_parser(
        "scoreboard",
        help="write a Markdown and a self-contained HTML scoreboard from one or more reports",
    )
    board.add_argument("reports", type=Path, nargs="+", help="reports, shown side by side")
    board.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("scoreboard"),
        help="output path without suffix: writes OUTPUT.md and OUTPUT.html (default: scoreboard)",
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "scoreboard":
            written = scoreboard.run(args.reports, args.output)
            print("\n".join(f"wrote {path}" for path in written))
            return 0
        status, lines = compare.run(args.base, args.new)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main())
