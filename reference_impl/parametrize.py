"""Parametrizations: a module tensor recomputed, on every access, from unconstrained originals.

This is the reference for ``torch.nn.utils.parametrize``; public names and signatures are
PyTorch's, so code written against PyTorch runs on it unchanged.

The mechanism
-------------
Registering a parametrization ``P`` on ``module.weight`` does four things:

1. The tensor moves out of the module into ``module.parametrizations.weight``, a
   :class:`ParametrizationList` that holds the *chain* of parametrizations and the
   *originals* they are computed from (``original``, or ``original0``, ``original1``, ...
   when the first parametrization takes several inputs).
2. The module's class is swapped for a fresh subclass (``ParametrizedLinear`` for a
   ``Linear``) made for this one instance; ``isinstance`` checks keep working and
   :func:`type_before_parametrizations` finds the original class again.
3. That subclass gets a property ``weight``: reading it evaluates the chain on the
   originals; assigning to it runs the chain's ``right_inverse`` methods backwards and
   stores the result in the originals.
4. Optimizers, ``state_dict`` and ``.to()`` see the originals, because they are ordinary
   parameters and buffers of a submodule. The parametrized value is never stored.

Why a class per instance: a property lives on a class, and two ``Linear`` modules must be
parametrizable independently. Why "in place" matters: when the originals are a single
tensor, it is the *same object* as the tensor the user registered on, only with new
contents, so an optimizer created before the registration keeps updating it.

Every step that can fail does so before the module is modified: a registration that
raises leaves the module, its tensor and the chain exactly as they were.
"""

import copy
import copyreg
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import torch
from torch import Tensor
from torch.nn import Module, ModuleDict, ModuleList, Parameter

__all__ = [
    "ParametrizationList",
    "cached",
    "is_parametrized",
    "register_parametrization",
    "remove_parametrizations",
    "transfer_parametrizations_and_params",
    "type_before_parametrizations",
]


# --------------------------------------------------------------------------------------
# Caching
# --------------------------------------------------------------------------------------


class _ParametrizationCache:
    """Parametrized values computed inside :func:`cached`, one per (module, tensor name).

    ``depth`` counts the ``cached()`` blocks currently open. Values are stored only while
    it is positive and are all dropped when the outermost block exits, so nested blocks
    share one cache. Entries keep their module alive: while a block is open, a module's
    ``id`` cannot be recycled by a new module that would then read a stale entry.

    Like PyTorch's, the cache is process-global and not thread-aware.
    """

    def __init__(self) -> None:
        self.depth = 0
        self._values: dict[tuple[int, str], tuple[Module, Tensor]] = {}

    def get_or_compute(self, module: Module, name: str, compute: Callable[[], Tensor]) -> Tensor:
        key = (id(module), name)
        entry = self._values.get(key)
        if entry is None:
            entry = (module, compute())
            self._values[key] = entry
        return entry[1]

    def clear(self) -> None:
        self._values = {}


_CACHE = _ParametrizationCache()


@contextmanager
def cached() -> Iterator[None]:
    """Evaluate each parametrized tensor at most once while the block is open.

    Inside the block, the first read of ``module.weight`` computes it and later reads
    return the very same tensor object. This pays off when a parametrized tensor is used
    several times in one forward pass (a recurrent kernel, tied weights). Values are
    discarded when the outermost ``cached()`` block exits, normally or by an exception.

    The cache is not invalidated by changes made inside the block (an optimizer step, an
    assignment to ``module.weight``): such reads return the value computed first.
    """
    _CACHE.depth += 1
    try:
        yield
    finally:
        _CACHE.depth -= 1
        if _CACHE.depth == 0:
            _CACHE.clear()


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def _register_tensor(module: Module, name: str, tensor: Tensor) -> None:
    """Attach ``tensor`` as a parameter if it is one, otherwise as a buffer."""
    if isinstance(tensor, Parameter):
        module.register_parameter(name, tensor)
    else:
        module.register_buffer(name, tensor)


