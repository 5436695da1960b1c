"""Conformance suite for lazy graph modules (torch.fx._lazy_graph_module semantics)."""
