"""The simple-null (N(0, 1)) Cramér-von Mises and Anderson-Darling laws: body and far tail.

References (mpmath, independent of the tables, which come from Smirnov's series):

- Cramér-von Mises limit, Anderson & Darling (1952) Bessel series, 80 digits::

      import mpmath as mp
      mp.mp.dps = 80
      def cvm_cdf(x, terms=200):
          x = mp.mpf(x); total = mp.mpf(0)
          for k in range(terms):
              z = (4*k + 1)**2 / (16*x)
              total += (mp.gamma(k + mp.mpf(1)/2) / mp.gamma(k + 1) * mp.sqrt(4*k + 1)
                        * mp.exp(-z) * mp.besselk(mp.mpf(1)/4, z))
          return total / (mp.pi**mp.mpf(1.5) * mp.sqrt(x))
      1 - cvm_cdf(x)

- Anderson-Darling limit, Anderson & Darling (1954) series at 60 digits: the
  ``ad_cdf`` of ``tests/test_anderson_darling_accuracy.py``, ``1 - ad_cdf(z)``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtri

import sketchtest as st
from sketchtest._nulls import edf as nulls

CVM_LIMIT_SF = {
    0.3: 0.13517126880510579738,
    1.0: 0.0024604521801339638697,
    2.0: 0.000012780736172781673316,
    3.0: 7.5677434593160198534e-8,
    4.47: 4.4105173304556300821e-11,
    5.0: 3.0539290331033875269e-12,
    5.673: 1.0367518440296483313e-13,
    6.5: 1.637913858551731346e-15,
    8.0: 9.0197562599277261694e-19,
    12.0: 1.9751211641729368575e-27,
    15.0: 6.5781520051069052014e-34,
}

AD_LIMIT_SF_BODY = {
    0.08: 0.99999856671593008092,
    0.1: 0.99997192189487363703,
    0.12: 0.99979920003595582397,
    0.15: 0.99859144336765601027,
    0.2: 0.99041254724979411734,
    0.25: 0.97039332747837472502,
    0.31: 0.9304607511331642151,
}


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-8), (np.float32, 1e-5)])
def test_cvm_limit_matches_mpmath_into_the_far_tail(dtype, rtol):
    statistic = np.asarray(list(CVM_LIMIT_SF), dtype=dtype)
    pvalue = nulls.cvm_limit_sf(statistic, xp=np)
    assert pvalue.dtype == dtype
    np.testing.assert_allclose(pvalue, list(CVM_LIMIT_SF.values()), rtol=rtol)


def test_cvm_standard_far_tail_is_the_limit_law_not_noise():
    """The issue's case: W^2 = 5.673 at n = 20 gave p = 5.1e-10; the limit law says 1.04e-13."""
    normal_scores = ndtri((2.0 * np.arange(1, 21) - 1.0) / 40.0)
    result = st.cramer_von_mises(normal_scores + 2.6, null="standard")
    np.testing.assert_allclose(result.statistic, 5.672887386286688, rtol=1e-12)
    asymptotic = st.cramer_von_mises(normal_scores + 2.6, null="standard", method="asymptotic")
    # mpmath (module docstring): 1 - cvm_cdf(5.672887386286688) = 1.0373382440992762e-13
    np.testing.assert_allclose(asymptotic.pvalue, 1.0373382440992762e-13, rtol=1e-8)
    # at n = 20 the finite-n factor held from W^2 = 2 on (Csorgo & Faraway's 1 - F_n over
    # 1 - V there) is 0.27: the finite-n p lies below the limit law's, as the exact law's
    # support ends at n/3 = 6.67
    assert 1e-14 < result.pvalue < asymptotic.pvalue


@pytest.mark.parametrize("n", [5, 20, 200])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cvm_standard_pvalue_is_monotone_and_continuous(n, dtype):
    statistic = np.linspace(1e-4, min(n / 3.0, 20.0) - 1e-3, 40001).astype(dtype)
    pvalue = nulls.cvm_standard_sf(statistic, n, xp=np)
    assert pvalue.dtype == dtype and np.all(pvalue <= 1.0) and np.all(pvalue >= 0.0)
    assert np.all(np.diff(pvalue.astype(np.float64)) <= 0.0)
    assert nulls.cvm_standard_sf(np.asarray([n / 3.0], dtype=dtype), n, xp=np)[0] == 0.0


@pytest.mark.parametrize("n", [10, 50])
def test_cvm_standard_float32_agrees_with_float64_far_into_the_tail(n):
    statistic = np.geomspace(0.05, 15.0, 300)
    double = nulls.cvm_standard_sf(statistic, n, xp=np)
    single = nulls.cvm_standard_sf(statistic.astype(np.float32), n, xp=np)
    assert double[-1] < 1e-32
    np.testing.assert_allclose(single, double, rtol=2e-5)


@pytest.mark.parametrize("dtype, atol", [(np.float64, 1e-9), (np.float32, 2e-7)])
def test_anderson_darling_limit_body_matches_mpmath(dtype, atol):
    """A^2 = 0.12-0.31 was off by 1.0-1.7e-6 (the table's interpolation near p = 1)."""
    statistic = np.asarray(list(AD_LIMIT_SF_BODY), dtype=dtype)
    pvalue = nulls.anderson_darling_limit_sf(statistic, xp=np)
    np.testing.assert_allclose(pvalue, list(AD_LIMIT_SF_BODY.values()), rtol=0, atol=atol)


def test_anderson_darling_asymptotic_example_of_the_issue():
    normal_scores = ndtri((2.0 * np.arange(1, 51) - 1.0) / 100.0)
    result = st.anderson_darling(1.0925 * normal_scores, null="standard", method="asymptotic")
    # mpmath, 60 digits (the module docstring's ad_cdf): 1 - ad_cdf(0.13329819830769307) = 0.99946784...
    np.testing.assert_allclose(result.pvalue, 0.9994678, atol=2e-7)


def test_cvm_standard_on_a_device_without_float64_follows_the_same_tail():
    """One hand-over point for every dtype: the float32-only tail is the float64 one within 5%."""
    import array_api_strict as xs

    device = next(d for d in xs.__array_namespace_info__().devices() if "no_float64" in str(d))
    statistic = np.asarray([0.3, 1.5, 1.99, 3.0, 5.673], dtype=np.float32)
    single = nulls.cvm_standard_sf(xs.asarray(statistic, device=device), 20, xp=xs)
    single = np.asarray(single.to_device(xs.Device("CPU_DEVICE"))).astype(np.float64)
    double = nulls.cvm_standard_sf(statistic.astype(np.float64), 20, xp=np)
    np.testing.assert_allclose(single, double, rtol=0.05)  # measured: 3.5% at most (the float32 series)
