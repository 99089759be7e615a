"""Moment tests: Jarque-Bera, D'Agostino-Pearson, and the skewness and kurtosis tests."""

from __future__ import annotations

import dataclasses
import math

import sketchtest_backends
from sketchtest._nulls.montecarlo import monte_carlo_pvalue
from sketchtest._nulls.tails import wide_dtype
from sketchtest._univariate.base import resolve_auto_method, run_univariate, shared_docs, standardize
from sketchtest._validation import check_choice, check_int, check_method, check_seed
from typing import Literal
from sketchtest._typing import Alternative, Array, Function, NanPolicy, Null, Seed
from sketchtest._result import NormalityResult

__all__ = ["jarque_bera", "dagostino_pearson", "skewness_test", "kurtosis_test"]

#: Below this many samples ``method="auto"`` simulates the Jarque-Bera null.
JARQUE_BERA_MONTE_CARLO_BELOW = 1000
#: Below this many samples ``method="auto"`` simulates the D'Agostino-Pearson null: the
#: chi-square(2) p-value's size at alpha = 1% is 1.75% at n = 100, 1.47% at 300, 1.10% at 1000
#: (40000 replicates each, standard error 0.05%) and 1.03% at 3000 (20000).
DAGOSTINO_PEARSON_MONTE_CARLO_BELOW = 2000


@shared_docs
def jarque_bera(
    x: Array, /, *, axis: int = 0, null: Null = "normal",
    method: Literal["auto", "asymptotic", "monte_carlo"] = "auto", n_resamples: int = 9999, seed: Seed = None,
    nan_policy: NanPolicy = "propagate", keepdims: bool = False,
) -> NormalityResult:
    r"""Jarque-Bera test of normality from sample skewness and kurtosis.

    .. math::

        JB = \frac{n}{6}\left(S^2 + \frac{(K - 3)^2}{4}\right),
        \qquad S = \frac{m_3}{m_2^{3/2}}, \quad K = \frac{m_4}{m_2^2},

    with :math:`m_k = \frac1n \sum_i (x_i - \bar x)^k` (biased central moments,
    as :func:`scipy.stats.jarque_bera`). For ``null="standard"`` mean 0 and
    variance 1 are known, the moments are raw, :math:`S = m'_3` and
    :math:`K = m'_4`, and their exact null variances give
    :math:`JB_0 = n\,(m_3'^2 / 15 + (m_4' - 3)^2 / 96)`.
    Both are asymptotically :math:`\chi^2_2` under their null, so
    :math:`p = e^{-JB/2}`.

    Parameters
    ----------
    x : array_like
        Samples along `axis`; every other axis is a batch. At least 2 samples.
    axis : int, default 0
        Axis holding the samples.
    null : {"normal", "standard"}, default "normal"
        ``"normal"`` (the default): any Gaussian, as SciPy's normality tests;
        H0 is N(mu, sigma^2) with both unknown. ``"standard"``: H0 is
        N(0, 1) exactly.
    method : {"auto", "asymptotic", "monte_carlo"}, default "auto"
        ``"asymptotic"``: the chi-square(2) limit (SciPy's p-value). It is
        far off below a thousand samples: at n = 25 the composite test
        rejects 2.6% of normal samples at alpha = 0.05 and 1.3% at 0.01
        (4000 replicates). ``"monte_carlo"``: the null simulated at this n
        with `n_resamples` draws from `seed` (cached per n). ``"auto"``:
        Monte Carlo below n = 1000 on eager inputs, the limit otherwise.
    {shared_parameters}

    References
    ----------
    .. [1] C. M. Jarque and A. K. Bera, "A test for normality of observations
       and regression residuals", International Statistical Review 55(2),
       163-172, 1987.

    Examples
    --------
    >>> import numpy as np
    >>> import sketchtest as st
    >>> x = np.random.default_rng(0).standard_normal(500)
    >>> result = st.jarque_bera(x)
    >>> bool(result.pvalue > 0.01)
    True
    """
    check_choice(null, name="null", choices=("normal", "standard"))
    check_method(method, choices=("auto", "asymptotic", "monte_carlo"))
    if method == "auto":
        method = resolve_auto_method(x, axis=axis, monte_carlo_below=JARQUE_BERA_MONTE_CARLO_BELOW)

    def compute(y, *, xp):
        n = y.shape[-1]
        if null == "normal":  # products, not powers: x**3 is a slow generic pow on NumPy
            centered = standardize(y, xp=xp, ddof=0)  # scale-invariant; NaN if degenerate
            squares = centered * centered
            m2 = xp.mean(squares, axis=-1)
            skewness = xp.mean(squares * centered, axis=-1) / m2**1.5
            kurtosis = xp.mean(squares * squares, axis=-1) / (m2 * m2)
        else:
            squares = y * y
            skewness = xp.mean(squares * y, axis=-1)
            kurtosis = xp.mean(squares * squares, axis=-1)
        statistic = jarque_bera_statistic(skewness, kurtosis, n, null=null)
        return statistic, xp.exp(-statistic / 2.0)

    return run_univariate(
        x, compute, axis=axis, keepdims=keepdims, nan_policy=nan_policy,
        min_samples=2, test="jarque_bera", null=null, method=method,
        n_resamples=n_resamples, seed=seed,
    )


