"""Reference-only behaviour of ``reference_impl.fx`` that the backend-neutral suite leaves open.

The fx suite states what every backend must do; these tests pin down choices the
reference makes on top (where it realizes, how its context manager routes torch.fx,
what survives pickling outside a context), so changes to them are deliberate.
"""

from __future__ import annotations

import copy
import gc
import inspect
import io
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
import torch.fx._lazy_graph_module as torch_lazy
from torch import fx
from torch.package import PackageExporter, PackageImporter
from torch.testing import assert_close

from reference_impl.fx import (
    _force_skip_lazy_graph_module,
    _get_graph_module_cls,
    _LazyGraphModule,
    _make_graph_module,
    _use_lazy_graph_module,
)


def scaled_sin(x):
    """The traced subject (unannotated: fx copies annotations into generated code)."""
    return x.sin() * 2


class TaggedLazyGraphModule(_LazyGraphModule):
    """A user subclass, importable so that pickle can name it."""


@pytest.fixture
def x() -> torch.Tensor:
    return torch.randn(3, 4)


@pytest.fixture
def stale() -> _LazyGraphModule:
    """A freshly traced, stale reference lazy module."""
    with _use_lazy_graph_module(True):
        gm = fx.symbolic_trace(scaled_sin)
    assert isinstance(gm, _LazyGraphModule)
    assert gm._needs_recompile()
    return gm


