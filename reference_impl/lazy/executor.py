"""The pure-Python executor: compiles a graph once per graph hash and runs it on CPU.

Compiling lowers the post-ordered nodes to a :class:`Program`: numbered *slots*, one
per node, and one :class:`Instruction` per non-leaf node, ``slot = kernel(args)``, whose
arguments name other slots (:class:`Ref`) or are literal values. The program holds no
IR node and no data: its inputs are the graph's ``device_data`` leaves in post order,
passed to every run. The instructions become the body of one generated Python function
(:attr:`Program.source`), so running a program costs one Python call per instruction
and nothing else.

A program depends only on the graph's structure, so it is cached under
:func:`reference_impl.lazy.ir.graph_hash` and reused for every later graph with the same
hash (``CachedCompile``), whatever its data; a cached program keeps no earlier step's
tensors alive.

*Donation* (what LTC backends call input/output aliasing): when a graph input is dead
(no lazy tensor holds its data any more, see :func:`reference_impl.lazy.sync.sync_tensors`)
and a result is a pointwise op of that input with its type, the program writes the
result into the input's storage (the op's ``out=`` variant). An optimizer's
``p.add_(g, alpha=-lr)`` then updates the parameter's storage in place, step after step,
as eager CPU does, instead of allocating a new tensor every step.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch

from reference_impl.lazy import metrics, ops
from reference_impl.lazy.ir import (
    CONSTANT,
    DEVICE_DATA,
    TENSOR_LIST,
    Node,
    Value,
    graph_hash,
    post_order,
    verify,
)


class Operand(NamedTuple):
    """In an argument template: the ``k``-th operand of the node."""

    k: int


class ScalarOperand(NamedTuple):
    """In an argument template: the ``k``-th operand, passed as a Python number."""

    k: int


class GeneratorOperand(NamedTuple):
    """In an argument template: a CPU generator in the state held by the ``k``-th operand.

    A seeded ``torch.Generator`` passed to a random op is recorded as device data (its
    state when the op was traced), so a cached program draws the same numbers CPU would
    have drawn at that point, whatever generator the program was compiled for.
    """

    k: int


class Ref(NamedTuple):
    """In an instruction's arguments: output ``output`` of the value in ``slot``.

    ``kind`` is ``"tensor"``, ``"scalar"`` (passed as a Python number) or
    ``"generator"`` (a CPU generator in the state the tensor holds).
    """

    slot: int
    output: int = 0
    kind: str = "tensor"


@dataclass(frozen=True, eq=False)
class Instruction:
    """``slot = kernel(*args, **kwargs)``: one node of a compiled program, without the node.

    ``op`` is the node's printed op (``aten::add``); ``target`` the ATen op recorded,
    ``kernel`` what runs (the view op for a ``*_copy``, see :mod:`.ops`); ``indexed``
    whether the result is a sequence its users index (several outputs, or a list).
    """

    slot: int
    op: str
    target: Any
    kernel: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    dtypes: tuple[torch.dtype, ...]
    shapes: tuple[tuple[int, ...], ...]
    indexed: bool
    #: When set: the input slot whose storage receives the result (donation).
    out: int | None = None


def generator(state: torch.Tensor) -> torch.Generator:
    """A CPU generator in ``state`` (for :class:`GeneratorOperand` arguments)."""
    gen = torch.Generator()
    gen.set_state(state)
    return gen


def kernel(instruction: Instruction) -> Callable[..., Any]:
    """The callable an instruction runs (the hook point of deliberately broken variants).

    For a donated instruction this is the op's ``out=`` variant.
    """
    op = (
        _out_variant(instruction.target)
        if instruction.out is not None
        else _VIEW_OF_COPY.get(instruction.target, instruction.target)
    )
    # An OpOverload's __call__ only forwards to its C++ callable: call that directly.
    return getattr(op, "_op", op)


@functools.cache
def _out_variant(target: Any) -> Any:
    """``aten.add.out`` for ``aten.add.Tensor``: the overload taking the same arguments
    plus ``out``, or None when the op has none."""
    schema = getattr(target, "_schema", None)
    packet = getattr(target, "overloadpacket", None)
    if schema is None or packet is None:
        return None
    wanted = [(a.name, str(a.type)) for a in schema.arguments]
    for name in packet.overloads():
        candidate = getattr(packet, name)
        arguments = candidate._schema.arguments
        if [a.name for a in arguments if a.is_out] != ["out"]:
            continue
        if [(a.name, str(a.type)) for a in arguments if not a.is_out] == wanted:
            return candidate
    return None


def _is_pointwise(target: Any) -> bool:
    return torch.Tag.pointwise in getattr(target, "tags", ())


def _returns_list(target: Any) -> bool:
    schema = getattr(target, "_schema", None)
    return schema is not None and any(isinstance(r.type, torch.ListType) for r in schema.returns)


_VIEW_OF_COPY: dict[Any, Any] = ops.views_of_copies()


@dataclass(eq=False)
class Program:
    """A compiled graph: input slots, instructions, output references and their code.

    ``inputs`` are the post-order numbers of the graph's ``device_data`` leaves: a run
    takes their data in that order. ``donated`` lists the positions (in ``inputs``)
    whose storage receives a result.
    """

    inputs: list[int]
    instructions: tuple[Instruction, ...]
    outputs: list[tuple[int, int]]
    size: int
    donated: tuple[int, ...] = ()
    source: str = field(default="", repr=False)
    _function: Callable[[Sequence[torch.Tensor]], list[torch.Tensor]] | None = field(
        default=None, repr=False
    )

    def run(self, data: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Execute on ``data`` (one tensor per input) and return the outputs."""
        if len(data) != len(self.inputs):
            raise ValueError(f"program takes {len(self.inputs)} inputs, got {len(data)}")
        assert self._function is not None
        return self._function(data)


