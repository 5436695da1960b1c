"""The save-graphs hook: every sync appends its Python stack and IR to a file.

The program runs once, in a fresh process started with the backend's variable set
(``save_graphs_env``; PyTorch reads ``LTC_SAVE_TENSORS_FILE`` at start-up). The records
may land in the named file or in ``<file>.0`` (torch_xla appends the device ordinal).
Backends without the hook lack capability ``save_graphs``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from conformance.contract import LazyArea
from conformance.discovery import LoadedBackend
from conformance.lazy.isolated import run_isolated

pytestmark = pytest.mark.conformance_needs("save_graphs")

PROGRAM = """
def innermost_step(x):
    y = x * 3
    area.mark_step()
    return y

def middle_step(x):
    return innermost_step(x)

def outer_step():
    a = middle_step(torch.ones(2, 3).to(area.device))
    b = (a - 1).sum()
    area.mark_step()
    return b

result = float(outer_step().cpu())
"""

BEFORE = "kept from before\n"


@dataclass
class Record:
    stack: list[str]
    ops: list[str]


@dataclass
class Saved:
    result: float
    text: str
    records: list[Record]


#: An op in IR text of any dialect (``aten::mul``, ``xla::device_data``); namespace dropped.
OP = re.compile(r"\b(?:aten|prim|xla|lazy_tensors)::(\w+)")


def _parse(text: str) -> list[Record]:
    records = []
    for chunk in text.split("## END_GRAPH"):
        stack_part, found, graph = chunk.partition("## BEGIN_GRAPH")
        if not found:
            continue
        stack = [line.strip() for line in stack_part.splitlines() if line.startswith("  ")]
        records.append(Record(stack, OP.findall(graph)))
    return records


@pytest.fixture(scope="module")
def saved(conformance_backend: LoadedBackend, tmp_path_factory: pytest.TempPathFactory) -> Saved:
    area: LazyArea = conformance_backend.areas["lazy"]  # type: ignore[assignment]
    path = tmp_path_factory.mktemp("save_graphs") / "graphs.txt"
    # torch_xla appends the device ordinal and writes <file>.0: either file may get the
    # records, and both start with text the hook must append to, not overwrite.
    candidates = [path, path.with_name(path.name + ".0")]
    for candidate in candidates:
        candidate.write_text(BEFORE)
    result = run_isolated(conformance_backend.spec, PROGRAM, env={area.save_graphs_env: str(path)})
    texts = [c.read_text() for c in candidates]
    text = next((t for t in texts if t != BEFORE), texts[0])
    return Saved(result, text, _parse(text))


def _frame(stack: list[str], name: str) -> int:
    for k, line in enumerate(stack):
        if line.split(" ")[0] == name:
            return k
    raise AssertionError(f"frame {name!r} missing from the saved stack {stack}")


def test_every_sync_appends_a_record(saved: Saved) -> None:
    """Two steps with pending IR append two records to what the file held."""
    assert saved.result == 12.0
    assert saved.text.startswith(BEFORE), "the file was overwritten, not appended to"
    assert len(saved.records) == 2, f"expected 2 saved graphs:\n{saved.text}"


def test_records_hold_each_steps_graph(saved: Saved) -> None:
    """The first record's IR has the multiplication, the second the subtraction and sum."""
    first, second = saved.records[:2]
    assert "mul" in first.ops, first.ops
    assert "sub" not in first.ops, first.ops
    assert {"sub", "sum"} <= set(second.ops), second.ops


def test_stack_is_innermost_frame_first(saved: Saved) -> None:
    """Each stack lists the syncing function before its callers, down to <module>."""
    first, second = saved.records[:2]
    names = ("innermost_step", "middle_step", "outer_step", "<module>")
    order = [_frame(first.stack, n) for n in names]
    assert order == sorted(order), f"not innermost first: {first.stack}"
    assert _frame(second.stack, "outer_step") < _frame(second.stack, "<module>")
    returned = [line for line in second.stack if line.startswith("innermost_step")]
    assert returned == [], f"a returned frame is still on the stack: {second.stack}"
