"""Broken lazy backends for extract_compiled_graph: results alias, or updates are lost.

Used by ``tests/test_lazy_behaviour_broken_backends.py`` against
``conformance/lazy/test_extract_aliasing.py``. Patched in at ``init()`` in the child
pytest process. Name one as ``--backend=broken_lazy_extract_aliasing:<attribute>``.
"""

from __future__ import annotations

from typing import Any

from broken_lazy import BrokenBackend


def _program_buffers_handed_out() -> None:
    """Bug: the replay returns the program's own outputs, which may be its inputs.

    The reference runs view ops as views and ``clone`` as the same value, so without
    a copy ``a.clone()`` comes back as the caller's ``a`` itself.
    """
    from reference_impl.lazy import extract

    def call(self: Any, *args: Any) -> list[Any]:
        data = [args[x] if isinstance(x, int) else x for x in self._inputs]
        results = self._program.run(data)
        for i, arg in enumerate(args):
            if results[self._root_of[i]] is not arg:
                arg.copy_(results[self._root_of[i]])
        return [results[k] for k in self._root_of[len(args) :]]

    extract._Replay.__call__ = call  # type: ignore[method-assign]


def _equal_results_merged() -> None:
    """Bug: results with equal values are handed out once (an output de-duplication).

    ``(a + b, a + b)`` comes back as one tensor twice, though eager made two.
    """
    import torch

    from reference_impl.lazy import extract

    real = extract._Replay.__call__

    def call(self: Any, *args: Any) -> list[Any]:
        results = real(self, *args)
        merged: list[Any] = []
        for r in results:
            same = [m for m in merged if m.shape == r.shape and m.dtype == r.dtype]
            merged.append(next((m for m in same if torch.equal(m, r)), r))
        return merged

    extract._Replay.__call__ = call  # type: ignore[method-assign]


def _output_buffers_reused() -> None:
    """Bug: every call writes its results into the first call's result tensors."""
    from reference_impl.lazy import extract

    real = extract._Replay.__call__

    def call(self: Any, *args: Any) -> list[Any]:
        results = real(self, *args)
        buffers = self.__dict__.setdefault("_buffers", results)
        for buffer, result in zip(buffers, results, strict=True):
            if buffer is not result:
                buffer.copy_(result)
        return list(buffers)

    extract._Replay.__call__ = call  # type: ignore[method-assign]


def _updates_through_views_lost() -> None:
    """Bug: arguments are read without applying pending updates made through their views.

    ``a[0].mul_(2)`` inside the module never reaches the caller's ``a``.
    """
    import torch

    from reference_impl.lazy import extract

    real = extract.extract_compiled_graph

    def extract_compiled_graph(model: Any, example_inputs: Any) -> Any:
        sync = torch._sync
        torch._sync = lambda t: None
        try:
            return real(model, example_inputs)
        finally:
            torch._sync = sync

    extract.extract_compiled_graph = extract_compiled_graph  # type: ignore[assignment]


program_buffers_handed_out = BrokenBackend(
    "program-buffers-handed-out", _program_buffers_handed_out
)
equal_results_merged = BrokenBackend("equal-results-merged", _equal_results_merged)
output_buffers_reused = BrokenBackend("output-buffers-reused", _output_buffers_reused)
updates_through_views_lost = BrokenBackend(
    "updates-through-views-lost", _updates_through_views_lost
)
