"""Accuracy of the EDF p-values against simulation (docs/benchmarks/calibration.rst).

Simulates seeded N(0, 1) samples at each n, computes the Anderson-Darling
(simple and composite), Cramér-von Mises and Watson (composite) statistics,
and compares each analytic p-value with the simulated survival function at
110 levels from 0.99 down to 100 / replicates. Prints, per test and n, the
largest absolute error (and in binomial standard errors) and the largest
relative error where the simulated p is at most 0.01.

Usage: ``OMP_NUM_THREADS=1 python benchmarks/edf_accuracy.py [n:replicates ...]``
(default: 25:200000 30:1000000 50:500000 100:500000 1000:100000).
"""

from __future__ import annotations

import sys

import numpy as np

import sketchtest as st
from sketchtest._nulls import edf as nulls
CASES = {
    "anderson_darling standard": (lambda x: st.anderson_darling(x, null="standard", method="asymptotic"),
                                  nulls.anderson_darling_standard_sf),
    "anderson_darling normal": (lambda x: st.anderson_darling(x, null="normal", method="monte_carlo",
                                                              n_resamples=1, seed=0),
                                nulls.anderson_darling_normal_sf),
    "cramer_von_mises normal": (lambda x: st.cramer_von_mises(x, null="normal", method="monte_carlo",
                                                              n_resamples=1, seed=0),
                                nulls.cvm_normal_sf),
    "watson normal": (lambda x: st.watson(x, null="normal", method="monte_carlo", n_resamples=1, seed=0),
                      nulls.watson_normal_sf),
}
DEFAULT = ("25:200000", "30:1000000", "50:500000", "100:500000", "1000:100000")


def simulate(n: int, replicates: int) -> dict:
    """Sorted null statistics of every case, from ``default_rng(20261202 + n)``."""
    rng = np.random.default_rng(20261202 + n)
    batch = max(1000, 2_000_000 // n)
    statistics = {name: [] for name in CASES}
    for start in range(0, replicates, batch):
        x = rng.standard_normal((n, min(batch, replicates - start)))
        for name, (statistic, _) in CASES.items():
            statistics[name].append(np.asarray(statistic(x).statistic))
    return {name: np.sort(np.concatenate(values)) for name, values in statistics.items()}


def errors(statistics: np.ndarray, sf, n: int) -> tuple:
    """``(max |p - p_sim|, in standard errors, max relative error where p_sim <= 0.01)``."""
    m = statistics.size
    levels = np.concatenate([np.linspace(0.99, 0.01, 99), np.geomspace(0.01, 100 / m, 12)[1:]])
    probes = statistics[np.clip((m * (1 - levels)).astype(int), 0, m - 1)]
    simulated = 1.0 - np.searchsorted(statistics, probes, side="left") / m
    error = sf(probes, n, xp=np) - simulated
    standard_error = np.sqrt(simulated * (1 - simulated) / m)
    worst = np.argmax(np.abs(error))
    tail = simulated <= 0.01
    return (float(np.abs(error[worst])), float(np.abs(error[worst]) / standard_error[worst]),
            float(np.max(np.abs(error[tail]) / simulated[tail])))


def main(argv=None):
    for item in argv or DEFAULT:
        n, replicates = (int(part) for part in item.split(":"))
        simulated = simulate(n, replicates)
        for name, (_, sf) in CASES.items():
            absolute, in_errors, relative = errors(simulated[name], sf, n)
            print(f"{name:28s} n={n:5d}  max|p - p_sim| = {absolute:.4f} ({in_errors:.1f} s.e.)  "
                  f"tail relative = {relative:.2f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
