"""Monte Carlo p-values: the null simulated on the caller's backend, cached.

The null distribution of a statistic at sample size n is simulated by running
the test's own ``compute`` on standard normal samples drawn natively on the
caller's device, in batches. Under either null every test here is invariant
to (or defined for) N(0, 1) draws, so one simulation serves both. Sorted null
statistics are cached per (test, null, n, options, dtype, device, n_resamples,
seed): repeated calls pay for one simulation.
"""

from __future__ import annotations

import numpy as np

import sketchtest_backends
from sketchtest._compat import device, is_traced

__all__ = ["monte_carlo_pvalue", "rank_pvalue", "clear_cache"]

_CACHE: dict = {}
_DRAWS_PER_BATCH = 1 << 22


def clear_cache() -> None:
    """Forget every cached null distribution."""
    _CACHE.clear()


def _seed_int(seed) -> int:
    if seed is None:
        return int(np.random.SeedSequence().entropy % (1 << 62))
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 1 << 62))
    return int(seed)


def null_statistics(compute, *, xp, n, dtype, dev, n_resamples, seed, key):
    """Sorted statistics of `n_resamples` N(0, 1) samples of size `n` (cached)."""
    cache_key = (*key, n, str(dtype), str(dev), n_resamples, None if seed is None else seed)
    cached = _CACHE.get(cache_key)
    if cached is not None and not isinstance(seed, np.random.Generator):
        return cached
    backend = sketchtest_backends.for_namespace(xp)
    base_seed = _seed_int(seed)
    rows_per_batch = max(1, _DRAWS_PER_BATCH // n)
    pieces = []
    for batch_index, start in enumerate(range(0, n_resamples, rows_per_batch)):
        rows = min(rows_per_batch, n_resamples - start)
        draws = backend.standard_normal((rows, n), seed=base_seed + batch_index, dtype=dtype, device=dev)
        draws = xp.asarray(draws, device=dev)
        statistic, _ = compute(draws, xp=xp)
        pieces.append(statistic)
    simulated = xp.sort(xp.concat(pieces))
    _CACHE[cache_key] = simulated
    return simulated


def monte_carlo_pvalue(statistic, compute, *, xp, n, n_resamples, seed, key, larger_is_extreme=True):
    """p-value of `statistic` against a simulated null: ``(1 + #extreme) / (1 + B)``.

    A NaN statistic gives a NaN p-value (``searchsorted`` would rank it
    beyond every simulated value: a confident ``1 / (1 + B)``).
    """
    if is_traced(statistic):
        raise ValueError("method='monte_carlo' needs concrete values; it cannot run inside jax.jit")
    simulated = null_statistics(
        compute, xp=xp, n=n, dtype=statistic.dtype, dev=device(statistic),
        n_resamples=n_resamples, seed=seed, key=key,
    )
    return rank_pvalue(statistic, simulated, xp=xp, larger_is_extreme=larger_is_extreme)


def rank_pvalue(statistic, simulated, *, xp, larger_is_extreme=True):
    """p-value of `statistic` against the sorted null sample `simulated`: ``(1 + #extreme) / (1 + B)``.

    Jit-safe (no value-dependent branch); a NaN statistic gives a NaN p-value.
    """
    n_resamples = simulated.shape[0]
    flat = xp.reshape(statistic, (-1,))
    if larger_is_extreme:
        extreme = n_resamples - xp.searchsorted(simulated, flat, side="left")
    else:
        extreme = xp.searchsorted(simulated, flat, side="right")
    extreme = xp.astype(extreme, statistic.dtype)
    pvalue = (extreme + 1.0) / (n_resamples + 1.0)
    pvalue = xp.where(xp.isnan(flat), xp.full_like(pvalue, float("nan")), pvalue)
    return xp.reshape(pvalue, statistic.shape)
