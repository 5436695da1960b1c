"""Ready-made parametrizations: orthogonal, spectral norm and weight norm.

This is the reference for ``torch.nn.utils.parametrizations``. Each function registers
one parametrization module through :func:`reference_impl.parametrize.register_parametrization`
and returns the module it was given.

The formulas, buffer names (``base``, ``_u``, ``_v``) and originals (``original``, or
``original0``/``original1`` for weight norm) are part of the contract, not details:
they decide what a ``state_dict`` contains, so a checkpoint saved with one implementation
must load into another and give the same weights.
"""

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Module

from reference_impl import parametrize

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]

ORTHOGONAL_MAPS = ("matrix_exp", "cayley", "householder")


def _tensor_named(module: Module, name: str) -> Tensor:
    value = getattr(module, name, None)
    if not isinstance(value, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    return value


# --------------------------------------------------------------------------------------
# Orthogonal
# --------------------------------------------------------------------------------------


def _is_orthogonal(Q: Tensor) -> bool:
    """Whether the columns of the tall matrix (or batch) ``Q`` are orthonormal."""
    n, k = Q.shape[-2:]
    eye = torch.eye(k, dtype=Q.dtype, device=Q.device)
    tolerance = 10.0 * n * torch.finfo(Q.dtype).eps
    return torch.allclose(Q.mH @ Q, eye, atol=tolerance)


def _q_factor(A: Tensor) -> Tensor:
    """The Q of ``A = QR`` normalised so that ``R`` has a non-negative real diagonal.

    ``torch.linalg.qr`` leaves the signs of ``R``'s diagonal free; fixing them makes the
    factor unique, so "the orthogonal matrix closest in spirit to A" is well defined.
    """
    Q, R = torch.linalg.qr(A)
    return Q * R.diagonal(dim1=-2, dim2=-1).sgn().unsqueeze(-2)


class _Orthogonal(Module):
    """Maps an unconstrained (tall) matrix to one with orthonormal columns.

    Wide matrices are handled transposed, so "columns" means rows for them. The maps:

    ``matrix_exp`` / ``cayley``
        The lower triangle of ``X`` (zero-padded to a square ``n x n`` matrix) defines a
        skew-symmetric (skew-Hermitian) ``A = L - L^H``; ``exp(A)`` or the Cayley
        transform ``(I - A/2)^{-1} (I + A/2)`` is orthogonal, and its first ``k`` columns
        are the result.
    ``householder``
        The columns of ``X`` strictly below the diagonal are Householder reflectors; their
        product is orthogonal. The signs on the diagonal of ``X`` (``+1``/``-1``) flip the
        matching columns, so that every orthogonal matrix is reachable.

    With ``use_trivialization`` (the default), the result is multiplied on the left by a
    buffer ``base``: assigning a matrix stores its orthogonal factor in ``base`` and resets
    the original to the point that maps to the identity. Optimisation then happens in a
    neighbourhood of the identity, where these maps are well conditioned ("dynamic
    trivialization", Lezcano-Casado 2019).
    """

    base: Tensor | None

    def __init__(self, weight: Tensor, orthogonal_map: str, *, use_trivialization: bool) -> None:
        super().__init__()
        if weight.is_complex() and orthogonal_map == "householder":
            # Complex reflectors cannot encode their own scaling factors, so the
            # parametrization would not stay unitary under optimisation.
            raise ValueError("The householder parametrization does not support complex tensors.")
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        self.use_trivialization = use_trivialization
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X: Tensor) -> Tensor:
        wide = X.size(-2) < X.size(-1)
        if wide:
            X = X.mT
        Q = self._householder(X) if self.orthogonal_map == "householder" else self._from_skew(X)
        if self.use_trivialization:
            assert self.base is not None, "right_inverse sets base before the first use"
            Q = self.base @ Q
        return Q.mT if wide else Q

    def _from_skew(self, X: Tensor) -> Tensor:
        n, k = X.shape[-2:]
        lower = X.tril()
        if n > k:
            padding = lower.new_zeros(n, n - k).expand(*lower.shape[:-2], -1, -1)
            lower = torch.cat([lower, padding], dim=-1)
        A = lower - lower.mH
        if self.orthogonal_map == "matrix_exp":
            Q = torch.matrix_exp(A)
        else:
            eye = torch.eye(n, dtype=A.dtype, device=A.device)
            Q = torch.linalg.solve(eye - A / 2, eye + A / 2)
        return Q[..., :k]

    @staticmethod
    def _householder(X: Tensor) -> Tensor:
        reflectors = X.tril(diagonal=-1)
        # Each reflector has an implicit 1 on the diagonal: tau = 2 / ||v||^2.
        tau = 2.0 / (1.0 + (reflectors * reflectors).sum(dim=-2))
        Q = torch.linalg.householder_product(reflectors, tau)
        # The diagonal of X only carries signs; .int() keeps gradients away from it.
        return Q * X.diagonal(dim1=-2, dim2=-1).int().unsqueeze(-2)

    @torch.no_grad()
    def right_inverse(self, Q: Tensor) -> Tensor:
        if Q.shape != self.shape:
            raise ValueError(
                f"Expected a matrix or batch of matrices of shape {self.shape}. "
                f"Got a tensor of shape {Q.shape}."
            )
        requested = Q
        if Q.size(-2) < Q.size(-1):
            Q = Q.mT
        n, k = Q.shape[-2:]

        if not self.use_trivialization:
            if self.orthogonal_map != "householder":
                # No closed form gives the X whose exp/Cayley image is a given matrix.
                raise NotImplementedError(
                    "It is not possible to assign to the matrix exponential or the Cayley "
                    "parametrizations when use_trivialization=False."
                )
            return self._householder_preimage(Q, transpose=requested is not Q)

        if n == k:
            base = Q.clone() if _is_orthogonal(Q) else _q_factor(Q)
        else:
            # Complete the k columns to a square matrix with random columns; the first k
            # columns of its Q factor are the Q factor of the requested matrix.
            extra = torch.randn(*Q.shape[:-2], n, n - k, dtype=Q.dtype, device=Q.device)
            base = _q_factor(torch.cat([Q, extra], dim=-1))
        self.base = base
        # The point every map sends to the identity: zero below the diagonal and -1 on it.
        minus_eye = torch.zeros_like(requested)
        minus_eye.diagonal(dim1=-2, dim2=-1).fill_(-1.0)
        return minus_eye

    @staticmethod
    def _householder_preimage(Q: Tensor, *, transpose: bool) -> Tensor:
        """Reflectors (and diagonal signs) whose product is the Q factor of ``Q``."""
        reflectors, tau = torch.geqrf(Q)
        diagonal = reflectors.diagonal(dim1=-2, dim2=-1)
        # The diagonal of geqrf's output is R's; its signs say which columns to flip.
        diagonal.sign_()
        # tau == 0 means "no reflection", but the forward map always reflects: flip back.
        diagonal[tau == 0.0] *= -1
        return reflectors.mT if transpose else reflectors