def jarque_bera_statistic(skewness, kurtosis, n, *, null: str):
    """Jarque-Bera's statistic from the third and fourth moments of `n` samples.

    ``null="normal"``: the sample skewness and kurtosis of standardized
    samples, :math:`n (S^2 + (K - 3)^2 / 4) / 6`; ``null="standard"``: the
    raw third and fourth moments, each divided by its variance under N(0, 1)
    (15 and 96), :math:`n (m_3^2 / 15 + (m_4 - 3)^2 / 96)`.
    """
    if null == "standard":
        return n * (skewness * skewness / 15.0 + (kurtosis - 3.0) ** 2 / 96.0)
    return n / 6.0 * (skewness * skewness + (kurtosis - 3.0) ** 2 / 4.0)


def _skewness_z(skewness, n: int, *, xp):
    """D'Agostino's (1970) normal approximation of the sample skewness (SciPy's ``skewtest``)."""
    y = skewness * math.sqrt((n + 1) * (n + 3) / (6.0 * (n - 2)))
    beta2 = 3.0 * (n * n + 27 * n - 70) * (n + 1) * (n + 3) / ((n - 2.0) * (n + 5) * (n + 7) * (n + 9))
    w2 = -1.0 + math.sqrt(2.0 * (beta2 - 1.0))
    delta = 1.0 / math.sqrt(0.5 * math.log(w2))
    alpha = math.sqrt(2.0 / (w2 - 1.0))
    return delta * xp.asinh(y / alpha)


def _kurtosis_z(kurtosis, n: int, *, xp):
    """Anscombe & Glynn's (1983) normal approximation of the sample kurtosis (``kurtosistest``)."""
    mean = 3.0 * (n - 1) / (n + 1)
    variance = 24.0 * n * (n - 2) * (n - 3) / ((n + 1) ** 2 * (n + 3) * (n + 5))
    standardized = (kurtosis - mean) / math.sqrt(variance)
    root_beta1 = (6.0 * (n * n - 5 * n + 2) / ((n + 7) * (n + 9))
                  * math.sqrt(6.0 * (n + 3) * (n + 5) / (n * (n - 2) * (n - 3))))
    a = 6.0 + 8.0 / root_beta1 * (2.0 / root_beta1 + math.sqrt(1.0 + 4.0 / root_beta1**2))
    denominator = 1.0 + standardized * math.sqrt(2.0 / (a - 4.0))
    is_zero = denominator == 0.0
    magnitude = xp.where(is_zero, xp.ones_like(denominator), xp.abs(denominator))
    cube_root = xp.sign(denominator) * ((1.0 - 2.0 / a) / magnitude) ** (1.0 / 3.0)
    cube_root = xp.where(is_zero, xp.full_like(denominator, math.nan), cube_root)
    return (1.0 - 2.0 / (9.0 * a) - cube_root) / math.sqrt(2.0 / (9.0 * a))


