"""The exact far tail of Cramér-von Mises W^2 under N(0, 1) at finite n, by importance sampling.

``P(W^2 > w)`` at n = 20 far below what plain simulation reaches: samples are
drawn from a mixture of shifted and scaled normals, ``N(m, s^2)^n`` with
(m, s) in :data:`PROPOSALS` (equal weights), and weighted by the likelihood
ratio ``prod phi(x_i) / q(x)``; the estimate is unbiased for any proposal, and
its standard error is printed beside it. The large values of W^2 come from
samples that are shifted or spread as a whole, which the proposals cover.
Printed beside it: the package's p-value (``null="standard"``, ``method="auto"``)
and the limit law (``method="asymptotic"``).

Usage (2-core x86_64 VM, OMP_NUM_THREADS=1, about a minute)::

    python benchmarks/cvm_standard_tail.py [n] [replicates]   # default 20 2000000, seed 20261207
"""

from __future__ import annotations

import sys

import numpy as np
from scipy.special import logsumexp, ndtr

from sketchtest._nulls.edf import cvm_limit_sf, cvm_standard_sf

SHIFTS = (0.0, 0.5, 1.0, 1.5, 2.0, 2.25, 2.5, 2.75, 3.0, 3.5, 4.0)
PROPOSALS = (tuple((sign * m, 1.0) for m in SHIFTS for sign in (1.0, -1.0))
             + ((0.0, 2.0), (0.0, 3.0), (2.0, 2.0), (-2.0, 2.0), (3.0, 0.7), (-3.0, 0.7)))
LEVELS = (0.5, 1.0, 1.6105536, 2.0, 3.0, 4.0, 4.4732802, 5.0, 5.6728874, 6.0)


def cvm_statistic(x: np.ndarray) -> np.ndarray:
    """W^2 of each row against N(0, 1): ``1/(12n) + sum (u_(i) - (2i-1)/(2n))^2``."""
    n = x.shape[-1]
    u = ndtr(np.sort(x, axis=-1))
    return 1.0 / (12.0 * n) + np.sum((u - (2.0 * np.arange(1, n + 1) - 1.0) / (2.0 * n)) ** 2, axis=-1)


def log_weights(x: np.ndarray) -> np.ndarray:
    """``log(prod phi(x_i) / q(x))`` for the equal mixture q of :data:`PROPOSALS`."""
    log_target = -0.5 * np.sum(x * x, axis=-1)
    log_components = np.stack([-0.5 * np.sum(((x - m) / s) ** 2, axis=-1) - x.shape[-1] * np.log(s)
                               for m, s in PROPOSALS])
    return log_target - (logsumexp(log_components, axis=0) - np.log(len(PROPOSALS)))


def tail(n: int, replicates: int, seed: int = 20261207):
    """``(levels, estimates, standard errors)`` of ``P(W^2 > w)`` at each w in :data:`LEVELS`."""
    rng = np.random.default_rng(seed)
    sums = np.zeros(len(LEVELS))
    squares = np.zeros(len(LEVELS))
    batch = 100_000
    for start in range(0, replicates, batch):
        size = min(batch, replicates - start)
        component = rng.integers(len(PROPOSALS), size=size)
        means = np.asarray([PROPOSALS[c][0] for c in range(len(PROPOSALS))])[component]
        scales = np.asarray([PROPOSALS[c][1] for c in range(len(PROPOSALS))])[component]
        x = means[:, None] + scales[:, None] * rng.standard_normal((size, n))
        statistic, weight = cvm_statistic(x), np.exp(log_weights(x))
        for k, level in enumerate(LEVELS):
            hit = np.where(statistic > level, weight, 0.0)
            sums[k] += hit.sum()
            squares[k] += (hit * hit).sum()
    mean = sums / replicates
    return np.asarray(LEVELS), mean, np.sqrt((squares / replicates - mean * mean) / replicates)


def main(argv):
    n = int(argv[0]) if argv else 20
    replicates = int(argv[1]) if len(argv) > 1 else 2_000_000
    levels, estimate, error = tail(n, replicates)
    for level, p, e in zip(levels, estimate, error):
        finite = float(cvm_standard_sf(np.asarray(level), n, xp=np))
        limit = float(cvm_limit_sf(np.asarray(level), xp=np))
        print(f"n={n} W2={level:.4f}  exact(IS)={p:.4e} +- {e:.1e}  package={finite:.4e} ({finite / p:.3f})"
              f"  limit={limit:.4e} ({limit / p:.3f})", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
