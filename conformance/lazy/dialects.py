"""IR dialect normalizers: structural comparison of lazy IR text across dialects.

A normalized graph is a list of nodes in post order, each ``(op, outputs, operands,
root)``: ``op`` without its namespace (``aten::add`` and ``xla::add`` are both ``add``;
``device_data`` leaves keep the name ``device_data``), ``outputs`` a tuple of
``(dtype, shape)`` with PyTorch dtype names (``Float``), ``operands`` the post-order
numbers of the inputs, and ``root`` the ROOT index or None. Attributes are not compared:
dialects spell them differently. Scalar constants are normalized to 0-dim leaves
(``device_data``), since torch_xla prints them as ``prim::Constant``.

Two graphs in different dialects are *the same computation* when their canonical forms
(:func:`canonical`) are equal. The canonical form renames ops through a per-dialect
vocabulary (:data:`VOCABULARY`: PyTorch lazy's functional ``view_copy`` and torch_xla's
``view`` are both ``view``), drops pass-through nodes that one dialect records and the
other does not (:data:`PASS_THROUGH`, e.g. PyTorch's ``detach_copy``), applies the
scalar-leaf rule (a 0-dim leaf is a scalar whatever its dtype: PyTorch uploads a Python
``2`` as ``Long[]`` where torch_xla uploads ``f32[]``), and renumbers nodes by a walk
from the roots, so that the order in which leaves were printed does not matter. Edges,
operand order, shapes, non-scalar dtypes, sharing and roots are still compared.
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
    through :func:`same_structure` for any other.
    """
    if dialect == "pytorch":
        return text == expected_pytorch_text
    return same_structure(text, dialect, expected_pytorch_text, "pytorch")


def ops(text: str, dialect: str) -> list[str]:
    """The op of every node of ``text``, namespace-free, in post order."""
    return [node[0] for node in normalize(text, dialect)]


#: Per dialect: op name (namespace-free) -> the canonical op name shared by all dialects.
#: Only ops that the two dialects spell differently for the same computation.
VOCABULARY: dict[str, dict[str, str]] = {
    "pytorch": {
        "view_copy": "view",
        "_unsafe_view": "view",
        "reshape": "view",
        "t_copy": "permute",
        "transpose_copy": "permute",
        "permute_copy": "permute",
        "_to_copy": "cast",
        "slice_copy": "generic_slice",
        "slice_scatter": "update_slice",
        "select_copy": "select",
        "select_scatter": "unselect",
        "expand_copy": "expand",
        "squeeze_copy": "view",
        "unsqueeze_copy": "view",
        "diagonal_copy": "diagonal",
        "clamp_min": "clamp",
        "clamp_max": "clamp",
    },
    "torch_xla": {
        "unsqueeze": "view",
        "squeeze": "view",
        "clamp_min": "clamp",
        "clamp_max": "clamp",
    },
}

#: Per dialect: ops that only forward their first operand (the other dialect records no
#: node for them); the canonical form skips them.
PASS_THROUGH: dict[str, frozenset[str]] = {
    "pytorch": frozenset({"detach_copy", "lift_fresh_copy", "alias_copy"}),
    "torch_xla": frozenset(),
}

#: A canonical node: (op, outputs, canonical operand numbers, root index or None).
CanonicalNode = NormalNode


def _is_scalar_leaf(node: NormalNode) -> bool:
    op, outputs, operands, _ = node
    return op == "device_data" and not operands and len(outputs) == 1 and outputs[0][1] == ()


def canonical(text: str, dialect: str) -> list[CanonicalNode]:
    """The dialect-independent form of ``text`` (see the module docstring)."""
    nodes = normalize(text, dialect)
    vocabulary = VOCABULARY.get(dialect, {})
    through = PASS_THROUGH.get(dialect, frozenset())
    by_number = dict(enumerate(nodes))

    def resolve(k: int) -> int:
        while by_number[k][0] in through and by_number[k][2]:
            k = by_number[k][2][0]
        return k

    roots: dict[int, list[int]] = {}
    for k, node in by_number.items():
        if node[3] is not None:
            roots.setdefault(node[3], []).append(resolve(k))
    numbers: dict[int, int] = {}
    out: list[CanonicalNode] = []
    root_of = {target: index for index, targets in roots.items() for target in targets}

    def visit(k: int) -> int:
        k = resolve(k)
        if k in numbers:
            return numbers[k]
        op, outputs, operands, _ = by_number[k]
        args = tuple(visit(a) for a in operands)
        if _is_scalar_leaf(by_number[k]):
            outputs = (("Scalar", ()),)
        numbers[k] = len(out)
        out.append((vocabulary.get(op, op), outputs, args, root_of.get(k)))
        return numbers[k]

    for index in sorted(roots):
        for target in roots[index]:
            visit(target)
    return out


def same_structure(text: str, dialect: str, other: str, other_dialect: str) -> bool:
    """Whether two IR texts, each in its dialect, show the same computation (:func:`canonical`)."""
    return canonical(text, dialect) == canonical(other, other_dialect)


def _show(node: CanonicalNode, k: int) -> str:
    op, outputs, operands, root = node
    types = ", ".join(f"{d}[{','.join(map(str, s))}]" for d, s in outputs)
    args = ", ".join(f"%{a}" for a in operands)
    return f"%{k} = [{types}] {op}({args})" + ("" if root is None else f", ROOT={root}")


def describe_difference(text: str, dialect: str, other: str, other_dialect: str) -> str:
    """Both canonical forms side by side from their first differing node, for messages."""
    mine, theirs = canonical(text, dialect), canonical(other, other_dialect)
    first = next(
        (k for k, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b),
        min(len(mine), len(theirs)),
    )
    lines = [f"first difference at canonical node %{first} ({dialect} | {other_dialect}):"]
    for k in range(first, max(len(mine), len(theirs))):
        left = _show(mine[k], k) if k < len(mine) else "-"
        right = _show(theirs[k], k) if k < len(theirs) else "-"
        lines.append(f"  {left}  |  {right}")
    return "\n".join(lines)
