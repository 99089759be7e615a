"""The Epps-Pulley null: covariance kernels, eigenvalues, chi-square-mixture tails."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from sketchtest._nulls.ecf import asymptotic_pvalue, ecf_kernels, mixture_log_sf, null_eigenvalues


def _normal_expectation(function):
    """E[function(X)], X ~ N(0, 1), by scipy.integrate.quad."""
    value, _ = integrate.quad(lambda x: function(x) * stats.norm.pdf(x), -np.inf, np.inf, epsabs=1e-13)
    return value


@pytest.mark.parametrize("null", ["standard", "normal"])
@pytest.mark.parametrize(("s", "t"), [(0.3, 1.1), (1.7, 0.4), (2.5, 2.5)])
def test_kernels_are_covariances_of_the_influence_functions(null, s, t):
    # Influence functions of sqrt(n)(ecf - phi) under N(0, 1); for the composite null the
    # mean and the MLE standard deviation add -t phi(t) x (sines) and t^2 phi(t) (x^2 - 1) / 2
    # (cosines), from a first-order expansion of cos(t y) and sin(t y) in y = (x - mean) / sd.
    composite = 1.0 if null == "normal" else 0.0

    def cos_part(u, x):
        return math.cos(u * x) - math.exp(-u * u / 2) + composite * u * u * math.exp(-u * u / 2) * (x * x - 1) / 2

    def sin_part(u, x):
        return math.sin(u * x) - composite * u * math.exp(-u * u / 2) * x

    expected_cos = _normal_expectation(lambda x: cos_part(s, x) * cos_part(t, x))
    expected_sin = _normal_expectation(lambda x: sin_part(s, x) * sin_part(t, x))
    cos_kernel, sin_kernel = ecf_kernels(s, t, null=null)
    np.testing.assert_allclose([cos_kernel, sin_kernel], [expected_cos, expected_sin], rtol=1e-9, atol=1e-12)


def test_eigenvalue_sums_are_the_expected_statistics():
    # Trace of the operator = E[T] of the limit: sqrt(2 pi) - sqrt(2 pi / 3) (standard) and
    # sqrt(2 pi) - 1.5 sqrt(2 pi / 3) (composite: E[e^{-t^2}(1 + t^2 + t^4 / 2)] added terms);
    # quadrature: sum_j w_j (1 - e^{-t_j^2}) (1.0525 for the defaults), composite minus
    # sum_j w_j e^{-t_j^2} (t_j^2 + t_j^4 / 2).
    root_two_pi, root_third = math.sqrt(2 * math.pi), math.sqrt(2 * math.pi / 3)
    np.testing.assert_allclose(null_eigenvalues("exact", "standard").sum(), root_two_pi - root_third, rtol=1e-12)
    np.testing.assert_allclose(null_eigenvalues("exact", "normal").sum(), root_two_pi - 1.5 * root_third, rtol=1e-12)
    t = np.linspace(0, 3, 17)
    weights = 2 * np.full(17, 3 / 16) * np.exp(-t * t / 2)
    weights[[0, -1]] /= 2
    standard = np.sum(weights * (1 - np.exp(-t * t)))
    np.testing.assert_allclose(standard, 1.0525, atol=5e-5)
    np.testing.assert_allclose(null_eigenvalues("quadrature", "standard").sum(), standard, rtol=1e-12)
    composite = standard - np.sum(weights * np.exp(-t * t) * (t * t + t**4 / 2))
    np.testing.assert_allclose(null_eigenvalues("quadrature", "normal").sum(), composite, rtol=1e-12)


@pytest.mark.parametrize("null", ["standard", "normal"])
def test_fine_quadrature_eigenvalues_converge_to_the_exact_operator(null):
    exact = null_eigenvalues("exact", null)
    fine = null_eigenvalues("quadrature", null, 10.0, 801)
    np.testing.assert_allclose(fine[:8], exact[:8], rtol=1e-9)
    assert np.all(np.diff(exact) <= 0) and exact[-1] > 0


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
@pytest.mark.parametrize(("q", "rtol"), [(0.05, 1e-9), (0.5, 1e-9), (1.0, 1e-9), (2.0, 1e-9), (4.0, 1e-9), (8.0, 1e-6)])
def test_tail_matches_imhof_by_quad(q, rtol):
    # Imhof (1961): P(Q > q) = 1/2 + (1/pi) int_0^inf sin(theta(u)) / (u rho(u)) du,
    # theta = sum arctan(lambda u) / 2 - q u / 2, rho = prod (1 + lambda^2 u^2)^(1/4);
    # quad on pieces of about one period 4 pi / q, then geometric pieces (the real-line
    # integral loses relative accuracy as P falls: about 1e-7 at q = 8, P = 4e-4).
    weights = null_eigenvalues("exact", "standard")

    def integrand(u):
        theta = 0.5 * np.sum(np.arctan(weights * u)) - 0.5 * q * u
        return math.sin(theta) / (u * math.exp(0.25 * np.sum(np.log1p((weights * u) ** 2))))

    edges = np.concatenate([np.arange(0.0, 200.0, 2 * math.pi / q), np.geomspace(200.0, 1e7, 30), [np.inf]])
    pieces = [integrate.quad(integrand, a, b, limit=200, epsabs=1e-15, epsrel=1e-13)[0]
              for a, b in zip(edges[:-1], edges[1:])]
    imhof = 0.5 + math.fsum(pieces) / math.pi
    np.testing.assert_allclose(math.exp(mixture_log_sf(q, weights)), imhof, rtol=rtol)


@pytest.mark.parametrize(
    ("weights", "degrees", "scale"),
    [([1.0], 1, 1.0), ([0.5, 0.5], 2, 0.5), ([2.0] * 4, 4, 2.0), ([0.3] * 7, 7, 0.3)],
)
def test_tail_of_equal_weights_is_a_scaled_chi_square(weights, degrees, scale):
    # sum of k equal weights lambda chi^2_1 = lambda chi^2_k: scipy.stats.chi2.logsf(q / lambda, k),
    # deep in the tail too (down to about 1e-200).
    q = scale * np.array([0.01, 0.3, 1.0, 3.0, 10.0, 40.0, 150.0, 900.0])
    expected = stats.chi2.logsf(q / scale, degrees)
    np.testing.assert_allclose(mixture_log_sf(q, np.asarray(weights)), expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("form", "null"), [("exact", "standard"), ("quadrature", "normal")])
def test_tail_matches_monte_carlo_of_the_mixture(form, null):
    weights = null_eigenvalues(form, null)
    rng = np.random.default_rng(12)
    draws = rng.chisquare(1, size=(200_000, weights.size)) @ weights
    q = np.quantile(draws, [0.1, 0.5, 0.9, 0.99, 0.999])
    empirical = (draws[:, None] > q).mean(axis=0)
    predicted = np.exp(mixture_log_sf(q, weights))
    band = 4 * np.sqrt(predicted * (1 - predicted) / draws.shape[0])
    assert np.all(np.abs(empirical - predicted) < band), (empirical, predicted)


def test_mixture_log_sf_is_zero_at_and_below_zero():
    np.testing.assert_array_equal(mixture_log_sf(np.array([-1.0, 0.0]), np.array([1.0, 0.5])), [0.0, 0.0])


def test_device_pvalue_interpolates_the_tail(backend, dtype_name):
    if dtype_name == "bfloat16":
        pytest.skip("the runner computes bfloat16 inputs in float32")
    weights = null_eigenvalues("quadrature", "standard")
    q = np.array([[0.0, 0.02, 0.7, 1.05], [3.3, 12.0, 30.0, 57.0]])  # P down to 1e-22
    expected = np.exp(mixture_log_sf(q, weights))
    statistic = backend.asarray(q, dtype_name)
    pvalue = asymptotic_pvalue(statistic, xp=backend.xp, form="quadrature", null="standard", t_max=3.0, n_points=17)
    assert pvalue.dtype == statistic.dtype and pvalue.shape == (2, 4)
    assert str(getattr(pvalue, "device", None)) == str(getattr(statistic, "device", None))
    rtol = 2e-6 if dtype_name == "float64" else 2e-5  # float32: exp of a log near -50
    np.testing.assert_allclose(backend.to_numpy(pvalue), expected, rtol=rtol)


def test_device_pvalue_beyond_the_table_keeps_the_tail_shape():
    # The table ends at q = 200 lambda_1 (P ~ 1e-44); beyond, the residual is held constant.
    weights = null_eigenvalues("exact", "standard")
    q = weights[0] * np.array([150.0, 199.0, 260.0, 400.0, 800.0])
    pvalue = asymptotic_pvalue(q, xp=_numpy_namespace(), form="exact", null="standard", t_max=3.0, n_points=17)
    np.testing.assert_allclose(pvalue, np.exp(mixture_log_sf(q, weights)), rtol=2e-3)


def test_device_pvalue_handles_nan_infinity_and_negative_rounding():
    statistic = np.array([np.nan, np.inf, -1e-12, 1e12])
    pvalue = asymptotic_pvalue(statistic, xp=_numpy_namespace(), form="exact", null="normal", t_max=3.0, n_points=17)
    assert np.isnan(pvalue[0])
    np.testing.assert_array_equal(pvalue[1:], [0.0, 1.0, 0.0])


def _numpy_namespace():
    import array_api_compat

    return array_api_compat.array_namespace(np.zeros(1))