@shared_docs
def dagostino_pearson(
    x: Array, /, *, axis: int = 0, null: Null = "normal",
    method: Literal["auto", "asymptotic", "monte_carlo"] = "auto", n_resamples: int = 9999, seed: Seed = None,
    nan_policy: NanPolicy = "propagate", keepdims: bool = False,
) -> NormalityResult:
    r"""D'Agostino-Pearson :math:`K^2` test of normality (:func:`scipy.stats.normaltest`).

    .. math::

        K^2 = Z_1(\sqrt{b_1})^2 + Z_2(b_2)^2,
        \qquad \sqrt{b_1} = \frac{m_3}{m_2^{3/2}}, \quad b_2 = \frac{m_4}{m_2^2},

    with biased central moments :math:`m_k = \frac1n \sum_i (x_i - \bar x)^k`.
    :math:`Z_1` is D'Agostino's (1970) transform of the skewness,
    :math:`Z_1 = \delta \operatorname{asinh}(Y / \alpha)` with
    :math:`Y = \sqrt{b_1}\sqrt{(n+1)(n+3) / (6(n-2))}` and :math:`\delta`,
    :math:`\alpha` from the third and fourth moments of :math:`\sqrt{b_1}`;
    :math:`Z_2` is Anscombe & Glynn's (1983) cube-root transform of the
    standardized kurtosis. Both are approximately N(0, 1) under the null, so
    :math:`K^2` is approximately :math:`\chi^2_2` and :math:`p = e^{-K^2/2}`.

    Parameters
    ----------
    x : array_like
        Samples along `axis`; every other axis is a batch. At least 8 samples
        (the skewness transform needs them); the kurtosis transform is rough
        below 20 samples (SciPy warns there).
    axis : int, default 0
        Axis holding the samples.
    null : {"normal"}, default "normal"
        Any Gaussian, as SciPy's normality tests: H0 is N(mu, sigma^2) with
        both unknown; :math:`K^2` is invariant to location and scale, so this
        is the only null.
    method : {"auto", "asymptotic", "monte_carlo"}, default "auto"
        ``"asymptotic"``: the chi-square(2) approximation (SciPy's p-value),
        whose size at alpha = 1% is 2.0% at n = 10, 2.1% at 25, 1.75% at 100
        and 1.1% at 1000. ``"monte_carlo"``: the null simulated at this n
        with `n_resamples` draws from `seed` (cached per n). ``"auto"``:
        Monte Carlo below 2000 samples, else asymptotic.
    {shared_parameters}

    References
    ----------
    .. [1] R. B. D'Agostino, "Transformation to normality of the null
       distribution of g1", Biometrika 57(3), 679-681, 1970.
    .. [2] F. J. Anscombe and W. J. Glynn, "Distribution of the kurtosis
       statistic b2 for normal samples", Biometrika 70(1), 227-234, 1983.
    .. [3] R. B. D'Agostino and E. S. Pearson, "Tests for departure from
       normality. Empirical results for the distributions of b2 and
       sqrt(b1)", Biometrika 60(3), 613-622, 1973.

    Examples
    --------
    >>> import numpy as np
    >>> import sketchtest as st
    >>> x = np.random.default_rng(0).standard_normal(500)
    >>> result = st.dagostino_pearson(x)
    >>> bool(result.pvalue > 0.01)
    True
    """
    check_choice(null, name="null", choices=("normal",))
    check_method(method, choices=("auto", "asymptotic", "monte_carlo"))
    if method == "auto":
        method = resolve_auto_method(x, axis=axis, monte_carlo_below=DAGOSTINO_PEARSON_MONTE_CARLO_BELOW)

    def compute(y, *, xp):
        n = y.shape[-1]
        centered = standardize(y, xp=xp, ddof=0)  # scale-invariant; NaN if degenerate
        squares = centered * centered
        m2 = xp.mean(squares, axis=-1)
        skewness = xp.mean(squares * centered, axis=-1) / m2**1.5
        kurtosis = xp.mean(squares * squares, axis=-1) / (m2 * m2)
        statistic = _skewness_z(skewness, n, xp=xp) ** 2 + _kurtosis_z(kurtosis, n, xp=xp) ** 2
        return statistic, xp.exp(-statistic / 2.0)

    return run_univariate(
        x, compute, axis=axis, keepdims=keepdims, nan_policy=nan_policy,
        min_samples=8, test="dagostino_pearson", null=null, method=method,
        n_resamples=n_resamples, seed=seed,
    )


def _standardized_moments(y, *, xp):
    """Sample skewness :math:`m_3/m_2^{3/2}` and kurtosis :math:`m_4/m_2^2` (biased central moments)."""
    centered = standardize(y, xp=xp, ddof=0)  # scale-invariant; NaN if degenerate
    squares = centered * centered
    m2 = xp.mean(squares, axis=-1)
    return xp.mean(squares * centered, axis=-1) / m2**1.5, xp.mean(squares * squares, axis=-1) / (m2 * m2)


def normal_pvalue(z, *, xp, alternative: str):
    r"""p-value of a N(0, 1) statistic: :math:`\Phi(z)`, :math:`\Phi(-z)` or :math:`2\Phi(-|z|)`.

    ``ndtr`` keeps its relative accuracy far into the lower tail, and only
    lower tails are taken, so the p-value is accurate down to the dtype's
    smallest normal number.
    """
    ndtr = sketchtest_backends.for_namespace(xp).ndtr
    if alternative == "less":
        return ndtr(z)
    if alternative == "greater":
        return ndtr(-z)
    return xp.clip(2.0 * ndtr(-xp.abs(z)), 0.0, 1.0)


