"""The scoreboard page in a real headless browser: what a reader sees, filters and sorts.

Drives Debian's ``chromium`` through ``chromedriver`` with selenium. Without them the
tests skip and say what to install; with ``CONFORMANCE_REQUIRE_BROWSER=1`` (set by
``.ci/run``) a missing browser fails instead, so CI cannot go green without running them.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.__main__ import main
from conformance.results import CaseResult, RunStatus, write_report
from tests.conftest import RunSuite, write_synthetic_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
INSTALL = "install them with: apt-get install -y chromium chromium-driver"

ADD = "lazy/test_ops.py::test_op[add-float32]"
SIN = "lazy/test_ops.py::test_op[sin-float32]"
HOSTILE = "parametrize/test_p.py::test_q[\"<img src=x onerror=window.pwned=1>\"-'a']"
#: A label far too long for the chart's label column: it must be shortened, not cut off.
LONG_NAME = "an-extremely-long-backend-name-for-a-lazy-tensor-device-under-test"


def _require_browser() -> None:
    missing = [
        name for name, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if not path
    ]
    try:
        import selenium  # noqa: F401  (only checking that the dev extra is installed)
    except ImportError:
        missing.append("selenium (pip install -c constraints.txt -e '.[dev]')")
    if not missing:
        return
    message = f"the scoreboard browser test needs {', '.join(missing)}; {INSTALL}"
    if os.environ.get("CONFORMANCE_REQUIRE_BROWSER") == "1":
        pytest.fail(message + " (CONFORMANCE_REQUIRE_BROWSER=1 makes this a failure)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless chromium for the module."""
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument("--window-size=1400,1000")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def _case(test_id: str, outcome: str, reason: str = "", **extra: Any) -> CaseResult:
    return CaseResult(
        id=test_id, area=test_id.split("/")[0], outcome=outcome, reason=reason, **extra
    )


def _release(path: Path, version: str, cases: list[CaseResult], name: str = "alpha") -> Path:
    backend = {"name": name, "spec": name, "version": version, "device": "lazy", "areas": []}
    return write_synthetic_report(path, backend, cases)


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two releases of one backend: ``add`` regressed, ``sin`` got fixed."""
    root = tmp_path_factory.mktemp("releases")
    common = [
        _case("fx/test_a.py::test_x", "passed"),
        _case(HOSTILE, "error", 'RuntimeError: <b>boom</b> & "quoted"'),
        _case("lazy/test_metrics.py::test_counters", "not_implemented", "no metrics API"),
        _case("lazy/test_ops.py::test_op[abs-float32]", "skipped", "CPU rejects every sample"),
        _case("parametrize/test_p.py::test_plain", "passed"),
    ]
    old = _release(
        root / "old.json",
        "1.0",
        [
            *common,
            _case(ADD, "passed", dispatch="native"),
            _case(
                SIN, "xfailed", "[failing] sin drops the sign", category="failing", dispatch="wrong"
            ),
        ],
    )
    new = _release(
        root / "new.json",
        "2.0",
        [
            *common,
            _case(ADD, "failed", "wrong: sample 0: output[0] not close", dispatch="wrong"),
            _case(SIN, "passed", dispatch="native"),
        ],
    )
    out = root / "board"
    assert main(["scoreboard", str(old), str(new), "-o", str(out)]) == 0
    return out.with_suffix(".html")


@pytest.fixture(scope="module")
def incomplete(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete report beside a crashed one with a very long backend name."""
    root = tmp_path_factory.mktemp("incomplete")
    many = [_case(f"fx/test_a.py::test_{i:03}", "passed") for i in range(300)]
    # one error among 301 tests: a segment too narrow for its count
    done = _release(root / "done.json", "1.0", [_case("fx/test_a.py::test_x", "error"), *many])
    backend = {"name": LONG_NAME, "spec": "x", "version": "0.0.1", "device": "lazy", "areas": []}
    crashed = write_synthetic_report(
        root / "crashed.json",
        backend,
        [
            _case("fx/test_a.py::test_x", "error", "worker crashed"),
            _case("fx/test_b.py::t", "not_run"),
            # every other outcome too: a legend too wide for one line must wrap
            *(_case(f"fx/test_c.py::{o}", o) for o in ("failed", "xpassed", "xfailed")),
            *(_case(f"fx/test_c.py::{o}", o) for o in ("not_implemented", "skipped", "passed")),
        ],
        RunStatus("crashed", detail="worker gw1 crashed", collected=8, finished=7),
    )
    out = root / "board"
    assert main(["scoreboard", str(done), str(crashed), "-o", str(out), "--allow-incomplete"]) == 0
    return out.with_suffix(".html")


