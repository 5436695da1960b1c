"""parametrizations.spectral_norm: the value W / sigma and the power iteration behind sigma.

``sigma`` is read from the ``_u``/``_v`` estimates through the state_dict, whose keys
(``parametrizations.weight.0._u`` and ``._v``) are part of the checkpoint format.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.testing import assert_close

U_KEY, V_KEY = "parametrizations.weight.0._u", "parametrizations.weight.0._v"


def _estimates(m: nn.Module) -> tuple[Tensor, Tensor]:
    state = m.state_dict()
    return state[U_KEY].clone(), state[V_KEY].clone()


def _power_steps(W: Tensor, u: Tensor, v: Tensor, steps: int) -> tuple[Tensor, Tensor]:
    """``steps`` iterations of the power method, written out."""
    for _ in range(steps):
        u = F.normalize(W @ v, dim=0, eps=1e-12)
        v = F.normalize(W.mH @ u, dim=0, eps=1e-12)
    return u, v


def _original(m: nn.Module) -> Tensor:
    return m.parametrizations.weight.original.detach().clone()


def test_state_dict_keys_and_shapes(parametrize_area):
    """The original and the two singular-vector estimates are what the state_dict holds."""
    Z = parametrize_area.parametrizations
    m = Z.spectral_norm(nn.Linear(5, 7))
    state = m.state_dict()
    assert set(state) == {"parametrizations.weight.original", U_KEY, V_KEY, "bias"}
    assert state[U_KEY].shape == (7,)
    assert state[V_KEY].shape == (5,)
    assert "parametrizations.weight.original" in dict(m.named_parameters())


def test_eval_value_is_weight_over_sigma(parametrize_area, device):
    """In eval mode the weight is W / (u . W v) with the stored estimates, which stay unchanged."""
    Z = parametrize_area.parametrizations
    m = Z.spectral_norm(nn.Linear(5, 7)).eval()
    W = _original(m)
    u, v = _estimates(m)
    x = torch.randn(3, 5)
    m.to(device)
    out = m(x.to(device)).detach().cpu()
    expected = W / torch.dot(u, W @ v)
    assert_close(m.weight.detach().cpu(), expected)
    assert_close(out, x @ expected.T + m.bias.detach().cpu())
    assert_close(_estimates(m)[0].cpu(), u)
    assert_close(_estimates(m)[1].cpu(), v)


@pytest.mark.parametrize("n_power_iterations", [1, 3])
def test_training_access_refines_the_estimates(parametrize_area, n_power_iterations):
    """Each read in training mode first runs n_power_iterations power steps, then normalizes."""
    Z = parametrize_area.parametrizations
    m = Z.spectral_norm(nn.Linear(5, 7), n_power_iterations=n_power_iterations)
    m.train()
    W = _original(m)
    u, v = _estimates(m)
    weight = m.weight.detach()
    u, v = _power_steps(W, u, v, n_power_iterations)
    assert_close(_estimates(m)[0], u)
    assert_close(_estimates(m)[1], v)
    assert_close(weight, W / torch.dot(u, W @ v))


def test_default_is_one_power_iteration_per_access(parametrize_area):
    """Without n_power_iterations, each training read runs exactly one power step."""
    Z = parametrize_area.parametrizations
    m = Z.spectral_norm(nn.Linear(5, 7))
    W = _original(m)
    u, v = _estimates(m)
    weight = m.weight.detach()
    u, v = _power_steps(W, u, v, 1)
    assert_close(_estimates(m)[0], u)
    assert_close(_estimates(m)[1], v)
    assert_close(weight, W / torch.dot(u, W @ v))


def test_estimates_are_updated_in_place(parametrize_area):
    """Training reads update _u and _v in place: the same tensor objects and storage stay.

    Hooks, optimizers and state_dict views taken before a forward pass hold these very
    tensors; a refinement that rebinds the attributes would leave them stale.
    """
    Z = parametrize_area.parametrizations
    m = Z.spectral_norm(nn.Linear(5, 7))
    norm = m.parametrizations.weight[0]
    u, v = norm._u, norm._v
    pointers = (u.data_ptr(), v.data_ptr())
    before = (u.clone(), v.clone())
    view = m.state_dict(keep_vars=True)
    for _ in range(3):
        m(torch.randn(2, 5))
    assert norm._u is u
    assert norm._v is v
    assert (u.data_ptr(), v.data_ptr()) == pointers
    assert view[U_KEY] is u
    assert view[V_KEY] is v
    assert not torch.equal(u, before[0]) or not torch.equal(v, before[1]), "no refinement seen"
    assert_close(_estimates(m)[0], u)


def test_zero_vector_stays_zero(parametrize_area):
    """A zero vector is divided by max(||v||, eps), not by zero: it stays zero, never NaN."""
    Z = parametrize_area.parametrizations
    m = nn.Linear(3, 4)
    with torch.no_grad():
        m.bias.zero_()
    Z.spectral_norm(m, "bias")
    assert torch.equal(m.bias.detach(), torch.zeros(4))


def test_negative_dim_counts_from_the_end(parametrize_area):
    """dim=-2 of a matrix is its dim 0: the rows are the output features."""
    Z = parametrize_area.parametrizations
    m = Z.spectral_norm(nn.Linear(5, 7), dim=-2).eval()
    W = _original(m)
    u, v = _estimates(m)
    assert u.shape == (7,)
    assert v.shape == (5,)
    assert_close(m.weight.detach(), W / torch.dot(u, W @ v))


def test_sigma_converges_to_the_largest_singular_value(parametrize_area):
    """Repeated training reads make sigma the largest singular value: the weight's norm is 1."""
    Z = parametrize_area.parametrizations
    m = Z.spectral_norm(nn.Linear(6, 8))
    W = _original(m)
    for _ in range(100):
        _ = m.weight
    u, v = _estimates(m)
    top = torch.linalg.svdvals(W)[0]
    assert_close(torch.dot(u, W @ v), top, atol=1e-4, rtol=1e-4)
    assert_close(
        torch.linalg.matrix_norm(m.weight.detach(), 2), torch.tensor(1.0), atol=1e-4, rtol=0
    )


