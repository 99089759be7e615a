"""Sliced tests: statistics against closed forms, backends, aggregates, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import sketchtest as st
from sketchtest._nulls.combine import cauchy_combination
from sketchtest._multivariate.directions import draw_directions
from sketchtest._nulls.sliced import epps_pulley_asymptotic_pvalue, epps_pulley_null_eigenvalues
from support import rtol_for, round_like


def reference_epps_pulley(projection, t_max=3.0, n_points=17):
    """LeJEPA's quadrature statistic written out with NumPy, one slice at a time."""
    t = np.linspace(0.0, t_max, n_points)
    trapezoid = np.full(n_points, t_max / (n_points - 1))
    trapezoid[[0, -1]] /= 2
    weights = 2 * trapezoid * np.exp(-t**2 / 2)
    angles = np.outer(projection, t)
    error = (np.cos(angles).mean(0) - np.exp(-t**2 / 2)) ** 2 + np.sin(angles).mean(0) ** 2
    return len(projection) * np.sum(weights * error)


def test_slice_statistics_match_the_closed_form():
    x = np.random.default_rng(0).standard_normal((300, 5)) * 1.3
    result = st.sliced_test(x, num_slices=7, seed=1)
    directions = draw_directions(5, 7, seed=1)
    expected = [reference_epps_pulley(x @ directions[:, k]) for k in range(7)]
    np.testing.assert_allclose(result.slice_statistics, expected, rtol=1e-12)
    np.testing.assert_allclose(result.directions, directions, rtol=0, atol=0)


def test_other_knots_and_the_composite_null():
    x = np.random.default_rng(1).standard_normal((200, 3)) + 2.0
    directions = draw_directions(3, 4, seed=2)
    result = st.sliced_test(x, directions=directions, null="normal", t_max=4.0, n_points=9)
    projections = x @ directions
    standardized = (projections - projections.mean(0)) / projections.std(0, ddof=1)
    expected = [reference_epps_pulley(standardized[:, k], 4.0, 9) for k in range(4)]
    np.testing.assert_allclose(result.slice_statistics, expected, rtol=1e-12)


def test_any_univariate_test_can_be_sliced():
    x = np.random.default_rng(2).standard_normal((100, 6))
    result = st.sliced_test(x, "jarque_bera", num_slices=5, seed=0, null="normal", method="asymptotic")
    expected = stats.jarque_bera(x @ draw_directions(6, 5, seed=0), axis=0)  # SciPy on every slice
    np.testing.assert_allclose(result.slice_statistics, expected.statistic, rtol=1e-10)
    np.testing.assert_allclose(result.slice_pvalues, expected.pvalue, rtol=1e-10)


def test_batch_axes_are_independent_problems():
    x = np.random.default_rng(3).standard_normal((2, 3, 50, 4))
    result = st.sliced_test(x, num_slices=8, seed=0)
    assert result.slice_statistics.shape == (2, 3, 8) and result.pvalue.shape == (2, 3)
    single = st.sliced_test(x[1, 2], num_slices=8, seed=0)
    np.testing.assert_allclose(result.slice_statistics[1, 2], single.slice_statistics, rtol=1e-12)
    np.testing.assert_allclose(result.pvalue[1, 2], single.pvalue, rtol=1e-12)


def test_directions_are_unit_and_orthogonal_blocks_are_orthonormal():
    gaussian = draw_directions(6, 20, seed=0)
    np.testing.assert_allclose(np.linalg.norm(gaussian, axis=0), 1.0, rtol=1e-12)
    blocks = draw_directions(6, 14, seed=0, orthogonal=True)
    for start in (0, 6, 12):
        block = blocks[:, start:start + 6]
        np.testing.assert_allclose(block.T @ block, np.eye(block.shape[1]), atol=1e-12)
    generator = draw_directions(6, 3, seed=np.random.default_rng(5))
    np.testing.assert_allclose(generator, draw_directions(6, 3, seed=np.random.default_rng(5)))


