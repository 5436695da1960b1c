"""A broken lazy backend whose extraction counts fallbacks of the whole process.

Used by ``tests/test_lazy_behaviour_broken_backends.py`` against
``conformance/lazy/test_extract.py``; patched in when the suite's fixture calls
``init()``. Name it as ``--backend=broken_lazy_extract_fallbacks:earlier_fallbacks_count``.
"""

from __future__ import annotations

from broken_lazy import BrokenBackend


def _earlier_fallbacks_count() -> None:
    """Bug: extraction refuses when any fallback counter is set, not only new ones."""
    from reference_impl.lazy import extract

    real = extract.extract_compiled_graph

    def extract_compiled_graph(model, example_inputs):  # type: ignore[no-untyped-def]
        earlier = extract._fallback_counts()
        if earlier:
            listed = ",".join(f"{name}={n}" for name, n in sorted(earlier.items()))
            raise RuntimeError(f"cannot extract a compiled graph because of fallback: {listed}")
        return real(model, example_inputs)

    extract.extract_compiled_graph = extract_compiled_graph


earlier_fallbacks_count = BrokenBackend("earlier-fallbacks-count", _earlier_fallbacks_count)
