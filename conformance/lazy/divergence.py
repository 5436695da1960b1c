"""First divergent node: which IR node of a failing program computes a wrong value.

When a program's result on the backend disagrees with CPU, :func:`first_divergence`
runs the program again on the backend with every recorded op executed as a graph of
its own, in execution (trace) order: each op's output is synced right after it was
recorded and compared with the same aten op run on CPU *on the backend's own input
values*. The first op whose output differs is the first divergent node; because its
inputs were the backend's, the error is that node's own, not one inherited from
earlier nodes. The report names the node (its IR text on the backend), where the
program recorded it, how far off it is, and a minimal program reproducing it.

This sees the functional aten ops the device records (a ``TorchDispatchMode`` under
functionalization), which are the ops of its IR. A bug that only appears when nodes
are compiled together (a fusion) is not found node by node; :func:`explain` says so.
"""

from __future__ import annotations

import functools
import os
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten, tree_leaves, tree_map, tree_unflatten

from conformance.contract import LazyArea
from conformance.lazy.dialects import ops
from reference_impl.lazy import ops as opfacts

#: Ops whose outputs are random or uninitialized: never compared (matched as words in
#: the names of torch calls: ``rand`` covers ``torch.rand`` and ``Tensor.random_``).
#: One shared list: the op table's ``values`` column (:mod:`reference_impl.lazy.ops`).
NONDETERMINISTIC: tuple[str, ...] = tuple(sorted(opfacts.RANDOM | opfacts.UNINITIALIZED))

#: Inputs with at most this many elements are written into the reproducer verbatim.
MAX_LITERAL = 512

_INTERNAL_DIRS = (
    os.path.dirname(torch.__file__) + os.sep,
    os.path.abspath(__file__),
)


@dataclass
class Divergence:
    """The first node whose backend value differs from CPU's on the same inputs."""

    index: int  # position among the compared calls, in execution order (0-based)
    op: str  # the IR op at the root of the call's graph, e.g. "relu"
    call: str  # the torch call that recorded it, e.g. "torch.relu"
    ir: str  # the node's graph (device data inputs only) in the backend's dialect
    where: str  # the program line that recorded it
    mismatch: str  # assert_close's account of the difference
    repro: str  # a minimal program reproducing it

    def describe(self) -> str:
        return "\n".join(
            [
                f"first divergent node: {self.op} (call #{self.index} in execution order: "
                f"{self.call}), recorded at {self.where}",
                "its IR on the backend (inputs are the backend's own values):",
                self.ir.rstrip(),
                "difference from CPU on the same inputs:",
                self.mismatch.rstrip(),
                "minimal program reproducing it:",
                self.repro.rstrip(),
            ]
        )


def _program_file(run: Callable[..., object]) -> str | None:
    """The source file of the program ``run`` (unwrapping partials), if it has one."""
    while isinstance(run, functools.partial):
        run = run.func
    code = getattr(run, "__code__", None) or getattr(type(run).__call__, "__code__", None)
    return code.co_filename if code is not None else None


def _user_frame(program_file: str | None = None) -> str:
    """The program line making the current call: the innermost frame in the program's
    file, else the innermost frame outside torch and this module. A backend's own frames
    (a ``mark_step`` written in Python calling torch) are never in the program's file."""
    frames = traceback.extract_stack()[:-3]
    for frame in reversed(frames):
        if program_file is not None:
            found = frame.filename == program_file
        else:
            found = not frame.filename.startswith(_INTERNAL_DIRS)
        if found:
            return f"{frame.filename}:{frame.lineno} in {frame.name}: {frame.line or ''}".rstrip()
    return "<unknown>" if program_file is None else _user_frame(None)


def _literal(t: torch.Tensor, k: int) -> str:
    dtype = str(t.dtype)
    if t.numel() <= MAX_LITERAL:
        return f"a{k} = torch.tensor({t.tolist()!r}, dtype={dtype})"
    shape = tuple(t.shape)
    if t.is_floating_point():
        make = f"torch.randn({shape}, generator=g).to({dtype})"
    else:
        make = f"torch.randint(0, 2, {shape}, generator=g).to({dtype})"
    return f"a{k} = {make}  # {t.numel()} elements: random, not the failing values"


