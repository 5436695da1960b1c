"""The ``lazy`` area of the ``torch_xla`` backend: PyTorch/XLA's lazy tensors, device ``xla``.

Building this object imports nothing: ``torch_xla`` is imported by :meth:`init`, which
the suite's fixtures call. torch_xla and PyTorch's own lazy backend (``torch._lazy``,
device ``lazy``) crash when loaded into one process, so :meth:`init` refuses if either
lazy device of this project is already installed.

How the contract maps onto torch_xla (each line is a translation, not a workaround):

- Counters: torch_xla counts a recorded op as ``xla::<op>``; the contract's name is
  ``lazy::<op>``, so :meth:`counter_names`/:meth:`counter_value` present it as such.
  ``CreateXlaTensor``/``DestroyXlaTensor`` are the contract's ``CreateLtcTensor``/
  ``DestroyLtcTensor``. Host-to-device transfers (``xla::_copy_from``,
  ``xla::empty_symint``, counted by ``.to("xla")``) are data movement, not recorded
  computation, and keep their ``xla::`` name so that ``lazy::*`` only counts traced ops.
  CPU fallbacks are ``aten::<op>`` in both. Every other counter passes through.
- Steps: ``torch_xla.sync()`` (``xm.mark_step`` is deprecated).
- IR text: ``torch_xla._XLAC._get_xla_tensors_text`` prints torch_xla's own dialect
  (``ir_dialect = "torch_xla"``; see ``conformance/lazy/dialects.py``).
- The save-graphs hook is ``XLA_SAVE_TENSORS_FILE``; torch_xla appends the device
  ordinal to the file name (``<file>.0``), which the suite reads too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch.fx import GraphModule

#: torch_xla counter name -> the contract's (PyTorch LTC) name.
RENAMED_COUNTERS = {
    "CreateXlaTensor": "CreateLtcTensor",
    "DestroyXlaTensor": "DestroyLtcTensor",
}
#: ``xla::`` counters that are data transfers, not recorded ops: not shown as ``lazy::``.
TRANSFER_OPS = frozenset({"xla::_copy_from", "xla::empty_symint", "xla::_to_cpu"})


def contract_counter_name(name: str) -> str:
    """The contract's name for torch_xla counter ``name`` (see the module docstring)."""
    if name in RENAMED_COUNTERS:
        return RENAMED_COUNTERS[name]
    if name.startswith("xla::") and name not in TRANSFER_OPS:
        return "lazy::" + name.removeprefix("xla::")
    return name


