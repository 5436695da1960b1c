"""Broken lazy backends for moving strided views between CPU and the device.

Used by ``tests/test_lazy_behaviour_broken_backends.py`` against
``conformance/lazy/test_device_views.py``. Patched in at ``init()`` in the child pytest
process. Name one as ``--backend=broken_lazy_device_views:<attribute>``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from broken_lazy import BrokenBackend


def _contiguous_strides(shape: Any) -> list[int]:
    strides, step = [], 1
    for size in reversed(list(shape)):
        strides.insert(0, step)
        step *= max(size, 1)
    return strides


def _upload_patch(read: Callable[[Any], Any]) -> Callable[[], None]:
    """Uploads from CPU read the source through ``read(src)`` instead of as the view it is."""

    def patch() -> None:
        import torch

        from reference_impl.lazy import lowering

        real = lowering.copy

        def copy(dst: Any, src: Any, non_blocking: bool = False) -> Any:
            if (
                isinstance(src, torch.Tensor)
                and not isinstance(src, lowering.LazyTensor)
                and not torch._is_functional_tensor(src)
                and src.shape == dst.shape
            ):
                src = read(src)
            return real(dst, src, non_blocking)

        lowering.copy = copy  # type: ignore[assignment]
        lowering.SPECIAL[lowering.aten.copy.default] = copy

    return patch


def _storage_in_order(src: Any) -> Any:
    """Bug: the upload copies the source's storage in order from its offset (strides ignored)."""
    import torch

    flat = torch.tensor([], dtype=src.dtype).set_(src.untyped_storage())
    return torch.as_strided(flat, src.shape, _contiguous_strides(src.shape), src.storage_offset())


def _offset_ignored(src: Any) -> Any:
    """Bug: the upload reads the source from the start of its storage (offset ignored)."""
    import torch

    flat = torch.tensor([], dtype=src.dtype).set_(src.untyped_storage())
    return torch.as_strided(flat, src.shape, src.stride(), 0)


def _upload_shares_cpu_memory() -> None:
    """Bug: an upload keeps the CPU source's memory as device data (zero-copy)."""
    import torch

    from reference_impl.lazy import ir, lowering

    real = lowering.copy

    def _copy(dst: Any, src: Any, non_blocking: bool = False) -> Any:
        if (
            isinstance(src, torch.Tensor)
            and not isinstance(src, lowering.LazyTensor)
            and not torch._is_functional_tensor(src)
            and (src.dtype, src.shape) == (dst.dtype, dst.shape)
        ):
            return lowering.LazyTensor(ir=ir.device_data(src.detach()).value())
        return real(dst, src, non_blocking)

    lowering.copy = _copy  # type: ignore[assignment]
    lowering.SPECIAL[lowering.aten.copy.default] = _copy


def _download_reads_storage_in_order() -> None:
    """Bug: moving to CPU copies the device data's storage in order (its strides ignored)."""
    import torch

    from reference_impl.lazy import sync

    real_materialize = sync.materialize

    def materialize(t: Any) -> Any:
        data = real_materialize(t)
        if data.is_contiguous():
            return data
        flat = torch.tensor([], dtype=data.dtype).set_(data.untyped_storage())
        shape, offset = data.shape, data.storage_offset()
        return torch.as_strided(flat, shape, _contiguous_strides(shape), offset)

    sync.materialize = materialize  # type: ignore[assignment]


upload_ignores_strides = BrokenBackend("upload-ignores-strides", _upload_patch(_storage_in_order))
upload_ignores_storage_offset = BrokenBackend(
    "upload-ignores-storage-offset", _upload_patch(_offset_ignored)
)
upload_shares_cpu_memory = BrokenBackend("upload-shares-cpu-memory", _upload_shares_cpu_memory)
download_reads_storage_in_order = BrokenBackend(
    "download-reads-storage-in-order", _download_reads_storage_in_order
)
