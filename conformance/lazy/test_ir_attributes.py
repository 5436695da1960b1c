"""IR text of every attribute kind: floats, negative ints, bools, int lists, optionals, dtypes.

Each program of ``attribute_programs.py`` shows one or more kinds of node attribute;
its IR text, before any step, must equal ``golden/<program>.txt`` (written by PyTorch's
own lazy backend). A backend printing another dialect is compared structurally
(ops, types, edges, roots), as in ``test_programs.py``; attributes are then not compared.
"""

from __future__ import annotations

import pytest

from conformance.contract import LazyArea
from conformance.lazy.attribute_programs import ATTRIBUTE_PROGRAMS, KINDS
from conformance.lazy.golden import check_golden


def _kinds(name: str) -> str:
    return ", ".join(kind for kind, names in KINDS.items() if name in names)


@pytest.mark.parametrize("name", list(ATTRIBUTE_PROGRAMS))
def test_attribute_text_matches_golden(
    lazy_area: LazyArea, name: str, pytestconfig: pytest.Config
) -> None:
    """The program's IR text spells its attributes exactly as golden/<program>.txt does."""
    text = lazy_area.ir_text(ATTRIBUTE_PROGRAMS[name](lazy_area.device))
    check_golden(lazy_area, name, text, pytestconfig, f"; attributes shown: {_kinds(name)}")
