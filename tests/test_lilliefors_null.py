"""The Lilliefors null (Kolmogorov-Smirnov D, mean and variance estimated) against simulation and R."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as strategies

import sketchtest as st
from sketchtest._nulls.lilliefors import SMALLEST_N, lilliefors_log_sf_table, lilliefors_sf
from sketchtest._nulls.lilliefors_table import MODEL, RAW


def _null_statistics(n: int, replicates: int, seed: int) -> np.ndarray:
    """Sorted D of `replicates` seeded N(0, 1) samples of size n, through the public test."""
    x = np.random.default_rng(seed).standard_normal((n, replicates))
    return np.sort(st.kolmogorov_smirnov(x, null="normal").statistic)


@pytest.mark.parametrize("n", [10, 25, 100])
def test_size_at_1_5_10_percent(n):
    # 40,000 fresh samples (seed 7000 + n): the rejection rate at alpha within four binomial
    # standard errors (0.0020, 0.0044, 0.0060); the Dallal-Wilkinson null was within these too,
    # the test guards the body and the near tail of the new table at the sizes the docs report
    replicates = 40_000
    x = np.random.default_rng(7000 + n).standard_normal((n, replicates))
    result = st.kolmogorov_smirnov(x, null="normal")
    assert result.method == "finite_n"
    for alpha in (0.01, 0.05, 0.10):
        rate = float(np.mean(result.pvalue <= alpha))
        assert abs(rate - alpha) < 4.0 * np.sqrt(alpha * (1 - alpha) / replicates), (alpha, rate)


@pytest.mark.parametrize("n", [5, 17, 60, 400])
def test_pvalues_match_fresh_simulation_over_the_body(n):
    # P(D_n >= d) at the simulated quantiles 0.9 ... 0.005 of 100,000 fresh samples (seed
    # 9100 + n, independent of the table's seeds [22, n]); binomial tolerance of four standard
    # errors (0.0038 at p = 0.5, 0.0009 at p = 0.005)
    replicates = 100_000 if n < 100 else 25_000
    statistics = _null_statistics(n, replicates, 9100 + n)
    levels = np.array([0.9, 0.75, 0.5, 0.25, 0.1, 0.05, 0.01, 0.005])
    probes = statistics[np.round(replicates * (1.0 - levels)).astype(int)]
    simulated = 1.0 - np.searchsorted(statistics, probes, side="left") / replicates
    tolerance = 4.0 * np.sqrt(simulated * (1.0 - simulated) / replicates) + 1e-4
    np.testing.assert_array_less(np.abs(lilliefors_sf(probes, n, xp=np) - simulated), tolerance)


#: (n, D, P(D_n >= D)) from the independent check sample of
#: ``python benchmarks/lilliefors_null.py simulate check 0 1 benchmarks/data/lilliefors_check.npz``
#: (default_rng(SeedSequence([2022, n])), 4e6 samples at n = 7, 10, 1e6 at n = 100), read at its
#: nodes sqrt(n) D = 0.002 j nearest to p = 1e-2, 1e-3, 1e-4, 3e-5 (the exceedance count in the comment)
TAIL_REFERENCE = [
    (7, 0.3507510309525629, 0.01003775),  # 40151
    (7, 0.40139827033579933, 0.00099225),  # 3969
    (7, 0.4384387886907035, 0.00010225),  # 409
    (7, 0.4535573676110726, 2.975e-05),  # 119
    (10, 0.3035786553761644, 0.01002275),  # 40091
    (10, 0.35101282027869013, 0.00098625),  # 3945
    (10, 0.3889601522007106, 9.875e-05),  # 395
    (10, 0.4066689070976536, 3.05e-05),  # 122
    (100, 0.1038, 0.009898),  # 9898
    (100, 0.1214, 0.000999),  # 999
    (100, 0.137, 0.0001),  # 100
]


@pytest.mark.parametrize("n, d, simulated", TAIL_REFERENCE)
def test_tail_matches_independent_simulation(n, d, simulated):
    # relative tolerance: four binomial standard errors of the check sample
    replicates = 4e6 if n <= 10 else 1e6
    tolerance = 4.0 / np.sqrt(simulated * replicates)
    assert abs(float(lilliefors_sf(np.asarray(d), n, xp=np)) / simulated - 1.0) < tolerance


#: R 4.2.2, nortest 1.0.4: ``lillie.test(x)$p.value`` for
#: ``x = z + 0.08 k z^2``, ``z = numpy.random.default_rng(1000 n + k).standard_normal(n)``
#: (benchmarks/lilliefors_reference.py); kept only where R agrees with a direct simulation of
#: 2e6 samples there within the tolerance below (R uses Dallal-Wilkinson too)
R_REFERENCE = [
    # (n, k, R's p-value, tolerance: four standard errors of that simulation); simulation
    # P(D_n >= D) with 1e6 samples (default_rng(SeedSequence([4242, n]))) in the comment
    (20, 5, 0.003505981754002705, 2.4e-4),  # sim 0.003466 +- 6e-5
    (100, 2, 0.009559735676103132, 4e-4),  # sim 0.009579 +- 1e-4
    (100, 3, 0.029704201307155353, 8e-4),  # sim 0.029914 +- 2e-4
    (500, 1, 0.0013644126938685342, 1.6e-4),  # sim 0.001383 +- 4e-5
    (500, 2, 0.0023284075956557133, 2e-4),  # sim 0.002289 +- 5e-5
]
#: where R disagrees with the same simulation (nortest's body, Stephens' quartics): its p, and
#: the simulated value the package must match instead (four standard errors)
R_DISAGREES = [
    (20, 1, 0.5481762243247736, 0.536429, 2e-3),  # R off by 0.0117
    (50, 2, 0.4662082030621386, 0.455939, 2e-3),  # R off by 0.0103
    (50, 4, 0.01886864693614919, 0.018276, 4e-4),  # R off by 6e-4
    (500, 0, 0.8553157911097666, 0.875955, 1.2e-3),  # R off by 0.0206
]


@pytest.mark.parametrize("n, k, r_pvalue, tolerance", R_REFERENCE)
def test_agrees_with_r_where_r_agrees_with_simulation(n, k, r_pvalue, tolerance):
    z = np.random.default_rng(1000 * n + k).standard_normal(n)
    result = st.kolmogorov_smirnov(z + 0.08 * k * z * z, null="normal")
    assert abs(float(result.pvalue) - r_pvalue) < tolerance


@pytest.mark.parametrize("n, k, r_pvalue, simulated, tolerance", R_DISAGREES)
def test_follows_simulation_where_r_does_not(n, k, r_pvalue, simulated, tolerance):
    z = np.random.default_rng(1000 * n + k).standard_normal(n)
    pvalue = float(st.kolmogorov_smirnov(z + 0.08 * k * z * z, null="normal").pvalue)
    assert abs(pvalue - simulated) < tolerance
    assert abs(r_pvalue - simulated) > tolerance  # the recorded R value is outside: a real difference


@pytest.mark.parametrize("n", [4, 9, 16, 17, 50, 1000, 20000])
def test_float32_statistic_gives_the_float64_pvalue(n):
    d = np.linspace(0.0, 2.5, 2001) / np.sqrt(n)
    p64 = lilliefors_sf(d, n, xp=np)
    p32 = lilliefors_sf(d.astype(np.float32), n, xp=np)
    assert p32.dtype == np.float32
    resolved = p64 > 1e-30
    # float32 rounds s = sqrt(n) D by 6e-8 relative; log p moves by |d log p / ds| s 6e-8 < 1e-5
    np.testing.assert_allclose(p32[resolved], p64[resolved], rtol=2e-4, atol=1e-7)


def test_float32_sample_gives_the_float64_pvalue():
    x = np.random.default_rng(3).standard_normal((64, 40)) * np.linspace(1.0, 1.6, 40)
    x = x + 0.3 * x**2 * np.linspace(0.0, 1.0, 40)
    p64 = st.kolmogorov_smirnov(x, null="normal").pvalue
    p32 = st.kolmogorov_smirnov(x.astype(np.float32), null="normal").pvalue
    assert p32.dtype == np.float32
    np.testing.assert_allclose(p32, p64, rtol=2e-3, atol=2e-6)


@settings(max_examples=60, deadline=None)
@given(n=strategies.integers(SMALLEST_N, 100_000),
       d=strategies.lists(strategies.floats(0.0, 1.0), min_size=2, max_size=20))
def test_pvalue_is_monotone_and_in_the_unit_interval(n, d):
    statistics = np.sort(np.asarray(d))
    for dtype in (np.float64, np.float32):
        p = lilliefors_sf(statistics.astype(dtype), n, xp=np)
        assert np.all((p >= 0.0) & (p <= 1.0))
        assert np.all(np.diff(p) <= 0.0)


def test_model_meets_the_simulated_table_at_n_16():
    # n <= 16 read their own simulated tables; the model for n >= 17 was fitted without them,
    # so evaluated at n = 16 it is an independent estimate of the same law (measured: 7.6e-4)
    start, coefficients = MODEL
    first, values = RAW[16]
    simulated = np.exp(np.concatenate([np.zeros(first), values]))
    model = np.concatenate([np.zeros(start), sum(np.asarray(c) * 16 ** (-k / 2) for k, c in enumerate(coefficients))])
    common = min(simulated.size, model.size)
    np.testing.assert_allclose(np.exp(np.minimum(model[:common], 0.0)), simulated[:common], atol=1.5e-3)


def test_nan_statistic_gives_nan_and_small_n_is_refused():
    p = lilliefors_sf(np.asarray([np.nan, 0.1]), 30, xp=np)
    assert np.isnan(p[0]) and 0.0 < p[1] < 1.0
    with pytest.raises(ValueError, match="n = 4"):
        lilliefors_log_sf_table(3)
    assert np.all(np.isnan(lilliefors_sf(np.asarray([0.1, 0.3]), 3, xp=np)))


def test_tiny_samples_are_simulated():
    # below n = 4 there is no table: the default simulates the null at that n
    result = st.kolmogorov_smirnov(np.array([0.1, -0.4, 1.3]), null="normal", seed=0)
    assert result.method == "monte_carlo"
    assert result.pvalue > 0.05


def test_a_first_call_under_jax_jit_leaves_no_tracer_in_the_device_table():
    jax = pytest.importorskip("jax")
    from sketchtest._nulls import lilliefors as lilliefors_module
    lilliefors_module._DEVICE_TABLES.clear()
    x = jax.numpy.asarray(np.random.default_rng(5).standard_normal(23))
    traced = jax.jit(lambda values: st.kolmogorov_smirnov(values, null="normal").pvalue)(x)
    again = jax.jit(lambda values: st.kolmogorov_smirnov(values, null="normal").pvalue)(x * x)
    eager = st.kolmogorov_smirnov(np.asarray(x * x), null="normal").pvalue
    np.testing.assert_allclose(np.asarray(again), eager, rtol=1e-5)
    assert 0.0 < float(traced) <= 1.0
