"""JAX adapter: ``jax.scipy.special`` and ``jax.random``.

Collectives in JAX are named-axis operations (``jax.lax.psum``) used inside
``shard_map`` or ``pmap``; :func:`all_reduce_sum` takes the axis name.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.special as special

__all__ = ["ndtr", "log_ndtr", "ndtri", "standard_normal", "all_reduce_sum"]

_LOW_PRECISION = (jnp.bfloat16, jnp.float16)


def _in_float32(function, x):
    if x.dtype in _LOW_PRECISION:
        return function(x.astype(jnp.float32)).astype(x.dtype)
    return function(x)


def ndtr(x):
    """Standard normal CDF."""
    return _in_float32(special.ndtr, x)


def log_ndtr(x):
    """Logarithm of the standard normal CDF."""
    return _in_float32(special.log_ndtr, x)


def ndtri(p):
    """Inverse of the standard normal CDF."""
    return _in_float32(special.ndtri, p)


def standard_normal(shape, *, seed, dtype, device=None):
    """Standard normal draws from ``jax.random.key(seed)`` (or a given key) on `device`."""
    key = jax.random.key(int(seed)) if isinstance(seed, int) else seed
    draws = jax.random.normal(key, tuple(shape), dtype=dtype)
    return draws if device is None else jax.device_put(draws, device)


def all_reduce_sum(x, axis_name=None):
    """``jax.lax.psum`` over `axis_name`; the identity when it is ``None``."""
    if axis_name is None:
        return x
    return jax.lax.psum(x, axis_name)
