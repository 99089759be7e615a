"""The relations stated in docs/guide/from_lejepa.rst, checked for the same directions.

Each reference value is written here from its definition (the LeJEPA paper,
arXiv:2511.08544, for SIGReg; the textbook EDF statistics; the MGF papers for
HV, BHEP_M and COMB, see tests/test_mgf.py), never with the code under test:
what a user of the reference package computes with its classes on the same
projections.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import sketchtest as st
from test_mgf import reference_comb, standardize
from test_sigreg import naive_sigreg

torch = pytest.importorskip("torch")
from sketchtest.torch import SIGReg, SlicedLoss, sigreg, sliced_loss  # noqa: E402


def unit_directions(dim, num_slices, seed):
    """Gaussian columns scaled to unit length: the reference's `sampler="gaussian"`."""
    a = np.random.default_rng(seed).standard_normal((dim, num_slices))
    return a / np.linalg.norm(a, axis=0)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((3, 96, 8)) * np.array([1.0, 1.3, 0.8, 1.0, 1.0, 2.0, 1.0, 1.0]) + 0.1
    return z, unit_directions(8, 16, 1)


# --- SlicingUnivariateTest(EppsPulley(t_max, n_points)) ---------------------------

@pytest.mark.parametrize(("t_max", "n_points"), [(3.0, 17), (5.0, 21)])
def test_sliced_epps_pulley_equals_the_papers_sigreg_for_the_same_directions(data, t_max, n_points):
    z, a = data
    expected = naive_sigreg(z, a, t_max=t_max, n_points=n_points)  # per batch element, mean over slices
    zt, at = torch.asarray(z), torch.asarray(a)
    for value in (sigreg(zt, directions=at, t_max=t_max, n_points=n_points),
                  sliced_loss(zt, directions=at, t_max=t_max, n_points=n_points),
                  st.sigreg(z, directions=a, t_max=t_max, n_points=n_points)):
        np.testing.assert_allclose(np.asarray(value), expected, rtol=1e-12)
    # the modules average over the leading batch axes, as the reference's reduction="mean"
    for module in (SIGReg(t_max=t_max, n_points=n_points, directions=at),
                   SlicedLoss(t_max=t_max, n_points=n_points, directions=at)):
        np.testing.assert_allclose(float(module(zt)), expected.mean(), rtol=1e-12)


def test_reduction_sum_is_num_slices_times_the_mean(data):
    z, a = data
    per_slice = [naive_sigreg(z, a[:, k:k + 1]) for k in range(a.shape[1])]
    value = sigreg(torch.asarray(z), directions=torch.asarray(a))
    np.testing.assert_allclose(a.shape[1] * value.numpy(), np.sum(per_slice, axis=0), rtol=1e-12)


# --- univariate EDF tests as sliced losses ----------------------------------------

def _edf_parts(p):
    """Sorted standard-normal CDF values F_(i) of each slice (samples on axis -2) and n."""
    return stats.norm.cdf(np.sort(p, axis=-2)), p.shape[-2]


def reference_mean_square_cvm(p):
    # mean_i ((2i - 1) / (2n) - F_(i))^2: the Cramer-von Mises sum divided by n, without 1 / (12 n)
    f, n = _edf_parts(p)
    i = np.arange(1, n + 1)[:, None]
    return np.mean(((2 * i - 1) / (2 * n) - f) ** 2, axis=-2)


def reference_anderson_darling(p):
    # A^2 = -n - (1/n) sum_i (2i - 1) [log F_(i) + log(1 - F_(n+1-i))] (Anderson & Darling, 1954)
    f, n = _edf_parts(p)
    i = np.arange(1, n + 1)[:, None]
    return -n - np.sum((2 * i - 1) * (np.log(f) + np.log1p(-f[..., ::-1, :])), axis=-2) / n


def reference_mean_square_watson(p):
    # the mean-square Cramer-von Mises value minus (mean_i F(p_i) - 1/2)^2
    return reference_mean_square_cvm(p) - (np.mean(stats.norm.cdf(p), axis=-2) - 0.5) ** 2


