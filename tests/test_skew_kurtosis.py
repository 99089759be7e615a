"""skewness_test and kurtosis_test: SciPy's skewtest and kurtosistest on every backend.

Reference values are computed by SciPy in the tests (``scipy.stats.skewtest`` /
``scipy.stats.kurtosistest``, same data, same ``alternative``) and by mpmath
(the normal tail ``erfc(|z| / sqrt 2) / 2`` at the float64 statistic).
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import scipy.stats
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hyp

import sketchtest as st

TESTS = {"skewness_test": scipy.stats.skewtest, "kurtosis_test": scipy.stats.kurtosistest}
ALTERNATIVES = ("two-sided", "less", "greater")
TINY32 = float(np.finfo(np.float32).smallest_normal)
PROPERTY = settings(max_examples=10, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _mixed_columns(n: int = 60) -> np.ndarray:
    """Normal, right-skewed, left-skewed, heavy- and light-tailed columns."""
    rng = np.random.default_rng(7)
    return np.stack([rng.standard_normal(n), rng.exponential(size=n), -rng.exponential(size=n),
                     rng.standard_t(3, size=n), rng.uniform(size=n)], axis=1)


def _tail_columns(n: int = 2000) -> np.ndarray:
    """Normal plus c * exponential, c from 0.1 to 100: |z| from 0 to about 24 (skewness), 16 (kurtosis)."""
    rng = np.random.default_rng(0)
    base, skewed = rng.standard_normal(n), rng.exponential(size=n)
    return np.stack([base + c * skewed for c in (0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 1.0, 1.5, 2.0, 4.0, 100.0)], axis=1)


def _normal_tail(z: float, alternative: str) -> float:
    """mpmath: Phi(z), Phi(-z) or 2 Phi(-|z|), to 30 digits."""
    mpmath.mp.dps = 30
    z = mpmath.mpf(z)
    if alternative == "less":
        return float(mpmath.ncdf(z))
    if alternative == "greater":
        return float(mpmath.ncdf(-z))
    return float(mpmath.erfc(abs(z) / mpmath.sqrt(2)))


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize("name", sorted(TESTS))
def test_equals_scipy(name, alternative):
    x = _mixed_columns()
    result = getattr(st, name)(x, alternative=alternative)
    expected = TESTS[name](x, alternative=alternative)  # scipy.stats.skewtest / kurtosistest, axis=0
    np.testing.assert_allclose(result.statistic, expected.statistic, rtol=1e-12)
    np.testing.assert_allclose(result.pvalue, expected.pvalue, rtol=1e-12)
    assert result.method == "asymptotic" and result.null == "normal"


@pytest.mark.parametrize("name", sorted(TESTS))
def test_matches_scipy_on_every_backend(backend, name):
    x = _mixed_columns(40).T  # samples on the last axis
    dtype_name = "float64" if backend.float64 else "float32"
    data = x.astype(dtype_name).astype(np.float64)
    result = getattr(st, name)(backend.asarray(data, dtype_name), axis=-1, alternative="greater")
    expected = TESTS[name](data, axis=-1, alternative="greater")  # SciPy on the same rounded data
    rtol = 1e-10 if dtype_name == "float64" else 1e-4
    np.testing.assert_allclose(backend.to_numpy(result.statistic), expected.statistic, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(backend.to_numpy(result.pvalue), expected.pvalue, rtol=rtol)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize("name", sorted(TESTS))
def test_float64_tail_matches_mpmath(name, alternative):
    result = getattr(st, name)(_tail_columns(), alternative=alternative)
    statistics = np.asarray(result.statistic)
    assert np.abs(statistics).max() > 15  # p down to 1e-50 and below
    expected = [_normal_tail(z, alternative) for z in statistics]
    np.testing.assert_allclose(result.pvalue, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", sorted(TESTS))
def test_float32_tail_on_every_backend(backend, name):
    """float32 data, p-values down to 1e-36.

    The tail path: p within 1e-5 (1e-4 without float64) of mpmath at the
    backend's own float32 statistic. End to end: within 1e-3 of mpmath at the
    float64 statistic of the same data (the float32 moments move z by a few
    1e-6 relative, p by z^2 times that).
    """
    data = _tail_columns().astype(np.float32)
    function = getattr(st, name)
    z = np.asarray(function(data.astype(np.float64)).statistic)  # float64 on the same float32 data
    result = function(backend.asarray(data, "float32"))
    pvalue, z32 = backend.to_numpy(result.pvalue), backend.to_numpy(result.statistic)
    at_own = np.asarray([_normal_tail(value, "two-sided") for value in z32])
    at_float64 = np.asarray([_normal_tail(value, "two-sided") for value in z])
    representable = (at_own > 100.0 * TINY32) & (at_float64 > 100.0 * TINY32)
    assert representable.sum() >= 4 and at_float64[representable].min() < 1e-30
    rtol = 1e-5 if backend.float64 else 1e-4
    np.testing.assert_allclose(pvalue[representable], at_own[representable], rtol=rtol, atol=0)
    np.testing.assert_allclose(pvalue[representable], at_float64[representable], rtol=1e-3, atol=0)
    assert np.all(pvalue[~representable] <= 1e3 * TINY32)  # underflows, never a large p-value
    np.testing.assert_allclose(z32, z, rtol=1e-5, atol=1e-4)  # Z_2 near 0 is a difference of O(1) terms


@PROPERTY
@given(seed=hyp.integers(0, 2**32 - 1), n=hyp.integers(8, 60))
@pytest.mark.parametrize("name", sorted(TESTS))
def test_alternatives_are_consistent(backend, name, seed, n):
    """two-sided = 2 min(less, greater) and less + greater = 1, on every backend."""
    x = backend.asarray(np.random.default_rng(seed).standard_exponential((n, 3)))
    function = getattr(st, name)
    less, greater, both = (backend.to_numpy(function(x, alternative=a).pvalue) for a in ALTERNATIVES[1:] + ALTERNATIVES[:1])
    tolerance = 1e-12 if backend.float64 else 1e-6
    np.testing.assert_allclose(less + greater, 1.0, atol=tolerance)
    np.testing.assert_allclose(both, np.minimum(1.0, 2.0 * np.minimum(less, greater)), rtol=1e-5, atol=tolerance)


@PROPERTY
@given(seed=hyp.integers(0, 2**32 - 1), n=hyp.integers(8, 60))
def test_skewness_changes_sign_with_the_data(seed, n):
    x = np.random.default_rng(seed).standard_normal((n, 2))
    np.testing.assert_allclose(st.skewness_test(-x).statistic, -st.skewness_test(x).statistic, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(st.kurtosis_test(-x).statistic, st.kurtosis_test(x).statistic, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize("name", sorted(TESTS))
def test_monte_carlo_agrees_with_the_normal_approximation(name, alternative):
    x = _mixed_columns(100)
    function = getattr(st, name)
    simulated = function(x, alternative=alternative, method="monte_carlo", n_resamples=1999, seed=0)
    asymptotic = function(x, alternative=alternative)
    assert simulated.method == "monte_carlo"
    np.testing.assert_array_equal(simulated.statistic, asymptotic.statistic)
    np.testing.assert_allclose(simulated.pvalue, asymptotic.pvalue, atol=0.04)  # B = 1999, n = 100
    assert np.all(simulated.pvalue >= 1.0 / 2000)


@pytest.mark.parametrize("name", sorted(TESTS))
def test_constant_and_nan_samples_give_nan(name):
    x = np.random.default_rng(1).standard_normal((20, 3))
    x[:, 1] = 3.0
    x[4, 2] = np.nan
    for method in ("asymptotic", "monte_carlo"):
        result = getattr(st, name)(x, method=method, n_resamples=99, seed=0)
        assert np.isfinite(result.pvalue[0])
        assert np.all(np.isnan(result.pvalue[1:])) and np.all(np.isnan(result.statistic[1:]))


@pytest.mark.parametrize("name", sorted(TESTS))
@pytest.mark.parametrize("options, error, word", [
    ({"alternative": "two_sided"}, ValueError, "alternative"),
    ({"alternative": None}, ValueError, "alternative"),
    ({"method": "auto"}, ValueError, "method"),
    ({"null": "standard"}, ValueError, "null"),
    ({"method": "monte_carlo", "n_resamples": 0}, ValueError, "n_resamples"),
    ({"method": "monte_carlo", "seed": "zero"}, TypeError, "seed"),
])
def test_bad_options_are_named(name, options, error, word):
    with pytest.raises(error, match=word):
        getattr(st, name)(np.zeros(30), **options)


@pytest.mark.parametrize("name, minimum", [("skewness_test", 8), ("kurtosis_test", 5)])
def test_too_few_samples(name, minimum):
    with pytest.raises(ValueError, match=f"at least {minimum}"):
        getattr(st, name)(np.arange(minimum - 1.0))
    assert np.isfinite(getattr(st, name)(np.arange(float(minimum)) ** 2).pvalue)


def test_jit_and_compile():
    x = _mixed_columns(50)
    expected = st.skewness_test(x, alternative="less")
    jax = pytest.importorskip("jax")
    jitted = jax.jit(lambda values: tuple(st.kurtosis_test(values)))(jax.numpy.asarray(x, dtype=jax.numpy.float32))
    np.testing.assert_allclose(np.asarray(jitted[1]), st.kurtosis_test(x.astype(np.float32)).pvalue, rtol=1e-4)
    torch = pytest.importorskip("torch")
    compiled = torch.compile(lambda values: tuple(st.skewness_test(values, alternative="less")),
                             fullgraph=True, backend="aot_eager")
    result = compiled(torch.asarray(x))
    np.testing.assert_allclose(result[1].numpy(), expected.pvalue, rtol=1e-12)