@dataclass
class _Lowered:
    """A graph lowered to instructions, before donation and code generation."""

    inputs: list[int]
    instructions: list[Instruction]
    outputs: list[tuple[int, int]]
    leaf_types: dict[int, tuple[torch.dtype, tuple[int, ...]]]
    size: int


def _lower(order: list[Node], roots: Sequence[Value]) -> _Lowered:
    number = {id(node): i for i, node in enumerate(order)}
    inputs: list[int] = []
    instructions: list[Instruction] = []
    leaf_types: dict[int, tuple[torch.dtype, tuple[int, ...]]] = {}
    for i, node in enumerate(order):
        if node.op == DEVICE_DATA:
            inputs.append(i)
            leaf_types[i] = (node.dtypes[0], node.shapes[0])
            continue
        if node.op == CONSTANT:
            instructions.append(
                Instruction(i, CONSTANT, None, None, (node.template,), {}, (), (), False)
            )
            continue
        refs = [(number[id(v.node)], v.index) for v in node.operands]
        if node.op == TENSOR_LIST:
            args: tuple[Any, ...] = tuple(Ref(s, j) for s, j in refs)
            kwargs: dict[str, Any] = {}
        else:
            args_t, kwargs_t = node.template
            args = tuple(_resolve(t, refs) for t in args_t)
            kwargs = {name: _resolve(t, refs) for name, t in kwargs_t.items()}
        indexed = node.op != TENSOR_LIST and (node.num_outputs != 1 or _returns_list(node.target))
        instructions.append(
            Instruction(
                i, node.op, node.target, None, args, kwargs, node.dtypes, node.shapes, indexed
            )
        )
    outputs = [(number[id(r.node)], r.index) for r in roots]
    return _Lowered(inputs, instructions, outputs, leaf_types, len(order))


def compile_graph(
    order: list[Node],
    roots: Sequence[Value],
    donate: Sequence[int] = (),
    shared: Sequence[int] = (),
) -> Program:
    """Lower post-ordered ``order`` to a :class:`Program` (no node is kept).

    ``donate`` lists input positions whose storage may receive a result (a subset of
    :func:`donation_candidates`; see the module docstring); ``shared[p]`` is the first
    input position holding the same storage as input ``p`` (inputs sharing a storage
    alias each other).
    """
    low = _lower(order, roots)
    allowed = {low.inputs[p] for p in donate}
    targets = _donation_targets(low, allowed, shared) if allowed else {}
    instructions = [
        instr
        if instr.op in (CONSTANT, TENSOR_LIST)
        else _with_kernel(_replace(instr, out=targets.get(instr.slot)))
        for instr in low.instructions
    ]
    donated = tuple(sorted(low.inputs.index(s) for s in targets.values()))
    program = Program(low.inputs, tuple(instructions), low.outputs, low.size, donated)
    program.source, program._function = _generate(program)
    return program


