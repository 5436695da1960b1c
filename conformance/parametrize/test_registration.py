"""Registering parametrizations: where the tensor goes and what reading it computes."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.testing import assert_close

from conformance.parametrize._examples import (
    AddOne,
    Double,
    RankOne,
    Skew,
    StackHalves,
    Symmetric,
    symmetric,
)


def test_register_returns_module_and_marks_it(parametrize_area):
    """register_parametrization returns the module, now parametrized on that name only."""
    P = parametrize_area.parametrize
    m = nn.Linear(4, 4)
    assert not P.is_parametrized(m)
    assert not P.is_parametrized(m, "weight")
    assert P.register_parametrization(m, "weight", Symmetric()) is m
    assert P.is_parametrized(m)
    assert P.is_parametrized(m, "weight")
    assert not P.is_parametrized(m, "bias")


def test_register_accepts_keyword_arguments(parametrize_area):
    """Every argument of register_parametrization can be passed by name, as PyTorch allows."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    W = m.weight.detach().clone()
    returned = P.register_parametrization(
        module=m, tensor_name="weight", parametrization=Double(), unsafe=False
    )
    assert returned is m
    assert P.is_parametrized(m, "weight")
    assert_close(m.weight.detach(), W)


def test_value_and_forward_use_the_parametrization(parametrize_area, device):
    """Reading the tensor and running the module apply the parametrization, on every device."""
    P = parametrize_area.parametrize
    m = nn.Linear(5, 5)
    W, b = m.weight.detach().clone(), m.bias.detach().clone()
    P.register_parametrization(m, "weight", Symmetric())
    x = torch.randn(3, 5)
    m.to(device)
    assert_close(m.weight.detach().cpu(), symmetric(W))
    assert_close(m(x.to(device)).detach().cpu(), x @ symmetric(W).T + b)


def test_original_is_the_registered_tensor(parametrize_area):
    """Without right_inverse, the original is the registered tensor object, value unchanged."""
    P = parametrize_area.parametrize
    m = nn.Linear(4, 4)
    w = m.weight
    before = w.detach().clone()
    P.register_parametrization(m, "weight", Skew())
    assert m.parametrizations.weight.original is w
    assert_close(w.detach(), before)
    lower = before.tril(-1)
    assert_close(m.weight.detach(), lower - lower.T)


def test_right_inverse_initializes_original_in_place(parametrize_area):
    """With right_inverse, the original keeps its identity and holds right_inverse(tensor)."""
    P = parametrize_area.parametrize
    m = nn.Linear(4, 4)
    w = m.weight
    before = w.detach().clone()
    P.register_parametrization(m, "weight", Double())
    assert m.parametrizations.weight.original is w
    assert_close(w.detach(), before / 2)
    assert_close(m.weight.detach(), before)


def test_chain_applies_in_registration_order(parametrize_area, device):
    """Parametrizations on one tensor compose: the last registered is applied last."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    first, second = AddOne(), Double()
    P.register_parametrization(m, "weight", first)
    P.register_parametrization(m, "weight", second)
    chain = m.parametrizations.weight
    assert len(chain) == 2
    assert chain[0] is first
    assert chain[1] is second
    original = chain.original.detach().clone()
    m.to(device)
    assert_close(m.weight.detach().cpu(), 2.0 * (original + 1.0))


def test_assignment_runs_right_inverses_last_first(parametrize_area):
    """Assigning to the tensor runs the right inverses from the last registered to the first."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    P.register_parametrization(m, "weight", AddOne())
    P.register_parametrization(m, "weight", Double())
    target = torch.randn(3, 3)
    m.weight = target
    # weight = 2 * (original + 1), so original = target / 2 - 1.
    assert_close(m.parametrizations.weight.original.detach(), target / 2 - 1)
    assert_close(m.weight.detach(), target)


def test_assignment_writes_into_the_original_object(parametrize_area):
    """Assigning to a parametrized tensor updates the existing original object in place."""
    P = parametrize_area.parametrize
    m = nn.Linear(4, 4)
    w = m.weight
    P.register_parametrization(m, "weight", Symmetric())
    A = torch.randn(4, 4)
    A = A + A.T
    m.weight = A
    assert m.parametrizations.weight.original is w
    assert_close(w.detach(), A.triu())
    assert_close(m.weight.detach(), A)


