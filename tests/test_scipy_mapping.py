"""Every row of docs/guide/scipy.rst ("Coming from SciPy"): the SciPy call and the sketchtest call
test the same hypothesis, with equal statistics and p-values that agree within the stated tolerance.

The references are SciPy's own functions (the generating call is each row's ``scipy`` entry).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats

import sketchtest as st


def _samples():
    """Seeded samples: Gaussian with mean 5 and variance 4 (the porting trap), heavy tails, skewed."""
    for seed, n in [(0, 20), (1, 50), (2, 200)]:
        rng = np.random.default_rng(seed)
        yield f"N(5,4)-n{n}", 5.0 + 2.0 * rng.standard_normal(n)
        yield f"t5-n{n}", rng.standard_t(5, size=n)
        yield f"gamma4-n{n}", rng.gamma(4.0, size=n)


SAMPLES = dict(_samples())


#: Each law's mean and standard deviation: the "known parameters" of the simple null.
KNOWN = {"N(5,4)": (5.0, 2.0), "t5": (0.0, math.sqrt(5.0 / 3.0)), "gamma4": (4.0, 2.0)}


def _known(sample):
    """The (location, scale) of the law that drew `sample`."""
    return KNOWN[sample.split("-")[0]]


def _standard(sample):
    """`sample` moved by its generating law's (known) mean and standard deviation."""
    location, scale = _known(sample)
    return (SAMPLES[sample] - location) / scale


#: row -> (SciPy's call, sketchtest's call, relative p-value tolerance[, statistic rtol, p atol]);
#: each call takes the sample and its name. The same formula as SciPy's: agreement to rounding.
EXACT_ROWS = {
    # SciPy's coefficients use AS 111's 7-digit quantiles, ours (and R's) Phi^-1 to double
    # precision: W differs by up to 6.4e-10 relative, p by up to 4.4e-7 (n = 3 to 5000)
    "shapiro": (lambda x, s: stats.shapiro(x), lambda x, s: st.shapiro_wilk(x), 2e-5, 1e-9, 1e-14),
    "cramervonmises-norm": (lambda x, s: stats.cramervonmises(_standard(s), "norm"),
                            lambda x, s: st.cramer_von_mises(_standard(s), null="standard"), 1e-8),
    "cramervonmises-norm-args": (lambda x, s: stats.cramervonmises(x, "norm", args=_known(s)),
                                 lambda x, s: st.cramer_von_mises(_standard(s), null="standard"), 1e-8),
    "kstest-norm": (lambda x, s: stats.kstest(_standard(s), "norm"),
                    lambda x, s: st.kolmogorov_smirnov(_standard(s), null="standard"), 1e-6, 1e-10,
                    4e-6),  # kstwo's Pelz-Good expansion (n > 140) is 3.1e-6 off R's exact p
    "kstest-norm-asymp": (lambda x, s: stats.kstest(_standard(s), "norm", method="asymp"),
                          lambda x, s: st.kolmogorov_smirnov(_standard(s), null="standard", method="asymptotic"),
                          1e-10),
    "jarque_bera": (lambda x, s: stats.jarque_bera(x), lambda x, s: st.jarque_bera(x, method="asymptotic"), 1e-10),
    "normaltest": (lambda x, s: stats.normaltest(x), lambda x, s: st.dagostino_pearson(x, method="asymptotic"), 1e-10),
    "skewtest": (lambda x, s: stats.skewtest(x, alternative="less"),
                 lambda x, s: st.skewness_test(x, alternative="less"), 1e-10),
    "kurtosistest": (lambda x, s: stats.kurtosistest(x), lambda x, s: st.kurtosis_test(x), 1e-10),
}


@pytest.mark.parametrize("sample", sorted(SAMPLES))
@pytest.mark.parametrize("row", sorted(EXACT_ROWS))
def test_same_statistic_and_same_pvalue(row, sample):
    scipy_call, sketchtest_call, rtol, statistic_rtol, atol = (*EXACT_ROWS[row], 1e-10, 1e-14)[:5]
    x = SAMPLES[sample]
    if row in ("normaltest", "kurtosistest") and x.size < 20:
        pytest.skip("SciPy warns below 20 samples (the kurtosis transform is rough there)")
    reference, result = scipy_call(x, sample), sketchtest_call(x, sample)
    np.testing.assert_allclose(float(result.statistic), reference.statistic, rtol=statistic_rtol)
    np.testing.assert_allclose(float(result.pvalue), reference.pvalue, rtol=rtol, atol=atol)


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_anderson_interpolated_pvalue_is_ours_within_its_table(sample):
    """SciPy interpolates Stephens' critical values and clips to [0.01, 0.15]; ours is continuous."""
    x = SAMPLES[sample]
    reference = stats.anderson(x, "norm", method="interpolate")
    result = st.anderson_darling(x)
    np.testing.assert_allclose(float(result.statistic), reference.statistic, rtol=1e-10)
    ours = float(result.pvalue)
    if reference.pvalue >= 0.15:
        assert ours > 0.13
    elif reference.pvalue <= 0.01:
        assert ours < 0.012
    else:  # measured on 400 t(6) samples per n: at most 0.009 (n = 20), 0.005 (n >= 50)
        assert abs(ours - reference.pvalue) < 0.01


