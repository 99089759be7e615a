"""Speed of the univariate tests on NumPy, against SciPy and against ``np.sort``.

Data: ``columns`` independent N(0, 1) samples of size ``n`` (default 1024 x
2048, float64), samples along axis 0 as SciPy's default. For every test x null
the script times (best of ``--repeats``):

* ``sketchtest``: one call, ``axis=0``, the default method;
* ``np.sort(x, axis=0)``: the floor of every EDF test, which must sort
  (timed alternately with the test, so both see the same machine load);
* SciPy's equivalent where one exists, called once per column (a Python
  loop) and once with ``axis=0`` where SciPy has that argument.

It prints a reStructuredText table of the times and the ratios. Goals: every
EDF test within 2x of the sort floor and at least 5x faster than SciPy's
axis-batched call. Run with ``OMP_NUM_THREADS=1``::

    OMP_NUM_THREADS=1 python benchmarks/univariate.py
"""

from __future__ import annotations

import argparse
import functools
import time
import warnings

import numpy as np
from scipy import stats

import sketchtest as st

EDF_TESTS = ("cramer_von_mises", "anderson_darling", "watson", "kolmogorov_smirnov")


def best_time(function, repeats: int) -> float:
    """The fastest of `repeats` wall-clock times of ``function()``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def per_column(scipy_test):
    """`scipy_test` called on each column of `x` in a Python loop."""
    return lambda x: [scipy_test(x[:, j]) for j in range(x.shape[1])]


# test, null -> (SciPy per column, SciPy with axis=0); None where SciPy has no such call
SCIPY_EQUIVALENTS = {
    ("cramer_von_mises", "standard"): (
        per_column(lambda c: stats.cramervonmises(c, stats.norm.cdf)),
        lambda x: stats.cramervonmises(x, stats.norm.cdf, axis=0),
    ),
    ("kolmogorov_smirnov", "standard"): (
        per_column(lambda c: stats.kstest(c, stats.norm.cdf)),
        lambda x: stats.kstest(x, stats.norm.cdf, axis=0),
    ),
    ("anderson_darling", "normal"): (per_column(lambda c: stats.anderson(c, "norm")), None),
    ("shapiro_wilk", "normal"): (per_column(stats.shapiro), lambda x: stats.shapiro(x, axis=0)),
    ("jarque_bera", "normal"): (per_column(stats.jarque_bera), lambda x: stats.jarque_bera(x, axis=0)),
    ("dagostino_pearson", "normal"): (per_column(stats.normaltest), lambda x: stats.normaltest(x, axis=0)),
}

CASES = [(name, null) for name in (*EDF_TESTS, "epps_pulley", "jarque_bera") for null in ("standard", "normal")]
CASES += [("dagostino_pearson", "normal"), ("shapiro_wilk", "normal"), ("shapiro_francia", "normal")]


def best_times_interleaved(first, second, repeats: int):
    """Best times of `first` and `second`, run alternately so both see the same machine load."""
    times = [(best_time(first, 1), best_time(second, 1)) for _ in range(repeats)]
    return min(t for t, _ in times), min(t for _, t in times)


def measure(x, *, repeats: int, scipy_repeats: int):
    """One row of timings (seconds) per test x null."""
    rows = []
    for name, null in CASES:
        ours = functools.partial(getattr(st, name), x, axis=0, null=null)
        try:
            ours()  # warm the per-n caches (coefficients, tables)
        except NotImplementedError:
            print(f"  skipped {name} ({null}): not written yet", flush=True)
            continue
        ours_time, sort_time = best_times_interleaved(ours, lambda: np.sort(x, axis=0), repeats)
        row = {"test": name, "null": null, "ours": ours_time, "sort": sort_time}
        loop, batched = SCIPY_EQUIVALENTS.get((name, null), (None, None))
        row["scipy_loop"] = best_time(lambda: loop(x), scipy_repeats) if loop else None
        row["scipy_axis"] = best_time(lambda: batched(x), scipy_repeats) if batched else None
        rows.append(row)
        print(f"  measured {name} ({null})", flush=True)
    return rows


def _ratio(numerator, denominator, digits: int = 1) -> str:
    return "—" if numerator is None or denominator is None else f"{numerator / denominator:.{digits}f}"


def _milliseconds(seconds) -> str:
    return "—" if seconds is None else f"{1e3 * seconds:.1f}"


def rst_table(rows) -> str:
    """The rows as a reStructuredText grid-free ("simple") table."""
    header = ("test", "null", "sketchtest (ms)", "/ sort", "SciPy loop (ms)", "loop / ours",
              "SciPy axis=0 (ms)", "axis=0 / ours", "EDF goal")
    lines = []
    for row in rows:
        goal = ""
        if row["test"] in EDF_TESTS:
            within_sort = row["ours"] <= 2.0 * row["sort"]
            vs_scipy = row["scipy_axis"] is None or row["scipy_axis"] >= 5.0 * row["ours"]
            goal = "met" if within_sort and vs_scipy else "MISSED"
        lines.append((row["test"], row["null"], _milliseconds(row["ours"]), _ratio(row["ours"], row["sort"], 2),
                      _milliseconds(row["scipy_loop"]), _ratio(row["scipy_loop"], row["ours"]),
                      _milliseconds(row["scipy_axis"]), _ratio(row["scipy_axis"], row["ours"]), goal))
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines)]
    rule = "  ".join("=" * width for width in widths)
    body = ["  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines]
    title = "  ".join(cell.ljust(width) for cell, width in zip(header, widths)).rstrip()
    return "\n".join([rule, title, rule, *body, rule])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--columns", type=int, default=1024)
    parser.add_argument("--n", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=5, help="best of this many runs (sketchtest, sort)")
    parser.add_argument("--scipy-repeats", type=int, default=2, help="best of this many runs (SciPy)")
    args = parser.parse_args(argv)
    x = np.random.default_rng(0).standard_normal((args.n, args.columns))
    print(f"{args.columns} columns x n={args.n}, float64, NumPy {np.__version__}; "
          f"sort floor np.sort(x, axis=0)", flush=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SciPy's anderson and shapiro warn about their own APIs and n
        rows = measure(x, repeats=args.repeats, scipy_repeats=args.scipy_repeats)
    sorts = [row["sort"] for row in rows]
    print(f"np.sort(x, axis=0), timed beside each test: {1e3 * min(sorts):.1f} to {1e3 * max(sorts):.1f} ms")
    print(rst_table(rows))


if __name__ == "__main__":
    main()