def test_optimizer_created_before_registration_trains_original(parametrize_area):
    """An optimizer built before registering keeps updating the original (the same object)."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    optimizer = torch.optim.SGD(m.parameters(), lr=0.1)
    P.register_parametrization(m, "weight", Skew())
    W0 = m.parametrizations.weight.original.detach().clone().requires_grad_()
    b = m.bias.detach().clone()
    x = torch.randn(2, 3)

    m(x).square().sum().backward()
    optimizer.step()

    lower = W0.tril(-1)
    (grad,) = torch.autograd.grad((x @ (lower - lower.T).T + b).square().sum(), W0)
    assert_close(m.parametrizations.weight.original.detach(), W0.detach() - 0.1 * grad)


def test_gradient_reaches_original(parametrize_area, device):
    """Backward through the parametrized tensor gives the original its chain-rule gradient."""
    P = parametrize_area.parametrize
    m = nn.Linear(4, 4)
    P.register_parametrization(m, "weight", Symmetric())
    W0 = m.parametrizations.weight.original.detach().clone().requires_grad_()
    b = m.bias.detach().clone()
    x = torch.randn(3, 4)
    m.to(device)
    m(x.to(device)).tanh().sum().backward()
    (expected,) = torch.autograd.grad((x @ symmetric(W0).T + b).tanh().sum(), W0)
    assert_close(m.parametrizations.weight.original.grad.cpu(), expected)


def test_casting_the_module_casts_the_originals(parametrize_area):
    """module.double() converts the originals, so the parametrized value follows."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 4)
    P.register_parametrization(m, "weight", StackHalves())
    P.register_parametrization(m, "bias", Double())
    W, b = m.weight.detach().clone(), m.bias.detach().clone()
    m.double()
    assert m.parametrizations.weight.original0.dtype == torch.float64
    assert m.weight.dtype == torch.float64
    assert_close(m.weight.detach(), W.double())
    assert_close(m.bias.detach(), b.double())


def test_parametrized_name_is_not_a_parameter(parametrize_area):
    """The parametrized name leaves the parameters; the original appears under parametrizations."""
    P = parametrize_area.parametrize
    m = nn.Linear(4, 4)
    P.register_parametrization(m, "weight", Symmetric())
    names = dict(m.named_parameters())
    assert set(names) == {"bias", "parametrizations.weight.original"}
    assert not isinstance(m.weight, nn.Parameter)


def test_containers_hold_the_chain(parametrize_area):
    """module.parametrizations is a ModuleDict of ParametrizationList holding the given modules."""
    P = parametrize_area.parametrize
    m = nn.Linear(4, 4)
    sym = Symmetric()
    P.register_parametrization(m, "weight", sym)
    assert isinstance(m.parametrizations, nn.ModuleDict)
    assert list(m.parametrizations.keys()) == ["weight"]
    chain = m.parametrizations["weight"]
    assert isinstance(chain, P.ParametrizationList)
    assert chain is m.parametrizations.weight
    assert len(chain) == 1
    assert chain[0] is sym


def test_class_changes_per_instance(parametrize_area):
    """Only the parametrized module changes class: isinstance holds, siblings are untouched."""
    P = parametrize_area.parametrize
    a, b = nn.Linear(3, 3), nn.Linear(3, 3)
    P.register_parametrization(a, "weight", Double())
    assert type(a) is not nn.Linear
    assert isinstance(a, nn.Linear)
    assert type(b) is nn.Linear
    assert "weight" in dict(b.named_parameters())
    P.register_parametrization(b, "bias", Double())
    assert type(a) is not type(b)
    assert "bias" in dict(a.named_parameters())
    assert "weight" in dict(b.named_parameters())


def test_type_before_parametrizations(parametrize_area):
    """type_before_parametrizations gives the class the module had before any registration."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    assert P.type_before_parametrizations(m) is nn.Linear
    P.register_parametrization(m, "weight", Double())
    assert P.type_before_parametrizations(m) is nn.Linear
    P.register_parametrization(m, "bias", Double())
    P.register_parametrization(m, "weight", AddOne())
    assert P.type_before_parametrizations(m) is nn.Linear
    assert P.type_before_parametrizations(nn.ReLU()) is nn.ReLU


def test_training_mode_follows_module(parametrize_area):
    """A parametrization takes the module's training mode on registration, then follows it."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3).eval()
    first = Double()
    assert first.training
    P.register_parametrization(m, "weight", first)
    assert not first.training
    m.train()
    second = AddOne().eval()
    P.register_parametrization(m, "weight", second)
    assert first.training
    assert second.training
    m.eval()
    assert not first.training
    assert not second.training