def test_diagonal_matrix_exact_value(parametrize_area):
    """For a diagonal matrix the spectral norm is its largest absolute entry."""
    Z = parametrize_area.parametrizations
    m = nn.Linear(3, 3, bias=False)
    d = torch.tensor([0.5, -2.0, 1.5])
    with torch.no_grad():
        m.weight.copy_(torch.diag(d))
    Z.spectral_norm(m)
    assert_close(m.weight.detach(), torch.diag(d / 2.0))


def test_vector_is_divided_by_its_norm(parametrize_area):
    """A one-dimensional tensor is divided by its Euclidean norm, with no estimates stored."""
    Z = parametrize_area.parametrizations
    m = nn.Linear(3, 4)
    b = m.bias.detach().clone()
    Z.spectral_norm(m, "bias")
    assert_close(m.bias.detach(), b / b.norm())
    assert set(m.state_dict()) == {"weight", "parametrizations.bias.original"}


def test_transposed_convolution_uses_dim_one(parametrize_area):
    """For a transposed convolution the rows are taken along dim 1 (its output channels)."""
    Z = parametrize_area.parametrizations
    m = Z.spectral_norm(nn.ConvTranspose2d(3, 4, (2, 3))).eval()
    W = _original(m)
    u, v = _estimates(m)
    assert u.shape == (4,)
    matrix = W.transpose(0, 1).flatten(1)
    assert_close(m.weight.detach(), W / torch.dot(u, matrix @ v))


def test_explicit_dim(parametrize_area):
    """An explicit dim chooses which dimension becomes the rows of the matrix."""
    Z = parametrize_area.parametrizations
    m = nn.Module()
    m.weight = nn.Parameter(torch.randn(2, 3, 4))
    Z.spectral_norm(m, dim=2).eval()
    W = _original(m)
    u, v = _estimates(m)
    assert u.shape == (4,)
    assert v.shape == (6,)
    matrix = W.permute(2, 0, 1).flatten(1)
    assert_close(m.weight.detach(), W / torch.dot(u, matrix @ v))


def test_gradient_reaches_the_original(parametrize_area):
    """Backward in eval mode gives the original the gradient of W / (u . W v)."""
    Z = parametrize_area.parametrizations
    m = Z.spectral_norm(nn.Linear(4, 3, bias=False)).eval()
    u, v = _estimates(m)
    W0 = _original(m).requires_grad_()
    x = torch.randn(2, 4)
    m(x).square().sum().backward()
    (expected,) = torch.autograd.grad((x @ (W0 / torch.dot(u, W0 @ v)).T).square().sum(), W0)
    assert_close(m.parametrizations.weight.original.grad, expected)


