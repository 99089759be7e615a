"""What ``sketchtest check`` tells a person: moment diagnostics, the text report, the plots.

Everything here runs on the host in float64 NumPy: it summarizes results the
tests computed on the chosen backend, plus the mean and covariance of the
samples, which fit in memory for any N (they are D and D x D).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from sketchtest._multivariate.diagnosis import (
    BULK_SLACK, INDEX_NOTE, format_pvalue, moment_diagnostics, pvalue_phrase,
)
from sketchtest._multivariate.diagnosis_figure import plot_path, qq_axes, spectrum_axes

__all__ = ["MomentAccumulator", "moment_diagnostics", "render_text", "draw_plots", "plot_path",
           "progress_bar", "format_pvalue", "pvalue_phrase"]

#: Above this dimension the D x D covariance is not formed (memory D^2, eigenvalues D^3).
MAX_COVARIANCE_DIMENSIONS = 4096
#: What each component of ``normality_test`` looks at, for the text report's table.
COMPONENT_WORDS = {
    "rank": ("rank", "numerical rank of the covariance"),
    "within_subspace": ("within subspace", "Gaussian inside the spanned subspace"),
    "random_slices": ("random directions", "{columns} random slices (Epps-Pulley)"),
    "principal_axes": ("principal axes", "top {columns} principal axes, shape only"),
    "coordinates": ("coordinates", "each coordinate ({columns})"),
    "skewness": ("skewness", "skewness (Mori-Rohatgi-Szekely)"),
    "kurtosis": ("kurtosis", "kurtosis, tails (Mardia)"),
    "covariance": ("covariance = I", "|covariance - I|^2 (U-statistic)"),
    "mean": ("mean = 0", "N |mean|^2 (chi-square, D dof)"),
}
#: What a rejecting component's row says, by the departure it reports.
REPORTS_WORDS = {"collapse": "departure: collapse", "mean_offset": "departure: mean offset",
                 "scale": "departure: scale", "anisotropy": "departure: anisotropy",
                 "scale_or_anisotropy": "departure: scale or anisotropy",
                 "heavy_tails": "departure: heavy tails", "light_tails": "departure: light tails",
                 "also_rejecting": "rejects (reacts to the shift or scale too)"}


class MomentAccumulator:
    """Running mean and covariance of rows, in float64, one batch at a time.

    Batches are shifted by the first batch's mean before the sums of squares,
    so the covariance keeps its precision when the data sit far from 0.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((100, 3))
    >>> moments = MomentAccumulator()
    >>> moments.update(x[:40]); moments.update(x[40:])
    >>> bool(np.allclose(moments.covariance(), np.cov(x, rowvar=False)))
    True
    """

    def __init__(self, *, full_covariance=None):
        self.full_covariance = full_covariance  # None: when D <= MAX_COVARIANCE_DIMENSIONS
        self.count = 0
        self.shift = None
        self.total = None
        self.outer = None  # the D x D scatter, or the D diagonal entries when D is too large

    def update(self, batch) -> None:
        """Add the rows of the ``(n, D)`` array `batch`."""
        batch = np.asarray(batch, dtype=np.float64)
        if self.shift is None:
            self.shift = batch.mean(axis=0)
            self.total = np.zeros_like(self.shift)
            dimensions = batch.shape[1]
            full = dimensions <= MAX_COVARIANCE_DIMENSIONS if self.full_covariance is None \
                else self.full_covariance
            self.outer = np.zeros((dimensions, dimensions) if full else dimensions)
        centered = batch - self.shift
        self.count += batch.shape[0]
        self.total += centered.sum(axis=0)
        if self.outer.ndim == 2:
            self.outer += centered.T @ centered
        else:
            self.outer += np.sum(centered * centered, axis=0)

    def mean(self):
        """The mean of every row seen so far."""
        return self.shift + self.total / self.count

    def covariance(self):
        """The sample covariance (ddof=1) of every row seen so far: ``(D, D)``,
        or only its diagonal ``(D,)`` above `MAX_COVARIANCE_DIMENSIONS`."""
        centered_mean = self.total / self.count
        if self.outer.ndim == 1:
            return (self.outer - self.count * centered_mean**2) / (self.count - 1)
        scatter = self.outer - self.count * np.outer(centered_mean, centered_mean)
        return scatter / (self.count - 1)


def render_text(report: dict) -> str:
    """The report a person reads, from the same dictionary ``--json`` prints."""
    lines = [f"sketchtest check: {report['source']}",
             f"  samples N = {report['samples']}, dimensions D = {report['dimensions']}, "
             f"dtype {report['dtype']}, backend {report['backend']} ({report['device']})"]
    lines += _render_reading(report)
    combined = [test for test in report["tests"] if test["kind"] == "combined"]
    others = [test for test in report["tests"] if test["kind"] != "combined"]
    for test in combined:
        lines += ["", *_render_normality(test, report)]
    if report.get("demo"):
        lines += ["", *_render_demo(report["demo"])]
    lines += ["", *_render_diagnostics(report["diagnostics"])]
    if others:
        lines += ["", *_render_tests(report, others, heading="Other tests" if combined else "Tests")]
    with_slices = [test for test in report["tests"] if test.get("worst_slices")]
    if with_slices:  # the first sliced test's; --json lists every test's
        lines += ["", *_render_worst(with_slices[0])]
    if report.get("plot"):
        lines += ["", f"plots written to {report['plot']}"]
    return "\n".join(lines)


def _render_reading(report: dict) -> list[str]:
    """How the rows were read: every row, streamed (in how many passes), or a subsample."""
    lines = [f"  note: {report['reading_note']}"] if report.get("reading_note") else []
    if report.get("subsample") is not None:
        if report["subsample"] >= report["samples"]:
            return [*lines, f"  --subsample {report['subsample']}: the file has fewer rows; the tests "
                            "ran on every row"]
        return [*lines, f"  --subsample {report['subsample']}: the tests ran on {report['subsample']} "
                        f"random rows (seed {report['seed']}), the mean and covariance below on "
                        "every row"]
    every_row = [test["test"] for test in report["tests"] if test.get("streamed")]
    if not (report.get("streamed") or every_row):
        return lines
    passes = "two passes" if report.get("passes") == 2 else "one pass"
    words = f"  larger than --memory-budget: read in chunks of {report['chunk_rows']} rows, {passes}"
    if every_row:
        words += f"; {', '.join(every_row)} used every row"
    others = [test["test"] for test in report["tests"] if not test.get("streamed")]
    if others and report.get("streamed"):
        words += (f"; {'the other tests' if every_row else 'the tests'} a random subsample of at "
                  f"most {report['rows_in_memory']} rows")
    return lines + [words]


def _render_diagnostics(d: dict) -> list[str]:
    if "spectrum_skipped" in d:
        return ["Mean and variance",
                f"  norm of the mean            {d['mean_norm']:.4g}   "
                f"(about {d['mean_norm_expected']:.3g} for N(0, I) at this N, D)",
                f"  average variance            {d['average_variance']:.4g}   (1 for N(0, I))",
                f"  covariance spectrum         skipped: {d['spectrum_skipped']}"]
    ratio = "infinite (singular)" if d["eigenvalue_ratio"] is None else f"{d['eigenvalue_ratio']:.3g}"
    lower, upper = d["marchenko_pastur_range"]
    verdict = ("yes" if d["isotropic"] else
               f"no: {d['eigenvalues_outside_range']} of {len(d['eigenvalues'])} eigenvalues "
               "outside that range")
    return [
        "Mean and covariance",
        f"  norm of the mean            {d['mean_norm']:.4g}   "
        f"(about {d['mean_norm_expected']:.3g} for N(0, I) at this N, D)",
        f"  average variance            {d['average_variance']:.4g}   (1 for N(0, I))",
        f"  eigenvalues max / min       {d['eigenvalue_max']:.4g} / {d['eigenvalue_min']:.4g}"
        f"   ratio {ratio}",
        f"  effective rank              {d['effective_rank']:.4g} of {len(d['eigenvalues'])}",
        f"  numerical rank              {d['numerical_rank']} of {len(d['eigenvalues'])}   "
        f"(eigenvalues above {d['rank_threshold']:.2g}, the rounding level)",
        f"  isotropic?                  {verdict}",
        f"    (isotropic data: eigenvalues / average within [{lower:.3g}, {upper:.3g}], "
        f"Marchenko-Pastur, +-{BULK_SLACK:.0%})",
    ]


def _render_normality(test: dict, report: dict) -> list[str]:
    null = "N(0, I)" if test["null"] == "standard" else "some Gaussian (any mean and covariance)"
    rows = f", on a random subsample of {test['subsample']} rows" if test.get("subsample") else ""
    if test.get("streamed"):
        rows = f", every row: {test['rows']} streamed in {test['passes']} passes"
    lines = [f"Is it Gaussian? normality_test (H0: {null}; alpha = {report['alpha']:g}, "
             f"seed {report['seed']}{rows})"]
    if "error" in test:
        return lines + [f"  not run: {test['error']}"]
    lines += _render_verdict(test)
    lines += [f"  {'component':<19}{'looks at':<38}{'value (H0 mean)':>17}{'p-value':>10}   verdict"]
    for part in test["components"]:
        name, looks_at = COMPONENT_WORDS.get(part["component"], (part["component"], ""))
        looks_at = looks_at.format(columns=part.get("columns", "all"))
        value = ""
        if part.get("expected_under_h0") is not None and part["statistic"] is not None:
            value = f"{_readable(part['statistic'])} ({_readable(part['expected_under_h0'])})"
        lines.append(f"  {name:<19}{looks_at:<38}{value:>17}{format_pvalue(part['pvalue']):>10}"
                     f"   {_row_verdict(part, test)}")
    lines += ["  (verdict: the Cauchy combination of the components' p-values, valid although they",
              "   are dependent; value: a component's statistic, and its mean under H0;",
              f"   {INDEX_NOTE})"]
    return lines


def _render_verdict(test: dict) -> list[str]:
    """The headline, then one line per departure and one for the rejections they explain."""
    headline = test.get("headline", test["verdict"])
    departures = test.get("departures", [])
    lines = [f"  verdict: {headline}" + (":" if departures else "")]
    for departure in departures:
        pvalue = f" ({pvalue_phrase(departure['pvalue'])})" if departure.get("pvalue") is not None else ""
        lines.append(f"    {departure['words']}{pvalue}")
    if test.get("also_rejecting"):
        names = ", ".join(COMPONENT_WORDS.get(name, (name,))[0] for name in test["also_rejecting"])
        lines.append(f"    also rejecting (under N(0, I) these react to a shift or scale too): {names}")
    if headline.startswith("not N(0, I)"):
        lines.append("    (the mean or covariance differ from N(0, I); --null normal asks whether the "
                     "shape is Gaussian)")
    if not departures and test.get("reject"):
        lines.append("    no single component rejects, their combination does")
    return lines


def _row_verdict(part: dict, test: dict) -> str:
    """A component's verdict in its table row: consistent, not computed, or what it reports."""
    if "not_computed" in part:
        return part["not_computed"]
    if not part["reject"]:
        return "consistent"
    if not test["reject"] and test.get("pvalue") is not None:  # one of several small p-values: chance
        return "p below alpha alone, not once combined"
    verdict = REPORTS_WORDS.get(part.get("reports"), "departure")
    if "most_significant_words" in part and part.get("reports") != "also_rejecting":
        verdict += f", strongest on {part['most_significant_words']}"
    return verdict


