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

from sketchtest._multivariate.moment_summary import (  # noqa: F401 - re-exported for the CLI
    BULK_SLACK, host_float64, moment_diagnostics, summary_of_samples,
)

__all__ = ["Departure", "Diagnosis", "diagnose", "explain_lines", "moment_diagnostics",
           "format_pvalue", "pvalue_phrase", "COMPONENT_WORDS", "INDEX_NOTE"]

#: Said once wherever an index is printed.
INDEX_NOTE = "indices count from 0, as x[:, j]"
#: p-values below this print as "< 1e-16" (their digits say nothing a person acts on).
SMALLEST_PRINTED_PVALUE = 1e-16
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
        if rank is None or dimension is None or rank >= dimension or pvalue is None:
            return None  # full rank, or N <= D with the N - 1 dimensions N Gaussian samples span
    elif summary is not None and summary.get("numerical_rank") is not None:
        rank, dimension = summary["numerical_rank"], len(summary["eigenvalues"])
        effective, pvalue = summary.get("effective_rank"), None
        if rank >= dimension or rank >= summary.get("samples", math.inf) - 1:  # N centred samples span N - 1
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
        column = None if index is None else COLUMN_WORDS.get(name, "column {index}").format(index=index)
        where = "" if column is None else f" (smallest at {column})"
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
    return None if value is None else host_float64(value)


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
