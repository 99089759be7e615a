"""EDF tests: Cramér-von Mises, Anderson-Darling, Watson, Kolmogorov-Smirnov.

Each statistic compares the empirical distribution function of the samples
with the standard normal CDF :math:`\\Phi`, after one sort along the sample
axis. ``null="normal"`` (the default, as SciPy's normality tests) compares
:math:`z_i = (x_i - \\bar x)/s` with
:math:`s^2 = \\frac{1}{n-1}\\sum (x_i - \\bar x)^2` (ddof=1, the convention of
:func:`scipy.stats.anderson` and of D'Agostino & Stephens 1986), H0 being
N(mu, sigma^2) with both unknown; ``null="standard"`` compares the samples
themselves (H0: N(0, 1)). The p-value formulas live in
:mod:`sketchtest._nulls.edf` and :mod:`sketchtest._nulls.ks`.
"""

from __future__ import annotations

import math

import numpy as np

import sketchtest_backends
from sketchtest._nulls import edf as nulls
from sketchtest._compat import host_constant
from sketchtest._nulls.ks import kolmogorov_smirnov_exact_sf
from sketchtest._univariate.base import (
    SHARED_PARAMETERS_DOC, resolve_auto_method, run_univariate, sample_index, standardize,
)
from sketchtest._validation import check_choice, check_method
from typing import Literal
from sketchtest._typing import Array, Function, NanPolicy, Null, Seed
from sketchtest._result import NormalityResult

__all__ = ["cramer_von_mises", "anderson_darling", "watson", "kolmogorov_smirnov"]

_COMMON_PARAMETERS = """
    Parameters
    ----------
    x : array_like
        Samples along `axis`; every other axis is a batch. At least 2 samples.
    axis : int, default 0
        Axis holding the samples.
    null : {"normal", "standard"}, default "normal"
        ``"normal"`` (the default): any Gaussian, as SciPy's normality tests;
        H0 is N(mu, sigma^2) with both estimated (ddof=1). ``"standard"``:
        H0 is N(0, 1) exactly.
    method : str, default "auto"
        How the p-value is computed; see the list above. ``"monte_carlo"``
        simulates the null at this n with `n_resamples` draws from `seed`.
        ``"auto"`` also switches to Monte Carlo (eager inputs only) below the
        sample sizes where the analytic null was not fitted or was measured
        off in the body of the distribution: n < 25 for Cramér-von Mises,
        Anderson-Darling and Watson under ``"normal"`` and Watson under
        ``"standard"``, n < 10 for Kolmogorov-Smirnov under ``"normal"``.
    {shared_parameters}

""".replace("    {shared_parameters}\n", SHARED_PARAMETERS_DOC)


# The p-value of the composite null, the same for Cramér-von Mises, Anderson-Darling and Watson.
_COMPOSITE_NULL_METHODS = """    - ``"normal"``, ``"auto"``: the limit law (a chi-square mixture, its
      eigenvalues computed by Nyström's method, see
      :mod:`sketchtest._nulls.edf_limit_laws`) with a finite-n correction fitted
      to simulation; measured against 10^5 to 10^6 simulated samples at n = 25, 30, 50,
      100, 300 and 1000, n = 50, 300 and 1000 held out of the fit: absolute error at most
      0.0025, within 3 binomial standard errors for p <= 0.9; relative error at most
      0.3 down to p = 1e-4, the simulation's resolution there being 0.1; below, the
      fitted tail is an extrapolation.
"""


def _with_common_parameters(function: Function) -> Function:
    """Fill the ``{parameters}`` and ``{composite_null}`` lines of `function`'s docstring."""
    function.__doc__ = (function.__doc__
                        .replace("    {parameters}\n", _COMMON_PARAMETERS.lstrip("\n"))
                        .replace("    {composite_null}\n", _COMPOSITE_NULL_METHODS))
    return function


def _sorted_samples(y, null, *, xp):
    """The samples (standardized under the composite null), sorted on the last axis."""
    return xp.sort(standardize(y, xp=xp) if null == "normal" else y, axis=-1, stable=False)


def _cvm_statistic(u, *, xp):
    n = u.shape[-1]
    expected = (2.0 * sample_index(n, like=u, xp=xp) - 1.0) / (2.0 * n)
    deviation = u - expected
    return 1.0 / (12.0 * n) + xp.sum(deviation * deviation, axis=-1)


