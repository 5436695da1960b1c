"""The pytest plugin: ``--backend``, expectation manifests, reports and the summary table.

Registered through the ``pytest11`` entry point, so it is active in every pytest run of
an environment where torch-conformance is installed. It therefore stays out of the way:
importing it is cheap (no torch), it only touches tests that live in the ``conformance``
package, and it loads the backend only when such tests are collected or the run names
a backend explicitly.

Under pytest-xdist the controller and every worker load the backend; workers run tests
and the controller writes the report and the summary from the reports workers send
(per-test facts travel in ``user_properties``, which xdist serializes).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conformance.contract import AREAS
from conformance.discovery import BackendError, LoadedBackend, load_backend
from conformance.manifest import Manifest, ManifestError, load_manifest, write_expectations
from conformance.results import CaseResult, build_report, format_table, write_report

ENV_BACKEND = "CONFORMANCE_BACKEND"
DEFAULT_BACKEND = "reference"
#: user_properties keys carrying per-test facts from xdist workers to the controller.
PROP_ID, PROP_AREA, PROP_NOT_IMPL, PROP_CATEGORY = (
    "conformance_id",
    "conformance_area",
    "conformance_not_implemented",
    "conformance_category",
)
#: Op-sweep facts: the test's dispatch class (native/fallback/wrong/error) and fallbacks.
PROP_DISPATCH, PROP_FALLBACKS = "conformance_dispatch", "conformance_fallbacks"
SWEEP_DTYPES = ("float32", "float64", "bfloat16", "float16", "int64", "bool")
TIERS = ("full", "smoke")


def _dtype_list(value: str) -> tuple[str, ...]:
    import argparse

    names = tuple(v.strip() for v in value.split(",") if v.strip())
    bad = [n for n in names if n not in SWEEP_DTYPES]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"unknown dtype(s) {', '.join(bad) or value!r}; choose from {', '.join(SWEEP_DTYPES)}"
        )
    return names


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "torch-conformance")
    group.addoption(
        "--backend",
        default=None,
        metavar="NAME",
        help="backend under test: an entry-point name in the 'conformance.backends' group "
        f"or package.module:attr (default: ${ENV_BACKEND}, else {DEFAULT_BACKEND!r})",
    )
    group.addoption(
        "--expectations",
        default=None,
        metavar="FILE",
        help="TOML manifest of the backend's known failures (default: the manifest the "
        "backend ships; 'none' disables it)",
    )
    group.addoption(
        "--conformance-report",
        default=None,
        metavar="FILE",
        help="write a JSON report (backend, versions, per-test outcome, area, duration, "
        "reason) for release gating; compare two with 'python -m conformance compare'",
    )
    group.addoption(
        "--accept",
        action="store_true",
        default=False,
        dest="conformance_accept",
        help="rewrite golden files (e.g. lazy IR text) from the backend under test instead "
        "of comparing; same as EXPECTTEST_ACCEPT=1. Never use in CI",
    )
    group.addoption(
        "--write-expectations",
        default=None,
        metavar="FILE",
        help="after the run, write a manifest listing every failing test with the observed "
        "error as its reason (plus the current manifest's still-failing entries and [[op]] "
        "tables); review the reasons before committing it",
    )
    # The op sweep (lazy/test_ops.py).
    group.addoption(
        "--dtypes",
        type=_dtype_list,
        default=None,
        dest="conformance_dtypes",
        metavar="LIST",
        help=f"op sweep: comma-separated dtypes ({', '.join(SWEEP_DTYPES)}; default float32)",
    )
    group.addoption(
        "--grads",
        action="store_true",
        default=False,
        dest="conformance_grads",
        help="op sweep: also compare gradients of differentiable ops (lazy/test_grads.py)",
    )
    group.addoption(
        "--ops",
        default=None,
        dest="conformance_ops",
        metavar="PATTERNS",
        help="op sweep: only OpInfo ops matching these comma-separated patterns "
        "(fnmatch, e.g. 'add,nn.functional.*')",
    )
    group.addoption(
        "--conformance-tier",
        choices=TIERS,
        default=None,
        dest="conformance_tier",
        help="op sweep: 'full' runs every sample of every op (default), 'smoke' one sample "
        "per op (plus every sample of ops listed in the manifest and of the "
        "conformance_full_sample fraction)",
    )
    group.addoption(
        "--op-timeout",
        type=float,
        default=120.0,
        dest="conformance_op_timeout",
        metavar="SECONDS",
        help="op sweep: per-test timeout; a test that takes longer is reported as an error "
        "(default 120)",
    )
    parser.addini(
        "conformance_tier",
        "op sweep tier when --conformance-tier is not given (full or smoke)",
        default="full",
    )
    parser.addini(
        "conformance_full_sample",
        "op sweep, smoke tier: fraction (0-1) of ops, chosen by a hash of the op name, that "
        "still run every sample",
        default="0",
    )


def canonical_id(item: pytest.Item) -> tuple[str, str] | None:
    """(canonical test id, area) for an item of a conformance suite, else None.

    The canonical id is the test module's path inside the ``conformance`` package plus
    the rest of the node id (``fx/test_pickle.py::test_round_trip``). It is derived from
    the module's dotted name, not its location, so manifests and reports are the same
    whether pytest was started in a checkout, from another directory with ``--pyargs``,
    or against an installed copy; node ids are not (they are relative to the rootdir).
    """
    module = getattr(item, "module", None)
    parts = getattr(module, "__name__", "").split(".")
    if len(parts) < 3 or parts[0] != "conformance" or parts[1] not in AREAS:
        return None
    _, sep, rest = item.nodeid.partition("::")
    return "/".join(parts[1:]) + ".py" + sep + rest, parts[1]


@dataclass(eq=False)  # registered as a plugin, so it must stay hashable
class ConformanceState:
    """Everything the plugin knows about this run; lives in ``config.stash``."""

    config: pytest.Config
    _backend: LoadedBackend | None = None
    _manifest: Manifest | None = None
    _manifest_loaded: bool = False
    collected_ids: list[str] = field(default_factory=list)
    results: dict[str, CaseResult] = field(default_factory=dict)
    #: node id -> (canonical id, area) of every test reported so far (for crash reports).
    _seen: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def backend_spec(self) -> str:
        option = self.config.getoption("backend")
        return option or os.environ.get(ENV_BACKEND) or DEFAULT_BACKEND

    @property
    def backend(self) -> LoadedBackend:
        if self._backend is None:
            try:
                self._backend = load_backend(self.backend_spec)
            except BackendError as exc:
                raise pytest.UsageError(f"torch-conformance: {exc}") from None
        return self._backend

    @property
    def manifest(self) -> Manifest | None:
        if not self._manifest_loaded:
            self._manifest = self._load_manifest()
            self._manifest_loaded = True
        return self._manifest

    def _load_manifest(self) -> Manifest | None:
        option = self.config.getoption("expectations")
        if option is not None and option.lower() == "none":
            return None
        if option is not None:
            path = Path(option)
            if not path.is_absolute():
                path = self.config.invocation_params.dir / path
        else:
            path = self.backend.expectations  # type: ignore[assignment]
            if path is None:
                return None
        try:
            return load_manifest(path)
        except ManifestError as exc:
            raise pytest.UsageError(f"torch-conformance: {exc}") from None

    @property
    def tier(self) -> str:
        """The op sweep's tier: the option, else the ini setting, else ``full``."""
        tier = self.config.getoption("conformance_tier") or self.config.getini("conformance_tier")
        if tier not in TIERS:
            raise pytest.UsageError(f"torch-conformance: conformance_tier must be one of {TIERS}")
        return str(tier)

    @property
    def full_sample(self) -> float:
        """The fraction of ops that run every sample in the smoke tier (ini setting)."""
        try:
            return min(1.0, max(0.0, float(self.config.getini("conformance_full_sample"))))
        except ValueError:
            raise pytest.UsageError(
                "torch-conformance: conformance_full_sample must be a number from 0 to 1"
            ) from None

    def targets_conformance(self) -> bool:
        """Whether this run is about conformance even before collection says so."""
        if self.config.getoption("backend") or os.environ.get(ENV_BACKEND):
            return True
        # "conformance", "conformance.fx", "conformance/fx/test_x.py::t", absolute paths.
        return any("conformance" in re.split(r"[/\\.:]", arg) for arg in self.config.args)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Hook (the state is registered as a plugin): fold each phase into a result.

        Under xdist the controller receives every worker's reports through this hook too;
        only the controller (or a plain run) writes the summary and the report.
        """
        self.record(report)

    def record(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if PROP_ID in props:
            self._seen[report.nodeid] = (str(props[PROP_ID]), str(props[PROP_AREA]))
        elif report.when not in ("setup", "call", "teardown"):
            # xdist's controller synthesizes the report of a test whose worker crashed
            # (when="???") without the worker's user_properties: recover its id from the
            # test's setup report, else from the node id's path.
            found = self._seen.get(report.nodeid) or crashed_test_id(report.nodeid)
            if found is not None:
                props[PROP_ID], props[PROP_AREA] = found
        test_id = props.get(PROP_ID)
        if not isinstance(test_id, str):
            return  # not a conformance test
        result = self.results.get(test_id)
        if result is None:
            result = self.results[test_id] = CaseResult(
                id=test_id,
                area=str(props[PROP_AREA]),
                outcome="passed",
                category=str(props.get(PROP_CATEGORY, "")),
            )
        result.duration += report.duration
        if PROP_DISPATCH in props:
            result.dispatch = str(props[PROP_DISPATCH])
            fallbacks = props.get(PROP_FALLBACKS)
            result.fallbacks = [str(f) for f in fallbacks] if isinstance(fallbacks, list) else []
        outcome, reason = _phase_outcome(report, bool(props.get(PROP_NOT_IMPL)))
        if outcome is None:
            return
        if report.when == "teardown" and result.outcome != "passed":
            return  # the call phase already decided; keep its reason
        if outcome == "failed" and _is_timeout(reason):
            outcome = "error"  # a hang is the backend breaking, not a wrong answer
        result.outcome, result.reason = outcome, reason


def crashed_test_id(nodeid: str) -> tuple[str, str] | None:
    """(canonical id, area) from a node id alone, for reports without user_properties.

    The file part of a node id ends in ``.../conformance/<area>/<file>.py`` wherever the
    suite is installed; the canonical id is the path from the area on (see canonical_id).
    """
    path, sep, rest = nodeid.partition("::")
    parts = path.replace("\\", "/").split("/")
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "conformance" and parts[i + 1] in AREAS:
            return "/".join(parts[i + 1 :]) + sep + rest, parts[i + 1]
    return None


def _is_timeout(text: str) -> bool:
    return "Timeout (>" in text and "pytest-timeout" in text


def _phase_outcome(report: pytest.TestReport, not_implemented: bool) -> tuple[str | None, str]:
    """What one phase report says about the test, or (None, '') if it says nothing new."""
    xfail_reason = getattr(report, "wasxfail", None)
    if report.skipped:
        if xfail_reason is not None:
            return "xfailed", xfail_reason
        return ("not_implemented" if not_implemented else "skipped"), _skip_reason(report)
    if report.failed:
        text = _failure_text(report)
        if text.startswith("[XPASS(strict)]"):
            return "xpassed", "listed as a known failure but passed: " + text
        return ("failed" if report.when == "call" else "error"), text
    if report.when == "call":
        return "passed", ""
    return None, ""


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _failure_text(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    return text if len(text) <= 2000 else text[:2000] + " [...]"


STATE_KEY = pytest.StashKey[ConformanceState]()


def state_of(config: pytest.Config) -> ConformanceState:
    return config.stash[STATE_KEY]


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    state = ConformanceState(config)
    config.stash[STATE_KEY] = state
    config.pluginmanager.register(state, "conformance-state")
    if state.targets_conformance():
        # Fail fast, before the session starts, on a bad backend or manifest.
        _ = state.backend, state.manifest


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    state = state_of(config)
    if not state.targets_conformance():
        return None
    return _header_lines(state)


def _header_lines(state: ConformanceState) -> list[str]:
    import torch  # heavy: only once we know this is a conformance run

    backend = state.backend
    missing = [a for a in AREAS if a not in backend.areas]
    lines = [
        f"conformance: backend {backend.name} {backend.version} | torch {torch.__version__} | "
        f"device {backend.device} | areas: {', '.join(backend.areas) or 'none'}"
        + (f" (not implemented: {', '.join(missing)})" if missing else "")
    ]
    manifest = state.manifest
    lines.append(
        f"conformance: expectations {manifest.path} ({len(manifest.entries)} entries)"
        if manifest is not None
        else "conformance: expectations none"
    )
    return lines


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = state_of(config)
    tagged = [(item, canonical_id(item)) for item in items]
    ours = [(item, ids) for item, ids in tagged if ids is not None]
    if not ours:
        return
    backend, manifest = state.backend, state.manifest
    for item, (test_id, area) in ours:
        item.user_properties += [(PROP_ID, test_id), (PROP_AREA, area)]
        if area not in backend.areas:
            item.user_properties.append((PROP_NOT_IMPL, True))
            item.add_marker(
                pytest.mark.skip(reason=f"backend {backend.name} does not implement {area}")
            )
            continue
        expectation = manifest.match(test_id) if manifest is not None else None
        if expectation is not None:
            item.user_properties.append((PROP_CATEGORY, expectation.category))
            item.add_marker(
                pytest.mark.xfail(
                    reason=f"[{expectation.category}] {expectation.reason}", strict=True
                )
            )
    state.collected_ids = [test_id for _, (test_id, _) in ours]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """On the xdist controller: learn the collected ids from a worker (it collects none)."""
    state = state_of(node.config)
    collected = getattr(node, "workeroutput", {}).get(PROP_ID)
    if collected and not state.collected_ids:
        state.collected_ids = list(collected)


def _unmatched(state: ConformanceState) -> list[dict[str, Any]]:
    if not state.collected_ids or state.manifest is None:
        return []
    # A sweep narrowed with --ops or --dtypes leaves most op entries unmatched by design.
    narrowed = state.config.getoption("conformance_ops") or state.config.getoption(
        "conformance_dtypes"
    )
    sweep = ("lazy/test_ops.py", "lazy/test_grads.py")
    return [
        {"test": e.test, "line": e.line, "reason": e.reason}
        for e in state.manifest.unmatched(state.collected_ids)
        if not (narrowed and e.test.startswith(sweep))
    ]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = state_of(config)
    if _is_worker(config) or not state.results:
        return
    backend = state.backend
    terminalreporter.section(f"conformance: backend {backend.name} {backend.version}")
    for line in format_table(list(state.results.values())):
        terminalreporter.write_line(line)
    for entry in _unmatched(state):
        terminalreporter.write_line(
            f"warning: expectation {entry['test']!r} ({state.manifest.path}:{entry['line']}) "  # type: ignore[union-attr]
            "matches no collected test; remove or fix the entry",
            yellow=True,
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = state_of(config)
    if _is_worker(config):
        config.workeroutput[PROP_ID] = state.collected_ids  # type: ignore[attr-defined]
        return
    expectations_target = config.getoption("write_expectations")
    if expectations_target is not None:
        out = Path(expectations_target)
        if not out.is_absolute():
            out = config.invocation_params.dir / out
        write_expectations(out, list(state.results.values()), state.manifest)
    target = config.getoption("conformance_report")
    if target is None:
        return
    import torch

    backend = state._backend
    report = build_report(
        backend={
            "name": backend.name if backend else None,
            "spec": state.backend_spec,
            "version": backend.version if backend else None,
            "device": backend.device if backend else None,
            "areas": list(backend.areas) if backend else [],
        },
        results=list(state.results.values()),
        expectations=str(state.manifest.path) if backend and state.manifest else None,
        unmatched=_unmatched(state),
        exitstatus=int(exitstatus),
        torch_version=str(torch.__version__),
    )
    path = Path(target)
    if not path.is_absolute():
        path = config.invocation_params.dir / path
    write_report(path, report)
