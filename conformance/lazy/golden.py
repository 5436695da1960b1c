"""Golden files: compare, or rewrite only when asked (``--accept`` / ``EXPECTTEST_ACCEPT=1``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

GOLDEN_DIR = Path(__file__).parent / "golden"
FIX = (
    "to (re)create it from the backend under test, run the suite with --accept "
    "(or EXPECTTEST_ACCEPT=1) and review the diff"
)


class GoldenError(AssertionError):
    """A golden file is missing or malformed; the message names the file and the fix."""


def accepting(config: pytest.Config) -> bool:
    """Whether this run rewrites goldens instead of comparing."""
    return bool(config.getoption("conformance_accept", False)) or os.environ.get(
        "EXPECTTEST_ACCEPT", ""
    ) not in ("", "0")


def read_golden(name: str) -> str:
    """The golden IR text ``golden/<name>.txt``, checked for the ``IR { ... }`` shape."""
    path = GOLDEN_DIR / f"{name}.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GoldenError(f"golden file {path} is missing; {FIX}") from None
    except UnicodeDecodeError as exc:
        raise GoldenError(f"golden file {path} is not UTF-8 text ({exc}); {FIX}") from None
    lines = text.split("\n")
    if not (
        text.endswith("}\n")
        and lines[0] == "IR {"
        and all(line.startswith("  %") for line in lines[1:-2])
    ):
        raise GoldenError(
            f"golden file {path} is corrupt: expected 'IR {{', lines '  %k = ...', '}}' and a "
            f"final newline; {FIX}"
        )
    return text


def write_golden(name: str, text: str) -> Path:
    path = GOLDEN_DIR / f"{name}.txt"
    path.write_text(text, encoding="utf-8")
    return path
