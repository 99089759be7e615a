r"""Gradient-safe pieces of the sliced losses: finite values and gradients on every finite batch.

The univariate tests answer "is this sample Gaussian?", and a degenerate
sample (constant, collapsed) is NaN there. A loss must keep training going:
here the same statistics are computed so that a constant slice gives a large
finite value, ties and far tails give finite gradients, and the composite
null (``null="normal"``) works at any scale and shift in float32.

- :func:`condition_samples`: the composite null's losses are invariant under
  a common shift and positive scale of the samples, so the samples are first
  centred and scaled by a *detached* (constant) mean and mean absolute
  deviation. The value and the gradient are unchanged (the loss is the same
  function of ``z``), but the projections are O(1): no float32 overflow at
  1e19, underflow at 1e-20, or cancellation at a shift of 1e4 sd.
- :func:`standardize_safely`: ``(y - mean) / sqrt(var + floor^2)`` with a
  floor of :data:`~sketchtest._univariate.base.DEGENERATE_SPREAD_EPS`
  epsilons of the (conditioned, O(1)) scale: a constant slice standardizes
  to zeros, whose statistic is large, instead of NaN.
- :func:`log_normal_cdf`: :math:`\log\Phi(x)` whose autograd derivative is
  accurate in the far lower tail (a continued fraction for the Mills ratio
  below x = -5, where ``log_ndtr``'s own derivative loses all digits in float32).
- :func:`centred_normal_cdf`: :math:`\Phi(x) - 1/2` by its Taylor series near 0,
  so that Kolmogorov-Smirnov's maximum is taken at the right sample when the
  samples are tiny (float32's :math:`\Phi` is exactly 1/2 below 3e-8).
- Anderson-Darling, Kolmogorov-Smirnov, Shapiro and Vasicek statistics written on those pieces.
"""

from __future__ import annotations

import math

import sketchtest_backends
from sketchtest._compat import device
from sketchtest._univariate.base import DEGENERATE_SPREAD_EPS, sample_index
from sketchtest._univariate.edf import _anderson_darling_offset
from sketchtest._univariate.entropy import MAX_ENTROPY_RATIO, default_window

__all__ = [
    "anderson_darling_statistic", "centred_normal_cdf", "condition_samples", "kolmogorov_smirnov_statistic",
    "log_normal_cdf", "moments_denominator",
    "one_minus_w", "spread_floor", "standardize_safely", "vasicek_divergence",
]

_TAIL_START = 5.0  # below -5 the Mills-ratio continued fraction replaces log_ndtr
_CONTINUED_FRACTION_DEPTH = 16  # 1e-12 relative at x = -5, better beyond


def spread_floor(dtype, *, xp) -> float:
    """The smallest spread a slice of O(1) values is given: 8 epsilons of `dtype`."""
    return DEGENERATE_SPREAD_EPS * float(xp.finfo(dtype).eps)


def condition_samples(z, *, xp, stop_gradient, reduce_sum=lambda x: x):
    r"""``(z - m) / c`` for the composite null, with a detached centre and scale.

    `m` is the mean of the samples (axis -2) and `c` the mean absolute
    deviation over samples and features, both over the whole split batch
    (two small ``reduce_sum`` of sums: no squares, so nothing overflows
    below 1e36 in float32), and both cut from autograd by `stop_gradient`.
    Every composite-null statistic is invariant under ``z -> (z - m) / c``
    for constant ``m`` and ``c > 0``, so this changes neither the loss nor
    its gradient; it only brings the projections to unit scale. An all-equal
    batch has ``c = 0`` and is left centred (all zeros).
    """
    fixed = stop_gradient(z)
    count_shape = (*z.shape[:-2], 1, z.shape[-1])
    count = xp.full(count_shape, float(z.shape[-2]), dtype=z.dtype, device=device(z))
    totals = reduce_sum(xp.concat([count, xp.sum(fixed, axis=-2, keepdims=True)], axis=-2))
    centre = totals[..., 1:, :] / totals[..., :1, :]
    deviation = reduce_sum(xp.sum(xp.abs(fixed - centre), axis=-2, keepdims=True))
    scale = xp.sum(deviation, axis=-1, keepdims=True) / (totals[..., :1, :1] * z.shape[-1])
    usable = (scale > 0.0) & xp.isfinite(scale)
    scale = xp.where(usable, scale, xp.ones_like(scale))
    return (z - centre) / scale


