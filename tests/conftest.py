"""Shared fixtures: every backend present on this machine, and its dtypes.

Backends and helpers live in :mod:`support`; see its docstring.
"""

from __future__ import annotations

import os
import signal

import pytest

from support import ALL_BACKENDS, Backend


@pytest.fixture(params=ALL_BACKENDS)
def backend(request) -> Backend:
    """Every backend (library and device) present on this machine."""
    return request.param


@pytest.fixture
def xp(backend):
    """The array API namespace of `backend`."""
    return backend.xp


@pytest.fixture(params=["float64", "float32", "bfloat16"])
def dtype_name(request, backend) -> str:
    """A floating dtype that `backend` offers (skipped where it has none)."""
    name = request.param
    if name == "float64" and not backend.float64:
        pytest.skip(f"{backend.name} has no float64")
    if name == "bfloat16" and not backend.bfloat16:
        pytest.skip(f"{backend.name} has no bfloat16")
    return name




def pytest_collection_modifyitems(config, items):
    """With ``SKETCHTEST_BACKENDS`` set, only the tests that take the `backend` fixture run."""
    if not os.environ.get("SKETCHTEST_BACKENDS", "").strip():
        return
    kept = [item for item in items if "backend" in getattr(item, "fixturenames", ())]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Fail a test that runs past ``SKETCHTEST_TEST_TIMEOUT`` seconds (no plugin needed; POSIX)."""
    seconds = int(os.environ.get("SKETCHTEST_TEST_TIMEOUT", "0") or 0)
    if seconds <= 0 or not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(signum, frame):
        raise TimeoutError(f"{item.nodeid} ran past SKETCHTEST_TEST_TIMEOUT={seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
