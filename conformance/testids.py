"""Canonical test ids: where a test lives inside the ``conformance`` package.

A canonical id is the test module's path relative to the ``conformance`` package, then
the rest of pytest's node id: ``fx/test_recompile.py::test_edit_marks_stale``. Manifests,
reports and ``compare`` use it because it is the same wherever the suite is installed
and wherever pytest was started; pytest's node ids are not (they are relative to the
rootdir: ``conformance/fx/...`` in a checkout, ``fx/...`` with ``--pyargs conformance``
from elsewhere, ``../../venv/lib/...`` in other layouts).

The id is derived from the file's real location, so the xdist controller (which collects
nothing) can attribute a crashed worker's test from the node id alone.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from conformance.contract import AREAS


@cache
def package_dir() -> Path:
    """The installed (or checked-out) ``conformance`` package directory, resolved."""
    import conformance

    return Path(conformance.__file__).resolve().parent


def canonical_id(path: Path, rest: str) -> tuple[str, str] | None:
    """(canonical id, area) of test ``rest`` (``test_x[p]``) in file ``path``, or None.

    None when ``path`` is not a test module of an area suite of the installed package.
    """
    try:
        relative = path.resolve().relative_to(package_dir())
    except ValueError:
        return None
    parts = relative.parts
    if len(parts) < 2 or parts[0] not in AREAS:
        return None
    return "/".join(parts) + ("::" + rest if rest else ""), parts[0]


def suite_files() -> set[str]:
    """Canonical paths of every test module of the installed suite (``fx/test_x.py``)."""
    root = package_dir()
    return {
        path.relative_to(root).as_posix()
        for area in AREAS
        for path in (root / area).glob("**/test_*.py")
    }


def from_nodeid(
    nodeid: str, rootpath: Path, initial: list[Path] | tuple[Path, ...] = ()
) -> tuple[str, str] | None:
    """(canonical id, area) from a pytest node id, or None.

    pytest writes a file's node id relative to the rootdir when the file is inside it,
    else relative to the command-line argument (*initial path*) that contains it, so
    ``--pyargs conformance`` run from elsewhere gives ``lazy/test_x.py::t`` and
    ``--pyargs conformance.fx`` gives ``test_x.py::t``. Each base is tried in that order;
    the first that names an existing test file of the suite wins.
    """
    path, _, rest = nodeid.partition("::")
    if not path:
        return _from_module_argument(rest, initial)
    for candidate in [rootpath / path, *(base / path for base in initial)]:
        found = canonical_id(candidate, rest)
        if found is not None and candidate.is_file():
            return found
    return None


def _from_module_argument(
    rest: str, initial: list[Path] | tuple[Path, ...]
) -> tuple[str, str] | None:
    """The test ``rest`` of a node id with no file part (``::test_x``).

    pytest writes such ids when a command-line argument is the test module itself
    (``--pyargs conformance.fx.test_hooks``). With several module arguments the id alone
    does not say which module it is from, so the module that defines the test's function
    (or class) decides; None when that is not exactly one module.
    """
    modules = [base for base in initial if base.is_file() and canonical_id(base, rest)]
    if len(modules) > 1:
        name = rest.split("::", 1)[0].split("[", 1)[0]
        modules = [m for m in modules if _defines(m, name)]
    return canonical_id(modules[0], rest) if len(modules) == 1 else None


@cache
def _defined_names(module: Path) -> frozenset[str]:
    import ast

    try:
        tree = ast.parse(module.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return frozenset()
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return frozenset(node.name for node in tree.body if isinstance(node, kinds))


def _defines(module: Path, name: str) -> bool:
    return name in _defined_names(module)


def initial_paths(args: list[str], invocation_dir: Path, pyargs: bool) -> list[Path]:
    """The paths pytest starts collecting from, for command-line ``args``.

    With ``--pyargs`` a dotted name is the directory of its package (or its module file);
    anything else is a path relative to ``invocation_dir``.
    """
    paths = []
    for arg in args:
        target = arg.split("::", 1)[0]
        path: Path | None = None
        if pyargs and target and "/" not in target:
            spec = _find_spec(target)
            if spec is not None and spec.origin:
                origin = Path(spec.origin)
                path = origin.parent if origin.name == "__init__.py" else origin
        if path is None:
            path = invocation_dir / target
        paths.append(path.resolve())
    return paths


def names_suite(arg: str, invocation_dir: Path, pyargs: bool) -> bool:
    """Whether command-line argument ``arg`` selects tests of the installed suite.

    True for dotted names under ``conformance`` with ``--pyargs``, for paths inside the
    package, and for the directory that holds it (a checkout's root). A user's own
    ``tests/conformance`` directory does not count, nor does a project whose virtualenv
    holds the package (pytest does not collect inside virtualenvs), so an unrelated
    project is never taken for a conformance run.
    """
    target = arg.split("::", 1)[0]
    if pyargs and (target == "conformance" or target.startswith("conformance.")):
        return True
    if not target:
        return False
    path = (invocation_dir / target).resolve()
    package = package_dir()
    return path in (package, package.parent) or package in path.parents


def _find_spec(dotted: str) -> Any:
    """The import spec of module ``dotted``, or None when it cannot be found."""
    import importlib.util

    try:
        return importlib.util.find_spec(dotted)
    except (ImportError, ValueError):
        return None


def module_exists(dotted: str) -> bool:
    """Whether dotted name ``dotted`` (``conformance.fx.test_x``) is an importable module."""
    return _find_spec(dotted) is not None


def close_module_names(dotted: str) -> list[str]:
    """Dotted names of the suite's areas and test modules that look like ``dotted``."""
    import difflib

    names = {f"conformance.{area}" for area in AREAS} | {
        "conformance." + name.removesuffix(".py").replace("/", ".") for name in suite_files()
    }
    return difflib.get_close_matches(dotted, sorted(names), n=3, cutoff=0.6)
