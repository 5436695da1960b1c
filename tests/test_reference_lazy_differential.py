"""The reference lazy device against torch._lazy on random programs (tests/lazy_differential).

CI runs a fixed seed and budget (``LAZY_DIFF_EXAMPLES``, ``LAZY_DIFF_SEED`` raise or move
it); a failure names the shrunk program as Python and shows the IR diff.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("hypothesis", reason="install the dev extra: pip install -e '.[dev]'")

from tests.lazy_differential import driver
from tests.lazy_differential.program import Input, Program


@pytest.fixture(scope="module")
def workers() -> Iterator[driver.Workers]:
    pair = driver.Workers()
    yield pair
    pair.close()


def test_reference_matches_torch_lazy_on_random_programs(workers: driver.Workers) -> None:
    """IR text before a step equals torch._lazy's and values equal CPU's, program by program."""
    driver.check(workers)


def test_a_device_that_falls_back_is_caught() -> None:
    """On a reference device that runs ``aten::mul`` on CPU the search finds a program.

    The broken device's values still match CPU: only the IR comparison can catch it.
    """
    from tests.lazy_differential.worker import FORCE_FALLBACK_ENV

    broken = driver.Workers(reference_env={FORCE_FALLBACK_ENV: "aten::mul"})
    try:
        with pytest.raises(AssertionError, match="IR text differs") as caught:
            driver.check(broken, examples=40, seed=driver.DEFAULT_SEED, shrink=False)
    finally:
        broken.close()
    assert "out = [" in str(caught.value)  # the program is printed as source


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
    assert "-  %2 = [Float[3]] aten::mul(%1, %0), ROOT=0" in details
    assert "+  %2 = [Float[3]] aten::add(%1, %0, %0), ROOT=0" in details or "aten::add" in details


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


SHARED = """IR {
  %0 = [Float[1,4]] lazy_tensors::device_data(), device=CPU0
  %1 = [Float[4,1]] aten::t_copy(%0)
  %2 = [Float[1,1]] aten::mm(%0, %1), ROOT=0
  %3 = [Float[1,4]] aten::t_copy(%1), ROOT=1
}
"""
RECOMPUTED = """IR {
  %0 = [Float[1,4]] lazy_tensors::device_data(), device=CPU0
  %1 = [Float[4,1]] aten::t_copy(%0)
  %2 = [Float[1,1]] aten::mm(%0, %1), ROOT=0
  %3 = [Float[4,1]] aten::t_copy(%0)
  %4 = [Float[1,4]] aten::t_copy(%3), ROOT=1
}
"""


def test_a_view_recorded_twice_is_the_known_difference() -> None:
    """IR that differs only by a view node recorded twice is the known reference difference."""
    assert driver.only_views_recomputed(RECOMPUTED, SHARED)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("aten::t_copy(%3), ROOT=1", "aten::neg(%3), ROOT=1"),  # another op
        ("%4 = [Float[1,4]]", "%4 = [Double[1,4]]"),  # another type
        ("aten::mm(%0, %1)", "aten::mm(%1, %0)"),  # other operands
    ],
)
def test_other_differences_are_not_the_known_one(old: str, new: str) -> None:
    """Any difference beyond a duplicated view node is still reported."""
    changed = RECOMPUTED.replace(old, new)
    assert changed != RECOMPUTED
    assert not driver.only_views_recomputed(changed, SHARED)


def test_known_torch_failures_match_only_their_programs() -> None:
    """A torch._lazy crash is excused only for the programs whose mechanism it names."""
    crash = {"error": "the torch worker crashed", "values": ""}
    assert driver.known_torch_failure("v1 = x0.split(1, 0)[-1]\n", crash) is not None
    assert driver.known_torch_failure("v1 = x0 + 1\n", crash) is None