def _with_kernel(instr: Instruction) -> Instruction:
    return _replace(instr, kernel=kernel(instr))


def donation_candidates(order: list[Node], roots: Sequence[Value]) -> tuple[int, ...]:
    """Input positions whose storage a result could be written into (structure only).

    Whether an input is donated also depends on its data being dead, which the caller
    decides per run (:func:`execute`).
    """
    low = _lower(order, roots)
    targets = _donation_targets(low, set(low.inputs))
    return tuple(sorted(low.inputs.index(s) for s in targets.values()))


def _replace(instr: Instruction, **changes: Any) -> Instruction:
    fields = {name: getattr(instr, name) for name in Instruction.__dataclass_fields__}
    fields.update(changes)
    return Instruction(**fields)


def _resolve(template: Any, refs: list[tuple[int, int]]) -> Any:
    """An argument template with its operand placeholders turned into :class:`Ref`."""
    if isinstance(template, Operand):
        return Ref(*refs[template.k])
    if isinstance(template, ScalarOperand):
        return Ref(*refs[template.k], kind="scalar")
    if isinstance(template, GeneratorOperand):
        return Ref(*refs[template.k], kind="generator")
    if isinstance(template, list):
        return [_resolve(t, refs) for t in template]
    return template


def _refs_of(instr: Instruction) -> list[Ref]:
    found: list[Ref] = []

    def walk(x: Any) -> None:
        if isinstance(x, Ref):
            found.append(x)
        elif isinstance(x, list | tuple):
            for item in x:
                walk(item)

    walk(instr.args)
    walk(list(instr.kwargs.values()))
    return found


def _donation_targets(
    low: _Lowered, allowed: set[int], shared: Sequence[int] = ()
) -> dict[int, int]:
    """Instruction slot -> input slot (one of ``allowed``) whose storage receives its result.

    An input ``s`` receives the result of a
    root instruction ``I`` when ``I`` is pointwise with an ``out=`` variant, reads
    ``s`` directly, has one output of ``s``'s dtype and shape, every other reader of
    ``s`` or of a view of ``s`` runs before ``I``, and no other output is (a view of) ``s``.
    """
    instructions, outputs = low.instructions, low.outputs
    # Which input each slot may alias: views (run as views) alias their operand.
    alias: dict[int, set[int]] = {s: {s} for s in low.inputs}
    for p, q in enumerate(shared):  # inputs holding one storage alias each other
        if q != p:
            group = alias[low.inputs[p]] | alias[low.inputs[q]]
            for slot in group:
                alias[slot] = group
    position = {instr.slot: k for k, instr in enumerate(instructions)}
    readers: dict[int, list[int]] = {}
    for instr in instructions:
        refs = _refs_of(instr)
        for ref in refs:
            for source in alias.get(ref.slot, ()):
                readers.setdefault(source, []).append(instr.slot)
        if instr.target in _VIEW_OF_COPY or instr.op == TENSOR_LIST:
            aliased = set().union(*(alias.get(r.slot, set()) for r in refs)) if refs else set()
            if aliased:
                alias[instr.slot] = aliased
    output_slots = [s for s, _ in outputs]
    targets: dict[int, int] = {}
    taken: set[int] = set()
    for root in dict.fromkeys(output_slots):
        if root not in position:
            continue  # an input is itself an output
        instr = instructions[position[root]]
        if instr.op in (CONSTANT, TENSOR_LIST) or instr.indexed:
            continue
        if not _is_pointwise(instr.target) or _out_variant(instr.target) is None:
            continue
        direct = {r.slot for r in _refs_of(instr) if r.kind == "tensor"}
        for s in sorted(direct & allowed - taken):
            dtype, shape = low.leaf_types[s]
            if (dtype, shape) != (instr.dtypes[0], instr.shapes[0]):
                continue
            if not shape or 0 in shape:
                continue  # 0-dim data may be a shared scalar; empty data has no storage
            # Every reader of s (or of a view of s) must run before this instruction;
            # the instruction itself may read s itself, not a view of it.
            others = [r for r in readers.get(s, []) if r != root]
            if any(position[r] > position[root] for r in others):
                continue
            views = {r.slot for r in _refs_of(instr)} - {s}
            if any(s in alias.get(v, ()) for v in views):
                continue
            if any(s in alias.get(o, ()) for o in output_slots if o != root):
                continue
            targets[root] = s
            taken.add(s)
            break
    return targets


