"""The op sweep's machinery: PyTorch's OpInfo ops run on CPU and on the lazy device.

``conformance/lazy/test_ops.py`` runs one test per OpInfo entry (and dtype). Each test
draws the op's sample inputs inside the test (never at collection), runs every sample on
CPU and on the backend's device, and classifies each sample:

``native``    the backend ran the op without a CPU fallback (no ``aten::*`` counter moved)
              and every output matches CPU;
``fallback``  the outputs match but some part ran as a CPU fallback (``aten::<op>``);
``wrong``     an output differs from CPU in structure, shape, dtype or value;
``error``     the backend raised (while tracing, syncing or copying back to CPU);
``skipped``   CPU itself raised on the sample, so there is nothing to compare.

A test takes the worst class of its samples (error > wrong > fallback > native). Only
``wrong`` and ``error`` fail it, and ``fallback`` does when the backend (``native_ops`` of
its lazy area) or the manifest (``[[op]] native = true``) declares the op native.

Random ops compare only structure, shapes and dtypes. An op is random when CPU gives
other values under another seed; OpInfo runs its random ops through
``wrapper_set_seed``, which reseeds to 42 inside the op, so the sweep replaces that
wrapper with one whose seed it can change (:data:`_WRAPPER_SEEDS`). Decompositions
defined only up to the sign (or phase) of each vector (eigenvectors, singular vectors,
QR) are compared after aligning each of the backend's vectors with CPU's
(:data:`SIGN_AMBIGUOUS`).

A float output that differs from CPU by more than the tolerance still conforms when it
is no further from the op's float64 result than CPU's own rounding allows
(:func:`accuracy_problem`): two correct kernels may sum in different orders.

``--op-timeout`` bounds each *sample* (SIGALRM, where the platform has it; else the whole
test): a sample that overruns is an ``error`` naming the sample, and the op's remaining
samples are not run. A sample stuck in native code is ended by the plugin's watchdog,
which names the sample too, as does the report of a sample that crashes its xdist worker.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from conformance.plugin import (
    PROP_CATEGORY,
    PROP_DISPATCH,
    PROP_FALLBACKS,
    PROP_ID,
    breadcrumb,
    state_of,
)
from conformance.recorder import OP_TIMEOUT_NOTE
from reference_impl.lazy import ops as _opfacts

if TYPE_CHECKING:
    import torch

    from conformance.contract import LazyArea
    from conformance.runtime import Watchdog

#: The sweep's dtype when ``--dtypes`` is not given (the choices: plugin.SWEEP_DTYPES).
DEFAULT_DTYPES = ("float32",)
#: Per-sample timeout (seconds) of the op sweep when ``--op-timeout`` is not given. The
#: slowest op tests take about a minute on one thread of a loaded 2-core machine, and
#: about two minutes on XLA:CPU (max_pool ops, which compile a program per shape).
DEFAULT_OP_TIMEOUT = 300.0
#: Sample classes, worst last (a test takes the worst class of its samples).
CLASSES = ("native", "fallback", "wrong", "error")


def torch_dtype(name: str) -> torch.dtype:
    import torch

    dtype = getattr(torch, name)
    assert isinstance(dtype, torch.dtype)
    return dtype


@functools.cache
def op_db() -> dict[str, Any]:
    """OpInfo entries by sweep name (``name`` or ``name.variant``); imports OpInfo (~3 s)."""
    from torch.testing._internal import common_methods_invocations as cmi

    # Random ops run through wrapper_set_seed, which steps the device with
    # torch._lazy.mark_step(); step the backend under test through the contract instead.
    cmi.wrapper_set_seed = _wrapper_set_seed
    return {sweep_name(op): op for op in cmi.op_db}


#: The mark_step of the device a sample is running on (set while it runs).
_stepper: list[Callable[[], None]] = []


#: The seed ``_wrapper_set_seed`` sets (the last one pushed; OpInfo's own is 42).
_WRAPPER_SEEDS: list[int] = []


def _wrapper_set_seed(op: Any, *args: Any, **kwargs: Any) -> Any:
    """``torch.testing._utils.wrapper_set_seed`` stepping the backend's device, not torch._lazy.

    It seeds with ``_WRAPPER_SEEDS[-1]`` (42 when empty, as OpInfo's does), so
    :func:`is_random` can run a random op under another seed.
    """
    import torch
    from torch.testing._utils import freeze_rng_state

    with freeze_rng_state():
        torch.manual_seed(_WRAPPER_SEEDS[-1] if _WRAPPER_SEEDS else 42)
        output = op(*args, **kwargs)
        if isinstance(output, torch.Tensor) and output.device.type != "cpu" and _stepper:
            _stepper[-1]()
        return output


def sweep_name(op: Any) -> str:
    """``add``, ``addmm.decomposed``: the OpInfo name plus its variant, unique in op_db."""
    return op.name + (f".{op.variant_test_name}" if op.variant_test_name else "")


def _patterns(patterns: str) -> list[str]:
    return [p.strip() for p in patterns.split(",") if p.strip()]


def unmatched_patterns(patterns: str) -> list[tuple[str, list[str]]]:
    """``--ops`` patterns that match no op, each with up to three close op names."""
    import difflib

    names = list(op_db())
    return [
        (p, difflib.get_close_matches(p, names, n=3, cutoff=0.6))
        for p in _patterns(patterns)
        if not any(fnmatch.fnmatchcase(n, p) for n in names)
    ]


def select_ops(patterns: str | None) -> list[str]:
    """Sweep names matching comma-separated fnmatch ``patterns`` (all ops for None)."""
    names = list(op_db())
    if not patterns:
        return names
    wanted = _patterns(patterns)
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in wanted)]


def supports(op: Any, dtype_name: str, *, grads: bool = False) -> bool:
    """Whether OpInfo lists ``dtype_name`` for the op on CPU (for backward with ``grads``)."""
    dtype = torch_dtype(dtype_name)
    if grads:
        return bool(op.supports_autograd) and dtype in op.supported_backward_dtypes("cpu")
    return dtype in op.supported_dtypes("cpu")


def in_full_sample(name: str, fraction: float) -> bool:
    """Whether op ``name`` is in the deterministic ``fraction`` of ops that run every sample."""
    return zlib.crc32(name.encode()) % 1000 < round(fraction * 1000)


# --------------------------------------------------------------------------- samples


@dataclass
class SampleOutcome:
    """What happened to one sample."""

    index: int
    klass: str  # one of CLASSES, or "skipped"
    message: str = ""
    fallbacks: tuple[str, ...] = ()


@dataclass
class OpOutcome:
    """All samples of one op test, and the verdict."""

    samples: list[SampleOutcome] = field(default_factory=list)

    @property
    def ran(self) -> list[SampleOutcome]:
        return [s for s in self.samples if s.klass != "skipped"]

    @property
    def klass(self) -> str:
        """The worst class over the samples that ran ("skipped" if none ran)."""
        ran = self.ran
        if not ran:
            return "skipped"
        return max((s.klass for s in ran), key=CLASSES.index)

    @property
    def fallbacks(self) -> list[str]:
        return sorted({f for s in self.samples for f in s.fallbacks})

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys((*CLASSES, "skipped"), 0)
        for s in self.samples:
            counts[s.klass] += 1
        return counts


def describe(sample: Any) -> str:
    """A short description of a sample: tensors as ``Float[2,3]``, other arguments as repr."""
    import torch

    def fmt(x: Any) -> str:
        if isinstance(x, torch.Tensor):
            dtype = str(x.dtype).removeprefix("torch.")
            return f"{dtype}[{','.join(map(str, x.shape))}]"
        if isinstance(x, list | tuple):
            inner = ", ".join(fmt(v) for v in x)
            return f"[{inner}]" if isinstance(x, list) else f"({inner})"
        if isinstance(x, dict):
            return "{" + ", ".join(f"{k}={fmt(v)}" for k, v in x.items()) + "}"
        text = repr(x)
        return text if len(text) <= 40 else text[:37] + "..."

    parts = [fmt(sample.input), *(fmt(a) for a in sample.args)]
    parts += [f"{k}={fmt(v)}" for k, v in sample.kwargs.items()]
    return ", ".join(parts)


def _leaves(value: Any) -> tuple[list[Any], Any]:
    from torch.utils._pytree import tree_flatten

    return tree_flatten(value)


#: Ops whose output values are unspecified (uninitialized memory): only structure,
#: shapes and dtypes are compared. From the op table's ``values`` column.
UNSPECIFIED_VALUES: frozenset[str] = _opfacts.UNINITIALIZED

#: Ops whose arguments at these positions (0 = first after the input) must stay on CPU
#: on every device (PyTorch checks it), so the sweep does not move them.
CPU_ARGS: dict[str, tuple[int, ...]] = {"tensor_split": (0,)}


def to_device(sample: Any, device: str, op_name: str = "") -> Any:
    """A copy of ``sample`` with every tensor on ``device`` (leaves keep requires_grad).

    A ``device`` keyword (factories such as ``arange`` or ``randn``) names ``device`` too;
    arguments listed in :data:`CPU_ARGS` stay on CPU.
    """
    import torch

    def move(t: Any) -> Any:
        if not isinstance(t, torch.Tensor):
            return t  # SampleInput.transform also hands over dtypes
        moved = t.detach().to(device)
        return moved.requires_grad_(t.requires_grad) if moved.is_floating_point() else moved

    moved = sample.transform(move)
    if moved.kwargs.get("device") is not None:
        moved.kwargs["device"] = device
    keep = CPU_ARGS.get(op_name, ())
    if keep:
        moved.args = tuple(sample.args[i] if i in keep else a for i, a in enumerate(moved.args))
    return moved


def call(op: Any, sample: Any) -> Any:
    return op(sample.input, *sample.args, **sample.kwargs)


def fetch(area: LazyArea, value: Any) -> Any:
    """Sync the lazy tensors in ``value`` (one graph), then copy every leaf to CPU."""
    import torch
    from torch.utils._pytree import tree_map

    leaves, _ = _leaves(value)
    if not any(isinstance(x, torch.Tensor) for x in leaves):
        return value  # e.g. a torch.Size, which a tree_map would turn into a tuple
    lazy = [x for x in leaves if isinstance(x, torch.Tensor) and x.device.type == area.device]
    if lazy:
        area.sync_multi(lazy)

    def to_cpu(x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            return x.detach().to("cpu")
        return x

    return tree_map(to_cpu, value)


def compare(actual: Any, expected: Any, tolerance: tuple[float, float] | None) -> str:
    """'' when ``actual`` matches ``expected`` output by output, else what differs.

    Structure (the pytree spec: tuple arity, container types), then per leaf shape, dtype
    and values through ``torch.testing.assert_close`` (NaNs equal; ``tolerance`` is
    (atol, rtol) to override the per-dtype defaults).
    """
    import torch

    got, got_spec = _leaves(actual)
    want, want_spec = _leaves(expected)
    if len(got) != len(want):
        return f"output structure differs: {len(got)} outputs, expected {len(want)}"
    for i, (a, e) in enumerate(zip(got, want, strict=True)):
        where = "output" if len(want) == 1 else f"output[{i}]"
        if isinstance(e, torch.Tensor) != isinstance(a, torch.Tensor):
            return f"{where}: got {type(a).__name__}, expected {type(e).__name__}"
        kwargs: dict[str, Any] = {"equal_nan": True}
        if tolerance is not None:
            kwargs["atol"], kwargs["rtol"] = tolerance
        if isinstance(e, torch.Tensor):
            if a.shape != e.shape:
                return f"{where}: shape {tuple(a.shape)}, expected {tuple(e.shape)}"
            if a.dtype != e.dtype:
                return f"{where}: dtype {a.dtype}, expected {e.dtype} (values not compared)"
        try:
            torch.testing.assert_close(a, e, **kwargs)
        except AssertionError as exc:
            detail = " ".join(str(exc).split())
            return f"{where}: {detail}"
    if got_spec != want_spec:
        return f"output structure differs: {got_spec}, expected {want_spec}"
    return ""


def _seeded(seed: int, fn: Callable[[], Any]) -> Any:
    import torch

    torch.manual_seed(seed)
    return fn()


def is_random(op: Any, sample: Any, seed: int, expected: Any, grads: bool = False) -> bool:
    """Whether CPU itself gives other values under another seed (a random op).

    Both the global seed and the seed OpInfo's ``wrapper_set_seed`` sets inside the op
    change, so an op that reseeds itself is still seen to be random.
    """
    _WRAPPER_SEEDS.append(43)
    try:
        again = _seeded(seed + 1, lambda: _evaluate(op, _clone(sample), grads))
    except Exception:
        return False
    finally:
        _WRAPPER_SEEDS.pop()
    return compare(again, expected, None) != ""


#: OpInfo ops whose outputs are defined up to the sign (phase, for complex) of each
#: vector: op -> (vector outputs as (output index, "cols" or "rows"), the product that
#: must still hold: ``"usvh"`` (U diag(S) Vh), ``"usv"`` (U diag(S) V^H), ``"qr"`` or None).
SIGN_AMBIGUOUS: dict[str, tuple[tuple[tuple[int, str], ...], str | None]] = {
    "linalg.eigh": (((1, "cols"),), None),
    "linalg.eig": (((1, "cols"),), None),
    "linalg.svd": (((0, "cols"), (2, "rows")), "usvh"),
    "svd": (((0, "cols"), (2, "cols")), "usv"),
    "svd_lowrank": (((0, "cols"), (2, "cols")), "usv"),
    "pca_lowrank": (((0, "cols"), (2, "cols")), "usv"),
    "linalg.qr": (((0, "cols"), (1, "rows")), "qr"),
    "qr": (((0, "cols"), (1, "rows")), "qr"),
}


def _align(a: torch.Tensor, e: torch.Tensor, how: str) -> torch.Tensor:
    """``a`` with each column (or row) times the unit factor that best matches ``e``'s."""
    import torch

    dim = -2 if how == "cols" else -1
    inner = (e.conj() * a).sum(dim) if a.is_complex() else (e * a).sum(dim)
    magnitude = inner.abs()
    if a.is_complex():
        unit = torch.where(magnitude > 0, inner / magnitude.clamp_min(1e-30), 1.0 + 0j).conj()
    else:
        unit = torch.where(inner < 0, -1.0, 1.0).to(a.dtype)
    return a * unit.unsqueeze(dim)


def align_signs(op_name: str, actual: Any, expected: Any) -> Any:
    """``actual`` with each vector of a sign-ambiguous output turned to match CPU's.

    Every column (or row) of each vector output is multiplied by the sign (complex: the
    unit phase) that best matches CPU's; :func:`product_problem` then checks that the
    factors still multiply to what CPU's do. Other outputs come back as given.
    """
    import torch
    from torch.utils._pytree import tree_unflatten

    rule = SIGN_AMBIGUOUS.get(op_name)
    got, spec = _leaves(actual)
    want, _ = _leaves(expected)
    if rule is None or len(got) != len(want):
        return actual
    aligned = list(got)
    for index, how in rule[0]:
        a, e = got[index] if index < len(got) else None, want[index] if index < len(want) else None
        if not (isinstance(a, torch.Tensor) and isinstance(e, torch.Tensor)):
            continue
        if a.shape == e.shape and a.dtype == e.dtype and a.dim() >= 2 and a.numel():
            aligned[index] = _align(a, e, how)
    return tree_unflatten(aligned, spec)


def _product(kind: str, leaves: list[Any]) -> torch.Tensor | None:
    import torch

    if not all(isinstance(t, torch.Tensor) and t.numel() for t in leaves[:3]):
        return None
    if kind == "qr":
        q, r = leaves[0], leaves[1]
        k = min(q.shape[-1], r.shape[-2])
        return q[..., :k] @ r[..., :k, :]
    u, s, v = leaves[0], leaves[1], leaves[2]
    k = s.shape[-1]
    left = u[..., :k] * s.to(u.dtype).unsqueeze(-2)
    return left @ (v[..., :k, :] if kind == "usvh" else v[..., :k].mH)


def product_problem(
    op_name: str, actual: Any, expected: Any, tolerance: tuple[float, float] | None
) -> str:
    """'' when the backend's factors multiply to what CPU's do (U S Vh, Q R), else what differs."""
    rule = SIGN_AMBIGUOUS.get(op_name)
    if rule is None or rule[1] is None:
        return ""
    got, want = _leaves(actual)[0], _leaves(expected)[0]
    if len(got) != len(want) or len(got) < (2 if rule[1] == "qr" else 3):
        return ""
    mine, theirs = _product(rule[1], got), _product(rule[1], want)
    if mine is None or theirs is None:
        return ""
    problem = compare(mine, theirs, tolerance)
    return problem and f"the product of the factors ({rule[1]}) differs: {problem}"


#: ``torch.testing.assert_close``'s default (atol, rtol) per dtype name, which the
#: accuracy rule (:func:`accuracy_problem`) starts from.
DEFAULT_TOLERANCES: dict[str, tuple[float, float]] = {
    "float16": (1e-5, 1e-3),
    "bfloat16": (1e-5, 1.6e-2),
    "float32": (1e-5, 1.3e-6),
    "complex64": (1e-5, 1.3e-6),
}
#: A CPU result further than this many default tolerances from the float64 result is not
#: rounding (an algorithm whose cutoffs depend on the dtype's eps, as ``pinv``'s): the
#: accuracy rule then does not apply and the plain comparison stands.
ROUNDING_CAP = 10.0


def _upcast(sample: Any) -> Any:
    """A copy of ``sample`` with its low-precision float tensors in float64 (complex128)."""
    import torch

    def up(t: Any) -> Any:
        if not isinstance(t, torch.Tensor):
            return t
        if str(t.dtype).removeprefix("torch.") not in DEFAULT_TOLERANCES:
            return t.detach().clone().requires_grad_(t.requires_grad)
        wide = torch.complex128 if t.is_complex() else torch.float64
        return t.detach().to(wide).requires_grad_(t.requires_grad)

    return sample.transform(up)


def _finite_max(values: torch.Tensor) -> float:
    """The largest finite element of ``values`` (0 when there is none)."""
    import torch

    finite = values[torch.isfinite(values)]
    return float(finite.max()) if finite.numel() else 0.0


def _leaf_accuracy(
    got: Any, cpu: Any, exact: Any, tolerance: tuple[float, float] | None
) -> tuple[bool, str]:
    """(whether the rule applies to this output, '' or how the backend is less accurate)."""
    import torch

    name = str(cpu.dtype).removeprefix("torch.")
    if name not in DEFAULT_TOLERANCES or not isinstance(exact, torch.Tensor):
        return False, ""
    if exact.shape != cpu.shape or got.shape != cpu.shape or got.dtype != cpu.dtype:
        return False, ""
    atol, rtol = tolerance or DEFAULT_TOLERANCES[name]
    wide = torch.complex128 if cpu.is_complex() else torch.float64
    target = exact.detach().to(cpu.dtype).to(wide)  # the exact result, rounded once
    if not bool((torch.isfinite(cpu) == torch.isfinite(target)).all()):
        return False, ""  # NaN or inf where the exact result has none: not rounding
    slack = _finite_max((cpu.detach().to(wide) - target).abs())
    if slack > ROUNDING_CAP * (atol + rtol * _finite_max(target.abs())):
        return False, ""
    mine = got.detach().to(wide)
    try:
        torch.testing.assert_close(mine, target, atol=atol + 2 * slack, rtol=rtol, equal_nan=True)
    except AssertionError:
        worst = _finite_max((mine - target).abs())
        return True, f"max error {worst:.3g} against float64, CPU's own {slack:.3g}"
    return True, ""


def accuracy_problem(
    op: Any,
    sample: Any,
    actual: Any,
    expected: Any,
    *,
    seed: int,
    grads: bool,
    tolerance: tuple[float, float] | None,
) -> str | None:
    """Whether a backend that differs from CPU is still as accurate as CPU.

    Two correct implementations of a reduction or contraction (``matmul`` folded into
    ``mv`` on CPU, into ``bmm`` on the device; another BLAS kernel on another CPU) sum in
    different orders, and in float32 their results can differ by more than the default
    tolerance where terms cancel, though both are rounding away from the exact answer.
    So when an output differs, the op runs again on CPU in float64 (complex128): the
    backend conforms if each low-precision float output is within the tolerance plus
    twice CPU's own largest error of that float64 result. A real bug (wrong values, lower
    precision accumulation) is far further away than CPU's rounding.

    Returns None when the rule cannot decide (the float64 run fails or differs in
    structure, an output is not a low-precision float, CPU's own deviation is beyond
    rounding, or CPU has NaN or inf where the float64 result has none): the plain
    comparison's verdict stands. Else '' (as accurate as CPU) or the errors that show
    it is not.
    """
    import torch

    try:
        exact = _seeded(seed, lambda: _evaluate(op, _upcast(sample), grads))
    except Exception:
        return None
    got, got_spec = _leaves(actual)
    want, want_spec = _leaves(expected)
    wide, _ = _leaves(exact)
    if not (len(got) == len(want) == len(wide)) or got_spec != want_spec:
        return None
    problems: list[str] = []
    applied = False
    for i, (a, e, x) in enumerate(zip(got, want, wide, strict=True)):
        if not (isinstance(e, torch.Tensor) and isinstance(a, torch.Tensor)):
            if compare(a, e, tolerance):
                return None
            continue
        applies, problem = _leaf_accuracy(a, e, x, tolerance)
        if not applies:
            if compare(a, e, tolerance):
                return None
            continue
        applied = True
        if problem:
            problems.append(problem if len(want) == 1 else f"output[{i}]: {problem}")
    if not applied:
        return None
    return "; ".join(problems)


def dispatch_of(area: LazyArea) -> tuple[str, tuple[str, ...]]:
    """(``native`` or ``fallback``, the CPU-fallback counters) from the counters.

    Transfers and expected host reads (``aten::_local_scalar_dense``) are not fallbacks
    (``conformance.lazy.counters``).
    """
    from conformance.lazy.counters import fallbacks as fallback_counters

    fallbacks = tuple(fallback_counters(area.counter_names()))
    return ("fallback" if fallbacks else "native"), fallbacks


def run_sample(
    area: LazyArea,
    op: Any,
    sample: Any,
    index: int,
    *,
    seed: int,
    tolerance: tuple[float, float] | None,
    grads: bool = False,
) -> SampleOutcome:
    """Run one sample on CPU and on the lazy device and classify it (see module doc)."""
    try:
        expected = _seeded(seed, lambda: _evaluate(op, _clone(sample), grads))
    except Exception as exc:
        return SampleOutcome(index, "skipped", f"CPU raised {_one_line(exc)}"[:300])
    klass, fallbacks, actual, error = _on_device(area, op, sample, seed, grads)
    cleanup_error = _cleanup(area)
    if error or cleanup_error:
        return SampleOutcome(index, "error", (error or cleanup_error)[:500], fallbacks)
    problem = compare(actual, expected, tolerance)
    if problem and op.name in SIGN_AMBIGUOUS:
        aligned = compare(align_signs(op.name, actual, expected), expected, tolerance)
        aligned = aligned or product_problem(op.name, actual, expected, tolerance)
        problem = aligned and f"{aligned} (compared up to the sign of each vector)"
    if problem and op.name not in UNSPECIFIED_VALUES:
        accuracy = accuracy_problem(
            op, sample, actual, expected, seed=seed, grads=grads, tolerance=tolerance
        )
        if accuracy is not None:
            problem = accuracy and f"{problem} ({accuracy})"
    if problem and (op.name in UNSPECIFIED_VALUES or is_random(op, sample, seed, expected, grads)):
        # CPU's own values vary (an RNG, or uninitialized memory as in torch.empty):
        # only structure, shapes and dtypes compare.
        got, want = _shapes(actual), _shapes(expected)
        problem = "" if got == want else f"shapes/dtypes {got}, expected {want}"
    if problem:
        return SampleOutcome(index, "wrong", problem[:500], fallbacks)
    return SampleOutcome(index, klass, "", fallbacks)


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def _clone(sample: Any) -> Any:
    """A copy of ``sample`` (ops that write into their inputs must not change the original)."""
    import torch

    def copy(t: Any) -> Any:
        if not isinstance(t, torch.Tensor):
            return t
        return t.detach().clone().requires_grad_(t.requires_grad)

    return sample.transform(copy)


def _on_device(
    area: LazyArea, op: Any, sample: Any, seed: int, grads: bool
) -> tuple[str, tuple[str, ...], Any, str]:
    """(dispatch class, fallbacks, CPU copy of the outputs, error text) on the device.

    Every lazy tensor of the sample is local to this frame, so none outlives the call.
    """
    stage = "moving the inputs to the device"
    _stepper.append(area.mark_step)
    try:
        lazy_sample = to_device(sample, area.device, op.name)
        area.mark_step()
        area.reset_metrics()
        stage = "running the op"
        produced = _seeded(seed, lambda: _evaluate(op, lazy_sample, grads))
        klass, fallbacks = dispatch_of(area)
        stage = "syncing the outputs and copying them to CPU"
        return klass, fallbacks, fetch(area, produced), ""
    except Exception as exc:
        return "error", dispatch_of(area)[1], None, f"{stage}: {_one_line(exc)}"
    finally:
        _stepper.pop()


def _cleanup(area: LazyArea) -> str:
    """Step the device so the next sample starts clean; '' or what went wrong.

    A failed sample can leave a broken lazy tensor alive (held by a traceback cycle):
    after a failed step, collect garbage and step again.
    """
    try:
        area.mark_step()
        return ""
    except Exception as exc:
        import contextlib
        import gc

        gc.collect()
        with contextlib.suppress(Exception):
            area.mark_step()
        return f"mark_step after the sample: {_one_line(exc)}"


def _shapes(value: Any) -> Any:
    """What random outputs still compare: per tensor its class, device, shape and dtype.

    Class and device matter: a "CPU copy" that is still a device tensor (or a subclass
    wrapping one) has the right shape but is not CPU's result.
    """
    import torch
    from torch.utils._pytree import tree_map

    def facts(x: Any) -> Any:
        if not isinstance(x, torch.Tensor):
            return x
        return (type(x).__name__, x.device.type, tuple(x.shape), str(x.dtype))

    return tree_map(facts, value)


def _evaluate(op: Any, sample: Any, grads: bool) -> Any:
    """The op's outputs, or with ``grads`` the gradients of its outputs w.r.t. its inputs."""
    out = call(op, sample)
    if not grads:
        return out
    import torch

    process = getattr(sample, "output_process_fn_grad", None)
    if process is not None:
        out = process(out)
    outs = [
        t
        for t in _leaves(out)[0]
        if isinstance(t, torch.Tensor) and t.requires_grad and t.is_floating_point()
    ]
    inputs = [
        t
        for t in _leaves((sample.input, sample.args, sample.kwargs))[0]
        if isinstance(t, torch.Tensor) and t.requires_grad
    ]
    if not outs or not inputs:
        return None
    total = sum((o.sum() for o in outs[1:]), outs[0].sum())
    return torch.autograd.grad(total, inputs, allow_unused=True)


def samples(op: Any, dtype_name: str, *, grads: bool, limit: int | None) -> Iterator[Any]:
    """The op's CPU sample inputs for ``dtype_name``, at most ``limit`` of them."""
    generator = op.sample_inputs("cpu", torch_dtype(dtype_name), requires_grad=grads)
    for i, sample in enumerate(generator):
        if limit is not None and i >= limit:
            return
        yield sample


# --------------------------------------------------------------------------- the tests


def op_timeout(config: pytest.Config) -> float:
    """``--op-timeout`` (seconds per sample; 0: none), else :data:`DEFAULT_OP_TIMEOUT`."""
    seconds = config.getoption("conformance_op_timeout")
    return DEFAULT_OP_TIMEOUT if seconds is None else float(seconds)


def per_sample_timeouts() -> bool:
    """Whether samples can be timed one by one here (SIGALRM, in the main thread)."""
    import signal
    import threading

    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


class SampleTimeout(BaseException):
    """Raised in the sample that overran ``--op-timeout`` (escapes ``except Exception``)."""


@contextlib.contextmanager
def sample_deadline(seconds: float, watchdog: Watchdog | None, label: str) -> Iterator[None]:
    """Raise :class:`SampleTimeout` in the sample if it runs longer than ``seconds``.

    The plugin's watchdog, if any, gets the sample's own deadline (plus grace), so a
    sample stuck in native code ends the process with a message naming ``label``.
    """
    import signal
    import time

    from conformance.runtime import grace

    if not seconds:
        yield
        return
    if watchdog is not None:
        watchdog.current = (label, time.monotonic() + seconds + grace(seconds))

    def expired(signum: int, frame: object) -> None:
        raise SampleTimeout()

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if watchdog is not None:
            watchdog.current = None


def generate(metafunc: pytest.Metafunc, *, grads: bool) -> None:
    """Parametrize an op test by op name and dtype (no sample is drawn here).

    With per-sample timeouts the test itself gets no pytest-timeout (``timeout(0)``):
    :func:`sweep` bounds each sample. Elsewhere ``--op-timeout`` bounds the whole test.
    """
    config = metafunc.config
    dtypes = config.getoption("conformance_dtypes") or DEFAULT_DTYPES
    timeout = pytest.mark.timeout(0 if per_sample_timeouts() else op_timeout(config))
    ops = op_db()
    params = [
        pytest.param(name, dtype, id=f"{name}-{dtype}", marks=timeout)
        for name in select_ops(config.getoption("conformance_ops"))
        for dtype in dtypes
        if supports(ops[name], dtype, grads=grads)
    ]
    metafunc.parametrize(("op_name", "dtype"), params)


def _sample_limit(request: pytest.FixtureRequest, op_name: str) -> int | None:
    """How many samples a test runs: all, or one in the smoke tier.

    Ops listed in the manifest always run every sample, so a strict expected failure
    stays decidable in any tier; so do the ops of the full-sample fraction.
    """
    state = state_of(request.config)
    if state.tier == "full" or PROP_CATEGORY in dict(request.node.user_properties):
        return None
    return None if in_full_sample(op_name, state.full_sample) else 1


def _aten_name(counter: str) -> str:
    """``abs`` for the fallback counter ``aten::abs.out``."""
    return counter.removeprefix("aten::").split(".")[0]


def sweep(
    request: pytest.FixtureRequest, area: LazyArea, op_name: str, dtype: str, *, grads: bool
) -> None:
    """Run every sample of one op test, record its class, fail or skip as the module says."""
    state = state_of(request.config)
    op = op_db()[op_name]
    manifest = state.manifest
    tolerance = manifest.tolerance(op_name, dtype) if manifest is not None else None
    declared = set(getattr(area, "native_ops", None) or ())
    must_be_native = manifest is not None and manifest.declares_native(op_name, dtype)
    seed = zlib.crc32(str(dict(request.node.user_properties)[PROP_ID]).encode())
    outcome = OpOutcome()
    descriptions: dict[int, str] = {}
    limit = _sample_limit(request, op_name)
    test_id = str(dict(request.node.user_properties)[PROP_ID])
    seconds = op_timeout(request.config) if per_sample_timeouts() else 0.0
    for index, sample in enumerate(samples(op, dtype, grads=grads, limit=limit)):
        description = describe(sample)
        label = f"{test_id}, sample {index} ({description})"
        breadcrumb(request.config, label)
        try:
            with sample_deadline(seconds, state.watchdog, label):
                result = run_sample(
                    area, op, sample, index, seed=seed + index, tolerance=tolerance, grads=grads
                )
        except SampleTimeout:
            _cleanup(area)
            message = f"Timeout (>{seconds:g}s): {OP_TIMEOUT_NOTE}; later samples not run"
            result = SampleOutcome(index, "error", message)
        outcome.samples.append(result)
        if result.klass != "native":
            descriptions[index] = description
        if result.message.startswith("Timeout (>"):
            break
    breadcrumb(request.config, "")
    request.node.user_properties += [
        (PROP_DISPATCH, outcome.klass),
        (PROP_FALLBACKS, outcome.fallbacks),
    ]
    if outcome.klass == "skipped":
        reasons = sorted({s.message for s in outcome.samples})
        pytest.skip(
            f"no sample to compare: CPU raised on every sample ({'; '.join(reasons)[:300]})"
            if outcome.samples
            else f"OpInfo yields no {dtype} sample for {op_name}"
        )
    problems = [s for s in outcome.ran if s.klass in ("wrong", "error")]
    for s in outcome.ran:
        if s.klass != "fallback":
            continue
        claimed = [f for f in s.fallbacks if _aten_name(f) in declared]
        if must_be_native or claimed:
            detail = (
                f"which the backend declares native (native_ops): {', '.join(claimed)}"
                if claimed
                else "but the manifest declares the op native"
            )
            s.message = f"fell back to CPU ({', '.join(s.fallbacks)}), {detail}"
            problems.append(s)
    if problems:
        problems.sort(key=lambda s: s.index)
        first = problems[0]
        summary = ", ".join(f"{n} {k}" for k, n in outcome.counts().items() if n)
        pytest.fail(
            f"{first.klass}: sample {first.index} ({descriptions[first.index]}): "
            f"{first.message} [{len(problems)} of {len(outcome.samples)} samples failed; "
            f"{summary}]",
            pytrace=False,
        )
