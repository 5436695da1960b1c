"""The built-in torch_xla backend at load time, in an environment with or without torch_xla.

torch_xla lives in its own environment (constraints-xla.txt, tox -e torch-xla); loading the
backend anywhere else must end the run with one line naming the fix, never a traceback.
What the backend does on the device is the suite's business (tox -e torch-xla).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util

import pytest

from conformance.backends import torch_xla as backend_module
from conformance.backends._torch_xla_lazy import contract_counter_name
from conformance.discovery import BackendError, load_backend
from tests.conftest import RunSuite

HAS_TORCH_XLA = importlib.util.find_spec("torch_xla") is not None


def test_missing_torch_xla_is_one_line_naming_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without torch_xla, loading the backend raises BackendError naming the pins to install."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch_xla" else real(name)
    )
    with pytest.raises(BackendError) as info:
        load_backend("torch_xla")
    message = str(info.value)
    assert "torch_xla is not installed" in message
    assert "torch-xla==2.9.0" in message
    assert "\n" not in message


def test_torch_xla_built_for_another_torch_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch_xla 2.9 next to torch 2.13 is named as a mismatch before anything is imported."""
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())
    versions = {"torch-xla": "2.9.0", "torch": "2.13.0+cpu"}
    monkeypatch.setattr(importlib.metadata, "version", versions.__getitem__)
    with pytest.raises(ImportError, match=r"torch_xla 2\.9\.0 needs torch 2\.9\.\*.*2\.13\.0"):
        backend_module.check_installed()
    versions["torch"] = "2.9.0+cu128"
    assert backend_module.check_installed() == "2.9.0"


@pytest.mark.skipif(HAS_TORCH_XLA, reason="needs an environment without torch_xla (.venv)")
def test_run_without_torch_xla_is_a_usage_error(run_suite: RunSuite) -> None:
    """From pytest, --backend=torch_xla without torch_xla exits 4 with the one line."""
    run = run_suite("conformance.fx", "torch_xla")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    assert "torch_xla is not installed" in run.text()
    assert "Traceback" not in run.text()


@pytest.mark.parametrize(
    ("xla", "contract"),
    [
        ("xla::add", "lazy::add"),
        ("xla::_copy_from", "xla::_copy_from"),  # a transfer, not a traced op
        ("xla::empty_symint", "xla::empty_symint"),
        ("CreateXlaTensor", "CreateLtcTensor"),
        ("aten::sin", "aten::sin"),  # a fallback keeps its name
        ("MarkStep", "MarkStep"),
    ],
)
def test_counter_names_translate_to_the_contract(xla: str, contract: str) -> None:
    """torch_xla's counter names are presented under the contract's (PyTorch LTC) names."""
    assert contract_counter_name(xla) == contract
