"""Random small lazy-tensor programs: what they are made of and how they are drawn.

A :class:`Program` is Python source over a device string ``d``: inputs made on CPU from
a seed and moved with ``.to(d)`` (:func:`inp`), then one statement per line, then
``out = [...]``, the tensors whose IR and values are compared. Its ``repr`` is that
source, so hypothesis prints a failing (shrunk) program as code one can paste.

:func:`programs` is the hypothesis strategy. Each drawn statement comes from
:data:`RULES`, one row per kind of op (elementwise with tensors or Python scalars,
reductions, matrix products, views, in-place updates directly or through a view,
dtype conversions, device factories); a row picks operands whose shape and dtype fit.
The statement is run on CPU as it is drawn: one CPU rejects is dropped, so the rows
need not know every rule of every op, and the next draws see the real shapes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from hypothesis import strategies as st

#: Input shapes (small: values are compared on every example).
SHAPES: tuple[tuple[int, ...], ...] = ((3, 4), (4,), (2, 3, 4), (4, 4), (1, 4), (), (2, 4))
#: Input dtypes, the first one most often (shrinking moves toward it).
DTYPES: tuple[torch.dtype, ...] = (torch.float32, torch.int64, torch.float64, torch.bool)


def inp(
    device: str,
    shape: list[int],
    *,
    seed: int,
    dtype: torch.dtype = torch.float32,
    grad: bool = False,
) -> torch.Tensor:
    """A deterministic input made on CPU, moved to ``device``.

    Floats are in [-2, 2), integers in [-3, 5), bools half true.
    """
    gen = torch.Generator().manual_seed(1000 + seed)
    if dtype.is_floating_point:
        t = (torch.rand(shape, generator=gen, dtype=torch.float64) * 4 - 2).to(dtype)
    elif dtype == torch.bool:
        t = torch.rand(shape, generator=gen) > 0.5
    else:
        t = torch.randint(-3, 5, shape, generator=gen, dtype=dtype)
    t = t.to(device)
    return t.requires_grad_() if grad else t


@dataclass(frozen=True)
class Input:
    name: str
    shape: tuple[int, ...]
    dtype: torch.dtype
    grad: bool

    def line(self, seed: int) -> str:
        extra = "" if self.dtype == torch.float32 else f", dtype={self.dtype}"
        extra += ", grad=True" if self.grad else ""
        return f"{self.name} = inp(d, {list(self.shape)}, seed={seed}{extra})"


@dataclass(frozen=True)
class Program:
    """Inputs, statements and outputs; ``source`` is runnable with ``d`` and :func:`inp` bound."""

    inputs: tuple[Input, ...]
    lines: tuple[str, ...]
    outputs: tuple[str, ...]

    def source(self) -> str:
        head = [x.line(i) for i, x in enumerate(self.inputs)]
        return "\n".join([*head, *self.lines, f"out = [{', '.join(self.outputs)}]"]) + "\n"

    def __repr__(self) -> str:
        return "\n" + self.source()


def run(source: str, device: str) -> list[torch.Tensor]:
    """Execute a program's source on ``device`` and return its ``out`` list."""
    env: dict[str, Any] = {"torch": torch, "F": torch.nn.functional, "inp": inp, "d": device}
    torch.manual_seed(0)
    exec(compile(source, "<program>", "exec"), env)
    out = env["out"]
    assert isinstance(out, list)
    return out


# --------------------------------------------------------------------------- drawing


@dataclass
class Draft:
    """A program being drawn: its lines so far and the CPU value of every variable."""

    draw: Callable[..., Any]
    env: dict[str, Any]
    lines: list[str] = field(default_factory=list)
    count: int = 0
    inputs: list[str] = field(default_factory=list)

    def tensors(self, pred: Callable[[torch.Tensor], bool] = lambda t: True) -> list[str]:
        return [
            k for k, v in self.env.items() if isinstance(v, torch.Tensor) and k != "d" and pred(v)
        ]

    def pick(self, pred: Callable[[torch.Tensor], bool] = lambda t: True) -> str | None:
        names = self.tensors(pred)
        return self.draw(st.sampled_from(names)) if names else None

    def new(self) -> str:
        self.count += 1
        return f"v{self.count}"

    def try_line(self, line: str) -> bool:
        """Run ``line`` on CPU; keep it if CPU accepts it (and its results are tensors)."""
        trial = dict(self.env)
        snapshot = {k: v.detach().clone() for k, v in self.env.items() if _is_tensor(v)}
        try:
            exec(compile(line, "<line>", "exec"), trial)
        except Exception:
            for k, v in snapshot.items():  # an in-place op may have written before raising
                with torch.no_grad():
                    self.env[k].copy_(v)
            return False
        self.env.update({k: v for k, v in trial.items() if k not in self.env or _is_tensor(v)})
        self.lines.append(line)
        return True


