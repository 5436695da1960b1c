"""Run a snippet against the backend's lazy area in a fresh Python process.

Some behaviours cannot be checked in a process that already ran other tests: PyTorch's
lazy backend keeps the first op given to ``set_force_fallback`` for the life of the
process, and the save-graphs hook reads its environment variable once. The child loads
the backend by the same spec as the session, calls ``init()``, and runs ``code`` with
``area`` (the lazy area), ``torch`` and ``fx`` bound; whatever the snippet assigns to
``result`` (JSON-serializable) comes back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

_CHILD = """
import json, sys
import torch
from torch import fx, nn
from conformance.discovery import load_backend
area = load_backend(sys.argv[1]).areas["lazy"]
area.init()
result = None
exec(compile(sys.argv[2], "<isolated>", "exec"))
print("@@RESULT@@" + json.dumps(result))
"""


def run_isolated(
    spec: str, code: str, env: dict[str, str] | None = None, timeout: float = 120
) -> Any:
    """Run ``code`` in a child process on backend ``spec``; return its ``result``.

    Raises ``AssertionError`` with the child's output if it exits non-zero.
    """
    child_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, spec, textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=child_env,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"isolated run failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    marker = [line for line in proc.stdout.splitlines() if line.startswith("@@RESULT@@")]
    return json.loads(marker[-1].removeprefix("@@RESULT@@"))
