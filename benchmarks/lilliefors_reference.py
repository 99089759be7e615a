"""Lilliefors p-values side by side: sketchtest, R's nortest ``lillie.test`` and simulation.

The samples are ``z + skew * z**2`` with ``z = default_rng(1000 * n + k).standard_normal(n)``
and ``skew = 0.08 k`` for k = 0..5 (p from near 1 to below 1e-4). For each,
prints D, R's p-value (nortest 1.0.4: Dallal & Wilkinson below 0.1,
Stephens' quartics above; needs ``Rscript`` with nortest), the package's p
and a direct simulation of P(D_n >= D) with ``default_rng(SeedSequence([4242, n]))``.

Usage (2-core x86_64 VM, OMP_NUM_THREADS=1, about two minutes)::

    python benchmarks/lilliefors_reference.py [replicates]   # default 1000000
"""

from __future__ import annotations

import subprocess
import sys
import tempfile

import numpy as np

import sketchtest as st
from lilliefors_null import lilliefors_statistics

SIZES = (20, 50, 100, 500)
SKEWS = tuple(0.08 * k for k in range(6))
R_SCRIPT = r"""
library(nortest)
for (line in readLines(commandArgs(TRUE)[1])) {
  x <- as.numeric(strsplit(line, ",")[[1]])
  r <- lillie.test(x)
  cat(sprintf("%.17g %.17g\n", r$statistic, r$p.value))
}
"""


def samples():
    """``(n, k, x)`` of every case."""
    for n in SIZES:
        for k, skew in enumerate(SKEWS):
            z = np.random.default_rng(1000 * n + k).standard_normal(n)
            yield n, k, z + skew * z * z


def r_values(cases):
    """``(D, p)`` of R's ``lillie.test`` for each case (through Rscript)."""
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as data:
        for _, _, x in cases:
            data.write(",".join(repr(float(v)) for v in x) + "\n")
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as script:
        script.write(R_SCRIPT)
    output = subprocess.run(["Rscript", script.name, data.name], capture_output=True, text=True, check=True)
    return [tuple(float(v) for v in line.split()) for line in output.stdout.splitlines()]


def simulated_sf(n: int, statistics: np.ndarray, replicates: int) -> np.ndarray:
    """``P(D_n >= d)`` for each d, from `replicates` seeded samples."""
    rng = np.random.default_rng(np.random.SeedSequence([4242, n]))
    exceed = np.zeros(statistics.size)
    batch = max(1, 2_000_000 // n)
    for start in range(0, replicates, batch):
        s = np.sort(lilliefors_statistics(n, min(batch, replicates - start), rng) / np.sqrt(n))
        exceed += s.size - np.searchsorted(s, statistics, side="left")
    return exceed / replicates


def main(argv):
    replicates = int(argv[0]) if argv else 1_000_000
    cases = list(samples())
    reference = r_values(cases)
    for n in SIZES:
        rows = [(k, x, r) for (m, k, x), r in zip(cases, reference) if m == n]
        ours = [st.kolmogorov_smirnov(x, null="normal") for _, x, _ in rows]
        simulated = simulated_sf(n, np.asarray([float(o.statistic) for o in ours]), replicates)
        for (k, _, (d_r, p_r)), o, p_sim in zip(rows, ours, simulated):
            error = np.sqrt(p_sim * (1 - p_sim) / replicates)
            print(f"n={n:5d} k={k} D={float(o.statistic):.10f} (R {d_r:.10f})  R p={p_r:.6g}  "
                  f"ours={float(o.pvalue):.6g}  sim={p_sim:.6g} +- {error:.1g}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
