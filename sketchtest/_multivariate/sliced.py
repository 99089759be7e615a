"""Sliced tests of N(0, I): univariate tests on random 1-D projections.

Samples ``x`` of shape ``(..., N, D)`` are projected on K unit directions
``A`` of shape ``(D, K)``; a univariate test runs on each of the K slices
``x @ A`` and the K results are aggregated into one p-value that stays valid
although the slices are dependent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from sketchtest._nulls.combine import cauchy_pvalue, cauchy_statistic
from sketchtest._compat import as_array, device, is_traced
from sketchtest._multivariate.directions import directions_for
from sketchtest._nulls.montecarlo import monte_carlo_pvalue
from sketchtest._univariate.quadrature import ecf_sums, epps_pulley_from_sums, epps_pulley_knots
from sketchtest._result import _describe
from sketchtest._nulls.sliced import epps_pulley_asymptotic_pvalue
from sketchtest._univariate.base import standardize, torch_is_compiling
from sketchtest._univariate.registry import univariate_test
from sketchtest._validation import (
    check_bool, check_choice, check_int, check_nan_policy, check_real, check_seed, float_dtypes,
)
from typing import Any, Callable
from sketchtest._typing import Aggregate, AggregateMethod, Array, NanPolicy, Null, Seed, SlicedTestName

__all__ = ["SlicedResult", "sliced_test", "apply_row_nan_policy", "check_knots", "nan_where"]

UNIVARIATE_TESTS = (
    "epps_pulley", "cramer_von_mises", "anderson_darling", "watson", "kolmogorov_smirnov",
    "shapiro_wilk", "shapiro_francia", "jarque_bera",
)
AGGREGATES = ("mean", "max", "cauchy")
AGGREGATE_METHODS = ("auto", "asymptotic", "monte_carlo")
#: Below this many samples ``aggregate_method="auto"`` simulates the mean's null: the asymptotic
#: law of :func:`sketchtest.sigreg_pvalue` was measured slightly liberal at N = 256 with K >> D
#: (7% rejections at alpha = 0.05) and within its binomial band from N = 512 (tests/calibration).
ASYMPTOTIC_MEAN_MIN_SAMPLES = 500


@dataclass(frozen=True, repr=False)
class SlicedResult:
    """Outcome of a sliced test.

    Attributes
    ----------
    statistic : array
        Aggregate statistic, shape ``(...)``: the mean or the maximum of the
        slice statistics, or the Cauchy combination statistic.
    pvalue : array
        p-value of `statistic`, shape ``(...)``.
    slice_statistics, slice_pvalues : array
        The univariate test on each slice, shape ``(..., K)``.
    directions : array
        The ``(D, K)`` unit directions used, on the input's device.
    test, aggregate, null, method : str
        What was computed: the univariate test, the aggregation, the null
        (``"standard"`` or ``"normal"``), how the aggregate p-value was found.
    """

    statistic: object
    pvalue: object
    slice_statistics: object
    slice_pvalues: object
    directions: object
    test: str = "epps_pulley"
    aggregate: str = "mean"
    null: str = "standard"
    method: str = ""
    extras: dict = field(default_factory=dict, compare=False)

    def __iter__(self):
        """Unpack as ``statistic, pvalue``."""
        return iter((self.statistic, self.pvalue))

    def __repr__(self) -> str:
        num_slices = self.directions.shape[-1]
        return (
            f"SlicedResult(test={self.test!r}, aggregate={self.aggregate!r}, null={self.null!r}, "
            f"num_slices={num_slices}, statistic={_describe(self.statistic)}, "
            f"pvalue={_describe(self.pvalue)}, method={self.method!r})"
        )


# --- Epps-Pulley on slices: sums of cos and sin, the sufficient statistics ---

def _epps_pulley_slices(projections, *, xp, null, t_max, n_points):
    """Statistics and asymptotic p-values of Epps-Pulley on every slice."""
    if null == "normal":
        projections = xp.moveaxis(standardize(xp.moveaxis(projections, -1, -2), xp=xp), -1, -2)
    _, phi, weights = epps_pulley_knots(
        t_max, n_points, xp=xp, dtype=projections.dtype, device=device(projections))
    cos_sum, sin_sum = ecf_sums(projections, t_max, n_points, xp=xp)
    n = float(projections.shape[-2])
    statistics = epps_pulley_from_sums(cos_sum, sin_sum, n, phi, weights, xp=xp)
    return statistics, epps_pulley_slice_pvalues(statistics, t_max=t_max, n_points=n_points, null=null, xp=xp)


def epps_pulley_slice_pvalues(statistics, *, t_max, n_points, null, xp):
    """Asymptotic p-values of slice statistics; NaN where a statistic is NaN."""
    missing = xp.isnan(statistics)
    safe = xp.where(missing, xp.zeros_like(statistics), statistics)
    pvalues = epps_pulley_asymptotic_pvalue(safe, t_max=t_max, n_points=n_points, null=null, xp=xp)
    return xp.where(missing, statistics, pvalues)


def _slice_results(projections, *, xp, test, null, method, options):
    """``(slice_statistics, slice_pvalues)`` of `test` on projections ``(..., n, K)``."""
    if test == "epps_pulley":
        return _epps_pulley_slices(projections, xp=xp, null=null, **options)
    function = univariate_test(test) if isinstance(test, str) else test
    extra = {} if method is None else {"method": method}
    result = function(projections, axis=-2, null=null, **extra, **options)
    return result.statistic, result.pvalue


def _aggregate(slice_statistics, aggregate, *, xp):
    if aggregate == "mean":
        return xp.mean(slice_statistics, axis=-1)
    return xp.max(slice_statistics, axis=-1)


# --- Monte Carlo null of the mean and max aggregates -----------------------

def _null_factor(directions, *, xp):
    """``(M, r)``: N(0, I_r) draws times M have the law of N(0, I_D) draws times A.

    For K <= D / 2 a Cholesky factor of the ``K x K`` Gram matrix replaces A,
    so each null replicate costs N K^2 instead of N D K.
    """
    dim, num_slices = directions.shape
    if 2 * num_slices > dim:
        return directions, dim
    gram = xp.matmul(xp.matrix_transpose(directions), directions)
    return xp.matrix_transpose(xp.linalg.cholesky(gram)), num_slices


def directions_fingerprint(directions, host, *, xp):
    """A hashable key of the directions, for the cache of null simulations."""
    if host is not None:
        return hashlib.sha1(np.ascontiguousarray(host, dtype=np.float64).tobytes()).hexdigest()
    probe = np.random.default_rng(12345).standard_normal(tuple(directions.shape))
    probe = xp.asarray(probe, dtype=directions.dtype, device=device(directions))
    return (tuple(directions.shape), float(xp.sum(directions)), float(xp.sum(directions * probe)))


def aggregate_mc_pvalue(statistic, slice_function, directions, *, xp, n, aggregate,
                        n_resamples, mc_seed, key):
    """Monte Carlo p-value of an aggregate statistic: N(0, I) samples of `n`, same directions."""
    factor, rank = _null_factor(directions, xp=xp)

    def compute(draws, *, xp):
        samples = xp.reshape(draws, (draws.shape[0], n, rank))
        slice_statistics, _ = slice_function(xp.matmul(samples, factor))
        simulated = _aggregate(slice_statistics, aggregate, xp=xp)
        return simulated, simulated

    return monte_carlo_pvalue(
        statistic, compute, xp=xp, n=n * rank, n_resamples=n_resamples, seed=mc_seed,
        key=("sliced", aggregate, *key),
    )


# --- the public function -----------------------------------------------------

def _validate_options(test, aggregate, null, method, num_slices, seed, n_resamples, mc_seed, orthogonal,
                      aggregate_method="auto"):
    if not callable(test):
        check_choice(test, name="test", choices=UNIVARIATE_TESTS)
    check_choice(aggregate, name="aggregate", choices=AGGREGATES)
    check_choice(aggregate_method, name="aggregate_method", choices=AGGREGATE_METHODS)
    if aggregate_method == "asymptotic" and not _has_asymptotic_mean(test, aggregate, null):
        raise ValueError(
            "`aggregate_method='asymptotic'` exists only for aggregate='mean' of test='epps_pulley' "
            f"under null='standard' (the SIGReg null); got aggregate={aggregate!r}, test={test!r}, null={null!r}")
    check_choice(null, name="null", choices=("standard", "normal"))
    if test == "epps_pulley" and method not in (None, "asymptotic"):
        raise ValueError(f"`method` for sliced Epps-Pulley slices must be 'asymptotic'; got {method!r}")
    check_int(num_slices, name="num_slices", minimum=1)
    check_seed(seed)
    check_int(n_resamples, name="n_resamples", minimum=1)
    check_seed(mc_seed, name="mc_seed")
    check_bool(orthogonal, name="orthogonal")


def _has_asymptotic_mean(test, aggregate, null) -> bool:
    """Whether the aggregate has the closed-form asymptotic null of :func:`sketchtest.sigreg_pvalue`."""
    return isinstance(test, str) and test == "epps_pulley" and aggregate == "mean" and null == "standard"


def _aggregate_method(aggregate_method, *, test, aggregate, null, num_samples) -> str:
    """The method ``"auto"`` resolves to for a mean or max aggregate of `num_samples` samples."""
    if aggregate_method != "auto":
        return aggregate_method
    if _has_asymptotic_mean(test, aggregate, null) and num_samples >= ASYMPTOTIC_MEAN_MIN_SAMPLES:
        return "asymptotic"
    return "monte_carlo"


def _prepare(x, *, name="x", min_samples=2):
    """Validate samples ``(..., N, D)``; return them in the compute dtype."""
    x, xp = as_array(x, name=name)
    if x.ndim < 2:
        raise ValueError(f"`{name}` must have shape (..., N, D) with samples on axis -2; got {x.ndim} dimension(s)")
    n, dim = x.shape[-2], x.shape[-1]
    if dim is not None and dim < 1:
        raise ValueError(f"`{name}` must have at least one dimension D >= 1 on its last axis; got D = {dim}")
    if n is not None and n < min_samples:
        raise ValueError(f"`{name}` needs at least {min_samples} samples on axis -2; got N = {n}")
    compute_dtype, result_dtype = float_dtypes(x, xp=xp, name=name)
    return (x if x.dtype == compute_dtype else xp.astype(x, compute_dtype)), xp, result_dtype


# --- non-finite samples: whole rows of (..., N, D) data --------------------------

def apply_row_nan_policy(x, compute, *, xp, nan_policy, min_samples):
    """``compute(x)``, a tuple of arrays led by the batch shape ``x.shape[:-2]``, under `nan_policy`.

    A sample is a row of the ``(..., N, D)`` data; a row is missing when it
    holds a NaN or an infinity. ``"propagate"`` computes on the data with
    those values zeroed and sets every result of an affected batch element to
    NaN (compile-safe); ``"omit"`` drops the missing rows, each batch element
    on its own (eager only), and gives NaN where fewer than `min_samples`
    rows remain; ``"raise"`` has been applied by ``check_nan_policy``.
    """
    if nan_policy == "raise":
        return compute(x)
    if not (is_traced(x) or torch_is_compiling()) and bool(xp.all(xp.isfinite(x))):
        return compute(x)
    if nan_policy == "omit":
        return _omitting_rows(x, compute, xp=xp, min_samples=min_samples)
    finite = xp.isfinite(x)
    outputs = compute(xp.where(finite, x, xp.zeros_like(x)))
    missing = ~xp.all(finite, axis=(-2, -1))
    return tuple(nan_where(missing, output, xp=xp) for output in outputs)


def nan_where(mask, values, *, xp):
    """NaN where `mask` (a batch shape, broadcast over `values`' trailing axes) is true."""
    mask = xp.reshape(mask, tuple(mask.shape) + (1,) * (values.ndim - mask.ndim))
    return xp.where(mask, xp.asarray(float("nan"), dtype=values.dtype, device=device(values)), values)


def _omitting_rows(x, compute, *, xp, min_samples):
    """``compute`` on each batch element without its non-finite rows, stacked back."""
    elements = xp.reshape(x, (-1, x.shape[-2], x.shape[-1]))
    results = []
    for i in range(elements.shape[0]):
        element = elements[i, ...]
        kept = element[xp.all(xp.isfinite(element), axis=-1)]
        if kept.shape[0] >= min_samples:
            results.append(compute(kept))
        else:  # too few samples left: NaN results of the right shapes
            outputs = compute(xp.zeros_like(element))
            everything = xp.asarray(True, device=device(x))
            results.append(tuple(nan_where(everything, output, xp=xp) for output in outputs))
    return tuple(
        xp.reshape(xp.stack([result[j] for result in results]), tuple(x.shape[:-2]) + tuple(results[0][j].shape))
        for j in range(len(results[0])))


def sliced_test(
    x: Array, /, test: SlicedTestName | Callable[..., Any] = "epps_pulley", *, num_slices: int = 256,
    seed: Seed = None, directions: Array | None = None, orthogonal: bool = False, aggregate: Aggregate = "cauchy",
    null: Null = "standard", method: str | None = None, n_resamples: int = 999, mc_seed: Seed = 0,
    nan_policy: NanPolicy = "propagate", aggregate_method: AggregateMethod = "auto", **test_options: Any,
) -> SlicedResult:
    r"""Sliced test of Gaussianity: a univariate test on K random projections.

    For samples :math:`x_1, \dots, x_N \in \mathbb R^D` and unit directions
    :math:`a_1, \dots, a_K` (the columns of `directions`), slice k holds the
    projections :math:`a_k^\top x_i`. Under :math:`H_0: x_i \sim N(0, I_D)`
    every slice is an N(0, 1) sample, so the univariate `test` gives a slice
    statistic :math:`T_k` and p-value :math:`p_k`. The slices are dependent;
    the aggregates below stay valid anyway:

    .. math::

        T_{\text{mean}} = \frac1K \sum_k T_k, \qquad
        T_{\max} = \max_k T_k, \qquad
        T_{\text{cauchy}} = \frac1K \sum_k \tan\big((\tfrac12 - p_k)\pi\big).

    The mean and max get a Monte Carlo p-value: the same statistic on
    `n_resamples` N(0, I_D) samples of the same shape projected on the same
    directions (simulated on the caller's device, cached per directions);
    the test is exact at this N. The mean of Epps-Pulley slices under
    ``null="standard"`` (SIGReg's value) also has an asymptotic null, the
    weighted chi-square law of :func:`sketchtest.sigreg_pvalue`, which
    ``aggregate_method="auto"`` uses from N = 500 samples on (no simulation).
    The Cauchy combination (Liu & Xie 2020) has
    the analytic p-value :math:`\tfrac12 - \arctan(T)/\pi`, valid under
    arbitrary dependence for small levels. For ``test="epps_pulley"`` the
    slice statistic is the quadrature form of LeJEPA,

    .. math::

        T_k = N \sum_{j} w_j \Big[\big(\tfrac1N \textstyle\sum_i \cos(t_j a_k^\top x_i)
        - e^{-t_j^2/2}\big)^2 + \big(\tfrac1N \textstyle\sum_i \sin(t_j a_k^\top x_i)\big)^2\Big],

    with :math:`t_j` = ``linspace(0, t_max, n_points)`` and :math:`w_j` the
    trapezoid weights doubled for the half line times :math:`e^{-t_j^2/2}`,
    so the mean statistic equals :func:`sketchtest.sigreg` for the same
    directions; its slice p-values come from the asymptotic null, a weighted
    sum of :math:`\chi^2_1` (see :mod:`sketchtest._nulls.sliced`).

    Parameters
    ----------
    x : array_like
        Samples of shape ``(..., N, D)``: N >= 2 samples of dimension D >= 1
        on axis -2; leading axes are a batch.
    test : str or callable, default "epps_pulley"
        Univariate test applied to every slice: one of ``"epps_pulley"``,
        ``"cramer_von_mises"``, ``"anderson_darling"``, ``"watson"``,
        ``"kolmogorov_smirnov"``, ``"shapiro_wilk"``, ``"shapiro_francia"``,
        ``"jarque_bera"``, or a function with the signature of those tests.
    num_slices : int, default 256
        Number K of directions drawn when `directions` is not given.
    seed : int or numpy.random.Generator, optional
        Seed of the directions, drawn with NumPy on the host so that every
        backend sees the same directions.
    directions : array, optional
        A ``(D, K)`` matrix of unit columns to use instead of random ones.
        Validated, not normalized: a zero, non-unit (norm off 1 by more than
        sqrt(eps) of its dtype, 2 eps for 16-bit dtypes), NaN or infinite
        column raises ``ValueError``, a complex or non-numeric dtype
        ``TypeError``.
    orthogonal : bool, default False
        Draw blocks of orthonormal directions instead of independent ones.
    aggregate : {"cauchy", "mean", "max"}, default "cauchy"
        How the K slices become one p-value (see above). ``"cauchy"`` is
        cheap and held its level over the measured grid
        (``docs/benchmarks/sliced.rst``); ``"mean"`` and ``"max"`` are exact
        but pay for a simulation (once per directions, N and dtype).
    null : {"standard", "normal"}, default "standard"
        ``"standard"`` (the default for (N, D) embeddings, as LeJEPA): H0 is
        N(0, I_D). ``"normal"``: each slice is
        standardized by its own mean and deviation (H0: Gaussian with any
        mean and covariance for the slice p-values and Cauchy; the Monte
        Carlo null of mean and max simulates N(0, I_D) slices).
    method : str, optional
        p-value method of each slice, passed to the univariate test (its
        default when ``None``); Epps-Pulley slices use ``"asymptotic"``.
    n_resamples : int, default 999
        Null replicates for the ``"mean"`` and ``"max"`` aggregates.
    mc_seed : int, default 0
        Seed of those null replicates.
    aggregate_method : {"auto", "asymptotic", "monte_carlo"}, default "auto"
        p-value of the ``"mean"`` and ``"max"`` aggregates. ``"asymptotic"``
        (only the mean of Epps-Pulley slices under ``null="standard"``): the
        law of :func:`sketchtest.sigreg_pvalue` for the same directions.
        ``"monte_carlo"``: the simulation above. ``"auto"``: asymptotic where
        it exists and N >= 500 (measured within its binomial band there),
        Monte Carlo otherwise. ``result.method`` says which was used.
    nan_policy : {"propagate", "raise", "omit"}, default "propagate"
        What to do with samples (rows) holding a NaN or an infinity: NaN
        results for the affected batch elements, raise ``ValueError``, or
        drop those rows, each batch element on its own (eager only; NaN where
        fewer than 2 samples remain).
    **test_options
        Options of the univariate test, e.g. ``t_max=3.0, n_points=17`` for
        Epps-Pulley: ``n_points >= 3`` and ``t_max`` in
        ``[0.1, 2 (n_points - 1)]`` (``[1, 2 (n_points - 1)]`` under
        ``null="normal"``), where the asymptotic null of a slice was measured
        calibrated (see :data:`NULL_MAX_KNOT_SPACING`).

    Returns
    -------
    SlicedResult
        ``statistic``, ``pvalue`` (shape ``(...)``), ``slice_statistics``,
        ``slice_pvalues`` (shape ``(..., K)``) and ``directions``, in the
        input's namespace and on its device.

    References
    ----------
    .. [1] R. Balestriero and Y. LeCun, "LeJEPA: provable and scalable
       self-supervised learning without the heuristics", arXiv:2511.08544, 2025.
    .. [2] Y. Liu and J. Xie, "Cauchy combination test", Journal of the
       American Statistical Association 115(529), 393-402, 2020.
    .. [3] T. W. Epps and L. B. Pulley, "A test for normality based on the
       empirical characteristic function", Biometrika 70(3), 723-726, 1983.

    Examples
    --------
    >>> import numpy as np
    >>> import sketchtest as st
    >>> x = np.random.default_rng(0).standard_normal((500, 16))
    >>> result = st.sliced_test(x, num_slices=64, seed=0)
    >>> result.slice_statistics.shape, result.directions.shape
    ((64,), (16, 64))
    >>> bool(result.pvalue > 0.01)
    True
    >>> skewed = np.random.default_rng(0).exponential(size=(500, 16)) - 1.0
    >>> bool(st.sliced_test(skewed, num_slices=64, seed=0).pvalue < 0.01)
    True
    """
    _validate_options(test, aggregate, null, method, num_slices, seed, n_resamples, mc_seed, orthogonal,
                      aggregate_method)
    options = _test_options(test, test_options, null)
    x, xp, result_dtype = _prepare(x)
    check_nan_policy(nan_policy, x, xp=xp)
    directions, host = directions_for(
        x, xp=xp, dtype=x.dtype, num_slices=num_slices, seed=seed, directions=directions,
        orthogonal=orthogonal)

    def slice_function(projections):
        return _slice_results(projections, xp=xp, test=test, null=null, method=method, options=options)

    resolved_method = _aggregate_method(
        aggregate_method, test=test, aggregate=aggregate, null=null, num_samples=x.shape[-2])

    def compute(samples):
        slice_statistics, slice_pvalues = slice_function(xp.matmul(samples, directions))
        if aggregate == "cauchy":
            statistic = cauchy_statistic(slice_pvalues, xp=xp)
            return statistic, cauchy_pvalue(statistic, xp=xp), slice_statistics, slice_pvalues
        statistic = _aggregate(slice_statistics, aggregate, xp=xp)
        if resolved_method == "asymptotic":
            from sketchtest._nulls.sliced_mean import sigreg_pvalue

            pvalue = sigreg_pvalue(statistic, directions=directions, **options)
            return statistic, pvalue, slice_statistics, slice_pvalues
        name = test if isinstance(test, str) else getattr(test, "__qualname__", repr(test))
        key = (name, null, method, tuple(sorted(options.items())), directions_fingerprint(directions, host, xp=xp))
        pvalue = aggregate_mc_pvalue(
            statistic, slice_function, directions, xp=xp, n=samples.shape[-2], aggregate=aggregate,
            n_resamples=n_resamples, mc_seed=mc_seed, key=key)
        return statistic, pvalue, slice_statistics, slice_pvalues

    outputs = apply_row_nan_policy(x, compute, xp=xp, nan_policy=nan_policy, min_samples=2)
    cast = lambda a: a if a.dtype == result_dtype else xp.astype(a, result_dtype)  # noqa: E731
    return SlicedResult(
        *(cast(output) for output in outputs), directions,
        test=test if isinstance(test, str) else getattr(test, "__name__", "custom"),
        aggregate=aggregate, null=null, method="cauchy_combination" if aggregate == "cauchy" else resolved_method,
    )


def _test_options(test, options, null):
    """Validated options of the univariate test (Epps-Pulley: ``t_max``, ``n_points``)."""
    if test != "epps_pulley":
        return dict(options)
    unknown = set(options) - {"t_max", "n_points"}
    if unknown:
        raise TypeError(f"sliced Epps-Pulley got unexpected option(s) {sorted(unknown)}; it takes t_max, n_points")
    t_max, n_points = check_knots(options.get("t_max", 3.0), options.get("n_points", 17), null=null)
    return {"t_max": t_max, "n_points": n_points}


#: Where the asymptotic null of a slice statistic was measured calibrated (2000 Gaussian
#: slices of N = 400: P(p < 0.05), P(p < 0.01) within binomial error of the level): at least
#: N_POINTS_MIN knots, spacing t_max / (n_points - 1) at most NULL_MAX_KNOT_SPACING, t_max at
#: least T_MAX_MIN[null]. Outside, the tables are wrong or fail: a single non-zero knot
#: (n_points = 2) or a spacing of 3.1 gave P(p < 0.01) = 0.18; null="normal" at t_max = 0.3
#: gave P(p < 0.05) = 0.17 (0.5 with 3 knots: 0.098); t_max = 1e-3 or a spacing of 8 fail to build.
N_POINTS_MIN, NULL_MAX_KNOT_SPACING = 3, 2.0
T_MAX_MIN = {"standard": 0.1, "normal": 1.0}


def check_knots(t_max, n_points, *, null="standard"):
    """Return ``(t_max, n_points)`` checked for the sliced Epps-Pulley test and its null."""
    n_points = check_int(n_points, name="n_points", minimum=N_POINTS_MIN)
    t_max = check_real(t_max, name="t_max", minimum=T_MAX_MIN[null],
                       maximum=NULL_MAX_KNOT_SPACING * (n_points - 1))
    return t_max, n_points

