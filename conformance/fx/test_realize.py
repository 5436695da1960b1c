"""Readers of the generated code realize the module and see the current graph."""

from __future__ import annotations

from torch import fx
from torch.testing import assert_close


def test_code_realizes_and_matches_eager(lazy_fx, fx_area, net):
    """Reading .code realizes the module and gives the code an eager GraphModule generates."""
    gm = fx.symbolic_trace(net)
    assert lazy_fx.needs_recompile(gm)
    code = gm.code
    assert not lazy_fx.needs_recompile(gm)
    with fx_area.use_lazy_graph_module(False):
        eager = fx.symbolic_trace(net)
    assert code == eager.code


def test_code_shows_the_edit(lazy_fx, net, swap_sin_for_cos):
    """After an edit and recompile(), .code shows the edited graph, not the stale one."""
    gm = fx.symbolic_trace(net)
    assert ".sin()" in gm.code
    swap_sin_for_cos(gm)
    gm.recompile()
    assert ".cos()" in gm.code
    assert ".sin()" not in gm.code


def test_str_realizes_and_shows_code(lazy_fx, net):
    """str(gm) realizes the module and includes its generated code."""
    gm = fx.symbolic_trace(net)
    text = str(gm)
    assert not lazy_fx.needs_recompile(gm)
    assert gm.code.strip() in text


def test_str_shows_the_edit(lazy_fx, net, swap_sin_for_cos):
    """str(gm) of a stale edited module shows the edited code."""
    gm = fx.symbolic_trace(net)
    str(gm)
    swap_sin_for_cos(gm)
    gm.recompile()
    text = str(gm)
    assert ".cos()" in text
    assert ".sin()" not in text


def test_print_readable_shows_the_edit(lazy_fx, x, edited_net, stale_edited_gm):
    """print_readable of a stale edited module lists the edited code, which is what runs."""
    gm = stale_edited_gm
    listing = gm.print_readable(print_output=False)
    assert ".cos()" in listing
    assert ".sin()" not in listing
    assert_close(gm(x), edited_net(x))


def test_realized_module_keeps_its_code(lazy_fx, net, x, codegen):
    """Once realized, calls and .code reuse the generated code instead of regenerating it."""
    gm = fx.symbolic_trace(net)
    first = gm.code
    for _ in range(3):
        assert_close(gm(x), net(x))
        assert gm.code == first
    assert codegen.of(gm) == 1
