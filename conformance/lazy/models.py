"""Small models and a training loop, run the same way on CPU and on a lazy device.

Each model comes with a batch maker; :func:`train` builds the model from a fixed seed,
moves it to the device, and runs forward, backward and an optimizer step per step,
calling ``mark_step`` after each step on a lazy device. Everything random is drawn on
CPU before moving, so both devices see the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(12, 24), nn.ReLU(), nn.Linear(24, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvBN(nn.Module):
    """Conv2d and BatchNorm2d (training mode: batch statistics, running stats updated)."""

    def __init__(self) -> None:
        super().__init__()
        # No conv bias: BatchNorm cancels it, so its gradient is zero up to rounding and
        # Adam would turn that rounding noise into full-size steps on both devices.
        self.conv = nn.Conv2d(3, 6, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(6)
        self.head = nn.Linear(6 * 6 * 6, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn(self.conv(x)))
        return self.head(x.flatten(1))


class EmbeddingLSTM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(20, 8)
        self.lstm = nn.LSTM(8, 12, batch_first=True)
        self.head = nn.Linear(12, 5)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.embed(tokens))
        return self.head(out[:, -1])


class EncoderBlock(nn.Module):
    """One transformer encoder block: self-attention and a feed-forward, each with LayerNorm."""

    def __init__(self) -> None:
        super().__init__()
        # No biases: softmax ignores the key bias, whose gradient is then rounding noise
        # that Adam would amplify (see ConvBN).
        self.block = nn.TransformerEncoderLayer(
            d_model=16, nhead=2, dim_feedforward=32, dropout=0.0, batch_first=True, bias=False
        )
        self.head = nn.Linear(16, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block(x).mean(1))


Batch = tuple[torch.Tensor, torch.Tensor]


def _labels(g: torch.Generator, n: int = 4) -> torch.Tensor:
    return torch.randint(0, 5, (n,), generator=g)


BATCHES: dict[str, Callable[[torch.Generator], Batch]] = {
    "mlp": lambda g: (torch.randn(4, 12, generator=g), _labels(g)),
    "conv_bn": lambda g: (torch.randn(4, 3, 6, 6, generator=g), _labels(g)),
    "embedding_lstm": lambda g: (torch.randint(0, 20, (4, 5), generator=g), _labels(g)),
    "encoder_block": lambda g: (torch.randn(4, 6, 16, generator=g), _labels(g)),
}

MODELS: dict[str, Callable[[], nn.Module]] = {
    "mlp": MLP,
    "conv_bn": ConvBN,
    "embedding_lstm": EmbeddingLSTM,
    "encoder_block": EncoderBlock,
}

OPTIMIZERS: dict[str, Callable[[list[nn.Parameter]], torch.optim.Optimizer]] = {
    "sgd_momentum": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
    "adam": lambda p: torch.optim.Adam(p, lr=0.01),
}


@dataclass
class Trace:
    """What a training run produced, all on CPU."""

    losses: list[torch.Tensor] = field(default_factory=list)
    grads: list[list[torch.Tensor]] = field(default_factory=list)  # per step, per parameter
    params: list[torch.Tensor] = field(default_factory=list)  # after the last step
    buffers: list[torch.Tensor] = field(default_factory=list)  # e.g. BatchNorm running stats
    #: UncachedCompile before the first step; per step: the count after the step, and
    #: the IR text of the step's graph (loss, parameters, buffers, grads, optimizer state).
    uncached_before: int = 0
    uncached: list[int] = field(default_factory=list)
    ir: list[str] = field(default_factory=list)
    #: CPU fallback counters (``aten::*``) of the run: each fallback syncs mid-step.
    fallbacks: dict[str, int] = field(default_factory=dict)


def train(
    model_name: str,
    optimizer_name: str,
    device: str,
    steps: int,
    dtype: torch.dtype = torch.float32,
    lazy: object | None = None,
    same_batch: bool = False,
) -> Trace:
    """Train ``model_name`` for ``steps`` steps on ``device``; ``lazy`` is the LazyArea, if any.

    With ``same_batch`` every step sees the first batch (identical steps, for
    recompilation checks); otherwise each step draws a new batch.
    """
    torch.manual_seed(0)
    model = MODELS[model_name]().to(dtype).to(device)
    optimizer = OPTIMIZERS[optimizer_name](list(model.parameters()))
    generator = torch.Generator().manual_seed(1)
    trace = Trace()
    if lazy is not None:
        lazy.mark_step()  # type: ignore[attr-defined]
        trace.uncached_before = lazy.counter_value("UncachedCompile") or 0  # type: ignore[attr-defined]
    first = BATCHES[model_name](generator)
    for _ in range(steps):
        x, y = first if same_batch else BATCHES[model_name](generator)
        if x.is_floating_point():
            x = x.to(dtype)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x.to(device)), y.to(device))
        loss.backward()
        optimizer.step()
        if lazy is not None:
            _step(lazy, model, optimizer, loss, trace)
        trace.losses.append(loss.detach().cpu())
        trace.grads.append([p.grad.detach().cpu() for p in model.parameters()])  # type: ignore[union-attr]
    if lazy is not None:
        from conformance.lazy.counters import fallbacks

        trace.fallbacks = {
            name: lazy.counter_value(name) or 0  # type: ignore[attr-defined]
            for name in fallbacks(lazy.counter_names())  # type: ignore[attr-defined]
        }
    trace.params = [p.detach().cpu() for p in model.parameters()]
    trace.buffers = [b.detach().cpu() for b in model.buffers()]
    return trace


def _step(
    lazy: object,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss: torch.Tensor,
    trace: Trace,
) -> None:
    """mark_step, recording the step's IR before and the compile count after."""
    from typing import cast

    from conformance.contract import LazyArea

    # Not isinstance(lazy, LazyArea): a runtime protocol check rejects an area whose
    # optional members are None (a capability it lacks).
    lazy = cast(LazyArea, lazy)
    state = [t for s in optimizer.state.values() for t in s.values() if isinstance(t, torch.Tensor)]
    pending = [loss, *model.parameters(), *model.buffers(), *state]
    pending += [p.grad for p in model.parameters() if p.grad is not None]
    trace.ir.append(lazy.ir_text([t for t in pending if t.device.type == lazy.device]))
    lazy.mark_step()
    trace.uncached.append(lazy.counter_value("UncachedCompile") or 0)