@pytest.mark.parametrize(
    ("test", "reference", "to_reference"),
    [
        ("anderson_darling", reference_anderson_darling, lambda value, n: value),
        ("cramer_von_mises", reference_mean_square_cvm, lambda value, n: (value - 1 / (12 * n)) / n),
        ("watson", reference_mean_square_watson, lambda value, n: (value - 1 / (12 * n)) / n),
    ],
)
def test_edf_losses_relate_to_the_reference_statistics(data, test, reference, to_reference):
    z, a = data
    n = z.shape[-2]
    expected = reference(z @ a).mean(axis=-1)
    loss = sliced_loss(torch.asarray(z), test=test, directions=torch.asarray(a)).numpy()
    statistic = getattr(st, test)(z @ a, axis=-2, null="standard").statistic.mean(axis=-1)
    np.testing.assert_allclose(to_reference(loss, n), expected, rtol=1e-10)
    np.testing.assert_allclose(to_reference(statistic, n), expected, rtol=1e-10)


# --- multivariate tests ---------------------------------------------------------

def reference_bhep_mean(y, beta):
    # the BHEP statistic divided by n (Henze & Zirkler, 1990), on the samples as given
    n, d = y.shape
    b2 = beta * beta
    norms = np.sum(y * y, axis=1)
    pairs = norms[:, None] + norms[None, :] - 2 * y @ y.T
    return (np.exp(-b2 / 2 * pairs).sum() / n**2
            - 2 * (1 + b2) ** (-d / 2) * np.exp(-b2 / (2 + 2 * b2) * norms).sum() / n
            + (1 + 2 * b2) ** (-d / 2))


def test_bhep_and_henze_zirkler_are_the_reference_values_of_standardized_samples_times_n():
    x = np.random.default_rng(2).exponential(size=(60, 3))
    y = standardize(x)
    np.testing.assert_allclose(float(st.bhep(x, beta=0.7).statistic) / 60, reference_bhep_mean(y, 0.7), rtol=1e-9)
    beta = ((2 * 3 + 1) * 60 / 4) ** (1 / 7) / math.sqrt(2)  # Henze & Zirkler's bandwidth, D = 3, N = 60
    np.testing.assert_allclose(float(st.henze_zirkler(x).statistic) / 60, reference_bhep_mean(y, beta), rtol=1e-9)


def reference_hv_sum(x, gamma):
    # (1/n) sum_{j,k} exp(|x_j + x_k|^2 / (4 gamma)) (x_j'x_k - |x_j + x_k|^2 / (2 gamma) + d / (2 gamma)
    # + |x_j + x_k|^2 / (4 gamma^2)): Henze & Visagie's double sum without (pi / gamma)^{d/2}
    n, d = x.shape
    inner = x @ x.T
    norms = np.diag(inner)
    sums = norms[:, None] + norms[None, :] + 2 * inner
    return np.sum(np.exp(sums / (4 * gamma)) * (inner - sums / (2 * gamma) + d / (2 * gamma)
                                                + sums / (4 * gamma**2))) / n


def reference_bhep_m_value(x, beta):
    # beta^{-d/2} (1/n) sum_{j,k} exp(|x_j + x_k|^2 / (4 beta)) - 2 (beta - 1/2)^{-d/2} sum_j exp(|x_j|^2
    # / (4 beta - 2)): Henze & Jimenez-Gamero's bracket without its constant n (beta - 1)^{-d/2}
    n, d = x.shape
    inner = x @ x.T
    norms = np.diag(inner)
    sums = norms[:, None] + norms[None, :] + 2 * inner
    return (beta ** (-d / 2) * np.exp(sums / (4 * beta)).sum() / n
            - 2 * (beta - 0.5) ** (-d / 2) * np.exp(norms / (4 * beta - 2)).sum())


def test_mgf_tests_under_the_standard_null_relate_to_the_reference_values():
    x = np.random.default_rng(3).standard_normal((40, 3)) * 0.7
    n, d = x.shape
    options = {"null": "standard", "n_resamples": 9, "seed": 0}
    hv = float(st.henze_visagie(x, gamma=2.0, **options).statistic)
    np.testing.assert_allclose(hv * (2.0 / math.pi) ** (d / 2), reference_hv_sum(x, 2.0), rtol=1e-10)
    hjg = float(st.henze_jimenez_gamero(x, beta=4.0, **options).statistic)
    np.testing.assert_allclose(hjg / math.pi ** (d / 2) - n * 3.0 ** (-d / 2), reference_bhep_m_value(x, 4.0),
                               rtol=1e-10)
    np.testing.assert_allclose(float(st.comb(x, gamma=0.5, **options).statistic), reference_comb(x, 0.5), rtol=1e-10)
