"""IR node reuse (``torch._lazy.config.set_reuse_ir``): hand out nodes of earlier traces.

Tracing the same program step after step builds the same nodes again. With reuse on,
each new node is looked up among the nodes built at the same position of earlier
traces (a trie walked in trace order; :func:`reset_position` at every step returns to
its root). A node is reused only if it is the same computation: the same op, types and
attributes, the *identical* operand nodes, and for a ``device_data`` leaf the identical
data tensor. Reuse therefore never changes a value; it saves building nodes and keeps
node identity stable. Each reuse counts ``IrNodeReused_<op>`` (``IrNodeReused_aten::sub``).

PyTorch's trie also reuses ``device_data`` leaves for new data of the same type by
swapping the data in; nodes here are immutable, so new data means a new leaf.
"""

from __future__ import annotations

from reference_impl.lazy import metrics
from reference_impl.lazy.ir import Node, node_key

#: Nodes remembered per trie position (most recently used first).
WIDTH = 8

_enabled = False


class _Position:
    __slots__ = ("children", "node")

    def __init__(self, node: Node | None) -> None:
        self.node = node
        self.children: list[_Position] = []


_root = _Position(None)
_current = _root


def set_reuse_ir(enabled: bool) -> None:
    """Turn reuse on or off (off by default, as in PyTorch)."""
    global _enabled
    _enabled = bool(enabled)


def get_reuse_ir() -> bool:
    """Whether reuse is on."""
    return _enabled


def reset_position() -> None:
    """Start matching from the beginning of a trace (called at every step)."""
    global _current
    _current = _root


def clear() -> None:
    """Forget every remembered node."""
    _root.children.clear()
    reset_position()


def same_computation(a: Node, b: Node) -> bool:
    """Whether ``a`` computes exactly what ``b`` does (so one may stand for the other)."""
    return (
        node_key(a) == node_key(b)
        and a.data is b.data
        and a.target == b.target
        and len(a.operands) == len(b.operands)
        and all(
            x.node is y.node and x.index == y.index
            for x, y in zip(a.operands, b.operands, strict=True)
        )
        and repr(a.template) == repr(b.template)
    )


def intern(node: Node) -> Node:
    """``node``, or an equal node built at this trace position before (when reuse is on)."""
    global _current
    if not _enabled:
        return node
    children = _current.children
    for k, child in enumerate(children):
        if child.node is not None and same_computation(child.node, node):
            children.insert(0, children.pop(k))
            _current = child
            metrics.increment(f"IrNodeReused_{node.op}")
            return child.node
    fresh = _Position(node)
    children.insert(0, fresh)
    del children[WIDTH:]
    _current = fresh
    return node
