"""Sharded runs: ``--shard K/N`` groups, ``merge`` of their reports, bad shard input.

The end-to-end tests run the installed suite from a temporary directory, as a CI
matrix job would: one unsharded run and three shards of the same selection (the toy
backend on the fx suite and one parametrize module, with a manifest that lists only
some of the toy's failures, so the run has passed, failed, expected-fail and
not-implemented tests), then merge the shards and compare with the unsharded run test by
test. The refusal tests edit copies of those real shard reports.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conformance import merge
from conformance.__main__ import main
from conformance.sharding import (
    Durations,
    assign,
    durations_from_reports,
    load_durations,
    parse_shard,
    selection_digest,
)
from tests.conftest import BACKENDS_DIR, RunSuite
from tests.test_bad_input import assert_usage_error

TARGETS = ("conformance.fx", "conformance.parametrize.test_registration")
#: Half of the toy backend's known failures: the rest fail as plain failures.
MANIFEST = """\
[[expect]]
test = "fx/test_serialization.py::test_pickl*"
reason = "toy recompile() returns None; pickling is not offered"
category = "unsupported"
"""
SHARDS = 3


def _pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(BACKENDS_DIR), os.environ.get("PYTHONPATH", "")]),
    )
    env.pop("CONFORMANCE_BACKEND", None)
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pyargs", *TARGETS]
    argv += ["--backend=toy", f"--expectations={cwd / 'manifest.toml'}", *args]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


class ShardedRun:
    """Report paths of one unsharded run, its shards, and one shard run again with -n 2."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.whole = root / "whole.json"
        self.shards = [root / f"shard{k}.json" for k in range(1, SHARDS + 1)]
        self.shard2_xdist = root / "shard2-n2.json"
        self.output: dict[str, str] = {}

    def load(self, path: Path) -> dict[str, Any]:
        return json.loads(path.read_text())


@pytest.fixture(scope="module")
def sharded(tmp_path_factory: pytest.TempPathFactory) -> ShardedRun:
    root = tmp_path_factory.mktemp("sharded")
    (root / "manifest.toml").write_text(MANIFEST)
    run = ShardedRun(root)
    jobs = [("whole", run.whole, ())]
    jobs += [(f"shard{k}", p, (f"--shard={k}/{SHARDS}",)) for k, p in enumerate(run.shards, 1)]
    jobs.append(("shard2-n2", run.shard2_xdist, (f"--shard=2/{SHARDS}", "-n", "2")))
    for name, report, args in jobs:
        done = _pytest(root, f"--conformance-report={report}", *args)
        run.output[name] = done.stdout + done.stderr
        assert report.exists(), run.output[name]
    return run


def _outcomes(report: dict[str, Any]) -> dict[str, tuple[str, str, str, str]]:
    return {t["id"]: (t["area"], t["outcome"], t["reason"], t["category"]) for t in report["tests"]}


def test_merged_shards_equal_one_unsharded_run(sharded: ShardedRun, tmp_path: Path) -> None:
    """N shards merged give the unsharded run's outcome, reason and category per test."""
    merged = tmp_path / "merged.json"
    assert main(["merge", *map(str, sharded.shards), "-o", str(merged)]) == 0
    whole, joined = sharded.load(sharded.whole), sharded.load(merged)
    outcomes = {o for _, o, _, _ in _outcomes(whole).values()}
    assert {"passed", "failed", "xfailed", "not_implemented"} <= outcomes, outcomes
    assert _outcomes(joined) == _outcomes(whole)
    assert joined["summary"] == whole["summary"]
    assert joined["run"]["status"] == "complete"
    assert joined["run"]["collected"] == whole["run"]["collected"]
    assert [m["shard"]["index"] for m in joined["merged_from"]] == [1, 2, 3]


def test_shards_are_disjoint_balanced_and_cover_the_selection(sharded: ShardedRun) -> None:
    """Every selected test runs in exactly one shard; each shard records the split."""
    whole = set(_outcomes(sharded.load(sharded.whole)))
    seen: list[str] = []
    for index, path in enumerate(sharded.shards, 1):
        report = sharded.load(path)
        shard = report["shard"]
        assert (shard["index"], shard["count"]) == (index, SHARDS)
        assert shard["selection"] == {"total": len(whole), "sha256": selection_digest(whole)}
        assert report["run"]["collected"] == len(report["tests"]) > 0
        seen += [t["id"] for t in report["tests"]]
    assert sorted(seen) == sorted(whole)


def test_same_shard_with_and_without_xdist(sharded: ShardedRun) -> None:
    """``-n 2`` workers compute the same group as a plain run (and its report says so)."""
    plain, xdist = sharded.load(sharded.shards[1]), sharded.load(sharded.shard2_xdist)
    assert _outcomes(xdist) == _outcomes(plain)
    assert xdist["shard"] == plain["shard"]


