"""Training conformance: small models train on the device as they do on CPU.

Each model trains for :data:`STEPS` steps (forward, backward, optimizer step, then
``mark_step``) on the backend and on CPU from the same seed and the same batches. Losses
and gradients of every step, and the parameters and buffers at the end, must agree
within the dtype's tolerance; on a mismatch the message names the first divergent node
(:mod:`conformance.lazy.divergence`). The same run checks recompilation stability:
batches differ in data only, so after :data:`WARMUP` steps a step must compile nothing new.
"""

from __future__ import annotations

import difflib
import itertools

import pytest
import torch

from conformance.contract import LazyArea
from conformance.lazy.divergence import assert_close_or_explain
from conformance.lazy.models import MODELS, OPTIMIZERS, Trace, train

STEPS = 5
WARMUP = 2

#: (rtol, atol) per dtype. Measured differences on PyTorch's lazy backend and the
#: reference are below 3e-7 absolute in float32 after five steps.
TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    torch.float32: (1e-4, 1e-5),
    torch.float64: (1e-9, 1e-10),
}

CASES = [
    pytest.param(model, optimizer, torch.float32, id=f"{model}-{optimizer}")
    for model in MODELS
    for optimizer in OPTIMIZERS
] + [pytest.param("mlp", "sgd_momentum", torch.float64, id="mlp-sgd_momentum-float64")]

_runs: dict[tuple[str, str, torch.dtype, str], Trace] = {}


def run(model: str, optimizer: str, dtype: torch.dtype, area: LazyArea | None) -> Trace:
    """The training trace on the backend (``area``) or CPU, computed once per process."""
    device = area.device if area is not None else "cpu"
    key = (model, optimizer, dtype, device)
    if key not in _runs:
        _runs[key] = train(model, optimizer, device, STEPS, dtype=dtype, lazy=area)
    return _runs[key]


@pytest.mark.parametrize(("model", "optimizer", "dtype"), CASES)
def test_training_matches_cpu(
    lazy_area: LazyArea, model: str, optimizer: str, dtype: torch.dtype
) -> None:
    """Per-step losses and gradients, and final parameters and buffers, equal CPU's."""
    rtol, atol = TOLERANCES[dtype]
    got = run(model, optimizer, dtype, lazy_area)
    want = run(model, optimizer, dtype, None)

    def again(device: str) -> object:
        return train(model, optimizer, device, STEPS, dtype=dtype)

    for step in range(STEPS):
        for what, a, e in (
            ("loss", got.losses[step], want.losses[step]),
            ("gradients", got.grads[step], want.grads[step]),
        ):
            assert_close_or_explain(
                lazy_area, a, e, again, rtol=rtol, atol=atol, what=f"step {step + 1} {what}"
            )
    for what, a, e in (
        ("parameters", got.params, want.params),
        ("buffers", got.buffers, want.buffers),
    ):
        assert_close_or_explain(lazy_area, a, e, again, rtol=rtol, atol=atol, what=f"final {what}")


def _ir_diff(before: str, after: str, limit: int = 60) -> str:
    lines = list(
        difflib.unified_diff(
            before.splitlines(), after.splitlines(), "previous step", "this step", lineterm="", n=1
        )
    )
    if len(lines) > limit:
        lines = [*lines[:limit], f"... ({len(lines) - limit} more diff lines)"]
    return "\n".join(lines) if lines else "(the recorded IR texts are identical)"


@pytest.mark.conformance_needs("counter:UncachedCompile")
@pytest.mark.parametrize(("model", "optimizer", "dtype"), CASES)
def test_steady_state_compiles_nothing(
    lazy_area: LazyArea, model: str, optimizer: str, dtype: torch.dtype
) -> None:
    """After the warm-up steps, a step of the same shapes counts no UncachedCompile."""
    trace = run(model, optimizer, dtype, lazy_area)
    counts = [trace.uncached_before, *trace.uncached]
    new = [after - before for before, after in itertools.pairwise(counts)]
    for step in range(WARMUP, STEPS):
        if new[step]:
            pytest.fail(
                f"step {step + 1} of {STEPS} compiled {new[step]} new graph(s) after "
                f"{WARMUP} warm-up steps (new compiles per step: {new}).\n"
                f"IR diff between the graphs of steps {step} and {step + 1} at mark_step:\n"
                + _ir_diff(trace.ir[step - 1], trace.ir[step])
                + (
                    "\n(the graph at mark_step did not change: the backend either compiled an "
                    "identical graph again, or compiled new graphs at syncs inside the step; "
                    f"CPU fallbacks of the run, each of which syncs: {trace.fallbacks})"
                    if trace.ir[step - 1] == trace.ir[step]
                    else ""
                )
            )


def test_batchnorm_running_stats_read_mid_step_match_cpu(lazy_area: LazyArea) -> None:
    """Running statistics read after a training-mode forward, before mark_step, are CPU's."""
    results = []
    for device in ("cpu", lazy_area.device):
        torch.manual_seed(0)
        bn = torch.nn.BatchNorm1d(3).to(device)
        x = torch.randn(8, 3, generator=torch.Generator().manual_seed(1))
        out = bn(x.to(device))
        mid_step = (bn.running_mean.cpu(), bn.running_var.cpu())  # type: ignore[union-attr]
        lazy_area.mark_step()
        results.append((mid_step, out.detach().cpu()))
    torch.testing.assert_close(results[1], results[0])
