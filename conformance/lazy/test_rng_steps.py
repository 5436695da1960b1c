"""Random numbers across steps: a generator keeps moving on through cached steps.

A training loop repeats one step: the same random ops on the same shapes, so from the
second step on its graph is a compile-cache hit. The compiled program must still draw
new numbers each step, from where the generator stands *now*.

Which random facts hold for every lazy device:

- An explicit CPU ``torch.Generator`` passed to a random op draws CPU's numbers, in the
  order the program makes them. PyTorch's TorchScript lazy backend lowers the op and
  draws with that generator; torch_xla runs random ops given a generator as CPU
  fallbacks (``aten_xla_type.cpp``). Both give CPU's sequence, so these tests hold every
  backend to it.
- The device's *default* RNG (``torch.rand(..., device=lazy)`` after
  ``torch.manual_seed``) is the device's own. It equals CPU's on the TorchScript
  backend, which executes through CPU kernels, and not on torch_xla (a device seed of
  its own). Every backend must draw new numbers each step; only tests marked
  ``conformance_needs("cpu_rng")`` (a capability the backend declares, see
  ``conformance.contract.LAZY_CAPABILITIES``) compare them with CPU's.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from conformance.contract import LazyArea

STEPS = 4
Draw = Callable[[str, torch.Generator], list[torch.Tensor]]

#: One step's draws from one generator; each step of a run makes the same calls.
DRAWS: dict[str, Draw] = {
    "uniform_": lambda d, g: [torch.empty(3, 5, device=d).uniform_(-1.0, 2.0, generator=g)],
    "normal_": lambda d, g: [torch.empty(3, 5, device=d).normal_(0.5, 2.0, generator=g)],
    "bernoulli_": lambda d, g: [torch.empty(4, 6, device=d).bernoulli_(0.3, generator=g)],
    "uniform_then_normal_": lambda d, g: [
        torch.empty(2, 7, device=d).uniform_(generator=g),
        torch.empty(2, 7, device=d).normal_(generator=g),
    ],
}


def run_steps(
    device: str, draw: Draw, seed: int, lazy_area: LazyArea | None = None
) -> tuple[list[list[torch.Tensor]], torch.Tensor]:
    """``STEPS`` identical steps drawing from one generator; what they drew and drew next."""
    generator = torch.Generator().manual_seed(seed)
    steps = []
    for _ in range(STEPS):
        drawn = draw(device, generator)
        if lazy_area is not None:
            lazy_area.mark_step()
        steps.append([t.cpu() for t in drawn])
    return steps, torch.rand(5, generator=generator)


@pytest.mark.parametrize("name", list(DRAWS))
def test_one_generator_across_cached_steps_matches_cpu(lazy_area: LazyArea, name: str) -> None:
    """Identical steps drawing from one generator give CPU's sequence, step after step.

    From the second step on the step's graph is a cache hit; the cached program must
    draw from the generator's current state, not replay the state it was compiled
    with. After the steps the generator continues where CPU's does.
    """
    got, got_next = run_steps(lazy_area.device, DRAWS[name], 41, lazy_area)
    want, want_next = run_steps("cpu", DRAWS[name], 41)
    for step, (a, e) in enumerate(zip(got, want, strict=True)):
        torch.testing.assert_close(a, e, msg=lambda m, step=step: f"step {step + 1}: {m}")
    torch.testing.assert_close(got_next, want_next, msg=lambda m: f"generator after: {m}")


@pytest.mark.conformance_needs("counter:UncachedCompile")
def test_steps_with_one_generator_compile_once(lazy_area: LazyArea) -> None:
    """Identical steps drawing from one advancing generator hit the compile cache.

    The generator's state changes every step, like the data of a batch: it must be an
    input of the compiled program, not part of the compile-cache key, or a training
    loop drawing from an explicit generator compiles anew every step.
    """
    generator = torch.Generator().manual_seed(43)

    def step() -> torch.Tensor:
        out = (torch.empty(2, 9, device=lazy_area.device).uniform_(generator=generator) * 3).sum()
        lazy_area.mark_step()
        return out

    results = [step()]
    uncached = lazy_area.counter_value("UncachedCompile") or 0
    results += [step() for _ in range(STEPS - 1)]
    extra = (lazy_area.counter_value("UncachedCompile") or 0) - uncached
    assert extra == 0, f"{extra} new compiles in {STEPS - 1} identical steps after the first"
    assert len({float(r.cpu()) for r in results}) == STEPS, "steps drew the same numbers"


def test_generator_shared_with_cpu_code_keeps_eager_order(lazy_area: LazyArea) -> None:
    """A device draw traced before a CPU draw from the same generator gets the first numbers.

    Eager order is program order: the device op was called first, so it takes the
    generator's next numbers and the CPU draw after it the ones after those, even
    though the device op only executes at the step.
    """
    generator = torch.Generator().manual_seed(47)
    lazy = torch.empty(6, device=lazy_area.device).uniform_(generator=generator)
    cpu_between = torch.rand(6, generator=generator)
    lazy_area.mark_step()
    reference = torch.Generator().manual_seed(47)
    torch.testing.assert_close(
        lazy.cpu(), torch.empty(6).uniform_(generator=reference), msg=lambda m: f"device: {m}"
    )
    torch.testing.assert_close(
        cpu_between, torch.rand(6, generator=reference), msg=lambda m: f"CPU draw after it: {m}"
    )


def _default_rng_steps(device: str, lazy_area: LazyArea | None) -> list[list[torch.Tensor]]:
    torch.manual_seed(53)
    steps = []
    for _ in range(STEPS):
        drawn = [torch.rand(4, 6, device=device), torch.randn(3, device=device)]
        if lazy_area is not None:
            lazy_area.mark_step()
        steps.append([t.cpu() for t in drawn])
    return steps


def test_default_rng_steps_draw_new_numbers(lazy_area: LazyArea) -> None:
    """Identical steps drawing from the device's default RNG draw new numbers each step.

    The steps are cache hits after the first; a cached program that replays its
    random numbers would give every step the first step's values.
    """
    steps = _default_rng_steps(lazy_area.device, lazy_area)
    for step in range(1, STEPS):
        for k, (now, before) in enumerate(zip(steps[step], steps[step - 1], strict=True)):
            assert not torch.equal(now, before), f"step {step + 1} repeats draw {k} of step {step}"
    uniform = torch.stack([s[0] for s in steps])
    assert bool(((uniform >= 0) & (uniform < 1)).all()), "torch.rand drew outside [0, 1)"


@pytest.mark.conformance_needs("cpu_rng")
def test_default_rng_steps_match_cpu(lazy_area: LazyArea) -> None:
    """After ``torch.manual_seed``, identical steps on the device draw CPU's sequence."""
    got = _default_rng_steps(lazy_area.device, lazy_area)
    want = _default_rng_steps("cpu", None)
    for step, (a, e) in enumerate(zip(got, want, strict=True)):
        torch.testing.assert_close(a, e, msg=lambda m, step=step: f"step {step + 1}: {m}")