def test_every_backend_gets_the_same_directions_and_answer(backend, dtype_name):
    data = np.random.default_rng(4).standard_normal((80, 6))
    x = backend.asarray(data, dtype_name)
    result = st.sliced_test(x, num_slices=12, seed=7)
    expected = st.sliced_test(round_like(data, dtype_name), num_slices=12, seed=7)
    rtol = rtol_for(dtype_name)
    np.testing.assert_allclose(backend.to_numpy(result.directions), draw_directions(6, 12, seed=7), rtol=rtol)
    np.testing.assert_allclose(backend.to_numpy(result.slice_statistics), expected.slice_statistics, rtol=rtol)
    np.testing.assert_allclose(backend.to_numpy(result.slice_pvalues), expected.slice_pvalues, rtol=50 * rtol)
    np.testing.assert_allclose(backend.to_numpy(result.pvalue), expected.pvalue, rtol=50 * rtol)
    expected_dtype = backend.dtype("float64" if dtype_name == "float64" else "float32")
    assert result.pvalue.dtype == expected_dtype and result.slice_statistics.dtype == expected_dtype
    if backend.device is not None and hasattr(result.pvalue, "device"):
        assert str(result.pvalue.device) == str(x.device)


def test_injected_directions_on_a_backend(backend):
    data = np.random.default_rng(5).standard_normal((60, 3))
    directions = draw_directions(3, 5, seed=0)
    result = st.sliced_test(backend.asarray(data), directions=backend.asarray(directions))
    expected = [reference_epps_pulley(data @ directions[:, k]) for k in range(5)]
    rtol = rtol_for("float64" if backend.float64 else "float32")
    np.testing.assert_allclose(backend.to_numpy(result.slice_statistics), expected, rtol=rtol)


def test_mean_statistic_equals_sigreg():
    x = np.random.default_rng(6).standard_normal((128, 10))
    directions = draw_directions(10, 32, seed=3)
    try:
        loss = st.sigreg(x, directions=directions)
    except NotImplementedError:
        pytest.skip("sketchtest.sigreg is not written yet")
    result = st.sliced_test(x, directions=directions, aggregate="mean", n_resamples=19)
    np.testing.assert_allclose(np.asarray(loss), result.statistic, rtol=1e-10)


def test_cauchy_combination_closed_form():
    p = np.array([[0.01, 0.2, 0.7], [0.5, 0.5, 0.5]])
    t = np.mean(np.tan((0.5 - p) * np.pi), axis=-1)
    np.testing.assert_allclose(cauchy_combination(p, xp=np), 0.5 - np.arctan(t) / np.pi, rtol=1e-12)
    tiny = cauchy_combination(np.array([1e-30, 0.5]), xp=np)  # T ~ 1/(2 pi 1e-30)
    np.testing.assert_allclose(tiny, 2e-30, rtol=1e-10)
    # one p-value is returned unchanged; a standard Cauchy variable's tail (Liu & Xie 2020)
    np.testing.assert_allclose(cauchy_combination(np.array([0.03]), xp=np), 0.03, rtol=1e-12)


def test_asymptotic_null_of_one_slice():
    # the limit's mean is the trace: sum_j w_j (1 - exp(-t_j^2)) for the standard null
    t = np.linspace(0, 3, 17)
    weights = 2 * np.exp(-t**2 / 2) * np.r_[0.5, np.ones(15), 0.5] * (3 / 16)
    trace = np.sum(weights * (1 - np.exp(-t**2)))
    np.testing.assert_allclose(epps_pulley_null_eigenvalues(3.0, 17, "standard").sum(), trace, rtol=1e-10)
    # rejection rates of the statistic simulated at n = 400 (NumPy, independent of the table)
    x = np.random.default_rng(7).standard_normal((3000, 400))
    simulated = np.array([reference_epps_pulley(row) for row in x[:1500]])
    pvalues = epps_pulley_asymptotic_pvalue(simulated, t_max=3.0, n_points=17, null="standard", xp=np)
    for level in (0.05, 0.1):
        tolerance = 4 * math.sqrt(level * (1 - level) / 1500)
        assert abs(np.mean(pvalues < level) - level) < tolerance


def _rejection_rate(level, replicates, **options):
    rng = np.random.default_rng(11)
    pvalues = [st.sliced_test(rng.standard_normal((64, 4)), **options).pvalue for _ in range(replicates)]
    return np.mean(np.asarray(pvalues) < level)


@pytest.mark.parametrize("aggregate", ["cauchy", "mean", "max"])
def test_type_one_error_small_grid(aggregate):
    replicates, level = 200, 0.1
    rate = _rejection_rate(level, replicates, num_slices=16, seed=0, aggregate=aggregate, n_resamples=99)
    assert abs(rate - level) < 4 * math.sqrt(level * (1 - level) / replicates)


