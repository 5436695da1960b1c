"""The op sweep's accuracy rule: a backend may differ from CPU by CPU's own rounding.

``conformance.lazy.opsweep.accuracy_problem`` judges an output that differs from CPU
against the op's float64 result. These tests give it made-up outputs whose errors
against the exact result are known.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch

from conformance.lazy.opsweep import accuracy_problem


class _Op(SimpleNamespace):
    """A stand-in for an OpInfo entry: called on a sample's input, with a name."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


def _sum_op() -> Any:
    """A row sum, whose order of additions is free."""
    return _Op(name="sum_rows", fn=lambda x: x.sum(-1))


def _sample() -> Any:
    from torch.testing._internal.opinfo.core import SampleInput

    torch.manual_seed(0)
    return SampleInput(torch.randn(4, 1000) * 100)


def _judge(actual: torch.Tensor, expected: torch.Tensor) -> str | None:
    return accuracy_problem(
        _sum_op(), _sample(), actual, expected, seed=0, grads=False, tolerance=None
    )


def test_other_rounding_of_a_sum_conforms() -> None:
    """Off CPU by more than the tolerance, but no further from exact than CPU is: ''."""
    exact = _sample().input.double().sum(-1)
    cpu = (exact + torch.tensor([5e-3, 0, 0, 0], dtype=torch.float64)).float()
    backend = (exact + torch.tensor([0, 0, -5e-3, 0], dtype=torch.float64)).float()
    assert not torch.allclose(backend, cpu, atol=1e-5, rtol=1.3e-6)
    assert _judge(backend, cpu) == ""


def test_less_accurate_than_cpu_is_a_problem() -> None:
    """An error far beyond CPU's own is named with both errors."""
    exact = _sample().input.double().sum(-1)
    cpu = exact.float()
    backend = (exact + 0.5).float()
    problem = _judge(backend, cpu)
    assert problem is not None
    assert problem.startswith("max error 0.5")
    assert "against float64, CPU's own" in problem


@pytest.mark.parametrize("cpu_offset", [5.0, float("nan"), float("inf")])
def test_rule_stands_aside_when_cpu_is_not_rounding(cpu_offset: float) -> None:
    """CPU far from the float64 result (a dtype-dependent algorithm), or NaN/inf where
    it is finite: not rounding, so the rule does not decide (None) and the plain
    verdict stands."""
    exact = _sample().input.double().sum(-1)
    cpu = (exact + cpu_offset).float()
    backend = exact.float()
    assert _judge(backend, cpu) is None


def test_integer_outputs_must_still_be_equal() -> None:
    """A non-float output that differs makes the rule stand aside (None)."""
    op = _Op(name="argmax_rows", fn=lambda x: (x.sum(-1), x.argmax(-1)))
    sample = _sample()
    values, index = op(sample.input)
    wrong_index = index + 1
    verdict = accuracy_problem(
        op, sample, (values, wrong_index), (values, index), seed=0, grads=False, tolerance=None
    )
    assert verdict is None
