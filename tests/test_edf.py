"""EDF tests: statistics and p-values against SciPy, every backend, jit, calibration."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as special
import scipy.stats as stats

import sketchtest as st
from support import rtol_for, round_like

EDF_TESTS = [st.cramer_von_mises, st.anderson_darling, st.watson, st.kolmogorov_smirnov]
SIZES = [2, 3, 7, 25, 200, 1000]


def _data(n, columns=6, seed=0, scale=1.1, shift=0.1):
    return np.random.default_rng(seed).standard_normal((n, columns)) * scale + shift


def _standardized(x):
    return (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)


@pytest.mark.parametrize("n", SIZES)
def test_cramer_von_mises_standard_matches_scipy(n):
    x = _data(n)
    result = st.cramer_von_mises(x, null="standard")
    reference = stats.cramervonmises(x, stats.norm.cdf, axis=0)
    np.testing.assert_allclose(result.statistic, reference.statistic, rtol=1e-10)
    np.testing.assert_allclose(result.pvalue, reference.pvalue, rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("n", SIZES)
def test_cramer_von_mises_normal_statistic_on_standardized_data(n):
    x = _data(n)
    # SciPy's statistic on the data standardized with ddof=1
    reference = stats.cramervonmises(_standardized(x), stats.norm.cdf, axis=0).statistic
    np.testing.assert_allclose(st.cramer_von_mises(x, null="normal").statistic, reference, rtol=1e-10)


@pytest.mark.parametrize("n", SIZES)
def test_kolmogorov_smirnov_standard_matches_kstest(n):
    x = _data(n, seed=1)
    result = st.kolmogorov_smirnov(x, null="standard")
    reference = stats.kstest(x, "norm", axis=0)  # method="auto": the exact kstwo
    np.testing.assert_allclose(result.statistic, reference.statistic, rtol=1e-10)
    # kstwo uses Pelz & Good's expansion for 140 < n (off by up to 3.1e-6 absolute from R's exact
    # value); sketchtest is exact there up to n = 1000 (tests/test_ks_exact_r.py)
    pelz_good = 140 < n <= 1000
    np.testing.assert_allclose(result.pvalue, reference.pvalue, rtol=0 if pelz_good else 1e-6,
                               atol=4e-6 if pelz_good else 0)
    asymptotic = st.kolmogorov_smirnov(x, null="standard", method="asymptotic").pvalue
    np.testing.assert_allclose(asymptotic, stats.kstest(x, "norm", axis=0, method="asymp").pvalue, rtol=1e-10)


@pytest.mark.parametrize("n", SIZES)
def test_kolmogorov_smirnov_normal_statistic_is_lilliefors(n):
    x = _data(n, seed=2)
    reference = stats.kstest(_standardized(x), "norm", axis=0).statistic
    np.testing.assert_allclose(st.kolmogorov_smirnov(x, null="normal").statistic, reference, rtol=1e-10)


@pytest.mark.parametrize("n", [3, 7, 25, 200, 1000])
def test_anderson_darling_normal_matches_scipy_anderson(n):
    x = _data(n, seed=3)
    reference = [stats.anderson(x[:, j], "norm", method="interpolate").statistic for j in range(x.shape[1])]
    np.testing.assert_allclose(st.anderson_darling(x, null="normal").statistic, reference, rtol=1e-10)


def _anderson_darling_reference(z):
    """A^2 written from its definition with SciPy's log_ndtr, one column at a time."""
    z = np.sort(z)
    n = z.size
    i = np.arange(1, n + 1)
    return -n - np.sum((2 * i - 1) * (special.log_ndtr(z) + special.log_ndtr(-z[::-1]))) / n


def _watson_reference(z):
    """U^2 = W^2 - n (mean(u) - 1/2)^2, written out with SciPy's normal CDF."""
    u = np.sort(stats.norm.cdf(z))
    n = u.size
    w2 = 1 / (12 * n) + np.sum((u - (2 * np.arange(1, n + 1) - 1) / (2 * n)) ** 2)
    return w2 - n * (u.mean() - 0.5) ** 2


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("null", ["standard", "normal"])
def test_anderson_darling_and_watson_match_written_out_definitions(n, null):
    x = _data(n, seed=4)
    z = _standardized(x) if null == "normal" else x
    expected_ad = [_anderson_darling_reference(z[:, j]) for j in range(x.shape[1])]
    expected_u2 = [_watson_reference(z[:, j]) for j in range(x.shape[1])]
    np.testing.assert_allclose(st.anderson_darling(x, null=null).statistic, expected_ad, rtol=1e-10)
    np.testing.assert_allclose(st.watson(x, null=null).statistic, expected_u2, rtol=1e-10)


def test_anderson_darling_keeps_precision_in_far_tails():
    # Phi(9) rounds to 1 in float64; log_ndtr(-9) does not, so A^2 stays finite and exact
    x = np.array([-9.0, -0.5, 0.0, 0.4, 9.0])
    expected = _anderson_darling_reference(x)
    np.testing.assert_allclose(st.anderson_darling(x, null="standard").statistic, expected, rtol=1e-12)
    assert np.isfinite(expected)


