"""parametrizations.orthogonal: orthogonality, initial value, assignment and the exact maps.

The maps are pinned exactly (not only "some orthogonal matrix") because the originals
are what a checkpoint stores: the same originals must give the same weight everywhere.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn
from torch.testing import assert_close

from conformance.parametrize._examples import assert_orthonormal, q_factor

MAPS = ["matrix_exp", "cayley", "householder"]
SHAPES = {
    "square": (4, 4),
    "tall": (5, 3),
    "wide": (3, 5),
    "thin": (6, 2),
    "batched-square": (2, 4, 4),
    "batched-tall": (2, 5, 3),
    "batched-wide": (2, 3, 5),
}
TRIVIALIZATION = [pytest.param(True, id="trivialization"), pytest.param(False, id="plain")]


class BatchedLinear(nn.Module):
    """A layer with a batch of weight matrices: ``x @ W[i]^T + b`` for every ``i``."""

    def __init__(self, shape: tuple[int, ...], dtype: torch.dtype) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(shape, dtype=dtype) / shape[-1] ** 0.5)
        self.bias = nn.Parameter(torch.zeros(shape[-2], dtype=dtype))

    def forward(self, x: Tensor) -> Tensor:
        return x @ self.weight.mT + self.bias


def _linear(shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> nn.Module:
    """An ``nn.Linear`` with a weight of ``shape``, or a :class:`BatchedLinear` for batches."""
    if len(shape) > 2:
        return BatchedLinear(shape, dtype)
    rows, columns = shape
    return nn.Linear(columns, rows, dtype=dtype)


def _can_assign(orthogonal_map: str, use_trivialization: bool) -> bool:
    return use_trivialization or orthogonal_map == "householder"


def _skew_map(X: Tensor, orthogonal_map: str) -> Tensor:
    """matrix_exp / cayley of the tall X, written out: the first k columns of map(L - L^H)."""
    n, k = X.shape[-2:]
    lower = torch.cat([X.tril(), X.new_zeros(*X.shape[:-2], n, n - k)], dim=-1)
    A = lower - lower.mH
    eye = torch.eye(n, dtype=X.dtype)
    if orthogonal_map == "matrix_exp":
        Q = torch.matrix_exp(A)
    else:
        Q = torch.linalg.inv(eye - A / 2) @ (eye + A / 2)
    return Q[..., :k]


def _householder_map(X: Tensor) -> Tensor:
    """Householder product of X's strict lower triangle, columns signed by X's diagonal."""
    reflectors = X.tril(-1)
    tau = 2.0 / (1.0 + reflectors.square().sum(dim=-2))
    Q = torch.linalg.householder_product(reflectors, tau)
    return Q * X.diagonal(dim1=-2, dim2=-1).sign().unsqueeze(-2)


def _expected_map(X: Tensor, orthogonal_map: str) -> Tensor:
    wide = X.size(-2) < X.size(-1)
    tall = X.mT if wide else X
    if orthogonal_map == "householder":
        Q = _householder_map(tall)
    else:
        Q = _skew_map(tall, orthogonal_map)
    return Q.mT if wide else Q


def _random_original(shape: tuple[int, ...]) -> Tensor:
    """A random original whose diagonal is +-1, as the Householder map expects."""
    X = 0.3 * torch.randn(shape)
    signs = torch.randint(0, 2, X.diagonal(dim1=-2, dim2=-1).shape) * 2 - 1
    X.diagonal(dim1=-2, dim2=-1).copy_(signs)
    return X


@pytest.mark.parametrize("use_trivialization", TRIVIALIZATION)
@pytest.mark.parametrize("orthogonal_map", MAPS)
@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
def test_initial_weight(parametrize_area, shape, orthogonal_map, use_trivialization):
    """The weight is orthogonal and, where assignable, starts as the Q factor of the old weight."""
    Z = parametrize_area.parametrizations
    m = _linear(shape)
    W = m.weight.detach().clone()
    assert Z.orthogonal(m, "weight", orthogonal_map, use_trivialization=use_trivialization) is m
    weight = m.weight.detach()
    assert weight.shape == shape
    assert_orthonormal(weight)
    if _can_assign(orthogonal_map, use_trivialization):
        assert_close(weight, q_factor(W), atol=1e-5, rtol=0.0)
    else:
        assert_close(weight, _expected_map(W, orthogonal_map), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("use_trivialization", TRIVIALIZATION)
@pytest.mark.parametrize("orthogonal_map", MAPS)
@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
def test_stays_orthogonal_while_training(
    parametrize_area, shape, orthogonal_map, use_trivialization
):
    """After optimizer steps on the original, the weight has moved and is still orthogonal."""
    Z = parametrize_area.parametrizations
    m = Z.orthogonal(
        _linear(shape), orthogonal_map=orthogonal_map, use_trivialization=use_trivialization
    )
    before = m.weight.detach().clone()
    optimizer = torch.optim.SGD(m.parameters(), lr=0.1)
    x = torch.randn(4, shape[-1])
    for _ in range(3):
        optimizer.zero_grad()
        m(x).square().sum().backward()
        optimizer.step()
    after = m.weight.detach()
    assert not torch.allclose(after, before, atol=1e-4)
    assert_orthonormal(after)


@pytest.mark.parametrize("use_trivialization", TRIVIALIZATION)
@pytest.mark.parametrize("orthogonal_map", MAPS)
@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
def test_assignment(parametrize_area, shape, orthogonal_map, use_trivialization):
    """Assigning keeps an orthogonal matrix and orthogonalizes others; some maps refuse it."""
    Z = parametrize_area.parametrizations
    m = Z.orthogonal(
        _linear(shape), orthogonal_map=orthogonal_map, use_trivialization=use_trivialization
    )
    orthogonal = q_factor(torch.randn(shape))
    general = torch.randn(shape)
    if not _can_assign(orthogonal_map, use_trivialization):
        with pytest.raises(
            NotImplementedError, match="assign to the matrix exponential or the Cayley"
        ):
            m.weight = orthogonal
        return
    m.weight = orthogonal
    assert_close(m.weight.detach(), orthogonal, atol=1e-5, rtol=0.0)
    m.weight = general
    assert_close(m.weight.detach(), q_factor(general), atol=1e-5, rtol=0.0)


@pytest.mark.parametrize("orthogonal_map", MAPS)
@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
def test_map_without_trivialization(parametrize_area, shape, orthogonal_map):
    """Without trivialization the weight is exactly the map applied to the original."""
    Z = parametrize_area.parametrizations
    m = Z.orthogonal(_linear(shape), orthogonal_map=orthogonal_map, use_trivialization=False)
    X = _random_original(shape)
    with torch.no_grad():
        m.parametrizations.weight.original.copy_(X)
    assert set(m.state_dict()) == {"parametrizations.weight.original", "bias"}
    assert_close(m.weight.detach(), _expected_map(X, orthogonal_map), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("orthogonal_map", [*MAPS, None])
@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
def test_map_with_trivialization(parametrize_area, shape, orthogonal_map):
    """With trivialization the weight is base @ map(original) (for wide ones, transposed)."""
    Z = parametrize_area.parametrizations
    m = Z.orthogonal(_linear(shape), orthogonal_map=orthogonal_map)
    X = _random_original(shape)
    with torch.no_grad():
        m.parametrizations.weight.original.copy_(X)
    state = m.state_dict()
    assert set(state) == {
        "parametrizations.weight.original",
        "parametrizations.weight.0.base",
        "bias",
    }
    base = state["parametrizations.weight.0.base"]
    n = max(shape[-2:])
    assert base.shape == (*shape[:-2], n, n)
    # The documented default: matrix_exp for square matrices, householder otherwise.
    used = orthogonal_map or ("matrix_exp" if shape[-2] == shape[-1] else "householder")
    wide = shape[-2] < shape[-1]
    tall_q = _expected_map(X.mT if wide else X, used)
    expected = base @ tall_q
    assert_close(m.weight.detach(), expected.mT if wide else expected, atol=1e-5, rtol=1e-5)


def test_initial_weight_keeps_an_orthogonal_matrix(parametrize_area):
    """An already orthogonal weight is kept as it is, not replaced by another factorization."""
    Z = parametrize_area.parametrizations
    m = nn.Linear(4, 4)
    Q = q_factor(torch.randn(4, 4)) * torch.tensor([1.0, -1.0, 1.0, -1.0])
    with torch.no_grad():
        m.weight.copy_(Q)
    Z.orthogonal(m)
    assert_close(m.weight.detach(), Q, atol=1e-6, rtol=0.0)


@pytest.mark.parametrize("orthogonal_map", ["matrix_exp", "cayley"])
def test_complex_weight_becomes_unitary(parametrize_area, orthogonal_map):
    """A complex weight becomes unitary, and starts as its Q factor."""
    Z = parametrize_area.parametrizations
    m = _linear((4, 3), dtype=torch.complex64)
    W = m.weight.detach().clone()
    Z.orthogonal(m, orthogonal_map=orthogonal_map)
    assert m.weight.dtype == torch.complex64
    assert_orthonormal(m.weight.detach())
    assert_close(m.weight.detach(), q_factor(W), atol=1e-5, rtol=0.0)


def test_batch_of_matrices(parametrize_area):
    """A tensor with more than two dimensions is a batch: each matrix becomes orthogonal."""
    Z = parametrize_area.parametrizations
    m = nn.Module()
    m.kernel = nn.Parameter(torch.randn(2, 5, 3))
    K = m.kernel.detach().clone()
    Z.orthogonal(m, "kernel")
    assert m.kernel.shape == (2, 5, 3)
    assert_orthonormal(m.kernel.detach())
    assert_close(m.kernel.detach(), q_factor(K), atol=1e-5, rtol=0.0)


def test_forward_on_device(parametrize_area, device):
    """An orthogonally parametrized layer computes x @ Q^T + b on every device."""
    Z = parametrize_area.parametrizations
    m = Z.orthogonal(nn.Linear(4, 6))
    Q, b = m.weight.detach().clone(), m.bias.detach().clone()
    x = torch.randn(3, 4)
    m.to(device)
    assert_close(m(x.to(device)).detach().cpu(), x @ Q.T + b, atol=1e-5, rtol=1e-5)


def test_state_dict_round_trip(parametrize_area):
    """A state_dict saved after training loads into a fresh orthogonal layer with equal weights."""
    Z = parametrize_area.parametrizations
    source = Z.orthogonal(nn.Linear(4, 4))
    optimizer = torch.optim.SGD(source.parameters(), lr=0.1)
    source(torch.randn(2, 4)).sum().backward()
    optimizer.step()
    state = source.state_dict()
    target = Z.orthogonal(nn.Linear(4, 4))
    target.load_state_dict(state)
    X, base = state["parametrizations.weight.original"], state["parametrizations.weight.0.base"]
    expected = base @ _expected_map(X, "matrix_exp")
    assert_close(target.weight.detach(), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    ("name", "orthogonal_map", "error", "phrase"),
    [
        pytest.param("weight", "foo", ValueError, "has to be one of", id="unknown-map"),
        pytest.param("bias", None, ValueError, "Expected a matrix", id="vector"),
        pytest.param("nope", None, ValueError, "has no parameter or buffer", id="missing"),
    ],
)
def test_invalid_arguments(parametrize_area, name, orthogonal_map, error, phrase):
    """Invalid arguments raise with the key phrase and leave the module unparametrized."""
    P, Z = parametrize_area.parametrize, parametrize_area.parametrizations
    m = nn.Linear(3, 4)
    with pytest.raises(error, match=phrase):
        Z.orthogonal(m, name, orthogonal_map)
    assert not P.is_parametrized(m)


def test_householder_refuses_complex(parametrize_area):
    """The householder map refuses complex tensors."""
    P, Z = parametrize_area.parametrize, parametrize_area.parametrizations
    m = _linear((4, 3), dtype=torch.complex64)
    with pytest.raises(ValueError, match="householder parametrization does not support complex"):
        Z.orthogonal(m, orthogonal_map="householder")
    assert not P.is_parametrized(m)


@pytest.mark.parametrize("shape", [(5, 5), (3, 3), (4, 2), (2, 4, 3)], ids=str)
def test_assignment_of_wrong_shape(parametrize_area, shape):
    """Assigning a matrix of another shape (larger, smaller, batched) raises ValueError."""
    Z = parametrize_area.parametrizations
    m = Z.orthogonal(nn.Linear(3, 4))
    before = m.weight.detach().clone()
    with pytest.raises(ValueError, match="matrices of shape"):
        m.weight = torch.randn(shape)
    assert_close(m.weight.detach(), before)
