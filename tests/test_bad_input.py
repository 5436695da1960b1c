"""Bad input ends in one line naming the problem and the fix, and exit status 4.

Every case runs the installed suite from a temporary directory, as users do; none may
print a traceback or an INTERNALERROR, and none may run a single test.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from conformance.lazy.golden import GOLDEN_DIR
from tests.conftest import RunSuite, SuiteRun


def assert_usage_error(run: SuiteRun, *fragments: str) -> None:
    """Exit 4, one ``ERROR: torch-conformance:`` line containing every fragment, no test run."""
    text = run.text()
    assert run.ret == pytest.ExitCode.USAGE_ERROR, text
    assert "Traceback" not in text
    assert "INTERNALERROR" not in text
    errors = [line for line in text.splitlines() if line.startswith("ERROR: torch-conformance:")]
    assert len(errors) == 1, text
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    assert " passed" not in text


@pytest.mark.parametrize(
    ("backend", "fragments"),
    [
        ("faulty_runs:version_raises", ["reading its 'version' failed", "VERSION file"]),
        (
            "faulty_runs:wrong_fx_member_type",
            ["'fx' area", "LazyGraphModule must be a torch.fx.GraphModule subclass, got 42"],
        ),
        ("faulty_runs:lazy_init_is_none", ["'lazy' area", "init must be callable, got None"]),
        ("faulty_runs:device_not_a_string", ["device must be a non-empty string"]),
    ],
    ids=["version-raises", "fx-member-42", "lazy-init-none", "device-tuple"],
)
def test_backend_that_breaks_the_contract_at_load(
    run_suite: RunSuite, backend: str, fragments: list[str]
) -> None:
    """Members of the wrong type, or that raise, are named when the backend loads."""
    assert_usage_error(run_suite("conformance.fx", backend), *fragments, "writing-a-backend.md")


def test_error_messages_point_to_a_guide_that_exists(run_suite: RunSuite) -> None:
    """The guide an error names is a file of the installed package."""
    run = run_suite("conformance.fx", "faulty_runs:device_not_a_string")
    line = next(x for x in run.text().splitlines() if x.startswith("ERROR: torch-conformance:"))
    guide = Path(line.rsplit("see ", 1)[1].strip())
    assert guide.is_file()
    assert guide.read_text().startswith("# Writing a backend")


def test_manifest_that_is_not_utf8(run_suite: RunSuite, tmp_path: Path) -> None:
    """A manifest saved in another encoding is named, with the fix."""
    bad = tmp_path / "latin1.toml"
    bad.write_bytes('[[expect]]\ntest = "fx/x.py::t"\nreason = "caf\xe9"\n'.encode("latin-1"))
    run = run_suite("conformance.fx", "reference", f"--expectations={bad}")
    assert_usage_error(run, str(bad), "not UTF-8", "save the manifest as UTF-8")


@pytest.mark.parametrize(
    ("ops", "fragments"),
    [
        ("nosuchop", ["--ops: no OpInfo op matches 'nosuchop'"]),
        ("add,nn.functional.relux", ["'nn.functional.relux' (close: nn.functional.relu"]),
    ],
)
def test_ops_that_match_nothing(run_suite: RunSuite, ops: str, fragments: list[str]) -> None:
    """An --ops pattern that selects no op is an error listing close names, not 0 tests."""
    run = run_suite("conformance.lazy.test_ops", "reference", f"--ops={ops}")
    assert_usage_error(run, *fragments)


def test_report_path_checked_before_the_run(run_suite: RunSuite, tmp_path: Path) -> None:
    """An unwritable --conformance-report stops the run at once, not after it."""
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    run = run_suite("conformance.fx", "reference", f"--conformance-report={blocker}/r.json")
    assert_usage_error(run, "cannot write the report to", "writable --conformance-report")
    directory = run_suite("conformance.fx", "reference", f"--conformance-report={tmp_path}")
    assert_usage_error(directory, "is a directory")


def test_bad_timeout_setting(run_suite: RunSuite, pytester: pytest.Pytester) -> None:
    """A malformed ini conformance_timeout is a usage error naming the setting."""
    pytester.makeini("[pytest]\nconformance_timeout = soon\n")
    assert_usage_error(run_suite("conformance.fx", "reference"), "conformance_timeout")


def _digest(directory: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(directory.glob("*.txt")):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


def test_expecttest_accept_is_refused_in_ci(
    run_suite: RunSuite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EXPECTTEST_ACCEPT=1 with CI set would pass any IR: refused, goldens untouched."""
    before = _digest(GOLDEN_DIR)
    monkeypatch.setenv("EXPECTTEST_ACCEPT", "1")
    monkeypatch.setenv("CI", "true")
    run = run_suite("conformance.lazy.test_programs", "broken_lazy:ir_dim_off_by_one")
    assert_usage_error(run, "EXPECTTEST_ACCEPT is set while CI is set", "--accept")
    assert _digest(GOLDEN_DIR) == before


