"""Lazy graph modules: a readable reference for ``torch.fx._lazy_graph_module``.

The problem
    An ordinary :class:`torch.fx.GraphModule` turns its graph into Python source and
    ``exec``\\ s it every time ``recompile()`` runs: on construction and after every graph
    edit. Compiler passes build and edit many graph modules whose code nobody ever reads
    or runs, so most of that work is wasted.

The idea
    :class:`_LazyGraphModule` makes ``recompile()`` only *mark* the module as stale.
    The code is generated ("the module is realized") the first time something needs
    it: a call, ``gm.forward``, ``.code``, ``str(gm)``, ``print_readable``, pickling,
    ``torch.package``, TorchScript, or a tracer (``torch.fx.symbolic_trace``,
    ``make_fx``, ``torch.compile``) that looks at ``forward``.

How staleness is represented
    ``GraphModule`` gives every instance its own class (``GraphModuleImpl``) and installs
    the generated ``forward`` on that class. While stale, that slot holds a
    :class:`_PendingForward` descriptor instead. Looking ``forward`` up - on the
    instance (a call, ``gm.forward``) or on the class (the fx ``Tracer`` and TorchScript
    read ``type(gm).forward``) - realizes the module and answers with the real code.
    Realizing on *look-up* rather than on the first *call* is what lets tools that were
    written for eager ``GraphModule``\\ s work unchanged: they read ``forward`` (its
    signature, its source, its code object) before calling anything, and they must
    see generated code, not a ``*args, **kwargs`` trampoline.

    This is the one deliberate difference from PyTorch, where ``gm.forward`` of a
    stale module is a bound ``_lazy_forward`` trampoline that realizes on its first
    call. Here ``saved = gm.forward`` already realizes; either way a saved forward
    called many times generates code once.

Routing fx to this class
    ``torch.fx`` builds graph modules through ``torch.fx._lazy_graph_module.
    _make_graph_module``, which asks the module-level hook ``_get_graph_module_cls``
    which class to build *at call time*. :func:`_use_lazy_graph_module` points that one
    hook at :func:`_get_graph_module_cls` of this module while it is active, so
    ``symbolic_trace``, ``make_fx`` and everything else in fx build reference lazy
    modules, and restores the previous hook on exit. Nothing of torch's own lazy class
    is used or subclassed.

Names mirror the PyTorch module so code written for it runs unchanged.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

import torch.fx._lazy_graph_module as _torch_lazy
from torch.fx.graph import _PyTreeCodeGen
from torch.fx.graph_module import (
    GraphModule,
    _deserialize_graph_module,
    _format_import_block,
    _forward_from_src,
    reduce_package_graph_module,
)
from torch.package import PackageExporter, sys_importer

if TYPE_CHECKING:
    from torch.fx.graph import PythonCode

__all__ = [
    "_LazyGraphModule",
    "_force_skip_lazy_graph_module",
    "_get_graph_module_cls",
    "_make_graph_module",
    "_use_lazy_graph_module",
]

#: Whether fx should currently build :class:`_LazyGraphModule` (see the context managers).
_use_lazy_graph_module_flag = False
#: While set, no context turns laziness on (TorchScript-bound code paths need eager modules).
_force_skip_lazy_graph_module_flag = False


# --------------------------------------------------------------------------- selection


@contextmanager
def _force_skip_lazy_graph_module() -> Iterator[None]:
    """Build eager ``GraphModule``\\ s inside this block, whatever other contexts say.

    Why: some consumers want plain modules whatever the caller chose, e.g. code that
    hands graphs to TorchScript-based compilers or that compares generated code
    against eager modules. The skip wins over :func:`_use_lazy_graph_module` both when
    that context is entered inside this one and when it was entered outside it,
    because :func:`_get_graph_module_cls` checks it on every call. It only governs
    what this module selects; outside every :func:`_use_lazy_graph_module` block,
    torch's own selection is untouched.
    """
    global _force_skip_lazy_graph_module_flag
    prior = _force_skip_lazy_graph_module_flag
    _force_skip_lazy_graph_module_flag = True
    try:
        yield
    finally:
        _force_skip_lazy_graph_module_flag = prior


@contextmanager
def _use_lazy_graph_module(should_use: bool) -> Iterator[None]:
    """Make fx build :class:`_LazyGraphModule` (``True``) or ``GraphModule`` (``False``).

    Why a hook swap: ``torch.fx`` (``symbolic_trace``, ``make_fx``, unpickling, dynamo)
    constructs modules through torch's ``_make_graph_module``, which calls the global
    ``torch.fx._lazy_graph_module._get_graph_module_cls`` at call time. Pointing that
    single name at our :func:`_get_graph_module_cls` for the duration of the block is
    the narrowest change that makes all of them build our class. Replacing
    ``_make_graph_module`` instead would not work: ``symbolic_trace`` and others
    imported that function by name, whereas the hook is looked up in torch's module
    globals on every call.

    While any of these contexts is active, this module alone answers "which class":
    the innermost ``should_use`` (overridden by :func:`_force_skip_lazy_graph_module`).
    On exit both our flag and the previous hook are restored, so contexts nest and an
    exception cannot leave fx routed to us.
    """
    global _use_lazy_graph_module_flag
    prior_flag = _use_lazy_graph_module_flag
    prior_hook = _torch_lazy._get_graph_module_cls
    _use_lazy_graph_module_flag = should_use
    _torch_lazy._get_graph_module_cls = _get_graph_module_cls
    try:
        yield
    finally:
        _use_lazy_graph_module_flag = prior_flag
        _torch_lazy._get_graph_module_cls = prior_hook


def _get_graph_module_cls() -> type[GraphModule]:
    """The class fx should build right now, according to this module's contexts."""
    if _use_lazy_graph_module_flag and not _force_skip_lazy_graph_module_flag:
        return _LazyGraphModule
    return GraphModule