def standardize_safely(y, *, ddof: int, xp):
    """``(y - mean) / sqrt(var + floor^2)`` along the last axis (conditioned, O(1) samples).

    Equal to the univariate tests' standardization up to a relative
    ``floor^2 / var`` (1e-12 in float32 for a unit-variance slice); a
    constant slice gives zeros (a large statistic) where the tests give NaN.
    """
    centered = y - xp.mean(y, axis=-1, keepdims=True)
    variance = xp.sum(centered * centered, axis=-1, keepdims=True) / (y.shape[-1] - ddof)
    floor = spread_floor(y.dtype, xp=xp)
    return centered / xp.sqrt(variance + floor * floor)


def moments_denominator(m2, *, xp):
    """The second moment of standardized samples, 1 for a degenerate slice (whose moments are 0)."""
    return xp.where(m2 > 0.25, m2, xp.ones_like(m2))


def log_normal_cdf(x, *, xp):
    r""":math:`\log\Phi(x)` with an accurate derivative in the far lower tail.

    Below :data:`_TAIL_START`, :math:`\log\Phi(-y) = -y^2/2 - \tfrac12\log 2\pi
    + \log R(y)` with the Mills ratio :math:`R(y) = 1/(y + 1/(y + 2/(y + \dots)))`
    (Laplace's continued fraction); every operation there is well
    conditioned, so autograd's derivative :math:`-x + O(1/x)` keeps its
    digits (``log_ndtr``'s derivative divides two underflowing numbers).
    """
    special = sketchtest_backends.for_namespace(xp)
    in_tail = x < -_TAIL_START
    central = special.log_ndtr(xp.where(in_tail, xp.zeros_like(x), x))
    y = xp.where(in_tail, -x, xp.full_like(x, 2.0 * _TAIL_START))
    fraction = y
    for k in range(_CONTINUED_FRACTION_DEPTH, 0, -1):
        fraction = y + k / fraction
    tail = -0.5 * y * y - 0.5 * math.log(2.0 * math.pi) - xp.log(fraction)
    return xp.where(in_tail, tail, central)


def anderson_darling_statistic(z, *, xp):
    r""":math:`A^2` of sorted `z`, as :func:`sketchtest.anderson_darling` computes it, with safe tails.

    The same sum of non-negative deviations (see the univariate test's
    ``_anderson_darling_statistic``), with :func:`log_normal_cdf` for the
    smaller tail's logarithm: finite, accurate gradients up to
    :math:`|z| \approx 10^{19}` in float32.
    """
    n = z.shape[-1]
    ranks = sample_index(n, like=z, xp=xp)
    special = sketchtest_backends.for_namespace(xp)
    lower = (2.0 * ranks - 1.0) / (2.0 * n)
    upper = (2.0 * n + 1.0 - 2.0 * ranks) / (2.0 * n)
    negative = z < 0.0
    expected = xp.where(negative, lower, upper)
    complement = xp.where(negative, upper, lower)
    magnitude = xp.abs(z)
    small_tail = special.ndtr(-magnitude)
    ratio = (small_tail - expected) / expected
    near = ratio > -0.5
    log_ratio = log_normal_cdf(-magnitude, xp=xp) - xp.log(expected)
    small_term = ratio - xp.where(near, xp.log1p(xp.where(near, ratio, xp.zeros_like(ratio))), log_ratio)
    other_ratio = (expected - small_tail) / complement
    large_term = other_ratio - xp.log1p(other_ratio)
    total = 2.0 * xp.sum(expected * small_term + complement * large_term, axis=-1)
    return total + _anderson_darling_offset(n)


_CENTRED_CDF_TERMS = 14  # Taylor terms of Phi(x) - 1/2 on |x| < 1: 1e-15 relative


def centred_normal_cdf(x, *, xp):
    r""":math:`\Phi(x) - \tfrac12`, accurate near 0 (where :math:`\Phi` itself rounds to 1/2 in float32).

    Its Taylor series :math:`\varphi(0)\sum_k (-1)^k x^{2k+1} / (2^k k! (2k+1))`
    on :math:`|x| < 1`, ``ndtr(x) - 1/2`` beyond (no cancellation there).
    """
    special = sketchtest_backends.for_namespace(xp)
    near = xp.abs(x) < 1.0
    small = xp.where(near, x, xp.zeros_like(x))
    square = small * small
    series = xp.zeros_like(x)
    for k in range(_CENTRED_CDF_TERMS - 1, -1, -1):
        coefficient = (-1.0) ** k / (2.0**k * math.factorial(k) * (2 * k + 1))
        series = series * square + coefficient
    return xp.where(near, series * small / math.sqrt(2.0 * math.pi), special.ndtr(x) - 0.5)


