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
    """Failures get their observed error; xfailed tests keep their entry; rules carry over."""
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
