"""Saving and copying lazy modules: pickle, torch.package, to_folder and deepcopy."""

from __future__ import annotations

import copy
import importlib
import io
import pickle
import sys

import pytest
import torch
from torch import fx
from torch.package import PackageExporter, PackageImporter
from torch.testing import assert_close


def test_pickle_round_trip_stays_lazy(lazy_fx, net, x):
    """A pickled lazy module loads as a stale lazy module that computes the same."""
    gm = fx.symbolic_trace(net)
    loaded = pickle.loads(pickle.dumps(gm))
    assert isinstance(loaded, lazy_fx.LazyGraphModule)
    assert lazy_fx.needs_recompile(loaded)
    assert_close(loaded(x), net(x))


def test_pickling_realizes_the_source(lazy_fx, net):
    """Pickling a stale module generates its code (pickles carry code, not graphs)."""
    gm = fx.symbolic_trace(net)
    pickle.dumps(gm)
    assert not lazy_fx.needs_recompile(gm)


def test_pickle_saves_the_edit(lazy_fx, x, edited_net, stale_edited_gm):
    """Pickling a stale edited module saves the edited code, not the stale one."""
    gm = stale_edited_gm
    loaded = pickle.loads(pickle.dumps(gm))
    assert_close(loaded(x), edited_net(x))


def test_deepcopy_stays_lazy(lazy_fx, net, x):
    """deepcopy of a realized lazy module is a stale lazy module with its own parameters."""
    gm = fx.symbolic_trace(net)
    assert_close(gm(x), net(x))
    clone = copy.deepcopy(gm)
    assert isinstance(clone, lazy_fx.LazyGraphModule)
    assert lazy_fx.needs_recompile(clone)
    assert_close(clone(x), net(x))
    with torch.no_grad():
        clone.linear.weight.add_(1.0)
    assert_close(gm(x), net(x))


@pytest.mark.parametrize("realized", [True, False], ids=["realized", "stale"])
def test_editing_a_deepcopy_leaves_the_original_alone(
    lazy_fx, net, x, swap_sin_for_cos, edited_net, realized
):
    """Editing, recompiling and running a deepcopy changes neither the original's graph nor code."""
    gm = fx.symbolic_trace(net)
    if realized:
        assert_close(gm(x), net(x))
    clone = copy.deepcopy(gm)
    assert clone.graph is not gm.graph
    swap_sin_for_cos(clone)
    clone.recompile()
    assert_close(clone(x), edited_net(x))
    assert lazy_fx.needs_recompile(gm) is not realized, "the copy's state is its own"
    assert_close(gm(x), net(x))
    assert ".sin()" in gm.code
    gm.recompile()
    assert_close(gm(x), net(x)), "the original's graph is unchanged"


@pytest.mark.parametrize("realized", [True, False], ids=["realized", "stale"])
def test_editing_the_original_leaves_a_deepcopy_alone(
    lazy_fx, net, x, swap_sin_for_cos, edited_net, realized
):
    """Editing, recompiling and running the original changes neither a deepcopy's graph nor code."""
    gm = fx.symbolic_trace(net)
    if realized:
        assert_close(gm(x), net(x))
    clone = copy.deepcopy(gm)
    swap_sin_for_cos(gm)
    gm.recompile()
    assert_close(gm(x), edited_net(x))
    assert lazy_fx.needs_recompile(clone), "a deepcopy is stale until its own first use"
    assert_close(clone(x), net(x))
    assert ".sin()" in clone.code
    clone.recompile()
    assert_close(clone(x), net(x)), "the copy's graph is unchanged"


def test_deepcopy_copies_the_edit(lazy_fx, x, edited_net, stale_edited_gm):
    """deepcopy of a stale edited module computes the edited graph."""
    gm = stale_edited_gm
    assert_close(copy.deepcopy(gm)(x), edited_net(x))


def _package_round_trip(gm: fx.GraphModule) -> torch.nn.Module:
    buffer = io.BytesIO()
    with PackageExporter(buffer) as exporter:
        exporter.save_pickle("model", "model.pkl", gm)
    buffer.seek(0)
    return PackageImporter(buffer).load_pickle("model", "model.pkl")


# torch.package itself still pickles storages through the deprecated TypedStorage.
@pytest.mark.filterwarnings("ignore:TypedStorage is deprecated:UserWarning")
def test_package_round_trip(lazy_fx, net, x):
    """torch.package saves a lazy module and loads, inside the context, a lazy one."""
    gm = fx.symbolic_trace(net)
    loaded = _package_round_trip(gm)
    assert not lazy_fx.needs_recompile(gm), "packaging generates the code it saves"
    assert isinstance(loaded, lazy_fx.LazyGraphModule)
    assert_close(loaded(x), net(x))


@pytest.mark.filterwarnings("ignore:TypedStorage is deprecated:UserWarning")
def test_package_saves_the_edit(lazy_fx, x, edited_net, stale_edited_gm):
    """torch.package of a stale edited module saves the edited code."""
    gm = stale_edited_gm
    assert_close(_package_round_trip(gm)(x), edited_net(x))


def test_to_folder_imports_and_agrees(lazy_fx, x, edited_net, tmp_path, stale_edited_gm):
    """to_folder on a stale edited module writes a package that imports and runs the edit."""
    gm = stale_edited_gm
    package = "lazy_fx_exported"
    gm.to_folder(tmp_path / package, module_name="Exported")
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    try:
        exported = importlib.import_module(package).Exported()
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[name]
    assert_close(exported(x), edited_net(x))
