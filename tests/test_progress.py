"""Progress lines during a run: tests done per area and an estimate of the time left."""

from __future__ import annotations

import re

import pytest

from conformance.progress import Progress
from tests.conftest import RunSuite

LINE = re.compile(r"^conformance progress: (\d+)/(\d+) \(\d+%\) \| fx (\d+)/6 \| .* elapsed")


def _progress_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("conformance progress:")]


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["plain", "xdist"])
def test_progress_lines_count_tests_per_area(run_suite: RunSuite, xdist: tuple[str, ...]) -> None:
    """With a short interval every finished test is counted, per area, in its own line."""
    run = run_suite(
        "conformance.fx.test_hooks", "reference", "--conformance-progress=0.000001", *xdist
    )
    assert run.ret == 0, run.text()
    lines = _progress_lines(run.text())
    assert lines, run.text()
    counts = []
    for line in lines:
        match = LINE.match(line)
        assert match, line
        done, total, fx_done = map(int, match.groups())
        assert total == 6
        assert done == fx_done
        counts.append(done)
    assert counts == sorted(counts)
    assert max(counts) < 6  # no line once everything is done: the table follows
    assert any("left" in line for line in lines)
    assert "conformance: 6 tests, " in run.text()


def test_progress_can_be_turned_off(run_suite: RunSuite) -> None:
    """``--conformance-progress=0`` prints no progress line."""
    run = run_suite("conformance.fx.test_hooks", "reference", "--conformance-progress=0")
    assert run.ret == 0, run.text()
    assert _progress_lines(run.text()) == []


def test_estimate_scales_by_the_speed_so_far() -> None:
    """Time left = elapsed x remaining weight / finished weight (not a count of tests)."""
    weights = {"fx/a.py::long": 3.0, "fx/a.py::short": 1.0}
    progress = Progress(interval=10.0, weight=weights.__getitem__)
    progress.collect([("fx/a.py::long", "fx"), ("fx/a.py::short", "fx")])
    progress.start(100.0)
    assert progress.left(100.0) is None
    assert progress.finish("fx/a.py::long", 106.0) is None  # interval not reached
    # 6 s for 3 units of work: the 1 unit left takes about 2 s (not 6 s, as counting
    # tests would say).
    assert progress.left(106.0) == pytest.approx(2.0)
    assert "about 2s left" in progress.line(106.0)
    assert "fx 1/2" in progress.line(106.0)


def test_a_line_at_most_every_interval() -> None:
    """Lines come when the interval has passed since the last one, never after the end."""
    ids = [(f"fx/a.py::t{i}", "fx") for i in range(4)]
    progress = Progress(interval=10.0, weight=lambda _t: 1.0)
    progress.collect(ids)
    progress.start(0.0)
    due = [
        progress.finish(t, when) is not None
        for (t, _), when in zip(ids, [5, 11, 15, 30], strict=True)
    ]
    assert due == [False, True, False, False]  # the last test: the summary follows