def reproducer(name: str, args: Any, cpu_args: Any, device: str) -> str:
    """Program text calling ``name`` on the failing inputs on ``device`` and on CPU.

    ``args`` is ``(positional, keyword)`` as the program passed them, ``cpu_args`` the
    same with device tensors replaced by their (backend-computed) CPU values.
    """
    lines = ["import torch", "", f'device = "{device}"', "g = torch.Generator().manual_seed(0)"]
    flat, spec = tree_flatten(args)
    flat_cpu, _ = tree_flatten(cpu_args)
    names: dict[int, str] = {}
    on_device: list[Any] = []
    on_cpu: list[Any] = []
    for original, value in zip(flat, flat_cpu, strict=True):
        if isinstance(value, torch.Tensor):
            if id(original) not in names:
                names[id(original)] = f"a{len(names)}"
                lines.append(_literal(value, len(names) - 1))
            var = names[id(original)]
            moved = isinstance(original, torch.Tensor) and original.device.type == device
            on_device.append(_Code(f"{var}.to(device)" if moved else var))
            on_cpu.append(_Code(var))
        elif value is not original:  # a device argument, mapped to CPU
            on_device.append(_Code("device"))
            on_cpu.append(value)
        else:
            on_device.append(original)
            on_cpu.append(original)

    def call(leaves: list[Any]) -> str:
        positional, keyword = tree_unflatten(leaves, spec)
        parts = [repr(a) for a in positional] + [f"{k}={v!r}" for k, v in keyword.items()]
        target = f"torch.{name}" if name.startswith("Tensor.") else name
        return f"{target}({', '.join(parts)})"

    lines += [
        f"expected = {call(on_cpu)}",
        f"actual = {call(on_device)}",
        "torch.testing.assert_close(",
        "    torch.utils._pytree.tree_map(lambda t: t.cpu(), actual), expected",
        ")",
    ]
    return "\n".join(lines) + "\n"


class _Code:
    """A bit of program text that reprs as itself."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _func_name(func: Any) -> str:
    qualname = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    module = getattr(func, "__module__", None) or ""
    if module.startswith("torch.nn.functional"):
        return f"torch.nn.functional.{qualname}"
    if qualname and qualname.startswith(("Tensor.", "TensorBase.", "_TensorBase.")):
        return "Tensor." + qualname.split(".", 1)[1]
    return f"torch.{qualname}" if qualname else repr(func)


#: Calls never compared: attribute access, and calls without a value of their own.
SKIPPED = ("__get__", "__set__", "__delete__", "backward", "__repr__", "__format__", "__len__")


class _Probe(TorchFunctionMode):
    """Runs each torch call, syncs its outputs at once, and compares them with CPU's."""

    def __init__(
        self,
        area: LazyArea,
        rtol: float | None,
        atol: float | None,
        program_file: str | None = None,
    ) -> None:
        super().__init__()
        self.area = area
        self.program_file = program_file
        self.rtol, self.atol = rtol, atol
        self.compared = 0
        self.found: Divergence | None = None
        #: What the probe is doing now (for the message when the backend raises).
        self.doing = "starting the program"

    def _on_device(self, x: Any) -> bool:
        return isinstance(x, torch.Tensor) and x.device.type == self.area.device

    def _to_cpu(self, x: Any) -> Any:
        if self._on_device(x):
            return x.detach().cpu()
        if isinstance(x, torch.device) and x.type == self.area.device:
            return torch.device("cpu")
        if isinstance(x, str) and x.split(":")[0] == self.area.device:
            return "cpu"
        return x

    def __torch_function__(
        self, func: Any, types: Any, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None
    ) -> Any:
        kwargs = kwargs or {}
        name = _func_name(func)
        check = (
            self.found is None
            and not any(word in name for word in SKIPPED)
            and not any(word in name for word in NONDETERMINISTIC)
        )
        leaves = tree_leaves((args, kwargs)) if check else []
        check = check and any(
            self._on_device(x) or isinstance(x, str | torch.device) for x in leaves
        )
        cpu_args: Any = None
        cpu_kwargs: Any = None
        where = f"call #{self.compared + 1} ({name}, recorded at {_user_frame()})"
        if check:
            # Every input becomes device data first: the call's graph is its own nodes only.
            inputs = [x for x in leaves if self._on_device(x)]
            self.doing = f"syncing the inputs of {where} on their own"
            if inputs:
                self.area.sync_multi(inputs)
            cpu_args = tree_map(self._to_cpu, list(args))
            cpu_kwargs = tree_map(self._to_cpu, kwargs)
        self.doing = f"running {where}"
        out = func(*args, **kwargs)
        if not check:
            return out
        outs = [t for t in tree_leaves(out) if self._on_device(t)]
        if not outs:
            return out
        self.doing = f"printing the IR of {where}"
        ir = self.area.ir_text(outs)
        self.doing = f"syncing the outputs of {where} on their own"
        self.area.sync_multi(outs)
        self.doing = f"copying the outputs of {where} to CPU"
        actual = [t.detach().cpu() for t in outs]
        self.doing = f"running {where} on CPU"
        expected_out = func(*cpu_args, **cpu_kwargs)
        expected = [t for t in tree_leaves(expected_out) if isinstance(t, torch.Tensor)]
        index = self.compared
        self.compared += 1
        try:
            if len(actual) != len(expected):
                raise AssertionError(f"{len(actual)} outputs, CPU has {len(expected)}")
            for got, want in zip(actual, expected, strict=True):
                torch.testing.assert_close(got, want.detach(), rtol=self.rtol, atol=self.atol)
        except AssertionError as exc:
            found = ops(ir, self.area.ir_dialect) if ir else []
            self.found = Divergence(
                index=index,
                op=found[-1] if found else name,
                call=name,
                ir=ir,
                where=_user_frame(self.program_file),
                mismatch=str(exc),
                repro=reproducer(
                    name, (list(args), kwargs), (cpu_args, cpu_kwargs), self.area.device
                ),
            )
        return out


