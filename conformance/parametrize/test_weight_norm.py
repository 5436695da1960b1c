"""parametrizations.weight_norm: w = g * v / ||v||, its dims, and old checkpoints."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
from torch import Tensor, nn
from torch.testing import assert_close

G_KEY, V_KEY = "parametrizations.weight.original0", "parametrizations.weight.original1"


def _norms(v: Tensor, dim: int | None) -> Tensor:
    """Norms over every dimension except ``dim`` (all of them for None), kept broadcastable."""
    if dim is None:
        return torch.linalg.vector_norm(v)
    others = [d for d in range(v.ndim) if d != dim % v.ndim]
    return torch.linalg.vector_norm(v, dim=others, keepdim=True)


@pytest.mark.parametrize(
    ("dim", "g_shape"),
    [
        pytest.param(0, (4, 1), id="dim0"),
        pytest.param(1, (1, 3), id="dim1"),
        pytest.param(None, (), id="whole"),
        pytest.param(-2, (4, 1), id="dim-2"),
    ],
)
def test_split_into_magnitude_and_direction(parametrize_area, dim, g_shape):
    """original0 holds the norms over the other dims, original1 the direction; weight unchanged."""
    Z = parametrize_area.parametrizations
    m = nn.Linear(3, 4)
    W = m.weight.detach().clone()
    assert Z.weight_norm(m, dim=dim) is m
    g, v = m.state_dict()[G_KEY], m.state_dict()[V_KEY]
    assert g.shape == g_shape
    assert_close(g, _norms(W, dim))
    assert_close(v, W)
    assert_close(m.weight.detach(), W)


@pytest.mark.parametrize("dim", [0, 1, None])
def test_value_is_g_times_unit_direction(parametrize_area, dim, device):
    """With arbitrary originals the weight is g * v / ||v||, on every device."""
    Z = parametrize_area.parametrizations
    m = Z.weight_norm(nn.Linear(3, 4), dim=dim)
    chain = m.parametrizations.weight
    g = torch.rand_like(chain.original0) + 0.5
    v = torch.randn_like(chain.original1)
    with torch.no_grad():
        chain.original0.copy_(g)
        chain.original1.copy_(v)
    expected = g * v / _norms(v, dim)
    x = torch.randn(2, 3)
    m.to(device)
    assert_close(m.weight.detach().cpu(), expected)
    assert_close(m(x.to(device)).detach().cpu(), x @ expected.T + m.bias.detach().cpu())


def test_minus_one_means_the_whole_tensor(parametrize_area):
    """dim=-1 keeps its historical meaning: one norm for the whole tensor, like dim=None."""
    Z = parametrize_area.parametrizations
    m = Z.weight_norm(nn.Linear(3, 4), dim=-1)
    g = m.state_dict()[G_KEY]
    assert g.shape == ()
    assert_close(g, m.weight.detach().norm())


def test_convolution_weight(parametrize_area):
    """For a 4-d convolution weight, dim=0 gives one magnitude per output channel."""
    Z = parametrize_area.parametrizations
    m = nn.Conv2d(2, 3, 3)
    W = m.weight.detach().clone()
    Z.weight_norm(m)
    g = m.state_dict()[G_KEY]
    assert g.shape == (3, 1, 1, 1)
    assert_close(g, W.flatten(1).norm(dim=1).reshape(3, 1, 1, 1))
    x = torch.randn(1, 2, 5, 5)
    assert_close(m(x), torch.nn.functional.conv2d(x, W, m.bias.detach()))


def test_originals_are_parameters_that_train(parametrize_area):
    """g and v are parameters and receive the gradients of g * v / ||v||."""
    Z = parametrize_area.parametrizations
    m = Z.weight_norm(nn.Linear(3, 2, bias=False))
    chain = m.parametrizations.weight
    assert set(dict(m.named_parameters())) == {G_KEY, V_KEY}
    g0 = chain.original0.detach().clone().requires_grad_()
    v0 = chain.original1.detach().clone().requires_grad_()
    x = torch.randn(4, 3)
    m(x).square().sum().backward()
    by_hand = (x @ (g0 * v0 / _norms(v0, 0)).T).square().sum()
    expected_g, expected_v = torch.autograd.grad(by_hand, (g0, v0))
    assert_close(chain.original0.grad, expected_g)
    assert_close(chain.original1.grad, expected_v)


def test_loads_a_checkpoint_of_the_old_weight_norm(parametrize_area):
    """A state_dict with the old weight_g / weight_v keys loads into the new weight norm."""
    Z = parametrize_area.parametrizations
    g = torch.rand(5, 1) + 0.5
    v = torch.randn(5, 4)
    b = torch.randn(5)
    m = Z.weight_norm(nn.Linear(4, 5))
    m.load_state_dict({"weight_g": g, "weight_v": v, "bias": b})
    assert_close(m.state_dict()[G_KEY], g)
    assert_close(m.state_dict()[V_KEY], v)
    x = torch.randn(3, 4)
    assert_close(m(x).detach(), x @ (g * v / _norms(v, 0)).T + b)


def test_loads_an_old_checkpoint_of_a_submodule(parametrize_area):
    """Old keys are recognized under the submodule's prefix in a larger model."""
    Z = parametrize_area.parametrizations
    model = nn.Sequential(nn.Linear(4, 4), nn.Tanh(), Z.weight_norm(nn.Linear(4, 2)))
    old = {
        "0.weight": torch.randn(4, 4),
        "0.bias": torch.randn(4),
        "2.weight_g": torch.rand(2, 1) + 0.5,
        "2.weight_v": torch.randn(2, 4),
        "2.bias": torch.randn(2),
    }
    model.load_state_dict(old)
    W2 = old["2.weight_g"] * old["2.weight_v"] / _norms(old["2.weight_v"], 0)
    assert_close(model[2].weight.detach(), W2)


