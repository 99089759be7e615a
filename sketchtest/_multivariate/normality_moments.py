"""Moment components of :func:`sketchtest.normality_test`, with nulls valid at every (N, D).

Four statistics of samples ``(..., N, D)``, each with its null mean and
variance at the same (N, D), and a tail from the scaled chi-square law with
those two moments (Wilson-Hilferty cube-root normal):

* skewness, :math:`T_s = \\lVert N^{-1/2} \\sum_i z_i (|z_i|^2 - c) \\rVert^2 / (2(D+2))`
  (Móri, Rohatgi & Székely's vector skewness; :math:`z_i = x_i` and
  :math:`c = D + 2` under the standard null, the whitened samples and
  :math:`c = 0` under the composite null);
* kurtosis, Mardia's :math:`b_{2,D} = \\frac1N \\sum_i |z_i|^4` (two-sided);
* covariance (standard null), the degenerate U-statistic of
  :math:`\\lVert \\Sigma - I \\rVert_F^2`;
* mean (standard null), :math:`N \\lVert \\bar x \\rVert^2 \\sim \\chi^2_D` exactly.

Null moments are closed forms: exact for every standard statistic and for
Mardia's kurtosis (Mardia 1974); for the composite skewness a closed-form
mean, exact at D = 1 and checked against simulation beyond (see
:func:`composite_skewness_moments`). Nothing is simulated at call time.
"""

from __future__ import annotations

import math

import sketchtest_backends
from sketchtest._compat import device
from sketchtest._multivariate.affine import chi2_sf

__all__ = [
    "covariance_from_sums", "covariance_statistic", "kurtosis_from_sums", "kurtosis_statistic", "mean_statistic",
    "skewness_from_sum", "skewness_statistic",
    "matched_chi2_pvalue", "null_moments",
]


def skewness_statistic(z, *, xp, centre):
    r""":math:`\lVert N^{-1/2} \sum_i z_i (|z_i|^2 - c)\rVert^2 / (2(D+2))` over ``(..., N, D)``."""
    squared_norms = xp.sum(z * z, axis=-1, keepdims=True)
    return skewness_from_sum(xp.sum(z * (squared_norms - centre), axis=-2), z.shape[-2], xp=xp)


def skewness_from_sum(weighted_sum, n, *, xp):
    r"""The skewness statistic from :math:`\sum_i z_i (|z_i|^2 - c)` ``(..., D)`` over `n` samples."""
    vector = weighted_sum / math.sqrt(n)
    return xp.sum(vector * vector, axis=-1) / (2.0 * (weighted_sum.shape[-1] + 2.0))


def kurtosis_statistic(z, *, xp, scale_free):
    r"""Mardia's :math:`b_{2,D} = \frac1N \sum_i |z_i|^4`, or its part orthogonal to the scale.

    With ``scale_free`` (standard null, raw samples) the statistic is
    :math:`b_{2,D} - 2(D+2)(\frac1N\sum_i |z_i|^2 - D)`: the mean of the
    second Laguerre polynomial of :math:`|z_i|^2` plus :math:`D(D+2)`, whose
    null variance :math:`8D(D+2)/N` no longer carries the fluctuation of the
    overall scale (left to the covariance component).
    """
    squared_norms = xp.sum(z * z, axis=-1)
    return kurtosis_from_sums(xp.sum(squared_norms * squared_norms, axis=-1), xp.sum(squared_norms, axis=-1),
                              z.shape[-2], z.shape[-1], scale_free=scale_free)


def kurtosis_from_sums(fourth_sum, square_sum, n, dim, *, scale_free):
    r"""The kurtosis statistic from :math:`\sum_i |z_i|^4` and :math:`\sum_i |z_i|^2` over `n` samples."""
    fourth = fourth_sum / n
    if not scale_free:
        return fourth
    return fourth - 2.0 * (dim + 2.0) * (square_sum / n - float(dim))


def mean_statistic(x, *, xp):
    r""":math:`N \lVert \bar x \rVert^2`, exactly :math:`\chi^2_D` under N(0, I)."""
    mean = xp.mean(x, axis=-2)
    return float(x.shape[-2]) * xp.sum(mean * mean, axis=-1)


def covariance_statistic(x, gram, *, xp):
    r"""Scaled U-statistic of :math:`\lVert \Sigma - I \rVert_F^2` (standard null).

    With :math:`h(x, y) = (x^\top y)^2 - |x|^2 - |y|^2 + D`, degenerate under
    N(0, I) (:math:`E[h \mid x] = 0`, :math:`E h^2 = 2D(D+1)`),

    .. math::

        Q = m + \sqrt{\tfrac{N}{N-1}} \frac1N \sum_{i<j} h(x_i, x_j),
        \qquad m = D(D+1)/2,

    has mean m and variance 2m exactly, and tends to :math:`\chi^2_m` for
    fixed D (and to the normal as D grows). :math:`\sum_{i<j} h` is
    :math:`\frac12(\lVert X^\top X - N I\rVert_F^2 - \sum_i \lVert x_i x_i^\top - I\rVert_F^2)`,
    computed from the ``(D, D)`` `gram` :math:`X^\top X` in O(N D^2).
    """
    squared_norms = xp.sum(x * x, axis=-1)
    return covariance_from_sums(gram, xp.sum(squared_norms * squared_norms, axis=-1),
                                xp.sum(squared_norms, axis=-1), x.shape[-2], xp=xp)


