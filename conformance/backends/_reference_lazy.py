"""The ``lazy`` area of the ``reference`` backend, over :mod:`reference_impl.lazy`.

Building this object imports nothing: the reference device is created by :meth:`init`
(the suite's fixture calls it), so loading the backend for other areas never touches
the ``lazy`` device type, which PyTorch's own lazy backend may claim in that process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from conformance.contract import LAZY_CAPABILITIES

if TYPE_CHECKING:
    import torch
    from torch.fx import GraphModule


class ReferenceLazyArea:
    """:class:`~conformance.contract.LazyArea` over the pure-Python reference device."""

    device = "lazy"
    ir_dialect = "pytorch"
    #: Every optional part of the lazy contract: it provides all of them.
    capabilities = frozenset(LAZY_CAPABILITIES)

    @property
    def native_ops(self) -> frozenset[str]:
        """ATen ops the reference lowers (optional contract member): never a CPU fallback."""
        import reference_impl.lazy

        return reference_impl.lazy.native_ops()

    save_graphs_env = "LTC_SAVE_TENSORS_FILE"

    def init(self) -> None:
        import reference_impl.lazy

        reference_impl.lazy.init()

    def mark_step(self) -> None:
        import reference_impl.lazy

        reference_impl.lazy.mark_step()

    def wait_device_ops(self) -> None:
        import reference_impl.lazy

        reference_impl.lazy.wait_device_ops()

    def sync_multi(self, tensors: Sequence[torch.Tensor]) -> None:
        import reference_impl.lazy

        reference_impl.lazy.sync_multi(list(tensors))

    def to_cpu(self, tensors: Any) -> Any:
        import reference_impl.lazy

        return reference_impl.lazy.to_cpu(tensors)

    def get_tensor_id(self, tensor: torch.Tensor) -> int:
        import reference_impl.lazy

        return reference_impl.lazy.get_tensor_id(tensor)

    def add_step_closure(
        self, fn: Callable[..., object], args: Sequence[Any] = (), run_async: bool = False
    ) -> None:
        import reference_impl.lazy

        reference_impl.lazy.add_step_closure(fn, tuple(args), run_async=run_async)

    def extract_compiled_graph(
        self, fx_module: GraphModule, example_inputs: Sequence[torch.Tensor]
    ) -> Callable[..., Sequence[torch.Tensor]]:
        import reference_impl.lazy

        return reference_impl.lazy.extract_compiled_graph(fx_module, list(example_inputs))

    def counter_names(self) -> list[str]:
        from reference_impl.lazy import metrics

        return metrics.counter_names()

    def counter_value(self, name: str) -> int | None:
        from reference_impl.lazy import metrics

        return metrics.counter_value(name)

    def reset_metrics(self) -> None:
        from reference_impl.lazy import metrics

        metrics.reset()

    def metrics_report(self) -> str:
        from reference_impl.lazy import metrics

        return metrics.metrics_report()

    def get_force_fallback(self) -> str:
        from reference_impl.lazy import config

        return config.get_force_fallback()

    def set_force_fallback(self, op: str) -> None:
        from reference_impl.lazy import config

        config.set_force_fallback(op)

    def set_reuse_ir(self, enabled: bool) -> None:
        from reference_impl.lazy import config

        config.set_reuse_ir(enabled)

    def ir_reuse_count(self, op: str) -> int:
        from reference_impl.lazy import metrics

        return metrics.counter_value(f"IrNodeReused_{op}") or 0

    def ir_text(self, tensors: Sequence[torch.Tensor]) -> str:
        import reference_impl.lazy

        return reference_impl.lazy.ir_text(list(tensors))

    def ir_dot(self, tensors: Sequence[torch.Tensor]) -> str:
        import reference_impl.lazy

        return reference_impl.lazy.ir_dot(list(tensors))

    def graph_hash(self, tensors: Sequence[torch.Tensor]) -> str:
        import reference_impl.lazy

        return reference_impl.lazy.graph_hash(list(tensors))

    def reset_storage(self, tensor: torch.Tensor) -> None:
        import reference_impl.lazy

        reference_impl.lazy.reset_storage(tensor)
