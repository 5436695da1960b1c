"""The lazy IR: small immutable nodes, post-order numbering, a verifier and a graph hash.

A :class:`Node` is one operation: its printed op name (``aten::add``), its operands
(other nodes' outputs, as :class:`Value`), its printed attributes, and the dtype and
shape of each output. Nodes never change once built; a lazy tensor points at a
:class:`Value` (a node and an output index) and is re-pointed, never mutated.

Besides what is printed, a node carries how to run it (``target`` and ``template``,
used by :mod:`reference_impl.lazy.executor`) and, for ``device_data`` leaves, the CPU
tensor holding the data. The graph hash covers structure only (ops, attributes,
dtypes, shapes, edges and the order of roots), never data, so two steps that do the
same thing on different data share one compiled program.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch

DEVICE_DATA = "lazy_tensors::device_data"
CONSTANT = "prim::Constant"
TENSOR_LIST = "lazy_tensors::tensor_list"


class IRError(ValueError):
    """A malformed IR graph; the message names the offending node."""


class Node:
    """One IR operation. Compared by identity; :func:`graph_hash` compares structure.

    Never changed once built (by convention: a ``__slots__`` class rather than a frozen
    dataclass, since one is built for every traced op and every scalar it uploads, and
    a frozen dataclass costs twice as much to build).
    """

    __slots__ = (
        "_key",  # node_key's cache
        "attrs",
        "data",
        "dtypes",
        "op",
        "operands",
        "shapes",
        "target",
        "template",
    )

    op: str
    operands: tuple[Value, ...]
    attrs: tuple[tuple[str, Any], ...]
    dtypes: tuple[torch.dtype, ...]
    shapes: tuple[tuple[int, ...], ...]
    #: How to execute the node: a callable and an argument template (executor.py).
    target: Any
    template: Any
    #: The CPU tensor of a device_data leaf.
    data: torch.Tensor | None
    _key: tuple[Any, ...] | None

    def __init__(
        self,
        op: str,
        operands: tuple[Value, ...] = (),
        attrs: tuple[tuple[str, Any], ...] = (),
        dtypes: tuple[torch.dtype, ...] = (),
        shapes: tuple[tuple[int, ...], ...] = (),
        target: Any = None,
        template: Any = None,
        data: torch.Tensor | None = None,
        key: tuple[Any, ...] | None = None,
    ) -> None:
        self.op = op
        self.operands = operands
        self.attrs = attrs
        self.dtypes = dtypes
        self.shapes = shapes
        self.target = target
        self.template = template
        self.data = data
        self._key = key  # its node_key, when the builder knows it

    def __repr__(self) -> str:
        return (
            f"Node(op={self.op!r}, operands={self.operands!r}, attrs={self.attrs!r}, "
            f"dtypes={self.dtypes!r}, shapes={self.shapes!r})"
        )

    @property
    def num_outputs(self) -> int:
        return len(self.shapes)

    def value(self, index: int = 0) -> Value:
        return Value(self, index)

    def describe(self) -> str:
        """``op`` plus its output types, for error messages."""
        return f"{self.op} -> {type_string(self)}"


class Value:
    """Output ``index`` of ``node``; equal to another Value of the same node and index.

    Never changed once built (a ``__slots__`` class for the same reason as :class:`Node`).
    """

    __slots__ = ("index", "node")

    node: Node
    index: int

    def __init__(self, node: Node, index: int = 0) -> None:
        self.node = node
        self.index = index

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Value):
            return NotImplemented
        return self.node is other.node and self.index == other.index

    def __hash__(self) -> int:
        return hash((id(self.node), self.index))

    def __repr__(self) -> str:
        return f"Value(node={self.node!r}, index={self.index!r})"

    @property
    def dtype(self) -> torch.dtype:
        return self.node.dtypes[self.index]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.node.shapes[self.index]


def device_data(data: torch.Tensor) -> Node:
    """A leaf holding ``data`` (a CPU tensor) on the lazy device."""
    return Node(
        DEVICE_DATA,
        attrs=(("device", "CPU0"),),
        dtypes=(data.dtype,),
        shapes=(tuple(data.shape),),
        data=data,
    )


def constant(value: int) -> Node:
    """A ``prim::Constant`` integer (PyTorch uses these for slice bounds)."""
    return Node(
        CONSTANT,
        attrs=(("value", value), ("type", "Long")),
        dtypes=(torch.int64,),
        shapes=((),),
        template=value,
    )


def post_order(roots: Iterable[Value]) -> list[Node]:
    """Nodes reachable from ``roots``, each after its operands, numbered as PyTorch does.

    PyTorch walks each root in turn with an explicit stack, pushing operands in order,
    so among siblings the *last* operand gets the lowest number.
    """
    # Nodes hash by identity (in C): a set of nodes is cheaper than one of their ids.
    emitted: set[Node] = set()
    order: list[Node] = []
    for root in roots:
        if root.node in emitted:
            continue
        stack: list[Node] = [root.node]
        while stack:
            node = stack[-1]
            if node in emitted:
                stack.pop()
                continue
            pending = [v.node for v in node.operands if v.node not in emitted]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            emitted.add(node)
            order.append(node)
    return order


def verify(roots: Sequence[Value]) -> None:
    """Check the graph under ``roots``; raise :class:`IRError` naming the first bad node."""
    order = post_order(roots)
    number = {id(node): i for i, node in enumerate(order)}
    for i, node in enumerate(order):
        where = f"node %{i} ({node.op})"
        if len(node.dtypes) != len(node.shapes):
            raise IRError(f"{where}: {len(node.dtypes)} dtypes for {len(node.shapes)} outputs")
        if node.op == DEVICE_DATA:
            if node.operands or node.data is None:
                raise IRError(f"{where}: device_data must be a leaf holding data")
            if tuple(node.data.shape) != node.shapes[0] or node.data.dtype != node.dtypes[0]:
                raise IRError(f"{where}: data does not match the declared type")
        for k, operand in enumerate(node.operands):
            if not isinstance(operand, Value):
                raise IRError(f"{where}: operand {k} is {type(operand).__name__}, not a Value")
            if number.get(id(operand.node), i) >= i:
                raise IRError(f"{where}: operand {k} is not numbered before the node")
            is_list = operand.node.op == TENSOR_LIST and operand.index == 0
            if not (is_list or 0 <= operand.index < operand.node.num_outputs):
                raise IRError(
                    f"{where}: operand {k} uses output {operand.index} of "
                    f"%{number[id(operand.node)]}, which has {operand.node.num_outputs}"
                )
    for r, root in enumerate(roots):
        if not 0 <= root.index < root.node.num_outputs:
            raise IRError(f"root {r} ({root.node.op}): output {root.index} does not exist")


DTYPE_NAMES: dict[torch.dtype, str] = {
    torch.float32: "Float",
    torch.float64: "Double",
    torch.float16: "Half",
    torch.bfloat16: "BFloat16",
    torch.int64: "Long",
    torch.int32: "Int",
    torch.int16: "Short",
    torch.int8: "Char",
    torch.uint8: "Byte",
    torch.bool: "Bool",
    torch.complex64: "ComplexFloat",
    torch.complex128: "ComplexDouble",
}


def shape_string(dtype: torch.dtype, shape: tuple[int, ...]) -> str:
    """``Float[3,4]``: PyTorch's spelling of one output type."""
    return f"{DTYPE_NAMES.get(dtype, str(dtype))}[{','.join(map(str, shape))}]"


