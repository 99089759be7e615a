"""Properties every univariate test must have, checked with hypothesis.

* the statistic does not depend on the order of the samples;
* for composite nulls (and the Shapiro tests) it does not depend on location
  and scale: ``x -> a x + b`` with ``a > 0`` leaves statistic and p-value alone;
* p-values lie in [0, 1], on Gaussian and on far-from-Gaussian data.

Samples come from a seeded NumPy Generator (hypothesis draws the seed, size,
distribution and transform), so every example is well defined and repeatable.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support import UNIVARIATE_CASES

PROPERTY_SETTINGS = settings(max_examples=15, deadline=None, derandomize=True)

DISTRIBUTIONS = {
    "normal": lambda rng, n: rng.standard_normal(n),
    "shifted_normal": lambda rng, n: 3.0 + 0.5 * rng.standard_normal(n),
    "uniform": lambda rng, n: rng.uniform(-2.0, 2.0, n),
    "exponential": lambda rng, n: rng.exponential(1.0, n),
    "student_t2": lambda rng, n: rng.standard_t(2.0, n),
    "rounded_normal": lambda rng, n: np.round(rng.standard_normal(n), 1),  # ties
    "bimodal": lambda rng, n: rng.standard_normal(n) + 4.0 * rng.integers(0, 2, n),
}


@st.composite
def samples(draw, min_samples):
    """A 1-D float64 sample of size in [max(min_samples, 5), 80] from one of DISTRIBUTIONS."""
    n = draw(st.integers(max(min_samples, 5), 80))
    name = draw(st.sampled_from(sorted(DISTRIBUTIONS)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    values = DISTRIBUTIONS[name](rng, n)
    if np.ptp(values) == 0:  # all tied: no test is defined there
        values = values + np.arange(n)
    return values


def assert_same_result(result, expected, rtol):
    np.testing.assert_allclose(result.statistic, expected.statistic, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(result.pvalue, expected.pvalue, rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("case", UNIVARIATE_CASES, ids=repr)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_statistic_is_permutation_invariant(case, data):
    values = data.draw(samples(case.min_samples))
    order = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).permutation(values.size)
    assert_same_result(case(values[order]), case(values), rtol=1e-9)


@pytest.mark.parametrize("case", [c for c in UNIVARIATE_CASES if c.affine_invariant], ids=repr)
@PROPERTY_SETTINGS
@given(data=st.data(), scale=st.floats(1e-2, 1e2), shift=st.floats(-100.0, 100.0))
def test_composite_tests_are_affine_invariant(case, data, scale, shift):
    values = data.draw(samples(case.min_samples))
    assert_same_result(case(scale * values + shift), case(values), rtol=1e-7)


@pytest.mark.parametrize("case", UNIVARIATE_CASES, ids=repr)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_pvalues_lie_in_the_unit_interval(case, data):
    values = data.draw(samples(case.min_samples))
    result = case(values)
    assert np.isfinite(result.statistic)
    assert 0.0 <= float(result.pvalue) <= 1.0, f"p-value {float(result.pvalue)}"


@pytest.mark.parametrize("case", UNIVARIATE_CASES, ids=repr)
def test_pvalues_of_extreme_data_lie_in_the_unit_interval(case):
    rng = np.random.default_rng(8)
    extreme = np.stack([
        rng.standard_normal(200) * 1e-6 + 50.0,  # far from N(0, 1)
        rng.standard_normal(200) * 1e3,  # far too wide
        np.exp(3.0 * rng.standard_normal(200)),  # log-normal
        np.linspace(-1.0, 1.0, 200),  # perfectly regular
        rng.standard_normal(200),
    ], axis=-1)
    result = case(extreme)
    assert np.all(np.isfinite(result.statistic))
    assert np.all((result.pvalue >= 0.0) & (result.pvalue <= 1.0)), result.pvalue