def _assign_in_place(dest: Tensor, src: Tensor) -> None:
    """Give ``dest`` the value (and shape) of ``src`` while keeping the ``dest`` object.

    ``set_`` re-points ``dest`` at ``src``'s storage, which also allows a new shape. Wrapper
    tensor subclasses cannot be re-pointed that way, and users may ask for swapping
    globally (``torch.__future__.set_swap_module_params_on_conversion``); in those cases
    the two Python objects exchange their contents instead, which keeps identity too.
    Callers run this under ``torch.no_grad()``.
    """
    from torch.utils._python_dispatch import is_traceable_wrapper_subclass

    if torch.__future__.get_swap_module_params_on_conversion() or is_traceable_wrapper_subclass(
        dest
    ):
        if isinstance(dest, Parameter) and not isinstance(src, Parameter):
            src = Parameter(src, requires_grad=dest.requires_grad)
        torch.utils.swap_tensors(dest, src)
    else:
        dest.set_(src)  # type: ignore[call-overload]  # the stubs omit set_(Tensor)


def _type_name(value: object) -> str:
    return type(value).__name__


def _chains(module: Module) -> ModuleDict:
    """``module.parametrizations``: tensor name -> :class:`ParametrizationList`."""
    return cast(ModuleDict, module.parametrizations)


def _chain(module: Module, tensor_name: str) -> "ParametrizationList":
    return cast(ParametrizationList, _chains(module)[tensor_name])


# --------------------------------------------------------------------------------------
# The chain and its originals
# --------------------------------------------------------------------------------------


