"""IR reuse: with reuse on, retracing a program reuses the nodes of the earlier trace."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from conformance.contract import LazyArea

pytestmark = pytest.mark.conformance_needs("ir_reuse")

# The only op the lazy suite ever forces (PyTorch keeps the first forced op per process).
FORCED = "aten::add"


@pytest.fixture
def reuse_on(lazy_area: LazyArea) -> Iterator[LazyArea]:
    lazy_area.set_reuse_ir(True)
    try:
        yield lazy_area
    finally:
        lazy_area.set_reuse_ir(False)


def program(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return ((x - y) * y).relu() + x


def program_with_middle_add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    z = (x - y) * y
    z = z + x  # forced to fall back in the tests that force FORCED
    return (z * z).relu() - y


def test_retrace_on_same_inputs_reuses_nodes(reuse_on: LazyArea) -> None:
    """After two warm-up traces, tracing again on unchanged inputs reuses sub, mul and add.

    PyTorch's trie only settles on the second trace (the first one after the inputs
    became device data), so the check is on the third.
    """
    area = reuse_on
    xc, yc = torch.randn(3, 4), torch.randn(3, 4)
    x, y = xc.to(area.device), yc.to(area.device)
    area.mark_step()  # x and y are plain device data from now on
    for _ in range(2):
        program(x, y)
        area.mark_step()
    area.reset_metrics()
    out = program(x, y)
    area.mark_step()
    reused = {op: area.ir_reuse_count(op) for op in ("aten::sub", "aten::mul", "aten::add")}
    assert all(n >= 1 for n in reused.values()), f"nodes reused per op: {reused}"
    torch.testing.assert_close(out.cpu(), program(xc, yc))


def test_reuse_off_reuses_nothing(lazy_area: LazyArea) -> None:
    """With reuse off (the default), retracing reuses no node (of any of the program's ops)."""
    x, y = torch.randn(3, 4).to(lazy_area.device), torch.randn(3, 4).to(lazy_area.device)
    lazy_area.mark_step()
    for _ in range(3):  # the reuse test sees reuse from the third trace on
        out = program(x, y)
        lazy_area.mark_step()
    reused = {op: lazy_area.ir_reuse_count(op) for op in ("aten::sub", "aten::mul", "aten::add")}
    assert reused == dict.fromkeys(reused, 0), f"nodes reused per op: {reused}"
    del out


def test_reuse_keeps_values_right_on_new_data(reuse_on: LazyArea) -> None:
    """Rerunning the program on new data each step gives CPU's values (nothing stale)."""
    area = reuse_on
    generator = torch.Generator().manual_seed(0)
    for step in range(4):
        xc, yc = torch.randn(3, 4, generator=generator), torch.randn(3, 4, generator=generator)
        out = program(xc.to(area.device), yc.to(area.device))
        area.mark_step()
        torch.testing.assert_close(out.cpu(), program(xc, yc), msg=f"step {step}")


def test_reuse_keeps_values_right_after_inputs_change(reuse_on: LazyArea) -> None:
    """Updating an input in place between retraces gives CPU's values for the new input."""
    area = reuse_on
    xc, yc = torch.randn(3, 4), torch.randn(3, 4)
    x, y = xc.to(area.device), yc.to(area.device)
    for step in range(3):
        out = program(x, y)
        area.mark_step()
        torch.testing.assert_close(out.cpu(), program(xc, yc), msg=f"step {step}")
        x.mul_(0.5).add_(1.0)
        xc.mul_(0.5).add_(1.0)
        area.mark_step()


@pytest.mark.conformance_needs("force_fallback")
def test_reuse_with_forced_fallback_in_the_middle(reuse_on: LazyArea) -> None:
    """A forced fallback inside the program leaves results right, retrace after retrace."""
    area = reuse_on
    area.set_force_fallback(FORCED)
    xc, yc = torch.randn(3, 4), torch.randn(3, 4)
    x, y = xc.to(area.device), yc.to(area.device)
    for step in range(3):
        out = program_with_middle_add(x, y)
        area.mark_step()
        torch.testing.assert_close(out.cpu(), program_with_middle_add(xc, yc), msg=f"step {step}")
    assert area.counter_value("aten::add.Tensor") == 3
    generator = torch.Generator().manual_seed(1)
    xc, yc = torch.randn(3, 4, generator=generator), torch.randn(3, 4, generator=generator)
    out = program_with_middle_add(xc.to(area.device), yc.to(area.device))
    area.mark_step()
    torch.testing.assert_close(out.cpu(), program_with_middle_add(xc, yc), msg="new data")
