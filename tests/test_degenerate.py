"""Composite-null tests are scale-invariant over the float range; degenerate samples give NaN.

Every test with ``null="normal"`` (H0: N(mu, sigma^2), both estimated) is
invariant under ``x -> c x + m``, so its p-value must not move when the data
are rescaled anywhere in the dtype's range (float64: ``1e-300 <= c <= 1e300``;
float32: ``1e-30 <= c <= 1e30``). A constant sample (any value, zero and
subnormals included) and one whose spread is the rounding of its mean have
no defined standardization: statistic and p-value are NaN, never a confident
number. Properties, over every backend and the float dtypes it offers.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from support import UNIVARIATE_CASES, rtol_for

COMPOSITE_CASES = [case for case in UNIVARIATE_CASES if case.affine_invariant]
N_SAMPLES = 40  # above every "auto" Monte Carlo threshold of the analytic paths used here
PROPERTY = settings(max_examples=8, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
EXPONENT_RANGE = {"float64": 300, "float32": 30}


def test_every_composite_test_is_covered():
    names = {case.name for case in COMPOSITE_CASES}
    assert names == {"cramer_von_mises", "anderson_darling", "watson", "kolmogorov_smirnov", "epps_pulley",
                     "jarque_bera", "dagostino_pearson", "shapiro_wilk", "shapiro_francia",
                     "skewness_test", "kurtosis_test", "vasicek"}


@pytest.fixture(params=COMPOSITE_CASES, ids=repr)
def case(request):
    return request.param


@pytest.fixture(params=["float64", "float32"])
def float_name(request, backend):
    if request.param == "float64" and not backend.float64:
        pytest.skip(f"{backend.name} has no float64")
    return request.param


def _pvalues(backend, case, data, dtype_name):
    result = case(backend.asarray(data, dtype_name), method="asymptotic") if case.name in (
        "epps_pulley", "jarque_bera") else case(backend.asarray(data, dtype_name))
    return backend.to_numpy(result.statistic), backend.to_numpy(result.pvalue)


@PROPERTY
@given(exponent=st.floats(-1.0, 1.0), shift=st.floats(-5.0, 5.0), negative=st.booleans())
@example(exponent=154.0 / 300.0, shift=0.0, negative=False)  # the scales of the report
@example(exponent=-1.0, shift=1.0, negative=False)
def test_pvalue_is_invariant_under_rescaling(backend, case, float_name, exponent, shift, negative):
    scale = (-1.0 if negative else 1.0) * 10.0 ** (exponent * EXPONENT_RANGE[float_name])
    sample = np.random.default_rng(5).standard_normal((N_SAMPLES, 2))
    _, reference = _pvalues(backend, case, sample, float_name)
    rescaled = scale * sample + scale * shift  # every test here is also invariant under x -> -x
    assert np.all(np.isfinite(rescaled.astype(float_name)))
    _, pvalue = _pvalues(backend, case, rescaled, float_name)
    # the shift is rounded in float_name: one relative rounding of |shift| / sd in each sample
    tolerance = rtol_for(float_name) * (1.0 + abs(shift))
    np.testing.assert_allclose(pvalue, reference, rtol=tolerance, atol=tolerance * 1e-2,
                               err_msg=f"scale {scale:.3g}, shift {shift:.3g}")


@PROPERTY
@given(value=st.floats(allow_nan=False, allow_infinity=False, width=32)
       | st.sampled_from([0.0, -0.0, 5e-324, 1e-279, 1e300, -1.7e308]))
def test_constant_samples_give_nan(backend, case, float_name, value):
    if float_name == "float32":
        value = float(np.float32(value)) if abs(value) < 3e38 else 1.0
    statistic, pvalue = _pvalues(backend, case, np.full((N_SAMPLES, 2), value), float_name)
    assert np.all(np.isnan(statistic)) and np.all(np.isnan(pvalue)), (value, statistic, pvalue)


@PROPERTY
@given(center=st.floats(1e-30, 1e30) | st.floats(-1e30, -1e-30), ulps=st.integers(1, 3))
def test_samples_spread_only_by_rounding_give_nan(backend, case, float_name, center, ulps):
    """A few ulps around one value: the spread is rounding of the mean, not data."""
    dtype = np.dtype(float_name)
    steps = np.random.default_rng(7).integers(-ulps, ulps + 1, size=(N_SAMPLES, 2))
    values = np.asarray(center, dtype=dtype) + steps * np.spacing(np.asarray(center, dtype=dtype))
    statistic, pvalue = _pvalues(backend, case, values.astype(np.float64), float_name)
    assert np.all(np.isnan(statistic)) and np.all(np.isnan(pvalue)), (center, statistic, pvalue)


def test_a_sample_with_one_distinct_value_is_not_degenerate():
    """One outlier among equal values is a valid sample: the test rejects, it does not go NaN."""
    import sketchtest

    sample = np.zeros(50)
    sample[7] = 1e300
    result = sketchtest.anderson_darling(sample, null="normal")
    assert np.isfinite(result.statistic) and result.pvalue < 1e-6
