"""Affine-invariant tests of multivariate normality: Henze-Zirkler, BHEP, Mardia.

Samples ``x`` have shape ``(..., N, D)`` (samples on axis -2, leading axes a
batch). Every test standardizes with the sample mean and the biased sample
covariance :math:`S = \\frac1N \\sum_i (x_i - \\bar x)(x_i - \\bar x)^\\top`
(ddof = 0), through a QR factorization of the centered samples (see
:func:`standardized`); the O(N^2) pairwise sums are formed a block of rows at
a time, so memory stays O(N * block).

Numerically singular samples (a column constant, or a linear combination of
the others to rounding) give a NaN statistic and p-value for their batch
element, inside ``jax.jit`` and ``torch.compile`` too. Non-finite samples
follow ``nan_policy`` (see :func:`sketchtest._multivariate.sliced.apply_row_nan_policy`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sketchtest_backends
from sketchtest._nulls.montecarlo import monte_carlo_pvalue
from sketchtest._nulls.tails import chi2_sf, wide_dtype
from sketchtest._result import NormalityResult, _describe
from sketchtest._multivariate.sliced import apply_row_nan_policy, nan_where
from sketchtest._validation import check_method, check_nan_policy, check_real, check_seed, check_int, float_dtypes
from sketchtest._compat import as_array
from typing import Literal
from sketchtest._typing import Array, NanPolicy, Seed

__all__ = ["henze_zirkler", "bhep", "mardia", "MardiaResult"]

_ELEMENTS_PER_BLOCK = 1 << 22


def _prepare(x, nan_policy):
    """Validate ``(..., N, D)`` samples with N > D and `nan_policy`; return them in the compute dtype."""
    x, xp = as_array(x)
    if x.ndim < 2:
        raise ValueError(f"`x` must have shape (..., N, D) with samples on axis -2; got {x.ndim} dimension(s)")
    n, dim = x.shape[-2], x.shape[-1]
    if dim < 1:
        raise ValueError(f"`x` must have D >= 1 on its last axis; got D = {dim}")
    if n < 2:
        raise ValueError(f"`x` needs at least 2 samples on axis -2; got N = {n}")
    if n <= dim:
        raise ValueError(
            f"the sample covariance of `x` is singular: N = {n} samples in D = {dim} dimensions "
            "(these tests need N > D)")
    compute_dtype, result_dtype = float_dtypes(x, xp=xp)
    x = x if x.dtype == compute_dtype else xp.astype(x, compute_dtype)
    check_nan_policy(nan_policy, x, xp=xp)
    return x, xp, result_dtype


#: Column j is numerically dependent on the others (and on the constant) when its residual
#: |R_jj| is below RANK_TOLERANCE * D * eps times its norm. Exactly collinear data measured
#: |R_jj| / norm <= 0.4 D eps to 7.6 D eps (float32 and float64, N in 10..2e5, D in 3..200).
RANK_TOLERANCE = 32.0


def standardized(x, *, xp):
    """``(y, singular)``: rows with :math:`y_i^\\top y_j = (x_i - \\bar x)^\\top S^{-1} (x_j - \\bar x)`.

    Each column is divided by its largest magnitude (the tests are affine
    invariant: this changes nothing but keeps any scale in range), centered
    and factored by Householder QR, ``Q R``; then :math:`S = R^\\top R / N`
    and :math:`y = \\sqrt N Q`, without squaring the condition number as a
    Cholesky factor of S does. ``singular`` (shape ``(...)``) marks the batch
    elements where some :math:`|R_{jj}|` is at most ``RANK_TOLERANCE * D *
    eps`` times the norm of the scaled column j, that is within its rounding
    noise of the span of the others: a constant or collinear column.
    """
    n, dim = x.shape[-2], x.shape[-1]
    magnitude = xp.max(xp.abs(x), axis=-2, keepdims=True)
    scaled = x / xp.where(magnitude > 0, magnitude, xp.ones_like(magnitude))
    centered = scaled - xp.mean(scaled, axis=-2, keepdims=True)
    q, r = xp.linalg.qr(centered)
    residual = xp.abs(xp.linalg.diagonal(r))
    tolerance = RANK_TOLERANCE * dim * float(xp.finfo(x.dtype).eps)
    singular = xp.any(residual <= tolerance * xp.linalg.vector_norm(scaled, axis=-2), axis=-1)
    return q * math.sqrt(n), singular


def pairwise_sum(y, kernel, *, xp):
    """:math:`\\sum_{i,j} k(y_i^\\top y_j, |y_i|^2, |y_j|^2)`, a block of rows at a time."""
    n = y.shape[-2]
    norms = xp.sum(y * y, axis=-1)
    rows = max(1, _ELEMENTS_PER_BLOCK // max(1, n * math.prod(y.shape[:-2])))
    total = None
    for start in range(0, n, rows):
        inner = xp.matmul(y[..., start:min(start + rows, n), :], xp.matrix_transpose(y))
        part = xp.sum(kernel(inner, norms[..., start:min(start + rows, n), None], norms[..., None, :]), axis=(-2, -1))
        total = part if total is None else total + part
    return total


def _bhep_statistic(y, beta, *, xp):
    n, dim = y.shape[-2], y.shape[-1]
    b2 = beta * beta

    def gaussian_kernel(inner, norm_i, norm_j):
        return xp.exp(-0.5 * b2 * (norm_i + norm_j - 2.0 * inner))

    pairs = pairwise_sum(y, gaussian_kernel, xp=xp)
    norms = xp.sum(y * y, axis=-1)
    singles = xp.sum(xp.exp(-0.5 * b2 / (1.0 + b2) * norms), axis=-1)
    return (pairs / n - 2.0 * (1.0 + b2) ** (-dim / 2.0) * singles
            + n * (1.0 + 2.0 * b2) ** (-dim / 2.0))


def _lognormal_moments(beta: float, dim: int):
    """Mean and variance of the BHEP statistic under H0 (Henze & Zirkler 1990)."""
    b2, p = beta * beta, float(dim)
    a = 1.0 + 2.0 * b2
    mean = 1.0 - a ** (-p / 2) * (1.0 + p * b2 / a + p * (p + 2) * b2**2 / (2 * a**2))
    w = (1.0 + b2) * (1.0 + 3.0 * b2)
    variance = (
        2.0 * (1.0 + 4.0 * b2) ** (-p / 2)
        + 2.0 * a ** (-p) * (1.0 + 2.0 * p * b2**2 / a**2 + 3.0 * p * (p + 2) * b2**4 / (4 * a**4))
        - 4.0 * w ** (-p / 2) * (1.0 + 3.0 * p * b2**2 / (2 * w) + p * (p + 2) * b2**4 / (2 * w**2))
    )
    return mean, variance


def _lognormal_pvalue(statistic, beta, dim, *, xp):
    mean, variance = _lognormal_moments(beta, dim)
    spread = math.log1p(max(variance, 1e-300) / mean**2)  # variance ~ 1e-19 at D = 64
    log_scale, shape = math.log(mean) - 0.5 * spread, math.sqrt(spread)
    ndtr = sketchtest_backends.for_namespace(xp).ndtr
    return ndtr(-(xp.log(statistic) - log_scale) / shape)


def _run_bhep(x, beta_rule, *, method, n_resamples, seed, test, nan_policy, float32_beta_range=None):
    check_method(method, choices=("lognormal", "monte_carlo"))
    n_resamples = check_int(n_resamples, name="n_resamples", minimum=1)
    check_seed(seed)
    x, xp, result_dtype = _prepare(x, nan_policy)
    dim = x.shape[-1]
    if float32_beta_range is not None and wide_dtype(x, xp=xp) != xp.float64:
        check_real(beta_rule(x.shape[-2], dim), name="beta (on a device without float64)",
                   minimum=float32_beta_range[0], maximum=float32_beta_range[1])

    def compute(samples, *, xp):
        beta = beta_rule(samples.shape[-2], dim)
        y, singular = standardized(samples, xp=xp)
        # float64 where the device has it: the statistic's three O(N) terms cancel to
        # O(N beta^6) at small beta and to 1 + O(spread) at large beta
        statistic = _bhep_statistic(xp.astype(y, wide_dtype(y, xp=xp)), beta, xp=xp)
        pvalue = _lognormal_pvalue(statistic, beta, dim, xp=xp)
        return nan_where(singular, statistic, xp=xp), nan_where(singular, pvalue, xp=xp)

    def run(samples):
        statistic, pvalue = compute(samples, xp=xp)
        if method == "monte_carlo":
            n = samples.shape[-2]

            def simulate(draws, *, xp):
                return compute(xp.reshape(draws, (draws.shape[0], n, dim)), xp=xp)

            pvalue = monte_carlo_pvalue(statistic, simulate, xp=xp, n=n * dim, n_resamples=n_resamples,
                                        seed=seed, key=(test, beta_rule(n, dim), dim))
        return statistic, pvalue

    statistic, pvalue = apply_row_nan_policy(x, run, xp=xp, nan_policy=nan_policy, min_samples=dim + 1)
    return NormalityResult(xp.astype(statistic, result_dtype), xp.astype(pvalue, result_dtype),
                           test=test, null="normal", method=method,
                           extras={"beta": beta_rule(x.shape[-2], dim)})


def henze_zirkler_beta(n: int, dim: int) -> float:
    r"""Henze & Zirkler's bandwidth :math:`\beta = \frac{1}{\sqrt 2}\left(\frac{N(2D+1)}{4}\right)^{1/(D+4)}`."""
    return ((2.0 * dim + 1.0) * n / 4.0) ** (1.0 / (dim + 4.0)) / math.sqrt(2.0)


