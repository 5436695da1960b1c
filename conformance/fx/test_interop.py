"""What other PyTorch machinery reads from a lazy module: bound forwards and pytree specs."""

from __future__ import annotations

import torch
from torch import fx
from torch.testing import assert_close


def test_dynamo_disable_unwraps_to_bound_forward(lazy_fx, net, x):
    """torch._dynamo.disable(gm.forward) unwraps to a method bound to gm and runs correctly."""
    gm = fx.symbolic_trace(net)
    wrapped = torch._dynamo.disable(gm.forward)
    inner = torch._dynamo.eval_frame.innermost_fn(wrapped)
    assert getattr(inner, "__self__", None) is gm, f"{inner!r} is not bound to the module"
    assert_close(wrapped(x), net(x))


def _pair_of_sums(inp: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    return inp["a"] + inp["b"], inp["a"].sin()


def _trace_with_pytree_args() -> fx.GraphModule:
    return fx.symbolic_trace(_pair_of_sums, concrete_args={"inp": {"a": fx.PH, "b": fx.PH}})


def test_pytree_specs_before_first_call(lazy_fx, fx_area):
    """_in_spec/_out_spec of a stale module already equal an eager module's, then it runs."""
    lazy = _trace_with_pytree_args()
    assert lazy_fx.needs_recompile(lazy)
    with fx_area.use_lazy_graph_module(False):
        eager = _trace_with_pytree_args()
    assert getattr(lazy, "_in_spec", None) == eager._in_spec
    assert getattr(lazy, "_out_spec", None) == eager._out_spec
    inp = {"a": torch.randn(3), "b": torch.randn(3)}
    assert_close(lazy(inp), _pair_of_sums(inp))
