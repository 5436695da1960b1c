"""Functionalization: lazy init of a model with views, and ``.data`` assignment IR."""

from __future__ import annotations

import pytest
import torch

from conformance.contract import LazyArea
from conformance.lazy.dialects import canonical_ops, same_graph


class Model(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.fc1.weight.transpose(0, 1)


def run_model(device: str) -> torch.Tensor:
    torch.manual_seed(2023)
    with torch.device(device):
        model = Model()
        return model(torch.ones(4))


@pytest.mark.conformance_needs("counter:SyncedTensorsWithIR", "cpu_rng")
@pytest.mark.parametrize(("reset_storage", "synced"), [(False, 2), (True, 1)])
def test_lazy_init_with_view(lazy_area: LazyArea, reset_storage: bool, synced: int) -> None:
    """Lazy init syncs the weight, plus its storage history unless reset; values match CPU."""
    expected = run_model("cpu")
    torch.manual_seed(2023)
    lazy_area.reset_metrics()
    with torch.device(lazy_area.device):
        model = Model()
        if reset_storage:
            lazy_area.reset_storage(model.fc1.weight)
        lazy_area.mark_step()
        assert lazy_area.counter_value("SyncedTensorsWithIR") == synced
        out = model(torch.ones(4))
        lazy_area.mark_step()
    torch.testing.assert_close(out.cpu(), expected.detach())


def test_data_assign_with_dtype_change_updates_ir(lazy_area: LazyArea) -> None:
    """Assigning .data a converted tensor makes the IR a _to_copy of the old data."""
    tensor = torch.rand(3).to(lazy_area.device)
    before = "IR {\n  %0 = [Float[3]] lazy_tensors::device_data(), device=CPU0, ROOT=0\n}\n"
    assert same_graph(lazy_area.ir_text([tensor]), lazy_area.ir_dialect, before)
    tensor.data = tensor.to(torch.bfloat16)
    assert tensor.dtype == torch.bfloat16
    after = (
        "IR {\n"
        "  %0 = [Float[3]] lazy_tensors::device_data(), device=CPU0\n"
        "  %1 = [BFloat16[3]] aten::_to_copy(%0), dtype=BFloat16, layout=null, device=null, "
        "pin_memory=null, non_blocking=0, memory_format=null, ROOT=0\n"
        "}\n"
    )
    assert same_graph(lazy_area.ir_text([tensor]), lazy_area.ir_dialect, after)


def test_data_assign_values(lazy_area: LazyArea) -> None:
    """After .data assignment the tensor holds the new values and dtype, after a step too."""
    cpu = torch.arange(4.0) / 3
    lazy = cpu.to(lazy_area.device)
    lazy.data = lazy.to(torch.float64) * 2
    lazy_area.mark_step()
    assert lazy.dtype == torch.float64
    torch.testing.assert_close(lazy.cpu(), cpu.to(torch.float64) * 2)


def test_view_text_shows_functional_ops(lazy_area: LazyArea) -> None:
    """In-place on a view is recorded as functional ops (view_copy, add), no in-place op.

    Op names are compared in the dialect-independent vocabulary (``dialects.canonical``:
    PyTorch's ``view_copy`` and torch_xla's ``view`` are both ``view``); PyTorch-dialect
    text is also held to ``view_copy`` byte for byte by the goldens.
    """
    x = torch.rand(4).to(lazy_area.device)
    v = x.view(2, 2)
    v.add_(1)
    found = canonical_ops(lazy_area.ir_text([v]), lazy_area.ir_dialect)
    assert "view" in found
    assert "add" in found
    assert "add_" not in found


def test_slice_write_records_slice_scatter(lazy_area: LazyArea) -> None:
    """Writing through a slice records slice_copy/slice_scatter once the base is used.

    (In the dialect-independent vocabulary, ``slice``/``slice_scatter``: torch_xla spells
    them select/unselect.)
    """
    x = torch.rand(4, 3).to(lazy_area.device) * 1
    x[1:3].mul_(2)
    found = canonical_ops(lazy_area.ir_text([x + 0]), lazy_area.ir_dialect)
    assert "slice_scatter" in found
    assert "slice" in found  # PyTorch's slice_copy
