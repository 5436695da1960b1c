"""The pytest plugin end to end: header, summary, report, manifests, xdist parity.

Every test runs the real fx suite in a child pytest (see ``run_suite`` in conftest.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from tests.conftest import RunSuite


def _manifest(path: Path, entries: list[tuple[str, str]]) -> Path:
    body = "".join(
        f'[[expect]]\ntest = "{test}"\nreason = "{reason}"\n\n' for test, reason in entries
    )
    path.write_text(body)
    return path


def test_header_summary_and_report(run_suite: RunSuite) -> None:
    """The header names backend, versions, device and areas; the table and report agree."""
    run = run_suite("conformance.fx", "reference")
    assert run.ret == pytest.ExitCode.OK, run.text()
    text = run.text()
    assert (
        f"conformance: backend reference 0.1.0 | torch {torch.__version__} | device cpu | "
        "areas: fx" in text
    )
    assert "conformance: expectations " in text
    assert "reference.toml" in text
    assert "area  passed  failed  expected-fail  skipped  not impl.  conformance" in text
    report = run.report
    assert report["schema"] == "torch-conformance-report/2"
    assert report["run"]["status"] == "complete"
    assert report["run"]["complete"] is True
    assert report["run"]["collected"] == report["run"]["finished"] == len(report["tests"])
    assert report["backend"]["name"] == "reference"
    assert report["backend"]["version"] == "0.1.0"
    assert report["torch_version"] == torch.__version__
    assert report["platform"]
    assert report["python_version"]
    tests = report["tests"]
    assert tests
    assert all(t["area"] == "fx" for t in tests)
    assert all(t["id"].startswith("fx/test_") and ".py::" in t["id"] for t in tests)
    assert all(t["outcome"] == "passed" and t["duration"] > 0 for t in tests)
    assert report["summary"]["fx"]["passed"] == len(tests)
    assert report["summary"]["fx"]["conformance"] == 1.0
    row = rf"(?m)^fx\s+{len(tests)}\s+0\s+0\s+0\s+0\s+100\.0%$"
    assert re.search(row, text), text


def test_manifest_turns_failures_into_strict_xfails(run_suite: RunSuite, tmp_path: Path) -> None:
    """Listed failures become xfail with the reason; a listed pass fails; stale entries warn."""
    bare = run_suite("conformance.fx", "fake:lying_fx")
    failing = bare.failed_ids()
    assert bare.ret == pytest.ExitCode.TESTS_FAILED, bare.text()
    assert failing
    assert all(bare.outcomes[t] == "failed" for t in failing)

    manifest = _manifest(
        tmp_path / "m.toml", [(t, "liar#1: lies about recompiles") for t in failing]
    )
    known = run_suite("conformance.fx", "fake:lying_fx", f"--expectations={manifest}")
    assert known.ret == pytest.ExitCode.OK, known.text()
    entries = {t["id"]: t for t in known.report["tests"]}
    for test_id in failing:
        assert entries[test_id]["outcome"] == "xfailed"
        assert entries[test_id]["reason"] == "[failing] liar#1: lies about recompiles"
        assert entries[test_id]["category"] == "failing"
    assert known.report["summary"]["fx"]["expected-fail"] == len(failing)
    assert known.report["expectations"] == str(manifest)

    passing = next(t for t, o in bare.outcomes.items() if o == "passed")
    _manifest(
        manifest,
        [(t, "liar#1") for t in failing]
        + [(passing, "wrongly listed"), ("fx/test_gone.py::*", "stale")],
    )
    strict = run_suite("conformance.fx", "fake:lying_fx", f"--expectations={manifest}")
    assert strict.ret == pytest.ExitCode.TESTS_FAILED
    assert strict.outcomes[passing] == "xpassed"
    assert "XPASS(strict)" in strict.text()
    assert "warning: expectation 'fx/test_gone.py::*'" in strict.text()
    assert "matches no collected test" in strict.text()
    assert [u["test"] for u in strict.report["unmatched_expectations"]] == ["fx/test_gone.py::*"]


def test_expectations_none_disables_shipped_manifest(run_suite: RunSuite) -> None:
    """--expectations=none runs without the backend's manifest and says so in the header."""
    run = run_suite("conformance.fx", "reference", "--expectations=none")
    assert "conformance: expectations none" in run.text()
    assert run.report["expectations"] is None


def test_malformed_manifest_is_usage_error(run_suite: RunSuite, tmp_path: Path) -> None:
    """A bad manifest stops the run before any test, naming file, line and problem."""
    bad = tmp_path / "bad.toml"
    bad.write_text('[[expect]]\ntest = "fx/x.py::t"\n\n[[expect]]\ntest = "y"\nreason = ""\n')
    run = run_suite("conformance.fx", "reference", f"--expectations={bad}")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    assert f"{bad}:1: 'reason' is required" in run.text()
    assert "Traceback" not in run.text()


def test_same_outcomes_with_and_without_xdist(run_suite: RunSuite) -> None:
    """-n 2 gives the same per-test outcomes as a serial run (seeds follow test ids)."""
    serial = run_suite("conformance.fx", "fake:lying_fx")
    parallel = run_suite("conformance.fx", "fake:lying_fx", "-n", "2")
    assert serial.outcomes == parallel.outcomes
    assert serial.report["summary"] == parallel.report["summary"]


def test_options_listed_in_named_group(pytester: pytest.Pytester) -> None:
    """`pytest --help` lists the plugin's options under the torch-conformance group."""
    result = pytester.runpytest_subprocess("--help")
    text = result.stdout.str()
    group = text[text.index("torch-conformance:") :]
    for option in (
        "--backend=NAME",
        "--expectations=FILE",
        "--conformance-report=FILE",
        "--shard=K/N",
        "--shard-durations=FILE",
        "--conformance-progress=SECONDS",
    ):
        assert option in group


def test_plugin_stays_out_of_unrelated_runs(pytester: pytest.Pytester) -> None:
    """In a project's own test run the plugin prints nothing and imports no torch."""
    pytester.makepyfile(
        test_unrelated="""
        import sys

        def test_plain():
            assert "torch" not in sys.modules
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "conformance:" not in result.stdout.str()  # no header line, no summary section


def test_one_file_run_warns_only_about_its_own_entries(run_suite: RunSuite) -> None:
    """Running one lazy file with the torch manifest flags no op-sweep entry as stale."""
    run = run_suite("conformance.lazy.test_device", "torch")
    assert run.ret == pytest.ExitCode.OK, run.text()
    assert "warning: expectation" not in run.text()
    assert run.report["unmatched_expectations"] == []


def test_torch_warnings_stay_in_the_report(run_suite: RunSuite) -> None:
    """OpInfo's deprecation warnings go to the per-test report, not the terminal."""
    run = run_suite("conformance.lazy.test_ops", "reference", "--ops=cholesky,stft")
    assert run.ret == pytest.ExitCode.OK, run.text()
    assert "warnings summary" not in run.text()
    warned = {t["id"]: t["warnings"] for t in run.report["tests"] if t["warnings"]}
    assert any(
        "torch.cholesky is deprecated" in w
        for w in warned["lazy/test_ops.py::test_op[cholesky-float32]"]
    )
    assert "kept in the report (--show-warnings prints them)" in run.text()
    shown = run_suite("conformance.lazy.test_ops", "reference", "--ops=cholesky", "--show-warnings")
    assert "warnings summary" in shown.text()
    assert "torch.cholesky is deprecated" in shown.text()
