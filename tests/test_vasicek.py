"""vasicek: Vasicek's (1976) sample-entropy test of normality.

The entropy estimate is checked against ``scipy.stats.differential_entropy``
(``method="vasicek"``, same window) and a hand-computed closed form; the
p-values by their rejection rates under H0 over many seeded replicates
(within a binomial tolerance) and against an independent simulation of the
null written here from the formula. Vasicek's Table 1 (0.05 points of
:math:`K_{mn}`) could not be retrieved while writing these tests; the 0.05
points of the tabulated null are printed by ``test_critical_values`` for
comparison with it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

import sketchtest as st
from sketchtest._univariate.entropy import MAX_ENTROPY_RATIO, TABLE_RESAMPLES, default_window, tabulated_null

BINOMIAL_SIGMAS = 4.0


def _binomial_tolerance(rate: float, replicates: int) -> float:
    return BINOMIAL_SIGMAS * math.sqrt(rate * (1.0 - rate) / replicates)


def _reference_statistic(column: np.ndarray, window: int, null: str) -> float:
    """K from the formula, one sample at a time (independent of the library's padding)."""
    n = column.size
    ordered = np.sort(column)
    spacings = [ordered[min(i + window, n - 1)] - ordered[max(i - window, 0)] for i in range(n)]
    entropy = np.mean(np.log(n / (2.0 * window) * np.asarray(spacings)))
    if null == "normal":
        return math.exp(entropy) / np.std(column)  # ddof=0
    return math.exp(entropy + 0.5 * (1.0 - np.mean(column**2)))


@pytest.mark.parametrize("n, window", [(10, 1), (10, 3), (50, None), (200, 7), (1000, None)])
def test_entropy_equals_scipy(n, window):
    x = np.random.default_rng(n).standard_normal((n, 3)) * 2.0 + 1.0
    m = default_window(n) if window is None else window
    entropy = scipy.stats.differential_entropy(x, window_length=m, method="vasicek", axis=0)  # SciPy's Vasicek
    result = st.vasicek(x, window=window)
    np.testing.assert_allclose(result.statistic, np.exp(entropy) / np.std(x, axis=0), rtol=1e-12)
    standard = st.vasicek(x, window=window, null="standard")
    expected = np.exp(entropy + 0.5 * (1.0 - np.mean(x**2, axis=0)))
    np.testing.assert_allclose(standard.statistic, expected, rtol=1e-12)


def test_closed_form_for_four_equally_spaced_points():
    # x = 0, 1, 2, 3 with m = 1: spacings 1, 2, 2, 1, H = (1/4) sum log(2 d) = (3/2) log 2,
    # s^2 = 5/4, so K = 2^{3/2} / sqrt(5/4) = sqrt(6.4); mean(x^2) = 7/2 gives 2^{3/2} e^{-5/4}.
    x = np.arange(4.0)
    assert st.vasicek(x).statistic == pytest.approx(math.sqrt(6.4), rel=1e-14)
    assert st.vasicek(x, null="standard").statistic == pytest.approx(2.0**1.5 * math.exp(-1.25), rel=1e-14)


def test_default_window():
    # floor(sqrt(n) + 1/2) (scipy.stats.differential_entropy), kept below n/2
    assert [default_window(n) for n in (3, 4, 5, 9, 10, 20, 50, 100, 10_000)] == [1, 1, 2, 3, 3, 4, 7, 10, 100]


@pytest.mark.parametrize("null", ["normal", "standard"])
@pytest.mark.parametrize("n", [10, 30, 100])
def test_size_of_the_tabulated_null(n, null):
    """4000 seeded N(0, 1) samples: rejection rates at 0.05 and 0.01 within 4 binomial sigmas."""
    replicates = 4000
    x = np.random.default_rng(1000 + n).standard_normal((n, replicates))
    pvalue = np.asarray(st.vasicek(x, null=null).pvalue)
    for alpha in (0.05, 0.01):
        assert abs(np.mean(pvalue <= alpha) - alpha) <= _binomial_tolerance(alpha, replicates)
    assert pvalue.min() >= 1.0 / (TABLE_RESAMPLES + 1)


def test_size_of_the_monte_carlo_null(backend):
    replicates, n = 1000, 25
    dtype_name = "float64" if backend.float64 else "float32"
    x = backend.asarray(np.random.default_rng(5).standard_normal((replicates, n)), dtype_name)
    result = st.vasicek(x, axis=-1, method="monte_carlo", n_resamples=999, seed=3)
    pvalue = backend.to_numpy(result.pvalue)
    assert result.method == "monte_carlo"
    assert abs(np.mean(pvalue <= 0.05) - 0.05) <= _binomial_tolerance(0.05, replicates)


@pytest.mark.parametrize("n", [10, 20, 50])
def test_critical_values(n, capsys):
    """The table's 0.05 point holds for an independent simulation from the formula (2000 samples)."""
    replicates, window = 2000, 3
    critical = np.quantile(tabulated_null(n, window, "normal"), 0.05)
    draws = np.random.default_rng(77).standard_normal((replicates, n))
    independent = np.asarray([_reference_statistic(row, window, "normal") for row in draws])
    assert abs(np.mean(independent <= critical) - 0.05) <= _binomial_tolerance(0.05, replicates)
    assert critical < MAX_ENTROPY_RATIO
    with capsys.disabled():
        print(f"\nVasicek K_(n={n}, m={window}) 0.05 point: {critical:.3f}")


@pytest.mark.parametrize("alternative, power", [("uniform", 0.85), ("exponential", 0.95), ("beta22", 0.25)])
def test_power(alternative, power):
    """n = 50, 400 samples: measured 0.95 (uniform), 1.00 (exponential), 0.40 (Beta(2, 2)) at alpha = 0.05."""
    rng = np.random.default_rng(11)
    draws = {"uniform": rng.uniform(size=(50, 400)), "exponential": rng.exponential(size=(50, 400)),
             "beta22": rng.beta(2.0, 2.0, size=(50, 400))}[alternative]
    assert np.mean(np.asarray(st.vasicek(draws).pvalue) <= 0.05) >= power


def test_standard_null_rejects_a_wrong_mean_or_scale():
    x = np.random.default_rng(2).standard_normal((200, 3)) * np.asarray([1.0, 2.0, 1.0]) + np.asarray([0.0, 0.0, 1.0])
    pvalue = np.asarray(st.vasicek(x, null="standard").pvalue)
    assert pvalue[0] > 0.01 and pvalue[1] < 1e-3 and pvalue[2] < 1e-3
    assert np.all(np.asarray(st.vasicek(x).pvalue) > 0.01)  # the composite null accepts all three


def test_float32_statistic_and_pvalue():
    x = np.random.default_rng(4).standard_normal((300, 6)).astype(np.float32)
    x[:, 3:] = np.exp(x[:, 3:])  # lognormal columns: p at the table's floor
    single, double = st.vasicek(x), st.vasicek(x.astype(np.float64))
    assert single.statistic.dtype == np.float32 and single.pvalue.dtype == np.float32
    np.testing.assert_allclose(single.statistic, double.statistic, rtol=1e-5)
    np.testing.assert_allclose(single.pvalue, double.pvalue, atol=2.0 / (TABLE_RESAMPLES + 1))
    assert np.all(single.pvalue[3:] == np.float32(1.0 / (TABLE_RESAMPLES + 1)))


@pytest.mark.parametrize("method", ["tabulated", "monte_carlo"])
def test_degenerate_and_missing_samples_give_nan(method):
    x = np.random.default_rng(6).standard_normal((30, 4))
    x[:, 1] = 2.5
    x[3, 2] = np.nan
    x[0, 3] = np.inf
    with np.errstate(invalid="ignore"):
        result = st.vasicek(x, method=method, n_resamples=99, seed=0)
    assert np.isfinite(result.pvalue[0])
    assert np.all(np.isnan(result.statistic[1:])) and np.all(np.isnan(result.pvalue[1:]))


def test_ties_give_the_smallest_statistic():
    x = np.repeat(np.arange(5.0), 6)  # atoms: every spacing of width m = 5 within an atom is 0
    with np.errstate(divide="ignore"):  # log 0 = -inf on purpose
        result = st.vasicek(x, window=2)
    assert result.statistic == 0.0 and result.pvalue == pytest.approx(1.0 / (TABLE_RESAMPLES + 1))


@pytest.mark.parametrize("window, error, message", [
    (0, ValueError, "window"), (5, ValueError, "window"), (1.5, TypeError, "window"),
    (True, TypeError, "window"), ("2", TypeError, "window"),
])
def test_bad_window_is_named_before_any_computation(window, error, message):
    with pytest.raises(error, match=message):
        st.vasicek(np.zeros(10), window=window)  # 2 m < n = 10 fails at m = 5


@pytest.mark.parametrize("options, word", [({"method": "asymptotic"}, "method"), ({"null": "uniform"}, "null")])
def test_bad_options_are_named(options, word):
    with pytest.raises(ValueError, match=word):
        st.vasicek(np.zeros(10), **options)


def test_omit_drops_nans_and_keeps_the_window_valid():
    x = np.random.default_rng(8).standard_normal((12, 2))
    x[:8, 1] = np.nan  # 4 samples left: below 2 m + 1 for m = 2
    result = st.vasicek(x, window=2, nan_policy="omit")
    assert np.isfinite(result.pvalue[0]) and np.isnan(result.pvalue[1])


def test_jit_and_compile_use_the_table():
    x = np.random.default_rng(9).standard_normal((40, 3))
    expected = st.vasicek(x)
    jax = pytest.importorskip("jax")
    jitted = jax.jit(lambda values: tuple(st.vasicek(values)))(jax.numpy.asarray(x))
    np.testing.assert_allclose(np.asarray(jitted[0]), expected.statistic, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(jitted[1]), expected.pvalue, atol=2.0 / (TABLE_RESAMPLES + 1))
    torch = pytest.importorskip("torch")
    compiled = torch.compile(lambda values: tuple(st.vasicek(values, null="standard")), fullgraph=True,
                             backend="aot_eager")
    result = compiled(torch.asarray(x))
    np.testing.assert_allclose(result[1].numpy(), st.vasicek(x, null="standard").pvalue, rtol=1e-12)


@pytest.mark.parametrize("null", ["normal", "standard"])
def test_statistic_is_differentiable(null):
    torch = pytest.importorskip("torch")
    x = torch.asarray(np.random.default_rng(10).standard_normal((30, 2)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda values: st.vasicek(values, null=null).statistic, (x,))
