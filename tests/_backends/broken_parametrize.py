"""Broken parametrize implementations: each must make the parametrize suite fail.

Every backend here runs on a *private copy* of :mod:`reference_impl.parametrize` and
:mod:`reference_impl.parametrizations` (loaded under another module name) with exactly
one defect planted in the copy, so the real reference stays intact even in the same
process. ``intact`` is the control: a copy with no defect, which must pass.

Use as ``--backend=broken_parametrize:<name>`` with ``tests/_backends`` on the path.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn

from conformance.backends._adapters import MirroredParametrizeArea

Plant = Callable[[ModuleType, ModuleType], None]


def _private_copy(name: str, alias: str) -> ModuleType:
    """A fresh instance of module ``name``, registered as ``alias``."""
    spec = importlib.util.find_spec(name)
    assert spec is not None, name
    assert spec.origin is not None, name
    copy_spec = importlib.util.spec_from_file_location(alias, spec.origin)
    assert copy_spec is not None
    assert copy_spec.loader is not None
    module = importlib.util.module_from_spec(copy_spec)
    sys.modules[alias] = module
    copy_spec.loader.exec_module(module)
    return module


def _copies(label: str) -> tuple[ModuleType, ModuleType]:
    P = _private_copy("reference_impl.parametrize", f"_broken_{label}_parametrize")
    Z = _private_copy("reference_impl.parametrizations", f"_broken_{label}_parametrizations")
    Z.parametrize = P  # type: ignore[attr-defined]  # its registrations go through the copy
    return P, Z


class BrokenBackend:
    """A backend whose parametrize area is the reference with ``plant`` applied."""

    version = "0.0-broken"
    device = "cpu"
    expectations = None

    def __init__(self, name: str, plant: Plant) -> None:
        self.name = f"broken-parametrize-{name}"
        self._label = name
        self._plant = plant

    @cached_property
    def parametrize(self) -> MirroredParametrizeArea:
        P, Z = _copies(self._label)
        self._plant(P, Z)
        return MirroredParametrizeArea(P, Z)


# --- the defects ------------------------------------------------------------------------


def _no_defect(P: ModuleType, Z: ModuleType) -> None:
    """Control: nothing planted."""


def _stale_cache(P: ModuleType, Z: ModuleType) -> None:
    """cached() never drops its values, so a later cached() block reads stale tensors."""
    cache = P._CACHE

    @contextmanager
    def cached() -> Iterator[None]:
        cache.depth += 1
        try:
            yield
        finally:
            cache.depth -= 1  # defect: the values are kept for the next block

    P.cached = cached  # type: ignore[attr-defined]


def _right_inverse_in_registration_order(P: ModuleType, Z: ModuleType) -> None:
    """Assignment runs the chain's right inverses first-registered first."""

    def right_inverse(self: Any, value: Tensor) -> None:
        with torch.no_grad():
            for step in self._steps():  # defect: should be reversed
                value = step.right_inverse(value)
            for name, tensor in self._pair_with_originals(value):
                P._assign_in_place(getattr(self, name), tensor)

    P.ParametrizationList.right_inverse = right_inverse


def _transfer_copies(P: ModuleType, Z: ModuleType) -> None:
    """transfer_parametrizations_and_params gives the target copies of the originals."""
    share = P.transfer_parametrizations_and_params

    def transfer(
        from_module: nn.Module, to_module: nn.Module, tensor_name: str | None = None
    ) -> nn.Module:
        share(from_module, to_module, tensor_name)
        if P.is_parametrized(to_module):
            for chain in P._chains(to_module).values():
                for name in chain._original_names():
                    tensor = getattr(chain, name)
                    clone = tensor.detach().clone()  # defect: a copy instead of the tensor
                    if isinstance(tensor, nn.Parameter):
                        clone = nn.Parameter(clone, requires_grad=tensor.requires_grad)
                    P._register_tensor(chain, name, clone)
        return to_module

    P.transfer_parametrizations_and_params = transfer  # type: ignore[attr-defined]


def _replaces_original(P: ModuleType, Z: ModuleType) -> None:
    """A single original is registered as a new tensor instead of the registered object."""
    register = P._register_tensor

    def register_copy(module: nn.Module, name: str, tensor: Tensor) -> None:
        if name == "original":
            fresh = tensor.detach().clone()  # defect: optimizers lose track of the tensor
            if isinstance(tensor, nn.Parameter):
                fresh = nn.Parameter(fresh, requires_grad=tensor.requires_grad)
            tensor = fresh
        register(module, name, tensor)

    P._register_tensor = register_copy  # type: ignore[attr-defined]


def _append_before_check(P: ModuleType, Z: ModuleType) -> None:
    """Appending adds the parametrization to the chain before checking it."""
    register = P.register_parametrization

    def register_parametrization(
        module: nn.Module, tensor_name: str, parametrization: nn.Module, *, unsafe: bool = False
    ) -> nn.Module:
        if not P.is_parametrized(module, tensor_name):
            return register(module, tensor_name, parametrization, unsafe=unsafe)
        parametrization.train(module.training)
        before = getattr(module, tensor_name)
        chain = P._chain(module, tensor_name)
        chain._append_step(parametrization)  # defect: not undone when the check fails
        chain.unsafe = chain.unsafe or unsafe
        if not unsafe:
            P._check_output(getattr(module, tensor_name), before)
        return module

    P.register_parametrization = register_parametrization  # type: ignore[attr-defined]


def _weight_norm_without_old_keys(P: ModuleType, Z: ModuleType) -> None:
    """weight_norm does not accept checkpoints with the old weight_g / weight_v keys."""

    def weight_norm(module: nn.Module, name: str = "weight", dim: int | None = 0) -> nn.Module:
        P.register_parametrization(module, name, Z._WeightNorm(dim), unsafe=True)
        return module  # defect: no load_state_dict pre-hook

    Z.weight_norm = weight_norm  # type: ignore[attr-defined]


def _power_iteration_in_eval(P: ModuleType, Z: ModuleType) -> None:
    """spectral_norm refines its estimates in eval mode too."""
    forward = Z._SpectralNorm.forward

    def always_training(self: nn.Module, weight: Tensor) -> Tensor:
        mode = self.training
        self.training = True  # defect: eval mode should leave _u and _v alone
        try:
            result: Tensor = forward(self, weight)
        finally:
            self.training = mode
        return result

    Z._SpectralNorm.forward = always_training


intact = BrokenBackend("intact", _no_defect)
stale_cache = BrokenBackend("stale_cache", _stale_cache)
right_inverse_in_registration_order = BrokenBackend(
    "right_inverse_in_registration_order", _right_inverse_in_registration_order
)
transfer_copies = BrokenBackend("transfer_copies", _transfer_copies)
replaces_original = BrokenBackend("replaces_original", _replaces_original)
append_before_check = BrokenBackend("append_before_check", _append_before_check)
weight_norm_without_old_keys = BrokenBackend(
    "weight_norm_without_old_keys", _weight_norm_without_old_keys
)
power_iteration_in_eval = BrokenBackend("power_iteration_in_eval", _power_iteration_in_eval)
