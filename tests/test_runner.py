"""The shared runner (`run_univariate`), its helpers, the validators and the result type.

The runner is exercised with toy `compute` functions whose answers are known
in closed form, so that a failure points at the runner, not at a test.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

from sketchtest import NormalityResult
from sketchtest._nulls import montecarlo as _montecarlo
from sketchtest._univariate.base import (
    prepare_samples, resolve_auto_method, run_univariate, sample_index, standardize,
)
from sketchtest._validation import (
    check_bool, check_choice, check_int, check_positive_float, check_seed, float_dtypes, normalize_axis,
)
from support import rtol_for


def mean_and_max(y, *, xp):
    """Toy test: statistic = sample mean, "p-value" = sample maximum."""
    return xp.mean(y, axis=-1), xp.max(y, axis=-1)


def z_test(y, *, xp):
    """sqrt(n) * mean: N(0, 1) under N(0, 1) samples; its one-sided p-value is 1 - Phi(z)."""
    n = y.shape[-1]
    return xp.mean(y, axis=-1) * float(n) ** 0.5, xp.zeros(y.shape[:-1], dtype=y.dtype)


def run(x, compute=mean_and_max, **options):
    settings = dict(axis=0, keepdims=False, nan_policy="propagate", min_samples=2, test="toy",
                    null="standard", method="asymptotic")
    return run_univariate(x, compute, **{**settings, **options})


# --- run_univariate -------------------------------------------------------------------------------


def test_runner_moves_the_sample_axis_last_and_keeps_the_batch(backend):
    data = np.random.default_rng(0).standard_normal((3, 5, 4))
    x = backend.asarray(data, "float32")
    for axis in (0, 1, 2, -1):
        result = run(x, axis=axis)
        np.testing.assert_allclose(backend.to_numpy(result.statistic), data.astype(np.float32).mean(axis=axis),
                                   rtol=rtol_for("float32"))
        np.testing.assert_array_equal(backend.to_numpy(result.pvalue), data.astype(np.float32).max(axis=axis))


def test_runner_keepdims_puts_a_unit_axis_where_the_samples_were(backend):
    x = backend.asarray(np.ones((3, 5, 4)), "float32")
    assert run(x, axis=1, keepdims=True).statistic.shape == (3, 1, 4)
    assert run(x, axis=-1, keepdims=True).pvalue.shape == (3, 5, 1)


def test_runner_result_metadata():
    result = run(np.ones(4), test="toy", null="normal", method="asymptotic")
    assert (result.test, result.null, result.method) == ("toy", "normal", "asymptotic")


def test_runner_propagates_nan_only_in_affected_elements():
    data = np.arange(12.0).reshape(4, 3)
    data[1, 2] = np.nan
    result = run(data)
    np.testing.assert_array_equal(result.statistic, [4.5, 5.5, np.nan])
    np.testing.assert_array_equal(result.pvalue, [9.0, 10.0, np.nan])


def test_runner_omit_computes_each_element_on_its_own_samples():
    data = np.arange(12.0).reshape(4, 3)
    data[1, 2] = np.nan
    data[0:3, 0] = np.nan  # one sample left, below min_samples=2
    result = run(data, nan_policy="omit")
    np.testing.assert_array_equal(result.statistic, [np.nan, 5.5, (2 + 8 + 11) / 3])
    np.testing.assert_array_equal(result.pvalue, [np.nan, 10.0, 11.0])


def test_runner_omit_without_nans_is_propagate():
    data = np.random.default_rng(1).standard_normal((6, 2))
    np.testing.assert_array_equal(run(data, nan_policy="omit").statistic, run(data).statistic)


def test_runner_monte_carlo_matches_the_known_null():
    data = np.random.default_rng(2).standard_normal((50, 7)) + np.linspace(-0.4, 0.4, 7)
    z = data.mean(axis=0) * 50**0.5
    _montecarlo.clear_cache()
    result = run(data, z_test, method="monte_carlo", n_resamples=4000, seed=3)
    expected = stats.norm.sf(z)  # P(Z >= z) for Z ~ N(0, 1)
    # binomial standard error of a Monte Carlo proportion with 4000 draws is at most 0.008
    np.testing.assert_allclose(result.pvalue, expected, atol=0.04)
    lower = run(data, z_test, method="monte_carlo", n_resamples=4000, seed=3, larger_is_extreme=False)
    np.testing.assert_allclose(lower.pvalue, stats.norm.cdf(z), atol=0.04)


def test_runner_monte_carlo_pvalue_is_never_zero_and_cached():
    data = np.full((20, 1), 10.0)  # far beyond every simulated statistic
    _montecarlo.clear_cache()
    first = run(data, z_test, method="monte_carlo", n_resamples=99, seed=4)
    assert first.pvalue[0] == pytest.approx(1 / 100)  # (1 + 0) / (1 + B)
    assert len(_montecarlo._CACHE) == 1
    run(data, z_test, method="monte_carlo", n_resamples=99, seed=4)
    assert len(_montecarlo._CACHE) == 1


def test_runner_monte_carlo_on_every_backend(backend):
    data = np.random.default_rng(5).standard_normal((30, 3))
    _montecarlo.clear_cache()
    result = run(backend.asarray(data), z_test, method="monte_carlo", n_resamples=199, seed=6)
    pvalue = backend.to_numpy(result.pvalue)
    assert pvalue.shape == (3,)
    assert np.all((pvalue >= 1 / 200) & (pvalue <= 1))


def test_runner_rejects_too_few_samples_and_names_the_argument():
    with pytest.raises(ValueError, match="`x` needs at least 2 samples along axis 1; got 1"):
        run(np.ones((3, 1)), axis=1)


# --- helpers of the runner ------------------------------------------------------------------------


def test_prepare_samples_returns_samples_last_in_the_compute_dtype():
    y, xp, result_dtype, axis = prepare_samples(np.ones((3, 4), dtype=np.float16), axis=-2, min_samples=1)
    assert y.shape == (4, 3) and y.dtype == np.float32 and result_dtype == xp.float32 and axis == 0


def test_standardize_uses_the_unbiased_variance(backend):
    data = np.random.default_rng(7).standard_normal((2, 9)) * 3.0 + 1.0
    z = backend.to_numpy(standardize(backend.asarray(data), xp=backend.xp))
    np.testing.assert_allclose(z, stats.zscore(data, axis=-1, ddof=1), rtol=rtol_for("float32"))


def test_sample_index_has_the_dtype_and_device_of_its_model(backend):
    like = backend.asarray(np.zeros(2), "float32")
    index = sample_index(4, like=like, xp=backend.xp)
    assert index.dtype == like.dtype
    np.testing.assert_array_equal(backend.to_numpy(index), [1, 2, 3, 4])


def test_resolve_auto_method_simulates_only_small_concrete_samples():
    assert resolve_auto_method(np.zeros((9, 2)), axis=0, monte_carlo_below=10) == "monte_carlo"
    assert resolve_auto_method(np.zeros((10, 2)), axis=0, monte_carlo_below=10) == "asymptotic"
    assert resolve_auto_method(np.zeros((2, 9)), axis=-1, monte_carlo_below=10) == "monte_carlo"
    assert resolve_auto_method(np.zeros((9, 2)), axis=5, monte_carlo_below=10) == "asymptotic"  # runner reports


def test_resolve_auto_method_is_asymptotic_under_jax_jit():
    jax = pytest.importorskip("jax")
    seen = []

    def traced(x):
        seen.append(resolve_auto_method(x, axis=0, monte_carlo_below=10))
        return x

    jax.jit(traced)(jax.numpy.zeros(5))
    assert seen == ["asymptotic"]
    assert resolve_auto_method(jax.numpy.zeros(5), axis=0, monte_carlo_below=10) == "monte_carlo"


# --- validators -----------------------------------------------------------------------------------


def test_float_dtypes_policy():
    xp = np
    assert float_dtypes(np.ones(2, np.float64), xp=xp) == (np.float64, np.float64)
    assert float_dtypes(np.ones(2, np.float32), xp=xp) == (np.float32, np.float32)
    assert float_dtypes(np.ones(2, np.float16), xp=xp) == (np.float32, np.float32)
    assert float_dtypes(np.ones(2, np.int8), xp=xp) == (np.float64, np.float64)
    assert float_dtypes(np.ones(2, bool), xp=xp) == (np.float64, np.float64)
    with pytest.raises(TypeError, match="`y`.*complex"):
        float_dtypes(np.ones(2, np.complex64), xp=xp, name="y")


def test_check_int_and_axis():
    assert check_int(np.int64(3), name="k") == 3
    with pytest.raises(TypeError, match="`k`.*bool"):
        check_int(True, name="k")
    with pytest.raises(ValueError, match="`k` must be at least 2"):
        check_int(1, name="k", minimum=2)
    assert normalize_axis(-1, 3) == 2
    with pytest.raises(ValueError, match="`axis`=3 is out of range"):
        normalize_axis(3, 3)


@pytest.mark.parametrize("value, error", [(0.0, ValueError), (-1, ValueError), (float("inf"), ValueError),
                                          (float("nan"), ValueError), (True, TypeError), ("1", TypeError)])
def test_check_positive_float_rejects(value, error):
    with pytest.raises(error, match="`t_max`"):
        check_positive_float(value, name="t_max")


def test_check_choice_bool_and_seed():
    check_choice("a", name="mode", choices=("a", "b"))
    with pytest.raises(ValueError, match="`mode` must be one of 'a', 'b'; got 'c'"):
        check_choice("c", name="mode", choices=("a", "b"))
    check_bool(np.bool_(True), name="flag")
    with pytest.raises(TypeError, match="`flag`"):
        check_bool(0, name="flag")
    check_seed(np.random.default_rng(0))
    with pytest.raises(ValueError, match="`seed`"):
        check_seed(-2)


# --- NormalityResult ------------------------------------------------------------------------------


def test_result_unpacks_like_scipy_and_is_frozen():
    result = NormalityResult(np.float64(1.5), np.float64(0.25), test="toy", null="normal", method="exact")
    statistic, pvalue = result
    assert (statistic, pvalue) == (1.5, 0.25)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.statistic = 2.0


def test_result_repr_for_scalars_and_arrays():
    scalar = NormalityResult(np.float64(1.5), np.float64(0.25), test="toy", null="normal", method="exact")
    assert repr(scalar) == ("NormalityResult(test='toy', null='normal', statistic=1.5, pvalue=0.25, "
                            "method='exact')")
    batch = NormalityResult(np.zeros((2, 3)), np.zeros((2, 3)), test="toy")
    assert "statistic=[[0, 0, 0], [0, 0, 0]] (shape (2, 3))" in repr(batch)  # the values, not a placeholder


def test_result_equality_ignores_extras():
    one = NormalityResult(1.0, 0.5, test="toy", extras={"n": 3})
    assert one == NormalityResult(1.0, 0.5, test="toy", extras={"n": 4})
    assert one != NormalityResult(1.0, 0.5, test="other")
