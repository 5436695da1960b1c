"""Broken lazy backends for type promotion: the reference device with one promotion rule wrong.

Used by ``tests/test_lazy_behaviour_broken_backends.py`` against
``conformance/lazy/test_type_promotion.py``. Each bug is patched into the reference
implementation when the suite's fixture calls ``init()``, in the child pytest process
only. Name one as ``--backend=broken_lazy_promotion:<attribute>``.
"""

from __future__ import annotations

from typing import Any

from broken_lazy import BrokenBackend

#: Elementwise arithmetic the arithmetic bugs below are confined to.
ARITHMETIC = frozenset({"add", "sub", "mul", "div", "maximum", "minimum"})


def _float_scalar_takes_tensor_dtype() -> None:
    """Bug: a float scalar is cast to an integer or bool tensor's dtype before the op.

    ``int64 * 2.5`` computes ``int64 * 2``: shape inference then says ``int64``.
    """
    import torch

    from reference_impl.lazy import lowering

    real = lowering.record

    def record(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        first = next((a for a in args if isinstance(a, torch.Tensor)), None)
        if first is not None and not first.dtype.is_floating_point:
            args = tuple(int(a) if type(a) is float else a for a in args)
        return real(func, args, kwargs)

    lowering.record = record  # type: ignore[assignment]


def _mixed_operands_computed_in_first_dtype() -> None:
    """Bug: arithmetic on two tensors of different dtypes runs in the first one's dtype.

    The result is then cast to the promoted dtype, so the reported dtype is right and
    the values are not (``int64 / float32`` loses its fractions).
    """
    import torch

    from reference_impl.lazy import executor

    real = executor.kernel

    def kernel(instruction: Any) -> Any:
        run = real(instruction)
        if instruction.op.removeprefix("aten::") not in ARITHMETIC:
            return run

        def first_dtype(*args: Any, **kwargs: Any) -> Any:
            tensors = [x for x in args if isinstance(x, torch.Tensor) and x.dim() > 0]
            if len({t.dtype for t in tensors}) < 2 or tensors[0].dtype == torch.bool:
                return run(*args, **kwargs)
            first = tensors[0].dtype
            cast = [x.to(first) if isinstance(x, torch.Tensor) and x.dim() > 0 else x for x in args]
            return run(*cast, **kwargs).to(instruction.dtypes[0])

        return first_dtype

    executor.kernel = kernel  # type: ignore[assignment]


def _zero_dim_promotes_like_dimensioned() -> None:
    """Bug: shape inference lets a 0-dim tensor widen a dimensioned one of its category.

    ``float32[3,4] * float64[]`` is reported as ``float64`` (CPU: ``float32``).
    """
    import torch

    from reference_impl.lazy import lowering

    real = lowering.output_types

    def output_types(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        container, types = real(func, args, kwargs)
        lazy = [a for a in args if isinstance(a, lowering.LazyTensor)]
        if (
            lowering.op_name(func) in ARITHMETIC
            and any(t.dim() == 0 for t in lazy)
            and any(t.dim() > 0 for t in lazy)
        ):
            promoted = lazy[0].dtype
            for t in lazy[1:]:
                promoted = torch.promote_types(promoted, t.dtype)
            types = tuple((promoted, shape) for _, shape in types)
        return container, types

    lowering.output_types = output_types  # type: ignore[assignment]


float_scalar_takes_tensor_dtype = BrokenBackend(
    "float-scalar-takes-tensor-dtype", _float_scalar_takes_tensor_dtype
)
mixed_operands_computed_in_first_dtype = BrokenBackend(
    "mixed-operands-computed-in-first-dtype", _mixed_operands_computed_in_first_dtype
)
zero_dim_promotes_like_dimensioned = BrokenBackend(
    "zero-dim-promotes-like-dimensioned", _zero_dim_promotes_like_dimensioned
)
