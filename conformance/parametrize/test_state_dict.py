"""state_dict, loading and deepcopy of parametrized modules."""

from __future__ import annotations

import copy
import io

import pytest
import torch
from torch import Tensor, nn
from torch.testing import assert_close

from conformance.parametrize._examples import AddOne, Double, StackHalves, Symmetric, symmetric


class Rotated(nn.Module):
    """A stateful parametrization: ``X -> B @ X`` with ``B`` a (persistent) buffer."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.register_buffer("B", torch.linalg.qr(torch.randn(n, n)).Q)

    def forward(self, X: Tensor) -> Tensor:
        B: Tensor = self.B
        return B @ X


def _model(P) -> nn.Sequential:
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    P.register_parametrization(model[0], "weight", Symmetric())
    P.register_parametrization(model[0], "weight", Rotated(4))
    return model


def test_state_dict_keys(parametrize_area):
    """state_dict stores the originals and the parametrizations' buffers, not the value."""
    P = parametrize_area.parametrize
    model = _model(P)
    assert set(model.state_dict()) == {
        "0.parametrizations.weight.original",
        "0.parametrizations.weight.1.B",
        "0.bias",
        "2.weight",
        "2.bias",
    }


def test_state_dict_keys_of_several_originals(parametrize_area):
    """Several originals are stored as original0, original1."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 4)
    P.register_parametrization(m, "weight", StackHalves())
    assert set(m.state_dict()) == {
        "parametrizations.weight.original0",
        "parametrizations.weight.original1",
        "bias",
    }


def test_round_trip_into_a_fresh_model(parametrize_area):
    """A saved state_dict loads into a model parametrized the same way and reproduces it."""
    P = parametrize_area.parametrize
    saved = _model(P)
    buffer = io.BytesIO()
    torch.save(saved.state_dict(), buffer)
    buffer.seek(0)
    loaded = _model(P)
    original = loaded[0].parametrizations.weight.original
    loaded.load_state_dict(torch.load(buffer))
    assert loaded[0].parametrizations.weight.original is original
    B = saved[0].parametrizations.weight[1].B
    W = B @ symmetric(saved[0].parametrizations.weight.original.detach())
    assert_close(loaded[0].weight.detach(), W)
    x = torch.randn(3, 4)
    expected = torch.relu(x @ W.T + saved[0].bias.detach()) @ saved[2].weight.detach().T
    assert_close(loaded(x).detach(), expected + saved[2].bias.detach())


def test_strict_load_of_an_unparametrized_state_dict_fails(parametrize_area):
    """A plain state_dict does not strictly load into the parametrized module: keys differ."""
    P = parametrize_area.parametrize
    plain = nn.Linear(3, 3)
    m = nn.Linear(3, 3)
    P.register_parametrization(m, "weight", Double())
    with pytest.raises(RuntimeError, match=r"Missing key\(s\).*parametrizations\.weight\.original"):
        m.load_state_dict(plain.state_dict())


def test_non_strict_load_reports_keys(parametrize_area):
    """A non-strict load reports the original as missing and the plain weight as unexpected."""
    P = parametrize_area.parametrize
    plain = nn.Linear(3, 3)
    m = nn.Linear(3, 3)
    P.register_parametrization(m, "weight", Double())
    before = m.parametrizations.weight.original.detach().clone()
    result = m.load_state_dict(plain.state_dict(), strict=False)
    assert result.missing_keys == ["parametrizations.weight.original"]
    assert result.unexpected_keys == ["weight"]
    assert_close(m.bias.detach(), plain.bias.detach())
    assert_close(m.parametrizations.weight.original.detach(), before)


def test_extra_key_fails_strict_load(parametrize_area):
    """An unexpected key fails a strict load and is ignored by a non-strict one."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    P.register_parametrization(m, "weight", Double())
    state = m.state_dict()
    state["nonsense"] = torch.zeros(1)
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "nonsense"'):
        m.load_state_dict(state)
    assert m.load_state_dict(state, strict=False).unexpected_keys == ["nonsense"]


