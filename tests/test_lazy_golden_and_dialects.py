"""Golden-file handling of the lazy suite and the IR dialect normalizers (no lazy device)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.lazy import golden
from conformance.lazy.attribute_programs import ATTRIBUTE_PROGRAMS
from conformance.lazy.dialects import (
    DialectError,
    canonical,
    describe_difference,
    normalize,
    same_structure,
)
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


# --- canonical form: op vocabulary, pass-through nodes, scalar leaves -------------------

PYTORCH_VIEW_ADD = """\
IR {
  %0 = [Long[]] lazy_tensors::device_data(), device=CPU0
  %1 = [Long[]] lazy_tensors::device_data(), device=CPU0
  %2 = [Float[4]] lazy_tensors::device_data(), device=CPU0
  %3 = [Float[2,2]] aten::view_copy(%2), size=2 2
  %4 = [Float[2,2]] aten::add(%3, %1, %0)
  %5 = [Float[2,2]] aten::detach_copy(%4), ROOT=0
}
"""

XLA_VIEW_ADD = """\
IR {
  %0 = f32[4]{0} xla::device_data(), xla_shape=f32[4]{0}
  %1 = f32[2,2]{1,0} aten::view(%0), xla_shape=f32[2,2]{1,0}
  %2 = f32[] prim::Constant(), xla_shape=f32[]
  %3 = f32[] xla::device_data(), xla_shape=f32[]
  %4 = f32[2,2]{1,0} aten::add(%1, %3, %2), xla_shape=f32[2,2]{1,0}, ROOT=0
}
"""


def test_same_computation_in_both_vocabularies_is_the_same_structure() -> None:
    """view_copy/view, a dropped detach_copy, Long[] vs f32[] scalars, leaf order: equal."""
    assert same_structure(XLA_VIEW_ADD, "torch_xla", PYTORCH_VIEW_ADD, "pytorch")
    assert canonical(XLA_VIEW_ADD, "torch_xla") == canonical(PYTORCH_VIEW_ADD, "pytorch")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("aten::view(%0)", "aten::permute(%0)"),  # another op
        ("f32[4]{0} xla::device_data", "f64[4]{0} xla::device_data"),  # a non-scalar dtype
        ("f32[] xla::device_data()", "f32[1]{0} xla::device_data()"),  # not a scalar leaf
        ("aten::add(%1, %3, %2)", "aten::add(%1, %1, %2)"),  # a tensor operand instead
    ],
)
def test_canonical_form_still_sees_structure(old: str, new: str) -> None:
    """The vocabulary and scalar rules do not hide another op, edge, dtype or sharing.

    (Scalar operands are attributes in the canonical form: their position is not compared.)
    """
    changed = XLA_VIEW_ADD.replace(old, new)
    assert changed != XLA_VIEW_ADD
    assert not same_structure(changed, "torch_xla", PYTORCH_VIEW_ADD, "pytorch")


def test_difference_names_the_first_differing_node() -> None:
    """describe_difference shows both canonical forms from the first node that differs."""
    changed = XLA_VIEW_ADD.replace("aten::view(%0)", "aten::permute(%0)")
    message = describe_difference(changed, "torch_xla", PYTORCH_VIEW_ADD, "pytorch")
    assert "first difference at canonical node %1" in message
    assert "permute(%0)" in message
    assert "view(%0)" in message


# Texts as torch_xla 2.9 (XLA:CPU) and PyTorch's lazy backend print the same programs.
XLA_SELECT = """\
IR {
  %0 = f32[3,4]{1,0} xla::device_data(), xla_shape=f32[3,4]{1,0}
  %1 = f32[3,1]{1,0} xla::generic_slice(%0), xla_shape=f32[3,1]{1,0}
  %2 = f32[3]{0} aten::view(%1), xla_shape=f32[3]{0}, ROOT=0
}
"""
PYTORCH_SELECT = """\
IR {
  %0 = [Float[3,4]] lazy_tensors::device_data(), device=CPU0
  %1 = [Float[3]] aten::select_copy(%0), dim=1, index=1, ROOT=0
}
"""
XLA_CAT = """\
IR {
  %0 = f32[] xla::device_data(), xla_shape=f32[]
  %1 = f32[2,3]{1,0} xla::device_data(), xla_shape=f32[2,3]{1,0}
  %2 = f32[2,3]{1,0} aten::mul(%1, %0), xla_shape=f32[2,3]{1,0}
  %3 = f32[4,3]{1,0} aten::cat(%1, %2), xla_shape=f32[4,3]{1,0}, ROOT=0
}
"""
PYTORCH_CAT = """\
IR {
  %0 = [Long[]] lazy_tensors::device_data(), device=CPU0
  %1 = [Float[2,3]] lazy_tensors::device_data(), device=CPU0
  %2 = [Float[2,3]] aten::mul(%1, %0)
  %3 = [] lazy_tensors::tensor_list(%1, %2)
  %4 = [Float[4,3]] aten::cat(%3), dim=0, ROOT=0
}
"""
XLA_LINEAR = """\
IR {
  %0 = f32[3]{0} xla::device_data(), xla_shape=f32[3]{0}
  %1 = f32[3,4]{1,0} xla::device_data(), xla_shape=f32[3,4]{1,0}
  %2 = f32[4,3]{0,1} aten::permute(%1), xla_shape=f32[4,3]{0,1}
  %3 = f32[2,4]{1,0} xla::device_data(), xla_shape=f32[2,4]{1,0}
  %4 = f32[2,3]{1,0} aten::addmm(%3, %2, %0), xla_shape=f32[2,3]{1,0}, ROOT=0
}
"""
PYTORCH_LINEAR = """\
IR {
  %0 = [Long[]] lazy_tensors::device_data(), device=CPU0
  %1 = [Long[]] lazy_tensors::device_data(), device=CPU0
  %2 = [Float[3,4]] lazy_tensors::device_data(), device=CPU0
  %3 = [Float[4,3]] aten::t_copy(%2)
  %4 = [Float[2,4]] lazy_tensors::device_data(), device=CPU0
  %5 = [Float[3]] lazy_tensors::device_data(), device=CPU0
  %6 = [Float[2,3]] aten::addmm(%5, %4, %3, %1, %0), ROOT=0
}
"""


@pytest.mark.parametrize(
    ("xla", "pytorch"),
    [(XLA_SELECT, PYTORCH_SELECT), (XLA_CAT, PYTORCH_CAT), (XLA_LINEAR, PYTORCH_LINEAR)],
    ids=["generic_slice+view=select_copy", "tensor_list spliced", "addmm operand order"],
)
def test_real_torch_xla_spellings_match_pytorch(xla: str, pytorch: str) -> None:
    """torch_xla's multi-node select, operand lists and addmm order match PyTorch's graph."""
    assert same_structure(xla, "torch_xla", pytorch, "pytorch")


@pytest.mark.parametrize(
    ("xla", "old", "new"),
    [
        (XLA_SELECT, "f32[3]{0} aten::view", "f32[1,3]{1,0} aten::view"),  # keeps the dim
        (XLA_CAT, "aten::cat(%1, %2)", "aten::cat(%2, %1)"),  # list order
        (XLA_LINEAR, "aten::addmm(%3, %2, %0)", "aten::addmm(%2, %3, %0)"),  # mat1/mat2
    ],
)
def test_real_spelling_rules_keep_structure(xla: str, old: str, new: str) -> None:
    """The same rules do not hide a wrong view shape, list order or matrix order."""
    changed = xla.replace(old, new)
    assert changed != xla
    pytorch = {XLA_SELECT: PYTORCH_SELECT, XLA_CAT: PYTORCH_CAT, XLA_LINEAR: PYTORCH_LINEAR}[xla]
    assert not same_structure(changed, "torch_xla", pytorch, "pytorch")
