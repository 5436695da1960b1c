"""Broken lazy backends for IR attribute text: one attribute kind printed or recorded wrong.

Used by ``tests/test_lazy_behaviour_broken_backends.py`` against
``conformance/lazy/test_ir_attributes.py``. Values stay right: only the IR text (and
so the goldens) shows each bug. Patched in at ``init()`` in the child pytest process.
Name one as ``--backend=broken_lazy_ir_attributes:<attribute>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from broken_lazy import BrokenBackend


def _format_patch(rewrite: Callable[[Any, Callable[[Any], str]], str | None]) -> Callable[[], None]:
    """A bug in ``text.format_attr``: ``rewrite(value, real)`` or, if None, the real text."""

    def patch() -> None:
        from reference_impl.lazy import text

        real = text.format_attr

        def format_attr(value: Any) -> str:
            out = rewrite(value, real)
            return real(value) if out is None else out

        text.format_attr = format_attr  # type: ignore[assignment]

    return patch


def _line_patch(rewrite: Callable[[Any, str], str]) -> Callable[[], None]:
    """A bug in ``text.node_line``: ``rewrite(node, line)`` replaces each node's line."""

    def patch() -> None:
        from reference_impl.lazy import text

        real = text.node_line

        def node_line(node: Any, number: Any, roots: Any) -> str:
            return rewrite(node, real(node, number, roots))

        text.node_line = node_line  # type: ignore[assignment]

    return patch


def _fixed_precision(value: Any, real: Callable[[Any], str]) -> str | None:
    """Floats printed like C's ``%f`` (``-2.500000``), not like a C++ stream (``-2.5``)."""
    return f"{value:f}" if isinstance(value, float) else None


DIM_ATTRS = re.compile(r"(, (?:dim|dim0|dim1|dim2|dims)=)(-?\d+(?: -?\d+)*)")


def _canonical_dims(node: Any, line: str) -> str:
    """Negative dims printed as the positive dim they stand for (``dim=-1`` -> ``dim=1``)."""
    first = node.operands[0] if node.operands else None
    if first is None or not first.node.shapes:  # no operand, or a tensor list (cat)
        return line
    rank = max(len(first.shape), 1)

    def fix(match: re.Match[str]) -> str:
        dims = [int(d) for d in match.group(2).split(" ")]
        return match.group(1) + " ".join(str(d + rank if d < 0 else d) for d in dims)

    return DIM_ATTRS.sub(fix, line)


def _unsigned(value: Any, real: Callable[[Any], str]) -> str | None:
    """Negative integers printed as unsigned 64-bit (an int64 streamed as ``size_t``)."""
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return str(value & 0xFFFFFFFFFFFFFFFF)
    if isinstance(value, list | tuple):
        return " ".join(_unsigned(v, real) or real(v) for v in value)
    return None


def _python_bools(value: Any, real: Callable[[Any], str]) -> str | None:
    """Booleans printed as Python prints them (``True``), not as ``1``/``0``."""
    return str(value) if isinstance(value, bool) else None


def _comma_lists(value: Any, real: Callable[[Any], str]) -> str | None:
    """Integer lists printed comma-separated (``dim=-1,-3``), not space-separated."""
    return ",".join(real(v) for v in value) if isinstance(value, list | tuple) else None


def _python_enums(value: Any, real: Callable[[Any], str]) -> str | None:
    """Memory formats and layouts printed by their Python repr (``torch.contiguous_format``)."""
    import torch

    return str(value) if isinstance(value, torch.memory_format | torch.layout) else None


def _none_for_null(value: Any, real: Callable[[Any], str]) -> str | None:
    """Absent optionals printed as Python's ``None``, not ``null``."""
    return "None" if value is None else None


QUOTED = re.compile(r", (approximate|reduce|rounding_mode|padding_mode)=(\w+)")


def _quoted_strings(node: Any, line: str) -> str:
    """String attributes printed with quotes (``approximate='tanh'``)."""
    return QUOTED.sub(lambda m: f", {m.group(1)}='{m.group(2)}'", line)


def _absent_scalars_shown(node: Any, line: str) -> str:
    """Absent optional scalars printed as ``name=null`` attributes (PyTorch omits them:
    ``clamp(x, max=0.5)`` has operands ``x`` and ``max`` and no ``min`` attribute)."""
    from reference_impl.lazy import lowering

    if node.target is None or not isinstance(node.template, tuple) or len(node.template) != 2:
        return line
    args_t, kwargs_t = node.template
    extra = "".join(
        f", {param.name}=null"
        for param, slot in zip(
            lowering.params(node.target), [*args_t, *kwargs_t.values()], strict=False
        )
        if param.kind == "scalar" and slot is None
    )
    head, root, tail = line.partition(", ROOT=")
    return head + extra + root + tail


def _non_blocking_not_recorded() -> None:
    """Bug: ``non_blocking`` is dropped when a conversion is recorded (always printed 0)."""
    from reference_impl.lazy import lowering

    real = lowering._to_copy

    def _to_copy(t: Any, **kwargs: Any) -> Any:
        kwargs.pop("non_blocking", None)
        return real(t, **kwargs)

    lowering._to_copy = _to_copy  # type: ignore[assignment]
    lowering.SPECIAL[lowering.aten._to_copy.default] = _to_copy


def _dtype_names_incomplete() -> None:
    """Bug: the dtype-name table lacks the narrow integer types (``Int`` prints ``torch.int32``)."""
    import torch

    from reference_impl.lazy import ir

    for dtype in (torch.int32, torch.int16, torch.int8):
        ir.DTYPE_NAMES.pop(dtype, None)


floats_fixed_precision = BrokenBackend("floats-fixed-precision", _format_patch(_fixed_precision))
negative_dims_canonicalized = BrokenBackend(
    "negative-dims-canonicalized", _line_patch(_canonical_dims)
)
negative_ints_unsigned = BrokenBackend("negative-ints-unsigned", _format_patch(_unsigned))
bools_printed_by_python = BrokenBackend("bools-printed-by-python", _format_patch(_python_bools))
non_blocking_not_recorded = BrokenBackend("non-blocking-not-recorded", _non_blocking_not_recorded)
int_lists_comma_separated = BrokenBackend("int-lists-comma-separated", _format_patch(_comma_lists))
enums_printed_by_python = BrokenBackend("enums-printed-by-python", _format_patch(_python_enums))
absent_optionals_as_none = BrokenBackend("absent-optionals-as-none", _format_patch(_none_for_null))
absent_scalars_shown = BrokenBackend("absent-scalars-shown", _line_patch(_absent_scalars_shown))
dtype_names_incomplete = BrokenBackend("dtype-names-incomplete", _dtype_names_incomplete)
strings_quoted = BrokenBackend("strings-quoted", _line_patch(_quoted_strings))
