"""Memory and time of the asymptotic null of ``sliced_test(aggregate="mean")`` (``sigreg_pvalue``).

For each K, a fresh child process (so that its peak resident set is this
computation's alone) draws K directions in D = 32 and builds the null's table
with :func:`sketchtest.sigreg_pvalue` (T = 17 knots; beyond K T = 1024 the
moments come from :func:`sketchtest._nulls.sliced_mean.mean_null_moments`).
Reported: the wall and CPU time of that first call, its peak traced NumPy
allocation (``tracemalloc``), and the child's peak resident set
(``ru_maxrss``) before the call (the interpreter and the imported libraries)
and after it.

The accuracy check compares the blockwise variance with the direct
(K, K, T, T) formula (written here, as the code before issue 21 computed it)
at small K.

Run: ``OMP_NUM_THREADS=1 python benchmarks/sliced_mean_null.py [--sizes 1024 4096]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

_CHILD = """
import json, resource, sys, time, tracemalloc
import numpy as np
import sketchtest as st
from sketchtest._losses.sigreg import host_directions
directions = host_directions(32, {num_slices}, seed=0)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
tracemalloc.start()
start, cpu = time.perf_counter(), time.process_time()
pvalue = st.sigreg_pvalue(1.06, directions=directions)
seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
traced = tracemalloc.get_traced_memory()[1]
print(json.dumps({{"seconds": seconds, "cpu_seconds": cpu_seconds, "traced_mb": traced / 2**20,
                  "pvalue": float(pvalue), "rss_before_mb": before,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def measure(num_slices: int) -> dict:
    output = subprocess.run([sys.executable, "-c", _CHILD.format(num_slices=num_slices)], check=True,
                            capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def direct_variance(directions, t_max=3.0, n_points=17):
    """``2 tr((W Sigma)^2)`` from the full (K, K, T, T) covariances (small K only)."""
    t = np.linspace(0.0, t_max, n_points)
    ends = np.ones(n_points)
    ends[[0, -1]] = 0.5
    weights = 2.0 * t_max / (n_points - 1) * ends * np.exp(-t * t / 2.0)
    rho = directions.T @ directions
    ts = t[:, None] * t[None, :]
    base = np.exp(-(t[:, None] ** 2 + t[None, :] ** 2) / 2.0)
    minus = base * np.exp(rho[:, :, None, None] * ts)
    plus = base * np.exp(-rho[:, :, None, None] * ts)
    phi = np.exp(-t * t / 2.0)
    cosine = 0.5 * (minus + plus) - phi[:, None] * phi[None, :]
    sine = 0.5 * (minus - plus)
    pair_weights = weights[:, None] * weights[None, :] / rho.shape[0] ** 2
    return 2.0 * float(np.sum(pair_weights * (cosine * cosine + sine * sine)))


def accuracy(sizes=(8, 64, 256)):
    from sketchtest._losses.sigreg import host_directions
    from sketchtest._nulls.sliced_mean import mean_null_moments

    rows = []
    for num_slices in sizes:
        directions = host_directions(32, num_slices, seed=0)
        _, variance = mean_null_moments(directions)
        exact = direct_variance(directions)
        rows.append((num_slices, variance, exact, abs(variance - exact) / exact))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1024, 4096])
    args = parser.parse_args(argv)
    print("variance of the mean's null: blockwise against the direct (K, K, T, T) formula, D = 32")
    for num_slices, variance, exact, error in accuracy():
        print(f"  K = {num_slices:5d}: {variance:.15g} vs {exact:.15g} (relative {error:.1e})")
    print(f"{'K':>6} {'T':>3} {'wall s':>7} {'CPU s':>6} {'traced MB':>10} {'RSS before MB':>14} "
          f"{'peak RSS MB':>12} {'p(1.06)':>8}")
    for num_slices in args.sizes:
        row = measure(num_slices)
        print(f"{num_slices:6d} {17:3d} {row['seconds']:7.2f} {row['cpu_seconds']:6.2f} {row['traced_mb']:10.1f} "
              f"{row['rss_before_mb']:14.0f} {row['maxrss_mb']:12.0f} {row['pvalue']:8.3f}")


if __name__ == "__main__":
    main()
