"""One lazy device in its own process: runs programs sent as JSON lines, answers each.

``python -m tests.lazy_differential.worker reference`` (or ``torch``) reads one JSON
object per line, ``{"source": ...}``, and writes one per line back:

``cpu_error``  CPU raised on the program (nothing else is filled in);
``error``      the lazy device raised (while tracing, dumping IR or syncing);
``ir``         the IR text of ``out`` right after the program ran, before any step;
``values``     '' when every output matches CPU (shape, dtype, values), else what differs;
``fallbacks``  the ``aten::*`` counters that moved (ops run as CPU fallbacks).

The device is driven through the suite's own backend adapter, as the suite does.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import torch

from tests.lazy_differential.program import run

#: Names an op (``aten::mul``) the worker's device must run as a CPU fallback.
FORCE_FALLBACK_ENV = "LAZY_DIFF_FORCE_FALLBACK"


def area_for(backend: str) -> Any:
    """The suite's lazy adapter for ``backend``, initialized."""
    if backend == "reference":
        from conformance.backends._reference_lazy import ReferenceLazyArea

        area: Any = ReferenceLazyArea()
    elif backend == "torch":
        from conformance.backends._torch_lazy import TorchLazyArea

        area = TorchLazyArea()
    else:
        raise SystemExit(f"unknown backend {backend!r}: use 'reference' or 'torch'")
    area.init()
    return area


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:400]


def compare(actual: list[torch.Tensor], expected: list[torch.Tensor]) -> str:
    """'' when the outputs agree one by one, else the first difference."""
    if len(actual) != len(expected):
        return f"{len(actual)} outputs, expected {len(expected)}"
    for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
        if a.shape != e.shape or a.dtype != e.dtype:
            return f"out[{i}]: {a.dtype}{list(a.shape)}, expected {e.dtype}{list(e.shape)}"
        try:
            torch.testing.assert_close(a, e, equal_nan=True)
        except AssertionError as exc:
            return f"out[{i}]: " + " ".join(str(exc).split())[:300]
    return ""


def answer(area: Any, source: str) -> dict[str, Any]:
    """Run ``source`` on CPU and on the device; the report described in the module doc."""
    result: dict[str, Any] = {"cpu_error": "", "error": "", "ir": None, "values": ""}
    result["fallbacks"] = []
    try:
        expected = [t.detach().clone() for t in run(source, "cpu")]
    except Exception as exc:
        result["cpu_error"] = _one_line(exc)
        return result
    stage = "tracing"
    try:
        area.mark_step()
        area.reset_metrics()
        outs = run(source, area.device)
        result["fallbacks"] = sorted(n for n in area.counter_names() if n.startswith("aten::"))
        stage = "dumping the IR"
        result["ir"] = area.ir_text(outs)
        stage = "syncing"
        area.sync_multi(outs)
        result["values"] = compare([t.detach().to("cpu") for t in outs], expected)
        del outs
        area.mark_step()
    except Exception as exc:
        result["error"] = f"{stage}: {_one_line(exc)}"
        try:
            area.mark_step()
        except Exception as again:
            result["error"] += f"; then mark_step: {_one_line(again)}"
    return result


def main(argv: list[str]) -> int:
    torch.set_num_threads(1)
    area = area_for(argv[0] if argv else "reference")
    forced = os.environ.get(FORCE_FALLBACK_ENV)
    if forced:  # a deliberately broken device, for the tester's own tests
        area.set_force_fallback(forced)
    print(json.dumps({"ready": argv[0] if argv else "reference"}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        print(json.dumps(answer(area, request["source"])), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
