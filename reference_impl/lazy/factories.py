"""Device factories: the Python kernels registered for the ``Lazy`` dispatch key.

``torch.empty(..., device="lazy")`` (and everything built on it: ``torch.zeros``,
``nn.Linear`` under ``torch.device("lazy")``), ``t.to("lazy")`` (``_copy_from``) and the
factories the op table marks ``factory`` (traced) or ``cpu_factory`` reach these
kernels. :func:`install` registers them once per process; :func:`installed` says
whether it did.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import torch

from reference_impl.lazy import config, lowering, metrics, ops, reuse, tensor
from reference_impl.lazy.executor import Operand, ScalarOperand
from reference_impl.lazy.ir import Node, device_data
from reference_impl.lazy.tensor import LazyTensor, unwrap

aten = torch.ops.aten

_library: torch.library.Library | None = None


def _factory_result(inner: LazyTensor) -> torch.Tensor:
    """Wrap a factory's result unless PyTorch's functionalization kernel will wrap it."""
    functionalize = torch._C.DispatchKey.Functionalize
    if torch._C._dispatch_tls_is_dispatch_key_excluded(functionalize):
        return inner
    return tensor.wrap(inner)


def _empty(
    size: Sequence[int],
    dtype: torch.dtype | None = None,
    layout: Any = None,
    device: Any = None,
    pin_memory: Any = None,
    memory_format: Any = None,
) -> torch.Tensor:
    dtype = dtype if dtype is not None else torch.get_default_dtype()
    return _factory_result(LazyTensor(data=torch.zeros(list(size), dtype=dtype)))


def _empty_strided(
    size: Sequence[int],
    stride: Sequence[int],
    dtype: torch.dtype | None = None,
    layout: Any = None,
    device: Any = None,
    pin_memory: Any = None,
) -> torch.Tensor:
    return _empty(size, dtype)


def _cpu_factory(func: Any) -> Callable[..., torch.Tensor]:
    """A factory without a lowering: computed on CPU (counted as a fallback), then uploaded."""

    def kernel(*args: Any, **kwargs: Any) -> torch.Tensor:
        metrics.increment(lowering.fallback_counter(func))
        kwargs["device"] = "cpu"
        return _factory_result(LazyTensor(data=func(*args, **kwargs)))

    return kernel


def _arange_out(start: Any, end: Any, step: Any, out: torch.Tensor) -> torch.Tensor:
    return torch.arange(start, end, step, dtype=out.dtype)


def _arange(packet: str, overload: str) -> Callable[..., torch.Tensor]:
    """``torch.arange(..., device="lazy")`` as PyTorch's lazy core traces it.

    Its composite kernel makes an empty tensor on the device and runs
    ``arange.start_out(start, end, step, out)``, which is lowered: the IR is one
    ``aten::arange`` node over the three bounds (scalar device data, Long or Double by
    Python type) and the empty ``out`` tensor (device data of shape ``[0]``).
    """
    func = getattr(getattr(aten, packet), overload)

    def kernel(*args: Any, **kwargs: Any) -> torch.Tensor:
        if config.get_force_fallback() == "aten::arange":
            return _cpu_factory(func)(*args, **kwargs)
        bounds = list(args)
        start, end, step = (0, bounds[0], 1) if len(bounds) == 1 else (*bounds, 1)[:3]
        meta = torch.arange(start, end, step, dtype=kwargs.get("dtype"), device="meta")
        out = torch.empty(0, dtype=meta.dtype)
        scalars = [lowering.scalar_data(v).value() for v in (start, end, step)]
        node = Node(
            "aten::arange",
            (*scalars, device_data(out).value()),
            (),
            dtypes=(meta.dtype,),
            shapes=(tuple(meta.shape),),
            target=_arange_out,
            template=((ScalarOperand(0), ScalarOperand(1), ScalarOperand(2), Operand(3)), {}),
        )
        metrics.increment("lazy::arange_out")
        return _factory_result(LazyTensor(ir=reuse.intern(node).value()))

    return kernel


def _copy_from(src: torch.Tensor, dst: torch.Tensor, non_blocking: bool = False) -> torch.Tensor:
    """Copy a CPU tensor into a lazy one (``torch.tensor(...)`` under the device context)."""
    inner = unwrap(dst)
    if isinstance(src, LazyTensor) or torch._is_functional_tensor(src):
        result = lowering.copy(inner, unwrap(src))
    else:
        result = lowering.copy(inner, src)
    inner.ir, inner.data_ = result.ir, result.data_
    return dst


def install() -> None:
    """Register the ``Lazy`` dispatch key factory kernels (idempotent)."""
    global _library
    if _library is not None:
        return
    if "torch._lazy.ts_backend" in sys.modules:
        raise RuntimeError(
            "torch._lazy.ts_backend is loaded in this process; it claims device 'lazy' too. "
            "Run the reference lazy device in a separate process."
        )
    library = torch.library.Library("aten", "IMPL")
    library.impl("empty.memory_format", _empty, "Lazy")
    library.impl("empty_strided", _empty_strided, "Lazy")
    library.impl("_copy_from", _copy_from, "Lazy")
    for packet, overload in ops.TRACED_FACTORIES:
        name = packet if overload == "default" else f"{packet}.{overload}"
        library.impl(name, _arange(packet, overload), "Lazy")
    for packet, overload in ops.CPU_FACTORIES:
        name = packet if overload == "default" else f"{packet}.{overload}"
        library.impl(name, _cpu_factory(getattr(getattr(aten, packet), overload)), "Lazy")
    _library = library


def installed() -> bool:
    """Whether this process registered the reference ``lazy`` device's kernels."""
    return _library is not None