def _normal_cdf(z, *, xp):
    return sketchtest_backends.for_namespace(xp).ndtr(z)


def _anderson_darling_statistic(z, *, xp):
    r""":math:`A^2` of sorted `z`, as a sum of non-negative deviations (no cancellation).

    With :math:`m_i = (2i-1)/(2n)` (the expected :math:`u_{(i)}`) the
    definition rewrites exactly as

    .. math::

        A^2 = C_n + 2\sum_i \left[m_i\,g\!\left(\tfrac{u_i - m_i}{m_i}\right)
        + (1 - m_i)\,g\!\left(\tfrac{m_i - u_i}{1 - m_i}\right)\right],
        \qquad g(t) = t - \log(1 + t) \ge 0,

    with :math:`C_n = \sum_i [2H(m_i) - 1]`, :math:`H` the binary entropy in
    nats (the value of :math:`A^2` at :math:`u_i = m_i`, computed on the host
    in float64). Each term is small and non-negative, so nothing cancels:
    the textbook form subtracts :math:`n` from a sum of size :math:`n`, whose
    float32 rounding moved :math:`A^2` by 0.3-0.5% at n = 10^4. The form is
    symmetric under :math:`u \to 1 - u`, so each term is taken on the
    smaller tail :math:`p_i = \Phi(-|z_i|)` against its own expected value
    (exact far in the tails; :math:`\log(p_i/m_i)` from ``log_ndtr`` where
    :math:`p_i < m_i/2`).
    """
    n = z.shape[-1]
    ranks = sample_index(n, like=z, xp=xp)
    special = sketchtest_backends.for_namespace(xp)
    lower = (2.0 * ranks - 1.0) / (2.0 * n)
    upper = (2.0 * n + 1.0 - 2.0 * ranks) / (2.0 * n)
    negative = z < 0.0
    expected = xp.where(negative, lower, upper)  # the smaller tail's expected value
    complement = xp.where(negative, upper, lower)
    small_tail = special.ndtr(-xp.abs(z))
    deviation = small_tail - expected
    ratio = deviation / expected
    log_ratio = special.log_ndtr(-xp.abs(z)) - xp.log(expected)
    near = ratio > -0.5
    small_term = ratio - xp.where(near, xp.log1p(xp.where(near, ratio, 0.0)), log_ratio)
    other_ratio = -deviation / complement  # > -1/2, as the smaller tail is at most 1/2
    large_term = other_ratio - xp.log1p(other_ratio)
    total = 2.0 * xp.sum(expected * small_term + complement * large_term, axis=-1)
    return total + _anderson_darling_offset(n)


def _watson_statistic(z, *, xp):
    """:math:`U^2` of sorted `z`: Cramer-von Mises minus n times the squared mean of u - 1/2."""
    n = z.shape[-1]
    u = _normal_cdf(z, xp=xp)
    centre = xp.mean(u - 0.5, axis=-1)  # centred first: no float32 cancellation at large n
    return _cvm_statistic(u, xp=xp) - n * centre * centre


def _kolmogorov_smirnov_statistic(z, *, xp):
    """:math:`D` of sorted `z`: the largest distance between the EDF and Phi."""
    n = z.shape[-1]
    u = _normal_cdf(z, xp=xp)
    ranks = sample_index(n, like=u, xp=xp)
    above = xp.max(ranks / n - u, axis=-1)
    below = xp.max(u - (ranks - 1.0) / n, axis=-1)
    return xp.maximum(above, below)


@host_constant
def _anderson_darling_offset(n: int) -> float:
    """:math:`C_n`, :math:`A^2` at :math:`u_i = (2i-1)/(2n)`, in float64 on the host."""
    expected = (2.0 * np.arange(1, n + 1) - 1.0) / (2.0 * n)
    entropy = -(expected * np.log(expected) + (1.0 - expected) * np.log1p(-expected))
    return float(math.fsum(2.0 * entropy - 1.0))


