"""Shared fixtures: every backend present on this machine, and its dtypes.

Backends and helpers live in :mod:`support`; see its docstring.
"""

from __future__ import annotations

import os

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
    takes_backend = ["backend" in getattr(item, "fixturenames", ()) for item in items]
    config.hook.pytest_deselected(items=[item for item, kept in zip(items, takes_backend) if not kept])
    items[:] = [item for item, kept in zip(items, takes_backend) if kept]
