"""pytest plugin for the mutation tool's coverage run: one coverage context per test.

``coverage run`` records which lines ran; this plugin labels them with the node id of the
test that was running (setup, call and teardown, so fixture code counts for the test
that requested it). Lines that run outside any test - imports, collection - keep the
empty context, which the mutation tool reads as "affects every test"; the modules named
in ``MUTATION_IMPORT_FIRST`` are imported at session start for that reason.

Why not coverage's own ``dynamic_context = test_function``: it switches context when a
function named ``test*`` is entered, so fixture setup runs under the previous test's
label and parametrized cases share one label.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator

import coverage
import pytest

#: Comma-separated modules to import before the first test (set by tools/mutation.py).
IMPORT_ENV = "MUTATION_IMPORT_FIRST"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Import the mutated modules outside any test, so their definitions get no test's label.

    The reference's lazy device is imported by the backend's ``init()``, inside the first
    test's fixtures: without this, every ``def`` line and module constant would be
    labelled with that one test, and a mutant of them would run only that test.
    """
    for name in filter(None, os.environ.get(IMPORT_ENV, "").split(",")):
        importlib.import_module(name)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    cov = coverage.Coverage.current()
    if cov is not None:
        cov.switch_context(item.nodeid)
    yield
    if cov is not None:
        cov.switch_context("")
