"""extract_compiled_graph: results share no memory that eager's results do not share.

The replay runs a compiled program on the caller's CPU tensors and hands back CPU
tensors. Where eager returns a *new* tensor (``a.clone()``, ``a + b`` twice), the
replay's result must not share memory with an argument, with another result, or with
a result of another call: the caller may write into it. Where eager's results alias
(``return a``, ``a.t()``, ``c, c``) the replay may alias the same way or copy: a
lazy backend computes functionally and is free to return copies.

"Shares memory" means the same storage. Each module is replayed on fresh inputs and
compared with eager on copies of the same inputs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
import torch
from torch import fx, nn

from conformance.contract import LazyArea

pytestmark = pytest.mark.conformance_needs("extract_compiled_graph")

Forward = Callable[[torch.Tensor, torch.Tensor], torch.Tensor | tuple[torch.Tensor, ...]]


def _twice(c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return c, c


def _update_row(a: torch.Tensor) -> torch.Tensor:
    a[0].mul_(2)
    return a


def _updated_row(a: torch.Tensor) -> torch.Tensor:
    return a[0].mul_(2)


def _add_into(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a.add_(b)


#: Module name -> forward(a, b). Names say what eager returns.
FORWARDS: dict[str, Forward] = {
    "an_argument": lambda a, b: a,
    "a_clone_of_an_argument": lambda a, b: a.clone(),
    "a_transposed_argument": lambda a, b: a.t(),
    "a_row_of_an_argument": lambda a, b: a[0],
    "a_contiguous_copy_of_a_view": lambda a, b: a.t().contiguous(),
    "an_argument_updated_in_place": _add_into,
    "an_argument_updated_through_a_view": lambda a, b: _update_row(a),
    "a_view_updated_in_place": lambda a, b: _updated_row(a),
    "a_result_twice": lambda a, b: _twice(a + b),
    "an_argument_twice": lambda a, b: (a, a),
    "a_result_and_its_view": lambda a, b: (lambda c: (c, c.t()))(a + b),
    "two_equal_results": lambda a, b: (a + b, a + b),
    "a_result_and_its_clone": lambda a, b: (lambda c: (c, c.clone()))(a + b),
    "an_argument_and_its_clone": lambda a, b: (a, a.clone()),
}


class Module(nn.Module):
    def __init__(self, forward: Forward) -> None:
        super().__init__()
        self.fn = forward

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> object:
        return self.fn(a, b)


def as_list(out: object) -> list[torch.Tensor]:
    return [out] if isinstance(out, torch.Tensor) else list(out)  # type: ignore[call-overload]


def inputs(seed: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(3, 3, generator=generator) for _ in range(2)]


def extract(lazy_area: LazyArea, name: str) -> Callable[..., list[torch.Tensor]]:
    module = Module(FORWARDS[name])
    gm = fx.symbolic_trace(module)
    replay = lazy_area.extract_compiled_graph(gm, inputs(0))
    return lambda *args: list(replay(*args))


def sharing(args: list[torch.Tensor], results: list[torch.Tensor]) -> set[str]:
    """Which results share storage with which argument or other result."""

    def same(x: torch.Tensor, y: torch.Tensor) -> bool:
        return bool(x.numel() and y.numel()) and (
            x.untyped_storage().data_ptr() == y.untyped_storage().data_ptr()
        )

    pairs = {
        f"result {k} ~ argument {i}"
        for k, r in enumerate(results)
        for i, a in enumerate(args)
        if same(r, a)
    }
    pairs |= {
        f"result {k} ~ result {j}"
        for k, r in enumerate(results)
        for j in range(k + 1, len(results))
        if same(r, results[j])
    }
    return pairs


@pytest.mark.parametrize("name", list(FORWARDS))
def test_results_share_no_memory_eager_results_do_not(lazy_area: LazyArea, name: str) -> None:
    """A result shares storage with an argument or another result only where eager's does."""
    replay = extract(lazy_area, name)
    args = inputs(1)
    eager_args = copy.deepcopy(args)
    eager = as_list(FORWARDS[name](*eager_args))
    results = replay(*args)
    extra = sharing(args, results) - sharing(eager_args, eager)
    assert not extra, (
        f"the replay's {sorted(extra)} share memory, eager's do not: writing into one "
        "changes the other"
    )


@pytest.mark.parametrize("name", list(FORWARDS))
def test_results_survive_the_next_call(lazy_area: LazyArea, name: str) -> None:
    """A later call (and writes into its results) leaves an earlier call's results alone."""
    replay = extract(lazy_area, name)
    first = replay(*inputs(1))
    kept = [r.clone() for r in first]
    second = replay(*inputs(2))
    for r in second:
        if not any(r is f for f in first):
            r.fill_(-99.0)
    for k, (now, then) in enumerate(zip(first, kept, strict=True)):
        torch.testing.assert_close(now, then, msg=lambda m, k=k: f"result {k} of call 1: {m}")


UPDATING = [
    "an_argument_updated_in_place",
    "an_argument_updated_through_a_view",
    "a_view_updated_in_place",
]


@pytest.mark.parametrize("name", UPDATING)
def test_in_place_updates_reach_the_callers_argument(lazy_area: LazyArea, name: str) -> None:
    """An argument updated in place, directly or through a view, holds eager's new values."""
    replay = extract(lazy_area, name)
    for seed in (1, 2):
        args = inputs(seed)
        eager_args = copy.deepcopy(args)
        eager = as_list(FORWARDS[name](*eager_args))
        results = replay(*args)
        for k, (got, want) in enumerate(zip(results, eager, strict=True)):
            torch.testing.assert_close(got, want, msg=lambda m, k=k: f"result {k}: {m}")
        for i, (got, want) in enumerate(zip(args, eager_args, strict=True)):
            torch.testing.assert_close(got, want, msg=lambda m, i=i: f"argument {i} after: {m}")
