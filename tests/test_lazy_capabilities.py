"""Optional parts of the lazy contract: declared, inferred, refused, and reported end to end.

``tests/_backends/lacking_lazy.py`` holds reference devices that lack what torch_xla
lacks (force fallback, IR reuse, ``SyncedTensorsWithIR``, CPU's default RNG). Tests
needing a missing capability must be *not implemented* (their own column, outside the
conformance denominator), never errors, and no fixture may call a missing member.
"""

from __future__ import annotations

import pytest

from conformance.contract import LAZY_CAPABILITIES, CapabilityError, check_capability_names
from conformance.discovery import BackendError, load_backend
from tests.conftest import RunSuite

#: Test files touching every capability xla_like lacks, plus plain ones that must pass.
FILES = "test_fallback or test_reuse or test_factories or test_metrics or test_rng_steps"

NEEDS = {
    "lazy/test_fallback.py::test_force_fallback_runs_op_on_cpu": "force_fallback",
    "lazy/test_reuse.py::test_retrace_on_same_inputs_reuses_nodes": "ir_reuse",
    "lazy/test_reuse.py::test_reuse_off_reuses_nothing": "ir_reuse",
    "lazy/test_metrics.py::test_synced_tensors_with_ir_counts_pending_tensors": (
        "counter:SyncedTensorsWithIR"
    ),
    "lazy/test_factories.py::test_rand_follows_the_cpu_generator": "cpu_rng",
    "lazy/test_rng_steps.py::test_default_rng_steps_match_cpu": "cpu_rng",
}


def test_lacking_capabilities_are_not_implemented_end_to_end(run_suite: RunSuite) -> None:
    """An installed-style run: tests needing a missing capability are not implemented.

    The run passes (no test calls a missing member: the fixtures' teardown included),
    each such test's reason names the capability, the summary counts them in the
    not-impl. column and the header lists what the backend lacks.
    """
    run = run_suite("conformance", "lacking_lazy:xla_like", "-k", FILES)
    assert run.ret == 0, run.text()
    outcomes = run.outcomes
    tests = {t["id"]: t for t in run.report["tests"]}
    for test_id, capability in NEEDS.items():
        assert outcomes[test_id] == "not_implemented", (test_id, tests[test_id])
        assert tests[test_id]["reason"].startswith(f"not implemented: {capability} ("), tests[
            test_id
        ]["reason"]
    lazy = run.report["summary"]["lazy"]
    lacking = [i for i, o in outcomes.items() if i.startswith("lazy/") and o == "not_implemented"]
    assert lazy["not impl."] == len(lacking) >= len(NEEDS)
    assert lazy["failed"] == 0
    assert lazy["passed"] > 20
    assert outcomes["lazy/test_fallback.py::test_unlowered_op_falls_back_and_counts"] == "passed"
    assert "lazy capabilities lacking" in run.text()
    assert "force_fallback, ir_reuse" in run.text()


def test_reference_runs_every_capability_test(run_suite: RunSuite) -> None:
    """The reference declares every capability: the same tests run and pass there."""
    run = run_suite("conformance.lazy", "reference", "-k", FILES)
    assert run.ret == 0, run.text()
    for test_id in NEEDS:
        assert run.outcomes[test_id] == "passed", test_id
    assert "not_implemented" not in set(run.outcomes.values())
    assert "conformance: lazy capabilities: all" in run.text()


def test_capabilities_are_inferred_from_none_members() -> None:
    """Without a ``capabilities`` set, None members remove their capabilities, no more."""
    loaded = load_backend("lacking_lazy:xla_like_undeclared")
    assert {"force_fallback", "ir_reuse"}.isdisjoint(loaded.capabilities)
    assert loaded.capabilities == frozenset(LAZY_CAPABILITIES) - {"force_fallback", "ir_reuse"}


def test_declared_capability_without_its_members_is_refused() -> None:
    """Declaring force_fallback with None members is a load error naming both."""
    with pytest.raises(BackendError) as info:
        load_backend("lacking_lazy:claims_force_fallback")
    message = str(info.value)
    assert "force_fallback needs get_force_fallback" in message
    assert "\n" not in message


def test_unknown_capability_is_one_usage_error(run_suite: RunSuite) -> None:
    """An unknown capability name stops the run (exit 4) with one line listing known names."""
    run = run_suite("conformance.lazy", "lacking_lazy:unknown_capability")
    assert run.ret == 4, run.text()
    errors = [line for line in run.text().splitlines() if "torch-conformance:" in line]
    assert len(errors) == 1, run.text()
    assert "unknown capability name(s) 'time_travel'" in errors[0]
    assert "force_fallback" in errors[0]  # the known names
    assert "Traceback" not in run.text()


def test_unknown_capability_in_a_marker_is_named() -> None:
    """A misspelled conformance_needs name raises naming the test and the known names."""
    with pytest.raises(CapabilityError, match=r"test x: unknown capability name\(s\) 'cpu_rgn'"):
        check_capability_names(["cpu_rng", "cpu_rgn"], "test x")
    check_capability_names(list(LAZY_CAPABILITIES), "test x")  # every known name is fine
