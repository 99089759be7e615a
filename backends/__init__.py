"""Adapters for what the array API standard lacks, one module per library.

Every adapter module defines the same functions:

``ndtr(x)``, ``log_ndtr(x)``, ``ndtri(p)``
    The standard normal CDF, its logarithm and its inverse, elementwise, for
    float32 and float64 arrays of that library.
``standard_normal(shape, *, seed, dtype, device)``
    Standard normal draws on `device` from an integer `seed`.
``all_reduce_sum(x)``
    Sum of `x` over the processes of a distributed job; the identity when
    the library has no such job running.

:func:`for_namespace` picks the adapter of a namespace and imports it on first
use; importing this package imports no array library.
"""

from __future__ import annotations

from types import ModuleType

__all__ = ["for_namespace", "backend_name"]


def backend_name(xp) -> str:
    """Name of the adapter that serves the array namespace `xp`.

    Recognition goes through array-api-compat's ``is_*_namespace`` predicates,
    which look at the namespace object and never import a framework.
    """
    import array_api_compat as compat

    if compat.is_numpy_namespace(xp):
        return "numpy"
    if compat.is_torch_namespace(xp):
        return "torch"
    if compat.is_jax_namespace(xp):
        return "jax"
    if compat.is_cupy_namespace(xp):
        return "cupy"
    return "standard"


def for_namespace(xp) -> ModuleType:
    """Return the adapter module for the array namespace `xp`.

    Plain ``import`` statements (rather than ``importlib``) keep a first call
    inside ``torch.compile(fullgraph=True)`` traceable.
    """
    name = backend_name(xp)
    if name == "numpy":
        from sketchtest_backends import numpy as adapter
    elif name == "torch":
        from sketchtest_backends import torch as adapter
    elif name == "jax":
        from sketchtest_backends import jax as adapter
    elif name == "cupy":
        from sketchtest_backends import cupy as adapter
    else:
        from sketchtest_backends import standard as adapter
    return adapter