@pytest.mark.parametrize("test", EDF_TESTS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("null", ["standard", "normal"])
def test_every_backend_and_dtype_agrees_with_numpy(backend, dtype_name, test, null):
    data = _data(40, columns=3, seed=5)
    result = test(backend.asarray(data, dtype_name), null=null)
    expected = test(round_like(data, dtype_name), null=null)
    rtol = rtol_for(dtype_name) * (10 if dtype_name != "float64" else 1)
    np.testing.assert_allclose(backend.to_numpy(result.statistic), expected.statistic, rtol=rtol)
    np.testing.assert_allclose(backend.to_numpy(result.pvalue), expected.pvalue, rtol=rtol, atol=1e-6)
    expected_dtype = "float64" if dtype_name == "float64" else "float32"
    assert str(result.pvalue.dtype).endswith(expected_dtype)


@pytest.mark.parametrize("test", EDF_TESTS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("null", ["standard", "normal"])
def test_runs_under_jax_jit(test, null):
    jax = pytest.importorskip("jax")
    x = _data(30, columns=4, seed=6)
    jitted = jax.jit(lambda a: tuple(test(a, null=null)))
    statistic, pvalue = jitted(jax.numpy.asarray(x))
    expected = test(x, null=null)
    np.testing.assert_allclose(np.asarray(statistic), expected.statistic, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(pvalue), expected.pvalue, rtol=1e-9)


@pytest.mark.parametrize("test", EDF_TESTS, ids=lambda f: f.__name__)
def test_axis_keepdims_and_nan_propagation(test):
    x = _data(20, columns=3, seed=7)
    x[4, 1] = np.nan
    result = test(x.T, axis=1, keepdims=True)
    assert result.statistic.shape == (3, 1)
    assert np.isnan(result.pvalue[1, 0]) and np.isfinite(result.pvalue[0, 0])
    np.testing.assert_allclose(result.statistic[[0, 2], 0], test(x[:, [0, 2]]).statistic)


@pytest.mark.parametrize("test", EDF_TESTS, ids=lambda f: f.__name__)
def test_bad_options_raise_naming_the_argument(test):
    x = _data(10, columns=1)
    with pytest.raises(ValueError, match="null"):
        test(x, null="gaussian")
    with pytest.raises(ValueError, match="method"):
        test(x, method="bootstrap")
    with pytest.raises(ValueError, match="method"):
        test(x, null="normal", method="asymptotic")
    with pytest.raises(ValueError, match="samples"):
        test(x[:1])


def test_monte_carlo_method_agrees_with_analytic_pvalue():
    x = _data(50, columns=4, seed=8, scale=1.0, shift=0.0)
    analytic = st.anderson_darling(x, null="standard").pvalue
    simulated = st.anderson_darling(x, null="standard", method="monte_carlo", n_resamples=4000, seed=0).pvalue
    np.testing.assert_allclose(simulated, analytic, atol=0.03)


# ---------------------------------------------------------------------------
# Calibration: 2000 N(0, 1) columns in one call; rejection rate at alpha = 0.05
# within a 4-sigma binomial band plus 0.005.
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("n", [25, 200])
@pytest.mark.parametrize("null", ["standard", "normal"])
@pytest.mark.parametrize("test", EDF_TESTS, ids=lambda f: f.__name__)
def test_rejection_rate_under_the_null(test, null, n):
    replicates, alpha = 2000, 0.05
    x = np.random.default_rng(100 + n).standard_normal((n, replicates))
    rate = float(np.mean(test(x, null=null).pvalue < alpha))
    band = 4 * np.sqrt(alpha * (1 - alpha) / replicates) + 0.005
    assert abs(rate - alpha) < band, f"{test.__name__} {null} n={n}: rate {rate:.4f}"


@pytest.mark.parametrize("test", EDF_TESTS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("null", ["standard", "normal"])
def test_one_dimensional_input_and_nan_omit(test, null):
    x = _data(30, columns=3, seed=9)
    single = test(x[:, 1], null=null)
    assert np.shape(single.statistic) == () and np.shape(single.pvalue) == ()
    x[3, 1] = np.nan
    omitted = test(x, null=null, nan_policy="omit")
    expected = test(np.delete(x[:, 1], 3), null=null)
    np.testing.assert_allclose(omitted.pvalue[1], expected.pvalue, rtol=1e-12)


@pytest.mark.slow
def test_cold_first_call_inside_torch_compile_builds_the_kolmogorov_smirnov_table():
    pytest.importorskip("torch")
    import subprocess
    import sys
    import textwrap

    # a fresh process: the exact table for n = 41 is built while torch.compile traces
    script = textwrap.dedent(
        """
        import torch, sketchtest as st
        x = torch.linspace(-2.0, 2.5, 41, dtype=torch.float64)
        compiled = torch.compile(lambda x: st.kolmogorov_smirnov(x, null="standard").pvalue, fullgraph=True,
                                 backend="eager")
        print(float(compiled(x)))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    expected = stats.kstest(np.linspace(-2.0, 2.5, 41), "norm").pvalue
    np.testing.assert_allclose(float(done.stdout.strip()), expected, rtol=1e-8)


@pytest.mark.parametrize("name", ["cramer_von_mises", "kolmogorov_smirnov"])
def test_a_first_call_under_jax_jit_leaves_no_tracer_in_the_device_tables(name):
    """The device tables are filled by a first call; one made under jax.jit must not keep a tracer."""
    jax = pytest.importorskip("jax")
    from sketchtest._nulls import edf as _edf_nulls
    from sketchtest._nulls import ks as _ks_null
    _edf_nulls._BESSEL_TABLES.clear()
    _ks_null._DEVICE_TABLES.clear()
    function = getattr(st, name)
    x = jax.numpy.asarray(np.random.default_rng(5).standard_normal(12))
    traced = jax.jit(lambda values: function(values, null="standard").pvalue)(x)
    again = jax.jit(lambda values: function(values, null="standard").pvalue)(x + 0.25)  # a new trace: leaked a tracer before
    eager = function(x + 0.25, null="standard").pvalue
    np.testing.assert_allclose(np.asarray(again), np.asarray(eager), rtol=1e-12)
    assert np.isfinite(np.asarray(traced))
