"""Metrics, tensor ids, step closures and debug dumps."""

from __future__ import annotations

import pytest
import torch

from conformance.contract import LazyArea
from conformance.lazy.dialects import normalize


@pytest.mark.conformance_needs("counter:MarkStep")
def test_unknown_and_zero_counters_are_none(lazy_area: LazyArea) -> None:
    """counter_value is None for an unknown name and for a counter reset to zero."""
    assert lazy_area.counter_value("NoSuchCounter") is None
    lazy_area.mark_step()
    assert lazy_area.counter_value("MarkStep") == 1
    lazy_area.reset_metrics()
    assert lazy_area.counter_value("MarkStep") is None


@pytest.mark.conformance_needs("counter:MarkStep")
def test_counter_names_hide_zero_counters(lazy_area: LazyArea) -> None:
    """After reset no counter is listed; a step lists MarkStep."""
    lazy_area.reset_metrics()
    assert "MarkStep" not in lazy_area.counter_names()
    lazy_area.mark_step()
    assert "MarkStep" in lazy_area.counter_names()


@pytest.mark.conformance_needs("counter:MarkStep")
def test_mark_step_counts_each_step(lazy_area: LazyArea) -> None:
    """MarkStep increments once per step."""
    for _ in range(3):
        lazy_area.mark_step()
    assert lazy_area.counter_value("MarkStep") == 3


@pytest.mark.conformance_needs("counter:lazy_ops")
def test_recorded_ops_count_under_lazy_names(lazy_area: LazyArea) -> None:
    """Each recorded op counts under lazy::<op>."""
    x = torch.rand(3).to(lazy_area.device)
    y = x * 2
    y = y * 3
    y + 1
    assert lazy_area.counter_value("lazy::mul") == 2
    assert lazy_area.counter_value("lazy::add") == 1


@pytest.mark.conformance_needs("counter:SyncedTensorsWithIR")
def test_synced_tensors_with_ir_counts_pending_tensors(lazy_area: LazyArea) -> None:
    """A step syncs every live tensor with pending IR, and only those."""
    x = torch.rand(3).to(lazy_area.device)
    lazy_area.mark_step()
    lazy_area.reset_metrics()
    a = x * 2
    b = a + 1
    lazy_area.mark_step()
    assert lazy_area.counter_value("SyncedTensorsWithIR") == 2
    lazy_area.reset_metrics()
    lazy_area.mark_step()
    assert lazy_area.counter_value("SyncedTensorsWithIR") is None
    torch.testing.assert_close(b.cpu(), a.cpu() + 1)


@pytest.mark.conformance_needs("counter:CreateLtcTensor", "counter:DestroyLtcTensor")
def test_tensor_creation_and_destruction_count(lazy_area: LazyArea) -> None:
    """Creating lazy tensors counts CreateLtcTensor; freeing them counts DestroyLtcTensor."""
    x = torch.rand(3).to(lazy_area.device)
    created = lazy_area.counter_value("CreateLtcTensor") or 0
    assert created >= 1
    y = x * 2
    assert (lazy_area.counter_value("CreateLtcTensor") or 0) > created
    destroyed = lazy_area.counter_value("DestroyLtcTensor") or 0
    del y
    assert (lazy_area.counter_value("DestroyLtcTensor") or 0) > destroyed


@pytest.mark.conformance_needs("counter:DeviceDataCacheMiss")
def test_scalar_upload_counts_cache_miss(lazy_area: LazyArea) -> None:
    """A scalar never used before is uploaded once: DeviceDataCacheMiss counts it."""
    x = torch.rand(3).to(lazy_area.device)
    lazy_area.mark_step()
    lazy_area.reset_metrics()  # count the scalar's upload only, not the tensor's
    x * 123.456789
    assert lazy_area.counter_value("DeviceDataCacheMiss") == 1


def test_metrics_report_lists_counters(lazy_area: LazyArea) -> None:
    """The report names the non-zero counters."""
    lazy_area.mark_step()
    report = lazy_area.metrics_report()
    assert "MarkStep" in report


