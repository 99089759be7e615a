"""Henze-Visagie, Henze-Jiménez-Gamero (BHEP_M) and COMB against formulas written out here.

The references below are written from the papers' definitions, independently
of ``sketchtest._multivariate.mgf``: plain float64 double loops over pairs on samples
standardized with the symmetric inverse square root of the biased covariance
(an eigendecomposition; the library uses QR), and, for D = 1, the defining
integrals evaluated by ``scipy.integrate.quad``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st_
from scipy import integrate

import sketchtest as st
import sketchtest._multivariate.affine as multivariate
from support import rtol_for, round_like

NAMES = ["henze_visagie", "henze_jimenez_gamero", "comb"]
#: one tuning parameter per test (not the defaults: both sides of gamma = 2 are covered below)
PARAMETERS = {"henze_visagie": {"gamma": 2.5}, "henze_jimenez_gamero": {"beta": 3.0}, "comb": {"gamma": 1.5}}
FAST = {"n_resamples": 199, "seed": 0}


def smallest_pvalue(name):
    """1 / (1 + B) with B = 199 resamples; twice that for the two-sided COMB."""
    return (2 if name == "comb" else 1) / 200


def call(name, x, **options):
    return getattr(st, name)(x, **{**PARAMETERS[name], **FAST, **options})


# --- references written from the papers --------------------------------------

def standardize(x):
    """Y_j = S^{-1/2} (x_j - mean), S the biased covariance, by an eigendecomposition."""
    centered = x - x.mean(axis=0)
    values, vectors = np.linalg.eigh(np.atleast_2d(np.cov(x, rowvar=False, bias=True)))
    return centered @ vectors @ np.diag(values ** -0.5) @ vectors.T


def reference_henze_visagie(y, gamma):
    # Henze & Visagie (2020), eq. for T_{n,gamma}: n * int |grad M_n(t) - t M_n(t)|^2 exp(-gamma |t|^2) dt
    # = (pi/gamma)^{d/2} / n sum_{j,k} exp(|Y_jk|^2 / (4 gamma)) (Y_j'Y_k - |Y_jk|^2/(2 gamma)
    #   + d/(2 gamma) + |Y_jk|^2/(4 gamma^2)), Y_jk = Y_j + Y_k
    n, d = y.shape
    total = 0.0
    for j in range(n):
        for k in range(n):
            s = float(np.sum((y[j] + y[k]) ** 2))
            total += math.exp(s / (4 * gamma)) * (
                float(y[j] @ y[k]) - s / (2 * gamma) + d / (2 * gamma) + s / (4 * gamma**2))
    return (math.pi / gamma) ** (d / 2) * total / n


def reference_henze_jimenez_gamero(y, beta):
    # Henze & Jimenez-Gamero (2019): n * int (M_n(t) - exp(|t|^2/2))^2 exp(-beta |t|^2) dt, beta > 2
    n, d = y.shape
    pairs = sum(math.exp(float(np.sum((y[j] + y[k]) ** 2)) / (4 * beta)) for j in range(n) for k in range(n))
    singles = sum(math.exp(float(y[j] @ y[j]) / (4 * beta - 2)) for j in range(n))
    return math.pi ** (d / 2) * (beta ** (-d / 2) * pairs / n - 2 * (beta - 0.5) ** (-d / 2) * singles
                                 + n * (beta - 1) ** (-d / 2))


def reference_comb(y, gamma):
    # sqrt(n) (gamma/pi)^{d/2} int (M_n(t) C_n(t) - 1) exp(-gamma |t|^2) dt, C_n the real part of the
    # empirical characteristic function; the LeJEPA reference's COMB(gamma) on the same samples
    n, d = y.shape
    total = sum(math.exp((float(y[j] @ y[j]) - float(y[k] @ y[k])) / (4 * gamma)) * math.cos(float(y[j] @ y[k])
                / (2 * gamma)) for j in range(n) for k in range(n))
    return math.sqrt(n) * (total / n**2 - 1.0)


REFERENCES = {"henze_visagie": reference_henze_visagie, "henze_jimenez_gamero": reference_henze_jimenez_gamero,
              "comb": reference_comb}


def integral_d1(name, y, parameter):
    """The defining integral for D = 1, by quadrature (no closed form involved)."""
    y = y[:, 0]
    n = y.size

    def mgf(t):
        return np.mean(np.exp(t * y))

    def integrand(t):
        weight = math.exp(-parameter * t * t)
        if name == "henze_visagie":
            return n * (np.mean(y * np.exp(t * y)) - t * mgf(t)) ** 2 * weight
        if name == "henze_jimenez_gamero":
            return n * (mgf(t) - math.exp(t * t / 2)) ** 2 * weight
        return math.sqrt(n) * (mgf(t) * np.mean(np.cos(t * y)) - 1.0) * weight * math.sqrt(parameter / math.pi)

    # beyond |t| = 4 max|y| / a + 30 / sqrt(a) the integrand is below exp(-900) of its size
    bound = 4 * np.max(np.abs(y)) / parameter + 30 / math.sqrt(parameter)
    peaks = np.linspace(-bound, bound, 41)
    return sum(integrate.quad(integrand, lo, hi, epsabs=0, epsrel=1e-10, limit=200)[0]
               for lo, hi in zip(peaks[:-1], peaks[1:]))


# --- statistic --------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("n", "d"), [(12, 1), (30, 3), (25, 5)])
@pytest.mark.parametrize("null", ["normal", "standard"])
def test_statistic_matches_the_double_loop(name, n, d, null):
    rng = np.random.default_rng(n + d)
    x = rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) * 0.5 + 1.0
    x = x if null == "normal" else rng.standard_normal((n, d))
    y = standardize(x) if null == "normal" else x
    parameter = next(iter(PARAMETERS[name].values()))
    expected = REFERENCES[name](y, parameter)
    np.testing.assert_allclose(float(call(name, x, null=null).statistic), expected, rtol=1e-9)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("parameter", [0.6, 2.5, 7.0])
def test_closed_form_equals_the_defining_integral_in_one_dimension(name, parameter):
    if name == "henze_jimenez_gamero":
        parameter += 2.0  # the weight must tame exp(t^2): beta > 2
    y = np.random.default_rng(11).standard_normal((15, 1))
    key = "beta" if name == "henze_jimenez_gamero" else "gamma"
    statistic = float(getattr(st, name)(y, null="standard", **{key: parameter}, **FAST).statistic)
    np.testing.assert_allclose(statistic, integral_d1(name, y, parameter), rtol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_affine_invariance_under_the_composite_null(name):
    rng = np.random.default_rng(3)
    x = rng.exponential(size=(40, 3))
    transformed = x @ rng.standard_normal((3, 3)) * 1e3 - 7.0
    np.testing.assert_allclose(float(call(name, transformed).statistic), float(call(name, x).statistic), rtol=1e-8)


@pytest.mark.parametrize("name", NAMES)
def test_pairwise_sums_in_small_blocks_agree(name, monkeypatch):
    x = np.random.default_rng(4).standard_normal((2, 45, 3))
    whole = call(name, x).statistic
    monkeypatch.setattr(multivariate, "_ELEMENTS_PER_BLOCK", 100)  # 1 row at a time
    np.testing.assert_allclose(call(name, x).statistic, whole, rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_batch_elements_are_independent(name):
    x = np.random.default_rng(5).standard_normal((3, 30, 2))
    batched = call(name, x)
    for i in range(3):
        single = call(name, x[i])
        np.testing.assert_allclose(batched.statistic[i], single.statistic, rtol=1e-12)
        assert batched.pvalue[i] == single.pvalue
    assert batched.extras == PARAMETERS[name]


# --- p-values: size and power -------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("null", ["normal", "standard"])
def test_size_over_seeded_replicates(name, null):
    # 400 replicates share one simulated null of 1999: the rejection rate's spread is
    # sqrt(a(1-a)/400 + a(1-a)/1999) = 0.0164 at a = 0.1; 4 of those allowed
    rng = np.random.default_rng(6)
    replicates, level = 400, 0.1
    z = rng.standard_normal((replicates, 25, 2))
    x = z @ np.array([[2.0, 0.0], [1.5, 0.3]]) + 4.0 if null == "normal" else z
    pvalues = call(name, x, null=null, n_resamples=1999).pvalue
    tolerance = 4 * math.sqrt(level * (1 - level) * (1 / replicates + 1 / 1999))
    assert abs(np.mean(pvalues < level) - level) < tolerance
    assert np.all((pvalues > 0) & (pvalues <= 1))


@pytest.mark.parametrize("name", NAMES)
def test_power_against_heavy_and_skewed_tails(name):
    # measured rejection rates at 5% (N = 50, D = 3, 400 replicates, gamma or beta from 1 to 10):
    # HV 0.51..0.55 (t5), 0.80..0.94 (exponential); HJG 0.51..0.54, 0.96..0.995; COMB 0.53, 0.80..0.89;
    # the uniform escapes HV and HJG (0.00) but not COMB at gamma 1..3 (0.86..0.91)
    rng = np.random.default_rng(7)
    for x in (rng.exponential(size=(150, 3)), rng.standard_t(3, size=(150, 3))):
        assert float(call(name, x).pvalue) == pytest.approx(smallest_pvalue(name))


@pytest.mark.parametrize("name", NAMES)
def test_standard_null_rejects_a_scaled_gaussian_that_the_composite_null_accepts(name):
    x = 2.0 * np.random.default_rng(8).standard_normal((200, 2))
    assert float(call(name, x, null="standard").pvalue) == pytest.approx(smallest_pvalue(name))
    assert float(call(name, x, null="normal").pvalue) > 0.01


def test_comb_is_two_sided():
    rng = np.random.default_rng(9)
    pvalues = st.comb(rng.standard_normal((300, 30, 2)), n_resamples=999, seed=1).pvalue
    upper = st.comb(rng.uniform(size=(200, 3)), n_resamples=999, seed=1)  # light tails move it down
    assert float(upper.statistic) < 0 and float(upper.pvalue) < 0.01
    assert np.mean(pvalues < 0.05) < 0.05 + 4 * math.sqrt(0.05 * 0.95 / 300)


def test_nan_statistic_gives_nan_pvalue_and_nan_policy():
    x = np.random.default_rng(10).standard_normal((2, 20, 2))
    x[1, 3, 0] = np.nan
    for name in NAMES:
        result = call(name, x)
        assert np.isfinite(result.pvalue[0]) and np.isnan(result.statistic[1]) and np.isnan(result.pvalue[1])
        omitted, deleted = call(name, x, nan_policy="omit"), call(name, np.delete(x[1], 3, axis=0))
        np.testing.assert_allclose(omitted.statistic[1], deleted.statistic)
        assert omitted.pvalue[1] == deleted.pvalue  # against the null of 19 samples, not 20
        with pytest.raises(ValueError, match="nan_policy='raise'"):
            call(name, x, nan_policy="raise")


# --- degenerate and bad input ------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_singular_samples_give_nan_for_their_batch_element_only(name):
    rng = np.random.default_rng(0)
    collinear = rng.standard_normal((20, 2)) @ np.ones((2, 3))
    constant = np.concatenate([rng.standard_normal((20, 2)), np.full((20, 1), 3.0)], axis=1)
    result = call(name, np.stack([rng.standard_normal((20, 3)), collinear, constant]))
    assert np.isfinite(result.pvalue[0])
    assert np.all(np.isnan(result.pvalue[1:])) and np.all(np.isnan(result.statistic[1:]))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("name", NAMES)
def test_an_extreme_outlier_overflows_to_the_smallest_pvalue_not_nan(name):
    x = np.random.default_rng(1).standard_normal((300, 2))
    x[0] = 1e100  # exp(|x_0|^2 / a) overflows; |x_0|^2 does not
    result = call(name, x, null="standard")
    assert np.isinf(result.statistic) and float(result.pvalue) == pytest.approx(smallest_pvalue(name))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("scale", [300.0, 1e100, 1e154, 1e200])
def test_samples_far_out_give_infinity_and_the_smallest_pvalue(name, scale):
    """N(0, I) x 300 (COMB) and x 1e154 (all three) gave NaN under null="standard" (issue 22)."""
    x = np.random.default_rng(7).standard_normal((40, 3)) * scale
    result = getattr(st, name)(x, null="standard", **PARAMETERS[name], **FAST)
    smallest = (2.0 if name == "comb" else 1.0) / (FAST["n_resamples"] + 1)  # COMB is two-sided
    assert abs(float(result.statistic)) == math.inf
    assert float(result.pvalue) == pytest.approx(smallest)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("data", "match"),
    [
        (np.zeros((10, 0)), "D >= 1"),
        (np.zeros((1, 3)), "at least 2 samples"),
        (np.ones((3, 3)), "N > D"),
        (np.zeros(5), r"`x` must have shape \(\.\.\., N, D\)"),
    ],
)
def test_bad_input_is_refused(name, data, match):
    with pytest.raises(ValueError, match=match):
        call(name, data)


def test_fewer_samples_than_dimensions_are_fine_under_the_standard_null():
    assert np.isfinite(float(call("henze_jimenez_gamero", np.zeros((3, 5)), null="standard").statistic))


@pytest.mark.parametrize(
    ("name", "options", "error", "match"),
    [
        ("henze_visagie", {"gamma": 0.0}, ValueError, "`gamma`"),
        ("henze_visagie", {"gamma": float("nan")}, ValueError, "`gamma`"),
        ("henze_visagie", {"gamma": "1"}, TypeError, "`gamma`"),
        ("henze_jimenez_gamero", {"beta": 2.0}, ValueError, "`beta` must be greater than 2"),
        ("henze_jimenez_gamero", {"beta": 1e4}, ValueError, "`beta`"),
        ("comb", {"gamma": -1.0}, ValueError, "`gamma`"),
        ("comb", {"null": "gaussian"}, ValueError, "`null`"),
        ("comb", {"n_resamples": 0}, ValueError, "`n_resamples`"),
        ("comb", {"seed": "0"}, TypeError, "`seed`"),
        ("comb", {"nan_policy": "drop"}, ValueError, "`nan_policy`"),
    ],
)
def test_bad_options_are_refused_naming_them(name, options, error, match):
    with pytest.raises(error, match=match):
        call(name, np.random.default_rng(0).standard_normal((20, 2)), **options)


def test_complex_input_is_refused_naming_x():
    with pytest.raises(TypeError, match="`x`"):
        st.henze_visagie(np.ones((20, 2), dtype=complex))


# --- backends, dtypes, gradients -----------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_every_backend_agrees_with_numpy(backend, dtype_name, name):
    data = np.random.default_rng(1).standard_normal((40, 3)) + np.arange(3)
    result = call(name, backend.asarray(data, dtype_name))
    expected = call(name, round_like(data, dtype_name))
    rtol = 20 * rtol_for(dtype_name) if backend.float64 else 1e-2  # float32 sums without float64
    np.testing.assert_allclose(backend.to_numpy(result.statistic), expected.statistic, rtol=rtol)
    # each backend simulates its null natively on its device (its own random stream): the p-values
    # agree within the Monte Carlo spread, sqrt(2 p (1 - p) / 200) for two nulls of 199
    spread = math.sqrt(2 * expected.pvalue * (1 - expected.pvalue) / 200)
    assert abs(backend.to_numpy(result.pvalue) - expected.pvalue) <= 4 * spread + 1e-6
    assert result.pvalue.dtype == backend.dtype("float64" if dtype_name == "float64" else "float32")


@pytest.mark.parametrize("name", NAMES)
def test_float32_agrees_with_float64_far_into_the_tail(name):
    # far beyond every simulated null value (statistics up to 1e30): the float32 statistic is the
    # float64 one rounded (summed in float64), and both get the smallest Monte Carlo p-value
    rng = np.random.default_rng(2)
    for skew in (0.0, 0.5, 2.0):
        z = rng.standard_normal((200, 3))
        x32 = ((z + skew * (z**2 - 1)) @ rng.standard_normal((3, 3)) * 1e20 + 5e20).astype(np.float32)
        single, double = call(name, x32), call(name, x32.astype(np.float64))
        assert single.statistic.dtype == np.float32 and single.pvalue.dtype == np.float32
        np.testing.assert_allclose(single.statistic, double.statistic, rtol=2e-7)
        assert float(single.pvalue) == pytest.approx(float(double.pvalue), rel=1e-6)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("null", ["normal", "standard"])
def test_torch_gradient_of_the_statistic(name, null):
    torch = pytest.importorskip("torch")
    x = torch.asarray(np.random.default_rng(3).standard_normal((8, 2)), requires_grad=True)
    torch.autograd.gradcheck(lambda samples: call(name, samples, null=null, n_resamples=9).statistic, (x,))


@pytest.mark.parametrize("name", NAMES)
def test_float32_sums_without_float64_keep_to_the_narrower_range(name):
    # array-api-strict's no_float64 device sums in float32: at the largest accepted parameter (10; 5
    # for HJG) the statistic stays within 1e-2 of float64 (worst measured 4e-4 HV, 2.9e-3 HJG,
    # 3.7e-3 COMB at N = 200 and 1000); beyond, the terms of HJG cancel (0.11 at 10, 42 at 100)
    xs = pytest.importorskip("array_api_strict")
    data = np.random.default_rng(1).standard_normal((200, 3)).astype(np.float32) + np.arange(3, dtype=np.float32)
    x = xs.asarray(data, device=xs.Device("no_float64"))
    key, largest = ("beta", 5.0) if name == "henze_jimenez_gamero" else ("gamma", 10.0)
    with pytest.raises(ValueError, match=f"`{key} \\(on a device without float64\\)`"):
        getattr(st, name)(x, **{key: largest + 0.5}, **FAST)
    single = getattr(st, name)(x, **{key: largest}, **FAST)
    double = getattr(st, name)(data.astype(np.float64), **{key: largest}, **FAST)
    assert single.statistic.dtype == xs.float32
    np.testing.assert_allclose(float(single.statistic), float(double.statistic), rtol=1e-2)


def test_inside_jax_jit_the_monte_carlo_pvalue_is_a_clear_error():
    jax = pytest.importorskip("jax")
    x = jax.numpy.asarray(np.random.default_rng(4).standard_normal((20, 2)))
    with pytest.raises(ValueError, match="concrete values"):
        jax.jit(lambda samples: st.henze_visagie(samples, **FAST).statistic)(x)


@settings(max_examples=25, deadline=None)
@given(name=st_.sampled_from(NAMES), log_scale=st_.integers(-150, 150), seed=st_.integers(0, 2**16))
def test_composite_statistics_are_affine_invariant_over_the_float_range(name, log_scale, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_t(5, size=(25, 3))
    mixed = (x @ rng.standard_normal((3, 3)) + rng.standard_normal(3)) * 10.0**log_scale
    np.testing.assert_allclose(float(call(name, mixed).statistic), float(call(name, x).statistic), rtol=1e-6)
