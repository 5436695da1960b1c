"""Part two of the lazy suite (issue 5) catches broken backends where it should.

Each backend of ``tests/_backends/broken_lazy2.py`` is the reference device with one
promise broken. The suite modules written for that promise run against it in a child
pytest; they must fail, and the listed tests must be among the failures.
``test_reference_passes_every_catching_test`` runs the same modules on the reference,
so those tests fail because of the bug and not on their own.
"""

from __future__ import annotations

import pytest

from tests.conftest import RunSuite

#: Broken backend -> (suite modules to run, tests that must fail, text the output must show).
CATCHING: dict[str, tuple[list[str], list[str], list[str]]] = {
    "closure_runs_before_graph": (
        ["conformance.lazy.test_closures"],
        ["lazy/test_closures.py::test_sync_closure_runs_after_graph_executed"],
        ["the closure saw pending IR"],
    ),
    "reuse_returns_stale_values": (
        ["conformance.lazy.test_reuse"],
        [
            "lazy/test_reuse.py::test_reuse_keeps_values_right_on_new_data",
            "lazy/test_reuse.py::test_reuse_keeps_values_right_after_inputs_change",
        ],
        [],
    ),
    "rng_ignores_generator": (
        ["conformance.lazy.test_rng"],
        [
            "lazy/test_rng.py::test_seeded_generator_matches_cpu[uniform_]",
            "lazy/test_rng.py::test_seeded_generator_matches_cpu[normal_]",
            "lazy/test_rng.py::test_global_seed_does_not_matter[0-3]",
            "lazy/test_rng.py::test_cached_graph_draws_with_the_new_generator",
        ],
        [],
    ),
    "recompiles_every_step": (
        ["conformance.lazy.test_models"],
        [
            "lazy/test_models.py::test_steady_state_compiles_nothing[mlp-sgd_momentum]",
            "lazy/test_models.py::test_steady_state_compiles_nothing[encoder_block-adam]",
        ],
        ["step 3 of 5 compiled", "IR diff between the graphs of steps 2 and 3"],
    ),
    "scalars_baked_into_graph": (
        ["conformance.lazy.test_models"],
        [
            "lazy/test_models.py::test_steady_state_compiles_nothing[mlp-adam]",
            "lazy/test_models.py::test_steady_state_compiles_nothing[encoder_block-adam]",
        ],
        ["step 3 of 5 compiled", "+  %", "prim::Constant(), value="],
    ),
    "relu_off_by_a_hundredth": (
        ["conformance.lazy.test_programs", "conformance.lazy.test_models"],
        [
            "lazy/test_programs.py::test_values_match_cpu[relu_after_shift]",
            "lazy/test_models.py::test_training_matches_cpu[mlp-sgd_momentum]",
        ],
        ["first divergent node: relu", "minimal program reproducing it", "relu(a0"],
    ),
    "relu_off_and_no_lone_sync": (
        ["conformance.lazy.test_programs"],
        ["lazy/test_programs.py::test_values_match_cpu[relu_after_shift]"],
        [
            "first divergent node not found: the backend raised while syncing the outputs of "
            "call #1 (Tensor.to, recorded at ",
            "RuntimeError: Check failed: !buffer->IsDeleted()",
        ],
    ),
}


@pytest.mark.parametrize("broken", list(CATCHING))
def test_broken_backend_is_caught(run_suite: RunSuite, broken: str) -> None:
    """The modules for the bug fail on the broken backend, in the tests written for it."""
    modules, tests, texts = CATCHING[broken]
    run = run_suite(modules[0], f"broken_lazy2:{broken}", *modules[1:], "-q")
    run.assert_caught_by(tests, f"broken_lazy2:{broken}")
    output = run.text()
    for text in texts:
        assert text in output, f"{text!r} missing from the failure output:\n{output[-4000:]}"


def test_reference_passes_every_catching_test(run_suite: RunSuite) -> None:
    """The reference passes all modules used above, including every catching test."""
    modules = sorted({m for mods, _, _ in CATCHING.values() for m in mods})
    catching = sorted({t for _, tests, _ in CATCHING.values() for t in tests})
    run_suite(modules[0], "reference", *modules[1:], "-q").assert_all_passed(catching)