def _open(browser: Any, page: Path) -> None:
    """Load ``page`` afresh (never a same-page jump that keeps an earlier test's state)."""
    browser.get("about:blank")
    browser.get(page.as_uri())


def _visible_ids(browser: Any) -> list[str]:
    """Test ids of the rows the browser actually renders, top to bottom."""
    return list(
        browser.execute_script(
            "return Array.from(document.querySelectorAll('#tests-table tbody tr'))"
            ".filter(r => r.getClientRects().length > 0).map(r => r.cells[0].textContent)"
        )
    )


def _set_classes(browser: Any, wanted: set[str]) -> None:
    from selenium.webdriver.common.by import By

    for box in browser.find_elements(By.CSS_SELECTOR, "#filters input[name=class]"):
        if box.is_selected() != (box.get_attribute("value") in wanted):
            box.click()


def test_failures_come_first(browser: Any, releases: Path) -> None:
    """Rows are ordered by their worst outcome in any report, then by test id."""
    _open(browser, releases)
    ids = _visible_ids(browser)
    assert ids == [
        HOSTILE,  # error
        ADD,  # failed (in the new release)
        SIN,  # xfailed (in the old release)
        "lazy/test_metrics.py::test_counters",  # not implemented
        "lazy/test_ops.py::test_op[abs-float32]",  # skipped
        "fx/test_a.py::test_x",  # passed, by id
        "parametrize/test_p.py::test_plain",
    ]


