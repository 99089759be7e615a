"""Size table: rejection rates under H0 for every test x null x n x alpha.

Uses the grid of ``tests/calibration/grid.py`` (the same draws the calibration
tests make), plus the four univariate tests it does not hold
(:data:`MORE_TESTS`: all 12 univariate tests in all), and prints, per test x null, the rejection rates and the worst
deviation |rate - alpha| over n in {10, 25, 100, 1000} and alpha in
{0.01, 0.05, 0.10}, against the allowed band (4 binomial sigmas + 0.005),
and the largest Kolmogorov distance of the p-values to U(0, 1).

Run: ``OMP_NUM_THREADS=1 python benchmarks/calibration.py [--replicates 2000] [--sizes 10 25 100]
[--rst FILE]``.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "calibration"))
from grid import ALPHAS, SIZES, TESTS, band, null_pvalues, uniformity_distance  # noqa: E402

import sketchtest as st  # noqa: E402

#: The univariate tests outside the calibration tests' grid (same fields as its TESTS).
MORE_TESTS = [
    ("dagostino_pearson", st.dagostino_pearson, (None,), 10, {}),
    ("skewness_test", st.skewness_test, (None,), 10, {}),
    ("kurtosis_test", st.kurtosis_test, (None,), 10, {}),
    ("vasicek", st.vasicek, ("standard", "normal"), 10, {}),
]


def size_rows(replicates: int, sizes=SIZES):
    """One row per test x null: rates per n (at each alpha), worst deviation, worst uniformity distance."""
    rows = []
    for name, function, nulls, smallest, options in TESTS + MORE_TESTS:
        for null in nulls:
            worst, distance, cells = 0.0, 0.0, []
            for n in sizes:
                if n < smallest:
                    continue
                pvalues = null_pvalues(function, null, n, replicates, seed=11 + n, **options)
                rates = [float(np.mean(pvalues <= alpha)) for alpha in ALPHAS]
                worst = max(worst, *(abs(rate - alpha) for rate, alpha in zip(rates, ALPHAS)))
                distance = max(distance, uniformity_distance(pvalues))
                cells.append(" / ".join(f"{rate:.3f}" for rate in rates))
            rows.append([name, str(null or "normal"), *cells, f"{worst:.4f}", f"{distance:.3f}"])
    return rows


def _header(sizes):
    return ["test", "null", *(f"n = {n}" for n in sizes), "worst deviation from alpha", "max KS distance"]


def _text_table(rows, header):
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(cells, widths)) for cells in [header, *rows])


def _rst_table(rows, header):
    lines = [".. list-table::", "   :header-rows: 1", "   :stub-columns: 1", ""]
    for cells in [header, *rows]:
        cells = [f"``{cells[0]}``" if cells is not header else cells[0], *cells[1:]]
        lines.append(f"   * - {cells[0]}")
        lines.extend(f"     - {cell}" for cell in cells[1:])
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=2000)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--rst", help="also write the table as reStructuredText to this file")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows = size_rows(args.replicates, args.sizes)
    print(f"Rejection rates under H0, {args.replicates} replicates per cell; allowed deviation "
          f"{', '.join(f'{band(a, args.replicates):.4f} (a={a})' for a in ALPHAS)} "
          f"({time.perf_counter() - start:.0f} s)")
    print(_text_table(rows, _header(args.sizes)))
    if args.rst:
        pathlib.Path(args.rst).write_text(_rst_table(rows, _header(args.sizes)) + "\n")


if __name__ == "__main__":
    main()
