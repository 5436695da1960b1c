"""Broken lazy backends for random numbers across steps: one RNG promise broken each.

Used by ``tests/test_lazy_behaviour_broken_backends.py`` against
``conformance/lazy/test_rng_steps.py``. Each bug is patched into the reference
implementation when the suite's fixture calls ``init()``, in the child pytest process
only. Name one as ``--backend=broken_lazy_rng_steps:<attribute>``.
"""

from __future__ import annotations

from typing import Any

from broken_lazy import BrokenBackend

#: Recorded random ops of the reference (the ops whose templates take a generator).
RANDOM_OPS = frozenset({"aten::uniform", "aten::normal_functional", "aten::bernoulli"})


def _generator_states(order: list[Any]) -> dict[int, Any]:
    """Post-order index of each leaf holding a generator state -> the node reading it."""
    from reference_impl.lazy import executor

    number = {id(node): i for i, node in enumerate(order)}
    found = {}
    for node in order:
        if node.op not in RANDOM_OPS:
            continue
        args_t, kwargs_t = node.template
        for slot in [*args_t, *kwargs_t.values()]:
            if isinstance(slot, executor.GeneratorOperand):
                found[number[id(node.operands[slot.k].node)]] = node.operands[slot.k].node
    return found


def _generator_state_frozen_in_cache() -> None:
    """Bug: a compiled program keeps drawing from the generator state it was compiled with.

    A cache hit then repeats the first step's random numbers.
    """
    from reference_impl.lazy import executor

    real = executor.compile_graph

    def compile_graph(order: list[Any], roots: Any, *args: Any) -> Any:
        program = real(order, roots, *args)
        frozen = {
            program.inputs.index(slot): leaf.data for slot, leaf in _generator_states(order).items()
        }
        run = program.run
        program.run = lambda data: run(  # type: ignore[method-assign]
            [frozen.get(k, x) for k, x in enumerate(data)]
        )
        return program

    executor.compile_graph = compile_graph  # type: ignore[assignment]


def _generator_state_in_graph_hash() -> None:
    """Bug: the generator's current state is part of the compile-cache key.

    Values stay right, but every step of a loop drawing from one generator compiles.
    """
    from reference_impl.lazy import executor
    from reference_impl.lazy.ir import post_order

    real = executor.graph_hash

    def graph_hash(roots: Any, order: Any = None) -> str:
        order = order if order is not None else post_order(roots)
        states = _generator_states(list(order)).values()
        return real(roots, order) + "".join(f"-{hash(bytes(s.data.tolist()))}" for s in states)

    executor.graph_hash = graph_hash  # type: ignore[assignment]


def _generator_advanced_at_step() -> None:
    """Bug: the caller's generator is moved on when the step runs, not when the op is traced.

    A CPU draw from the same generator between the trace and the step gets the
    numbers the device op should have had.
    """
    import reference_impl.lazy as lazy
    from reference_impl.lazy import lowering

    pending: list[tuple[Any, Any, Any]] = []
    advance, mark_step = lowering._advance_generators, lazy.mark_step

    def deferred(func: Any, args: Any, kwargs: Any) -> None:
        pending.append((func, args, kwargs))

    def step(device: str = "", wait: bool = False) -> None:
        while pending:
            advance(*pending.pop(0))
        mark_step(device, wait)

    lowering._advance_generators = deferred  # type: ignore[assignment]
    lazy.mark_step = step  # type: ignore[assignment]


def _default_rng_replayed_in_cache() -> None:
    """Bug: a cached program restores the default RNG state it was compiled with.

    Every step drawing from the device's default RNG repeats the first step's numbers.
    """
    import torch

    from reference_impl.lazy import executor

    real = executor.compile_graph

    def compile_graph(order: list[Any], roots: Any, *args: Any) -> Any:
        program = real(order, roots, *args)
        if any(node.op in RANDOM_OPS for node in order):
            state = torch.get_rng_state()
            run = program.run

            def replay(data: Any) -> Any:
                torch.set_rng_state(state)
                return run(data)

            program.run = replay  # type: ignore[method-assign]
        return program

    executor.compile_graph = compile_graph  # type: ignore[assignment]


generator_state_frozen_in_cache = BrokenBackend(
    "generator-state-frozen-in-cache", _generator_state_frozen_in_cache
)
generator_state_in_graph_hash = BrokenBackend(
    "generator-state-in-graph-hash", _generator_state_in_graph_hash
)
generator_advanced_at_step = BrokenBackend(
    "generator-advanced-at-step", _generator_advanced_at_step
)
default_rng_replayed_in_cache = BrokenBackend(
    "default-rng-replayed-in-cache", _default_rng_replayed_in_cache
)
