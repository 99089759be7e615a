"""The figure of a :func:`sketchtest.normality_test` result: ``result.plot(x)`` and ``check --plot``.

Three panels: the normal Q-Q plots of the two columns the result flags (the
principal axis, coordinate or random direction whose p-value is smallest,
the departures named first) and the covariance spectrum, with the rank
and the rounding threshold marked when the samples are collapsed. Drawn on
a :class:`matplotlib.figure.Figure` (no pyplot: the caller's backend and
open figures stay as they are). Indices count from 0, as ``x[:, j]``.
"""

from __future__ import annotations

import os
import textwrap

import numpy as np

from sketchtest._multivariate.diagnosis import (
    INDEX_NOTE, _host, _number, diagnose, checked_samples, pvalue_phrase, summary_of_samples,
)

__all__ = ["plot_result", "draw_figure", "qq_panels", "qq_axes", "spectrum_axes", "plot_path", "require_matplotlib"]

#: Rows drawn in a Q-Q plot at most (a random subset beyond).
QQ_POINTS = 4000
#: Q-Q panels of a normality_test figure.
QQ_PANELS = 2
#: Per-column components, in the order their columns are shown when nothing is flagged.
_COLUMN_COMPONENTS = ("principal_axes", "coordinates", "random_slices")
_KIND_OF = {"principal_axis": "principal_axes", "coordinate": "coordinates", "random_directions": "random_slices"}


def require_matplotlib(what="result.plot()"):
    """Import matplotlib, or ImportError saying how to install it."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(f"{what} needs matplotlib: pip install matplotlib, or from a clone of sketchtest: "
                          'pip install -c .ci/constraints.txt -e ".[plot]"') from None


def plot_path(path) -> str:
    """Where a figure for `path` goes: ``path/sketchtest-check.png`` for a directory,
    ``path.png`` when `path` has no extension, else `path` itself."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return os.path.join(path, "sketchtest-check.png")
    return path if os.path.splitext(path)[1] else path + ".png"


def plot_result(result, x, *, path=None, alpha=0.05, title=None):
    """``result.plot(x)``: the figure of :func:`draw_figure`, saved to `path` when given."""
    require_matplotlib()
    x = checked_samples(result, x)
    summary = summary_of_samples(x)
    figure = draw_figure(_host(x), result, summary=summary, alpha=alpha, title=title)
    if path is not None:
        figure.savefig(plot_path(path), dpi=110)
    return figure


def draw_figure(host, result, *, summary, alpha=0.05, title=None, seed=0):
    """The :class:`~matplotlib.figure.Figure`: two Q-Q panels and the spectrum (see the module)."""
    from matplotlib.figure import Figure

    diagnosis = diagnose(result, alpha=alpha, summary=summary)
    figure = Figure(figsize=(14, 4.8), layout="constrained")
    grid = figure.add_gridspec(1, QQ_PANELS + 1)
    panels = qq_panels(host, result, diagnosis, summary=summary, seed=seed)
    for slot in range(QQ_PANELS):
        axes = figure.add_subplot(grid[0, slot])
        if slot < len(panels):
            qq_axes(axes, *panels[slot])
        else:
            axes.text(0.5, 0.5, "no column to show", ha="center", va="center")
            axes.set_axis_off()
    spectrum_axes(figure.add_subplot(grid[0, QQ_PANELS]), summary, collapse=_collapse_of(diagnosis))
    heading = f"verdict: {diagnosis.verdict}"
    if title:
        heading = f"{title}\n{heading}"
    figure.suptitle("\n".join(textwrap.wrap(heading, 150)[:4]), fontsize=9)
    return figure


def _collapse_of(diagnosis):
    return next((d.details for d in diagnosis.departures if d.kind == "collapse"), None)


def qq_panels(host, result, diagnosis, *, summary, seed=0) -> list:
    """``(label, values)`` of the columns to show: flagged ones first, then the smallest p-values."""
    host = np.asarray(host, dtype=np.float64)
    if host.shape[0] > QQ_POINTS:
        host = host[np.sort(np.random.default_rng(seed).choice(host.shape[0], QQ_POINTS, replace=False))]
    wanted = [(_KIND_OF[d.kind], d.index, True) for d in diagnosis.departures
              if d.kind in _KIND_OF and d.index is not None]
    smallest = sorted((name == "random_slices", _number(part.pvalue), name,
                       int(_host(part.extras["most_significant"]).reshape(-1)[0]))
                      for name, part in result.components.items()
                      if name in _COLUMN_COMPONENTS and "most_significant" in part.extras
                      and _number(part.pvalue) is not None)
    wanted += [(name, index, False) for _, _, name, index in smallest]  # random directions last
    wanted += [("principal_axes", index, False) for index in range(QQ_PANELS)]  # nothing computed
    panels, seen = [], set()
    for name, index, flagged in wanted:
        if (name, index) in seen or len(panels) == QQ_PANELS:
            continue
        values = _column(host, result, name, index)
        if values is None:
            continue
        seen.add((name, index))
        pvalues = result.components[name].extras.get("pvalues") if name in result.components else None
        pvalue = None if pvalues is None else _number(_host(pvalues).reshape(-1)[index])
        label = f"{_column_words(name, index)}: {pvalue_phrase(pvalue)}" + (" (flagged)" if flagged else "")
        panels.append((label, values))
    return panels