@pytest.fixture
def codegen_count(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """Number of non-verbose ``Graph.python_code`` calls since the test started."""
    calls: list[fx.Graph] = []
    original = fx.Graph.python_code

    def counting(self: fx.Graph, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("verbose"):
            calls.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(fx.Graph, "python_code", counting)
    return lambda: len(calls)


@pytest.fixture
def torch_hook() -> Iterator[object]:
    """torch's class-selection hook as it is outside every reference context."""
    original = torch_lazy._get_graph_module_cls
    yield original
    assert torch_lazy._get_graph_module_cls is original, "a test leaked the hook"


# --------------------------------------------------------------------------- realizing


def test_print_readable_realizes(stale: _LazyGraphModule) -> None:
    """print_readable generates the module's code, so printout and gm.code agree."""
    listing = stale.print_readable(print_output=False)
    assert not stale._needs_recompile()
    assert ".sin()" in listing
    assert ".sin()" in stale.code


def test_forward_lookup_realizes_and_has_the_graph_signature(stale: _LazyGraphModule) -> None:
    """gm.forward is the generated method with the graph's parameters, not a *args stub."""
    parameters = list(inspect.signature(stale.forward).parameters)
    assert not stale._needs_recompile()
    assert parameters == ["x"]


def test_class_level_forward_lookup_realizes(stale: _LazyGraphModule) -> None:
    """type(gm).forward (what fx's Tracer reads) realizes and is the generated function."""
    forward = type(stale).forward
    assert not stale._needs_recompile()
    assert forward.__code__.co_varnames[:2] == ("self", "x")


def test_needs_recompile_does_not_realize(
    stale: _LazyGraphModule, codegen_count: Callable[[], int]
) -> None:
    """Asking whether a module is stale is free: no code is generated."""
    for _ in range(3):
        assert stale._needs_recompile()
    assert codegen_count() == 0


def test_class_lookup_after_module_died_gives_lazy_forward() -> None:
    """Once the module is gone, its class hands out the plain _lazy_forward function."""
    with _use_lazy_graph_module(True):
        cls = type(fx.symbolic_trace(scaled_sin))
    gc.collect()
    assert issubclass(cls, _LazyGraphModule)
    assert cls._needs_recompile()
    assert cls.forward is _LazyGraphModule._lazy_forward


def test_deepcopy_does_not_realize_source(
    stale: _LazyGraphModule, codegen_count: Callable[[], int], x: torch.Tensor
) -> None:
    """deepcopy copies the graph without generating code for either module."""
    clone = copy.deepcopy(stale)
    assert stale._needs_recompile()
    assert clone._needs_recompile()
    assert codegen_count() == 0
    assert_close(clone(x), scaled_sin(x))


def test_recompile_returns_none_real_recompile_returns_code(stale: _LazyGraphModule) -> None:
    """recompile() only marks (None); _real_recompile() generates and returns PythonCode."""
    assert stale.recompile() is None  # type: ignore[func-returns-value]
    python_code = stale._real_recompile()
    assert python_code.src == stale.code


def test_explicit_lazy_forward_skips_hooks(stale: _LazyGraphModule, x: torch.Tensor) -> None:
    """_lazy_forward runs forward, not __call__: module hooks do not fire."""
    fired: list[object] = []
    stale.register_forward_hook(lambda *args: fired.append(args))
    assert_close(stale._lazy_forward(x), scaled_sin(x))
    assert fired == []
    stale(x)
    assert len(fired) == 1


def test_from_graphmodule_keeps_class_name(x: torch.Tensor) -> None:
    """from_graphmodule names the lazy module after the module it wraps."""
    eager = fx.GraphModule(torch.nn.Module(), fx.symbolic_trace(scaled_sin).graph, "Scaled")
    lazy = _LazyGraphModule.from_graphmodule(eager)
    assert type(lazy).__name__ == "Scaled"
    assert_close(lazy(x), scaled_sin(x))


# --------------------------------------------------------------------------- selection


def test_selection_outside_contexts(torch_hook: object, stale: _LazyGraphModule) -> None:
    """Outside every context the reference selects GraphModule and torch's hook is torch's."""
    assert _get_graph_module_cls() is fx.GraphModule
    assert type(_make_graph_module(stale, stale.graph)).__mro__[1] is fx.GraphModule
    assert torch_lazy._get_graph_module_cls is torch_hook


def test_nested_contexts_route_and_restore_torch_hook(torch_hook: object) -> None:
    """Each context routes torch's hook to the reference and restores the previous one."""
    with _use_lazy_graph_module(True):
        assert torch_lazy._get_graph_module_cls() is _LazyGraphModule
        with _use_lazy_graph_module(False):
            assert torch_lazy._get_graph_module_cls() is fx.GraphModule
            assert not isinstance(fx.symbolic_trace(scaled_sin), _LazyGraphModule)
        assert torch_lazy._get_graph_module_cls() is _LazyGraphModule
    assert torch_lazy._get_graph_module_cls is torch_hook


def test_context_restores_hook_after_exception(torch_hook: object) -> None:
    """An exception leaving the context still restores torch's hook and the flag."""
    with pytest.raises(KeyError), _use_lazy_graph_module(True):
        raise KeyError("boom")
    assert torch_lazy._get_graph_module_cls is torch_hook
    assert _get_graph_module_cls() is fx.GraphModule


def test_force_skip_wins_when_entered_outside() -> None:
    """Inside _force_skip_lazy_graph_module, use_lazy_graph_module(True) builds eager modules."""
    with _force_skip_lazy_graph_module(), _use_lazy_graph_module(True):
        assert not isinstance(fx.symbolic_trace(scaled_sin), _LazyGraphModule)


def test_force_skip_wins_when_entered_inside() -> None:
    """A skip entered inside use_lazy_graph_module(True) turns laziness off until it exits."""
    with _use_lazy_graph_module(True):
        with _force_skip_lazy_graph_module():
            assert not isinstance(fx.symbolic_trace(scaled_sin), _LazyGraphModule)
        assert isinstance(fx.symbolic_trace(scaled_sin), _LazyGraphModule)


def test_torch_lazy_context_untouched_outside_reference_contexts() -> None:
    """torch's own _use_lazy_graph_module still builds torch's class: we patch nothing globally."""
    with torch_lazy._use_lazy_graph_module(True):
        gm = fx.symbolic_trace(scaled_sin)
    assert isinstance(gm, torch_lazy._LazyGraphModule)
    assert not isinstance(gm, _LazyGraphModule)


# --------------------------------------------------------------------------- serialization


def test_pickle_outside_context_stays_lazy(stale: _LazyGraphModule, x: torch.Tensor) -> None:
    """Unpickling gives a stale reference lazy module even with no context active."""
    loaded = pickle.loads(pickle.dumps(stale))
    assert isinstance(loaded, _LazyGraphModule)
    assert loaded._needs_recompile()
    assert_close(loaded(x), scaled_sin(x))


def test_pickle_keeps_the_subclass(x: torch.Tensor) -> None:
    """A subclass of the lazy module round-trips through pickle as that subclass."""
    traced = fx.symbolic_trace(scaled_sin)
    gm = _make_graph_module(traced, traced.graph, graph_module_cls=TaggedLazyGraphModule)
    loaded = pickle.loads(pickle.dumps(gm))
    assert isinstance(loaded, TaggedLazyGraphModule)
    assert_close(loaded(x), scaled_sin(x))


@pytest.mark.filterwarnings("ignore:TypedStorage is deprecated:UserWarning")
def test_package_outside_context_loads_eager(stale: _LazyGraphModule, x: torch.Tensor) -> None:
    """torch.package loads through torch's loader, so outside a context it is eager (by design)."""
    buffer = io.BytesIO()
    with PackageExporter(buffer) as exporter:
        exporter.save_pickle("model", "model.pkl", stale)
    buffer.seek(0)
    loaded = PackageImporter(buffer).load_pickle("model", "model.pkl")
    assert not isinstance(loaded, _LazyGraphModule)
    assert_close(loaded(x), scaled_sin(x))


# --------------------------------------------------------------------------- dynamo


def test_dynamo_graphs_inside_context_are_reference_lazy(x: torch.Tensor) -> None:
    """Inside the context dynamo's own graphs are reference lazy modules, and they run."""
    seen: list[fx.GraphModule] = []

    def backend(gm: fx.GraphModule, example_inputs: list[torch.Tensor]) -> Any:
        seen.append(gm)
        return gm.forward

    try:
        with _use_lazy_graph_module(True):
            result = torch.compile(scaled_sin, backend=backend)(x)
    finally:
        torch._dynamo.reset()
    assert_close(result, scaled_sin(x))
    assert seen
    assert all(isinstance(gm, _LazyGraphModule) for gm in seen)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The TorchScript type system:UserWarning")
def test_jit_script_realizes_first(stale: _LazyGraphModule, x: torch.Tensor) -> None:
    """torch.jit.script realizes the module through __prepare_scriptable__ before compiling."""
    scripted = torch.jit.script(stale)
    assert not stale._needs_recompile()
    assert_close(scripted(x), scaled_sin(x))
