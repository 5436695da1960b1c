"""Mutation testing of the reference implementation, one area at a time.

    python tools/mutation.py --area fx --area parametrize      # or: tox -e mutation -- ...

What it does, per area (see :data:`AREAS`):

1. Copies the ``conformance`` and ``reference_impl`` packages into one *lane* per job
   (``--jobs``, default 2) under ``--workdir``. Mutants are written into a lane's copy,
   never into the checkout, so the checkout and its editable install stay untouched.
   Each lane has an empty ``pytest.ini``: runs see no project configuration, exactly like
   ``pytest --pyargs conformance --backend=reference`` started outside a checkout.
2. Runs the area's suite once, unmutated, under ``coverage`` with one context per test
   (``tools/mutation_contexts.py``). The run must pass; it is the baseline.
3. Enumerates mutants with cosmic-ray's operators (``cosmic_ray.commands.init``) over the
   area's target files, and keeps those inside the target's scopes. Mutants inside type
   annotations of modules with ``from __future__ import annotations`` are dropped as
   equivalent by construction (such annotations are strings at run time).
4. Restricts each mutant to the tests that ran its lines. A mutant on a line that also
   ran outside any test (a ``def``, a decorator, a class body) runs the whole area suite;
   a mutant on a line no test ran is reported as *not covered* (it survives: no test can
   see it) without running anything.
5. Optionally samples: ``--max-per-module N`` keeps, for each module with more runnable
   mutants than N, N of them drawn with ``random.Random(f"{seed}:{module}")``
   (``--seed``, default 0), so a rerun with the same seed and sources draws the same set.
6. Runs every mutant: the main process imports torch and pytest once, then forks one child
   per mutant; the child imports the mutated lane's packages fresh and runs
   ``pytest.main`` on the selected tests with ``-x``. Exit code 1 kills the mutant; 0 lets
   it survive; a crash (other exit codes, a signal) or the ``--timeout`` also kills it,
   reported separately. Before any mutant, each lane runs the whole suite unmutated in a
   forked child and must pass: otherwise every mutant would look killed. That run also
   sets the default timeout (three times its duration plus a minute), so a slow mutant
   that still passes is never counted as killed.
7. Writes ``<workdir>/<area>/session.sqlite`` (a cosmic-ray session: ``cr-report`` and
   ``cr-html`` read it), ``report.json`` and ``report.md`` (scores per module, every
   survivor with its diff and the tests that ran).

Cost, measured on two shared cores: fx (~110 mutants) about 5 minutes, parametrize
(~1,050) 17 to 70 minutes depending on the load; the lazy area is larger and is meant to
be run with ``--max-per-module`` (15 per module, 152 mutants: about 40 minutes under a
load average of 20).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import attrs
import parso.python.tree
from cosmic_ray.ast import ast_nodes, get_ast
from cosmic_ray.commands import init as cosmic_ray_init
from cosmic_ray.mutating import mutate_code
from cosmic_ray.operators.operator import Example, Operator
from cosmic_ray.plugins import get_operator
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import MutationSpec, TestOutcome, WorkerOutcome, WorkItem, WorkResult

REPO = Path(__file__).resolve().parent.parent
TOOLS = Path(__file__).resolve().parent
PACKAGES = ("conformance", "reference_impl")


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Target:
    """A file to mutate, optionally only inside some top-level definitions.

    ``scopes`` are dotted names of classes, functions or methods (``MirroredFxArea``,
    ``ReferenceBackend.fx``); empty means the whole file.
    """

    path: str
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Area:
    """An area: its suite, the backend its suite runs against, and what to mutate."""

    suite: str
    targets: tuple[Target, ...]
    backend: str = "reference"
    pytest_args: tuple[str, ...] = ()
    #: Modules the forking parent imports once so children start fast (never ours).
    preload: tuple[str, ...] = ()


_COMMON_PRELOAD = ("torch", "torch.fx", "torch._dynamo", "numpy", "expecttest")

#: The op sweep ops the lazy area's mutants run (``--ops``), out of OpInfo's ~700. The
#: reference runs every op through the same generic tracer and executor, so a mutant of
#: that code that one op sees, most ops see; what differs between ops is the path they
#: take (elementwise with type promotion, reductions, views and their scatters, in-place
#: ops, indexing, factories, random ops, linear algebra, nn.functional kernels, multiple
#: outputs). These ops cover each path at about a twentieth of the sweep's cost; the rest
#: of the lazy suite runs whole.
LAZY_SWEEP_OPS = (
    *("add", "sub", "mul", "true_divide", "pow", "where", "clamp", "copysign", "eq", "lt"),
    *("logical_and", "bitwise_and", "exp", "log", "abs", "neg", "sigmoid", "tanh"),
    *("sum", "mean", "amax", "argmax", "prod", "cumsum", "max.reduction_with_dim", "sort"),
    *("topk", "cat", "stack", "index_select", "gather", "scatter", "scatter_add"),
    *("index_put", "masked_fill", "fill", "view", "reshape", "transpose", "permute"),
    *("expand", "narrow", "select", "squeeze", "unsqueeze", "t", "flatten", "chunk"),
    *("split", "unbind", "clone", "contiguous", "diagonal", "as_strided", "tril", "roll"),
    *("flip", "repeat", "matmul", "mm", "bmm", "addmm", "full_like", "zeros_like"),
    *("new_zeros", "arange", "linspace", "bernoulli", "randn_like", "rand_like", "normal"),
    *("uniform", "nn.functional.dropout", "nn.functional.relu", "softmax"),
    *("nn.functional.linear", "nn.functional.conv2d", "nn.functional.embedding"),
    *("nn.functional.layer_norm", "nn.functional.batch_norm", "nn.functional.cross_entropy"),
)

AREAS: dict[str, Area] = {
    "fx": Area(
        suite="conformance/fx",
        targets=(
            Target("reference_impl/fx/_lazy_graph_module.py"),
            Target("reference_impl/fx/__init__.py"),
            Target("conformance/backends/_adapters.py", ("MirroredFxArea",)),
            Target("conformance/backends/reference.py", ("ReferenceBackend.fx",)),
        ),
        preload=(*_COMMON_PRELOAD, "torch.fx.experimental.proxy_tensor", "torch.package"),
    ),
    "parametrize": Area(
        suite="conformance/parametrize",
        targets=(
            Target("reference_impl/parametrize.py"),
            Target("reference_impl/parametrizations.py"),
            Target("conformance/backends/_adapters.py", ("MirroredParametrizeArea",)),
            Target("conformance/backends/reference.py", ("ReferenceBackend.parametrize",)),
        ),
        preload=(*_COMMON_PRELOAD, "torch.nn.utils.parametrize"),
    ),
    "lazy": Area(
        suite="conformance/lazy",
        targets=(
            *(
                Target(f"reference_impl/lazy/{path.name}")
                for path in sorted((REPO / "reference_impl" / "lazy").glob("*.py"))
            ),
            Target("conformance/backends/_reference_lazy.py"),
            Target("conformance/backends/reference.py", ("ReferenceBackend.lazy",)),
        ),
        pytest_args=("--conformance-tier=smoke", "--ops=" + ",".join(LAZY_SWEEP_OPS)),
        preload=(*_COMMON_PRELOAD, "torch.testing._internal.common_methods_invocations"),
    ),
}


# --------------------------------------------------------------------------- operators


class RemoveCallStatement(Operator):
    """Replace a statement that is only a call (``self.real_recompile()``) with ``pass``.

    cosmic-ray's core operators change expressions; none deletes a statement. A forgotten
    call - a missing realization, a hook never registered, a buffer never refreshed - is
    the commonest bug of all in code like ours, so the tool adds this one operator.
    """

    def mutation_positions(self, node: Any) -> Iterable[tuple[tuple[int, int], tuple[int, int]]]:
        if _is_call_statement(node):
            yield (node.start_pos, node.end_pos)

    def mutate(self, node: Any, index: int) -> Any:
        return parso.python.tree.Keyword(
            "pass", node.start_pos, prefix=node.get_first_leaf().prefix
        )

    @classmethod
    def examples(cls) -> list[Example]:
        return [Example("f(x)\n", "pass\n"), Example("a.b.c(1)\n", "pass\n")]


def _is_call_statement(node: Any) -> bool:
    """An expression statement consisting of one call, e.g. ``obj.method(arg)``."""
    parent = node.parent
    if node.type != "atom_expr" or parent is None or parent.type != "simple_stmt":
        return False
    if parent.children[0] is not node:
        return False
    last = node.children[-1]
    return last.type == "trailer" and last.children[0].value == "("


#: Operators of this tool, by the name recorded in the session (``get_operator`` finds the
#: core ones through cosmic-ray's plugin registry).
OWN_OPERATORS: dict[str, type[Operator]] = {"conformance/RemoveCallStatement": RemoveCallStatement}


def operator_named(name: str) -> type[Operator]:
    own = OWN_OPERATORS.get(name)
    return own if own is not None else get_operator(name)


def own_operator_specs(source: str, path: str) -> list[MutationSpec]:
    """The mutations of :data:`OWN_OPERATORS` in ``source``, numbered as cosmic-ray numbers."""
    specs = []
    tree = get_ast(source)
    for name, operator_class in OWN_OPERATORS.items():
        operator = operator_class()
        positions = [p for node in ast_nodes(tree) for p in operator.mutation_positions(node)]
        for occurrence, (start, end) in enumerate(positions):
            specs.append(MutationSpec(Path(path), name, occurrence, start, end))
    return specs


# --------------------------------------------------------------------------- mutants


@dataclass
class Mutant:
    """One mutation and what the tool learned about it."""

    spec: MutationSpec
    job_id: str
    diff: str = ""
    #: ``None``: every test of the area; ``[]``: no test ran the lines.
    tests: list[str] | None = None
    #: Lines whose coverage decides which tests can see the mutant (see :func:`statement_lines`).
    lines: tuple[int, ...] = ()
    #: For a mutant in the header of a ``def`` or ``class`` (decorators, signature, bases):
    #: the lines of its body. See :func:`select_tests`.
    body: tuple[int, ...] = ()
    #: killed | timeout | crashed | survived | not-covered | equivalent | invalid | pending
    status: str = "pending"
    detail: str = ""
    seconds: float = 0.0

    @property
    def module(self) -> str:
        return str(self.spec.module_path)

    @property
    def line(self) -> int:
        return int(self.spec.start_pos[0])

    @property
    def operator(self) -> str:
        return self.spec.operator_name.removeprefix("core/")

    @property
    def ident(self) -> str:
        """A readable id: ``path:line:col operator #occurrence``."""
        line, col = self.spec.start_pos
        return f"{self.module}:{line}:{col} {self.operator} #{self.spec.occurrence}"


