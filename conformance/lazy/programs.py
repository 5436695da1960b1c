"""Small lazy-tensor programs, run on CPU and on the lazy device by the same code.

Each program takes a device string and returns the tensors it produced. Inputs are made
on CPU from a fixed seed and moved with ``.to(device)``, so both runs see equal data.
The golden IR of a program (``golden/<name>.txt``) is the IR text of its outputs right
after the program ran, before any step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

Program = Callable[[str], list[torch.Tensor]]


@dataclass(frozen=True)
class Case:
    """A named program."""

    name: str
    fn: Program


PROGRAMS: dict[str, Program] = {}


def program(fn: Program) -> Program:
    PROGRAMS[fn.__name__] = fn
    return fn


def inp(
    device: str, *shape: int, seed: int = 0, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """A deterministic input made on CPU, then moved to ``device``."""
    gen = torch.Generator().manual_seed(seed + 17 * len(shape) + sum(shape))
    return torch.rand(*shape, generator=gen).to(dtype).to(device)


# ---------------------------------------------------------------- elementwise
@program
def add_tensors(d: str) -> list[torch.Tensor]:
    return [inp(d, 3, 4) + inp(d, 3, 4, seed=1)]


@program
def add_int_scalar(d: str) -> list[torch.Tensor]:
    return [inp(d, 3) + 2]


@program
def mul_float_scalar_then_sub(d: str) -> list[torch.Tensor]:
    return [inp(d, 3, 4) * 2.5 - inp(d, 4, seed=1)]


@program
def add_broadcast_row(d: str) -> list[torch.Tensor]:
    return [inp(d, 2, 3) + inp(d, 3, seed=1)]


@program
def add_with_alpha(d: str) -> list[torch.Tensor]:
    return [torch.add(inp(d, 4), inp(d, 4, seed=1), alpha=3)]


@program
def div_tensors(d: str) -> list[torch.Tensor]:
    return [inp(d, 5) / (inp(d, 5, seed=1) + 1)]


@program
def neg_exp(d: str) -> list[torch.Tensor]:
    return [torch.exp(-inp(d, 2, 2))]


@program
def relu_after_shift(d: str) -> list[torch.Tensor]:
    return [torch.relu(inp(d, 6) - 0.5)]


@program
def sigmoid_tanh(d: str) -> list[torch.Tensor]:
    x = inp(d, 4)
    return [torch.sigmoid(x), torch.tanh(x)]


@program
def sqrt_abs(d: str) -> list[torch.Tensor]:
    return [torch.sqrt(torch.abs(inp(d, 4) - 0.5))]


@program
def pow_scalar(d: str) -> list[torch.Tensor]:
    return [inp(d, 3) ** 2]


@program
def maximum_minimum(d: str) -> list[torch.Tensor]:
    a, b = inp(d, 4), inp(d, 4, seed=1)
    return [torch.maximum(a, b), torch.minimum(a, b)]


@program
def compare_gt_scalar(d: str) -> list[torch.Tensor]:
    return [inp(d, 5) > 0.5]


@program
def compare_eq_tensors(d: str) -> list[torch.Tensor]:
    a = inp(d, 4)
    return [a == a * 1]


@program
def shared_subexpression(d: str) -> list[torch.Tensor]:
    a = inp(d, 3)
    b = a * a
    return [b + b, b - a]


@program
def scalar_leaves_not_shared(d: str) -> list[torch.Tensor]:
    return [(inp(d, 3) + 1) * 1]


@program
def clamp_min_abs(d: str) -> list[torch.Tensor]:
    return [torch.clamp(inp(d, 4) - 0.5, min=0.1).abs()]


@program
def addcmul_value(d: str) -> list[torch.Tensor]:
    return [torch.addcmul(inp(d, 3), inp(d, 3, seed=1), inp(d, 3, seed=2), value=0.5)]


# ---------------------------------------------------------------- reductions
@program
def sum_all(d: str) -> list[torch.Tensor]:
    return [inp(d, 3, 4).sum()]


@program
def sum_dim_keepdim(d: str) -> list[torch.Tensor]:
    return [inp(d, 3, 4).sum(dim=1, keepdim=True)]


@program
def mean_dim0(d: str) -> list[torch.Tensor]:
    return [inp(d, 3, 4).mean(0)]


@program
def max_dim_values_and_indices(d: str) -> list[torch.Tensor]:
    values, indices = inp(d, 3, 4).max(dim=1)
    return [values, indices]


@program
def softmax_dim1(d: str) -> list[torch.Tensor]:
    return [torch.softmax(inp(d, 2, 5), dim=1)]


@program
def log_softmax_dim1(d: str) -> list[torch.Tensor]:
    return [torch.log_softmax(inp(d, 2, 5), dim=1)]


@program
def mean_all(d: str) -> list[torch.Tensor]:
    return [inp(d, 2, 3).mean()]


@program
def sum_with_dtype(d: str) -> list[torch.Tensor]:
    return [inp(d, 2, 3).sum(dim=0, dtype=torch.float64)]


# ---------------------------------------------------------------- matmul
@program
def mm(d: str) -> list[torch.Tensor]:
    return [inp(d, 3, 4) @ inp(d, 4, 2, seed=1)]


@program
def bmm(d: str) -> list[torch.Tensor]:
    return [torch.bmm(inp(d, 2, 3, 4), inp(d, 2, 4, 5, seed=1))]


@program
def linear_functional(d: str) -> list[torch.Tensor]:
    return [F.linear(inp(d, 2, 4), inp(d, 3, 4, seed=1), inp(d, 3, seed=2))]


@program
def matmul_weight_transpose(d: str) -> list[torch.Tensor]:
    return [inp(d, 4) @ inp(d, 2, 4, seed=1).transpose(0, 1)]


# ---------------------------------------------------------------- views
@program
def view_flat(d: str) -> list[torch.Tensor]:
    return [inp(d, 3, 4).view(12)]


@program
def reshape_2x6(d: str) -> list[torch.Tensor]:
    return [inp(d, 3, 4).reshape(2, 6)]


@program
def transpose_then_add(d: str) -> list[torch.Tensor]:
    return [inp(d, 3, 4).transpose(0, 1) + 1]


@program
def permute_3d(d: str) -> list[torch.Tensor]:
    return [inp(d, 2, 3, 4).permute(2, 0, 1)]


@program
def t_matrix(d: str) -> list[torch.Tensor]:
    return [inp(d, 3, 4).t()]


@program
def unsqueeze_expand(d: str) -> list[torch.Tensor]:
    return [inp(d, 3, 4).unsqueeze(0).expand(2, 3, 4)]


@program
def select_column(d: str) -> list[torch.Tensor]:
    return [inp(d, 3, 4)[:, 1]]


@program
def slice_rows(d: str) -> list[torch.Tensor]:
    return [inp(d, 4, 3)[1:3]]


@program
def inplace_add_on_view(d: str) -> list[torch.Tensor]:
    x = inp(d, 4)
    v = x.view(2, 2)
    v.add_(1)
    return [v]


@program
def inplace_on_select_then_use_base(d: str) -> list[torch.Tensor]:
    x = inp(d, 3, 4) * 1
    x[:, 1].add_(10)
    return [x + 0]


@program
def inplace_on_slice_then_use_base(d: str) -> list[torch.Tensor]:
    x = inp(d, 4, 3) * 1
    x[1:3].mul_(2)
    return [x * 1]


@program
def inplace_relu_(d: str) -> list[torch.Tensor]:
    x = inp(d, 5) - 0.5
    x.relu_()
    return [x]


@program
def view_inferred_size(d: str) -> list[torch.Tensor]:
    return [inp(d, 3, 4).view(-1, 2)]


@program
def squeeze_after_sum(d: str) -> list[torch.Tensor]:
    return [inp(d, 3, 1, 4).squeeze(1) * 2]


# ---------------------------------------------------------------- dtypes
@program
def to_double(d: str) -> list[torch.Tensor]:
    return [inp(d, 3, 4).to(torch.float64)]


@program
def to_bfloat16(d: str) -> list[torch.Tensor]:
    return [inp(d, 3).to(torch.bfloat16)]


@program
def to_half_and_back(d: str) -> list[torch.Tensor]:
    return [inp(d, 3).half().float()]


@program
def long_plus_int(d: str) -> list[torch.Tensor]:
    return [(inp(d, 4) * 10).long() + 1]


@program
def data_assign_dtype_change(d: str) -> list[torch.Tensor]:
    t = inp(d, 3)
    t.data = t.to(torch.bfloat16)
    return [t]


@program
def data_assign_same_dtype(d: str) -> list[torch.Tensor]:
    t = inp(d, 3)
    t.data = t * 2
    return [t]


# ---------------------------------------------------------------- factories
@program
def ones_factory(d: str) -> list[torch.Tensor]:
    return [torch.ones(3, device=d)]


@program
def zeros_factory(d: str) -> list[torch.Tensor]:
    return [torch.zeros(2, 2, device=d)]


@program
def full_factory(d: str) -> list[torch.Tensor]:
    return [torch.full((2,), 3.0, device=d)]


@program
def ones_like_plus_input(d: str) -> list[torch.Tensor]:
    x = inp(d, 2, 3)
    return [torch.ones_like(x) + x]


@program
def factories_under_device_context(d: str) -> list[torch.Tensor]:
    with torch.device(d):
        return [torch.ones(2) * torch.full((2,), 2.0)]


@program
def cat_dim0(d: str) -> list[torch.Tensor]:
    a = inp(d, 2, 3)
    return [torch.cat([a, a * 2])]


# ---------------------------------------------------------------- fallbacks
@program
def sin_falls_back(d: str) -> list[torch.Tensor]:
    return [torch.sin(inp(d, 3)) + 1]


@program
def where_falls_back(d: str) -> list[torch.Tensor]:
    a, b = inp(d, 4), inp(d, 4, seed=1)
    return [torch.where(a > 0.5, a, b)]


# ---------------------------------------------------------------- autograd
@program
def backward_square_sum(d: str) -> list[torch.Tensor]:
    w = torch.ones(3, device=d, requires_grad=True)
    (w * w).sum().backward()
    assert w.grad is not None
    return [w.grad]


@program
def backward_linear(d: str) -> list[torch.Tensor]:
    w = inp(d, 2, 4).requires_grad_()
    x = inp(d, 3, 4, seed=1)
    (x @ w.t()).relu().sum().backward()
    assert w.grad is not None
    return [w.grad]


@program
def sgd_training_step(d: str) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    model.to(d)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = inp(d, 3, 4), inp(d, 3, 2, seed=1)
    loss = F.mse_loss(model(x), y)
    loss.backward()
    opt.step()
    return [model.weight.detach(), model.bias.detach()]


CASES: list[Case] = [Case(name, fn) for name, fn in PROGRAMS.items()]