@pytest.mark.parametrize("aggregate", ["cauchy", "mean", "max"])
def test_power_against_a_skewed_alternative(aggregate):
    x = np.random.default_rng(8).exponential(size=(200, 4)) - 1.0
    assert st.sliced_test(x, num_slices=16, seed=0, aggregate=aggregate, n_resamples=99).pvalue <= 0.01


def test_monte_carlo_null_is_cached_and_seeded():
    x = np.random.default_rng(9).standard_normal((50, 20))
    first = st.sliced_test(x, num_slices=4, seed=1, aggregate="mean", n_resamples=49, mc_seed=3)
    again = st.sliced_test(x, num_slices=4, seed=1, aggregate="mean", n_resamples=49, mc_seed=3)
    injected = st.sliced_test(x, directions=first.directions, aggregate="mean", n_resamples=49, mc_seed=3)
    assert float(first.pvalue) == float(again.pvalue) == float(injected.pvalue)
    assert first.method == "monte_carlo" and 0 < float(first.pvalue) <= 1


def test_runs_under_jax_jit():
    jax = pytest.importorskip("jax")
    x = jax.numpy.asarray(np.random.default_rng(10).standard_normal((40, 3)))
    jitted = jax.jit(lambda samples: st.sliced_test(samples, num_slices=6, seed=0).pvalue)
    np.testing.assert_allclose(float(jitted(x)), float(st.sliced_test(np.asarray(x), num_slices=6, seed=0).pvalue),
                               rtol=1e-10)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: st.sliced_test(np.zeros((10, 0))), ValueError, "D >= 1"),
        (lambda: st.sliced_test(np.zeros((1, 3))), ValueError, "at least 2 samples"),
        (lambda: st.sliced_test(np.zeros(5)), ValueError, r"\(\.\.\., N, D\)"),
        (lambda: st.sliced_test(np.zeros((5, 3)), directions=np.ones((4, 2))), ValueError, "directions"),
        (lambda: st.sliced_test(np.zeros((5, 3)), directions=np.ones(3)), ValueError, "directions"),
        (lambda: st.sliced_test(np.zeros((5, 3)), aggregate="median"), ValueError, "aggregate"),
        (lambda: st.sliced_test(np.zeros((5, 3)), "lilliefors"), ValueError, "test"),
        (lambda: st.sliced_test(np.zeros((5, 3)), num_slices=0), ValueError, "num_slices"),
        (lambda: st.sliced_test(np.zeros((5, 3)), seed=-1), ValueError, "seed"),
        (lambda: st.sliced_test(np.zeros((5, 3)), null="uniform"), ValueError, "null"),
        (lambda: st.sliced_test(np.zeros((5, 3)), bandwidth=2), TypeError, "bandwidth"),
        (lambda: st.sliced_test(np.zeros((5, 3), dtype=complex)), TypeError, "complex"),
    ],
)
def test_bad_input_is_refused(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_asymptotic_null_of_a_standardized_slice():
    x = np.random.default_rng(12).standard_normal((1500, 300)) * 2.0 + 1.0
    standardized = (x - x.mean(1, keepdims=True)) / x.std(1, ddof=1, keepdims=True)
    simulated = np.array([reference_epps_pulley(row) for row in standardized])
    pvalues = epps_pulley_asymptotic_pvalue(simulated, t_max=3.0, n_points=17, null="normal", xp=np)
    for level in (0.05, 0.1, 0.9):
        tolerance = 4 * math.sqrt(level * (1 - level) / 1500)
        assert abs(np.mean(pvalues < level) - level) < tolerance


def test_orthogonal_directions_and_injection_into_the_stream():
    x = np.random.default_rng(13).standard_normal((100, 4))
    result = st.sliced_test(x, num_slices=6, seed=2, orthogonal=True)
    np.testing.assert_allclose(result.directions, draw_directions(4, 6, seed=2, orthogonal=True))
    accumulator = st.SlicedEppsPulley(directions=result.directions).update(x)
    assert accumulator.num_slices == 6
    np.testing.assert_allclose(accumulator.result().slice_statistics, result.slice_statistics, rtol=1e-10)


def test_slicing_a_function_and_cramer_von_mises():
    x = np.random.default_rng(14).standard_normal((120, 5))
    directions = draw_directions(5, 4, seed=1)
    by_function = st.sliced_test(x, st.jarque_bera, directions=directions, null="normal")
    by_name = st.sliced_test(x, "jarque_bera", directions=directions, null="normal")
    np.testing.assert_allclose(by_function.slice_statistics, by_name.slice_statistics, rtol=1e-12)
    try:
        result = st.sliced_test(x, "cramer_von_mises", directions=directions)
    except NotImplementedError:
        pytest.skip("sketchtest.cramer_von_mises is not written yet")
    projections = x @ directions
    expected = [stats.cramervonmises(projections[:, k], "norm").statistic for k in range(4)]  # SciPy, N(0, 1)
    np.testing.assert_allclose(result.slice_statistics, expected, rtol=1e-10)


def test_torch_compile_fullgraph_with_cold_caches():
    torch = pytest.importorskip("torch")
    import warnings

    import sketchtest._multivariate.directions as directions_module
    import sketchtest._nulls.sliced as null_module

    x = torch.asarray(np.random.default_rng(15).standard_normal((40, 3)))
    eager = tuple(st.sliced_test(x, num_slices=5, seed=3))
    directions_module._seeded_directions.cache_clear()
    null_module._log_tables.cache_clear()
    torch._dynamo.reset()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        function = torch.compile(lambda samples: tuple(st.sliced_test(samples, num_slices=5, seed=3)),
                                 fullgraph=True, backend="aot_eager")
        compiled = function(x)
    np.testing.assert_allclose([float(v) for v in compiled], [float(v) for v in eager], rtol=1e-12)


def test_cauchy_aggregate_stays_finite_when_slice_pvalues_underflow():
    # A slice p-value of exactly 0 (an extreme slice) must give a large finite statistic
    # and a p-value near 0, with no division by zero.
    from sketchtest._nulls.combine import cauchy_pvalue, cauchy_statistic

    pvalues = np.array([[0.0, 0.5, 1.0], [0.2, 0.4, 0.6]])
    with np.errstate(all="raise"):
        statistic = cauchy_statistic(pvalues, xp=np)
        pvalue = cauchy_pvalue(statistic, xp=np)
    assert np.all(np.isfinite(statistic))
    assert pvalue[0] < 1e-300
    # closed form for the second row: mean of cot(p pi), then atan2(1, T) / pi
    expected = np.arctan2(1.0, np.mean(1.0 / np.tan(np.pi * pvalues[1]))) / np.pi
    np.testing.assert_allclose(pvalue[1], expected, rtol=1e-12)


def test_mean_aggregate_method_asymptotic_agrees_with_the_simulated_null():
    """The asymptotic p-value of the mean aggregate against its Monte Carlo p-value (the exact null at N)."""
    rng = np.random.default_rng(11)
    samples = np.concatenate([rng.standard_normal((2, 500, 6)), rng.standard_t(8, (1, 500, 6))])
    common = dict(num_slices=16, seed=2, aggregate="mean")
    asymptotic = st.sliced_test(samples, aggregate_method="asymptotic", **common)
    simulated = st.sliced_test(samples, aggregate_method="monte_carlo", n_resamples=400, **common)
    assert asymptotic.method == "asymptotic" and simulated.method == "monte_carlo"
    np.testing.assert_array_equal(np.asarray(asymptotic.statistic), np.asarray(simulated.statistic))
    p = np.asarray(simulated.pvalue)
    tolerance = 4.0 * np.sqrt(p * (1.0 - p) / 400) + 0.02  # Monte Carlo error of 400 replicates, plus N = 500
    np.testing.assert_array_less(np.abs(np.asarray(asymptotic.pvalue) - p), tolerance)


def test_mean_aggregate_method_auto_and_refusals():
    x = np.random.default_rng(0).standard_normal((100, 4))
    assert st.sliced_test(x, num_slices=8, seed=0, aggregate="mean", n_resamples=50).method == "monte_carlo"
    assert st.sliced_test(x, num_slices=8, seed=0, aggregate="max", n_resamples=50).method == "monte_carlo"
    with pytest.raises(ValueError, match="aggregate_method"):
        st.sliced_test(x, num_slices=8, seed=0, aggregate="max", aggregate_method="asymptotic")
    with pytest.raises(ValueError, match="aggregate_method"):
        st.sliced_test(x, num_slices=8, seed=0, aggregate="mean", null="normal", aggregate_method="asymptotic")
    with pytest.raises(ValueError, match="aggregate_method"):
        st.sliced_test(x, num_slices=8, seed=0, aggregate="mean", aggregate_method="exact")
