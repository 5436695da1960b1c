"""Type promotion: ops mixing dtypes give CPU's result dtype and values on the device.

Every dtype the op sweep knows (``float32``, ``float64``, ``bfloat16``, ``float16``,
``int64``, ``bool``) meets Python scalars of each kind, dimensioned tensors of every
dtype, 0-dim tensors of every dtype, and in-place ops whose other operand is wider.
The op sweep runs one dtype at a time (and only ``float32`` unless ``--dtypes`` is
given), so it never mixes dtypes; these tests run in every default run.

Each test builds one small program from the same CPU inputs on CPU and on the device
and requires, op by op: the dtype the lazy tensor reports before the step (shape
inference), the dtype and values after the step (what the device computed), or the
same kind of error when CPU raises (``True - tensor``, ``bool - float32``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
import torch

from conformance.contract import LazyArea
from conformance.plugin import SWEEP_DTYPES

DTYPES: list[torch.dtype] = [getattr(torch, name) for name in SWEEP_DTYPES]
PAIRS = list(itertools.product(DTYPES, DTYPES))

Outcome = torch.Tensor | type[BaseException]
Program = Callable[..., dict[str, Outcome]]


def name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def pair_id(pair: tuple[torch.dtype, torch.dtype]) -> str:
    return f"{name(pair[0])}-{name(pair[1])}"


def sample(dtype: torch.dtype, shape: tuple[int, ...] = (3, 4), seed: int = 0) -> torch.Tensor:
    """A CPU tensor of ``dtype`` with varied values, none of them zero (they divide).

    Floats have fractional parts (so an integer computation shows), integers are
    positive and negative, booleans all True (a divisor) unless ``seed`` is odd.
    """
    count = max(1, int(torch.tensor(shape).prod()))
    values = (torch.arange(count) % 7 - 3 + 0.25 * (seed + 1)).reshape(shape)
    values = torch.where(values == 0, 1.5, values)
    if dtype == torch.bool:
        return values > 0 if seed % 2 else torch.ones(shape, dtype=torch.bool)
    if dtype.is_floating_point:
        return values.to(dtype)
    return torch.where(values.round() == 0, 2.0, values.round()).to(dtype)


def outcome(fn: Callable[[], torch.Tensor]) -> Outcome:
    """The result of ``fn()``, or the class of the exception it raised."""
    try:
        return fn()
    except (RuntimeError, TypeError) as exc:
        return type(exc)


def check(lazy_area: LazyArea, program: Program, *inputs: torch.Tensor) -> None:
    """Run ``program`` on CPU inputs and on their device copies; every op agrees."""
    expected = program(*inputs)
    actual = program(*(t.to(lazy_area.device) for t in inputs))
    reported = {k: v.dtype for k, v in actual.items() if isinstance(v, torch.Tensor)}
    lazy_area.mark_step()
    problems = []
    for op, want in expected.items():
        got = actual[op]
        where = f"{op} on {', '.join(f'{name(t.dtype)}{list(t.shape)}' for t in inputs)}"
        if not isinstance(want, torch.Tensor) or not isinstance(got, torch.Tensor):
            if got is not want:
                shown = [
                    v.__name__ if isinstance(v, type) else f"a {name(v.dtype)} tensor"
                    for v in (got, want)
                ]
                problems.append(f"{where}: {shown[0]} on the device, {shown[1]} on CPU")
            continue
        if reported[op] != want.dtype:
            problems.append(
                f"{where}: the lazy tensor reports dtype {name(reported[op])} before the step, "
                f"CPU's result is {name(want.dtype)}"
            )
            continue
        try:
            torch.testing.assert_close(got.cpu(), want, equal_nan=True)
        except AssertionError as exc:
            problems.append(f"{where}: after the step: {exc}")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------- Python scalars

SCALARS: dict[str, int | float | bool] = {
    "int": 3,
    "float": 2.5,
    "negative_float": -0.75,
    "bool": True,
}


def with_scalar(scalar: int | float | bool) -> Program:
    def program(t: torch.Tensor) -> dict[str, Outcome]:
        results = {
            "t + s": outcome(lambda: t + scalar),
            "t * s": outcome(lambda: t * scalar),
            "s - t": outcome(lambda: scalar - t),
            "t / s": outcome(lambda: t / scalar),
            "t ** s": outcome(lambda: t**scalar),
            "t > s": outcome(lambda: t > scalar),
            "maximum(t, s)": outcome(lambda: torch.maximum(t, torch.tensor(scalar))),
            "where(t > 0, t, s)": outcome(lambda: torch.where(t > 0, t, scalar)),
        }
        if isinstance(scalar, bool):
            # ``t ** True`` is CPU's exponent-1 shortcut (a copy of ``t``), not promotion:
            # CPU keeps ``t``'s dtype where PyTorch's own shape inference (the meta
            # kernel) says ``int64`` for a bool ``t``.
            del results["t ** s"]
        return results

    return program


@pytest.mark.parametrize("scalar", list(SCALARS))
@pytest.mark.parametrize("dtype", DTYPES, ids=name)
def test_tensor_with_python_scalar(lazy_area: LazyArea, dtype: torch.dtype, scalar: str) -> None:
    """A tensor of every dtype with an int, float or bool scalar promotes as on CPU.

    An integer or bool tensor with a float scalar becomes the default float dtype
    (``int64 * 2.5`` is ``float32`` with value 2.5 times, not 2 times, the input); a
    scalar of the same category never widens the tensor (``float16 * 2.5`` stays
    ``float16``); bool tensors with int scalars become ``int64``.
    """
    check(lazy_area, with_scalar(SCALARS[scalar]), sample(dtype))


# --------------------------------------------------------------- two dimensioned tensors


def binary_ops(a: torch.Tensor, b: torch.Tensor) -> dict[str, Outcome]:
    return {
        "a + b": outcome(lambda: a + b),
        "a * b": outcome(lambda: a * b),
        "a - b": outcome(lambda: a - b),
        "a / b": outcome(lambda: a / b),
        "maximum(a, b)": outcome(lambda: torch.maximum(a, b)),
        "a < b": outcome(lambda: a < b),
        "where(a > 0, a, b)": outcome(lambda: torch.where(a > 0, a, b)),
        "cat([a, b])": outcome(lambda: torch.cat([a, b])),
    }


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_mixed_dtype_operands(lazy_area: LazyArea, pair: tuple[torch.dtype, torch.dtype]) -> None:
    """Two tensors of different dtypes compute in, and return, CPU's promoted dtype.

    ``int64 + float16`` is ``float16``, ``bfloat16 + float16`` is ``float32``,
    ``bool + int64`` is ``int64``; the device must compute in that dtype, not in the
    first operand's (``int64 / float32`` keeps fractions).
    """
    a_dtype, b_dtype = pair
    check(lazy_area, binary_ops, sample(a_dtype), sample(b_dtype, seed=1))


# --------------------------------------------------------------- 0-dim tensors


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_zero_dim_tensor_operand(
    lazy_area: LazyArea, pair: tuple[torch.dtype, torch.dtype]
) -> None:
    """A 0-dim tensor only widens a dimensioned one of a lower category, as on CPU.

    ``float32[3,4] * float64[]`` stays ``float32`` (same category); ``int64[3,4] *
    float64[]`` is ``float32`` (the default float dtype, not ``float64``); two 0-dim
    tensors promote like dimensioned ones. Both a 0-dim device tensor and a 0-dim CPU
    tensor (which a lazy op accepts as a scalar) are checked.
    """
    dim_dtype, zero_dtype = pair

    def program(a: torch.Tensor, z: torch.Tensor, z2: torch.Tensor) -> dict[str, Outcome]:
        cpu_z = torch.tensor(2.5).to(zero_dtype)
        return {
            "a * z": outcome(lambda: a * z),
            "z - a": outcome(lambda: z - a),
            "z2 + z": outcome(lambda: z2 + z),
            "a * cpu_z": outcome(lambda: a * cpu_z),
        }

    zero = sample(zero_dtype, ()) if zero_dtype != torch.bool else torch.tensor(True)
    check(lazy_area, program, sample(dim_dtype), zero, sample(dim_dtype, (), seed=2))


# --------------------------------------------------------------- in-place ops


#: (tensor, other, in-place op): values where computing in the tensor's own dtype, instead
#: of the promoted one, rounds visibly differently. ``float16(60000) + float64(-59000.5)``
#: is 999.5 in float64 (exact in float16), but 992 if the float64 operand is first
#: rounded to float16 (-59008).
INPLACE_CASES: dict[str, tuple[torch.Tensor, torch.Tensor, str]] = {
    "float16.add_(float64)": (
        torch.tensor([60000.0, 3.0], dtype=torch.float16),
        torch.tensor([-59000.5, 0.25], dtype=torch.float64),
        "add_",
    ),
    "bfloat16.add_(float32)": (
        torch.tensor([256.0, 1.0], dtype=torch.bfloat16),
        torch.tensor([1.00390625, 0.5], dtype=torch.float32),
        "add_",
    ),
    "float16.mul_(float32)": (
        torch.tensor([3.0, 1.5], dtype=torch.float16),
        torch.tensor([1.00048828125, 2.0], dtype=torch.float32),
        "mul_",
    ),
}


@pytest.mark.parametrize("case", list(INPLACE_CASES))
def test_inplace_computes_in_the_promoted_dtype(lazy_area: LazyArea, case: str) -> None:
    """``a.add_(b)`` with a wider ``b`` computes in the promoted dtype, then rounds into ``a``.

    The result keeps ``a``'s dtype and equals CPU's exactly: rounding ``b`` into ``a``'s
    dtype first (computing in the narrower dtype) gives a different number.
    """
    a, b, op = INPLACE_CASES[case]
    expected = getattr(a.clone(), op)(b)
    lazy = a.to(lazy_area.device)
    getattr(lazy, op)(b.to(lazy_area.device))
    lazy_area.mark_step()
    assert lazy.dtype == a.dtype
    torch.testing.assert_close(lazy.cpu(), expected, rtol=0, atol=0)
