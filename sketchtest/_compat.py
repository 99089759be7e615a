"""The one module that imports array-api-compat and array-api-extra.

Everything else in :mod:`sketchtest` asks this module for the namespace of an
array, its device, and the few predicates that tell backends apart, so that a
change in those dependencies touches one file.
"""

from __future__ import annotations

import functools
import sys

import numpy as np
import array_api_extra as xpx
from array_api_compat import (
    array_namespace as _array_namespace,
    device,
    is_array_api_strict_namespace,
    is_cupy_namespace,
    is_dask_namespace,
    is_jax_array,
    is_jax_namespace,
    is_lazy_array,
    is_numpy_namespace,
    is_torch_namespace,
    to_device,
)

__all__ = [
    "array_namespace",
    "as_array",
    "device",
    "device_table",
    "host_constant",
    "index_dtype",
    "is_array_api_strict_namespace",
    "is_cupy_namespace",
    "is_dask_namespace",
    "is_jax_array",
    "is_jax_namespace",
    "is_lazy_array",
    "is_numpy_namespace",
    "is_torch_namespace",
    "is_traced",
    "to_device",
    "xpx",
]


def array_namespace(*arrays):
    """Return the array API namespace of `arrays` (NumPy's for Python sequences).

    Python lists, tuples and scalars are accepted, as SciPy accepts them, and
    are read as NumPy arrays; ``None`` entries are ignored.
    """
    converted = [_as_numpy_if_plain(a) for a in arrays if a is not None]
    return _array_namespace(*converted)


def as_array(x, *, name: str = "x"):
    """Return `x` as an array of some array API library, with its namespace.

    Plain Python data becomes a NumPy array. Objects that are neither arrays
    nor numeric sequences raise ``TypeError`` naming `name`.
    """
    x = _as_numpy_if_plain(x)
    try:
        xp = _array_namespace(x)
    except TypeError as error:
        raise TypeError(
            f"`{name}` must be an array (NumPy, CuPy, PyTorch, JAX or another "
            f"array API library) or a numeric sequence, got {type(x).__name__}"
        ) from error
    return x, xp


def index_dtype(xp, device=None):
    """The namespace's default integer dtype for indices on `device`.

    int64 on most libraries, int32 under JAX without ``jax_enable_x64``:
    asking for ``xp.int64`` there warns on every call and truncates anyway.
    """
    return xp.__array_namespace_info__().default_dtypes(device=device)["indexing"]


def is_traced(x) -> bool:
    """Whether `x` has no concrete values to read (a JAX tracer, a Dask array, ...).

    array-api-compat's ``is_lazy_array`` answers True for every JAX array, even
    concrete ones outside ``jax.jit``; a JAX array is traced only when it is a
    ``jax.core.Tracer``.
    """
    if is_jax_array(x):
        return isinstance(x, sys.modules["jax"].core.Tracer)
    return is_lazy_array(x)


def device_table(cache: dict, key, host_table, *, like, xp):
    """A host-side null table moved once to `like`'s dtype and device, and kept in `cache`.

    ``host_table()`` gives a host array, a tuple of them, or None (no table);
    the result is kept under ``(key, dtype, device)``. A table moved inside
    ``jax.jit`` is a tracer: it is returned but never kept.
    """
    full_key = (key, str(like.dtype), str(device(like)))
    if full_key in cache:
        return cache[full_key]
    host = host_table()

    def move(values):
        return xp.asarray(values, dtype=like.dtype, device=device(like))

    table = None if host is None else tuple(map(move, host)) if isinstance(host, tuple) else move(host)
    first = table[0] if isinstance(table, tuple) else table
    if table is None or not is_traced(first):
        cache[full_key] = table
    return table


def host_constant(function=None, *, maxsize: int = 128):
    """Cache a host-side function of static arguments and mark it constant for tracers.

    Null tables, coefficients and eigenvalues are computed with NumPy/SciPy on
    the host from static values (n, options). Marked this way,
    ``torch.compile`` calls the function while tracing, even on a cold cache,
    and keeps its result as a constant instead of tracing NumPy code. The
    attribute is what ``torch.compiler.assume_constant_result`` sets (setting
    it here imports no framework); it must sit on a plain function, since
    dynamo traces through ``functools.lru_cache`` wrappers. ``jax.jit`` needs
    nothing: static arguments are Python values. At most `maxsize` results
    are kept; the cache empties when full.
    """
    if function is None:
        return functools.partial(host_constant, maxsize=maxsize)
    cache: dict = {}

    @functools.wraps(function)
    def constant(*args):
        if args not in cache:
            if len(cache) >= maxsize:
                cache.clear()
            cache[args] = function(*args)
        return cache[args]

    constant._dynamo_marked_constant = True
    constant.cache_clear = cache.clear
    return constant


def _as_numpy_if_plain(x):
    if isinstance(x, (list, tuple, int, float, bool, np.generic)):
        try:
            return np.asarray(x)
        except ValueError as error:  # ragged sequences
            raise TypeError(f"could not read a numeric array from {type(x).__name__}: {error}") from error
    return x