def test_half_an_old_checkpoint_is_reported_not_renamed(parametrize_area):
    """An old checkpoint missing weight_v is not converted: a non-strict load lists the keys."""
    Z = parametrize_area.parametrizations
    m = Z.weight_norm(nn.Linear(4, 5))
    before = m.weight.detach().clone()
    result = m.load_state_dict({"weight_g": torch.rand(5, 1), "bias": torch.zeros(5)}, strict=False)
    assert result.unexpected_keys == ["weight_g"]
    assert sorted(result.missing_keys) == [G_KEY, V_KEY]
    assert_close(m.weight.detach(), before)


def test_new_checkpoint_round_trip(parametrize_area):
    """The new format saves and loads through state_dict."""
    Z = parametrize_area.parametrizations
    source = Z.weight_norm(nn.Linear(4, 3), dim=1)
    with torch.no_grad():
        source.parametrizations.weight.original0.mul_(2.0)
    state = source.state_dict()
    target = Z.weight_norm(nn.Linear(4, 3), dim=1)
    target.load_state_dict(state)
    g, v = state[G_KEY], state[V_KEY]
    assert_close(target.weight.detach(), g * v / _norms(v, 1))


def test_deepcopy_works_and_pickling_is_refused(parametrize_area):
    """A weight-normed module deep-copies to an equal module but cannot be pickled."""
    Z = parametrize_area.parametrizations
    m = Z.weight_norm(nn.Linear(4, 5))
    clone = copy.deepcopy(m)
    g, v = m.state_dict()[G_KEY], m.state_dict()[V_KEY]
    x = torch.randn(3, 4)
    assert_close(clone(x).detach(), x @ (g * v / _norms(v, 0)).T + m.bias.detach())
    with pytest.raises(RuntimeError, match="state_dict"):
        pickle.dumps(m)


def test_removal_keeps_the_weight(parametrize_area):
    """Removing weight norm leaves a plain parameter holding g * v / ||v||."""
    P, Z = parametrize_area.parametrize, parametrize_area.parametrizations
    m = Z.weight_norm(nn.Linear(4, 3))
    with torch.no_grad():
        m.parametrizations.weight.original0.fill_(2.0)
    v = m.parametrizations.weight.original1.detach().clone()
    P.remove_parametrizations(m, "weight")
    assert isinstance(m.weight, nn.Parameter)
    assert_close(m.weight.detach(), 2.0 * v / _norms(v, 0))
