"""Debug dumps (``torch._lazy.debug``): IR text and Graphviz dot of lazy tensors."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from reference_impl.lazy import text
from reference_impl.lazy.ir import Value


def values_of(tensors: Sequence[torch.Tensor]) -> list[Value]:
    """The IR values of user-visible lazy tensors.

    Like PyTorch, pending view updates are *not* applied first: the text of a base tensor
    mutated through a view shows its old value until the base is next used.
    """
    from reference_impl.lazy.tensor import unwrap

    return [unwrap(t, sync=False).value() for t in tensors]


def dump_ir(tensors: Sequence[torch.Tensor], ir_format: str = "text") -> str:
    """The IR of ``tensors`` as ``"text"`` (PyTorch's lazy IR text) or ``"dot"``."""
    if ir_format == "text":
        return text.to_text(values_of(tensors))
    if ir_format == "dot":
        return text.to_dot(values_of(tensors))
    raise RuntimeError(f"Unrecognized IR format: {ir_format}")


def render_ir_graph(tensors: Sequence[torch.Tensor]) -> str:
    """The IR of ``tensors`` in Graphviz dot."""
    return dump_ir(tensors, "dot")
