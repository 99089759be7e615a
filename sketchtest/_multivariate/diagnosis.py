"""How a :func:`sketchtest.normality_test` result is told: the departure named, in words.

The numbers come from the components; this module only reads them (on the
host) and says what they mean: collapse, a mean offset, a scale or an
anisotropy, skewness, heavy or light tails, clusters along a principal axis,
a non-Gaussian coordinate. :func:`explain` (``result.explain()``) and the
verdict of ``sketchtest check`` (text and JSON) are written here, once.

Indices count from 0 everywhere, as Python indexes: "coordinate 3" is
``x[:, 3]``, "principal axis 0" the axis of largest variance,
``extras["most_significant"]`` the same number.

A component whose p-value is NaN is "not computed" (with
``extras["reason"]`` when it gives one), never the departure. Under the
standard null N(0, I) every component but ``principal_axes`` reacts to the
location and scale as well as to the shape; when the mean or covariance
already departs, their rejections are listed apart ("also rejecting"), not
named as departures of their own.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["Departure", "Diagnosis", "diagnose", "explain_lines", "moment_diagnostics",
           "format_pvalue", "pvalue_phrase", "COMPONENT_WORDS", "INDEX_NOTE"]

#: Said once wherever an index is printed.
INDEX_NOTE = "indices count from 0, as x[:, j]"
#: p-values below this print as "< 1e-16" (their digits say nothing a person acts on).
SMALLEST_PRINTED_PVALUE = 1e-16
#: Relative slack around the Marchenko-Pastur bulk before an eigenvalue counts as an outlier.
BULK_SLACK = 0.1
#: What each component checks, in words (short name, what it checks). Unknown names: the name.
COMPONENT_WORDS = {
    "rank": ("rank", "full rank: the samples span all D dimensions"),
    "within_subspace": ("within subspace", "Gaussian inside the subspace the samples span"),
    "random_slices": ("random directions", "random 1-D projections Gaussian"),
    "principal_axes": ("principal axes", "principal axes Gaussian in shape"),
    "coordinates": ("coordinates", "each coordinate Gaussian"),
    "skewness": ("skewness", "no multivariate skewness"),
    "kurtosis": ("kurtosis", "tails as Gaussian (multivariate kurtosis)"),
    "covariance": ("covariance = I", "covariance is the identity (scale and shape)"),
    "mean": ("mean = 0", "mean is zero"),
}
#: Where a per-column component's most significant column is, in words (0-based).
COLUMN_WORDS = {"random_slices": "random direction {index}",
                "principal_axes": "principal axis {index}",
                "coordinates": "coordinate {index} (x[:, {index}])"}
#: Under N(0, I) the components that see location and scale, and those that see shape only.
LOCATION_SCALE, SHAPE_ONLY = ("mean", "covariance", "rank"), ("principal_axes", "within_subspace")


def format_pvalue(pvalue) -> str:
    """A p-value as a person reads it: 3 significant digits, "< 1e-16" when tiny, "-" for None.

    Examples
    --------
    >>> format_pvalue(0.012345), format_pvalue(3e-40), format_pvalue(None)
    ('0.0123', '< 1e-16', '-')
    """
    if pvalue is None:
        return "-"
    if pvalue < SMALLEST_PRINTED_PVALUE:
        return f"< {SMALLEST_PRINTED_PVALUE:.0e}"
    return f"{pvalue:.3g}"


def pvalue_phrase(pvalue) -> str:
    """``"p = 0.0123"``, ``"p < 1e-16"`` or ``"p undefined"``."""
    if pvalue is None:
        return "p undefined"
    text = format_pvalue(pvalue)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


@dataclass(frozen=True)
class Departure:
    """One named departure from the null: its kind, in words, with the p-value that shows it."""

    kind: str
    words: str
    pvalue: float | None = None
    component: str | None = None
    index: int | None = None
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """JSON-ready: kind, words, pvalue, component, index (0-based) and details."""
        return {key: value for key, value in asdict(self).items() if value not in (None, {})}


@dataclass(frozen=True)
class Diagnosis:
    """What a result says, in words: the verdict and its departures."""

    null: str
    pvalue: float | None
    alpha: float
    departures: list
    also_rejecting: list
    reasons: dict

    @property
    def gaussian(self) -> str:
        return "N(0, I)" if self.null == "standard" else "a Gaussian"

    @property
    def headline(self) -> str:
        """``"consistent with N(0, I) (p = 0.86)"``, ``"not Gaussian (p < 1e-16)"``, ..."""
        rejected = self.pvalue is not None and self.pvalue < self.alpha
        if self.pvalue is None and not self.departures:
            reason = next(iter(self.reasons.values()), "a component is undefined")
            return f"undefined: {reason}"
        if not rejected and not self.departures:
            return f"consistent with {self.gaussian} ({pvalue_phrase(self.pvalue)})"
        kinds = {departure.component for departure in self.departures}
        shape = self.null == "normal" or bool(kinds & set(SHAPE_ONLY)) or not kinds & set(LOCATION_SCALE)
        return f"{'not Gaussian' if shape else 'not N(0, I)'} ({pvalue_phrase(self.pvalue)})"

    @property
    def verdict(self) -> str:
        """The headline, the departures named, and the rejections they explain."""
        text = self.headline
        if self.departures:
            text += ": " + "; ".join(f"{d.words} ({pvalue_phrase(d.pvalue)})" if d.pvalue is not None
                                     else d.words for d in self.departures)
        elif self.pvalue is not None and self.pvalue < self.alpha:
            text += ": no single component rejects, their combination does"
        if self.also_rejecting:
            names = ", ".join(_short_name(name) for name in self.also_rejecting)
            text += f"; also rejecting (under N(0, I) these react to a shift or scale too): {names}"
        return text


def diagnose(result, *, alpha=0.05, summary=None) -> Diagnosis:
    """The :class:`Diagnosis` of an unbatched ``NormalityTestResult``.

    `summary` (optional) is :func:`moment_diagnostics` of the same samples:
    it tells a mean offset from a scale, a scale from an anisotropy, and
    gives the rank when the result has no ``rank`` component.
    """
    pvalue = _number(result.pvalue)
    parts = {name: (_number(part.pvalue), part) for name, part in result.components.items()}
    reasons = {name: _reason(part, summary) for name, (p, part) in parts.items() if p is None}
    rejecting = {name: p for name, (p, _) in parts.items() if p is not None and p < alpha}
    departures, also = [], []
    collapse = _collapse(parts, summary)
    if collapse is not None:
        departures.append(collapse)
    if pvalue is not None and pvalue >= alpha:  # single small p-values are chance once combined
        return Diagnosis(result.null, pvalue, alpha, departures, also, reasons)
    if pvalue is None and collapse is None and result.null == "standard":
        departures += _summary_departures(summary, alpha)
    location_scale = collapse is not None or any(name in rejecting for name in ("mean", "covariance"))
    for name in sorted(rejecting, key=rejecting.get):
        if name == "rank":
            continue
        if name == "covariance" and collapse is not None:
            continue  # a collapse is a covariance departure: named once
        if result.null == "standard" and location_scale and name not in LOCATION_SCALE + SHAPE_ONLY:
            also.append(name)
            continue
        departure = _departure(name, *parts[name], summary=summary, alpha=alpha)
        if departure is None:
            also.append(name)
        else:
            departures.append(departure)
    return Diagnosis(result.null, pvalue, alpha, departures, also, reasons)


def _departure(name, pvalue, part, *, summary, alpha):
    """The departure that a rejecting component `name` reports (None: it is the scale's effect)."""
    index = _most_significant(part)
    if name == "mean":
        return _mean_departure(pvalue, summary, alpha)
    if name == "covariance":
        return _covariance_departure(pvalue, summary, alpha)
    if name == "kurtosis":
        statistic, expected = _number(part.statistic), _number(part.extras.get("null_mean"))
        heavy = statistic is None or expected is None or statistic >= expected
        words = "heavy tails (kurtosis above the Gaussian's)" if heavy \
            else "light tails (kurtosis below the Gaussian's)"
        return Departure("heavy_tails" if heavy else "light_tails", words, pvalue, name)
    if name == "skewness":
        return Departure("skewness", "skewness", pvalue, name)
    if name == "principal_axes":
        where = "" if index is None else f" {index}" + (" (the largest-variance axis)" if index == 0 else "")
        return Departure("principal_axis", f"clusters or another non-Gaussian shape along principal axis{where}",
                         pvalue, name, index)
    if name == "coordinates":
        where = "" if index is None else f" {index} (x[:, {index}])"
        return Departure("coordinate", f"non-Gaussian coordinate{where}", pvalue, name, index)
    if name == "random_slices":
        where = "" if index is None else f" (most: random direction {index})"
        return Departure("random_directions", f"non-Gaussian random directions{where}", pvalue, name, index)
    if name == "within_subspace":
        return Departure("within_subspace", "not Gaussian inside the subspace the samples span", pvalue, name)
    return Departure(name, f"{name} departs", pvalue, name, index)


def _summary_departures(summary, alpha) -> list:
    """Where no component could be computed: a mean offset or a scale seen by exact host tests
    (Hotelling's T^2 of the mean; the chi-square law of the trace of the covariance)."""
    if summary is None:
        return []
    found = []
    studentized = summary.get("studentized_mean_pvalue")
    if studentized is not None and studentized < alpha:
        found.append(_mean_departure(studentized, summary, alpha))
    covariance = _covariance_departure(summary.get("scale_pvalue"), summary, alpha) \
        if summary.get("scale_pvalue") is not None else None
    if covariance is not None and (covariance.kind == "anisotropy" or summary["scale_pvalue"] < alpha):
        found.append(covariance)
    return found


def _mean_departure(pvalue, summary, alpha):
    """A mean offset, unless the mean is 0 relative to the data's own spread (a scale's effect)."""
    if summary is None or "mean_norm" not in summary:
        return Departure("mean_offset", "mean offset (or a scale: N|mean|^2 assumes covariance I)",
                         pvalue, "mean")
    studentized = summary.get("studentized_mean_pvalue")
    if studentized is not None and studentized >= alpha:
        return None
    words = (f"mean offset (|mean| = {summary['mean_norm']:.4g}, about "
             f"{summary['mean_norm_expected']:.2g} under N(0, I))")
    return Departure("mean_offset", words, pvalue, "mean", details={"mean_norm": summary["mean_norm"]})


def _covariance_departure(pvalue, summary, alpha):
    """A scale (isotropic, average variance not 1) or an anisotropy (eigenvalues apart)."""
    if summary is None or "isotropic" not in summary:
        return Departure("scale_or_anisotropy", "scale or anisotropy (covariance differs from I)",
                         pvalue, "covariance")
    if summary["isotropic"]:
        if summary.get("scale_pvalue", 0.0) >= alpha:
            return None  # the centred covariance is I: the raw second moment departs through the mean
        words = f"scale (average variance {summary['average_variance']:.4g}, 1 under N(0, I))"
        return Departure("scale", words, pvalue, "covariance",
                         details={"average_variance": summary["average_variance"]})
    largest, smallest = summary["eigenvalue_max"], summary["eigenvalue_min"]
    ratio = f", ratio {largest / smallest:.3g}" if smallest > 0 else ""
    words = f"anisotropy (covariance eigenvalues from {smallest:.3g} to {largest:.3g}{ratio})"
    return Departure("anisotropy", words, pvalue, "covariance",
                     details={"eigenvalue_min": smallest, "eigenvalue_max": largest})


def _collapse(parts, summary):
    """The collapse, from the ``rank`` component or else from the summary's numerical rank."""
    if "rank" in parts:
        pvalue, part = parts["rank"]
        rank, dimension = _integer(part.extras.get("rank")), _integer(part.extras.get("dimension"))
        effective = _number(part.extras.get("effective_rank"))
        if rank is None or dimension is None or rank >= dimension:
            return None
    elif summary is not None and summary.get("numerical_rank") is not None:
        rank, dimension = summary["numerical_rank"], len(summary["eigenvalues"])
        effective, pvalue = summary.get("effective_rank"), None
        if rank >= dimension or rank >= summary.get("samples", math.inf):
            return None
    else:
        return None
    effective_words = "" if effective is None else f", effective rank {effective:.3g}"
    words = (f"collapse: the samples lie in a {rank}-dimensional subspace "
             f"(rank {rank} of {dimension}{effective_words})")
    details = {"rank": rank, "dimension": dimension, "effective_rank": effective}
    return Departure("collapse", words, pvalue, "rank", details={k: v for k, v in details.items() if v is not None})


def _reason(part, summary) -> str:
    """Why a component was not computed: its own ``extras["reason"]``, else a guess from the data."""
    reason = part.extras.get("reason")
    if reason:
        return str(reason)
    if summary is not None and summary.get("undefined_reason"):
        return summary["undefined_reason"]
    return "the statistic is undefined for these data"


def explain_lines(result, *, alpha=0.05, summary=None) -> list:
    """``result.explain()``: the verdict, then one line per component (0-based indices)."""
    if tuple(getattr(result.pvalue, "shape", ())) != ():
        raise ValueError("explain() describes one sample set; index the batch first (result.pvalue has shape "
                         f"{tuple(result.pvalue.shape)})")
    diagnosis = diagnose(result, alpha=alpha, summary=summary)
    lines = [f"verdict: {diagnosis.verdict}"]
    for name, part in result.components.items():
        pvalue = _number(part.pvalue)
        checks = COMPONENT_WORDS.get(name, (name, name))[1]
        if pvalue is None:
            lines.append(f"{checks}: not computed ({diagnosis.reasons.get(name, 'undefined')})")
            continue
        index = _most_significant(part)
        where = "" if index is None else f" (smallest at {COLUMN_WORDS.get(name, 'column {index}').format(index=index)})"
        lines.append(f"{checks}: {pvalue_phrase(pvalue)}{where}")
    if any(_most_significant(part) is not None for part in result.components.values()):
        lines.append(f"({INDEX_NOTE})")
    return lines


def _short_name(name) -> str:
    return COMPONENT_WORDS.get(name, (name,))[0]


def _most_significant(part):
    """The 0-based index of the smallest p-value of a per-column component, or None."""
    if "most_significant" not in part.extras or _number(part.pvalue) is None:
        return None
    return _integer(part.extras["most_significant"])


def _host(value):
    if value is None:
        return None
    if hasattr(value, "detach"):
        value = value.detach().cpu()
    if hasattr(value, "get") and type(value).__module__.startswith("cupy"):
        value = value.get()
    return np.asarray(value, dtype=np.float64)


def _number(value):
    """A finite float from a 0-d (or one-element) array of any backend, else None."""
    host = _host(value)
    if host is None or host.size != 1:
        return None
    number = float(host.reshape(-1)[0])
    return number if math.isfinite(number) else None


def _integer(value):
    number = _number(value)
    return None if number is None else int(round(number))


# --- what the mean and covariance say (host, float64) ------------------------------------------

def moment_diagnostics(mean, covariance, samples: int, *, dtype=None) -> dict:
    r"""Summaries of the mean and covariance that say whether data look like N(0, I).

    ``mean_norm`` is :math:`\lVert\bar x\rVert`, whose typical size under
    N(0, I) is :math:`\sqrt{D/N}` (``mean_norm_expected``);
    ``studentized_mean_pvalue`` is Hotelling's :math:`T^2 = N \bar x^\top S^{-1}\bar x`
    test of a zero mean whatever the covariance (:math:`\frac{N-D}{D(N-1)}T^2 \sim F_{D, N-D}`),
    which tells a mean offset from a scale. The covariance spectrum gives
    the ratio of the largest to the smallest eigenvalue, the effective rank
    :math:`\exp(-\sum_i p_i \log p_i)`, :math:`p_i = \lambda_i / \sum_j \lambda_j`
    (Roy & Vetterli, 2007; D for isotropic data), the numerical rank (eigenvalues above
    ``rank_threshold``, the rounding level of `dtype`: :func:`rank_threshold`),
    and the number of eigenvalues outside the Marchenko-Pastur bulk
    :math:`\bar\lambda\,[(1 - \sqrt{D/N})^2, (1 + \sqrt{D/N})^2]` widened by
    10%, where the sample eigenvalues of isotropic data fall for large N and D.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((4000, 4))
    >>> d = moment_diagnostics(x.mean(axis=0), np.cov(x, rowvar=False), 4000)
    >>> d["isotropic"], round(d["effective_rank"], 1), d["numerical_rank"]
    (True, 4.0, 4)
    """
    mean = np.asarray(mean, dtype=np.float64)
    covariance = np.asarray(covariance, dtype=np.float64)
    dimensions = mean.shape[0]
    base = {"mean_norm": float(np.linalg.norm(mean)), "mean_norm_expected": math.sqrt(dimensions / samples),
            "samples": int(samples)}
    if covariance.ndim == 1 and dimensions > 1:  # only the variances: no spectrum
        return {**base, "average_variance": float(covariance.mean()),
                "spectrum_skipped": f"D = {dimensions}: the covariance matrix was not formed "
                                    f"(more than 4096 dimensions, or three copies larger than a "
                                    "quarter of --memory-budget)"}
    covariance = np.atleast_2d(covariance)
    eigenvalues = _eigenvalues(covariance)
    if isinstance(eigenvalues, str):  # the spectrum could not be computed: say why
        return {**base, "average_variance": float(np.mean(np.diagonal(covariance))),
                "spectrum_skipped": eigenvalues, "undefined_reason": eigenvalues}
    eigenvalues = np.maximum(eigenvalues, 0.0)
    second_moments = np.diagonal(covariance) + mean * mean
    return {**base, **_spectrum_summary(eigenvalues, samples, rank_threshold(eigenvalues, second_moments, dtype)),
            **_scale_test(eigenvalues, samples),
            **_studentized_mean(mean, covariance, eigenvalues, samples)}


def _scale_test(eigenvalues, samples) -> dict:
    """Two-sided p-value of a unit average variance: :math:`(N-1)\\operatorname{tr} S \\sim \\chi^2_{(N-1)D}`."""
    from scipy.stats import chi2

    dof = (samples - 1.0) * eigenvalues.shape[0]
    statistic = (samples - 1.0) * float(eigenvalues.sum())
    pvalue = 2.0 * min(float(chi2.sf(statistic, dof)), float(chi2.cdf(statistic, dof)))
    return {"scale_pvalue": min(pvalue, 1.0)}


def _spectrum_summary(eigenvalues, samples, threshold) -> dict:
    dimensions = eigenvalues.shape[0]
    average = float(eigenvalues.mean())
    largest, smallest = float(eigenvalues[0]), float(eigenvalues[-1])
    gamma = dimensions / samples
    lower = (1.0 - math.sqrt(gamma)) ** 2 if gamma < 1 else 0.0
    upper = (1.0 + math.sqrt(gamma)) ** 2
    relative = eigenvalues / average if average > 0 else eigenvalues
    outside = int(np.count_nonzero((relative < lower * (1 - BULK_SLACK)) | (relative > upper * (1 + BULK_SLACK))))
    rank = int(np.count_nonzero(eigenvalues > threshold)) if largest > 0 else 0
    summary = {
        "average_variance": average, "eigenvalue_max": largest, "eigenvalue_min": smallest,
        "eigenvalue_ratio": largest / smallest if smallest > 0 else None,
        "effective_rank": _effective_rank(eigenvalues), "numerical_rank": rank, "rank_threshold": threshold,
        "marchenko_pastur_range": [lower, upper], "eigenvalues_outside_range": outside,
        "isotropic": outside == 0, "eigenvalues": [float(v) for v in eigenvalues],
    }
    if rank < dimensions and rank < samples - 1:
        summary["undefined_reason"] = (f"the covariance is singular: the samples lie in a {rank}-dimensional "
                                       "subspace (collinear coordinates)")
    return summary


#: Machine epsilon of the dtypes samples come in (bfloat16 has 8 bits of precision).
_EPSILON = {"float64": 2.0 ** -52, "float32": 2.0 ** -23, "float16": 2.0 ** -10, "bfloat16": 2.0 ** -7}


def rank_threshold(eigenvalues, second_moments, dtype=None) -> float:
    r"""The eigenvalue below which a covariance direction is rounding, not variance.

    :math:`2\epsilon^2 \max_j E[x_j^2] + 100 D \epsilon_{64} \lambda_{max}`:
    rounding samples to `dtype` (its name; float32 when unknown) adds about
    :math:`\epsilon^2/12` times a coordinate's second moment (the mean
    included) to the eigenvalues; the float64 covariance itself is exact to
    about :math:`D \epsilon_{64} \lambda_{max}`. Measured (rank r of D, N = 2000, shifts 0 and 10,
    then rounded): the largest rounding eigenvalue over the largest is at most 9e-16 in float64,
    1e-13 in float32, 4e-4 in bfloat16, 30 to 1000 times below the threshold, while N(0, I) at
    N = D + 2 keeps its smallest eigenvalue 4 to 40 times above it (D = 32..128).

    Examples
    --------
    >>> f"{rank_threshold([1.0, 1.0], [1.0, 1.0], 'float32'):.2g}"
    '7.3e-14'
    """
    eps = _EPSILON.get(str(dtype).replace("torch.", ""), _EPSILON["float32"])
    largest, dimensions = float(np.max(eigenvalues)), len(eigenvalues)
    return 2.0 * eps * eps * float(np.max(second_moments)) + 100.0 * dimensions * _EPSILON["float64"] * largest


def _studentized_mean(mean, covariance, eigenvalues, samples) -> dict:
    """Hotelling's T^2 p-value of a zero mean, in the span of the covariance (pseudo-inverse)."""
    from scipy.stats import f as f_distribution

    rank = int(np.count_nonzero(eigenvalues > 1e-12 * eigenvalues[0])) if eigenvalues[0] > 0 else 0
    if rank == 0 or samples <= rank:
        return {}
    inverse = np.linalg.pinv((covariance + covariance.T) / 2.0, rcond=1e-12, hermitian=True)
    t_squared = float(samples * mean @ inverse @ mean)
    scaled = (samples - rank) / (rank * (samples - 1.0)) * t_squared
    return {"studentized_mean_pvalue": float(f_distribution.sf(scaled, rank, samples - rank))}


def _eigenvalues(covariance):
    """Eigenvalues in decreasing order, or a sentence saying why there are none."""
    if not np.all(np.isfinite(covariance)):
        return "the covariance is not finite (values too large for float64 squares?)"
    try:
        with np.errstate(all="ignore"):
            eigenvalues = np.linalg.eigvalsh((covariance + covariance.T) / 2.0)
    except np.linalg.LinAlgError as error:
        return f"the eigen-solver failed ({error})"
    if not np.all(np.isfinite(eigenvalues)):
        return "the eigen-solver returned non-finite eigenvalues"
    return np.sort(eigenvalues)[::-1]


def _effective_rank(eigenvalues) -> float:
    total = eigenvalues.sum()
    if not total > 0:
        return 0.0
    p = eigenvalues[eigenvalues > 0] / total
    return float(np.exp(-np.sum(p * np.log(p))))


def summary_of_samples(x) -> dict:
    """:func:`moment_diagnostics` of an ``(N, D)`` array of any backend, in float64 on the host."""
    host = _host(x)
    dtype = str(getattr(x, "dtype", "float64")).replace("torch.", "")
    with np.errstate(all="ignore"):
        mean = host.mean(axis=0)
        covariance = np.atleast_2d(np.cov(host, rowvar=False))
    return moment_diagnostics(mean, covariance, host.shape[0], dtype=dtype)


def explain(result, x=None, *, alpha=0.05) -> list:
    """``result.explain(x)``: :func:`explain_lines` with the summary of the samples `x` when given."""
    summary = None if x is None else summary_of_samples(checked_samples(result, x))
    return explain_lines(result, alpha=alpha, summary=summary)


def checked_samples(result, x):
    """`x` as a float64 ``(N, D)`` host array matching `result`, or ValueError naming `x`."""
    host = _host(x)
    components = getattr(result, "components", {})
    dimensions = next((int(part.extras["pvalues"].shape[-1]) for name, part in components.items()
                       if name == "coordinates" and "pvalues" in part.extras), None)
    if host is None or host.ndim != 2:
        raise ValueError(f"`x` must be the (N, D) samples that were tested; got shape {getattr(host, 'shape', None)}")
    if dimensions is not None and host.shape[1] != dimensions:
        raise ValueError(f"`x` has D = {host.shape[1]} columns, the result was computed on D = {dimensions}")
    return x