class ParametrizationList(ModuleList):
    """The chain of parametrizations on one tensor, and the originals it is computed from.

    ``module.parametrizations[name]`` is one of these. Its entries ``0, 1, ...`` are the
    parametrizations in registration order; the parametrized value is
    ``chain[-1](... chain[1](chain[0](*originals)))``.

    The originals are found by running ``right_inverse`` of each parametrization, last
    registered first, on the tensor being parametrized (a parametrization without
    ``right_inverse``, or whose ``right_inverse`` raises ``NotImplementedError``, counts as
    the identity). If the result is one tensor, it is written *into* the original tensor
    object and registered as ``original``; if it is a sequence, each element becomes a
    new parameter (or buffer) ``original0``, ``original1``, ... with the
    ``requires_grad`` of the tensor it replaces.

    Unless ``unsafe`` is set, the chain must map the originals back to a tensor with the
    dtype and shape of the tensor being parametrized; this is checked here, once.

    Created by :func:`register_parametrization`; not meant to be instantiated directly.
    """

    original: Tensor
    unsafe: bool
    is_tensor: bool
    ntensors: int

    def __init__(
        self,
        modules: Sequence[Module],
        original: Tensor | Parameter,
        unsafe: bool = False,
    ) -> None:
        if len(modules) == 0:
            raise ValueError("ParametrizationList requires one or more modules.")
        super().__init__(modules)
        self.unsafe = unsafe

        with torch.no_grad():
            initial = _run_right_inverses(self._steps(), original)
        staged = _stage_originals(initial, original)

        # Check on the staged tensors, then commit: a failure leaves ``original`` untouched.
        if not unsafe:
            _check_output(self._evaluate(staged), original)
        self.is_tensor = isinstance(initial, Tensor)
        self.ntensors = len(staged)
        if self.is_tensor:
            if staged[0] is not original:  # no right_inverse ran: nothing to write
                with torch.no_grad():
                    _assign_in_place(original, staged[0])
            _register_tensor(self, "original", original)
        else:
            for index, tensor in enumerate(staged):
                _register_tensor(self, f"original{index}", tensor)

    @classmethod
    def _sharing(cls, source: "ParametrizationList") -> "ParametrizationList":
        """A chain made of ``source``'s parametrization modules and original tensors.

        Nothing is recomputed: the new list holds the very same objects, so training
        either module updates both. Used by :func:`transfer_parametrizations_and_params`.
        """
        twin = cls.__new__(cls)
        ModuleList.__init__(twin, source._steps())
        twin.unsafe = source.unsafe
        twin.is_tensor = source.is_tensor
        twin.ntensors = source.ntensors
        for name in source._original_names():
            _register_tensor(twin, name, getattr(source, name))
        return twin

    # -- structure ----------------------------------------------------------------------

    def _steps(self) -> list[Module]:
        """The parametrizations, in order.

        Not ``list(self)``: a chain may itself be parametrized (its ``original`` can carry
        parametrizations too), and then it holds a ``parametrizations`` submodule that is
        not a step of the chain.
        """
        return [step for key, step in self._modules.items() if key.isdigit() and step is not None]

    def _original_names(self) -> list[str]:
        if self.is_tensor:
            return ["original"]
        return [f"original{index}" for index in range(self.ntensors)]

    def _append_step(self, parametrization: Module) -> None:
        self.add_module(str(len(self._steps())), parametrization)

    # -- evaluation ---------------------------------------------------------------------

    def _evaluate(self, originals: Sequence[Tensor]) -> Tensor:
        first, *rest = self._steps()
        value = first(*originals)
        for step in rest:
            value = step(value)
        return value

    def forward(self) -> Tensor:
        """The parametrized tensor, computed from the current originals."""
        if torch.jit.is_scripting():
            raise RuntimeError("Parametrization is not working with scripting.")
        return self._evaluate([getattr(self, name) for name in self._original_names()])

    def right_inverse(self, value: Tensor) -> None:
        """Store in the originals a preimage of ``value`` under the chain.

        Runs every parametrization's ``right_inverse``, last registered first (the chain
        applied backwards), then writes the result into the existing original tensors, so
        their identity, and the optimizers that hold them, survive. All results are
        validated before any original is written.
        """
        with torch.no_grad():
            for step in reversed(self._steps()):
                inverse = getattr(step, "right_inverse", None)
                if inverse is None:
                    raise RuntimeError(
                        f"parametrization {_type_name(step)} does not implement right_inverse."
                    )
                value = inverse(value)
            pairs = self._pair_with_originals(value)
            for name, tensor in pairs:
                if is_parametrized(self, name):
                    # A nested parametrization: assigning goes through its own inverse.
                    setattr(self, name, tensor)
                else:
                    _assign_in_place(getattr(self, name), tensor)

    def _pair_with_originals(self, value: object) -> list[tuple[str, Tensor]]:
        """Match ``right_inverse``'s result to the originals, or explain the mismatch."""
        if self.is_tensor:
            if not isinstance(value, Tensor):
                raise ValueError(f"`right_inverse` should return a tensor. Got {_type_name(value)}")
            if value.dtype != self.original.dtype:
                raise ValueError(
                    f"The tensor returned by `right_inverse` has dtype {value.dtype} "
                    f"while `original` has dtype {self.original.dtype}"
                )
            return [("original", value)]
        if not isinstance(value, Sequence):
            raise ValueError(
                f"'right_inverse' must return a sequence of tensors. Got {_type_name(value)}."
            )
        if len(value) != self.ntensors:
            raise ValueError(
                "'right_inverse' must return a sequence of tensors of length "
                f"{self.ntensors}. Got a sequence of length {len(value)}."
            )
        pairs: list[tuple[str, Tensor]] = []
        for index, tensor in enumerate(value):
            name = f"original{index}"
            if not isinstance(tensor, Tensor):
                raise ValueError(
                    "'right_inverse' must return a sequence of tensors. "
                    f"Got element {index} of type {_type_name(tensor)}."
                )
            current = getattr(self, name)
            if tensor.dtype != current.dtype:
                raise ValueError(
                    f"Tensor {index} returned by `right_inverse` has dtype {tensor.dtype} "
                    f"while `{name}` has dtype {current.dtype}"
                )
            pairs.append((name, tensor))
        return pairs


def _run_right_inverses(steps: Sequence[Module], value: Tensor) -> object:
    """``value`` pulled back through ``steps``, last first, skipping missing inverses."""
    result: object = value
    for step in reversed(steps):
        inverse = getattr(step, "right_inverse", None)
        if inverse is None:
            continue
        try:
            result = inverse(result)
        except NotImplementedError:
            continue  # declared but not available: treated as the identity
    return result


