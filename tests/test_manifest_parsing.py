"""Manifest parsing: the grammar, pattern matching, and errors that name file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.manifest import ManifestError, compile_pattern, load_manifest, parse_manifest

GOOD = """\
# comment
[[expect]]
test = "fx/test_a.py::test_one"
reason = "upstream#1: broken"

[[expect]]
test = "fx/test_b.py::test_param[float32-*]"
reason = "upstream#2"
category = "unsupported"
"""


def test_entries_parsed_with_lines_and_default_category() -> None:
    """Entries keep their pattern, reason, category (default failing) and header line."""
    manifest = parse_manifest(GOOD)
    first, second = manifest.entries
    assert (first.test, first.reason, first.category, first.line) == (
        "fx/test_a.py::test_one",
        "upstream#1: broken",
        "failing",
        2,
    )
    assert (second.category, second.line) == ("unsupported", 6)


@pytest.mark.parametrize(
    ("pattern", "test_id", "expected"),
    [
        ("fx/test_a.py::test_one", "fx/test_a.py::test_one", True),
        ("fx/test_a.py::test_one", "fx/test_a.py::test_one_more", False),
        ("fx/test_a.py::*", "fx/test_a.py::test_one", True),
        ("fx/*", "fx/sub/test_a.py::T::test", True),
        ("fx/test_b.py::t[float32-*]", "fx/test_b.py::t[float32-dim0]", True),
        # Brackets are literal, not character classes.
        ("fx/test_b.py::t[ab]", "fx/test_b.py::ta", False),
        ("fx/test_b.py::t[ab]", "fx/test_b.py::t[ab]", True),
        ("fx/test_?.py::t", "fx/test_a.py::t", False),
    ],
)
def test_pattern_matching(pattern: str, test_id: str, expected: bool) -> None:
    """'*' is the only wildcard and patterns must match the whole id."""
    assert (compile_pattern(pattern).fullmatch(test_id) is not None) is expected


def test_first_matching_entry_wins_and_unmatched_listed() -> None:
    """match() returns the first entry; unmatched() lists entries matching nothing."""
    manifest = parse_manifest(GOOD)
    assert manifest.match("fx/test_b.py::test_param[float32-x]") is manifest.entries[1]
    assert manifest.match("fx/test_c.py::t") is None
    collected = ["fx/test_a.py::test_one", "fx/test_b.py::x"]
    assert manifest.unmatched(collected) == [manifest.entries[1]]


def test_unmatched_only_considers_collected_files() -> None:
    """Running one file does not flag the manifest's entries for other files or areas."""
    manifest = parse_manifest(
        '[[expect]]\ntest = "lazy/test_x.py::t"\nreason = "r"\n\n'
        '[[expect]]\ntest = "*::test_everywhere"\nreason = "r"\n\n'
        '[[expect]]\ntest = "lazy/test_o*.py::test_op[nosuchop-*]"\nreason = "r"\n'
    )
    x, everywhere, ops = manifest.entries
    assert manifest.unmatched(["fx/test_a.py::test_one"]) == [everywhere]
    assert manifest.unmatched(["lazy/test_y.py::t"]) == [everywhere]
    assert manifest.unmatched(["lazy/test_x.py::u"]) == [x, everywhere]
    assert manifest.unmatched(["lazy/test_ops.py::test_op[add-float32]"]) == [everywhere, ops]
    # An entry for a file the suite does not have is stale in any run.
    assert manifest.unmatched(["fx/test_a.py::t"], {"fx/test_a.py"}) == [x, everywhere, ops]


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ('[[expect]]\ntest = "a"\nreason = \n', ["invalid TOML", "line 3"]),
        ('[[expect]]\ntest = "a"\n', ["m.toml:1:", "'reason' is required"]),
        (
            '[[expect]]\ntest = "a"\nreason = "r"\n\n[[expect]]\ntest = "b"\nreason = "  "\n',
            ["m.toml:5:", "'reason' is required"],
        ),
        ('[[expect]]\nreason = "r"\n', ["m.toml:1:", "'test' is required"]),
        (
            '[[expect]]\ntest = "a"\nreason = "r"\ncategory = "flaky"\n',
            ["m.toml:1:", "category 'flaky'", "failing, unsupported"],
        ),
        ('[[expect]]\ntest = "a"\nreason = "r"\nwhy = "x"\n', ["m.toml:1:", "unknown key(s) why"]),
        ('expect = "x"\n', ["array of tables"]),
        ("[expectations]\n", ["unknown top-level key(s) expectations"]),
    ],
)
def test_malformed_manifest_names_file_line_problem(text: str, fragments: list[str]) -> None:
    """Every malformed manifest raises ManifestError naming file, line and problem."""
    with pytest.raises(ManifestError) as info:
        parse_manifest(text, Path("m.toml"))
    for fragment in fragments:
        assert fragment in str(info.value)


def test_missing_file_is_a_manifest_error(tmp_path: Path) -> None:
    """A manifest path that does not exist says so and points at --expectations."""
    with pytest.raises(ManifestError, match="cannot read expectations manifest"):
        load_manifest(tmp_path / "absent.toml")


def test_shipped_manifests_parse() -> None:
    """The manifests shipped with the built-in backends are valid and fully reasoned."""
    root = Path(__file__).parents[1] / "conformance" / "backends" / "expectations"
    for path in sorted(root.glob("*.toml")):
        for entry in load_manifest(path).entries:
            assert len(entry.reason) > 10, f"{path}:{entry.line}: reason too short to act on"
