"""The graph edit the fx suite applies, shared by its fixtures and tests."""

from __future__ import annotations

from torch import fx


def swap_sin_for_cos_in(graph: fx.Graph) -> None:
    """Edit ``graph`` in place: its single ``.sin()`` becomes ``.cos()``."""
    swapped = 0
    for node in graph.nodes:
        if node.op == "call_method" and node.target == "sin":
            node.target = "cos"
            swapped += 1
    assert swapped == 1, f"expected one sin node to edit in\n{graph}"
