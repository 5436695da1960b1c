"""The parametrize suite catches broken implementations, with the tests meant to catch them.

Each backend in ``tests/_backends/broken_parametrize.py`` is the reference with one
defect planted. The suite must fail for it, and among the failures must be the tests
written for that behaviour (others may fail too). The ``intact`` control, the same
machinery with no defect, must pass: the failures come from the defects alone.
"""

from __future__ import annotations

import pytest

from tests.conftest import RunSuite

SUITE = "conformance.parametrize"

#: broken backend -> tests that must be among its failures (canonical ids).
CAUGHT_BY: dict[str, list[str]] = {
    "stale_cache": [
        "parametrize/test_caching.py::test_cache_is_dropped_on_exit",
        "parametrize/test_caching.py::test_cache_is_dropped_when_the_block_raises",
        "parametrize/test_caching.py::test_assignment_outside_cache_is_seen_by_next_block",
    ],
    "right_inverse_in_registration_order": [
        "parametrize/test_registration.py::test_assignment_runs_right_inverses_last_first",
    ],
    "transfer_copies": [
        "parametrize/test_transfer.py::test_transfer_shares_originals_and_modules",
        "parametrize/test_transfer.py::test_training_the_source_moves_the_target",
        "parametrize/test_transfer.py::test_transfer_many_to_one",
    ],
    "replaces_original": [
        "parametrize/test_registration.py::test_original_is_the_registered_tensor",
        "parametrize/test_registration.py::test_right_inverse_initializes_original_in_place",
        "parametrize/test_registration.py::test_optimizer_created_before_registration_trains_original",
        "parametrize/test_removal.py::test_leave_parametrized_keeps_value_and_object",
    ],
    "append_before_check": [
        f"parametrize/test_errors.py::test_invalid_append_leaves_chain_unchanged[{case}]"
        for case in (
            "forward-not-a-tensor",
            "forward-changes-dtype",
            "forward-changes-shape",
        )
    ],
    "weight_norm_without_old_keys": [
        "parametrize/test_weight_norm.py::test_loads_a_checkpoint_of_the_old_weight_norm",
        "parametrize/test_weight_norm.py::test_loads_an_old_checkpoint_of_a_submodule",
    ],
    "power_iteration_in_eval": [
        "parametrize/test_spectral_norm.py::test_eval_value_is_weight_over_sigma[cpu]",
    ],
}


@pytest.mark.parametrize("name", sorted(CAUGHT_BY))
def test_suite_catches_broken_backend(run_suite: RunSuite, name: str) -> None:
    """The suite fails for the broken backend, through the tests written for its defect."""
    run = run_suite(SUITE, f"broken_parametrize:{name}")
    run.assert_caught_by(CAUGHT_BY[name], f"broken_parametrize:{name}")
    failed = run.failed_ids()
    # The defect is specific: most of the suite still passes.
    passed = [test for test, outcome in run.outcomes.items() if outcome == "passed"]
    assert len(passed) > 10 * len(failed), sorted(failed)


def test_intact_copy_passes(run_suite: RunSuite) -> None:
    """The control (the broken-backend machinery with no defect) passes the whole suite."""
    run = run_suite(SUITE, "broken_parametrize:intact")
    assert run.ret == 0, run.text()
    assert set(run.outcomes.values()) == {"passed"}
    assert len(run.outcomes) > 200
