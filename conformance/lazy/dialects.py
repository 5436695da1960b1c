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
#: Only ops that two dialects spell differently for the same computation.
VOCABULARY: dict[str, dict[str, str]] = {
    "pytorch": {
        # PyTorch's lazy backend records functionalization's *_copy ops.
        "view_copy": "view",
        "_unsafe_view": "view",
        "squeeze_copy": "view",
        "unsqueeze_copy": "view",
        "t_copy": "permute",
        "transpose_copy": "permute",
        "permute_copy": "permute",
        "expand_copy": "expand",
        "_to_copy": "cast",
        "slice_copy": "slice",
        "select_copy": "select",
        "diagonal_copy": "diagonal",
        "_log_softmax": "log_softmax",
        "_softmax": "softmax",
    },
    "torch_xla": {
        # torch_xla's node names: a strided slice is xla::select, its scatter unselect
        # (PyTorch's slice_copy/slice_scatter); select_copy becomes generic_slice + view.
        "select": "slice",
        "unselect": "slice_scatter",
        "unsqueeze": "view",
        "squeeze": "view",
        "matmul": "bmm",
    },
}

#: Per dialect: op -> positions of its operands in the canonical (PyTorch/ATen) order, for
#: nodes whose dialect orders operands differently. torch_xla's addmm node takes
#: (mat1, mat2, bias); ATen's addmm (and PyTorch's lazy IR) takes (bias, mat1, mat2).
OPERAND_ORDER: dict[str, dict[str, tuple[int, ...]]] = {
    "torch_xla": {"addmm": (2, 0, 1)},
}

#: Per dialect: ops that only forward their first operand (the other dialect records no
#: node for them); the canonical form skips them.
PASS_THROUGH: dict[str, frozenset[str]] = {
    "pytorch": frozenset({"detach_copy", "lift_fresh_copy", "alias_copy", "clone"}),
    "torch_xla": frozenset({"clone"}),
}

#: Shape or dtype changes that are no-ops when the output equals the input (one dialect
#: records ``expand`` of a 0-dim tensor to 0-dim, the other nothing).
_IDENTITY_WHEN_UNCHANGED = frozenset({"view", "expand", "cast"})

#: A canonical node: (op, outputs, canonical operand numbers, root index or None).
CanonicalNode = NormalNode


def _is_scalar_leaf(node: NormalNode) -> bool:
    op, outputs, operands, _ = node
    return op == "device_data" and not operands and len(outputs) == 1 and outputs[0][1] == ()


def _drops_one_unit_dim(small: tuple[int, ...], big: tuple[int, ...]) -> bool:
    """Whether ``small`` is ``big`` without one of its size-1 dimensions."""
    return len(big) == len(small) + 1 and any(
        big[k] == 1 and big[:k] + big[k + 1 :] == small for k in range(len(big))
    )


def _rewrite_torch_xla(graph: dict[int, NormalNode]) -> None:
    """torch_xla's two-node spellings of ``select`` and ``select_scatter``, as one node.

    ``view(generic_slice(x))`` that drops the sliced size-1 dimension is PyTorch's
    ``select_copy(x)``; ``update_slice(base, view(src))`` that adds it back is
    ``select_scatter(base, src)``.
    """
    for k, (op, outputs, operands, root) in list(graph.items()):
        if op == "view" and len(operands) == 1 and len(outputs) == 1:
            inner = graph[operands[0]]
            if inner[0] == "generic_slice" and _drops_one_unit_dim(outputs[0][1], inner[1][0][1]):
                graph[k] = ("select", outputs, inner[2], root)
        elif op == "update_slice" and len(operands) >= 2:
            src = graph[operands[1]]
            if (
                src[0] == "view"
                and len(src[2]) == 1
                and _drops_one_unit_dim(graph[src[2][0]][1][0][1], src[1][0][1])
            ):
                graph[k] = ("select_scatter", outputs, (operands[0], src[2][0]), root)


_REWRITES: dict[str, Callable[[dict[int, NormalNode]], None]] = {
    "torch_xla": _rewrite_torch_xla,
}


def canonical(text: str, dialect: str) -> list[CanonicalNode]:
    """The dialect-independent form of ``text`` (see the module docstring).

    Rules, in order: reorder operands (:data:`OPERAND_ORDER`) and rename ops through
    :data:`VOCABULARY`; merge the dialect's
    multi-node spellings (:data:`_REWRITES`); skip :data:`PASS_THROUGH` nodes and
    ``view``/``expand``/``cast`` nodes that change nothing; splice PyTorch's
    ``tensor_list`` operands into their consumer; treat 0-dim leaves (Python scalars,
    uploaded or constant) as attributes, not operands, since dialects differ in which
    scalars they make graph inputs; renumber by a walk from the roots in ROOT order.
    """
    # ATen's functional names mean the same in every dialect; a dialect's own names
    # take precedence (torch_xla's ``select`` is a strided slice, not ``select_copy``).
    vocabulary = {**VOCABULARY["pytorch"], **VOCABULARY.get(dialect, {})}
    order = OPERAND_ORDER.get(dialect, {})
    graph: dict[int, NormalNode] = {}
    for k, (op, outputs, operands, root) in enumerate(normalize(text, dialect)):
        positions = order.get(op)
        if positions is not None and len(operands) >= len(positions):
            operands = tuple(operands[p] for p in positions) + operands[len(positions) :]
        graph[k] = (vocabulary.get(op, op), outputs, operands, root)
    rewrite = _REWRITES.get(dialect)
    if rewrite is not None:
        rewrite(graph)
    through = PASS_THROUGH["pytorch"] | PASS_THROUGH.get(dialect, frozenset())

    def skipped(node: NormalNode) -> bool:
        op, outputs, operands, _ = node
        if not operands:
            return False
        if op in through:
            return True
        return op in _IDENTITY_WHEN_UNCHANGED and outputs == graph[operands[0]][1]

    def resolve(k: int) -> int:
        while skipped(graph[k]):
            k = graph[k][2][0]
        return k

    def tensor_operands(operands: tuple[int, ...]) -> list[int]:
        found: list[int] = []
        for a in operands:
            a = resolve(a)
            if graph[a][0] == "tensor_list":
                found.extend(tensor_operands(graph[a][2]))
            elif not _is_scalar_leaf(graph[a]):
                found.append(a)
        return found

    root_of: dict[int, int] = {}
    for k, node in graph.items():
        if node[3] is not None:
            root_of.setdefault(resolve(k), node[3])
    numbers: dict[int, int] = {}
    out: list[CanonicalNode] = []

    def visit(k: int) -> int:
        if k in numbers:
            return numbers[k]
        op, outputs, operands, _ = graph[k]
        args = tuple(visit(a) for a in tensor_operands(operands))
        if _is_scalar_leaf(graph[k]):
            outputs = (("Scalar", ()),)
        numbers[k] = len(out)
        out.append((op, outputs, args, root_of.get(k)))
        return numbers[k]

    for k in sorted(root_of, key=lambda k: root_of[k]):
        visit(k)
    return out


def canonical_ops(text: str, dialect: str) -> list[str]:
    """The op of every node of :func:`canonical` ``text``: names shared by all dialects."""
    return [node[0] for node in canonical(text, dialect)]


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
