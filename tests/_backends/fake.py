"""Fake backends for the plugin's own meta-tests (discovery, areas, manifests)."""

from __future__ import annotations

from conformance.backends.reference import ReferenceBackend


class NoAreas:
    """A valid backend that implements no area at all."""

    name = "nothing"
    version = "1.0"
    device = "cpu"
    expectations = None


no_areas = NoAreas()


class LacksMembers:
    """Not a backend: has a name but no version or device."""

    name = "half"


lacks_members = LacksMembers()


class _IncompleteFx:
    """An fx area missing two of its required members."""

    LazyGraphModule = object

    def use_lazy_graph_module(self, should_use: bool) -> None: ...

    def make_graph_module(self, *args: object, **kwargs: object) -> None: ...

    def from_graphmodule(self, gm: object) -> None: ...


class IncompleteArea(NoAreas):
    """A backend whose fx area lacks needs_recompile and force_recompile."""

    name = "incomplete"
    fx = _IncompleteFx()


incomplete_area = IncompleteArea()


class AreaRaises(NoAreas):
    """A backend whose fx area fails while being built."""

    name = "area-raises"

    @property
    def fx(self) -> object:
        raise RuntimeError("fx support needs libfoo.so")


area_raises = AreaRaises()


class ReferenceUnderAnotherName(ReferenceBackend):
    """The reference implementation without its manifest, for manifest meta-tests."""

    name = "plain"
    expectations = None  # type: ignore[assignment]


plain_reference = ReferenceUnderAnotherName()
#: A class, not an instance: the loader instantiates classes with no arguments.
PlainReferenceClass = ReferenceUnderAnotherName


class _LyingFx:
    """The reference fx area, except that needs_recompile always says False."""

    def __init__(self, inner: object) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def needs_recompile(self, gm: object) -> bool:
        return False


class LyingFx(ReferenceUnderAnotherName):
    """A backend with a few genuine failures, for manifest and report meta-tests."""

    name = "liar"

    @property
    def fx(self) -> object:  # type: ignore[override]
        return _LyingFx(super().fx)


lying_fx = LyingFx()
