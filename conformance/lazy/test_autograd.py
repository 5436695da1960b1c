"""Autograd through lazy tensors: gradients and optimizer steps match CPU."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from conformance.contract import LazyArea


def make_mlp(device: str) -> torch.nn.Module:
    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    return model.to(device)


def test_backward_gives_cpu_gradients(lazy_area: LazyArea) -> None:
    """Gradients of an MLP loss on the lazy device equal the CPU gradients."""
    x, y = torch.rand(5, 8), torch.rand(5, 4)
    grads = []
    for device in ("cpu", lazy_area.device):
        model = make_mlp(device)
        F.mse_loss(model(x.to(device)), y.to(device)).backward()
        lazy_area.mark_step()
        grads.append([p.grad.cpu() for p in model.parameters()])  # type: ignore[union-attr]
    for got, want in zip(grads[1], grads[0], strict=True):
        torch.testing.assert_close(got, want)


def test_training_loop_matches_cpu(lazy_area: LazyArea) -> None:
    """Five SGD steps with a mark_step each end with CPU's parameters and losses."""
    x, y = torch.rand(6, 8), torch.randint(0, 4, (6,))
    results = []
    for device in ("cpu", lazy_area.device):
        model = make_mlp(device)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        losses = []
        for _ in range(5):
            opt.zero_grad()
            loss = F.cross_entropy(model(x.to(device)), y.to(device))
            loss.backward()
            opt.step()
            if device != "cpu":
                lazy_area.mark_step()
            losses.append(loss.detach().cpu())
        results.append((losses, [p.detach().cpu() for p in model.parameters()]))
    torch.testing.assert_close(results[1], results[0])


def test_requires_grad_factory_is_a_leaf(lazy_area: LazyArea) -> None:
    """A lazy factory with requires_grad=True is a leaf whose grad lands on the device."""
    w = torch.ones(3, device=lazy_area.device, requires_grad=True)
    assert w.is_leaf
    assert w.requires_grad
    (w * w * 3).sum().backward()
    assert w.grad is not None
    assert w.grad.device.type == lazy_area.device
    torch.testing.assert_close(w.grad.cpu(), torch.full((3,), 6.0))
