"""TorchScript and parametrized modules: tracing works, scripting fails clearly.

Scenarios from PyTorch's ``test/jit/test_parametrization.py``.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from conformance.parametrize._examples import Symmetric, symmetric

pytestmark = [
    pytest.mark.skipif(
        not hasattr(torch.jit, "trace_module"),
        reason="this torch has no torch.jit.trace_module; TorchScript scenarios do not apply",
    ),
    # torch.jit is deprecated upstream; its warnings say nothing about the backend.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


def _symmetric_linear(P) -> nn.Linear:
    m = nn.Linear(5, 5)
    P.register_parametrization(m, "weight", Symmetric())
    return m


def test_traced_module_matches_eager(parametrize_area, device):
    """torch.jit.trace_module of a parametrized model computes what the model computes."""
    P = parametrize_area.parametrize
    m = _symmetric_linear(P)
    W = symmetric(m.parametrizations.weight.original.detach())
    b = m.bias.detach().clone()
    m.to(device)
    traced = torch.jit.trace_module(m, {"forward": torch.randn(3, 5, device=device)})
    x = torch.randn(4, 5)
    assert_close(traced(x.to(device)).detach().cpu(), x @ W.T + b)


def test_traced_module_reads_the_live_original(parametrize_area):
    """The trace records the parametrization, so later changes of the original show."""
    P = parametrize_area.parametrize
    m = _symmetric_linear(P)
    traced = torch.jit.trace_module(m, {"forward": torch.randn(3, 5)})
    with torch.no_grad():
        m.parametrizations.weight.original.mul_(-2.0)
    W = symmetric(m.parametrizations.weight.original.detach())
    x = torch.randn(4, 5)
    assert_close(traced(x).detach(), x @ W.T + m.bias.detach())


def test_traced_module_runs_inside_cached(parametrize_area):
    """A traced model called inside cached() gives the eager result."""
    P = parametrize_area.parametrize
    m = _symmetric_linear(P)
    traced = torch.jit.trace_module(m, {"forward": torch.randn(3, 5)})
    x = torch.randn(3, 5)
    expected = x @ symmetric(m.parametrizations.weight.original.detach()).T + m.bias.detach()
    with P.cached():
        assert_close(traced(x).detach(), expected)


def test_tracing_while_caching_is_refused(parametrize_area):
    """Tracing inside cached() raises: the cached tensor would be frozen into the trace."""
    P = parametrize_area.parametrize
    m = _symmetric_linear(P)
    with pytest.raises(RuntimeError, match="Cannot trace a model while caching"), P.cached():
        torch.jit.trace_module(m, {"forward": torch.randn(3, 5)})


def test_scripting_fails_with_a_clear_error(parametrize_area):
    """Scripting a parametrized model, or running the scripted model, raises a scripting error."""
    P = parametrize_area.parametrize
    m = _symmetric_linear(P)
    with pytest.raises((torch.jit.Error, RuntimeError), match="scripting"):  # noqa: PT012
        scripted = torch.jit.script(m)
        scripted(torch.randn(3, 5))
