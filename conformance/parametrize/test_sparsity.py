"""Fake sparsity: a mask parametrization as pruning libraries register it.

Scenarios from PyTorch's ``test/ao/sparsity/test_parametrization.py``, with our own
:class:`~conformance.parametrize._examples.Mask` (mask * weight, the mask kept out of the
state_dict) in place of ``torch.ao``'s.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn
from torch.testing import assert_close

from conformance.parametrize._examples import Mask


class ThreeLayers(nn.Module):
    """A linear layer followed by two in a Sequential, with constant weights 1, 2 and 3."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(16, 16, bias=False)
        self.seq = nn.Sequential(nn.Linear(16, 16, bias=False), nn.Linear(16, 16, bias=False))
        with torch.no_grad():
            self.linear.weight.fill_(1.0)
            self.seq[0].weight.fill_(2.0)
            self.seq[1].weight.fill_(3.0)

    def layers(self) -> list[nn.Linear]:
        return [self.linear, self.seq[0], self.seq[1]]

    def forward(self, x: Tensor) -> Tensor:
        return self.seq(self.linear(x))


def _masked(P, make_mask, model: ThreeLayers | None = None) -> ThreeLayers:
    """``model`` (a fresh one by default) with a Mask from ``make_mask()`` on every layer."""
    model = ThreeLayers() if model is None else model
    for layer in model.layers():
        P.register_parametrization(layer, "weight", Mask(make_mask()))
    return model


def test_zero_mask_zeroes_the_output(parametrize_area, device):
    """An identity layer under an all-zero mask outputs zeros."""
    P = parametrize_area.parametrize
    m = nn.Linear(16, 16, bias=False)
    with torch.no_grad():
        m.weight.copy_(torch.eye(16))
    x = torch.randn(3, 16)
    assert_close(m(x).detach(), x)
    P.register_parametrization(m, "weight", Mask(torch.zeros(16, 16)))
    m.to(device)
    assert_close(m(x.to(device)).detach().cpu(), torch.zeros(3, 16))


def test_masked_layer_computes_with_masked_weight(parametrize_area, device):
    """The output is computed with mask * weight: masked entries contribute nothing."""
    P = parametrize_area.parametrize
    m = nn.Linear(8, 6)
    W, b = m.weight.detach().clone(), m.bias.detach().clone()
    mask = (torch.rand(6, 8) > 0.5).float()
    P.register_parametrization(m, "weight", Mask(mask))
    x = torch.randn(5, 8)
    m.to(device)
    assert_close(m(x.to(device)).detach().cpu(), x @ (mask * W).T + b)


def test_masked_entries_get_no_gradient(parametrize_area):
    """The original's gradient is zero where the mask is zero."""
    P = parametrize_area.parametrize
    m = nn.Linear(8, 6, bias=False)
    W0 = m.weight.detach().clone().requires_grad_()
    mask = (torch.rand(6, 8) > 0.5).float()
    P.register_parametrization(m, "weight", Mask(mask))
    x = torch.randn(5, 8)
    m(x).square().sum().backward()
    (expected,) = torch.autograd.grad((x @ (mask * W0).T).square().sum(), W0)
    grad = m.parametrizations.weight.original.grad
    assert_close(grad, expected)
    assert torch.all(grad[mask == 0] == 0)


def test_every_layer_is_parametrized(parametrize_area):
    """Masks registered on nested layers make each of them parametrized."""
    P = parametrize_area.parametrize
    model = ThreeLayers()
    for layer in model.layers():
        assert not hasattr(layer, "parametrizations")
    model = _masked(P, lambda: torch.eye(16))
    for layer in model.layers():
        assert hasattr(layer, "parametrizations")
        assert P.is_parametrized(layer, "weight")
    x = torch.randn(2, 16)
    # Each masked weight is c * I, so the model scales by 1 * 2 * 3.
    assert_close(model(x).detach(), 6 * x)


def test_state_dict_keeps_originals_not_masks(parametrize_area):
    """The state_dict holds the originals only; loading it keeps the target's own masks."""
    P = parametrize_area.parametrize
    saved = _masked(P, lambda: torch.eye(16))
    state = saved.state_dict()
    assert set(state) == {
        "linear.parametrizations.weight.original",
        "seq.0.parametrizations.weight.original",
        "seq.1.parametrizations.weight.original",
    }
    loaded = ThreeLayers()
    with torch.no_grad():
        for layer in loaded.layers():
            layer.weight.normal_()
    loaded = _masked(P, lambda: torch.zeros(16, 16), loaded)
    loaded.load_state_dict(state)
    for mine, theirs in zip(loaded.layers(), saved.layers(), strict=True):
        assert P.is_parametrized(mine, "weight")
        assert_close(mine.parametrizations.weight.original, theirs.parametrizations.weight.original)
        assert_close(mine.parametrizations.weight[0].mask, torch.zeros(16, 16))
    assert_close(loaded(torch.randn(2, 16)).detach(), torch.zeros(2, 16))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.skipif(
    not hasattr(torch.jit, "trace_module"),
    reason="this torch has no torch.jit.trace_module; TorchScript scenarios do not apply",
)
def test_traced_masked_model_matches_eager(parametrize_area):
    """A traced model with masked layers computes what the eager model computes."""
    P = parametrize_area.parametrize
    model = _masked(P, lambda: (torch.rand(16, 16) > 0.3).float())
    masked = [
        layer.parametrizations.weight[0].mask * layer.parametrizations.weight.original.detach()
        for layer in model.layers()
    ]
    traced = torch.jit.trace_module(model, {"forward": torch.ones(3, 16)})
    x = torch.randn(3, 16)
    expected = x
    for W in masked:
        expected = expected @ W.T
    assert_close(traced(x).detach(), expected)
