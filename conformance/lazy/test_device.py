"""Device round trips, device reporting and mixing devices."""

from __future__ import annotations

import pytest
import torch

from conformance.contract import LazyArea
from conformance.lazy.dialects import ops

DTYPES = [
    torch.float32,
    torch.float64,
    torch.float16,
    torch.bfloat16,
    torch.int64,
    torch.int32,
    torch.int16,
    torch.int8,
    torch.uint8,
    torch.bool,
]


def sample(dtype: torch.dtype) -> torch.Tensor:
    base = torch.arange(-3, 9).reshape(3, 4)
    if dtype == torch.bool:
        return base % 3 == 0
    if dtype == torch.uint8:
        return (base + 3).to(dtype)
    return (base * 1.25).to(dtype) if dtype.is_floating_point else base.to(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_round_trip_keeps_values_and_dtype(lazy_area: LazyArea, dtype: torch.dtype) -> None:
    """t.to(lazy).cpu() gives back t exactly, for every dtype."""
    cpu = sample(dtype)
    lazy = cpu.to(lazy_area.device)
    assert lazy.device.type == lazy_area.device
    assert lazy.dtype == dtype
    assert lazy.shape == cpu.shape
    torch.testing.assert_close(lazy.cpu(), cpu, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_round_trip_after_mark_step(lazy_area: LazyArea, dtype: torch.dtype) -> None:
    """Device data survives a step: .to("cpu") after mark_step still gives t."""
    cpu = sample(dtype)
    lazy = cpu.to(lazy_area.device)
    lazy_area.mark_step()
    torch.testing.assert_close(lazy.to("cpu"), cpu, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.int32, torch.bfloat16], ids=str)
def test_dtype_conversion_on_device(lazy_area: LazyArea, dtype: torch.dtype) -> None:
    """A dtype conversion on the lazy device equals the same conversion on CPU."""
    cpu = sample(torch.float32)
    lazy = cpu.to(lazy_area.device).to(dtype)
    assert lazy.dtype == dtype
    torch.testing.assert_close(lazy.cpu(), cpu.to(dtype))


def test_to_cpu_handles_pytrees(lazy_area: LazyArea) -> None:
    """to_cpu syncs and copies a nested structure of lazy tensors, keeping its shape."""
    a, b = torch.ones(2), torch.arange(3.0)
    tree = {"a": a.to(lazy_area.device) * 2, "rest": [b.to(lazy_area.device) + 1]}
    out = lazy_area.to_cpu(tree)
    assert set(out) == {"a", "rest"}
    assert out["a"].device.type == "cpu"
    torch.testing.assert_close(out["a"], a * 2)
    torch.testing.assert_close(out["rest"][0], b + 1)


@pytest.mark.conformance_needs("counter:SyncedTensorsWithIR")
def test_sync_multi_executes_only_the_given_tensors(lazy_area: LazyArea) -> None:
    """sync_multi turns the given tensors' IR into device data; their values are right."""
    x = torch.arange(4.0).to(lazy_area.device)
    y = x * 3
    lazy_area.sync_multi([y])
    assert lazy_area.counter_value("SyncedTensorsWithIR") is not None
    assert ops(lazy_area.ir_text([y]), lazy_area.ir_dialect) == ["device_data"]
    torch.testing.assert_close(y.cpu(), torch.arange(4.0) * 3)


def test_mixing_cpu_and_lazy_raises(lazy_area: LazyArea) -> None:
    """An op mixing a CPU tensor and a lazy tensor raises, naming the non-lazy input."""
    with pytest.raises(RuntimeError, match="not a lazy tensor"):
        torch.ones(3) + torch.ones(3, device=lazy_area.device)


def test_dtype_mismatch_raises_like_cpu(lazy_area: LazyArea) -> None:
    """A float32 Linear on float16 input fails on the lazy device as it does on CPU."""
    with pytest.raises(RuntimeError, match="dtype"):
        torch.nn.Linear(3, 2)(torch.ones(2, 3, dtype=torch.float16))
    linear = torch.nn.Linear(3, 2).to(lazy_area.device)
    with pytest.raises(RuntimeError, match="dtype"):
        linear(torch.ones(2, 3, dtype=torch.float16, device=lazy_area.device))


def test_wait_device_ops_returns_after_step(lazy_area: LazyArea) -> None:
    """wait_device_ops returns once a step's work is done, leaving values intact."""
    x = torch.arange(3.0).to(lazy_area.device) + 1
    lazy_area.mark_step()
    lazy_area.wait_device_ops()
    torch.testing.assert_close(x.cpu(), torch.arange(3.0) + 1)


def test_zero_dim_cpu_tensor_acts_as_scalar(lazy_area: LazyArea) -> None:
    """A 0-dim CPU tensor may join a lazy op, as a scalar does; the result stays lazy."""
    x = torch.arange(3.0)
    out = x.to(lazy_area.device) * torch.tensor(2.5)
    assert out.device.type == lazy_area.device
    torch.testing.assert_close(out.cpu(), x * 2.5)


def test_device_index_is_zero(lazy_area: LazyArea) -> None:
    """Tensors made with device "lazy" report the default device index 0, like lazy:0."""
    a = torch.ones(2, device=lazy_area.device)
    b = torch.ones(2).to(f"{lazy_area.device}:0")
    assert a.device == b.device == torch.device(lazy_area.device, 0)


def test_shape_error_raises_at_trace_time(lazy_area: LazyArea) -> None:
    """Adding tensors of unbroadcastable shapes raises when the op is traced."""
    a, b = torch.ones(3, device=lazy_area.device), torch.ones(4, device=lazy_area.device)
    with pytest.raises(RuntimeError):
        a + b


def test_inplace_promotion_error_like_cpu(lazy_area: LazyArea) -> None:
    """An in-place op that would need a wider result dtype raises, as on CPU."""
    with pytest.raises(RuntimeError, match="Long"):
        torch.ones(3, dtype=torch.long).add_(1.5)
    with pytest.raises(RuntimeError, match=r"int|Long"):
        torch.ones(3, dtype=torch.long, device=lazy_area.device).add_(1.5)


def test_printing_shows_values(lazy_area: LazyArea) -> None:
    """repr of a lazy tensor shows its values and its lazy device."""
    text = repr(torch.arange(3.0, device=lazy_area.device) * 2)
    assert "tensor([0., 2., 4.]" in text
    assert f"device='{lazy_area.device}" in text


def test_cpu_copy_is_independent(lazy_area: LazyArea) -> None:
    """Writing into .cpu()'s result leaves the lazy tensor unchanged, before and after a step."""
    lazy = torch.arange(4.0).to(lazy_area.device)
    first = lazy.cpu()
    first.add_(100)
    lazy_area.mark_step()
    second = lazy.cpu()
    second.mul_(0)
    torch.testing.assert_close(lazy.cpu(), torch.arange(4.0))


def test_cpu_result_of_a_view_is_contiguous(lazy_area: LazyArea) -> None:
    """The CPU copy of a transposed lazy tensor is contiguous and has the transposed values."""
    cpu = torch.arange(6.0).reshape(2, 3)
    lazy = cpu.to(lazy_area.device).t()
    lazy_area.mark_step()
    out = lazy.cpu()
    assert out.is_contiguous()
    torch.testing.assert_close(out, cpu.t())


@pytest.mark.conformance_needs("counter:SyncedTensorsWithIR")
def test_sync_multi_leaves_other_tensors_pending(lazy_area: LazyArea) -> None:
    """sync_multi does not execute tensors it was not given."""
    x = torch.rand(3).to(lazy_area.device)
    y, z = x * 2, x + 5
    lazy_area.sync_multi([y])
    assert "add" in ops(lazy_area.ir_text([z]), lazy_area.ir_dialect)
    assert lazy_area.counter_value("SyncedTensorsWithIR") == 1


#: ``copy_`` between two device tensors: (destination dtype and shape, source on CPU).
DEVICE_COPIES = {
    "same_type": (torch.float32, (2, 3), lambda: torch.arange(6.0).reshape(2, 3) - 2.5),
    "float64_into_float32": (
        torch.float32,
        (2, 3),
        lambda: torch.arange(6.0).view(2, 3).double() / 3,
    ),
    "float_into_int64": (torch.int64, (2, 3), lambda: (torch.arange(6.0) * 1.75 - 4).view(2, 3)),
    "row_broadcast": (torch.float32, (2, 3), lambda: torch.tensor([1.5, -2.0, 3.25])),
    "int_row_into_float": (torch.float64, (3, 2), lambda: torch.tensor([[7], [-1], [4]])),
}


@pytest.mark.parametrize("case", list(DEVICE_COPIES))
def test_copy_between_device_tensors(lazy_area: LazyArea, case: str) -> None:
    """``dst.copy_(src)`` of two device tensors converts src's dtype and broadcasts its shape.

    The destination keeps its own dtype and shape, as on CPU; each case differs from the
    plain same-type copy in one thing (dtype, broadcast) or both.
    """
    dtype, shape, make = DEVICE_COPIES[case]
    source = make()
    expected = torch.zeros(shape, dtype=dtype).copy_(source)
    dst = torch.zeros(shape, dtype=dtype).to(lazy_area.device)
    dst.copy_(source.to(lazy_area.device))
    before_step = dst.cpu()
    assert (before_step.dtype, tuple(before_step.shape)) == (dtype, shape)
    torch.testing.assert_close(before_step, expected)
    lazy_area.mark_step()
    torch.testing.assert_close(dst.cpu(), expected)


@pytest.mark.parametrize(
    "make",
    ["new_zeros", "new_full", "new_empty", "rand_like"],
)
def test_factory_naming_the_device_on_a_device_tensor(lazy_area: LazyArea, make: str) -> None:
    """A factory called on a device tensor with ``device=`` naming the device again
    (``x.new_zeros(2, 3, device=...)``) gives a device tensor whose ``.cpu()`` is a
    plain CPU tensor of the right shape and dtype (and values, where they are defined)."""
    device = lazy_area.device
    x = torch.ones(4, dtype=torch.float64).to(device)
    calls = {
        "new_zeros": lambda: x.new_zeros(2, 3, device=device),
        "new_full": lambda: x.new_full((2, 3), 1.5, device=device),
        "new_empty": lambda: x.new_empty(2, 3, device=device),
        "rand_like": lambda: torch.rand_like(x, device=device),
    }
    out = calls[make]()
    assert out.device.type == device
    back = out.cpu()
    assert type(back) is torch.Tensor
    assert back.device.type == "cpu"
    assert back.dtype == torch.float64
    assert back.shape == ((4,) if make == "rand_like" else (2, 3))
    if make == "new_zeros":
        torch.testing.assert_close(back, torch.zeros(2, 3, dtype=torch.float64))
    if make == "new_full":
        torch.testing.assert_close(back, torch.full((2, 3), 1.5, dtype=torch.float64))
