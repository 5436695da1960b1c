"""Extracting a compiled graph from an FX module (``torch._lazy.extract_compiled_graph``).

The module is traced once on the lazy device with the example inputs; the recorded IR
of its outputs *and* of its arguments (an argument updated in place has new IR) is
compiled into one :class:`~reference_impl.lazy.executor.Program`. The returned callable
runs that program on new CPU inputs without tracing again, copies in-place updates
back into the caller's tensors, and returns the outputs as a list.

Extraction refuses graphs that needed a CPU fallback (forced or for lack of a
lowering): such a graph is not one compiled program, so it cannot be replayed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import fx

from reference_impl.lazy import metrics
from reference_impl.lazy.executor import compile_graph
from reference_impl.lazy.ir import DEVICE_DATA, Node, Value, graph_hash, post_order, verify


def _fallback_counts() -> dict[str, int]:
    return {
        name: metrics.counter_value(name) or 0
        for name in metrics.counter_names()
        if name.startswith("aten::")
    }


def _retarget_devices(module: fx.GraphModule) -> None:
    """Make every ``device=`` argument in the graph point at the lazy device."""
    changed = False
    for node in module.graph.nodes:
        if "device" in node.kwargs:
            node.update_kwarg("device", torch.device("lazy"))
            changed = True
    if changed:
        module.recompile()


def extract_compiled_graph(
    model: fx.GraphModule, example_inputs: Sequence[torch.Tensor]
) -> Callable[..., list[torch.Tensor]]:
    """Trace ``model`` once on the lazy device and return a replaying callable.

    The callable takes CPU tensors shaped like ``example_inputs`` and returns the list
    of the model's outputs (a single output is a one-element list); arguments the model
    updates in place are updated in the caller's tensors too. Raises ``RuntimeError``
    naming the fallback ops if tracing needed any.
    """
    from reference_impl.lazy import init
    from reference_impl.lazy.tensor import unwrap

    init()
    example = [torch.as_tensor(x) for x in example_inputs]
    lazy_args = [x.to("lazy") for x in example]
    arg_leaves = [unwrap(a).value().node for a in lazy_args]
    lazy_model = copy.deepcopy(model).to(torch.device("lazy"))
    _retarget_devices(lazy_model)

    before = _fallback_counts()
    out = lazy_model(*lazy_args)
    after = _fallback_counts()
    fallbacks = {
        name: count - before.get(name, 0)
        for name, count in after.items()
        if count > before.get(name, 0)
    }
    if fallbacks:
        listed = ",".join(f"{name}={n}" for name, n in sorted(fallbacks.items()))
        raise RuntimeError(f"cannot extract a compiled graph because of fallback: {listed}")

    outs = list(out) if isinstance(out, list | tuple) else [out]
    everything = [*lazy_args, *outs]
    values = [unwrap(t).value() for t in everything]
    replay = _Replay(values, arg_leaves, [tuple(x.shape) for x in example])
    # Distinct tensors sharing one IR value (``c`` and ``c.clone()``) get distinct results.
    first_owner: dict[int, int] = {}
    replay.own_copy = [
        first_owner.setdefault(root, id(t)) != id(t)
        for root, t in zip(replay._root_of, everything, strict=True)
    ][len(lazy_args) :]
    return replay


class _Replay:
    """The callable :func:`extract_compiled_graph` returns."""

    def __init__(
        self, values: list[Value], arg_leaves: list[Node], shapes: list[tuple[int, ...]]
    ) -> None:
        roots: list[Value] = []
        self._root_of: list[int] = []
        seen: dict[tuple[int, int], int] = {}
        for v in values:
            key = (id(v.node), v.index)
            if key not in seen:
                seen[key] = len(roots)
                roots.append(v)
            self._root_of.append(seen[key])
        verify(roots)
        order = post_order(roots)
        self.hash = graph_hash(roots, order)
        self._program = compile_graph(order, roots)
        metrics.increment("UncachedCompile")
        arg_index = {id(node): i for i, node in enumerate(arg_leaves)}
        # Each graph input is either the i-th argument (an int) or data captured at
        # trace time (parameters, buffers, scalars): a CPU tensor.
        self._inputs: list[int | torch.Tensor] = []
        for node in order:
            if node.op != DEVICE_DATA:
                continue
            i = arg_index.get(id(node))
            self._inputs.append(i if i is not None else node.data)  # type: ignore[arg-type]
        self._shapes = shapes
        self.own_copy = [False] * (len(values) - len(arg_leaves))

    def __call__(self, *args: torch.Tensor) -> list[torch.Tensor]:
        if [tuple(a.shape) for a in args] != self._shapes:
            raise RuntimeError(
                f"extracted graph was traced for argument shapes {self._shapes}, "
                f"got {[tuple(a.shape) for a in args]}"
            )
        data = [args[x] if isinstance(x, int) else x for x in self._inputs]
        results = self._program.run(data)
        inputs = {t.untyped_storage().data_ptr() for t in data if t.numel()}
        fresh: dict[int, torch.Tensor] = {}
        for k, r in enumerate(results):
            # The program may alias its inputs (views run as views): never hand those out.
            fresh[k] = r.clone() if r.numel() and r.untyped_storage().data_ptr() in inputs else r
        n = len(args)
        for i, arg in enumerate(args):
            result = results[self._root_of[i]]
            if result is not arg:
                arg.copy_(result)
        outs = self._root_of[n:]
        return [
            fresh[k].clone() if own else fresh[k]
            for k, own in zip(outs, self.own_copy, strict=True)
        ]
