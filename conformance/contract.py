"""The backend contract: what a backend plugin hands to the conformance suites.

A *backend* is one object with three descriptive attributes (``name``, ``version``,
``device``) and one attribute per *area* it implements. An area is a behaviour chapter
of PyTorch that has its own suite under ``conformance/<area>/``:

========== ======================================= =================================
area       PyTorch original                        protocol
========== ======================================= =================================
``fx``     ``torch.fx._lazy_graph_module``          :class:`FxArea`
``parametrize`` ``torch.nn.utils.parametrize``      :class:`ParametrizeArea`
``lazy``   ``torch._lazy`` (Lazy Tensor Core)       :class:`LazyArea`
========== ======================================= =================================

A backend implements any subset of areas. An area attribute that is absent or ``None``
means "not implemented": that area's suite is skipped with the reason
``backend X does not implement <area>`` and counted as *not implemented* in the summary,
so a partial backend still gets an honest score.

Why protocols and not base classes: backend authors wrap existing code (their own
GraphModule variant, their own parametrize module) and should not have to inherit from
anything of ours. The harness checks the members structurally when it loads a backend
and names every missing one (see :func:`missing_members`).

This module must stay cheap to import (the pytest plugin imports it at start-up), so
torch only appears under ``TYPE_CHECKING``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from torch import Tensor
    from torch.fx import GraphModule


@runtime_checkable
class FxArea(Protocol):
    """Deferred-recompile graph modules, as ``torch.fx._lazy_graph_module`` defines them.

    ``LazyGraphModule``
        The lazy ``torch.fx.GraphModule`` subclass. ``recompile()`` on it only marks the
        module; code is generated on first call, ``.code``, ``str()``, pickling and
        packaging.
    ``use_lazy_graph_module(should_use)``
        Context manager; inside ``use_lazy_graph_module(True)``, ``torch.fx.symbolic_trace``
        and ``make_fx`` must return ``LazyGraphModule`` instances.
    ``make_graph_module(*args, graph_module_cls=None, **kwargs)``
        Builds a graph module of ``graph_module_cls``, or of the class the context manager
        currently selects when it is ``None``.
    ``needs_recompile(gm)``
        True while ``gm`` has a pending (not yet realized) recompile.
    ``from_graphmodule(gm)``
        Wraps an ordinary GraphModule as a lazy one (returns ``gm`` itself if already lazy).
    ``force_recompile(gm)``
        Realizes a pending recompile now; a no-op for non-lazy modules.
    """

    LazyGraphModule: type[GraphModule]

    def use_lazy_graph_module(self, should_use: bool) -> AbstractContextManager[None]: ...

    def make_graph_module(
        self, *args: Any, graph_module_cls: type[GraphModule] | None = None, **kwargs: Any
    ) -> GraphModule: ...

    def needs_recompile(self, gm: GraphModule) -> bool: ...

    def from_graphmodule(self, gm: GraphModule) -> GraphModule: ...

    def force_recompile(self, gm: GraphModule) -> None: ...


@runtime_checkable
class ParametrizeArea(Protocol):
    """Parametrizations, as ``torch.nn.utils.parametrize`` and ``.parametrizations`` define them.

    ``parametrize``
        A namespace (module or object) with ``register_parametrization``,
        ``remove_parametrizations``, ``is_parametrized``, ``cached``,
        ``type_before_parametrizations``, ``transfer_parametrizations_and_params`` and
        ``ParametrizationList``, with PyTorch's signatures.
    ``parametrizations``
        A namespace with ``orthogonal``, ``spectral_norm`` and ``weight_norm``.
    """

    parametrize: Any
    parametrizations: Any


@runtime_checkable
class LazyArea(Protocol):
    """A lazy tensor device, as PyTorch's Lazy Tensor Core (``torch._lazy``) defines it.

    Tensors on the device record IR instead of computing; a step executes the pending
    graph. Everything is plain ``torch`` API once :meth:`init` ran: tests create tensors
    with ``device=area.device`` and compare results with the same program on CPU.

    ``device``
        The device string tensors live on (``"lazy"``).
    ``ir_dialect``
        ``"pytorch"`` when :meth:`ir_text` prints PyTorch's lazy IR text (golden files are
        compared byte for byte), or another dialect name such as ``"torch_xla"`` (golden
        files are compared structurally through ``conformance.lazy.dialects``).
    ``golden_dir`` (optional, not checked at load)
        A directory of goldens in the backend's own dialect, shipped with the backend:
        compared byte for byte instead of the suite's PyTorch goldens, and written by
        ``--accept`` (see ``conformance/lazy/golden.py``). Absent or ``None``: the
        suite's goldens.
    ``save_graphs_env``
        The environment variable (PyTorch: ``LTC_SAVE_TENSORS_FILE``) that, set to a file
        path before the process starts, makes every sync append a record to that file:
        the Python stack that caused it, one ``name (file:line)`` line per frame,
        innermost frame first, then the IR text of the synced graph.
    ``init()``
        Make the device usable in this process (idempotent). Called by the suite's
        fixture before any tensor is created; must not be needed merely to load the
        backend, and must never load a second lazy device into the process.
    ``mark_step()``
        Execute the pending graph of all live lazy tensors, replace their IR with device
        data, then run step closures (``torch._lazy.mark_step``).
    ``wait_device_ops()``
        Block until all asynchronous device work finished (``torch._lazy.wait_device_ops``).
    ``sync_multi(tensors)``
        Execute the IR of just ``tensors`` (``torch._lazy.sync_multi`` on the device).
    ``to_cpu(tensors)``
        ``torch._lazy.to_cpu``: sync, then copy a (pytree of) lazy tensors to CPU.
    ``get_tensor_id(tensor)``
        A unique id of the lazy tensor behind ``tensor``; stable while it lives.
    ``add_step_closure(fn, args=(), run_async=False)``
        ``torch._lazy.add_step_closure``: run ``fn(*args)`` once after the next
        :meth:`mark_step` executed the graph. Synchronous closures run in the order
        added and finish before ``mark_step`` returns; their exceptions propagate out of
        it. Asynchronous ones run in the background in the order added; after one
        raised, the next step that queues an asynchronous closure raises.
    ``extract_compiled_graph(fx_module, example_inputs)``
        ``torch._lazy.extract_compiled_graph``: trace ``fx_module`` once on the device
        with (CPU) ``example_inputs`` and return a callable that reruns the compiled
        graph on new CPU inputs of the same shapes without tracing, returning the list
        of outputs and copying in-place updates back into its arguments. Raises
        ``RuntimeError`` matching ``fallback.*aten::<op>`` if tracing needed a CPU
        fallback. May reset the counters (PyTorch's does).
    ``counter_names()`` / ``counter_value(name)`` / ``reset_metrics()`` / ``metrics_report()``
        ``torch._lazy.metrics``: names of non-zero counters; a counter's value, ``None``
        for unknown or zero counters; reset all counters; a human-readable report.
        Counter names follow PyTorch: ``MarkStep``, ``SyncedTensorsWithIR``,
        ``UncachedCompile``, ``CachedCompile``, ``DeviceDataCacheMiss``,
        ``CreateLtcTensor``, ``DestroyLtcTensor``, ``lazy::<op>`` per recorded op and
        ``aten::<op>[.<overload>]`` per CPU fallback.
    ``get_force_fallback()`` / ``set_force_fallback(op)``
        ``torch._lazy.config``: the op symbol (``"aten::add"``) forced to fall back to
        CPU, ``""`` for none.
    ``set_reuse_ir(enabled)``
        ``torch._lazy.config.set_reuse_ir``: when on, tracing a node equal to one built
        at the same position of an earlier trace reuses that node. Off by default.
    ``ir_reuse_count(op)``
        How many nodes of op ``op`` (a symbol such as ``"aten::add"``) were reused since
        the counters were last reset; 0 if none. Counter names are backend specific
        (PyTorch counts ``IrNodeReused_torch::lazy::AddTensor``), hence this member.
    ``ir_text(tensors)``
        IR text of ``tensors`` in the backend's dialect, roots numbered by their index in
        ``tensors``, without PyTorch's trailing ``, NodeType=...`` annotations.
    ``ir_dot(tensors)``
        The same graph in Graphviz dot.
    ``graph_hash(tensors)``
        A hash of the graph structure of ``tensors`` (ops, attributes, dtypes, shapes,
        edges; not data): the compile-cache key.
    ``native_ops`` (optional, not checked at load)
        ATen op names (``"add"``, ``"_softmax"``) the backend promises to lower: a CPU
        fallback counted for one of them (``aten::<op>[.<overload>]``) fails the op
        sweep's test (``lazy/test_ops.py``). Absent or ``None``: fallbacks never fail.
    ``reset_storage(tensor)``
        Drop the functional storage's history of ``tensor`` so only its current value
        stays live (PyTorch: ``torch._C._unsafe_reset_storage``).
    ``capabilities`` (optional)
        Names from :data:`LAZY_CAPABILITIES`: the optional parts of this contract the
        backend provides (see :func:`lazy_capabilities`). Members that belong only to a
        capability the backend does not declare may be absent or ``None``.
    """

    device: str
    ir_dialect: str
    save_graphs_env: str

    def init(self) -> None: ...

    def mark_step(self) -> None: ...

    def wait_device_ops(self) -> None: ...

    def sync_multi(self, tensors: Sequence[Tensor]) -> None: ...

    def to_cpu(self, tensors: Any) -> Any: ...

    def get_tensor_id(self, tensor: Tensor) -> int: ...

    def add_step_closure(
        self, fn: Callable[..., object], args: Sequence[Any] = (), run_async: bool = False
    ) -> None: ...

    def extract_compiled_graph(
        self, fx_module: GraphModule, example_inputs: Sequence[Tensor]
    ) -> Callable[..., Sequence[Tensor]]: ...

    def counter_names(self) -> list[str]: ...

    def counter_value(self, name: str) -> int | None: ...

    def reset_metrics(self) -> None: ...

    def metrics_report(self) -> str: ...

    def get_force_fallback(self) -> str: ...

    def set_force_fallback(self, op: str) -> None: ...

    def set_reuse_ir(self, enabled: bool) -> None: ...

    def ir_reuse_count(self, op: str) -> int: ...

    def ir_text(self, tensors: Sequence[Tensor]) -> str: ...

    def ir_dot(self, tensors: Sequence[Tensor]) -> str: ...

    def graph_hash(self, tensors: Sequence[Tensor]) -> str: ...

    def reset_storage(self, tensor: Tensor) -> None: ...


@dataclass(frozen=True)
class Capability:
    """An optional part of the lazy contract: a backend may lack it and still conform.

    ``members`` are the :class:`LazyArea` members that only this capability needs; a
    backend that does not declare the capability may leave them absent or ``None``.
    Capabilities without members are behaviours (the device RNG, a counter) that only
    the backend can vouch for.
    """

    name: str
    summary: str
    members: tuple[str, ...] = ()


#: Every capability a lazy test may need (``@pytest.mark.conformance_needs(name)``).
#: A test needing one the backend does not declare is reported *not implemented*.
LAZY_CAPABILITIES: dict[str, Capability] = {
    c.name: c
    for c in (
        Capability(
            "force_fallback",
            "forcing an op to run as a CPU fallback (get_force_fallback/set_force_fallback)",
            ("get_force_fallback", "set_force_fallback"),
        ),
        Capability(
            "ir_reuse",
            "reusing IR nodes of an earlier trace (set_reuse_ir/ir_reuse_count)",
            ("set_reuse_ir", "ir_reuse_count"),
        ),
        Capability(
            "save_graphs",
            "an environment variable making every sync append its stack and IR to a file "
            "(save_graphs_env)",
            ("save_graphs_env",),
        ),
        Capability(
            "extract_compiled_graph",
            "tracing an FX module once and replaying its compiled graph (extract_compiled_graph)",
            ("extract_compiled_graph",),
        ),
        Capability(
            "cpu_rng",
            "the device's default RNG draws CPU's numbers after torch.manual_seed "
            "(true of PyTorch's TorchScript backend, not of torch_xla)",
        ),
        Capability(
            "generator_ops_traced",
            "a random op given a CPU torch.Generator is recorded in the graph with its seed "
            "(part of the graph hash), not run as a CPU fallback",
        ),
        Capability(
            "sin_falls_back",
            "aten::sin has no lowering: it runs as a CPU fallback counted as aten::sin",
        ),
        *(
            Capability(f"counter:{name}", f"the {name} counter ({what})")
            for name, what in (
                ("MarkStep", "one per mark_step"),
                ("SyncedTensorsWithIR", "tensors with pending IR each sync executes"),
                ("UncachedCompile", "graphs compiled"),
                ("CachedCompile", "compile-cache hits"),
                ("DeviceDataCacheMiss", "scalars uploaded as new device data"),
                ("CreateLtcTensor", "lazy tensors created"),
                ("DestroyLtcTensor", "lazy tensors destroyed"),
                ("lazy_ops", "one lazy::<op> counter per recorded op"),
            )
        ),
    )
}


class CapabilityError(ValueError):
    """A capability name is unknown, or a declared capability lacks its members."""


def check_capability_names(names: Iterable[str], where: str) -> None:
    """Raise :class:`CapabilityError` naming every unknown capability in ``names``."""
    unknown = sorted(set(names) - set(LAZY_CAPABILITIES))
    if unknown:
        raise CapabilityError(
            f"{where}: unknown capability name(s) {', '.join(map(repr, unknown))}; known "
            f"capabilities: {', '.join(LAZY_CAPABILITIES)}"
        )


def lazy_capabilities(area: object) -> frozenset[str]:
    """The capabilities a lazy area provides.

    An explicit ``capabilities`` attribute (any iterable of names) is the whole answer;
    each name must be known and each declared capability's members present and not
    ``None``. Without one, the area is held to the full contract: it has every
    capability except those with a member that is absent or ``None``. Raises
    :class:`CapabilityError` with one line naming the problem.
    """
    declared = getattr(area, "capabilities", None)
    if declared is None:
        return frozenset(
            name
            for name, cap in LAZY_CAPABILITIES.items()
            if all(getattr(area, m, None) is not None for m in cap.members)
        )
    if isinstance(declared, str):
        raise CapabilityError(
            f"capabilities must be a collection of names, not the string {declared!r}; "
            f"write {{{declared!r}}}"
        )
    names = frozenset(str(n) for n in declared)
    check_capability_names(names, "capabilities")
    lacking = [
        f"{name} needs {m}"
        for name in sorted(names)
        for m in LAZY_CAPABILITIES[name].members
        if getattr(area, m, None) is None
    ]
    if lacking:
        raise CapabilityError(
            f"capabilities declares what the area does not provide: {'; '.join(lacking)}; "
            "provide the member or drop the capability"
        )
    return names


def optional_members(area: str) -> frozenset[str]:
    """Protocol members of ``area`` that belong to a capability (may be absent or None)."""
    if area != "lazy":
        return frozenset()
    return frozenset(m for cap in LAZY_CAPABILITIES.values() for m in cap.members)


#: Members each area namespace must provide, beyond the protocol attributes themselves.
#: The loader checks these so that a half-written plugin fails at start-up with a list,
#: not in the middle of a run with an AttributeError.
NAMESPACE_MEMBERS: dict[str, dict[str, tuple[str, ...]]] = {
    "parametrize": {
        "parametrize": (
            "register_parametrization",
            "remove_parametrizations",
            "is_parametrized",
            "cached",
            "type_before_parametrizations",
            "transfer_parametrizations_and_params",
            "ParametrizationList",
        ),
        "parametrizations": ("orthogonal", "spectral_norm", "weight_norm"),
    },
}


@runtime_checkable
class Backend(Protocol):
    """A backend plugin object, registered in the ``conformance.backends`` entry-point group.

    ``name``, ``version``
        Shown in the report header and written to the JSON report.
    ``device``
        The device string the backend's tensors live on (``"cpu"`` for backends whose
        areas do not introduce a device). Suites that move models to the backend's
        device use it.
    ``expectations`` (optional)
        Path to the manifest of known failures shipped with the backend; used when the
        user passes no ``--expectations``.
    area attributes (optional)
        ``fx``, ``parametrize``, ``lazy``: objects satisfying :class:`FxArea`,
        :class:`ParametrizeArea` and :class:`LazyArea`. Absent or ``None`` means not implemented.
    """

    name: str
    version: str
    device: str


#: Area name -> protocol its object must satisfy. The area name is also the name of the
#: suite's folder under ``conformance/`` and of the backend attribute that provides it.
AREAS: dict[str, type] = {
    "fx": FxArea,
    "parametrize": ParametrizeArea,
    "lazy": LazyArea,
}

BACKEND_MEMBERS: tuple[str, ...] = ("name", "version", "device")


def protocol_members(protocol: type) -> list[str]:
    """Names a protocol requires: its annotated attributes and its public methods."""
    names: list[str] = []
    for klass in protocol.__mro__:
        if klass is Protocol or not klass.__dict__.get("_is_protocol", False):
            continue
        names.extend(getattr(klass, "__annotations__", {}))
        names.extend(
            name
            for name, value in vars(klass).items()
            if callable(value) and not name.startswith("_")
        )
    return sorted(set(names))


def missing_members(obj: object, area: str) -> list[str]:
    """Members of ``area``'s protocol (and its namespaces) that ``obj`` lacks, dotted."""
    optional = optional_members(area)
    missing = [
        name
        for name in protocol_members(AREAS[area])
        if not hasattr(obj, name) and name not in optional
    ]
    for namespace, members in NAMESPACE_MEMBERS.get(area, {}).items():
        holder = getattr(obj, namespace, None)
        if holder is None:
            continue  # already reported above
        missing.extend(f"{namespace}.{name}" for name in members if not hasattr(holder, name))
    return missing


