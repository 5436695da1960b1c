"""The ``torch`` backend: PyTorch's own implementations, an independent peer of the reference.

Its known disagreements with the suite live in ``expectations/torch.toml``, each with the
upstream issue that tracks it.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from conformance.backends._adapters import MirroredFxArea, MirroredParametrizeArea
from conformance.backends._torch_lazy import TorchLazyArea


class TorchBackend:
    """Backend over the installed ``torch``."""

    name = "torch"
    device = "cpu"
    expectations = Path(__file__).parent / "expectations" / "torch.toml"

    @property
    def version(self) -> str:
        import torch

        return str(torch.__version__)

    @cached_property
    def fx(self) -> MirroredFxArea:
        from torch.fx import _lazy_graph_module

        return MirroredFxArea(_lazy_graph_module)

    @cached_property
    def parametrize(self) -> MirroredParametrizeArea:
        from torch.nn.utils import parametrizations, parametrize

        return MirroredParametrizeArea(parametrize, parametrizations)

    @cached_property
    def lazy(self) -> TorchLazyArea:
        # torch._lazy is only initialized by the suite's fixture, never at backend load.
        return TorchLazyArea()


backend = TorchBackend()
