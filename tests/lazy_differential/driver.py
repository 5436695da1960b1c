"""Drive the two workers and compare their answers program by program.

:class:`Workers` keeps one worker process per device alive (many programs per process:
starting ``torch._lazy`` costs far more than running a small program) and sends each
program to both at once. :func:`difference` says what differs between the answers.
:func:`check` runs the hypothesis search; :func:`survey` draws programs without
stopping at the first difference and counts the kinds of difference.

The budget: ``LAZY_DIFF_EXAMPLES`` programs from seed ``LAZY_DIFF_SEED`` (defaults
:data:`DEFAULT_EXAMPLES`, :data:`DEFAULT_SEED`, what CI runs).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import select
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import seed as hypothesis_seed

from tests.lazy_differential.program import Program, programs

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_EXAMPLES = 80
DEFAULT_SEED = 20261202
#: Seconds one program may take on one device before its worker counts as hung.
PROGRAM_TIMEOUT = 60.0


@dataclass(frozen=True)
class KnownTorchFailure:
    """A program shape on which ``torch._lazy`` itself is wrong, and why."""

    pattern: str  # regex searched in the program source
    symptom: str  # regex searched in torch's error or value message
    mechanism: str


#: Where ``torch._lazy`` (2.13, TorchScript backend) disagrees with CPU: the reference
#: is checked against CPU alone there (IR text is not compared).
KNOWN_TORCH_FAILURES: tuple[KnownTorchFailure, ...] = (
    KnownTorchFailure(
        r"\.(split|unbind)\(",
        "crashed",
        "torch._C._lazy._get_tensors_text segfaults on an output of split/unbind (the "
        "split_copy/unbind_copy node) before it is synced; syncing first works",
    ),
    KnownTorchFailure(
        r"\.split\(",
        "invalid gradient .* expected device lazy:0 but got cpu",
        "the backward of split on torch._lazy returns a CPU gradient for the input "
        "(SumBackward0 'returned an invalid gradient ... expected device lazy:0 but got cpu')",
    ),
)

#: Fallback counters LTC adds around the ``out=`` variant of an op it falls back on.
_OUT_HELPERS = frozenset({"copy", "resize_", "_copy_from_and_resize"})


def fallback_ops(counters: list[str]) -> set[str]:
    """``{"eye"}`` for ``["aten::eye.m_out"]``: the ops that fell back, overloads dropped."""
    names = {c.removeprefix("aten::").split(".")[0] for c in counters}
    names = {n.removesuffix("_out") for n in names}
    return names - _OUT_HELPERS


#: The one difference of the reference known and not yet fixed (tolerated by
#: :func:`check`, counted by :func:`survey`): a view of a tensor made by ``.to(device)``
#: (a copy into an empty device tensor) is regenerated from its base on its first use
#: after creation and again when autograd uses it as a saved tensor, where LTC reuses
#: the view node it recorded. Values are the same; the IR text records the view twice.
KNOWN_REFERENCE_DIFFERENCE = "known: the reference records a view twice"


class Worker:
    """One worker process (:mod:`.worker`) for ``backend``; restarted after a crash or hang."""

    def __init__(self, backend: str, env: dict[str, str] | None = None) -> None:
        self.backend = backend
        self.env = env or {}
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", **self.env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.lazy_differential.worker", self.backend],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
            env=env,
        )
        ready = self._read(120.0)
        if "ready" not in ready:
            raise RuntimeError(f"the {self.backend} worker did not start: {ready}")

    def send(self, source: str) -> None:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        assert self.proc is not None
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"source": source}) + "\n")
        self.proc.stdin.flush()

    def receive(self) -> dict[str, Any]:
        return self._read(PROGRAM_TIMEOUT)

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self.proc is not None
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if line:
            answer: dict[str, Any] = json.loads(line)
            return answer
        hung = not ready
        self.stop()
        what = f"hung for {timeout:.0f} s" if hung else "crashed"
        return {"cpu_error": "", "error": f"the {self.backend} worker {what}", "ir": None}

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


class Workers:
    """The reference worker and the torch._lazy worker, asked the same program together."""

    def __init__(self, reference_env: dict[str, str] | None = None) -> None:
        self.reference, self.torch = Worker("reference", reference_env), Worker("torch")

    def ask(self, program: Program) -> tuple[dict[str, Any], dict[str, Any]]:
        source = program.source()
        self.reference.send(source)
        self.torch.send(source)
        ref, torch_answer = self.reference.receive(), self.torch.receive()
        if torch_answer.get("values") or torch_answer.get("error"):
            # torch._lazy's answer can depend on what ran before in its process (seen:
            # wrong values for a plain add after other programs): ask a fresh process.
            self.torch.stop()
            self.torch.send(source)
            torch_answer = dict(self.torch.receive(), retried=True)
        return ref, torch_answer

    def close(self) -> None:
        self.reference.stop()
        self.torch.stop()


def known_torch_failure(source: str, torch_answer: dict[str, Any]) -> KnownTorchFailure | None:
    message = torch_answer.get("error") or torch_answer.get("values") or ""
    for known in KNOWN_TORCH_FAILURES:
        if re.search(known.pattern, source) and re.search(known.symptom, message):
            return known
    return None


def difference(
    program: Program, ref: dict[str, Any], torch_answer: dict[str, Any]
) -> tuple[str, str]:
    """(kind, details) of what differs between the two answers; ('', '') when they agree."""
    if ref.get("error"):
        return "reference raised", ref["error"]
    if ref.get("values"):
        return "reference values differ from CPU", ref["values"]
    if torch_answer.get("error") or torch_answer.get("values"):
        known = known_torch_failure(program.source(), torch_answer)
        if known is not None:
            return "", ""
        detail = torch_answer.get("error") or torch_answer.get("values")
        return (
            "torch._lazy disagrees with CPU",
            f"{detail}\n(if torch._lazy is wrong here, add a KnownTorchFailure with the "
            "mechanism to tests/lazy_differential/driver.py)",
        )
    if fallback_ops(torch_answer["fallbacks"]) > fallback_ops(ref["fallbacks"]):
        # torch._lazy falls back on an op the reference lowers: its graph is cut there,
        # so its IR text cannot match; the reference is checked against CPU alone.
        return "", ""
    if ref["ir"] != torch_answer["ir"]:
        if only_views_recomputed(ref["ir"], torch_answer["ir"]):
            return KNOWN_REFERENCE_DIFFERENCE, ""
        diff = "".join(
            difflib.unified_diff(
                torch_answer["ir"].splitlines(keepends=True),
                ref["ir"].splitlines(keepends=True),
                "torch._lazy",
                "reference",
            )
        )
        fallbacks = f"reference fallbacks {ref['fallbacks']}, torch {torch_answer['fallbacks']}"
        return "IR text differs", f"{fallbacks}\n{diff}"
    return "", ""


#: View ops as functionalization records them (a view regenerated from its base).
VIEW_OPS = frozenset(
    f"aten::{name}"
    for name in [
        "alias_copy",
        "as_strided_copy",
        "diagonal_copy",
        "expand_copy",
        "narrow_copy",
        "permute_copy",
        "select_copy",
        "slice_copy",
        "squeeze_copy",
        "t_copy",
        "transpose_copy",
        "unsqueeze_copy",
        "view_copy",
    ]
)
_NODE = re.compile(r"^\s*%(\d+) = \[(.*?)\] ([\w:]+)\((.*?)\)(.*)$")


def _nodes(text: str) -> tuple[dict[int, tuple[str, str, tuple[int, ...], str]], list[int]]:
    """Nodes of an IR text by number (types, op, operands, attributes) and the roots."""
    nodes: dict[int, tuple[str, str, tuple[int, ...], str]] = {}
    roots: dict[int, int] = {}
    for line in text.splitlines():
        m = _NODE.match(line)
        if m is None:
            continue
        k, types, op, operands, rest = m.groups()
        for root in re.findall(r"ROOT=(\d+)", rest):
            roots[int(root)] = int(k)
        attrs = re.sub(r",? ?ROOT=\d+", "", rest)
        refs = tuple(int(x) for x in re.findall(r"%(\d+)", operands))
        nodes[int(k)] = (types, op, refs, attrs)
    return nodes, [roots[i] for i in sorted(roots)]


def structure(text: str) -> tuple[Any, ...]:
    """The graph of an IR text up to shared subexpressions: equal nodes count once.

    Leaves (device data, constants) keep their identity (numbered by first use from
    the roots); every other node is its op, types, attributes and operands' structure.
    """
    nodes, roots = _nodes(text)
    keys: dict[int, Any] = {}
    leaves: dict[int, int] = {}

    def key(k: int) -> Any:
        if k not in keys:
            types, op, refs, attrs = nodes[k]
            if not refs and op in ("lazy_tensors::device_data", "prim::Constant"):
                leaves.setdefault(k, len(leaves))
                keys[k] = ("leaf", types, op, attrs, leaves[k])
            else:
                keys[k] = (types, op, tuple(key(r) for r in refs), attrs)
        return keys[k]

    return tuple(key(r) for r in roots)


def only_views_recomputed(ref_text: str, torch_text: str) -> bool:
    """Whether the texts differ only in view nodes one of them records twice."""
    ops = lambda text: sorted(  # noqa: E731
        op for _, op, _, _ in _nodes(text)[0].values() if op not in VIEW_OPS
    )
    return ops(ref_text) == ops(torch_text) and structure(ref_text) == structure(torch_text)


def _budget() -> tuple[int, int]:
    examples = int(os.environ.get("LAZY_DIFF_EXAMPLES", DEFAULT_EXAMPLES))
    seed = int(os.environ.get("LAZY_DIFF_SEED", DEFAULT_SEED))
    return examples, seed


def _searching(
    examples: int, seed: int, body: Callable[[Program], None], *, shrink: bool = True
) -> Callable[[], None]:
    """``body`` as a hypothesis test over :func:`programs` with this budget and seed."""
    phases = list(Phase) if shrink else [Phase.explicit, Phase.generate]
    configured = settings(
        max_examples=examples,
        phases=phases,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )(given(programs())(body))
    return hypothesis_seed(seed)(configured)  # type: ignore[no-any-return]


def check(
    workers: Workers, examples: int | None = None, seed: int | None = None, *, shrink: bool = True
) -> None:
    """Search programs for a difference; raise AssertionError naming the shrunk program."""
    default_examples, default_seed = _budget()
    examples = default_examples if examples is None else examples
    seed = default_seed if seed is None else seed

    def body(program: Program) -> None:
        ref, torch_answer = workers.ask(program)
        if ref.get("cpu_error") or torch_answer.get("cpu_error"):
            reject()
        kind, details = difference(program, ref, torch_answer)
        if kind and kind != KNOWN_REFERENCE_DIFFERENCE:
            raise AssertionError(
                f"{kind} on this program (inputs via "
                f"tests.lazy_differential.program.inp):\n\n{program.source()}\n{details}"
            )

    _searching(examples, seed, body, shrink=shrink)()


def survey(workers: Workers, examples: int, seed: int) -> Counter[str]:
    """Draw ``examples`` programs; print each difference's first lines; count the kinds."""
    kinds: Counter[str] = Counter()

    def body(program: Program) -> None:
        ref, torch_answer = workers.ask(program)
        if ref.get("cpu_error") or torch_answer.get("cpu_error"):
            kinds["invalid"] += 1
            return
        kind, details = difference(program, ref, torch_answer)
        kinds[kind or "same"] += 1
        if kind and kind != KNOWN_REFERENCE_DIFFERENCE:
            print(f"=== {kind}\n{program.source()}{details}\n", flush=True)

    _searching(examples, seed, body)()
    return kinds


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m tests.lazy_differential",
        description="Compare the reference lazy device with torch._lazy on random programs.",
    )
    default_examples, default_seed = _budget()
    parser.add_argument("--examples", type=int, default=default_examples)
    parser.add_argument("--seed", type=int, default=default_seed)
    parser.add_argument(
        "--survey", action="store_true", help="report every difference instead of shrinking one"
    )
    parser.add_argument(
        "--program",
        metavar="FILE",
        help="compare one program (Python source over d and inp, ending in out = [...])",
    )
    args = parser.parse_args(argv)
    workers = Workers()
    try:
        if args.program:
            return _one(workers, Path(args.program).read_text())
        if args.survey:
            print(dict(survey(workers, args.examples, args.seed)))
            return 0
        try:
            check(workers, args.examples, args.seed)
        except AssertionError as exc:
            print(exc)
            return 1
        print(f"no difference in {args.examples} programs (seed {args.seed})")
        return 0
    finally:
        workers.close()


def _one(workers: Workers, source: str) -> int:
    """Compare one program given as source; print both IR texts and the verdict."""
    program = _SourceProgram((), (), ())
    object.__setattr__(program, "text", source)
    ref, torch_answer = workers.ask(program)
    for name, answer in (("reference", ref), ("torch._lazy", torch_answer)):
        print(f"--- {name}: fallbacks {answer.get('fallbacks')}")
        print(answer.get("ir") or answer.get("error") or answer.get("cpu_error"))
    kind, details = difference(program, ref, torch_answer)
    print(f"=== {kind}\n{details}" if kind else "=== same")
    return 1 if kind else 0


class _SourceProgram(Program):
    """A program given as source text rather than drawn."""

    text: str

    def source(self) -> str:
        return self.text
