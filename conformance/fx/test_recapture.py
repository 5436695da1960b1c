"""Re-capturing a lazy module with fx, make_fx, dynamo and TorchScript.

Each capture tool has to see generated code, not the lazy machinery: the source module
ends up realized, and tools that build graph modules build lazy ones inside the context.
"""

from __future__ import annotations

import pytest
import torch
from torch import fx
from torch.fx.experimental.proxy_tensor import make_fx
from torch.testing import assert_close


def _placeholders(gm: fx.GraphModule) -> list[str]:
    return [node.name for node in gm.graph.nodes if node.op == "placeholder"]


def test_symbolic_trace_recapture(lazy_fx, net, x):
    """symbolic_trace(gm) realizes gm, keeps its signature and returns a stale lazy module."""
    gm = fx.symbolic_trace(net)
    retraced = fx.symbolic_trace(gm)
    assert not lazy_fx.needs_recompile(gm)
    assert isinstance(retraced, lazy_fx.LazyGraphModule)
    assert lazy_fx.needs_recompile(retraced)
    assert _placeholders(retraced) == _placeholders(gm)
    assert_close(retraced(x), net(x))


def test_symbolic_trace_recaptures_the_edit(lazy_fx, x, edited_net, stale_edited_gm):
    """symbolic_trace of a stale edited module captures the edited graph."""
    gm = stale_edited_gm
    retraced = fx.symbolic_trace(gm)
    assert_close(retraced(x), edited_net(x))


def test_make_fx_recapture(lazy_fx, net, x):
    """make_fx(gm) realizes gm and returns a stale lazy module computing the same."""
    gm = fx.symbolic_trace(net)
    captured = make_fx(gm)(x)
    assert not lazy_fx.needs_recompile(gm)
    assert isinstance(captured, lazy_fx.LazyGraphModule)
    assert lazy_fx.needs_recompile(captured)
    assert_close(captured(x), net(x))


def test_make_fx_recaptures_the_edit(lazy_fx, x, edited_net, stale_edited_gm):
    """make_fx of a stale edited module captures the edited graph."""
    gm = stale_edited_gm
    captured = make_fx(gm)(x)
    assert_close(captured(x), edited_net(x))


@pytest.mark.usefixtures("fresh_dynamo")
def test_torch_compile_recapture(lazy_fx, net, x):
    """torch.compile(gm) runs a stale lazy module correctly and leaves it realized."""
    gm = fx.symbolic_trace(net)
    compiled = torch.compile(gm, backend="eager")
    assert_close(compiled(x), net(x))
    assert not lazy_fx.needs_recompile(gm)


@pytest.mark.usefixtures("fresh_dynamo")
def test_torch_compile_recaptures_the_edit(lazy_fx, x, edited_net, stale_edited_gm):
    """torch.compile of a stale edited module compiles the edited graph."""
    gm = stale_edited_gm
    assert_close(torch.compile(gm, backend="eager")(x), edited_net(x))


@pytest.mark.usefixtures("fresh_dynamo")
@pytest.mark.parametrize("entry", ["module", "called_from_function"])
def test_torch_compile_fullgraph(lazy_fx, net, x, entry):
    """A stale lazy module compiles without graph breaks, compiled directly or called inside."""
    gm = fx.symbolic_trace(net)
    if entry == "module":
        compiled = torch.compile(gm, backend="eager", fullgraph=True)
    else:
        compiled = torch.compile(lambda inp: gm(inp) * 2, backend="eager", fullgraph=True)
    expected = net(x) if entry == "module" else net(x) * 2
    assert_close(compiled(x), expected)


# TorchScript warns that it is deprecated and about GraphModule's own annotations.
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The TorchScript type system:UserWarning")
def test_jit_script(lazy_fx, net, x):
    """torch.jit.script accepts a stale lazy module and the script computes the same."""
    gm = fx.symbolic_trace(net)
    scripted = torch.jit.script(gm)
    assert_close(scripted(x), net(x))


# TorchScript warns that it is deprecated and about GraphModule's own annotations.
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The TorchScript type system:UserWarning")
def test_jit_script_sees_the_edit(lazy_fx, x, edited_net, stale_edited_gm):
    """torch.jit.script of a stale edited module scripts the edited graph."""
    gm = stale_edited_gm
    assert_close(torch.jit.script(gm)(x), edited_net(x))
