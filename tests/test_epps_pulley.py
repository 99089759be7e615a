"""Epps-Pulley: both forms against numerical integration, calibration, backends."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

import sketchtest as st
from support import rtol_for, round_like

ROOT_TWO_PI = math.sqrt(2 * math.pi)


def _integral_statistic(x):
    """n * int_R |ecf(t) - e^{-t^2/2}|^2 e^{-t^2/2} dt by scipy.integrate.quad (even integrand)."""

    def integrand(t):
        real = np.mean(np.cos(t * x)) - math.exp(-t * t / 2)
        imaginary = np.mean(np.sin(t * x))
        return (real * real + imaginary * imaginary) * math.exp(-t * t / 2)

    value, _ = integrate.quad(integrand, 0, np.inf, epsabs=0, epsrel=1e-12, limit=400)
    return 2 * x.size * value


def _lejepa_quadrature(x, t_max=3.0, n_points=17):
    """LeJEPA's reference formula, written out: N sum_j w_j [(mean cos - phi)^2 + mean sin^2]."""
    t = np.linspace(0, t_max, n_points)
    trapezoid = np.full(n_points, t_max / (n_points - 1))
    trapezoid[[0, -1]] /= 2
    phi = np.exp(-t * t / 2)
    weights = 2 * trapezoid * phi
    angles = np.outer(x, t)
    error = (np.cos(angles).mean(0) - phi) ** 2 + np.sin(angles).mean(0) ** 2
    return x.size * np.sum(weights * error)


@pytest.mark.parametrize(("n", "scale"), [(7, 1.0), (40, 1.5), (300, 0.7)])
def test_exact_form_matches_numerical_integration(n, scale):
    x = scale * np.random.default_rng(n).standard_normal(n) + 0.2
    result = st.epps_pulley(x, null="standard", form="exact")
    np.testing.assert_allclose(result.statistic, _integral_statistic(x), rtol=1e-9)


def test_exact_form_chunks_long_samples():
    x = np.random.default_rng(5).standard_t(5, size=700)  # 700 > one 256-row chunk
    np.testing.assert_allclose(st.epps_pulley(x, null="standard", form="exact").statistic, _integral_statistic(x), rtol=1e-9)


def test_composite_exact_form_is_the_classical_epps_pulley_statistic():
    # Epps & Pulley (1983) / BHEP (beta = 1) on y = (x - mean) / sd (ddof=0), as usually quoted:
    # T_EP = 1 + n / sqrt(3) + (2 / n) sum_{j<k} exp(-(y_j - y_k)^2 / 2) - sqrt(2) sum_j exp(-y_j^2 / 4)
    x = np.random.default_rng(14).gamma(3.0, size=45)
    y = (x - x.mean()) / x.std()
    n = y.size
    upper = np.triu(np.exp(-np.subtract.outer(y, y) ** 2 / 2), k=1).sum()
    classical = 1 + n / math.sqrt(3) + 2 / n * upper - math.sqrt(2) * np.exp(-y * y / 4).sum()
    result = st.epps_pulley(x, null="normal", form="exact")
    np.testing.assert_allclose(result.statistic / ROOT_TWO_PI, classical, rtol=1e-12)


def test_quadrature_form_is_lejepas_formula():
    x = np.random.default_rng(1).standard_normal((64, 5)) * 1.3
    expected = [_lejepa_quadrature(x[:, i]) for i in range(5)]
    np.testing.assert_allclose(st.epps_pulley(x, null="standard").statistic, expected, rtol=1e-12)
    expected = [_lejepa_quadrature(x[:, i], 5.0, 33) for i in range(5)]
    np.testing.assert_allclose(st.epps_pulley(x, null="standard", t_max=5.0, n_points=33).statistic, expected, rtol=1e-12)


def test_quadrature_converges_to_the_exact_form():
    x = np.random.default_rng(2).standard_normal(50) * 0.8 + 0.3
    exact = float(st.epps_pulley(x, null="standard", form="exact").statistic)
    # the trapezoid rule on a smooth, fast-decaying integrand converges spectrally
    errors = [abs(float(st.epps_pulley(x, null="standard", t_max=10.0, n_points=m).statistic) - exact) / exact
              for m in (9, 13, 17, 33)]
    assert all(later < earlier / 10 or later < 1e-13 for earlier, later in zip(errors, errors[1:])), errors
    assert errors[0] > 1e-3 and errors[-1] < 1e-12, errors


@pytest.mark.parametrize(("form", "expected"), [
    # E[T] = sum_j w_j (1 - e^{-t_j^2}) = 1.0525 (defaults); sqrt(2 pi) - sqrt(2 pi / 3): every n
    ("quadrature", 1.052464154799),
    ("exact", ROOT_TWO_PI - math.sqrt(2 * math.pi / 3)),
])
def test_mean_under_the_standard_null(form, expected):
    x = np.random.default_rng(3).standard_normal((15, 8000))
    statistic = st.epps_pulley(x, null="standard", form=form, method="asymptotic").statistic
    standard_error = statistic.std() / math.sqrt(statistic.size)
    assert abs(statistic.mean() - expected) < 4 * standard_error


