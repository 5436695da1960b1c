"""Random numbers: a seeded torch.Generator draws on the device what it draws on CPU."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from conformance.contract import LazyArea

Draw = Callable[[torch.Tensor, torch.Generator], torch.Tensor]

DRAWS: dict[str, Draw] = {
    "uniform_": lambda t, g: t.uniform_(generator=g),
    "uniform_range": lambda t, g: t.uniform_(-2.0, 3.0, generator=g),
    "normal_": lambda t, g: t.normal_(generator=g),
    "normal_mean_std": lambda t, g: t.normal_(1.5, 0.25, generator=g),
}


def draw(device: str, name: str, seed: int, shape: tuple[int, ...] = (4, 5)) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return DRAWS[name](torch.empty(shape, device=device), generator)


@pytest.mark.parametrize("name", list(DRAWS))
def test_seeded_generator_matches_cpu(lazy_area: LazyArea, name: str) -> None:
    """The same seed gives the device the same numbers as CPU."""
    torch.testing.assert_close(draw(lazy_area.device, name, 7).cpu(), draw("cpu", name, 7))


@pytest.mark.parametrize(("global_seed", "seed"), [(0, 3), (12345, 4)])
def test_global_seed_does_not_matter(lazy_area: LazyArea, global_seed: int, seed: int) -> None:
    """With an explicit generator, torch.manual_seed changes nothing on either side."""
    torch.manual_seed(global_seed)
    lazy = draw(lazy_area.device, "uniform_", seed).cpu()
    torch.manual_seed(global_seed + 1)
    torch.testing.assert_close(lazy, draw("cpu", "uniform_", seed))


def test_generator_advances_like_cpu(lazy_area: LazyArea) -> None:
    """Two draws from one generator match CPU's two draws (the generator state moves on)."""
    g_lazy, g_cpu = torch.Generator().manual_seed(11), torch.Generator().manual_seed(11)
    a = torch.empty(6, device=lazy_area.device).uniform_(generator=g_lazy)
    b = torch.empty(6, device=lazy_area.device).normal_(generator=g_lazy)
    lazy_area.mark_step()
    torch.testing.assert_close(a.cpu(), torch.empty(6).uniform_(generator=g_cpu))
    torch.testing.assert_close(b.cpu(), torch.empty(6).normal_(generator=g_cpu))
    torch.testing.assert_close(
        torch.rand(3, generator=g_lazy), torch.rand(3, generator=g_cpu), msg="state after"
    )


def test_random_values_used_in_graph(lazy_area: LazyArea) -> None:
    """Random values feed later ops in the same graph with CPU's values."""
    lazy = draw(lazy_area.device, "normal_", 5) * 2 + 1
    cpu = draw("cpu", "normal_", 5) * 2 + 1
    lazy_area.mark_step()
    torch.testing.assert_close(lazy.cpu(), cpu)


# Each test uses its own seeds: the compile cache lives as long as the process, and a
# seed another test compiled already would turn this test's first compile into a hit.


def _seeded_step(lazy_area: LazyArea, seed: int) -> torch.Tensor:
    out = draw(lazy_area.device, "uniform_", seed, (3, 7))
    lazy_area.mark_step()
    return out


@pytest.mark.conformance_needs(
    "counter:UncachedCompile", "counter:CachedCompile", "generator_ops_traced"
)
def test_seed_is_part_of_graph_hash(lazy_area: LazyArea) -> None:
    """Seeds 1, 2, 1 compile twice, then hit the cache for the repeated seed."""
    for seed in (1, 2, 1):
        _seeded_step(lazy_area, seed)
    assert lazy_area.counter_value("UncachedCompile") == 2
    assert lazy_area.counter_value("CachedCompile") == 1


def test_cached_graph_draws_with_the_new_generator(lazy_area: LazyArea) -> None:
    """A graph reused from the cache draws from the generator of this step, like CPU."""
    for seed in (21, 22, 21):
        out = _seeded_step(lazy_area, seed)
        expected = draw("cpu", "uniform_", seed, (3, 7))
        torch.testing.assert_close(out.cpu(), expected, msg=f"seed {seed}")
