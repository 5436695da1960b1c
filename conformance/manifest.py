"""Expectation manifests: a backend's list of known failures, in TOML.

Format (the whole grammar)::

    # Each [[expect]] table is one entry.
    [[expect]]
    test = "fx/test_compile.py::test_fullgraph_compile"   # test-id pattern, required
    reason = "pytorch/pytorch#154282: dynamo skips _lazy_forward"  # required, non-empty
    category = "failing"          # "failing" (a bug) or "unsupported" (by design)

Test ids are *canonical*: the test file's path relative to the ``conformance`` package,
then ``::`` and the test name with its parameters, e.g.
``fx/test_pickle.py::test_round_trip_stays_lazy``. They do not depend on where pytest
was started. In patterns ``*`` matches any run of characters (including ``/`` and
``::``); every other character, brackets included, matches itself, so parametrized ids
can be written as they are printed.

Matching tests become strict expected failures carrying the reason: a listed test that
passes fails the run, so manifests cannot go stale silently. Entries that match no
collected test are reported with a warning naming them.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

CATEGORIES = ("failing", "unsupported")
ENTRY_KEYS = {"test", "reason", "category"}
_HEADER = re.compile(r"^\s*\[\[\s*expect\s*\]\]")


class ManifestError(ValueError):
    """A manifest file is missing or malformed; the message names file, line and problem."""


@dataclass(frozen=True)
class Expectation:
    """One manifest entry."""

    test: str
    reason: str
    category: str
    line: int
    regex: re.Pattern[str] = field(compare=False, repr=False)

    def matches(self, test_id: str) -> bool:
        return self.regex.fullmatch(test_id) is not None


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A test-id pattern as a regex: ``*`` is the only wildcard."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


@dataclass
class Manifest:
    """The parsed manifest of one backend."""

    path: Path | None
    entries: list[Expectation] = field(default_factory=list)

    def match(self, test_id: str) -> Expectation | None:
        """The first entry whose pattern matches ``test_id``."""
        return next((e for e in self.entries if e.matches(test_id)), None)

    def unmatched(self, test_ids: list[str]) -> list[Expectation]:
        """Entries that match none of ``test_ids``: stale or misspelled."""
        return [e for e in self.entries if not any(e.matches(t) for t in test_ids)]


def _entry_lines(text: str) -> list[int]:
    return [n for n, line in enumerate(text.splitlines(), start=1) if _HEADER.match(line)]


def parse_manifest(text: str, path: Path | None = None) -> Manifest:
    """Parse manifest ``text``; ``path`` only labels error messages."""
    label = str(path) if path is not None else "<manifest>"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already ends with "(at line N, column M)".
        raise ManifestError(f"{label}: invalid TOML: {exc}") from None
    unknown_top = sorted(set(data) - {"expect"})
    if unknown_top:
        raise ManifestError(
            f"{label}: unknown top-level key(s) {', '.join(unknown_top)}; "
            "only [[expect]] tables are allowed"
        )
    raw = data.get("expect", [])
    if not isinstance(raw, list):
        raise ManifestError(f"{label}: 'expect' must be an array of tables: write [[expect]]")
    lines = _entry_lines(text)
    manifest = Manifest(path=path)
    for index, entry in enumerate(raw):
        line = lines[index] if index < len(lines) else 0
        manifest.entries.append(_parse_entry(entry, f"{label}:{line}", line))
    return manifest


def _parse_entry(entry: object, where: str, line: int) -> Expectation:
    if not isinstance(entry, dict):
        raise ManifestError(f"{where}: an [[expect]] entry must be a table")
    unknown = sorted(set(entry) - ENTRY_KEYS)
    if unknown:
        raise ManifestError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: test, reason, category"
        )
    for key in ("test", "reason"):
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ManifestError(f"{where}: '{key}' is required and must be a non-empty string")
    category = entry.get("category", "failing")
    if category not in CATEGORIES:
        raise ManifestError(f"{where}: category {category!r} is not one of {', '.join(CATEGORIES)}")
    return Expectation(
        test=entry["test"],
        reason=entry["reason"].strip(),
        category=category,
        line=line,
        regex=compile_pattern(entry["test"]),
    )


def load_manifest(path: Path) -> Manifest:
    """Read and parse the manifest at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(
            f"{path}: cannot read expectations manifest ({exc.strerror}); "
            "check the --expectations path"
        ) from None
    return parse_manifest(text, path)