def orthogonal(
    module: Module,
    name: str = "weight",
    orthogonal_map: str | None = None,
    *,
    use_trivialization: bool = True,
) -> Module:
    """Constrain ``module.<name>`` to be orthogonal (unitary if complex); return ``module``.

    A tall matrix gets orthonormal columns, a wide one orthonormal rows; tensors with
    more than two dimensions are batches of matrices. ``orthogonal_map`` is one of
    ``"matrix_exp"``, ``"cayley"``, ``"householder"``; by default ``"matrix_exp"`` for
    square or complex matrices and ``"householder"`` otherwise (see :class:`_Orthogonal`).

    The initial value is the orthogonal factor of the current tensor (the tensor itself
    when it already is orthogonal). Without trivialization, ``matrix_exp`` and ``cayley``
    cannot be assigned to, and start from the image of the current tensor under the map.
    """
    weight = _tensor_named(module, name)
    if weight.ndim < 2:
        raise ValueError(
            f"Expected a matrix or batch of matrices. Got a tensor of {weight.ndim} dimensions."
        )
    if orthogonal_map is None:
        square = weight.size(-2) == weight.size(-1)
        orthogonal_map = "matrix_exp" if square or weight.is_complex() else "householder"
    if orthogonal_map not in ORTHOGONAL_MAPS:
        raise ValueError(
            'orthogonal_map has to be one of "matrix_exp", "cayley", "householder". '
            f"Got: {orthogonal_map}"
        )
    parametrization = _Orthogonal(weight, orthogonal_map, use_trivialization=use_trivialization)
    # unsafe: the chain's output depends on ``base``, which right_inverse has just set;
    # the shape and dtype are correct by construction.
    parametrize.register_parametrization(module, name, parametrization, unsafe=True)
    return module


# --------------------------------------------------------------------------------------
# Weight norm
# --------------------------------------------------------------------------------------


def _norm_except_dim(v: Tensor, dim: int) -> Tensor:
    """Euclidean norms of ``v`` over every dimension but ``dim``, broadcastable to ``v``.

    ``dim=-1`` is not "the last dimension" but "no dimension is kept": the norm of the
    whole tensor. This is the historical meaning (``weight_norm(dim=None)`` is stored as
    ``-1``), kept so that old checkpoints mean the same thing.
    """
    if dim == -1:
        return torch.linalg.vector_norm(v)
    dim = dim % v.ndim
    others = [d for d in range(v.ndim) if d != dim]
    if not others:
        return v.abs()
    return torch.linalg.vector_norm(v, dim=others, keepdim=True)


