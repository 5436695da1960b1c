"""transfer_parametrizations_and_params: the target shares the source's chain and originals."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn
from torch.testing import assert_close

from conformance.parametrize._examples import AddOne, Double, Negate, RankOne, StackHalves


def _chained_linear(P, n: int = 4) -> nn.Linear:
    m = nn.Linear(n, n)
    P.register_parametrization(m, "weight", AddOne())
    P.register_parametrization(m, "weight", Double())
    P.register_parametrization(m, "weight", Negate())
    return m


def test_transfer_all_parametrized_tensors(parametrize_area):
    """Without a name, every parametrized tensor moves over with the same value."""
    P = parametrize_area.parametrize
    source = _chained_linear(P)
    P.register_parametrization(source, "bias", Double())
    target = nn.Linear(4, 4)
    assert P.transfer_parametrizations_and_params(source, target) is target
    assert P.is_parametrized(target, "weight")
    assert P.is_parametrized(target, "bias")
    original = source.parametrizations.weight.original.detach()
    assert_close(target.weight.detach(), -2 * (original + 1))
    assert_close(target.bias.detach(), 2 * source.parametrizations.bias.original.detach())


def test_transfer_shares_originals_and_modules(parametrize_area):
    """The target holds the source's original tensors and parametrization modules themselves."""
    P = parametrize_area.parametrize
    source = _chained_linear(P)
    target = nn.Linear(4, 4)
    P.transfer_parametrizations_and_params(source, target)
    assert target.parametrizations.weight.original is source.parametrizations.weight.original
    assert len(target.parametrizations.weight) == 3
    for mine, theirs in zip(
        target.parametrizations.weight, source.parametrizations.weight, strict=True
    ):
        assert mine is theirs


def test_training_the_source_moves_the_target(parametrize_area):
    """An update of the source's original shows in the target's value: they are one tensor."""
    P = parametrize_area.parametrize
    source = _chained_linear(P)
    target = nn.Linear(4, 4)
    P.transfer_parametrizations_and_params(source, target)
    with torch.no_grad():
        source.parametrizations.weight.original.add_(1.0)
    original = source.parametrizations.weight.original.detach()
    assert_close(target.weight.detach(), -2 * (original + 1))


def test_transfer_leaves_source_value_unchanged(parametrize_area):
    """Transferring does not change the source's parametrized value."""
    P = parametrize_area.parametrize
    source = nn.Linear(4, 4)
    P.register_parametrization(source, "weight", Double())
    before = source.weight.detach().clone()
    target = nn.Linear(4, 4)
    P.transfer_parametrizations_and_params(source, target)
    assert_close(source.weight.detach(), before)
    assert_close(target.weight.detach(), before)


def test_transfer_one_name(parametrize_area):
    """With a name, only that tensor is transferred; the others stay plain on the target."""
    P = parametrize_area.parametrize
    source = _chained_linear(P)
    P.register_parametrization(source, "bias", Double())
    target = nn.Linear(4, 4)
    target_bias = target.bias
    P.transfer_parametrizations_and_params(source, target, "weight")
    assert P.is_parametrized(target, "weight")
    assert not P.is_parametrized(target, "bias")
    assert target.bias is target_bias
    original = source.parametrizations.weight.original.detach()
    assert_close(target.weight.detach(), -2 * (original + 1))


@pytest.mark.parametrize("kind", ["parameter", "buffer"])
def test_transfer_leaves_no_stale_plain_tensor(parametrize_area, kind):
    """The target's own plain tensor of that name is gone: not in parameters(), buffers(),
    state_dict, nor behind the parametrized value."""
    P = parametrize_area.parametrize
    source = nn.Module()
    target = nn.Module()
    if kind == "parameter":
        source.scale = nn.Parameter(torch.randn(3))
        target.scale = nn.Parameter(torch.randn(3))
    else:
        source.register_buffer("scale", torch.randn(3))
        target.register_buffer("scale", torch.randn(3))
    old = target.scale
    P.register_parametrization(source, "scale", Double())
    P.transfer_parametrizations_and_params(source, target)
    assert all(tensor is not old for tensor in target.parameters())
    assert all(tensor is not old for tensor in target.buffers())
    assert "scale" not in target.state_dict()
    assert "scale" not in target._parameters
    assert "scale" not in target._buffers
    assert_close(target.scale.detach(), source.scale.detach())


