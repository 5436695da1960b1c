"""Factory functions with device="lazy" and under ``with torch.device("lazy")``."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from conformance.contract import LazyArea

FACTORIES: dict[str, Callable[[], torch.Tensor]] = {
    "ones": lambda: torch.ones(2, 3),
    "zeros": lambda: torch.zeros(4),
    "full": lambda: torch.full((2, 2), 7.5),
    "ones_int": lambda: torch.ones(3, dtype=torch.int64),
    "zeros_bool": lambda: torch.zeros(2, dtype=torch.bool),
    "eye": lambda: torch.eye(3),
    "arange": lambda: torch.arange(5),
    "arange_float": lambda: torch.arange(0.0, 2.0, 0.5),
    "linspace": lambda: torch.linspace(0, 1, 5),
    "tensor_literal": lambda: torch.tensor([1.0, 2.0, 3.0]),
    "empty_then_fill": lambda: torch.empty(3).fill_(4.0),
}


@pytest.mark.parametrize("name", list(FACTORIES))
def test_factory_under_device_context(lazy_area: LazyArea, name: str) -> None:
    """Inside ``with torch.device(lazy)`` a factory makes a lazy tensor equal to the CPU one."""
    factory = FACTORIES[name]
    expected = factory()
    with torch.device(lazy_area.device):
        actual = factory()
    assert actual.device.type == lazy_area.device
    assert actual.dtype == expected.dtype
    torch.testing.assert_close(actual.cpu(), expected)


def test_factory_with_device_argument(lazy_area: LazyArea) -> None:
    """device= on a factory puts the tensor on the lazy device with the right values."""
    t = torch.full((3,), 2.0, device=lazy_area.device)
    assert t.device.type == lazy_area.device
    torch.testing.assert_close((t * t).cpu(), torch.full((3,), 4.0))


@pytest.mark.conformance_needs("cpu_rng")
def test_module_created_under_device_context(lazy_area: LazyArea) -> None:
    """nn.Linear built under the lazy device context has lazy parameters and CPU's values."""
    torch.manual_seed(7)
    cpu = torch.nn.Linear(4, 2)
    torch.manual_seed(7)
    with torch.device(lazy_area.device):
        lazy = torch.nn.Linear(4, 2)
    assert all(p.device.type == lazy_area.device for p in lazy.parameters())
    lazy_area.mark_step()
    torch.testing.assert_close(lazy.weight.cpu(), cpu.weight.detach())
    torch.testing.assert_close(lazy.bias.cpu(), cpu.bias.detach())
    x = torch.ones(3, 4)
    torch.testing.assert_close(lazy(x.to(lazy_area.device)).cpu(), cpu(x).detach())


@pytest.mark.conformance_needs("cpu_rng")
def test_rand_follows_the_cpu_generator(lazy_area: LazyArea) -> None:
    """torch.rand on the lazy device, seeded the same, equals torch.rand on CPU."""
    torch.manual_seed(11)
    expected = torch.rand(5)
    torch.manual_seed(11)
    actual = torch.rand(5, device=lazy_area.device)
    lazy_area.mark_step()
    torch.testing.assert_close(actual.cpu(), expected)


def test_like_factories_keep_shape_and_dtype(lazy_area: LazyArea) -> None:
    """ones_like/zeros_like/full_like of a lazy tensor are lazy with its shape and dtype."""
    src = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    lazy = src.to(lazy_area.device)
    for make in (torch.ones_like, torch.zeros_like, lambda t: torch.full_like(t, 3.0)):
        out = make(lazy)
        assert out.device.type == lazy_area.device
        torch.testing.assert_close(out.cpu(), make(src))
