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


def _on_result(names: set[str], change: Callable[[str, Any, Any], Any]) -> Callable[[], None]:
    """A patch that replaces the result of ops ``names`` with ``change(name, real, out)``."""

    def patch() -> None:
        from reference_impl.lazy import lowering

        real = lowering.dispatch

        def dispatch(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            out = real(func, args, kwargs)
            name = lowering.op_name(func)
            return change(name, real, out) if name in names else out

        lowering.dispatch = dispatch

    return patch


def _negate(real: Any, t: Any) -> Any:
    import torch

    return real(torch.ops.aten.mul.Tensor, (t, -1), {})


def _flip_vector_signs(name: str, real: Any, out: Any) -> Any:
    """Not a bug: eigenvectors, singular vectors and QR factors with every sign flipped."""
    if name == "_linalg_eigh":
        values, vectors = out
        return values, _negate(real, vectors)
    if name == "_linalg_svd":
        u, s, vh = out
        return _negate(real, u), s, _negate(real, vh)
    q, r = out  # linalg_qr
    return _negate(real, q), _negate(real, r)


def _flip_left_singular_vectors_only(name: str, real: Any, out: Any) -> Any:
    """Bug: U's signs flip but Vh's do not, so U diag(S) Vh is no longer the input."""
    u, s, vh = out
    return _negate(real, u), s, vh


def _own_device_rng() -> None:
    """Not a bug: random ops on the device draw from a stream of their own (as torch_xla's).

    Before each random op the device draws one number from the global generator, so its
    numbers differ from CPU's under the same seed while still following the seed.
    """
    import torch

    from reference_impl.lazy import lowering

    real = lowering.dispatch
    random_ops = {"native_dropout", "uniform", "uniform_", "bernoulli", "bernoulli_", "normal"}

    def dispatch(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if lowering.op_name(func) in random_ops:
            torch.rand(1)
        return real(func, args, kwargs)

    lowering.dispatch = dispatch


def _slow_hypot() -> None:
    """Slow but right: each hypot on the device takes half a second (9 float32 samples)."""
    _on_op("hypot", lambda: time.sleep(0.5))()


def _hangs_on_second_hypot() -> None:
    """Bug: the second sample of hypot hangs."""
    calls = []

    def action() -> None:
        calls.append(1)
        if len(calls) == 2:
            time.sleep(600)

    _on_op("hypot", action)()


def _aborts_on_second_hypot() -> None:
    """Bug: the second sample of hypot kills the process."""
    calls = []

    def action() -> None:
        calls.append(1)
        if len(calls) == 2:
            os.abort()

    _on_op("hypot", action)()


flips_vector_signs = BrokenBackend(
    "flips-vector-signs",
    _on_result({"_linalg_eigh", "_linalg_svd", "linalg_qr"}, _flip_vector_signs),
)
flips_left_singular_vectors_only = BrokenBackend(
    "flips-left-singular-vectors-only",
    _on_result({"_linalg_svd"}, _flip_left_singular_vectors_only),
)
own_device_rng = BrokenBackend("own-device-rng", _own_device_rng)
slow_hypot = BrokenBackend("slow-hypot", _slow_hypot)
hangs_on_second_hypot = BrokenBackend("hangs-on-second-hypot", _hangs_on_second_hypot)
aborts_on_second_hypot = BrokenBackend("aborts-on-second-hypot", _aborts_on_second_hypot)


#: The reference's kernels that a matmul (mm, bmm, mv, addmm, ...) lowers to.
_CONTRACTIONS = {"aten::mm", "aten::bmm", "aten::mv", "aten::dot", "aten::addmm", "aten::matmul"}


def _contractions_in(dtype_name: str) -> Callable[[], None]:
    """A patch running every float32 contraction kernel in ``dtype_name``, rounded back."""

    def patch() -> None:
        import torch

        from reference_impl.lazy import executor

        real = executor.kernel
        work = getattr(torch, dtype_name)

        def kernel(instruction: Any) -> Any:
            run = real(instruction)
            if instruction.op not in _CONTRACTIONS:
                return run

            def rounded(*args: Any, **kwargs: Any) -> Any:
                def cast(a: Any) -> Any:
                    is_f32 = isinstance(a, torch.Tensor) and a.dtype == torch.float32
                    return a.to(work) if is_f32 else a

                out = run(*map(cast, args), **kwargs)
                return out.to(torch.float32) if out.dtype == work else out

            return rounded

        executor.kernel = kernel  # type: ignore[assignment]

    return patch


#: Not a bug: contractions summed in float64 (more exact than CPU's float32 BLAS), so
#: they differ from CPU by CPU's own rounding.
contractions_in_float64 = BrokenBackend("contractions-in-float64", _contractions_in("float64"))
#: Bug: contractions accumulate in bfloat16, far less exact than CPU.
contractions_in_bfloat16 = BrokenBackend("contractions-in-bfloat16", _contractions_in("bfloat16"))