def test_batch_axis_and_keepdims():
    x = np.random.default_rng(4).standard_normal((3, 30, 2))
    reference = st.epps_pulley(x, null="standard", axis=1)
    assert reference.statistic.shape == (3, 2)
    for i in range(3):
        for j in range(2):
            single = st.epps_pulley(x[i, :, j], null="standard")
            np.testing.assert_allclose(reference.statistic[i, j], single.statistic, rtol=1e-13)
            np.testing.assert_allclose(reference.pvalue[i, j], single.pvalue, rtol=1e-13)
    moved = st.epps_pulley(np.moveaxis(x, 1, -1), null="standard", axis=-1, form="exact")
    np.testing.assert_allclose(moved.statistic, st.epps_pulley(x, null="standard", axis=1, form="exact").statistic, rtol=1e-13)
    kept = st.epps_pulley(x, null="standard", axis=1, keepdims=True)
    assert kept.statistic.shape == (3, 1, 2) and kept.pvalue.shape == (3, 1, 2)


@pytest.mark.parametrize("form", ["quadrature", "exact"])
def test_composite_null_is_affine_invariant_and_uses_the_mle_scale(form):
    x = np.random.default_rng(6).gamma(4.0, size=(60, 3))
    base = st.epps_pulley(x, null="normal", form=form, method="asymptotic")
    for scale, shift in [(3.0, -7.0), (-0.2, 1.0)]:
        moved = st.epps_pulley(scale * x + shift, null="normal", form=form, method="asymptotic")
        np.testing.assert_allclose(moved.statistic, base.statistic, rtol=1e-10)
        np.testing.assert_allclose(moved.pvalue, base.pvalue, rtol=1e-9)
    standardized = (x - x.mean(0)) / x.std(0)  # ddof=0
    known = st.epps_pulley(standardized, null="standard", form=form, method="asymptotic")
    np.testing.assert_allclose(base.statistic, known.statistic, rtol=1e-12)


def test_rejects_non_normal_data():
    rng = np.random.default_rng(7)
    assert float(st.epps_pulley(rng.exponential(size=300), null="normal").pvalue) < 1e-6
    assert float(st.epps_pulley(rng.standard_normal(300) + 0.5, null="standard").pvalue) < 1e-6
    assert float(st.epps_pulley(rng.uniform(-2, 2, size=2000), null="normal", form="exact").pvalue) < 1e-6


def _rejection_rates(pvalue, alphas=(0.01, 0.05, 0.1)):
    return np.array([(pvalue < alpha).mean() for alpha in alphas])


@pytest.mark.parametrize(("null", "form", "n"), [("standard", "quadrature", 25), ("normal", "exact", 100)])
def test_asymptotic_pvalues_are_calibrated(null, form, n):
    # one batched call over 3000 null replicates; band: 4 binomial sigmas + 0.005
    replicates = 3000
    x = np.random.default_rng(100 + n).standard_normal((n, replicates)) * 2.0 + 1.0
    if null == "standard":
        x = (x - 1.0) / 2.0
    alphas = np.array([0.01, 0.05, 0.1])
    rates = _rejection_rates(st.epps_pulley(x, null=null, form=form, method="asymptotic").pvalue)
    band = 4 * np.sqrt(alphas * (1 - alphas) / replicates) + 0.005
    assert np.all(np.abs(rates - alphas) < band), rates


def test_auto_uses_monte_carlo_for_small_composite_samples():
    x = np.random.default_rng(8).standard_normal((20, 400))
    auto = st.epps_pulley(x, null="normal", seed=1, n_resamples=999)
    assert auto.method == "monte_carlo"
    simulated = st.epps_pulley(x, null="normal", method="monte_carlo", seed=1, n_resamples=999)
    np.testing.assert_array_equal(auto.pvalue, simulated.pvalue)
    assert np.all((auto.pvalue >= 1 / 1000) & (auto.pvalue <= 1))
    rates = _rejection_rates(auto.pvalue)
    assert np.all(np.abs(rates - [0.01, 0.05, 0.1]) < 4 * np.sqrt(0.1 * 0.9 / 400) + 0.005), rates
    assert st.epps_pulley(np.random.default_rng(9).standard_normal(25), null="normal").method == "asymptotic"
    assert st.epps_pulley(x, null="standard").method == "asymptotic"


def test_monte_carlo_and_asymptotic_agree_for_large_n():
    x = np.random.default_rng(9).standard_normal((200, 4)) * [1.0, 1.0, 1.2, 1.0] + [0.0, 0.1, 0.0, 0.25]
    asymptotic = st.epps_pulley(x, null="standard", method="asymptotic").pvalue
    simulated = st.epps_pulley(x, null="standard", method="monte_carlo", n_resamples=1999, seed=3).pvalue
    np.testing.assert_allclose(simulated, asymptotic, atol=0.04)