#: ``method="auto"`` simulates the null below these sample sizes: there the
#: analytic p-values' distribution under H0 was measured farther than 0.03
#: (Kolmogorov distance to U(0, 1), 10,000 replicates) from uniform.
_MONTE_CARLO_BELOW = {
    ("cramer_von_mises", "normal"): 25,  # the composite corrections were fitted from n = 25
    ("anderson_darling", "normal"): 25,
    ("watson", "standard"): 25,
    ("watson", "normal"): 25,
    ("kolmogorov_smirnov", "normal"): 4,  # the simulated Lilliefors table starts at n = 4
}


#: What ``method="auto"`` uses where it does not simulate (``result.method``):
#: the exact null, else an approximation at this n (not the limit law).
_AUTO_ANALYTIC_METHOD = {("kolmogorov_smirnov", "standard"): "exact"}


def _run(x, statistic_and_pvalue, *, test, null, method, axis, keepdims, nan_policy,
         n_resamples, seed):
    if method == "auto":
        below = _MONTE_CARLO_BELOW.get((test, null), 0)
        method = resolve_auto_method(x, axis=axis, monte_carlo_below=below,
                                     otherwise=_AUTO_ANALYTIC_METHOD.get((test, null), "finite_n"))

    def compute(y, *, xp):
        return statistic_and_pvalue(_sorted_samples(y, null, xp=xp), xp=xp)

    return run_univariate(
        x, compute, axis=axis, keepdims=keepdims, nan_policy=nan_policy, min_samples=2,
        test=test, null=null, method=method, n_resamples=n_resamples, seed=seed,
    )


def _check_options(null, method, *, standard_methods, normal_methods=("auto", "monte_carlo")):
    check_choice(null, name="null", choices=("standard", "normal"))
    check_method(method, choices=standard_methods if null == "standard" else normal_methods)


@_with_common_parameters
def cramer_von_mises(
    x: Array, /, *, axis: int = 0, null: Null = "normal",
    method: Literal["auto", "asymptotic", "monte_carlo"] = "auto", n_resamples: int = 9999, seed: Seed = None,
    nan_policy: NanPolicy = "propagate", keepdims: bool = False,
) -> NormalityResult:
    r"""Cramér-von Mises test of normality.

    .. math::

        W^2 = \frac{1}{12n} + \sum_{i=1}^n \left(u_{(i)} - \frac{2i - 1}{2n}\right)^2,
        \qquad u_{(i)} = \Phi(z_{(i)}),

    with :math:`z = x` (``null="standard"``, equal to
    :func:`scipy.stats.cramervonmises` with ``scipy.stats.norm.cdf``) or the
    standardized samples (``null="normal"``, see the module docstring).

    P-values, by `null` and `method`:

    - ``"standard"``, ``"auto"``: the finite-n series of Csörgő & Faraway
      (1996, eq. 1.8), truncated as SciPy does; agrees with
      :func:`scipy.stats.cramervonmises` to 1e-13 absolute up to
      :math:`W^2 = 2` (p about 1e-5). Beyond, where :math:`1 - F_n` keeps
      no digit, p follows the limit law (Smirnov's series, tabulated) times
      the finite-n factor at :math:`W^2 = 2`: monotone, and 0 from
      :math:`W^2 = n/3` on. Against the exact finite-n law (importance
      sampling): at n = 20, 0.67 times the exact p at :math:`W^2 = 2`
      (p = 5e-6), and above it beyond (conservative: a factor 2.8 at
      :math:`W^2 = 3`, 50 at 4, 8e7 at 5.67, where the exact p is 4e-22);
      at n = 100 within a factor 0.97-1.15 up to :math:`W^2 = 3` and
      conservative by at most 3.3 up to 6.
    - ``"standard"``, ``"asymptotic"``: the limiting distribution (eq. 1.2,
      then Smirnov's series): relative error below 1e-8 (float64) and 1e-5
      (float32) against mpmath down to p = 1e-33 (:math:`W^2 = 15`).
    {composite_null}
    - either, ``"monte_carlo"``: the null simulated at this n.

    The series needs :math:`K_{1/4}, K_{3/4}, K_{5/4}`, which no array
    library has: :math:`\log(e^z K_\nu(z))` is tabulated once on the host
    from the integral :math:`e^z K_\nu(z) = \int_0^\infty e^{-z(\cosh t - 1)}
    \cosh(\nu t)\,dt` (48-node trapezoid rule) and interpolated on the
    device; relative error below 1e-13 against :func:`scipy.special.kve`.

    {parameters}
    See Also
    --------
    scipy.stats.cramervonmises : The same statistic and p-value for ``null="standard"``.
    watson : Its location-invariant variant.

    References
    ----------
    .. [1] S. Csörgő and J. J. Faraway, "The exact and asymptotic
       distributions of Cramér-von Mises statistics", Journal of the Royal
       Statistical Society B 58(1), 221-234, 1996.
    .. [2] R. B. D'Agostino and M. A. Stephens, "Goodness-of-Fit Techniques",
       Marcel Dekker, 1986, Table 4.9.

    Examples
    --------
    >>> import numpy as np
    >>> import sketchtest as st
    >>> x = np.random.default_rng(0).standard_normal(200)
    >>> result = st.cramer_von_mises(x)
    >>> bool(result.pvalue > 0.01)
    True
    """
    _check_options(null, method, standard_methods=("auto", "asymptotic", "monte_carlo"))

    def statistic_and_pvalue(z, *, xp):
        n = z.shape[-1]
        statistic = _cvm_statistic(_normal_cdf(z, xp=xp), xp=xp)
        if null == "normal":
            return statistic, nulls.cvm_normal_sf(statistic, n, xp=xp)
        if method == "asymptotic":
            return statistic, nulls.cvm_limit_sf(statistic, xp=xp)
        return statistic, nulls.cvm_standard_sf(statistic, n, xp=xp)

    return _run(x, statistic_and_pvalue, test="cramer_von_mises", null=null, method=method,
                axis=axis, keepdims=keepdims, nan_policy=nan_policy,
                n_resamples=n_resamples, seed=seed)


