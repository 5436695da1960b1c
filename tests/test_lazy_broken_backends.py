"""The lazy suite catches broken lazy devices, and catches each bug where it should.

Each broken backend in ``tests/_backends/broken_lazy.py`` is the reference device with one
promise broken. Running the lazy suite against it must fail, and the tests written for
that promise must be among the failures. ``test_reference_passes_every_catching_test``
shows that the same tests pass on the reference, so they fail because of the bug.
The dialect tests run backends from ``tests/_backends/dialect_lazy.py`` that print
torch_xla-style IR: goldens must pass structurally, and miswired edges must still fail.
"""

from __future__ import annotations

import pytest

from tests.conftest import RunSuite

#: The modules holding the golden tests (IR text and attribute text).
GOLDEN_MODULES = ("conformance.lazy.test_programs", "conformance.lazy.test_ir_attributes")

#: Broken backend (attribute of broken_lazy) -> tests that must catch its bug.
CATCHING_TESTS: dict[str, list[str]] = {
    "wrong_add": [
        "lazy/test_programs.py::test_values_match_cpu[add_tensors]",
        "lazy/test_programs.py::test_values_match_cpu[add_broadcast_row]",
        "lazy/test_autograd.py::test_training_loop_matches_cpu",
    ],
    "views_stop_aliasing": [
        "lazy/test_views.py::test_view_keeps_aliasing_across_mark_step",
        "lazy/test_views.py::test_slice_view_written_after_step",
        "lazy/test_views.py::test_old_view_sees_base_write_after_step",
    ],
    "cache_never_hits": [
        "lazy/test_cache.py::test_identical_step_hits_cache",
        "lazy/test_cache.py::test_training_loop_stops_compiling_after_warmup",
    ],
    "counters_lie": [
        "lazy/test_metrics.py::test_mark_step_counts_each_step",
        "lazy/test_metrics.py::test_synced_tensors_with_ir_counts_pending_tensors",
        "lazy/test_functionalization.py::test_lazy_init_with_view[False-2]",
    ],
    "ir_dim_off_by_one": [
        "lazy/test_programs.py::test_ir_text_matches_golden[sum_dim_keepdim]",
        "lazy/test_programs.py::test_ir_text_matches_golden[select_column]",
    ],
}


def _modules(test_ids: list[str]) -> list[str]:
    """The suite modules holding ``test_ids``, as ``--pyargs`` names (each run once)."""
    files = sorted({test_id.split("::", 1)[0] for test_id in test_ids})
    return ["conformance." + f.removesuffix(".py").replace("/", ".") for f in files]


def _assert_caught(run_suite: RunSuite, broken: str) -> None:
    # Only the modules of the catching tests: a whole-area run per variant costs minutes.
    first, *others = _modules(CATCHING_TESTS[broken])
    run_suite(first, f"broken_lazy:{broken}", *others, "-q").assert_caught_by(
        CATCHING_TESTS[broken], f"broken_lazy:{broken}"
    )


@pytest.mark.parametrize("broken", list(CATCHING_TESTS))
def test_broken_lazy_backend_is_caught(run_suite: RunSuite, broken: str) -> None:
    """The lazy suite fails on the broken backend, in the tests written for its bug."""
    _assert_caught(run_suite, broken)


def test_reference_passes_every_catching_test(run_suite: RunSuite) -> None:
    """The reference passes every test listed above (and the rest of their modules)."""
    catching = sorted({test for tests in CATCHING_TESTS.values() for test in tests})
    first, *others = _modules(catching)
    run_suite(first, "reference", *others, "-q").assert_all_passed(catching)


def test_xla_dialect_goldens_compare_structurally(run_suite: RunSuite) -> None:
    """A backend printing torch_xla-style IR passes every golden through the normalizer."""
    run = run_suite(*GOLDEN_MODULES[:1], "dialect_lazy:xla_text", *GOLDEN_MODULES[1:], "-q")
    assert run.ret == 0, run.text()
    goldens = {t: o for t, o in run.outcomes.items() if "test_ir_text_matches_golden" in t}
    assert len(goldens) >= 40
    assert set(goldens.values()) == {"passed"}


def test_xla_dialect_wrong_edges_are_caught(run_suite: RunSuite) -> None:
    """Structural comparison still fails a graph whose edges are wired wrongly.

    (Not maximum_minimum: swapping the operands of both its nodes consistently is a
    relabeling of its two same-shape inputs, which a structural comparison across
    dialects, whose leaves print in different orders, cannot and should not tell apart.)
    """
    run = run_suite(GOLDEN_MODULES[0], "dialect_lazy:xla_text_swapped_edges", "-q")
    assert run.ret != 0, run.text()
    failed = set(run.failed_ids())
    for name in ("mm", "div_tensors", "bmm", "cat_dim0", "sgd_training_step"):
        assert f"lazy/test_programs.py::test_ir_text_matches_golden[{name}]" in failed


GOLDEN_TESTS = ("test_ir_text_matches_golden", "test_attribute_text_matches_golden")


def test_backend_goldens_in_its_own_dialect_round_trip(run_suite: RunSuite, tmp_path) -> None:
    """--accept --golden-dir records torch_xla-dialect goldens; a later run compares them
    byte for byte, so an edited golden fails exactly its test."""
    own = tmp_path / "xla-goldens"
    accept = run_suite(GOLDEN_MODULES[0], "dialect_lazy:xla_text", GOLDEN_MODULES[1], "-q",
                       "-k", "golden", "--accept", f"--golden-dir={own}")  # fmt: skip
    assert accept.ret == 0, accept.text()
    written = sorted(p.name for p in own.glob("*.txt"))
    assert len(written) >= 80
    assert "xla_shape=" in (own / "mm.txt").read_text()  # the backend's dialect, not PyTorch's
    text = (own / "mm.txt").read_text()
    # Structurally equal but not byte-equal: a per-backend golden is compared byte for byte.
    (own / "mm.txt").write_text(text.replace("xla_shape=", "xla_shape ="))
    run = run_suite(GOLDEN_MODULES[0], "dialect_lazy:xla_text", GOLDEN_MODULES[1], "-q",
                    "-k", "golden", f"--golden-dir={own}")  # fmt: skip
    goldens = {t: o for t, o in run.outcomes.items() if any(g in t for g in GOLDEN_TESTS)}
    failed = {t for t, o in goldens.items() if o == "failed"}
    assert failed == {"lazy/test_programs.py::test_ir_text_matches_golden[mm]"}, run.text()


def test_accept_into_pytorch_goldens_is_refused_for_another_dialect(run_suite: RunSuite) -> None:
    """A torch_xla-dialect backend cannot overwrite the suite's PyTorch goldens; the failure
    names the two ways to record its own."""
    run = run_suite(
        GOLDEN_MODULES[0], "dialect_lazy:xla_text", "-q", "-k", "golden and mm", "--accept"
    )
    assert run.ret != 0
    assert "cannot accept into them" in run.text()
    assert "--golden-dir" in run.text()