class _WeightNorm(Module):
    """``w = g * v / ||v||``, the norm taken over all dimensions but ``dim``.

    The originals are ``original0 = g`` (the magnitudes, one per slice along ``dim``) and
    ``original1 = v`` (the direction, same shape as ``w``).
    """

    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_v * (weight_g / _norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        return _norm_except_dim(weight, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Split ``module.<name>`` into a magnitude and a direction; return ``module``.

    ``module.parametrizations.<name>.original0`` is ``g`` (norms over every dimension
    except ``dim``, kept as size-1 dimensions) and ``original1`` is ``v``; the weight is
    ``g * v / ||v||``. ``dim=None`` (or ``-1``) normalises the whole tensor at once.

    State dicts written by the old ``torch.nn.utils.weight_norm`` (keys ``<name>_g`` and
    ``<name>_v``) load into the module: a load hook renames them to the new keys.
    """
    parametrization = _WeightNorm(dim)
    # unsafe: the first parametrization takes two inputs, checked by construction.
    parametrize.register_parametrization(module, name, parametrization, unsafe=True)

    def accept_old_keys(
        module: Module, state_dict: dict[str, Any], prefix: str, *args: Any
    ) -> None:
        old_g, old_v = f"{prefix}{name}_g", f"{prefix}{name}_v"
        if old_g in state_dict and old_v in state_dict:
            state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(old_g)
            state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(old_v)

    module.register_load_state_dict_pre_hook(accept_old_keys)
    return module


# --------------------------------------------------------------------------------------
# Spectral norm
# --------------------------------------------------------------------------------------


class _SpectralNorm(Module):
    """``W / sigma(W)``, with ``sigma`` the largest singular value, estimated iteratively.

    A weight with more than two dimensions is viewed as a matrix whose rows run along
    ``dim``. ``sigma`` is ``u^H W v`` for the buffers ``_u`` and ``_v``, estimates of the
    top singular vectors; each access in training mode first refines them with
    ``n_power_iterations`` steps of the power method, in place (so that module replicas
    sharing the buffers see the update). Evaluation mode never changes them, so a module
    in eval mode is a fixed function. A vector is simply divided by its norm.
    """

    _u: Tensor
    _v: Tensor

    def __init__(
        self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12
    ) -> None:
        super().__init__()
        ndim = weight.ndim
        if not -ndim <= dim < ndim:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}] "
                f"but got {dim})"
            )
        if n_power_iterations <= 0:
            raise ValueError(
                "Expected n_power_iterations to be positive, but got "
                f"n_power_iterations={n_power_iterations}"
            )
        self.dim = dim % ndim
        self.eps = eps
        self.n_power_iterations = n_power_iterations
        if ndim > 1:
            matrix = self._as_matrix(weight)
            rows, columns = matrix.shape
            u = F.normalize(matrix.new_empty(rows).normal_(0, 1), dim=0, eps=eps)
            v = F.normalize(matrix.new_empty(columns).normal_(0, 1), dim=0, eps=eps)
            self.register_buffer("_u", u)
            self.register_buffer("_v", v)
            # Start from good estimates rather than random vectors.
            self._power_method(matrix, 15)

    def _as_matrix(self, weight: Tensor) -> Tensor:
        if self.dim != 0:
            order = [self.dim, *(d for d in range(weight.ndim) if d != self.dim)]
            weight = weight.permute(order)
        return weight.flatten(1)

    @torch.no_grad()
    def _power_method(self, matrix: Tensor, iterations: int) -> None:
        for _ in range(iterations):
            self._u.copy_(F.normalize(torch.mv(matrix, self._v), dim=0, eps=self.eps))
            self._v.copy_(F.normalize(torch.mv(matrix.mH, self._u), dim=0, eps=self.eps))

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        matrix = self._as_matrix(weight)
        if self.training:
            self._power_method(matrix, self.n_power_iterations)
        # Clones: the buffers change in place on the next training access, and autograd
        # must still see the values this access used (e.g. two forwards, one backward).
        u = self._u.clone(memory_format=torch.contiguous_format)
        v = self._v.clone(memory_format=torch.contiguous_format)
        sigma = torch.vdot(u, torch.mv(matrix, v))
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        # Any matrix is a valid original: it is normalised on the way out.
        return value


def spectral_norm(
    module: Module,
    name: str = "weight",
    n_power_iterations: int = 1,
    eps: float = 1e-12,
    dim: int | None = None,
) -> Module:
    """Divide ``module.<name>`` by its spectral norm on every access; return ``module``.

    ``dim`` is the output dimension, the one kept as rows when the weight is seen as a
    matrix: by default ``1`` for transposed convolutions (whose weights are stored
    ``in x out``) and ``0`` otherwise. See :class:`_SpectralNorm` for when the estimate
    is refined; put the module in eval mode before removing the parametrization to avoid
    a last refinement.
    """
    weight = _tensor_named(module, name)
    if dim is None:
        transposed = (torch.nn.ConvTranspose1d, torch.nn.ConvTranspose2d, torch.nn.ConvTranspose3d)
        dim = 1 if isinstance(module, transposed) else 0
    parametrization = _SpectralNorm(weight, n_power_iterations, dim, eps)
    parametrize.register_parametrization(module, name, parametrization)
    return module
