"""Size of :func:`sketchtest.normality_test` under both nulls, and of its components.

Replicates are laid along the batch axis, ``(R, N, D)``, so one call tests
them all. Standard-null replicates are N(0, I); composite-null replicates are
``mu + z B`` with a fixed random mean and a fixed random (ill-conditioned)
matrix B, to exercise the affine invariance. Every rejection rate must lie
within a 4-sigma binomial band plus 0.005 of alpha (``grid.band``).

The principal axes depend on the data. Their per-axis p-values are checked
on their own (the top and the bottom axis, where eigenvalue order statistics
would show): they must be uniform, which is what the Cauchy combination needs.
"""

from __future__ import annotations

import numpy as np
import pytest

import sketchtest as st
from grid import band, uniformity_distance

ALPHAS = (0.01, 0.05, 0.10)


def null_samples(null, replicates, n, dim, seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((replicates, n, dim))
    if null == "standard":
        return z
    mixing = rng.standard_normal((dim, dim)) * np.exp(rng.uniform(-2.0, 2.0, size=dim))[:, None]
    # Full rank in float64 by normality_test's documented rule: a covariance whose eigenvalues
    # spread beyond 8 D eps (9e-13 at D = 512; one draw in 100 at D = 512 reached 1.5e-13) is
    # numerically singular, a collapse (tested in test_normality_unhealthy.py), not this case.
    singular_values = np.linalg.svd(mixing, compute_uv=False)
    while (singular_values[-1] / singular_values[0]) ** 2 < 16 * dim * np.finfo(np.float64).eps:
        mixing = rng.standard_normal((dim, dim)) * np.exp(rng.uniform(-2.0, 2.0, size=dim))[:, None]
        singular_values = np.linalg.svd(mixing, compute_uv=False)
    return rng.normal(3.0, 2.0, size=dim) + z @ mixing


def _check_rates(pvalues, replicates, what, *, conservative_ok=False):
    pvalues = np.asarray(pvalues, dtype=np.float64)
    assert pvalues.shape == (replicates,)
    assert np.all((pvalues >= 0) & (pvalues <= 1)), f"{what}: p-values outside [0, 1]"
    for alpha in ALPHAS:
        rate = float(np.mean(pvalues <= alpha))
        excess = rate - alpha if conservative_ok else abs(rate - alpha)
        assert excess <= band(alpha, replicates), (
            f"{what}: rejection rate {rate:.4f} at alpha={alpha} (allowed +-{band(alpha, replicates):.4f})")


def _check_size(null, n, dim, replicates, seed):
    pvalues, components, axes = [], {}, []
    chunk = max(1, (1 << 22) // (n * dim))  # replicates per call: bounded memory
    for start in range(0, replicates, chunk):
        x = null_samples(null, min(chunk, replicates - start), n, dim, seed + start)
        result = st.normality_test(x, null=null, seed=seed, num_slices=64)
        pvalues.append(np.asarray(result.pvalue))
        assert "within_subspace" not in result.components  # only for singular samples: none here
        for name, component in result.components.items():
            components.setdefault(name, []).append(np.asarray(component.pvalue))
        axes.append(np.asarray(result.components["principal_axes"].extras["pvalues"]))
    _check_rates(np.concatenate(pvalues), replicates, f"normality_test null={null!r}")
    for name, parts in components.items():
        _check_rates(np.concatenate(parts), replicates, f"component {name!r}", conservative_ok=True)
    axes = np.concatenate(axes)
    for label, column in (("first", 0), ("last tested", -1)):
        distance = uniformity_distance(axes[:, column])
        # 1.95 / sqrt(R): the 0.1% critical value of the Kolmogorov distance; 0.01 for the asymptotic null
        assert distance < 1.95 / np.sqrt(replicates) + 0.01, f"{label} principal axis: KS distance {distance:.4f}"


@pytest.mark.parametrize("null", ["standard", "normal"])
@pytest.mark.parametrize(("n", "dim"), [(64, 4), (256, 16)])
def test_size_default_grid(null, n, dim):
    _check_size(null, n, dim, replicates=1000, seed=n + dim)


@pytest.mark.slow
@pytest.mark.parametrize("null", ["standard", "normal"])
@pytest.mark.parametrize(("n", "dim", "replicates"), [
    (32, 8, 2000), (128, 64, 1000), (512, 64, 1000), (512, 256, 400), (1024, 256, 300), (4096, 512, 200),
])
def test_size_full_grid(null, n, dim, replicates):
    _check_size(null, n, dim, replicates=replicates, seed=7 * n + dim)


# --- small N: N <= D + 2 (issue 20) ---------------------------------------------------------

def _small_n_rates(n, dim, replicates, seed):
    x = np.random.default_rng(seed).standard_normal((replicates, n, dim))
    result = st.normality_test(x, seed=seed, num_slices=32)
    return result


@pytest.mark.parametrize("n", [5, 8, 12, 18])
def test_size_at_n_below_d_plus_2(n):
    dim, replicates = 16, 1000
    result = _small_n_rates(n, dim, replicates, seed=100 + n)
    _check_rates(result.pvalue, replicates, f"normality_test N={n}, D={dim}", conservative_ok=True)
    for name in ("skewness", "kurtosis", "covariance"):  # switched off, with their reason
        assert np.all(np.isnan(result.components[name].pvalue)), name
        assert "D + 2" in result.components[name].extras["reason"]
    if n <= dim:
        assert "singular" in result.components["rank"].extras["reason"]


@pytest.mark.slow
@pytest.mark.parametrize("n", list(range(5, 19)))
def test_size_at_n_below_d_plus_2_full(n):
    dim, replicates = 16, 4000
    result = _small_n_rates(n, dim, replicates, seed=200 + n)
    # the level holds; at N = 5, 6 the test is conservative (about 0.03 at alpha = 0.05: the components
    # left there are the Epps-Pulley ones, whose asymptotic null is conservative for tiny samples)
    _check_rates(result.pvalue, replicates, f"normality_test N={n}, D={dim}", conservative_ok=True)
    # the far tail too: alpha = 0.001 within its 4-sigma binomial band (0.0020 at R = 4000)
    assert float(np.mean(np.asarray(result.pvalue) <= 0.001)) <= 0.001 + 4 * np.sqrt(0.001 * 0.999 / replicates)
