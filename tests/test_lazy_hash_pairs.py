"""Each graph_hash pair of the lazy suite differs in exactly the one thing it names.

``conformance/lazy/hash_pairs.py`` promises, pair by pair, that its two programs differ
only in a shape, a dtype, an attribute, an op, an edge or the roots (or only in data).
A pair that also changed, say, the node count would let a hash that ignores the named
thing pass. These tests read both programs' IR text on the reference device (whose
text is PyTorch's) and check the promise.
"""

from __future__ import annotations

import re

import pytest

from conformance.lazy.dialects import NormalNode, normalize
from conformance.lazy.hash_pairs import PAIRS, Pair

#: What each facet may change in a normalized node (op, outputs, operands, root).
FIELDS = {"op": 0, "outputs": 1, "operands": 2, "root": 3}


def _texts(pair: Pair) -> tuple[str, str, str]:
    """The IR texts of both programs, and of the first one's roots in reverse order."""
    import reference_impl.lazy as lazy
    from reference_impl.lazy import debug

    lazy.init()
    a = pair.a("lazy", lazy.mark_step)
    text_a, reversed_a = debug.dump_ir(a, "text"), debug.dump_ir(a[::-1], "text")
    text_b = debug.dump_ir(pair.b("lazy", lazy.mark_step), "text")
    lazy.mark_step()
    return text_a, text_b, reversed_a


def _attributes(text: str) -> list[str]:
    """Each node's text after its operands: its attributes (and ROOT)."""
    return [re.sub(r"^.*?\)", "", line) for line in text.splitlines()[1:-1]]


def _differing_fields(a: list[NormalNode], b: list[NormalNode]) -> set[str]:
    return {field for x, y in zip(a, b, strict=True) for field, i in FIELDS.items() if x[i] != y[i]}


@pytest.mark.parametrize("pair", PAIRS, ids=[p.name for p in PAIRS])
def test_pair_differs_in_exactly_what_it_names(pair: Pair) -> None:
    """Same node count; only the named facet of the graph differs between the two texts."""
    text_a, text_b, reversed_a = _texts(pair)
    a, b = normalize(text_a, "pytorch"), normalize(text_b, "pytorch")
    shown = f"\n{text_a}{text_b}"
    assert len(a) == len(b), f"{pair.name}: node counts {len(a)} and {len(b)}" + shown
    fields = _differing_fields(a, b)
    attributes_differ = _attributes(text_a) != _attributes(text_b)
    if pair.differs is None:
        assert text_a == text_b, f"{pair.name} should differ in data only" + shown
    elif pair.differs in ("shape", "dtype"):
        outputs = [(x[1], y[1]) for x, y in zip(a, b, strict=True) if x[1] != y[1]]
        index = 1 if pair.differs == "shape" else 0
        assert fields == {"outputs"}, f"{pair.name}: {fields} differ" + shown
        assert not attributes_differ, pair.name + shown
        other = f"{pair.name}: not only the {pair.differs} differs" + shown
        assert all([t[1 - index] for t in x] == [t[1 - index] for t in y] for x, y in outputs), (
            other
        )
    elif pair.differs == "attribute":
        assert fields == set(), pair.name + shown
        assert attributes_differ, pair.name + shown
    elif pair.differs == "op":
        assert fields == {"op"}, pair.name + shown
        assert not attributes_differ, pair.name + shown
    elif pair.differs == "edges":
        assert fields == {"operands"}, pair.name + shown
        assert not attributes_differ, pair.name + shown
    elif pair.differs == "roots":
        # The same graph with its roots reordered (the text then numbers nodes anew),
        # or another output of the same node (which PyTorch's text does not show).
        assert text_b in (reversed_a, text_a), pair.name + shown
    else:
        pytest.fail(f"{pair.name}: unknown facet {pair.differs!r}")
