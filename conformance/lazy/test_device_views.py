"""Moving strided CPU views to the device and device views back to CPU.

A CPU tensor need not be contiguous: a transposed matrix, a column (a storage offset
and a stride), every other element, an expanded row (stride 0), overlapping windows.
Moving one to the device (``.to``, ``copy_``) must give the view's values, not the
bytes of its storage read in order, and a copy: later writes to the CPU base do not
reach the device tensor. Moving device views back gives their values in a fresh
CPU tensor. The op sweep moves contiguous samples only; these tests cover the rest.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from conformance.contract import LazyArea

View = Callable[[torch.Tensor], torch.Tensor]

#: A view of a 4x6 base, named for its layout.
VIEWS: dict[str, View] = {
    "transposed": lambda b: b.t(),
    "row_slice_with_offset": lambda b: b[1:3],
    "column": lambda b: b[:, 2],
    "every_other_column": lambda b: b[:, ::2],
    "offset_and_step": lambda b: b[1:, 1::3],
    "expanded_row": lambda b: b[1:2].expand(3, 6),
    "overlapping_windows": lambda b: b.flatten().unfold(0, 4, 3),
    "overlapping_strides": lambda b: b.flatten().as_strided((3, 3), (1, 1), 2),
    "single_element": lambda b: b[2, 3],
    "permuted": lambda b: b.reshape(2, 3, 4).permute(2, 0, 1),
    "channels_last": lambda b: b.reshape(1, 4, 3, 2).contiguous(memory_format=torch.channels_last),
    "diagonal_with_offset": lambda b: b.diagonal(offset=1),
    "empty_slice": lambda b: b[2:2],
}

#: Dtypes of the base (names of the op sweep's dtypes).
DTYPES = [torch.float32, torch.int64, torch.bool, torch.float16]
CASES = [
    pytest.param(view, dtype, id=f"{view}-{str(dtype).removeprefix('torch.')}")
    for view in VIEWS
    for dtype in (DTYPES if view in ("transposed", "offset_and_step") else DTYPES[:1])
]


def base(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    values = torch.arange(24.0).reshape(4, 6) - 7.5
    return values > 0 if dtype == torch.bool else values.to(dtype)


def op(t: torch.Tensor) -> torch.Tensor:
    """An op on the moved tensor, so its values also reach a computation on the device."""
    return ~t if t.dtype == torch.bool else t * 2 - 1


def _layout(t: torch.Tensor) -> str:
    return f"shape {list(t.shape)}, stride {list(t.stride())}, offset {t.storage_offset()}"


@pytest.mark.parametrize(("view", "dtype"), CASES)
def test_cpu_view_moves_to_the_device(lazy_area: LazyArea, view: str, dtype: torch.dtype) -> None:
    """``view.to(device)`` holds the view's values (not its storage in order) and computes."""
    cpu = VIEWS[view](base(dtype))
    lazy = cpu.to(lazy_area.device)
    assert lazy.device.type == lazy_area.device
    assert (lazy.shape, lazy.dtype) == (cpu.shape, cpu.dtype)
    result = op(lazy)
    lazy_area.mark_step()
    where = f"CPU view with {_layout(cpu)}"
    torch.testing.assert_close(lazy.cpu(), cpu, rtol=0, atol=0, msg=lambda m: f"{where}: {m}")
    torch.testing.assert_close(result.cpu(), op(cpu), msg=lambda m: f"op on {where}: {m}")


@pytest.mark.parametrize(("view", "dtype"), CASES)
def test_copy_into_a_device_tensor_from_a_cpu_view(
    lazy_area: LazyArea, view: str, dtype: torch.dtype
) -> None:
    """``device_tensor.copy_(view)`` writes the view's values, element by element."""
    cpu = VIEWS[view](base(dtype))
    lazy = torch.zeros(cpu.shape, dtype=dtype, device=lazy_area.device)
    lazy.copy_(cpu)
    lazy_area.mark_step()
    torch.testing.assert_close(
        lazy.cpu(), cpu, rtol=0, atol=0, msg=lambda m: f"from a view with {_layout(cpu)}: {m}"
    )


@pytest.mark.parametrize("view", list(VIEWS))
def test_moved_view_does_not_follow_its_cpu_base(lazy_area: LazyArea, view: str) -> None:
    """After the move, writing into the CPU base changes nothing on the device."""
    cpu_base = base()
    lazy = VIEWS[view](cpu_base).to(lazy_area.device)
    expected = VIEWS[view](base()).clone()
    cpu_base.add_(100)
    torch.testing.assert_close(lazy.cpu(), expected, msg=lambda m: f"before a step: {m}")
    cpu_base.mul_(-1)
    lazy_area.mark_step()
    torch.testing.assert_close(lazy.cpu(), expected, msg=lambda m: f"after a step: {m}")


def test_cpu_view_moves_with_a_dtype_conversion(lazy_area: LazyArea) -> None:
    """``view.to(device, dtype)`` converts the view's values, for a strided view with offset."""
    cpu = VIEWS["offset_and_step"](base())
    lazy = cpu.to(lazy_area.device, torch.float64)
    assert lazy.dtype == torch.float64
    torch.testing.assert_close(lazy.cpu(), cpu.to(torch.float64), rtol=0, atol=0)


#: Views of a device tensor (overlapping ``unfold``/``as_strided`` windows left out:
#: PyTorch's lazy backend has no lowering for ``as_strided`` and views cannot fall back).
BACK = [v for v in VIEWS if v not in ("overlapping_windows", "overlapping_strides")]


@pytest.mark.parametrize("view", BACK)
def test_device_view_moves_back_to_cpu(lazy_area: LazyArea, view: str) -> None:
    """A view of a device tensor comes back with the CPU view's values, as a fresh tensor."""
    lazy_base = base().to(lazy_area.device)
    lazy_area.mark_step()
    back = VIEWS[view](lazy_base).cpu()
    expected = VIEWS[view](base())
    torch.testing.assert_close(back, expected, rtol=0, atol=0)
    if back.numel():
        back.fill_(1234)
    torch.testing.assert_close(lazy_base.cpu(), base(), msg=lambda m: f"base after writing: {m}")
