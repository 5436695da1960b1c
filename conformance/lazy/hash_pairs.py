"""Pairs of lazy programs that differ in exactly one thing, or in nothing but data.

``graph_hash`` is the compile-cache key: two graphs that compute different things must
hash differently (or a cache hit runs the wrong program), and two graphs that differ
only in their data must hash alike (or every step compiles anew). Each :class:`Pair`
names the one thing its two programs differ in:

``shape``, ``dtype``
    The inputs' shape or dtype; same ops, attributes and edges.
``attribute``
    One node attribute (an int, int list, float, bool or string); same types and edges.
``op``
    One node's op; same types, attributes and edges.
``edges``
    Which input one node reads: ``(x - y) * x`` against ``(x - y) * y``.
``roots``
    The order of the outputs, or which output of a multi-output node is returned
    (the latter does not show in PyTorch's IR text, where ``ROOT=k`` is the tensor's
    position only).
``None``
    Nothing structural: only data, a Python scalar's value, or where device data came
    from differ. These pairs must hash alike.

The project's meta-tests check on the reference that each pair's IR texts differ in
exactly the named way (``tests/test_lazy_hash_pairs.py``), so a pair that also changes
the node count, say, cannot creep in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from conformance.lazy.programs import inp

#: A program of a pair: ``fn(device, step)`` returns the roots; ``step()`` runs a step
#: on the device (a no-op on CPU) for programs whose inputs come from one.
StepProgram = Callable[[str, Callable[[], None]], list[torch.Tensor]]


@dataclass(frozen=True)
class Pair:
    """Two programs; ``differs`` names the one thing they differ in (None: only data)."""

    name: str
    a: StepProgram
    b: StepProgram
    differs: str | None
    #: Whether running ``b`` with ``a``'s compiled program gives visibly wrong values.
    values_tell: bool = True


def _leaves(
    d: str, *shape: int, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    return inp(d, *shape, dtype=dtype), inp(d, *shape, seed=1, dtype=dtype)


def _binary(
    d: str, fn: Callable[[torch.Tensor, torch.Tensor], list[torch.Tensor]]
) -> list[torch.Tensor]:
    """``fn(x, y)`` on two 3-element inputs."""
    x, y = _leaves(d, 3)
    return fn(x, y)


def _product(d: str, *shape: int) -> list[torch.Tensor]:
    x, y = _leaves(d, *shape)
    return [x * y]


def _difference(d: str, dtype: torch.dtype) -> list[torch.Tensor]:
    """``(1e8 + k) - 1e8``: exact in float64, 0 or 8 in float32 (which cannot hold 1e8 + 1)."""
    big = torch.full((3,), 1e8, dtype=dtype)
    return [(big + torch.tensor([1.0, 2.0, 3.0], dtype=dtype)).to(d) - big.to(d)]


def _nll_outputs(d: str) -> tuple[torch.Tensor, torch.Tensor]:
    logits = torch.log_softmax(inp(d, 4, 3), 1)
    target = torch.tensor([0, 1, 2, 1]).to(d)
    out, total_weight = torch.ops.aten.nll_loss_forward(logits, target, None, 1, -100)
    return out, total_weight


def _uploaded(d: str, step: Callable[[], None]) -> list[torch.Tensor]:
    x = inp(d, 3)
    step()
    return [x * inp(d, 3, seed=1)]


def _from_a_step(d: str, step: Callable[[], None]) -> list[torch.Tensor]:
    x = inp(d, 3, seed=2) * 2
    step()  # x is now device data a step computed, not data uploaded from CPU
    return [x * inp(d, 3, seed=1)]


PAIRS: list[Pair] = [
    # ------------------------------------------------------------ must hash differently
    Pair("shape", lambda d, _: _product(d, 3), lambda d, _: _product(d, 4), "shape"),
    Pair(
        "dtype",
        lambda d, _: _difference(d, torch.float32),
        lambda d, _: _difference(d, torch.float64),
        "dtype",
    ),
    Pair(
        "int_attribute",
        lambda d, _: [inp(d, 3, 3).sum(0)],
        lambda d, _: [inp(d, 3, 3).sum(1)],
        "attribute",
    ),
    Pair(
        "int_list_attribute",
        lambda d, _: [inp(d, 2, 2, 2).permute(0, 2, 1)],
        lambda d, _: [inp(d, 2, 2, 2).permute(1, 0, 2)],
        "attribute",
    ),
    Pair(
        "bool_attribute",
        lambda d, _: [inp(d, 5).topk(2, largest=True)[0]],
        lambda d, _: [inp(d, 5).topk(2, largest=False)[0]],
        "attribute",
    ),
    Pair(
        "string_attribute",
        lambda d, _: [F.gelu(inp(d, 4) * 4 - 2)],
        lambda d, _: [F.gelu(inp(d, 4) * 4 - 2, approximate="tanh")],
        "attribute",
    ),
    Pair(
        "float_attribute",
        lambda d, _: [torch.empty(4, device=d).uniform_(0.0, 1.0)],
        lambda d, _: [torch.empty(4, device=d).uniform_(0.0, 2.0)],
        "attribute",
        values_tell=False,  # random
    ),
    Pair(
        "op",
        lambda d, _: [torch.maximum(*_leaves(d, 4))],
        lambda d, _: [torch.minimum(*_leaves(d, 4))],
        "op",
    ),
    Pair(
        "edges",
        lambda d, _: _binary(d, lambda x, y: [(x - y) * x]),
        lambda d, _: _binary(d, lambda x, y: [(x - y) * y]),
        "edges",
    ),
    Pair(
        "root_order",
        lambda d, _: _binary(d, lambda x, y: [x * y, x / y]),
        lambda d, _: _binary(d, lambda x, y: [x / y, x * y]),
        "roots",
    ),
    Pair(
        "output_index",
        lambda d, _: [_nll_outputs(d)[0]],
        lambda d, _: [_nll_outputs(d)[1]],
        "roots",
    ),
    # ------------------------------------------------------------ must hash alike
    Pair(
        "data",
        lambda d, _: _product(d, 3),
        lambda d, _: [inp(d, 3, seed=5) * inp(d, 3, seed=6)],
        None,
    ),
    Pair("scalar_value", lambda d, _: [inp(d, 3) * 2.5], lambda d, _: [inp(d, 3) * -7.25], None),
    Pair(
        "interchangeable_leaves",
        lambda d, _: _binary(d, lambda x, y: [x * y]),
        lambda d, _: _binary(d, lambda x, y: [y * x]),
        None,
    ),
    Pair("data_from_a_step", _uploaded, _from_a_step, None),
]

BY_NAME: dict[str, Pair] = {pair.name: pair for pair in PAIRS}
