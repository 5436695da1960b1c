"""Broken lazy backends for the graph hash: a compile-cache key missing (or adding) one thing.

Used by ``tests/test_lazy_behaviour_broken_backends.py`` against
``conformance/lazy/test_graph_hash.py``. Patched in at ``init()`` in the child pytest
process. Name one as ``--backend=broken_lazy_graph_hash:<attribute>``.

The key is the reference's ``ir.node_key`` / ``ir.graph_hash``, used both by the
area's ``graph_hash`` and by the executor's compile cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from broken_lazy import BrokenBackend


def _node_key_patch(key: Callable[[Any, tuple[Any, ...]], tuple[Any, ...]]) -> Callable[[], None]:
    """``ir.node_key`` rewritten by ``key(node, real_key)`` (the cached key is bypassed)."""

    def patch() -> None:
        from reference_impl.lazy import ir

        real = ir.node_key

        def node_key(node: Any) -> tuple[Any, ...]:
            return key(node, real(node))

        ir.node_key = node_key  # type: ignore[assignment]

    return patch


def _specialize(cast: Callable[[Any, Any], Any]) -> None:
    """Compiled programs are specialized to their compile-time inputs: each later input
    goes through ``cast(data, compile_time_leaf)`` (what a shape/dtype-specializing
    compiler does to data it did not expect)."""
    from reference_impl.lazy import executor
    from reference_impl.lazy.ir import DEVICE_DATA

    real = executor.compile_graph

    def compile_graph(order: list[Any], roots: Any, *args: Any) -> Any:
        program = real(order, roots, *args)
        leaves = [node for node in order if node.op == DEVICE_DATA]
        run = program.run
        program.run = lambda data: run(  # type: ignore[method-assign]
            [cast(x, leaf) for x, leaf in zip(data, leaves, strict=True)]
        )
        return program

    executor.compile_graph = compile_graph  # type: ignore[assignment]


def _ignores_dtypes() -> None:
    """Bug: the key has no dtypes, and the compiled program casts inputs to its own dtypes."""
    _node_key_patch(lambda node, key: (key[0], key[2], *key[3:]))()
    _specialize(lambda x, leaf: x.to(leaf.dtypes[0]))


def _ignores_shapes() -> None:
    """Bug: the key has no shapes, and the compiled program reads inputs at its own shapes."""
    _node_key_patch(lambda node, key: (key[0], key[1], *key[3:]))()
    _specialize(lambda x, leaf: x.flatten()[: leaf.data.numel()].reshape(leaf.shapes[0]))


def _ignores_attributes() -> None:
    """Bug: the key has the op, types and edges but not the attributes."""
    _node_key_patch(lambda node, key: key[:3])()


def _operands_by_structure() -> None:
    """Bug: edges are hashed by what an operand computes, not by which node it is.

    As in a Merkle hash where every device-data leaf of one type hashes alike,
    ``(x - y) * x`` and ``(x - y) * y`` get one key, and the cached program of the
    first binds the second's inputs wrongly.
    """
    from reference_impl.lazy import executor, ir

    def graph_hash(roots: Any, order: Any = None) -> str:
        order = order if order is not None else ir.post_order(roots)
        memo: dict[int, int] = {}
        for node in order:
            memo[id(node)] = hash(
                (ir.node_key(node), tuple((memo[id(v.node)], v.index) for v in node.operands))
            )
        value = hash(tuple((memo[id(r.node)], r.index) for r in roots))
        return f"{value & 0xFFFFFFFFFFFFFFFF:016x}"

    ir.graph_hash = graph_hash  # type: ignore[assignment]
    executor.graph_hash = graph_hash  # type: ignore[assignment]


def _roots_patch(canonical: Callable[[list[Any]], list[Any]]) -> Callable[[], None]:
    """The key is computed for ``canonical(roots)`` instead of the roots as given."""

    def patch() -> None:
        from reference_impl.lazy import executor, ir

        real = ir.graph_hash

        def graph_hash(roots: Any, order: Any = None) -> str:
            return real(canonical(list(roots)))

        ir.graph_hash = graph_hash  # type: ignore[assignment]
        executor.graph_hash = graph_hash  # type: ignore[assignment]

    return patch


def _roots_sorted(roots: list[Any]) -> list[Any]:
    """Bug: the roots are keyed as a set (sorted by what they compute), not in order."""
    from reference_impl.lazy import ir

    return sorted(roots, key=lambda r: repr(ir.node_key(r.node)))


def _roots_without_index(roots: list[Any]) -> list[Any]:
    """Bug: a root is keyed by its node only, not by which of its outputs is returned."""
    return [root.node.value(0) for root in roots]


def _scalar_values_in_key(node: Any, key: tuple[Any, ...]) -> tuple[Any, ...]:
    """Bug: a 0-dim device-data leaf (a Python scalar) is keyed by its value."""
    if node.data is not None and node.data.dim() == 0:
        return (*key, node.data.item())
    return key


hash_ignores_dtypes = BrokenBackend("hash-ignores-dtypes", _ignores_dtypes)
hash_ignores_shapes = BrokenBackend("hash-ignores-shapes", _ignores_shapes)
hash_ignores_attributes = BrokenBackend("hash-ignores-attributes", _ignores_attributes)
hash_operands_by_structure = BrokenBackend("hash-operands-by-structure", _operands_by_structure)
hash_ignores_root_order = BrokenBackend("hash-ignores-root-order", _roots_patch(_roots_sorted))
hash_ignores_output_index = BrokenBackend(
    "hash-ignores-output-index", _roots_patch(_roots_without_index)
)
hash_keys_scalar_values = BrokenBackend(
    "hash-keys-scalar-values", _node_key_patch(_scalar_values_in_key)
)