def test_anderson_interpolation_inside_its_table():
    """The previous test's middle branch, on samples whose p falls inside SciPy's table."""
    x = np.random.default_rng(11).standard_t(6, size=(50, 40))
    result = st.anderson_darling(x)
    checked = 0
    for column in range(x.shape[1]):
        reference = stats.anderson(x[:, column], "norm", method="interpolate")
        if 0.01 < reference.pvalue < 0.15:
            assert abs(float(result.pvalue[column]) - reference.pvalue) < 0.006
            checked += 1
    assert checked >= 5, checked


def test_the_porting_trap_is_gone():
    """The issue's example: N(5, 4) data. SciPy's anderson accepts, and so does anderson_darling(x)."""
    x = SAMPLES["N(5,4)-n200"]
    reference = stats.anderson(x, "norm", method="interpolate")
    assert reference.pvalue > 0.05
    assert float(st.anderson_darling(x).pvalue) > 0.05
    assert float(st.anderson_darling(x, null="standard").pvalue) < 1e-10  # N(5, 4) is not N(0, 1)


#: goodness_of_fit's statistic name -> the sketchtest test, and the largest error of its
#: analytic p-value against simulation (its docstring): EDF composite nulls 0.0025 (n >= 25; the
#: default simulates below), the simple nulls and Lilliefors (a simulated table, 2.2e-3 at most
#: against an independent simulation) 0.0035.
GOODNESS_OF_FIT = {
    "ad": (st.anderson_darling, 0.0035),
    "cvm": (st.cramer_von_mises, 0.0035),
    "ks": (st.kolmogorov_smirnov, 0.0035),
}
MC_SAMPLES = 9999


@pytest.mark.parametrize("known", [False, True], ids=["fitted", "known"])
@pytest.mark.parametrize("statistic", sorted(GOODNESS_OF_FIT))
@pytest.mark.parametrize("sample", ["N(5,4)-n50", "t5-n200", "gamma4-n50"])
def test_goodness_of_fit_monte_carlo_agrees(statistic, known, sample):
    """stats.goodness_of_fit(norm, x, statistic=...) simulates; sketchtest's analytic p-value agrees.

    Fitted location and scale (SciPy uses ddof=1 for the normal, as sketchtest) is
    ``null="normal"``; ``known_params={"loc": m, "scale": s}`` is ``null="standard"`` on
    ``(x - m) / s``.
    """
    function, approximation = GOODNESS_OF_FIT[statistic]
    x = SAMPLES[sample]
    if known:
        location, scale = _known(sample)
        reference = stats.goodness_of_fit(stats.norm, x, statistic=statistic, n_mc_samples=MC_SAMPLES, rng=0,
                                          known_params={"loc": location, "scale": scale})
        result = function((x - location) / scale, null="standard")
    else:
        reference = stats.goodness_of_fit(stats.norm, x, statistic=statistic, n_mc_samples=MC_SAMPLES, rng=0)
        result = function(x)
    np.testing.assert_allclose(float(result.statistic), reference.statistic, rtol=1e-10)
    p = float(result.pvalue)
    monte_carlo_error = 4.0 * math.sqrt(max(p * (1.0 - p), 1.0 / MC_SAMPLES) / MC_SAMPLES) + 1.0 / MC_SAMPLES
    assert abs(reference.pvalue - p) < monte_carlo_error + approximation, (reference.pvalue, p)


def test_anderson_monte_carlo_method_agrees():
    """stats.anderson(x, method=MonteCarloMethod(...)) is anderson_darling(x, method="monte_carlo")."""
    x = SAMPLES["t5-n50"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        reference = stats.anderson(x, "norm", method=stats.MonteCarloMethod(n_resamples=MC_SAMPLES, rng=0))
    result = st.anderson_darling(x, method="monte_carlo", n_resamples=MC_SAMPLES, seed=0)
    np.testing.assert_allclose(float(result.statistic), reference.statistic, rtol=1e-10)
    p = float(result.pvalue)
    assert abs(reference.pvalue - p) < 2 * 4.0 * math.sqrt(p * (1.0 - p) / MC_SAMPLES), (reference.pvalue, p)