def _generate(program: Program) -> tuple[str, Callable[[Sequence[torch.Tensor]], Any]]:
    """The program as Python source, and the function it defines."""
    namespace: dict[str, Any] = {"_generator": generator}
    constants: dict[int, str] = {}

    def literal(value: Any) -> str:
        if value is None or type(value) is int:
            return repr(value)
        name = constants.get(id(value))
        if name is None:
            name = constants[id(value)] = f"c{len(constants)}"
            namespace[name] = value
        return name

    indexed = {i.slot for i in program.instructions if i.indexed}

    def ref(r: Ref) -> str:
        text = f"v{r.slot}[{r.output}]" if r.slot in indexed else f"v{r.slot}"
        if r.kind == "scalar":
            return f"{text}.item()"
        if r.kind == "generator":
            return f"_generator({text})"
        return text

    def arg(x: Any) -> str:
        if isinstance(x, Ref):
            return ref(x)
        if isinstance(x, list):
            return "[" + ", ".join(arg(item) for item in x) + "]"
        return literal(x)

    lines = ["def program(inputs):"]
    if program.inputs:
        names = ", ".join(f"v{s}" for s in program.inputs)
        lines.append(f"    {names}, = inputs")
    for instr in program.instructions:
        target = f"v{instr.slot}"
        if instr.op == CONSTANT:
            lines.append(f"    {target} = {literal(instr.args[0])}")
            continue
        if instr.op == TENSOR_LIST:
            lines.append(f"    {target} = [{', '.join(ref(r) for r in instr.args)}]")
            continue
        k = f"k{instr.slot}"
        namespace[k] = instr.kernel
        parts = [arg(a) for a in instr.args]
        parts += [f"{name}={arg(v)}" for name, v in instr.kwargs.items()]
        if instr.out is not None:
            parts.append(f"out=v{instr.out}")
        lines.append(f"    {target} = {k}({', '.join(parts)})")
    outs = ", ".join(f"v{s}[{j}]" if s in indexed else f"v{s}" for s, j in program.outputs)
    lines.append(f"    return [{outs}]")
    source = "\n".join(lines) + "\n"
    code = compile(source, "<lazy program>", "exec")
    exec(code, namespace)  # our own generated code, built from the IR
    return source, namespace["program"]


_cache: dict[Any, Program] = {}
_candidates: dict[str, tuple[int, ...]] = {}


def clear_cache() -> None:
    """Forget every compiled program (the next step compiles again)."""
    _cache.clear()
    _candidates.clear()


def cache_entries() -> list[Program]:
    """The compiled programs in the cache (for tests and tools; they hold no node or data)."""
    return list(_cache.values())


def execute(
    roots: Sequence[Value], dead: Callable[[torch.Tensor], bool] | None = None
) -> list[torch.Tensor]:
    """Run the graph under ``roots``; compile it first unless its hash is cached.

    ``dead(data)`` says whether a graph input's data is held by nothing but this graph:
    such inputs may receive results (donation), unless another input shares their
    storage. Without it nothing is donated.
    """
    order = post_order(roots)
    key = graph_hash(roots, order)
    data = [node.data for node in order if node.op == DEVICE_DATA]
    donate: tuple[int, ...] = ()
    shared: tuple[int, ...] = ()
    if dead is not None:
        candidates = _candidates.get(key)
        if candidates is None:
            verify(roots)
            candidates = _candidates[key] = donation_candidates(order, roots)
        if candidates:
            donate = tuple(p for p in candidates if dead(data[p]))  # type: ignore[arg-type]
        if donate:
            # Two leaves may hold one storage (two lazy tensors of the same data): such
            # inputs alias each other, which the program must know (part of its key).
            first: dict[int, int] = {}
            shared = tuple(
                first.setdefault(d.untyped_storage().data_ptr(), p)  # type: ignore[union-attr]
                for p, d in enumerate(data)
            )
    program = _cache.get((key, donate, shared))
    if program is None:
        metrics.increment("UncachedCompile")
        verify(roots)
        program = _cache[(key, donate, shared)] = compile_graph(order, roots, donate, shared)
    else:
        metrics.increment("CachedCompile")
    return program.run(data)  # type: ignore[arg-type]
