"""Check the closed-form null mean of normality_test's composite skewness against simulation.

For each (N, D) the script draws R samples of N(0, I_D) of size N, whitens
each by the Cholesky factor of its covariance (ddof = 0; the statistic is
affine invariant, so any Gaussian would do), computes the Mori-Rohatgi-Szekely
skewness ``|N^{-1/2} sum_i z_i |z_i|^2|^2 / (2 (D + 2))`` and compares its
mean with ``D N (N - D - 1) / ((N + 1)(N + 3))``, printing the relative
deviation and its size in standard errors, and the ratio of the simulated
variance to the ``2 mu^2 / D`` that the p-value uses.

Run: ``OMP_NUM_THREADS=1 python benchmarks/normality_skewness_moments.py [--replicates 4000]``.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from sketchtest._multivariate.normality_moments import null_moments, skewness_statistic
from _tables import rst_table  # benchmarks/, on the path when a script here runs

GRID = [(n, d) for n in (8, 16, 32, 64, 128, 256) for d in (1, 2, 4, 8, 16, 32, 64) if d <= n - 2]


def simulated(n, dim, replicates, seed):
    rng = np.random.default_rng(seed)
    values = []
    for start in range(0, replicates, 500):
        draws = rng.standard_normal((min(500, replicates - start), n, dim))
        centred = draws - draws.mean(axis=1, keepdims=True)
        factor = np.linalg.cholesky(np.swapaxes(centred, 1, 2) @ centred / n)
        whitened = np.swapaxes(np.linalg.solve(factor, np.swapaxes(centred, 1, 2)), 1, 2)
        values.append(skewness_statistic(whitened, xp=np, centre=0.0))
    return np.concatenate(values)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicates", type=int, default=4000)
    args = parser.parse_args()
    rows = []
    for n, dim in GRID:
        values = simulated(n, dim, args.replicates, seed=n * 1000 + dim)
        mean, variance = null_moments("skewness", "normal", n, dim)
        error = values.std(ddof=1) / math.sqrt(len(values))
        rows.append([n, dim, f"{values.mean():.4f}", f"{mean:.4f}", f"{(values.mean() - mean) / mean:+.4f}",
                     f"{(values.mean() - mean) / error:+.2f}", f"{values.var(ddof=1) / variance:.3f}"])
        print(rows[-1], flush=True)
    print(rst_table(["N", "D", "simulated mean", "closed form", "relative deviation", "in standard errors",
                     "variance ratio"], rows))


if __name__ == "__main__":
    main()
