"""Null distributions of the EDF statistics against SciPy and against simulation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as special
import scipy.stats as stats

import sketchtest as st
from sketchtest._nulls import edf as nulls
from sketchtest._nulls.ks import kolmogorov_smirnov_exact_sf


def test_kolmogorov_limit_matches_kstwobign():
    s = np.concatenate([np.linspace(0.0, 3.0, 601), np.linspace(3.0, 6.0, 31)])
    expected = stats.kstwobign.sf(s)
    got = nulls.kolmogorov_limit_sf(s, xp=np)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-300)


def test_scaled_bessel_k_matches_scipy_kve():
    z = np.geomspace(1.0 / 256.0, 300.0, 5001)
    for order, got in zip((0.25, 0.75, 1.25), nulls._scaled_bessel_k(z, xp=np)):
        # e^{-z} K_nu(z) = kve(nu, z) e^{-2z}
        np.testing.assert_allclose(got, special.kve(order, z) * np.exp(-2 * z), rtol=1e-12)


@pytest.mark.parametrize("n", [2, 3, 10, 100, 10000])
def test_cvm_standard_sf_matches_scipy_series(n):
    # p-values of scipy.stats.cramervonmises for samples whose statistic is w: computed
    # here through its public function on data built to have that statistic is awkward, so
    # compare with the statistic/p-value pairs of many random samples instead
    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, 400)) * rng.uniform(0.6, 1.8, 400)
    reference = stats.cramervonmises(x, stats.norm.cdf, axis=0)
    got = nulls.cvm_standard_sf(reference.statistic, n, xp=np)
    # above W^2 = 2 SciPy's 1 - F_n loses its digits (noise from W^2 ~ 4.5); sketchtest follows
    # the limit law there (tests/test_edf_standard_tails.py)
    usable = reference.statistic < 2.0
    np.testing.assert_allclose(got[usable], reference.pvalue[usable], rtol=1e-8, atol=1e-14)


def test_cvm_limit_matches_csorgo_faraway_table():
    # Csörgő & Faraway (1996) / Anderson & Darling (1952) limiting quantiles of W^2:
    # P(W^2 > 0.46136) = 0.05, P(W^2 > 0.74346) = 0.01, P(W^2 > 0.34730) = 0.10
    w = np.array([0.34730, 0.46136, 0.74346])
    np.testing.assert_allclose(nulls.cvm_limit_sf(w, xp=np), [0.10, 0.05, 0.01], rtol=2e-4)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 10, 37, 140, 141, 187, 500, 2048])
def test_kolmogorov_smirnov_exact_sf_matches_kstwo(n):
    # a sweep over every n in 1..200 and 40 n up to 10000 (not run here) gave at most
    # 4e-7 relative (n = 4) where p > 1e-10 and 8e-9 absolute
    d = np.concatenate([
        np.linspace(0.4 / n, 1.0, 801),
        np.linspace(0.2, 2.5, 401) / np.sqrt(n),
    ])
    expected = stats.kstwo.sf(d, n)
    got = kolmogorov_smirnov_exact_sf(d, n, xp=np)
    relevant = expected > 1e-10
    if 140 < n <= 1000:  # the body is exact there (tests/test_ks_exact_r.py); kstwo's Pelz-Good
        relevant &= expected < 1e-6  # expansion is off by up to 3.1e-6 (n = 141, against R)
        np.testing.assert_allclose(got, expected, atol=4e-6)
    np.testing.assert_allclose(got[relevant], expected[relevant], rtol=5e-7)
    np.testing.assert_allclose(got[~(expected >= 1e-6) | (n <= 140) | (n > 1000)],
                               expected[~(expected >= 1e-6) | (n <= 140) | (n > 1000)], atol=2e-8)


def _simulated_statistics(test, n, replicates, seed):
    """Statistics of `test` on N(0, 1) data drawn here (host), one call."""
    x = np.random.default_rng(seed).standard_normal((n, replicates))
    return test(x, null="normal").statistic


@pytest.mark.parametrize("test", [st.cramer_von_mises, st.anderson_darling, st.watson, st.kolmogorov_smirnov],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("n", [20, 100])
def test_composite_pvalues_agree_with_simulation(test, n):
    # measured: within 0.016 of the simulation near p = 0.5 at n = 20, within 0.005 for
    # p <= 0.1 (Lilliefors, a simulated table since, within this simulation's noise:
    # tests/test_lilliefors_null.py); the Monte Carlo standard error at p = 0.5 is 0.0035
    null_statistics = np.sort(_simulated_statistics(test, n, 20000, seed=n))
    probe = np.quantile(null_statistics, [0.5, 0.8, 0.9, 0.95, 0.99])
    simulated = 1.0 - np.searchsorted(null_statistics, probe) / null_statistics.size
    sf = {
        "cramer_von_mises": nulls.cvm_normal_sf, "anderson_darling": nulls.anderson_darling_normal_sf,
        "watson": nulls.watson_normal_sf, "kolmogorov_smirnov": nulls.lilliefors_sf,
    }[test.__name__]
    error = np.abs(sf(probe, n, xp=np) - simulated)
    assert np.all(error < [0.025, 0.015, 0.01, 0.006, 0.003]), error


@pytest.mark.parametrize("n", [5, 30])
def test_anderson_darling_standard_agrees_with_simulation(n):
    x = np.random.default_rng(n).standard_normal((n, 40000))
    null_statistics = np.sort(st.anderson_darling(x, null="standard").statistic)
    probe = np.quantile(null_statistics, [0.5, 0.9, 0.95, 0.99])
    simulated = 1.0 - np.searchsorted(null_statistics, probe) / null_statistics.size
    np.testing.assert_allclose(nulls.anderson_darling_standard_sf(probe, n, xp=np), simulated, atol=0.004)


def test_anderson_darling_limit_matches_published_quantiles():
    # Anderson & Darling (1954), D'Agostino & Stephens (1986, Table 4.2): the limiting
    # upper 10% and 5% points of A^2 are 1.933 and 2.492
    a = np.array([1.933, 2.492])
    np.testing.assert_allclose(nulls.anderson_darling_limit_sf(a, xp=np), [0.10, 0.05], rtol=1e-3)


def test_watson_limit_matches_published_quantiles():
    # Watson (1961) / Stephens (1970): limiting upper 10%, 5%, 1% points of U^2 are 0.152, 0.187, 0.267
    u = np.array([0.152, 0.187, 0.267])
    # three-digit quantiles: dp/du = -2 pi^2 p, so rounding u moves p by up to 3%
    np.testing.assert_allclose(nulls.watson_limit_sf(u, xp=np), [0.10, 0.05, 0.01], rtol=3e-2)


def test_composite_pvalues_are_monotone_and_bounded():
    w = np.linspace(0.0, 200.0, 20001)
    for sf in (nulls.cvm_normal_sf, nulls.anderson_darling_normal_sf, nulls.watson_normal_sf):
        p = sf(w, 50, xp=np)
        assert np.all((p >= 0) & (p <= 1))
        assert np.all(np.diff(p) <= 1e-3), sf.__name__  # pieces meet within 1e-3
    d = np.linspace(0.0, 1.0, 2001)
    p = nulls.lilliefors_sf(d, 50, xp=np)
    assert np.all((p >= 0) & (p <= 1)) and np.all(np.diff(p) <= 0.0)  # one table: monotone


def test_anderson_darling_standard_pvalue_follows_the_limit_law_far_into_the_tail():
    # the limit law by mpmath (tests/test_anderson_darling_accuracy.py): P(A^2 > 10) = 1.3815e-5,
    # P(A^2 > 20) = 4.4651e-10, P(A^2 > 43) = 3.1386e-20; errfix is a relative O(1/n) change there
    a = np.array([10.0, 20.0, 43.0])
    limit = np.array([1.3815035410685864e-05, 4.4650715383119218e-10, 3.1385640825577408e-20])
    p64 = nulls.anderson_darling_standard_sf(a, 40, xp=np)
    np.testing.assert_allclose(p64, limit, rtol=0.05)
    p32 = nulls.anderson_darling_standard_sf(a.astype(np.float32), 40, xp=np)
    np.testing.assert_allclose(p32, p64, rtol=1e-4)  # no float32 cancellation near p = 0


@pytest.mark.parametrize("test", [st.cramer_von_mises, st.anderson_darling, st.watson], ids=lambda f: f.__name__)
def test_quadratic_composite_pvalues_are_within_simulation_noise_at_n_30(test):
    # the D'Agostino-Stephens formulas were off by 0.027-0.030 near p = 0.6 here; the limit
    # laws with the fitted correction are within 0.002 of 10^6 simulated samples
    # (benchmarks/edf_accuracy.py); 40,000 samples resolve p to about 0.0025
    null_statistics = np.sort(_simulated_statistics(test, 30, 40000, seed=2026))
    levels = np.asarray([0.8, 0.6, 0.4, 0.2, 0.1, 0.05, 0.01])
    probe = np.quantile(null_statistics, 1.0 - levels)
    simulated = 1.0 - np.searchsorted(null_statistics, probe) / null_statistics.size
    sf = {"cramer_von_mises": nulls.cvm_normal_sf, "anderson_darling": nulls.anderson_darling_normal_sf,
          "watson": nulls.watson_normal_sf}[test.__name__]
    tolerance = 4.0 * np.sqrt(simulated * (1.0 - simulated) / null_statistics.size) + 0.002
    assert np.all(np.abs(sf(probe, 30, xp=np) - simulated) < tolerance)


@pytest.mark.parametrize("sf", [nulls.cvm_normal_sf, nulls.anderson_darling_normal_sf, nulls.watson_normal_sf,
                                nulls.anderson_darling_standard_sf], ids=lambda f: f.__name__)
@pytest.mark.parametrize("n", [25, 1000])
def test_edf_pvalues_in_float32_agree_with_float64_far_into_the_tail(sf, n):
    statistic = np.geomspace(0.01, 90.0, 400).astype(np.float32)
    double = sf(statistic.astype(np.float64), n, xp=np)
    single = sf(statistic, n, xp=np)
    assert single.dtype == np.float32
    resolved = double > 1e-36  # float32's smallest normal numbers, then zero
    assert np.all(double[resolved] > 0.0) and np.min(double[resolved]) < 1e-30
    np.testing.assert_allclose(single[resolved], double[resolved], rtol=1e-4)
