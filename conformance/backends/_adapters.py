"""Adapters from a module that mirrors a PyTorch module's names to an area protocol.

Both built-in backends expose the fx area the same way: a module with the names of
``torch.fx._lazy_graph_module`` (``_LazyGraphModule``, ``_use_lazy_graph_module``,
``_make_graph_module``). The reference mirrors those names on purpose, so one adapter
serves both, and a third-party implementation that mirrors them too can reuse it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch.fx import GraphModule


class MirroredFxArea:
    """:class:`~conformance.contract.FxArea` over a ``torch.fx._lazy_graph_module`` look-alike."""

    def __init__(self, module: ModuleType) -> None:
        self._module = module
        self.LazyGraphModule: type[GraphModule] = module._LazyGraphModule

    def use_lazy_graph_module(self, should_use: bool) -> AbstractContextManager[None]:
        context: AbstractContextManager[None] = self._module._use_lazy_graph_module(should_use)
        return context

    def make_graph_module(
        self, *args: Any, graph_module_cls: type[GraphModule] | None = None, **kwargs: Any
    ) -> GraphModule:
        gm: GraphModule = self._module._make_graph_module(
            *args, graph_module_cls=graph_module_cls, **kwargs
        )
        return gm

    def needs_recompile(self, gm: GraphModule) -> bool:
        check = getattr(gm, "_needs_recompile", None)
        return bool(check()) if check is not None else False

    def from_graphmodule(self, gm: GraphModule) -> GraphModule:
        # from_graphmodule/force_recompile are not members of torch.fx.GraphModule's stubs.
        lazy: GraphModule = self.LazyGraphModule.from_graphmodule(gm)  # type: ignore[attr-defined]
        return lazy

    def force_recompile(self, gm: GraphModule) -> None:
        self.LazyGraphModule.force_recompile(gm)  # type: ignore[attr-defined]


class MirroredParametrizeArea:
    """:class:`~conformance.contract.ParametrizeArea` over two look-alike modules."""

    def __init__(self, parametrize: ModuleType, parametrizations: ModuleType) -> None:
        self.parametrize = parametrize
        self.parametrizations = parametrizations
