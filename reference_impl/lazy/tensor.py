"""The lazy tensor type on device ``lazy``: a ``torch.Tensor`` wrapper subclass.

Layering, outermost first (the same as PyTorch's Lazy Tensor Core); the device's
modules follow the flow of one op:

1. What users hold is a *functional wrapper* (``torch._to_functional_tensor``) around a
   :class:`LazyTensor` (:func:`wrap` / :func:`unwrap`). PyTorch's functionalization
   pass gives views and in-place ops their semantics: it turns them into functional ops
   (``view_copy``, ``add``, ``slice_scatter``, ...) on the inner tensors and keeps
   user-visible aliasing.
2. :class:`LazyTensor` (this module) reports ``device(type='lazy')``; its
   ``__torch_dispatch__`` hands each op to :func:`reference_impl.lazy.lowering.dispatch`,
   which records it as IR (:mod:`.ir`) following the op table (:mod:`.ops`) or runs it
   on CPU as a fallback.
3. Factories (``torch.empty(..., device="lazy")`` and everything built on it) reach the
   Python kernels :mod:`.factories` registers for the ``Lazy`` dispatch key.
4. :mod:`.sync` executes pending IR (:mod:`.executor`) and swaps it for device data.

A lazy tensor holds either pending IR (``ir``) or device data (``data_``, a CPU tensor).
This module knows nothing of dispatch: :mod:`.lowering` installs itself as
:attr:`LazyTensor.dispatcher` when imported, so the import graph has no cycle.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch

from reference_impl.lazy import metrics, reuse
from reference_impl.lazy.ir import Node, Value, device_data

LAZY = torch.device("lazy", 0)  # PyTorch reports lazy:0 too
_live: dict[int, _LiveRef] = {}
_ids = itertools.count(1)


class _LiveRef(weakref.ref["LazyTensor"]):
    """A weak reference to a live lazy tensor that knows the tensor's uid."""

    __slots__ = ("uid",)
    uid: int


def _on_destroy(ref: _LiveRef) -> None:
    _live.pop(ref.uid, None)
    metrics.increment("DestroyLtcTensor")


def _no_dispatcher(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    raise RuntimeError(
        f"{func} on a lazy tensor before the lazy device was initialized: "
        "call reference_impl.lazy.init() first"
    )


class LazyTensor(torch.Tensor):
    """The lazy tensor behind a functional wrapper: pending IR or device data."""

    ir: Value | None
    data_: torch.Tensor | None
    uid: int
    _leaf: Node | None
    #: ``(type, shape, dtype)``, what lowering's caches key a lazy tensor argument by
    #: (made once: a lazy tensor's shape and dtype never change).
    signature: tuple[Any, ...]

    #: Handles every op on lazy tensors; set by :mod:`reference_impl.lazy.lowering`.
    dispatcher: ClassVar[Callable[[Any, tuple[Any, ...], dict[str, Any]], Any]] = staticmethod(
        _no_dispatcher
    )

    @staticmethod
    def __new__(cls, *, ir: Value | None = None, data: torch.Tensor | None = None) -> LazyTensor:
        if (ir is None) == (data is None):
            raise ValueError("a LazyTensor holds exactly one of ir and data")
        dtype, shape = (ir.dtype, ir.shape) if ir is not None else (data.dtype, data.shape)  # type: ignore[union-attr]
        self = torch.Tensor._make_wrapper_subclass(cls, shape, dtype=dtype, device=LAZY)
        uid = next(_ids)
        self.__dict__.update(ir=ir, data_=data, _leaf=None, uid=uid, signature=(cls, shape, dtype))
        ref = _LiveRef(self, _on_destroy)
        ref.uid = uid
        _live[uid] = ref
        metrics.increment("CreateLtcTensor")
        return self

    def value(self) -> Value:
        """The IR value of this tensor: its pending IR, or a device_data leaf for its data."""
        if self.ir is not None:
            return self.ir
        if self._leaf is None or self._leaf.data is not self.data_:
            self._leaf = device_data(self.data_)  # type: ignore[arg-type]
        self._leaf = reuse.intern(self._leaf)  # moves the reuse trie along (if on)
        return self._leaf.value()

    def __repr__(self, *, tensor_contents: Any = None) -> str:  # type: ignore[override]
        return f"LazyTensor(uid={self.uid}, shape={tuple(self.shape)}, dtype={self.dtype})"

    @classmethod
    def __torch_dispatch__(  # type: ignore[override]
        cls, func: Any, types: Any, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None
    ) -> Any:
        return LazyTensor.dispatcher(func, tuple(args), kwargs or {})


def wrap(inner: LazyTensor) -> torch.Tensor:
    """The user-visible (functional) tensor around ``inner``."""
    return torch._to_functional_tensor(inner)


def unwrap(tensor: torch.Tensor, *, sync: bool = True) -> LazyTensor:
    """The lazy tensor behind a user-visible tensor (applying pending view updates first)."""
    if isinstance(tensor, LazyTensor):
        return tensor
    if not torch._is_functional_tensor(tensor):
        raise RuntimeError(f"Input tensor is not a lazy tensor: {tensor.type()}")
    if sync:
        torch._sync(tensor)
    inner = torch._from_functional_tensor(tensor)
    if not isinstance(inner, LazyTensor):
        raise RuntimeError(f"Input tensor is not a lazy tensor: {inner.type()}")
    return inner


def live_tensors() -> list[LazyTensor]:
    """Every lazy tensor still alive, oldest first."""
    refs = list(_live.copy().values())  # one C-level copy: GC callbacks may edit _live
    return [t for t in (r() for r in refs) if t is not None]
