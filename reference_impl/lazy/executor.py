"""The pure-Python executor: compiles a graph once per graph hash and runs it on CPU.

"Compiling" turns the post-ordered nodes into a flat list of instructions whose inputs
are the graph's ``device_data`` leaves, in post order. The program depends only on the
graph's structure, so it is cached under :func:`reference_impl.lazy.ir.graph_hash` and
reused for every later graph with the same hash (``CachedCompile``), whatever its data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from reference_impl.lazy import metrics
from reference_impl.lazy.ir import (
    CONSTANT,
    DEVICE_DATA,
    TENSOR_LIST,
    Node,
    Value,
    graph_hash,
    post_order,
    verify,
)


class Operand(NamedTuple):
    """In an argument template: the ``k``-th operand of the node."""

    k: int


class ScalarOperand(NamedTuple):
    """In an argument template: the ``k``-th operand, passed as a Python number."""

    k: int


class GeneratorOperand(NamedTuple):
    """In an argument template: a CPU generator in the state held by the ``k``-th operand.

    A seeded ``torch.Generator`` passed to a random op is recorded as device data (its
    state when the op was traced), so a cached program draws the same numbers CPU would
    have drawn at that point, whatever generator the program was compiled for.
    """

    k: int


def _fill(template: Any, inputs: list[Any]) -> Any:
    if isinstance(template, Operand):
        return inputs[template.k]
    if isinstance(template, ScalarOperand):
        return inputs[template.k].item()
    if isinstance(template, GeneratorOperand):
        generator = torch.Generator()
        generator.set_state(inputs[template.k])
        return generator
    if isinstance(template, list):
        return [_fill(t, inputs) for t in template]
    return template


def run_node(node: Node, inputs: list[Any]) -> Any:
    """Execute one non-leaf node on CPU given its operands' values."""
    if node.op == TENSOR_LIST:
        return list(inputs)
    args_t, kwargs_t = node.template
    args = [_fill(t, inputs) for t in args_t]
    kwargs = {name: _fill(t, inputs) for name, t in kwargs_t.items()}
    return node.target(*args, **kwargs)


Instruction = tuple[Node, tuple[tuple[int, int], ...]]


@dataclass
class Program:
    """A compiled graph: which slots hold inputs, what to run, and which slots to return."""

    inputs: list[int]
    steps: list[tuple[int, Node, tuple[tuple[int, int], ...]]]
    outputs: list[tuple[int, int]]
    size: int

    def run(self, data: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        slots: list[Any] = [None] * self.size
        for slot, tensor in zip(self.inputs, data, strict=True):
            slots[slot] = (tensor,)
        for slot, node, operands in self.steps:
            result = run_node(node, [_output(slots[i], j) for i, j in operands])
            many = node.num_outputs > 1 or (node.op != TENSOR_LIST and isinstance(result, list))
            slots[slot] = tuple(result) if many else (result,)  # split into one chunk: a list
        return [_output(slots[i], j) for i, j in self.outputs]


def _output(outputs: tuple[Any, ...], index: int) -> Any:
    return outputs[index]


def compile_graph(order: list[Node], roots: Sequence[Value]) -> Program:
    """Lower post-ordered ``order`` to a :class:`Program` (the node objects are templates)."""
    number = {id(node): i for i, node in enumerate(order)}
    inputs: list[int] = []
    steps: list[tuple[int, Node, tuple[tuple[int, int], ...]]] = []
    for i, node in enumerate(order):
        if node.op == DEVICE_DATA:
            inputs.append(i)
        elif node.op == CONSTANT:
            steps.append((i, _constant_node(node.template), ()))
        else:
            view = _VIEW_OF_COPY.get(node.target)
            if view is not None:
                node = dataclasses.replace(node, target=view)
            steps.append((i, node, tuple((number[id(v.node)], v.index) for v in node.operands)))
    outputs = [(number[id(r.node)], r.index) for r in roots]
    return Program(inputs, steps, outputs, len(order))


def _views_of_copies() -> dict[Any, Any]:
    """``*_copy`` op -> the view op computing the same values without copying.

    Device data is never mutated (the IR is functional and every write makes new data),
    so an executed graph may alias its inputs; the copy ops only exist because the IR
    must not. Tensors leaving the device are always copied (see ``tensor._to_copy``).
    """
    aten = torch.ops.aten
    pairs = [
        (aten.detach_copy.default, aten.alias.default),
        (aten.alias_copy.default, aten.alias.default),
        (aten.t_copy.default, aten.t.default),
        (aten.transpose_copy.int, aten.transpose.int),
        (aten.permute_copy.default, aten.permute.default),
        (aten.expand_copy.default, aten.expand.default),
        (aten.view_copy.default, aten.reshape.default),
        (aten.select_copy.int, aten.select.int),
        (aten.slice_copy.Tensor, aten.slice.Tensor),
        (aten.unsqueeze_copy.default, aten.unsqueeze.default),
        (aten.squeeze_copy.dim, aten.squeeze.dim),
        (aten.squeeze_copy.dims, aten.squeeze.dims),
        (aten.squeeze_copy.default, aten.squeeze.default),
        (aten.diagonal_copy.default, aten.diagonal.default),
    ]
    return dict(pairs)


_VIEW_OF_COPY = _views_of_copies()


def _constant_node(value: int) -> Node:
    return Node(
        CONSTANT, dtypes=(torch.int64,), shapes=((),), target=lambda: value, template=((), {})
    )


_cache: dict[str, Program] = {}


def clear_cache() -> None:
    """Forget every compiled program (the next step compiles again)."""
    _cache.clear()


def execute(roots: Sequence[Value]) -> list[torch.Tensor]:
    """Run the graph under ``roots``; compile it first unless its hash is cached."""
    order = post_order(roots)
    key = graph_hash(roots, order)
    program = _cache.get(key)
    if program is None:
        metrics.increment("UncachedCompile")
        verify(roots)
        program = _cache[key] = compile_graph(order, roots)
    else:
        metrics.increment("CachedCompile")
    data = [node.data for node in order if node.op == DEVICE_DATA]
    return program.run(data)  # type: ignore[arg-type]
