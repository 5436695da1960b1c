"""IR dialect normalizers: structural comparison of lazy IR text across dialects.

A normalized graph is a list of nodes in post order, each ``(op, outputs, operands,
root)``: ``op`` without its namespace (``aten::add`` and ``xla::add`` are both ``add``;
``device_data`` leaves keep the name ``device_data``), ``outputs`` a tuple of
``(dtype, shape)`` with PyTorch dtype names (``Float``), ``operands`` the post-order
numbers of the inputs, and ``root`` the ROOT index or None. Attributes are not compared:
dialects spell them differently. Scalar constants are normalized to 0-dim leaves
(``device_data``), since torch_xla prints them as ``prim::Constant``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

NormalNode = tuple[str, tuple[tuple[str, tuple[int, ...]], ...], tuple[int, ...], int | None]

_PT_LINE = re.compile(
    r"^\s*%(\d+) = \[(.*?)\]\] ([\w:]+)\((.*?)\)(.*)$|^\s*%(\d+) = \[\] ([\w:]+)\((.*?)\)(.*)$"
)
_PT_TYPE = re.compile(r"(\w+)\[([\d,]*)")
_XLA_LINE = re.compile(
    r"^\s*%(\d+) = (\(.*?\)|[\w]+\[[\d,]*\](?:\{[\d,]*\})?) ([\w:]+)\((.*?)\)(.*)$"
)
_XLA_TYPE = re.compile(r"(\w+)\[([\d,]*)\]")
_ROOT = re.compile(r"ROOT=(\d+)")
_XLA_DTYPES = {
    "f32": "Float",
    "f64": "Double",
    "f16": "Half",
    "bf16": "BFloat16",
    "s64": "Long",
    "s32": "Int",
    "s16": "Short",
    "s8": "Char",
    "u8": "Byte",
    "pred": "Bool",
    "c64": "ComplexFloat",
    "c128": "ComplexDouble",
}


class DialectError(ValueError):
    """IR text that a normalizer cannot parse; the message quotes the line."""


def _shape(dims: str) -> tuple[int, ...]:
    return tuple(int(d) for d in dims.split(",") if d)


def _op(name: str) -> str:
    short = name.split("::")[-1]
    return "device_data" if short in ("device_data", "Constant") else short


def _operands(text: str) -> tuple[int, ...]:
    return tuple(int(m) for m in re.findall(r"%(\d+)", text))


def _root(rest: str) -> int | None:
    match = _ROOT.search(rest)
    return int(match.group(1)) if match else None


def _body(text: str) -> list[str]:
    lines = text.strip("\n").split("\n")
    if not lines or lines[0].strip() != "IR {" or lines[-1].strip() != "}":
        raise DialectError("IR text must start with 'IR {' and end with '}'")
    return [line for line in lines[1:-1] if line.strip()]


def normalize_pytorch(text: str) -> list[NormalNode]:
    """Normalize PyTorch lazy IR text (``[Float[3]] aten::add(%1, %0)``)."""
    nodes: list[NormalNode] = []
    for line in _body(re.sub(r", NodeType=[^\n]*", "", text)):
        match = _PT_LINE.match(line)
        if match is None:
            raise DialectError(f"not a PyTorch lazy IR line: {line!r}")
        if match.group(1) is not None:
            types, op, args, rest = (
                match.group(2) + "]",
                match.group(3),
                match.group(4),
                match.group(5),
            )
        else:
            types, op, args, rest = "", match.group(7), match.group(8), match.group(9)
        outputs = tuple((d, _shape(s)) for d, s in _PT_TYPE.findall(types))
        nodes.append((_op(op), outputs, _operands(args), _root(rest)))
    return nodes


def normalize_torch_xla(text: str) -> list[NormalNode]:
    """Normalize torch_xla IR text (``f32[3]{0} aten::add(%1, %0), xla_shape=...``)."""
    nodes: list[NormalNode] = []
    for line in _body(text):
        match = _XLA_LINE.match(line)
        if match is None:
            raise DialectError(f"not a torch_xla IR line: {line!r}")
        types, op, args, rest = match.group(2), match.group(3), match.group(4), match.group(5)
        outputs = []
        for dtype, dims in _XLA_TYPE.findall(types):
            if dtype not in _XLA_DTYPES:
                raise DialectError(f"unknown torch_xla element type {dtype!r} in {line!r}")
            outputs.append((_XLA_DTYPES[dtype], _shape(dims)))
        nodes.append((_op(op), tuple(outputs), _operands(args), _root(rest)))
    return nodes


NORMALIZERS: dict[str, Callable[[str], list[NormalNode]]] = {
    "pytorch": normalize_pytorch,
    "torch_xla": normalize_torch_xla,
}


def normalize(text: str, dialect: str) -> list[NormalNode]:
    """Normalize ``text`` written in ``dialect`` (a key of :data:`NORMALIZERS`)."""
    try:
        normalizer = NORMALIZERS[dialect]
    except KeyError:
        raise DialectError(
            f"unknown IR dialect {dialect!r}; known: {', '.join(NORMALIZERS)}"
        ) from None
    return normalizer(text)


def same_graph(text: str, dialect: str, expected_pytorch_text: str) -> bool:
    """Whether ``text`` (in ``dialect``) shows the graph of PyTorch-dialect ``expected``.

    Byte equality for the PyTorch dialect (attributes included), structural equality
    through :func:`normalize` for any other.
    """
    if dialect == "pytorch":
        return text == expected_pytorch_text
    return normalize(text, dialect) == normalize(expected_pytorch_text, "pytorch")


def ops(text: str, dialect: str) -> list[str]:
    """The op of every node of ``text``, namespace-free, in post order."""
    return [node[0] for node in normalize(text, dialect)]
