r"""Tail functions that keep their relative accuracy in float32.

A p-value is acted on at 1e-3 and below, so these are written to keep the
relative accuracy of the dtype far into the tail: no ``sin(pi)``-style
cancellation, sums of terms that underflow one by one taken in log space,
and small per-element transforms computed in float64 where the device has it
(:func:`wide_dtype`).
"""

from __future__ import annotations

import math

import numpy as np

import sketchtest_backends
from sketchtest._compat import device, host_constant

__all__ = ["wide_dtype", "cauchy_term", "chi2_sf", "log_chi2_sf"]

#: Up to this many degrees of freedom the chi-square tail is the exact finite
#: sum (at most 10,000 terms per element); the cube-root normal beyond.
EXACT_CHI2_DOF = 20_000


def wide_dtype(x, *, xp):
    """float64 where `x`'s device offers it (JAX without x64 and some devices do not), else `x`'s dtype."""
    try:
        available = xp.__array_namespace_info__().dtypes(device=device(x), kind="real floating")
    except (AttributeError, TypeError, ValueError):
        return x.dtype
    return xp.float64 if xp.float64 in available.values() else x.dtype


def cauchy_term(pvalues, /, *, xp):
    r""":math:`\tan((\tfrac12 - p)\pi)`, accurate to a few ulps of `pvalues`' dtype for every p in [0, 1].

    p is first clipped to ``[smallest_normal, 1 - eps/2]`` (the smallest normal
    number and the largest number below 1 of the dtype), so p = 0 and p = 1
    give large finite terms of opposite signs. With
    :math:`d = \min(p, 1 - p)` (exact for p >= 1/2) the term is
    :math:`\pm\cot(\pi d)`, evaluated as :math:`1/\tan(\pi d)` for
    :math:`d < 1/4` and :math:`\tan(\pi(\tfrac12 - d))` above (exact
    subtraction): no argument ever lands near a pole of the dtype's rounded
    :math:`\pi`, which is what turned p = 1 into :math:`+10^7` in float32 when
    computed as :math:`\cot(p\pi)`.
    """
    info = xp.finfo(pvalues.dtype)
    p = xp.clip(pvalues, float(info.smallest_normal), 1.0 - float(info.eps) / 2.0)
    distance = xp.minimum(p, 1.0 - p)
    near_zero = 1.0 / xp.tan(distance * math.pi)
    near_half = xp.tan((0.5 - distance) * math.pi)
    magnitude = xp.where(distance < 0.25, near_zero, near_half)
    return xp.where(p <= 0.5, magnitude, -magnitude)


@host_constant(maxsize=32)
def _series_offsets(dof: int):
    r"""``(powers, offsets)`` of the finite chi-square tail series (host, float64).

    The series terms are :math:`y^a / \Gamma(a + 1)` for the positive powers
    `a` (:math:`a = 1, \dots, k/2 - 1` for even k; :math:`a = 1/2, \dots,
    (k-2)/2` for odd k); `offsets` are :math:`a \log a - a - \log\Gamma(a + 1)`,
    small numbers (Stirling's remainder) whatever `a`.
    """
    if dof % 2 == 0:
        powers = np.arange(1, dof // 2, dtype=np.float64)
    else:
        powers = np.arange(1, (dof - 1) // 2 + 1, dtype=np.float64) - 0.5
    offsets = np.asarray([a * math.log(a) - a - math.lgamma(a + 1.0) for a in powers])
    return powers, offsets


def _log_series_terms(half, dof: int, *, xp):
    r""":math:`\log(e^{-y} y^a / \Gamma(a + 1))` for every positive power `a` of the series.

    Written as :math:`\text{offset}_a - a\,(\delta - \log(1 + \delta))` with
    :math:`\delta = y/a - 1`: the large parts :math:`a \log y`, :math:`y` and
    :math:`\log\Gamma(a + 1)` cancel analytically instead of in floating point,
    so each term keeps an error of order :math:`\epsilon |y - a|` (the
    conditioning of :math:`e^{-y}` itself) rather than :math:`\epsilon\, a \log y`.
    """
    powers, offsets = _series_offsets(int(dof))
    dev = device(half)
    powers = xp.asarray(powers, dtype=half.dtype, device=dev)
    offsets = xp.asarray(offsets, dtype=half.dtype, device=dev)
    ratio = half[..., None] / powers
    relative = ratio - 1.0
    near = relative > -0.5
    log_ratio = xp.where(near, xp.log1p(xp.where(near, relative, 0.0)), xp.log(ratio))
    return offsets - powers * (relative - log_ratio)


def _log_sum_exp(terms, *, xp):
    largest = xp.max(terms, axis=-1, keepdims=True)
    return xp.log(xp.sum(xp.exp(terms - largest), axis=-1)) + largest[..., 0]


def log_chi2_sf(statistic, dof: int, *, xp):
    r"""Natural log of the chi-square survival function with integer `dof`, in `statistic`'s dtype.

    Exact finite sums in log space up to :data:`EXACT_CHI2_DOF` degrees of
    freedom, with :math:`y = x/2`:

    .. math::

        Q = e^{-y} \sum_{i < k/2} \frac{y^i}{i!} \;(k \text{ even}), \qquad
        Q = 2\Phi(-\sqrt x) + e^{-y} \sum_{j=1}^{(k-1)/2} \frac{y^{j-1/2}}{\Gamma(j + 1/2)}
        \;(k \text{ odd});

    each term's logarithm is formed directly (:func:`_log_series_terms`), so
    no term underflows (a plain sum gave 0 in float32 for Mardia's skewness at
    D >= 11, where every term is below 1e-38 but their sum is near 1/2), and
    their log-sum-exp is taken. Beyond, the Wilson-Hilferty cube-root normal
    approximation.
    """
    backend = sketchtest_backends.for_namespace(xp)
    info = xp.finfo(statistic.dtype)
    x = xp.clip(statistic, 0.0, float(info.max))
    if dof > EXACT_CHI2_DOF:
        k = float(dof)
        z = ((x / k) ** (1.0 / 3.0) - (1.0 - 2.0 / (9.0 * k))) / math.sqrt(2.0 / (9.0 * k))
        return backend.log_ndtr(-z)
    half = xp.clip(x / 2.0, float(info.smallest_normal), None)
    terms = _log_series_terms(half, dof, xp=xp)
    if dof % 2 == 0:
        first = -half  # the power 0 term, e^{-y}
    else:
        first = math.log(2.0) + backend.log_ndtr(-xp.sqrt(x))  # 2 Phi(-sqrt x)
    terms = xp.concat([first[..., None], terms], axis=-1)
    return xp.clip(_log_sum_exp(terms, xp=xp), None, 0.0)


def chi2_sf(statistic, dof: int, *, xp):
    """Chi-square survival function with integer `dof`, computed in float64 where the device has it.

    Returned in `statistic`'s dtype; relative error of a few ulps of that
    dtype down to its smallest normal number (see :func:`log_chi2_sf`).
    """
    wide = wide_dtype(statistic, xp=xp)
    x = statistic if statistic.dtype == wide else xp.astype(statistic, wide)
    pvalue = xp.exp(log_chi2_sf(x, dof, xp=xp))
    return pvalue if pvalue.dtype == statistic.dtype else xp.astype(pvalue, statistic.dtype)
