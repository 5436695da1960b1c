"""Expectation manifests: a backend's list of known failures, in TOML.

Format (the whole grammar)::

    # Each [[expect]] table is one entry.
    [[expect]]
    test = "fx/test_compile.py::test_fullgraph_compile"   # test-id pattern, required
    reason = "pytorch/pytorch#154282: dynamo skips _lazy_forward"  # required, non-empty
    category = "failing"          # "failing" (a bug) or "unsupported" (by design)
    torch = "<2.10"               # optional: PEP 440 specifiers of the torch versions it is about
    backend = ">=2.9"             # optional: the same for the backend's own version

Test ids are *canonical*: the test file's path relative to the ``conformance`` package,
then ``::`` and the test name with its parameters, e.g.
``fx/test_pickle.py::test_round_trip_stays_lazy``. They do not depend on where pytest
was started. In patterns ``*`` matches any run of characters (including ``/`` and
``::``); every other character, brackets included, matches itself, so parametrized ids
can be written as they are printed.

The op sweep (``lazy/test_ops.py``) also reads ``[[op]]`` tables: per-op (and per-dtype)
comparison tolerances, and ops the backend promises to run natively::

    [[op]]
    op = "nn.functional.gelu"     # OpInfo name (``name.variant``), ``*`` wildcards, required
    dtypes = ["float16"]          # optional: only these dtypes (default: every dtype)
    atol = 1e-3                   # optional, with rtol: replaces assert_close's defaults
    rtol = 1e-3
    native = true                 # optional: a CPU fallback of this op fails its test
    reason = "erf is approximated by a polynomial on device"  # required, non-empty

The first ``[[op]]`` entry matching an op and dtype that sets a key decides that key.

Matching tests become strict expected failures carrying the reason: a listed test that
passes fails the run, so manifests cannot go stale silently. Entries that match no
collected test (of an area that was collected) are reported with a warning naming them.

An ``[[expect]]`` entry with ``torch`` or ``backend`` applies only when the installed
torch (``importlib.metadata``) or the backend's ``version`` satisfies those specifier
sets (``packaging.specifiers``; pre-releases and local versions such as ``2.9.0+cpu``
count as the release). Out-of-scope entries neither apply nor count as stale, and
``--write-expectations`` keeps them as they are.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CATEGORIES = ("failing", "unsupported")
ENTRY_KEYS = {"test", "reason", "category", "torch", "backend"}
#: Version-scope keys of an [[expect]] entry -> what they are matched against.
SCOPE_KEYS = {"torch": "the installed torch", "backend": "the backend's version"}
OP_KEYS = {"op", "dtypes", "atol", "rtol", "native", "reason"}
_HEADER = re.compile(r"^\s*\[\[\s*(expect|op)\s*\]\]")


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
    #: Version scope: key of :data:`SCOPE_KEYS` -> PEP 440 specifier set (text).
    scope: tuple[tuple[str, str], ...] = ()

    def matches(self, test_id: str) -> bool:
        return self.regex.fullmatch(test_id) is not None

    def applies(self, versions: dict[str, str | None]) -> bool:
        """Whether every scope key's specifier set contains ``versions[key]``.

        A scoped key whose version is unknown (``None``) does not apply.
        """
        from packaging.specifiers import SpecifierSet
        from packaging.version import InvalidVersion, Version

        for key, spec in self.scope:
            version = versions.get(key)
            if version is None:
                return False
            try:
                parsed = Version(version)
            except InvalidVersion:
                raise ManifestError(
                    f"line {self.line}: entry {self.test!r} is scoped by {key} = {spec!r}, but "
                    f"{SCOPE_KEYS[key]} has version {version!r}, which is not a PEP 440 "
                    "version; drop the scope or fix the version"
                ) from None
            if not SpecifierSet(spec).contains(Version(parsed.base_version), prereleases=True):
                return False
        return True


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A test-id pattern as a regex: ``*`` is the only wildcard."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


@dataclass(frozen=True)
class OpRule:
    """One ``[[op]]`` entry: tolerances and/or a native promise for matching ops."""

    op: str
    reason: str
    line: int
    dtypes: tuple[str, ...] | None = None
    atol: float | None = None
    rtol: float | None = None
    native: bool | None = None
    regex: re.Pattern[str] = field(default=re.compile(""), compare=False, repr=False)

    def matches(self, op: str, dtype: str) -> bool:
        in_dtypes = self.dtypes is None or dtype in self.dtypes
        return in_dtypes and self.regex.fullmatch(op) is not None


@dataclass
class Manifest:
    """The parsed manifest of one backend."""

    path: Path | None
    entries: list[Expectation] = field(default_factory=list)
    ops: list[OpRule] = field(default_factory=list)
    #: Entries whose version scope excludes this run (see :meth:`scoped`).
    out_of_scope: list[Expectation] = field(default_factory=list)

    def scoped(self, versions: dict[str, str | None]) -> Manifest:
        """This manifest with only the entries that apply to ``versions`` in ``entries``.

        ``versions`` maps :data:`SCOPE_KEYS` to the run's versions; the others move to
        ``out_of_scope``. Raises :class:`ManifestError` for an undecidable scope.
        """
        label = str(self.path) if self.path is not None else "<manifest>"
        inside: list[Expectation] = []
        outside = list(self.out_of_scope)
        for entry in self.entries:
            try:
                applies = entry.applies(versions)
            except ManifestError as exc:
                raise ManifestError(f"{label}:{exc}") from None
            (inside if applies else outside).append(entry)
        return Manifest(self.path, inside, list(self.ops), outside)

    def tolerance(self, op: str, dtype: str) -> tuple[float, float] | None:
        """(atol, rtol) of the first ``[[op]]`` entry for ``op``/``dtype`` that sets them."""
        rule = next((r for r in self.ops if r.atol is not None and r.matches(op, dtype)), None)
        return (rule.atol, rule.rtol) if rule is not None else None  # type: ignore[return-value]

    def declares_native(self, op: str, dtype: str) -> bool:
        """Whether the first ``[[op]]`` entry for ``op``/``dtype`` with ``native`` says true."""
        rule = next((r for r in self.ops if r.native is not None and r.matches(op, dtype)), None)
        return bool(rule is not None and rule.native)

    def match(self, test_id: str) -> Expectation | None:
        """The first entry whose pattern matches ``test_id``."""
        return next((e for e in self.entries if e.matches(test_id)), None)

    def unmatched(
        self, test_ids: list[str], suite_files: set[str] | None = None
    ) -> list[Expectation]:
        """Entries that match none of ``test_ids``: stale or misspelled.

        Only entries about test files that were collected count: running one file or
        one area must not flag the manifest's entries for the others. An entry's file is
        the part of its pattern before ``::``; it is in scope when it matches a collected
        file, or when it matches none of ``suite_files`` (every test file of the suite,
        canonical) and so can never match anything.
        """
        files = {test_id.split("::", 1)[0] for test_id in test_ids}

        def in_scope(entry: Expectation) -> bool:
            regex = compile_pattern(entry.test.split("::", 1)[0])
            if any(regex.fullmatch(f) for f in files):
                return True
            return suite_files is not None and not any(regex.fullmatch(f) for f in suite_files)

        return [e for e in self.entries if in_scope(e) and not any(e.matches(t) for t in test_ids)]


def _entry_lines(text: str, table: str = "expect") -> list[int]:
    lines = text.splitlines()
    return [
        n
        for n, line in enumerate(lines, start=1)
        if (m := _HEADER.match(line)) is not None and m.group(1) == table
    ]


def parse_manifest(text: str, path: Path | None = None) -> Manifest:
    """Parse manifest ``text``; ``path`` only labels error messages."""
    label = str(path) if path is not None else "<manifest>"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already ends with "(at line N, column M)".
        raise ManifestError(f"{label}: invalid TOML: {exc}") from None
    unknown_top = sorted(set(data) - {"expect", "op"})
    if unknown_top:
        raise ManifestError(
            f"{label}: unknown top-level key(s) {', '.join(unknown_top)}; "
            "only [[expect]] and [[op]] tables are allowed"
        )
    raw = data.get("expect", [])
    if not isinstance(raw, list):
        raise ManifestError(f"{label}: 'expect' must be an array of tables: write [[expect]]")
    lines = _entry_lines(text)
    manifest = Manifest(path=path)
    for index, entry in enumerate(raw):
        line = lines[index] if index < len(lines) else 0
        manifest.entries.append(_parse_entry(entry, f"{label}:{line}", line))
    raw_ops = data.get("op", [])
    if not isinstance(raw_ops, list):
        raise ManifestError(f"{label}: 'op' must be an array of tables: write [[op]]")
    op_lines = _entry_lines(text, "op")
    for index, entry in enumerate(raw_ops):
        line = op_lines[index] if index < len(op_lines) else 0
        manifest.ops.append(_parse_op(entry, f"{label}:{line}", line))
    return manifest


def _checked_table(
    entry: object, where: str, kind: str, allowed: set[str], required: tuple[str, ...]
) -> dict[str, Any]:
    """``entry`` as a table, after checking its keys and its required string fields."""
    if not isinstance(entry, dict):
        raise ManifestError(f"{where}: an [[{kind}]] entry must be a table")
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise ManifestError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )
    for key in required:
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ManifestError(f"{where}: '{key}' is required and must be a non-empty string")
    return entry


def _parse_op(entry: object, where: str, line: int) -> OpRule:
    entry = _checked_table(entry, where, "op", OP_KEYS, required=("op", "reason"))
    dtypes = entry.get("dtypes")
    if dtypes is not None and (
        not isinstance(dtypes, list) or not all(isinstance(d, str) and d for d in dtypes)
    ):
        raise ManifestError(f"{where}: 'dtypes' must be a list of dtype names like \"float16\"")
    tolerances = {}
    for key in ("atol", "rtol"):
        value = entry.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or value < 0
        ):
            raise ManifestError(f"{where}: '{key}' must be a non-negative number")
        tolerances[key] = None if value is None else float(value)
    if (tolerances["atol"] is None) != (tolerances["rtol"] is None):
        raise ManifestError(f"{where}: give both 'atol' and 'rtol' (or neither)")
    native = entry.get("native")
    if native is not None and not isinstance(native, bool):
        raise ManifestError(f"{where}: 'native' must be true or false")
    if tolerances["atol"] is None and native is None:
        raise ManifestError(f"{where}: an [[op]] entry needs atol/rtol or native")
    return OpRule(
        op=entry["op"],
        reason=entry["reason"].strip(),
        line=line,
        dtypes=tuple(dtypes) if dtypes is not None else None,
        atol=tolerances["atol"],
        rtol=tolerances["rtol"],
        native=native,
        regex=compile_pattern(entry["op"]),
    )


def _parse_entry(entry: object, where: str, line: int) -> Expectation:
    entry = _checked_table(entry, where, "expect", ENTRY_KEYS, required=("test", "reason"))
    category = entry.get("category", "failing")
    if category not in CATEGORIES:
        raise ManifestError(f"{where}: category {category!r} is not one of {', '.join(CATEGORIES)}")
    return Expectation(
        test=entry["test"],
        reason=entry["reason"].strip(),
        category=category,
        line=line,
        regex=compile_pattern(entry["test"]),
        scope=tuple(
            (key, _specifier(entry[key], key, where)) for key in SCOPE_KEYS if key in entry
        ),
    )


def _specifier(value: object, key: str, where: str) -> str:
    """``value`` checked as a PEP 440 specifier set (``"<2.10"``, ``">=2.9,<2.11"``)."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        if not isinstance(value, str) or not value.strip():
            raise InvalidSpecifier(repr(value))
        SpecifierSet(value)
    except InvalidSpecifier:
        raise ManifestError(
            f"{where}: {key!r} must be a PEP 440 version specifier such as '<2.10' or "
            f"'>=2.9,<2.11' (matched against {SCOPE_KEYS[key]}), got {value!r}"
        ) from None
    return value.strip()


