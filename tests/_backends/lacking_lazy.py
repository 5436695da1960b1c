"""Lazy backends that lack optional parts of the contract, as torch_xla does.

``xla_like`` is the reference device declaring every capability except the ones
torch_xla 2.9 lacks (force fallback, IR reuse, the ``SyncedTensorsWithIR`` counter, CPU's
default RNG), with the members of the missing ones set to ``None``: calling any of them
would raise ``TypeError``, so a fixture or test that calls one unconditionally errors.
``xla_like_undeclared`` has the same members but declares nothing: the loader infers
its capabilities from the ``None`` members, and behaviours it cannot infer (the RNG, the
counters) stay held to the full contract.
``claims_force_fallback`` declares ``force_fallback`` while its members are ``None``,
and ``unknown_capability`` declares a name that does not exist: both must be refused at
load with one line.

Name a backend as ``--backend=lacking_lazy:<attribute>``.
"""

from __future__ import annotations

from conformance.backends._reference_lazy import ReferenceLazyArea
from conformance.contract import LAZY_CAPABILITIES

LACKING = frozenset({"force_fallback", "ir_reuse", "counter:SyncedTensorsWithIR", "cpu_rng"})


class XlaLikeArea(ReferenceLazyArea):
    """The reference lazy area without force fallback, IR reuse and two behaviours."""

    capabilities: frozenset[str] | None = frozenset(LAZY_CAPABILITIES) - LACKING
    get_force_fallback = None  # type: ignore[assignment]
    set_force_fallback = None  # type: ignore[assignment]
    set_reuse_ir = None  # type: ignore[assignment]
    ir_reuse_count = None  # type: ignore[assignment]


class UndeclaredArea(XlaLikeArea):
    """The same members, no ``capabilities``: inferred from the ``None`` members."""

    capabilities = None


class ClaimsForceFallbackArea(XlaLikeArea):
    """Declares force_fallback but provides neither of its members."""

    capabilities = frozenset(LAZY_CAPABILITIES) - {"ir_reuse"}


class UnknownCapabilityArea(ReferenceLazyArea):
    """Declares a capability name the contract does not know."""

    capabilities = frozenset({"cpu_rng", "time_travel"})


class LazyOnlyBackend:
    """A backend with only a lazy area; no manifest, so every failure counts."""

    version = "0"
    device = "cpu"
    expectations = None

    def __init__(self, name: str, lazy: ReferenceLazyArea) -> None:
        self.name = name
        self.lazy = lazy


xla_like = LazyOnlyBackend("xla_like", XlaLikeArea())
xla_like_undeclared = LazyOnlyBackend("xla_like_undeclared", UndeclaredArea())
claims_force_fallback = LazyOnlyBackend("claims_force_fallback", ClaimsForceFallbackArea())
unknown_capability = LazyOnlyBackend("unknown_capability", UnknownCapabilityArea())


class CountsTransfersArea(ReferenceLazyArea):
    """Counts moves to the device and host reads the way torch_xla does.

    Whenever any op was recorded, ``counter_names`` also lists ``xla::_copy_from`` and
    ``xla::empty_symint`` (a ``.to(device)``) and ``aten::_local_scalar_dense`` (an
    ``.item()``): none of them is a CPU fallback of the op under test.
    """

    EXTRA = ("xla::_copy_from", "xla::empty_symint", "aten::_local_scalar_dense")

    def counter_names(self) -> list[str]:
        names = super().counter_names()
        if any(n.startswith("lazy::") for n in names):
            names = sorted({*names, *self.EXTRA})
        return names

    def counter_value(self, name: str) -> int | None:
        if name in self.EXTRA and name in self.counter_names():
            return 1
        return super().counter_value(name)


counts_transfers = LazyOnlyBackend("counts_transfers", CountsTransfersArea())