def henze_zirkler(
    x: Array, /, *, method: Literal["lognormal", "monte_carlo"] = "lognormal", n_resamples: int = 9999,
    seed: Seed = None, nan_policy: NanPolicy = "propagate",
) -> NormalityResult:
    r"""Henze-Zirkler test of multivariate normality.

    With :math:`y_i` the samples standardized by the sample mean and the
    biased covariance (ddof = 0), :math:`D_{ij} = |y_i - y_j|^2`,
    :math:`D_i = |y_i|^2` and the bandwidth of Henze & Zirkler (1990),
    :math:`\beta = \frac{1}{\sqrt 2}\left(\frac{N(2D+1)}{4}\right)^{1/(D+4)}`,

    .. math::

        HZ = \frac1N \sum_{i,j} e^{-\frac{\beta^2}{2} D_{ij}}
        - 2(1+\beta^2)^{-D/2} \sum_i e^{-\frac{\beta^2}{2(1+\beta^2)} D_i}
        + N (1 + 2\beta^2)^{-D/2},

    the BHEP statistic (:func:`bhep`) at that bandwidth. Large values reject.

    Parameters
    ----------
    x : array_like
        Samples of shape ``(..., N, D)`` with N > D (a batch on leading axes).
    method : {"lognormal", "monte_carlo"}, default "lognormal"
        ``"lognormal"``: HZ is log-normal with the exact null mean and
        variance of Henze & Zirkler (as R's MVN and pingouin). In high
        dimension (D of several tens) that null degenerates (its variance
        falls below 1e-15): use ``"monte_carlo"`` there (it held its level
        at N = 1024, D = 64). By D of a few hundred the statistic is 1 to
        rounding whatever the data; prefer :func:`sketchtest.sliced_test`.
        ``"monte_carlo"``: the statistic of `n_resamples` N(0, I) samples of
        the same shape (the test is affine invariant, so this is exact).
    n_resamples : int, default 9999
        Null replicates for ``method="monte_carlo"``.
    seed : int or numpy.random.Generator, optional
        Seed of the Monte Carlo null.
    nan_policy : {"propagate", "raise", "omit"}, default "propagate"
        What to do with samples (rows) holding a NaN or an infinity: NaN
        results for the affected batch elements, raise ``ValueError``, or
        drop those rows, each batch element on its own (eager only; NaN where
        D or fewer samples remain).

    Returns
    -------
    NormalityResult
        ``statistic`` and ``pvalue`` of shape ``(...)``, NaN where the
        sample covariance is numerically singular; ``extras["beta"]``.

    References
    ----------
    .. [1] N. Henze and B. Zirkler, "A class of invariant consistent tests for
       multivariate normality", Communications in Statistics - Theory and
       Methods 19(10), 3595-3617, 1990.

    Examples
    --------
    >>> import numpy as np
    >>> import sketchtest as st
    >>> x = np.random.default_rng(0).standard_normal((200, 3))
    >>> bool(st.henze_zirkler(x).pvalue > 0.01)
    True
    >>> bool(st.henze_zirkler(np.exp(x)).pvalue < 1e-6)
    True
    """
    return _run_bhep(x, henze_zirkler_beta, method=method, n_resamples=n_resamples, seed=seed,
                     test="henze_zirkler", nan_policy=nan_policy)


