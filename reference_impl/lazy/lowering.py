"""Dispatch and lowering: what happens to one ATen op on lazy tensors.

:func:`dispatch` is :attr:`LazyTensor.dispatcher <reference_impl.lazy.tensor.LazyTensor>`.
It follows the op table (:mod:`reference_impl.lazy.ops`):

- an op with a hand-written handler (:data:`HANDLERS`; ``copy``, ``fill``, ``clone``,
  ``_to_copy``, ``*_like``...) goes to it;
- a traced op is recorded as one IR node (:func:`record`) whose output types come from
  running the op on the meta device; how the node is made of the arguments (a
  :class:`Recipe`) is worked out once per op and argument signature;
- every other op, and an op forced through :mod:`.config`, runs eagerly on CPU
  (:func:`fallback`, counted as ``aten::<op>``) and returns device data.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from copy import deepcopy
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch.utils._pytree import tree_leaves, tree_map

from reference_impl.lazy import config, metrics, ops, reuse, sync
from reference_impl.lazy.executor import GeneratorOperand, Operand, ScalarOperand
from reference_impl.lazy.ir import (
    DEVICE_DATA,
    TENSOR_LIST,
    Node,
    Value,
    constant,
    device_data,
    structure_key,
)
from reference_impl.lazy.tensor import LazyTensor

aten = torch.ops.aten

#: (type, value, dtype) -> a scalar's uploaded data and its leaf's dtypes and shapes.
_scalar_cache: dict[tuple[Any, ...], tuple[torch.Tensor, Any, Any]] = {}
_CPU0 = (("device", "CPU0"),)  # a device_data leaf's attributes


@functools.cache
def op_name(func: Any) -> str:
    """``add`` for ``aten.add.Tensor``: the overload packet's name (cached per op)."""
    return str(func._schema.name.split("::")[-1])


def op_symbol(func: Any) -> str:
    """``aten::add``: the name PyTorch uses for an op in IR and in force-fallback config."""
    return f"aten::{op_name(func)}"


def fallback_counter(func: Any) -> str:
    """``aten::add.Tensor`` / ``aten::sin``: the counter a CPU fallback increments."""
    overload = func._overloadname
    return op_symbol(func) + ("" if overload == "default" else f".{overload}")


