"""Accuracy of the EDF limit laws (chi-square mixtures) far into the tail, in float64 and float32.

References:

- the Anderson-Darling limit law under the simple null, from the series of
  Anderson & Darling (1954) in mpmath (60 digits)::

      import mpmath as mp
      mp.mp.dps = 60
      def ad_cdf(z):
          z = mp.mpf(z); total = mp.mpf(0)
          for j in range(60):
              a = (4*j + 1)**2 * mp.pi**2 / (8*z)
              integral = mp.quad(lambda w: mp.exp(z/(8*(w*w + 1)) - a*w*w), [0, 1, 5, mp.inf])
              total += mp.binomial(mp.mpf(-0.5), j) * (4*j + 1) * mp.exp(-a) * integral
          return mp.sqrt(2*mp.pi) / z * total
      1 - ad_cdf(z)

- the composite (estimated mean and variance) limit laws: the asymptotic
  percentage points of D'Agostino & Stephens (1986, Table 4.7), given to 3
  digits.
"""

from __future__ import annotations

import numpy as np
import pytest

from sketchtest._nulls import edf_limit_laws as laws
from sketchtest._nulls import edf as nulls
from sketchtest._nulls.ecf import mixture_log_sf
from sketchtest._nulls.edf_limit_tables import COMPOSITE_EIGENVALUES, LIMIT_TABLES

# A^2 -> P(A^2_inf > A^2), mpmath (see the module docstring)
AD_LIMIT_SF = {
    0.5: 0.74681437353034448443,
    1.0: 0.35726667321401908601,
    1.933: 0.099994623208223505225,
    2.492: 0.050022186359607865726,
    3.857: 0.010241153229861212479,
    5.0: 0.0028744213045860723894,
    8.0: 0.00011381415572658300756,
    10.0: 0.000013815035410685864128,
    15.0: 7.6332231802342022868e-8,
    20.0: 4.4650715383119218281e-10,
    30.0: 1.6595489527783180467e-14,
    43.0: 3.1385640825577407964e-20,
    60.0: 1.1012574530094239326e-27,
}


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-7), (np.float32, 1e-5)])
def test_anderson_darling_limit_matches_mpmath_far_into_the_tail(dtype, rtol):
    statistic = np.asarray(list(AD_LIMIT_SF), dtype=dtype)
    pvalue = nulls.anderson_darling_limit_sf(statistic, xp=np)
    assert pvalue.dtype == dtype
    np.testing.assert_allclose(pvalue, list(AD_LIMIT_SF.values()), rtol=rtol)


def test_anderson_darling_limit_tail_beyond_the_table_keeps_its_shape():
    """Past the last node p follows C x^{-1/2} e^{-x/2}: log p is linear in A^2 with slope -1."""
    statistic = np.asarray([150.0, 151.0, 300.0])
    log_p = np.log(nulls.anderson_darling_limit_sf(statistic, xp=np))
    assert np.all(np.isfinite(log_p))
    np.testing.assert_allclose(log_p[1] - log_p[0], -1.0 - 0.5 * np.log(151.0 / 150.0) * 1.0, rtol=1e-3)
    assert nulls.anderson_darling_limit_sf(np.asarray([900.0], dtype=np.float32), xp=np)[0] == 0.0


