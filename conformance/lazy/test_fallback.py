"""CPU fallback: ops without a lowering, and ops forced through config, run on CPU."""

from __future__ import annotations

import pytest
import torch

from conformance.contract import LazyArea
from conformance.lazy.dialects import ops

# PyTorch's C++ side remembers the first op given to set_force_fallback for the life of
# the process, so the whole suite only ever forces this one op.
FORCED = "aten::add"


@pytest.mark.conformance_needs("sin_falls_back", "counter:lazy_ops")
def test_unlowered_op_falls_back_and_counts(lazy_area: LazyArea) -> None:
    """sin has no lowering: it runs on CPU, counts aten::sin, and gives CPU's values."""
    x = torch.rand(5)
    y = torch.sin(x.to(lazy_area.device))
    assert lazy_area.counter_value("aten::sin") == 1
    assert lazy_area.counter_value("lazy::sin") is None
    torch.testing.assert_close(y.cpu(), torch.sin(x))


@pytest.mark.conformance_needs("sin_falls_back")
def test_fallback_result_is_device_data(lazy_area: LazyArea) -> None:
    """A fallback's result enters the IR as device data, not as the op."""
    y = torch.sin(torch.rand(3).to(lazy_area.device))
    found = ops(lazy_area.ir_text([y]), lazy_area.ir_dialect)
    assert "sin" not in found
    assert "device_data" in found


@pytest.mark.conformance_needs("force_fallback", "counter:lazy_ops")
def test_force_fallback_runs_op_on_cpu(lazy_area: LazyArea) -> None:
    """With aten::add forced, add counts under aten::add.Tensor and not lazy::add."""
    a, b = torch.rand(3), torch.rand(3)
    lazy_area.set_force_fallback(FORCED)
    assert lazy_area.get_force_fallback() == FORCED
    out = a.to(lazy_area.device) + b.to(lazy_area.device)
    assert lazy_area.counter_value("aten::add.Tensor") == 1
    assert lazy_area.counter_value("lazy::add") is None
    torch.testing.assert_close(out.cpu(), a + b)


@pytest.mark.conformance_needs("force_fallback", "counter:lazy_ops")
def test_clearing_force_fallback_lowers_again(lazy_area: LazyArea) -> None:
    """After set_force_fallback(""), add is recorded as lazy::add again."""
    lazy_area.set_force_fallback(FORCED)
    lazy_area.set_force_fallback("")
    assert lazy_area.get_force_fallback() == ""
    x = torch.rand(3).to(lazy_area.device)
    out = x + x
    assert lazy_area.counter_value("lazy::add") == 1
    assert lazy_area.counter_value("aten::add.Tensor") is None
    assert "add" in ops(lazy_area.ir_text([out]), lazy_area.ir_dialect)


def test_item_falls_back_to_local_scalar_dense(lazy_area: LazyArea) -> None:
    """.item() on a lazy tensor syncs it and counts aten::_local_scalar_dense."""
    x = torch.arange(4.0)
    value = (x.to(lazy_area.device) * 2).sum().item()
    assert value == float((x * 2).sum())
    assert lazy_area.counter_value("aten::_local_scalar_dense") == 1


@pytest.mark.conformance_needs("force_fallback", "counter:lazy_ops")
def test_switching_forced_op_takes_effect(lazy_area: LazyArea) -> None:
    """Forcing another op replaces the first: mul falls back, add is lowered again.

    The first forced op is used before the switch, so the test sees the same backend
    state whichever tests ran before it in the process (PyTorch pins the forced op when
    a fallback check first reads it, not when it is set): shards and one run agree.
    """
    lazy_area.set_force_fallback(FORCED)
    x = torch.rand(3)
    lazy = x.to(lazy_area.device)
    lazy + lazy  # the forced op is now in effect (and pinned, where a backend pins it)
    assert lazy_area.counter_value("aten::add.Tensor") == 1
    lazy_area.set_force_fallback("aten::mul")
    lazy_area.reset_metrics()
    product, total = lazy * lazy, lazy + lazy
    assert lazy_area.counter_value("aten::mul.Tensor") == 1
    assert lazy_area.counter_value("lazy::add") == 1
    assert lazy_area.counter_value("aten::add.Tensor") is None
    torch.testing.assert_close(product.cpu(), x * x)
    torch.testing.assert_close(total.cpu(), x + x)


@pytest.mark.conformance_needs("sin_falls_back", "counter:lazy_ops")
def test_fallback_copies_inputs_and_outputs(lazy_area: LazyArea) -> None:
    """A fallback moves its lazy input to CPU and its result back: two lazy::_to_copy."""
    x = torch.rand(3).to(lazy_area.device)
    lazy_area.mark_step()
    lazy_area.reset_metrics()
    torch.sin(x)
    assert lazy_area.counter_value("lazy::_to_copy") == 2