def _check_all_lazy(func: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> None:
    """Raise if a tensor argument is neither lazy nor a 0-dim CPU tensor (a scalar)."""
    for value in (*args, *kwargs.values()) if kwargs else args:
        if type(value) is LazyTensor or not isinstance(value, _CHECKED):
            continue  # the common cases first: this runs for every op
        for item in value if isinstance(value, list | tuple) else (value,):
            if isinstance(item, torch.Tensor) and not isinstance(item, LazyTensor):
                if item.device.type == "cpu" and item.dim() == 0:
                    continue  # a 0-dim CPU tensor is a scalar: it is uploaded
                raise RuntimeError(f"Input tensor is not a lazy tensor: {item.type()}")


_CHECKED = (torch.Tensor, list, tuple)  # argument types _check_all_lazy looks into


@dataclass(frozen=True)
class Plan:
    """What :func:`dispatch` and :func:`record` need to know about one op overload,
    worked out from the op table once, when the op is first dispatched."""

    name: str  # overload packet name, "add"
    symbol: str  # "aten::add"
    special: Callable[..., Any] | None  # its handler (SPECIAL), if any
    lowered: bool  # traced as an IR node
    counter: str  # "lazy::add"
    same_dtype: bool
    no_bool: bool
    slice_bounds: bool  # start/end/step become prim::Constant operands
    params: tuple[Param, ...]


_plans: dict[int, Plan] = {}  # by id(func): OpOverload hashing is slow


def plan(func: Any) -> Plan:
    """The :class:`Plan` of ``func`` (an OpOverload), cached."""
    found = _plans.get(id(func))
    if found is None:
        name = op_name(func)
        found = _plans[id(func)] = Plan(
            name,
            f"aten::{name}",
            SPECIAL.get(func),
            name in ops.LOWERED,
            ops.counter_name(name),
            name in ops.SAME_DTYPE_OPS,
            name in ops.NO_BOOL_OPS,
            name in ("slice_copy", "slice_scatter"),
            params(func),
        )
    return found


def dispatch(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Handle one op on lazy tensors (see the module docstring)."""
    p = plan(func)
    if p.special is not None:
        return p.special(*args, **kwargs)
    _check_all_lazy(func, args, kwargs)
    forced = config.get_force_fallback()
    if p.lowered and not (forced and forced == p.symbol):
        try:
            return record(func, args, kwargs)
        except NotImplementedError:
            pass
    return fallback(func, args, kwargs)


def fallback(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run ``func`` eagerly on CPU and return device data."""
    metrics.increment(fallback_counter(func))
    # Like PyTorch, bring all inputs to CPU together: one graph, not one per input.
    inputs = [x for x in tree_leaves((args, kwargs)) if isinstance(x, LazyTensor)]
    # Their IR stays (PyTorch reads fallback inputs without syncing them, see sync.compute).
    # As contiguous tensors, as PyTorch's lazy core hands them over: a value the executor
    # computed as a view (expand_copy of a scalar has stride 0) would reach CPU kernels
    # that read their input as dense memory (native_group_norm_backward then returns garbage).
    values = {id(x): v.contiguous() for x, v in zip(inputs, sync.compute(inputs), strict=True)}
    to_cpu = lambda x: values[id(x)] if isinstance(x, LazyTensor) else x  # noqa: E731
    # The op runs on CPU, so a device argument naming the lazy device names CPU instead:
    # otherwise x.new_zeros(..., device="lazy") would build a lazy tensor here and
    # upload it as if it were CPU data (a lazy tensor holding a lazy tensor).
    if _names_lazy(kwargs.get("device")):
        kwargs = {**kwargs, "device": torch.device("cpu")}
    out = func(*tree_map(to_cpu, args), **tree_map(to_cpu, kwargs))
    outputs = [x for x in tree_leaves(out) if isinstance(x, torch.Tensor)]
    # Each tensor crossing the device boundary is a _to_copy, in and out, as in PyTorch.
    metrics.increment("lazy::_to_copy", len(inputs) + len(outputs))
    return tree_map(lambda x: LazyTensor(data=x) if isinstance(x, torch.Tensor) else x, out)


def _names_lazy(device: Any) -> bool:
    """Whether a ``device`` argument (a string, ``torch.device`` or None) is the lazy device."""
    return device is not None and torch.device(device).type == "lazy"


@dataclass(frozen=True)
class Param:
    """One schema argument, digested once per op (see :func:`params`)."""

    name: str
    kind: str  # tensor, tensor_list, scalar or other (see _kind)
    kwarg_only: bool
    has_default: bool
    default: Any


_params: dict[Any, tuple[Param, ...]] = {}


def params(func: Any) -> tuple[Param, ...]:
    """The digested schema arguments of ``func`` (cached per op)."""
    found = _params.get(func)
    if found is None:
        found = _params[func] = tuple(
            Param(
                a.name,
                _kind(a.type),
                a.kwarg_only,
                a.has_default_value(),
                a.default_value if a.has_default_value() else None,
            )
            for a in func._schema.arguments
        )
    return found


def scalar_data(value: Any, dtype: torch.dtype | None = None) -> Node:
    """A device_data leaf for a Python scalar (Long/Double/Bool unless ``dtype`` is given).

    The data is uploaded once per (type, value, dtype); the leaf is new every time, as
    in PyTorch, so each use prints as its own ``device_data``.
    """
    if dtype is None:
        dtype = (
            torch.bool
            if isinstance(value, bool)
            else torch.int64
            if isinstance(value, int)
            else torch.float64
        )
    # -0.0 == 0.0, but its data must keep the sign: zeros are keyed by their text.
    key = (type(value), value if value else repr(value), dtype)
    cached = _scalar_cache.get(key)
    if cached is None:
        metrics.increment("DeviceDataCacheMiss")
        data = torch.tensor(value, dtype=dtype)
        cached = _scalar_cache[key] = (data, (dtype,), (tuple(data.shape),))
    data, dtypes, shapes = cached
    return reuse.intern(Node(DEVICE_DATA, (), _CPU0, dtypes, shapes, None, None, data))


def _check_same_dtype(name: str, args: tuple[Any, ...]) -> None:
    """Raise as CPU does when a matrix product mixes dtypes (checked at trace time)."""
    tensors = [a for a in args if type(a) is LazyTensor]
    if name in ("addmm", "baddbmm", "addmv"):
        tensors = tensors[1:]  # CPU names the two matrix operands
    dtypes = [t.dtype for t in tensors]
    if len(dtypes) < 2 or all(d == dtypes[0] for d in dtypes):
        return
    first, second = (str(d).removeprefix("torch.") for d in dtypes[:2])
    names = {"float16": "Half", "float32": "Float", "float64": "Double", "bfloat16": "BFloat16"}
    raise RuntimeError(
        f"mat1 and mat2 must have the same dtype, but got {names.get(first, first)} and "
        f"{names.get(second, second)}"
    )


def _check_bool_sub(args: tuple[Any, ...]) -> None:
    """Raise as CPU's ``sub`` does for bool operands (its meta kernel does not check)."""
    bools = [
        a.dtype == torch.bool if isinstance(a, torch.Tensor) else isinstance(a, bool)
        for a in args[:2]
    ]
    if all(bools):
        raise RuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not "
            "supported. Use the `^` or `logical_xor()` operator instead."
        )
    if any(bools):
        raise RuntimeError(
            "Subtraction, the `-` operator, with a bool tensor is not supported. "
            "If you are trying to invert a mask, use the `~` or `logical_not()` "
            "operator instead."
        )


def _kind(schema_type: Any) -> str:
    """``tensor``, ``tensor_list``, ``scalar`` or ``other`` for a schema argument type."""
    if isinstance(schema_type, torch.OptionalType):
        schema_type = schema_type.getElementType()
    if isinstance(schema_type, torch.TensorType):
        return "tensor"
    if isinstance(schema_type, torch.NumberType):
        return "scalar"
    if isinstance(schema_type, torch.ListType):
        element = schema_type.getElementType()
        if isinstance(element, torch.OptionalType):
            element = element.getElementType()
        if isinstance(element, torch.TensorType):
            return "tensor_list"
    return "other"


OutputTypes = tuple[type | None, tuple[tuple[torch.dtype, tuple[int, ...]], ...]]
_meta_cache: dict[tuple[Any, ...], OutputTypes] = {}


def _signature(x: Any) -> Any:
    """A hashable stand-in for an argument: what decides the op's output types."""
    kind = type(x)  # exact-type checks: this runs for every argument of every op
    if kind is LazyTensor:
        return x.signature
    if kind is tuple or kind is list:
        return (kind, *map(_signature, x))
    if kind is int or kind is bool:
        return (kind, x)
    if kind is float:
        # -0.0 == 0.0 and nan != nan: their text tells them apart (and all NaNs alike).
        return (kind, x) if x and x == x else (kind, repr(x))
    if isinstance(x, torch.Tensor):
        return (torch.Tensor, x.shape, x.dtype, x.device.type)
    return x


def signature_key(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """What decides ``func``'s output types and recording on these arguments (a cache key;
    hashing it raises TypeError when an argument is unhashable)."""
    return (
        id(func),  # OpOverloads live for the whole process; hashing them is slow
        _signature(args),
        _signature(tuple(sorted(kwargs.items()))) if kwargs else (),
    )


def cache_get(cache: dict[Any, Any], key: tuple[Any, ...]) -> tuple[Any, Any]:
    """``(key, cache.get(key))``, or ``(None, None)`` when an argument in ``key`` is
    unhashable (then the result is not cached either)."""
    try:
        return key, cache.get(key)
    except TypeError:
        return None, None


def output_types(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> OutputTypes:
    """(container type or None, (dtype, shape) per output) of ``func`` on these arguments.

    Computed by running the op on the meta device, once per distinct signature (shapes,
    dtypes and non-tensor arguments); tracing the same op again is a dictionary lookup.
    """
    key, cached = cache_get(_meta_cache, signature_key(func, args, kwargs))
    if cached is not None:
        return cached
    try:
        meta_out = func(*tree_map(_meta, args), **tree_map(_meta, kwargs))
    except Exception as exc:
        if "meta" in str(exc).lower() and "device" not in str(exc).lower():
            raise NotImplementedError(str(exc)) from exc
        raise
    outputs = list(meta_out) if isinstance(meta_out, list | tuple) else [meta_out]
    if not all(isinstance(o, torch.Tensor) for o in outputs):
        raise NotImplementedError(f"{func} returns non-tensors")
    container = type(meta_out) if isinstance(meta_out, list | tuple) else None
    result = (container, tuple((o.dtype, tuple(o.shape)) for o in outputs))
    if key is not None:
        _meta_cache[key] = result
    return result


def _meta(x: Any) -> Any:
    if isinstance(x, LazyTensor):
        return torch.empty(x.shape, dtype=x.dtype, device="meta")
    if isinstance(x, torch.device) and x.type == "lazy":
        return torch.device("meta")  # e.g. _to_copy(t, dtype=..., device=lazy)
    return x


#: Ops whose ``storage_offset`` PyTorch's lazy core records as an operand.
_STRIDED = frozenset({"as_strided_copy", "as_strided_scatter"})


class Source(NamedTuple):
    """Where one operand of a recorded node comes from (see :class:`Recipe`).

    ``kind`` is ``tensor`` (a lazy tensor's IR), ``cpu_tensor`` (a 0-dim CPU tensor,
    uploaded), ``tensor_list``, ``scalar`` (a Python number, uploaded as 0-dim device
    data), ``constant`` (a ``prim::Constant``) or ``generator`` (its state as data).
    ``arg`` is the argument's position in ``args`` or its name in ``kwargs``; None for a
    schema default or a constant, whose value is ``value``.
    """

    kind: str
    arg: int | str | None
    value: Any = None


@dataclass(frozen=True, eq=False)
class Recipe:
    """How :func:`record` makes the IR node of one op on arguments of one signature.

    Everything but the operands' values (types, attributes, where each operand comes
    from, the argument template) is decided by the op and the signature of its
    arguments (:func:`signature_key`: shapes, dtypes, non-tensor values), so it is
    worked out once per signature (:func:`bind`); every call then only fetches the
    operands and builds the node (:func:`build`).
    """

    symbol: str  # "aten::add"
    counter: str  # "lazy::add"
    sources: tuple[Source, ...]
    attrs: tuple[tuple[str, Any], ...]
    template: tuple[tuple[Any, ...], dict[str, Any]]
    dtypes: tuple[torch.dtype, ...]
    shapes: tuple[tuple[int, ...], ...]
    container: type | None  # of the outputs (list, tuple) or None for one tensor
    #: A generator argument: the op moves it on, and the recipe is never cached (its
    #: seed is an attribute but not part of the signature).
    advance_generator: bool
    #: The ``node_key`` of every node the recipe makes (all have the same parts).
    key: tuple[Any, ...]


_recipes: dict[tuple[Any, ...], Recipe] = {}


def record(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Record ``func`` as one IR node; its output types come from the meta device.

    The :class:`Recipe` is cached per signature, so tracing the same op on the same
    kinds of arguments again costs a dictionary lookup plus building the node.
    """
    key, recipe = cache_get(_recipes, signature_key(func, args, kwargs))
    if recipe is None:
        recipe = bind(func, args, kwargs)
        if key is not None and not recipe.advance_generator:
            _recipes[key] = recipe
    return build(func, recipe, args, kwargs)


def bind(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Recipe:
    """Work out the :class:`Recipe` of ``func`` on these arguments (checks them first)."""
    p = plan(func)
    name = p.name
    if p.same_dtype:
        _check_same_dtype(name, args)
    if p.no_bool:
        _check_bool_sub(args)
    container, types = output_types(func, args, kwargs)
    sources: list[Source] = []
    attrs: list[tuple[str, Any]] = []
    pos_t: list[Any] = []
    kw_t: dict[str, Any] = {}
    deferred_constants: list[Any] = []
    advance_generator = False
    n_args = len(args)
    for i, arg in enumerate(p.params):
        # Bind the argument (defaults filled in), then record it.
        where: int | str | None
        if i < n_args and not arg.kwarg_only:
            where = i
            value = args[i]
        elif arg.name in kwargs:
            where = arg.name
            value = kwargs[arg.name]
        elif arg.has_default:
            where, value = None, arg.default
        else:
            raise TypeError(f"{func}: missing argument {arg.name}")
        kind = arg.kind
        if isinstance(value, LazyTensor):
            sources.append(Source("tensor", where))
            slot: Any = Operand(len(sources) - 1)
        elif isinstance(value, torch.Tensor):  # a 0-dim CPU tensor (see _check_all_lazy)
            sources.append(Source("cpu_tensor", where))
            slot = Operand(len(sources) - 1)
        elif kind == "tensor_list" and value is not None:
            sources.append(Source("tensor_list", where))
            slot = Operand(len(sources) - 1)
        elif (kind == "scalar" or kind == "tensor") and isinstance(value, int | float | bool):
            # Python numbers (also those passed where a Tensor is expected, as in
            # ``t * 2.5``) become 0-dim device data, Long/Double/Bool by Python type.
            sources.append(Source("scalar", where, value if where is None else None))
            slot = ScalarOperand(len(sources) - 1)
        elif isinstance(value, torch.Generator):
            # The generator's current state is data (the program is reused for other
            # states); its seed is an attribute, so it is part of the graph hash.
            sources.append(Source("generator", where))
            slot = GeneratorOperand(len(sources) - 1)
            attrs.append((arg.name, f"torch.Generator(seed={value.initial_seed()})"))
            advance_generator = True
        elif name in _STRIDED and arg.name == "storage_offset":
            # PyTorch records an explicit storage offset as a prim::Constant operand
            # (and an absent one not at all).
            if value is not None:
                sources.append(Source("constant", None, value))
            slot = None if value is None else Operand(len(sources) - 1)
        elif p.slice_bounds and arg.name in ("start", "end", "step"):
            deferred_constants.append(value)
            slot = None  # filled below
        else:
            if arg.name == "device" and value is not None and torch.device(value).type == "lazy":
                value = None
            # A copy: the recipe outlives the caller's (possibly mutable) argument.
            value = deepcopy(value) if isinstance(value, list) else value
            if not (kind in ("tensor", "scalar") and value is None):
                # Absent optional tensors and scalars are absent operands, not attributes.
                attrs.append((arg.name, value))
            slot = value
        (kw_t.__setitem__(arg.name, slot) if arg.kwarg_only else pos_t.append(slot))
    if deferred_constants:
        # PyTorch records slice bounds as prim::Constant operands (start, end, step).
        first = len(sources)
        sources.extend(Source("constant", None, v) for v in deferred_constants)
        names = [a.name for a in p.params]
        for j, arg_name in enumerate(("start", "end", "step")):
            pos_t[names.index(arg_name)] = Operand(first + j)
    attrs_t, template = tuple(attrs), (tuple(pos_t), kw_t)
    dtypes, shapes = tuple(d for d, _ in types), tuple(s for _, s in types)
    return Recipe(
        p.symbol,
        p.counter,
        tuple(sources),
        attrs_t,
        template,
        dtypes,
        shapes,
        container,
        advance_generator,
        structure_key(p.symbol, dtypes, shapes, attrs_t, template),
    )


def build(func: Any, recipe: Recipe, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The node ``recipe`` makes of these arguments, interned and counted, wrapped as the
    op's outputs."""
    operands: list[Value] = []
    for kind, where, value in recipe.sources:
        if where is not None:
            value = kwargs[where] if isinstance(where, str) else args[where]
        if kind == "tensor":
            operands.append(value.value())
        elif kind == "scalar":  # the next most common kind: no further call
            operands.append(scalar_data(value).value())
        else:
            operands.append(_operand(kind, value))
    # Positional arguments (this runs for every traced op): op, operands, attrs, dtypes,
    # shapes, target, template, data, key.
    node = Node(
        recipe.symbol,
        tuple(operands),
        recipe.attrs,
        recipe.dtypes,
        recipe.shapes,
        func,
        recipe.template,
        None,
        recipe.key,
    )
    node = reuse.intern(node)
    metrics.increment(recipe.counter)
    if recipe.advance_generator:
        _advance_generators(func, args, kwargs)
    if recipe.container is None:
        return LazyTensor(ir=node.value())
    results = [LazyTensor(ir=node.value(i)) for i in range(len(recipe.dtypes))]
    return results if recipe.container is list else recipe.container(results)


def _operand(kind: str, value: Any) -> Value:
    """The operand value of a :class:`Source` other than a lazy tensor or a scalar, made
    afresh."""
    if kind == "cpu_tensor":
        return device_data(value.detach().clone()).value()
    if kind == "tensor_list":
        items = tuple(v.value() for v in value)
        return Node(TENSOR_LIST, items, dtypes=(), shapes=(), target=None, template=None).value()
    if kind == "constant":
        return constant(value).value()
    if kind == "generator":
        return device_data(value.get_state()).value()
    raise AssertionError(f"unknown operand source {kind}")


def _advance_generators(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Move the generators passed to a recorded random op on, as running it on CPU would.

    The op runs once on scratch CPU tensors of the same types: the user's generator then
    continues from where CPU's would be, so later draws agree with CPU too.
    """
    scratch = lambda x: (  # noqa: E731
        torch.empty(x.shape, dtype=x.dtype) if isinstance(x, LazyTensor) else x
    )
    func(*tree_map(scratch, args), **tree_map(scratch, kwargs))


# --------------------------------------------------------------------------- special ops


def copy(dst: LazyTensor, src: torch.Tensor, non_blocking: bool = False) -> LazyTensor:
    """copy(self, src): device data from a CPU source, an IR alias/conversion from a lazy one."""
    if not isinstance(src, LazyTensor):
        metrics.increment("lazy::_to_copy")
        data = src.detach().to(dst.dtype).expand(dst.shape).clone()
        return LazyTensor(ir=device_data(data).value())
    if src.dtype == dst.dtype and src.shape == dst.shape:
        return LazyTensor(ir=src.value())
    out: Any = src
    if src.dtype != dst.dtype:
        out = dispatch(aten._to_copy.default, (out,), {"dtype": dst.dtype})
    if tuple(out.shape) != tuple(dst.shape):
        out = dispatch(aten.expand_copy.default, (out, list(dst.shape)), {})
    return out


def _to_copy(t: LazyTensor, **kwargs: Any) -> Any:
    device = kwargs.get("device")
    if device is not None and torch.device(device).type != "lazy":
        metrics.increment("lazy::_to_copy")
        cpu_kwargs = {
            k: v for k, v in kwargs.items() if k not in ("device", "layout", "pin_memory")
        }
        # Always a fresh contiguous copy: device data may be shared and must stay intact.
        if cpu_kwargs.get("memory_format") is None:
            cpu_kwargs["memory_format"] = torch.contiguous_format
        return sync.materialize(t).to(device=device, copy=True, **cpu_kwargs)
    return dispatch_lowered(aten._to_copy.default, (t,), kwargs)


def dispatch_lowered(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if config.get_force_fallback() == op_symbol(func):
        return fallback(func, args, kwargs)
    return record(func, args, kwargs)


def _scalar_expand(value: torch.Tensor, size: list[int], is_scalar_expand: bool) -> torch.Tensor:
    return value.expand(size).clone()


def _fill(t: LazyTensor, value: Any) -> LazyTensor:
    """fill(self, value): PyTorch records an expand of a scalar (just the scalar for 0-dim)."""
    if isinstance(value, torch.Tensor):
        return fallback(aten.fill.Tensor, (t, value), {})
    if config.get_force_fallback() == "aten::fill_":
        return fallback(aten.fill.Scalar, (t, value), {})
    metrics.increment("lazy::fill_")
    scalar = scalar_data(value, t.dtype)
    if t.dim() == 0:
        return LazyTensor(ir=scalar.value())
    size = list(t.shape)
    node = Node(
        "aten::expand",
        (scalar.value(),),
        (("size", size), ("is_scalar_expand", True)),
        dtypes=(t.dtype,),
        shapes=(tuple(size),),
        target=_scalar_expand,
        template=((Operand(0), size, True), {}),
    )
    return LazyTensor(ir=node.value())


def _clone(t: LazyTensor, memory_format: Any = None) -> LazyTensor:
    """clone: a new lazy tensor sharing the IR value (values are immutable)."""
    return LazyTensor(ir=t.value())


def _item(t: LazyTensor) -> Any:
    """``.item()``: a CPU fallback of ``_local_scalar_dense`` (one copy to CPU)."""
    metrics.increment("aten::_local_scalar_dense")
    metrics.increment("lazy::_to_copy")
    return sync.materialize(t).item()


def _like(fill: Any) -> Callable[..., LazyTensor]:
    """``*_like`` factories: an empty lazy tensor, then fill/zero as PyTorch records them."""

    def like(t: LazyTensor, *args: Any, dtype: torch.dtype | None = None, **_: Any) -> LazyTensor:
        value = args[0] if fill == "full" else fill
        empty = LazyTensor(data=torch.zeros(t.shape, dtype=dtype or t.dtype))
        if value is None:
            return empty
        if value == 0 and fill == 0:
            return dispatch(aten.zero.default, (empty,), {})
        return _fill(empty, value)

    return like


def _alias(t: LazyTensor, *_: Any) -> LazyTensor:
    return LazyTensor(ir=t.value())


def _unsafe_view(t: LazyTensor, size: Sequence[int]) -> Any:
    """_unsafe_view(self, size): PyTorch's lazy core records it as ``view_copy``."""
    if config.get_force_fallback() == "aten::_unsafe_view":
        return fallback(aten._unsafe_view.default, (t, size), {})
    return dispatch_lowered(aten.view_copy.default, (t, size), {})


def _rsub(t: LazyTensor, other: Any, alpha: Any = 1) -> Any:
    """rsub(self, other, alpha): PyTorch records ``sub(other, self, alpha)``.

    PyTorch's lazy core has no rsub lowering; the composite kernel it runs instead is a
    subtraction with the operands swapped, so the IR shows ``aten::sub``.
    """
    func = aten.rsub.Tensor if isinstance(other, torch.Tensor) else aten.rsub.Scalar
    if config.get_force_fallback() == "aten::rsub":
        return fallback(func, (t, other), {"alpha": alpha})
    _check_bool_sub((t, other))
    return dispatch_lowered(aten.sub.Tensor, (other, t), {"alpha": alpha})


#: Hand-written handlers by the name the op table (:mod:`.ops`) gives in ``handler``.
HANDLERS: dict[str, Callable[..., Any]] = {
    "copy": copy,
    "to_copy": _to_copy,
    "fill": _fill,
    "clone": _clone,
    "item": _item,
    "alias": _alias,
    "rsub": _rsub,
    "unsafe_view": _unsafe_view,
    "empty_like": _like(None),
    "zeros_like": _like(0),
    "ones_like": _like(1),
    "full_like": _like("full"),
}

#: Op overload -> its handler, from the op table (looked up first by :func:`dispatch`).
SPECIAL: dict[Any, Callable[..., Any]] = {
    getattr(getattr(aten, packet), overload): HANDLERS[handler]
    for packet, overload, handler in ops.HANDLED
}


def _dispatcher(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return dispatch(func, args, kwargs)  # a global lookup: patches of dispatch take effect


LazyTensor.dispatcher = staticmethod(_dispatcher)
