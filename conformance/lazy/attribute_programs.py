"""Programs whose IR shows one kind of node attribute each, pinned by golden IR text.

PyTorch's lazy IR prints a node's non-tensor arguments as ``, name=value`` attributes,
and each kind of value has its own spelling: floats as C++ streams print doubles
(``from=-2.5``, ``to=1``), negative integers as they were passed (``dim=-1``, never
canonicalized), booleans ``0``/``1``, integer lists space-separated (``dim=-1 -3``),
absent optionals ``null`` and present ones by value (``memory_format=Contiguous``),
dtypes by their C++ name (``Int``, ``Bool``), strings bare (``approximate=tanh``).

Each program below is named for what it shows; :data:`KINDS` groups them by attribute
kind. Their golden files (``golden/<name>.txt``) were written by PyTorch's own lazy
backend (``--backend=torch --accept``) and the reference prints them byte for byte.
Random programs draw from the device's default RNG: only their IR text is compared.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from conformance.lazy.programs import Program, inp

ATTRIBUTE_PROGRAMS: dict[str, Program] = {}
#: Attribute kind -> the programs showing it.
KINDS: dict[str, list[str]] = {}


def shows(*kinds: str) -> Callable[[Program], Program]:
    """Register a program as showing attributes of ``kinds``."""

    def register(fn: Program) -> Program:
        ATTRIBUTE_PROGRAMS[fn.__name__] = fn
        for kind in kinds:
            KINDS.setdefault(kind, []).append(fn.__name__)
        return fn

    return register


# ---------------------------------------------------------------- floats
@shows("float", "optional")
def uniform_float_bounds(d: str) -> list[torch.Tensor]:
    return [torch.empty(3, device=d).uniform_(-2.5, 3.25)]


@shows("float")
def rand_whole_float_bounds(d: str) -> list[torch.Tensor]:
    return [torch.rand(3, device=d)]


@shows("float")
def normal_mean_std(d: str) -> list[torch.Tensor]:
    return [torch.empty(3, device=d).normal_(-1.5, 0.125)]


@shows("float")
def bernoulli_probability(d: str) -> list[torch.Tensor]:
    return [torch.empty(4, device=d).bernoulli_(0.75)]


# ---------------------------------------------------------------- negative integers
@shows("negative_int")
def sum_negative_dim(d: str) -> list[torch.Tensor]:
    return [inp(d, 3, 4).sum(dim=-1)]


@shows("negative_int", "int_list")
def sum_negative_dim_list(d: str) -> list[torch.Tensor]:
    return [inp(d, 2, 3, 4).sum(dim=[-1, -3])]


@shows("negative_int")
def transpose_negative_dims(d: str) -> list[torch.Tensor]:
    return [inp(d, 2, 3, 4).transpose(-1, -3)]


@shows("negative_int")
def select_negative_index(d: str) -> list[torch.Tensor]:
    return [inp(d, 3, 4).select(-1, -2)]


@shows("negative_int", "int_list")
def permute_negative_dims(d: str) -> list[torch.Tensor]:
    return [inp(d, 2, 3, 4).permute(-1, 0, -2)]


@shows("negative_int")
def diagonal_negative_offset(d: str) -> list[torch.Tensor]:
    return [torch.diagonal(inp(d, 3, 4), offset=-1, dim1=-2, dim2=-1)]


@shows("negative_int")
def slice_negative_bounds(d: str) -> list[torch.Tensor]:
    return [inp(d, 5, 3)[-4:-1:2]]


@shows("negative_int", "int_list")
def expand_keeping_a_dim(d: str) -> list[torch.Tensor]:
    return [inp(d, 3, 1).expand(-1, 4)]


@shows("negative_int", "bool")
def log_softmax_negative_dim(d: str) -> list[torch.Tensor]:
    return [torch.log_softmax(inp(d, 2, 5), dim=-1)]


@shows("negative_int")
def cat_negative_dim(d: str) -> list[torch.Tensor]:
    a = inp(d, 2, 3)
    return [torch.cat([a, a * 2], dim=-1)]


@shows("negative_int")
def nll_loss_ignore_index(d: str) -> list[torch.Tensor]:
    target = torch.tensor([0, 1, 3]).to(d)
    return [F.nll_loss(torch.log_softmax(inp(d, 3, 4), 1), target, reduction="sum")]


# ---------------------------------------------------------------- booleans
@shows("bool", "negative_int")
def topk_smallest_sorted(d: str) -> list[torch.Tensor]:
    values, indices = inp(d, 3, 5).topk(2, dim=-1, largest=False, sorted=True)
    return [values, indices]


@shows("bool", "negative_int")
def max_negative_dim_keepdim(d: str) -> list[torch.Tensor]:
    values, indices = inp(d, 3, 4).max(dim=-1, keepdim=True)
    return [values, indices]


@shows("bool", "dtype")
def to_half_non_blocking(d: str) -> list[torch.Tensor]:
    return [inp(d, 3).to(torch.float16, non_blocking=True)]


@shows("bool")
def embedding_flags(d: str) -> list[torch.Tensor]:
    return [F.embedding(torch.tensor([0, 2, 4]).to(d), inp(d, 5, 3), padding_idx=4)]


# ---------------------------------------------------------------- integer lists
@shows("int_list", "bool")
def sum_dim_list_keepdim(d: str) -> list[torch.Tensor]:
    return [inp(d, 2, 3, 4).sum(dim=(0, 2), keepdim=True)]


@shows("int_list", "dtype", "optional")
def mean_dim_list_with_dtype(d: str) -> list[torch.Tensor]:
    return [inp(d, 2, 3).mean(dim=[0, 1], dtype=torch.float64)]


# ---------------------------------------------------------------- optionals
@shows("optional", "dtype")
def to_double_contiguous(d: str) -> list[torch.Tensor]:
    return [inp(d, 3, 4).to(torch.float64, memory_format=torch.contiguous_format)]


@shows("optional", "dtype", "negative_int")
def sum_keepdim_half_dtype(d: str) -> list[torch.Tensor]:
    return [inp(d, 2, 3).sum(-2, keepdim=True, dtype=torch.float16)]


@shows("optional")
def clamp_max_only(d: str) -> list[torch.Tensor]:
    return [torch.clamp(inp(d, 4), max=0.5)]


# ---------------------------------------------------------------- dtypes and strings
@shows("dtype")
def to_int32(d: str) -> list[torch.Tensor]:
    return [(inp(d, 3) * 10).to(torch.int32)]


@shows("dtype")
def to_bool(d: str) -> list[torch.Tensor]:
    return [inp(d, 3).to(torch.bool)]


@shows("string")
def gelu_tanh(d: str) -> list[torch.Tensor]:
    return [F.gelu(inp(d, 4), approximate="tanh")]


@shows("string")
def gelu_exact(d: str) -> list[torch.Tensor]:
    return [F.gelu(inp(d, 4))]
