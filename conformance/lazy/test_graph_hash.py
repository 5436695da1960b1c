"""graph_hash, the compile-cache key: one structural difference changes it, data does not.

Each pair of ``hash_pairs.py`` differs in exactly one thing (a shape, a dtype, an
attribute, an op, an edge, the roots) or in data only. Besides the hashes themselves,
a step of the second graph right after a step of the first must compute the second
graph's values: a cache key that misses the difference makes that step a cache hit
that runs the first graph's program.
"""

from __future__ import annotations

import pytest
import torch

from conformance.contract import LazyArea
from conformance.lazy.hash_pairs import PAIRS, Pair

DIFFERING = [pair for pair in PAIRS if pair.differs is not None]
ALIKE = [pair for pair in PAIRS if pair.differs is None]


def _ids(pairs: list[Pair]) -> list[str]:
    return [pair.name for pair in pairs]


def _hash_and_text(lazy_area: LazyArea, program: object) -> tuple[str, str]:
    roots = program(lazy_area.device, lazy_area.mark_step)  # type: ignore[operator]
    return lazy_area.graph_hash(roots), lazy_area.ir_text(roots)


def _shown(text_a: str, text_b: str) -> str:
    return f"first graph:\n{text_a}second graph:\n{text_b}"


@pytest.mark.parametrize("pair", DIFFERING, ids=_ids(DIFFERING))
def test_graphs_differing_in_one_thing_hash_differently(lazy_area: LazyArea, pair: Pair) -> None:
    """Two graphs differing only in the named thing have different hashes."""
    hash_a, text_a = _hash_and_text(lazy_area, pair.a)
    hash_b, text_b = _hash_and_text(lazy_area, pair.b)
    assert hash_a != hash_b, (
        f"graphs differing only in {pair.differs} ({pair.name}) hash alike\n"
        + _shown(text_a, text_b)
    )


@pytest.mark.parametrize("pair", ALIKE, ids=_ids(ALIKE))
def test_graphs_differing_only_in_data_hash_alike(lazy_area: LazyArea, pair: Pair) -> None:
    """Two graphs of the same structure hash alike whatever their data (or scalars) are."""
    hash_a, text_a = _hash_and_text(lazy_area, pair.a)
    hash_b, text_b = _hash_and_text(lazy_area, pair.b)
    assert hash_a == hash_b, f"graphs differing only in data ({pair.name}) hash differently\n" + (
        _shown(text_a, text_b)
    )


TELLING = [pair for pair in DIFFERING if pair.values_tell]


@pytest.mark.parametrize("pair", TELLING, ids=_ids(TELLING))
def test_step_after_a_similar_graph_computes_its_own_values(
    lazy_area: LazyArea, pair: Pair
) -> None:
    """A step of the second graph right after one of the first gives the second's values."""
    first = pair.a(lazy_area.device, lazy_area.mark_step)
    lazy_area.mark_step()
    second = pair.b(lazy_area.device, lazy_area.mark_step)
    lazy_area.mark_step()
    want = pair.b("cpu", lambda: None)
    assert len(second) == len(want)
    for k, (got, expected) in enumerate(zip(second, want, strict=True)):
        torch.testing.assert_close(
            got.cpu(),
            expected,
            msg=lambda m, k=k: f"output {k} of the second graph ({pair.differs} differs): {m}",
        )
    del first
