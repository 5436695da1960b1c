"""The cached() context manager: one evaluation per tensor while active, none kept after."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from conformance.parametrize._examples import Counting, Double, Symmetric, symmetric


def _counted_linear(P, n: int = 4) -> tuple[nn.Linear, Counting]:
    m = nn.Linear(n, n)
    counter = Counting(Symmetric())
    P.register_parametrization(m, "weight", counter)
    counter.calls = 0
    return m, counter


def test_without_cache_every_read_recomputes(parametrize_area):
    """Outside cached(), every read evaluates the chain and returns a new tensor."""
    P = parametrize_area.parametrize
    m, counter = _counted_linear(P)
    first, second = m.weight, m.weight
    assert first is not second
    assert counter.calls == 2


def test_cached_returns_the_same_object(parametrize_area):
    """Inside cached(), repeated reads return the same tensor object, evaluated once."""
    P = parametrize_area.parametrize
    m, counter = _counted_linear(P)
    with P.cached():
        first = m.weight
        second = m.weight
        m(torch.randn(2, 4))
    assert first is second
    assert counter.calls == 1
    assert_close(first.detach(), symmetric(m.parametrizations.weight.original.detach()))


def test_cache_is_dropped_on_exit(parametrize_area):
    """After cached() exits, reads see changes made to the originals since."""
    P = parametrize_area.parametrize
    m, _ = _counted_linear(P)
    with P.cached():
        inside = m.weight
    with torch.no_grad():
        m.parametrizations.weight.original.mul_(3.0)
    after = m.weight
    assert after is not inside
    assert_close(after.detach(), symmetric(m.parametrizations.weight.original.detach()))
    with P.cached():
        again = m.weight
    assert again is not inside
    assert_close(again.detach(), symmetric(m.parametrizations.weight.original.detach()))


def test_cache_is_dropped_when_the_block_raises(parametrize_area):
    """An exception leaving cached() still drops the cached values."""
    P = parametrize_area.parametrize
    m, counter = _counted_linear(P)
    seen = []

    def read_then_fail() -> None:
        with P.cached():
            seen.append(m.weight)
            raise KeyError("boom")

    with pytest.raises(KeyError):
        read_then_fail()
    inside = seen[0]
    assert m.weight is not inside
    with P.cached():
        assert m.weight is not inside
    assert counter.calls == 3


def test_nested_cached_blocks_share_until_the_outermost_exits(parametrize_area):
    """Nested cached() blocks share one cache, which survives the inner exit."""
    P = parametrize_area.parametrize
    m, counter = _counted_linear(P)
    with P.cached():
        outer = m.weight
        with P.cached():
            inner = m.weight
        after_inner = m.weight
    assert outer is inner
    assert after_inner is outer
    assert counter.calls == 1
    assert m.weight is not outer


def test_cache_is_per_tensor(parametrize_area):
    """Two parametrized tensors of one module are cached separately."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    b = m.bias.detach().clone()
    P.register_parametrization(m, "weight", Double())
    P.register_parametrization(m, "bias", Double())
    with P.cached():
        weight, bias = m.weight, m.bias
        assert weight is not bias
        assert m.weight is weight
        assert m.bias is bias
    assert_close(bias.detach(), b)


def test_cache_is_per_module(parametrize_area):
    """Two modules parametrized alike each get their own cached value."""
    P = parametrize_area.parametrize
    a, b = nn.Linear(3, 3), nn.Linear(3, 3)
    P.register_parametrization(a, "weight", Double())
    P.register_parametrization(b, "weight", Double())
    with P.cached():
        wa, wb = a.weight, b.weight
        assert wa is not wb
        assert a.weight is wa
    assert_close(wb.detach(), 2 * b.parametrizations.weight.original.detach())


def test_cached_forward_matches_uncached(parametrize_area, device):
    """A forward pass inside cached() computes what it computes outside, on every device."""
    P = parametrize_area.parametrize
    m = nn.Linear(5, 5)
    P.register_parametrization(m, "weight", Symmetric())
    W = symmetric(m.parametrizations.weight.original.detach())
    b = m.bias.detach().clone()
    x = torch.randn(3, 5)
    m.to(device)
    with P.cached():
        out = m(x.to(device)) + m(2 * x.to(device))
    assert_close(out.detach().cpu(), (x @ W.T + b) + (2 * x @ W.T + b))


def test_gradient_through_a_value_used_twice(parametrize_area):
    """Backward through a cached value used twice accumulates both uses into the original."""
    P = parametrize_area.parametrize
    m = nn.Linear(4, 4, bias=False)
    P.register_parametrization(m, "weight", Symmetric())
    W0 = m.parametrizations.weight.original.detach().clone().requires_grad_()
    x = torch.randn(3, 4)
    with P.cached():
        loss = m(m(x)).square().sum()
    loss.backward()
    W = symmetric(W0)
    (expected,) = torch.autograd.grad(((x @ W.T) @ W.T).square().sum(), W0)
    assert_close(m.parametrizations.weight.original.grad, expected)


def test_assignment_outside_cache_is_seen_by_next_block(parametrize_area):
    """A value assigned between two cached() blocks is what the second block reads."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    P.register_parametrization(m, "weight", Double())
    with P.cached():
        _ = m.weight
    target = torch.randn(3, 3)
    m.weight = target
    with P.cached():
        assert_close(m.weight.detach(), target)