def _make_graph_module(
    *args: Any, graph_module_cls: type[GraphModule] | None = None, **kwargs: Any
) -> GraphModule:
    """Build a graph module of ``graph_module_cls``, or of the currently selected class.

    ``args``/``kwargs`` are ``GraphModule``'s: ``(root, graph, class_name="GraphModule")``.
    """
    cls = graph_module_cls if graph_module_cls is not None else _get_graph_module_cls()
    return cls(*args, **kwargs)


# --------------------------------------------------------------------------- staleness


class _PendingForward:
    """Occupies ``forward`` on a stale module's class; any look-up realizes the module.

    A descriptor, not a trampoline function, because many readers of ``forward`` never
    call it: the fx ``Tracer`` fetches ``type(root).forward`` and traces *its* signature,
    TorchScript compiles its source, ``inspect.signature`` reports its parameters. A
    ``(*args, **kwargs)`` stand-in would give all of them the wrong answer. Realizing on
    look-up gives every reader the generated function, and costs nothing afterwards,
    because realizing replaces this object with that function.

    Dynamo is such a reader too: ``torch.compile(gm)`` reads ``gm.forward`` when it
    wraps the module, and when dynamo inlines a call on a ``GraphModule`` it reads
    ``module.forward.__code__`` to remember the module the code came from. Both happen
    outside the traced program, so the module is realized before dynamo resolves
    ``forward`` and ``fullgraph=True`` sees only generated code (PyTorch's trampoline
    lives in a file dynamo skips, hence pytorch/pytorch#154282).

    It holds its module weakly: the module's class (which holds this object) is
    reachable from the module, and a strong reference back would only make a cycle.
    """

    __slots__ = ("_module",)

    def __init__(self, gm: _LazyGraphModule) -> None:
        self._module = weakref.ref(gm)

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        gm = instance if instance is not None else self._module()
        if not isinstance(gm, _LazyGraphModule):
            # A class-level look-up after the module died: nothing to realize.
            return _LazyGraphModule._lazy_forward
        gm.real_recompile()
        forward = vars(type(gm)).get("forward")
        if forward is None or isinstance(forward, _PendingForward):
            raise AssertionError(
                f"{type(gm).__name__}: real_recompile() did not install a generated forward; "
                "a subclass overriding _real_recompile must call GraphModule.recompile"
            )
        return forward if instance is None else forward.__get__(instance, owner)


