"""The op table: everything the reference lazy device knows about each ATen op, as data.

One :class:`Op` row per ATen op (overload packet, ``add`` for ``aten::add``). A row says

- ``lowering``: how the device handles the op. ``"traced"``: recorded as one IR node
  whose output types come from the meta device (:func:`.lowering.record`);
  ``"handler"``: only a hand-written handler (below); ``"factory"``: a factory traced as
  one IR node by a kernel for the ``Lazy`` dispatch key (:mod:`.factories`, ``overloads``
  listed); ``"cpu_factory"``: a factory computed on CPU
  and uploaded (registered for the ``Lazy`` dispatch key, ``overloads`` listed);
  ``None``: no lowering, the op falls back to CPU (``aten::<op>`` counters).
- ``handler``: the name of a hand-written handler in :data:`.lowering.HANDLERS` that
  takes the op's ``overloads`` before anything else (``copy``, ``fill``, ``_to_copy``);
  a handler may still trace the op (``_to_copy`` is ``traced`` and has one).
- ``kernel``: the name of PyTorch's lazy kernel, which shows in the ``lazy::<kernel>``
  counter (``view_copy_symint``); the op's own name when empty.
- ``dtype_rule``: a check CPU's kernel makes that the meta kernel does not, applied at
  trace time so the device raises as CPU does (``"same_dtype"``: matrix operands of one
  dtype; ``"no_bool"``: no bool operands to a subtraction).
- ``view``: for a ``*_copy`` op, the view op computing the same values without copying;
  the executor runs that instead (device data is immutable, so aliasing is safe).
- ``values``: ``"specified"``, ``"random"`` (values depend on an RNG) or
  ``"uninitialized"`` (values are whatever memory held). The conformance suite compares
  only the structure, shapes and dtypes of ops whose values are not specified.

Adding an op is adding a row. Everything else (the lowered set, the counter names, the
view pairing, the suite's lists of unspecified ops) is derived below; keep the row
format stable, other tools read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

Lowering = Literal["traced", "handler", "factory", "cpu_factory"] | None
Values = Literal["specified", "random", "uninitialized"]


@dataclass(frozen=True)
class Op:
    """One ATen op (overload packet) and how the reference lazy device handles it."""

    name: str
    lowering: Lowering = "traced"
    kernel: str = ""
    dtype_rule: str | None = None
    view: str | None = None
    values: Values = "specified"
    #: For rows with a handler and ``cpu_factory`` rows: the overloads concerned.
    overloads: tuple[str, ...] = ("default",)
    #: The hand-written handler's name in :data:`.lowering.HANDLERS`, if any.
    handler: str | None = None

    @property
    def counter(self) -> str:
        """``lazy::view_copy_symint``: the counter a traced call of this op increments."""
        return f"lazy::{self.kernel or self.name}"


def traced(names: str, **fields: Any) -> list[Op]:
    """Rows for whitespace-separated ``names``, all traced with the same ``fields``."""
    return [Op(name, **fields) for name in names.split()]


def _symint(name: str, **fields: Any) -> Op:
    return Op(name, kernel=f"{name}_symint", **fields)


TABLE: tuple[Op, ...] = (
    # Elementwise and reductions: one IR node each, types from the meta device.
    *traced(
        """
        abs add addcdiv addcmul all any bitwise_and bitwise_not bitwise_or ceil clamp
        clamp_min cos div eq exp floor ge gelu gelu_backward gt le leaky_relu log
        logical_not lt max maximum mean min minimum mul ne neg norm pow reciprocal relu
        rsqrt sigmoid sigmoid_backward sqrt sum tanh tanh_backward threshold_backward
        topk zero
        """
    ),
    Op("sub", dtype_rule="no_bool"),
    Op("rsub", lowering="handler", handler="rsub", overloads=("Scalar", "Tensor")),
    # Linear algebra: CPU rejects mixed dtypes, the meta kernels do not.
    *traced("mm addmm bmm", dtype_rule="same_dtype"),
    *traced("baddbmm mv", dtype_rule="same_dtype"),
    *traced("addmv dot", lowering=None, dtype_rule="same_dtype"),
    # Neural-network kernels and their backwards.
    *traced(
        """
        embedding embedding_dense_backward index_select cat log_softmax _log_softmax
        _log_softmax_backward_data nll_loss_forward nll_loss_backward _softmax
        _softmax_backward_data
        """
    ),
    # Lowered by PyTorch's TorchScript lazy backend too (it has a Lazy kernel for each).
    # Not native_batch_norm: it writes its running statistics in place, which a traced
    # node cannot do; it falls back (and writes them) until in-place lowering exists.
    *traced(
        """
        _adaptive_avg_pool2d _adaptive_avg_pool2d_backward _trilinear avg_pool2d
        avg_pool2d_backward binary_cross_entropy binary_cross_entropy_backward block_diag
        constant_pad_nd convolution convolution_backward cumsum diag_embed
        diagonal_backward elu elu_backward flip frac gather glu glu_backward glu_jvp
        grid_sampler_2d grid_sampler_2d_backward hardsigmoid leaky_relu_backward
        linalg_pinv log2 log_sigmoid_backward log_sigmoid_forward logdet
        masked_fill max_pool2d_with_indices max_pool2d_with_indices_backward
        max_pool3d_with_indices max_pool3d_with_indices_backward
        native_batch_norm_backward native_dropout_backward native_layer_norm
        native_layer_norm_backward nll_loss2d_backward nll_loss2d_forward pixel_shuffle
        pixel_unshuffle remainder repeat select_backward sgn silu slice_backward
        smooth_l1_loss smooth_l1_loss_backward softplus softplus_backward sort stack std
        svd threshold trace tril triu trunc unfold_copy scatter_add upsample_bilinear2d
        upsample_bilinear2d_backward upsample_nearest2d upsample_nearest2d_backward
        """
    ),
    # LTC lowers _unsafe_view as a view_copy node (its IR shows aten::view_copy).
    Op("_unsafe_view", lowering="handler", handler="unsafe_view"),
    Op("_to_copy", handler="to_copy"),  # to CPU it leaves the device; else traced
    # Views as functional copies (functionalization hands the device these).
    Op("alias_copy", view="alias"),
    Op("detach_copy", view="alias"),
    Op("t_copy", view="t"),
    Op("transpose_copy", view="transpose"),
    Op("permute_copy", view="permute"),
    _symint("expand_copy", view="expand"),
    _symint("view_copy", view="reshape"),
    Op("select_copy", view="select"),
    _symint("slice_copy", view="slice"),
    Op("unsqueeze_copy", view="unsqueeze"),
    Op("squeeze_copy", view="squeeze"),
    Op("diagonal_copy", view="diagonal"),
    _symint("narrow_copy"),
    _symint("as_strided_copy"),
    *traced("unbind_copy split_copy split_with_sizes_copy select_scatter"),
    _symint("slice_scatter"),
    _symint("as_strided_scatter"),
    _symint("diagonal_scatter"),
    # Random ops: the generator state is device data (see executor.GeneratorOperand).
    *traced("uniform normal normal_functional bernoulli", values="random"),
    *traced(
        """
        rand randn randint randperm rand_like randn_like randint_like dropout
        native_dropout multinomial exponential geometric cauchy log_normal
        """,
        lowering=None,
        values="random",
    ),
    *traced(
        "empty empty_permuted empty_strided new_empty new_empty_strided",
        lowering=None,
        values="uninitialized",
    ),
    # Only hand-written handlers (see lowering.HANDLERS).
    Op("copy", lowering="handler", handler="copy"),
    Op("fill", lowering="handler", handler="fill", overloads=("Scalar",)),
    Op("clone", lowering="handler", handler="clone"),
    Op("_local_scalar_dense", lowering="handler", handler="item"),
    Op("detach", lowering="handler", handler="alias"),
    Op("alias", lowering="handler", handler="alias"),
    Op("lift_fresh", lowering="handler", handler="alias"),
    Op("zeros_like", lowering="handler", handler="zeros_like"),
    Op("ones_like", lowering="handler", handler="ones_like"),
    Op("full_like", lowering="handler", handler="full_like"),
    Op("empty_like", lowering="handler", handler="empty_like", values="uninitialized"),
    # Factories PyTorch's lazy core traces: arange is its out= kernel on an empty tensor.
    Op("arange", lowering="factory", overloads=("default", "start", "start_step")),
    # Factories whose CPU composite path uses out= ops: computed on CPU, uploaded.
    Op("eye", lowering="cpu_factory", overloads=("default", "m")),
    Op("linspace", lowering="cpu_factory"),
    Op("logspace", lowering="cpu_factory"),
)


def _index(rows: Iterable[Op]) -> dict[str, Op]:
    """Rows by name (one row per op: a second row for a name is an error)."""
    out: dict[str, Op] = {}
    for row in rows:
        if row.name in out:
            raise ValueError(f"op table: two rows for {row.name!r}; merge them into one")
        out[row.name] = row
    return out


ROWS: dict[str, Op] = _index(TABLE)


def _names(predicate: Any) -> frozenset[str]:
    return frozenset(row.name for row in TABLE if predicate(row))


#: Ops (overload packet names) recorded as IR nodes; every other op falls back to CPU.
LOWERED: frozenset[str] = _names(lambda r: r.lowering == "traced")

#: Ops whose PyTorch lazy kernel is named ``<op>_symint`` (this shows in counter names).
SYMINT_KERNELS: frozenset[str] = _names(lambda r: r.kernel == f"{r.name}_symint")

#: Ops whose CPU kernels reject mixed dtypes but whose meta kernels do not.
SAME_DTYPE_OPS: frozenset[str] = _names(lambda r: r.dtype_rule == "same_dtype")

#: Ops CPU refuses bool operands for (subtraction) though their meta kernels accept them.
NO_BOOL_OPS: frozenset[str] = _names(lambda r: r.dtype_rule == "no_bool")

#: Ops whose output values are unspecified (uninitialized memory).
UNINITIALIZED: frozenset[str] = _names(lambda r: r.values == "uninitialized")

#: Ops whose output values depend on a random number generator.
RANDOM: frozenset[str] = _names(lambda r: r.values == "random")

#: ``(packet, overload)`` of each factory registered for the ``Lazy`` key and run on CPU.
CPU_FACTORIES: tuple[tuple[str, str], ...] = tuple(
    (row.name, overload)
    for row in TABLE
    if row.lowering == "cpu_factory"
    for overload in row.overloads
)

#: ``(packet, overload)`` of each factory traced by a kernel for the ``Lazy`` key.
TRACED_FACTORIES: tuple[tuple[str, str], ...] = tuple(
    (row.name, overload) for row in TABLE if row.lowering == "factory" for overload in row.overloads
)

#: ``(packet, overload, handler name)`` of each op with a hand-written handler.
HANDLED: tuple[tuple[str, str, str], ...] = tuple(
    (row.name, overload, row.handler)
    for row in TABLE
    if row.handler is not None
    for overload in row.overloads
)


def counter_name(name: str) -> str:
    """``lazy::<kernel>``: the counter a traced call of op ``name`` increments."""
    row = ROWS.get(name)
    return row.counter if row is not None else f"lazy::{name}"


def views_of_copies() -> dict[Any, Any]:
    """``*_copy`` overload -> the view overload computing the same values without copying.

    Pairs each overload of the copy op with the view op's overload of the same name
    (``out`` variants excluded); ``view_copy.default`` runs as ``reshape.default``.
    """
    import torch

    aten = torch.ops.aten
    pairs: dict[Any, Any] = {}
    for row in TABLE:
        if row.view is None:
            continue
        copy, view = getattr(aten, row.name), getattr(aten, row.view)
        for overload in copy.overloads():
            if overload.endswith("out"):
                continue
            if overload in view.overloads():
                pairs[getattr(copy, overload)] = getattr(view, overload)
    return pairs
