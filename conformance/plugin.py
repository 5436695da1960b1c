"""The pytest plugin: ``--backend``, expectation manifests, reports and the summary table.

Registered through the ``pytest11`` entry point, so it is active in every pytest run of
an environment where torch-conformance is installed. It therefore stays out of the way:
importing it is cheap (no torch), and it only acts on a *conformance run*: one whose
arguments name the installed suite (``--pyargs conformance...``, a path inside the
package, a checkout's root) or that passes ``--backend``. ``$CONFORMANCE_BACKEND`` only
chooses the backend of such a run; it never turns an unrelated project's run into one.

Under pytest-xdist the controller and every worker load the backend; workers run tests
and the controller writes the report and the summary from the reports workers send
(per-test facts travel in ``user_properties``, which xdist serializes). The controller
collects nothing itself: it learns the selected tests from each worker's collection and
maps node ids to canonical ids by file location (``conformance.testids``), which is how
a test whose worker crashed, even during setup, is still attributed to its area.

``--shard K/N`` keeps one group of the selection (``conformance.sharding``), split last,
after ``-k``, ``-m`` and the suite's own deselection; under xdist each worker splits its
own identical collection, and sends the unsplit selection to the controller at the end
(``workeroutput``) for the report's ``shard.selection``. Progress lines
(``conformance.progress``) are printed by the controller, or by a plain run.

The report is written when the run starts (status ``unfinished``) and rewritten when it
ends, so whatever happens in between (an interrupt, a crashed worker, a killed process)
the file on disk says how the run ended; see ``conformance.results``.
"""

from __future__ import annotations

import os
import signal
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

from conformance import testids
from conformance.contract import AREAS, LAZY_CAPABILITIES, CapabilityError, check_capability_names
from conformance.discovery import BackendError, LoadedBackend, load_backend
from conformance.manifest import Manifest, ManifestError, load_manifest, write_expectations
from conformance.progress import DEFAULT_INTERVAL, Progress, estimate_line
from conformance.recorder import Recorder
from conformance.results import (
    RunStatus,
    build_report,
    format_table,
    normalize_reason,
    write_report,
)
from conformance.runtime import (
    DEFAULT_TIMEOUT,
    GOLDEN_DIR_OVERRIDE,
    GOLDENS_WRITTEN,
    Watchdog,
    accept_mode,
    configure_threads,
    describe_threads,
    planned_workers,
    user_timeout_configured,
)
from conformance.sharding import (
    Durations,
    DurationsError,
    Shard,
    assign,
    default_durations_path,
    load_durations,
    parse_shard,
    selection_digest,
)

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
#: Golden files a test wrote (accept runs only), and the warnings it raised.
PROP_GOLDENS, PROP_WARNINGS = "conformance_goldens_written", "conformance_warnings"
#: xdist ``workeroutput`` key: the selection a worker collected, before --shard split it.
WORKER_SELECTION = "conformance_selection"
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


def _seconds(value: str) -> float:
    import argparse

    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"{value!r}: a timeout cannot be negative")
    return seconds