@pytest.mark.parametrize("law", laws.STANDARD_LAWS)
def test_stored_standard_tables_match_smirnov_and_the_contour_inversion(law):
    """Nodes of the simple-null tables: recomputed by Smirnov's series, and by the contour inversion."""
    largest, shift, step, residual = LIMIT_TABLES[law]
    nodes = np.asarray([0, 300, 1000, 2400, 4095])
    x = (nodes * step) ** 2
    expected = laws.smirnov_log_sf(x * largest, law) + x / 2.0 + 0.5 * np.log1p(x)
    np.testing.assert_allclose(np.asarray(residual)[nodes], expected, rtol=1e-12, atol=1e-14)
    j = np.arange(1.0, 401.0)
    weights = 1.0 / (j * (j + 1.0)) if law == "anderson_darling_standard" else 1.0 / (j * np.pi) ** 2
    mean = 1.0 if law == "anderson_darling_standard" else 1.0 / 6.0
    contour = mixture_log_sf(x * largest - (mean - weights.sum()), weights)  # the rest as its mean
    np.testing.assert_allclose(np.asarray(residual)[nodes] - x / 2.0 - 0.5 * np.log1p(x), contour,
                               rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("law", laws.COMPOSITE_LAWS)
def test_stored_tables_match_a_fresh_inversion(law):
    """A few nodes of each stored table, recomputed with the contour inversion."""
    largest, shift, step, residual = LIMIT_TABLES[law]
    eigenvalues, trace = COMPOSITE_EIGENVALUES.get(law, (None, None))
    weights, fresh_shift = laws.limit_weights(law, eigenvalues, trace)
    assert (largest, shift) == (weights[0], fresh_shift)
    nodes = np.asarray([0, 40, 130, 300, 511])
    x = (nodes * step) ** 2
    expected = mixture_log_sf(x * largest, weights) + x / 2.0 + 0.5 * np.log1p(x)
    np.testing.assert_allclose(np.asarray(residual)[nodes], expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("law", laws.COMPOSITE_LAWS)
def test_stored_eigenvalues_match_a_coarser_nystrom(law):
    """The first eigenvalues and the trace, recomputed from 200 and 400 nodes."""
    eigenvalues, trace = COMPOSITE_EIGENVALUES[law]
    coarse, coarse_trace = laws.extrapolated_eigenvalues(laws.COMPOSITE_LAWS[law], nodes=200, count=5)
    np.testing.assert_allclose(coarse, eigenvalues[:5], rtol=2e-6)
    np.testing.assert_allclose(coarse_trace, trace, rtol=1e-6)


def _richardson(kind):
    coarse, coarse_trace = laws.operator_eigenvalues(kind, "standard", 200, count=5)
    fine, fine_trace = laws.operator_eigenvalues(kind, "standard", 400, count=5)
    return (4.0 * fine - coarse) / 3.0, (4.0 * fine_trace - coarse_trace) / 3.0


def test_the_nystrom_reproduces_the_known_simple_null_eigenvalues():
    j = np.arange(1.0, 6.0)
    anderson_darling, trace = _richardson("anderson_darling")
    np.testing.assert_allclose(anderson_darling, 1.0 / (j * (j + 1.0)), rtol=1e-6)  # Anderson & Darling (1952)
    np.testing.assert_allclose(trace, 1.0, rtol=1e-10)
    cramer, trace = _richardson("cramer_von_mises")
    np.testing.assert_allclose(cramer, 1.0 / (j * np.pi) ** 2, rtol=1e-6)  # Anderson & Darling (1952)
    np.testing.assert_allclose(trace, 1.0 / 6.0, rtol=1e-10)


# Asymptotic upper 10%, 5%, 2.5% and 1% points with mean and variance estimated (Stephens 1974,
# 1976; D'Agostino & Stephens 1986, Table 4.7, case 3). The A^2 points also agree with 5e5
# simulated samples at n = 100 (5% point 0.745, times 1 + 0.75/n). scipy.stats.anderson lists
# 0.656, 0.787, 0.918, 1.092 instead, which neither this law nor the simulation supports.
COMPOSITE_PERCENTAGE_POINTS = {
    "anderson_darling_normal": {0.10: 0.631, 0.05: 0.752, 0.025: 0.873, 0.01: 1.035},
    "cvm_normal": {0.10: 0.104, 0.05: 0.126, 0.025: 0.148, 0.01: 0.178},
    "watson_normal": {0.10: 0.096, 0.05: 0.117, 0.025: 0.136, 0.01: 0.164},
}


@pytest.mark.parametrize("law", laws.COMPOSITE_LAWS)
def test_composite_limit_laws_match_published_percentage_points(law):
    points = COMPOSITE_PERCENTAGE_POINTS[law]
    pvalue = nulls.mixture_limit_sf(np.asarray(list(points.values())), law, xp=np)
    # 3-digit points: half a unit moves p by up to 2%; Watson's 2.5% point is 0.137 in this law
    # (simulation: 0.1371 at n = 100, 0.1361 at n = 1000), one unit off the table
    np.testing.assert_allclose(pvalue, list(points), rtol=0.035)


@pytest.mark.parametrize("law", laws.LAWS)
def test_float32_limit_laws_agree_with_float64_far_into_the_tail(law):
    largest, shift, _, _ = LIMIT_TABLES[law]
    statistic = (shift + largest * np.geomspace(0.05, 170.0, 60)).astype(np.float32)  # p ~1 to ~1e-38
    double = nulls.mixture_limit_sf(statistic.astype(np.float64), law, xp=np)
    single = nulls.mixture_limit_sf(statistic, law, xp=np)
    assert single.dtype == np.float32 and np.all(double > 1e-38)
    np.testing.assert_allclose(single, double, rtol=2e-5)