def _kind(protocol: type, name: str) -> str:
    """What ``protocol`` promises about member ``name``: method, str, class or any."""
    for klass in protocol.__mro__:
        if name in vars(klass) and callable(vars(klass)[name]):
            return "method"
        annotation = getattr(klass, "__annotations__", {}).get(name)
        if annotation is not None:
            text = str(annotation)
            if text == "str":
                return "str"
            if text.startswith("type["):
                return "class"
            return "any"
    return "any"


def member_problems(obj: object, area: str) -> list[str]:
    """Members of ``obj`` (an ``area`` object) whose type breaks the protocol, described.

    Methods must be callable, string attributes strings, ``LazyGraphModule`` a
    ``torch.fx.GraphModule`` subclass, namespace members callable. Reading a member that
    raises is a problem too. Missing members are :func:`missing_members`' business.
    """
    protocol = AREAS[area]
    optional = optional_members(area)
    problems: list[str] = []
    for name in protocol_members(protocol):
        try:
            value = getattr(obj, name)
        except AttributeError:
            continue
        except Exception as exc:
            problems.append(f"{name} raised {type(exc).__name__}: {exc}")
            continue
        if value is None and name in optional:
            continue  # a member of a capability the backend lacks
        kind = _kind(protocol, name)
        if kind == "method" and not callable(value):
            problems.append(f"{name} must be callable, got {value!r}")
        elif kind == "str" and not isinstance(value, str):
            problems.append(f"{name} must be a string, got {value!r}")
        elif kind == "class" and not _is_graph_module_class(value):
            problems.append(f"{name} must be a torch.fx.GraphModule subclass, got {value!r}")
    for namespace, members in NAMESPACE_MEMBERS.get(area, {}).items():
        holder = getattr(obj, namespace, None)
        for name in members:
            value = getattr(holder, name, None)
            if value is not None and not callable(value):
                problems.append(f"{namespace}.{name} must be callable, got {value!r}")
    return problems


def _is_graph_module_class(value: object) -> bool:
    from torch.fx import GraphModule

    return isinstance(value, type) and issubclass(value, GraphModule)


def implemented_areas(backend: object) -> list[str]:
    """Areas whose attribute is present and not None, in :data:`AREAS` order."""
    return [area for area in AREAS if getattr(backend, area, None) is not None]


def default_expectations(backend: object) -> Path | None:
    """The manifest a backend ships, if it declares one."""
    value = getattr(backend, "expectations", None)
    return Path(value) if value is not None else None
