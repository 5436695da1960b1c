"""Reference-only behaviour of reference_impl.parametrize, beyond what the suite pins down.

These are choices the reference makes where PyTorch's behaviour is accidental (or
broken) and the suite does not require either: they are documented in the reference's
docstrings and tested here so they do not regress silently.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
from torch import Tensor, nn
from torch.testing import assert_close

from reference_impl import parametrizations as Z
from reference_impl import parametrize as P


class Double(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return 2.0 * x

    def right_inverse(self, y: Tensor) -> Tensor:
        return 0.5 * y


class AddOne(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x + 1.0

    def right_inverse(self, y: Tensor) -> Tensor:
        return y - 1.0


def test_parametrization_list_needs_a_module() -> None:
    """An empty chain is refused."""
    with pytest.raises(ValueError, match="one or more modules"):
        P.ParametrizationList([], torch.zeros(2))


def test_transfer_replaces_the_targets_own_chain() -> None:
    """A transfer onto a tensor the target already parametrizes replaces that chain."""
    source: Any = nn.Linear(3, 3)
    target: Any = nn.Linear(3, 3)
    P.register_parametrization(source, "weight", Double())
    P.register_parametrization(target, "weight", AddOne())
    P.transfer_parametrizations_and_params(source, target)
    assert len(target.parametrizations.weight) == 1
    assert target.parametrizations.weight[0] is source.parametrizations.weight[0]
    assert_close(target.weight.detach(), source.weight.detach())


def test_transfer_onto_a_non_tensor_attribute_is_refused() -> None:
    """A transfer onto a name the target uses for something else raises ValueError."""
    source = nn.Linear(3, 3)
    P.register_parametrization(source, "weight", Double())
    target = nn.Module()
    target.weight = "not a tensor"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="neither a parameter nor a buffer"):
        P.transfer_parametrizations_and_params(source, target)
    assert not P.is_parametrized(target)


def test_assignment_goes_through_a_nested_parametrization() -> None:
    """Assigning to a tensor whose original is parametrized runs both chains' inverses."""
    m: Any = nn.Linear(3, 3)
    P.register_parametrization(m, "weight", AddOne())
    P.register_parametrization(m.parametrizations.weight, "original", Double())
    target = torch.randn(3, 3)
    m.weight = target
    inner = m.parametrizations.weight.parametrizations.original.original
    assert_close(inner.detach(), (target - 1) / 2)
    assert_close(m.weight.detach(), target)


def test_appending_to_a_parametrized_chain() -> None:
    """A step appended to a chain that is itself parametrized is applied, not skipped."""
    m: Any = nn.Linear(3, 3)
    P.register_parametrization(m, "weight", AddOne())
    P.register_parametrization(m.parametrizations.weight, "original", Double())
    P.register_parametrization(m, "weight", Double())
    inner = m.parametrizations.weight.parametrizations.original.original.detach()
    assert_close(m.weight.detach(), 2 * (2 * inner + 1))


def test_removal_from_a_transfer_target_shares_the_value() -> None:
    """Removal with leave_parametrized on a transfer target writes into the shared original."""
    source: Any = nn.Linear(3, 3)
    target: Any = nn.Linear(3, 3)
    P.register_parametrization(source, "weight", Double())
    P.transfer_parametrizations_and_params(source, target)
    value = target.weight.detach().clone()
    P.remove_parametrizations(target, "weight")
    # Like PyTorch: the originals are shared, so the source now reads Double(value).
    assert_close(source.parametrizations.weight.original.detach(), value)
    assert_close(source.weight.detach(), 2 * value)


def test_deepcopy_of_nested_orthogonal() -> None:
    """A deepcopy of an orthogonal module gets its own class and its own base buffer."""
    m: Any = Z.orthogonal(nn.Linear(4, 4))
    clone = copy.deepcopy(m)
    assert type(clone) is not type(m)
    assert clone.parametrizations.weight[0].base is not m.parametrizations.weight[0].base
    assert_close(clone.weight.detach(), m.weight.detach())