def covariance_from_sums(gram, fourth_sum, square_sum, n, *, xp):
    r"""The covariance statistic from :math:`X^\top X`, :math:`\sum_i |x_i|^4` and :math:`\sum_i |x_i|^2`."""
    dim = gram.shape[-1]
    off_identity = gram - float(n) * xp.eye(dim, dtype=gram.dtype, device=device(gram))
    total = xp.sum(off_identity * off_identity, axis=(-2, -1))
    diagonal = fourth_sum - 2.0 * square_sum + float(n * dim)
    u_sum = 0.5 * (total - diagonal)
    return dim * (dim + 1) / 2.0 + math.sqrt(n / (n - 1.0)) * u_sum / n


def matched_chi2_pvalue(statistic, mean, variance, *, xp, tail):
    r"""p-value of a positive statistic from the scaled chi-square with its null mean and variance.

    :math:`T \approx c\,\chi^2_\nu` with :math:`c\nu = \mu`,
    :math:`2c^2\nu = \sigma^2`; the tail is Wilson-Hilferty's
    :math:`z = \big((T/\mu)^{1/3} - 1 + \tfrac{2}{9\nu}\big) / \sqrt{2/(9\nu)}`.
    `tail` is ``"upper"`` or ``"two-sided"``.
    """
    dof = 2.0 * mean * mean / variance
    spread = math.sqrt(2.0 / (9.0 * dof))
    ratio = xp.clip(statistic / mean, 0.0, None)
    z = (ratio ** (1.0 / 3.0) - (1.0 - 2.0 / (9.0 * dof))) / spread
    ndtr = sketchtest_backends.for_namespace(xp).ndtr
    if tail == "upper":
        return ndtr(-z)
    return xp.clip(2.0 * ndtr(-xp.abs(z)), 0.0, 1.0)


def _chi2_raw_moment(dim: int, order: int) -> int:
    """:math:`E[r^k]` for :math:`r \\sim \\chi^2_D`, an exact integer."""
    return math.prod(dim + 2 * j for j in range(order))


def _standard_skewness_variance(n: int, dim: int) -> float:
    r"""Exact variance of :math:`T_s` under N(0, I), from chi-square moments (exact integers).

    With :math:`w = x(|x|^2 - D - 2)`, :math:`E w w^\top = 2(D+2) I` and
    :math:`E\lVert \sum_i w_i \rVert^4 = N E|w|^4 + N(N-1)[(E|w|^2)^2 + 2 E(w_1^\top w_2)^2]`.
    """
    centre = dim + 2
    fourth = sum(math.comb(4, m) * (-centre) ** (4 - m) * _chi2_raw_moment(dim, m + 2) for m in range(5))
    second = 2 * dim * centre
    cross = 4 * centre * centre * dim
    fourth_of_sum = n * fourth + n * (n - 1) * (second * second + 2 * cross)
    variance_of_norm = fourth_of_sum / (n * n) - second * second
    return variance_of_norm / (4.0 * centre * centre)


def composite_skewness_moments(n: int, dim: int):
    r"""Null mean and variance of the composite skewness :math:`T_s` (whitened samples, :math:`c = 0`).

    The mean is

    .. math::

        E\,T_s = \frac{D\,N\,(N - D - 1)}{(N + 1)(N + 3)},

    exact for D = 1 (:math:`T_s = N b_1 / 6` with :math:`b_1` the squared
    sample skewness, :math:`E b_1 = 6(N-2)/((N+1)(N+3))`, D'Agostino &
    Stephens 1986) and, for D > 1, the closed form that the simulated means
    follow (``benchmarks/normality_skewness_moments.py --replicates 2000``:
    32 (N, D) pairs, N = 8..256, D = 1..64, D <= N - 2, every simulated mean
    within 2.4 of its standard errors of it, none beyond 5.3 %; a run with
    400 to 20000 replicates over N = 8..512, D = 1..256: 57 pairs within
    1.9 %); it tends to D, the mean of
    Henze's (1997) limit :math:`\chi^2_D`. The variance is
    :math:`2\mu^2/D`: the statistic is taken as :math:`(\mu/D)\chi^2_D`,
    Henze's limit law scaled to the finite-N mean (its variance ratio to the
    simulated one lies in 0.84..1.04 over N in 16..512, D/N in 1/16..4/5).
    """
    mean = dim * n * (n - dim - 1.0) / ((n + 1.0) * (n + 3.0))
    return mean, 2.0 * mean * mean / dim


def null_moments(name: str, null: str, n: int, dim: int):
    """``(mean, variance)`` of moment statistic `name` under `null` at (N, D)."""
    if name == "kurtosis" and null == "standard":
        return dim * (dim + 2.0), 8.0 * dim * (dim + 2.0) / n
    if name == "kurtosis":  # Mardia (1974), exact under any Gaussian
        mean = dim * (dim + 2.0) * (n - 1.0) / (n + 1.0)
        variance = (8.0 * dim * (dim + 2.0) * (n - 3.0) * (n - dim - 1.0) * (n - dim + 1.0)
                    / ((n + 1.0) ** 2 * (n + 3.0) * (n + 5.0)))
        return mean, variance
    if null == "standard":
        return float(dim), _standard_skewness_variance(n, dim)
    return composite_skewness_moments(n, dim)


def chi2_upper(statistic, dof: int, *, xp):
    """Upper tail of :math:`\\chi^2_{dof}` (exact sums up to 1000 dof, Wilson-Hilferty beyond)."""
    return chi2_sf(xp.clip(statistic, 0.0, None), dof, xp=xp)
