"""Golden files: compare, or rewrite only when asked (``--accept`` / ``EXPECTTEST_ACCEPT=1``).

When to accept is decided in one place, :func:`conformance.runtime.accept_mode` (never
implicitly under ``$CI``). Every file written is remembered in ``runtime.GOLDENS_WRITTEN``; the
plugin attaches them to the test's report, and the run lists them at the end, saying
when they landed inside an installed package rather than a checkout.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.runtime import GOLDEN_DIR_OVERRIDE, GOLDENS_WRITTEN, accept_mode

GOLDEN_DIR = Path(__file__).parent / "golden"
FIX = (
    "to (re)create it from the backend under test, run the suite with --accept "
    "(or EXPECTTEST_ACCEPT=1) and review the diff"
)


class GoldenError(AssertionError):
    """A golden file is missing or malformed; the message names the file and the fix."""


def golden_dir() -> Path:
    """Where goldens are read and written: ``--golden-dir`` if given, else the suite's."""
    return GOLDEN_DIR_OVERRIDE[0] if GOLDEN_DIR_OVERRIDE else GOLDEN_DIR


def accepting(config: pytest.Config) -> bool:
    """Whether this run rewrites goldens instead of comparing."""
    return accept_mode(config)[0]


def read_golden(name: str) -> str:
    """The golden IR text ``golden/<name>.txt``, checked for the ``IR { ... }`` shape."""
    path = golden_dir() / f"{name}.txt"
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
    """Write golden ``name`` (accept runs only) and remember that it was written."""
    path = golden_dir() / f"{name}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    GOLDENS_WRITTEN.append(path)
    return path


def in_installed_package(path: Path) -> bool:
    """Whether ``path`` lies in an installed distribution rather than a source checkout."""
    return any(part in ("site-packages", "dist-packages") for part in path.resolve().parts)


def describe_written(paths: list[str]) -> list[str]:
    """Terminal lines listing the golden files an accept run wrote, and where they are."""
    lines = [f"conformance: accepted {len(paths)} golden file(s) from this backend:"]
    lines += [f"  wrote {p}" for p in paths]
    if any(in_installed_package(Path(p)) for p in paths):
        lines.append(
            "  these files are inside the installed package, not a checkout: copy them into "
            "your source tree and review the diff, or they are lost on reinstall"
        )
    return lines