@_with_common_parameters
def anderson_darling(
    x: Array, /, *, axis: int = 0, null: Null = "normal",
    method: Literal["auto", "asymptotic", "monte_carlo"] = "auto", n_resamples: int = 9999, seed: Seed = None,
    nan_policy: NanPolicy = "propagate", keepdims: bool = False,
) -> NormalityResult:
    r"""Anderson-Darling test of normality.

    .. math::

        A^2 = -n - \frac1n \sum_{i=1}^n (2i - 1)
        \left[\log \Phi(z_{(i)}) + \log\left(1 - \Phi(z_{(n+1-i)})\right)\right],

    summed as non-negative deviations from the value at the expected order
    statistics (logarithms of tails from ``log_ndtr``), so neither the far
    tails nor float32 sums at large n lose precision. ``null="normal"`` uses
    the standardized samples and equals ``scipy.stats.anderson(x, "norm")
    .statistic``.

    P-values, by `null` and `method`:

    - ``"standard"``, ``"auto"``: the limit law
      :math:`\sum_j \chi^2_{1,j}/(j(j+1))`, tabulated from its eigenvalues,
      plus a finite-n correction after errfix of Marsaglia & Marsaglia
      (2004) (as published for p > 0.2; below, its residual at p = 0 is
      removed, so it vanishes with p). The limit, tabulated from Smirnov's
      series, has absolute error below 1e-9 (float64) and 2e-7 (float32)
      against mpmath, and relative error below 1e-10 (float64) and 4e-6
      (float32) in the tail down to p = 1e-27 (:math:`A^2 = 60`).
      Against simulation (2·10^5 to 10^6 samples at n = 25, 30, 50 and
      100, 10^5 at n = 1000): absolute error at most 0.0035, within 3
      binomial standard errors; relative error in the tail within the
      simulation's resolution (at most 0.22 at p = 1e-4 to 1e-3, where its
      standard error is 0.10).
    - ``"standard"``, ``"asymptotic"``: the limit law alone (n = infinity).
    {composite_null}
    - either, ``"monte_carlo"``: the null simulated at this n.

    {parameters}
    See Also
    --------
    scipy.stats.anderson : The same statistic for ``null="normal"``.
    cramer_von_mises : The unweighted quadratic EDF statistic.

    References
    ----------
    .. [1] G. Marsaglia and J. Marsaglia, "Evaluating the Anderson-Darling
       distribution", Journal of Statistical Software 9(2), 2004.
    .. [2] R. B. D'Agostino and M. A. Stephens, "Goodness-of-Fit Techniques",
       Marcel Dekker, 1986, Table 4.9.

    Examples
    --------
    >>> import numpy as np
    >>> import sketchtest as st
    >>> x = 5.0 + 2.0 * np.random.default_rng(0).standard_normal(200)  # N(5, 4)
    >>> bool(st.anderson_darling(x).pvalue > 0.01)  # any Gaussian: accepted
    True
    >>> bool(st.anderson_darling(x, null="standard").pvalue < 1e-6)  # not N(0, 1)
    True
    """
    _check_options(null, method, standard_methods=("auto", "asymptotic", "monte_carlo"))

    def statistic_and_pvalue(z, *, xp):
        n = z.shape[-1]
        statistic = _anderson_darling_statistic(z, xp=xp)
        if null == "normal":
            return statistic, nulls.anderson_darling_normal_sf(statistic, n, xp=xp)
        if method == "asymptotic":
            return statistic, nulls.anderson_darling_limit_sf(statistic, xp=xp)
        return statistic, nulls.anderson_darling_standard_sf(statistic, n, xp=xp)

    return _run(x, statistic_and_pvalue, test="anderson_darling", null=null, method=method,
                axis=axis, keepdims=keepdims, nan_policy=nan_policy,
                n_resamples=n_resamples, seed=seed)