def type_string(node: Node) -> str:
    """``[Float[3], Long[3]]``: all outputs of ``node`` (``[]`` for a tensor list)."""
    return (
        "["
        + ", ".join(shape_string(d, s) for d, s in zip(node.dtypes, node.shapes, strict=True))
        + "]"
    )


def node_key(node: Node) -> tuple[Any, ...]:
    """What identifies a node's own structure (op, types, attributes; not data, not edges).

    Computed once per node and kept on it: nodes are immutable.
    """
    key = node._key
    if key is None:
        key = node._key = structure_key(
            node.op, node.dtypes, node.shapes, node.attrs, node.template
        )
    return key


def structure_key(
    op: str,
    dtypes: tuple[torch.dtype, ...],
    shapes: tuple[tuple[int, ...], ...],
    attrs: tuple[tuple[str, Any], ...],
    template: Any,
) -> tuple[Any, ...]:
    """:func:`node_key` of a node with these parts (a builder making many nodes of the
    same parts computes it once and passes it to each, see ``lowering.Recipe``)."""
    if op == DEVICE_DATA:
        return (op, dtypes, shapes, (), None)
    hashable = tuple((name, tuple(v) if isinstance(v, list) else v) for name, v in attrs)
    # The argument template says where operands go: clamp(x, min, None) and
    # clamp(x, None, max) print alike (absent optionals are no operands) but differ.
    return (op, dtypes, shapes, hashable, repr(template))


def graph_hash(roots: Sequence[Value], order: Sequence[Node] | None = None) -> str:
    """A hex digest of the graph structure under ``roots`` (not of device data).

    Stable within a process (the compile cache lives in one process), not across them.

    Covers each node's :func:`node_key` and its edges by post-order number, so graphs
    that share a node differ from graphs that use two equal-looking ones. ``order`` is
    ``post_order(roots)`` when the caller already has it.
    """
    if order is None:
        order = post_order(roots)
    number = {node: i for i, node in enumerate(order)}  # nodes hash by identity
    parts: list[tuple[Any, ...]] = [
        (node_key(node), tuple((number[v.node], v.index) for v in node.operands)) for node in order
    ]
    parts.append(("roots", tuple((number[r.node], r.index) for r in roots)))
    # Python's tuple hash is fast and stable within a process, which is all a
    # compile-cache key needs (string hashes are salted per process).
    try:
        value = hash(tuple(parts))
    except TypeError:  # an attribute holding something unhashable (a nested list)
        value = hash(repr(parts))
    return f"{value & 0xFFFFFFFFFFFFFFFF:016x}"