def test_two_training_forwards_then_one_backward(parametrize_area):
    """Two training-mode forwards can be backpropagated together (estimates change in between)."""
    Z = parametrize_area.parametrizations
    m = Z.spectral_norm(nn.Linear(4, 3, bias=False))
    W0 = _original(m).requires_grad_()
    u, v = _estimates(m)
    x = torch.randn(2, 4)
    (m(x).sum() + m(x).sum()).backward()
    u1, v1 = _power_steps(W0.detach(), u, v, 1)
    u2, v2 = _power_steps(W0.detach(), u1, v1, 1)
    first = (x @ (W0 / torch.dot(u1, W0 @ v1)).T).sum()
    second = (x @ (W0 / torch.dot(u2, W0 @ v2)).T).sum()
    by_hand = first + second
    (expected,) = torch.autograd.grad(by_hand, W0)
    assert_close(m.parametrizations.weight.original.grad, expected)


def test_state_dict_round_trip(parametrize_area):
    """Loading a state_dict restores original and estimates: eval outputs match."""
    Z = parametrize_area.parametrizations
    source = Z.spectral_norm(nn.Linear(3, 5))
    for _ in range(3):
        source(torch.randn(2, 3))
    state = source.state_dict()
    target = Z.spectral_norm(nn.Linear(3, 5))
    target.load_state_dict(state)
    target.eval()
    W, u, v = state["parametrizations.weight.original"], state[U_KEY], state[V_KEY]
    x = torch.randn(4, 3)
    assert_close(target(x).detach(), x @ (W / torch.dot(u, W @ v)).T + state["bias"])
    assert_close(_estimates(target)[0], u)


def test_removal_in_eval_mode_keeps_the_weight(parametrize_area):
    """Removing in eval mode leaves exactly the last normalized weight."""
    P, Z = parametrize_area.parametrize, parametrize_area.parametrizations
    m = Z.spectral_norm(nn.Linear(3, 5))
    m.eval()
    W = _original(m)
    u, v = _estimates(m)
    P.remove_parametrizations(m, "weight")
    assert isinstance(m.weight, nn.Parameter)
    assert_close(m.weight.detach(), W / torch.dot(u, W @ v))


def test_stacked_and_several_tensors(parametrize_area):
    """spectral_norm can be applied twice to one tensor and to several tensors of a module."""
    P, Z = parametrize_area.parametrize, parametrize_area.parametrizations
    m = nn.Linear(4, 3)
    Z.spectral_norm(m)
    Z.spectral_norm(m)
    Z.spectral_norm(m, "bias")
    assert len(m.parametrizations.weight) == 2
    assert P.is_parametrized(m, "bias")
    P.remove_parametrizations(m, "bias")
    assert P.is_parametrized(m, "weight")
    assert "bias" in dict(m.named_parameters())


@pytest.mark.parametrize(
    ("kwargs", "error", "phrase"),
    [
        pytest.param(
            {"n_power_iterations": 0}, ValueError, "n_power_iterations", id="no-iterations"
        ),
        pytest.param(
            {"n_power_iterations": -1}, ValueError, "n_power_iterations", id="negative-iterations"
        ),
        pytest.param({"dim": 2}, IndexError, "Dimension out of range", id="dim-out-of-range"),
        pytest.param({"dim": 3}, IndexError, "Dimension out of range", id="dim-far-out-of-range"),
        pytest.param({"dim": -3}, IndexError, "Dimension out of range", id="negative-dim-too-low"),
        pytest.param({"name": "nope"}, ValueError, "has no parameter or buffer", id="missing"),
    ],
)
def test_invalid_arguments(parametrize_area, kwargs, error, phrase):
    """Invalid arguments raise with the key phrase and leave the module unparametrized."""
    P, Z = parametrize_area.parametrize, parametrize_area.parametrizations
    m = nn.Linear(3, 4)
    with pytest.raises(error, match=phrase):
        Z.spectral_norm(m, **kwargs)
    assert not P.is_parametrized(m)
