"""Shapiro-Wilk and Shapiro-Francia: agreement with SciPy / published formulas, behaviour, calibration."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.stats as stats

import sketchtest as st

SAMPLERS = {
    "normal": lambda rng, n: rng.normal(3.0, 2.0, n),
    "exponential": lambda rng, n: rng.standard_exponential(n),
    "uniform": lambda rng, n: rng.uniform(size=n),
    "student_t": lambda rng, n: rng.standard_t(4, n),
}
SHAPIRO_WILK_SIZES = [3, 4, 5, 6, 11, 12, 50, 1000, 5000]


def strict_device1():
    xs = pytest.importorskip("array_api_strict")
    return xs, xs.Device("device1")


def to_numpy(array):
    """A float64 NumPy copy of a NumPy or array_api_strict array (any device)."""
    if isinstance(array, np.ndarray) or np.isscalar(array):
        return np.asarray(array, dtype=np.float64)
    import array_api_strict as xs

    return np.asarray(xs.asarray(array, device=xs.Device("CPU_DEVICE"), copy=True), dtype=np.float64)


def francia_reference(sample):
    """Shapiro-Francia by the published recipe, independently of sketchtest.

    W' = corr(x_(i), m_i)^2 with m_i = Phi^-1((i - 3/8) / (n + 1/4)) (Blom scores,
    R's ``qnorm(ppoints(n, a = 3/8))``); Royston (1993): ln(1 - W') ~ N(mu, sigma),
    mu = -1.2725 + 1.0521 (v - u), sigma = 1.0308 - 0.26758 (v + 2/u), u = ln n, v = ln u.
    """
    n = sample.shape[0]
    scores = stats.norm.ppf((np.arange(1, n + 1) - 0.375) / (n + 0.25))
    w = np.corrcoef(np.sort(sample), scores)[0, 1] ** 2
    u = math.log(n)
    v = math.log(u)
    mu = -1.2725 + 1.0521 * (v - u)
    sigma = 1.0308 - 0.26758 * (v + 2.0 / u)
    return w, stats.norm.sf((math.log(1.0 - w) - mu) / sigma)


@pytest.mark.parametrize("n", SHAPIRO_WILK_SIZES)
@pytest.mark.parametrize("distribution", list(SAMPLERS))
def test_shapiro_wilk_matches_scipy(n, distribution):
    sample = SAMPLERS[distribution](np.random.default_rng(n), n)
    expected = stats.shapiro(sample)  # scipy.stats.shapiro(sample): AS R94
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # n > 5000 is not reached here
        result = st.shapiro_wilk(sample)
    np.testing.assert_allclose(result.statistic, expected.statistic, rtol=1e-6)
    np.testing.assert_allclose(result.pvalue, expected.pvalue, rtol=1e-4)


def test_shapiro_wilk_matches_scipy_for_every_small_n_and_a_log_grid():
    sizes = list(range(3, 61)) + [int(n) for n in np.unique(np.geomspace(61, 5000, 40).astype(int))]
    rng = np.random.default_rng(2024)
    for n in sizes:
        sample = rng.gamma(3.0, size=n)  # skewed enough for p-values over many decades
        expected = stats.shapiro(sample)  # scipy.stats.shapiro(sample)
        result = st.shapiro_wilk(sample)
        np.testing.assert_allclose(result.statistic, expected.statistic, rtol=1e-6, err_msg=f"n={n}")
        np.testing.assert_allclose(result.pvalue, expected.pvalue, rtol=1e-4, err_msg=f"n={n}")


@pytest.mark.parametrize("n", [3, 7, 50, 1000])
def test_shapiro_wilk_matches_scipy_on_array_api_strict_device1(n):
    xs, device1 = strict_device1()
    sample = np.random.default_rng(n + 1).standard_t(5, size=(n, 3))
    result = st.shapiro_wilk(xs.asarray(sample, device=device1))
    assert result.statistic.device == device1 and result.pvalue.device == device1
    expected = stats.shapiro(sample, axis=0)  # scipy.stats.shapiro(sample, axis=0), column by column
    np.testing.assert_allclose(to_numpy(result.statistic), expected.statistic, rtol=1e-6)
    np.testing.assert_allclose(to_numpy(result.pvalue), expected.pvalue, rtol=1e-4)


def test_shapiro_wilk_n3_has_the_exact_distribution():
    # n = 3: a = (-1/sqrt 2, 0, 1/sqrt 2) and p = 1 - (6/pi) arccos(sqrt(W)) exactly (Shapiro & Wilk 1965).
    sample = np.array([0.0, 1.0, 3.0])
    centered = sample - sample.mean()
    w = (sample[2] - sample[0]) ** 2 / 2.0 / np.sum(centered**2)  # a = (-1/sqrt 2, 0, 1/sqrt 2)
    result = st.shapiro_wilk(sample)
    np.testing.assert_allclose(result.statistic, w, rtol=1e-14)
    np.testing.assert_allclose(result.pvalue, 1.0 - 6.0 / np.pi * np.arccos(np.sqrt(w)), rtol=1e-12)


@pytest.mark.parametrize("n", [5, 6, 20, 101, 1000, 5000])
@pytest.mark.parametrize("distribution", ["normal", "exponential", "uniform"])
def test_shapiro_francia_matches_published_formula(n, distribution):
    sample = SAMPLERS[distribution](np.random.default_rng(n + 7), n)
    expected_w, expected_p = francia_reference(sample)
    result = st.shapiro_francia(sample, method="royston")  # "auto" simulates below n = 10
    np.testing.assert_allclose(result.statistic, expected_w, rtol=1e-12)
    np.testing.assert_allclose(result.pvalue, expected_p, rtol=1e-8)


def test_shapiro_francia_on_array_api_strict_device1():
    xs, device1 = strict_device1()
    sample = np.random.default_rng(3).standard_exponential((40, 2))
    result = st.shapiro_francia(xs.asarray(sample, device=device1))
    assert result.statistic.device == device1
    expected = [francia_reference(sample[:, j]) for j in range(2)]
    np.testing.assert_allclose(to_numpy(result.statistic), [w for w, _ in expected], rtol=1e-12)
    np.testing.assert_allclose(to_numpy(result.pvalue), [p for _, p in expected], rtol=1e-8)


@pytest.mark.parametrize("test", [st.shapiro_wilk, st.shapiro_francia])
def test_batches_axis_and_keepdims(test):
    data = np.random.default_rng(5).standard_normal((4, 30, 2))
    result = test(data, axis=1)
    assert result.statistic.shape == (4, 2)
    for i in range(4):
        for j in range(2):
            single = test(data[i, :, j])
            np.testing.assert_allclose(result.statistic[i, j], single.statistic, rtol=1e-12)
            np.testing.assert_allclose(result.pvalue[i, j], single.pvalue, rtol=1e-10)
    kept = test(data, axis=-2, keepdims=True)
    assert kept.statistic.shape == (4, 1, 2) and kept.pvalue.shape == (4, 1, 2)
    np.testing.assert_allclose(kept.statistic[:, 0, :], result.statistic, rtol=1e-14)


@pytest.mark.parametrize("test", [st.shapiro_wilk, st.shapiro_francia])
def test_nan_policies(test):
    data = np.random.default_rng(6).standard_normal((25, 3))
    data[4, 1] = np.nan
    propagated = test(data)
    assert np.isnan(propagated.statistic[1]) and np.isnan(propagated.pvalue[1])
    assert np.all(np.isfinite(propagated.statistic[[0, 2]]))
    with pytest.raises(ValueError, match="NaN"):
        test(data, nan_policy="raise")
    omitted = test(data, nan_policy="omit")
    clean = test(np.delete(data[:, 1], 4))
    np.testing.assert_allclose(omitted.statistic[1], clean.statistic, rtol=1e-12)
    np.testing.assert_allclose(omitted.pvalue[1], clean.pvalue, rtol=1e-10)
    np.testing.assert_allclose(omitted.statistic[[0, 2]], propagated.statistic[[0, 2]], rtol=1e-12)


@pytest.mark.parametrize(("test", "minimum"), [(st.shapiro_wilk, 3), (st.shapiro_francia, 5)])
def test_too_few_samples_raise_naming_x(test, minimum):
    with pytest.raises(ValueError, match="`x`"):
        test(np.arange(minimum - 1, dtype=float))
    test(np.arange(minimum, dtype=float) ** 2)  # the minimum itself is accepted


@pytest.mark.parametrize("test", [st.shapiro_wilk, st.shapiro_francia])
def test_invalid_options_raise(test):
    x = np.random.default_rng(0).standard_normal(20)
    with pytest.raises(ValueError, match="null"):
        test(x, null="standard")
    with pytest.raises(ValueError, match="method"):
        test(x, method="exact")
    assert test(x, method="royston").method == "royston"
    assert test(x).method == "royston"


@pytest.mark.parametrize("test", [st.shapiro_wilk, st.shapiro_francia])
def test_beyond_5000_warns_and_still_computes(test):
    x = np.random.default_rng(1).standard_normal(5001)
    with pytest.warns(UserWarning, match="5000"):
        result = test(x)
    assert 0.99 < float(result.statistic) <= 1.0 and 0.0 <= float(result.pvalue) <= 1.0


@pytest.mark.parametrize("test", [st.shapiro_wilk, st.shapiro_francia])
def test_constant_sample_gives_nan(test):
    with np.errstate(invalid="ignore", divide="ignore"):
        result = test(np.ones((10, 2)))
    assert np.all(np.isnan(result.statistic)) and np.all(np.isnan(result.pvalue))


@pytest.mark.parametrize("test", [st.shapiro_wilk, st.shapiro_francia])
def test_float32_in_float32_out(test):
    data = np.random.default_rng(2).standard_exponential((60, 3))
    single = test(data.astype(np.float32))
    assert single.statistic.dtype == np.float32 and single.pvalue.dtype == np.float32
    double = test(data.astype(np.float32).astype(np.float64))
    np.testing.assert_allclose(single.statistic, double.statistic, rtol=1e-5)
    np.testing.assert_allclose(single.pvalue, double.pvalue, rtol=1e-3)


@pytest.mark.parametrize("test", [st.shapiro_wilk, st.shapiro_francia])
def test_float32_keeps_the_pvalue_at_large_n(test):
    # 1 - W ~ 3e-4 at n = 5000: computed by subtraction in float32 it lost ~4e-2 of the p-value.
    data = np.random.default_rng(13).standard_normal((5000, 8)).astype(np.float32)
    single, double = test(data), test(data.astype(np.float64))
    np.testing.assert_allclose(single.pvalue, double.pvalue, rtol=2e-4)


@pytest.mark.parametrize("test", [st.shapiro_wilk, st.shapiro_francia])
def test_monte_carlo_agrees_with_royston(test):
    rows = np.random.default_rng(9).standard_normal((30, 4))
    rows[:, 3] = np.random.default_rng(10).standard_exponential(30)
    royston = test(rows)
    simulated = test(rows, method="monte_carlo", n_resamples=1999, seed=4)
    assert simulated.method == "monte_carlo"
    # Monte Carlo standard error at p is sqrt(p(1 - p) / 2000) <= 0.012; Royston's fit is close.
    np.testing.assert_allclose(simulated.pvalue, royston.pvalue, atol=0.05)


def test_monte_carlo_on_array_api_strict_device1():
    xs, device1 = strict_device1()
    rows = np.random.default_rng(12).standard_normal((25, 2))
    result = st.shapiro_wilk(xs.asarray(rows, device=device1), method="monte_carlo", n_resamples=999, seed=1)
    assert result.pvalue.device == device1
    np.testing.assert_allclose(to_numpy(result.pvalue), st.shapiro_wilk(rows).pvalue, atol=0.06)


@pytest.mark.parametrize("test", [st.shapiro_wilk, st.shapiro_francia])
@pytest.mark.parametrize("n", [20, 200])
def test_calibration_under_the_null(test, n):
    replicates = 2000
    data = np.random.default_rng(n).standard_normal((n, replicates))
    pvalues = test(data).pvalue  # one batched call
    rate = float(np.mean(pvalues < 0.05))
    band = 4.0 * math.sqrt(0.05 * 0.95 / replicates) + 0.005
    assert abs(rate - 0.05) <= band, f"rejection rate {rate:.4f} at alpha = 0.05"
    assert np.all((pvalues >= 0.0) & (pvalues <= 1.0))


@pytest.mark.parametrize("test", [st.shapiro_wilk, st.shapiro_francia])
def test_power_against_a_skewed_alternative(test):
    data = np.random.default_rng(8).standard_exponential((100, 200))
    assert float(np.mean(test(data).pvalue < 0.05)) > 0.95


# R 4.2.2, shapiro.test on a deterministic sample (no RNG to share):
#   options(digits = 17); for (n in c(20L, 100L, 1000L, 5000L)) { i <- 1:n
#     x <- exp(sin(i * 0.7)) + (i %% 7) / 3; r <- shapiro.test(x)
#     cat(n, sprintf("%.17g", r$statistic), sprintf("%.17g", r$p.value), "\n") }
SHAPIRO_WILK_R = {
    20: (0.95853452595275301, 0.51500502690602379),
    100: (0.98269792827884339, 0.21442174463620925),
    1000: (0.98123171121144526, 4.6848785493691741e-10),
    5000: (0.9812339082453444, 3.2179127052325709e-25),
}


@pytest.mark.parametrize("n", list(SHAPIRO_WILK_R))
def test_shapiro_wilk_matches_r_to_rounding(n):
    """Phi^-1 to double precision as R's swilk.c: W to 1e-13 (AS 111's quantiles gave 1.6e-9)."""
    i = np.arange(1, n + 1)
    sample = np.exp(np.sin(i * 0.7)) + (i % 7) / 3.0
    result = st.shapiro_wilk(sample)
    statistic, pvalue = SHAPIRO_WILK_R[n]
    np.testing.assert_allclose(result.statistic, statistic, rtol=1e-13)
    np.testing.assert_allclose(result.pvalue, pvalue, rtol=1e-10)