@_with_common_parameters
def watson(
    x: Array, /, *, axis: int = 0, null: Null = "normal",
    method: Literal["auto", "asymptotic", "monte_carlo"] = "auto", n_resamples: int = 9999, seed: Seed = None,
    nan_policy: NanPolicy = "propagate", keepdims: bool = False,
) -> NormalityResult:
    r"""Test of normality with Watson's :math:`U^2` statistic.

    .. math::

        U^2 = W^2 - n\left(\bar u - \tfrac12\right)^2,
        \qquad \bar u = \frac1n \sum_{i=1}^n \Phi(z_i),

    with :math:`W^2` the Cramér-von Mises statistic of
    :func:`cramer_von_mises` on the same :math:`z`.

    P-values, by `null` and `method`:

    - ``"standard"``, ``"auto"``: Watson's limit
      :math:`P(U^2 > u) = 2\sum_{k\ge1}(-1)^{k-1} e^{-2k^2\pi^2 u}` at
      Stephens' modified statistic :math:`(U^2 - 0.1/n + 0.1/n^2)(1 + 0.8/n)`
      (D'Agostino & Stephens 1986, Table 4.2).
    - ``"standard"``, ``"asymptotic"``: the same limit at :math:`U^2`.
    {composite_null}
    - either, ``"monte_carlo"``: the null simulated at this n.

    {parameters}
    See Also
    --------
    cramer_von_mises : The statistic it is derived from.

    References
    ----------
    .. [1] G. S. Watson, "Goodness-of-fit tests on a circle", Biometrika
       48(1/2), 109-114, 1961.
    .. [2] M. A. Stephens, "Use of the Kolmogorov-Smirnov, Cramér-von Mises
       and related statistics without extensive tables", Journal of the Royal
       Statistical Society B 32(1), 115-122, 1970.

    Examples
    --------
    >>> import numpy as np
    >>> import sketchtest as st
    >>> x = np.random.default_rng(0).standard_normal(200)
    >>> result = st.watson(x)
    >>> bool(result.pvalue > 0.01)
    True
    """
    _check_options(null, method, standard_methods=("auto", "asymptotic", "monte_carlo"))

    def statistic_and_pvalue(z, *, xp):
        n = z.shape[-1]
        statistic = _watson_statistic(z, xp=xp)
        if null == "normal":
            return statistic, nulls.watson_normal_sf(statistic, n, xp=xp)
        if method == "asymptotic":
            return statistic, nulls.watson_limit_sf(statistic, xp=xp)
        return statistic, nulls.watson_standard_sf(statistic, n, xp=xp)

    return _run(x, statistic_and_pvalue, test="watson", null=null, method=method,
                axis=axis, keepdims=keepdims, nan_policy=nan_policy,
                n_resamples=n_resamples, seed=seed)


