"""The lazy suite's behaviour tests catch the bugs they were written for.

Each backend below is the reference device with one plausible bug (a promotion rule,
an RNG state, an IR attribute's spelling, a compile-cache key, a strided transfer, an
aliased replay result), from ``tests/_backends/broken_lazy_<behaviour>.py``. The suite
module for that behaviour runs against it in a child pytest; it must fail, and the
tests written for the bug must be among the failures. ``test_reference_passes...``
runs the same modules on the reference, so those tests fail because of the bug.
"""

from __future__ import annotations

import pytest

from tests.conftest import RunSuite

PROMOTION = "conformance.lazy.test_type_promotion"
RNG = "conformance.lazy.test_rng_steps"
ATTRIBUTES = "conformance.lazy.test_ir_attributes"
HASH = "conformance.lazy.test_graph_hash"
VIEWS = "conformance.lazy.test_device_views"
EXTRACT = "conformance.lazy.test_extract_aliasing"
CLOSURES = "conformance.lazy.test_closures"
DEVICE = "conformance.lazy.test_device"
EXTRACTION = "conformance.lazy.test_extract"


def _ids(module: str, test: str, *params: str) -> list[str]:
    path = "lazy/" + module.rsplit(".", 1)[1] + ".py::" + test
    return [f"{path}[{p}]" for p in params] if params else [path]


def _golden(*programs: str) -> list[str]:
    return _ids(ATTRIBUTES, "test_attribute_text_matches_golden", *programs)


