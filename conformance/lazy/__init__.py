"""Conformance suite of the ``lazy`` area: lazy tensors as ``torch._lazy`` defines them."""
