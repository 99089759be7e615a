"""Moment tests: Jarque-Bera and D'Agostino-Pearson against SciPy and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as stats

import sketchtest as st

SAMPLERS = {
    "normal": lambda rng, shape: rng.normal(-1.0, 3.0, shape),
    "exponential": lambda rng, shape: rng.standard_exponential(shape),
    "uniform": lambda rng, shape: rng.uniform(size=shape),
    "student_t": lambda rng, shape: rng.standard_t(3, shape),
}


def strict(device_name):
    xs = pytest.importorskip("array_api_strict")
    return xs, xs.Device(device_name)


def to_numpy(array):
    import array_api_strict as xs

    return np.asarray(xs.asarray(array, device=xs.Device("CPU_DEVICE"), copy=True), dtype=np.float64)


def within_binomial_band(rate, alpha, replicates):
    return abs(rate - alpha) <= 4.0 * math.sqrt(alpha * (1 - alpha) / replicates) + 0.005


@pytest.mark.parametrize("n", [2, 5, 50, 2000])
@pytest.mark.parametrize("distribution", list(SAMPLERS))
def test_jarque_bera_matches_scipy(n, distribution):
    data = SAMPLERS[distribution](np.random.default_rng(n), (n, 3))
    expected = stats.jarque_bera(data, axis=0)  # scipy.stats.jarque_bera(data, axis=0)
    result = st.jarque_bera(data, method="asymptotic")  # SciPy's chi-square(2) p-value
    np.testing.assert_allclose(result.statistic, expected.statistic, rtol=1e-10)
    np.testing.assert_allclose(result.pvalue, expected.pvalue, rtol=1e-10)


def test_jarque_bera_standard_null_closed_form():
    data = np.random.default_rng(1).standard_normal((300, 4)) * [1.0, 1.0, 1.3, 1.0] + [0, 0.2, 0, 0]
    n = data.shape[0]
    # Known mean 0 and variance 1: Var(m3') = 15/n and Var(m4') = 96/n under N(0, 1).
    statistic = n * (np.mean(data**3, axis=0) ** 2 / 15 + (np.mean(data**4, axis=0) - 3) ** 2 / 96)
    result = st.jarque_bera(data, null="standard", method="asymptotic")
    np.testing.assert_allclose(result.statistic, statistic, rtol=1e-12)
    np.testing.assert_allclose(result.pvalue, stats.chi2.sf(statistic, 2), rtol=1e-10)


@pytest.mark.parametrize("n", [8, 9, 20, 100, 5000])
@pytest.mark.parametrize("distribution", list(SAMPLERS))
def test_dagostino_pearson_matches_scipy_normaltest(n, distribution):
    data = SAMPLERS[distribution](np.random.default_rng(n + 3), (n, 3))
    expected = stats.normaltest(data, axis=0)  # scipy.stats.normaltest(data, axis=0)
    result = st.dagostino_pearson(data, method="asymptotic")
    np.testing.assert_allclose(result.statistic, expected.statistic, rtol=1e-10)
    np.testing.assert_allclose(result.pvalue, expected.pvalue, rtol=1e-9, atol=1e-300)


def test_dagostino_pearson_on_array_api_strict_device1_and_float32():
    data = np.random.default_rng(4).standard_t(5, (60, 3))
    expected = stats.normaltest(data, axis=0)
    xs, device1 = strict("device1")
    result = st.dagostino_pearson(xs.asarray(data, device=device1), method="asymptotic")
    assert result.statistic.device == device1 and result.statistic.dtype == xs.float64
    np.testing.assert_allclose(to_numpy(result.statistic), expected.statistic, rtol=1e-10)
    _, no_float64 = strict("no_float64")
    single = st.dagostino_pearson(xs.asarray(data.astype(np.float32), device=no_float64), method="asymptotic")
    assert single.pvalue.dtype == xs.float32 and single.pvalue.device == no_float64
    rounded = stats.normaltest(data.astype(np.float32).astype(np.float64), axis=0)
    np.testing.assert_allclose(to_numpy(single.statistic), rounded.statistic, rtol=1e-4)
    np.testing.assert_allclose(to_numpy(single.pvalue), rounded.pvalue, rtol=1e-3)


def test_dagostino_pearson_batches_axis_and_keepdims():
    data = np.random.default_rng(5).standard_exponential((3, 40, 2))
    result = st.dagostino_pearson(data, axis=1, keepdims=True, method="asymptotic")
    assert result.statistic.shape == (3, 1, 2)
    expected = stats.normaltest(data, axis=1)
    np.testing.assert_allclose(result.statistic[:, 0, :], expected.statistic, rtol=1e-10)
    np.testing.assert_allclose(result.pvalue[:, 0, :], expected.pvalue, rtol=1e-9)


def test_dagostino_pearson_nan_policies():
    data = np.random.default_rng(6).standard_normal((30, 3))
    data[2, 0] = np.nan
    propagated = st.dagostino_pearson(data)
    assert np.isnan(propagated.statistic[0]) and np.all(np.isfinite(propagated.statistic[1:]))
    with pytest.raises(ValueError, match="NaN"):
        st.dagostino_pearson(data, nan_policy="raise")
    omitted = st.dagostino_pearson(data, nan_policy="omit")
    expected = stats.normaltest(np.delete(data[:, 0], 2))
    np.testing.assert_allclose(omitted.statistic[0], expected.statistic, rtol=1e-10)


def test_dagostino_pearson_validation():
    with pytest.raises(ValueError, match="`x`"):
        st.dagostino_pearson(np.arange(7.0))
    x = np.random.default_rng(0).standard_normal(30)
    with pytest.raises(ValueError, match="null"):
        st.dagostino_pearson(x, null="standard")
    with pytest.raises(ValueError, match="method"):
        st.dagostino_pearson(x, method="exact")
    with pytest.raises(ValueError, match="`x`"):
        st.jarque_bera(np.arange(1.0))


@pytest.mark.parametrize("n", [50, 200])
def test_dagostino_pearson_calibration(n):
    replicates = 2000
    data = np.random.default_rng(n).standard_normal((n, replicates))
    rate = float(np.mean(st.dagostino_pearson(data).pvalue < 0.05))
    assert within_binomial_band(rate, 0.05, replicates), rate


@pytest.mark.parametrize("test", [st.jarque_bera, st.dagostino_pearson])
def test_monte_carlo_calibration_at_small_n(test):
    # Jarque-Bera's chi-square(2) p-value is conservative at n = 20; the simulated null is not.
    replicates = 2000
    data = np.random.default_rng(20).standard_normal((20, replicates))
    pvalues = test(data, method="monte_carlo", n_resamples=999, seed=3).pvalue
    rate = float(np.mean(pvalues <= 0.05))
    assert within_binomial_band(rate, 0.05, replicates), rate


def test_power_against_heavy_tails():
    data = np.random.default_rng(9).standard_t(2, (200, 100))
    for test in (st.jarque_bera, st.dagostino_pearson):
        assert float(np.mean(test(data).pvalue < 0.05)) > 0.9


def test_jarque_bera_auto_simulates_the_null_below_a_thousand_samples():
    # The chi-square(2) limit rejects 2.6% of normal samples at alpha = 0.05 when n = 25;
    # "auto" simulates the null there, and keeps SciPy's limit from n = 1000 on.
    small = np.random.default_rng(4).standard_normal((25, 2))
    assert st.jarque_bera(small).method == "monte_carlo"
    assert st.jarque_bera(np.random.default_rng(5).standard_normal(1000)).method == "asymptotic"
    replicates = np.random.default_rng(6).standard_normal((2000, 25))
    rate = float(np.mean(np.asarray(st.jarque_bera(replicates, axis=-1, seed=1).pvalue) <= 0.05))
    assert abs(rate - 0.05) <= 4 * np.sqrt(0.05 * 0.95 / 2000) + 0.005


@pytest.mark.parametrize("n", [10, 25])
def test_dagostino_pearson_auto_is_calibrated_at_small_n(n):
    """The chi-square(2) p-value rejects 2.0% (n = 10) and 2.1% (n = 25) at alpha = 1%; "auto" simulates."""
    replicates = 4000
    data = np.random.default_rng(100 + n).standard_normal((n, replicates))
    pvalue = np.asarray(st.dagostino_pearson(data, seed=1).pvalue)
    for alpha in (0.01, 0.05):
        tolerance = 4.0 * np.sqrt(alpha * (1.0 - alpha) / replicates)  # 4 binomial standard errors
        assert abs(np.mean(pvalue <= alpha) - alpha) < tolerance, (alpha, np.mean(pvalue <= alpha))