@_with_common_parameters
def kolmogorov_smirnov(
    x: Array, /, *, axis: int = 0, null: Null = "normal",
    method: Literal["auto", "exact", "asymptotic", "monte_carlo"] = "auto", n_resamples: int = 9999,
    seed: Seed = None, nan_policy: NanPolicy = "propagate", keepdims: bool = False,
) -> NormalityResult:
    r"""Kolmogorov-Smirnov test of normality (Lilliefors' test for ``null="normal"``).

    .. math::

        D = \max_{1 \le i \le n} \max\left(\frac in - u_{(i)},\;
        u_{(i)} - \frac{i-1}{n}\right), \qquad u_{(i)} = \Phi(z_{(i)}),

    equal to ``scipy.stats.kstest(x, "norm")`` for ``null="standard"``.

    P-values, by `null` and `method`:

    - ``"standard"``, ``"auto"`` or ``"exact"``: the exact distribution of
      :math:`D_n` as :func:`scipy.stats.kstwo` (what ``kstest`` uses), from
      a per-n spline table built once on the host (see
      :mod:`sketchtest._nulls.ks`); measured against ``kstwo.sf`` for every
      n in 1..200 and 40 n up to 10000, relative error where p > 1e-10 at
      most 4e-7 (n <= 10), 1.4e-7 (n <= 140) and 3.3e-8 (n > 140); absolute
      error below 8e-9 everywhere. The first call with a new n builds the
      table on the host (0.03 s to 3 s, 5 s at n = 10000).
    - ``"standard"``, ``"asymptotic"``: Kolmogorov's limit at
      :math:`\sqrt n D` (``kstest(..., method="asymp")``, to 1e-12).
    - ``"normal"``, ``"auto"``: Lilliefors' test. The null of
      :math:`\sqrt n D` is tabulated from 7.1e8 simulated samples: each
      n's own table for n = 4 to 16, a limit-law table with a correction in
      :math:`1/\sqrt n` and :math:`1/n` from n = 17 on, and beyond the
      simulated range (p below 8e-6 for n <= 16, below 5e-5 to 3e-4 above)
      the exponential tail of Dallal & Wilkinson (1986),
      :math:`\log p = a + b s + c s^2`. Against an independent simulation
      (n = 7 to 1000, 2e5 to 4e6 samples) every difference is within its
      noise (at most 3.2 standard errors: 5.4e-4 absolute for n <= 25,
      2.2e-3 at n = 300, and 16% relative down to p = 3e-5), in float32 as
      in float64; the extrapolated tail is within a factor 1.6 of held-out
      simulation for n >= 9 and conservative (up to 5 times too large) for
      n <= 8. R's ``lillie.test`` (Dallal-Wilkinson and Stephens' fits) is
      off by up to 0.027 in the body. Below n = 4 the null is simulated.
    - either, ``"monte_carlo"``: the null simulated at this n.

    {parameters}
    See Also
    --------
    scipy.stats.kstest : The same statistic and p-value for ``null="standard"``.

    References
    ----------
    .. [1] R. Simard and P. L'Ecuyer, "Computing the two-sided
       Kolmogorov-Smirnov distribution", Journal of Statistical Software
       39(11), 2011.
    .. [2] G. E. Dallal and L. Wilkinson, "An analytic approximation to the
       distribution of Lilliefors's test statistic for normality", The
       American Statistician 40(4), 294-296, 1986.

    Examples
    --------
    >>> import numpy as np
    >>> import sketchtest as st
    >>> x = np.random.default_rng(0).standard_normal(200)
    >>> result = st.kolmogorov_smirnov(x)
    >>> bool(result.pvalue > 0.01)
    True
    """
    _check_options(null, method, standard_methods=("auto", "exact", "asymptotic", "monte_carlo"))

    def statistic_and_pvalue(z, *, xp):
        n = z.shape[-1]
        statistic = _kolmogorov_smirnov_statistic(z, xp=xp)
        if null == "normal":
            return statistic, nulls.lilliefors_sf(statistic, n, xp=xp)
        if method == "asymptotic":
            return statistic, nulls.kolmogorov_limit_sf(math.sqrt(n) * statistic, xp=xp)
        return statistic, kolmogorov_smirnov_exact_sf(statistic, n, xp=xp)

    return _run(x, statistic_and_pvalue, test="kolmogorov_smirnov", null=null, method=method,
                axis=axis, keepdims=keepdims, nan_policy=nan_policy,
                n_resamples=n_resamples, seed=seed)
