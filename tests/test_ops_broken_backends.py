"""The op sweep catches broken backends, reports each bug on the right op, survives crashes.

Each backend in ``tests/_backends/broken_ops.py`` is the reference lazy device with one
bug. The sweep runs on a handful of ops (``--ops``) in a child pytest; the buggy op's
test must fail with a reason naming the problem, the other ops must still pass, and the
JSON report must carry each test's dispatch class for the scoreboard.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RunSuite, SuiteRun

SUITE = "conformance.lazy.test_ops"


def _op_test(op: str) -> str:
    return f"lazy/test_ops.py::test_op[{op}-float32]"


def _entry(run: SuiteRun, op: str) -> dict[str, Any]:
    """The report entry of op ``op``'s float32 test."""
    tests = {t["id"]: t for t in run.report["tests"]}
    return tests[_op_test(op)]


def test_reference_passes_the_probe_ops(run_suite: RunSuite) -> None:
    """The ops the broken backends break pass on the reference, with native dispatch for abs."""
    run = run_suite(SUITE, "reference", "--ops=abs,topk,neg,cos,sin", "-q")
    assert run.ret == 0, run.text()
    assert set(run.outcomes.values()) == {"passed"}
    assert _entry(run, "abs")["dispatch"] == "native"
    assert _entry(run, "sin")["dispatch"] == "fallback"
    assert _entry(run, "sin")["fallbacks"] == ["aten::sin"]


def test_silent_fallback_of_a_declared_native_op_is_caught(run_suite: RunSuite) -> None:
    """abs falling back to CPU fails its test when the backend declares abs native."""
    run = run_suite(SUITE, "broken_ops:silent_fallback", "--ops=abs,neg", "-q")
    assert run.ret != 0, run.text()
    abs_test = _entry(run, "abs")
    assert abs_test["outcome"] == "failed"
    assert abs_test["dispatch"] == "fallback"
    assert "fell back to CPU (aten::abs)" in abs_test["reason"]
    assert "declares native" in abs_test["reason"]
    assert _entry(run, "neg")["outcome"] == "passed"


def test_wrong_second_output_of_a_tuple_op_is_caught(run_suite: RunSuite) -> None:
    """topk with right values but wrong indices fails, naming output[1]."""
    run = run_suite(SUITE, "broken_ops:wrong_second_output", "--ops=topk,abs", "-q")
    topk = _entry(run, "topk")
    assert topk["outcome"] == "failed", run.text()
    assert topk["dispatch"] == "wrong"
    assert "output[1]" in topk["reason"]
    assert "output[0]" not in topk["reason"]
    assert _entry(run, "abs")["outcome"] == "passed"


def test_right_values_with_wrong_dtype_are_caught(run_suite: RunSuite) -> None:
    """neg returning float64 data for float32 inputs fails on the dtype, not the values."""
    run = run_suite(SUITE, "broken_ops:wrong_dtype", "--ops=neg,abs", "-q")
    neg = _entry(run, "neg")
    assert neg["outcome"] == "failed", run.text()
    assert neg["dispatch"] == "wrong"
    assert "dtype torch.float64, expected torch.float32" in neg["reason"]


def test_worker_crash_loses_only_that_test(run_suite: RunSuite) -> None:
    """os.abort() on cos kills one xdist worker: the run finishes and reports cos as an error."""
    run = run_suite(SUITE, "broken_ops:aborts_on_cos", "--ops=cos,abs,neg,sin", "-n", "2", "-q")
    assert run.ret != 0, run.text()
    assert run.outcomes == {
        _op_test("cos"): "error",
        _op_test("abs"): "passed",
        _op_test("neg"): "passed",
        _op_test("sin"): "passed",
    }, run.text()
    assert "crashed" in _entry(run, "cos")["reason"]
    assert run.report["summary"]["lazy"]["failed"] == 1


def test_hanging_op_is_stopped_and_reported_as_error(run_suite: RunSuite) -> None:
    """A sample that hangs is stopped by the per-test timeout and reported as an error."""
    run = run_suite(SUITE, "broken_ops:hangs_on_sin", "--ops=sin,abs", "--op-timeout=3", "-q")
    assert run.outcomes == {_op_test("sin"): "error", _op_test("abs"): "passed"}, run.text()
    assert "Timeout" in _entry(run, "sin")["reason"]


def test_write_expectations_round_trip(run_suite: RunSuite, pytester: pytest.Pytester) -> None:
    """--write-expectations lists the failing op with its error; using it makes the run pass."""
    manifest = pytester.path / "expectations.toml"
    args = ("--ops=topk,abs", "-q")
    first = run_suite(
        SUITE, "broken_ops:wrong_second_output", *args, f"--write-expectations={manifest}"
    )
    assert first.ret != 0
    text = manifest.read_text()
    assert text.count("[[expect]]") == 1
    assert 'test = "lazy/test_ops.py::test_op[topk-float32]"' in text
    assert "output[1]" in text
    again = run_suite(SUITE, "broken_ops:wrong_second_output", *args, f"--expectations={manifest}")
    assert again.ret == 0, again.text()
    assert again.outcomes[_op_test("topk")] == "xfailed"
    assert _entry(again, "topk")["dispatch"] == "wrong"


