"""Conformance suite for ``torch.nn.utils.parametrize`` and ``torch.nn.utils.parametrizations``.

Chapters: registration, removal, caching, transfer, errors, state_dict and copies,
orthogonal, spectral_norm, weight_norm, TorchScript (tracing and scripting) and the
sparsity-mask scenarios. The backend supplies its implementation through the
``parametrize`` area (see :class:`conformance.contract.ParametrizeArea`).
"""
