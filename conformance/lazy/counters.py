"""What a lazy backend's op counters mean: traced ops, CPU fallbacks, transfers, host reads.

Counter names follow PyTorch (``LazyArea.counter_names``): ``lazy::<op>`` for an op
recorded in the graph, ``aten::<op>[.<overload>]`` for an op run as a CPU fallback.
Real backends count more under those namespaces than ops and fallbacks:

``transfer``   moving data between CPU and the device: torch_xla counts ``.to("xla")`` as
               ``xla::_copy_from`` and ``xla::empty_symint``; neither is an op of the
               program nor a missing lowering.
``host_read``  an expected device-to-host read: ``.item()`` and Python control flow on a
               tensor run ``aten::_local_scalar_dense`` on every backend (the value has
               to reach Python); it is not a missing lowering.
``fallback``   any other ``aten::`` counter: an op the backend did not lower.
``traced``     any other ``<namespace>::<op>`` counter (``lazy::add``, ``xla::add``).
``other``      everything else (``MarkStep``, ``UncachedCompile``, ...).

The op sweep and the model tests take fallbacks from :func:`fallbacks`, so transfers and
host reads never make an op "fallback".
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Ops (without overload) that only move data between CPU and the device.
TRANSFER_OPS = frozenset(
    {"_copy_from", "_copy_from_and_resize", "_to_cpu", "empty_symint", "empty_strided_symint"}
)
#: Ops that read a device value into Python: expected, whatever the backend lowers.
HOST_READ_OPS = frozenset({"_local_scalar_dense"})
KINDS = ("traced", "fallback", "transfer", "host_read", "other")

_OP_COUNTER = re.compile(r"^(\w+)::(\w+)(?:\.\w+)?$")


def kind(counter: str) -> str:
    """The kind of counter ``counter`` (one of :data:`KINDS`, see the module doc)."""
    match = _OP_COUNTER.fullmatch(counter)
    if match is None:
        return "other"
    namespace, op = match.groups()
    if op in TRANSFER_OPS:
        return "transfer"
    if namespace == "aten":
        return "host_read" if op in HOST_READ_OPS else "fallback"
    return "traced"


def fallbacks(counters: Iterable[str]) -> list[str]:
    """The CPU-fallback counters among ``counters`` (transfers and host reads excluded)."""
    return sorted(c for c in counters if kind(c) == "fallback")


def traced_ops(counters: Iterable[str]) -> list[str]:
    """The traced-op counters among ``counters`` (transfers excluded)."""
    return sorted(c for c in counters if kind(c) == "traced")
