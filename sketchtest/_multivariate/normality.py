"""One call that answers "is this Gaussian?" for samples of shape ``(..., N, D)``.

:func:`normality_test` runs several components, each sensitive to another
kind of departure, and combines their p-values with the Cauchy combination
(valid although they are dependent). Under either null every component's
p-value has the distribution it claims at every (N, D):

* random slices and coordinates: a fixed direction's projections of
  N(0, I) samples are an N(0, 1) sample; of whitened Gaussian samples, they
  have exactly the law of a standardized univariate Gaussian sample (the
  whitened data matrix is :math:`\\sqrt N\\, U O` with U a Haar frame in the
  complement of the constant vector, independent of the orthogonal O);
* principal axes: the centred data's principal-axis scores, scaled by their
  own deviation, are the columns of U: each is exactly a standardized
  Gaussian sample, so the composite (shape-only) Epps-Pulley null holds
  although the axes depend on the data (its statistic is even in the sign of
  the axis). Under the standard null the variance along the top axes is
  biased (eigenvalue order statistics); that departure is left to the
  covariance component;
* moments: see :mod:`sketchtest._multivariate.normality_moments`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sketchtest._nulls.combine import cauchy_pvalue
from sketchtest._nulls.tails import cauchy_term, wide_dtype
from sketchtest._compat import device, is_dask_namespace, is_traced
from sketchtest._multivariate.directions import directions_for
from sketchtest._multivariate.normality_moments import (
    chi2_upper, covariance_from_sums, kurtosis_from_sums, matched_chi2_pvalue, mean_statistic, null_moments,
    skewness_from_sum,
)
from sketchtest._multivariate.normality_spectrum import (
    axes_kept, nonfinite_rows, principal_scores, spectrum_of, whitening_matrix,
)
from sketchtest._result import NormalityResult, _describe
from sketchtest._univariate.quadrature import ecf_sums, epps_pulley_from_sums, epps_pulley_knots
from sketchtest._multivariate.sliced import _prepare
from sketchtest._nulls.sliced import epps_pulley_asymptotic_pvalue
from sketchtest._univariate.base import standardize
from sketchtest._validation import check_choice, check_int, check_nan_policy, check_seed
import os
from typing import Any
from sketchtest._typing import Array, NanPolicy, Null, Seed

__all__ = ["NormalityTestResult", "nan_cauchy", "normality_test"]

_T_MAX, _N_POINTS = 3.0, 17
#: Principal axes tested (the first ones): clusters and elongations show on the top axes.
PRINCIPAL_AXES = 32


@dataclass(frozen=True, repr=False)
class NormalityTestResult:
    """Outcome of :func:`sketchtest.normality_test`.

    Attributes
    ----------
    statistic : array
        Cauchy combination statistic of the component p-values, shape ``(...)``.
    pvalue : array
        The combined p-value, shape ``(...)``.
    components : dict of str to NormalityResult
        Each component's ``statistic`` and ``pvalue``; the per-slice and
        per-axis components also hold ``extras["pvalues"]`` (shape
        ``(..., K)``) and ``extras["most_significant"]`` (the index of the
        smallest one).
    null : str
        ``"standard"`` (N(0, I)) or ``"normal"`` (any Gaussian).
    """

    statistic: object
    pvalue: object
    components: dict
    null: str = "standard"
    method: str = "cauchy_combination"
    extras: dict = field(default_factory=dict, compare=False)

    def __iter__(self):
        """Unpack as ``statistic, pvalue``."""
        return iter((self.statistic, self.pvalue))

    def explain(self, x: Array = None, *, alpha: float = 0.05) -> list:
        """The verdict naming the departure, then one line per component, in words.

        Parameters
        ----------
        x : array_like, optional
            The samples tested (unbatched ``(N, D)``): with them the verdict
            tells a mean offset from a scale, a scale from an anisotropy,
            and gives the rank of a collapsed sample.
        alpha : float, default 0.05
            Level at which a component counts as a departure.

        Returns
        -------
        list of str
            ``"verdict: ..."`` first (collapse with its rank and effective
            rank, mean offset, scale or anisotropy, skewness, heavy tails,
            clusters along principal axis k, coordinate j), then what each
            component checks, its p-value and where it is strongest. Indices
            count from 0, as ``x[:, j]``; no raw statistics (a Cauchy
            statistic of 1e+27 means a p-value of 3e-28).

        Examples
        --------
        >>> import numpy as np
        >>> import sketchtest as st
        >>> x = np.random.default_rng(0).standard_normal((1000, 8)) + 0.5
        >>> lines = st.normality_test(x, seed=0).explain(x)
        >>> print(lines[0].split("; ")[0])
        verdict: not N(0, I) (p < 1e-16): mean offset (|mean| = 1.418, about 0.089 under N(0, I)) (p < 1e-16)
        >>> print(next(line for line in lines if line.startswith("principal")))
        principal axes Gaussian in shape: p = 0.694 (smallest at principal axis 7)
        """
        from sketchtest._multivariate.diagnosis import explain  # the telling lives there, once

        return explain(self, x, alpha=alpha)

    def plot(self, x: Array, path: str | os.PathLike | None = None, *, alpha: float = 0.05) -> Any:
        """Figure: Q-Q plots of the flagged principal axis and coordinate, and the covariance spectrum.

        The same figure as ``sketchtest check --plot``. Needs matplotlib
        (``pip install -c .ci/constraints.txt -e ".[plot]"``).

        Parameters
        ----------
        x : array_like
            The samples tested, unbatched ``(N, D)``.
        path : str or os.PathLike, optional
            Where to save the figure as well (PNG unless the name says otherwise).
        alpha : float, default 0.05
            Level at which a component counts as a departure.

        Returns
        -------
        matplotlib.figure.Figure
            Three panels; no pyplot state is touched (``figure.savefig`` or
            display it in a notebook).

        Examples
        --------
        >>> import numpy as np
        >>> import sketchtest as st
        >>> x = np.random.default_rng(0).standard_normal((1000, 8)) + 0.5
        >>> figure = st.normality_test(x, seed=0).plot(x)
        >>> [axes.get_title() for axes in figure.axes]  # doctest: +NORMALIZE_WHITESPACE
        ['coordinate 5 (x[:, 5]): p < 1e-16', 'principal axis 7: p = 0.307',
         'covariance spectrum: effective rank 7.95 of 8']
        """
        from sketchtest._multivariate.diagnosis_figure import plot_result

        return plot_result(self, x, path=path, alpha=alpha)

    def __repr__(self) -> str:
        lines = [f"NormalityTestResult(null={self.null!r}, pvalue={_describe(self.pvalue)}, "
                 f"statistic={_describe(self.statistic)}, method={self.method!r}, components:"]
        width = max(len(name) for name in self.components)
        for name, part in self.components.items():
            where = "".join(f", {key}={_describe(part.extras[key]) if key != 'reason' else repr(part.extras[key])}"
                            for key in ("most_significant", "reason") if key in part.extras
                            and not (key == "most_significant" and _describe(part.pvalue) == "nan"))
            lines.append(f"  {name:<{width}}  statistic={_describe(part.statistic)}, "
                         f"pvalue={_describe(part.pvalue)}{where}")
        return "\n".join(lines) + ")"



# --- components -----------------------------------------------------------------

#: Under N(0, I) no value exceeds 64 in magnitude (probability below 1e-890 per value): beyond it the
#: standard null's moment components are rejected outright (p = 0), and their statistics are
#: computed on values clipped there, so that no square or fourth power overflows.
FAR_FROM_STANDARD = 64.0


def nan_cauchy(pvalues, *, xp):
    """Cauchy combination over the last axis leaving NaN p-values out: ``(statistic, pvalue)``.

    NaN only where every p-value is NaN.
    """
    present = ~xp.isnan(pvalues)
    terms = cauchy_term(xp.where(present, pvalues, xp.full_like(pvalues, 0.5)), xp=xp)
    count = xp.sum(xp.astype(present, pvalues.dtype), axis=-1, keepdims=True)
    shares = terms / xp.where(count > 0, count, xp.ones_like(count))  # divided first: no overflow in float32
    mean = xp.sum(xp.where(present, shares, xp.zeros_like(shares)), axis=-1)
    statistic = xp.where(count[..., 0] > 0, mean, xp.full_like(mean, float("nan")))
    return statistic, cauchy_pvalue(statistic, xp=xp)


def _epps_pulley_columns(projections, *, xp, null, standardized=False, column_scale=None):
    """Epps-Pulley statistics and asymptotic p-values of every column of ``(..., N, K)``.

    The composite null standardizes each column with ddof = 0, as
    :func:`sketchtest.epps_pulley`, unless the columns are `standardized`
    already (whitened slices, principal scores: mean zero and variance one
    by construction), or scaled to be by `column_scale` ``(..., K)``.
    """
    if null == "normal" and not standardized:
        projections = xp.moveaxis(standardize(xp.moveaxis(projections, -1, -2), xp=xp, ddof=0), -1, -2)
    cos_sum, sin_sum = ecf_sums(projections, _T_MAX, _N_POINTS, xp=xp, column_scale=column_scale)
    return columns_from_sums(cos_sum, sin_sum, projections.shape[-2], xp=xp, null=null)


def columns_from_sums(cos_sum, sin_sum, count, *, xp, null):
    """Epps-Pulley statistics and p-values ``(..., K)`` from the ECF sums ``(..., K, T)`` of `count` samples.

    A NaN statistic (a constant column) gives a NaN p-value without
    reaching the interpolation of the null table.
    """
    _, phi, weights = epps_pulley_knots(_T_MAX, _N_POINTS, xp=xp, dtype=cos_sum.dtype, device=device(cos_sum))
    statistics = epps_pulley_from_sums(cos_sum, sin_sum, float(count), phi, weights, xp=xp)
    undefined = ~xp.isfinite(statistics)
    safe = xp.where(undefined, xp.zeros_like(statistics), statistics)
    pvalues = epps_pulley_asymptotic_pvalue(safe, t_max=_T_MAX, n_points=_N_POINTS, null=null, xp=xp)
    return statistics, xp.where(undefined, xp.full_like(pvalues, float("nan")), pvalues)


def _axes_component(projections, *, xp, null, name, kept=None, standardized=False, column_scale=None):
    """Epps-Pulley on every column of ``(..., N, K)``, Cauchy-combined over the columns that are `kept`."""
    statistics, pvalues = _epps_pulley_columns(projections, xp=xp, null=null, standardized=standardized,
                                               column_scale=column_scale)
    return columns_component(statistics, pvalues, xp=xp, null=null, name=name, kept=kept)


def columns_component(statistics, pvalues, *, xp, null, name, kept=None):
    """The component of per-column Epps-Pulley results, Cauchy-combined over the columns that are `kept`.

    A column left out (an empty principal axis, a constant coordinate) has
    a NaN p-value and no part in the combination.
    """
    if kept is not None:
        pvalues = xp.where(kept, pvalues, xp.full_like(pvalues, float("nan")))
    combined, pvalue = nan_cauchy(pvalues, xp=xp)
    safe = xp.where(xp.isnan(pvalues), xp.full_like(pvalues, 2.0), pvalues)
    extras = {"statistics": statistics, "pvalues": pvalues, "most_significant": xp.argmin(safe, axis=-1)}
    return NormalityResult(combined, pvalue, test=name, null=null, method="epps_pulley_cauchy", extras=extras)


def moment_component(statistic, name, null, n, dim, *, xp, tail):
    mean, variance = null_moments(name, null, n, dim)
    pvalue = matched_chi2_pvalue(statistic, mean, variance, xp=xp, tail=tail)
    return NormalityResult(statistic, pvalue, test=name, null=null, method="matched_chi2",
                           extras={"null_mean": mean, "null_variance": variance})


def switched_off(part, reason, *, xp):
    """`part` with NaN statistic and p-value, and `reason` in its extras."""
    nan = xp.full_like(part.pvalue, float("nan"))
    return NormalityResult(nan, nan, test=part.test, null=part.null, method=part.method,
                           extras={**part.extras, "reason": reason})


def reject_where(part, far, reason, *, xp):
    """`part` with p-value 0 and an infinite statistic where `far` (a batch mask)."""
    if not (is_traced(far) or bool(xp.any(far))):
        return part
    statistic = xp.where(far, xp.full_like(part.statistic, float("inf")), part.statistic)
    pvalue = xp.where(far, xp.zeros_like(part.pvalue), part.pvalue)
    return NormalityResult(statistic, pvalue, test=part.test, null=part.null, method=part.method,
                           extras={**part.extras, "reason": reason})


def _standard_moments(x, spectrum, *, xp):
    """Skewness, kurtosis, covariance and mean components of the raw samples (standard null).

    One pass for the squared norms and one product for the skewness vector;
    :math:`X^\top X` and the mean come from the spectrum's covariance and mean
    (exact up to rounding), except where a value is beyond
    :data:`FAR_FROM_STANDARD` (the moments are rejected there and computed
    on the clipped samples) or under tracing.
    """
    n, dim = x.shape[-2], x.shape[-1]
    far = ((xp.max(x, axis=(-2, -1)) > FAR_FROM_STANDARD)
           | (xp.min(x, axis=(-2, -1)) < -FAR_FROM_STANDARD))
    exact_gram = is_traced(far) or bool(xp.any(far))
    if exact_gram:
        x = xp.clip(x, -FAR_FROM_STANDARD, FAR_FROM_STANDARD)
    squared_norms = xp.vecdot(x, x, axis=-1)
    weighted = xp.matmul((squared_norms - (dim + 2.0))[..., None, :], x)[..., 0, :]
    # the kurtosis is about D (D + 2) with a null spread of sqrt(8 D (D + 2) / N): float32 sums of the
    # N squared norms would blur it at large N (its ulp is 1% of that spread at N = 10^6, D = 256)
    wide_norms = xp.astype(squared_norms, wide_dtype(x, xp=xp))
    fourth_sum, square_sum = xp.sum(wide_norms * wide_norms, axis=-1), xp.sum(wide_norms, axis=-1)
    gram, mean_value = _gram_and_mean(x, spectrum, exact=exact_gram, xp=xp)
    statistics = {
        "skewness": skewness_from_sum(weighted, n, xp=xp),
        "kurtosis": kurtosis_from_sums(fourth_sum, square_sum, n, dim, scale_free=True),
        "covariance": xp.astype(covariance_from_sums(gram, xp.astype(fourth_sum, gram.dtype),
                                                     xp.astype(square_sum, gram.dtype), n, xp=xp), x.dtype),
        "mean": mean_value,
    }
    return standard_moment_parts(statistics, far, n, dim, xp=xp)


def _gram_and_mean(x, spectrum, *, exact, xp):
    r""":math:`X^\top X` and :math:`N \lVert \bar x \rVert^2`: from the spectrum, or from `x` where `exact`."""
    n = x.shape[-2]
    if exact:
        return xp.matmul(xp.matrix_transpose(x), x), mean_statistic(x, xp=xp)
    mean = spectrum.mean
    raw_covariance = spectrum.covariance / (spectrum.scale * spectrum.scale)
    gram = float(n) * (raw_covariance + xp.matmul(xp.matrix_transpose(mean), mean))
    return gram, xp.astype(float(n) * xp.sum(mean * mean, axis=(-2, -1)), x.dtype)


def standard_moment_parts(statistics, far, n, dim, *, xp):
    """The standard null's moment components from their `statistics`, rejected where `far`, switched off at small N."""
    parts = {
        "skewness": moment_component(statistics["skewness"], "skewness", "standard", n, dim, xp=xp, tail="upper"),
        "kurtosis": moment_component(statistics["kurtosis"], "kurtosis", "standard", n, dim, xp=xp,
                                     tail="two-sided"),
        "covariance": NormalityResult(statistics["covariance"],
                                      chi2_upper(statistics["covariance"], dim * (dim + 1) // 2, xp=xp),
                                      test="covariance", null="standard", method="chi2"),
        "mean": NormalityResult(statistics["mean"], chi2_upper(statistics["mean"], dim, xp=xp), test="mean",
                                null="standard", method="chi2_exact"),
    }
    reason = f"a value beyond {FAR_FROM_STANDARD:g} in magnitude: impossible under N(0, I)"
    parts = {name: reject_where(part, far, reason, xp=xp) for name, part in parts.items()}
    if n <= dim + 2:
        reason = f"N = {n} <= D + 2 = {dim + 2}: its chi-square approximation does not hold"
        for name in ("skewness", "kurtosis", "covariance"):
            parts[name] = switched_off(parts[name], reason, xp=xp)
    return parts


def _standard_components(x, spectrum, directions, *, xp):
    n, dim = x.shape[-2], x.shape[-1]
    num_axes = min(dim, n - 1, PRINCIPAL_AXES)
    scores = principal_scores(spectrum, xp=xp, num_axes=num_axes)
    components = {
        "random_slices": _axes_component(xp.matmul(x, directions), xp=xp, null="standard", name="random_slices"),
        "principal_axes": _axes_component(scores, xp=xp, null="normal", name="principal_axes",
                                          kept=axes_kept(spectrum, num_axes, xp=xp), standardized=True),
        "coordinates": _axes_component(x, xp=xp, null="standard", name="coordinates"),
    }
    components.update(_standard_moments(x, spectrum, xp=xp))
    return components


#: Under the composite null, skewness and kurtosis are switched off below N = D + 8: at D = 16 and
#: N = D + 2..D + 4 their scaled chi-square tails rejected 2.5 to 10 times too often at alpha = 0.001
#: (4000 replicates); from N = D + 8 the combined p-value holds its level there.
COMPOSITE_MOMENTS_MARGIN = 8


def _column_scale(spectrum, *, xp):
    r"""``(..., D)`` scale of each centred column to variance one (ddof = 0); an empty column's is NaN.

    The variances are the covariance's diagonal, :math:`\sum_k V_{jk}^2 \lambda_k`;
    a column whose variance is below the rank threshold (a constant) is empty.
    """
    variance = xp.sum(spectrum.vectors * spectrum.vectors * spectrum.eigenvalues[..., None, :], axis=-1)
    empty = variance <= spectrum.threshold[..., None]
    safe = xp.where(empty, xp.ones_like(variance), variance)
    scale = xp.where(empty, xp.full_like(variance, float("nan")), 1.0 / xp.sqrt(safe))
    return xp.astype(scale, spectrum.centred.dtype)


def _composite_components(x, spectrum, directions, *, xp):
    n, dim = x.shape[-2], x.shape[-1]
    whitened = xp.matmul(spectrum.centred, whitening_matrix(spectrum, xp=xp, dtype=x.dtype))
    num_axes = min(dim, PRINCIPAL_AXES)
    scores = principal_scores(spectrum, xp=xp, num_axes=num_axes)
    components = {
        "random_slices": _axes_component(xp.matmul(whitened, directions), xp=xp, null="normal",
                                         name="random_slices", standardized=True),
        "principal_axes": _axes_component(scores, xp=xp, null="normal", name="principal_axes",
                                          kept=axes_kept(spectrum, num_axes, xp=xp), standardized=True),
        "coordinates": _axes_component(spectrum.centred, xp=xp, null="normal", name="coordinates",
                                       standardized=True, column_scale=_column_scale(spectrum, xp=xp)),
    }
    squared_norms = xp.vecdot(whitened, whitened, axis=-1)
    moments = {"skewness": skewness_from_sum(xp.matmul(squared_norms[..., None, :], whitened)[..., 0, :], n, xp=xp),
               "kurtosis": kurtosis_from_sums(xp.sum(squared_norms * squared_norms, axis=-1),
                                              xp.sum(squared_norms, axis=-1), n, dim, scale_free=False)}
    return composite_parts(components, moments, spectrum.rank < dim, n, dim, xp=xp)


def composite_parts(components, moments, singular, n, dim, *, xp):
    """Add the composite moment components to `components`; switch off what N or a `singular` covariance forbids."""
    components = dict(components)
    components["skewness"] = moment_component(moments["skewness"], "skewness", "normal", n, dim, xp=xp,
                                              tail="upper")
    components["kurtosis"] = moment_component(moments["kurtosis"], "kurtosis", "normal", n, dim, xp=xp,
                                              tail="two-sided")
    if n < dim + COMPOSITE_MOMENTS_MARGIN:
        reason = (f"N = {n} < D + {COMPOSITE_MOMENTS_MARGIN} = {dim + COMPOSITE_MOMENTS_MARGIN}: "
                  "its scaled chi-square tail does not hold")
        for name in ("skewness", "kurtosis"):
            components[name] = switched_off(components[name], reason, xp=xp)
    reason = "the covariance is singular: no whitening (see the rank and within_subspace components)"
    for name in ("random_slices", "skewness", "kurtosis"):
        components[name] = nan_component_where(components[name], singular, reason, xp=xp)
    return components


def nan_component_where(part, mask, reason, *, xp):
    """`part` with NaN results where `mask` (a batch mask), and `reason` in its extras when any is."""
    if not (is_traced(mask) or bool(xp.any(mask))):
        return part
    nan = xp.full_like(part.pvalue, float("nan"))
    extras = {**part.extras, "reason": reason}
    return NormalityResult(xp.where(mask, nan, part.statistic), xp.where(mask, nan, part.pvalue),
                           test=part.test, null=part.null, method=part.method, extras=extras)


# --- rank -------------------------------------------------------------------------------

def below_gaussian_span(rank, n, dim):
    """Where `rank` is below the dimensions N Gaussian samples span: D if N > D, else N - 1 (centred)."""
    return rank < (dim if n > dim else n - 1)


def rank_component(spectrum, n, dim, null, *, xp, dtype):
    """p = 0 where the samples span fewer dimensions than a Gaussian's would, else 1 (never combined).

    With N > D that is a numerically singular covariance (rank < D). With
    N <= D every sample covariance is singular: N centred samples of a
    Gaussian with a full-rank covariance span N - 1 dimensions (almost
    surely), so only a rank below N - 1 is evidence (p = 0); otherwise the
    p-value is NaN, with the reason in ``extras["reason"]``.
    """
    singular = below_gaussian_span(spectrum.rank, n, dim)
    pvalue = xp.where(singular, xp.zeros(singular.shape, dtype=dtype, device=device(singular)),
                      xp.ones(singular.shape, dtype=dtype, device=device(singular)))
    extras = {"rank": spectrum.rank, "effective_rank": spectrum.effective_rank, "dimension": dim,
              "threshold": spectrum.threshold, "samples": n}
    if n <= dim:
        nan = xp.full_like(pvalue, float("nan"))
        pvalue = xp.where(singular, pvalue, nan)
        extras["reason"] = (f"N = {n} <= D = {dim}: every sample covariance is singular, and the samples "
                            f"span N - 1 = {n - 1} dimensions as a Gaussian's do")
    statistic = xp.astype(dim - spectrum.rank, dtype)
    return NormalityResult(statistic, pvalue, test="rank", null=null, method="numerical_rank", extras=extras)


def _within_subspace(x_spectrum, singular, null, options, *, xp, dtype):
    """Composite test of the samples' scores in their k-dimensional subspace, where singular.

    ``None`` (no component) where no sample is singular, and under tracing
    (the rank must be a Python int; a lazy dask rank is computed, as NumPy's
    is read); NaN for the full-rank batch elements.
    """
    shape = tuple(singular.shape)
    if is_traced(singular) and not is_dask_namespace(xp):
        return None
    flat_singular = [bool(v) for v in xp.reshape(singular, (-1,))]
    if not any(flat_singular):
        return None
    vectors = xp.reshape(x_spectrum.vectors, (-1,) + tuple(x_spectrum.vectors.shape[-2:]))
    centred = xp.reshape(x_spectrum.centred, (-1,) + tuple(x_spectrum.centred.shape[-2:]))
    ranks = [int(v) for v in xp.reshape(x_spectrum.rank, (-1,))]
    statistics, pvalues = [], []
    for index, is_singular in enumerate(flat_singular):
        rank = ranks[index]
        if not is_singular or rank < 1 or centred.shape[-2] < rank + 2:
            statistics.append(float("nan"))
            pvalues.append(float("nan"))
            continue
        # coordinates on the top principal axes, not whitened: the composite test is affine
        # invariant, and whitened scores (covariance I) would leave its principal axes undefined
        scores = xp.matmul(centred[index], xp.astype(vectors[index][:, :rank], centred.dtype))
        inner = normality_test(scores, null="normal", **options)
        statistics.append(float(inner.statistic))
        pvalues.append(float(inner.pvalue))
    statistic = xp.reshape(xp.asarray(statistics, dtype=dtype, device=device(singular)), shape)
    pvalue = xp.reshape(xp.asarray(pvalues, dtype=dtype, device=device(singular)), shape)
    return NormalityResult(statistic, pvalue, test="within_subspace", null="normal", method="normality_test",
                           extras={"rank": x_spectrum.rank})


# --- the public function -----------------------------------------------------------

def _validate(x, null, seed, num_slices, moment_resamples, nan_policy):
    check_choice(null, name="null", choices=("standard", "normal"))
    check_seed(seed)
    check_int(num_slices, name="num_slices", minimum=1)
    check_int(moment_resamples, name="moment_resamples", minimum=10)
    check_choice(nan_policy, name="nan_policy", choices=("propagate", "raise"))
    x, xp, result_dtype = _prepare(x, min_samples=4)
    n, dim = x.shape[-2], x.shape[-1]
    if null == "normal" and n < dim + 2:
        raise ValueError(
            f"null='normal' whitens `x` with its sample covariance, which needs N >= D + 2 samples; "
            f"got N = {n}, D = {dim} (use null='standard', or more samples)")
    check_nan_policy(nan_policy, x, xp=xp)
    return x, xp, result_dtype


def normality_test(
    x: Array, /, *, null: Null = "standard", seed: Seed = None, num_slices: int = 128,
    directions: Array | None = None, moment_resamples: int = 200, nan_policy: NanPolicy = "propagate",
) -> NormalityTestResult:
    r"""Test whether samples of shape ``(..., N, D)`` are Gaussian: one calibrated p-value.

    Components, each a p-value valid at every (N, D) (see the module
    docstring), combined by the Cauchy combination of Liu & Xie (2020),
    :math:`p = \tfrac12 - \arctan\big(\frac1C \sum_c \tan((\tfrac12 - p_c)\pi)\big)/\pi`,
    whose level holds although the components are dependent:

    ``random_slices``
        Epps-Pulley on `num_slices` random directions (of the whitened
        samples under ``null="normal"``), Cauchy-combined over slices:
        departures spread over many coordinates.
    ``principal_axes``
        Epps-Pulley (composite null: shape only) on the centred samples'
        scores on their first 32 principal axes (``extras["pvalues"][..., 0]``
        is the first axis): clusters and departures along the data's own
        main axes.
    ``coordinates``
        Epps-Pulley on every coordinate: a single skewed or heavy-tailed
        feature, product-form departures (uniform cubes).
    ``skewness``, ``kurtosis``
        Vector skewness :math:`\lVert N^{-1/2}\sum_i z_i(|z_i|^2 - c)\rVert^2/(2(D+2))`
        (Móri, Rohatgi & Székely) and Mardia's kurtosis :math:`\frac1N\sum_i |z_i|^4`
        (two-sided), with their null mean and variance at this (N, D) and a
        moment-matched scaled chi-square tail.
    ``covariance``, ``mean`` (standard null only)
        :math:`\lVert\Sigma - I\rVert_F^2` by a degenerate U-statistic
        (:math:`\chi^2_{D(D+1)/2}` with the exact mean and variance) and
        :math:`N\lVert\bar x\rVert^2 \sim \chi^2_D`.
    ``rank``
        The numerical rank of the covariance (``extras``: ``"rank"``,
        ``"effective_rank"`` (exp of the spectral entropy), ``"dimension"``
        and ``"threshold"``, the eigenvalue below which an axis counts as
        empty, relative to a mean eigenvalue of one). With N > D a Gaussian
        sample is full rank with probability one, so a singular covariance
        is a certain departure: p = 0, and the combined p-value is 0. Full
        rank gives p = 1, left out of the combination (it would only pull
        the combination towards 1); N <= D gives NaN with its reason.
        Eigenvalue :math:`\lambda_k` counts as zero below
        :math:`\max(\epsilon^2(\bar\lambda + |\bar x|^2/D),\, 8D\epsilon_{cov}\lambda_{max})`,
        :math:`\epsilon` the epsilon of the input dtype (bfloat16 included)
        and :math:`\epsilon_{cov}` that of the covariance (float64 where
        the device has it). Measured, it tells exactly collapsed data from
        full-rank Gaussian data at every N > D in float64 and float32, and
        from N of about 2D in bfloat16.
    ``within_subspace``
        For a singular sample (N > D): ``normality_test(null="normal")`` of
        its scores on its k non-empty principal axes, whether the data is
        Gaussian inside its subspace; NaN for the full-rank elements of a
        batch, and absent when no sample is singular (and under ``jax.jit``).

    Under ``null="standard"`` the slices, coordinates, moments, covariance
    and mean are computed on the raw samples, so collapsed, shifted and
    rescaled data get p -> 0; a value beyond 64 in magnitude rejects the
    moment components outright (impossible under N(0, I)). The principal
    axes, the rank and every ``null="normal"`` component see the samples
    centred and scaled first (the mean in float64 where the device has it,
    then a second pass; a power-of-two scale), so the composite null is
    shift- and scale-invariant in float32 too. A component that cannot be
    computed has NaN ``pvalue`` and ``extras["reason"]``, and is left out of
    the combination: skewness, kurtosis and covariance at N <= D + 2 under
    the standard null, skewness and kurtosis at N < D + 8 under the
    composite null (their chi-square tails do not hold there), whitened
    components of a singular sample. The combined p-value is NaN only for
    a batch element with a NaN or an infinity.

    Parameters
    ----------
    x : array_like
        Samples of shape ``(..., N, D)``, N >= 4 (N >= D + 2 for
        ``null="normal"``); leading axes are a batch. A dask array stays
        chunked by rows: its D x D covariance is reduced over the chunks and
        decomposed on the host, and the result equals NumPy's.
    null : {"standard", "normal"}, default "standard"
        ``"standard"`` (the default for (N, D) embeddings, as LeJEPA): H0 is
        N(0, I_D), what SIGReg enforces.
        ``"normal"``: H0 is some Gaussian, any mean and (non-singular)
        covariance. Skewness and kurtosis are affine invariant; principal
        axes invariant to shifts, rotations and a global scale; coordinates
        to a shift and scale of each coordinate; random slices (of the
        samples whitened by the symmetric inverse square root of their
        covariance, the same on every backend) invariant in law.
    seed : int or numpy.random.Generator, optional
        Seed of the random directions (drawn on the host).
    num_slices : int, default 128
        Number of random directions.
    directions : array, optional
        A ``(D, K)`` matrix of unit columns instead of random directions.
    moment_resamples : int, default 200
        Unused: the composite skewness's null moments are now a closed form
        (exact at D = 1, checked by simulation beyond); kept so that calls naming it
        still run, and still validated (an int >= 10).
    nan_policy : {"propagate", "raise"}, default "propagate"
        A batch element with a NaN or an infinity gets NaN results, or raise
        ``ValueError``.

    Returns
    -------
    NormalityTestResult
        ``pvalue`` and ``statistic`` of shape ``(...)``, ``components``
        (name to :class:`NormalityResult`).

    References
    ----------
    .. [1] Y. Liu and J. Xie, "Cauchy combination test", Journal of the
       American Statistical Association 115(529), 393-402, 2020.
    .. [2] K. V. Mardia, "Applications of some measures of multivariate
       skewness and kurtosis in testing normality and robustness studies",
       Sankhyā B 36(2), 115-128, 1974.
    .. [3] T. F. Móri, V. K. Rohatgi and G. J. Székely, "On multivariate
       skewness and kurtosis", Theory of Probability and its Applications
       38(3), 547-551, 1993.

    Examples
    --------
    >>> import numpy as np
    >>> import sketchtest as st
    >>> rng = np.random.default_rng(0)
    >>> bool(st.normality_test(rng.standard_normal((512, 16)), seed=0).pvalue > 0.01)
    True
    >>> cube = rng.uniform(-3.0 ** 0.5, 3.0 ** 0.5, size=(512, 16))
    >>> result = st.normality_test(cube, seed=0)
    >>> bool(result.pvalue < 1e-6), bool(result.components["kurtosis"].pvalue < 1e-6)
    (True, True)

    A collapsed embedding (rank 4 in D = 32) is a certain departure:

    >>> collapsed = (rng.standard_normal((2000, 4)) @ rng.standard_normal((4, 32))).astype(np.float32)
    >>> result = st.normality_test(collapsed, null="normal", seed=0)
    >>> float(result.pvalue), int(result.components["rank"].extras["rank"])
    (0.0, 4)
    """
    input_dtype = getattr(x, "dtype", None)
    x, xp, result_dtype = _validate(x, null, seed, num_slices, moment_resamples, nan_policy)
    n, dim = x.shape[-2], x.shape[-1]
    missing = nonfinite_rows(x, xp=xp)
    if is_traced(missing) or bool(xp.any(missing)):
        x = xp.where(xp.isfinite(x), x, xp.zeros_like(x))
    directions, _ = directions_for(x, xp=xp, dtype=x.dtype, num_slices=num_slices, seed=seed,
                                   directions=directions, orthogonal=False)
    spectrum = spectrum_of(x, xp=xp, input_dtype=input_dtype)
    build = _standard_components if null == "standard" else _composite_components
    components = build(x, spectrum, directions, xp=xp)
    rank = rank_component(spectrum, n, dim, null, xp=xp, dtype=x.dtype)
    singular = below_gaussian_span(spectrum.rank, n, dim) & ~missing
    options = {"seed": seed if isinstance(seed, int) else 0, "num_slices": num_slices}
    inside = _within_subspace(spectrum, singular, null, options, xp=xp, dtype=x.dtype)
    return combine_components(components, rank, inside, missing, singular, xp=xp, null=null,
                              result_dtype=result_dtype, directions=directions)


def combine_components(components, rank, inside, missing, singular, *, xp, null, result_dtype, directions):
    """The :class:`NormalityTestResult`: `components` with `rank` and `inside` (or ``None``), Cauchy-combined.

    NaN where the batch element is `missing`; p = 0 where it is `singular`.
    """
    components = {**components, "rank": rank}
    if inside is not None:
        components["within_subspace"] = inside
    components = {name: _masked(part, missing, result_dtype, xp=xp) for name, part in components.items()}
    combined = [part.pvalue for name, part in components.items() if name != "rank"]
    statistic, pvalue = nan_cauchy(xp.stack(combined, axis=-1), xp=xp)
    statistic = xp.where(singular, xp.full_like(statistic, float("inf")), statistic)
    pvalue = xp.where(singular, xp.zeros_like(pvalue), pvalue)
    return NormalityTestResult(statistic, pvalue, components, null=null, extras={"directions": directions})


def _masked(part, invalid, result_dtype, *, xp):
    """`part` in the result dtype, NaN where the batch element is `invalid`."""
    nan = xp.asarray(float("nan"), dtype=result_dtype, device=device(invalid))

    def cast(value):
        value = value if value.dtype == result_dtype else xp.astype(value, result_dtype)
        return xp.where(invalid, nan, value)

    extras = dict(part.extras)
    if "pvalues" in extras:
        extras["pvalues"] = cast(xp.moveaxis(extras["pvalues"], -1, 0))
        extras["pvalues"] = xp.moveaxis(extras["pvalues"], 0, -1)
        extras["statistics"] = xp.moveaxis(cast(xp.moveaxis(extras["statistics"], -1, 0)), 0, -1)
    return NormalityResult(cast(part.statistic), cast(part.pvalue), test=part.test, null=part.null,
                           method=part.method, extras=extras)
