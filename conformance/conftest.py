"""Fixtures shared by every conformance suite (only active for tests in this package)."""

from __future__ import annotations

import random
import zlib

import pytest

from conformance.discovery import LoadedBackend
from conformance.plugin import PROP_ID, state_of


@pytest.fixture(scope="session")
def conformance_backend(pytestconfig: pytest.Config) -> LoadedBackend:
    """The validated backend under test (see conformance.contract.Backend)."""
    return state_of(pytestconfig).backend


@pytest.fixture(autouse=True)
def _conformance_seed(request: pytest.FixtureRequest) -> None:
    """Seed every RNG from the test's canonical id.

    The seed depends on the test alone, not on the order tests run in, so a run gives
    the same outcome with and without ``-n``.
    """
    import numpy
    import torch

    test_id = dict(request.node.user_properties).get(PROP_ID, request.node.nodeid)
    seed = zlib.crc32(test_id.encode())
    random.seed(seed)
    numpy.random.seed(seed)
    torch.manual_seed(seed)
