"""A NaN statistic has a NaN Monte Carlo p-value, on every path that simulates.

``searchsorted`` ranks NaN beyond every simulated value, so the p-value of a
NaN statistic used to be a confident ``1 / (1 + B)``. Infinite samples give
NaN statistics under the composite null (``inf - inf``), and under
``nan_policy="raise"`` they raise.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hyp

import sketchtest as st
from sketchtest._nulls.montecarlo import monte_carlo_pvalue
from support import UNIVARIATE_CASES

_METHODS_OF = {name: ("monte_carlo",) for name in ("dagostino_pearson", "skewness_test", "kurtosis_test")}  # no "auto"


def _columns(n: int) -> np.ndarray:
    """Four samples of size n: clean, one +inf, +inf and -inf, one NaN."""
    x = np.random.default_rng(3).standard_normal((n, 4))
    x[0, 1] = np.inf
    x[0, 2], x[1, 2] = np.inf, -np.inf
    x[2, 3] = np.nan
    return x


@pytest.mark.parametrize("method", ["monte_carlo", "auto"])
@pytest.mark.parametrize("case", UNIVARIATE_CASES, ids=repr)
def test_nan_statistic_never_gets_a_confident_pvalue(case, method, backend):
    if method not in _METHODS_OF.get(case.name, ("monte_carlo", "auto")):
        pytest.skip(f"{case.name} has no method={method!r}")
    n = 12  # small: "auto" simulates here for most tests
    x = backend.asarray(_columns(n))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        result = case(x, method=method, n_resamples=19, seed=0)
    statistic, pvalue = backend.to_numpy(result.statistic), backend.to_numpy(result.pvalue)
    assert np.isnan(statistic[3])  # the NaN column: not vacuous
    assert np.all(np.isnan(pvalue[np.isnan(statistic)])), (statistic, pvalue)
    assert 0.0 < pvalue[0] <= 1.0


@pytest.mark.parametrize("case", UNIVARIATE_CASES, ids=repr)
def test_infinite_samples_raise_under_nan_policy_raise(case, backend):
    x = backend.asarray(_columns(12)[:, 1])  # one +inf, no NaN
    with pytest.raises(ValueError, match="infinite"):
        case(x, nan_policy="raise")


@pytest.mark.parametrize("aggregate", ["mean", "max"])
def test_sliced_mean_and_max_aggregates_of_nan_statistics_are_nan(aggregate, backend):
    x = np.random.default_rng(4).standard_normal((40, 3))
    x[5, 1] = np.inf  # every slice sees it: cos(inf) is NaN
    with np.errstate(invalid="ignore"):
        result = st.sliced_test(backend.asarray(x), num_slices=4, seed=0, aggregate=aggregate, n_resamples=19)
    assert np.isnan(backend.to_numpy(result.statistic))
    assert np.isnan(backend.to_numpy(result.pvalue))


def _toy_compute(draws, *, xp):
    statistic = xp.mean(draws, axis=-1)
    return statistic, statistic


@settings(max_examples=40, deadline=None, derandomize=True)
@given(hyp.lists(hyp.one_of(hyp.floats(-3.0, 3.0), hyp.just(float("nan")),
                            hyp.sampled_from([float("inf"), float("-inf")])), min_size=1, max_size=12),
       hyp.booleans())
def test_monte_carlo_pvalue_is_nan_exactly_where_the_statistic_is(values, larger_is_extreme):
    statistic = np.asarray(values)
    pvalue = monte_carlo_pvalue(statistic, _toy_compute, xp=np, n=5, n_resamples=99, seed=1,
                                key=("toy-nan",), larger_is_extreme=larger_is_extreme)
    assert np.array_equal(np.isnan(pvalue), np.isnan(statistic))
    finite = ~np.isnan(statistic)
    assert np.all((pvalue[finite] >= 1.0 / 100.0) & (pvalue[finite] <= 1.0))
    # +inf is the most extreme value there is on the upper side, -inf on the lower
    most_extreme = np.inf if larger_is_extreme else -np.inf
    assert np.all(pvalue[statistic == most_extreme] == 1.0 / 100.0)


@pytest.mark.parametrize("name", ["bhep", "henze_zirkler"])
def test_multivariate_monte_carlo_never_gives_a_confident_pvalue_to_infinite_data(name):
    x = np.random.default_rng(5).standard_normal((50, 3))
    x[3, 1] = np.inf
    try:
        with np.errstate(invalid="ignore", over="ignore"):
            result = getattr(st, name)(x, method="monte_carlo", n_resamples=19, seed=0)
    except ValueError as error:  # refusing the input is fine, if it names it
        assert "`x`" in str(error)
        return
    assert np.isnan(float(result.pvalue))
