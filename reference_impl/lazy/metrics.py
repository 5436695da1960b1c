"""Counters with PyTorch's names and meanings (``torch._lazy.metrics``).

``MarkStep``            steps taken;
``SyncedTensorsWithIR`` tensors whose pending IR a sync executed;
``UncachedCompile``     graphs compiled (cache misses); ``CachedCompile``: cache hits;
``DeviceDataCacheMiss`` scalar constants uploaded as new device data;
``CreateLtcTensor`` / ``DestroyLtcTensor``: lazy tensors created / freed;
``lazy::<op>``          ops recorded as IR; ``aten::<op>[.<overload>]``: ops run on CPU
                        as a fallback.
"""

from __future__ import annotations

from collections import Counter

_counters: Counter[str] = Counter()


def increment(name: str, by: int = 1) -> None:
    _counters[name] += by


def counter_names() -> list[str]:
    """Names of the counters that are not zero, sorted."""
    return sorted(name for name, value in _counters.items() if value)


def counter_value(name: str) -> int | None:
    """The counter's value; None for unknown or zero counters, as PyTorch returns."""
    return _counters.get(name) or None


def reset() -> None:
    """Reset every counter to zero."""
    _counters.clear()


def metrics_report() -> str:
    """A report in PyTorch's counter style (``Counter: name`` / ``  Value: n``)."""
    lines: list[str] = []
    for name in counter_names():
        lines += [f"Counter: {name}", f"  Value: {_counters[name]}"]
    return "\n".join(lines) + ("\n" if lines else "")
