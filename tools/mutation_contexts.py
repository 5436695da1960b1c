"""pytest plugin for the mutation tool's coverage run: one coverage context per test.

``coverage run`` records which lines ran; this plugin labels them with the node id of the
test that was running (setup, call and teardown, so fixture code counts for the test
that requested it). Lines that run outside any test - imports, collection - keep the
empty context, which the mutation tool reads as "affects every test".

Why not coverage's own ``dynamic_context = test_function``: it switches context when a
function named ``test*`` is entered, so fixture setup runs under the previous test's
label and parametrized cases share one label.
"""

from __future__ import annotations

from collections.abc import Iterator

import coverage
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    cov = coverage.Coverage.current()
    if cov is not None:
        cov.switch_context(item.nodeid)
    yield
    if cov is not None:
        cov.switch_context("")