def test_filter_by_class_area_and_text(browser: Any, releases: Path) -> None:
    """Unticking classes, choosing an area and typing text hide exactly the other rows."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    _open(browser, releases)
    _set_classes(browser, {"not_implemented"})
    assert _visible_ids(browser) == ["lazy/test_metrics.py::test_counters"]
    _set_classes(browser, {"skipped"})  # not implemented is its own class, not a skip
    assert _visible_ids(browser) == ["lazy/test_ops.py::test_op[abs-float32]"]
    _set_classes(browser, {"passed"})
    assert set(_visible_ids(browser)) == {
        ADD,  # passed in the old release
        SIN,
        "fx/test_a.py::test_x",
        "parametrize/test_p.py::test_plain",
    }
    Select(browser.find_element(By.ID, "area")).select_by_value("parametrize")
    assert _visible_ids(browser) == ["parametrize/test_p.py::test_plain"]
    Select(browser.find_element(By.ID, "area")).select_by_value("")
    _set_classes(browser, set())
    assert _visible_ids(browser) == []
    _set_classes(browser, {"failed", "error", "xfailed", "passed", "skipped", "not_implemented"})
    browser.find_element(By.ID, "search").send_keys("NOT CLOSE")  # matches a reason
    assert _visible_ids(browser) == [ADD]
    assert browser.find_element(By.ID, "shown").text == "1 of 7 tests shown"


def test_sort_by_column(browser: Any, releases: Path) -> None:
    """Clicking the test header sorts by id; clicking again reverses; outcome sorts by severity."""
    from selenium.webdriver.common.by import By

    _open(browser, releases)
    headers = browser.find_elements(By.CSS_SELECTOR, "#tests-table thead th")
    headers[0].click()
    ids = _visible_ids(browser)
    assert ids == sorted(ids)
    assert headers[0].get_attribute("aria-sort") == "ascending"
    headers[0].click()
    assert _visible_ids(browser) == sorted(ids, reverse=True)
    new_outcome = headers[4]  # test, area, old outcome, old reason, new outcome
    assert new_outcome.text.startswith("alpha 2.0")
    new_outcome.click()
    assert _visible_ids(browser)[:2] == [HOSTILE, ADD]  # error, then failed
    assert set(_visible_ids(browser)[-3:]) == {
        SIN,
        "fx/test_a.py::test_x",
        "parametrize/test_p.py::test_plain",
    }


def test_failing_rows_show_reason_and_category(browser: Any, releases: Path) -> None:
    """A failing row shows each report's outcome and reason; an xfail shows its category."""
    from selenium.webdriver.common.by import By

    _open(browser, releases)
    rows = browser.find_elements(By.CSS_SELECTOR, "#tests-table tbody tr")
    by_id = {row.find_elements(By.TAG_NAME, "td")[0].text: row for row in rows}
    add = [td.text for td in by_id[ADD].find_elements(By.TAG_NAME, "td")]
    assert add[2] == "passed · native"
    assert add[4] == "failed · wrong"
    assert add[5] == "wrong: sample 0: output[0] not close"
    sin = [td.text for td in by_id[SIN].find_elements(By.TAG_NAME, "td")]
    assert sin[2] == "xfailed · wrong"
    assert sin[3] == "failing sin drops the sign"
    hostile = [td.text for td in by_id[HOSTILE].find_elements(By.TAG_NAME, "td")]
    assert hostile[3] == 'RuntimeError: <b>boom</b> & "quoted"'
    assert browser.execute_script("return window.pwned === undefined")


def test_release_view_lists_regressed_and_fixed(browser: Any, releases: Path) -> None:
    """Two releases of one backend: add is listed as regressed, sin as fixed."""
    from selenium.webdriver.common.by import By

    _open(browser, releases)
    regressed = browser.find_element(By.ID, "regressed-0-1").text
    assert regressed == f"{ADD}: passed → failed (wrong: sample 0: output[0] not close)"
    assert browser.find_element(By.ID, "fixed-0-1").text == f"{SIN}: xfailed → passed"
    assert browser.find_element(By.ID, "changed-0-1").text == "no failure changed"
    assert not browser.find_elements(By.ID, "incomplete-banner")


def test_incomplete_banner(browser: Any, incomplete: Path) -> None:
    """A crashed run gets a visible banner that names it; the header says how it ended."""
    from selenium.webdriver.common.by import By

    _open(browser, incomplete)
    banner = browser.find_element(By.ID, "incomplete-banner")
    assert banner.is_displayed()
    assert "INCOMPLETE RUN: not a verdict" in banner.text
    assert f"{LONG_NAME} 0.0.1" in banner.text
    assert "crashed, 7 of 8 collected tests finished; worker gw1 crashed" in banner.text
    header = browser.find_element(By.ID, "under-test").text
    assert "INCOMPLETE: crashed (7 of 8 tests finished)" in header
    assert "complete (301 tests)" in header
    assert "defaults" in header  # no suite option set
    assert not browser.find_elements(By.ID, "releases")  # two backends: side by side only


def _rect(browser: Any, element: Any) -> dict[str, float]:
    return dict(
        browser.execute_script("return arguments[0].getBoundingClientRect().toJSON()", element)
    )


def _inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    return (
        inner["left"] >= outer["left"] - 0.5
        and inner["right"] <= outer["right"] + 0.5
        and inner["top"] >= outer["top"] - 0.5
        and inner["bottom"] <= outer["bottom"] + 0.5
    )