def _z_test(x, transform, *, axis, alternative, method, n_resamples, seed, nan_policy, keepdims,
            min_samples, test):
    """Run a normal-approximation moment test: `transform(skewness, kurtosis, n, xp=)` gives z.

    ``method="monte_carlo"`` ranks z among its values on simulated N(0, 1)
    samples: one tail for a one-sided alternative, twice the smaller tail
    (at most 1) for ``"two-sided"``, as :class:`scipy.stats.MonteCarloMethod`.
    """
    check_choice(alternative, name="alternative", choices=("two-sided", "less", "greater"))
    check_method(method, choices=("asymptotic", "monte_carlo"))
    if method == "monte_carlo":
        n_resamples = check_int(n_resamples, name="n_resamples", minimum=1)
        check_seed(seed)

    def statistic_of(y, *, xp):
        wide = wide_dtype(y, xp=xp)  # the per-element transform and tail in float64 where offered
        skewness, kurtosis = _standardized_moments(y, xp=xp)
        return transform(xp.astype(skewness, wide), xp.astype(kurtosis, wide), y.shape[-1], xp=xp)

    def compute(y, *, xp):
        z = statistic_of(y, xp=xp)
        if method == "monte_carlo":
            z = xp.astype(z, y.dtype)
            return z, _monte_carlo_z_pvalue(z, statistic_of, xp=xp, n=y.shape[-1], n_resamples=n_resamples,
                                            seed=seed, key=(test,), alternative=alternative)
        return xp.astype(z, y.dtype), xp.astype(normal_pvalue(z, xp=xp, alternative=alternative), y.dtype)

    result = run_univariate(  # the runner's own Monte Carlo is one-tailed: "monte_carlo" is done above
        x, compute, axis=axis, keepdims=keepdims, nan_policy=nan_policy,
        min_samples=min_samples, test=test, null="normal", method=f"{method}-in-compute",
    )
    return dataclasses.replace(result, method=method)


def _monte_carlo_z_pvalue(z, statistic_of, *, xp, n, n_resamples, seed, key, alternative):
    """Monte Carlo p-value of `z` for `alternative` (the simulation is cached, so two tails cost one)."""
    def simulate(y, *, xp):
        statistic = xp.astype(statistic_of(y, xp=xp), y.dtype)
        return statistic, statistic

    def tail(larger_is_extreme):
        return monte_carlo_pvalue(z, simulate, xp=xp, n=n, n_resamples=n_resamples, seed=seed, key=key,
                                  larger_is_extreme=larger_is_extreme)

    if alternative == "less":
        return tail(False)
    if alternative == "greater":
        return tail(True)
    return xp.clip(2.0 * xp.minimum(tail(False), tail(True)), 0.0, 1.0)


_Z_TEST_PARAMETERS = """    axis : int, default 0
        Axis holding the samples.
    alternative : {"two-sided", "less", "greater"}, default "two-sided"
        The alternative hypothesis, as in SciPy: the p-value is
        :math:`2\\Phi(-|Z|)`, :math:`\\Phi(Z)` or :math:`\\Phi(-Z)`.
    null : {"normal"}, default "normal"
        Any Gaussian, as SciPy's normality tests: H0 is N(mu, sigma^2) with
        both unknown; the statistic is invariant to location and scale, so
        this is the only null.
    method : {"asymptotic", "monte_carlo"}, default "asymptotic"
        ``"asymptotic"``: the normal approximation of Z (SciPy's p-value).
        ``"monte_carlo"``: Z ranked among its values on `n_resamples`
        simulated N(0, 1) samples of this size from `seed` (twice the smaller
        tail for ``"two-sided"``).
"""


def _z_test_docs(function: Function) -> Function:
    function.__doc__ = function.__doc__.replace("    {z_test_parameters}\n", _Z_TEST_PARAMETERS)
    return shared_docs(function)