def kolmogorov_smirnov_statistic(z, *, xp):
    r""":math:`D` of sorted `z` as :math:`\tfrac12 + \max_i(\dots)` of :math:`\Phi - 1/2`.

    The candidates :math:`i/n - \Phi(z_i)` and :math:`\Phi(z_i) - (i-1)/n`
    are compared less 1/2, where tiny samples still differ in float32 (their
    :math:`\Phi` is 1/2 to the last bit): the same value, and the gradient
    on the sample that float64 picks.
    """
    n = z.shape[-1]
    centred = centred_normal_cdf(z, xp=xp)
    ranks = sample_index(n, like=z, xp=xp)
    above = xp.max((ranks - n) / n - centred, axis=-1)
    below = xp.max(centred - (ranks - 1.0) / n, axis=-1)
    return 0.5 + xp.maximum(above, below)


def one_minus_w(standardized_sorted, weights, *, xp):
    r"""``1 - W`` of sorted standardized samples: :math:`(|c - p w|^2 + n f^2) / (|c|^2 + n f^2)`.

    `weights` are unit-norm and zero-mean (Wilk's or Blom's), :math:`p = w
    \cdot c` and :math:`f` the spread floor: the univariate value up to
    :math:`f^2`, and 1 (the largest) for a constant slice.
    """
    n = standardized_sorted.shape[-1]
    weights = xp.asarray(weights, dtype=standardized_sorted.dtype, device=device(standardized_sorted))
    projection = xp.sum(standardized_sorted * weights, axis=-1, keepdims=True)
    residual = standardized_sorted - projection * weights
    floor = n * spread_floor(standardized_sorted.dtype, xp=xp) ** 2
    squares = xp.sum(standardized_sorted * standardized_sorted, axis=-1)
    return (xp.sum(residual * residual, axis=-1) + floor) / (squares + floor)


def _entropy_with_floor(sorted_samples, window: int, floor, *, xp):
    """Vasicek's spacing entropy with every spacing at least `floor` (ties: finite, zero gradient)."""
    n = sorted_samples.shape[-1]
    pad_shape = (*sorted_samples.shape[:-1], window)
    first = xp.broadcast_to(sorted_samples[..., :1], pad_shape)
    last = xp.broadcast_to(sorted_samples[..., -1:], pad_shape)
    padded = xp.concat([first, sorted_samples, last], axis=-1)
    spacings = xp.maximum(padded[..., 2 * window:] - padded[..., :n], floor)
    return xp.mean(xp.log(spacings * (n / (2.0 * window))), axis=-1)


def vasicek_divergence(y, *, xp, window, null):
    r""":math:`\log(\sqrt{2\pi e}/K)` as in :func:`sketchtest.vasicek`, with a floor on the spacings.

    A spacing below 8 epsilons of the slice's largest magnitude (a tie) is
    raised to it, so ties and constant slices give a large finite loss and
    finite gradients, instead of :math:`\log 0`. Under the composite null
    the samples are standardized with :func:`standardize_safely`
    (``ddof=0``: :math:`\log K = H(x/s)`).
    """
    n = y.shape[-1]
    m = default_window(n) if window is None else window
    if null == "normal":
        samples = standardize_safely(y, ddof=0, xp=xp)
        floor = spread_floor(y.dtype, xp=xp)
    else:
        samples = y
        magnitude = xp.max(xp.abs(y), axis=-1, keepdims=True)  # its gradient through the floor: 8 eps
        floor = spread_floor(y.dtype, xp=xp) * xp.where(magnitude > 0.0, magnitude, xp.ones_like(magnitude))
    entropy = _entropy_with_floor(xp.sort(samples, axis=-1), m, floor, xp=xp)
    if null == "standard":
        entropy = entropy + 0.5 * (1.0 - xp.mean(y * y, axis=-1))
    return math.log(MAX_ENTROPY_RATIO) - entropy
