"""Command line: ``python -m conformance compare BASE.json NEW.json``.

Exit status: 0 when NEW has no regression against BASE, 1 when it has, 2 on bad input
(a missing or malformed report).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from conformance import compare
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
    args = parser.parse_args(argv)
    try:
        status, lines = compare.run(args.base, args.new)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main())