def definition_ranges(source: str) -> dict[str, tuple[int, int]]:
    """Dotted name -> (first line, last line) of every class and function, decorators included."""
    ranges: dict[str, tuple[int, int]] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                ranges[name] = (first, child.end_lineno or child.lineno)
                visit(child, name + ".")

    visit(ast.parse(source), "")
    return ranges


def annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Spans of the annotations that never run: all of them under postponed evaluation."""
    tree = ast.parse(source)
    postponed = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(alias.name == "annotations" for alias in node.names)
        for node in tree.body
    )
    if not postponed:
        return []
    spans = []
    for node in ast.walk(tree):
        annotations: list[ast.expr | None] = []
        if isinstance(node, ast.arg):
            annotations.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            annotations.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        for annotation in annotations:
            if annotation is not None and annotation.end_lineno is not None:
                spans.append(
                    (
                        (annotation.lineno, annotation.col_offset),
                        (annotation.end_lineno, annotation.end_col_offset or 0),
                    )
                )
    return spans


def statement_lines(tree: ast.Module, start: Sequence[int], end: Sequence[int]) -> tuple[int, ...]:
    """The lines coverage reports for the code at ``start``..``end``.

    Coverage records a statement that spans several lines at its first line (a decorated
    ``def`` at its first decorator), so a mutant in the third line of a call, or in a
    ``def``'s parameter list, is covered when that first line is.
    """
    lines = set(range(start[0], end[0] + 1))
    innermost: ast.stmt | None = None
    position = (start[0], start[1])
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt) or node.end_lineno is None:
            continue
        first, past = (node.lineno, node.col_offset), (node.end_lineno, node.end_col_offset or 0)
        inner = innermost is None or first >= (innermost.lineno, innermost.col_offset)
        if first <= position < past and inner:
            innermost = node
    if innermost is not None:
        lines.add(innermost.lineno)
        for decorator in getattr(innermost, "decorator_list", ()):
            lines.add(decorator.lineno)
    return tuple(sorted(lines))


def header_body_lines(tree: ast.Module, start: Sequence[int]) -> tuple[int, ...]:
    """The body's lines of the ``def``/``class`` whose header holds ``start``, else ``()``.

    A header (decorators, parameters and their defaults, return annotation, bases) runs
    when the module is imported, but what it changes - a default, a decorator's wrapper,
    a base class - is only seen where the function is called or the class used, and
    then its body runs.
    """
    position = (start[0], start[1])
    found: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | None = None
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        body_start = (node.body[0].lineno, node.body[0].col_offset)
        if (first, 0) <= position < body_start and (found is None or node.lineno > found.lineno):
            found = node
    if found is None or found.end_lineno is None:
        return ()
    return tuple(range(found.body[0].lineno, found.end_lineno + 1))


def _inside(pos: Sequence[int], span: tuple[tuple[int, int], tuple[int, int]]) -> bool:
    return span[0] <= (pos[0], pos[1]) < span[1]


def enumerate_mutants(lane: Path, targets: Iterable[Target]) -> list[Mutant]:
    """Every cosmic-ray mutant of ``targets`` (paths relative to the lane), in file order."""
    mutants: list[Mutant] = []
    for target in targets:
        source = (lane / target.path).read_text()
        scopes = definition_ranges(source)
        missing = [scope for scope in target.scopes if scope not in scopes]
        if missing:
            raise SystemExit(f"mutation: {target.path} has no definition {missing}; fix AREAS")
        spans = annotation_spans(source)
        tree = ast.parse(source)
        with (
            tempfile.TemporaryDirectory() as scratch,
            use_db(str(Path(scratch) / "enumerate.sqlite"), WorkDB.Mode.create) as db,
        ):
            cosmic_ray_init([lane / target.path], db, {})  # every core operator, no arguments
            specs = [
                attrs.evolve(item.mutations[0], module_path=Path(target.path))
                for item in db.work_items
            ]
        specs += own_operator_specs(source, target.path)
        for spec in specs:
            line = spec.start_pos[0]
            if target.scopes and not any(
                scopes[scope][0] <= line <= scopes[scope][1] for scope in target.scopes
            ):
                continue
            mutant = Mutant(spec=spec, job_id="")
            mutant.job_id = hashlib.sha1(mutant.ident.encode()).hexdigest()[:16]
            mutated = mutate_code(source, operator_named(spec.operator_name)(), spec.occurrence)
            mutant.diff = "" if mutated is None else unified_diff(source, mutated, target.path)
            mutant.lines = statement_lines(tree, spec.start_pos, spec.end_pos)
            mutant.body = header_body_lines(tree, spec.start_pos)
            if mutated is None or not _compiles(mutated, target.path):
                mutant.status = "invalid"
                mutant.detail = "the mutated module is not valid Python (never imported by anyone)"
            elif any(_inside(spec.start_pos, span) for span in spans):
                mutant.status = "equivalent"
                mutant.detail = "inside an annotation of a module with postponed annotations"
            mutants.append(mutant)
    mutants.sort(key=lambda m: (m.module, m.spec.start_pos, m.operator, m.spec.occurrence))
    return mutants


def _compiles(source: str, path: str) -> bool:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # `x is "literal"` mutants compile
        try:
            compile(source, path, "exec")
        except SyntaxError:
            return False
    return True


def mutated_source(lane: Path, spec: MutationSpec) -> tuple[str, str | None]:
    """(original, mutated) source of ``spec``'s file in ``lane``; mutated is None if impossible."""
    original = (lane / spec.module_path).read_text()
    operator = operator_named(spec.operator_name)(**(spec.operator_args or {}))
    return original, mutate_code(original, operator, spec.occurrence)


