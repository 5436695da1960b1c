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
import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import cached_property
from types import ModuleType
from typing import Any

import torch
import torch.nn.functional as F
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


def _orthogonal_wideness_from_dim_one(P: ModuleType, Z: ModuleType) -> None:
    """orthogonal decides "wide" from dims 0 and 1, which is only right for plain matrices."""
    forward = Z._Orthogonal.forward

    def forward_by_first_dims(self: nn.Module, X: Tensor) -> Tensor:
        if X.ndim > 2 and (X.size(0) < X.size(1)) != (X.size(-2) < X.size(-1)):
            # defect: treats a batch as wide (or tall) by its leading dims
            result: Tensor = forward(self, X.mT).mT
            return result
        result = forward(self, X)
        return result

    Z._Orthogonal.forward = forward_by_first_dims


def _orthogonal_checks_only_rank(P: ModuleType, Z: ModuleType) -> None:
    """Assigning to an orthogonal weight checks the number of dimensions, not the sizes."""
    right_inverse = Z._Orthogonal.right_inverse

    def right_inverse_any_size(self: nn.Module, Q: Tensor) -> Tensor:
        expected = self.shape
        if Q.ndim == len(expected) and Q.numel() < torch.Size(expected).numel():
            self.shape = Q.shape  # defect: a smaller matrix of the right rank is accepted
        try:
            result: Tensor = right_inverse(self, Q)
        finally:
            self.shape = expected
        return result

    Z._Orthogonal.right_inverse = right_inverse_any_size


