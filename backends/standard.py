"""Pure array API adapter, for libraries without a dedicated module.

TEMPORARY: goes through SciPy on the host until the pure-standard special
functions land (owned by the special-functions work item).
"""

from __future__ import annotations

import numpy as np
import scipy.special as special

__all__ = ["ndtr", "log_ndtr", "ndtri", "standard_normal", "all_reduce_sum"]


def _via_host(function, x):
    import array_api_compat as compat

    xp = compat.array_namespace(x)
    values = function(np.asarray(compat.to_device(x, "cpu") if False else np.from_dlpack(x)))
    return xp.asarray(values, dtype=x.dtype, device=compat.device(x))


def ndtr(x):
    return _via_host(special.ndtr, x)


def log_ndtr(x):
    return _via_host(special.log_ndtr, x)


def ndtri(p):
    return _via_host(special.ndtri, p)


def standard_normal(shape, *, seed, dtype, device=None):
    import array_api_compat  # noqa: F401

    raise NotImplementedError


def all_reduce_sum(x):
    return x
