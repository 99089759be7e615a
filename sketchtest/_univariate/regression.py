"""Regression tests of normality: Shapiro-Wilk and Shapiro-Francia.

Both statistics are the squared correlation of the ordered sample with a
fixed vector of coefficients that depends on n only. The coefficients are
computed once per n on the host (NumPy), cached, and moved to the caller's
device; everything that depends on the data (one sort, a few reductions, the
normalizing transform of the p-value) runs in the caller's namespace without
value-dependent Python control flow.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

import sketchtest_backends
from sketchtest_backends import standard as _standard
from sketchtest._compat import device, host_constant
from sketchtest._univariate.base import (
    resolve_auto_method, run_univariate, sample_count, shared_docs, standardize,
)
from sketchtest._validation import check_choice, check_method
from typing import Literal
from sketchtest._typing import Array, NanPolicy, Null, Seed
from sketchtest._result import NormalityResult

__all__ = ["shapiro_wilk", "shapiro_francia"]

_METHODS = ("auto", "royston", "monte_carlo")
#: ``method="auto"`` simulates the null below this n: Royston's Shapiro-Francia
#: p-values were measured 0.105 (n=5) and 0.028 (n=10) from uniform in
#: Kolmogorov distance (10,000 replicates).
_MONTE_CARLO_BELOW = {"shapiro_francia": 10}
_LARGEST_FITTED_N = 5000

# Royston (1995), algorithm AS R94: polynomials in ascending powers.
_LAST_COEFFICIENT = (0.0, 0.221157, -0.147981, -2.07119, 4.434685, -2.706056)
_SECOND_LAST_COEFFICIENT = (0.0, 0.042981, -0.293762, -1.752461, 5.682633, -3.582633)
_SMALL_N_MEAN = (0.5440, -0.39978, 0.025054, -6.714e-4)
_SMALL_N_LOG_SD = (1.3822, -0.77857, 0.062767, -0.0020322)
_SMALL_N_GAMMA = (-2.273, 0.459)
_LARGE_N_MEAN = (-1.5861, -0.31082, -0.083751, 0.0038915)
_LARGE_N_LOG_SD = (-0.4803, -0.082676, 0.0030302)
_SMALLEST_PVALUE = 1e-19  # AS R94 reports this when log(1 - W) is beyond gamma (n <= 11)

# Royston (1993): ln(1 - W') ~ N(mu, sigma) with u = ln n, v = ln u.
_FRANCIA_MEAN = (-1.2725, 1.0521)  # mu = -1.2725 + 1.0521 (v - u)
_FRANCIA_SD = (1.0308, -0.26758)  # sigma = 1.0308 - 0.26758 (v + 2 / u)


def _polynomial(coefficients, x: float) -> float:
    return sum(c * x**power for power, c in enumerate(coefficients))


def _lower_quantiles_as241(p):
    """Normal quantiles to double precision (Wichura's AS 241) for ``0 < p <= 1/2``."""
    q = np.maximum(p - 0.5, -0.425)
    r = 0.180625 - q * q
    central = q * _standard._horner(_standard._PPND_CENTRAL_NUM, r) / _standard._horner(
        _standard._PPND_CENTRAL_DEN, r)
    r = np.sqrt(-np.log(p))
    near = -_standard._horner(_standard._PPND_NEAR_NUM, r - 1.6) / _standard._horner(
        _standard._PPND_NEAR_DEN, r - 1.6)
    far = -_standard._horner(_standard._PPND_FAR_NUM, r - 5.0) / _standard._horner(
        _standard._PPND_FAR_DEN, r - 5.0)
    return np.where(p - 0.5 >= -0.425, central, np.where(r <= 5.0, near, far))


def _centered_unit_weights(half, n: int):
    """Length-`n` weights of the ordered sample, ``-half[i]`` low and ``+half[i]`` high,
    centered and scaled to unit norm.

    The host constants are computed with whole-array NumPy operations only (no
    Python loops, no conversions to ``float``): ``torch.compile`` traces through
    this code, and turns it into a few tensor operations.
    """
    weights = np.concatenate([-half, np.zeros(n - 2 * (n // 2)), np.flip(half)])
    weights = weights - np.mean(weights)
    return weights / np.sqrt(np.sum(weights * weights))


@host_constant
def _wilk_weights(n: int):
    """Royston's approximation of the Shapiro-Wilk coefficients, unit norm (AS R94)."""
    if n == 3:
        return _centered_unit_weights(np.full(1, math.sqrt(0.5)), n)
    # Phi^-1 to double precision, as R's swilk.c (qnorm); SciPy's swilk uses AS 111's 7-digit
    # quantiles, which moves W by up to 1.6e-9 relative (see shapiro_wilk's Notes)
    m = _lower_quantiles_as241((np.arange(1, n // 2 + 1) - 0.375) / (n + 0.25))
    sum_m2 = 2.0 * np.sum(m * m)
    root_n = 1.0 / math.sqrt(n)
    k = 2 if n > 5 else 1  # outer pairs given by Royston's polynomials
    polynomials = (_LAST_COEFFICIENT, _SECOND_LAST_COEFFICIENT)[:k]
    fixed = np.asarray([_polynomial(c, root_n) for c in polynomials]) - m[:k] / np.sqrt(sum_m2)
    scale = np.sqrt((sum_m2 - 2.0 * np.sum(m[:k] ** 2)) / (1.0 - 2.0 * np.sum(fixed * fixed)))
    return _centered_unit_weights(np.concatenate([fixed, -m[k:] / scale]), n)


@host_constant
def _blom_scores(n: int):
    """Blom's normal scores Phi^-1((i - 3/8) / (n + 1/4)), centered, unit norm."""
    lower = _lower_quantiles_as241((np.arange(1, n // 2 + 1) - 0.375) / (n + 0.25))
    return _centered_unit_weights(-lower, n)


def _one_minus_squared_correlation(y, weights, *, xp):
    """``1 - W = |c - p w|^2 / |c|^2``, ``p = w . c``, `c` the centered ordered sample.

    For unit-norm, zero-mean `weights` this is ``1 - (sum_i w_i y_(i))^2 /
    sum_i (y_i - ybar)^2``; summing the squared residuals of the projection
    (orthogonal to `weights`, so first-order errors in the projection cancel)
    keeps the relative precision of ``1 - W`` near W = 1, where the p-value
    lives (in float32 at n = 5000, p-values then agree with float64 to 2e-5;
    computing ``1 - W`` by subtraction gave 4e-2). The sample is standardized
    first (:func:`sketchtest._univariate.base.standardize`), so no sum overflows
    or underflows at any scale, and degenerate samples give NaN.
    """
    ordered = xp.sort(y, axis=-1, stable=False)  # ties are equal values: any order will do
    centered = standardize(ordered, xp=xp)  # increasing: the order is kept
    weights = xp.asarray(weights, dtype=y.dtype, device=device(y))
    projection = xp.sum(centered * weights, axis=-1, keepdims=True)
    # c / p - w, then times p^2: the same residual without materializing the outer
    # product p w (slow on transposed layouts); p > 0 whenever the range is (a_i > 0).
    residual = centered / projection - weights
    projection = projection[..., 0]
    return (xp.sum(residual * residual, axis=-1) * (projection * projection)
            / xp.sum(centered * centered, axis=-1))


def _upper_tail(z, *, xp):
    return sketchtest_backends.for_namespace(xp).ndtr(-z)


def _wilk_pvalue(one_minus_w, n: int, *, xp):
    """Royston's (1992, 1995) p-value of W, exact for n = 3."""
    if n == 3:
        w = xp.clip(1.0 - one_minus_w, 0.75, 1.0)
        return xp.clip(1.0 - 6.0 / math.pi * xp.acos(xp.sqrt(w)), 0.0, 1.0)
    log_one_minus_w = xp.log(one_minus_w)
    if n <= 11:
        gamma = _polynomial(_SMALL_N_GAMMA, n)
        beyond = log_one_minus_w >= gamma
        gap = xp.where(beyond, xp.ones_like(log_one_minus_w), gamma - log_one_minus_w)
        z = (-xp.log(gap) - _polynomial(_SMALL_N_MEAN, n)) / math.exp(_polynomial(_SMALL_N_LOG_SD, n))
        smallest = xp.full_like(z, _SMALLEST_PVALUE)
        return xp.where(beyond, smallest, _upper_tail(z, xp=xp))
    log_n = math.log(n)
    mean = _polynomial(_LARGE_N_MEAN, log_n)
    sd = math.exp(_polynomial(_LARGE_N_LOG_SD, log_n))
    return _upper_tail((log_one_minus_w - mean) / sd, xp=xp)


def _francia_pvalue(one_minus_w, n: int, *, xp):
    """Royston's (1993) p-value: ln(1 - W') ~ N(mu(n), sigma(n))."""
    u = math.log(n)
    v = math.log(u)
    mean = _FRANCIA_MEAN[0] + _FRANCIA_MEAN[1] * (v - u)
    sd = _FRANCIA_SD[0] + _FRANCIA_SD[1] * (v + 2.0 / u)
    return _upper_tail((xp.log(one_minus_w) - mean) / sd, xp=xp)


def _warn_beyond_fit(test: str, n: int) -> None:
    if n > _LARGEST_FITTED_N:
        warnings.warn(
            f"{test}: Royston's p-value approximation was fitted for n <= {_LARGEST_FITTED_N}; "
            f"with n = {n} it is extrapolated and may be inaccurate (method='monte_carlo' is exact "
            "up to simulation error)",
            UserWarning,
            stacklevel=4,
        )


def _run_regression_test(x, *, test, weights_for, pvalue_for, min_samples, options):
    """Shared body of both tests; `options` holds the public keyword arguments."""
    check_choice(options["null"], name="null", choices=("normal",))
    check_method(options["method"], choices=_METHODS)
    method = options["method"]
    if method == "auto":
        below = _MONTE_CARLO_BELOW.get(test, 0)
        method = resolve_auto_method(x, axis=options["axis"], monte_carlo_below=below, otherwise="royston")
    # Shapiro-Wilk's p-value is exact for n = 3 (result.method says so)
    label = "exact" if method == "royston" and sample_count(x, axis=options["axis"]) == 3 else method

    def compute(y, *, xp):
        n = y.shape[-1]
        one_minus_w = _one_minus_squared_correlation(y, weights_for(n), xp=xp)
        if method == "royston":
            _warn_beyond_fit(test, n)
        return 1.0 - one_minus_w, pvalue_for(one_minus_w, n, xp=xp)

    return run_univariate(
        x, compute, axis=options["axis"], keepdims=options["keepdims"],
        nan_policy=options["nan_policy"], min_samples=min_samples, test=test, null="normal",
        method=label, n_resamples=options["n_resamples"], seed=options["seed"],
        larger_is_extreme=False,
    )


@shared_docs
def shapiro_wilk(
    x: Array, /, *, axis: int = 0, null: Null = "normal",
    method: Literal["auto", "royston", "monte_carlo"] = "auto", n_resamples: int = 9999, seed: Seed = None,
    nan_policy: NanPolicy = "propagate", keepdims: bool = False,
) -> NormalityResult:
    r"""Shapiro-Wilk test of normality, with Royston's approximations (AS R94).

    .. math::

        W = \frac{\left(\sum_{i=1}^n a_i\, x_{(i)}\right)^2}{\sum_{i=1}^n (x_i - \bar x)^2},

    where :math:`x_{(1)} \le \dots \le x_{(n)}` is the ordered sample and
    :math:`a` the unit-norm, antisymmetric coefficients of Royston (1992):
    :math:`a_i \propto m_i = \Phi^{-1}((i - 3/8)/(n + 1/4))` except the two
    outermost pairs, given by polynomials in :math:`1/\sqrt n` (one pair for
    n <= 5; :math:`a = (-\sqrt{1/2}, 0, \sqrt{1/2})` for n = 3). Small `W`
    rejects. The p-value is exact for n = 3; for 4 <= n <= 11,
    :math:`-\ln(\gamma(n) - \ln(1 - W))`, and for n >= 12, :math:`\ln(1 - W)`,
    is taken as normal with Royston's polynomial mean and standard deviation.
    The quantiles :math:`m_i` are :math:`\Phi^{-1}` to double precision
    (Wichura's AS 241), as in R's ``shapiro.test``, which this reproduces.
    :func:`scipy.stats.shapiro` takes them from AS 111 (about 7 digits):
    measured over n = 3 to 5000, W then differs by up to 6.4e-10 relative
    and p by up to 4.4e-7 absolute.

    The test is composite (H0: N(mu, sigma^2), both unknown), and `W` is
    invariant to location and scale, so ``null`` only accepts ``"normal"``.

    Parameters
    ----------
    x : array_like
        Samples along `axis`; every other axis is a batch. At least 3 samples.
        Royston's p-value was fitted for n <= 5000; beyond that the same
        formula is extrapolated and a ``UserWarning`` is issued (as SciPy
        does); the statistic itself is accurate for every n.
    axis : int, default 0
        Axis holding the samples.
    null : {"normal"}, default "normal"
        Any Gaussian, as SciPy's normality tests: H0 is N(mu, sigma^2) with
        both unknown, the only null of this location- and scale-invariant test.
    method : {"auto", "royston", "monte_carlo"}, default "auto"
        ``"auto"`` and ``"royston"``: Royston's approximation (SciPy's
        p-value). ``"monte_carlo"``: the null of `W` simulated at this n with
        `n_resamples` draws from `seed` (small `W` is extreme).
    {shared_parameters}

    References
    ----------
    .. [1] S. S. Shapiro and M. B. Wilk, "An analysis of variance test for
       normality (complete samples)", Biometrika 52(3/4), 591-611, 1965.
    .. [2] P. Royston, "Approximating the Shapiro-Wilk W-test for
       non-normality", Statistics and Computing 2, 117-119, 1992.
    .. [3] P. Royston, "Remark AS R94: A remark on algorithm AS 181: the
       W-test for normality", Applied Statistics 44(4), 547-551, 1995.

    Examples
    --------
    >>> import numpy as np
    >>> import sketchtest as st
    >>> x = np.random.default_rng(0).standard_normal(100)
    >>> result = st.shapiro_wilk(x)
    >>> bool(0.9 < result.statistic <= 1.0), bool(result.pvalue > 0.01)
    (True, True)
    """
    return _run_regression_test(
        x, test="shapiro_wilk", weights_for=_wilk_weights, pvalue_for=_wilk_pvalue,
        min_samples=3, options=dict(
            axis=axis, null=null, method=method, n_resamples=n_resamples, seed=seed,
            nan_policy=nan_policy, keepdims=keepdims,
        ),
    )


@shared_docs
def shapiro_francia(
    x: Array, /, *, axis: int = 0, null: Null = "normal",
    method: Literal["auto", "royston", "monte_carlo"] = "auto", n_resamples: int = 9999, seed: Seed = None,
    nan_policy: NanPolicy = "propagate", keepdims: bool = False,
) -> NormalityResult:
    r"""Shapiro-Francia test of normality, with Royston's (1993) p-value.

    .. math::

        W' = \operatorname{corr}\left(x_{(i)}, m_i\right)^2
           = \frac{\left(\sum_i \tilde m_i\, x_{(i)}\right)^2}
                  {\sum_i \tilde m_i^2 \, \sum_i (x_i - \bar x)^2},
        \qquad m_i = \Phi^{-1}\!\left(\frac{i - 3/8}{n + 1/4}\right),

    with :math:`\tilde m = m - \bar m` (Blom's scores, as R's
    ``nortest::sf.test``). Small `W'` rejects. Royston (1993) takes
    :math:`\ln(1 - W')` as normal with, for :math:`u = \ln n`,
    :math:`v = \ln u`,

    .. math::

        \mu = -1.2725 + 1.0521\,(v - u), \qquad
        \sigma = 1.0308 - 0.26758\,(v + 2/u),

    and :math:`p = 1 - \Phi((\ln(1 - W') - \mu)/\sigma)`. The fit covers
    5 <= n <= 5000; beyond 5000 the formula is extrapolated with a
    ``UserWarning`` (R refuses such samples).

    Parameters
    ----------
    x : array_like
        Samples along `axis`; every other axis is a batch. At least 5 samples.
    axis : int, default 0
        Axis holding the samples.
    null : {"normal"}, default "normal"
        Any Gaussian, as SciPy's normality tests: H0 is N(mu, sigma^2) with
        both unknown, the only null of this location- and scale-invariant test.
    method : {"auto", "royston", "monte_carlo"}, default "auto"
        ``"royston"``: the formula above. ``"auto"``: the same from n = 10 on,
        Monte Carlo below (eager inputs). ``"monte_carlo"``: the null of `W'`
        simulated at this n with `n_resamples` draws.
    {shared_parameters}

    References
    ----------
    .. [1] S. S. Shapiro and R. S. Francia, "An approximate analysis of
       variance test for normality", Journal of the American Statistical
       Association 67(337), 215-216, 1972.
    .. [2] P. Royston, "A pocket-calculator algorithm for the Shapiro-Francia
       test for non-normality: an application to medicine", Statistics in
       Medicine 12(2), 181-184, 1993.

    Examples
    --------
    >>> import numpy as np
    >>> import sketchtest as st
    >>> x = np.random.default_rng(0).standard_normal(100)
    >>> result = st.shapiro_francia(x)
    >>> bool(0.9 < result.statistic <= 1.0), bool(result.pvalue > 0.01)
    (True, True)
    """
    return _run_regression_test(
        x, test="shapiro_francia", weights_for=_blom_scores, pvalue_for=_francia_pvalue,
        min_samples=5, options=dict(
            axis=axis, null=null, method=method, n_resamples=n_resamples, seed=seed,
            nan_policy=nan_policy, keepdims=keepdims,
        ),
    )