def _is_tensor(v: Any) -> bool:
    return isinstance(v, torch.Tensor)


def _float(t: torch.Tensor) -> bool:
    return t.is_floating_point()


def _numeric(t: torch.Tensor) -> bool:
    return t.dtype != torch.bool


def _dims(n: int) -> Callable[[torch.Tensor], bool]:
    return lambda t: t.dim() == n


def _mutable(t: torch.Tensor) -> bool:
    """In-place targets: not leaves that require grad (CPU would refuse anyway)."""
    return not (t.is_leaf and t.requires_grad)


Rule = Callable[[Draft], str | None]

UNARY = [
    "abs",
    "neg",
    "exp",
    "sin",
    "cos",
    "tanh",
    "sigmoid",
    "relu",
    "sqrt",
    "rsqrt",
    "reciprocal",
    "ceil",
    "floor",
    "log",
]
BINARY = ["+", "-", "*", "/"]
BINARY_FN = ["maximum", "minimum", "eq", "lt", "gt", "ne", "ge"]
SCALARS = (2, 2.5, -1, 0.5, True)


def unary(p: Draft) -> str | None:
    a = p.pick(_numeric)
    name = p.draw(st.sampled_from(UNARY))
    return a and f"{p.new()} = torch.{name}({a})"


def activation(p: Draft) -> str | None:
    a = p.pick(_float)
    form = p.draw(
        st.sampled_from(
            [
                "F.gelu({a})",
                "F.leaky_relu({a}, 0.1)",
                "F.silu({a})",
                "F.hardtanh({a})",
                "torch.clamp({a}, -0.5, 1.5)",
                "torch.clamp_min({a}, 0.25)",
                "F.softplus({a})",
                "F.elu({a})",
                "torch.erf({a})",
                "torch.sign({a})",
                "torch.trunc({a})",
                "torch.round({a})",
                "torch.frac({a})",
                "torch.log1p(torch.abs({a}))",
                "torch.expm1({a})",
                "torch.atan({a})",
                "torch.square({a})",
            ]
        )
    )
    return a and f"{p.new()} = {form.format(a=a)}"


def logic(p: Draft) -> str | None:
    a = p.pick(lambda t: not t.is_floating_point())
    form = p.draw(st.sampled_from(["torch.logical_not({a})", "~{a}", "{a} & {a}", "{a} | ~{a}"]))
    return a and f"{p.new()} = {form.format(a=a)}"


def binary(p: Draft) -> str | None:
    a, b = p.pick(_numeric), p.pick(_numeric)
    if a is None or b is None:
        return None
    op = p.draw(st.sampled_from(BINARY))
    return f"{p.new()} = {a} {op} {b}"


def binary_fn(p: Draft) -> str | None:
    a, b = p.pick(_numeric), p.pick(_numeric)
    if a is None or b is None:
        return None
    name = p.draw(st.sampled_from(BINARY_FN))
    return f"{p.new()} = torch.{name}({a}, {b})"


def with_scalar(p: Draft) -> str | None:
    a = p.pick(_numeric)
    op = p.draw(st.sampled_from([*BINARY, "**", "rsub", "alpha"]))
    s = p.draw(st.sampled_from(SCALARS))
    if a is None:
        return None
    if op == "rsub":
        return f"{p.new()} = {s!r} - {a}"
    if op == "alpha":
        b = p.pick(_numeric)
        return f"{p.new()} = torch.add({a}, {b}, alpha={s!r})"
    return f"{p.new()} = {a} {op} {s!r}"


def ternary(p: Draft) -> str | None:
    a, b = p.pick(_float), p.pick(_float)
    if a is None or b is None:
        return None
    c = p.pick(lambda t: t.dtype == torch.bool)
    form = p.draw(
        st.sampled_from(
            [
                "torch.where({a} > 0, {a}, {b})",
                "torch.where({c}, {a}, {b})",
                "{a}.masked_fill({a} < 0, 0.5)",
                "{a}.masked_fill({c}, -1.0)",
                "torch.addcmul({a}, {a}, {b}, value=0.5)",
                "torch.addcdiv({a}, {b}, {b} * {b} + 1)",
                "torch.lerp({a}, {b}, 0.25)",
            ]
        )
    )
    if "{c}" in form and c is None:
        return None
    return f"{p.new()} = {form.format(a=a, b=b, c=c)}"