def _weight_norm_renames_half_checkpoints(P: ModuleType, Z: ModuleType) -> None:
    """weight_norm's old-checkpoint hook fires when either old key is present."""

    def weight_norm(module: nn.Module, name: str = "weight", dim: int | None = 0) -> nn.Module:
        P.register_parametrization(module, name, Z._WeightNorm(dim), unsafe=True)

        def hook(module: nn.Module, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
            old_g, old_v = f"{prefix}{name}_g", f"{prefix}{name}_v"
            if old_g in state_dict or old_v in state_dict:  # defect: should be `and`
                state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(old_g)
                state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(old_v)

        module.register_load_state_dict_pre_hook(hook)
        return module

    Z.weight_norm = weight_norm  # type: ignore[attr-defined]


def _spectral_norm_wraps_low_dims(P: ModuleType, Z: ModuleType) -> None:
    """spectral_norm checks only the upper bound of dim; too negative dims wrap around."""
    init = Z._SpectralNorm.__init__

    def init_wrapping(
        self: nn.Module, weight: Tensor, n: int = 1, dim: int = 0, eps: float = 1e-12
    ):
        if dim < -weight.ndim:
            dim = dim % weight.ndim  # defect: should raise IndexError
        init(self, weight, n, dim, eps)

    Z._SpectralNorm.__init__ = init_wrapping


def _spectral_norm_accepts_negative_iterations(P: ModuleType, Z: ModuleType) -> None:
    """spectral_norm rejects n_power_iterations=0 only; negative counts run no iteration."""
    init = Z._SpectralNorm.__init__

    def init_negative(
        self: nn.Module, weight: Tensor, n: int = 1, dim: int = 0, eps: float = 1e-12
    ):
        init(self, weight, max(n, 1), dim, eps)
        self.n_power_iterations = n  # defect: a negative count is kept

    Z._SpectralNorm.__init__ = init_negative


def _spectral_norm_default_two_iterations(P: ModuleType, Z: ModuleType) -> None:
    """spectral_norm's default n_power_iterations is 2 instead of 1."""
    spectral_norm = Z.spectral_norm

    def with_other_default(module: nn.Module, name: str = "weight", n_power_iterations: int = 2,
                           eps: float = 1e-12, dim: int | None = None) -> nn.Module:  # fmt: skip
        result: nn.Module = spectral_norm(module, name, n_power_iterations, eps, dim)
        return result

    Z.spectral_norm = with_other_default  # type: ignore[attr-defined]


def _spectral_norm_rebinds_estimates(P: ModuleType, Z: ModuleType) -> None:
    """The power method assigns new _u/_v tensors instead of updating the buffers in place."""

    @torch.no_grad()
    def power_method(self: nn.Module, matrix: Tensor, iterations: int) -> None:
        for _ in range(iterations):
            self._u = F.normalize(torch.mv(matrix, self._v), dim=0, eps=self.eps)  # defect
            self._v = F.normalize(torch.mv(matrix.mH, self._u), dim=0, eps=self.eps)

    Z._SpectralNorm._power_method = power_method


def _spectral_norm_vector_without_eps(P: ModuleType, Z: ModuleType) -> None:
    """A vector is divided by its norm with no eps guard, so a zero vector becomes NaN."""
    forward = Z._SpectralNorm.forward

    def forward_no_eps(self: nn.Module, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return weight / torch.linalg.vector_norm(weight)  # defect: no max(norm, eps)
        result: Tensor = forward(self, weight)
        return result

    Z._SpectralNorm.forward = forward_no_eps


def _append_refuses_unavailable_inverse(P: ModuleType, Z: ModuleType) -> None:
    """Appending fails when the new right_inverse raises NotImplementedError."""
    check = P._check_appended_step

    def check_strictly(module: nn.Module, tensor_name: str, parametrization: nn.Module) -> None:
        inverse = getattr(parametrization, "right_inverse", None)
        if inverse is not None:
            inverse(parametrization(getattr(module, tensor_name)))  # defect: not caught
        check(module, tensor_name, parametrization)

    P._check_appended_step = check_strictly  # type: ignore[attr-defined]


def _unsafe_not_sticky(P: ModuleType, Z: ModuleType) -> None:
    """A safe append turns the chain's unsafe flag off again."""
    register = P.register_parametrization

    def register_parametrization(
        module: nn.Module, tensor_name: str, parametrization: nn.Module, *, unsafe: bool = False
    ) -> nn.Module:
        register(module, tensor_name, parametrization, unsafe=unsafe)
        P._chain(module, tensor_name).unsafe = unsafe  # defect: the last registration wins
        return module

    P.register_parametrization = register_parametrization  # type: ignore[attr-defined]


def _assignment_swaps_tensors(P: ModuleType, Z: ModuleType) -> None:
    """Originals are always updated by swapping with the new value, which changes that value."""

    def swap_in(dest: Tensor, src: Tensor) -> None:
        if isinstance(dest, nn.Parameter) and not isinstance(src, nn.Parameter):
            src = nn.Parameter(src, requires_grad=dest.requires_grad)
        torch.utils.swap_tensors(dest, src)  # defect: even when set_ would do

    P._assign_in_place = swap_in  # type: ignore[attr-defined]


def _assignment_writes_as_it_checks(P: ModuleType, Z: ModuleType) -> None:
    """Assigning with several originals writes each one as soon as it is checked (PyTorch)."""

    def right_inverse(self: Any, value: Tensor) -> None:
        with torch.no_grad():
            for step in reversed(self._steps()):
                value = step.right_inverse(value)
            if self.is_tensor:
                for name, tensor in self._pair_with_originals(value):
                    P._assign_in_place(getattr(self, name), tensor)
                return
            for index, tensor in enumerate(value):
                name = f"original{index}"
                current = getattr(self, name)
                if tensor.dtype != current.dtype:
                    raise ValueError(
                        f"Tensor {index} returned by `right_inverse` has dtype {tensor.dtype} "
                        f"while `{name}` has dtype {current.dtype}"
                    )
                P._assign_in_place(current, tensor)  # defect: before the later checks

    P.ParametrizationList.right_inverse = right_inverse


def _empty_list_accepted(P: ModuleType, Z: ModuleType) -> None:
    """ParametrizationList([], tensor) builds an empty chain instead of raising."""
    init = P.ParametrizationList.__init__

    def init_allowing_empty(self: Any, modules: Sequence[nn.Module], original: Tensor,
                            unsafe: bool = False) -> None:  # fmt: skip
        if len(modules) == 0:
            nn.ModuleList.__init__(self, [])  # defect: should raise ValueError
            return
        init(self, modules, original, unsafe)

    P.ParametrizationList.__init__ = init_allowing_empty


def _too_few_originals_accepted(P: ModuleType, Z: ModuleType) -> None:
    """A right_inverse returning fewer tensors than originals updates only the first ones."""
    pair = P.ParametrizationList._pair_with_originals

    def pair_padding(self: Any, value: object) -> list[tuple[str, Tensor]]:
        if not self.is_tensor and isinstance(value, Sequence) and len(value) < self.ntensors:
            kept = [getattr(self, f"original{i}") for i in range(len(value), self.ntensors)]
            value = [*value, *kept]  # defect: the missing results keep their old values
        result: list[tuple[str, Tensor]] = pair(self, value)
        return result

    P.ParametrizationList._pair_with_originals = pair_padding


def _first_check_misses_growth(P: ModuleType, Z: ModuleType) -> None:
    """The first registration's shape check only notices a parametrization that shrinks."""
    check = P._check_output

    def check_output(value: object, original: Tensor) -> None:
        grows = isinstance(value, Tensor) and value.numel() > original.numel()
        if grows and value.dtype == original.dtype:  # type: ignore[union-attr]
            return  # defect: a larger result is accepted
        check(value, original)

    P._check_output = check_output  # type: ignore[attr-defined]


def _append_check_misses_growth(P: ModuleType, Z: ModuleType) -> None:
    """The append check only notices a parametrization (or inverse) that shrinks."""
    check = P._check_appended_step

    def check_appended(module: nn.Module, tensor_name: str, parametrization: nn.Module) -> None:
        current = getattr(module, tensor_name)
        output = parametrization(current)
        results = [output]
        inverse = getattr(parametrization, "right_inverse", None)
        if inverse is not None and isinstance(output, Tensor):
            with suppress(NotImplementedError):
                results.append(inverse(output))
        if any(isinstance(r, Tensor) and r.numel() > current.numel() for r in results):
            return  # defect: growth is not a shape change for this check
        check(module, tensor_name, parametrization)

    P._check_appended_step = check_appended  # type: ignore[attr-defined]


def _deepcopy_drops_slots(P: ModuleType, Z: ModuleType) -> None:
    """Deepcopy of a parametrized module copies its __dict__ but not its __slots__."""
    P.copyreg = types.SimpleNamespace(_slotnames=lambda cls: [])  # type: ignore[attr-defined]


def _transfer_keeps_plain_tensor(P: ModuleType, Z: ModuleType) -> None:
    """transfer_parametrizations_and_params leaves the target's own tensor registered."""
    transfer = P.transfer_parametrizations_and_params

    def transfer_keeping(
        from_module: nn.Module, to_module: nn.Module, tensor_name: str | None = None
    ) -> nn.Module:
        kept = {
            name: (kind, table[name])
            for kind, table in (("p", to_module._parameters), ("b", to_module._buffers))
            for name in list(table)
        }
        transfer(from_module, to_module, tensor_name)
        for name, (kind, tensor) in kept.items():
            table = to_module._parameters if kind == "p" else to_module._buffers
            table.setdefault(name, tensor)  # defect: the old tensor stays behind the property
        return to_module

    P.transfer_parametrizations_and_params = transfer_keeping  # type: ignore[attr-defined]


def _register_positional_only(P: ModuleType, Z: ModuleType) -> None:
    """register_parametrization takes module, name and parametrization by position only."""
    register = P.register_parametrization

    def register_parametrization(
        module: nn.Module, tensor_name: str, parametrization: nn.Module, /, *, unsafe: bool = False
    ) -> nn.Module:  # defect: `/` where PyTorch accepts keywords
        result: nn.Module = register(module, tensor_name, parametrization, unsafe=unsafe)
        return result

    P.register_parametrization = register_parametrization  # type: ignore[attr-defined]


def _nested_assignment_bypassed(P: ModuleType, Z: ModuleType) -> None:
    """Assignment writes into an original's computed value even when it is parametrized."""

    def right_inverse(self: Any, value: Tensor) -> None:
        with torch.no_grad():
            for step in reversed(self._steps()):
                value = step.right_inverse(value)
            for name, tensor in self._pair_with_originals(value):
                P._assign_in_place(getattr(self, name), tensor)  # defect: no nested inverse

    P.ParametrizationList.right_inverse = right_inverse


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
orthogonal_wideness_from_dim_one = BrokenBackend(
    "orthogonal_wideness_from_dim_one", _orthogonal_wideness_from_dim_one
)
orthogonal_checks_only_rank = BrokenBackend(
    "orthogonal_checks_only_rank", _orthogonal_checks_only_rank
)
weight_norm_renames_half_checkpoints = BrokenBackend(
    "weight_norm_renames_half_checkpoints", _weight_norm_renames_half_checkpoints
)
spectral_norm_wraps_low_dims = BrokenBackend(
    "spectral_norm_wraps_low_dims", _spectral_norm_wraps_low_dims
)
spectral_norm_accepts_negative_iterations = BrokenBackend(
    "spectral_norm_accepts_negative_iterations", _spectral_norm_accepts_negative_iterations
)
spectral_norm_default_two_iterations = BrokenBackend(
    "spectral_norm_default_two_iterations", _spectral_norm_default_two_iterations
)
spectral_norm_rebinds_estimates = BrokenBackend(
    "spectral_norm_rebinds_estimates", _spectral_norm_rebinds_estimates
)
spectral_norm_vector_without_eps = BrokenBackend(
    "spectral_norm_vector_without_eps", _spectral_norm_vector_without_eps
)
append_refuses_unavailable_inverse = BrokenBackend(
    "append_refuses_unavailable_inverse", _append_refuses_unavailable_inverse
)
unsafe_not_sticky = BrokenBackend("unsafe_not_sticky", _unsafe_not_sticky)
assignment_swaps_tensors = BrokenBackend("assignment_swaps_tensors", _assignment_swaps_tensors)
assignment_writes_as_it_checks = BrokenBackend(
    "assignment_writes_as_it_checks", _assignment_writes_as_it_checks
)
empty_list_accepted = BrokenBackend("empty_list_accepted", _empty_list_accepted)
too_few_originals_accepted = BrokenBackend(
    "too_few_originals_accepted", _too_few_originals_accepted
)
first_check_misses_growth = BrokenBackend("first_check_misses_growth", _first_check_misses_growth)
append_check_misses_growth = BrokenBackend(
    "append_check_misses_growth", _append_check_misses_growth
)
deepcopy_drops_slots = BrokenBackend("deepcopy_drops_slots", _deepcopy_drops_slots)
transfer_keeps_plain_tensor = BrokenBackend(
    "transfer_keeps_plain_tensor", _transfer_keeps_plain_tensor
)
register_positional_only = BrokenBackend("register_positional_only", _register_positional_only)
nested_assignment_bypassed = BrokenBackend(
    "nested_assignment_bypassed", _nested_assignment_bypassed
)