@_z_test_docs
def skewness_test(
    x: Array, /, *, axis: int = 0, alternative: Alternative = "two-sided", null: Null = "normal",
    method: Literal["asymptotic", "monte_carlo"] = "asymptotic", n_resamples: int = 9999, seed: Seed = None,
    nan_policy: NanPolicy = "propagate", keepdims: bool = False,
) -> NormalityResult:
    r"""D'Agostino's test of the sample skewness (:func:`scipy.stats.skewtest`).

    .. math::

        Z_1 = \delta \operatorname{asinh}(Y / \alpha), \qquad
        Y = \sqrt{b_1}\sqrt{\frac{(n+1)(n+3)}{6(n-2)}}, \qquad
        \sqrt{b_1} = \frac{m_3}{m_2^{3/2}},

    with biased central moments :math:`m_k = \frac1n \sum_i (x_i - \bar x)^k`
    and :math:`\delta`, :math:`\alpha` from the second and fourth moments of
    :math:`\sqrt{b_1}` under normality (D'Agostino, 1970). :math:`Z_1` is
    approximately N(0, 1) under H0; a positive value means right skew.

    Parameters
    ----------
    x : array_like
        Samples along `axis`; every other axis is a batch. At least 8 samples.
    {z_test_parameters}
    {shared_parameters}

    References
    ----------
    .. [1] R. B. D'Agostino, "Transformation to normality of the null
       distribution of g1", Biometrika 57(3), 679-681, 1970.
    .. [2] R. B. D'Agostino, A. Belanger and R. B. D'Agostino Jr., "A
       suggestion for using powerful and informative tests of normality",
       The American Statistician 44(4), 316-321, 1990.

    Examples
    --------
    >>> import numpy as np
    >>> import sketchtest as st
    >>> x = np.random.default_rng(0).exponential(size=200)
    >>> result = st.skewness_test(x, alternative="greater")
    >>> bool(result.statistic > 0), bool(result.pvalue < 1e-6)
    (True, True)
    """
    check_choice(null, name="null", choices=("normal",))
    return _z_test(
        x, lambda skewness, kurtosis, n, *, xp: _skewness_z(skewness, n, xp=xp), axis=axis,
        alternative=alternative, method=method, n_resamples=n_resamples, seed=seed,
        nan_policy=nan_policy, keepdims=keepdims, min_samples=8,
        test="skewness_test",
    )


@_z_test_docs
def kurtosis_test(
    x: Array, /, *, axis: int = 0, alternative: Alternative = "two-sided", null: Null = "normal",
    method: Literal["asymptotic", "monte_carlo"] = "asymptotic", n_resamples: int = 9999, seed: Seed = None,
    nan_policy: NanPolicy = "propagate", keepdims: bool = False,
) -> NormalityResult:
    r"""Anscombe & Glynn's test of the sample kurtosis (:func:`scipy.stats.kurtosistest`).

    With :math:`b_2 = m_4 / m_2^2` (biased central moments), its null mean
    :math:`3(n-1)/(n+1)` and variance
    :math:`24n(n-2)(n-3)/((n+1)^2(n+3)(n+5))`, the standardized kurtosis
    :math:`x` and :math:`A = 6 + \frac{8}{\sqrt{\beta_1}}\big(\frac{2}{\sqrt{\beta_1}}
    + \sqrt{1 + 4/\beta_1}\big)` from the skewness :math:`\sqrt{\beta_1}`
    of :math:`b_2`'s null distribution,

    .. math::

        Z_2 = \Big(1 - \frac{2}{9A} - \Big(\frac{1 - 2/A}{1 + x\sqrt{2/(A-4)}}\Big)^{1/3}\Big)
        \Big/ \sqrt{\frac{2}{9A}},

    approximately N(0, 1) under H0 (Anscombe & Glynn, 1983); a positive value
    means heavier tails than the normal. The approximation is rough below 20
    samples (SciPy warns there).

    Parameters
    ----------
    x : array_like
        Samples along `axis`; every other axis is a batch. At least 5 samples.
    {z_test_parameters}
    {shared_parameters}

    References
    ----------
    .. [1] F. J. Anscombe and W. J. Glynn, "Distribution of the kurtosis
       statistic b2 for normal samples", Biometrika 70(1), 227-234, 1983.
    .. [2] R. B. D'Agostino, A. Belanger and R. B. D'Agostino Jr., "A
       suggestion for using powerful and informative tests of normality",
       The American Statistician 44(4), 316-321, 1990.

    Examples
    --------
    >>> import numpy as np
    >>> import sketchtest as st
    >>> x = np.random.default_rng(0).standard_t(3, size=500)
    >>> result = st.kurtosis_test(x, alternative="greater")
    >>> bool(result.statistic > 0), bool(result.pvalue < 1e-3)
    (True, True)
    """
    check_choice(null, name="null", choices=("normal",))
    return _z_test(
        x, lambda skewness, kurtosis, n, *, xp: _kurtosis_z(kurtosis, n, xp=xp), axis=axis,
        alternative=alternative, method=method, n_resamples=n_resamples, seed=seed,
        nan_policy=nan_policy, keepdims=keepdims, min_samples=5,
        test="kurtosis_test",
    )
