"""The fx suite catches broken lazy graph modules, and catches each bug where it should.

Each broken backend in ``tests/_backends/broken_fx.py`` is the reference with one promise
broken. Running the fx suite against it must fail, and the tests written for that
promise must be among the failures; other tests may fail too (one bug often breaks
several promises). ``test_reference_passes_every_catching_test`` shows that those same
tests pass on the reference, so they fail because of the bug and not on their own.
"""

from __future__ import annotations

from tests.conftest import RunSuite

SUITE = "conformance.fx"

#: Broken backend (attribute of broken_fx) -> tests that must catch its bug.
CATCHING_TESTS: dict[str, list[str]] = {
    "recompiles_eagerly": [
        "fx/test_recompile.py::test_tracing_in_context_builds_a_stale_lazy_module",
        "fx/test_recompile.py::test_recompile_only_marks",
        "fx/test_recompile.py::test_needs_recompile_lifecycle",
    ],
    "never_regenerates": [
        "fx/test_recompile.py::test_edit_then_recompile_runs_new_code[call]",
        "fx/test_recompile.py::test_edit_then_recompile_runs_new_code[forward]",
        "fx/test_recompile.py::test_needs_recompile_lifecycle",
        "fx/test_realize.py::test_code_shows_the_edit",
    ],
    "pickle_loses_laziness": [
        "fx/test_serialization.py::test_pickle_round_trip_stays_lazy",
    ],
    "context_ignored": [
        "fx/test_recompile.py::test_tracing_in_context_builds_a_stale_lazy_module",
        "fx/test_make_graph_module.py::test_context_selects_class_for_fx[symbolic_trace]",
        "fx/test_make_graph_module.py::test_context_selects_class_for_fx[make_fx]",
        "fx/test_recapture.py::test_symbolic_trace_recapture",
        "fx/test_recapture.py::test_make_fx_recapture",
    ],
    "saved_forward_regenerates": [
        "fx/test_recompile.py::test_saved_forward_generates_code_once[fresh]",
        "fx/test_recompile.py::test_saved_forward_generates_code_once[edited]",
    ],
    "forgets_pytree_specs": [
        "fx/test_interop.py::test_pytree_specs_before_first_call",
    ],
    "code_does_not_realize": [
        "fx/test_realize.py::test_code_realizes_and_matches_eager",
        "fx/test_realize.py::test_code_shows_the_edit",
    ],
    "hooks_run_twice_when_stale": [
        "fx/test_hooks.py::test_hooks_run_once_per_call[fresh]",
        "fx/test_hooks.py::test_hooks_run_once_per_call[edited]",
        "fx/test_hooks.py::test_hooks_that_change_values_apply_once[fresh]",
        "fx/test_hooks.py::test_hooks_that_change_values_apply_once[edited]",
        "fx/test_hooks.py::test_forward_call_runs_no_hooks",
    ],
    "deepcopy_shares_class": [
        "fx/test_serialization.py::test_editing_a_deepcopy_leaves_the_original_alone[realized]",
        "fx/test_serialization.py::test_editing_a_deepcopy_leaves_the_original_alone[stale]",
        "fx/test_serialization.py::test_editing_the_original_leaves_a_deepcopy_alone[realized]",
        "fx/test_serialization.py::test_editing_the_original_leaves_a_deepcopy_alone[stale]",
    ],
    "assignment_keeps_old_code": [
        "fx/test_recompile.py::test_graph_assignment_marks_stale",
    ],
}


def _assert_caught(run_suite: RunSuite, broken: str) -> None:
    run_suite(SUITE, f"broken_fx:{broken}").assert_caught_by(
        CATCHING_TESTS[broken], f"broken_fx:{broken}"
    )


def test_recompiles_eagerly_is_caught(run_suite: RunSuite) -> None:
    """A recompile() that generates code at once fails the laziness and flag tests."""
    _assert_caught(run_suite, "recompiles_eagerly")


def test_never_regenerates_is_caught(run_suite: RunSuite) -> None:
    """Ignoring recompile() after the first realization fails the edit-then-run tests."""
    _assert_caught(run_suite, "never_regenerates")


def test_pickle_loses_laziness_is_caught(run_suite: RunSuite) -> None:
    """Unpickling to an ordinary GraphModule fails the pickle round-trip test."""
    _assert_caught(run_suite, "pickle_loses_laziness")


def test_context_ignored_is_caught(run_suite: RunSuite) -> None:
    """A context manager that does not reach torch.fx fails the class-selection tests."""
    _assert_caught(run_suite, "context_ignored")


def test_saved_forward_regenerates_is_caught(run_suite: RunSuite) -> None:
    """A saved forward that regenerates on each call fails the generate-once test."""
    _assert_caught(run_suite, "saved_forward_regenerates")


def test_forgets_pytree_specs_is_caught(run_suite: RunSuite) -> None:
    """Recording pytree specs only at realization (PyTorch's bug) fails the spec test."""
    _assert_caught(run_suite, "forgets_pytree_specs")


def test_code_does_not_realize_is_caught(run_suite: RunSuite) -> None:
    """A .code that does not realize a stale module fails the code-reading tests."""
    _assert_caught(run_suite, "code_does_not_realize")


def test_hooks_run_twice_when_stale_is_caught(run_suite: RunSuite) -> None:
    """A stale forward that calls the module again (PyTorch's) fails the hook tests."""
    _assert_caught(run_suite, "hooks_run_twice_when_stale")


def test_deepcopy_shares_class_is_caught(run_suite: RunSuite) -> None:
    """A deepcopy sharing the original's class (its staleness and code) fails the copy tests."""
    _assert_caught(run_suite, "deepcopy_shares_class")


def test_assignment_keeps_old_code_is_caught(run_suite: RunSuite) -> None:
    """Graph assignment that does not mark a realized module stale fails the assignment test."""
    _assert_caught(run_suite, "assignment_keeps_old_code")


def test_reference_passes_every_catching_test(run_suite: RunSuite) -> None:
    """The reference passes the whole fx suite, including every test listed above."""
    catching = sorted({test for tests in CATCHING_TESTS.values() for test in tests})
    run_suite(SUITE, "reference").assert_all_passed(catching)