def reduction(p: Draft) -> str | None:
    a = p.pick(lambda t: t.dim() >= 1 and _numeric(t))
    if a is None:
        return None
    form = p.draw(
        st.sampled_from(
            [
                "{a}.sum()",
                "{a}.sum(-1)",
                "{a}.sum(0, keepdim=True)",
                "{a}.mean(-1)",
                "{a}.amax(-1)",
                "{a}.argmax(-1)",
                "{a}.max(-1).values",
                "{a}.min()",
                "torch.softmax({a}, -1)",
                "torch.log_softmax({a}, -1)",
                "torch.cumsum({a}, 0)",
                "{a}.norm()",
                "{a}.prod(-1)",
                "{a}.var(-1)",
                "{a}.std()",
                "{a}.all()",
                "{a}.any(-1)",
                "{a}.logsumexp(-1)",
                "torch.topk({a}, 1).values",
                "torch.sort({a}, -1).values",
            ]
        )
    )
    return f"{p.new()} = {form.format(a=a)}"


def matmul(p: Draft) -> str | None:
    a = p.pick(lambda t: _float(t) and t.dim() in (2, 3))
    if a is None:
        return None
    a_t = p.env[a]
    b = p.pick(
        lambda t: (
            _float(t)
            and t.dim() == a_t.dim()
            and t.shape[-2] == a_t.shape[-1]
            and t.dtype == a_t.dtype
        )
    )
    if b is None:
        b = p.pick(lambda t: _float(t) and t.dim() >= 1 and t.shape[-1] == a_t.shape[-1])
        if b is None:
            return None
        return f"{p.new()} = F.linear({a}, {b}.reshape(-1, {a_t.shape[-1]}))"
    name = p.draw(st.sampled_from(["torch.mm", "torch.matmul", "torch.bmm", "addmm"]))
    if name == "addmm":
        return f"{p.new()} = torch.addmm({b}[0], {a}, {b}, beta=0.5)"
    return f"{p.new()} = {name}({a}, {b})"


def nn_op(p: Draft) -> str | None:
    a = p.pick(lambda t: t.dtype == torch.float32 and t.dim() >= 1)
    if a is None:
        return None
    n = p.env[a].shape[-1]
    form = p.draw(
        st.sampled_from(
            [
                "F.layer_norm({a}, [{n}])",
                "torch.index_select({a}, -1, torch.tensor([0, {n} - 1], device=d))",
                "torch.cat([{a}, {a} * 2], 0)",
                "torch.stack([{a}, {a}], 0)",
                "{a}.flip(0)",
                "{a}.roll(1, 0)",
                "torch.tril({a})",
                "F.pad({a}, [1, 0])",
                "{a}.repeat(2, *[1] * ({a}.dim() - 1))",
                "torch.gather({a}, -1, torch.zeros_like({a}, dtype=torch.int64))",
                "{a}[{a} > 0]",
                "F.mse_loss({a}, torch.zeros_like({a}))",
                "F.dropout({a}, 0.0)",
                "{a}.clone()",
                "{a}.contiguous()",
            ]
        )
    )
    return f"{p.new()} = {form.format(a=a, n=n)}"


def view(p: Draft) -> str | None:
    a = p.pick()
    if a is None:
        return None
    t = p.env[a]
    forms = ["{a}.view(-1)", "{a}.reshape(-1, 1)", "{a}.unsqueeze(0)", "{a}.squeeze()"]
    if t.dim() >= 1:
        forms += [
            "{a}[1:]",
            "{a}[0]",
            "{a}.narrow(0, 0, 1)",
            "{a}.expand(2, *{a}.shape)",
            "{a}[..., ::2]",
        ]
    if t.dim() >= 2:
        forms += ["{a}.t()", "{a}.transpose(0, 1)", "{a}.permute(1, 0, *range(2, {a}.dim()))"]
        forms += ["{a}.diagonal()", "{a}[:, 1]", "{a}.unbind(0)[0]", "{a}.split(1, 0)[-1]"]
        forms += ["{a}.as_strided([2, 2], [1, 2], 1)", "{a}.mT"]
    form = p.draw(st.sampled_from(forms))
    return f"{p.new()} = {form.format(a=a)}"