def unified_diff(original: str, mutated: str, path: str) -> str:
    import difflib

    return "\n".join(
        difflib.unified_diff(
            original.splitlines(), mutated.splitlines(), f"a/{path}", f"b/{path}", n=0, lineterm=""
        )
    )


def sample(mutants: list[Mutant], max_per_module: int | None, seed: int) -> list[Mutant]:
    """The runnable mutants to run: all of them, or at most ``max_per_module`` per module.

    The draw depends only on the seed, the module's name and its runnable mutants, so it
    is the same on every machine and with any ``--jobs``.
    """
    if max_per_module is None:
        return mutants
    by_module: dict[str, list[Mutant]] = defaultdict(list)
    for mutant in mutants:
        by_module[mutant.module].append(mutant)
    chosen: list[Mutant] = []
    for module, group in sorted(by_module.items()):
        if len(group) > max_per_module:
            group = random.Random(f"{seed}:{module}").sample(group, max_per_module)
        chosen.extend(group)
    chosen.sort(key=lambda m: (m.module, m.spec.start_pos, m.operator, m.spec.occurrence))
    return chosen


# --------------------------------------------------------------------------- lanes and coverage


def make_lane(root: Path) -> Path:
    """A fresh copy of the packages, runnable as if installed, with no pytest configuration."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for package in PACKAGES:
        shutil.copytree(
            REPO / package, root / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    # An empty ini file stops pytest from walking up to a project configuration.
    (root / "pytest.ini").write_text("[pytest]\n")
    return root


def _env(lane: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(lane), str(TOOLS)])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("OMP_NUM_THREADS", "1")
    env.pop("CONFORMANCE_BACKEND", None)
    return env


#: Extra pytest arguments from ``--pytest-arg``, appended to every run of every area.
EXTRA_PYTEST_ARGS: list[str] = []


def base_args(lane: Path, area: Area) -> list[str]:
    return [
        f"--rootdir={lane}",
        f"--backend={area.backend}",
        "-p",
        "no:cacheprovider",
        "-q",
        *area.pytest_args,
        *EXTRA_PYTEST_ARGS,
    ]


def measure_coverage(lane: Path, area: Area, workdir: Path) -> dict[str, dict[int, set[str]]]:
    """Run the area suite once under coverage; relative path -> line -> test node ids."""
    import coverage

    data_file = workdir / "coverage.sqlite"
    rcfile = workdir / "coveragerc"
    sources = sorted({str(lane / Path(t.path).parent) for t in area.targets})
    rcfile.write_text("[run]\nsource =\n" + "".join(f"    {s}\n" for s in sources))
    command = [
        sys.executable,
        "-m",
        "coverage",
        "run",
        f"--rcfile={rcfile}",
        f"--data-file={data_file}",
        "-m",
        "pytest",
        "-p",
        "mutation_contexts",
        *base_args(lane, area),
        str(lane / area.suite),
    ]
    env = _env(lane)
    env["MUTATION_IMPORT_FIRST"] = ",".join(
        t.path.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for t in area.targets
    )
    with tempfile.TemporaryDirectory() as cwd:
        started = time.monotonic()
        done = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, check=False
        )
    (workdir / "baseline.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise SystemExit(
            f"mutation: the unmutated {area.suite} suite failed under coverage "
            f"(exit {done.returncode}); see {workdir / 'baseline.log'}"
        )
    print(f"  baseline under coverage passed in {time.monotonic() - started:.0f}s", flush=True)
    data = coverage.CoverageData(basename=str(data_file))
    data.read()
    lines: dict[str, dict[int, set[str]]] = {}
    for target in area.targets:
        contexts = data.contexts_by_lineno(str(lane / target.path))
        lines[target.path] = {line: set(labels) for line, labels in contexts.items()}
    return lines


def select_tests(mutant: Mutant, lines: dict[int, set[str]]) -> list[str] | None:
    """The node ids that ran the mutant's lines; None for all of them; [] for none."""
    labels: set[str] = set()
    for line in mutant.lines:
        labels |= lines.get(line, set())
    if "" in labels and mutant.body:
        # A def's or class's header: the tests that ran its body; a body that only ran
        # at definition time (a dataclass's fields) leaves every test; none: not covered.
        body: set[str] = set()
        for line in mutant.body:
            body |= lines.get(line, set())
        labels = body - {""} or body
    if "" in labels:
        return None  # ran outside any test (definition time): it can affect every test
    return sorted(labels)


