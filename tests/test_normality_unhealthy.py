"""normality_test on unhealthy embeddings (issue 20): collapse, shift, scale, float32, inf, backends.

Collapsed data gets p = 0 with a ``rank`` component naming the rank; shifted
and rescaled data get p ~ 0 under the standard null and the same p as the
clean data under the composite null; float32 agrees with float64 on the
same values; NumPy, torch and JAX give the same p; inf behaves as NaN.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst

import sketchtest as st
from sketchtest._multivariate import normality_moments as moments


def collapsed(rank, n=400, dim=16, seed=0, dtype=np.float32):
    """N samples of rank `rank` in D dimensions, rounded to `dtype` (a float32 embedding)."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, rank)) @ rng.standard_normal((rank, dim))).astype(dtype)


def healthy(n=400, dim=16, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(dtype)


def assert_finite(result):
    assert np.isfinite(float(result.pvalue)) and 0.0 <= float(result.pvalue) <= 1.0
    assert np.isfinite(float(result.statistic)) or float(result.pvalue) == 0.0


# --- collapse -------------------------------------------------------------------------------

@pytest.mark.parametrize("null", ["standard", "normal"])
def test_rank_4_in_32_is_a_certain_departure_with_its_rank_named(null):
    x = collapsed(4, n=2000, dim=32)
    result = st.normality_test(x, null=null, seed=0, num_slices=32)
    assert float(result.pvalue) == 0.0
    rank = result.components["rank"]
    assert float(rank.pvalue) == 0.0
    assert int(rank.extras["rank"]) == 4 and rank.extras["dimension"] == 32
    # the CLI's effective rank: exp of the spectral entropy, recomputed here with NumPy
    eigenvalues = np.linalg.eigvalsh(np.cov(x.astype(np.float64), rowvar=False, bias=True))
    share = np.clip(eigenvalues, 0, None) / np.clip(eigenvalues, 0, None).sum()
    share = share[share > 0]
    assert float(rank.extras["effective_rank"]) == pytest.approx(math.exp(-np.sum(share * np.log(share))), rel=1e-4)
    inside = result.components["within_subspace"]
    assert 0.001 < float(inside.pvalue) <= 1.0  # Gaussian inside its 4-dimensional subspace
    for name, part in result.components.items():
        if np.isnan(float(part.pvalue)):
            assert part.extras["reason"], name


def test_within_subspace_sees_a_non_gaussian_subspace():
    rng = np.random.default_rng(3)
    scores = rng.uniform(-1, 1, size=(2000, 3))  # uniform inside a 3-dimensional subspace
    x = (scores @ rng.standard_normal((3, 12))).astype(np.float32)
    result = st.normality_test(x, null="normal", seed=0, num_slices=32)
    assert float(result.components["within_subspace"].pvalue) < 1e-6


def test_full_rank_data_keeps_its_rank_and_its_p_value():
    result = st.normality_test(healthy(seed=4), null="normal", seed=0, num_slices=32)
    assert float(result.components["rank"].pvalue) == 1.0 and int(result.components["rank"].extras["rank"]) == 16
    assert "within_subspace" not in result.components
    assert float(result.pvalue) > 1e-3


@pytest.mark.parametrize("dtype", ["float64", "float32", "bfloat16"])
@pytest.mark.parametrize("dim", [8, 32])
def test_rank_threshold_separates_collapsed_from_full_rank_data(dtype, dim):
    torch = pytest.importorskip("torch")
    factor = {"float64": torch.float64, "float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
    rng = np.random.default_rng(dim)
    for rank in (1, dim // 2, dim - 1):
        z = torch.asarray(rng.standard_normal((4 * dim, rank)))
        w = torch.asarray(rng.standard_normal((rank, dim)))
        x = z.to(factor) @ w.to(factor)  # computed in the dtype, as a network's output
        part = st.normality_test(x, seed=0, num_slices=8).components["rank"]
        assert int(part.extras["rank"]) == rank, (dtype, rank)
    smallest_n = dim + 2 if dtype != "bfloat16" else 2 * dim  # bfloat16's own rounding hides N near D
    for seed in range(5):
        x = torch.asarray(rng.standard_normal((smallest_n, dim))).to(factor)
        assert int(st.normality_test(x, seed=0, num_slices=8).components["rank"].extras["rank"]) == dim


def test_rank_is_not_applicable_below_n_equals_d():
    part = st.normality_test(healthy(n=10, dim=16), seed=0, num_slices=8).components["rank"]
    assert np.isnan(float(part.pvalue)) and "N = 10 <= D = 16" in part.extras["reason"]
    assert int(part.extras["rank"]) == 9  # 10 centred samples span 9 dimensions


@pytest.mark.parametrize(("n", "dim"), [(64, 64), (40, 64)])
def test_healthy_data_at_n_below_d_is_not_called_collapsed(n, dim):
    # N <= D centred Gaussian samples span N - 1 dimensions: a rank of N - 1 < D is no collapse
    result = st.normality_test(healthy(n=n, dim=dim, seed=3), seed=0, num_slices=16)
    assert int(result.components["rank"].extras["rank"]) == n - 1
    assert float(result.pvalue) > 0.0 and "within_subspace" not in result.components
    assert "collapse" not in result.explain()[0]


def test_collapse_below_the_sample_span_is_found_at_n_below_d():
    # (streamed, the same answer: tests/test_normality_stream.py)
    x = collapsed(4, n=30, dim=64, seed=2, dtype=np.float64)  # 30 samples span 29 dimensions, these 4
    result = st.normality_test(x, seed=0, num_slices=16)
    assert float(result.pvalue) == 0.0 and float(result.components["rank"].pvalue) == 0.0
    assert int(result.components["rank"].extras["rank"]) == 4
    assert 0.0 < float(result.components["within_subspace"].pvalue) <= 1.0
    assert "collapse: the samples lie in a 4-dimensional subspace" in result.explain()[0]


# --- shift, scale, float32 -------------------------------------------------------------------

@pytest.mark.parametrize("transform", [lambda x: x + 1000.0, lambda x: x * 1e4, lambda x: x * 1e-4])
def test_standard_null_rejects_shifted_and_rescaled_data(transform):
    x = transform(healthy(n=2000, dim=32, seed=5)).astype(np.float32)
    result = st.normality_test(x, seed=0, num_slices=32)
    assert float(result.pvalue) < 1e-30
    assert float(result.components["rank"].pvalue) == 1.0


@pytest.mark.parametrize("shift", [0.0, 1e2, 1e4])
@pytest.mark.parametrize("scale", [1e-30, 1e-3, 1.0, 1e3, 1e30])
def test_composite_null_float32_agrees_with_float64_on_the_same_values(shift, scale):
    x = (healthy(n=200, dim=6, seed=6) + shift) * scale
    values = x.astype(np.float32)
    p32 = float(st.normality_test(values, null="normal", seed=0).pvalue)
    p64 = float(st.normality_test(values.astype(np.float64), null="normal", seed=0).pvalue)
    assert abs(p32 - p64) < 2e-3


@pytest.mark.parametrize("seed", [0, 1])
def test_standard_moments_of_float32_data_agree_with_float64_at_large_n(seed):
    # the kurtosis, about D (D + 2) = 4224, has a null spread of sqrt(8 D (D + 2) / N) = 1.3 here: summed
    # in float32 its p-value was off by 5e-5 to 1.6e-4 (N = 20000, D = 64); summed in float64, by 2e-7
    x = np.random.default_rng(seed).standard_normal((20000, 64)).astype(np.float32)
    single = st.normality_test(x, seed=0, num_slices=8).components
    double = st.normality_test(x.astype(np.float64), seed=0, num_slices=8).components
    for name in ("skewness", "kurtosis", "covariance", "mean"):
        assert abs(float(single[name].pvalue) - float(double[name].pvalue)) < 1e-5, name


@pytest.mark.parametrize("scale", [1e-150, 1e-100, 1e100, 1e150])
def test_composite_null_float64_is_scale_invariant_far_out(scale):
    x = healthy(n=200, dim=6, seed=7)
    reference = st.normality_test(x, null="normal", seed=0)
    result = st.normality_test(x * scale, null="normal", seed=0)
    np.testing.assert_allclose(float(result.pvalue), float(reference.pvalue), rtol=1e-8)
    assert float(result.components["rank"].pvalue) == 1.0


def test_standard_null_float64_far_out_gives_zero_not_an_error():
    x = healthy(n=200, dim=6, seed=8)
    for scale in (1e-170, 1e154, 1e300):
        result = st.normality_test(x * scale, seed=0)
        assert float(result.pvalue) < 1e-30, scale


# --- backends, inf ---------------------------------------------------------------------------

@pytest.mark.parametrize("null", ["standard", "normal"])
def test_numpy_torch_and_jax_give_the_same_p_in_float64(null):
    x = healthy(n=200, dim=6, seed=9) + 2.0
    expected = st.normality_test(x, null=null, seed=3)
    torch = pytest.importorskip("torch")
    jnp = pytest.importorskip("jax.numpy")
    for array in (torch.asarray(x), jnp.asarray(x, dtype=jnp.float64)):
        result = st.normality_test(array, null=null, seed=3)
        for name, part in expected.components.items():
            np.testing.assert_allclose(np.asarray(result.components[name].pvalue), np.asarray(part.pvalue),
                                       rtol=1e-6, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(float(result.pvalue), float(expected.pvalue), rtol=1e-6)


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
def test_inf_is_treated_like_nan(value):
    x = np.stack([healthy(n=64, dim=4, seed=10), healthy(n=64, dim=4, seed=11)])
    x[1, 7, 2] = value
    for null in ("standard", "normal"):
        result = st.normality_test(x, null=null, seed=0, num_slices=8)
        assert np.isfinite(result.pvalue[0]) and np.isnan(result.pvalue[1])
    with pytest.raises(ValueError, match="NaN or infinite"):
        st.normality_test(x, seed=0, nan_policy="raise")


# --- the composite skewness's null mean ------------------------------------------------------

def test_composite_skewness_mean_is_dagostinos_exact_mean_at_d_1():
    # D = 1: T = N b1 / 6 with E b1 = 6 (n - 2) / ((n + 1)(n + 3)) (D'Agostino & Stephens 1986, eq. 9.2.2)
    for n in (8, 50, 1000):
        mean, _ = moments.null_moments("skewness", "normal", n, 1)
        assert mean == pytest.approx(n * (n - 2) / ((n + 1) * (n + 3)), rel=1e-14)


@pytest.mark.parametrize(("n", "dim"), [(12, 4), (40, 16)])
def test_composite_skewness_mean_matches_simulation(n, dim):
    rng = np.random.default_rng(n + dim)
    draws = rng.standard_normal((4000, n, dim))
    centred = draws - draws.mean(axis=1, keepdims=True)
    factor = np.linalg.cholesky(np.swapaxes(centred, 1, 2) @ centred / n)
    whitened = np.swapaxes(np.linalg.solve(factor, np.swapaxes(centred, 1, 2)), 1, 2)
    values = moments.skewness_statistic(whitened, xp=np, centre=0.0)
    mean, _ = moments.null_moments("skewness", "normal", n, dim)
    assert abs(values.mean() - mean) < 4.0 * values.std() / math.sqrt(len(values))


# --- property tests: every class of unhealthy input gives a finite answer -------------------------

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rank=hst.integers(1, 11), shift=hst.sampled_from([0.0, 1.0, 1e3, -1e4]),
       scale=hst.sampled_from([1e-20, 1e-3, 1.0, 1e3, 1e20]), dtype=hst.sampled_from(["float32", "float64"]),
       null=hst.sampled_from(["standard", "normal"]), seed=hst.integers(0, 2**16))
def test_collapsed_shifted_rescaled_data_gets_p_zero_with_its_rank(rank, shift, scale, dtype, null, seed):
    x = (collapsed(rank, n=120, dim=12, seed=seed, dtype=np.float64) + shift) * scale
    result = st.normality_test(x.astype(dtype), null=null, seed=0, num_slices=16)
    assert float(result.pvalue) == 0.0
    assert int(result.components["rank"].extras["rank"]) == rank
    assert float(result.components["rank"].pvalue) == 0.0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shift=hst.floats(-1e4, 1e4), log_scale=hst.floats(-30, 30), seed=hst.integers(0, 2**16))
def test_composite_null_is_invariant_in_float32(shift, log_scale, seed):
    x = (healthy(n=80, dim=5, seed=seed) + shift) * 10.0**log_scale
    values = x.astype(np.float32)
    result = st.normality_test(values, null="normal", seed=0, num_slices=16)
    reference = st.normality_test(values.astype(np.float64), null="normal", seed=0, num_slices=16)
    assert_finite(result)
    assert abs(float(result.pvalue) - float(reference.pvalue)) < 2e-3


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(row=hst.integers(0, 39), column=hst.integers(0, 4), value=hst.sampled_from([np.inf, -np.inf, np.nan]),
       null=hst.sampled_from(["standard", "normal"]), library=hst.sampled_from(["numpy", "torch"]))
def test_a_non_finite_value_anywhere_gives_nan_not_an_error(row, column, value, null, library):
    x = healthy(n=40, dim=5, seed=row)
    x[row, column] = value
    if library == "torch":
        torch = pytest.importorskip("torch")
        x = torch.asarray(x)
    result = st.normality_test(x, null=null, seed=0, num_slices=8)
    assert math.isnan(float(result.pvalue))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rank=hst.integers(1, 7), shift=hst.sampled_from([0.0, 100.0]), seed=hst.integers(0, 2**16))
def test_bfloat16_collapse_is_found_on_torch(rank, shift, seed):
    torch = pytest.importorskip("torch")
    x = torch.asarray(collapsed(rank, n=64, dim=8, seed=seed, dtype=np.float64) + shift).to(torch.bfloat16)
    result = st.normality_test(x, null="normal", seed=0, num_slices=8)
    assert float(result.pvalue) == 0.0
    assert int(result.components["rank"].extras["rank"]) <= rank
