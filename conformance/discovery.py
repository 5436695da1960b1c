"""Finding and validating a backend plugin.

A backend is named either by its entry-point name in the ``conformance.backends`` group
(``reference``, ``torch``, or a third party's) or directly as ``package.module:attr``.
Built-in backends use the entry-point door too, so discovery has a single code path.

Every way this can go wrong ends in :class:`BackendError` with a message that names the
problem and the fix; the pytest plugin turns it into a usage error (no traceback).
"""

from __future__ import annotations

import importlib
import traceback
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from conformance.contract import (
    AREAS,
    BACKEND_MEMBERS,
    CapabilityError,
    default_expectations,
    lazy_capabilities,
    member_problems,
    missing_members,
)

ENTRY_POINT_GROUP = "conformance.backends"


def guide_path() -> Path:
    """The backend author's guide, shipped inside the package."""
    return Path(__file__).parent / "writing-a-backend.md"


DOCS_HINT = f"see {guide_path()}"


class BackendError(ValueError):
    """A backend could not be found, imported or validated."""


@dataclass
class LoadedBackend:
    """A validated backend and what the harness derived from it."""

    spec: str
    obj: object
    name: str
    version: str
    device: str
    areas: dict[str, object] = field(default_factory=dict)
    expectations: Path | None = None
    #: The lazy area's capabilities (see ``conformance.contract.lazy_capabilities``).
    capabilities: frozenset[str] = frozenset()

    def describe(self) -> str:
        """One line for report headers: name, version, device and implemented areas."""
        areas = ", ".join(self.areas) or "none"
        return f"{self.name} {self.version} (device {self.device}; areas: {areas})"


def known_backends() -> dict[str, list[EntryPoint]]:
    """Entry-point name -> entry points registered under it (several means a clash)."""
    found: dict[str, list[EntryPoint]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, []).append(ep)
    return found


def _cause(exc: BaseException) -> str:
    """``Type: message (at file:line)`` for the innermost frame of ``exc``."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _import_attr(spec: str) -> object:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise BackendError(
            f"backend spec {spec!r} is malformed: expected 'package.module:attribute'"
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise BackendError(
            f"backend {spec!r}: importing module {module_name!r} failed: {_cause(exc)}. "
            "Fix the import error or check that the module is on sys.path."
        ) from exc
    obj: object = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise BackendError(
                f"backend {spec!r}: module {module_name!r} has no attribute {attr!r}"
            ) from None
    return obj


def _load_entry_point(name: str) -> object:
    known = known_backends()
    if name not in known:
        names = ", ".join(sorted(known)) or "none installed"
        raise BackendError(
            f"unknown backend {name!r}; known backends: {names}. Install the plugin that "
            f"registers it in the {ENTRY_POINT_GROUP!r} entry-point group, or pass "
            "--backend=package.module:attribute"
        )
    eps = known[name]
    if len({ep.value for ep in eps}) > 1:
        where = "; ".join(f"{ep.value} (from {_dist_name(ep)})" for ep in eps)
        raise BackendError(
            f"backend name {name!r} is registered more than once: {where}. "
            "Uninstall one of the distributions or pass --backend=package.module:attribute"
        )
    ep = eps[0]
    try:
        return ep.load()
    except Exception as exc:
        raise BackendError(
            f"backend {name!r} (entry point {ep.value!r} from {_dist_name(ep)}) failed to "
            f"import: {_cause(exc)}"
        ) from exc


def _dist_name(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"distribution {dist.name!r}" if dist is not None else "an unknown distribution"


def load_backend(spec: str) -> LoadedBackend:
    """Find, import and validate the backend named by ``spec``.

    A class is instantiated with no arguments; any other object is used as it is.
    """
    obj = _import_attr(spec) if ":" in spec else _load_entry_point(spec)
    if isinstance(obj, type):
        try:
            obj = obj()
        except Exception as exc:
            raise BackendError(
                f"backend {spec!r}: instantiating {obj!r} failed: {_cause(exc)}"
            ) from exc
    values: dict[str, object] = {}
    missing = []
    for name in BACKEND_MEMBERS:
        try:
            values[name] = getattr(obj, name)
        except AttributeError:
            missing.append(name)
        except Exception as exc:
            raise BackendError(
                f"backend {spec!r}: reading its {name!r} failed: {_cause(exc)}; {DOCS_HINT}"
            ) from exc
    if missing:
        raise BackendError(
            f"backend {spec!r} ({type(obj).__qualname__}) lacks required members: "
            f"{', '.join(missing)}; {DOCS_HINT}"
        )
    wrong = [
        f"{name} must be a non-empty string, got {values[name]!r}"
        for name in ("name", "device")
        if not isinstance(values[name], str) or not values[name]
    ]
    if wrong:
        raise BackendError(f"backend {spec!r}: {'; '.join(wrong)}; {DOCS_HINT}")
    try:
        expectations = default_expectations(obj)
    except Exception as exc:
        raise BackendError(
            f"backend {spec!r}: its 'expectations' is not a path: {_cause(exc)}"
        ) from exc
    loaded = LoadedBackend(
        spec=spec,
        obj=obj,
        name=str(values["name"]),
        version=str(values["version"]),
        device=str(values["device"]),
        expectations=expectations,
    )
    for area in AREAS:
        try:
            area_obj = getattr(obj, area, None)
        except Exception as exc:
            raise BackendError(
                f"backend {loaded.name!r}: providing area {area!r} failed: {_cause(exc)}"
            ) from exc
        if area_obj is None:
            continue
        lacking = missing_members(area_obj, area)
        if lacking:
            raise BackendError(
                f"backend {loaded.name!r}: its {area!r} area ({type(area_obj).__qualname__}) "
                f"lacks required members: {', '.join(lacking)}; {DOCS_HINT}"
            )
        problems = member_problems(area_obj, area)
        if problems:
            raise BackendError(
                f"backend {loaded.name!r}: its {area!r} area ({type(area_obj).__qualname__}) "
                f"has members of the wrong type: {'; '.join(problems)}; {DOCS_HINT}"
            )
        if area == "lazy":
            try:
                loaded.capabilities = lazy_capabilities(area_obj)
            except CapabilityError as exc:
                raise BackendError(
                    f"backend {loaded.name!r}: its 'lazy' area ({type(area_obj).__qualname__}) "
                    f"{exc}; {DOCS_HINT}"
                ) from None
        loaded.areas[area] = area_obj
    return loaded
