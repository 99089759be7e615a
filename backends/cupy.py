"""CuPy adapter: ``cupyx.scipy.special`` and CuPy's Generator."""

from __future__ import annotations

import cupy
import cupyx.scipy.special as special

__all__ = ["ndtr", "log_ndtr", "ndtri", "standard_normal", "all_reduce_sum"]


def ndtr(x):
    """Standard normal CDF."""
    return special.ndtr(x)


def log_ndtr(x):
    """Logarithm of the standard normal CDF."""
    return special.log_ndtr(x)


def ndtri(p):
    """Inverse of the standard normal CDF."""
    return special.ndtri(p)


def standard_normal(shape, *, seed, dtype, device=None):
    """Standard normal draws from ``cupy.random.default_rng(seed)`` on `device`."""
    with cupy.cuda.Device(device.id if device is not None else None):
        return cupy.random.default_rng(seed).standard_normal(tuple(shape), dtype=dtype)


def all_reduce_sum(x):
    """No collective is wired for CuPy: the identity."""
    return x