def load_manifest(path: Path) -> Manifest:
    """Read and parse the manifest at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(
            f"{path}: cannot read expectations manifest ({exc.strerror}); "
            "check the --expectations path"
        ) from None
    except UnicodeDecodeError as exc:
        raise ManifestError(
            f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); save the manifest as UTF-8"
        ) from None
    return parse_manifest(text, path)


def _toml_string(value: str) -> str:
    # JSON string syntax is valid TOML basic-string syntax (without ensure_ascii, which
    # would write surrogate pairs TOML rejects).
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class WrittenEntry:
    """One ``[[expect]]`` entry of a written manifest, with an optional comment above it."""

    test: str
    reason: str
    category: str = "failing"
    scope: tuple[tuple[str, str], ...] = ()
    comment: str = ""

    @classmethod
    def of(cls, entry: Expectation, comment: str = "") -> WrittenEntry:
        return cls(entry.test, entry.reason, entry.category, entry.scope, comment)


def format_expectations(
    failing: list[tuple[str, str, str]] | list[WrittenEntry],
    ops: list[OpRule],
    header: str = "",
) -> str:
    """Manifest text for ``failing`` entries (or (test id, reason, category)) and ``ops``."""
    chunks = [header] if header else []
    for rule in ops:
        lines = ["[[op]]", f"op = {_toml_string(rule.op)}"]
        if rule.dtypes is not None:
            lines.append(f"dtypes = [{', '.join(_toml_string(d) for d in rule.dtypes)}]")
        if rule.atol is not None:
            lines += [f"atol = {rule.atol!r}", f"rtol = {rule.rtol!r}"]
        if rule.native is not None:
            lines.append(f"native = {'true' if rule.native else 'false'}")
        lines.append(f"reason = {_toml_string(rule.reason)}")
        chunks.append("\n".join(lines) + "\n")
    entries = [e if isinstance(e, WrittenEntry) else WrittenEntry(*e) for e in failing]
    for e in entries:
        lines = [f"# {line}" for line in e.comment.splitlines()]
        lines += [
            "[[expect]]",
            f"test = {_toml_string(e.test)}",
            f"reason = {_toml_string(e.reason)}",
        ]
        lines.append(f"category = {_toml_string(e.category)}")
        lines += [f"{key} = {_toml_string(spec)}" for key, spec in e.scope]
        chunks.append("\n".join(lines) + "\n")
    return "\n".join(chunks)


def write_expectations(
    path: Path,
    results: list[Any],
    manifest: Manifest | None,
    suite_files: set[str] | None = None,
) -> int:
    """Write a manifest from a run's results (``CaseResult``s); returns the entry count.

    Reviewed entries are never rewritten: every entry of the current manifest is kept
    with its pattern, reason, category and version scope (out-of-scope ones included).
    An entry whose tests all passed in this run, or that matches no test of a collected
    file, is kept with a ``# stale: ...`` comment for a human to remove. A failing or
    erroring test that no entry matches gets a new entry whose reason is the observed
    error (first line) to review. ``[[op]]`` rules are carried over.
    """
    entries = manifest.entries if manifest is not None else []
    ids = [r.id for r in results]
    unmatched = (
        {id(e) for e in manifest.unmatched(ids, suite_files)} if manifest is not None else set()
    )
    written: list[WrittenEntry] = []
    for entry in entries:
        outcomes = {r.outcome for r in results if entry.matches(r.id)}
        comment = ""
        if id(entry) in unmatched:
            comment = "stale: matches no test of the run that wrote this file; fix or remove"
        elif outcomes and outcomes <= {"xpassed", "passed"}:
            comment = "stale: every matching test passed in the run that wrote this file"
        written.append(WrittenEntry.of(entry, comment))
    if manifest is not None:
        written += [WrittenEntry.of(e) for e in manifest.out_of_scope]
    new: dict[str, WrittenEntry] = {}
    for result in results:
        if result.outcome not in ("failed", "error"):
            continue
        if any(e.matches(result.id) for e in entries):
            continue  # a listed test that failed otherwise (setup error): keep the review
        reason = (result.reason.strip().splitlines() or ["failed without a message"])[0]
        new[result.id] = WrittenEntry(result.id, reason[:400])
    written += [new[k] for k in sorted(new)]
    header = (
        "# Generated by --write-expectations from a run; review every reason before\n"
        "# committing (a reason should tell a user what is wrong and where it is tracked).\n"
    )
    text = format_expectations(written, manifest.ops if manifest is not None else [], header)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return len(written)