def inplace(p: Draft) -> str | None:
    a = p.pick(_mutable)
    if a is None:
        return None
    t = p.env[a]
    forms = ["{a}.add_(1)", "{a}.mul_(2.5)", "{a}.zero_()", "{a}.fill_(3)", "{a}.clamp_(-1, 1)"]
    forms += ["{a}.relu_()", "{a}.neg_()", "{a}.sub_({b})", "{a}.copy_({b})", "{a}.mul_({b})"]
    forms += ["{a}.masked_fill_({a} > 0, 0)", "{a}.abs_()"]
    if t.dim() >= 1:
        forms += ["{a}[0] = 1.5", "{a}[1:].add_({b}[1:])", "{a}[0].mul_(-1)"]
    if t.dim() >= 2:
        forms += ["{a}[:, 1] = {b}[:, 0]", "{a}.t().add_(1)", "{a}.transpose(0, 1)[0].zero_()"]
        forms += ["{a}.diagonal().fill_(7)"]
    form = p.draw(st.sampled_from(forms))
    b = p.pick(lambda u: u.dtype == t.dtype and u.dim() <= t.dim()) if "{b}" in form else None
    if "{b}" in form and b is None:
        return None
    return form.format(a=a, b=b)


def convert(p: Draft) -> str | None:
    a = p.pick()
    if a is None:
        return None
    form = p.draw(
        st.sampled_from(
            [
                "{a}.to(torch.float64)",
                "{a}.float()",
                "{a}.long()",
                "{a}.to(torch.int32)",
                "{a}.bool()",
                "{a}.half().float()",
                "{a}.type_as({b})",
            ]
        )
    )
    b = p.pick()
    return f"{p.new()} = {form.format(a=a, b=b)}"


def factory(p: Draft) -> str | None:
    shape = list(p.draw(st.sampled_from(SHAPES)))
    n = p.draw(st.integers(1, 5))
    form = p.draw(
        st.sampled_from(
            [
                "torch.arange({n}, device=d)",
                "torch.arange(1, {n} + 1, 2, device=d)",
                "torch.arange(0.0, {n} / 2, 0.5, device=d)",
                "torch.zeros({shape}, device=d)",
                "torch.ones({shape}, device=d, dtype=torch.int64)",
                "torch.full({shape}, 2.5, device=d)",
                "torch.eye({n}, device=d)",
                "torch.linspace(0, 1, {n}, device=d)",
                "torch.tensor([1.0, 2.0, 3.0, 4.0], device=d)",
                "torch.zeros_like({a})",
                "torch.ones_like({a})",
                "torch.full_like({a}, 7)",
                "torch.empty({shape}, device=d).fill_(0.5)",
            ]
        )
    )
    a = p.pick()
    if "{a}" in form and a is None:
        return None
    return f"{p.new()} = {form.format(n=n, shape=shape, a=a)}"


#: The kinds of statement, drawn uniformly (the first ones shrink best).
RULES: tuple[Rule, ...] = (
    binary,
    with_scalar,
    unary,
    view,
    inplace,
    factory,
    convert,
    reduction,
    matmul,
    ternary,
    activation,
    binary_fn,
    logic,
    nn_op,
)


@st.composite
def programs(draw: Callable[..., Any], max_statements: int = 6) -> Program:
    """A random program: 1-3 inputs, 1-``max_statements`` statements, maybe a backward pass."""
    n_inputs = draw(st.integers(1, 3))
    backward = draw(st.booleans())
    inputs = []
    for i in range(n_inputs):
        dtype = draw(st.sampled_from(DTYPES))
        shape = draw(st.sampled_from(SHAPES))
        grad = backward and dtype.is_floating_point and draw(st.booleans())
        inputs.append(Input(f"x{i}", shape, dtype, grad))
    env: dict[str, Any] = {"torch": torch, "F": torch.nn.functional, "d": "cpu"}
    for i, x in enumerate(inputs):
        env[x.name] = inp("cpu", list(x.shape), seed=i, dtype=x.dtype, grad=x.grad)
    draft = Draft(draw, env, inputs=[x.name for x in inputs])
    for _ in range(draw(st.integers(1, max_statements))):
        rule = draw(st.sampled_from(RULES))
        line = rule(draft)
        if line is not None:
            draft.try_line(line)
    names = draft.tensors()
    outputs = [n for n in names if not n.startswith("x")] or names
    grads = [x.name for x in inputs if x.grad]
    if grads:
        loss = [n for n in outputs if draft.env[n].requires_grad and _float(draft.env[n])]
        if loss and draft.try_line(f"{loss[-1]}.sum().backward()"):
            outputs += [f"{g}.grad" for g in grads if draft.env[g].grad is not None]
    # Inputs come last: in-place updates of them are outputs too.
    outputs += [x.name for x in inputs if x.name not in outputs and not x.grad]
    return Program(tuple(inputs), tuple(draft.lines), tuple(outputs))
