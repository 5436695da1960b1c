"""Golden files: compare, or rewrite only when asked (``--accept`` / ``EXPECTTEST_ACCEPT=1``).

Where goldens live, and in which dialect (:func:`golden_location`):

- ``--golden-dir DIR``: ``DIR``, in the backend's own dialect;
- else the lazy area's ``golden_dir`` (optional member) if it ships one: in its dialect;
- else the suite's own ``golden/``: PyTorch-dialect text written by PyTorch's lazy backend.

Goldens in the backend's own dialect are compared byte for byte and ``--accept`` writes
them; the suite's PyTorch goldens are compared byte for byte by a ``pytorch``-dialect
backend and structurally (``conformance.lazy.dialects.same_structure``) by any other,
which cannot accept into them.

When to accept is decided in one place, :func:`conformance.runtime.accept_mode` (never
implicitly under ``$CI``). Every file written is remembered in ``runtime.GOLDENS_WRITTEN``; the
plugin attaches them to the test's report, and the run lists them at the end, saying
when they landed inside an installed package rather than a checkout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def golden_location(area: Any) -> tuple[Path, str]:
    """``(directory, dialect of its files)`` for lazy area ``area`` (see the module docstring)."""
    dialect = str(getattr(area, "ir_dialect", "pytorch"))
    if GOLDEN_DIR_OVERRIDE:
        return GOLDEN_DIR_OVERRIDE[0], dialect
    own = getattr(area, "golden_dir", None)
    if own is not None:
        return Path(own), dialect
    return GOLDEN_DIR, "pytorch"


def check_golden(area: Any, name: str, text: str, config: pytest.Config, note: str = "") -> None:
    """Compare ``text`` (the area's IR text of program ``name``) with its golden, or accept it.

    Raises :class:`GoldenError` (an ``AssertionError``) with a diff on a mismatch;
    ``note`` is added to the message.
    """
    from conformance.lazy.dialects import describe_difference, same_structure

    directory, golden_dialect = golden_location(area)
    dialect = str(area.ir_dialect)
    if accepting(config):
        if golden_dialect != dialect:
            pytest.fail(
                f"the suite's goldens are PyTorch-dialect text; a {dialect!r} backend cannot "
                f"accept into them. Give its lazy area a golden_dir (its own goldens) or pass "
                f"--golden-dir DIR to record {dialect} goldens"
            )
        write_golden(name, text, directory)
        return
    golden = read_golden(name, directory)
    where = f"{directory / name}.txt"
    if golden_dialect == dialect:
        assert text == golden, f"IR text differs from {where}{note}"
    elif not same_structure(text, dialect, golden, golden_dialect):
        raise GoldenError(
            f"{dialect} IR is not the graph of {where} ({golden_dialect}){note}:\n"
            + describe_difference(text, dialect, golden, golden_dialect)
        )


def accepting(config: pytest.Config) -> bool:
    """Whether this run rewrites goldens instead of comparing."""
    return accept_mode(config)[0]


def read_golden(name: str, directory: Path | None = None) -> str:
    """The golden IR text ``<directory>/<name>.txt``, checked for the ``IR { ... }`` shape.

    ``directory`` defaults to :func:`golden_dir`.
    """
    path = (directory or golden_dir()) / f"{name}.txt"
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


def write_golden(name: str, text: str, directory: Path | None = None) -> Path:
    """Write golden ``name`` (accept runs only) and remember that it was written."""
    path = (directory or golden_dir()) / f"{name}.txt"
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