def test_tensor_id_is_stable_and_unique(lazy_area: LazyArea) -> None:
    """get_tensor_id is the same for one tensor and differs between tensors."""
    x = torch.rand(3).to(lazy_area.device)
    y = x + 1
    assert lazy_area.get_tensor_id(x) == lazy_area.get_tensor_id(x)
    assert lazy_area.get_tensor_id(x) != lazy_area.get_tensor_id(y)


def test_step_closure_runs_once_at_mark_step(lazy_area: LazyArea) -> None:
    """A step closure runs once, in the next step: not when added, not again later.

    (That it runs after the step's graph executed is test_closures.py's
    test_sync_closure_runs_after_graph_executed: reading ``x.cpu()`` here would give
    the right value even from a closure run before the graph.)
    """
    x = torch.arange(3.0).to(lazy_area.device) * 2
    seen: list[torch.Tensor] = []
    lazy_area.add_step_closure(lambda: seen.append(x.cpu()))
    assert seen == []
    lazy_area.mark_step()
    assert len(seen) == 1
    torch.testing.assert_close(seen[0], torch.arange(3.0) * 2)
    lazy_area.mark_step()
    assert len(seen) == 1


def test_ir_text_roots_follow_argument_order(lazy_area: LazyArea) -> None:
    """ROOT=k marks the node of the k-th tensor passed."""
    x = torch.rand(3).to(lazy_area.device)
    a, b = x * 2, x + 1
    nodes = normalize(lazy_area.ir_text([b, a]), lazy_area.ir_dialect)
    roots = {op: root for op, _, _, root in nodes if root is not None}
    assert roots == {"add": 0, "mul": 1}


def test_ir_dot_is_a_digraph(lazy_area: LazyArea) -> None:
    """The dot dump is a Graphviz digraph with one node per IR node and one edge per operand."""
    x = torch.rand(3).to(lazy_area.device)
    roots = [(x * x).sum()]
    dot = lazy_area.ir_dot(roots)
    assert dot.startswith("digraph G {")
    assert "aten::mul" in dot
    lines = [line.strip() for line in dot.splitlines()[1:] if "[" in line or "->" in line]
    edges = [line for line in lines if "->" in line]
    graph = normalize(lazy_area.ir_text(roots), lazy_area.ir_dialect)
    assert len(lines) - len(edges) == len(graph), dot
    assert len(edges) == sum(len(operands) for _, _, operands, _ in graph), dot


def test_tensor_id_survives_mark_step(lazy_area: LazyArea) -> None:
    """A step swaps a tensor's IR for data but keeps its id."""
    x = torch.rand(3).to(lazy_area.device) * 2
    before = lazy_area.get_tensor_id(x)
    lazy_area.mark_step()
    assert lazy_area.get_tensor_id(x) == before


@pytest.mark.conformance_needs("counter:MarkStep")
def test_empty_step_only_counts_mark_step(lazy_area: LazyArea) -> None:
    """A step with nothing pending counts MarkStep and compiles, syncs and creates nothing."""
    lazy_area.mark_step()
    lazy_area.reset_metrics()
    lazy_area.mark_step()
    assert lazy_area.counter_names() == ["MarkStep"]


@pytest.mark.conformance_needs("counter:DeviceDataCacheMiss")
def test_reused_scalar_is_uploaded_once(lazy_area: LazyArea) -> None:
    """Using the same Python scalar twice uploads it once (one DeviceDataCacheMiss)."""
    x = torch.rand(3).to(lazy_area.device)
    lazy_area.mark_step()
    lazy_area.reset_metrics()
    x * 98.7654321
    x * 98.7654321
    assert lazy_area.counter_value("DeviceDataCacheMiss") == 1


def test_step_closures_run_in_registration_order(lazy_area: LazyArea) -> None:
    """Step closures run in the order they were added."""
    order: list[int] = []
    lazy_area.add_step_closure(lambda: order.append(1))
    lazy_area.add_step_closure(lambda: order.append(2))
    lazy_area.mark_step()
    assert order == [1, 2]
