"""Configuration (``torch._lazy.config``): the op forced to fall back to CPU.

Unlike PyTorch (whose C++ side keeps the first op symbol it was given for the life of
the process), setting another op here takes effect immediately.
"""

from __future__ import annotations

_force_fallback = ""


def get_force_fallback() -> str:
    """The op symbol forced to fall back (``"aten::add"``), or ``""``."""
    return _force_fallback


def set_force_fallback(configval: str) -> None:
    """Force ``configval`` (an op symbol such as ``"aten::add"``) to run on CPU; ``""`` clears."""
    global _force_fallback
    _force_fallback = configval


def set_reuse_ir(val: bool) -> None:
    """Reuse IR nodes of earlier traces (see :mod:`reference_impl.lazy.reuse`)."""
    from reference_impl.lazy import reuse

    reuse.set_reuse_ir(val)
