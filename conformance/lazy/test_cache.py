"""The compile cache: keyed by graph structure, hit by every identical later step.

What the key (``graph_hash``) must and must not see is checked pair by pair, each
pair differing in exactly one thing, in ``test_graph_hash.py``.
"""

from __future__ import annotations

import pytest
import torch

from conformance.contract import LazyArea


def step(lazy_area: LazyArea, seed: int) -> torch.Tensor:
    x = torch.rand(4, generator=torch.Generator().manual_seed(seed)).to(lazy_area.device)
    y = (x * 2 + 1).sum()
    lazy_area.mark_step()
    return y


@pytest.mark.conformance_needs("counter:UncachedCompile", "counter:CachedCompile")
def test_identical_step_hits_cache(lazy_area: LazyArea) -> None:
    """Repeating a step on new data compiles nothing new and counts CachedCompile."""
    step(lazy_area, 0)
    step(lazy_area, 1)
    uncached = lazy_area.counter_value("UncachedCompile")
    cached = lazy_area.counter_value("CachedCompile") or 0
    y = step(lazy_area, 2)
    assert lazy_area.counter_value("UncachedCompile") == uncached
    assert (lazy_area.counter_value("CachedCompile") or 0) > cached
    x = torch.rand(4, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(y.cpu(), (x * 2 + 1).sum())


@pytest.mark.conformance_needs("counter:UncachedCompile")
def test_new_graph_compiles(lazy_area: LazyArea) -> None:
    """A step with a structurally new graph counts an UncachedCompile."""
    step(lazy_area, 0)
    before = lazy_area.counter_value("UncachedCompile") or 0
    x = torch.rand(7, 3).to(lazy_area.device)
    # Kept alive: a step executes the graphs of live tensors (a discarded result may be
    # dropped before the step, as torch_xla does).
    y = (x.t() @ x).relu()
    lazy_area.mark_step()
    assert (lazy_area.counter_value("UncachedCompile") or 0) > before
    assert y.shape == (3, 3)


def test_cached_program_uses_new_data(lazy_area: LazyArea) -> None:
    """A cache hit runs the cached program on this step's data, not the first step's."""
    results = [step(lazy_area, seed) for seed in range(4)]
    for seed, y in enumerate(results):
        x = torch.rand(4, generator=torch.Generator().manual_seed(seed))
        torch.testing.assert_close(y.cpu(), (x * 2 + 1).sum())


@pytest.mark.conformance_needs("counter:UncachedCompile", "counter:CachedCompile")
def test_training_loop_stops_compiling_after_warmup(lazy_area: LazyArea) -> None:
    """After two warm-up steps, further steps of a training loop only hit the cache."""
    torch.manual_seed(0)
    model = torch.nn.Linear(6, 3).to(lazy_area.device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.rand(4, 6).to(lazy_area.device)

    def train_step() -> None:
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
        lazy_area.mark_step()

    train_step()
    train_step()
    uncached = lazy_area.counter_value("UncachedCompile")
    cached = lazy_area.counter_value("CachedCompile") or 0
    for _ in range(3):
        train_step()
    assert lazy_area.counter_value("UncachedCompile") == uncached
    assert (lazy_area.counter_value("CachedCompile") or 0) >= cached + 3
