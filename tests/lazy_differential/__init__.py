"""Differential tester: the reference lazy device against PyTorch's Lazy Tensor Core.

Hypothesis draws small programs (:mod:`.program`): chains of ops with views, in-place
updates (also through views), mixed dtypes, Python scalars, device factories and an
optional backward pass. Each program is Python source; two long-lived worker processes
(:mod:`.worker`) run it, one on the reference device and one on ``torch._lazy``'s
TorchScript backend (the two claim device ``lazy`` and never share a process). Each
worker reports the IR text of the program's outputs before any step, whether its
values match CPU, and which ops fell back to CPU. :mod:`.driver` compares the two
reports; a difference fails with the shrunk program as a few lines of Python.

Run it with ``pytest tests/test_reference_lazy_differential.py`` (a fixed seed and a
small budget) or ``python -m tests.lazy_differential --examples 2000 --seed 7``.
"""