def first_divergence(
    area: LazyArea,
    run: Callable[[str], object],
    *,
    rtol: float | None = None,
    atol: float | None = None,
) -> Divergence | None:
    """Run ``run(area.device)`` node by node; the first node that differs from CPU, or None.

    ``run`` must be deterministic and build its own inputs (the failing program, run
    again). Tolerances default to ``torch.testing.assert_close``'s for the dtype.
    """
    area.mark_step()
    probe = _Probe(area, rtol, atol, _program_file(run))
    try:
        with probe:
            run(area.device)
    except Exception as exc:
        raise AnalysisError(probe.doing, exc) from exc
    area.mark_step()
    return probe.found


class AnalysisError(RuntimeError):
    """The backend raised while the analysis replayed the program call by call."""

    def __init__(self, doing: str, cause: Exception) -> None:
        first = (str(cause).strip().splitlines() or [""])[0][:300]
        super().__init__(f"{doing}: {type(cause).__name__}: {first}")
        self.doing, self.cause = doing, cause


def explain(area: LazyArea, run: Callable[[str], object]) -> str:
    """A paragraph for a failure message: the first divergent node, or why none was found.

    The analysis syncs every call's inputs and outputs on their own, which some backends
    cannot do (torch_xla 2.9: ``Check failed: !buffer->IsDeleted()``); then the
    paragraph says where the replay stopped and why, and the original failure stands.
    """
    import contextlib

    try:
        found = first_divergence(area, run)
    except AnalysisError as exc:  # the analysis must never hide the original failure
        with contextlib.suppress(Exception):
            area.mark_step()
        return (
            f"first divergent node not found: the backend raised while {exc}. The analysis "
            "replays the program syncing each call on its own; this backend could not, so "
            "only the difference above is known"
        )
    except Exception as exc:
        return f"(first-divergent-node analysis failed: {type(exc).__name__}: {exc})"
    if found is None:
        return (
            "no single node differs from CPU when each runs alone on the backend's inputs: "
            "the difference comes from nodes compiled together, or from outside the IR"
        )
    return found.describe()


def assert_close_or_explain(
    area: LazyArea,
    actual: Any,
    expected: Any,
    run: Callable[[str], object],
    *,
    rtol: float | None = None,
    atol: float | None = None,
    what: str = "result",
) -> None:
    """``torch.testing.assert_close``; a failure's message also names the first divergent node."""
    try:
        torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol)
    except AssertionError as exc:
        raise AssertionError(f"{what} differs from CPU: {exc}\n\n{explain(area, run)}") from None