def _stage_originals(initial: object, original: Tensor) -> list[Tensor]:
    """The tensors that will become the originals, validated but not yet registered."""
    if isinstance(initial, Tensor):
        # One tensor will be written into ``original`` itself, so it must fit there.
        if initial.dtype != original.dtype:
            raise ValueError(
                "When `right_inverse` outputs one tensor, it may not change the dtype.\n"
                f"original.dtype: {original.dtype}\n"
                f"right_inverse(original).dtype: {initial.dtype}"
            )
        if initial.device != original.device:
            raise ValueError(
                "When `right_inverse` outputs one tensor, it may not change the device.\n"
                f"original.device: {original.device}\n"
                f"right_inverse(original).device: {initial.device}"
            )
        return [initial]
    if not isinstance(initial, Sequence):
        raise ValueError(
            "'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). "
            f"Got {_type_name(initial)}"
        )
    staged: list[Tensor] = []
    for index, element in enumerate(initial):
        if not isinstance(element, Tensor):
            raise ValueError(
                "'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). "
                f"Got element {index} of the sequence with type {_type_name(element)}."
            )
        # New originals inherit the kind and requires_grad of the tensor they replace, so
        # a frozen weight stays frozen and a buffer stays out of ``parameters()``.
        if isinstance(original, Parameter):
            staged.append(Parameter(element, requires_grad=original.requires_grad))
        else:
            staged.append(element.requires_grad_(original.requires_grad))
    return staged


def _check_output(value: object, original: Tensor) -> None:
    """The chain's output must look like the tensor it stands for."""
    if not isinstance(value, Tensor):
        raise ValueError(f"A parametrization must return a tensor. Got {_type_name(value)}.")
    if value.dtype != original.dtype:
        raise ValueError(
            "Registering a parametrization may not change the dtype of the tensor, unless "
            "the `unsafe` flag is enabled.\n"
            f"unparametrized dtype: {original.dtype}\n"
            f"parametrized dtype: {value.dtype}"
        )
    if value.shape != original.shape:
        raise ValueError(
            "Registering a parametrization may not change the shape of the tensor, unless "
            "the `unsafe` flag is enabled.\n"
            f"unparametrized shape: {original.shape}\n"
            f"parametrized shape: {value.shape}"
        )


def _check_appended_step(module: Module, tensor_name: str, parametrization: Module) -> None:
    """An appended parametrization must map the current value's space to itself.

    With ``Y = module.<tensor_name>``: ``parametrization(Y)`` and, if available,
    ``parametrization.right_inverse(parametrization(Y))`` must be tensors of ``Y``'s dtype
    and shape.
    """
    current = getattr(module, tensor_name)
    output = parametrization(current)
    if not isinstance(output, Tensor):
        raise ValueError(f"A parametrization must return a tensor. Got {_type_name(output)}.")
    where = f"module.{tensor_name}"
    if output.dtype != current.dtype:
        raise ValueError(
            "Registering a parametrization may not change the dtype of the tensor, unless "
            "the `unsafe` flag is enabled.\n"
            f"{where}.dtype: {current.dtype}\n"
            f"parametrization({where}).dtype: {output.dtype}"
        )
    if output.shape != current.shape:
        raise ValueError(
            "Registering a parametrization may not change the shape of the tensor, unless "
            "the `unsafe` flag is enabled.\n"
            f"{where}.shape: {current.shape}\n"
            f"parametrization({where}).shape: {output.shape}"
        )
    inverse = getattr(parametrization, "right_inverse", None)
    if inverse is None:
        return
    try:
        back = inverse(output)
    except NotImplementedError:
        return
    if not isinstance(back, Tensor):
        raise ValueError(
            f"parametrization.right_inverse must return a tensor. Got: {_type_name(back)}"
        )
    if back.dtype != current.dtype:
        raise ValueError(
            "The tensor returned by parametrization.right_inverse must have the same dtype "
            f"as {where}, unless the `unsafe` flag is enabled.\n"
            f"{where}.dtype: {current.dtype}\n"
            f"returned dtype: {back.dtype}"
        )
    if back.shape != current.shape:
        raise ValueError(
            "The tensor returned by parametrization.right_inverse must have the same shape "
            f"as {where}, unless the `unsafe` flag is enabled.\n"
            f"{where}.shape: {current.shape}\n"
            f"returned shape: {back.shape}"
        )


# --------------------------------------------------------------------------------------
# The per-instance class and its properties
# --------------------------------------------------------------------------------------


def _refuse_pickling(self: Module) -> object:
    raise RuntimeError(
        "Serialization of parametrized modules is only supported through state_dict(). "
        "Pickling would store the dynamically created class, which does not exist in the "
        "process that unpickles. Save module.state_dict() and load it into a module "
        "parametrized the same way. See:\n"
        "https://pytorch.org/tutorials/beginner/saving_loading_models.html"
        "#saving-loading-a-general-checkpoint-for-inference-and-or-resuming-training"
    )


