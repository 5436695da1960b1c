"""Fixtures of the fx area.

The suite talks to the backend only through ``fx_area`` (see
:class:`conformance.contract.FxArea`) and public torch APIs. The fixtures below give the
tests a common subject (a small traced network and one graph edit on it) and a
backend-agnostic way to count code generation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
from torch import fx

from conformance.contract import FxArea
from conformance.discovery import LoadedBackend
from conformance.fx._edits import swap_sin_for_cos_in


@pytest.fixture
def fx_area(conformance_backend: LoadedBackend) -> FxArea:
    """The backend's fx area object (see conformance.contract.FxArea)."""
    return conformance_backend.areas["fx"]  # type: ignore[return-value]


@pytest.fixture
def lazy_fx(fx_area: FxArea) -> Iterator[FxArea]:
    """``fx_area`` with ``use_lazy_graph_module(True)`` active for the whole test."""
    with fx_area.use_lazy_graph_module(True):
        yield fx_area


class SinNet(torch.nn.Module):
    """The common subject: a parameter, a submodule, a buffer and one ``sin`` to edit."""

    shift: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 3)
        self.register_buffer("shift", torch.randn(3))

    # Unannotated on purpose: fx copies parameter annotations into the generated code,
    # and under ``from __future__ import annotations`` they are strings it cannot resolve.
    def forward(self, x):
        return torch.relu(self.linear(x)).sin() + self.shift


@pytest.fixture
def net() -> SinNet:
    """A fresh :class:`SinNet` (weights come from the per-test seed)."""
    return SinNet()


@pytest.fixture
def x() -> torch.Tensor:
    """A random input batch for :class:`SinNet`."""
    return torch.randn(5, 4)


@pytest.fixture
def edited_net(net: SinNet) -> Callable[[torch.Tensor], torch.Tensor]:
    """The eager computation of ``net`` after :func:`swap_sin_for_cos`: cos instead of sin."""

    def compute(inp: torch.Tensor) -> torch.Tensor:
        return torch.relu(net.linear(inp)).cos() + net.shift

    return compute


def _swap_sin_for_cos(gm: fx.GraphModule) -> None:
    """Edit ``gm.graph`` in place (no recompile): every ``.sin()`` becomes ``.cos()``."""
    swap_sin_for_cos_in(gm.graph)


@pytest.fixture
def swap_sin_for_cos() -> Callable[[fx.GraphModule], None]:
    """The graph edit the suite applies: replaces the single ``.sin()`` with ``.cos()``."""
    return _swap_sin_for_cos


@pytest.fixture
def stale_edited_gm(lazy_fx: FxArea, net: SinNet, x: torch.Tensor) -> fx.GraphModule:
    """A lazy module of ``net`` that ran once, was edited (sin -> cos) and ``recompile()``d.

    The state most realize-on-demand bugs show up in: code was generated before, the
    graph changed since, and the regeneration is pending. Compare it to ``edited_net``.
    """
    gm = fx.symbolic_trace(net)
    torch.testing.assert_close(gm(x), net(x))
    _swap_sin_for_cos(gm)
    gm.recompile()
    return gm


class CodegenCounter:
    """Records every generation of runnable code, i.e. every ``Graph.python_code`` call.

    Any GraphModule implementation has to turn its graph into Python through
    ``Graph.python_code``, so counting those calls measures code generation without
    knowing how the backend schedules it. Verbose calls (``print_readable``'s listing)
    are not runnable code and are not counted.
    """

    def __init__(self) -> None:
        self.graphs: list[fx.Graph] = []

    def of(self, gm: fx.GraphModule) -> int:
        """How many times code was generated for ``gm``'s current graph."""
        return sum(graph is gm.graph for graph in self.graphs)

    @property
    def total(self) -> int:
        """How many times code was generated for any graph."""
        return len(self.graphs)


@pytest.fixture
def codegen(monkeypatch: pytest.MonkeyPatch) -> CodegenCounter:
    """A :class:`CodegenCounter` that counts from the start of the test to its end."""
    counter = CodegenCounter()
    original = fx.Graph.python_code

    def counting(self: fx.Graph, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("verbose"):
            counter.graphs.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(fx.Graph, "python_code", counting)
    return counter


@pytest.fixture
def fresh_dynamo() -> Iterator[None]:
    """Reset dynamo's caches after the test so compiled frames do not leak into others."""
    yield
    torch._dynamo.reset()
