"""Backends that break the *run* rather than a promise: they crash, hang, stall or lie at load.

The meta-tests of ``tests/test_run_integrity.py`` and ``tests/test_bad_input.py`` run the
installed suite against them and check that the report and the exit status say what
happened. Every fault fires inside the child pytest process only.

Faults that must fire at a chosen moment read environment variables set by the meta-test:
``FAULTY_MARK`` is a file the backend creates when it reaches the slow or crashing
operation (so the test knows when to interrupt), ``FAULTY_ONLY`` restricts a fault to
tests whose node id contains that text.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import time
from pathlib import Path
from typing import Any

from conformance.backends.reference import ReferenceBackend


def _mark() -> None:
    target = os.environ.get("FAULTY_MARK")
    if target and not Path(target).exists():
        # "test_file.py::test_name[param] (call)": the first test that reached the fault.
        # Written aside, then linked into place: the reader never sees half of it, and a
        # second worker cannot replace it.
        aside = Path(f"{target}.{os.getpid()}")
        aside.write_text(os.environ.get("PYTEST_CURRENT_TEST", ""))
        with contextlib.suppress(FileExistsError):
            os.link(aside, target)
        aside.unlink()


def _selected() -> bool:
    only = os.environ.get("FAULTY_ONLY")
    current = os.environ.get("PYTEST_CURRENT_TEST", "")
    return not only or only in current


class _Wrapped:
    """An area that forwards everything to the reference's, except what a subclass overrides."""

    def __init__(self, inner: object) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _AbortingLazy(_Wrapped):
    def init(self) -> None:
        _mark()
        os.abort()  # the device's native library aborts the process


class LazyInitAborts(ReferenceBackend):
    """lazy.init() aborts the process: every lazy test's setup crashes its worker."""

    name = "lazy-init-aborts"
    expectations = None  # type: ignore[assignment]

    @property
    def lazy(self) -> Any:  # type: ignore[override]
        return _AbortingLazy(super().lazy)


lazy_init_aborts = LazyInitAborts()


class _CrashingFx(_Wrapped):
    def force_recompile(self, gm: Any) -> None:
        if _selected():
            _mark()
            os.abort()
        self._inner.force_recompile(gm)  # type: ignore[attr-defined]


class FxCrashes(ReferenceBackend):
    """force_recompile aborts the process (in tests matching $FAULTY_ONLY, default all)."""

    name = "fx-crashes"
    expectations = None  # type: ignore[assignment]

    @property
    def fx(self) -> Any:  # type: ignore[override]
        return _CrashingFx(super().fx)


fx_crashes = FxCrashes()


class _HangingFx(_Wrapped):
    def needs_recompile(self, gm: Any) -> bool:
        if _selected():
            _mark()
            time.sleep(3600)  # a Python-level hang: a timeout signal interrupts it
        return bool(self._inner.needs_recompile(gm))  # type: ignore[attr-defined]


class FxHangs(ReferenceBackend):
    """needs_recompile never returns (in tests matching $FAULTY_ONLY, default all)."""

    name = "fx-hangs"
    expectations = None  # type: ignore[assignment]

    @property
    def fx(self) -> Any:  # type: ignore[override]
        return _HangingFx(super().fx)


fx_hangs = FxHangs()


def _deadlock_in_native_code() -> None:
    """Lock a (non-recursive) pthread mutex twice: a hang no Python signal handler breaks."""
    libc = ctypes.CDLL(None)
    mutex = ctypes.create_string_buffer(64)  # zeroed = PTHREAD_MUTEX_INITIALIZER (glibc)
    libc.pthread_mutex_lock(mutex)
    libc.pthread_mutex_lock(mutex)


class _NativeHangFx(_Wrapped):
    def needs_recompile(self, gm: Any) -> bool:
        if _selected():
            _mark()
            _deadlock_in_native_code()
        return bool(self._inner.needs_recompile(gm))  # type: ignore[attr-defined]


class FxHangsInNativeCode(ReferenceBackend):
    """needs_recompile deadlocks inside C code (in tests matching $FAULTY_ONLY)."""

    name = "fx-native-hang"
    expectations = None  # type: ignore[assignment]

    @property
    def fx(self) -> Any:  # type: ignore[override]
        return _NativeHangFx(super().fx)


fx_hangs_in_native_code = FxHangsInNativeCode()


class _SlowFx(_Wrapped):
    def needs_recompile(self, gm: Any) -> bool:
        _mark()
        time.sleep(float(os.environ.get("FAULTY_SLEEP", "0.5")))
        return bool(self._inner.needs_recompile(gm))  # type: ignore[attr-defined]


class SlowFx(ReferenceBackend):
    """A correct fx area that takes its time (so a run can be interrupted mid-test)."""

    name = "slow-fx"
    expectations = None  # type: ignore[assignment]

    @property
    def fx(self) -> Any:  # type: ignore[override]
        return _SlowFx(super().fx)


slow_fx = SlowFx()


class VersionRaises(ReferenceBackend):
    """A backend whose version property raises (it reads a file that is not there)."""

    name = "version-raises"

    @property
    def version(self) -> str:
        raise FileNotFoundError("VERSION file not found next to the plugin")


version_raises = VersionRaises()


class _Fx42(_Wrapped):
    LazyGraphModule = 42


class WrongFxMemberType(ReferenceBackend):
    """fx.LazyGraphModule is 42, not a GraphModule subclass."""

    name = "fx-member-42"

    @property
    def fx(self) -> Any:  # type: ignore[override]
        return _Fx42(super().fx)


wrong_fx_member_type = WrongFxMemberType()


class _LazyInitNone(_Wrapped):
    init = None


class LazyInitIsNone(ReferenceBackend):
    """lazy.init is None instead of a method."""

    name = "lazy-init-none"

    @property
    def lazy(self) -> Any:  # type: ignore[override]
        return _LazyInitNone(super().lazy)


lazy_init_is_none = LazyInitIsNone()


class DeviceNotAString(ReferenceBackend):
    """device is a torch.device-like object, not the string the contract asks for."""

    name = "device-object"
    device = ("cpu",)  # type: ignore[assignment]


device_not_a_string = DeviceNotAString()