def test_buffer_stays_a_buffer(parametrize_area, device):
    """A parametrized buffer keeps its original as a buffer, outside parameters()."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    m.register_buffer("scale", torch.randn(3))
    before = m.scale.clone()
    P.register_parametrization(m, "scale", AddOne())
    assert "parametrizations.scale.original" in dict(m.named_buffers())
    assert all("scale" not in name for name, _ in m.named_parameters())
    m.to(device)
    assert_close(m.scale.cpu(), before)
    assert_close(m.parametrizations.scale.original.cpu(), before - 1)


def test_sequence_right_inverse_registers_numbered_originals(parametrize_area):
    """A right_inverse returning a sequence registers one parameter per element: original0, ..."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 4)
    W = m.weight.detach().clone()
    P.register_parametrization(m, "weight", StackHalves())
    chain = m.parametrizations.weight
    assert not hasattr(chain, "original")
    assert not hasattr(chain, "original2")
    assert isinstance(chain.original0, nn.Parameter)
    assert isinstance(chain.original1, nn.Parameter)
    assert_close(chain.original0.detach(), W[:2])
    assert_close(chain.original1.detach(), W[2:])
    assert_close(m.weight.detach(), W)
    assert set(dict(m.named_parameters())) == {
        "bias",
        "parametrizations.weight.original0",
        "parametrizations.weight.original1",
    }


def test_sequence_of_one_registers_original0(parametrize_area):
    """A right_inverse returning a one-element sequence registers original0, not original."""

    class Wrapped(nn.Module):
        def forward(self, x: Tensor) -> Tensor:
            return x

        def right_inverse(self, w: Tensor) -> tuple[Tensor]:
            return (w.clone(),)

    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    W = m.weight.detach().clone()
    P.register_parametrization(m, "weight", Wrapped())
    chain = m.parametrizations.weight
    assert hasattr(chain, "original0")
    assert not hasattr(chain, "original")
    assert not hasattr(chain, "original1")
    assert_close(m.weight.detach(), W)


def test_numbered_originals_copy_requires_grad(parametrize_area):
    """New originals take requires_grad from the tensor they replace and stay parameters."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 4)
    m.weight.requires_grad_(False)
    P.register_parametrization(m, "weight", StackHalves())
    chain = m.parametrizations.weight
    for original in (chain.original0, chain.original1):
        assert isinstance(original, nn.Parameter)
        assert not original.requires_grad
    assert not m.weight.requires_grad


def test_numbered_originals_of_a_buffer_are_buffers(parametrize_area):
    """A buffer parametrized through several originals gets buffers original0, original1."""
    P = parametrize_area.parametrize
    m = nn.Module()
    m.register_buffer("table", torch.randn(4, 2))
    before = m.table.clone()
    P.register_parametrization(m, "table", StackHalves())
    buffers = dict(m.named_buffers())
    assert {"parametrizations.table.original0", "parametrizations.table.original1"} <= set(buffers)
    assert not list(m.parameters())
    assert_close(m.table, before)


def test_rank_one_from_two_vectors(parametrize_area):
    """A many-to-one parametrization uses all its originals (rank one from two vectors)."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    P.register_parametrization(m, "weight", RankOne())
    chain = m.parametrizations.weight
    u, v = chain.original0.detach(), chain.original1.detach()
    assert u.shape == (3,)
    assert v.shape == (3,)
    assert_close(m.weight.detach(), torch.outer(u, v))
    assert torch.linalg.matrix_rank(m.weight.detach()).item() == 1


