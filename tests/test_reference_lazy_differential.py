"""The reference lazy device against torch._lazy on random programs (tests/lazy_differential).

CI runs a fixed seed and budget (``LAZY_DIFF_EXAMPLES``, ``LAZY_DIFF_SEED`` raise or move
it); a failure names the shrunk program as Python and shows the IR diff.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("hypothesis", reason="install the dev extra: pip install -e '.[dev]'")

from tests.lazy_differential import driver  # noqa: E402
from tests.lazy_differential.program import Input, Program  # noqa: E402


@pytest.fixture(scope="module")
def workers() -> Iterator[driver.Workers]:
    pair = driver.Workers()
    yield pair
    pair.close()


def test_reference_matches_torch_lazy_on_random_programs(workers: driver.Workers) -> None:
    """IR text before a step equals torch._lazy's and values equal CPU's, program by program."""
    driver.check(workers)


def test_a_difference_is_reported_with_the_program(workers: driver.Workers) -> None:
    """A program on which the answers differ is reported with its source and the IR diff.

    The reference is asked one program and torch._lazy another, so their IR differs.
    """
    import torch

    one = Program((Input("x0", (3,), torch.float32, False),), ("v1 = x0 + 1",), ("v1",))
    other = Program((Input("x0", (3,), torch.float32, False),), ("v1 = x0 * 2",), ("v1",))
    workers.reference.send(one.source())
    workers.torch.send(other.source())
    ref, torch_answer = workers.reference.receive(), workers.torch.receive()
    kind, details = driver.difference(one, ref, torch_answer)
    assert kind == "IR text differs"
    assert "-  %3 = [Float[3]] aten::mul" in details.replace("%2", "%3") or "aten::mul" in details
    assert "aten::add" in details


def test_a_wrong_reference_value_is_reported(workers: driver.Workers) -> None:
    """A reference answer whose values differ from CPU fails even when the IR text agrees."""
    import torch

    program = Program((Input("x0", (3,), torch.float32, False),), ("v1 = x0 + 1",), ("v1",))
    ref, torch_answer = workers.ask(program)
    assert driver.difference(program, ref, torch_answer) == ("", "")
    broken = dict(ref, values="out[0]: Tensor-likes are not close!")
    assert driver.difference(program, broken, torch_answer)[0] == (
        "reference values differ from CPU"
    )
