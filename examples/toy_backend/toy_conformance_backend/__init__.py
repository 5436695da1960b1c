"""A toy backend: the smallest honest implementation of the ``fx`` area.

``ToyLazyGraphModule`` defers code generation with a per-instance flag and generates
code when it is called, or when ``.code`` or ``str()`` is read. It deliberately skips
the harder parts (direct ``forward`` calls before the first call, pickling, packaging,
tracing hooks); its manifest lists the tests that catch those gaps, which is how a real
backend starts out.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from torch.fx import GraphModule
from torch.fx import _lazy_graph_module as _torch_lgm


class ToyLazyGraphModule(GraphModule):
    """A GraphModule whose ``recompile()`` only sets a flag."""

    def recompile(self) -> None:  # type: ignore[override]
        self.__dict__["_toy_pending"] = True

    def toy_realize(self) -> None:
        if self.__dict__.get("_toy_pending", False):
            self.__dict__["_toy_pending"] = False
            GraphModule.recompile(self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.toy_realize()
        return super().__call__(*args, **kwargs)

    @property
    def code(self) -> str:
        self.toy_realize()
        return super().code

    def __str__(self) -> str:
        self.toy_realize()
        return super().__str__()


class ToyFx:
    """The fx area object (see conformance.contract.FxArea)."""

    LazyGraphModule = ToyLazyGraphModule

    @contextmanager
    def use_lazy_graph_module(self, should_use: bool) -> Iterator[None]:
        # torch.fx builds graph modules through this hook; routing it is how tracing
        # produces our class.
        previous = _torch_lgm._get_graph_module_cls
        if should_use:
            _torch_lgm._get_graph_module_cls = lambda: ToyLazyGraphModule
        try:
            yield
        finally:
            _torch_lgm._get_graph_module_cls = previous

    def make_graph_module(
        self, *args: Any, graph_module_cls: type[GraphModule] | None = None, **kwargs: Any
    ) -> GraphModule:
        cls = graph_module_cls or _torch_lgm._get_graph_module_cls()
        return cls(*args, **kwargs)

    def needs_recompile(self, gm: GraphModule) -> bool:
        return bool(gm.__dict__.get("_toy_pending", False))

    def from_graphmodule(self, gm: GraphModule) -> GraphModule:
        return gm if isinstance(gm, ToyLazyGraphModule) else ToyLazyGraphModule(gm, gm.graph)

    def force_recompile(self, gm: GraphModule) -> None:
        if isinstance(gm, ToyLazyGraphModule):
            gm.toy_realize()


class ToyBackend:
    """The plugin object the entry point names."""

    name = "toy"
    version = "0.1.0"
    device = "cpu"
    expectations = Path(__file__).with_name("expectations.toml")
    fx = ToyFx()


backend = ToyBackend()
