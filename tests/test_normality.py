"""normality_test: backends and dtypes, reference values, tails, NaN and degenerate input, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

import sketchtest as st
from sketchtest._multivariate import normality_moments as moments
from support import rtol_for

N, D = 96, 5


def sample(seed=0, n=N, dim=D):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, dim))


# --- backends and dtypes ------------------------------------------------------

@pytest.mark.parametrize("null", ["standard", "normal"])
def test_every_backend_and_dtype_agrees_with_numpy_float64(backend, dtype_name, null):
    x = sample(1) + (0.0 if null == "standard" else 2.0)
    expected = st.normality_test(x, null=null, seed=3, num_slices=16)
    result = st.normality_test(backend.asarray(x, dtype_name), null=null, seed=3, num_slices=16)
    computed = "float32" if dtype_name == "bfloat16" else dtype_name
    assert result.pvalue.dtype == backend.dtype(computed)
    rtol = rtol_for(dtype_name)
    if dtype_name == "bfloat16":  # the inputs themselves are rounded to 8 bits
        return
    np.testing.assert_allclose(backend.to_numpy(result.pvalue), np.asarray(expected.pvalue), rtol=rtol)
    for name, part in expected.components.items():
        np.testing.assert_allclose(backend.to_numpy(result.components[name].pvalue), np.asarray(part.pvalue),
                                   rtol=rtol, atol=rtol, err_msg=name)


def test_batch_axes_give_the_per_sample_answers():
    x = np.stack([sample(seed) for seed in range(3)])
    batched = st.normality_test(x, seed=0, num_slices=8)
    assert batched.pvalue.shape == (3,)
    for i in range(3):
        single = st.normality_test(x[i], seed=0, num_slices=8)
        np.testing.assert_allclose(batched.pvalue[i], single.pvalue, rtol=1e-10)
        assert batched.components["principal_axes"].extras["pvalues"].shape == (3, D)


def test_runs_under_jax_jit():
    jax = pytest.importorskip("jax")
    x = sample(2)
    expected = float(st.normality_test(x, null="normal", seed=0, num_slices=8).pvalue)
    jitted = jax.jit(lambda z: st.normality_test(z, null="normal", seed=0, num_slices=8).pvalue)
    np.testing.assert_allclose(float(jitted(jax.numpy.asarray(x, dtype=jax.numpy.float64))), expected, rtol=1e-8)


# --- reference values ------------------------------------------------------------

def test_mean_and_covariance_components_match_direct_formulas():
    x = sample(4, n=40, dim=3)
    n, dim = x.shape
    result = st.normality_test(x, seed=0, num_slices=4)
    mean = n * np.sum(x.mean(0) ** 2)
    assert result.components["mean"].statistic == pytest.approx(mean, rel=1e-12)
    assert result.components["mean"].pvalue == pytest.approx(stats.chi2.sf(mean, dim), rel=1e-10)
    h = (x @ x.T) ** 2 - (x * x).sum(1)[:, None] - (x * x).sum(1)[None, :] + dim  # the U-statistic kernel
    u_sum = np.triu(h, 1).sum()
    m = dim * (dim + 1) / 2
    q = m + math.sqrt(n / (n - 1)) * u_sum / n
    assert result.components["covariance"].statistic == pytest.approx(q, rel=1e-10)
    assert result.components["covariance"].pvalue == pytest.approx(stats.chi2.sf(q, m), rel=1e-10)


def test_kurtosis_is_mardias_b2_with_mardias_exact_moments():
    x = sample(5) @ np.triu(np.ones((D, D)))
    n = x.shape[0]
    centered = x - x.mean(0)
    g = centered @ np.linalg.inv(np.cov(x, rowvar=False, bias=True)) @ centered.T
    b2 = np.mean(np.diag(g) ** 2)
    part = st.normality_test(x, null="normal", seed=0, num_slices=4).components["kurtosis"]
    assert part.statistic == pytest.approx(b2, rel=1e-10)
    # D = 1: Mardia's moments are the univariate kurtosis moments, E b2 = 3(n-1)/(n+1),
    # Var b2 = 24 n (n-2)(n-3) / ((n+1)^2 (n+3)(n+5)) (D'Agostino & Stephens 1986, eq. 9.2.1)
    mean, variance = moments.null_moments("kurtosis", "normal", n, 1)
    assert mean == pytest.approx(3 * (n - 1) / (n + 1), rel=1e-14)
    assert variance == pytest.approx(24 * n * (n - 2) * (n - 3) / ((n + 1) ** 2 * (n + 3) * (n + 5)), rel=1e-14)


@pytest.mark.parametrize("dim", [1, 3])
def test_standard_skewness_variance_matches_numerical_integration(dim):
    n = 50
    centre = dim + 2
    # E|w|^4 and E|w|^2 for w = x (|x|^2 - D - 2): moments of r = |x|^2 ~ chi2_D by scipy quadrature
    fourth, _ = integrate.quad(lambda r: r**2 * (r - centre) ** 4 * stats.chi2.pdf(r, dim), 0, np.inf)
    second = 2 * dim * centre
    fourth_of_sum = n * fourth + n * (n - 1) * (second**2 + 8 * dim * centre**2)
    expected = (fourth_of_sum / n**2 - second**2) / (4 * centre**2)
    assert moments.null_moments("skewness", "standard", n, dim)[1] == pytest.approx(
        expected, rel=1e-8)


def test_coordinates_under_the_standard_null_are_univariate_epps_pulley():
    x = sample(6)
    part = st.normality_test(x, seed=0, num_slices=4).components["coordinates"]
    # the same statistic; the two asymptotic-null tables agree to 1e-4
    np.testing.assert_allclose(part.extras["statistics"], st.epps_pulley(x, null="standard", axis=0).statistic, rtol=1e-10)
    np.testing.assert_allclose(part.extras["pvalues"], st.epps_pulley(x, null="standard", axis=0).pvalue, rtol=1e-3)
    composite = st.normality_test(x, null="normal", seed=0, num_slices=4).components["coordinates"]
    np.testing.assert_allclose(composite.extras["statistics"], st.epps_pulley(x, axis=0, null="normal").statistic,
                               rtol=1e-10)


# --- invariance and power ------------------------------------------------------------

def test_composite_null_invariances():
    x = sample(7)
    rng = np.random.default_rng(0)
    reference = st.normality_test(x, null="normal", seed=1, num_slices=8)

    def check(transformed, names):
        result = st.normality_test(transformed, null="normal", seed=1, num_slices=8)
        for name in names:
            np.testing.assert_allclose(result.components[name].pvalue, reference.components[name].pvalue,
                                       rtol=1e-7, err_msg=name)

    # random slices are invariant in law only: the whitened samples turn by an orthogonal matrix
    check(5.0 - 3.0 * x * rng.uniform(0.1, 10.0, size=D), ("coordinates", "skewness", "kurtosis"))
    rotation, _ = np.linalg.qr(rng.standard_normal((D, D)))
    check(1.0 + 7.0 * x @ rotation, ("principal_axes", "skewness", "kurtosis"))
    check(x @ rng.standard_normal((D, D)), ("skewness", "kurtosis"))


def test_components_point_at_the_departure():
    rng = np.random.default_rng(8)
    cube = rng.uniform(-math.sqrt(3), math.sqrt(3), size=(512, 16))
    assert float(st.normality_test(cube, null="normal", seed=0).pvalue) < 1e-10
    skewed = rng.standard_normal((512, 16))
    skewed[:, 11] = rng.exponential(size=512) - 1.0
    result = st.normality_test(skewed, seed=0)
    assert float(result.pvalue) < 1e-10
    assert int(result.components["coordinates"].extras["most_significant"]) == 11
    axis = rng.standard_normal(64)
    clusters = rng.standard_normal((1024, 64)) + np.outer(rng.choice([-2.0, 2.0], 1024), axis / np.linalg.norm(axis))
    result = st.normality_test(clusters, null="normal", seed=0)
    assert int(result.components["principal_axes"].extras["most_significant"]) == 0  # the first (top) axis
    assert float(result.components["principal_axes"].pvalue) < 1e-6


# --- tails, NaN, degenerate input ------------------------------------------------------

def test_float32_far_tail_of_the_combination_matches_float64():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((400, 8))
    x[:, 2] = rng.exponential(size=400) - 1.0
    p64 = float(st.normality_test(x, seed=0, num_slices=16).pvalue)
    p32 = float(st.normality_test(x.astype(np.float32), seed=0, num_slices=16).pvalue)
    assert 1e-30 < p64 < 1e-8
    assert math.log(p32) == pytest.approx(math.log(p64), rel=2e-3)


def test_underflowing_component_gives_a_tiny_positive_pvalue_in_float32():
    x = np.random.default_rng(10).exponential(size=(2000, 4)).astype(np.float32) * 10.0
    result = st.normality_test(x, seed=0, num_slices=8)
    assert 0.0 < float(result.pvalue) < 1e-30
    assert np.isfinite(float(result.statistic))


def test_nan_propagates_to_its_batch_element_only():
    x = np.stack([sample(0), sample(1)])
    x[1, 3, 2] = np.nan
    result = st.normality_test(x, seed=0, num_slices=4)
    assert np.isfinite(result.pvalue[0]) and np.isnan(result.pvalue[1])
    assert all(np.isnan(part.pvalue[1]) for part in result.components.values())
    with pytest.raises(ValueError, match="NaN"):
        st.normality_test(x, seed=0, nan_policy="raise")
    with pytest.raises(ValueError, match="nan_policy"):
        st.normality_test(x, seed=0, nan_policy="omit")


@pytest.mark.parametrize("null", ["standard", "normal"])
def test_constant_or_collinear_columns_are_a_certain_departure(null):
    x = sample(11)
    constant = x.copy()
    constant[:, 1] = 0.5
    collinear = x.copy()
    collinear[:, 4] = 2.0 * x[:, 0] - x[:, 3]
    for degenerate in (constant, collinear):
        result = st.normality_test(degenerate, null=null, seed=0, num_slices=4)
        assert float(result.pvalue) == 0.0
        rank = result.components["rank"]
        assert float(rank.pvalue) == 0.0 and int(rank.extras["rank"]) == D - 1
        assert np.isfinite(float(result.components["within_subspace"].pvalue))


def test_repr_lists_every_component():
    text = repr(st.normality_test(sample(12), seed=0, num_slices=4))
    assert text.startswith("NormalityTestResult(null='standard', pvalue=")
    for name in ("random_slices", "principal_axes", "coordinates", "skewness", "kurtosis", "covariance", "mean",
                 "rank"):
        assert name in text


def test_explain_says_what_and_where_in_words():
    x = sample(13)
    x[:, 3] = np.random.default_rng(0).exponential(size=N) - 1.0
    lines = st.normality_test(x, seed=0, num_slices=4).explain()
    assert lines[0].startswith("verdict: ")  # then one line per component (tests/test_diagnosis.py)
    assert any(line.startswith("each coordinate Gaussian: p = ") and line.endswith("(smallest at coordinate 3 (x[:, 3]))")
               for line in lines)
    assert not any("e+" in line for line in lines)
    with pytest.raises(ValueError, match="batch"):
        st.normality_test(np.stack([x, x]), seed=0, num_slices=4).explain()


# --- validation -------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"null": "gaussian"}, ValueError, "`null`"),
    ({"seed": -1}, ValueError, "`seed`"),
    ({"num_slices": 0}, ValueError, "`num_slices`"),
    ({"num_slices": 2.5}, TypeError, "`num_slices`"),
    ({"moment_resamples": 3}, ValueError, "`moment_resamples`"),
    ({"directions": np.ones((D + 1, 3))}, ValueError, "`directions`"),
])
def test_bad_options_name_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        st.normality_test(sample(0), **kwargs)


def test_bad_input_names_x():
    with pytest.raises(ValueError, match="`x`"):
        st.normality_test(np.zeros(10))
    with pytest.raises(ValueError, match="`x`"):
        st.normality_test(np.zeros((3, 2)))
    with pytest.raises(TypeError, match="`x`"):
        st.normality_test(np.zeros((10, 2), dtype=complex))
    with pytest.raises(ValueError, match="N >= D \\+ 2"):
        st.normality_test(sample(0, n=6, dim=5), null="normal")