def _deepcopy_parametrized(self: Module, memo: dict[int, Any]) -> Module:
    """``copy.deepcopy`` for a parametrized module (pickling, its usual route, is refused).

    The copy gets a parametrized class of its own: sharing the original's class would
    make a registration or removal on the copy add or delete properties of the original.
    A ``__deepcopy__`` of the user's class, if any, is still the one that copies.
    """
    if id(self) in memo:
        return memo[id(self)]
    base = type_before_parametrizations(self)
    user_deepcopy = getattr(base, "__deepcopy__", None)
    if user_deepcopy is not None:
        replica: Module = user_deepcopy(self, memo)
    else:
        replica = self.__new__(type(self))
        memo[id(self)] = replica
        replica.__dict__.update(copy.deepcopy(self.__dict__, memo))
        for slot in copyreg._slotnames(type(self)):  # type: ignore[attr-defined]
            if hasattr(self, slot):
                setattr(replica, slot, copy.deepcopy(getattr(self, slot), memo))
    if is_parametrized(replica) and type(replica) is type(self):
        replica.__class__ = _parametrized_class(base)
        for name in _chains(replica):
            _add_property(replica, name)
    return replica


def _parametrized_class(cls: type[Module]) -> type[Module]:
    """A fresh subclass of ``cls`` to carry one module's parametrized properties."""
    namespace: dict[str, Any] = {
        "__getstate__": _refuse_pickling,
        "__deepcopy__": _deepcopy_parametrized,
    }
    return type(f"Parametrized{cls.__name__}", (cls,), namespace)


def _make_property(tensor_name: str) -> property:
    def get_parametrized(self: Module) -> Tensor:
        if torch.jit.is_scripting():
            raise RuntimeError("Parametrization is not working with scripting.")
        chain = _chain(self, tensor_name)
        if _CACHE.depth == 0:
            return chain()
        if torch.jit.is_tracing():
            # A trace would record the cached tensor as a constant and silently freeze it.
            raise RuntimeError("Cannot trace a model while caching parametrizations.")
        return _CACHE.get_or_compute(self, tensor_name, chain)

    def set_original(self: Module, value: Tensor) -> None:
        if torch.jit.is_scripting():
            raise RuntimeError("Parametrization is not working with scripting.")
        _chain(self, tensor_name).right_inverse(value)

    return property(get_parametrized, set_original, doc=f"The parametrized {tensor_name!r}.")


def _add_property(module: Module, tensor_name: str) -> None:
    setattr(type(module), tensor_name, _make_property(tensor_name))


def _attach_chain(module: Module, tensor_name: str, chain: ParametrizationList) -> None:
    """Install ``chain`` as ``module.<tensor_name>``; the plain tensor must be gone."""
    if not is_parametrized(module):
        module.__class__ = _parametrized_class(type(module))
        module.parametrizations = ModuleDict()
    _add_property(module, tensor_name)
    _chains(module)[tensor_name] = chain


def _detach_chain(module: Module, tensor_name: str) -> None:
    """Undo :func:`_attach_chain`, restoring the plain class once nothing is parametrized."""
    base = type_before_parametrizations(module)
    delattr(type(module), tensor_name)
    del _chains(module)[tensor_name]
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = base


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def register_parametrization(
    module: Module,
    tensor_name: str,
    parametrization: Module,
    *,
    unsafe: bool = False,
) -> Module:
    """Make ``module.<tensor_name>`` the output of ``parametrization``; return ``module``.

    The first registration on a parameter or buffer moves it into
    ``module.parametrizations[tensor_name].original`` (see :class:`ParametrizationList`).
    Registering again on the same name appends to the chain: the new parametrization is
    applied to the output of the previous ones.

    ``parametrization`` is put in the training mode of ``module`` (afterwards it follows
    ``module.train()``/``eval()`` as any submodule does). It may define
    ``right_inverse(X)`` returning a tensor or a sequence of tensors; it is used to compute
    the originals and to support ``module.<tensor_name> = value``.

    Unless ``unsafe=True``, the new chain is checked once, by calling it: it must return
    a tensor with the dtype and shape of the current value (and, when appending, the new
    ``right_inverse`` must map back to that space). A check that fails raises
    ``ValueError`` and leaves ``module`` unchanged. ``unsafe`` stays on for the tensor once
    any registration on it asked for it.
    """
    # Before the checks, so that they evaluate the parametrization in the mode it will run in.
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        if not unsafe:
            _check_appended_step(module, tensor_name, parametrization)
        chain = _chain(module, tensor_name)
        chain._append_step(parametrization)
        chain.unsafe = chain.unsafe or unsafe
    elif tensor_name in module._parameters or tensor_name in module._buffers:
        original = getattr(module, tensor_name)
        chain = ParametrizationList([parametrization], original, unsafe=unsafe)
        delattr(module, tensor_name)
        _attach_chain(module, tensor_name, chain)
    else:
        raise ValueError(
            f"Module '{module}' does not have a parameter, a buffer, or a parametrized "
            f"element with name '{tensor_name}'"
        )
    return module