def test_nan_policies():
    x = np.random.default_rng(10).standard_normal((30, 2))
    x[4, 1] = np.nan
    propagated = st.epps_pulley(x, null="standard")
    assert np.isfinite(propagated.statistic[0]) and np.isnan(propagated.statistic[1])
    assert np.isnan(propagated.pvalue[1])
    omitted = st.epps_pulley(x, null="standard", nan_policy="omit", form="exact")
    np.testing.assert_allclose(omitted.statistic[1], st.epps_pulley(np.delete(x[:, 1], 4), null="standard", form="exact").statistic)
    with pytest.raises(ValueError, match="NaN"):
        st.epps_pulley(x, null="standard", nan_policy="raise")


@pytest.mark.parametrize(("options", "error", "match"), [
    ({"null": "gaussian"}, ValueError, "null"),
    ({"form": "trapezoid"}, ValueError, "form"),
    ({"method": "exact"}, ValueError, "method"),
    ({"t_max": -1.0}, ValueError, "t_max"),
    ({"t_max": "3"}, TypeError, "t_max"),
    ({"n_points": 1}, ValueError, "n_points"),
    ({"n_points": 2.5}, TypeError, "n_points"),
    ({"axis": 2}, ValueError, "axis"),
    ({"keepdims": "yes"}, TypeError, "keepdims"),
])
def test_bad_options_raise(options, error, match):
    with pytest.raises(error, match=match):
        st.epps_pulley(np.zeros((10, 2)) + np.arange(10.0)[:, None], **options)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="samples"):
        st.epps_pulley(np.ones(1))
    with pytest.raises(ValueError, match="samples"):
        st.epps_pulley(np.array([0.0, 1.0]), null="normal")
    with pytest.raises(TypeError, match="complex"):
        st.epps_pulley(np.ones(5, dtype=complex))


@pytest.mark.parametrize(("null", "form"), [("standard", "quadrature"), ("normal", "exact")])
def test_every_backend_and_dtype(backend, dtype_name, null, form):
    data = np.random.default_rng(11).standard_normal((60, 3)) * 1.1 + 0.1
    result = st.epps_pulley(backend.asarray(data, dtype_name), null=null, form=form, method="asymptotic")
    expected = st.epps_pulley(round_like(data, dtype_name), null=null, form=form, method="asymptotic")
    expected_dtype = backend.dtype("float32" if dtype_name == "bfloat16" else dtype_name)
    assert result.statistic.dtype == expected_dtype and result.pvalue.dtype == expected_dtype
    assert str(getattr(result.pvalue, "device", None)) == str(getattr(backend.asarray(data), "device", None))
    rtol = rtol_for(dtype_name)
    np.testing.assert_allclose(backend.to_numpy(result.statistic), expected.statistic, rtol=rtol)
    np.testing.assert_allclose(backend.to_numpy(result.pvalue), expected.pvalue, rtol=rtol)


def test_runs_under_jax_jit_and_vmap():
    jax = pytest.importorskip("jax")
    data = np.random.default_rng(12).standard_normal((40, 3))
    expected = st.epps_pulley(data, null="normal", form="exact", method="asymptotic")
    jitted = jax.jit(lambda x: tuple(st.epps_pulley(x, null="normal", form="exact")))(jax.numpy.asarray(data))
    np.testing.assert_allclose(np.asarray(jitted[0]), expected.statistic, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(jitted[1]), expected.pvalue, rtol=1e-12)
    mapped = jax.vmap(lambda x: st.epps_pulley(x, null="standard").pvalue, in_axes=1)(jax.numpy.asarray(data))
    np.testing.assert_allclose(np.asarray(mapped), st.epps_pulley(data, null="standard").pvalue, rtol=1e-12)


def test_runs_under_torch_compile_fullgraph():
    torch = pytest.importorskip("torch")
    # n = 20 < 25: "auto" falls back to the asymptotic p-value while compiling; t_max=4
    # is used nowhere else, so the tail table is built (eagerly) during tracing
    data = np.random.default_rng(13).standard_normal((20, 3))
    compiled = torch.compile(lambda x: tuple(st.epps_pulley(x, null="normal", t_max=4.0)), fullgraph=True)
    statistic, pvalue = compiled(torch.asarray(data))
    expected = st.epps_pulley(data, null="normal", t_max=4.0, method="asymptotic")
    np.testing.assert_allclose(statistic.numpy(), expected.statistic, rtol=1e-12)
    np.testing.assert_allclose(pvalue.numpy(), expected.pvalue, rtol=1e-12)


@pytest.mark.parametrize("t_max", [1000.0, 1e300, 80.5, float("inf"), -1.0])
def test_t_max_beyond_the_knots_reach_is_a_value_error_naming_it(t_max):
    """t_max = 1000 raised IndexError and 1e300 LinAlgError (issue 22); 5 (n_points - 1) = 80 is the bound."""
    x = np.random.default_rng(0).standard_normal(100)
    with pytest.raises(ValueError, match="t_max"):
        st.epps_pulley(x, t_max=t_max, n_points=17)


def test_t_max_at_the_bound_still_gives_a_pvalue():
    x = np.random.default_rng(0).standard_normal(100)
    result = st.epps_pulley(x, null="standard", t_max=80.0, n_points=17)
    assert 0.0 < float(result.pvalue) <= 1.0
