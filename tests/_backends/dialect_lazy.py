"""Lazy backends that print IR in torch_xla's dialect, to exercise structural golden checks.

``xla_text`` is the reference device with its IR text rewritten the way torch_xla prints
it (``f32[3,4]{1,0} aten::add(%1, %0), xla_shape=...``, ``addmm`` operands in torch_xla's
order; op names stay ATen's) and ``ir_dialect = "torch_xla"``,
so the suite compares goldens through the normalizer; ``xla_text_swapped_edges`` also
swaps the operands of every binary node, which a structural comparison must catch.

Name a backend as ``--backend=dialect_lazy:<attribute>``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from conformance.backends._reference_lazy import ReferenceLazyArea

XLA_TYPES = {
    "Float": "f32", "Double": "f64", "Half": "f16", "BFloat16": "bf16", "Long": "s64",
    "Int": "s32", "Short": "s16", "Char": "s8", "Byte": "u8", "Bool": "pred",
    "ComplexFloat": "c64", "ComplexDouble": "c128",
}  # fmt: skip
LINE = re.compile(r"^  %(\d+) = \[(.*)\] ([\w:]+)\(([^)]*)\)(.*)$")
ONE_TYPE = re.compile(r"(\w+)\[([\d,]*)\]")


def _xla_type(dtype: str, dims: str) -> str:
    rank = len([d for d in dims.split(",") if d])
    layout = "{" + ",".join(str(i) for i in reversed(range(rank))) + "}" if rank else ""
    return f"{XLA_TYPES[dtype]}[{dims}]{layout}"


def to_xla(text: str, swap_edges: bool = False) -> str:
    """PyTorch lazy IR text rewritten in torch_xla's style (same graph)."""
    out = []
    for line in text.splitlines():
        match = LINE.match(line)
        if match is None:
            out.append(line)
            continue
        number, types, op, operands, rest = match.groups()
        shapes = [_xla_type(d, s) for d, s in ONE_TYPE.findall(types + "]")]
        shape = shapes[0] if len(shapes) == 1 else "(" + ", ".join(shapes) + ")"
        op = op.replace("lazy_tensors::device_data", "xla::device_data")
        args = [a for a in operands.split(", ") if a]
        if op == "aten::addmm" and len(args) >= 3:
            # torch_xla's addmm node takes (mat1, mat2, bias); ATen's (bias, mat1, mat2).
            args = [args[1], args[2], args[0], *args[3:]]
        if swap_edges and len(args) == 2:
            args.reverse()
        root = re.search(r", ROOT=\d+", rest)
        out.append(
            f"  %{number} = {shape} {op}({', '.join(args)}), xla_shape={shape}"
            + (root.group(0) if root else "")
        )
    return "\n".join(out) + "\n"


class XlaDialectArea(ReferenceLazyArea):
    """The reference lazy area printing torch_xla-style IR text."""

    ir_dialect = "torch_xla"

    def __init__(self, swap_edges: bool = False) -> None:
        self._swap_edges = swap_edges

    def ir_text(self, tensors: Sequence[Any]) -> str:
        return to_xla(super().ir_text(tensors), self._swap_edges)


class DialectBackend:
    """A backend with only a lazy area; no manifest, so every failure counts."""

    version = "0"
    device = "cpu"
    expectations = None

    def __init__(self, name: str, lazy: XlaDialectArea) -> None:
        self.name = name
        self.lazy = lazy


xla_text = DialectBackend("xla-text", XlaDialectArea())
xla_text_swapped_edges = DialectBackend("xla-text-swapped-edges", XlaDialectArea(swap_edges=True))
