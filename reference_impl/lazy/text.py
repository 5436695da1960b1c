"""IR text and dot dumps, in exactly the format PyTorch's lazy tensors print.

The text format is a contract (golden files in ``conformance/lazy/golden`` depend on it)::

    IR {
      %0 = [Long[]] lazy_tensors::device_data(), device=CPU0
      %1 = [Float[3,4]] lazy_tensors::device_data(), device=CPU0
      %2 = [Float[3,4]] aten::mul(%1, %0), ROOT=0
    }

- One line per node in post order (:func:`reference_impl.lazy.ir.post_order`): ``%k``, a
  space, the output types in brackets (``[Float[3,4]]``; dims joined by ``,`` without
  spaces; ``Float[]`` for 0-dim; ``[Float[3], Long[3]]`` for several outputs; ``[]`` for
  a tensor list), the op, the operands in parentheses as ``%i`` (``%i.j`` for output
  ``j > 0`` of a multi-output node), then ``, name=value`` per attribute.
- Attribute values: integers in decimal, floats as C++ streams print doubles (``0.5``,
  ``1``), booleans ``0``/``1``, absent optionals ``null``, integer lists joined by single
  spaces (``size=2 3``), dtypes by their C++ name (``Float``, ``BFloat16``), layouts as
  ``Strided``. Multi-output nodes start their attributes with ``num_outputs=N``.
- A node that is the ``k``-th tensor passed gets ``, ROOT=k`` after its attributes (the
  last such ``k`` when several outputs or tensors share the node).
- The text ends with ``}`` and a newline. PyTorch's newer builds add ``, NodeType=...``
  at the end of lines; that suffix is not part of the contract and is never printed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from reference_impl.lazy.ir import DTYPE_NAMES, Node, Value, post_order, type_string


def format_attr(value: Any) -> str:
    """One attribute value as PyTorch's lazy IR prints it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, torch.dtype):
        return DTYPE_NAMES.get(value, str(value))
    if isinstance(value, torch.layout):
        return "Strided" if value == torch.strided else str(value).removeprefix("torch.")
    if isinstance(value, torch.memory_format):
        name = str(value).removeprefix("torch.").removesuffix("_format")
        return name.replace("_", " ").title().replace(" ", "")
    if isinstance(value, list | tuple):
        return " ".join(format_attr(v) for v in value)
    return str(value)


def _operand(value: Value, number: dict[int, int]) -> str:
    base = f"%{number[id(value.node)]}"
    return base if value.index == 0 else f"{base}.{value.index}"


def node_line(node: Node, number: dict[int, int], roots: dict[int, list[int]]) -> str:
    """The text of one node, without indentation or newline."""
    operands = ", ".join(_operand(v, number) for v in node.operands)
    parts = [f"%{number[id(node)]} = {type_string(node)} {node.op}({operands})"]
    if node.num_outputs > 1:
        parts.append(f"num_outputs={node.num_outputs}")
    parts.extend(f"{name}={format_attr(value)}" for name, value in node.attrs)
    if id(node) in roots:
        parts.append(f"ROOT={roots[id(node)][-1]}")  # PyTorch keeps the last index only
    return ", ".join(parts)


def _numbering(values: Sequence[Value]) -> tuple[list[Node], dict[int, int], dict[int, list[int]]]:
    order = post_order(values)
    number = {id(node): i for i, node in enumerate(order)}
    roots: dict[int, list[int]] = {}
    for k, value in enumerate(values):
        roots.setdefault(id(value.node), []).append(k)
    return order, number, roots


def to_text(values: Sequence[Value]) -> str:
    """The IR text of the graph under ``values`` (see the module docstring)."""
    order, number, roots = _numbering(values)
    lines = ["IR {", *("  " + node_line(n, number, roots) for n in order), "}", ""]
    return "\n".join(lines)


def to_dot(values: Sequence[Value]) -> str:
    """The same graph in Graphviz dot, labelled like PyTorch's ``_get_tensors_dot``."""
    order, number, roots = _numbering(values)
    lines = ["digraph G {"]
    for node in order:
        label = [node.op, type_string(node)[1:-1]]
        label += [f"{name}={format_attr(value)}" for name, value in node.attrs]
        if id(node) in roots:
            label.append(f"ROOT={roots[id(node)][-1]}")
        lines.append(f'  node{number[id(node)]} [label="' + "\\n".join(label) + '"]')
    for node in reversed(order):
        for i, operand in enumerate(node.operands):
            lines.append(
                f'  node{number[id(operand.node)]} -> node{number[id(node)]} [label="i={i}"]'
            )
    lines += ["}", ""]
    return "\n".join(lines)
