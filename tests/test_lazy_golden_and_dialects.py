"""Golden-file handling of the lazy suite and the IR dialect normalizers (no lazy device)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.lazy import golden
from conformance.lazy.attribute_programs import ATTRIBUTE_PROGRAMS
from conformance.lazy.dialects import DialectError, normalize
from conformance.lazy.programs import PROGRAMS

PYTORCH_TEXT = """\
IR {
  %0 = [Float[]] lazy_tensors::device_data(), device=CPU0
  %1 = [Float[3]] lazy_tensors::device_data(), device=CPU0
  %2 = [Float[3]] aten::mul(%1, %0)
  %3 = [Float[]] aten::sum(%2), dtype=null, ROOT=0, NodeType=N5torch4lazy3SumE
}
"""

XLA_TEXT = """\
IR {
  %0 = f32[] prim::Constant(), xla_shape=f32[]
  %1 = f32[3]{0} xla::device_data(), xla_shape=f32[3]{0}
  %2 = f32[3]{0} aten::mul(%1, %0), xla_shape=f32[3]{0}
  %3 = f32[] aten::sum(%2), xla_shape=f32[], ROOT=0
}
"""


@pytest.fixture
def golden_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(golden, "GOLDEN_DIR", tmp_path)
    return tmp_path


def test_every_program_has_a_golden_file() -> None:
    """Each program of the suite has a well-formed golden file, and there are at least 40."""
    assert len(PROGRAMS) >= 40
    assert not set(PROGRAMS) & set(ATTRIBUTE_PROGRAMS), "two programs share a golden file"
    for name in [*PROGRAMS, *ATTRIBUTE_PROGRAMS]:
        assert golden.read_golden(name).startswith("IR {\n")
    stale = (
        {p.stem for p in golden.GOLDEN_DIR.glob("*.txt")} - set(PROGRAMS) - set(ATTRIBUTE_PROGRAMS)
    )
    assert stale == set(), f"golden files without a program: {sorted(stale)}"


def test_missing_golden_names_file_and_fix(golden_dir: Path) -> None:
    """A missing golden raises an error naming the file and how to create it."""
    with pytest.raises(golden.GoldenError, match=r"nope\.txt is missing.*--accept"):
        golden.read_golden("nope")


@pytest.mark.parametrize(
    "content",
    ["", "IR {\n  %0 = x\n", "graph {\n}\n", "IR {\nbroken line\n}\n", "IR {\n}"],
)
def test_corrupt_golden_names_file_and_fix(golden_dir: Path, content: str) -> None:
    """A golden that is not 'IR { ... }' text raises an error naming the file and the fix."""
    (golden_dir / "bad.txt").write_text(content)
    with pytest.raises(golden.GoldenError, match=r"bad\.txt is corrupt.*--accept"):
        golden.read_golden("bad")


def test_write_then_read_round_trips(golden_dir: Path) -> None:
    """An accepted golden reads back unchanged."""
    golden.write_golden("prog", PYTORCH_TEXT)
    assert golden.read_golden("prog") == PYTORCH_TEXT


def test_accepting_only_when_asked(
    pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Goldens are rewritten only with --accept or EXPECTTEST_ACCEPT outside CI."""
    monkeypatch.delenv("EXPECTTEST_ACCEPT", raising=False)
    monkeypatch.delenv("CI", raising=False)
    assert not golden.accepting(pytestconfig)
    monkeypatch.setenv("EXPECTTEST_ACCEPT", "0")
    assert not golden.accepting(pytestconfig)
    monkeypatch.setenv("EXPECTTEST_ACCEPT", "1")
    assert golden.accepting(pytestconfig)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(ValueError, match="never rewritten implicitly in CI"):
        golden.accepting(pytestconfig)
    monkeypatch.setenv("CI", "false")
    assert golden.accepting(pytestconfig)


def test_written_goldens_say_when_they_are_in_an_installed_package() -> None:
    """The accept summary lists each file and warns when it lies in site-packages."""
    checkout = golden.describe_written(["/src/proj/conformance/lazy/golden/a.txt"])
    assert checkout == [
        "conformance: accepted 1 golden file(s) from this backend:",
        "  wrote /src/proj/conformance/lazy/golden/a.txt",
    ]
    installed = golden.describe_written(
        ["/venv/lib/python3.11/site-packages/conformance/lazy/golden/a.txt"]
    )
    assert "inside the installed package" in installed[-1]


def test_xla_and_pytorch_texts_normalize_equal() -> None:
    """The same graph printed by torch_xla and by PyTorch's lazy backend normalizes equal."""
    assert normalize(XLA_TEXT, "torch_xla") == normalize(PYTORCH_TEXT, "pytorch")


def test_normalized_form_is_structural() -> None:
    """Normalization keeps ops, dtypes, shapes, edges and roots."""
    assert normalize(PYTORCH_TEXT, "pytorch") == [
        ("device_data", (("Float", ()),), (), None),
        ("device_data", (("Float", (3,)),), (), None),
        ("mul", (("Float", (3,)),), (1, 0), None),
        ("sum", (("Float", ()),), (2,), 0),
    ]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("f32[3]{0} aten::mul", "f64[3]{0} aten::mul"),
        ("mul(%1, %0)", "mul(%0, %1)"),
        ("aten::sum", "aten::mean"),
        ("f32[3]{0} xla::device_data", "f32[4]{0} xla::device_data"),
    ],
)
def test_structural_differences_are_seen(old: str, new: str) -> None:
    """A different dtype, edge order, op or shape makes the normalized graphs differ."""
    changed = XLA_TEXT.replace(old, new)
    assert changed != XLA_TEXT
    assert normalize(changed, "torch_xla") != normalize(PYTORCH_TEXT, "pytorch")


def test_xla_multi_output_and_pred() -> None:
    """torch_xla tuple types and pred (bool) normalize to several PyTorch-named outputs."""
    text = (
        "IR {\n"
        "  %0 = f32[3,4]{1,0} xla::device_data(), xla_shape=f32[3,4]{1,0}\n"
        "  %1 = (f32[3]{0}, s64[3]{0}) aten::max(%0), xla_shape=(f32[3]{0}, s64[3]{0})\n"
        "  %2 = pred[3]{0} aten::gt(%1.0, %1.0), ROOT=0\n"
        "}\n"
    )
    nodes = normalize(text, "torch_xla")
    assert nodes[1][1] == (("Float", (3,)), ("Long", (3,)))
    assert nodes[2][1] == (("Bool", (3,)),)


def test_unparseable_line_is_quoted() -> None:
    """A line the normalizer cannot read raises DialectError quoting it."""
    with pytest.raises(DialectError, match="what is this"):
        normalize("IR {\n  what is this\n}\n", "torch_xla")
    with pytest.raises(DialectError, match="unknown IR dialect"):
        normalize(PYTORCH_TEXT, "tvm")
