"""Time of one `normality_test` against one `sliced_test` at the same (N, D), both nulls.

For each shape the data is N(0, I) in float32 (NumPy), the sliced test uses
the same number of slices (128, the default of `normality_test`) and the
same null; the last columns compare with `sliced_test` at its own defaults
(256 slices), the call a user would otherwise make. Reported per shape: the
first call at that shape (nothing shape-specific cached yet) and the best of
three further calls, and the ratio of the two functions' times, measured in
the same run.

Both functions build the asymptotic Epps-Pulley null table of a null once per
process, the first time it is needed (``sliced_test`` one table, ``normality_test``
both: its principal axes use the composite null under either null); a warm-up
call at a tiny shape pays that before the timings, and ``--cold`` times it
on its own in fresh processes.

Run: ``OMP_NUM_THREADS=1 python benchmarks/normality_speed.py [--largest 20000x256] [--cold]``.
Prints a reStructuredText table (``docs/benchmarks/sliced.rst``, section "normality_test speed").
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import time

import numpy as np

import sketchtest as st
from _tables import rst_table  # benchmarks/, on the path when a script here runs

SHAPES = ((1000, 16), (5000, 64), (20000, 256), (50000, 512))
SLICES = 128


def _timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def _first_and_best(function, repeats=3):
    first = _timed(function)
    return first, min(_timed(function) for _ in range(repeats))


def _row(n, dim, null):
    x = np.random.default_rng(n + dim).standard_normal((n, dim)).astype(np.float32)
    normality = _first_and_best(lambda: st.normality_test(x, null=null, seed=0, num_slices=SLICES))
    sliced = _first_and_best(lambda: st.sliced_test(x, null=null, seed=0, num_slices=SLICES))
    default = _first_and_best(lambda: st.sliced_test(x, null=null, seed=0))
    return [f"{n}x{dim}", null, f"{normality[0]:.3f}", f"{sliced[0]:.3f}", f"{normality[0] / sliced[0]:.2f}",
            f"{normality[1]:.3f}", f"{sliced[1]:.3f}", f"{normality[1] / sliced[1]:.2f}",
            f"{default[0]:.3f}", f"{normality[0] / default[0]:.2f}", f"{normality[1] / default[1]:.2f}"]


def _cold(null):
    code = ("import time, numpy as np, sketchtest as st; x = np.random.default_rng(0).standard_normal((1000, 16))"
            ".astype(np.float32); t = time.perf_counter(); st.{f}(x, null={null!r}, seed=0, num_slices=128); "
            "print(time.perf_counter() - t)")
    times = [float(subprocess.run([sys.executable, "-c", code.format(f=f, null=null)], check=True,
                                  capture_output=True, text=True).stdout) for f in ("normality_test", "sliced_test")]
    return ["1000x16 (new process)", null, f"{times[0]:.2f}", f"{times[1]:.2f}", f"{times[0] / times[1]:.2f}",
            "", "", "", "", "", ""]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--largest", default="50000x512", help="largest shape NxD to time")
    parser.add_argument("--cold", action="store_true", help="also time the first call in fresh processes")
    args = parser.parse_args()
    largest = math.prod(int(v) for v in args.largest.split("x"))
    warm = np.random.default_rng(0).standard_normal((64, 4)).astype(np.float32)
    for null in ("standard", "normal"):
        st.normality_test(warm, null=null, seed=0)
        st.sliced_test(warm, null=null, seed=0)
    rows = []
    for n, dim in SHAPES:
        if n * dim > largest:
            continue
        for null in ("standard", "normal"):
            rows.append(_row(n, dim, null))
            print(rows[-1], flush=True)
    if args.cold:
        rows += [_cold("standard"), _cold("normal")]
    header = ["N x D", "null", "normality first (s)", "sliced first (s)", "ratio first",
              "normality best (s)", "sliced best (s)", "ratio best",
              "sliced defaults first (s)", "ratio to defaults first", "ratio to defaults best"]
    print(rst_table(header, rows))


if __name__ == "__main__":
    main()
