"""Reference lazy graph modules, mirroring ``torch.fx._lazy_graph_module``.

See :mod:`reference_impl.fx._lazy_graph_module` for the design.
"""

from reference_impl.fx._lazy_graph_module import (
    _force_skip_lazy_graph_module,
    _get_graph_module_cls,
    _LazyGraphModule,
    _make_graph_module,
    _use_lazy_graph_module,
)

__all__ = [
    "_LazyGraphModule",
    "_force_skip_lazy_graph_module",
    "_get_graph_module_cls",
    "_make_graph_module",
    "_use_lazy_graph_module",
]
