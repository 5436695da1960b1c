"""Deferred recompilation: recompile() marks, the first use generates code, once."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import fx
from torch.testing import assert_close

from conformance.fx._edits import swap_sin_for_cos_in


def test_tracing_in_context_builds_a_stale_lazy_module(lazy_fx, net, codegen):
    """symbolic_trace inside the context returns a LazyGraphModule without generating code."""
    gm = fx.symbolic_trace(net)
    assert isinstance(gm, lazy_fx.LazyGraphModule), type(gm).__mro__
    assert lazy_fx.needs_recompile(gm)
    assert codegen.total == 0


def test_tracing_outside_context_builds_an_eager_module(fx_area, net, x):
    """Outside the context symbolic_trace returns an ordinary, already compiled GraphModule."""
    gm = fx.symbolic_trace(net)
    assert not isinstance(gm, fx_area.LazyGraphModule)
    assert not fx_area.needs_recompile(gm)
    assert_close(gm(x), net(x))


@pytest.mark.parametrize("invoke", ["call", "forward"])
def test_edit_then_recompile_runs_new_code(lazy_fx, x, edited_net, invoke, stale_edited_gm):
    """After a graph edit and recompile(), both gm(x) and gm.forward(x) run the edited graph."""
    gm = stale_edited_gm
    result = gm(x) if invoke == "call" else gm.forward(x)
    assert_close(result, edited_net(x))


def test_needs_recompile_lifecycle(lazy_fx, net, x, swap_sin_for_cos, edited_net):
    """The flag is set by tracing and recompile(), cleared by a call, untouched by edits."""
    gm = fx.symbolic_trace(net)
    assert lazy_fx.needs_recompile(gm), "freshly traced"
    assert_close(gm(x), net(x))
    assert not lazy_fx.needs_recompile(gm), "after the first call"
    swap_sin_for_cos(gm)
    assert not lazy_fx.needs_recompile(gm), "a graph edit alone does not mark the module"
    gm.recompile()
    assert lazy_fx.needs_recompile(gm), "after recompile()"
    assert_close(gm(x), edited_net(x))
    assert not lazy_fx.needs_recompile(gm), "after the second call"


def test_recompile_only_marks(lazy_fx, net, x, codegen):
    """Repeated recompile() calls generate no code; the next call generates it exactly once."""
    gm = fx.symbolic_trace(net)
    for _ in range(3):
        gm.recompile()
    assert codegen.of(gm) == 0
    assert_close(gm(x), net(x))
    assert_close(gm(x), net(x))
    assert codegen.of(gm) == 1


@pytest.mark.parametrize("state", ["fresh", "edited"])
def test_saved_forward_generates_code_once(
    lazy_fx, net, x, codegen, swap_sin_for_cos, edited_net, state
):
    """A bound gm.forward saved while stale and called 10 times generates code exactly once."""
    gm = fx.symbolic_trace(net)
    expected = net(x)
    if state == "edited":
        assert_close(gm(x), expected)
        swap_sin_for_cos(gm)
        gm.recompile()
        expected = edited_net(x)
    before = codegen.of(gm)
    saved_forward = gm.forward
    for _ in range(10):
        assert_close(saved_forward(x), expected)
    assert codegen.of(gm) - before == 1


def test_graph_assignment_marks_stale(lazy_fx, net, x, edited_net, codegen):
    """Assigning a new graph to a realized module marks it stale (no recompile() call needed),
    generates no code yet, and the next call runs the new graph."""
    gm = fx.symbolic_trace(net)
    assert_close(gm(x), net(x))
    new_graph = copy.deepcopy(gm.graph)
    swap_sin_for_cos_in(new_graph)
    gm.graph = new_graph
    assert gm.graph is new_graph
    assert lazy_fx.needs_recompile(gm)
    assert codegen.of(gm) == 0
    assert_close(gm(x), edited_net(x))
    assert codegen.of(gm) == 1


def test_from_graphmodule_wraps_an_eager_module(fx_area, net, x):
    """from_graphmodule turns an eager GraphModule into a stale lazy one computing the same."""
    eager = fx.symbolic_trace(net)
    lazy = fx_area.from_graphmodule(eager)
    assert isinstance(lazy, fx_area.LazyGraphModule)
    assert fx_area.needs_recompile(lazy)
    assert_close(lazy(x), eager(x))


def test_from_graphmodule_returns_lazy_module_itself(lazy_fx, net):
    """from_graphmodule on a module that is already lazy returns that same module."""
    gm = fx.symbolic_trace(net)
    assert lazy_fx.from_graphmodule(gm) is gm


def test_force_recompile_realizes_once(lazy_fx, net, x, codegen):
    """force_recompile generates the code of a stale module now, and only once."""
    gm = fx.symbolic_trace(net)
    lazy_fx.force_recompile(gm)
    assert not lazy_fx.needs_recompile(gm)
    assert codegen.of(gm) == 1
    lazy_fx.force_recompile(gm)
    assert_close(gm(x), net(x))
    assert codegen.of(gm) == 1


def test_force_recompile_ignores_eager_modules(fx_area, net, x, codegen):
    """force_recompile on an ordinary GraphModule is a no-op: no error, no code generated."""
    gm = fx.symbolic_trace(net)
    before = codegen.of(gm)
    fx_area.force_recompile(gm)
    assert codegen.of(gm) == before
    assert_close(gm(x), net(x))


def test_lazy_submodule_runs_inside_a_parent(lazy_fx, net, x, swap_sin_for_cos, edited_net):
    """A stale lazy module used as a child of an ordinary module runs its current graph."""
    gm = fx.symbolic_trace(net)
    swap_sin_for_cos(gm)
    gm.recompile()
    parent = torch.nn.Sequential(gm, torch.nn.Tanh())
    assert_close(parent(x), torch.tanh(edited_net(x)))
