"""The ``lazy`` area of the ``torch`` backend, over ``torch._lazy`` (TorchScript backend).

Building this object imports nothing: ``torch._lazy.ts_backend.init()`` runs in
:meth:`init`, which the lazy suite's fixture calls. PyTorch's backend and the
reference's pure-Python device both claim device type ``lazy`` and must never share a
process; :meth:`init` refuses if the reference device is already installed.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from conformance.contract import LAZY_CAPABILITIES

if TYPE_CHECKING:
    import torch
    from torch.fx import GraphModule

NODE_TYPE = re.compile(r", NodeType=[^\n]*")


class TorchLazyArea:
    """:class:`~conformance.contract.LazyArea` over PyTorch's Lazy Tensor Core."""

    device = "lazy"
    ir_dialect = "pytorch"
    save_graphs_env = "LTC_SAVE_TENSORS_FILE"
    #: Every optional part of the lazy contract: it provides all of them.
    capabilities = frozenset(LAZY_CAPABILITIES)
    _initialized = False

    def init(self) -> None:
        if TorchLazyArea._initialized:
            return
        reference = sys.modules.get("reference_impl.lazy")
        if reference is not None and reference.installed():
            raise RuntimeError(
                "the reference lazy device is installed in this process; torch._lazy claims "
                "device 'lazy' too. Run the torch backend in a separate process."
            )
        import torch._lazy.ts_backend

        torch._lazy.ts_backend.init()
        TorchLazyArea._initialized = True

    def mark_step(self) -> None:
        import torch._lazy

        torch._lazy.mark_step()

    def wait_device_ops(self) -> None:
        import torch._lazy

        torch._lazy.wait_device_ops()

    def sync_multi(self, tensors: Sequence[torch.Tensor]) -> None:
        import torch._lazy

        torch._lazy.sync_multi(list(tensors), [])

    def to_cpu(self, tensors: Any) -> Any:
        import torch._lazy

        return torch._lazy.to_cpu(tensors)

    def get_tensor_id(self, tensor: torch.Tensor) -> int:
        import torch._lazy

        return int(torch._lazy.get_tensor_id(tensor))

    def add_step_closure(
        self, fn: Callable[..., object], args: Sequence[Any] = (), run_async: bool = False
    ) -> None:
        import torch._lazy

        torch._lazy.add_step_closure(fn, tuple(args), run_async=run_async)

    def extract_compiled_graph(
        self, fx_module: GraphModule, example_inputs: Sequence[torch.Tensor]
    ) -> Callable[..., Sequence[torch.Tensor]]:
        from torch._lazy.extract_compiled_graph import extract_compiled_graph

        return extract_compiled_graph(fx_module, list(example_inputs))

    def counter_names(self) -> list[str]:
        import torch._lazy.metrics

        return list(torch._lazy.metrics.counter_names())

    def counter_value(self, name: str) -> int | None:
        import torch._lazy.metrics

        value = torch._lazy.metrics.counter_value(name)
        return None if value is None else int(value)

    def reset_metrics(self) -> None:
        import torch._lazy.metrics

        torch._lazy.metrics.reset()

    def metrics_report(self) -> str:
        import torch._lazy.metrics

        return str(torch._lazy.metrics.metrics_report())

    def get_force_fallback(self) -> str:
        import torch._lazy.config

        return torch._lazy.config.get_force_fallback()

    def set_force_fallback(self, op: str) -> None:
        import torch._lazy.config

        torch._lazy.config.set_force_fallback(op)

    def set_reuse_ir(self, enabled: bool) -> None:
        import torch._lazy.config

        torch._lazy.config.set_reuse_ir(enabled)

    def ir_reuse_count(self, op: str) -> int:
        """Sum of ``IrNodeReused_torch::lazy::<Class>`` over the node classes of ``op``.

        LTC names node classes after the op in CamelCase, with the overload appended
        for some (``aten::add`` -> ``AddTensor``/``AddScalar``; ``aten::relu`` -> ``Relu``;
        ``lazy_tensors::device_data`` -> ``DeviceData``).
        """
        import torch._lazy.metrics

        base = "".join(part.capitalize() for part in op.split("::")[-1].split("_") if part)
        classes = {base, base + "Tensor", base + "Scalar"}
        total = 0
        for name in torch._lazy.metrics.counter_names():
            prefix, _, cls = name.partition("IrNodeReused_torch::lazy::")
            if not prefix and cls in classes:
                total += int(torch._lazy.metrics.counter_value(name) or 0)
        return total

    def ir_text(self, tensors: Sequence[torch.Tensor]) -> str:
        import torch

        return NODE_TYPE.sub("", torch._C._lazy._get_tensors_text(list(tensors)))

    def ir_dot(self, tensors: Sequence[torch.Tensor]) -> str:
        import torch

        return str(torch._C._lazy._get_tensors_dot(list(tensors)))

    def graph_hash(self, tensors: Sequence[torch.Tensor]) -> str:
        import torch

        digest: bytes = torch._C._lazy._get_graph_hash(list(tensors))  # type: ignore[assignment]
        return digest.hex()

    def reset_storage(self, tensor: torch.Tensor) -> None:
        import torch

        torch._C._unsafe_reset_storage(tensor)  # type: ignore[attr-defined]
