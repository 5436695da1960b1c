"""Deliberately broken fx backends: each is the reference with one promise broken.

The fx meta-tests (``tests/test_fx_broken_backends.py``) run the fx suite against each
of these and check that the suite fails, and fails in the tests written to catch that
bug. Every backend here reuses the reference for everything else, so a failure can only
come from the one change it makes.

Name a backend as ``--backend=broken_fx:<attribute>``, e.g. ``broken_fx:recompiles_eagerly``.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast
from unittest import mock

import torch.fx._lazy_graph_module as torch_lazy
from torch.fx import GraphModule
from torch.fx.graph_module import _deserialize_graph_module, _forward_from_src

from reference_impl.fx import _lazy_graph_module as ref

# --------------------------------------------------------------------------- broken classes


class RecompilesEagerly(ref._LazyGraphModule):
    """Bug: recompile() generates code at once, like an ordinary GraphModule."""

    def recompile(self) -> None:  # type: ignore[override]
        self._record_pytree_specs()
        self._real_recompile()


class NeverRegenerates(ref._LazyGraphModule):
    """Bug: once realized, later recompile() calls are ignored; edits never run."""

    def recompile(self) -> None:  # type: ignore[override]
        if "_code" in self.__dict__:
            return
        super().recompile()


def _load_as_eager(_cls: type, body: dict[str, Any], import_block: str) -> GraphModule:
    """The reference loader with the bug: ignores the saved lazy class."""
    forward = _forward_from_src(import_block + body["_code"], {})
    return cast(
        "GraphModule", _deserialize_graph_module(forward, body, graph_module_cls=GraphModule)
    )


class PickleLosesLaziness(ref._LazyGraphModule):
    """Bug: unpickling builds an ordinary GraphModule instead of a stale lazy module."""

    def __reduce__(self) -> tuple[Any, ...]:
        _, state = super().__reduce__()
        return (_load_as_eager, state)


def _regenerate_then_forward(self: ref._LazyGraphModule, *args: Any, **kwargs: Any) -> Any:
    self._real_recompile()  # the bug: unconditional, so every call generates code again
    return self.forward(*args, **kwargs)


class _RegeneratingPendingForward(ref._PendingForward):
    """Hands out a trampoline that regenerates code on every call, not the real forward."""

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if instance is None:
            return super().__get__(instance, owner)
        return types.MethodType(_regenerate_then_forward, instance)


class SavedForwardRegenerates(ref._LazyGraphModule):
    """Bug: a bound forward taken while stale regenerates the code on each call."""

    def recompile(self) -> None:  # type: ignore[override]
        self._record_pytree_specs()
        type.__setattr__(type(self), "forward", _RegeneratingPendingForward(self))


class ForgetsPytreeSpecs(ref._LazyGraphModule):
    """Bug: _in_spec/_out_spec appear only at the first real recompile (as in PyTorch)."""

    def _record_pytree_specs(self) -> None:
        pass


class CodeDoesNotRealize(ref._LazyGraphModule):
    """Bug: .code returns whatever was generated last, without realizing a stale module."""

    @property
    def code(self) -> str:
        return str(self.__dict__.get("_code", ""))


def _realize_then_call(self: ref._LazyGraphModule, *args: Any, **kwargs: Any) -> Any:
    self.real_recompile()
    return self(*args, **kwargs)  # the bug: re-enters __call__, so hooks run again


class _RecallingPendingForward(ref._PendingForward):
    """Hands out PyTorch's trampoline: realize, then call the module again."""

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if instance is None:
            return super().__get__(instance, owner)
        return types.MethodType(_realize_then_call, instance)


class HooksRunTwiceWhenStale(ref._LazyGraphModule):
    """Bug: a stale module's forward realizes and then calls the module again (as PyTorch)."""

    def recompile(self) -> None:  # type: ignore[override]
        self._record_pytree_specs()
        type.__setattr__(type(self), "forward", _RecallingPendingForward(self))


class DeepcopySharesClass(ref._LazyGraphModule):
    """Bug: a deepcopy keeps the original's per-instance class, where staleness and code live."""

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        clone = super().__deepcopy__(memo)
        clone.__class__ = type(self)
        return clone