def is_parametrized(module: Module, tensor_name: str | None = None) -> bool:
    """Whether ``module.<tensor_name>`` (or, without a name, any tensor of it) is parametrized."""
    parametrizations = getattr(module, "parametrizations", None)
    if not isinstance(parametrizations, ModuleDict):
        return False
    if tensor_name is None:
        return len(parametrizations) > 0
    return tensor_name in parametrizations


def remove_parametrizations(
    module: Module,
    tensor_name: str,
    leave_parametrized: bool = True,
) -> Module:
    """Turn ``module.<tensor_name>`` back into a plain parameter or buffer; return ``module``.

    ``leave_parametrized=True`` keeps the current parametrized value;
    ``leave_parametrized=False`` restores the unparametrized ``original``, which requires
    the chain to have exactly one original.

    With a single original, the tensor put back is that original object (given the
    current value when ``leave_parametrized``), so optimizers holding it keep working.
    With several originals, the current value becomes a new tensor of the same kind as
    the originals: a parameter (with their ``requires_grad``) or a buffer.
    When the last parametrization goes, the module gets its original class back.
    """
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    chain = _chain(module, tensor_name)
    restored: Tensor
    if chain.is_tensor:
        restored = chain.original
        if leave_parametrized:
            with torch.no_grad():
                _assign_in_place(restored, getattr(module, tensor_name))
    elif leave_parametrized:
        with torch.no_grad():
            value = getattr(module, tensor_name).detach()
        first = chain.original0
        if isinstance(first, Parameter):
            requires_grad = any(getattr(chain, n).requires_grad for n in chain._original_names())
            restored = Parameter(value, requires_grad=requires_grad)
        else:
            restored = value
    else:
        raise ValueError(
            "Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is "
            "parametrized in terms of a sequence of tensors."
        )
    _detach_chain(module, tensor_name)
    _register_tensor(module, tensor_name, restored)
    return module


def type_before_parametrizations(module: Module) -> type:
    """The class ``module`` had before its first parametrization (its class if none)."""
    if is_parametrized(module):
        return type(module).__bases__[0]
    return type(module)


def transfer_parametrizations_and_params(
    from_module: Module,
    to_module: Module,
    tensor_name: str | None = None,
) -> Module:
    """Give ``to_module`` the parametrizations of ``from_module``, sharing them; return it.

    For ``tensor_name``, or for every parametrized tensor of ``from_module`` when it is
    ``None``, ``to_module`` gets a chain made of the *same* parametrization modules and the
    *same* original tensors: the two modules compute the same value and train together.
    Nothing is recomputed, so stateful parametrizations are not disturbed and
    ``from_module``'s values do not change. A tensor of that name already on
    ``to_module`` (or a chain it had there) is replaced; a missing one is created.
    Does nothing when ``from_module`` is not parametrized.
    """
    if not is_parametrized(from_module):
        return to_module
    names = list(_chains(from_module)) if tensor_name is None else [tensor_name]
    for name in names:
        source = _chain(from_module, name)
        if is_parametrized(to_module, name):
            _detach_chain(to_module, name)
        elif name in to_module._parameters or name in to_module._buffers:
            delattr(to_module, name)
        elif hasattr(to_module, name):
            raise ValueError(
                f"Module '{to_module}' has an attribute '{name}' that is neither a "
                "parameter nor a buffer; cannot transfer a parametrization onto it"
            )
        _attach_chain(to_module, name, ParametrizationList._sharing(source))
    return to_module