def test_compare_and_scoreboard_accept_a_merged_report(
    sharded: ShardedRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The merge is a report like any other: the gate passes it against the whole run."""
    merged = tmp_path / "merged.json"
    assert main(["merge", *map(str, sharded.shards), "-o", str(merged)]) == 0
    assert main(["compare", str(sharded.whole), str(merged), "--strict"]) == 0
    assert "OK: 0 regression(s)" in capsys.readouterr().out
    assert main(["scoreboard", str(merged), "-o", str(tmp_path / "board")]) == 0
    assert (tmp_path / "board.html").exists()


# Refusals: each edits copies of the real shard reports.

Edit = Callable[[list[dict[str, Any]]], None]


def _set(index: int, *path: str, value: Any) -> Edit:
    def edit(reports: list[dict[str, Any]]) -> None:
        target = reports[index]
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def _move_test(reports: list[dict[str, Any]]) -> None:
    reports[1]["tests"].append(copy.deepcopy(reports[0]["tests"][0]))


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (_set(1, "backend", "name", value="other"), "differ in backend ('toy' vs 'other')"),
        (_set(2, "backend", "version", value="9.9"), "differ in backend version"),
        (_set(1, "torch_version", value="2.12.0"), "differ in torch version"),
        (_set(1, "options", "grads", value=True), "differ in options"),
        (_set(2, "expectations_sha256", value="0" * 64), "differ in expectation manifest"),
        (_set(1, "shard", "count", value=4), "give the shards of one split"),
        (_set(1, "shard", "durations", "sha256", value="x"), "different durations files"),
        (_set(2, "shard", "selection", "sha256", value="x"), "different test selections"),
        (_set(1, "shard", value=None), "is not the report of a shard"),
        (_set(0, "merged_from", value=[{"path": "x"}]), "already a merged report"),
        (_move_test, "is in both"),
    ],
    ids=[
        "backend",
        "backend-version",
        "torch-version",
        "options",
        "manifest",
        "shard-count",
        "durations",
        "selection",
        "not-a-shard",
        "already-merged",
        "overlap",
    ],
)
def test_merge_refuses_shards_of_different_runs(
    sharded: ShardedRun,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    edit: Edit,
    fragment: str,
) -> None:
    """What would not be one run is refused: exit 2, one line naming it, nothing written."""
    reports = [sharded.load(p) for p in sharded.shards]
    edit(reports)
    paths = []
    for index, report in enumerate(reports, 1):
        paths.append(tmp_path / f"s{index}.json")
        paths[-1].write_text(json.dumps(report))
    out = tmp_path / "merged.json"
    assert main(["merge", *map(str, paths), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert fragment in err
    assert not out.exists()


def test_merge_refuses_a_missing_or_duplicated_shard(
    sharded: ShardedRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two of three shards, or one shard given twice, is not a run."""
    one, two, three = map(str, sharded.shards)
    out = str(tmp_path / "m.json")
    assert main(["merge", one, three, "-o", out]) == 2
    assert "shard(s) 2/3 missing (given: 1/3, 3/3)" in capsys.readouterr().err
    assert main(["merge", one, two, two, three, "-o", out]) == 2
    assert "shard 2/3 is given twice" in capsys.readouterr().err
    assert main(["merge", one, two, "-o", out]) == 2
    assert "missing" in capsys.readouterr().err


def test_merge_refuses_shards_that_lost_tests(
    sharded: ShardedRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Complete shards whose tests do not add up to their selection are refused."""
    reports = [sharded.load(p) for p in sharded.shards]
    reports[2]["tests"].pop()
    paths = [tmp_path / f"s{i}.json" for i in range(SHARDS)]
    for path, report in zip(paths, reports, strict=True):
        path.write_text(json.dumps(report))
    assert main(["merge", *map(str, paths), "-o", str(tmp_path / "m.json")]) == 2
    assert "not the" in capsys.readouterr().err


def test_merged_run_is_as_bad_as_its_worst_shard(
    sharded: ShardedRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A crashed shard makes a crashed, incomplete merge, which compare refuses."""
    reports = [sharded.load(p) for p in sharded.shards]
    run = reports[1]["run"]
    run.update(status="crashed", complete=False, detail="1 worker crash(es)")
    reports[2]["run"].update(status="interrupted", complete=False)
    paths = [tmp_path / f"s{i}.json" for i in range(SHARDS)]
    for path, report in zip(paths, reports, strict=True):
        path.write_text(json.dumps(report))
    out = tmp_path / "m.json"
    assert main(["merge", *map(str, paths), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "RUN INCOMPLETE (crashed)" in printed
    merged = json.loads(out.read_text())
    assert merged["run"]["status"] == "crashed"
    assert merged["run"]["complete"] is False
    assert "shard 2/3" in merged["run"]["detail"]
    assert "shard 3/3" in merged["run"]["detail"]
    assert main(["compare", str(sharded.whole), str(out)]) == 2


def test_every_run_status_has_a_severity() -> None:
    """merge ranks every status a run can end with."""
    from conformance.results import RUN_STATUSES

    assert sorted(merge.SEVERITY) == sorted(RUN_STATUSES)


# The split itself.


def test_split_depends_on_the_set_of_ids_not_their_order() -> None:
    """Workers that collect in any order agree on every test's shard."""
    ids = [f"fx/test_{i % 7}.py::t{i}" for i in range(50)]
    weights = {t: (i * 37 % 11) / 10 for i, t in enumerate(ids)}
    forward = assign(ids, 4, weights.__getitem__)
    backward = assign(list(reversed(ids)), 4, weights.__getitem__)
    assert forward == backward
    assert set(forward.values()) == {1, 2, 3, 4}


def test_split_balances_durations_not_counts() -> None:
    """One long test gets a shard of its own; the short ones share the other."""
    ids = ["lazy/test_ops.py::slow", *(f"fx/test_a.py::t{i}" for i in range(10))]
    weights = {t: 1.0 for t in ids} | {"lazy/test_ops.py::slow": 10.0}
    groups = assign(ids, 2, weights.__getitem__)
    assert [t for t, g in groups.items() if g == groups["lazy/test_ops.py::slow"]] == [
        "lazy/test_ops.py::slow"
    ]


def test_unknown_tests_weigh_their_modules_median() -> None:
    """A test new since the durations file weighs what its neighbours do, else the median."""
    durations = Durations(
        {"lazy/test_ops.py::a": 4.0, "lazy/test_ops.py::b": 6.0, "fx/test_x.py::c": 0.1},
        digest="d",
    )
    assert durations.weight("lazy/test_ops.py::new") == 5.0
    assert durations.weight("fx/test_x.py::c") == 0.1
    assert durations.weight("parametrize/test_new.py::t") == 4.0


def test_durations_from_reports_skip_tests_that_never_ran() -> None:
    """Not-implemented and not-run tests say nothing about a test's cost."""
    report = {
        "backend": {"name": "b", "version": "1"},
        "tests": [
            {"id": "fx/a.py::t", "outcome": "passed", "duration": 0.5},
            {"id": "fx/a.py::u", "outcome": "not_implemented", "duration": 0.0},
            {"id": "fx/a.py::v", "outcome": "not_run", "duration": 0.0},
        ],
    }
    other = copy.deepcopy(report)
    other["tests"][0]["duration"] = 1.5
    assert durations_from_reports([report, other])["durations"] == {"fx/a.py::t": 1.0}


def test_durations_command_writes_a_file_runs_can_use(
    sharded: ShardedRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``durations`` over the shard reports gives every test of the run a weight."""
    out = tmp_path / "durations.json"
    assert main(["durations", *map(str, sharded.shards), "-o", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    loaded = load_durations(out)
    ran = {
        t["id"] for t in sharded.load(sharded.whole)["tests"] if t["outcome"] != "not_implemented"
    }
    assert set(loaded.seconds) == ran


def test_shipped_durations_cover_the_suite() -> None:
    """The committed file is valid and names tests of every area."""
    from conformance.sharding import default_durations_path

    durations = load_durations(default_durations_path())
    areas = {t.split("/", 1)[0] for t in durations.seconds}
    assert areas == {"fx", "lazy", "parametrize"}


# Bad input.


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("3", "is not K/N"),
        ("a/b", "is not K/N"),
        ("-1/3", "is not K/N"),
        ("0/3", "shard number must be from 1 to 3"),
        ("4/3", "shard number must be from 1 to 3"),
        ("1/0", "number of shards must be at least 1"),
    ],
)
def test_bad_shard_is_one_line_and_exit_4(run_suite: RunSuite, value: str, fragment: str) -> None:
    """A malformed --shard stops the run before any test, naming the fix."""
    run = run_suite("conformance.fx", "reference", f"--shard={value}")
    assert_usage_error(run, f"--shard {value!r}", fragment)
    assert run.report["run"]["status"] == "usage_error"


def test_shard_left_empty_by_the_split_is_a_success(run_suite: RunSuite) -> None:
    """More shards than tests: the empty shard exits 0 with a complete report saying so."""
    run = run_suite("conformance.fx.test_hooks", "reference", "--shard=7/7")
    assert run.ret == pytest.ExitCode.OK, run.text()
    assert run.report["tests"] == []
    assert run.report["run"]["status"] == "complete"
    assert "none of the 6 selected tests fell to shard 7/7" in run.report["run"]["detail"]


def test_parse_shard_accepts_k_of_n() -> None:
    assert str(parse_shard(" 2/5 ")) == "2/5"


def test_bad_durations_file_is_one_line_and_exit_4(run_suite: RunSuite, tmp_path: Path) -> None:
    """A durations file that is not one is named, with the command that writes one."""
    bad = tmp_path / "durations.json"
    bad.write_text('{"durations": [1, 2]}')
    run = run_suite("conformance.fx", "reference", "--shard=1/2", f"--shard-durations={bad}")
    assert_usage_error(run, str(bad), "python -m conformance durations")
    missing = run_suite("conformance.fx", "reference", "--shard=1/2", "--shard-durations=nope.json")
    assert_usage_error(missing, "cannot read durations file", "nope.json")


def test_shard_outside_a_conformance_run_is_refused(pytester: pytest.Pytester) -> None:
    """--shard in an unrelated project's run would silently run everything: refused."""
    pytester.makepyfile(test_plain="def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess("--shard=1/2", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--shard splits conformance runs only" in result.stderr.str()
