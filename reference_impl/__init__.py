"""A readable, pure-Python reference implementation of three PyTorch features.

- :mod:`reference_impl.fx`: lazy graph modules (``torch.fx._lazy_graph_module``).
- :mod:`reference_impl.parametrize` and :mod:`reference_impl.parametrizations`:
  ``torch.nn.utils.parametrize`` and ``torch.nn.utils.parametrizations``.

It is the executable spec the conformance suites are written against, and the
``reference`` backend. Public names mirror the PyTorch originals so code written for
PyTorch runs on it unchanged.
"""

__version__ = "0.1.0"