def _render_demo(findings: list) -> list[str]:
    lines = ["Demo: what is planted in these embeddings, and which component finds it"]
    for item in findings:
        found = {True: "found", False: "NOT found", None: "not computed"}[item["found"]]
        where = f", strongest on {item['where']}" if item.get("where") else ""
        lines.append(f"  {item['planted']}: {found} by {item['found_by']} "
                     f"({pvalue_phrase(item['pvalue'])}{where})")
    return lines


def _readable(value) -> str:
    """4 significant digits; thousands separators instead of an exponent up to 1e9."""
    if 1e4 <= abs(value) < 1e9:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _render_tests(report: dict, tests: list, heading: str = "Tests") -> list[str]:
    null = "N(0, I)" if report["null"] == "standard" else "a Gaussian with any mean and scale"
    lines = [f"{heading} at alpha = {report['alpha']:g} (sliced: {report['num_slices']} random "
             f"directions, seed {report['seed']}, H0: every slice of {null})",
             f"  {'test':<36}{'statistic':>12}{'p-value':>12}   verdict"]
    for test in tests:
        how = ", ".join(part for part in ("sliced", test.get("aggregate")) if part)
        name = test["test"] + (f" ({how})" if test["kind"] == "sliced" else "")
        if "error" in test:
            lines.append(f"  {name:<36}{'-':>12}{'-':>12}   not run: {test['error']}")
            continue
        note = f" [on a subsample of {test['subsample']} rows]" if test.get("subsample") else ""
        if test.get("null", report["null"]) != report["null"]:
            note += f" [H0 of each slice: any Gaussian (null={test['null']!r})]"
        combined = test.get("aggregate") == "cauchy" or "parts" in test  # no scale of its own
        statistic = "-" if combined else _number(test["statistic"])
        lines.append(f"  {name:<36}{statistic:>12}{format_pvalue(test['pvalue']):>12}"
                     f"   {test['verdict']}{note}")
        if test.get("caveat"):
            lines.append(f"    caveat: {test['caveat']}")
        for part in test.get("parts", []):
            lines.append(f"    {part['part']:<34}{_number(part['statistic']):>12}"
                         f"{format_pvalue(part['pvalue']):>12}")
    aggregates = sorted({test["aggregate"] for test in tests if test.get("aggregate")})
    meanings = {"cauchy": "the slice p-values' Cauchy combination (its statistic has no scale a "
                          "person reads: -)",
                "mean": "the mean slice statistic", "max": "the largest slice statistic"}
    if aggregates:
        lines.append("  (sliced: " + "; ".join(
            f"{name}: {meanings.get(name, name)}" for name in aggregates) + ")")
    return lines


