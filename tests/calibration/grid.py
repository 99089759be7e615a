"""The calibration grid shared by the calibration tests and `benchmarks/calibration.py`.

Each entry names a public test, the nulls it offers and its smallest n.
Replicates are drawn under H0 with a seeded NumPy Generator and laid along a
batch axis, so one call tests them all: shape ``(replicates, n)``, ``axis=-1``.
Composite-null replicates are drawn from N(3, 2^2) to exercise the
location-scale invariance; standard-null replicates from N(0, 1).
"""

from __future__ import annotations

import math

import numpy as np

import sketchtest as st

# (name, function, nulls, smallest n, extra options)
TESTS = [
    ("epps_pulley", st.epps_pulley, ("standard", "normal"), 10, {}),
    ("cramer_von_mises", st.cramer_von_mises, ("standard", "normal"), 10, {}),
    ("anderson_darling", st.anderson_darling, ("standard", "normal"), 10, {}),
    ("watson", st.watson, ("standard", "normal"), 10, {}),
    ("kolmogorov_smirnov", st.kolmogorov_smirnov, ("standard", "normal"), 10, {}),
    ("shapiro_wilk", st.shapiro_wilk, (None,), 10, {}),
    ("shapiro_francia", st.shapiro_francia, (None,), 10, {}),
    ("jarque_bera", st.jarque_bera, ("standard", "normal"), 10, {}),
]
SIZES = (10, 25, 100, 1000)
ALPHAS = (0.01, 0.05, 0.10)


def null_samples(null, n: int, replicates: int, seed: int) -> np.ndarray:
    """`replicates` rows of `n` draws under `null` (see the module docstring)."""
    draws = np.random.default_rng(seed).standard_normal((replicates, n))
    return draws if null == "standard" else 3.0 + 2.0 * draws


def null_pvalues(function, null, n: int, replicates: int, seed: int, **options) -> np.ndarray:
    """p-values of `replicates` samples of size `n` drawn under `null`, in one call."""
    data = null_samples(null, n, replicates, seed)
    if null is not None:
        options = {"null": null, **options}
    return np.asarray(function(data, axis=-1, **options).pvalue, dtype=np.float64)


def band(alpha: float, replicates: int) -> float:
    """Allowed |rejection rate - alpha|: a 4-sigma binomial band plus 0.005."""
    return 4.0 * math.sqrt(alpha * (1.0 - alpha) / replicates) + 0.005


def uniformity_distance(pvalues: np.ndarray) -> float:
    """Kolmogorov distance between the p-values' EDF and U(0, 1)."""
    p = np.sort(pvalues)
    m = p.size
    upper = np.arange(1, m + 1) / m - p
    lower = p - np.arange(0, m) / m
    return float(max(upper.max(), lower.max()))
