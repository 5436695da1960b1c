"""Views and in-place ops: user-visible aliasing holds, also across mark_step."""

from __future__ import annotations

import torch

from conformance.contract import LazyArea


def test_inplace_on_view_updates_base(lazy_area: LazyArea) -> None:
    """add_ on a view changes the base tensor, as on CPU."""
    cpu = torch.arange(6.0)
    lazy = cpu.to(lazy_area.device)
    for t in (cpu, lazy):
        t.view(2, 3)[:, 1].add_(10)
    torch.testing.assert_close(lazy.cpu(), cpu)


def test_inplace_on_base_updates_view(lazy_area: LazyArea) -> None:
    """mul_ on the base is visible through a view taken earlier."""
    cpu = torch.arange(6.0)
    lazy = cpu.to(lazy_area.device)
    views = [t.view(3, 2) for t in (cpu, lazy)]
    for t in (cpu, lazy):
        t.mul_(3)
    torch.testing.assert_close(views[1].cpu(), views[0])


def test_view_keeps_aliasing_across_mark_step(lazy_area: LazyArea) -> None:
    """A view made before a step still aliases its base after the step, both ways."""
    base = torch.zeros(4).to(lazy_area.device)
    view = base.view(2, 2)
    lazy_area.mark_step()
    view.add_(1)
    lazy_area.mark_step()
    torch.testing.assert_close(base.cpu(), torch.ones(4))
    base.mul_(5)
    lazy_area.mark_step()
    torch.testing.assert_close(view.cpu(), torch.full((2, 2), 5.0))


def test_slice_assignment_across_mark_step(lazy_area: LazyArea) -> None:
    """Writing a slice after a step updates the base, and a later slice read sees it."""
    cpu = torch.arange(8.0)
    lazy = cpu.to(lazy_area.device)
    lazy_area.mark_step()
    for t in (cpu, lazy):
        t[2:5] = t[2:5] * 10
    lazy_area.mark_step()
    torch.testing.assert_close(lazy.cpu(), cpu)
    torch.testing.assert_close(lazy[3:6].cpu(), cpu[3:6])


def test_transpose_view_inplace(lazy_area: LazyArea) -> None:
    """In-place on a transposed view writes through to the right elements of the base."""
    cpu = torch.arange(6.0).reshape(2, 3)
    lazy = cpu.to(lazy_area.device)
    for t in (cpu, lazy):
        t.t()[0].fill_(-1)
    lazy_area.mark_step()
    torch.testing.assert_close(lazy.cpu(), cpu)


def test_chained_views_inplace(lazy_area: LazyArea) -> None:
    """In-place through a view of a view of a view updates the root base."""
    cpu = torch.arange(24.0)
    lazy = cpu.to(lazy_area.device)
    for t in (cpu, lazy):
        t.view(2, 3, 4)[1].transpose(0, 1)[2:].sub_(100)
    torch.testing.assert_close(lazy.cpu(), cpu)


def test_clone_does_not_alias_across_steps(lazy_area: LazyArea) -> None:
    """A clone does not alias: mutating the original after a step leaves the clone unchanged."""
    x = torch.arange(3.0).to(lazy_area.device)
    y = x.clone()
    lazy_area.mark_step()
    x.add_(1)
    lazy_area.mark_step()
    torch.testing.assert_close(y.cpu(), torch.arange(3.0))
    torch.testing.assert_close(x.cpu(), torch.arange(3.0) + 1)


def test_detach_aliases(lazy_area: LazyArea) -> None:
    """detach() shares data: in-place on the detached tensor changes the original."""
    x = torch.arange(3.0).to(lazy_area.device)
    d = x.detach()
    d.add_(2)
    lazy_area.mark_step()
    torch.testing.assert_close(x.cpu(), torch.arange(3.0) + 2)


def test_slice_view_written_after_step(lazy_area: LazyArea) -> None:
    """A slice taken before a step and filled after it writes into its base."""
    base = torch.zeros(6).to(lazy_area.device)
    part = base[1:4]
    lazy_area.mark_step()
    part.fill_(7)
    lazy_area.mark_step()
    torch.testing.assert_close(base.cpu(), torch.tensor([0.0, 7.0, 7.0, 7.0, 0.0, 0.0]))


def test_old_view_sees_base_write_after_step(lazy_area: LazyArea) -> None:
    """A row view taken before a step shows a later in-place write to its base."""
    base = torch.arange(6.0).to(lazy_area.device)
    row = base.view(2, 3)[1]
    lazy_area.mark_step()
    base.mul_(-1)
    lazy_area.mark_step()
    torch.testing.assert_close(row.cpu(), torch.tensor([-3.0, -4.0, -5.0]))
