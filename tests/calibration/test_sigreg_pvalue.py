"""sigreg_pvalue: the asymptotic null of the mean of sliced Epps-Pulley statistics.

References: the one-slice null eigenvalues of `_sliced_null` (a separate
derivation), the closed-form null mean of the quadrature statistic, and
simulation: SIGReg values of N(0, I) samples must give uniform p-values.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import sketchtest as st
from sketchtest._multivariate.directions import draw_directions
from sketchtest._nulls.sliced_mean import mean_null_moments
from sketchtest._nulls.sliced import epps_pulley_asymptotic_pvalue, epps_pulley_null_eigenvalues
from grid import band


def test_null_mean_is_the_closed_form_and_orthogonal_slices_are_independent():
    t = np.linspace(0.0, 3.0, 17)
    weights = 2.0 * (3.0 / 16) * np.r_[0.5, np.ones(15), 0.5] * np.exp(-t * t / 2)
    expected_mean = float(np.sum(weights * (1.0 - np.exp(-t * t))))  # E T_q = sum_j w_j (1 - e^{-t_j^2})
    eigenvalues = epps_pulley_null_eigenvalues(3.0, 17, "standard")
    for num_slices in (1, 4):
        directions = np.eye(6)[:, :num_slices]
        mean, variance = mean_null_moments(directions)
        assert mean == pytest.approx(expected_mean, rel=1e-12)
        assert variance == pytest.approx(2.0 * np.sum(eigenvalues**2) / num_slices, rel=1e-10)


def test_one_slice_matches_the_univariate_null():
    import array_api_compat.numpy as xp

    values = np.array([0.2, 1.0, 3.0, 8.0, 15.0])
    expected = np.asarray(epps_pulley_asymptotic_pvalue(values, t_max=3.0, n_points=17, null="standard", xp=xp))
    computed = np.asarray(st.sigreg_pvalue(values, directions=np.array([[1.0], [0.0]])))
    # Lugannani-Rice (here) against Imhof's integral (the univariate table): 3.3% apart at most for
    # one slice's 30-odd eigenvalues; the saddlepoint improves as slices add eigenvalues
    np.testing.assert_allclose(computed, expected, rtol=4e-2)


def test_float32_far_tail_matches_float64():
    values = np.array([4.0, 6.0, 9.0])
    p64 = np.asarray(st.sigreg_pvalue(values, dim=16, num_slices=32, seed=0))
    p32 = np.asarray(st.sigreg_pvalue(values.astype(np.float32), dim=16, num_slices=32, seed=0))
    assert p32.dtype == np.float32 and np.all(p64 < 1e-6) and np.all(p64 > 0)
    np.testing.assert_allclose(np.log(p32), np.log(p64), rtol=1e-4)


def test_needs_the_directions():
    with pytest.raises(ValueError, match="`directions`"):
        st.sigreg_pvalue(1.0, dim=8)
    with pytest.raises(ValueError, match="`directions`"):
        st.sigreg_pvalue(1.0, directions=np.ones(3))


@pytest.mark.parametrize("num_slices", [16, 96])  # exact eigenvalues (K T <= 1024), moment-matched gamma
def test_size_against_simulation(num_slices):
    replicates, n, dim = 400, 512, 16
    rng = np.random.default_rng(num_slices)
    directions = draw_directions(dim, num_slices, seed=1)
    values = np.asarray(st.sigreg(rng.standard_normal((replicates, n, dim)), directions=directions))
    pvalues = np.asarray(st.sigreg_pvalue(values, directions=directions))
    for alpha in (0.01, 0.05, 0.10):
        rate = float(np.mean(pvalues <= alpha))
        assert abs(rate - alpha) <= band(alpha, replicates), f"rate {rate} at alpha={alpha}"


def test_sliced_mean_aggregate_uses_this_null_and_holds_its_size():
    """sliced_test(aggregate="mean") picks the asymptotic law from N = 500 on: size against simulation."""
    replicates, n, dim, num_slices = 400, 512, 12, 32
    samples = np.random.default_rng(7).standard_normal((replicates, n, dim))
    result = st.sliced_test(samples, num_slices=num_slices, seed=4, aggregate="mean")
    assert result.method == "asymptotic"
    pvalues = np.asarray(result.pvalue)
    for alpha in (0.01, 0.05, 0.10):
        rate = float(np.mean(pvalues <= alpha))
        assert abs(rate - alpha) <= band(alpha, replicates), f"rate {rate} at alpha={alpha}"