class AssignmentKeepsOldCode(ref._LazyGraphModule):
    """Bug: assigning a graph to a module that has code does not mark it stale."""

    @property  # type: ignore[override]
    def graph(self) -> Any:
        return self._graph

    @graph.setter
    def graph(self, graph: Any) -> None:
        had_code = "_code" in self.__dict__
        self._graph = graph
        graph.owning_module = self
        if not had_code:  # the bug: only the constructor's assignment marks the module
            self.recompile()


# --------------------------------------------------------------------------- area and backends


class BrokenFxArea:
    """An fx area over ``lazy_cls``; ``routes_fx=False`` leaves torch.fx's class choice alone.

    The context manager routes torch's ``_get_graph_module_cls`` hook the way the
    reference does, but to ``lazy_cls``; with ``routes_fx=False`` it only changes what
    :meth:`make_graph_module` builds, which is the "context does not reach fx" bug.
    """

    def __init__(self, lazy_cls: type[ref._LazyGraphModule], *, routes_fx: bool = True) -> None:
        self.LazyGraphModule: type[GraphModule] = lazy_cls
        self._routes_fx = routes_fx
        self._selected: list[type[GraphModule]] = [GraphModule]

    @contextmanager
    def use_lazy_graph_module(self, should_use: bool) -> Iterator[None]:
        self._selected.append(self.LazyGraphModule if should_use else GraphModule)
        try:
            if self._routes_fx:
                with mock.patch.object(torch_lazy, "_get_graph_module_cls", self._current):
                    yield
            else:
                yield
        finally:
            self._selected.pop()

    def _current(self) -> type[GraphModule]:
        return self._selected[-1]

    def make_graph_module(
        self, *args: Any, graph_module_cls: type[GraphModule] | None = None, **kwargs: Any
    ) -> GraphModule:
        cls = graph_module_cls if graph_module_cls is not None else self._current()
        return cls(*args, **kwargs)

    def needs_recompile(self, gm: GraphModule) -> bool:
        return isinstance(gm, ref._LazyGraphModule) and gm._needs_recompile()

    def from_graphmodule(self, gm: GraphModule) -> GraphModule:
        lazy: GraphModule = self.LazyGraphModule.from_graphmodule(gm)  # type: ignore[attr-defined]
        return lazy

    def force_recompile(self, gm: GraphModule) -> None:
        self.LazyGraphModule.force_recompile(gm)  # type: ignore[attr-defined]


class BrokenBackend:
    """A backend with only an fx area; no manifest, so every failure counts."""

    version = "0"
    device = "cpu"
    expectations = None

    def __init__(self, name: str, fx: BrokenFxArea) -> None:
        self.name = name
        self.fx = fx


recompiles_eagerly = BrokenBackend("recompiles-eagerly", BrokenFxArea(RecompilesEagerly))
never_regenerates = BrokenBackend("never-regenerates", BrokenFxArea(NeverRegenerates))
pickle_loses_laziness = BrokenBackend("pickle-loses-laziness", BrokenFxArea(PickleLosesLaziness))
context_ignored = BrokenBackend(
    "context-ignored", BrokenFxArea(ref._LazyGraphModule, routes_fx=False)
)
saved_forward_regenerates = BrokenBackend(
    "saved-forward-regenerates", BrokenFxArea(SavedForwardRegenerates)
)
forgets_pytree_specs = BrokenBackend("forgets-pytree-specs", BrokenFxArea(ForgetsPytreeSpecs))
code_does_not_realize = BrokenBackend("code-does-not-realize", BrokenFxArea(CodeDoesNotRealize))
hooks_run_twice_when_stale = BrokenBackend(
    "hooks-run-twice-when-stale", BrokenFxArea(HooksRunTwiceWhenStale)
)
deepcopy_shares_class = BrokenBackend("deepcopy-shares-class", BrokenFxArea(DeepcopySharesClass))
assignment_keeps_old_code = BrokenBackend(
    "assignment-keeps-old-code", BrokenFxArea(AssignmentKeepsOldCode)
)
