"""Henze-Zirkler, BHEP and Mardia against closed forms written out here."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import sketchtest as st
import sketchtest._multivariate.affine as multivariate
from support import rtol_for, round_like


def reference_bhep(x, beta):
    """The BHEP statistic and its log-normal p-value, written from Henze & Zirkler (1990)."""
    n, p = x.shape
    centered = x - x.mean(0)
    inverse = np.linalg.inv(np.atleast_2d(np.cov(x, rowvar=False, bias=True)))
    g = centered @ inverse @ centered.T
    d_pairs = np.diag(g)[:, None] + np.diag(g)[None, :] - 2 * g
    b = beta**2
    statistic = (np.exp(-b / 2 * d_pairs).sum() / n
                 - 2 * (1 + b) ** (-p / 2) * np.exp(-b / (2 * (1 + b)) * np.diag(g)).sum()
                 + n * (1 + 2 * b) ** (-p / 2))
    a, w = 1 + 2 * b, (1 + b) * (1 + 3 * b)
    mu = 1 - a ** (-p / 2) * (1 + p * b / a + p * (p + 2) * b**2 / (2 * a**2))
    var = (2 * (1 + 4 * b) ** (-p / 2) + 2 * a ** (-p) * (1 + 2 * p * b**2 / a**2 + 3 * p * (p + 2) * b**4 / (4 * a**4))
           - 4 * w ** (-p / 2) * (1 + 3 * p * b**2 / (2 * w) + p * (p + 2) * b**4 / (2 * w**2)))
    sigma = math.sqrt(math.log(1 + var / mu**2))
    scale = mu / math.sqrt(1 + var / mu**2)
    return statistic, stats.lognorm.sf(statistic, sigma, scale=scale)


def reference_hz_beta(n, p):
    return (1 / math.sqrt(2)) * ((2 * p + 1) / 4) ** (1 / (p + 4)) * n ** (1 / (p + 4))


def reference_mardia(x):
    n, p = x.shape
    centered = x - x.mean(0)
    g = centered @ np.linalg.inv(np.atleast_2d(np.cov(x, rowvar=False, bias=True))) @ centered.T
    b1, b2 = (g**3).sum() / n**2, (np.diag(g) ** 2).mean()
    skew_p = stats.chi2.sf(n * b1 / 6, p * (p + 1) * (p + 2) / 6)
    z = (b2 - p * (p + 2)) / math.sqrt(8 * p * (p + 2) / n)
    return b1, b2, skew_p, 2 * stats.norm.sf(abs(z))


@pytest.mark.parametrize(("n", "p"), [(30, 1), (50, 3), (200, 6)])
def test_henze_zirkler_and_bhep_match_the_closed_form(n, p):
    x = np.random.default_rng(n).gamma(4.0, size=(n, p)) @ np.triu(np.ones((p, p)))
    statistic, pvalue = reference_bhep(x, reference_hz_beta(n, p))
    result = st.henze_zirkler(x)
    np.testing.assert_allclose(result.statistic, statistic, rtol=1e-10)
    np.testing.assert_allclose(result.pvalue, pvalue, rtol=1e-8)
    statistic, pvalue = reference_bhep(x, 0.7)
    np.testing.assert_allclose(st.bhep(x, beta=0.7).statistic, statistic, rtol=1e-10)
    np.testing.assert_allclose(st.bhep(x, beta=0.7).pvalue, pvalue, rtol=1e-8)


@pytest.mark.parametrize(("n", "p"), [(40, 1), (60, 2), (300, 5), (400, 9)])
def test_mardia_matches_the_closed_form(n, p):
    x = np.random.default_rng(p).standard_t(6, size=(n, p))
    b1, b2, skew_p, kurt_p = reference_mardia(x)
    result = st.mardia(x)
    np.testing.assert_allclose([result.skewness, result.kurtosis], [b1, b2], rtol=1e-10)
    np.testing.assert_allclose([result.skewness_pvalue, result.kurtosis_pvalue], [skew_p, kurt_p], rtol=1e-9)
    np.testing.assert_allclose(result.pvalue, min(1.0, 2 * min(skew_p, kurt_p)), rtol=1e-9)


def test_pairwise_sums_in_small_blocks_agree(monkeypatch):
    x = np.random.default_rng(0).standard_normal((3, 70, 4))
    whole = st.henze_zirkler(x).statistic, st.mardia(x).skewness
    monkeypatch.setattr(multivariate, "_ELEMENTS_PER_BLOCK", 7)
    blocked = st.henze_zirkler(x).statistic, st.mardia(x).skewness
    np.testing.assert_allclose(blocked, whole, rtol=1e-12)
    single = reference_bhep(x[2], reference_hz_beta(70, 4))[0]
    np.testing.assert_allclose(blocked[0][2], single, rtol=1e-10)


@pytest.mark.parametrize("name", ["henze_zirkler", "mardia", "bhep"])
def test_every_backend_agrees_with_numpy(backend, dtype_name, name):
    data = np.random.default_rng(1).standard_normal((60, 3)) + np.arange(3)
    function = getattr(st, name)
    result = function(backend.asarray(data, dtype_name))
    expected = function(round_like(data, dtype_name))
    rtol = rtol_for(dtype_name)
    np.testing.assert_allclose(backend.to_numpy(result.pvalue), expected.pvalue, rtol=20 * rtol)
    np.testing.assert_allclose(backend.to_numpy(result.statistic), expected.statistic, rtol=20 * rtol)
    assert result.pvalue.dtype == backend.dtype("float64" if dtype_name == "float64" else "float32")


@pytest.mark.parametrize("name", ["henze_zirkler", "mardia"])
def test_type_one_error(name):
    rng = np.random.default_rng(2)
    replicates, level = 300, 0.1
    pvalues = getattr(st, name)(rng.standard_normal((replicates, 80, 3))).pvalue
    rate = np.mean(pvalues < level)
    # the asymptotic approximations are slightly conservative at n = 80: check the upper side
    assert rate < level + 4 * math.sqrt(level * (1 - level) / replicates)
    assert rate > level / 3


def test_monte_carlo_henze_zirkler():
    rng = np.random.default_rng(3)
    null = st.henze_zirkler(rng.standard_normal((40, 2)), method="monte_carlo", n_resamples=199, seed=0)
    skewed = st.henze_zirkler(rng.exponential(size=(40, 2)), method="monte_carlo", n_resamples=199, seed=0)
    assert 0.05 < float(null.pvalue) <= 1 and float(skewed.pvalue) == pytest.approx(1 / 200)


@pytest.mark.parametrize("name", ["henze_zirkler", "mardia", "bhep"])
def test_power_against_non_gaussian_data(name):
    x = np.random.default_rng(4).exponential(size=(150, 4))
    assert getattr(st, name)(x).pvalue < 1e-4


@pytest.mark.parametrize("name", ["henze_zirkler", "mardia", "bhep"])
@pytest.mark.parametrize(
    ("data", "match"),
    [
        (np.zeros((10, 0)), "D >= 1"),
        (np.zeros((1, 3)), "at least 2 samples"),
        (np.ones((3, 3)), "singular"),
        (np.zeros(5), r"\(\.\.\., N, D\)"),
    ],
)
def test_bad_input_is_refused(name, data, match):
    with pytest.raises(ValueError, match=match):
        getattr(st, name)(data)


@pytest.mark.parametrize("name", ["henze_zirkler", "mardia", "bhep"])
def test_rank_deficient_samples_give_nan_for_their_batch_element_only(name):
    rng = np.random.default_rng(0)
    collinear = rng.standard_normal((20, 2)) @ np.ones((2, 3))  # rank 2 in D = 3
    batch = np.stack([rng.standard_normal((20, 3)), collinear])
    result = getattr(st, name)(batch)
    assert np.isfinite(result.pvalue[0]) and np.isnan(result.pvalue[1]) and np.isnan(result.statistic[1])


def test_bad_options_are_refused():
    x = np.random.default_rng(5).standard_normal((20, 2))
    with pytest.raises(ValueError, match="beta"):
        st.bhep(x, beta=-1.0)
    with pytest.raises(ValueError, match="method"):
        st.henze_zirkler(x, method="exact")


@pytest.mark.parametrize("name", ["henze_zirkler", "mardia", "bhep"])
def test_runs_under_jax_jit(name):
    jax = pytest.importorskip("jax")
    data = np.random.default_rng(6).standard_normal((50, 3))
    function = getattr(st, name)
    jitted = jax.jit(lambda samples: function(samples).pvalue)
    np.testing.assert_allclose(float(jitted(jax.numpy.asarray(data))), float(function(data).pvalue), rtol=1e-10)


@pytest.mark.parametrize("name", ["henze_zirkler", "mardia", "bhep"])
def test_torch_compile_fullgraph(name):
    torch = pytest.importorskip("torch")
    import warnings

    x = torch.asarray(np.random.default_rng(7).standard_normal((40, 3)))
    function = getattr(st, name)
    eager = tuple(function(x))
    torch._dynamo.reset()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        compiled = torch.compile(lambda samples: tuple(function(samples)), fullgraph=True, backend="aot_eager")(x)
    np.testing.assert_allclose([float(v) for v in compiled], [float(v) for v in eager], rtol=1e-12)


@pytest.mark.parametrize("skew", [0.3, 0.5, 0.8])
def test_float32_agrees_with_float64_far_into_the_tail(skew):
    # the QR standardization and the tails in float32, against float64 on the same rounded data:
    # measured |log(p32 / p64)| <= 4e-4 for p from 1e-3 down to 1e-39 (D = 4, N = 400)
    rng = np.random.default_rng(0)
    z = rng.standard_normal((400, 4))
    x32 = ((z + 0.3 * skew * (z**2 - 1)) @ rng.standard_normal((4, 4)) + 5.0).astype(np.float32)
    for function in (st.henze_zirkler, st.bhep, st.mardia):
        single, double = float(function(x32).pvalue), float(function(x32.astype(np.float64)).pvalue)
        if double > 1e-37:  # within float32's normal range
            assert abs(np.log(single / double)) < 2e-3, (function.__name__, single, double)
        else:
            assert single < 1e-30, (function.__name__, single, double)


@pytest.mark.parametrize("beta", [0.1, 0.2, 1.0, 100.0])
def test_bhep_float32_agrees_with_float64_at_any_bandwidth(beta):
    # the statistic's terms cancel to O(N beta^6) at small beta: summed in float64 where the
    # device has it (in float32 Gaussian data gave p = 0.0017 for 0.90 at beta = 0.1)
    rng = np.random.default_rng(0)
    for skew in (0.0, 0.5):
        z = rng.standard_normal((500, 3))
        x32 = (z + 0.3 * skew * (z**2 - 1)).astype(np.float32)
        single, double = st.bhep(x32, beta=beta).pvalue, st.bhep(x32.astype(np.float64), beta=beta).pvalue
        assert single.dtype == np.float32
        np.testing.assert_allclose(single, double, rtol=1e-4)


def test_bhep_bandwidth_range_is_narrower_without_float64():
    xs = pytest.importorskip("array_api_strict")
    x = xs.asarray(np.random.default_rng(1).standard_normal((50, 2)), dtype=xs.float32, device=xs.Device("no_float64"))
    for beta in (0.1, 0.29, 31.0, 100.0):
        with pytest.raises(ValueError, match="beta"):
            st.bhep(x, beta=beta)
    assert 0.0 <= float(st.bhep(x, beta=0.3).pvalue) <= 1.0
