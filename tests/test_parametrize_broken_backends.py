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
    "orthogonal_wideness_from_dim_one": [
        f"parametrize/test_orthogonal.py::test_{test}[batched-square-{case}]"
        for test, case in (
            ("initial_weight", "matrix_exp-plain"),
            ("initial_weight", "householder-plain"),
            ("assignment", "cayley-trivialization"),
            ("map_without_trivialization", "matrix_exp"),
        )
    ],
    "orthogonal_checks_only_rank": [
        "parametrize/test_orthogonal.py::test_assignment_of_wrong_shape[(3, 3)]",
        "parametrize/test_orthogonal.py::test_assignment_of_wrong_shape[(4, 2)]",
    ],
    "weight_norm_renames_half_checkpoints": [
        "parametrize/test_weight_norm.py::test_half_an_old_checkpoint_is_reported_not_renamed",
    ],
    "spectral_norm_wraps_low_dims": [
        "parametrize/test_spectral_norm.py::test_invalid_arguments[negative-dim-too-low]",
    ],
    "spectral_norm_accepts_negative_iterations": [
        "parametrize/test_spectral_norm.py::test_invalid_arguments[negative-iterations]",
    ],
    "spectral_norm_default_two_iterations": [
        "parametrize/test_spectral_norm.py::test_default_is_one_power_iteration_per_access",
    ],
    "spectral_norm_rebinds_estimates": [
        "parametrize/test_spectral_norm.py::test_estimates_are_updated_in_place",
    ],
    "spectral_norm_vector_without_eps": [
        "parametrize/test_spectral_norm.py::test_zero_vector_stays_zero",
    ],
    "append_refuses_unavailable_inverse": [
        "parametrize/test_registration.py::test_appended_right_inverse_may_be_unavailable",
    ],
    "unsafe_not_sticky": [
        "parametrize/test_registration.py::test_unsafe_stays_on_for_the_tensor",
    ],
    "assignment_swaps_tensors": [
        "parametrize/test_registration.py::test_assignment_leaves_the_assigned_tensor_alone",
    ],
    "assignment_writes_as_it_checks": [
        "parametrize/test_errors.py::test_assignment_to_several_originals_is_all_or_nothing"
        "[second-invalid]",
    ],
    "empty_list_accepted": [
        "parametrize/test_errors.py::test_empty_parametrization_list_is_refused",
    ],
    "too_few_originals_accepted": [
        "parametrize/test_errors.py::test_assignment_with_wrong_number_of_tensors[fewer]",
    ],
    "first_check_misses_growth": [
        "parametrize/test_errors.py::test_invalid_first_registration[forward-grows-shape]",
    ],
    "append_check_misses_growth": [
        f"parametrize/test_errors.py::test_invalid_append_leaves_chain_unchanged[{case}]"
        for case in ("forward-grows-shape", "inverse-grows-shape")
    ],
    "deepcopy_drops_slots": [
        "parametrize/test_state_dict.py::test_deepcopy_copies_slots",
    ],
    "nested_assignment_bypassed": [
        "parametrize/test_registration.py::test_assignment_through_a_nested_parametrization",
    ],
    "register_positional_only": [
        "parametrize/test_registration.py::test_register_accepts_keyword_arguments",
    ],
    "transfer_keeps_plain_tensor": [
        f"parametrize/test_transfer.py::test_transfer_leaves_no_stale_plain_tensor[{kind}]"
        for kind in ("parameter", "buffer")
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
