"""Size (type-I error) of every test x null: rejection rates under H0.

For each test x null x n, `REPLICATES` seeded samples drawn under H0 are tested
in one batched call; the rejection rate at each alpha must lie within a 4-sigma
binomial band plus 0.005 of alpha, and the p-values must look uniform (their
Kolmogorov distance to U(0, 1) below the 0.1% critical value 1.95/sqrt(R),
plus 0.01 for the small-sample discreteness of some nulls).
The default run covers n in {25, 100}; the full grid n in {10, 25, 100, 1000}
runs with ``-m slow``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from grid import ALPHAS, SIZES, TESTS, band, null_pvalues, uniformity_distance

REPLICATES = 2000


def _cases(sizes):
    for name, function, nulls, smallest, options in TESTS:
        for null in nulls:
            for n in sizes:
                if n >= smallest:
                    yield pytest.param(function, null, n, options, id=f"{name}-{null}-{n}")


def _check_size(function, null, n, options, seed):
    pvalues = null_pvalues(function, null, n, REPLICATES, seed, **options)
    assert pvalues.shape == (REPLICATES,)
    assert np.all((pvalues >= 0) & (pvalues <= 1)), "p-values outside [0, 1]"
    for alpha in ALPHAS:
        rate = float(np.mean(pvalues <= alpha))
        assert abs(rate - alpha) <= band(alpha, REPLICATES), (
            f"rejection rate {rate:.4f} at alpha={alpha} (allowed {band(alpha, REPLICATES):.4f})"
        )
    distance = uniformity_distance(pvalues)
    assert distance <= 1.95 / math.sqrt(REPLICATES) + 0.01, f"p-values not uniform: D={distance:.4f}"


@pytest.mark.parametrize(("function", "null", "n", "options"), list(_cases((25, 100))))
def test_size_default_grid(function, null, n, options):
    _check_size(function, null, n, options, seed=20261124 + n)


@pytest.mark.slow
@pytest.mark.parametrize(("function", "null", "n", "options"), list(_cases(SIZES)))
def test_size_full_grid(function, null, n, options):
    _check_size(function, null, n, options, seed=11 + n)
