"""[[op]] manifest rules and --write-expectations output."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from conformance.manifest import ManifestError, parse_manifest, write_expectations
from conformance.results import CaseResult

RULES = """
[[expect]]
test = "lazy/test_ops.py::test_op[topk-*]"
reason = "indices off by one, mine#3"

[[op]]
op = "nn.functional.*"
dtypes = ["float16"]
atol = 1e-3
rtol = 1e-3
reason = "fp16 accumulates in fp16 on device"

[[op]]
op = "nn.functional.gelu"
native = true
atol = 0.5
rtol = 0
reason = "gelu is lowered; loose for the demo"
"""


def test_op_rules_first_match_per_key() -> None:
    """Tolerance and native come from the first matching [[op]] entry that sets each."""
    manifest = parse_manifest(RULES, Path("m.toml"))
    assert [rule.line for rule in manifest.ops] == [6, 13]
    assert manifest.tolerance("nn.functional.gelu", "float16") == (1e-3, 1e-3)
    assert manifest.tolerance("nn.functional.gelu", "float32") == (0.5, 0.0)
    assert manifest.tolerance("add", "float16") is None
    assert manifest.declares_native("nn.functional.gelu", "float32")
    assert not manifest.declares_native("nn.functional.relu", "float16")


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ('[[op]]\nop = "a"\natol = 1\nreason = "r"\n', ["m.toml:1:", "both 'atol' and 'rtol'"]),
        ('[[op]]\nop = "a"\nreason = "r"\n', ["m.toml:1:", "needs atol/rtol or native"]),
        ('[[op]]\nop = "a"\nnative = true\n', ["m.toml:1:", "'reason' is required"]),
        (
            '[[expect]]\ntest = "t"\nreason = "r"\n\n'
            '[[op]]\nop = "a"\nnative = "yes"\nreason = "r"\n',
            ["m.toml:5:", "'native' must be true or false"],
        ),
        (
            '[[op]]\nop = "a"\natol = -1\nrtol = 0\nreason = "r"\n',
            ["m.toml:1:", "'atol' must be a non-negative number"],
        ),
        ('[[op]]\nop = "a"\ndtypes = "f"\nnative = true\nreason = "r"\n', ["'dtypes' must be"]),
        ('[[op]]\nop = "a"\nnative = true\nreason = "r"\nmax = 1\n', ["unknown key(s) max"]),
    ],
)
def test_malformed_op_rule_names_file_line_problem(text: str, fragments: list[str]) -> None:
    """A malformed [[op]] entry raises ManifestError naming file, line and problem."""
    with pytest.raises(ManifestError) as info:
        parse_manifest(text, Path("m.toml"))
    for fragment in fragments:
        assert fragment in str(info.value)


def test_write_expectations_keeps_rules_and_known_failures(tmp_path: Path) -> None:
    """New failures get their observed error; listed tests keep their entry; rules carry over."""
    manifest = parse_manifest(RULES, Path("m.toml"))
    results = [
        CaseResult("lazy/test_ops.py::test_op[topk-float32]", "lazy", "xfailed", reason="x"),
        CaseResult("lazy/test_ops.py::test_op[add-float32]", "lazy", "passed"),
        CaseResult(
            "lazy/test_ops.py::test_op[cos-float32]",
            "lazy",
            "error",
            reason="worker 'gw0' crashed while running 'x'\nmore",
        ),
        CaseResult("fx/test_a.py::test_b", "fx", "failed", reason='bad "quote" \\ and ünïcode'),
    ]
    out = tmp_path / "new.toml"
    assert write_expectations(out, results, manifest) == 3
    written = parse_manifest(out.read_text(), out)
    assert {e.test: e.reason for e in written.entries} == {
        "fx/test_a.py::test_b": 'bad "quote" \\ and ünïcode',
        "lazy/test_ops.py::test_op[cos-float32]": "worker 'gw0' crashed while running 'x'",
        "lazy/test_ops.py::test_op[topk-*]": "indices off by one, mine#3",
    }
    same = [(r.op, r.dtypes, r.atol, r.rtol, r.native, r.reason) for r in written.ops]
    assert same == [(r.op, r.dtypes, r.atol, r.rtol, r.native, r.reason) for r in manifest.ops]
    assert tomllib.loads(out.read_text())  # valid TOML


REVIEWED = """
[[expect]]
test = "lazy/test_ops.py::test_op[cos-float32]"
reason = "reviewed: cos crashes the worker in our lowering, mine#7"
category = "failing"

