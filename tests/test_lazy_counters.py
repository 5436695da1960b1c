"""Counter kinds: transfers and expected host reads are neither traced ops nor fallbacks."""

from __future__ import annotations

import pytest

from conformance.lazy import counters
from tests.conftest import RunSuite


@pytest.mark.parametrize(
    ("counter", "kind"),
    [
        ("aten::sin", "fallback"),
        ("aten::add.Tensor", "fallback"),
        ("aten::_local_scalar_dense", "host_read"),
        ("xla::_copy_from", "transfer"),
        ("xla::empty_symint", "transfer"),
        ("aten::_copy_from", "transfer"),
        ("lazy::add", "traced"),
        ("xla::add", "traced"),
        ("MarkStep", "other"),
        ("IrNodeReused_torch::lazy::AddTensor", "other"),
    ],
)
def test_counter_kind(counter: str, kind: str) -> None:
    """Each counter name gets the kind the module doc gives it."""
    assert counters.kind(counter) == kind


def test_fallbacks_and_traced_ops_leave_transfers_out() -> None:
    """fallbacks() and traced_ops() drop transfers and host reads."""
    names = ["aten::sin", "aten::_local_scalar_dense", "xla::_copy_from", "xla::mul", "MarkStep"]
    assert counters.fallbacks(names) == ["aten::sin"]
    assert counters.traced_ops(names) == ["xla::mul"]


def test_op_sweep_does_not_count_transfers_as_fallbacks(run_suite: RunSuite) -> None:
    """A backend counting xla::_copy_from and aten::_local_scalar_dense keeps add native."""
    run = run_suite(
        "conformance.lazy.test_ops", "lacking_lazy:counts_transfers", "--ops=add,mul", "-q"
    )
    assert run.ret == 0, run.text()
    tests = {t["id"]: t for t in run.report["tests"]}
    for op in ("add", "mul"):
        entry = tests[f"lazy/test_ops.py::test_op[{op}-float32]"]
        assert entry["outcome"] == "passed"
        assert entry["dispatch"] == "native", entry
        assert entry["fallbacks"] == []
