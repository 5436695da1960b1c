"""Removing parametrizations: which value stays, which object, which class."""

from __future__ import annotations

import torch
from torch import nn
from torch.testing import assert_close

from conformance.parametrize._examples import AddOne, Double, Skew, StackHalves, Symmetric


def test_leave_parametrized_keeps_value_and_object(parametrize_area):
    """leave_parametrized=True puts the current value into the original tensor object."""
    P = parametrize_area.parametrize
    m = nn.Linear(4, 4)
    w = m.weight
    P.register_parametrization(m, "weight", Skew())
    lower = w.detach().tril(-1)
    expected = lower - lower.T
    assert P.remove_parametrizations(m, "weight") is m
    assert m.weight is w
    assert isinstance(m.weight, nn.Parameter)
    assert_close(m.weight.detach(), expected)


def test_not_leave_parametrized_restores_original(parametrize_area):
    """leave_parametrized=False puts back the unparametrized original, unchanged."""
    P = parametrize_area.parametrize
    m = nn.Linear(4, 4)
    w = m.weight
    before = w.detach().clone()
    P.register_parametrization(m, "weight", Skew())
    P.remove_parametrizations(m, "weight", leave_parametrized=False)
    assert m.weight is w
    assert_close(m.weight.detach(), before)


def test_removal_restores_class_and_attributes(parametrize_area):
    """Removing the last parametrization restores the class and drops module.parametrizations."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    P.register_parametrization(m, "weight", Double())
    P.register_parametrization(m, "weight", AddOne())
    P.remove_parametrizations(m, "weight")
    assert type(m) is nn.Linear
    assert not hasattr(m, "parametrizations")
    assert not P.is_parametrized(m)
    assert set(dict(m.named_parameters())) == {"weight", "bias"}


def test_removing_one_tensor_keeps_the_other(parametrize_area):
    """Removing one tensor's chain leaves another tensor of the module parametrized."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    b = m.bias.detach().clone()
    P.register_parametrization(m, "weight", Double())
    P.register_parametrization(m, "bias", AddOne())
    P.remove_parametrizations(m, "weight")
    assert not P.is_parametrized(m, "weight")
    assert P.is_parametrized(m, "bias")
    assert P.is_parametrized(m)
    assert type(m) is not nn.Linear
    assert P.type_before_parametrizations(m) is nn.Linear
    assert_close(m.bias.detach(), b)
    assert "weight" in dict(m.named_parameters())


def test_removal_keeps_chain_of_other_modules(parametrize_area):
    """Removing from one module does not touch another module parametrized the same way."""
    P = parametrize_area.parametrize
    a, b = nn.Linear(3, 3), nn.Linear(3, 3)
    P.register_parametrization(a, "weight", Double())
    P.register_parametrization(b, "weight", Double())
    expected = 2 * b.parametrizations.weight.original.detach()
    P.remove_parametrizations(a, "weight")
    assert P.is_parametrized(b, "weight")
    assert_close(b.weight.detach(), expected)


def test_optimizer_keeps_training_after_removal(parametrize_area):
    """An optimizer holding the original keeps updating the module's tensor after removal."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    P.register_parametrization(m, "weight", Skew())
    optimizer = torch.optim.SGD(m.parameters(), lr=0.5)
    P.remove_parametrizations(m, "weight")
    W0 = m.weight.detach().clone().requires_grad_()
    b = m.bias.detach().clone()
    x = torch.randn(2, 3)
    # The plain gradient: the Skew parametrization is gone.
    (grad,) = torch.autograd.grad(((x @ W0.T + b) ** 2).sum(), W0)
    m.zero_grad()
    (m(x) ** 2).sum().backward()
    optimizer.step()
    assert_close(m.weight.detach(), W0.detach() - 0.5 * grad)


def test_numbered_originals_leave_parametrized(parametrize_area):
    """With several originals, leave_parametrized=True keeps the current value as a parameter."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 4)
    P.register_parametrization(m, "weight", StackHalves())
    P.register_parametrization(m, "weight", Double())
    chain = m.parametrizations.weight
    expected = 2 * torch.cat([chain.original0.detach(), chain.original1.detach()])
    P.remove_parametrizations(m, "weight")
    assert isinstance(m.weight, nn.Parameter)
    assert m.weight.requires_grad
    assert m.weight.grad_fn is None
    assert_close(m.weight.detach(), expected)
    assert type(m) is nn.Linear


def test_numbered_originals_of_frozen_parameter_stay_a_parameter(parametrize_area):
    """A frozen parameter parametrized through several originals comes back a frozen parameter."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 4)
    m.weight.requires_grad_(False)
    W = m.weight.detach().clone()
    P.register_parametrization(m, "weight", StackHalves())
    P.remove_parametrizations(m, "weight")
    assert "weight" in dict(m.named_parameters())
    assert "weight" not in dict(m.named_buffers())
    assert not m.weight.requires_grad
    assert_close(m.weight.detach(), W)


def test_buffer_comes_back_a_buffer(parametrize_area):
    """A parametrized buffer is a buffer again after removal, whichever value is kept."""
    P = parametrize_area.parametrize
    for leave_parametrized in (True, False):
        m = nn.Linear(3, 3)
        m.register_buffer("scale", torch.randn(3))
        before = m.scale.clone()
        P.register_parametrization(m, "scale", Double())
        P.register_parametrization(m, "scale", AddOne())
        P.remove_parametrizations(m, "scale", leave_parametrized=leave_parametrized)
        assert "scale" in dict(m.named_buffers())
        assert "scale" not in dict(m.named_parameters())
        # Double's right inverse halved the original; AddOne was appended after it.
        expected = before + 1 if leave_parametrized else before / 2
        assert_close(m.scale, expected)


def test_numbered_buffer_originals_come_back_a_buffer(parametrize_area):
    """A buffer parametrized through several originals comes back a buffer."""
    P = parametrize_area.parametrize
    m = nn.Module()
    m.register_buffer("table", torch.randn(4, 2))
    before = m.table.clone()
    P.register_parametrization(m, "table", StackHalves())
    P.remove_parametrizations(m, "table")
    assert "table" in dict(m.named_buffers())
    assert not list(m.parameters())
    assert_close(m.table, before)


def test_register_remove_cycles(parametrize_area):
    """Registering and removing repeatedly keeps the same parameter object and a plain class."""
    P = parametrize_area.parametrize
    m = nn.Linear(4, 4)
    w = m.weight
    before = w.detach().clone()
    for _ in range(3):
        P.register_parametrization(m, "weight", Double())
        P.register_parametrization(m, "weight", Symmetric())
        P.remove_parametrizations(m, "weight", leave_parametrized=False)
        assert type(m) is nn.Linear
        assert m.weight is w
    # Each cycle's Double right inverse halved the original.
    assert_close(w.detach(), before / 8)
