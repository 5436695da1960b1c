"""The ``reference`` backend: our pure-Python reference implementation (the default)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from conformance.backends._adapters import MirroredFxArea, MirroredParametrizeArea
from conformance.backends._reference_lazy import ReferenceLazyArea


class ReferenceBackend:
    """Backend over :mod:`reference_impl`. Areas import their implementation on first use."""

    name = "reference"
    device = "cpu"
    expectations = Path(__file__).parent / "expectations" / "reference.toml"

    @property
    def version(self) -> str:
        import reference_impl

        return reference_impl.__version__

    @cached_property
    def fx(self) -> MirroredFxArea:
        from reference_impl.fx import _lazy_graph_module

        return MirroredFxArea(_lazy_graph_module)

    @cached_property
    def parametrize(self) -> MirroredParametrizeArea:
        from reference_impl import parametrizations, parametrize

        return MirroredParametrizeArea(parametrize, parametrizations)

    @cached_property
    def lazy(self) -> ReferenceLazyArea:
        # Importing the adapter does not create the lazy device (see its module docstring).
        return ReferenceLazyArea()


backend = ReferenceBackend()
