"""Broken lazy backends for copies between device tensors and into extracted graphs.

Used by ``tests/test_lazy_behaviour_broken_backends.py`` against
``conformance/lazy/test_device.py`` and ``conformance/lazy/test_extract.py``. Each bug is
patched into the reference implementation when the suite's fixture calls ``init()``.
Name one as ``--backend=broken_lazy_device_copies:<attribute>``.
"""

from __future__ import annotations

from typing import Any

from broken_lazy import BrokenBackend


def _copy_skips_broadcast() -> None:
    """Bug: ``dst.copy_(src)`` of two device tensors takes src's shape when they differ."""
    from reference_impl.lazy import lowering
    from reference_impl.lazy.tensor import LazyTensor

    real = lowering.copy

    def copy(dst: Any, src: Any, non_blocking: bool = False) -> Any:
        if isinstance(src, LazyTensor) and tuple(src.shape) != tuple(dst.shape):
            out = src
            if src.dtype != dst.dtype:
                to_copy = lowering.aten._to_copy.default
                out = lowering.dispatch(to_copy, (out,), {"dtype": dst.dtype})
            return LazyTensor(ir=out.value())
        return real(dst, src, non_blocking)

    lowering.SPECIAL[lowering.aten.copy.default] = copy


def _factory_devices_not_retargeted() -> None:
    """Bug: extraction leaves ``device="cpu"`` factory arguments of the graph as they are."""
    from reference_impl.lazy import extract

    extract._retarget_devices = lambda module: None  # type: ignore[assignment]


def _fallback_keeps_device_argument() -> None:
    """Bug: a CPU fallback keeps ``device="lazy"``, so ``x.new_zeros(..., device=...)``
    builds a lazy tensor on the CPU side and uploads it as data (a lazy tensor in a lazy
    tensor, whose ``.cpu()`` is not a CPU tensor)."""
    from reference_impl.lazy import lowering

    lowering._names_lazy = lambda device: False  # type: ignore[assignment]


copy_skips_broadcast = BrokenBackend("copy-skips-broadcast", _copy_skips_broadcast)
factory_devices_not_retargeted = BrokenBackend(
    "factory-devices-not-retargeted", _factory_devices_not_retargeted
)
fallback_keeps_device_argument = BrokenBackend(
    "fallback-keeps-device-argument", _fallback_keeps_device_argument
)