def test_state_dict_after_removal(parametrize_area):
    """After removal the state_dict is the plain module's again, holding the kept value."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    P.register_parametrization(m, "weight", AddOne())
    P.register_parametrization(m, "weight", Double())
    expected = 2 * (m.parametrizations.weight.original.detach() + 1)
    P.remove_parametrizations(m, "weight")
    state = m.state_dict()
    assert set(state) == {"weight", "bias"}
    assert_close(state["weight"], expected)


def test_deepcopy_is_equal_and_independent(parametrize_area):
    """A deepcopy computes the same values from its own copies of the originals."""
    P = parametrize_area.parametrize
    m = nn.Linear(4, 4)
    P.register_parametrization(m, "weight", Symmetric())
    P.register_parametrization(m, "bias", Double())
    clone = copy.deepcopy(m)
    assert clone is not m
    assert P.is_parametrized(clone, "weight")
    assert P.is_parametrized(clone, "bias")
    assert P.type_before_parametrizations(clone) is nn.Linear
    for name in ("weight", "bias"):
        mine = getattr(clone.parametrizations, name).original
        theirs = getattr(m.parametrizations, name).original
        assert mine is not theirs
        assert_close(mine, theirs)
    x = torch.randn(2, 4)
    W = symmetric(m.parametrizations.weight.original.detach())
    assert_close(clone(x).detach(), x @ W.T + 2 * m.parametrizations.bias.original.detach())
    with torch.no_grad():
        clone.parametrizations.weight.original.zero_()
    assert_close(clone.weight.detach(), torch.zeros(4, 4))
    assert_close(m.weight.detach(), symmetric(m.parametrizations.weight.original.detach()))


def test_deepcopy_keeps_plain_attributes(parametrize_area):
    """Deepcopy copies a parametrized module's other attributes too, as new objects."""

    class WithList(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.ones(4))
            self.attr = [1.0, 2.0]

    P = parametrize_area.parametrize
    m = WithList()
    P.register_parametrization(m, "weight", AddOne())
    clone = copy.deepcopy(m)
    assert clone.attr == m.attr
    assert clone.attr is not m.attr
    assert_close(clone.weight.detach(), torch.ones(4))


def test_deepcopy_uses_the_class_own_deepcopy(parametrize_area):
    """A module class with its own __deepcopy__ still deep-copies once parametrized."""

    class CustomCopy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.randn(3))
            self.copies = 0

        def __deepcopy__(self, memo: dict[int, object]) -> CustomCopy:
            result = self.__new__(type(self))
            memo[id(self)] = result
            result.__dict__ = copy.deepcopy(self.__dict__, memo)
            result.copies += 1
            return result

    P = parametrize_area.parametrize
    m = CustomCopy()
    P.register_parametrization(m, "weight", Double())
    clone = copy.deepcopy(m)
    assert clone.copies == 1
    assert_close(clone.weight.detach(), m.weight.detach())
    assert clone.parametrizations.weight.original is not m.parametrizations.weight.original


def test_changing_a_deepcopy_leaves_the_source_alone(parametrize_area):
    """Removing or adding parametrizations on a deepcopy does not affect the module it came from."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    P.register_parametrization(m, "weight", Double())
    expected_weight = m.weight.detach().clone()
    expected_bias = m.bias.detach().clone()
    clone = copy.deepcopy(m)
    P.remove_parametrizations(clone, "weight")
    P.register_parametrization(clone, "bias", Double())
    assert P.is_parametrized(m, "weight")
    assert not P.is_parametrized(m, "bias")
    assert_close(m.weight.detach(), expected_weight)
    assert_close(m.bias.detach(), expected_bias)


def test_deepcopy_is_cached_separately(parametrize_area):
    """Inside cached(), a deepcopy reads its own value, not the value cached for its source."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    P.register_parametrization(m, "weight", Double())
    clone = copy.deepcopy(m)
    with torch.no_grad():
        clone.parametrizations.weight.original.fill_(1.0)
    with P.cached():
        source_value = m.weight
        clone_value = clone.weight
    assert clone_value is not source_value
    assert_close(clone_value.detach(), torch.full((3, 3), 2.0))


class SlottedLinear(nn.Linear):
    """A module class with a ``__slots__`` attribute next to its ``__dict__``."""

    __slots__ = ("tag",)


def test_deepcopy_copies_slots(parametrize_area):
    """Deepcopy of a parametrized module copies its __slots__ attributes, as new objects."""
    P = parametrize_area.parametrize
    m = SlottedLinear(3, 3)
    m.tag = [1, 2]
    P.register_parametrization(m, "weight", Double())
    clone = copy.deepcopy(m)
    assert clone.tag == [1, 2]
    assert clone.tag is not m.tag
