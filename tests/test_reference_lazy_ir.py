"""Unit tests of the reference lazy IR (nodes, numbering, verifier, hash, text) without a device."""

from __future__ import annotations

import pytest
import torch

from reference_impl.lazy import executor, metrics
from reference_impl.lazy.executor import Operand
from reference_impl.lazy.ir import IRError, Node, Value, device_data, graph_hash, post_order, verify
from reference_impl.lazy.text import format_attr, to_dot, to_text

aten = torch.ops.aten


def add(a: Value, b: Value) -> Node:
    return Node(
        "aten::add",
        (a, b),
        dtypes=(torch.float32,),
        shapes=(a.shape,),
        target=aten.add.Tensor,
        template=((Operand(0), Operand(1)), {}),
    )


def test_post_order_numbers_last_operand_first() -> None:
    """Operands are numbered in reverse order before their user, as PyTorch does."""
    a, b = device_data(torch.ones(2)), device_data(torch.zeros(2))
    node = add(a.value(), b.value())
    assert post_order([node.value()]) == [b, a, node]


def test_shared_node_is_numbered_once() -> None:
    """A node used twice appears once in post order."""
    a = device_data(torch.ones(2))
    node = add(a.value(), a.value())
    assert post_order([node.value(), a.value()]) == [a, node]


def test_text_format() -> None:
    """Text uses PyTorch's lazy IR layout: types, op, operands, attributes, ROOT."""
    a, b = device_data(torch.ones(2, 3)), device_data(torch.ones(3))
    text = to_text([add(a.value(), b.value()).value()])
    assert text == (
        "IR {\n"
        "  %0 = [Float[3]] lazy_tensors::device_data(), device=CPU0\n"
        "  %1 = [Float[2,3]] lazy_tensors::device_data(), device=CPU0\n"
        "  %2 = [Float[2,3]] aten::add(%1, %0), ROOT=0\n"
        "}\n"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "1"),
        (False, "0"),
        (3, "3"),
        (0.5, "0.5"),
        (1.0, "1"),
        ([2, 3], "2 3"),
        (torch.bfloat16, "BFloat16"),
        (torch.strided, "Strided"),
    ],
)
def test_attribute_spelling(value: object, text: str) -> None:
    """Attribute values are spelled as PyTorch's lazy IR prints them."""
    assert format_attr(value) == text


def test_dot_has_labelled_nodes_and_edges() -> None:
    """The dot dump labels nodes with op and type and edges with operand index."""
    a = device_data(torch.ones(2))
    dot = to_dot([add(a.value(), a.value()).value()])
    assert 'node1 [label="aten::add\\nFloat[2]\\nROOT=0"]' in dot
    assert 'node0 -> node1 [label="i=1"]' in dot


def test_verifier_names_the_bad_node() -> None:
    """A node using a missing output is reported with its number and op."""
    a = device_data(torch.ones(2))
    bad = Node("aten::neg", (Value(a, 1),), dtypes=(torch.float32,), shapes=((2,),))
    with pytest.raises(IRError, match=r"node %1 \(aten::neg\): operand 0 uses output 1 of %0"):
        verify([bad.value()])


def test_verifier_rejects_inconsistent_types() -> None:
    """A node declaring more dtypes than outputs is rejected."""
    bad = Node("aten::foo", dtypes=(torch.float32, torch.int64), shapes=((1,),))
    with pytest.raises(IRError, match=r"node %0 \(aten::foo\): 2 dtypes for 1 outputs"):
        verify([bad.value()])


def test_verifier_accepts_good_graph() -> None:
    """A well-formed graph verifies."""
    a = device_data(torch.ones(2))
    verify([add(a.value(), a.value()).value()])


def test_hash_ignores_data_but_not_structure() -> None:
    """Equal structure on different data hashes equal; another shape hashes differently."""
    g1 = add(device_data(torch.ones(2)).value(), device_data(torch.ones(2)).value())
    g2 = add(device_data(torch.zeros(2)).value(), device_data(torch.rand(2)).value())
    g3 = add(device_data(torch.ones(3)).value(), device_data(torch.ones(3)).value())
    assert graph_hash([g1.value()]) == graph_hash([g2.value()])
    assert graph_hash([g1.value()]) != graph_hash([g3.value()])


def test_executor_compiles_once_per_hash() -> None:
    """A second graph with the same hash reuses the program and computes on its own data."""
    executor.clear_cache()
    metrics.reset()
    first = executor.execute(
        [add(device_data(torch.ones(2)).value(), device_data(torch.ones(2)).value()).value()]
    )
    second = executor.execute(
        [
            add(
                device_data(torch.full((2,), 2.0)).value(), device_data(torch.ones(2)).value()
            ).value()
        ]
    )
    assert metrics.counter_value("UncachedCompile") == 1
    assert metrics.counter_value("CachedCompile") == 1
    torch.testing.assert_close(first[0], torch.full((2,), 2.0))
    torch.testing.assert_close(second[0], torch.full((2,), 3.0))
    metrics.reset()