class TorchXlaLazyArea:
    """:class:`~conformance.contract.LazyArea` over torch_xla's lazy tensors (device ``xla``)."""

    device = "xla"
    ir_dialect = "torch_xla"
    save_graphs_env = "XLA_SAVE_TENSORS_FILE"
    #: What torch_xla provides of the optional contract (conformance.contract.LAZY_CAPABILITIES).
    #: Lacking: force_fallback (no switch forces an op onto the CPU), ir_reuse (no reuse of
    #: IR nodes across traces), cpu_rng (its device RNG is its own), sin_falls_back (it
    #: lowers sin), counter:SyncedTensorsWithIR (not counted).
    capabilities = frozenset(
        {
            "save_graphs",
            "extract_compiled_graph",
            "counter:MarkStep",
            "counter:UncachedCompile",
            "counter:CachedCompile",
            "counter:DeviceDataCacheMiss",
            "counter:CreateLtcTensor",
            "counter:DestroyLtcTensor",
            "counter:lazy_ops",
        }
    )
    get_force_fallback = None
    set_force_fallback = None
    set_reuse_ir = None
    ir_reuse_count = None
    _initialized = False

    def init(self) -> None:
        if TorchXlaLazyArea._initialized:
            return
        reference = sys.modules.get("reference_impl.lazy.tensor")
        if reference is not None and getattr(reference, "_library", None) is not None:
            raise RuntimeError(
                "the reference lazy device is installed in this process; torch_xla must not "
                "share a process with another lazy device. Run torch_xla in a separate process."
            )
        if "torch._lazy.ts_backend" in sys.modules:
            raise RuntimeError(
                "torch._lazy's TorchScript backend is loaded in this process; torch_xla "
                "crashes next to it. Run the torch_xla backend in a separate process."
            )
        # Importing torch_xla registers device "xla"; the submodules are used by the members.
        import torch_xla
        import torch_xla.core.xla_model
        import torch_xla.debug.metrics  # noqa: F401

        TorchXlaLazyArea._initialized = True

    def mark_step(self) -> None:
        import torch_xla

        torch_xla.sync()  # xm.mark_step() is deprecated in 2.9 for this

    def wait_device_ops(self) -> None:
        import torch_xla.core.xla_model as xm

        xm.wait_device_ops()

    def sync_multi(self, tensors: Sequence[torch.Tensor]) -> None:
        import torch_xla

        torch_xla._XLAC._xla_sync_multi(list(tensors), devices=[], wait=True)

    def to_cpu(self, tensors: Any) -> Any:
        import torch
        from torch.utils import _pytree as pytree

        leaves, spec = pytree.tree_flatten(tensors)
        lazy = [t for t in leaves if isinstance(t, torch.Tensor) and t.device.type == "xla"]
        self.sync_multi(lazy)
        moved = [
            t.cpu() if isinstance(t, torch.Tensor) and t.device.type == "xla" else t for t in leaves
        ]
        return pytree.tree_unflatten(moved, spec)

    def get_tensor_id(self, tensor: torch.Tensor) -> int:
        import torch_xla

        return int(torch_xla._XLAC._xla_get_tensor_id(tensor))

    def add_step_closure(
        self, fn: Callable[..., object], args: Sequence[Any] = (), run_async: bool = False
    ) -> None:
        import torch_xla.core.xla_model as xm

        xm.add_step_closure(fn, args=tuple(args), run_async=run_async)

    def extract_compiled_graph(
        self, fx_module: GraphModule, example_inputs: Sequence[torch.Tensor]
    ) -> Callable[..., Sequence[torch.Tensor]]:
        """torch_xla's dynamo bridge, wrapped to take and return CPU tensors like LTC's.

        The bridge traces a module whose parameters live on ``xla`` and replays on
        ``xla`` arguments; the contract's callable takes CPU tensors and captures the
        module's parameters. So a copy of the module moves to the device, inputs move
        on each call, outputs come back as a list of CPU tensors, and arguments the
        graph updated in place are copied back into the caller's tensors.
        """
        import copy

        import torch
        from torch_xla._dynamo.dynamo_bridge import extract_compiled_graph

        module = copy.deepcopy(fx_module).to(self.device)
        compiled = extract_compiled_graph(module, [t.to(self.device) for t in example_inputs])

        def run(*args: torch.Tensor) -> list[torch.Tensor]:
            on_device = [a.to(self.device) for a in args]
            outputs = compiled(*on_device)
            if isinstance(outputs, torch.Tensor):
                outputs = [outputs]
            results = [o.cpu() if isinstance(o, torch.Tensor) else o for o in outputs]
            for arg, moved in zip(args, on_device, strict=True):
                updated = moved.cpu()
                if not torch.equal(updated, arg):
                    arg.copy_(updated)
            return results

        return run

    def counter_names(self) -> list[str]:
        import torch_xla.debug.metrics as met

        names = []
        for name in met.counter_names():
            value = met.counter_value(name)
            contract = contract_counter_name(name)
            if value and contract not in names:
                names.append(contract)
        return names

    def counter_value(self, name: str) -> int | None:
        import torch_xla.debug.metrics as met

        sources = [n for n in met.counter_names() if contract_counter_name(n) == name]
        if name in RENAMED_COUNTERS.values():
            # torch_xla also counts some LTC names itself; the XLA-specific one is exact.
            xla_names = [n for n in sources if n in RENAMED_COUNTERS]
            sources = xla_names or sources
        total = sum(int(met.counter_value(n) or 0) for n in sources)
        return total or None

    def reset_metrics(self) -> None:
        import torch_xla.debug.metrics as met

        met.clear_all()

    def metrics_report(self) -> str:
        import torch_xla.debug.metrics as met

        return str(met.metrics_report())

    def ir_text(self, tensors: Sequence[torch.Tensor]) -> str:
        import torch_xla

        return str(torch_xla._XLAC._get_xla_tensors_text(list(tensors)))

    def ir_dot(self, tensors: Sequence[torch.Tensor]) -> str:
        import torch_xla

        return str(torch_xla._XLAC._get_xla_tensors_dot(list(tensors)))

    def graph_hash(self, tensors: Sequence[torch.Tensor]) -> str:
        import torch_xla

        digest = torch_xla._XLAC._get_graph_hash(list(tensors))
        return digest.hex() if isinstance(digest, bytes) else str(digest)

    def hlo_text(self, tensors: Sequence[torch.Tensor]) -> str:
        """HLO of ``tensors``' pending graph (not a contract member; for divergence reports)."""
        import torch_xla

        return str(torch_xla._XLAC._get_xla_tensors_hlo(list(tensors)))

    def reset_storage(self, tensor: torch.Tensor) -> None:
        import torch

        torch._C._unsafe_reset_storage(tensor)  # type: ignore[attr-defined]
