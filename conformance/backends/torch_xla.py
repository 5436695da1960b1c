"""The ``torch_xla`` backend: PyTorch/XLA's lazy tensors (device ``xla``), run as users run it.

The ``lazy`` area is torch_xla itself (``_torch_xla_lazy.py``); ``fx`` and ``parametrize``
are PyTorch's own implementations, as torch_xla uses them. torch_xla is imported only by
the lazy area's ``init()``; loading the backend checks, without importing it, that
torch_xla is installed and built for the installed torch, so a wrong environment ends
the run at start-up with one line naming the fix (a usage error, pytest exit 4).

Run it with ``PJRT_DEVICE=CPU`` on a machine without an accelerator (tox -e torch-xla
sets it). Its known divergences live in ``expectations/torch_xla.toml``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from functools import cached_property
from pathlib import Path

from conformance.backends._torch_xla_lazy import TorchXlaLazyArea
from conformance.backends.pytorch import TorchBackend

INSTALL_HINT = (
    "install it next to its torch in a separate environment: "
    "pip install -c constraints-xla.txt torch==2.9.0 torch-xla==2.9.0 (or tox -e torch-xla)"
)


def _release(version: str) -> tuple[str, ...]:
    """``("2", "9")`` for ``2.9.0+cpu``: torch_xla is built against one torch minor."""
    return tuple(version.split("+")[0].split(".")[:2])


def check_installed() -> str:
    """torch_xla's version; ``ImportError`` naming the fix if it is missing or mismatched."""
    if importlib.util.find_spec("torch_xla") is None:
        raise ImportError(f"torch_xla is not installed; {INSTALL_HINT}")
    xla_version = importlib.metadata.version("torch-xla")
    torch_version = importlib.metadata.version("torch")
    if _release(xla_version) != _release(torch_version):
        raise ImportError(
            f"torch_xla {xla_version} needs torch {'.'.join(_release(xla_version))}.*, "
            f"but torch {torch_version} is installed; {INSTALL_HINT}"
        )
    return xla_version


class TorchXlaBackend(TorchBackend):
    """Backend over the installed ``torch_xla``; fx and parametrize are its torch's own."""

    name = "torch_xla"
    # Only the lazy area introduces a device (``xla``); fx and parametrize run on the CPU.
    device = "cpu"
    expectations = Path(__file__).parent / "expectations" / "torch_xla.toml"

    def __init__(self) -> None:
        self._xla_version = check_installed()

    @property
    def version(self) -> str:
        # torch_xla's own version (a PEP 440 version: manifest entries scope on it);
        # the report records the torch version separately.
        return self._xla_version

    @cached_property
    def lazy(self) -> TorchXlaLazyArea:  # type: ignore[override]  # another lazy device
        # torch_xla is only imported by the area's init(), never at backend load.
        return TorchXlaLazyArea()