@pytest.mark.parametrize("page", ["releases", "incomplete"])
def test_chart_labels_fit(browser: Any, page: str, request: pytest.FixtureRequest) -> None:
    """Every chart label lies inside the chart, left of its bar; legend items do not overlap."""
    from selenium.webdriver.common.by import By

    _open(browser, request.getfixturevalue(page))
    for chart in browser.find_elements(By.CSS_SELECTOR, "svg.chart"):
        box = _rect(browser, chart)
        bars = chart.find_elements(By.CSS_SELECTOR, "rect.segment")
        bar_left = min(_rect(browser, bar)["left"] for bar in bars)
        for label in chart.find_elements(By.CSS_SELECTOR, "text.bar-label"):
            r = _rect(browser, label)
            assert r["width"] > 0
            assert _inside(r, box), (label.text, r, box)
            assert r["right"] <= bar_left + 0.5, (label.text, r, bar_left)
        legend = [_rect(browser, t) for t in chart.find_elements(By.CSS_SELECTOR, "g.legend")]
        assert legend
        for r in legend:
            assert _inside(r, box)
        for a, b in itertools.pairwise(legend):
            assert a["right"] <= b["left"] or a["bottom"] <= b["top"], (a, b)
        for count in chart.find_elements(By.CSS_SELECTOR, "text.count"):
            r = _rect(browser, count)
            assert any(_inside(r, _rect(browser, bar)) for bar in bars), (count.text, r)
    if page == "incomplete":
        label = browser.find_elements(By.CSS_SELECTOR, "#outcome-chart text.bar-label")[1]
        assert label.text.endswith("…")  # shortened, not clipped
        title = label.find_element(By.TAG_NAME, "title").get_attribute("textContent")
        assert title == f"{LONG_NAME} 0.0.1 [INCOMPLETE: crashed]"


def test_page_of_a_real_run(browser: Any, run_suite: RunSuite, tmp_path: Path) -> None:
    """A real two-op sweep: both rows are shown, sin with its CPU fallback as detail."""
    run = run_suite("conformance.lazy.test_ops", "reference", "--ops=abs,sin", "-q")
    assert run.ret == 0, run.text()
    report = tmp_path / "real.json"
    write_report(report, run.report)
    assert main(["scoreboard", str(report), "-o", str(tmp_path / "real")]) == 0
    _open(browser, tmp_path / "real.html")
    ids = _visible_ids(browser)
    assert "lazy/test_ops.py::test_op[sin-float32]" in ids
    assert "lazy/test_ops.py::test_op[abs-float32]" in ids
    text = browser.find_element("id", "tests-table").text
    assert "passed · fallback falls back: aten::sin" in text


def test_absent_tests_are_no_class(browser: Any, incomplete: Path) -> None:
    """A test missing from one report is filed by the outcomes it has, never as 'not run'."""
    from selenium.webdriver.common.by import By

    _open(browser, incomplete)
    _set_classes(browser, {"not_run"})
    assert _visible_ids(browser) == ["fx/test_b.py::t"]  # the 300 passed-or-absent rows stay hidden
    label = browser.find_element(By.CSS_SELECTOR, "#filters label.k-not_run").text
    assert label == "not run (1)"


def test_filters_live_in_the_address(browser: Any, releases: Path) -> None:
    """The filters are kept in the URL's fragment: opening that link shows the same rows."""
    from selenium.webdriver.common.by import By

    _open(browser, releases)
    _set_classes(browser, {"failed", "error"})
    browser.find_element(By.ID, "search").send_keys("float32")
    link = browser.current_url
    assert link.endswith("#class=failed%2Cerror&q=float32")
    browser.get("about:blank")
    browser.get(link)
    assert _visible_ids(browser) == [ADD]
    assert browser.find_element(By.ID, "search").get_attribute("value") == "float32"
    browser.get(releases.as_uri() + "#class=not_implemented&area=lazy")
    assert _visible_ids(browser) == ["lazy/test_metrics.py::test_counters"]
