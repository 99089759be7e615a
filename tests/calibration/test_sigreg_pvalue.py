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


# ----------------------------------------------------------------- issue 21: inputs and memory


def test_nan_gives_nan():
    directions = draw_directions(4, 8, seed=0)
    assert math.isnan(st.sigreg_pvalue(float("nan"), directions=directions))
    pvalues = st.sigreg_pvalue(np.array([1.0, np.nan, 2.0]), directions=directions)
    assert math.isnan(pvalues[1]) and np.all(np.isfinite(pvalues[[0, 2]]))


@pytest.mark.parametrize(("t_max", "n_points"), [(50.0, 11), (1e-10, 17), (1e-10, 2), (0.01, 3)])
def test_every_knot_set_sigreg_accepts_gives_a_pvalue(t_max, n_points):
    directions = draw_directions(4, 8, seed=0)
    z = np.random.default_rng(0).standard_normal((500, 4))
    value = st.sigreg(z, directions=directions, t_max=t_max, n_points=n_points)
    pvalue = st.sigreg_pvalue(value, directions=directions, t_max=t_max, n_points=n_points)
    assert 0.0 < pvalue <= 1.0
    assert st.sigreg_pvalue(100.0 * value, directions=directions, t_max=t_max, n_points=n_points) < 1e-6


@pytest.mark.parametrize(("options", "match"), [({"t_max": 81.0}, "`t_max`"), ({"t_max": -1.0}, "`t_max`"),
                                                ({"n_points": 1}, "`n_points`")])
def test_knots_sigreg_refuses_are_refused_naming_them(options, match):
    with pytest.raises(ValueError, match=match):
        st.sigreg_pvalue(1.0, directions=draw_directions(4, 8, seed=0), **options)


def test_directions_are_validated_as_sigreg_validates_them():
    directions = draw_directions(4, 8, seed=0)
    zero_column = directions.copy()
    zero_column[:, 0] = 0.0
    for bad in (2.0 * directions, zero_column):
        with pytest.raises(ValueError, match="`directions` must have unit columns"):
            st.sigreg_pvalue(1.0, directions=bad)
    with pytest.raises(TypeError, match="`directions`"):
        st.sigreg_pvalue(1.0, directions=directions.astype(complex))


def test_returns_a_numpy_scalar_for_scalar_input_as_sigreg_does():
    directions = draw_directions(4, 8, seed=0)
    value = st.sigreg(np.random.default_rng(0).standard_normal((200, 4)), directions=directions)
    assert type(value) is np.float64  # what it is handed
    assert type(st.sigreg_pvalue(value, directions=directions)) is np.float64
    assert type(st.sigreg_pvalue(1.0, directions=directions)) is np.float64
    assert st.sigreg_pvalue(np.array([1.0, 2.0]), directions=directions).shape == (2,)


def test_null_moments_match_the_direct_formula_they_replace():
    # (mean, variance) from the direct (K, K, T, T) computation of sketchtest at commit 74490bb,
    # mean_null_moments(host_directions(5, 60, seed=60)) with host_directions from sketchtest._losses.sigreg
    from sketchtest._losses.sigreg import host_directions

    mean, variance = mean_null_moments(host_directions(5, 60, seed=60))
    assert mean == pytest.approx(1.0524641547991602, rel=1e-13)
    assert variance == pytest.approx(0.14148262970456213, rel=1e-11)


def test_null_moments_of_many_slices_stay_in_bounded_memory():
    import tracemalloc

    directions = draw_directions(32, 1024, seed=0)
    tracemalloc.start()
    try:
        mean_null_moments(directions)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200 * 2**20  # the (K, K, T, T) arrays it replaces: over 7 GB