def test_accept_writes_only_where_told_and_says_so(
    run_suite: RunSuite, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """--accept lists every file it wrote; the report of that run is not a verdict."""
    monkeypatch.delenv("EXPECTTEST_ACCEPT", raising=False)
    before = _digest(GOLDEN_DIR)
    copy = tmp_path / "goldens"
    shutil.copytree(GOLDEN_DIR, copy)
    run = run_suite(
        "conformance.lazy.test_programs",
        "broken_lazy:ir_dim_off_by_one",
        "--accept",
        f"--golden-dir={copy}",
        "-k",
        "test_ir_text_matches_golden and (add or matmul)",
    )
    assert run.ret == pytest.ExitCode.OK, run.text()
    written = run.report["run"]["goldens_written"]
    assert written
    assert all(Path(p).parent == copy for p in written)
    for path in written:
        assert f"  wrote {path}" in run.text()
    assert "ACCEPTING goldens (--accept)" in run.text()
    assert run.report["run"]["status"] == "accepted_goldens"
    assert run.report["run"]["complete"] is False
    assert _digest(GOLDEN_DIR) == before
    assert _digest(copy) != before

    compared = run_suite(
        "conformance.lazy.test_programs",
        "reference",
        f"--golden-dir={copy}",
        "-k",
        "test_ir_text_matches_golden and (add or matmul)",
    )
    assert compared.failed_ids(), "the reference must disagree with the accepted wrong IR"


def test_stale_backend_variable_leaves_other_projects_alone(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$CONFORMANCE_BACKEND naming no backend does not break an unrelated project."""
    monkeypatch.setenv("CONFORMANCE_BACKEND", "uninstalled_backend_xyz")
    pytester.mkpydir("conformance_tests_of_mine")
    pytester.makepyfile(**{"tests/conformance/test_mine.py": "def test_one():\n    assert True\n"})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "tests/conformance")
    result.assert_outcomes(passed=1)
    assert "conformance:" not in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize("workers", [["-n", "2"], ["-p", "no:xdist"]], ids=["xdist", "plain"])
def test_misspelt_suite_module_is_named_with_close_matches(
    run_suite: RunSuite, workers: list[str]
) -> None:
    """A ``--pyargs`` name the suite lacks is refused, also under xdist (which hides it)."""
    run = run_suite("conformance.fx.test_hoks", "reference", *workers)
    assert_usage_error(run, "conformance.fx.test_hoks", "close: conformance.fx.test_hooks")
    assert run.report["run"]["status"] == "usage_error"


def test_pytest_refusing_the_command_line_is_a_usage_error_in_the_report(
    run_suite: RunSuite,
) -> None:
    """pytest's own usage errors (a path that does not exist) end the report as such."""
    run = run_suite("conformance.fx", "reference", "no/such/dir", "-p", "no:xdist")
    assert run.ret == pytest.ExitCode.USAGE_ERROR, run.text()
    assert run.report["run"]["status"] == "usage_error"
    assert "no/such/dir" in run.report["run"]["detail"]