def _render_worst(test: dict) -> list[str]:
    lines = [f"Worst slices of {test['test']} (smallest p-values)",
             f"  {'slice':>7}{'statistic':>12}{'p-value':>12}"]
    for entry in test["worst_slices"]:
        lines.append(f"  {entry['slice']:>7}{_number(entry['statistic']):>12}"
                     f"{format_pvalue(entry['pvalue']):>12}")
    return lines


def _number(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def draw_plots(path, *, qq_samples, slice_pvalues, diagnostics, title="") -> str:
    """Save Q-Q plots of the worst slices of a sliced test, the slice p-value histogram and the spectrum.

    `qq_samples` is a list of ``(label, projected values)``; `slice_pvalues`
    a 1-D array (or None). Needs matplotlib. Returns the path written
    (:func:`plot_path`).
    """
    path = plot_path(path)
    from matplotlib.figure import Figure  # no pyplot: the caller's backend stays as it is

    figure = Figure(figsize=(13, 6.5), layout="constrained")
    grid = figure.add_gridspec(2, 4)
    for index in range(4):
        axes = figure.add_subplot(grid[index // 2, index % 2])
        if index < len(qq_samples):
            qq_axes(axes, *qq_samples[index])
        else:
            axes.set_axis_off()
    _pvalue_axes(figure.add_subplot(grid[0, 2:]), slice_pvalues)
    spectrum_axes(figure.add_subplot(grid[1, 2:]), diagnostics)
    if title:
        figure.suptitle(title)
    figure.savefig(path, dpi=110)
    return path


def _pvalue_axes(axes, slice_pvalues) -> None:
    if slice_pvalues is None or len(slice_pvalues) == 0:
        axes.text(0.5, 0.5, "no sliced test ran", ha="center", va="center")
        axes.set_axis_off()
        return
    bins = 20
    axes.hist(np.asarray(slice_pvalues, dtype=np.float64), bins=bins, range=(0, 1),
              color="tab:blue", alpha=0.8)
    axes.axhline(len(slice_pvalues) / bins, color="k", linestyle="--", linewidth=1,
                 label="uniform (what H0 gives on average)")
    axes.set_title("p-values of the slices", fontsize=9)
    axes.set_xlabel("slice p-value", fontsize=8)
    axes.set_ylabel("slices", fontsize=8)
    axes.legend(fontsize=7)


#: Seconds before a progress bar appears (short runs print none).
PROGRESS_DELAY = 2.0


def progress_bar(total: int, *, enabled: bool, description: str = "reading", unit: str = "rows"):
    """A progress bar on stderr counting `unit`: tqdm's when installed, a plain one otherwise.

    It shows only when `enabled`, stderr is a terminal, and the work has taken
    more than :data:`PROGRESS_DELAY` seconds. Use it as a context manager.
    """
    enabled = enabled and _stderr_is_terminal()
    try:
        from tqdm import tqdm
    except ImportError:
        return _PlainProgress(total, enabled=enabled, description=description, unit=unit)
    return tqdm(total=total, unit=unit, desc=description, disable=not enabled, file=sys.stderr,
                delay=PROGRESS_DELAY, leave=False)


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _PlainProgress:
    """A minimal progress line on stderr, for when tqdm is not installed."""

    def __init__(self, total: int, *, enabled: bool, description: str, unit: str):
        self.total, self.done, self.enabled, self.unit = total, 0, enabled, unit
        self.description, self.percent, self.shown = description, -1, False
        self.started = time.monotonic()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def update(self, count: int) -> None:
        self.done += count
        percent = 100 * self.done // max(self.total, 1)
        late = time.monotonic() - self.started > PROGRESS_DELAY
        if self.enabled and late and percent != self.percent:
            self.percent, self.shown = percent, True
            width = 30
            filled = width * self.done // max(self.total, 1)
            print(f"\r{self.description} [{'#' * filled}{'.' * (width - filled)}] "
                  f"{self.done}/{self.total} {self.unit}", end="", file=sys.stderr, flush=True)

    def set_description(self, description: str) -> None:
        """Name what is counted from now on (e.g. the second pass over a file)."""
        self.description, self.percent = description, -1

    def close(self) -> None:
        if self.shown:
            print(file=sys.stderr)
            self.shown = False
