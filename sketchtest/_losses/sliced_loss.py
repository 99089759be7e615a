r"""Any univariate test as a differentiable sliced loss: the backend-agnostic part.

The loss of samples ``z`` of shape ``(..., N, D)`` along unit directions
``A`` of shape ``(D, K)`` is the mean over the K slices of a univariate
test's own statistic on the projections ``p = z A``:

.. math::

    L(z) = \frac1K \sum_{k=1}^K T(p_{\cdot k}),

with :math:`T` the statistic of :func:`sketchtest.epps_pulley`,
:func:`sketchtest.cramer_von_mises` and so on, or :math:`1 - W` for the
Shapiro tests (their W is 1 for a perfect fit; a loss must decrease towards
normality), :math:`Z^2` for the skewness and kurtosis tests (a signed Z would
reward skew in one direction) and :math:`\log(\sqrt{2\pi e}/K)` for
Vasicek's (the spacing estimate of the Kullback-Leibler divergence). This
module holds the registry of those statistics and the two ways of computing
them when the batch is split across processes or devices:

``"sums"``
    The statistic is a function of sums over samples (Epps-Pulley: the sums
    of :math:`\cos t_j p` and :math:`\sin t_j p`; moment tests: power sums).
    Each part computes its sums and they are added up across parts (a small
    ``(..., S, K)`` array); under ``null="normal"`` the global mean and
    standard deviation come first, from sums as well.
``"gather"``
    The statistic needs every sample at once (a sort: EDF and Shapiro tests).
    The projections are gathered along the sample axis and every part computes
    the statistic of the whole batch: W x local N x K values on each of W parts.

The frameworks' front ends (:mod:`sketchtest.torch`, :mod:`sketchtest.jax`)
supply the collectives as a :class:`Collectives`.

To add a test, add one entry to :data:`LOSS_STATISTICS` below (or call
:func:`register_loss_statistic` from the module that defines the statistic),
built with :func:`gather_statistic` or :func:`sums_statistic`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

from sketchtest._compat import device
from sketchtest._univariate.edf import _cvm_statistic, _normal_cdf, _watson_statistic
from sketchtest._univariate.moments import _kurtosis_z, _skewness_z, jarque_bera_statistic
from sketchtest._univariate.quadrature import epps_pulley_knots
from sketchtest._univariate.regression import _blom_scores, _wilk_weights
from sketchtest._losses.sigreg import check_sigreg_options, statistic_from_sums, trig_sums
from sketchtest._losses.stable import (
    anderson_darling_statistic, kolmogorov_smirnov_statistic, moments_denominator, one_minus_w,
    spread_floor, standardize_safely, vasicek_divergence,
)

__all__ = [
    "LOSS_STATISTICS", "Collectives", "LossStatistic", "check_loss_test", "gather_statistic",
    "register_loss_statistic", "slice_statistics", "sums_statistic",
]


@dataclass(frozen=True)
class LossStatistic:
    """How to compute one test's slice statistics as a loss.

    Attributes
    ----------
    reduction : {"sums", "gather"}
        Sum-reducible sufficient statistics, or the whole batch needed.
    nulls : tuple of str
        The nulls the test supports (``"standard"``, ``"normal"``).
    min_samples : dict
        Fewest samples per null.
    statistic : callable, optional
        ``"gather"``: ``statistic(y, *, null, xp, **options)`` with the samples
        on the last axis of `y`, returning one value per slice.
    sums : callable, optional
        ``"sums"``: ``sums(p, *, xp, **options)`` of projections ``(..., N, K)``
        (standardized under ``null="normal"``), returning ``(..., S, K)``
        sums over the samples.
    from_sums : callable, optional
        ``"sums"``: ``from_sums(sums, *, null, num_samples, xp, **options)``,
        the ``(..., K)`` statistics of the (all-reduced) sums; `num_samples`
        is the global N as a Python int.
    ddof : int
        ``"sums"``: degrees of freedom of the standard deviation under
        ``null="normal"`` (the univariate test's own convention).
    check_options : callable
        ``check_options(options, num_slices) -> dict``: validate the test's
        keyword options (a dict) and fill in their defaults.
    """

    reduction: str
    nulls: tuple
    min_samples: dict
    statistic: Callable | None = None
    sums: Callable | None = None
    from_sums: Callable | None = None
    ddof: int = 0
    check_options: Callable = field(default=lambda options, num_slices: _no_options(options))


def _no_options(options):
    if options:
        raise TypeError(f"unexpected option(s) {', '.join(map(repr, sorted(options)))}")
    return {}


def gather_statistic(statistic, *, nulls, min_samples, check_options=None) -> LossStatistic:
    """A :class:`LossStatistic` computed on the whole (gathered) batch."""
    return LossStatistic("gather", tuple(nulls), dict(min_samples), statistic=statistic,
                         check_options=check_options or (lambda options, num_slices: _no_options(options)))


def sums_statistic(sums, from_sums, *, nulls, min_samples, ddof=0, check_options=None) -> LossStatistic:
    """A :class:`LossStatistic` computed from sums over samples (all-reduced)."""
    return LossStatistic("sums", tuple(nulls), dict(min_samples), sums=sums, from_sums=from_sums,
                         ddof=ddof,
                         check_options=check_options or (lambda options, num_slices: _no_options(options)))


class Collectives(NamedTuple):
    """The collectives of a split batch: identity functions in a single process.

    ``reduce_sum(x)`` adds `x` up across the parts; ``gather(x)``
    concatenates `x` along axis -2 (the samples) across the parts, in rank
    order; `world_size` is the number of parts, each holding the same N.
    Both must be differentiable (their backward pass adds up the gradients).
    ``replicate(x)`` marks a value that every part computed alike from the
    gathered batch as replicated: JAX's ``pmean`` (an all-gathered value is
    "varying" to ``shard_map``; the mean of equal values is that value, and
    its transpose hands each part 1/W of the cotangent, which the gather's
    transpose adds up again); the identity in torch.
    """

    reduce_sum: Callable = lambda x: x
    gather: Callable = lambda x: x
    world_size: int = 1
    replicate: Callable = lambda x: x


# ----------------------------------------------------------------- sort-based


def _sorted_samples(y, null, *, xp):
    """The samples (safely standardized under the composite null), sorted on the last axis."""
    return xp.sort(standardize_safely(y, ddof=1, xp=xp) if null == "normal" else y, axis=-1, stable=False)


def _edf(statistic_of_sorted):
    """An EDF statistic of the (standardized under ``null="normal"``) sorted samples."""
    def statistic(y, *, null, xp):
        return statistic_of_sorted(_sorted_samples(y, null, xp=xp), xp=xp)
    return statistic


def _cramer_von_mises(z, *, xp):
    return _cvm_statistic(_normal_cdf(z, xp=xp), xp=xp)


def _one_minus_w(weights_for):
    """``1 - W`` of a Shapiro test with the given weights (W's own precise form)."""
    def statistic(y, *, null, xp):
        return one_minus_w(_sorted_samples(y, "normal", xp=xp), weights_for(y.shape[-1]), xp=xp)
    return statistic


# ----------------------------------------------------------------- sum-reducible


def _check_epps_pulley_options(options, num_slices):
    unknown = set(options) - {"t_max", "n_points"}
    if unknown:
        _no_options(unknown)
    t_max, n_points, _ = check_sigreg_options(
        t_max=options.get("t_max", 3.0), n_points=options.get("n_points", 17), num_slices=num_slices
    )
    return {"t_max": t_max, "n_points": n_points}


def _ecf_sums(projections, *, xp, t_max, n_points):
    """Sums of cos and sin of ``t_j p`` over the samples, stacked: ``(..., 2T, K)``."""
    cos_sums, sin_sums = trig_sums(projections, t_max=t_max, n_points=n_points, xp=xp)
    return xp.concat([cos_sums, sin_sums], axis=-2)


def _epps_pulley_from_sums(sums, *, null, num_samples, xp, t_max, n_points):
    """The quadrature statistic of :func:`sketchtest.epps_pulley` (N read from the t = 0 sum)."""
    _, phi, weights = epps_pulley_knots(t_max, n_points, xp=xp, dtype=sums.dtype, device=device(sums))
    return statistic_from_sums(sums[..., :n_points, :], sums[..., n_points:, :], phi, weights,
                               xp=xp, per_slice=True)


def _power_sums(projections, *, xp):
    """``(..., 4, K)``: the count and the sums of the 2nd, 3rd and 4th powers over samples."""
    squares = projections * projections
    count = xp.full((*projections.shape[:-2], 1, projections.shape[-1]), float(projections.shape[-2]),
                    dtype=projections.dtype, device=device(projections))
    powers = [xp.sum(power, axis=-2, keepdims=True)
              for power in (squares, squares * projections, squares * squares)]
    return xp.concat([count, *powers], axis=-2)


def _moments(sums):
    """``(n, m2, m3, m4)``: the count and the raw moments (central after standardization)."""
    count = sums[..., 0, :]
    return count, sums[..., 1, :] / count, sums[..., 2, :] / count, sums[..., 3, :] / count


def _shape_moments(sums, *, xp):
    """Skewness and kurtosis of standardized samples; 0 and 0 for a constant slice (not NaN)."""
    _, m2, m3, m4 = _moments(sums)
    m2 = moments_denominator(m2, xp=xp)
    return m3 / (m2 * xp.sqrt(m2)), m4 / (m2 * m2)


def _jarque_bera_from_sums(sums, *, null, num_samples, xp):
    """:func:`sketchtest.jarque_bera`'s statistic (see its docstring for both nulls)."""
    n, _, m3, m4 = _moments(sums)
    if null == "standard":
        return jarque_bera_statistic(m3, m4, n, null=null)
    skewness, kurtosis = _shape_moments(sums, xp=xp)
    return jarque_bera_statistic(skewness, kurtosis, n, null=null)


def _dagostino_pearson_from_sums(sums, *, null, num_samples, xp):
    """:func:`sketchtest.dagostino_pearson`'s :math:`K^2` (needs N as a Python int)."""
    skewness, kurtosis = _shape_moments(sums, xp=xp)
    return (_skewness_z(skewness, num_samples, xp=xp) ** 2
            + _kurtosis_z(kurtosis, num_samples, xp=xp) ** 2)


def _skewness_squared_from_sums(sums, *, null, num_samples, xp):
    """:math:`Z_1^2` of :func:`sketchtest.skewness_test` (a loss must not reward a sign)."""
    skewness, _ = _shape_moments(sums, xp=xp)
    return _skewness_z(skewness, num_samples, xp=xp) ** 2


def _kurtosis_squared_from_sums(sums, *, null, num_samples, xp):
    """:math:`Z_2^2` of :func:`sketchtest.kurtosis_test`."""
    _, kurtosis = _shape_moments(sums, xp=xp)
    return _kurtosis_z(kurtosis, num_samples, xp=xp) ** 2


def _check_vasicek_options(options, num_slices):
    unknown = set(options) - {"window"}
    if unknown:
        _no_options(unknown)
    window = options.get("window")
    if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
        raise ValueError(f"`window` must be a positive integer or None; got {window!r}")
    return {"window": window}


def _vasicek_loss(y, *, null, xp, window):
    """:math:`\\log(\\sqrt{2\\pi e}/K)` of :func:`sketchtest.vasicek` (a Kullback-Leibler estimate, near 0 when normal)."""
    if window is not None and 2 * window >= y.shape[-1]:
        raise ValueError(f"`window` must be below half the sample count ({y.shape[-1]}); got {window}")
    return vasicek_divergence(y, xp=xp, window=window, null=null)


# ----------------------------------------------------------------- the registry

_EDF_SAMPLES = {"standard": 2, "normal": 3}

#: Test name -> how to compute it as a loss. Registration point: one entry per test.
LOSS_STATISTICS: dict[str, LossStatistic] = {
    "epps_pulley": sums_statistic(_ecf_sums, _epps_pulley_from_sums, nulls=("standard", "normal"),
                                  min_samples=_EDF_SAMPLES, ddof=0,
                                  check_options=_check_epps_pulley_options),
    "jarque_bera": sums_statistic(_power_sums, _jarque_bera_from_sums, nulls=("standard", "normal"),
                                  min_samples={"standard": 2, "normal": 3}, ddof=0),
    "dagostino_pearson": sums_statistic(_power_sums, _dagostino_pearson_from_sums, nulls=("normal",),
                                        min_samples={"normal": 8}, ddof=0),
    "cramer_von_mises": gather_statistic(_edf(_cramer_von_mises), nulls=("standard", "normal"),
                                         min_samples=_EDF_SAMPLES),
    "anderson_darling": gather_statistic(_edf(anderson_darling_statistic), nulls=("standard", "normal"),
                                         min_samples=_EDF_SAMPLES),
    "watson": gather_statistic(_edf(_watson_statistic), nulls=("standard", "normal"),
                               min_samples=_EDF_SAMPLES),
    "kolmogorov_smirnov": gather_statistic(_edf(kolmogorov_smirnov_statistic),
                                           nulls=("standard", "normal"), min_samples=_EDF_SAMPLES),
    "shapiro_wilk": gather_statistic(_one_minus_w(_wilk_weights), nulls=("normal",),
                                     min_samples={"normal": 3}),
    "shapiro_francia": gather_statistic(_one_minus_w(_blom_scores), nulls=("normal",),
                                        min_samples={"normal": 5}),
    "skewness_test": sums_statistic(_power_sums, _skewness_squared_from_sums, nulls=("normal",),
                                    min_samples={"normal": 8}, ddof=0),
    "kurtosis_test": sums_statistic(_power_sums, _kurtosis_squared_from_sums, nulls=("normal",),
                                    min_samples={"normal": 5}, ddof=0),
    "vasicek": gather_statistic(_vasicek_loss, nulls=("standard", "normal"),
                                min_samples={"standard": 3, "normal": 3}, check_options=_check_vasicek_options),
}


def register_loss_statistic(name: str, statistic: LossStatistic) -> None:
    """Make test `name` available to the sliced losses (``sliced_loss(z, test=name)``)."""
    if not isinstance(statistic, LossStatistic):
        raise TypeError(f"`statistic` must be a LossStatistic; got {type(statistic).__name__}")
    LOSS_STATISTICS[name] = statistic


def check_loss_test(test, null, options, *, num_slices) -> tuple[LossStatistic, dict]:
    """Validate `test`, `null` and the test's `options`; return the entry and the full options.

    Raises ``ValueError`` for an unknown test (listing the supported ones) or
    a null the test does not support, ``TypeError`` for options it does not accept.
    """
    if not isinstance(test, str) or test not in LOSS_STATISTICS:
        raise ValueError(f"`test` must be one of {', '.join(map(repr, sorted(LOSS_STATISTICS)))}; got {test!r}")
    entry = LOSS_STATISTICS[test]
    if not isinstance(null, str) or null not in entry.nulls:
        allowed = ", ".join(repr(n) for n in entry.nulls)
        raise ValueError(f"`null` must be one of {allowed} for test {test!r}; got {null!r}")
    try:
        options = entry.check_options(dict(options), num_slices)
    except TypeError as error:
        raise TypeError(f"test {test!r}: {error}") from None
    return entry, options


def check_loss_samples(entry: LossStatistic, num_samples, *, test: str, null: str, name: str = "z") -> None:
    """Refuse fewer samples (per process) than the test needs."""
    fewest = entry.min_samples[null]
    if num_samples is not None and num_samples < fewest:
        raise ValueError(
            f"`{name}` needs at least {fewest} samples along axis -2 for test {test!r} with "
            f"null={null!r}; got {num_samples}"
        )


def slice_statistics(projections, *, entry: LossStatistic, null: str, options: dict, xp,
                     collectives: Collectives = Collectives()) -> Any:
    """The ``(..., K)`` statistics of the projections ``(..., N, K)`` over the whole split batch."""
    if entry.reduction == "gather":
        samples = collectives.gather(projections)
        statistics = entry.statistic(xp.moveaxis(samples, -2, -1), null=null, xp=xp, **options)
        return collectives.replicate(statistics)
    if null == "normal":
        projections = _standardize_across(projections, ddof=entry.ddof, xp=xp,
                                          reduce_sum=collectives.reduce_sum)
    sums = collectives.reduce_sum(entry.sums(projections, xp=xp, **options))
    num_samples = projections.shape[-2] * collectives.world_size
    return entry.from_sums(sums, null=null, num_samples=num_samples, xp=xp, **options)


def _standardize_across(projections, *, ddof: int, reduce_sum, xp):
    """``(p - mean) / sqrt(var + floor^2)`` along axis -2 with the global mean and variance.

    The counterpart of :func:`sketchtest._losses.stable.standardize_safely`
    from sums (two small all-reduces), on conditioned (O(1)) projections: a
    constant slice comes out all zeros (a large finite statistic), not NaN.
    """
    shape = (*projections.shape[:-2], 1, projections.shape[-1])
    local_count = xp.full(shape, float(projections.shape[-2]), dtype=projections.dtype,
                          device=device(projections))
    totals = reduce_sum(xp.concat([local_count, xp.sum(projections, axis=-2, keepdims=True)], axis=-2))
    count, mean = totals[..., :1, :], totals[..., 1:, :] / totals[..., :1, :]
    centered = projections - mean
    variance = reduce_sum(xp.sum(centered * centered, axis=-2, keepdims=True)) / (count - ddof)
    floor = spread_floor(projections.dtype, xp=xp)
    return centered / xp.sqrt(variance + floor * floor)