def test_appending_to_many_to_one_chain(parametrize_area):
    """A one-input parametrization appended after a many-to-one one applies to its output."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 4)
    W = m.weight.detach().clone()
    P.register_parametrization(m, "weight", StackHalves())
    P.register_parametrization(m, "weight", Double())
    assert_close(m.weight.detach(), 2 * W)
    m.weight = torch.ones(4, 3)
    assert_close(m.parametrizations.weight.original0.detach(), torch.full((2, 3), 0.5))
    assert_close(m.parametrizations.weight.original1.detach(), torch.full((2, 3), 0.5))


def test_unsafe_allows_changing_shape(parametrize_area):
    """With unsafe=True a parametrization may change the shape, and later ones build on it."""

    class FirstRow(nn.Module):
        def forward(self, X: Tensor) -> Tensor:
            return X[:1]

    P = parametrize_area.parametrize
    m = nn.Linear(4, 3)
    W = m.weight.detach().clone()
    P.register_parametrization(m, "weight", FirstRow(), unsafe=True)
    assert m.weight.shape == (1, 4)
    P.register_parametrization(m, "weight", Double())
    assert_close(m.weight.detach(), 2 * W[:1])
    assert m.parametrizations.weight.original.shape == (3, 4)


def test_not_implemented_right_inverse_counts_as_identity(parametrize_area):
    """A right_inverse raising NotImplementedError at registration leaves the original as it is."""

    class Halve(nn.Module):
        def forward(self, x: Tensor) -> Tensor:
            return x / 2

        def right_inverse(self, y: Tensor) -> Tensor:
            raise NotImplementedError

    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    W = m.weight.detach().clone()
    P.register_parametrization(m, "weight", Halve())
    assert_close(m.parametrizations.weight.original.detach(), W)
    assert_close(m.weight.detach(), W / 2)


def test_nested_parametrization_of_the_original(parametrize_area):
    """The original of a parametrized tensor can be parametrized in turn, then unwound."""
    P = parametrize_area.parametrize
    m = nn.Linear(4, 4)
    P.register_parametrization(m, "weight", Skew())
    chain = m.parametrizations.weight
    inner_tensor = chain.original
    P.register_parametrization(chain, "original", Double())
    assert P.is_parametrized(chain, "original")
    assert chain.parametrizations.original.original is inner_tensor
    inner = inner_tensor.detach().clone()
    lower = (2 * inner).tril(-1)
    assert_close(m.weight.detach(), lower - lower.T)

    P.remove_parametrizations(chain, "original", leave_parametrized=False)
    assert not P.is_parametrized(chain)
    assert type(chain) is P.ParametrizationList
    assert chain.original is inner_tensor
    P.remove_parametrizations(m, "weight", leave_parametrized=False)
    assert type(m) is nn.Linear
    assert m.weight is inner_tensor


def test_weight_and_bias_independently(parametrize_area):
    """Two tensors of one module carry independent chains."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    W, b = m.weight.detach().clone(), m.bias.detach().clone()
    P.register_parametrization(m, "weight", Double())
    P.register_parametrization(m, "bias", AddOne())
    P.register_parametrization(m, "bias", Double())
    assert len(m.parametrizations.weight) == 1
    assert len(m.parametrizations.bias) == 2
    assert_close(m.weight.detach(), W)
    # AddOne's right inverse gave original = b - 1; Double was appended on top.
    assert_close(m.parametrizations.bias.original.detach(), b - 1)
    assert_close(m.bias.detach(), 2 * b)
    x = torch.randn(2, 3)
    assert_close(m(x).detach(), x @ W.T + 2 * b)


def test_appended_right_inverse_may_be_unavailable(parametrize_area):
    """An appended parametrization whose right_inverse raises NotImplementedError is accepted."""

    class Halve(nn.Module):
        def forward(self, x: Tensor) -> Tensor:
            return x / 2

        def right_inverse(self, y: Tensor) -> Tensor:
            raise NotImplementedError

    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    W = m.weight.detach().clone()
    P.register_parametrization(m, "weight", Double())
    P.register_parametrization(m, "weight", Halve())
    assert len(m.parametrizations.weight) == 2
    assert_close(m.weight.detach(), W / 2)


def test_unsafe_stays_on_for_the_tensor(parametrize_area):
    """Once a registration on a tensor was unsafe, its chain stays unsafe after safe appends."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    P.register_parametrization(m, "weight", Double(), unsafe=True)
    P.register_parametrization(m, "weight", AddOne())
    assert m.parametrizations.weight.unsafe is True
    n = nn.Linear(3, 3)
    P.register_parametrization(n, "weight", Double())
    assert n.parametrizations.weight.unsafe is False


class _Identity(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x

    def right_inverse(self, x: Tensor) -> Tensor:
        return x


def test_assignment_leaves_the_assigned_tensor_alone(parametrize_area):
    """Assigning a tensor to a parametrized buffer or parameter does not change that tensor."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    m.register_buffer("scale", torch.zeros(3))
    P.register_parametrization(m, "scale", _Identity())
    P.register_parametrization(m, "weight", _Identity())
    for name, value in (("scale", torch.ones(3)), ("weight", torch.full((3, 3), 2.0))):
        expected = value.clone()
        setattr(m, name, value)
        assert_close(value, expected)
        assert_close(getattr(m, name).detach(), expected)


def test_assignment_through_a_nested_parametrization(parametrize_area):
    """Assigning to a tensor whose original is parametrized too runs both right inverses."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    P.register_parametrization(m, "weight", Double())
    chain = m.parametrizations.weight
    inner_tensor = chain.original
    P.register_parametrization(chain, "original", AddOne())
    target = torch.randn(3, 3)
    m.weight = target
    # weight = 2 * (inner + 1), so inner = target / 2 - 1.
    assert chain.parametrizations.original.original is inner_tensor
    assert_close(inner_tensor.detach(), target / 2 - 1)
    assert_close(m.weight.detach(), target)
