"""Debug dumps (``torch._lazy.debug``): IR text and Graphviz dot of lazy tensors.

Also the save-graphs hook: when the environment variable :data:`SAVE_GRAPHS_ENV` names
a file, every sync appends a record to it (as PyTorch's ``LTC_SAVE_TENSORS_FILE``
does): the Python stack that caused the sync, innermost frame first, and the IR text
of the synced graph::

    [SyncTensorsGraph]
    Python Stacktrace:
      inner (/path/train.py:12)
      main (/path/train.py:20)
      <module> (/path/train.py:23)

    ## BEGIN_GRAPH
    IR {
      ...
    }

    ## END_GRAPH
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import torch

from reference_impl.lazy import text
from reference_impl.lazy.ir import Value
from reference_impl.lazy.tensor import unwrap

#: Set to a file path to append every synced graph and its Python stack to that file.
SAVE_GRAPHS_ENV = "LTC_SAVE_TENSORS_FILE"

#: Frames of these files are the device's own machinery, not the user's stack.
_INTERNAL = tuple(
    os.path.join(os.path.dirname(__file__), name)
    for name in (
        "tensor.py",
        "lowering.py",
        "factories.py",
        "sync.py",
        "debug.py",
        "executor.py",
        "reuse.py",
    )
)


def values_of(tensors: Sequence[torch.Tensor]) -> list[Value]:
    """The IR values of user-visible lazy tensors.

    Like PyTorch, pending view updates are *not* applied first: the text of a base tensor
    mutated through a view shows its old value until the base is next used.
    """
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


def python_stack() -> list[str]:
    """The caller's Python stack as ``name (file:line)`` lines, innermost frame first."""
    lines: list[str] = []
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if not code.co_filename.startswith(_INTERNAL):
            lines.append(f"{code.co_name} ({code.co_filename}:{frame.f_lineno})")
        frame = frame.f_back  # type: ignore[assignment]
    return lines


def save_graph(roots: Sequence[Value]) -> None:
    """Append the stack and IR of a sync of ``roots`` to the save-graphs file, if set."""
    path = os.environ.get(SAVE_GRAPHS_ENV)
    if not path:
        return
    record = [
        "[SyncTensorsGraph]",
        "Python Stacktrace:",
        *("  " + line for line in python_stack()),
        "",
        "## BEGIN_GRAPH",
        text.to_text(roots),
        "## END_GRAPH",
        "",
        "",
    ]
    with open(path, "a", encoding="utf-8") as out:
        out.write("\n".join(record))
