"""Sliced and multivariate tests: size, speed, streaming throughput, power.

Sections (pick with flags; ``--all`` runs every one):

``--size``     type-I error of the three aggregates (Cauchy combination, mean
               and max with their Monte Carlo null) at alpha = 0.05 over
               N in {64, 1024}, D in {4, 64, 512}, K in {16, 256};
``--speed``    sliced Epps-Pulley and Cramer-von Mises, N = 8192,
               D in {128, 2048}, K = 1024, against a per-slice NumPy/SciPy loop;
``--hz``       Henze-Zirkler against pingouin at N = 2048 (skipped if pingouin
               is missing);
``--stream``   throughput of the streaming accumulator, embeddings per second;
``--power``    rejection rates of sliced Epps-Pulley, Henze-Zirkler and Mardia
               at D = 8, 64, 512 against non-Gaussian and anisotropic data.

Run: ``OMP_NUM_THREADS=1 python benchmarks/sliced.py --all [--replicates R] [--quick]``.
Every section prints a reStructuredText table (``docs/benchmarks/sliced.rst``).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import scipy.stats as stats

import sketchtest as st
from sketchtest._multivariate.directions import draw_directions
from _tables import rst_table  # benchmarks/, on the path when a script here runs

ALPHA = 0.05


def _best_time(function, repeats=3):
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


# --- size ---------------------------------------------------------------------

def size_grid(replicates, n_resamples, quick):
    """Rejection rate at ALPHA of each aggregate; directions fixed per cell (seed 0)."""
    rows = []
    grid = [(n, d, k) for n in (64, 1024) for d in (4, 64, 512) for k in (16, 256)]
    for n, d, k in grid:
        if quick and n * d * k > 64 * 64 * 256:
            continue
        rng = np.random.default_rng(1000 + n + d + k)
        directions = draw_directions(d, k, seed=0)
        start = time.perf_counter()
        rejected = {"cauchy": 0, "mean": 0, "max": 0}
        resamples = n_resamples if n > 64 else max(n_resamples, 999)
        per_batch = max(1, (1 << 23) // (n * d))
        for first in range(0, replicates, per_batch):
            x = rng.standard_normal((min(per_batch, replicates - first), n, d))
            for aggregate in rejected:
                result = st.sliced_test(x, directions=directions, aggregate=aggregate, n_resamples=resamples)
                rejected[aggregate] += int(np.sum(np.asarray(result.pvalue) <= ALPHA))
        rates = [rejected[a] / replicates for a in ("cauchy", "mean", "max")]
        rows.append((n, d, k, *(f"{r:.3f}" for r in rates), f"{time.perf_counter() - start:.0f}"))
        print(rows[-1], flush=True)
    band = 2 * math.sqrt(ALPHA * (1 - ALPHA) / replicates)
    title = (f"Rejection rate at alpha = {ALPHA} under H0 (N(0, I)), {replicates} replicates per cell "
             f"(two binomial standard errors: {band:.3f}); mean and max with one Monte Carlo null of "
             f"max({n_resamples}, 999) replicates at N = 64 and {n_resamples} at N = 1024, shared by all "
             "replicates of a cell (the directions are fixed per cell).")
    return title + "\n\n" + rst_table(("N", "D", "K", "cauchy", "mean (MC)", "max (MC)", "seconds"), rows)


# --- speed --------------------------------------------------------------------

def _numpy_epps_pulley_loop(x, directions):
    t = np.linspace(0.0, 3.0, 17)
    trapezoid = np.full(17, 3.0 / 16)
    trapezoid[[0, -1]] /= 2
    weights, phi = 2 * trapezoid * np.exp(-t**2 / 2), np.exp(-t**2 / 2)
    values = []
    for k in range(directions.shape[1]):
        angles = np.outer(x @ directions[:, k], t)
        error = (np.cos(angles).mean(0) - phi) ** 2 + np.sin(angles).mean(0) ** 2
        values.append(len(x) * np.sum(weights * error))
    return np.asarray(values)


def _scipy_cramer_von_mises_loop(x, directions):
    projections = x @ directions
    return np.asarray([stats.cramervonmises(projections[:, k], "norm").statistic
                       for k in range(directions.shape[1])])


def speed(quick):
    rows, n, k = [], 8192, 1024
    for d in (128, 2048):
        x = np.random.default_rng(d).standard_normal((n, d))
        directions = draw_directions(d, k, seed=0)
        for test, loop in (("epps_pulley", _numpy_epps_pulley_loop),
                           ("cramer_von_mises", _scipy_cramer_von_mises_loop)):
            options = {} if test == "epps_pulley" else {"null": "standard"}
            ours = _best_time(lambda: st.sliced_test(x, test, directions=directions, **options), 1 if quick else 3)
            reference = _best_time(lambda: loop(x, directions), 1)
            check = np.max(np.abs(
                np.asarray(st.sliced_test(x, test, directions=directions, **options).slice_statistics)
                - loop(x, directions)))
            rows.append((test, n, d, k, f"{ours:.2f}", f"{reference:.2f}", f"{reference / ours:.1f}x", f"{check:.1e}"))
            print(rows[-1], flush=True)
    title = "Sliced tests on NumPy (1 CPU thread) against a per-slice loop (best of 3 / 1 runs, seconds)."
    return title + "\n\n" + rst_table(
        ("test", "N", "D", "K", "sketchtest", "per-slice loop", "speed-up", "max |diff|"), rows)


# --- Henze-Zirkler vs pingouin ------------------------------------------------------

def henze_zirkler_versus_pingouin(quick):
    try:
        import pingouin
    except ImportError:
        return "pingouin is not installed: row skipped."
    rows, n = [], 2048
    for d in (8, 64):
        x = np.random.default_rng(d).standard_t(8, size=(n, d))
        ours = _best_time(lambda: st.henze_zirkler(x), 1 if quick else 3)
        theirs = _best_time(lambda: pingouin.multivariate_normality(x), 1 if quick else 3)
        a, b = st.henze_zirkler(x), pingouin.multivariate_normality(x)
        rows.append((n, d, f"{ours:.3f}", f"{theirs:.3f}", f"{theirs / ours:.1f}x",
                     f"{abs(float(a.statistic) - b.hz) / b.hz:.1e}", f"{float(a.pvalue):.4g}", f"{b.pval:.4g}"))
        print(rows[-1], flush=True)
    return "Henze-Zirkler against pingouin.multivariate_normality (seconds).\n\n" + rst_table(
        ("N", "D", "sketchtest", "pingouin", "speed-up", "rel. diff HZ", "p (ours)", "p (pingouin)"), rows)


# --- streaming throughput ------------------------------------------------------------

def streaming(quick):
    rows = []
    for d, k in ((256, 256), (1024, 1024)):
        batch = np.random.default_rng(0).standard_normal((4096, d)).astype(np.float32)
        accumulator = st.SlicedEppsPulley(num_slices=k, seed=0)
        accumulator.update(batch)  # draws the directions
        batches = 2 if quick else 8
        start = time.perf_counter()
        for _ in range(batches):
            accumulator.update(batch)
        rate = batches * len(batch) / (time.perf_counter() - start)
        rows.append((d, k, len(batch), f"{rate:,.0f}"))
        print(rows[-1], flush=True)
    return ("Streaming sliced Epps-Pulley on NumPy (float32 batches, float64 sums, 1 CPU thread).\n\n"
            + rst_table(("D", "K", "batch", "embeddings / s"), rows))


# --- power --------------------------------------------------------------------

def _alternatives():
    def standardized_exponential(rng, shape):
        return rng.exponential(size=shape) - 1.0

    def student(rng, shape):
        return rng.standard_t(5, size=shape) / math.sqrt(5 / 3)

    def one_skewed_axis(rng, shape):  # Gaussian except one coordinate
        x = rng.standard_normal(shape)
        x[..., 0] = rng.exponential(size=shape[:-1]) - 1.0
        return x

    def anisotropic(rng, shape):  # Gaussian, covariance diag(1.5, ..., 0.5): not N(0, I)
        return rng.standard_normal(shape) * np.linspace(1.5, 0.5, shape[-1])

    def gaussian_mixture(rng, shape):  # two clusters along a random axis
        x = rng.standard_normal(shape)
        axis = rng.standard_normal(shape[-1])
        axis /= np.linalg.norm(axis)
        signs = rng.choice([-1.0, 1.0], size=shape[:-1])[..., None]
        return (x + 1.5 * signs * axis) / np.sqrt(1 + 1.5**2 * axis**2)

    return {"exponential (iid)": standardized_exponential, "t(5) (iid)": student,
            "one exponential axis": one_skewed_axis, "anisotropic Gaussian": anisotropic,
            "2-cluster mixture": gaussian_mixture, "N(0, I) (size)": lambda rng, s: rng.standard_normal(s)}


def power(replicates, quick):
    rows, n = [], 1024
    for d in ((8, 64) if quick else (8, 64, 512)):
        directions = draw_directions(d, 256, seed=0)
        for name, draw in _alternatives().items():
            rng = np.random.default_rng(d)
            counts = np.zeros(4)
            per_batch = max(1, (1 << 23) // (n * d))
            for first in range(0, replicates, per_batch):
                x = draw(rng, (min(per_batch, replicates - first), n, d))
                for column, pvalue in enumerate((
                    st.sliced_test(x, directions=directions).pvalue,
                    st.sliced_test(x, directions=directions, null="normal").pvalue,
                    st.henze_zirkler(x).pvalue,
                    st.mardia(x).pvalue,
                )):
                    counts[column] += np.sum(np.asarray(pvalue) <= ALPHA)
            rows.append((d, name, *(f"{c / replicates:.2f}" for c in counts)))
            print(rows[-1], flush=True)
    title = (f"Rejection rate at alpha = {ALPHA}, N = {n}, {replicates} replicates; sliced Epps-Pulley "
             "with K = 256 and the Cauchy combination, tests N(0, I) (standard) or any Gaussian per slice "
             "(normal); Henze-Zirkler and Mardia test any Gaussian.")
    return title + "\n\n" + rst_table(
        ("D", "alternative", "sliced EP (standard)", "sliced EP (normal)", "Henze-Zirkler", "Mardia"), rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag in ("size", "speed", "hz", "stream", "power", "all", "quick"):
        parser.add_argument(f"--{flag}", action="store_true")
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--n-resamples", type=int, default=199)
    parser.add_argument("--power-replicates", type=int, default=50)
    args = parser.parse_args()
    sections = []
    if args.size or args.all:
        sections.append(size_grid(args.replicates, args.n_resamples, args.quick))
    if args.speed or args.all:
        sections.append(speed(args.quick))
    if args.hz or args.all:
        sections.append(henze_zirkler_versus_pingouin(args.quick))
    if args.stream or args.all:
        sections.append(streaming(args.quick))
    if args.power or args.all:
        sections.append(power(args.power_replicates, args.quick))
    print("\n\n".join(sections))


if __name__ == "__main__":
    main()