class _LazyGraphModule(GraphModule):
    """A ``GraphModule`` whose ``recompile()`` defers code generation until it is needed.

    Behaves as a ``GraphModule`` in every observable way except *when* code is generated:

    - ``recompile()`` (also run by the constructor and by assigning ``graph``) only marks
      the module stale and records the pytree input/output specs, which are metadata of
      the graph and cheap to read;
    - the first look-up of ``forward`` - a call, ``gm.forward``, a tracer reading
      ``type(gm).forward`` - or ``.code``, ``str()``, ``print_readable()``, pickling,
      packaging and TorchScript realize it, once;
    - pickling and ``deepcopy`` give a new *stale* lazy module.
    """

    #: TorchScript compiles every property it finds; ``code`` realizes the module, which
    #: is plain Python TorchScript cannot compile (and scripting realizes first anyway).
    __jit_unused_properties__ = [*GraphModule.__jit_unused_properties__, "code"]  # noqa: RUF012

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_graphmodule(cls, gm: GraphModule) -> GraphModule:
        """``gm`` itself if it is already lazy, else a lazy module over the same graph.

        The graph is shared, not copied, as PyTorch does: wrapping is meant to be cheap.
        """
        if isinstance(gm, _LazyGraphModule):
            return gm
        return cls(gm, gm.graph, class_name=type(gm).__name__)

    # ------------------------------------------------------------------ laziness

    def recompile(self) -> None:  # type: ignore[override]
        """Mark the module stale; the code is generated when it is first needed.

        Returns ``None`` (``GraphModule.recompile`` returns the ``PythonCode``): there is
        no code yet. Call :meth:`_real_recompile` when you need the ``PythonCode``.

        The pytree specs are recorded now, not at realization: they describe the
        graph's calling convention and code such as ``torch.export`` reads them from
        the module without ever calling it (PyTorch's lazy module forgets them,
        pytorch/pytorch#140734).
        """
        self._record_pytree_specs()
        type.__setattr__(type(self), "forward", _PendingForward(self))

    def _record_pytree_specs(self) -> None:
        codegen = self._graph._codegen
        if isinstance(codegen, _PyTreeCodeGen):
            self._in_spec = codegen.pytree_info.in_spec
            self._out_spec = codegen.pytree_info.out_spec

    @classmethod
    def _needs_recompile(cls) -> bool:
        """True while the module is stale.

        A classmethod, as in PyTorch: the state lives on the per-instance class that
        ``GraphModule`` creates, in the ``forward`` slot. Reading that slot from the
        class ``__dict__`` does not trigger the descriptor, so asking does not realize.
        """
        return isinstance(vars(cls).get("forward"), _PendingForward)

    def real_recompile(self) -> None:
        """Generate the code now if the module is stale; otherwise do nothing."""
        if self._needs_recompile():
            self._real_recompile()

    def _real_recompile(self) -> PythonCode:
        """Generate the code unconditionally (``GraphModule.recompile``) and return it."""
        return GraphModule.recompile(self)

    @staticmethod
    def force_recompile(gm: GraphModule) -> None:
        """Realize ``gm`` if it is a stale lazy module; a no-op for any other module.

        A staticmethod taking any ``GraphModule`` so callers need not check the type.
        """
        if isinstance(gm, _LazyGraphModule):
            gm.real_recompile()

    def _lazy_forward(self, *args: Any, **kwargs: Any) -> Any:
        """Realize, then run the generated ``forward``.

        Looking ``forward`` up already realizes (see :class:`_PendingForward`), so this
        is only reached by code that names it explicitly, as code written for PyTorch
        may. It calls ``forward``, not ``__call__``: calling ``forward`` must not run
        module hooks.
        """
        self.real_recompile()
        return self.forward(*args, **kwargs)

    #: What ``forward`` is before any instance exists (as in PyTorch); every instance's
    #: own class holds a :class:`_PendingForward` or the generated function instead.
    forward = _lazy_forward

    # ------------------------------------------------------------------ realizing readers

    @property
    def code(self) -> str:
        """The generated source; reading it realizes the module."""
        self.real_recompile()
        return super().code

    def __str__(self) -> str:
        self.real_recompile()
        return super().__str__()

    def print_readable(self, *args: Any, **kwargs: Any) -> str:
        """``GraphModule.print_readable``, after realizing the module.

        The printout is generated from the graph and so is always current; realizing as
        well keeps it in step with ``gm.code`` and with tracebacks through ``forward``,
        which people consult next when debugging.
        """
        self.real_recompile()
        return super().print_readable(*args, **kwargs)

    def __prepare_scriptable__(self) -> _LazyGraphModule:
        """Realize before ``torch.jit.script`` compiles ``forward`` (TorchScript hook)."""
        self.real_recompile()
        return self

    # ------------------------------------------------------------------ serialization

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as source code, like ``GraphModule``, and load as a *stale* lazy module.

        ``GraphModule.__reduce__`` cannot be reused: it calls ``self.recompile()`` for the
        ``PythonCode`` and ours returns ``None``. Loading goes through
        :func:`_load_lazy_graph_module` with this module's class, so the loaded module is
        lazy (and of the same subclass) whether or not a :func:`_use_lazy_graph_module`
        context is active where it is loaded.
        """
        python_code = self._real_recompile()
        body = self._state_without_graph()
        import_block = _format_import_block(python_code.globals, sys_importer)
        return (_load_lazy_graph_module, (self._public_class(), body, import_block))

    def __reduce_package__(self, exporter: PackageExporter) -> tuple[Any, ...]:
        """Save for ``torch.package``: generated source in the package, state pickled.

        The loader named here is torch's ``reduce_package_graph_module``, not one of
        ours: ``torch.package`` only lets a pickle refer to torch and the standard
        library unless the user externs more, and a reference lazy module must package
        wherever a ``GraphModule`` does. torch's loader builds the class selected by
        ``_get_graph_module_cls``, so loading inside :func:`_use_lazy_graph_module`
        gives a lazy module again.
        """
        python_code = self._real_recompile()
        body = self._state_without_graph()
        body["_graphmodule_cls_name"] = type(self).__name__
        body["_graphmodule_graph_node_meta_stack_trace"] = {
            node.name: node.meta["stack_trace"]
            for node in self.graph.nodes
            if "stack_trace" in node.meta
        }
        module_name = f"fx-generated._{exporter.get_unique_id()}"
        import_block = _format_import_block(python_code.globals, exporter.importer)
        exporter.save_source_string(module_name, import_block + self.code)
        return (reduce_package_graph_module, (body, module_name))

    def _public_class(self) -> type[_LazyGraphModule]:
        """The importable class this module was built as.

        ``type(self)`` is the per-instance ``GraphModuleImpl`` that ``GraphModule.__new__``
        derives from it, which pickle cannot name; the class it derives from is its base.
        """
        base: type[_LazyGraphModule] = type(self).__bases__[0]
        return base

    def _state_without_graph(self) -> dict[str, Any]:
        """``__dict__`` minus the graph: serialized modules carry code, not graphs."""
        return {key: value for key, value in self.__dict__.items() if key != "_graph"}


def _load_lazy_graph_module(
    cls: type[_LazyGraphModule], body: dict[str, Any], import_block: str
) -> GraphModule:
    """Unpickle a lazy module: re-trace the saved code into a stale ``cls`` instance."""
    forward = _forward_from_src(import_block + body["_code"], {})
    # Typed as returning nn.Module; it builds ``graph_module_cls``.
    return cast("GraphModule", _deserialize_graph_module(forward, body, graph_module_cls=cls))
