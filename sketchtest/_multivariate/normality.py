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

import math
from dataclasses import dataclass, field

from sketchtest._nulls.combine import cauchy_combination, cauchy_pvalue, cauchy_statistic
from sketchtest._compat import device
from sketchtest._multivariate.directions import directions_for
from sketchtest._multivariate.normality_moments import (
    chi2_upper, covariance_statistic, kurtosis_statistic, matched_chi2_pvalue, mean_statistic,
    null_moments, skewness_statistic,
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

__all__ = ["NormalityTestResult", "normality_test", "whiten_principal"]

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


_COMPONENT_WORDS = {
    "random_slices": "random 1-D projections Gaussian",
    "principal_axes": "principal axes Gaussian in shape",
    "coordinates": "each coordinate Gaussian",
    "skewness": "no multivariate skewness",
    "kurtosis": "multivariate kurtosis as Gaussian",
    "covariance": "covariance is the identity",
    "mean": "mean is zero",
}
_AXIS_WORDS = {"random_slices": "direction", "principal_axes": "principal axis", "coordinates": "coordinate"}


# --- whitening by principal axes ----------------------------------------------

def _eigh_dtype(matrix, *, xp):
    """float64 for the small ``(D, D)`` eigenproblem where the device offers it."""
    info = xp.__array_namespace_info__()
    return xp.float64 if xp.float64 in info.dtypes(device=device(matrix)).values() else matrix.dtype


def principal_scores(centered, covariance, *, xp, num_axes):
    """Scores on the top `num_axes` principal axes (first axis first), each scaled to unit variance.

    Returns ``(scores, degenerate)``: scores ``(..., N, num_axes)`` and a
    ``(...)`` mask of batch elements whose kept eigenvalues are not clearly
    positive (singular covariance), for which the scores mean nothing.
    """
    dtype, dim = centered.dtype, covariance.shape[-1]
    eig_dtype = _eigh_dtype(covariance, xp=xp)
    eigenvalues, vectors = xp.linalg.eigh(xp.astype(covariance, eig_dtype))
    kept = xp.flip(eigenvalues[..., dim - num_axes:], axis=-1)  # descending: axis 0 is the first
    axes = xp.flip(vectors[..., dim - num_axes:], axis=-1)
    tolerance = 10.0 * float(xp.finfo(dtype).eps) * math.sqrt(dim)
    largest = eigenvalues[..., -1]
    degenerate = ~(kept[..., -1] > tolerance * largest)
    tiny = float(xp.finfo(eig_dtype).smallest_normal)
    scale = 1.0 / xp.sqrt(xp.clip(kept, tiny, None))
    loadings = xp.astype(axes * scale[..., None, :], dtype)
    return xp.matmul(centered, loadings), degenerate


def whiten_principal(x, *, xp, num_axes):
    """``(scores, degenerate, centered)``: PCA-whitened samples of ``(..., N, D)`` (see above)."""
    centered = x - xp.mean(x, axis=-2, keepdims=True)
    covariance = xp.matmul(xp.matrix_transpose(centered), centered) / float(x.shape[-2])
    scores, degenerate = principal_scores(centered, covariance, xp=xp, num_axes=num_axes)
    return scores, degenerate, centered


# --- components -----------------------------------------------------------------

def _epps_pulley_columns(projections, *, xp, null):
    """Epps-Pulley statistics and asymptotic p-values of every column of ``(..., N, K)``.

    The composite null standardizes each column with ddof = 0, as
    :func:`sketchtest.epps_pulley`. A NaN statistic (a constant column)
    gives a NaN p-value without reaching the interpolation of the null table.
    """
    if null == "normal":
        projections = xp.moveaxis(standardize(xp.moveaxis(projections, -1, -2), xp=xp, ddof=0), -1, -2)
    _, phi, weights = epps_pulley_knots(_T_MAX, _N_POINTS, xp=xp, dtype=projections.dtype,
                                        device=device(projections))
    cos_sum, sin_sum = ecf_sums(projections, _T_MAX, _N_POINTS, xp=xp)
    statistics = epps_pulley_from_sums(cos_sum, sin_sum, float(projections.shape[-2]), phi, weights, xp=xp)
    undefined = xp.isnan(statistics)
    safe = xp.where(undefined, xp.zeros_like(statistics), statistics)
    pvalues = epps_pulley_asymptotic_pvalue(safe, t_max=_T_MAX, n_points=_N_POINTS, null=null, xp=xp)
    return statistics, xp.where(undefined, statistics, pvalues)


def _axes_component(projections, *, xp, null, name):
    """Epps-Pulley on every column of ``(..., N, K)``, Cauchy-combined over the K columns."""
    statistics, pvalues = _epps_pulley_columns(projections, xp=xp, null=null)
    combined = cauchy_statistic(pvalues, xp=xp)
    extras = {"statistics": statistics, "pvalues": pvalues, "most_significant": xp.argmin(pvalues, axis=-1)}
    return NormalityResult(combined, cauchy_pvalue(combined, xp=xp), test=name, null=null,
                           method="epps_pulley_cauchy", extras=extras)


def _moment_component(statistic, name, null, n, dim, *, xp, tail, n_resamples):
    mean, variance = null_moments(name, null, n, dim, n_resamples=n_resamples, seed=0)
    pvalue = matched_chi2_pvalue(statistic, mean, variance, xp=xp, tail=tail)
    return NormalityResult(statistic, pvalue, test=name, null=null, method="matched_chi2",
                           extras={"null_mean": mean, "null_variance": variance})


def _standard_components(x, directions, *, xp, n_resamples):
    n, dim = x.shape[-2], x.shape[-1]
    gram = xp.matmul(xp.matrix_transpose(x), x)
    mean = xp.mean(x, axis=-2, keepdims=True)
    covariance = gram / float(n) - xp.matmul(xp.matrix_transpose(mean), mean)
    scores, degenerate = principal_scores(x - mean, covariance, xp=xp, num_axes=min(dim, n - 1, PRINCIPAL_AXES))
    mean_value = mean_statistic(x, xp=xp)
    covariance_value = covariance_statistic(x, gram, xp=xp)
    m = dim * (dim + 1) // 2
    components = {
        "random_slices": _axes_component(xp.matmul(x, directions), xp=xp, null="standard", name="random_slices"),
        "principal_axes": _axes_component(scores, xp=xp, null="normal", name="principal_axes"),
        "coordinates": _axes_component(x, xp=xp, null="standard", name="coordinates"),
        "skewness": _moment_component(skewness_statistic(x, xp=xp, centre=dim + 2.0), "skewness", "standard",
                                      n, dim, xp=xp, tail="upper", n_resamples=n_resamples),
        "kurtosis": _moment_component(kurtosis_statistic(x, xp=xp, scale_free=True), "kurtosis", "standard", n, dim,
                                      xp=xp, tail="two-sided", n_resamples=n_resamples),
        "covariance": NormalityResult(covariance_value, chi2_upper(covariance_value, m, xp=xp),
                                      test="covariance", null="standard", method="chi2"),
        "mean": NormalityResult(mean_value, chi2_upper(mean_value, dim, xp=xp), test="mean",
                                null="standard", method="chi2_exact"),
    }
    return components, degenerate


def _composite_components(x, directions, *, xp, n_resamples):
    n, dim = x.shape[-2], x.shape[-1]
    whitened, degenerate, _ = whiten_principal(x, xp=xp, num_axes=dim)
    components = {
        "random_slices": _axes_component(xp.matmul(whitened, directions), xp=xp, null="normal",
                                         name="random_slices"),
        "principal_axes": _axes_component(whitened[..., :min(dim, PRINCIPAL_AXES)], xp=xp, null="normal",
                                          name="principal_axes"),
        "coordinates": _axes_component(x, xp=xp, null="normal", name="coordinates"),
        "skewness": _moment_component(skewness_statistic(whitened, xp=xp, centre=0.0), "skewness", "normal",
                                      n, dim, xp=xp, tail="upper", n_resamples=n_resamples),
        "kurtosis": _moment_component(kurtosis_statistic(whitened, xp=xp, scale_free=False), "kurtosis", "normal", n, dim,
                                      xp=xp, tail="two-sided", n_resamples=n_resamples),
    }
    return components, degenerate


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

    Parameters
    ----------
    x : array_like
        Samples of shape ``(..., N, D)``, N >= 4 (N >= D + 2 for
        ``null="normal"``); leading axes are a batch.
    null : {"standard", "normal"}, default "standard"
        ``"standard"`` (the default for (N, D) embeddings, as LeJEPA): H0 is
        N(0, I_D), what SIGReg enforces.
        ``"normal"``: H0 is some Gaussian, any mean and (non-singular)
        covariance. Skewness and kurtosis are affine invariant; principal
        axes invariant to shifts, rotations and a global scale; coordinates
        to a shift and scale of each coordinate; random slices (of the
        whitened samples) invariant in law.
    seed : int or numpy.random.Generator, optional
        Seed of the random directions (drawn on the host).
    num_slices : int, default 128
        Number of random directions.
    directions : array, optional
        A ``(D, K)`` matrix of unit columns instead of random directions.
    moment_resamples : int, default 200
        N(0, I) replicates simulated on the host (once per (N, D), cached)
        for the null mean and variance of the composite skewness.
    nan_policy : {"propagate", "raise"}, default "propagate"
        A batch element with a NaN gets NaN results, or raise ``ValueError``.

    Returns
    -------
    NormalityTestResult
        ``pvalue`` and ``statistic`` of shape ``(...)``, ``components``
        (name to :class:`NormalityResult`). A singular covariance (a constant
        or collinear coordinate under ``null="normal"``; a constant
        principal axis under either null) gives NaN.

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
    """
    x, xp, result_dtype = _validate(x, null, seed, num_slices, moment_resamples, nan_policy)
    missing = xp.any(xp.isnan(x), axis=(-2, -1))
    x = xp.where(missing[..., None, None], xp.zeros_like(x), x)
    directions, _ = directions_for(x, xp=xp, dtype=x.dtype, num_slices=num_slices, seed=seed,
                                   directions=directions, orthogonal=False)
    build = _standard_components if null == "standard" else _composite_components
    components, degenerate = build(x, directions, xp=xp, n_resamples=int(moment_resamples))
    invalid = missing | degenerate
    components = {name: _masked(part, invalid, result_dtype, xp=xp) for name, part in components.items()}
    pvalues = xp.stack([part.pvalue for part in components.values()], axis=-1)
    statistic = cauchy_statistic(pvalues, xp=xp)
    pvalue = cauchy_combination(pvalues, xp=xp)
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