def _threads(value: str) -> int | None:
    import argparse

    if value == "auto":
        return None
    try:
        threads = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: give a number of threads or 'auto'") from None
    if threads < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: give at least 1 thread")
    return threads


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
        help="write a JSON report (backend, versions, how the run ended, per-test outcome, "
        "area, duration, reason) for release gating; compare two with "
        "'python -m conformance compare'",
    )
    group.addoption(
        "--accept",
        action="store_true",
        default=False,
        dest="conformance_accept",
        help="rewrite golden files (e.g. lazy IR text) from the backend under test instead "
        "of comparing, and list the files written; EXPECTTEST_ACCEPT=1 means the same "
        "except when $CI is set. The report of such a run is not a verdict",
    )
    group.addoption(
        "--golden-dir",
        default=None,
        dest="conformance_golden_dir",
        metavar="DIR",
        help="read golden files from DIR (and --accept into it) instead of the suite's own "
        "golden directory, e.g. a copy in your checkout",
    )
    group.addoption(
        "--write-expectations",
        default=None,
        metavar="FILE",
        help="after the run, write a manifest listing every failing test with the observed "
        "error as its reason (plus the current manifest's still-failing entries and [[op]] "
        "tables); review the reasons before committing it",
    )
    group.addoption(
        "--conformance-timeout",
        type=_seconds,
        default=None,
        dest="conformance_timeout",
        metavar="SECONDS",
        help=f"per-test timeout of conformance tests (default: ini conformance_timeout, else "
        f"{DEFAULT_TIMEOUT:g}; 0 disables); a test that takes longer is an error and the run "
        "goes on. pytest-timeout's own --timeout, if given, applies instead",
    )
    group.addoption(
        "--threads-per-worker",
        type=_threads,
        default=None,
        dest="conformance_threads",
        metavar="N",
        help="intra-op threads (torch.set_num_threads) of each xdist worker; default 'auto': "
        "cores // workers, so workers x threads never exceed the cores",
    )
    group.addoption(
        "--show-warnings",
        action="store_true",
        default=False,
        dest="conformance_show_warnings",
        help="show the warnings conformance tests raise in pytest's warnings summary "
        "(by default they are kept in the report's per-test 'warnings' only)",
    )
    group.addoption(
        "--shard",
        default=None,
        dest="conformance_shard",
        metavar="K/N",
        help="run only the K-th (from 1) of N deterministic, duration-balanced groups of "
        "the selected tests; each shard writes its own report and 'python -m conformance "
        "merge' joins them into the report of one run",
    )
    group.addoption(
        "--shard-durations",
        default=None,
        dest="conformance_shard_durations",
        metavar="FILE",
        help="durations file that balances --shard and the progress estimate (default: the "
        "one shipped with the suite; write your own with 'python -m conformance durations')",
    )
    group.addoption(
        "--conformance-progress",
        type=_seconds,
        default=DEFAULT_INTERVAL,
        dest="conformance_progress",
        metavar="SECONDS",
        help="print a progress line (tests done per area, estimated time left) at most every "
        f"SECONDS during the run (default {DEFAULT_INTERVAL:g}; 0 turns it off)",
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
        "(fnmatch, e.g. 'add,nn.functional.*'); a pattern matching no op is an error",
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
        type=_seconds,
        default=None,
        dest="conformance_op_timeout",
        metavar="SECONDS",
        help="op sweep: timeout of each sample, in seconds (default 300; 0 disables); a "
        "sample that overruns is an error naming the sample and the op's later samples are "
        "not run (where SIGALRM is unavailable it bounds the whole op test)",
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
    parser.addini(
        "conformance_timeout",
        f"per-test timeout in seconds of conformance tests (default {DEFAULT_TIMEOUT:g})",
        default=None,
    )


@dataclass(eq=False)  # registered as a plugin, so it must stay hashable
class ConformanceState:
    """Everything the plugin knows about this run; lives in ``config.stash``."""

    config: pytest.Config
    _backend: LoadedBackend | None = None
    _manifest: Manifest | None = None
    _manifest_loaded: bool = False
    recorder: Recorder = field(default_factory=Recorder)
    report_path: Path | None = None
    targeted: bool = False
    interrupted: bool = False
    internal_error: str = ""
    collection_errors: list[str] = field(default_factory=list)
    goldens_written: list[str] = field(default_factory=list)
    usage_error: str = ""
    unattributed_crashes: list[str] = field(default_factory=list)
    watchdog: Watchdog | None = None
    shard: Shard | None = None
    #: The conformance tests the run selected before --shard split it (canonical ids).
    selection: list[str] | None = None
    progress: Progress | None = None
    _progress_line: str = ""
    _durations: Durations | None = None
    _initial: list[Path] | None = None

    def __post_init__(self) -> None:
        self.recorder.listed = self.listed

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
                self.refuse(str(exc))
        assert self._backend is not None
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
            return load_manifest(path).scoped(self.versions())
        except ManifestError as exc:
            self.refuse(str(exc))

    def versions(self) -> dict[str, str | None]:
        """The versions manifest entries may be scoped by (``manifest.SCOPE_KEYS``)."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            torch_version: str | None = version("torch")
        except PackageNotFoundError:
            torch_version = None
        return {"torch": torch_version, "backend": self.backend.version}

    @property
    def tier(self) -> str:
        """The op sweep's tier: the option, else the ini setting, else ``full``."""
        tier = self.config.getoption("conformance_tier") or self.config.getini("conformance_tier")
        if tier not in TIERS:
            self.refuse(f"conformance_tier must be one of {', '.join(TIERS)}, not {tier!r}")
        return str(tier)

    @property
    def full_sample(self) -> float:
        """The fraction of ops that run every sample in the smoke tier (ini setting)."""
        try:
            return min(1.0, max(0.0, float(self.config.getini("conformance_full_sample"))))
        except ValueError:
            self.refuse("conformance_full_sample must be a number from 0 to 1")

    @property
    def durations(self) -> Durations:
        """The durations file (``--shard-durations``, else the one shipped)."""
        if self._durations is None:
            option = self.config.getoption("conformance_shard_durations")
            path = Path(option) if option is not None else default_durations_path()
            if not path.is_absolute():
                path = self.config.invocation_params.dir / path
            try:
                self._durations = load_durations(path)
            except DurationsError as exc:
                self.refuse(str(exc))
        return self._durations

    def targets_conformance(self) -> bool:
        """Whether this run is about conformance even before collection says so."""
        if self.config.getoption("backend"):
            return True
        pyargs = bool(self.config.getoption("pyargs", False))
        where = self.config.invocation_params.dir
        return any(testids.names_suite(str(a), where, pyargs) for a in self.config.args)

    def refuse(self, message: str) -> NoReturn:
        """Stop the run with a usage error (exit 4): one line naming problem and fix."""
        self.usage_error = message
        self.write_report()
        raise pytest.UsageError(f"torch-conformance: {message}")

    def listed(self, test_id: str) -> tuple[str, str] | None:
        """The manifest's ``([category] reason, category)`` for ``test_id``, if listed."""
        manifest = self._manifest if self._manifest_loaded else None
        entry = manifest.match(test_id) if manifest is not None else None
        return None if entry is None else (f"[{entry.category}] {entry.reason}", entry.category)

    # Hooks: the state is registered as a plugin of its config, so these methods see
    # only this run's events (pytester can run several configs in one process).

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Fold each phase into a result (first, so a listed crash is shown as xfailed).

        Under xdist the controller receives every worker's reports through this hook too;
        only the controller (or a plain run) writes the summary and the report.
        """
        self.record(report)

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        """A test began (on the xdist controller: a worker announced it)."""
        if self.targeted and not _is_worker(self.config):
            found = self.canonical_from_nodeid(nodeid)
            if found is not None:
                self.recorder.start(*found)
                if self.progress is not None:
                    import time

                    self.progress.start(time.monotonic())

    @pytest.hookimpl(wrapper=True)
    def pytest_collection(self, session: pytest.Session) -> Any:
        """Keep pytest's own refusal of the command line (a module that does not exist)."""
        try:
            return (yield)
        except pytest.UsageError as exc:
            self.usage_error = self.usage_error or " ".join(str(exc).split())
            raise

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(report.nodeid or "<session>")

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """Ctrl-C or SIGTERM, as opposed to pytest's and xdist's own early stops.

        pytest (collection errors) and xdist (-x, --maxfail) stop a run by raising
        subclasses of KeyboardInterrupt; only a real interrupt, or a worker that got
        one, makes the run ``interrupted``.
        """
        if type(excinfo.value) is KeyboardInterrupt or "keyboard-interrupt" in str(excinfo.value):
            self.interrupted = True

    def pytest_internalerror(
        self, excrepr: Any, excinfo: pytest.ExceptionInfo[BaseException]
    ) -> None:
        self.internal_error = " ".join(f"{excinfo.typename}: {excinfo.value}".split())[:500]

    def record(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if report.when not in ("setup", "call", "teardown"):
            self._record_crash(report)
            return
        test_id = props.get(PROP_ID)
        if not isinstance(test_id, str):
            return  # not a conformance test
        if report.when == "teardown":
            self._progress(test_id)
        goldens = props.get(PROP_GOLDENS)
        if isinstance(goldens, list) and report.when == "call":
            self.goldens_written.extend(str(g) for g in goldens)
        self.recorder.fold(
            report,
            test_id,
            str(props[PROP_AREA]),
            not_implemented=bool(props.get(PROP_NOT_IMPL)),
            category=str(props.get(PROP_CATEGORY, "")),
        )
        caught = props.get(PROP_WARNINGS)
        if isinstance(caught, list):
            result = self.recorder.results[test_id]
            result.warnings = sorted(set(result.warnings) | {str(w) for w in caught})
        if PROP_DISPATCH in props:
            result = self.recorder.results[test_id]
            result.dispatch = str(props[PROP_DISPATCH])
            fallbacks = props.get(PROP_FALLBACKS)
            result.fallbacks = [str(f) for f in fallbacks] if isinstance(fallbacks, list) else []

    def _record_crash(self, report: pytest.TestReport) -> None:
        """xdist's synthetic report (phase ``???``) of a test whose worker crashed."""
        found = self.canonical_from_nodeid(report.nodeid)
        if found is None:
            if self.targeted:
                self.unattributed_crashes.append(report.nodeid)
            return
        test_id, area = found
        node = getattr(report, "node", None)
        worker = str(getattr(getattr(node, "gateway", None), "id", "?"))
        message = str(report.longrepr)
        running = _read_breadcrumb(worker, test_id)
        if running:
            message += f"; it was running {running}"
        self.recorder.crash(test_id, area, worker, message)
        self._progress(test_id, now=True)
        listed = self.listed(test_id)
        if listed is not None:
            # Show it as the expected failure it is, so it neither fails the run nor the
            # terminal's count (both read these fields after this tryfirst hook).
            report.outcome = "skipped"
            report.wasxfail = f"{listed[0]} (crashed: {message})"

    def _progress(self, test_id: str, *, now: bool = False) -> None:
        """A test ended: note it; the line, when due, is printed after pytest's own output
        for the test (``pytest_runtest_logfinish``), or at once for a crashed test."""
        import time

        if self.progress is None or _is_worker(self.config):
            return
        line = self.progress.finish(test_id, time.monotonic())
        if line is not None:
            self._progress_line = line
        if now:
            self._write_progress()

    def _write_progress(self) -> None:
        line, self._progress_line = self._progress_line, ""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if not line or reporter is None:
            return
        reporter.ensure_newline()
        writer = getattr(reporter, "_tw", None)
        if getattr(writer, "width_of_current_line", 0):
            reporter.write("\n")  # after a row of dots
        reporter.write_line(line)

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self._write_progress()

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Record the selection (after -k, -m and the suite's own deselection), then shard it.

        The groups depend only on the set of selected ids, so every xdist worker keeps
        the same tests and a run gives the same shard with and without ``-n``. Items of
        other projects in the same run are split by node id alongside.
        """
        if not self.targeted:
            return
        keys = [str(dict(item.user_properties).get(PROP_ID, item.nodeid)) for item in items]
        self.selection = [
            key for item, key in zip(items, keys, strict=True) if _conformance_item(item)
        ]
        if self.shard is None:
            return
        groups = assign(keys, self.shard.count, self.durations.weight)
        keep = [
            item for item, key in zip(items, keys, strict=True) if groups[key] == self.shard.index
        ]
        dropped = [
            item for item, key in zip(items, keys, strict=True) if groups[key] != self.shard.index
        ]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = keep

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist controller: a worker's selection before sharding (it collected, we did not)."""
        output = getattr(node, "workeroutput", None) or {}
        selection = output.get(WORKER_SELECTION)
        if self.selection is None and isinstance(selection, list):
            self.selection = [str(t) for t in selection]

    def shard_json(self) -> dict[str, Any] | None:
        """The report's ``shard`` object: which group, of which selection, by which file."""
        if self.shard is None:
            return None
        durations = self._durations
        return {
            "index": self.shard.index,
            "count": self.shard.count,
            "durations": None
            if durations is None
            else {"source": durations.source, "sha256": durations.digest},
            "selection": None
            if self.selection is None
            else {"total": len(self.selection), "sha256": selection_digest(self.selection)},
        }

    def empty_shard(self) -> bool:
        """A shard to which none of a non-empty selection fell (a success, not 'no tests')."""
        return (
            self.shard is not None
            and bool(self.selection)
            and not self.recorder.collected
            and not self.recorder.results
        )

    def canonical_from_nodeid(self, nodeid: str) -> tuple[str, str] | None:
        """(canonical id, area) of a node id seen on the xdist controller (no items there)."""
        if self._initial is None:
            self._initial = testids.initial_paths(
                [str(a) for a in self.config.args],
                self.config.invocation_params.dir,
                bool(self.config.getoption("pyargs", False)),
            )
        return testids.from_nodeid(nodeid, self.config.rootpath, self._initial)

    def run_status(self, exitstatus: int | None) -> RunStatus:
        """How the run ended, from what the hooks saw (see results.RUN_STATUSES)."""
        rec = self.recorder
        pending, not_started = rec.pending(), rec.not_started()
        finished = len(set(rec.results) - set(pending) - set(not_started))
        status, detail = "complete", ""
        if self.usage_error:
            status, detail = "usage_error", self.usage_error
        elif exitstatus is None:
            status = "unfinished"
        elif self.internal_error:
            status, detail = "internal_error", self.internal_error
        elif self.interrupted:
            status = "interrupted"
            if pending:
                detail = f"interrupted while running {', '.join(pending[:3])}"
        elif self.collection_errors:
            status = "collection_error"
            detail = "could not collect " + ", ".join(self.collection_errors[:5])
        elif exitstatus == pytest.ExitCode.USAGE_ERROR:
            status, detail = "usage_error", "pytest refused the command line (see its ERROR line)"
        elif self.unattributed_crashes:
            status = "crashed"
            detail = (
                f"a worker crashed while running {self.unattributed_crashes[-1]}, which no "
                "suite test matches, so its outcome is not in this report"
            )
        elif self.empty_shard():
            detail = (
                f"none of the {len(self.selection or [])} selected tests fell to shard {self.shard}"
            )
        elif not rec.collected and not rec.results:
            status = "no_tests"
        elif pending or not_started:
            if rec.crashes:
                status = "crashed"
                detail = (
                    f"{len(rec.crashes)} worker crash(es), the last while running "
                    f"{rec.crashes[-1]['test']}; {len(not_started) + len(pending)} tests "
                    "never ran"
                )
            else:
                status = "stopped_early"
                detail = f"{len(not_started) + len(pending)} collected tests never ran"
        elif self.goldens_written:
            status = "accepted_goldens"
            detail = f"{len(self.goldens_written)} golden files rewritten from this backend"
        return RunStatus(
            status=status,
            detail=detail,
            exitstatus=exitstatus,
            collected=len(rec.collected) or len(rec.results),
            finished=finished,
            crashes=list(rec.crashes),
            goldens_written=sorted(set(self.goldens_written)),
        )

    def write_report(self, exitstatus: int | None = None, *, hung: str = "") -> None:
        """(Re)write the JSON report, if one was asked for, with the run's current state."""
        if self.report_path is None or _is_worker(self.config):
            return
        run = self.run_status(exitstatus)
        if hung:
            run.status, run.detail = "crashed", hung
        results = (
            self.recorder.finish(interrupted=self.interrupted, reason=hung)
            if exitstatus is not None or hung
            else list(self.recorder.results.values())
        )
        backend = self._backend
        report = build_report(
            backend={
                "name": backend.name if backend else None,
                "spec": self.backend_spec,
                "version": backend.version if backend else None,
                "device": backend.device if backend else None,
                "areas": list(backend.areas) if backend else [],
            },
            results=results,
            expectations=str(self._manifest.path) if self._manifest is not None else None,
            unmatched=_unmatched(self),
            run=run,
            torch_version=_torch_version(),
            options=_options(self.config),
            shard=self.shard_json(),
            expectations_sha256=_file_sha256(self._manifest.path if self._manifest else None),
        )
        write_report(self.report_path, report)


def _file_sha256(path: Path | None) -> str | None:
    """The manifest's content digest: two runs judged by the same known failures agree."""
    import hashlib

    if path is None:
        return None
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _torch_version() -> str | None:
    import sys

    torch = sys.modules.get("torch")
    return str(torch.__version__) if torch is not None else None


def _options(config: pytest.Config) -> dict[str, Any]:
    """The options that change what the suite checks (merge and compare read them)."""
    dtypes = config.getoption("conformance_dtypes")
    return {
        "dtypes": list(dtypes) if dtypes else None,
        "grads": bool(config.getoption("conformance_grads")),
        "ops": config.getoption("conformance_ops"),
        "tier": config.getoption("conformance_tier") or config.getini("conformance_tier"),
        "keyword": config.getoption("keyword", "") or None,
        "markexpr": config.getoption("markexpr", "") or None,
    }


STATE_KEY = pytest.StashKey[ConformanceState]()

#: Directory where each xdist worker notes what it is running (see :func:`breadcrumb`).
ENV_BREADCRUMBS = "CONFORMANCE_BREADCRUMBS"


def breadcrumb(config: pytest.Config, text: str) -> None:
    """Note what this worker runs now (``test id, sample 3 (...)``); '' clears it.

    When the worker dies, the controller reads the note into the crash report, so a
    crash names the sample, not only the test. Only under xdist (the controller made
    the directory); costs one small write.
    """
    folder = os.environ.get(ENV_BREADCRUMBS)
    workerinput = getattr(config, "workerinput", None)
    if not folder or workerinput is None:
        return
    path = Path(folder) / str(workerinput.get("workerid", "worker"))
    import contextlib

    # A note for a crash message: never a reason to fail the test.
    with contextlib.suppress(OSError):
        path.write_text(text, encoding="utf-8")


def _read_breadcrumb(worker: str, test_id: str) -> str:
    """What crashed worker ``worker`` noted it was running, if it was in ``test_id``."""
    folder = os.environ.get(ENV_BREADCRUMBS)
    if not folder:
        return ""
    try:
        text = (Path(folder) / worker).read_text(encoding="utf-8")
    except OSError:
        return ""
    prefix = f"{test_id}, "
    return text.removeprefix(prefix) if text.startswith(prefix) else ""


def _make_breadcrumb_dir(config: pytest.Config) -> None:
    """On the controller of an xdist run: the directory workers note their samples in."""
    import shutil
    import tempfile

    if _is_worker(config) or not config.getoption("numprocesses", None):
        return
    folder = tempfile.mkdtemp(prefix="conformance-running-")
    previous = os.environ.get(ENV_BREADCRUMBS)
    os.environ[ENV_BREADCRUMBS] = folder  # workers inherit it when xdist starts them

    def remove() -> None:
        shutil.rmtree(folder, ignore_errors=True)
        if previous is None:
            os.environ.pop(ENV_BREADCRUMBS, None)
        else:
            os.environ[ENV_BREADCRUMBS] = previous

    config.add_cleanup(remove)


def state_of(config: pytest.Config) -> ConformanceState:
    return config.stash[STATE_KEY]


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _conformance_item(item: pytest.Item) -> bool:
    return any(key == PROP_ID for key, _ in item.user_properties)


def _report_path(state: ConformanceState) -> Path | None:
    """The ``--conformance-report`` path, checked writable now rather than after the run."""
    target = state.config.getoption("conformance_report")
    if target is None:
        return None
    path = Path(target)
    if not path.is_absolute():
        path = state.config.invocation_params.dir / path
    if path.is_dir():
        state.refuse(f"--conformance-report {path} is a directory; name a file in it instead")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = path.with_name(path.name + ".partial")
        probe.write_text("", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        state.refuse(
            f"cannot write the report to {path} ({exc.strerror}); pass a writable "
            "--conformance-report path"
        )
    return path


def pytest_configure(config: pytest.Config) -> None:
    state = ConformanceState(config)
    config.stash[STATE_KEY] = state
    config.pluginmanager.register(state, "conformance-state")
    config.addinivalue_line(
        "markers",
        "conformance_needs(*capabilities): the test needs optional backend capabilities "
        "(conformance.contract.LAZY_CAPABILITIES); without them it is not implemented",
    )
    if not state.targets_conformance():
        if config.getoption("conformance_shard") is not None:
            raise pytest.UsageError(
                "torch-conformance: --shard splits conformance runs only; name the suite "
                "(pytest --pyargs conformance ...) or pass --backend"
            )
        return
    state.targeted = True
    if not _is_worker(config):
        state.report_path = _report_path(state)
        state.write_report()  # "unfinished" until the run ends
    try:
        accept_mode(config)
    except ValueError as exc:
        state.refuse(str(exc))
    _set_golden_dir(state)
    # Fail fast, before the session starts, on a bad backend, manifest or option.
    _ = state.backend, state.manifest, state.tier, state.full_sample, _default_timeout(config)
    _check_ops(state)
    _check_suite_modules(state)
    _configure_shard(state)
    configure_threads(config, config.getoption("conformance_threads"))
    if not _is_worker(config):
        _install_sigterm(config)
    _make_breadcrumb_dir(config)
    state.watchdog = Watchdog.start(state)


def _configure_shard(state: ConformanceState) -> None:
    """Parse --shard, load the durations file, set up the progress line."""
    option = state.config.getoption("conformance_shard")
    if option is not None:
        try:
            state.shard = parse_shard(str(option))
        except ValueError as exc:
            state.refuse(str(exc))
    interval = float(state.config.getoption("conformance_progress"))
    if state.shard is not None or interval > 0:
        durations = state.durations
        if not _is_worker(state.config):
            state.progress = Progress(interval, durations.weight)


def _set_golden_dir(state: ConformanceState) -> None:
    GOLDEN_DIR_OVERRIDE.clear()
    option = state.config.getoption("conformance_golden_dir")
    if option is None:
        return
    path = Path(option)
    if not path.is_absolute():
        path = state.config.invocation_params.dir / path
    if path.exists() and not path.is_dir():
        state.refuse(f"--golden-dir {path} is not a directory")
    if not path.exists() and not accept_mode(state.config)[0]:
        state.refuse(f"--golden-dir {path} does not exist; create it, or pass --accept to fill it")
    GOLDEN_DIR_OVERRIDE.append(path)
    state.config.add_cleanup(GOLDEN_DIR_OVERRIDE.clear)


def _check_suite_modules(state: ConformanceState) -> None:
    """``--pyargs conformance.<name>`` naming no module of the suite is a usage error.

    pytest refuses such a name only in a plain run; under xdist its workers collect
    nothing and the run ends as "no tests ran", which says nothing about the typo.
    """
    if not state.config.getoption("pyargs", False):
        return
    missing = [
        target
        for target in (str(arg).split("::", 1)[0] for arg in state.config.args)
        if target.startswith("conformance.") and not testids.module_exists(target)
    ]
    if missing:
        close = testids.close_module_names(missing[0])
        hint = f" (close: {', '.join(close)})" if close else ""
        state.refuse(
            f"--pyargs {missing[0]}: the suite has no such module{hint}; name an area "
            "(conformance.fx) or a test module (conformance.fx.test_recompile)"
        )


def _check_ops(state: ConformanceState) -> None:
    patterns = state.config.getoption("conformance_ops")
    if not patterns:
        return
    from conformance.lazy.opsweep import unmatched_patterns

    problems = unmatched_patterns(patterns)
    if problems:
        described = "; ".join(
            f"{pattern!r} (close: {', '.join(close)})" if close else repr(pattern)
            for pattern, close in problems
        )
        state.refuse(
            f"--ops: no OpInfo op matches {described}; names are OpInfo names such as "
            "'add' or 'nn.functional.relu', '*' is a wildcard"
        )


def _install_sigterm(config: pytest.Config) -> None:
    """SIGTERM (a cancelled CI job) ends the run like Ctrl-C, so the report says so."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            previous = signal.signal(signal.SIGTERM, interrupt)

            def restore() -> None:
                signal.signal(signal.SIGTERM, previous)

            config.add_cleanup(restore)
    except ValueError:  # not the main thread (pytest run in a thread): leave it alone
        pass


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    state = state_of(config)
    if not state.targeted:
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
    if "lazy" in backend.areas:
        from conformance.contract import LAZY_CAPABILITIES as known

        lacking = [n for n in known if n not in backend.capabilities]
        lines.append(
            "conformance: lazy capabilities: all"
            if not lacking
            else f"conformance: lazy capabilities lacking (tests needing them are not "
            f"implemented): {', '.join(lacking)}"
        )
    manifest = state.manifest
    lines.append(
        f"conformance: expectations {manifest.path} ({len(manifest.entries)} entries"
        + (
            f"; {len(manifest.out_of_scope)} scoped to other torch/backend versions)"
            if manifest.out_of_scope
            else ")"
        )
        if manifest is not None
        else "conformance: expectations none"
    )
    threads = describe_threads(state.config, state.config.getoption("conformance_threads"))
    if threads is not None:
        lines.append(f"conformance: {threads}")
    timeout = _default_timeout(state.config)
    lines.append(
        f"conformance: per-test timeout {timeout:g} s (--conformance-timeout)"
        if timeout
        else "conformance: per-test timeout from pytest-timeout's settings"
        if user_timeout_configured(state.config)
        else "conformance: no per-test timeout"
    )
    if GOLDEN_DIR_OVERRIDE:
        lines.append(f"conformance: goldens in {GOLDEN_DIR_OVERRIDE[0]} (--golden-dir)")
    accepting, why = accept_mode(state.config)
    if accepting:
        lines.append(
            f"conformance: ACCEPTING goldens ({why}): golden files are rewritten from this "
            "backend instead of compared; this run is not a verdict"
        )
    return lines


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = state_of(config)
    ours = []
    for item in items:
        ids = testids.canonical_id(item.path, item.nodeid.partition("::")[2])
        if ids is not None:
            ours.append((item, ids))
    if not ours:
        return
    backend, manifest = state.backend, state.manifest
    timeout = _default_timeout(config)
    for item, (test_id, area) in ours:
        item.user_properties += [(PROP_ID, test_id), (PROP_AREA, area)]
        if timeout and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(timeout))
        if area not in backend.areas:
            item.user_properties.append((PROP_NOT_IMPL, True))
            item.add_marker(
                pytest.mark.skip(reason=f"backend {backend.name} does not implement {area}")
            )
            continue
        lacking = _lacking_capabilities(state, item, test_id)
        if lacking:
            item.user_properties.append((PROP_NOT_IMPL, True))
            item.add_marker(pytest.mark.skip(reason=_not_implemented_reason(backend, lacking)))
            continue
        expectation = manifest.match(test_id) if manifest is not None else None
        if expectation is not None:
            item.user_properties.append((PROP_CATEGORY, expectation.category))
            item.add_marker(
                pytest.mark.xfail(
                    reason=f"[{expectation.category}] {expectation.reason}", strict=True
                )
            )


def _lacking_capabilities(state: ConformanceState, item: pytest.Item, test_id: str) -> list[str]:
    """Capabilities ``item`` needs (``conformance_needs`` markers) the backend lacks.

    An unknown capability name stops the run with a usage error naming the test.
    """
    needed = [str(n) for m in item.iter_markers("conformance_needs") for n in m.args]
    if not needed:
        return []
    try:
        check_capability_names(needed, f"test {test_id} (conformance_needs marker)")
    except CapabilityError as exc:
        state.refuse(str(exc))
    have = state.backend.capabilities
    return sorted({n for n in needed if n not in have})


def _not_implemented_reason(backend: LoadedBackend, lacking: list[str]) -> str:
    """``not implemented: <capability> (what it is)``, for each capability lacking."""
    described = "; ".join(f"{n} ({LAZY_CAPABILITIES[n].summary})" for n in lacking)
    return f"not implemented: {described}; backend {backend.name} does not declare " + (
        "it" if len(lacking) == 1 else "them"
    )


def _default_timeout(config: pytest.Config) -> float:
    """The per-test timeout the plugin adds to conformance tests (0: none).

    ``--conformance-timeout`` wins; else pytest-timeout's own settings, when the user
    gave any, apply unchanged (we add nothing); else ini ``conformance_timeout``, else
    :data:`DEFAULT_TIMEOUT`. Nothing is added when pytest-timeout is not active.
    """
    if not config.pluginmanager.hasplugin("timeout"):
        return 0.0
    option = config.getoption("conformance_timeout")
    if option is not None:
        return float(option)
    if user_timeout_configured(config):
        return 0.0
    ini = config.getini("conformance_timeout")
    try:
        return float(ini) if ini else DEFAULT_TIMEOUT
    except ValueError:
        state_of(config).refuse(f"ini conformance_timeout must be a number, not {ini!r}")
        return 0.0


def pytest_collection_finish(session: pytest.Session) -> None:
    """A plain run (or an xdist worker): the selected conformance tests, in order."""
    ids = [dict(item.user_properties) for item in session.items]
    state = state_of(session.config)
    selected = [(str(p[PROP_ID]), str(p[PROP_AREA])) for p in ids if PROP_ID in p]
    state.recorder.collect(selected)
    if not _is_worker(session.config):
        _announce(state, selected)


def _announce(state: ConformanceState, selected: list[tuple[str, str]]) -> None:
    """Start the progress bookkeeping and print the run's expected test time."""
    if state.progress is None or state.progress.areas or not selected:
        return
    state.progress.collect(selected)
    reporter = state.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    durations = state.durations
    seconds = sum(durations.weight(test_id) for test_id, _ in selected)
    source = Path(durations.source).name if durations.source else "the durations file"
    line = estimate_line(
        len(selected),
        seconds,
        planned_workers(state.config),
        source,
        str(state.shard) if state.shard is not None else None,
    )
    reporter.write_line(line)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """On the xdist controller: the selected tests, from a worker's collection."""
    state = state_of(node.config)
    found = [state.canonical_from_nodeid(nodeid) for nodeid in ids]
    selected = [f for f in found if f is not None]
    state.recorder.collect(selected)
    _announce(state, selected)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Keep a conformance test's warnings in its report; attach the goldens it wrote.

    PyTorch's own warnings (OpInfo's deprecations, beta features) would otherwise fill
    hundreds of terminal lines before the table; they go to the report's per-test
    ``warnings`` instead, unless ``--show-warnings``. Warning filters (``-W error``)
    still apply: only where a warning is shown changes.
    """
    ours = any(key == PROP_ID for key, _ in item.user_properties)
    capture = ours and not item.config.getoption("conformance_show_warnings")
    GOLDENS_WRITTEN.clear()
    if capture:
        with warnings.catch_warnings(record=True) as caught:
            yield
        if caught:
            item.user_properties.append((PROP_WARNINGS, _describe_warnings(caught)))
    else:
        yield
    if GOLDENS_WRITTEN:
        item.user_properties.append((PROP_GOLDENS, [str(p) for p in GOLDENS_WRITTEN]))
        GOLDENS_WRITTEN.clear()


def _describe_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    """Unique ``Category: message (file:line)`` texts, at most 20, addresses normalized."""
    seen: dict[str, None] = {}
    for w in caught:
        text = " ".join(str(w.message).split())[:300]
        where = f"{Path(w.filename).name}:{w.lineno}"
        seen[normalize_reason(f"{w.category.__name__}: {text} ({where})")] = None
    return list(seen)[:20]


def _unmatched(state: ConformanceState) -> list[dict[str, Any]]:
    # A shard judges entries against the whole selection: the other shards run the rest.
    collected = list(state.recorder.collected) if state.shard is None else state.selection or []
    if not collected or state._manifest is None:
        return []
    # A sweep narrowed with --ops or --dtypes leaves most op entries unmatched by design.
    narrowed = state.config.getoption("conformance_ops") or state.config.getoption(
        "conformance_dtypes"
    )
    sweep = ("lazy/test_ops.py", "lazy/test_grads.py")
    return [
        {"test": e.test, "line": e.line, "reason": e.reason}
        for e in state._manifest.unmatched(collected, testids.suite_files())
        if not (narrowed and e.test.startswith(sweep))
    ]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = state_of(config)
    if _is_worker(config) or not state.targeted:
        return
    results = state.recorder.finish(interrupted=state.interrupted)
    backend = state._backend
    title = f"conformance: backend {backend.name} {backend.version}" if backend else "conformance"
    terminalreporter.section(title)
    for line in format_table(results, state.run_status(int(exitstatus))):
        terminalreporter.write_line(line)
    for entry in _unmatched(state):
        terminalreporter.write_line(
            f"warning: expectation {entry['test']!r} ({state.manifest.path}:{entry['line']}) "  # type: ignore[union-attr]
            "matches no collected test; remove or fix the entry",
            yellow=True,
        )
    written = sorted(set(state.goldens_written))
    if written:
        from conformance.lazy.golden import describe_written

        for line in describe_written(written):
            terminalreporter.write_line(line, yellow=True)
    warned = [r for r in results if r.warnings]
    if warned and not config.getoption("conformance_show_warnings"):
        terminalreporter.write_line(
            f"conformance: {sum(len(r.warnings) for r in warned)} distinct warning(s) from "
            f"{len(warned)} test(s) kept in the report (--show-warnings prints them)"
        )
    if state.report_path is not None:
        terminalreporter.write_line(f"conformance: report written to {state.report_path}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = state_of(config)
    if state.watchdog is not None:
        state.watchdog.stop()
    if _is_worker(config) and state.targeted and state.selection is not None:
        config.workeroutput[WORKER_SELECTION] = state.selection  # type: ignore[attr-defined]
    if _is_worker(config) or not state.targeted:
        return
    if state.empty_shard() and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = exitstatus = pytest.ExitCode.OK
    expectations_target = config.getoption("write_expectations")
    if expectations_target is not None:
        out = Path(expectations_target)
        if not out.is_absolute():
            out = config.invocation_params.dir / out
        write_expectations(
            out,
            state.recorder.finish(interrupted=state.interrupted),
            state._manifest,
            testids.suite_files(),
        )
    state.write_report(int(exitstatus))
