"""nn.Module hooks around a lazy module's call: each runs once per call, stale or not.

Realizing must be invisible to the module protocol: ``gm(x)`` goes through
``nn.Module.__call__`` once, so forward pre-hooks and forward hooks see one call, with
the caller's inputs and the real output, whether or not code had to be generated first.
"""

from __future__ import annotations

import pytest
import torch
from torch import fx
from torch.testing import assert_close

STATES = ["fresh", "edited"]


def _stale_module(state, net, x, swap_sin_for_cos, edited_net):
    """A stale lazy module of ``net`` and the function it computes: fresh, or edited after a run."""
    gm = fx.symbolic_trace(net)
    if state == "fresh":
        return gm, net
    assert_close(gm(x), net(x))
    swap_sin_for_cos(gm)
    gm.recompile()
    return gm, edited_net


@pytest.mark.parametrize("state", STATES)
def test_hooks_run_once_per_call(lazy_fx, net, x, swap_sin_for_cos, edited_net, state):
    """On a stale module's first call and on later calls, each hook runs exactly once per call."""
    gm, compute = _stale_module(state, net, x, swap_sin_for_cos, edited_net)
    calls: list[str] = []
    gm.register_forward_pre_hook(lambda module, args: calls.append("pre"))
    gm.register_forward_hook(lambda module, args, output: calls.append("post"))
    assert lazy_fx.needs_recompile(gm)
    assert_close(gm(x), compute(x))
    assert calls == ["pre", "post"], "first call of a stale module"
    assert_close(gm(x), compute(x))
    assert calls == ["pre", "post"] * 2, "second call"


@pytest.mark.parametrize("state", STATES)
def test_hooks_that_change_values_apply_once(lazy_fx, net, x, swap_sin_for_cos, edited_net, state):
    """A pre-hook that rewrites the input and a hook that rewrites the output act once per call."""
    gm, compute = _stale_module(state, net, x, swap_sin_for_cos, edited_net)
    gm.register_forward_pre_hook(lambda module, args: (2 * args[0],))
    gm.register_forward_hook(lambda module, args, output: output + 1)
    expected = compute(2 * x) + 1
    assert_close(gm(x), expected)
    assert_close(gm(x), expected)


def test_hooks_see_the_call_and_its_output(lazy_fx, net, x):
    """Hooks of a stale module's call get the module itself, the caller's input and the output."""
    gm = fx.symbolic_trace(net)
    seen: dict[str, object] = {}

    def pre_hook(module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        seen["pre"] = (module, args)

    def hook(module: torch.nn.Module, args: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        seen["post"] = (module, args, output)

    gm.register_forward_pre_hook(pre_hook)
    gm.register_forward_hook(hook)
    result = gm(x)
    pre_module, pre_args = seen["pre"]  # type: ignore[misc]
    post_module, post_args, output = seen["post"]  # type: ignore[misc]
    assert pre_module is gm
    assert post_module is gm
    assert pre_args[0] is x
    assert post_args[0] is x
    assert output is result


def test_forward_call_runs_no_hooks(lazy_fx, net, x):
    """Calling gm.forward(x) on a stale module runs the code without any module hook."""
    gm = fx.symbolic_trace(net)
    calls: list[str] = []
    gm.register_forward_pre_hook(lambda module, args: calls.append("pre"))
    gm.register_forward_hook(lambda module, args, output: calls.append("post"))
    assert_close(gm.forward(x), net(x))
    assert calls == []
