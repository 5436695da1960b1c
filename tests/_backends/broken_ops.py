"""Deliberately broken lazy backends for the op sweep (``conformance/lazy/test_ops.py``).

Each is the reference lazy device with one bug patched in at ``init()`` (inside the child
pytest only). ``tests/test_ops_broken_backends.py`` runs the sweep on a few ops against
each and checks the bug is caught and reported for the right op.

Name one as ``--backend=broken_ops:<attribute>``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from broken_lazy import (  # one "reference + one patched bug" backend for all
    BrokenBackend,
    offset_op,
)


def _silent_fallback() -> None:
    """Bug: abs quietly runs as a CPU fallback although native_ops (LOWERED) lists it."""
    from reference_impl.lazy import lowering

    real = lowering.dispatch

    def dispatch(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if lowering.op_name(func) == "abs":
            return lowering.fallback(func, args, kwargs)
        return real(func, args, kwargs)

    lowering.dispatch = dispatch  # type: ignore[assignment]


def _wrong_second_output() -> None:
    """Bug: topk's second output (the indices) is off by one; the values are right."""
    from reference_impl.lazy import executor

    real = executor.kernel

    def kernel(instruction: Any) -> Any:
        run = real(instruction)
        if instruction.op != "aten::topk":
            return run

        def topk(*args: Any, **kwargs: Any) -> Any:
            values, indices = run(*args, **kwargs)
            return values, indices + 1

        return topk

    executor.kernel = kernel  # type: ignore[assignment]


def _wrong_dtype() -> None:
    """Bug: neg computes the right values but returns them as float64 for any input."""
    import torch

    from reference_impl.lazy import lowering

    real = lowering.dispatch

    def dispatch(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        out = real(func, args, kwargs)
        if lowering.op_name(func) == "neg":
            return real(torch.ops.aten._to_copy.default, (out,), {"dtype": torch.float64})
        return out

    lowering.dispatch = dispatch  # type: ignore[assignment]


def _on_op(name: str, action: Callable[[], None]) -> Callable[[], None]:
    """A bug that runs ``action`` whenever op ``name`` reaches the device."""

    def patch() -> None:
        from reference_impl.lazy import lowering

        real = lowering.dispatch

        def dispatch(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if lowering.op_name(func) == name:
                action()
            return real(func, args, kwargs)

        lowering.dispatch = dispatch  # type: ignore[assignment]

    return patch


silent_fallback = BrokenBackend("silent-fallback", _silent_fallback)
wrong_second_output = BrokenBackend("wrong-second-output", _wrong_second_output)
wrong_dtype = BrokenBackend("wrong-dtype", _wrong_dtype)
slightly_off = BrokenBackend(
    "slightly-off", offset_op("aten::neg", 1e-3)
)  # a tolerance rule can accept it
aborts_on_cos = BrokenBackend("aborts-on-cos", _on_op("cos", os.abort))
hangs_on_sin = BrokenBackend("hangs-on-sin", _on_op("sin", lambda: time.sleep(600)))
