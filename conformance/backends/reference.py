"""The ``reference`` backend: our pure-Python reference implementation (the default)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from conformance.backends._adapters import MirroredFxArea


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


backend = ReferenceBackend()