def test_transfer_creates_a_missing_tensor(parametrize_area):
    """A parametrized tensor the target lacks is created on it."""
    P = parametrize_area.parametrize
    source = nn.Linear(3, 3)
    source.extra = nn.Parameter(torch.randn(3, 3))
    P.register_parametrization(source, "extra", Double())
    target = nn.Linear(3, 3)
    assert not hasattr(target, "extra")
    P.transfer_parametrizations_and_params(source, target, "extra")
    assert P.is_parametrized(target, "extra")
    assert_close(target.extra.detach(), 2 * source.parametrizations.extra.original.detach())
    assert target.parametrizations.extra.original is source.parametrizations.extra.original


def test_transfer_many_to_one(parametrize_area):
    """A chain with several originals transfers with all of them shared."""
    P = parametrize_area.parametrize
    source = nn.Linear(3, 3)
    P.register_parametrization(source, "weight", RankOne())
    P.register_parametrization(source, "weight", Double())
    before = source.weight.detach().clone()
    target = nn.Linear(3, 3)
    P.transfer_parametrizations_and_params(source, target)
    chain, source_chain = target.parametrizations.weight, source.parametrizations.weight
    assert chain.original0 is source_chain.original0
    assert chain.original1 is source_chain.original1
    u, v = chain.original0.detach(), chain.original1.detach()
    assert_close(target.weight.detach(), 2 * torch.outer(u, v))
    assert_close(source.weight.detach(), before)


class _Head(nn.Module):
    """Another module class, with no weight of its own until a transfer gives it one."""

    def forward(self, x: Tensor) -> Tensor:
        weight: Tensor = self.weight
        return x @ weight.T


def test_transfer_to_a_module_of_another_class(parametrize_area, device):
    """A transfer to another module class gives it the tensor, and it computes with it."""
    P = parametrize_area.parametrize
    source = nn.Linear(3, 4)
    P.register_parametrization(source, "weight", StackHalves())
    W = source.weight.detach().clone()
    target = _Head()
    P.transfer_parametrizations_and_params(source, target)
    assert P.type_before_parametrizations(target) is _Head
    x = torch.randn(2, 3)
    target.to(device)
    assert_close(target(x.to(device)).detach().cpu(), x @ W.T)


def test_transfer_from_unparametrized_module_does_nothing(parametrize_area):
    """Transferring from a module without parametrizations leaves the target as it was."""
    P = parametrize_area.parametrize
    source, target = nn.Linear(3, 3), nn.Linear(3, 3)
    weight = target.weight
    assert P.transfer_parametrizations_and_params(source, target) is target
    assert not P.is_parametrized(target)
    assert type(target) is nn.Linear
    assert target.weight is weight


def test_removing_from_the_target_keeps_the_source(parametrize_area):
    """Removing the transferred chain from the target leaves the source parametrized."""
    P = parametrize_area.parametrize
    source = _chained_linear(P)
    target = nn.Linear(4, 4)
    P.transfer_parametrizations_and_params(source, target)
    P.remove_parametrizations(target, "weight", leave_parametrized=False)
    assert not P.is_parametrized(target)
    assert type(target) is nn.Linear
    assert P.is_parametrized(source, "weight")
    assert len(source.parametrizations.weight) == 3


def test_cache_is_per_module_after_transfer(parametrize_area):
    """Inside cached(), source and target each cache their own value of the shared chain."""
    P = parametrize_area.parametrize
    source = _chained_linear(P)
    target = nn.Linear(4, 4)
    P.transfer_parametrizations_and_params(source, target)
    with P.cached():
        a, b = source.weight, target.weight
        assert source.weight is a
        assert target.weight is b
        assert a is not b
    assert_close(a.detach(), b.detach())


def test_transfer_of_a_stateful_parametrization_keeps_source_weights(parametrize_area):
    """Transferring a trained orthogonal parametrization leaves the source's weight unchanged."""
    P, Z = parametrize_area.parametrize, parametrize_area.parametrizations
    source = Z.orthogonal(nn.Linear(4, 4))
    optimizer = torch.optim.SGD(source.parameters(), lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        source(torch.randn(2, 4)).square().sum().backward()
        optimizer.step()
    before = source.weight.detach().clone()
    target = nn.Linear(4, 4)
    P.transfer_parametrizations_and_params(source, target)
    assert_close(source.weight.detach(), before)
    assert_close(target.weight.detach(), before)