def _column_words(name, index) -> str:
    return {"principal_axes": f"principal axis {index}", "coordinates": f"coordinate {index} (x[:, {index}])",
            "random_slices": f"random direction {index}"}[name]


def _column(host, result, name, index):
    """The values of column `index` of component `name`, as the component saw them (None: none)."""
    if name == "coordinates":
        values = host[:, index]
        return _standardized(values) if result.null == "normal" else values
    if name == "random_slices":
        directions = result.extras.get("directions")
        if directions is None:
            return None
        values = host @ _host(directions).reshape(host.shape[1], -1)[:, index]
        return _standardized(values) if result.null == "normal" else values
    centered = host - host.mean(axis=0)
    eigenvalues, vectors = np.linalg.eigh(centered.T @ centered / host.shape[0])
    eigenvalues, vectors = eigenvalues[::-1], vectors[:, ::-1]
    if index >= eigenvalues.shape[0] or not eigenvalues[index] > 1e-12 * max(eigenvalues[0], 0.0):
        return None
    return centered @ vectors[:, index] / np.sqrt(eigenvalues[index])


def _standardized(values):
    spread = values.std()
    return (values - values.mean()) / spread if spread > 0 else values - values.mean()


def qq_axes(axes, label, values) -> None:
    """A normal Q-Q plot of `values` on `axes`, titled `label`, with the N(0, 1) line."""
    from scipy.stats import norm

    ordered = np.sort(np.asarray(values, dtype=np.float64))
    n = ordered.shape[0]
    theoretical = norm.ppf((np.arange(1, n + 1) - 0.5) / n)
    axes.plot(theoretical, ordered, ".", markersize=2)
    low, high = theoretical[0], theoretical[-1]
    axes.plot([low, high], [low, high], "k--", linewidth=1, label="N(0, 1)")
    axes.set_title(label, fontsize=9)
    axes.set_xlabel("N(0, 1) quantiles", fontsize=8)
    axes.set_ylabel("sample quantiles", fontsize=8)
    axes.legend(fontsize=7, loc="upper left")


def spectrum_axes(axes, summary, *, collapse=None) -> None:
    """The covariance eigenvalues (log scale), the isotropic band, and the rank when collapsed."""
    if "spectrum_skipped" in summary:
        axes.text(0.5, 0.5, f"covariance spectrum skipped:\n{summary['spectrum_skipped']}",
                  ha="center", va="center", fontsize=8, wrap=True)
        axes.set_axis_off()
        return
    eigenvalues = np.asarray(summary["eigenvalues"], dtype=np.float64)
    largest = max(float(eigenvalues[0]), 1e-300)
    floor = largest * 1e-20
    lower, upper = summary["marchenko_pastur_range"]
    average = summary["average_variance"]
    ranks = np.arange(eigenvalues.shape[0])  # 0-based, as principal axis k
    axes.axhspan(max(lower * average, floor), upper * average, color="tab:green", alpha=0.15,
                 label="isotropic range (Marchenko-Pastur)")
    axes.plot(ranks, np.maximum(eigenvalues, floor), "o-", markersize=3, label="eigenvalues")
    axes.axhline(1.0, color="k", linestyle="--", linewidth=1, label="N(0, I)")
    title = f"covariance spectrum: effective rank {summary['effective_rank']:.3g} of {eigenvalues.shape[0]}"
    if collapse is not None or summary.get("numerical_rank", eigenvalues.shape[0]) < eigenvalues.shape[0]:
        rank = (collapse or {}).get("rank", summary.get("numerical_rank"))
        axes.axvline(rank - 0.5, color="tab:red", linewidth=1.5, label=f"collapse: rank {rank}")
        if summary.get("rank_threshold"):
            axes.axhline(max(summary["rank_threshold"], floor), color="tab:red", linestyle=":",
                         linewidth=1, label="rank threshold (rounding level)")
        title = f"covariance spectrum: rank {rank} of {eigenvalues.shape[0]} " \
                f"(effective {summary['effective_rank']:.3g})"
    axes.set_yscale("log")
    axes.set_title(title, fontsize=9)
    axes.set_xlabel(f"principal axis ({INDEX_NOTE.split(',')[0]})", fontsize=8)
    axes.set_ylabel("eigenvalue (variance along the axis)", fontsize=8)
    axes.legend(fontsize=7)