def bhep(
    x: Array, /, *, beta: float = 1.0, method: Literal["lognormal", "monte_carlo"] = "lognormal",
    n_resamples: int = 9999, seed: Seed = None, nan_policy: NanPolicy = "propagate",
) -> NormalityResult:
    r"""BHEP test of multivariate normality (Baringhaus-Henze-Epps-Pulley).

    The weighted :math:`L^2` distance between the empirical characteristic
    function of the standardized samples :math:`y_i` (sample mean, biased
    covariance) and :math:`e^{-|t|^2/2}`, weight :math:`N(0, \beta^2 I)`:

    .. math::

        T_\beta = \frac1N \sum_{i,j} e^{-\frac{\beta^2}{2} |y_i - y_j|^2}
        - 2(1+\beta^2)^{-D/2} \sum_i e^{-\frac{\beta^2}{2(1+\beta^2)} |y_i|^2}
        + N (1 + 2\beta^2)^{-D/2}.

    Small :math:`\beta` weighs the low frequencies (moments, skewness and
    kurtosis); large :math:`\beta` the fine structure.

    Parameters
    ----------
    x : array_like
        Samples of shape ``(..., N, D)`` with N > D.
    beta : float, default 1.0
        Bandwidth of the weight function, in ``[0.1, 100]``: below 0.1 the
        statistic (of order beta^6) and the null variance cancel to
        rounding; Henze-Zirkler's own bandwidth stays above 0.7. The
        statistic is summed in float64 where the device has it; on a device
        without float64 the range is ``[0.3, 30]``.
    method : {"lognormal", "monte_carlo"}, default "lognormal"
        Log-normal approximation with the exact null mean and variance of
        Henze & Zirkler (1990), or an exact Monte Carlo null.
    n_resamples : int, default 9999
        Null replicates for ``method="monte_carlo"``.
    seed : int or numpy.random.Generator, optional
        Seed of the Monte Carlo null.
    nan_policy : {"propagate", "raise", "omit"}, default "propagate"
        What to do with samples (rows) holding a NaN or an infinity: NaN
        results for the affected batch elements, raise ``ValueError``, or
        drop those rows, each batch element on its own (eager only; NaN where
        D or fewer samples remain).

    Returns
    -------
    NormalityResult
        ``statistic`` and ``pvalue`` of shape ``(...)``, NaN where the
        sample covariance is numerically singular.

    References
    ----------
    .. [1] L. Baringhaus and N. Henze, "A consistent test for multivariate
       normality based on the empirical characteristic function", Metrika
       35, 339-348, 1988.
    .. [2] N. Henze and B. Zirkler (1990), see :func:`henze_zirkler`.

    Examples
    --------
    >>> import numpy as np
    >>> import sketchtest as st
    >>> x = np.random.default_rng(1).standard_normal((300, 4))
    >>> bool(st.bhep(x, beta=0.5).pvalue > 0.01)
    True
    """
    beta = check_real(beta, name="beta", minimum=BETA_RANGE[0], maximum=BETA_RANGE[1])
    return _run_bhep(x, lambda n, dim: beta, method=method, n_resamples=n_resamples, seed=seed, test="bhep",
                     nan_policy=nan_policy, float32_beta_range=FLOAT32_BETA_RANGE)