# --------------------------------------------------------------------------- running


@dataclass
class Lane:
    root: Path
    pid: int = 0
    mutant: Mutant | None = None
    original: str = ""
    started: float = 0.0
    log: Path = field(default_factory=Path)


def _child(lane: Path, args: list[str], log: Path) -> None:  # pragma: no cover - in a fork
    """In the forked child: run pytest on ``lane``'s packages and exit with its code."""
    try:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        scratch = tempfile.mkdtemp(prefix="mutant-")
        os.chdir(scratch)
        sys.dont_write_bytecode = True
        sys.path[:0] = [str(lane), str(TOOLS)]
        # Tests that run a snippet in a fresh interpreter (conformance.lazy.isolated)
        # must import the mutated lane too, not the installed packages.
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [str(lane), str(TOOLS), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        for name in list(sys.modules):
            if name.split(".")[0] in PACKAGES:
                del sys.modules[name]
        import pytest

        code = int(pytest.main(args))
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    except BaseException:
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        os._exit(70)


def _start(lane: Lane, args: list[str], log: Path) -> None:
    lane.log = log
    lane.started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(lane.root, args, log)
    lane.pid = pid


def _exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _wait_one(lanes: list[Lane], timeout: float) -> tuple[Lane, int, bool]:
    """Wait for a busy lane's child; kill it after ``timeout`` seconds."""
    while True:
        for lane in lanes:
            if not lane.pid:
                continue
            pid, status = os.waitpid(lane.pid, os.WNOHANG)
            if pid:
                lane.pid = 0
                return lane, _exit_code(status), False
            if time.monotonic() - lane.started > timeout:
                os.kill(lane.pid, signal.SIGKILL)
                os.waitpid(lane.pid, 0)
                lane.pid = 0
                return lane, -signal.SIGKILL, True
        time.sleep(0.02)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def check_lanes(lanes: list[Lane], area: Area, workdir: Path, timeout: float) -> float:
    """Every lane passes the whole suite unmutated, through the same fork runner.

    Returns the longest of those runs, in seconds: the yardstick for mutant timeouts.
    """
    for index, lane in enumerate(lanes):
        _start(lane, [*base_args(lane.root, area), str(lane.root / area.suite)],
               workdir / f"lane{index}-baseline.log")  # fmt: skip
    longest = 0.0
    for _ in lanes:
        lane, code, timed_out = _wait_one(lanes, timeout)
        longest = max(longest, time.monotonic() - lane.started)
        if code != 0:
            raise SystemExit(
                f"mutation: the unmutated suite failed in a forked lane (exit {code}"
                f"{', timeout' if timed_out else ''}); see {lane.log}:\n{_tail(lane.log)}"
            )
    return longest


def run_mutants(
    mutants: list[Mutant], lanes: list[Lane], area: Area, workdir: Path, timeout: float, db: WorkDB
) -> None:
    """Run each mutant in a forked child on a free lane; record results as they come."""
    pending = list(reversed(mutants))
    logs = workdir / "logs"
    logs.mkdir(exist_ok=True)
    total, done = len(mutants), 0
    while pending or any(lane.pid for lane in lanes):
        for lane in lanes:
            if lane.pid or not pending:
                continue
            mutant = pending.pop()
            original, mutated = mutated_source(lane.root, mutant.spec)
            if mutated is None:
                mutant.status, mutant.detail = "crashed", "cosmic-ray could not apply the mutation"
                _record(db, mutant, "")
                continue
            (lane.root / mutant.spec.module_path).write_text(mutated)
            lane.mutant, lane.original = mutant, original
            selected = (
                [str(lane.root / area.suite)]
                if mutant.tests is None
                else [str(lane.root / test) for test in mutant.tests]
            )
            _start(lane, [*base_args(lane.root, area), "-x", *selected],
                   logs / f"{mutant.job_id}.log")  # fmt: skip
        if not any(lane.pid for lane in lanes):
            continue
        lane, code, timed_out = _wait_one(lanes, timeout)
        finished = lane.mutant
        assert finished is not None
        mutant = finished
        (lane.root / mutant.spec.module_path).write_text(lane.original)
        mutant.seconds = time.monotonic() - lane.started
        if timed_out:
            mutant.status, mutant.detail = "timeout", f"killed after {timeout:.0f}s"
        elif code == 0:
            mutant.status = "survived"
        elif code == 1:
            mutant.status = "killed"
            mutant.detail = _first_failure(lane.log)
        elif code == 5:
            raise SystemExit(f"mutation: no tests collected for {mutant.ident}; see {lane.log}")
        else:
            mutant.status, mutant.detail = "crashed", f"exit {code}: {_tail(lane.log, 3)}"
        _record(db, mutant, _tail(lane.log))
        done += 1
        if done % 25 == 0 or done == total:
            print(f"  {done}/{total} mutants run", flush=True)


def _first_failure(log: Path) -> str:
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            return line.split(" - ")[0].removeprefix("FAILED ").removeprefix("ERROR ")
    return ""


def _record(db: WorkDB, mutant: Mutant, output: str) -> None:
    outcome = {
        "killed": TestOutcome.KILLED,
        "timeout": TestOutcome.KILLED,
        "crashed": TestOutcome.INCOMPETENT,
        "survived": TestOutcome.SURVIVED,
        "not-covered": TestOutcome.SURVIVED,
    }.get(mutant.status)
    skipped = mutant.status in ("equivalent", "invalid")
    worker = WorkerOutcome.SKIPPED if skipped else WorkerOutcome.NORMAL
    db.set_result(
        mutant.job_id,
        WorkResult(
            worker_outcome=worker,
            test_outcome=outcome,
            output=f"{mutant.status}: {mutant.detail}\n{output}",
            diff=mutant.diff,
        ),
    )


# --------------------------------------------------------------------------- report

KILLED = ("killed", "timeout", "crashed")


def score(mutants: Iterable[Mutant]) -> dict[str, Any]:
    counts = Counter(m.status for m in mutants)
    killed = sum(counts[s] for s in KILLED)
    judged = killed + counts["survived"] + counts["not-covered"]
    return {
        "mutants": sum(counts.values()),
        "equivalent": counts["equivalent"],
        "invalid": counts["invalid"],
        "killed": killed,
        "timeout": counts["timeout"],
        "crashed": counts["crashed"],
        "survived": counts["survived"],
        "not_covered": counts["not-covered"],
        "not_run": counts["pending"],
        "score": round(100.0 * killed / judged, 1) if judged else None,
    }


def write_report(
    area_name: str, mutants: list[Mutant], workdir: Path, meta: dict[str, Any]
) -> dict[str, Any]:
    by_module: dict[str, list[Mutant]] = defaultdict(list)
    for mutant in mutants:
        by_module[mutant.module].append(mutant)
    report = {
        "area": area_name,
        **meta,
        "total": score(mutants),
        "modules": {module: score(group) for module, group in sorted(by_module.items())},
        "mutants": [
            {
                "id": m.ident,
                "module": m.module,
                "line": m.line,
                "operator": m.operator,
                "status": m.status,
                "detail": m.detail,
                "tests": "all" if m.tests is None else len(m.tests),
                "seconds": round(m.seconds, 2),
                "diff": m.diff,
            }
            for m in mutants
        ],
    }
    (workdir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        f"# Mutation report: {area_name}",
        "",
        f"{meta['command']}",
        "",
        f"wall time {meta['wall_seconds']:.0f}s, {meta['jobs']} jobs, sampling: {meta['sampling']}",
        "",
        "| module | mutants | invalid | equivalent (annotations) | killed (of which crashed) "
        "| survived | not covered | not run | score |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for module, s in [*report["modules"].items(), ("**total**", report["total"])]:
        lines.append(
            f"| {module} | {s['mutants']} | {s['invalid']} | {s['equivalent']} "
            f"| {s['killed']} ({s['crashed']}) | {s['survived']} | {s['not_covered']} "
            f"| {s['not_run']} | {s['score']}% |"
        )
    lines += ["", "## Survivors", ""]
    for m in mutants:
        if m.status in ("survived", "not-covered"):
            tests = "all tests" if m.tests is None else f"{len(m.tests)} tests"
            lines += [f"### {m.ident} ({m.status}, {tests})", "", "```diff", m.diff, "```", ""]
    (workdir / "report.md").write_text("\n".join(lines) + "\n")
    return report


# --------------------------------------------------------------------------- main


def run_area(name: str, args: argparse.Namespace) -> dict[str, Any]:
    area = AREAS[name]
    workdir = Path(args.workdir).resolve() / name
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    print(f"mutation: area {name}", flush=True)
    lanes = [Lane(make_lane(workdir / f"lane{i}")) for i in range(args.jobs)]
    lines = measure_coverage(lanes[0].root, area, workdir)
    mutants = enumerate_mutants(lanes[0].root, area.targets)
    if args.only:
        mutants = [m for m in mutants if any(part in m.ident for part in args.only)]
    runnable: list[Mutant] = []
    for mutant in mutants:
        if mutant.status in ("equivalent", "invalid"):
            continue
        mutant.tests = select_tests(mutant, lines[mutant.module])
        if mutant.tests == []:
            mutant.status, mutant.detail = "not-covered", "no test ran these lines"
        else:
            runnable.append(mutant)
    chosen = sample(runnable, args.max_per_module, args.seed)
    skipped = {id(m) for m in runnable} - {id(m) for m in chosen}
    print(
        f"  {len(mutants)} mutants: {len(runnable)} runnable, {len(chosen)} to run "
        f"({len(skipped)} left out by sampling)",
        flush=True,
    )
    session = workdir / "session.sqlite"
    session.unlink(missing_ok=True)
    with use_db(str(session), WorkDB.Mode.create) as db:
        db.add_work_items(WorkItem.single(m.job_id, m.spec) for m in mutants)
        for mutant in mutants:
            if mutant.status in ("equivalent", "invalid", "not-covered"):
                _record(db, mutant, "")
        for module in _preload(area):
            __import__(module)
        # The unmutated whole suite gets a generous hour; mutants get --timeout or, by
        # default, three times that run plus a minute: a mutant that makes the suite loop
        # is killed, and a slow but passing one is never mistaken for a kill.
        try:
            baseline = check_lanes(lanes, area, workdir, 3600.0)
            timeout = args.timeout if args.timeout is not None else 3 * baseline + 60
            print(f"  unmutated suite in a forked lane: {baseline:.0f}s; timeout {timeout:.0f}s")
            run_mutants(chosen, lanes, area, workdir, timeout, db)
        finally:
            for lane in lanes:  # interrupted: leave no child running
                if lane.pid:
                    os.kill(lane.pid, signal.SIGKILL)
                    os.waitpid(lane.pid, 0)
                    lane.pid = 0
    sampling = (
        "none: every runnable mutant ran"
        if args.max_per_module is None
        else f"at most {args.max_per_module} runnable mutants per module, seed {args.seed}"
    )
    meta = {
        "command": "python tools/mutation.py " + " ".join(sys.argv[1:]),
        "wall_seconds": time.monotonic() - started,
        "jobs": args.jobs,
        "sampling": sampling,
        "timeout_seconds": round(timeout, 1),
        "backend": area.backend,
        "suite": area.suite,
    }
    report = write_report(name, mutants, workdir, meta)
    total = report["total"]
    print(
        f"  {name}: score {total['score']}% ({total['killed']} killed, {total['survived']} "
        f"survived, {total['not_covered']} not covered, {total['equivalent']} equivalent, "
        f"{total['not_run']} not run) in {meta['wall_seconds']:.0f}s; "
        f"report: {workdir / 'report.md'}",
        flush=True,
    )
    return report


def _preload(area: Area) -> tuple[str, ...]:
    return area.preload


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--area", action="append", choices=sorted(AREAS), help="area to mutate (repeatable)"
    )
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--workdir", default=str(REPO / "build" / "mutation"))
    parser.add_argument("--max-per-module", type=int, default=None, metavar="N")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds per mutant (default: 3 x the unmutated suite's time + 60)",
    )
    parser.add_argument(
        "--only", action="append", help="run only mutants whose id contains this text"
    )
    parser.add_argument(
        "--pytest-arg",
        action="append",
        default=[],
        help="extra argument for every suite run, e.g. --pytest-arg=--deselect=... (repeatable)",
    )
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.max_per_module is not None and args.max_per_module < 1:
        parser.error("--max-per-module must be at least 1")
    EXTRA_PYTEST_ARGS[:] = args.pytest_arg
    for name in args.area or ["fx", "parametrize"]:
        run_area(name, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
