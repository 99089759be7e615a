"""Size table: rejection rates under H0 for every test x null x n x alpha.

Uses the grid of ``tests/calibration/grid.py`` (the same draws the calibration
tests make) and prints, per test x null, the rejection rates and the worst
deviation |rate - alpha| over n in {10, 25, 100, 1000} and alpha in
{0.01, 0.05, 0.10}, against the allowed band (4 binomial sigmas + 0.005).

Run: ``OMP_NUM_THREADS=1 python benchmarks/calibration.py [--replicates 2000] [--rst FILE]``.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "calibration"))
from grid import ALPHAS, SIZES, TESTS, band, null_pvalues  # noqa: E402


def size_rows(replicates: int):
    rows = []
    for name, function, nulls, smallest, options in TESTS:
        for null in nulls:
            worst, cells = 0.0, []
            for n in SIZES:
                if n < smallest:
                    continue
                pvalues = null_pvalues(function, null, n, replicates, seed=11 + n, **options)
                for alpha in ALPHAS:
                    rate = float(np.mean(pvalues <= alpha))
                    worst = max(worst, abs(rate - alpha))
                    cells.append(f"{rate:.3f}")
            rows.append([name, str(null or "normal"), *cells, f"{worst:.4f}"])
    return rows


def _table(rows, replicates, as_rst):
    header = ["test", "null"] + [f"n={n} a={a}" for n in SIZES for a in ALPHAS] + ["worst |rate-a|"]
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths))
    rule = "  ".join("=" * w for w in widths)
    body = [line(r) for r in rows]
    return "\n".join([rule, line(header), rule, *body, rule] if as_rst else [line(header), *body])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=2000)
    parser.add_argument("--rst", help="also write the table as reStructuredText to this file")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows = size_rows(args.replicates)
    print(f"Rejection rates under H0, {args.replicates} replicates per cell; allowed deviation "
          f"{', '.join(f'{band(a, args.replicates):.4f} (a={a})' for a in ALPHAS)} "
          f"({time.perf_counter() - start:.0f} s)")
    print(_table(rows, args.replicates, as_rst=False))
    if args.rst:
        pathlib.Path(args.rst).write_text(_table(rows, args.replicates, as_rst=True) + "\n")


if __name__ == "__main__":
    main()