#: Bandwidths of :func:`bhep`: below 0.1 the float64 null variance of Henze & Zirkler loses
#: its digits to cancellation (relative error 6e-6 at 0.1, 70 at 0.03 for D = 1; mpmath).
BETA_RANGE = (0.1, 100.0)
#: Where the statistic must be computed in float32 (no float64 on the device): Gaussian data,
#: N = 500, D = 3 gave p = 0.0017 for 0.90 at beta = 0.1 and 0.64 for 0.59 at 100; within
#: 0.007 of float64 over [0.3, 30].
FLOAT32_BETA_RANGE = (0.3, 30.0)


@dataclass(frozen=True, repr=False)
class MardiaResult(NormalityResult):
    """Mardia's test: the skewness and kurtosis parts and their combination.

    ``statistic`` is :math:`\\min(p_{skew}, p_{kurt})` and ``pvalue`` is
    the Bonferroni combination :math:`\\min(1, 2 \\min(p_{skew}, p_{kurt}))`.
    """

    skewness: object = None
    skewness_statistic: object = None
    skewness_pvalue: object = None
    kurtosis: object = None
    kurtosis_statistic: object = None
    kurtosis_pvalue: object = None

    def __repr__(self) -> str:
        return (f"MardiaResult(pvalue={_describe(self.pvalue)}, "
                f"skewness_pvalue={_describe(self.skewness_pvalue)}, "
                f"kurtosis_pvalue={_describe(self.kurtosis_pvalue)})")


