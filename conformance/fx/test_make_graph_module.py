"""Choosing the graph module class: make_graph_module and the context manager."""

from __future__ import annotations

import pytest
import torch
from torch import fx
from torch.fx.experimental.proxy_tensor import make_fx
from torch.testing import assert_close


def _trace(tool: str, net: torch.nn.Module, x: torch.Tensor) -> fx.GraphModule:
    if tool == "symbolic_trace":
        return fx.symbolic_trace(net)
    return make_fx(net)(x)


def test_explicit_class_and_name(lazy_fx, net, x):
    """An explicit graph_module_cls and class_name win over the context."""
    gm = fx.symbolic_trace(net)
    built = lazy_fx.make_graph_module(
        gm, gm.graph, class_name="MyGraphModule", graph_module_cls=fx.GraphModule
    )
    assert not isinstance(built, lazy_fx.LazyGraphModule)
    assert type(built).__name__ == "MyGraphModule"
    assert_close(built(x), net(x))


def test_default_class_follows_context(lazy_fx, net, x):
    """Without graph_module_cls, inside the context, a stale lazy module named GraphModule."""
    gm = fx.symbolic_trace(net)
    built = lazy_fx.make_graph_module(gm, gm.graph)
    assert isinstance(built, lazy_fx.LazyGraphModule)
    assert type(built).__name__ == "GraphModule"
    assert lazy_fx.needs_recompile(built)
    assert_close(built(x), net(x))


def test_class_name_of_lazy_module(lazy_fx, net, x):
    """A class_name given to a lazy module names its class and shows in str()."""
    gm = fx.symbolic_trace(net)
    built = lazy_fx.make_graph_module(gm, gm.graph, class_name="Renamed")
    assert isinstance(built, lazy_fx.LazyGraphModule)
    assert type(built).__name__ == "Renamed"
    assert str(built).startswith("Renamed(")


def test_default_class_outside_context(fx_area, net, x):
    """Without graph_module_cls and outside the context, an eager GraphModule."""
    gm = fx.symbolic_trace(net)
    built = fx_area.make_graph_module(gm, gm.graph)
    assert isinstance(built, fx.GraphModule)
    assert not isinstance(built, fx_area.LazyGraphModule)
    assert_close(built(x), net(x))


def test_explicit_lazy_class_outside_context(fx_area, net, x):
    """graph_module_cls=LazyGraphModule builds a stale lazy module even outside the context."""
    gm = fx.symbolic_trace(net)
    built = fx_area.make_graph_module(gm, gm.graph, graph_module_cls=fx_area.LazyGraphModule)
    assert isinstance(built, fx_area.LazyGraphModule)
    assert fx_area.needs_recompile(built)
    assert_close(built(x), net(x))


@pytest.mark.parametrize("tool", ["symbolic_trace", "make_fx"])
def test_context_selects_class_for_fx(fx_area, net, x, tool):
    """Inside use_lazy_graph_module(True) fx tools build lazy modules, outside eager ones."""
    with fx_area.use_lazy_graph_module(True):
        inside = _trace(tool, net, x)
    outside = _trace(tool, net, x)
    assert isinstance(inside, fx_area.LazyGraphModule)
    assert not isinstance(outside, fx_area.LazyGraphModule)
    assert_close(inside(x), outside(x))


def test_nested_contexts(fx_area, net):
    """An inner use_lazy_graph_module(False) turns laziness off until it exits."""
    with fx_area.use_lazy_graph_module(True):
        with fx_area.use_lazy_graph_module(False):
            assert not isinstance(fx.symbolic_trace(net), fx_area.LazyGraphModule)
        assert isinstance(fx.symbolic_trace(net), fx_area.LazyGraphModule)
    assert not isinstance(fx.symbolic_trace(net), fx_area.LazyGraphModule)


def test_context_exit_on_error_restores(fx_area, net):
    """Leaving the context through an exception restores eager module building."""
    with pytest.raises(RuntimeError, match="boom"), fx_area.use_lazy_graph_module(True):
        raise RuntimeError("boom")
    assert not isinstance(fx.symbolic_trace(net), fx_area.LazyGraphModule)
