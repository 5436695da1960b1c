"""Unit tests of issue 5's pieces that need no lazy device: IR reuse, the generator
operand, and the divergence reporter's program text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from conformance.lazy.divergence import Divergence, reproducer
from reference_impl.lazy import executor, metrics, reuse
from reference_impl.lazy.executor import GeneratorOperand, Operand
from reference_impl.lazy.ir import Node, Value, device_data

aten = torch.ops.aten


def mul(a: Value, b: Value) -> Node:
    return Node(
        "aten::mul",
        (a, b),
        dtypes=(torch.float32,),
        shapes=(a.shape,),
        target=aten.mul.Tensor,
        template=((Operand(0), Operand(1)), {}),
    )


@pytest.fixture
def reuse_on() -> Iterator[None]:
    reuse.clear()
    metrics.reset()
    reuse.set_reuse_ir(True)
    yield
    reuse.set_reuse_ir(False)
    reuse.clear()
    metrics.reset()


def test_reuse_hands_out_the_earlier_node_for_the_same_computation(reuse_on: None) -> None:
    """A retrace with identical operands gets the first trace's node and counts the reuse."""
    a = reuse.intern(device_data(torch.ones(2)))
    first = reuse.intern(mul(a.value(), a.value()))
    reuse.reset_position()
    assert reuse.intern(a) is a
    again = reuse.intern(mul(a.value(), a.value()))
    assert again is first
    assert metrics.counter_value("IrNodeReused_aten::mul") == 1


def test_reuse_never_swaps_in_other_data(reuse_on: None) -> None:
    """A leaf holding other data of the same type is a new node: reuse never changes values."""
    a = reuse.intern(device_data(torch.ones(2)))
    reuse.intern(mul(a.value(), a.value()))
    reuse.reset_position()
    b = reuse.intern(device_data(torch.zeros(2)))
    assert b is not a
    node = reuse.intern(mul(b.value(), b.value()))
    assert node.operands[0].node is b
    assert metrics.counter_value("IrNodeReused_aten::mul") is None


def test_reuse_off_returns_the_new_node() -> None:
    """With reuse off (the default), intern hands back the node it was given."""
    reuse.set_reuse_ir(False)
    node = device_data(torch.ones(2))
    assert reuse.intern(node) is node


def test_generator_operand_restores_the_recorded_state() -> None:
    """A generator operand runs the op with a generator in the recorded state, like CPU."""
    g = torch.Generator().manual_seed(5)
    state = device_data(g.get_state())
    out = device_data(torch.empty(4))
    node = Node(
        "aten::uniform",
        (out.value(), state.value()),
        dtypes=(torch.float32,),
        shapes=((4,),),
        target=aten.uniform.default,
        template=((Operand(0), 0.0, 1.0), {"generator": GeneratorOperand(1)}),
    )
    (got,) = executor.execute([node.value()])
    torch.testing.assert_close(got, torch.rand(4, generator=torch.Generator().manual_seed(5)))


def test_reproducer_runs_and_passes_on_cpu() -> None:
    """The minimal program, with device set to cpu, runs and compares the call to itself."""
    a = torch.tensor([[1.0, -2.0], [3.0, -4.0]])
    text = reproducer("torch.clamp", ([a], {"min": -1.0}), ([a], {"min": -1.0}), "lazy")
    assert "torch.clamp(a0.to(device), min=-1.0)" not in text  # a is on CPU, not the device
    scope: dict[str, object] = {}
    exec(compile(text.replace('device = "lazy"', 'device = "cpu"'), "<repro>", "exec"), scope)
    torch.testing.assert_close(scope["actual"], torch.clamp(a, min=-1.0))


def test_reproducer_moves_device_inputs_and_device_arguments() -> None:
    """Inputs that lived on the device are moved with .to(device); device arguments become it."""

    meta = torch.empty(2, device="meta")
    cpu = torch.tensor([1.0, 2.0])
    text = reproducer(
        "Tensor.to", ([meta, torch.device("meta")], {}), ([cpu, torch.device("cpu")], {}), "meta"
    )
    assert "a0 = torch.tensor([1.0, 2.0], dtype=torch.float32)" in text
    assert "actual = torch.Tensor.to(a0.to(device), device)" in text
    assert "expected = torch.Tensor.to(a0, device(type='cpu'))" in text


def test_divergence_report_names_node_call_place_and_program() -> None:
    """describe() puts the node, the call, the place and the program in the message."""
    report = Divergence(
        index=3,
        op="relu",
        call="torch.relu",
        ir="IR {\n}\n",
        where="model.py:12 in forward: return x.relu()",
        mismatch="Mismatched elements: 1 / 4",
        repro="import torch\n",
    ).describe()
    assert report.startswith("first divergent node: relu (call #3 in execution order: torch.relu)")
    assert "model.py:12 in forward" in report
    assert "minimal program reproducing it:\nimport torch" in report