def mardia(x: Array, /, *, nan_policy: NanPolicy = "propagate") -> NormalityResult:
    r"""Mardia's tests of multivariate skewness and kurtosis, and their combination.

    With :math:`g_{ij} = (x_i - \bar x)^\top S^{-1} (x_j - \bar x)` and the
    biased covariance S (ddof = 0), Mardia (1970) defines

    .. math::

        b_{1,D} = \frac{1}{N^2} \sum_{i,j} g_{ij}^3, \qquad
        b_{2,D} = \frac1N \sum_i g_{ii}^2,

    with :math:`N b_{1,D} / 6 \sim \chi^2_{D(D+1)(D+2)/6}` and
    :math:`z = (b_{2,D} - D(D+2)) / \sqrt{8 D (D+2) / N} \sim N(0, 1)` under
    H0 (both asymptotically). The skewness p-value is the upper chi-square
    tail, the kurtosis p-value two-sided; the combined ``pvalue`` is their
    Bonferroni combination :math:`\min(1, 2\min(p_{skew}, p_{kurt}))`, a
    valid level-alpha test of normality whatever the dependence between the
    two parts. Both limits need N large against D: at N = 1024 the test
    rejects N(0, I) in 14% of samples for D = 64 and always for D = 512
    (``docs/benchmarks/sliced.rst``); prefer :func:`sketchtest.sliced_test`
    in high dimension.

    Parameters
    ----------
    x : array_like
        Samples of shape ``(..., N, D)`` with N > D.
    nan_policy : {"propagate", "raise", "omit"}, default "propagate"
        What to do with samples (rows) holding a NaN or an infinity: NaN
        results for the affected batch elements, raise ``ValueError``, or
        drop those rows, each batch element on its own (eager only; NaN where
        D or fewer samples remain).

    Returns
    -------
    MardiaResult
        ``pvalue`` (combined), ``statistic`` (the smaller part p-value),
        ``skewness`` (:math:`b_{1,D}`), ``skewness_statistic``,
        ``skewness_pvalue``, ``kurtosis`` (:math:`b_{2,D}`),
        ``kurtosis_statistic`` (z) and ``kurtosis_pvalue``; all NaN where
        the sample covariance is numerically singular.

    References
    ----------
    .. [1] K. V. Mardia, "Measures of multivariate skewness and kurtosis with
       applications", Biometrika 57(3), 519-530, 1970.

    Examples
    --------
    >>> import numpy as np
    >>> import sketchtest as st
    >>> x = np.random.default_rng(0).standard_normal((400, 3))
    >>> result = st.mardia(x)
    >>> bool(result.skewness_pvalue > 0.01), bool(result.kurtosis_pvalue > 0.01)
    (True, True)
    """
    x, xp, result_dtype = _prepare(x, nan_policy)
    parts = apply_row_nan_policy(
        x, lambda samples: _mardia_parts(samples, xp=xp), xp=xp, nan_policy=nan_policy, min_samples=x.shape[-1] + 1)
    smaller, skewness, skewness_statistic, skewness_pvalue, kurtosis, kurtosis_statistic, kurtosis_pvalue = (
        xp.astype(part, result_dtype) for part in parts)
    return MardiaResult(
        smaller, xp.clip(2.0 * smaller, 0.0, 1.0), test="mardia", null="normal",
        method="asymptotic", skewness=skewness, skewness_statistic=skewness_statistic,
        skewness_pvalue=skewness_pvalue, kurtosis=kurtosis,
        kurtosis_statistic=kurtosis_statistic, kurtosis_pvalue=kurtosis_pvalue)


def _mardia_parts(x, *, xp):
    """The smaller part p-value, then skewness, its statistic and p-value, and the same for kurtosis."""
    n, dim = x.shape[-2], x.shape[-1]
    y, singular = standardized(x, xp=xp)
    skewness = pairwise_sum(y, lambda inner, norm_i, norm_j: inner * inner * inner, xp=xp) / float(n * n)
    norms = xp.sum(y * y, axis=-1)
    kurtosis = xp.mean(norms * norms, axis=-1)
    dof = dim * (dim + 1) * (dim + 2) // 6
    skewness_statistic = n * skewness / 6.0
    skewness_pvalue = chi2_sf(skewness_statistic, dof, xp=xp)
    kurtosis_statistic = (kurtosis - dim * (dim + 2.0)) / math.sqrt(8.0 * dim * (dim + 2.0) / n)
    ndtr = sketchtest_backends.for_namespace(xp).ndtr
    kurtosis_pvalue = 2.0 * ndtr(-xp.abs(kurtosis_statistic))
    smaller = xp.minimum(skewness_pvalue, kurtosis_pvalue)
    parts = (smaller, skewness, skewness_statistic, skewness_pvalue, kurtosis, kurtosis_statistic, kurtosis_pvalue)
    return tuple(nan_where(singular, part, xp=xp) for part in parts)
