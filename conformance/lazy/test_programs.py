"""Every program of ``programs.py``: values equal to CPU, and IR text equal to its golden file."""

from __future__ import annotations

import pytest

from conformance.contract import LazyArea
from conformance.lazy.divergence import assert_close_or_explain
from conformance.lazy.golden import check_golden
from conformance.lazy.programs import CASES, Case

ids = [case.name for case in CASES]


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_values_match_cpu(lazy_area: LazyArea, case: Case) -> None:
    """The program's outputs on the lazy device, after a step, equal the same program on CPU."""
    expected = case.fn("cpu")
    actual = case.fn(lazy_area.device)
    assert all(t.device.type == lazy_area.device for t in actual)
    lazy_area.mark_step()
    assert len(actual) == len(expected)
    for k, (got, want) in enumerate(zip(actual, expected, strict=True)):
        # On a mismatch the message names the first divergent IR node (divergence.py).
        assert_close_or_explain(lazy_area, got.cpu(), want, case.fn, what=f"output {k}")


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_ir_text_matches_golden(
    lazy_area: LazyArea, case: Case, pytestconfig: pytest.Config
) -> None:
    """The IR text of the program's outputs, before any step, equals golden/<program>.txt."""
    # Byte for byte in the goldens' own dialect, else structurally (golden.py).
    check_golden(lazy_area, case.name, lazy_area.ir_text(case.fn(lazy_area.device)), pytestconfig)
