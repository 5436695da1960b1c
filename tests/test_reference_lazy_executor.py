"""The reference lazy executor: what a compiled program keeps, and in-place parameter updates.

A compiled program is cached for the whole process, so it must hold nothing of the trace
it was compiled from (no IR node, no input data): otherwise every distinct graph keeps its
first inputs alive. A training step's in-place parameter updates must write into the
parameter's storage (as eager CPU does) without ever changing a value someone can still see.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
import torch

import reference_impl.lazy as lazy
from reference_impl.lazy import executor
from reference_impl.lazy.ir import Node, Value
from reference_impl.lazy.tensor import unwrap


@pytest.fixture(autouse=True)
def _device() -> Iterator[None]:
    lazy.init()
    lazy.mark_step()
    executor.clear_cache()
    yield
    lazy.mark_step()
    executor.clear_cache()


def _storage(t: torch.Tensor) -> int:
    data = unwrap(t).data_
    assert data is not None, "synced tensors hold device data"
    return int(data.untyped_storage().data_ptr())


def _program_objects(program: Any) -> Iterator[Any]:
    """Every object a cached program reaches through its own fields and generated code.

    Walks containers, dataclass fields and the generated function's namespace; stops
    at kernels (ATen ops and functions), which belong to torch, not to the program.
    """
    seen: set[int] = set()
    stack = [program]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        yield obj
        if isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
        elif hasattr(obj, "__dataclass_fields__") and not isinstance(obj, type):
            stack.extend(getattr(obj, name) for name in obj.__dataclass_fields__)
        elif getattr(getattr(obj, "__code__", None), "co_filename", "") == "<lazy program>":
            stack.append(obj.__globals__)  # the generated function's own namespace


def test_input_data_is_freed_once_the_user_drops_it() -> None:
    """After a step, dropping the tensors frees their device data although the graph's
    program stays cached (the cache must not keep the first trace's inputs alive)."""
    refs = []
    for n in range(3, 8):  # distinct shapes: distinct graphs, each compiled and cached
        x = torch.rand(n, 5).to("lazy")
        y = (x * 2 + 1).sum(0)
        lazy.mark_step()
        refs.append(weakref.ref(unwrap(x).data_))
        refs.append(weakref.ref(unwrap(y).data_))
        del x, y
    gc.collect()
    assert len(executor._cache) >= 5, "each graph was compiled and is cached"
    alive = [r for r in refs if r() is not None]
    assert not alive, f"{len(alive)} of {len(refs)} device data tensors are kept alive"


def test_cache_entries_hold_no_node_and_no_data() -> None:
    """A cached program reaches no IR node, IR value or tensor: only slots, instructions,
    kernels and literal arguments."""
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    model = model.to("lazy")
    x = torch.rand(5, 4).to("lazy")
    for _ in range(2):
        model(x).sum().backward()
        lazy.mark_step()
    programs = list(executor._cache.values())
    assert programs
    for program in programs:
        kept = [
            type(o).__name__
            for o in _program_objects(program)
            if isinstance(o, Node | Value | torch.Tensor)
        ]
        assert not kept, f"a cached program keeps {sorted(set(kept))}"


def _train(device: str, steps: int) -> tuple[torch.nn.Module, list[list[int]]]:
    """SGD on a small MLP; the parameters' storages after each step (lazy only)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    model = model.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.rand(4, 6).to(device)
    y = torch.tensor([0, 2, 1, 0]).to(device)
    storages = []
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        if device == "lazy":
            lazy.mark_step()
            storages.append([_storage(p) for p in model.parameters()])
    return model, storages


def test_parameter_storage_stays_the_same_across_steps() -> None:
    """In steady state a step updates each parameter in its own storage, as eager does,
    and the values are eager's."""
    model, storages = _train("lazy", 6)
    steady = storages[2:]
    assert all(s == steady[0] for s in steady), f"parameter storages moved: {steady}"
    eager, _ = _train("cpu", 6)
    for got, want in zip(model.parameters(), eager.parameters(), strict=True):
        torch.testing.assert_close(got.detach().cpu(), want.detach())


def test_an_update_never_overwrites_data_another_tensor_holds() -> None:
    """Data still held by another lazy tensor (a clone, a view) is not reused for an
    in-place update: the clone keeps the old value, the view sees the new one."""
    p = torch.ones(3, 4).to("lazy")
    p.add_(1.0)
    lazy.mark_step()
    for _ in range(3):  # reach steady state: p's update is written in place
        p.add_(1.0)
        lazy.mark_step()
    clone = p.clone()
    view = p.view(12)
    lazy.mark_step()
    p.add_(1.0)
    lazy.mark_step()
    p.add_(1.0)
    lazy.mark_step()
    torch.testing.assert_close(clone.cpu(), torch.full((3, 4), 5.0))
    torch.testing.assert_close(view.cpu(), torch.full((12,), 7.0))
    torch.testing.assert_close(p.cpu(), torch.full((3, 4), 7.0))


def test_program_is_one_generated_function() -> None:
    """A compiled program's code is Python source with one line per instruction."""
    x = torch.rand(3).to("lazy")
    y = (x + 1) * 2
    lazy.mark_step()
    del y
    (program,) = executor._cache.values()
    assert program.source.startswith("def program(inputs):")
    assert len(program.source.strip().splitlines()) == 2 + len(program.instructions) + 1


def test_an_update_never_overwrites_an_input_another_leaf_reads() -> None:
    """An input the user dropped may still be read through a second leaf holding the
    same data (here ``t`` reaches the graph as two device_data leaves): no result may
    be written into it."""
    cpu = torch.arange(12.0).reshape(3, 4) - 5

    def program(t: torch.Tensor) -> list[torch.Tensor]:
        return [t + 2, t * 2, 2 - t, t / 2, t**2, t > 2, torch.where(t > 0, t, 2)]

    want = program(cpu)
    got = program(cpu.to("lazy"))  # the device copy of the input is held by no one
    lazy.mark_step()
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        torch.testing.assert_close(g.cpu(), w, msg=f"result {k}")
