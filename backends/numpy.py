"""NumPy adapter: SciPy's special functions and NumPy's Generator."""

from __future__ import annotations

import numpy as np
import scipy.special as special

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
    """Standard normal draws from ``numpy.random.default_rng(seed)``."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return rng.standard_normal(tuple(shape)).astype(dtype, copy=False)


def all_reduce_sum(x):
    """NumPy has no distributed runtime: the identity."""
    return x