[[expect]]
test = "lazy/test_ops.py::test_op[sin-float32]"
reason = "reviewed: fixed upstream?"

[[expect]]
test = "lazy/test_ops.py::test_op[tan-float32]"
reason = "reviewed: only old torch"
torch = "<2.10"
"""


def test_write_expectations_never_rewrites_a_reviewed_reason(tmp_path: Path) -> None:
    """A listed test that crashed or errored keeps its reviewed entry; no crash-text copy.

    Entries whose tests passed are kept and marked stale; out-of-scope entries are
    kept with their scope.
    """
    manifest = parse_manifest(REVIEWED, Path("m.toml")).scoped({"torch": "2.13.0"})
    results = [
        CaseResult(
            "lazy/test_ops.py::test_op[cos-float32]",
            "lazy",
            "error",
            reason="worker 'gw0' crashed while running 'test_op[cos-float32]'",
        ),
        CaseResult("lazy/test_ops.py::test_op[sin-float32]", "lazy", "xpassed", reason="ok"),
        CaseResult("lazy/test_ops.py::test_op[exp-float32]", "lazy", "failed", reason="new bug"),
    ]
    out = tmp_path / "new.toml"
    assert write_expectations(out, results, manifest) == 4
    text = out.read_text()
    written = parse_manifest(text, out)
    reasons = {e.test: e.reason for e in written.entries}
    assert reasons["lazy/test_ops.py::test_op[cos-float32]"].startswith("reviewed: cos crashes")
    assert "crashed while running" not in text
    assert reasons["lazy/test_ops.py::test_op[exp-float32]"] == "new bug"
    assert "# stale: every matching test passed" in text.split("test_op[sin-float32]")[0]
    tan = next(e for e in written.entries if "tan" in e.test)
    assert tan.scope == (("torch", "<2.10"),)


@pytest.mark.parametrize(
    ("torch_version", "applies"),
    [("2.9.0", True), ("2.9.1+cpu", True), ("2.10.0", False), ("2.10.0.dev20250101", False)],
)
def test_version_scoped_entry_applies_only_in_scope(torch_version: str, applies: bool) -> None:
    """torch = "<2.10" applies to 2.9.x (local builds too), not to 2.10 or its nightlies."""
    manifest = parse_manifest(REVIEWED, Path("m.toml")).scoped({"torch": torch_version})
    tan = "lazy/test_ops.py::test_op[tan-float32]"
    assert (manifest.match(tan) is not None) is applies
    assert [e.test for e in manifest.out_of_scope] == ([] if applies else [tan])
    stale = manifest.unmatched(["lazy/test_ops.py::test_op[abs-float32]"])
    assert (tan in [e.test for e in stale]) is applies  # out of scope: never stale


@pytest.mark.parametrize("spec", ["2.10", "<<2", "", "lt 2.10"])
def test_bad_specifier_names_line_and_example(spec: str) -> None:
    """A malformed specifier is one ManifestError naming file, line, key and an example."""
    text = f'[[expect]]\ntest = "a"\nreason = "r"\ntorch = "{spec}"\n'
    with pytest.raises(ManifestError, match=r"m.toml:1: 'torch' must be a PEP 440 .*'<2.10'"):
        parse_manifest(text, Path("m.toml"))


def test_backend_version_that_is_not_pep440_is_refused_for_scoped_entries() -> None:
    """Scoping by backend version needs a PEP 440 version; the error says which entry."""
    text = '[[expect]]\ntest = "a"\nreason = "r"\nbackend = ">=1"\n'
    with pytest.raises(ManifestError, match=r"m.toml:line 1: entry 'a' is scoped by backend"):
        parse_manifest(text, Path("m.toml")).scoped({"torch": "2.13.0", "backend": "nightly"})
