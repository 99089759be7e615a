"""Centring, scaling, spectrum and numerical rank of samples ``(..., N, D)`` for :func:`sketchtest.normality_test`.

The data is centred (shifted by its first sample, then by the mean of the
differences, summed in float64 where the device has it) and scaled by a
power of two, so that every scale- and shift-free component sees the same
numbers whatever the data's offset or units: a float32 cloud at 1e4
standard deviations from the origin, or scaled by 1e-30 or 1e30, gives the
float32 arithmetic well-scaled values, and no square over- or underflows.
The covariance and its eigendecomposition are computed in the data's dtype,
and again in the wide dtype where that cannot certify the rank.

Numerical rank
--------------
A Gaussian sample with a non-singular covariance and N > D is full rank with
probability one, so a covariance that is singular to working precision is a
certain departure. Eigenvalue :math:`\\lambda_k` counts as zero when

.. math::

    \\lambda_k \\le \\max\\big(\\epsilon_{data}^2\\,(\\bar\\lambda + |\\bar x|^2/D),\\;
    8 D \\epsilon_{cov}\\,\\lambda_{max}\\big)

with :math:`\\bar\\lambda` the mean eigenvalue, :math:`\\bar x` the mean
(float rounding is relative to the raw values, offset included: a float32
cloud at 1e4 standard deviations from the origin cannot resolve eigenvalues
below about 1e-7 of its own), :math:`\\epsilon_{data}` the
machine epsilon of the caller's dtype (rounding the data to it adds a
full-rank noise of eigenvalues about :math:`\\epsilon_{data}^2\\bar\\lambda/12`)
and :math:`\\epsilon_{cov}` that of the dtype of the covariance (its
eigenvalues are accurate to about :math:`D\\epsilon_{cov}\\lambda_{max}`).
Measured (``benchmarks/normality_rank.py``) the eigenvalue ratios
:math:`\\lambda_{min}/\\lambda_{max}` of exactly collapsed data (rank 1 to
D - 1, D = 8..512) stay below 8e-15 in float32 and 1e-6 in bfloat16, and
those of full-rank N(0, I) data stay above 3e-11 at N = D + 1 (float64 and
float32 data) and above 2e-2 at N = 2D: float64 and float32 separate the two
at every N > D; bfloat16 data only from N of about 2D (its own rounding
noise is as large as the smallest eigenvalue of a Gaussian sample at N near
D). Without float64 on the device the covariance is float32 and the rank is
certified only where :math:`\\lambda_{min}/\\lambda_{max} > 8 D \\epsilon_{32}`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sketchtest._compat import is_dask_namespace, is_traced
from sketchtest._nulls.tails import wide_dtype

__all__ = [
    "Spectrum", "axes_kept", "data_eps", "nonfinite_rows", "principal_scores", "rank_threshold", "spectrum_of",
    "whitening_matrix",
]

#: bfloat16 and float16 are computed in float32: their epsilon comes from the caller's dtype name.
_SIXTEEN_BIT_EPS = {"bfloat16": 2.0**-7, "float16": 2.0**-10}


@dataclass(frozen=True)
class Spectrum:
    """Normalized centred samples and the spectrum of their covariance.

    ``centred`` ``(..., N, D)`` in the working dtype, with mean zero and mean
    eigenvalue one; ``eigenvalues`` ``(..., D)`` descending and ``vectors``
    ``(..., D, D)`` (columns) in the wide dtype; ``rank`` ``(...)`` the
    numerical rank, ``effective_rank`` ``(...)`` exp of the spectral entropy
    and ``threshold`` ``(...)`` the eigenvalue below which an axis counts as
    empty (relative to a mean eigenvalue of one). ``mean`` ``(..., 1, D)``
    and ``scale`` ``(..., 1, 1)`` (wide dtype) give ``centred = (x - mean) * scale``,
    and ``covariance`` ``(..., D, D)`` is the covariance of ``centred`` (all three
    ``None`` where the samples were not at hand).
    """

    centred: object
    eigenvalues: object
    vectors: object
    rank: object
    effective_rank: object
    threshold: object
    mean: object = None
    scale: object = None
    covariance: object = None


def data_eps(input_dtype, computed_dtype, *, xp) -> float:
    """Machine epsilon of the caller's dtype (bfloat16 and float16 included; else the computed dtype's)."""
    name = str(input_dtype).rsplit(".", 1)[-1]
    if name in _SIXTEEN_BIT_EPS:
        return _SIXTEEN_BIT_EPS[name]
    return float(xp.finfo(computed_dtype).eps)


def rank_threshold(eigenvalues, offset_power, *, data_epsilon, covariance_epsilon, dim, xp):
    r"""Eigenvalue threshold ``(...)`` below which an axis is empty (see the module docstring).

    `offset_power` is the squared mean per coordinate, :math:`|\bar x|^2/D`, in
    the eigenvalues' units: rounding is relative to the raw values, offset included.
    """
    mean = xp.mean(eigenvalues, axis=-1) + offset_power
    largest = eigenvalues[..., 0]
    return xp.maximum(data_epsilon**2 * mean, 8.0 * dim * covariance_epsilon * largest)


def _centre(x, *, xp, wide):
    """Centre each batch element: shifted by its first sample, then by the mean of the differences.

    The first sample is subtracted first (the shifted-data algorithm: the
    differences of nearby floats of one dtype are rounded relative to the
    differences), and their mean is summed in the `wide` dtype (a float32
    sum over many rows would leave a mean error that a collapsed sample
    shows as one more non-empty axis), so that the centred values are those
    of the spread, not of the offset, whatever the summation order of the
    backend. Returns the centred samples (`x`'s dtype) and the mean
    ``(..., 1, D)`` in the `wide` dtype.
    """
    pivot = x[..., :1, :]
    centred = x - pivot
    mean = xp.sum(centred, axis=-2, keepdims=True, dtype=wide) / float(x.shape[-2])
    centred -= xp.astype(mean, x.dtype)  # in place where the library allows it: no second (N, D) array
    return centred, xp.astype(pivot, wide) + mean


def _power_of_two_scale(centred, *, xp):
    """``(..., 1, 1)`` power of two bringing the largest magnitude of each batch element into [1/2, 1)."""
    largest = xp.maximum(xp.max(centred, axis=(-2, -1), keepdims=True),
                         -xp.min(centred, axis=(-2, -1), keepdims=True))
    tiny = float(xp.finfo(centred.dtype).smallest_normal)
    return 2.0 ** -(xp.floor(xp.log2(xp.clip(largest, tiny, None))) + 1.0)


#: Magnitudes 2**-40..2**40 square and sum without over- or underflow in float32 (or wider): the
#: covariance is then computed before the samples are scaled, and the scale applied once, at the end.
_MODERATE_EXPONENT = 40.0


def _needs_scaling_first(factor, *, xp):
    """Whether the power-of-two `factor` must be applied before any square (extreme magnitudes, or traced)."""
    if is_traced(factor):
        return True
    exponent = xp.abs(xp.log2(factor))
    return bool(xp.any(exponent > _MODERATE_EXPONENT))


def _covariance(centred, *, xp, wide):
    """``(..., D, D)`` covariance of centred samples, in the `wide` dtype."""
    values = xp.astype(centred, wide) if centred.dtype != wide else centred
    return xp.matmul(xp.matrix_transpose(values), values) / float(centred.shape[-2])


def _effective_rank(eigenvalues, *, xp):
    """exp of the entropy of the normalized spectrum, as the CLI's diagnostics compute it."""
    positive = xp.clip(eigenvalues, 0.0, None)
    total = xp.sum(positive, axis=-1, keepdims=True)
    share = positive / xp.where(total > 0, total, xp.ones_like(total))
    terms = xp.where(share > 0, share * xp.log(xp.where(share > 0, share, xp.ones_like(share))),
                     xp.zeros_like(share))
    return xp.exp(-xp.sum(terms, axis=-1))


def _eigh_descending(covariance, *, xp):
    """Eigenvalues in descending order and their eigenvectors, each with a fixed sign.

    An eigenvector's sign is arbitrary and differs between linear-algebra
    libraries (and with rounding): each is turned so that the sum of the
    cubes of its entries is positive, so NumPy, PyTorch, JAX and dask give the
    same principal-axis scores.
    """
    symmetric = (covariance + xp.matrix_transpose(covariance)) / 2.0
    if is_dask_namespace(xp):  # dask has no eigh: the D x D matrix is small, solved on the host
        eigenvalues, vectors = np.linalg.eigh(np.asarray(symmetric.compute()))
        eigenvalues, vectors = xp.asarray(eigenvalues), xp.asarray(vectors)
    else:
        eigenvalues, vectors = xp.linalg.eigh(symmetric)
    skew = xp.sum(vectors * vectors * vectors, axis=-2, keepdims=True)
    vectors = xp.where(skew < 0, -vectors, vectors)
    return xp.flip(eigenvalues, axis=-1), xp.flip(vectors, axis=-1)


def spectrum_of(x, *, xp, input_dtype):
    r"""The :class:`Spectrum` of samples `x` ``(..., N, D)`` (finite values).

    The covariance is first computed in `x`'s dtype (one float32 GEMM for
    float32 data); only where that spectrum cannot certify the rank (its
    smallest eigenvalue below :math:`8 D \epsilon_{32} \lambda_{max}`), or
    under tracing, it is recomputed in float64 where the device has it. The
    samples are scaled by a power of two (before the covariance only for
    magnitudes beyond :math:`2^{\pm 40}`) and by the root of the mean
    eigenvalue, in one multiplication.
    """
    dim = x.shape[-1]
    wide = wide_dtype(x, xp=xp)
    centred, mean = _centre(x, xp=xp, wide=wide)
    factor = _power_of_two_scale(centred, xp=xp)
    scaled_first = _needs_scaling_first(factor, xp=xp)
    if scaled_first:
        centred *= factor
    units = xp.ones_like(factor) if scaled_first else factor * factor  # covariance units -> scaled units
    covariance_dtype = x.dtype
    covariance = xp.astype(_covariance(centred, xp=xp, wide=x.dtype), wide) * xp.astype(units, wide)
    eigenvalues, vectors = _eigh_descending(covariance, xp=xp)
    if wide != x.dtype:
        floor = 8.0 * dim * float(xp.finfo(x.dtype).eps) * eigenvalues[..., 0]
        if is_traced(eigenvalues) or bool(xp.any(eigenvalues[..., -1] <= floor)):
            covariance = _covariance(centred, xp=xp, wide=wide) * xp.astype(units, wide)
            eigenvalues, vectors = _eigh_descending(covariance, xp=xp)
            covariance_dtype = wide
    mean_eigenvalue = xp.mean(eigenvalues, axis=-1)
    tiny = float(xp.finfo(wide).smallest_normal)
    unit = 1.0 / xp.clip(mean_eigenvalue, tiny, None)
    eigenvalues = eigenvalues * unit[..., None]
    offset = mean * xp.astype(factor, wide)
    offset_power = xp.mean(offset * offset, axis=(-2, -1)) * unit
    threshold = rank_threshold(eigenvalues, offset_power, data_epsilon=data_eps(input_dtype, x.dtype, xp=xp),
                               covariance_epsilon=float(xp.finfo(covariance_dtype).eps), dim=dim, xp=xp)
    rank = xp.sum(xp.astype(eigenvalues > threshold[..., None], xp.int32), axis=-1)
    root = xp.sqrt(unit)[..., None, None]
    remaining = root if scaled_first else root * xp.astype(factor, wide)
    centred *= xp.astype(remaining, x.dtype)
    return Spectrum(centred, eigenvalues, vectors, rank, _effective_rank(eigenvalues, xp=xp), threshold,
                    mean=mean, scale=xp.astype(factor, wide) * root, covariance=covariance * unit[..., None, None])


def whitening_matrix(spectrum, *, xp, dtype):
    """Symmetric inverse square root :math:`V \\Lambda^{-1/2} V^\\top` (zero on empty axes), in `dtype`.

    The symmetric form does not depend on the signs or the order of the
    eigenvectors, which differ between linear-algebra libraries: the
    whitened samples, and so the random slices, are the same on every backend.
    """
    eigenvalues, vectors = spectrum.eigenvalues, spectrum.vectors
    kept = eigenvalues > spectrum.threshold[..., None]
    safe = xp.where(kept, eigenvalues, xp.ones_like(eigenvalues))
    inverse_root = xp.where(kept, 1.0 / xp.sqrt(safe), xp.zeros_like(eigenvalues))
    matrix = xp.matmul(vectors * inverse_root[..., None, :], xp.matrix_transpose(vectors))
    return xp.astype(matrix, dtype)


def principal_scores(spectrum, *, xp, num_axes):
    """Unit-variance scores on the first `num_axes` principal axes ``(..., N, num_axes)``; empty axes give 0."""
    eigenvalues = spectrum.eigenvalues[..., :num_axes]
    kept = eigenvalues > spectrum.threshold[..., None]
    safe = xp.where(kept, eigenvalues, xp.ones_like(eigenvalues))
    scale = xp.where(kept, 1.0 / xp.sqrt(safe), xp.zeros_like(eigenvalues))
    loadings = xp.astype(spectrum.vectors[..., :num_axes] * scale[..., None, :], spectrum.centred.dtype)
    return xp.matmul(spectrum.centred, loadings)


def axes_kept(spectrum, num_axes, *, xp):
    """``(..., num_axes)`` mask of the first principal axes that are not empty."""
    return spectrum.eigenvalues[..., :num_axes] > spectrum.threshold[..., None]


def nonfinite_rows(x, *, xp):
    """``(...)`` mask of batch elements holding a NaN or an infinity.

    Read from the largest and smallest values (NaN propagates through both,
    +inf shows in the first, -inf in the second): no (N, D) mask is made.
    """
    largest, smallest = xp.max(x, axis=(-2, -1)), xp.min(x, axis=(-2, -1))
    return ~(xp.isfinite(largest) & xp.isfinite(smallest))