#: Broken backend spec -> (suite module, tests that must fail).
CATCHING: dict[str, tuple[str, list[str]]] = {
    # ---------------------------------------------------------------- type promotion
    "broken_lazy_promotion:float_scalar_takes_tensor_dtype": (
        PROMOTION,
        _ids(PROMOTION, "test_tensor_with_python_scalar", "int64-float", "bool-negative_float"),
    ),
    "broken_lazy_promotion:mixed_operands_computed_in_first_dtype": (
        PROMOTION,
        _ids(PROMOTION, "test_mixed_dtype_operands", "int64-float32", "float16-float64")
        + _ids(PROMOTION, "test_inplace_computes_in_the_promoted_dtype", "float16.add_(float64)"),
    ),
    "broken_lazy_promotion:zero_dim_promotes_like_dimensioned": (
        PROMOTION,
        _ids(PROMOTION, "test_zero_dim_tensor_operand", "float32-float64", "bfloat16-float32"),
    ),
    # ---------------------------------------------------------------- RNG across steps
    "broken_lazy_rng_steps:generator_state_frozen_in_cache": (
        RNG,
        _ids(RNG, "test_one_generator_across_cached_steps_matches_cpu", "uniform_", "bernoulli_"),
    ),
    "broken_lazy_rng_steps:generator_state_in_graph_hash": (
        RNG,
        _ids(RNG, "test_steps_with_one_generator_compile_once"),
    ),
    "broken_lazy_rng_steps:generator_advanced_at_step": (
        RNG,
        _ids(RNG, "test_generator_shared_with_cpu_code_keeps_eager_order"),
    ),
    "broken_lazy_rng_steps:default_rng_replayed_in_cache": (
        RNG,
        _ids(RNG, "test_default_rng_steps_draw_new_numbers")
        + _ids(RNG, "test_default_rng_steps_match_cpu"),
    ),
    # ---------------------------------------------------------------- IR attribute text
    "broken_lazy_ir_attributes:floats_fixed_precision": (
        ATTRIBUTES,
        _golden(
            "uniform_float_bounds",
            "rand_whole_float_bounds",
            "normal_mean_std",
            "bernoulli_probability",
        ),
    ),
    "broken_lazy_ir_attributes:negative_dims_canonicalized": (
        ATTRIBUTES,
        _golden(
            "sum_negative_dim",
            "transpose_negative_dims",
            "permute_negative_dims",
            "diagonal_negative_offset",
            "topk_smallest_sorted",
        ),
    ),
    "broken_lazy_ir_attributes:negative_ints_unsigned": (
        ATTRIBUTES,
        _golden(
            "select_negative_index",
            "slice_negative_bounds",
            "expand_keeping_a_dim",
            "nll_loss_ignore_index",
            "cat_negative_dim",
        ),
    ),
    "broken_lazy_ir_attributes:bools_printed_by_python": (
        ATTRIBUTES,
        _golden("topk_smallest_sorted", "embedding_flags", "sum_dim_list_keepdim"),
    ),
    "broken_lazy_ir_attributes:non_blocking_not_recorded": (
        ATTRIBUTES,
        _golden("to_half_non_blocking"),
    ),
    "broken_lazy_ir_attributes:int_lists_comma_separated": (
        ATTRIBUTES,
        _golden("sum_negative_dim_list", "permute_negative_dims", "mean_dim_list_with_dtype"),
    ),
    "broken_lazy_ir_attributes:enums_printed_by_python": (
        ATTRIBUTES,
        _golden("to_double_contiguous"),
    ),
    "broken_lazy_ir_attributes:absent_optionals_as_none": (
        ATTRIBUTES,
        _golden("uniform_float_bounds", "sum_negative_dim", "to_bool"),
    ),
    "broken_lazy_ir_attributes:absent_scalars_shown": (ATTRIBUTES, _golden("clamp_max_only")),
    "broken_lazy_ir_attributes:dtype_names_incomplete": (ATTRIBUTES, _golden("to_int32")),
    "broken_lazy_ir_attributes:strings_quoted": (ATTRIBUTES, _golden("gelu_tanh", "gelu_exact")),
    # ---------------------------------------------------------------- graph hash
    "broken_lazy_graph_hash:hash_ignores_dtypes": (
        HASH,
        _ids(HASH, "test_graphs_differing_in_one_thing_hash_differently", "dtype")
        + _ids(HASH, "test_step_after_a_similar_graph_computes_its_own_values", "dtype"),
    ),
    "broken_lazy_graph_hash:hash_ignores_shapes": (
        HASH,
        _ids(HASH, "test_graphs_differing_in_one_thing_hash_differently", "shape")
        + _ids(HASH, "test_step_after_a_similar_graph_computes_its_own_values", "shape"),
    ),
    "broken_lazy_graph_hash:hash_ignores_attributes": (
        HASH,
        _ids(
            HASH,
            "test_graphs_differing_in_one_thing_hash_differently",
            "int_attribute",
            "int_list_attribute",
            "bool_attribute",
            "string_attribute",
            "float_attribute",
        )
        + _ids(
            HASH,
            "test_step_after_a_similar_graph_computes_its_own_values",
            "int_attribute",
            "bool_attribute",
            "string_attribute",
        ),
    ),
    "broken_lazy_graph_hash:hash_operands_by_structure": (
        HASH,
        _ids(HASH, "test_graphs_differing_in_one_thing_hash_differently", "edges")
        + _ids(HASH, "test_step_after_a_similar_graph_computes_its_own_values", "edges"),
    ),
    "broken_lazy_graph_hash:hash_ignores_root_order": (
        HASH,
        _ids(HASH, "test_graphs_differing_in_one_thing_hash_differently", "root_order")
        + _ids(HASH, "test_step_after_a_similar_graph_computes_its_own_values", "root_order"),
    ),
    "broken_lazy_graph_hash:hash_ignores_output_index": (
        HASH,
        _ids(HASH, "test_graphs_differing_in_one_thing_hash_differently", "output_index")
        + _ids(HASH, "test_step_after_a_similar_graph_computes_its_own_values", "output_index"),
    ),
    "broken_lazy_graph_hash:hash_keys_scalar_values": (
        HASH,
        _ids(HASH, "test_graphs_differing_only_in_data_hash_alike", "scalar_value"),
    ),
    # ---------------------------------------------------------------- strided transfers
    "broken_lazy_device_views:upload_ignores_strides": (
        VIEWS,
        _ids(
            VIEWS,
            "test_cpu_view_moves_to_the_device",
            "transposed-float32",
            "every_other_column-float32",
            "expanded_row-float32",
            "overlapping_windows-float32",
        )
        + _ids(VIEWS, "test_copy_into_a_device_tensor_from_a_cpu_view", "transposed-bool"),
    ),
    "broken_lazy_device_views:upload_ignores_storage_offset": (
        VIEWS,
        _ids(
            VIEWS,
            "test_cpu_view_moves_to_the_device",
            "row_slice_with_offset-float32",
            "single_element-float32",
            "offset_and_step-int64",
        )
        + _ids(VIEWS, "test_copy_into_a_device_tensor_from_a_cpu_view", "column-float32")
        + _ids(VIEWS, "test_cpu_view_moves_with_a_dtype_conversion"),
    ),
    "broken_lazy_device_views:upload_shares_cpu_memory": (
        VIEWS,
        _ids(
            VIEWS,
            "test_moved_view_does_not_follow_its_cpu_base",
            "transposed",
            "column",
            "single_element",
        ),
    ),
    "broken_lazy_device_views:download_reads_storage_in_order": (
        VIEWS,
        _ids(
            VIEWS,
            "test_device_view_moves_back_to_cpu",
            "transposed",
            "column",
            "diagonal_with_offset",
            "permuted",
        ),
    ),
    # ---------------------------------------------------------------- extract aliasing
    "broken_lazy_extract_aliasing:program_buffers_handed_out": (
        EXTRACT,
        _ids(
            EXTRACT,
            "test_results_share_no_memory_eager_results_do_not",
            "a_clone_of_an_argument",
            "a_contiguous_copy_of_a_view",
        ),
    ),
    "broken_lazy_extract_aliasing:equal_results_merged": (
        EXTRACT,
        _ids(EXTRACT, "test_results_share_no_memory_eager_results_do_not", "two_equal_results"),
    ),
    "broken_lazy_extract_aliasing:output_buffers_reused": (
        EXTRACT,
        _ids(
            EXTRACT,
            "test_results_survive_the_next_call",
            "an_argument",
            "two_equal_results",
            "an_argument_updated_in_place",
        ),
    ),
    "broken_lazy_extract_aliasing:updates_through_views_lost": (
        EXTRACT,
        _ids(
            EXTRACT,
            "test_in_place_updates_reach_the_callers_argument",
            "an_argument_updated_through_a_view",
            "a_view_updated_in_place",
        ),
    ),
    # ---------------------------------------------------------------- async closures
    "broken_lazy_closures:worker_per_step": (
        CLOSURES,
        _ids(CLOSURES, "test_async_closures_of_a_later_step_wait_for_earlier_ones"),
    ),
    "broken_lazy_closures:worker_keeps_process_alive": (
        CLOSURES,
        _ids(CLOSURES, "test_program_using_async_closures_exits"),
    ),
    # ---------------------------------------------------------------- device copies
    "broken_lazy_device_copies:copy_skips_broadcast": (
        DEVICE,
        _ids(DEVICE, "test_copy_between_device_tensors", "row_broadcast", "int_row_into_float"),
    ),
    "broken_lazy_device_copies:fallback_keeps_device_argument": (
        DEVICE,
        _ids(
            DEVICE,
            "test_factory_naming_the_device_on_a_device_tensor",
            "new_zeros",
            "new_full",
            "new_empty",
            "rand_like",
        ),
    ),
    "broken_lazy_device_copies:factory_devices_not_retargeted": (
        EXTRACTION,
        _ids(EXTRACTION, "test_replay_matches_eager_on_fresh_inputs", "creates_on_cpu"),
    ),
    "broken_lazy_extract_fallbacks:earlier_fallbacks_count": (
        EXTRACTION,
        _ids(EXTRACTION, "test_earlier_fallbacks_do_not_block_extraction"),
    ),
}


#: Broken backends whose module runs only the catching tests (``-k``), and why above.
ONLY_THE_CATCHING_TESTS: dict[str, tuple[str, ...]] = {
    "broken_lazy_closures:worker_keeps_process_alive": (
        "-k",
        "test_program_using_async_closures_exits",
    ),
}


@pytest.mark.parametrize("broken", list(CATCHING))
def test_broken_backend_is_caught(run_suite: RunSuite, broken: str) -> None:
    """The behaviour's module fails on the broken backend, in the tests written for it."""
    module, tests = CATCHING[broken]
    # A worker keeping the process alive would also hang the child pytest at exit once
    # its own in-process closure tests ran: run only the test that catches it.
    only = ONLY_THE_CATCHING_TESTS.get(broken, ())
    run_suite(module, broken, "-q", *only).assert_caught_by(tests, broken)


def test_reference_passes_every_catching_test(run_suite: RunSuite) -> None:
    """The reference passes every module used above, including each catching test."""
    modules = sorted({module for module, _ in CATCHING.values()})
    catching = sorted({test for _, tests in CATCHING.values() for test in tests})
    run_suite(modules[0], "reference", *modules[1:], "-q").assert_all_passed(catching)
