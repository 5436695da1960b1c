"""Error conditions: the exception type, its key phrase, and that nothing was changed."""

from __future__ import annotations

import io
import pickle

import pytest
import torch
from torch import Tensor, nn
from torch.testing import assert_close

from conformance.parametrize._examples import Double, Skew, StackHalves


class Identity(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x


class ReturnsInt(nn.Module):
    def forward(self, x: Tensor) -> int:
        return 2


class ReturnsPair(nn.Module):
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return x, x


class ToBool(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.bool()


class DropLastRow(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x[:-1]


class InverseReturnsNone(Identity):
    def right_inverse(self, x: Tensor) -> None:
        return None


class InverseReturnsNoneInSequence(nn.Module):
    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return y

    def right_inverse(self, z: Tensor) -> tuple[None, Tensor]:
        return None, z


class InverseToBool(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.float()

    def right_inverse(self, w: Tensor) -> Tensor:
        return w.bool()


class InverseToMeta(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x

    def right_inverse(self, w: Tensor) -> Tensor:
        return w.to("meta")


class SumToBool(nn.Module):
    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return (x + y).bool()

    def right_inverse(self, w: Tensor) -> tuple[Tensor, Tensor]:
        return w, w + 1


class ThreeInputsTwoOriginals(nn.Module):
    def forward(self, x: Tensor, y: Tensor, z: Tensor) -> Tensor:
        return x + y + z

    def right_inverse(self, w: Tensor) -> tuple[Tensor, Tensor]:
        return w, torch.zeros_like(w)


class InversePair(Identity):
    def right_inverse(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return x, x


class InverseBool(Identity):
    def right_inverse(self, x: Tensor) -> Tensor:
        return x.bool()


class InverseDropsRow(Identity):
    def right_inverse(self, x: Tensor) -> Tensor:
        return x[:-1]


class RepeatRows(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x, x])


class InverseRepeatsRows(Identity):
    def right_inverse(self, x: Tensor) -> Tensor:
        return torch.cat([x, x])


FIRST_REGISTRATION_ERRORS = [
    pytest.param(ReturnsInt, ValueError, "must return a tensor", id="forward-not-a-tensor"),
    pytest.param(ToBool, ValueError, "may not change the dtype", id="forward-changes-dtype"),
    pytest.param(DropLastRow, ValueError, "may not change the shape", id="forward-changes-shape"),
    pytest.param(RepeatRows, ValueError, "may not change the shape", id="forward-grows-shape"),
    pytest.param(
        InverseReturnsNone,
        ValueError,
        "must return a Tensor or a Sequence of tensors",
        id="inverse-not-a-tensor",
    ),
    pytest.param(
        InverseReturnsNoneInSequence,
        ValueError,
        "of the sequence with type",
        id="inverse-sequence-of-non-tensors",
    ),
    pytest.param(
        InverseToBool,
        ValueError,
        "outputs one tensor, it may not change the dtype",
        id="inverse-changes-dtype",
    ),
    pytest.param(
        InverseToMeta,
        ValueError,
        "outputs one tensor, it may not change the device",
        id="inverse-changes-device",
    ),
    pytest.param(SumToBool, ValueError, "may not change the dtype", id="many-to-one-dtype"),
    pytest.param(ThreeInputsTwoOriginals, TypeError, "positional argument", id="arity-mismatch"),
]


@pytest.mark.parametrize(("parametrization", "error", "phrase"), FIRST_REGISTRATION_ERRORS)
def test_invalid_first_registration(parametrize_area, parametrization, error, phrase):
    """An invalid first registration raises with the key phrase and leaves the module as it was."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 4)
    w = m.weight
    before = w.detach().clone()
    with pytest.raises(error, match=phrase):
        P.register_parametrization(m, "weight", parametrization())
    assert not P.is_parametrized(m)
    assert type(m) is nn.Linear
    assert m.weight is w
    assert_close(m.weight.detach(), before)


APPEND_ERRORS = [
    pytest.param(ReturnsPair, "must return a tensor", id="forward-not-a-tensor"),
    pytest.param(ToBool, "may not change the dtype", id="forward-changes-dtype"),
    pytest.param(DropLastRow, "may not change the shape", id="forward-changes-shape"),
    pytest.param(InversePair, "right_inverse must return a tensor", id="inverse-not-a-tensor"),
    pytest.param(InverseBool, "must have the same dtype", id="inverse-changes-dtype"),
    pytest.param(InverseDropsRow, "must have the same shape", id="inverse-changes-shape"),
    pytest.param(RepeatRows, "may not change the shape", id="forward-grows-shape"),
    pytest.param(InverseRepeatsRows, "must have the same shape", id="inverse-grows-shape"),
]


@pytest.mark.parametrize(("parametrization", "phrase"), APPEND_ERRORS)
def test_invalid_append_leaves_chain_unchanged(parametrize_area, parametrization, phrase):
    """An invalid parametrization appended to a chain raises ValueError; the chain is unchanged."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 4)
    first = Double()
    P.register_parametrization(m, "weight", first)
    before = m.weight.detach().clone()
    with pytest.raises(ValueError, match=phrase):
        P.register_parametrization(m, "weight", parametrization())
    assert P.is_parametrized(m, "weight")
    assert len(m.parametrizations.weight) == 1
    assert m.parametrizations.weight[0] is first
    assert_close(m.weight.detach(), before)


def test_failed_registration_leaves_tensor_untouched(parametrize_area):
    """A registration whose check fails after right_inverse ran leaves the tensor's value intact."""

    class HalveThenCast(nn.Module):
        def forward(self, x: Tensor) -> Tensor:
            return (2 * x).double()

        def right_inverse(self, w: Tensor) -> Tensor:
            return w / 2

    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    before = m.weight.detach().clone()
    with pytest.raises(ValueError, match="may not change the dtype"):
        P.register_parametrization(m, "weight", HalveThenCast())
    assert not P.is_parametrized(m)
    assert_close(m.weight.detach(), before)


def test_unsafe_skips_the_checks(parametrize_area):
    """unsafe=True accepts a parametrization that changes dtype and shape."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 4)
    before = m.weight.detach().clone()
    P.register_parametrization(m, "weight", ToBool(), unsafe=True)
    assert m.weight.dtype == torch.bool
    P.register_parametrization(m, "weight", DropLastRow(), unsafe=True)
    assert m.weight.shape == (3, 3)
    assert torch.equal(m.weight, before[:-1].bool())


def test_unknown_tensor_name(parametrize_area):
    """Registering on a name that is no parameter, buffer or parametrized tensor is a ValueError."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a parametrized"):
        P.register_parametrization(m, "foo", Identity())
    assert not P.is_parametrized(m)


def test_remove_without_parametrization(parametrize_area):
    """Removing from a tensor that is not parametrized raises ValueError."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    with pytest.raises(ValueError, match="does not have a parametrization"):
        P.remove_parametrizations(m, "bias")
    P.register_parametrization(m, "weight", Double())
    with pytest.raises(ValueError, match="does not have a parametrization"):
        P.remove_parametrizations(m, "bias")
    assert P.is_parametrized(m, "weight")


def test_cannot_restore_several_originals(parametrize_area):
    """leave_parametrized=False is refused when the tensor has several originals."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 4)
    P.register_parametrization(m, "weight", StackHalves())
    with pytest.raises(ValueError, match="leave_parametrized=False"):
        P.remove_parametrizations(m, "weight", leave_parametrized=False)
    assert P.is_parametrized(m, "weight")
    P.remove_parametrizations(m, "weight", leave_parametrized=True)
    assert not P.is_parametrized(m)


def test_assignment_needs_every_right_inverse(parametrize_area):
    """Assigning is refused when a parametrization in the chain has no right_inverse."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    P.register_parametrization(m, "weight", Double())
    P.register_parametrization(m, "weight", Skew())
    before = m.parametrizations.weight.original.detach().clone()
    with pytest.raises(RuntimeError, match="does not implement right_inverse"):
        m.weight = torch.randn(3, 3)
    assert_close(m.parametrizations.weight.original.detach(), before)


@pytest.mark.parametrize("parts", [1, 4], ids=["fewer", "more"])
def test_assignment_with_wrong_number_of_tensors(parametrize_area, parts):
    """Assigning through a right_inverse returning fewer or more tensors than originals fails."""

    class Halves(StackHalves):
        def __init__(self) -> None:
            super().__init__()
            self.parts = 2

        def right_inverse(self, X: Tensor) -> tuple[Tensor, ...]:
            return tuple(X.chunk(self.parts))

    P = parametrize_area.parametrize
    m = nn.Linear(3, 4)
    halves = Halves()
    P.register_parametrization(m, "weight", halves)
    before = [m.parametrizations.weight.original0.detach().clone()]
    halves.parts = parts
    with pytest.raises(ValueError, match="sequence of tensors of length 2"):
        m.weight = torch.randn(4, 3)
    assert_close(m.parametrizations.weight.original0.detach(), before[0])


def test_assignment_with_wrong_dtype(parametrize_area):
    """Assigning through a right_inverse that changes the dtype raises ValueError, original kept."""

    class Cast(Double):
        def __init__(self) -> None:
            super().__init__()
            self.dtype = torch.float32

        def right_inverse(self, y: Tensor) -> Tensor:
            return super().right_inverse(y).to(self.dtype)

    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    cast = Cast()
    P.register_parametrization(m, "weight", cast)
    before = m.parametrizations.weight.original.detach().clone()
    cast.dtype = torch.float64
    with pytest.raises(ValueError, match=r"has dtype torch\.float64"):
        m.weight = torch.randn(3, 3)
    assert_close(m.parametrizations.weight.original.detach(), before)


def test_pickling_is_refused(parametrize_area):
    """Pickling a parametrized module raises RuntimeError pointing to state_dict."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    P.register_parametrization(m, "weight", Double())
    with pytest.raises(RuntimeError, match="state_dict"):
        pickle.dumps(m)
    with pytest.raises(RuntimeError, match="state_dict"):
        torch.save(m, io.BytesIO())


def test_pickling_works_again_after_removal(parametrize_area):
    """Once its parametrizations are removed, a module pickles as usual."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 3)
    P.register_parametrization(m, "weight", Double())
    P.remove_parametrizations(m, "weight")
    restored = pickle.loads(pickle.dumps(m))
    assert type(restored) is nn.Linear
    assert_close(restored.weight.detach(), m.weight.detach())


class Halves(nn.Module):
    """Two originals, the top and bottom rows; ``dtypes`` sets what right_inverse returns."""

    def __init__(self) -> None:
        super().__init__()
        self.dtypes: tuple[torch.dtype, torch.dtype] | None = None

    def forward(self, top: Tensor, bottom: Tensor) -> Tensor:
        return torch.cat([top, bottom])

    def right_inverse(self, X: Tensor) -> tuple[Tensor, Tensor]:
        top, bottom = X[:2].clone(), X[2:].clone()
        if self.dtypes is None:
            return top, bottom
        return top.to(self.dtypes[0]), bottom.to(self.dtypes[1])


@pytest.mark.parametrize("bad", [0, 1], ids=["first-invalid", "second-invalid"])
def test_assignment_to_several_originals_is_all_or_nothing(parametrize_area, bad):
    """When one of several right_inverse results is invalid, assigning changes no original."""
    P = parametrize_area.parametrize
    m = nn.Linear(3, 4)
    halves = Halves()
    P.register_parametrization(m, "weight", halves)
    chain = m.parametrizations.weight
    before = [chain.original0.detach().clone(), chain.original1.detach().clone()]
    halves.dtypes = (torch.float64, torch.float32) if bad == 0 else (torch.float32, torch.float64)
    with pytest.raises(ValueError, match=rf"Tensor {bad} returned by `right_inverse` has dtype"):
        m.weight = torch.randn(4, 3)
    assert_close(chain.original0.detach(), before[0])
    assert_close(chain.original1.detach(), before[1])


def test_empty_parametrization_list_is_refused(parametrize_area):
    """A ParametrizationList needs at least one parametrization."""
    P = parametrize_area.parametrize
    with pytest.raises(ValueError, match="requires one or more modules"):
        P.ParametrizationList([], nn.Parameter(torch.zeros(2)))
