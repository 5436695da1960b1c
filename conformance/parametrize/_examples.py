"""Parametrizations and checks shared by the parametrize suite.

These are user code, not the implementation under test: plain ``nn.Module`` objects
that a backend's ``register_parametrization`` must accept. Each documents the formula
that tests recompute by hand.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.testing import assert_close


class Symmetric(nn.Module):
    """``X -> triu(X) + triu(X, 1)^T``; right inverse ``A -> triu(A)``."""

    def forward(self, X: Tensor) -> Tensor:
        return X.triu() + X.triu(1).mT

    def right_inverse(self, A: Tensor) -> Tensor:
        return A.triu()


class Skew(nn.Module):
    """``X -> tril(X, -1) - tril(X, -1)^T``; no right inverse."""

    def forward(self, X: Tensor) -> Tensor:
        lower = X.tril(-1)
        return lower - lower.mT


class AddOne(nn.Module):
    """``x -> x + 1``; right inverse ``y -> y - 1``."""

    def forward(self, x: Tensor) -> Tensor:
        return x + 1.0

    def right_inverse(self, y: Tensor) -> Tensor:
        return y - 1.0


class Double(nn.Module):
    """``x -> 2x``; right inverse ``y -> y / 2``."""

    def forward(self, x: Tensor) -> Tensor:
        return 2.0 * x

    def right_inverse(self, y: Tensor) -> Tensor:
        return 0.5 * y


class Negate(nn.Module):
    """``x -> -x``; no right inverse."""

    def forward(self, x: Tensor) -> Tensor:
        return -x


class StackHalves(nn.Module):
    """Two originals, the top and bottom halves of the rows: ``(a, b) -> cat([a, b])``."""

    def forward(self, top: Tensor, bottom: Tensor) -> Tensor:
        return torch.cat([top, bottom])

    def right_inverse(self, X: Tensor) -> tuple[Tensor, Tensor]:
        half = X.size(0) // 2
        return X[:half].clone(), X[half:].clone()


class RankOne(nn.Module):
    """Two vectors to their outer product; right inverse: the best rank-one approximation."""

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return x.unsqueeze(-1) @ y.unsqueeze(-2)

    def right_inverse(self, Y: Tensor) -> tuple[Tensor, Tensor]:
        U, S, Vh = torch.linalg.svd(Y, full_matrices=False)
        root = S[..., 0].sqrt().unsqueeze(-1)
        return U[..., :, 0] * root, Vh[..., 0, :] * root


class Mask(nn.Module):
    """Fake sparsity: ``W -> mask * W``; the mask is a non-persistent buffer, not in state_dict."""

    mask: Tensor

    def __init__(self, mask: Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, W: Tensor) -> Tensor:
        return self.mask * W


class Counting(nn.Module):
    """Wraps a parametrization and counts how often it is evaluated."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.calls = 0

    def forward(self, *originals: Tensor) -> Tensor:
        self.calls += 1
        result: Tensor = self.inner(*originals)
        return result


def symmetric(X: Tensor) -> Tensor:
    """What :class:`Symmetric` computes, written out."""
    return X.triu() + X.triu(1).mT


def assert_orthonormal(Q: Tensor) -> None:
    """Orthonormal columns (tall or square) or rows (wide), for a matrix or a batch."""
    if Q.size(-2) < Q.size(-1):
        Q = Q.mT
    n, k = Q.shape[-2:]
    eye = torch.eye(k, dtype=Q.dtype).expand(*Q.shape[:-2], k, k)
    tolerance = 10 * n * torch.finfo(Q.dtype).eps
    assert_close(Q.mH @ Q, eye, atol=tolerance, rtol=0.0)


def q_factor(A: Tensor) -> Tensor:
    """The Q of ``A = QR`` with ``diag(R) >= 0`` (for a wide ``A``: that of ``A^T``, transposed)."""
    wide = A.size(-2) < A.size(-1)
    if wide:
        A = A.mT
    Q, R = torch.linalg.qr(A)
    Q = Q * R.diagonal(dim1=-2, dim2=-1).sgn().unsqueeze(-2)
    return Q.mT if wide else Q
