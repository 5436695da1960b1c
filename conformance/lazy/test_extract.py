"""extract_compiled_graph: trace an FX module once, then replay its graph on new inputs.

Every module is checked on ten fresh random inputs against eager CPU, outputs and the
arguments' values after the call (an in-place update must reach the caller's tensor).
"""

from __future__ import annotations

import copy
import inspect
import re
from collections.abc import Callable, Sequence

import pytest
import torch
from torch import fx, nn

from conformance.contract import LazyArea
from conformance.discovery import LoadedBackend
from conformance.lazy.counters import traced_ops
from conformance.lazy.isolated import run_isolated

pytestmark = pytest.mark.conformance_needs("extract_compiled_graph")


class Subtract(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a - b


class ScaleByConstant(nn.Module):
    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return a * 2


class AddcmulScalarValue(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(a, b, c, value=5)


class TwoResults(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return b + 1, a - 1


class RepeatedResult(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, ...]:
        c = a + b
        return a - b, c, a + 1, c


class UpdatesArgument(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a.sub_(b)
        return b - 1, b + 1


class WithParameters(nn.Module):
    """Parameters are captured by the extracted graph, not passed by the caller."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(3, 4)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.linear(a)) * 0.5


class CreatesOnCpu(nn.Module):
    """A traced factory with an explicit CPU device: extraction moves it to the lazy device.

    The factory's size comes from the argument, so tracing records it as a graph node
    (``ones(size, device=cpu)``) instead of baking a constant tensor into the module.
    """

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return a * torch.ones(a.shape, device="cpu") + 1


MODULES: dict[str, type[nn.Module]] = {
    "subtract": Subtract,
    "scale_by_constant": ScaleByConstant,
    "addcmul_scalar_value": AddcmulScalarValue,
    "two_results": TwoResults,
    "repeated_result": RepeatedResult,
    "updates_argument": UpdatesArgument,
    "with_parameters": WithParameters,
    "creates_on_cpu": CreatesOnCpu,
}


def random_args(module: nn.Module, generator: torch.Generator) -> list[torch.Tensor]:
    count = len(inspect.signature(module.forward).parameters)
    return [torch.randn(2, 3, generator=generator) for _ in range(count)]


def prefixed(where: str) -> Callable[[str], str]:
    """An assert_close ``msg`` that puts ``where`` before the mismatch report."""
    return lambda message: f"{where}: {message}"


def as_list(out: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
    return [out] if isinstance(out, torch.Tensor) else list(out)


@pytest.mark.parametrize("name", list(MODULES))
def test_replay_matches_eager_on_fresh_inputs(lazy_area: LazyArea, name: str) -> None:
    """The extracted graph gives eager's outputs and argument updates on 10 new inputs."""
    module = MODULES[name]()
    generator = torch.Generator().manual_seed(0)
    example = random_args(module, generator)
    replay = lazy_area.extract_compiled_graph(fx.symbolic_trace(module), copy.deepcopy(example))
    for case in range(10):
        args = random_args(module, generator)
        copies = copy.deepcopy(args)
        expected = as_list(module(*args))
        actual = list(replay(*copies))
        assert len(actual) == len(expected), f"case {case}: {len(actual)} outputs"
        for k, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert a.device.type == "cpu", f"case {case}, output {k} is on {a.device}"
            where = f"case {case}, output {k}"
            torch.testing.assert_close(a, e, msg=prefixed(where))
        for k, (a, e) in enumerate(zip(copies, args, strict=True)):
            where = f"case {case}, argument {k} after the call"
            torch.testing.assert_close(a, e, msg=prefixed(where))


@pytest.mark.conformance_needs("counter:UncachedCompile")
def test_replay_does_not_trace_again(lazy_area: LazyArea) -> None:
    """Calling the extracted graph records no lazy ops: it reruns the compiled graph."""
    module = Subtract()
    replay = lazy_area.extract_compiled_graph(
        fx.symbolic_trace(module), [torch.randn(2, 3), torch.randn(2, 3)]
    )
    lazy_area.reset_metrics()
    a, b = torch.randn(2, 3), torch.randn(2, 3)
    (out,) = replay(a, b)
    torch.testing.assert_close(out, a - b)
    # _to_copy: PyTorch counts copying the new inputs to the device as lazy::_to_copy.
    traced = [n for n in traced_ops(lazy_area.counter_names()) if not n.endswith("::_to_copy")]
    assert traced == [], f"replaying traced ops again: {traced}"
    assert lazy_area.counter_value("UncachedCompile") is None


def test_earlier_fallbacks_do_not_block_extraction(lazy_area: LazyArea) -> None:
    """A CPU fallback before extraction (here ``.item()``) does not make extraction fail.

    Only fallbacks while tracing the module count: a process that read a value back to
    CPU earlier can still extract a graph that needs none.
    """
    x = torch.randn(2, 3).to(lazy_area.device)
    x.sum().item()  # aten::_local_scalar_dense: a CPU fallback on every lazy backend
    assert any(name.startswith("aten::") for name in lazy_area.counter_names())
    args = [torch.randn(2, 3), torch.randn(2, 3)]
    replay = lazy_area.extract_compiled_graph(fx.symbolic_trace(Subtract()), args)
    fresh = [torch.randn(2, 3), torch.randn(2, 3)]
    (out,) = replay(*fresh)
    torch.testing.assert_close(out, fresh[0] - fresh[1])


def test_repeated_result_is_one_tensor_per_position(lazy_area: LazyArea) -> None:
    """A tensor returned twice comes back with equal values in both positions."""
    module = RepeatedResult()
    replay = lazy_area.extract_compiled_graph(
        fx.symbolic_trace(module), [torch.randn(2, 3), torch.randn(2, 3)]
    )
    out = replay(torch.randn(2, 3), torch.randn(2, 3))
    torch.testing.assert_close(out[1], out[3])


@pytest.mark.conformance_needs("force_fallback")
def test_forced_fallback_makes_extraction_fail(conformance_backend: LoadedBackend) -> None:
    """With aten::sub forced to CPU, extraction raises an error naming the fallback op.

    Runs in a fresh process: PyTorch's lazy backend keeps the first op ever forced.
    """
    message = run_isolated(
        conformance_backend.spec,
        """
        class Subtract(nn.Module):
            def forward(self, a, b):
                return a - b

        area.set_force_fallback("aten::sub")
        try:
            area.extract_compiled_graph(
                fx.symbolic_trace(Subtract()), [torch.randn(2, 3), torch.randn(2, 3)]
            )
            result = None
        except RuntimeError as exc:
            result = str(exc)
        """,
    )
    assert message is not None, "extraction succeeded although aten::sub fell back"
    assert re.search("fallback.*aten::sub", message), message