def test_manifest_tolerance_rule_applies_per_op_and_dtype(
    run_suite: RunSuite, pytester: pytest.Pytester
) -> None:
    """An [[op]] atol/rtol rule accepts a small error for its op and dtype only."""
    bare = run_suite(SUITE, "broken_ops:slightly_off", "--ops=neg", "-q")
    assert bare.outcomes == {_op_test("neg"): "failed"}, bare.text()
    manifest = pytester.path / "rules.toml"
    rule = '[[op]]\nop = "ne*"\n{dtypes}atol = 0.01\nrtol = 0\nreason = "demo"\n'
    manifest.write_text(rule.format(dtypes=""))
    loose = run_suite(SUITE, "broken_ops:slightly_off", "--ops=neg", f"--expectations={manifest}")
    assert loose.outcomes == {_op_test("neg"): "passed"}, loose.text()
    manifest.write_text(rule.format(dtypes='dtypes = ["float64"]\n'))
    other = run_suite(SUITE, "broken_ops:slightly_off", "--ops=neg", f"--expectations={manifest}")
    assert other.outcomes == {_op_test("neg"): "failed"}, other.text()


def test_manifest_native_rule_fails_a_fallback(
    run_suite: RunSuite, pytester: pytest.Pytester
) -> None:
    """An [[op]] native = true rule turns a (correct) CPU fallback into a failure."""
    manifest = pytester.path / "rules.toml"
    manifest.write_text('[[op]]\nop = "sin"\nnative = true\nreason = "we lower sin"\n')
    run = run_suite(SUITE, "reference", "--ops=sin,abs", f"--expectations={manifest}", "-q")
    assert run.outcomes == {_op_test("sin"): "failed", _op_test("abs"): "passed"}, run.text()
    assert "the manifest declares the op native" in _entry(run, "sin")["reason"]


def test_op_timeout_bounds_each_sample_not_the_op(run_suite: RunSuite) -> None:
    """Nine half-second samples pass under --op-timeout=2 (4.5 s in all): it bounds a sample."""
    run = run_suite(SUITE, "broken_ops:slow_hypot", "--ops=hypot", "--op-timeout=2", "-q")
    assert run.outcomes == {_op_test("hypot"): "passed"}, run.text()


def test_sample_timeout_is_an_error_naming_the_sample(run_suite: RunSuite) -> None:
    """The second sample hangs: the test is an error naming sample 1 and its inputs."""
    run = run_suite(
        SUITE, "broken_ops:hangs_on_second_hypot", "--ops=hypot,abs", "--op-timeout=2", "-q"
    )
    assert run.outcomes == {_op_test("hypot"): "error", _op_test("abs"): "passed"}, run.text()
    reason = _entry(run, "hypot")["reason"]
    assert "sample 1 (float32[" in reason
    assert "Timeout (>2s)" in reason
    assert "--op-timeout" in reason


def test_worker_crash_names_the_sample(run_suite: RunSuite) -> None:
    """A worker killed in hypot's second sample: the error names that sample and its inputs."""
    run = run_suite(SUITE, "broken_ops:aborts_on_second_hypot", "--ops=hypot,abs", "-n", "2", "-q")
    assert run.outcomes == {_op_test("hypot"): "error", _op_test("abs"): "passed"}, run.text()
    reason = _entry(run, "hypot")["reason"]
    assert "crashed" in reason
    assert "it was running sample 1 (float32[" in reason


def test_random_op_reseeded_by_opinfo_is_compared_by_shape(run_suite: RunSuite) -> None:
    """Dropout and uniform_ (reseeded inside by OpInfo) pass on a device with its own RNG."""
    run = run_suite(SUITE, "broken_ops:own_device_rng", "--ops=nn.functional.dropout,uniform", "-q")
    assert set(run.outcomes.values()) == {"passed"}, run.text()
    assert len(run.outcomes) == 2


@pytest.mark.parametrize(
    ("backend", "outcome"),
    [("flips_vector_signs", "passed"), ("flips_left_singular_vectors_only", "failed")],
)
def test_vectors_compare_up_to_sign(run_suite: RunSuite, backend: str, outcome: str) -> None:
    """Flipped eigen/singular/QR vector signs conform; a flip breaking U S Vh does not."""
    run = run_suite(SUITE, f"broken_ops:{backend}", "--ops=linalg.eigh,linalg.svd,linalg.qr")
    assert run.outcomes[_op_test("linalg.svd")] == outcome, run.text()
    if outcome == "passed":
        assert set(run.outcomes.values()) == {"passed"}, run.text()
    else:
        assert "up to the sign" in _entry(run, "linalg.svd")["reason"]


@pytest.mark.parametrize(
    ("backend", "outcome"),
    [("contractions_in_float64", "passed"), ("contractions_in_bfloat16", "failed")],
)
def test_contractions_compare_by_accuracy(run_suite: RunSuite, backend: str, outcome: str) -> None:
    """A matmul summed more exactly than CPU conforms; one accumulating in bfloat16 does not.

    Summed in float64, matmul's float32 results differ from CPU's BLAS by CPU's own
    rounding, beyond the default tolerance where terms cancel; the sweep then judges
    both against the float64 result.
    """
    ops = ("matmul", "__rmatmul__", "mm", "bmm", "addmm")
    run = run_suite(SUITE, f"broken_ops:{backend}", f"--ops={','.join(ops)},abs", "-q")
    assert run.outcomes[_op_test("abs")] == "passed", run.text()
    if outcome == "passed":
        assert set(run.outcomes.values()) == {"passed"}, run.text()
        return
    for op in ops:
        assert run.outcomes[_op_test(op)] == "failed", run.text()
        assert "against float64, CPU's own" in _entry(run, op)["reason"], run.text()
