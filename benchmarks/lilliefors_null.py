"""Simulate the Lilliefors null and fit the table of :mod:`sketchtest._nulls.lilliefors_table`.

The statistic is the Kolmogorov-Smirnov distance D between the EDF of the
standardized sample (mean and ``ddof=1`` standard deviation estimated) and
Phi, as ``st.kolmogorov_smirnov(x, null="normal")`` computes it. Each
replicate is a seeded N(0, 1) sample of size n; ``s = sqrt(n) D`` is binned
every ``STEP`` (0.002) on [0, 3), and the bin counts are written to an
``.npz`` file (``n``, ``replicates``, ``counts``):

- ``simulate fit``: the fitting sample, ``numpy.random.default_rng(SeedSequence([22, n]))``;
- ``simulate check``: an independent sample for the accuracy check,
  ``default_rng(SeedSequence([2022, n]))``.

Samples are drawn and sorted in float32 (the statistic's rounding, below
1e-6 relative, moves p by less than 2e-5 relative, well below the Monte
Carlo error). ``fit`` turns the fitting counts into the generated module
(see :func:`fit` for the model); ``check`` prints the largest error of the
module's p-value against the independent sample.

Usage (2-core x86_64 VM shared with other jobs, OMP_NUM_THREADS=1: about 18 minutes per
simulate-fit process, 2 minutes for the check sample, seconds for the rest)::

    python benchmarks/lilliefors_null.py simulate fit 0 2 benchmarks/data/lilliefors_fit_0.npz
    python benchmarks/lilliefors_null.py simulate fit 1 2 benchmarks/data/lilliefors_fit_1.npz
    python benchmarks/lilliefors_null.py fit benchmarks/data/lilliefors_fit_*.npz
    python benchmarks/lilliefors_null.py simulate check 0 1 benchmarks/data/lilliefors_check.npz
    python benchmarks/lilliefors_null.py check benchmarks/data/lilliefors_check.npz
    python benchmarks/lilliefors_null.py holdout benchmarks/data/lilliefors_fit_*.npz

The results are tabled in docs/benchmarks/calibration.rst ("The Lilliefors null").
"""

from __future__ import annotations

import sys

import numpy as np
from scipy.special import ndtr

STEP = 0.002
BINS = 1500  # s in [0, 3)
SMALL = tuple(range(4, 17))
MIDDLE = (18, 20, 22, 25, 30, 35, 40, 50, 60, 70, 80, 100)
LARGE = (120, 150, 200, 300, 500, 1000, 2000, 5000)
#: replicates per n in the fitting sample
FIT_REPLICATES = {**{n: 50_000_000 for n in SMALL}, **{n: 5_000_000 for n in MIDDLE},
                  **{n: 400_000 for n in LARGE}}
#: replicates per n in the independent check
CHECK_REPLICATES = {7: 4_000_000, 10: 4_000_000, 25: 2_000_000, 50: 1_000_000, 100: 1_000_000,
                    300: 300_000, 1000: 200_000}
SEED_ROOT = {"fit": 22, "check": 2022}


def lilliefors_statistics(n: int, count: int, rng) -> np.ndarray:
    """``sqrt(n) D`` of `count` seeded N(0, 1) samples of size n (float32 draws, float64 result)."""
    x = rng.standard_normal((count, n), dtype=np.float32)
    x.sort(axis=1)
    x -= x.mean(axis=1, keepdims=True)
    x /= np.sqrt((x * x).sum(axis=1, keepdims=True) / np.float32(n - 1))
    u = ndtr(x)
    ranks = np.arange(1, n + 1, dtype=np.float32)
    d = np.maximum((ranks / n - u).max(axis=1), (u - (ranks - 1) / n).max(axis=1))
    return np.sqrt(n) * d.astype(np.float64)


def simulate(kind: str, part: int, parts: int, path: str) -> None:
    """Bin counts of the sizes ``sizes[part::parts]`` (largest first) into `path`."""
    replicates = FIT_REPLICATES if kind == "fit" else CHECK_REPLICATES
    sizes = sorted(replicates, key=lambda n: -n * replicates[n])[part::parts]
    counts = np.zeros((len(sizes), BINS), dtype=np.int64)
    for row, n in enumerate(sizes):
        rng = np.random.default_rng(np.random.SeedSequence([SEED_ROOT[kind], n]))
        batch = max(1, 4_000_000 // n)
        for start in range(0, replicates[n], batch):
            s = lilliefors_statistics(n, min(batch, replicates[n] - start), rng)
            counts[row] += np.bincount(np.minimum((s / STEP).astype(np.int64), BINS - 1), minlength=BINS)
        print(f"n={n} done", flush=True)
        np.savez_compressed(path, n=np.asarray(sizes[:row + 1]), counts=counts[:row + 1],
                            replicates=np.asarray([replicates[m] for m in sizes[:row + 1]]))


def load(paths) -> tuple:
    """``(n, replicates, counts)`` of one or more simulate outputs, sorted by n."""
    parts = [np.load(path) for path in paths]
    n = np.concatenate([part["n"] for part in parts])
    order = np.argsort(n)
    replicates = np.concatenate([part["replicates"] for part in parts])[order]
    counts = np.concatenate([part["counts"] for part in parts])[order]
    return n[order], replicates, counts


def survival(replicates, counts) -> np.ndarray:
    """Exceedance counts ``#(s >= j STEP)`` of each row (suffix sums of the bins)."""
    return np.cumsum(counts[:, ::-1], axis=1)[:, ::-1]



# ---------------------------------------------------------------------------
# The fit: per-n tables for n <= RAW_UP_TO, a model in 1/sqrt(n) above.
# ---------------------------------------------------------------------------

RAW_UP_TO = 16       # n up to this keep their own simulated table
MODEL_FROM = 17      # the model is fitted on the sizes from this n on (n = 12 to 16 with 3 terms: chi2/dof up to 8)
MODEL_TERMS = 3      # log p = c0 + c1 / sqrt(n) + c2 / n
RAW_MIN_COUNT = 400  # a node of a simulated table (n <= 16) is kept while this many exceed it
MIN_COUNT = 400      # a size enters the model's fit at a node while this many exceed it
MIN_SIZES = 8        # a model node is kept while this many sizes, up to n >= MODEL_SPAN, qualify
MODEL_SPAN = 100


def log_survival(replicates, counts):
    """``(log p, variance of log p, exceedance count)`` at every node of every row."""
    exceed = survival(replicates, counts).astype(np.float64)
    p = exceed / replicates[:, None]
    with np.errstate(divide="ignore"):
        log_p = np.log(p)
    variance = (1.0 - p) / np.maximum(exceed, 1.0) + 1.0 / replicates[:, None] ** 2
    return log_p, variance, exceed


def raw_table(log_p, exceed, min_count=RAW_MIN_COUNT):
    """``(start, values)``: the nodes of one size from the first below p = 1 to the last kept."""
    kept = np.flatnonzero(exceed >= min_count)
    start = int(np.flatnonzero(log_p < 0.0)[0])
    end = int(kept[-1]) + 1
    return start, log_p[start:end]


def model_table(sizes, log_p, variance, exceed, min_count=MIN_COUNT):
    """``(start, coefficients)``: weighted least squares per node over the sizes >= MODEL_FROM."""
    rows = sizes >= MODEL_FROM
    design = np.stack([sizes[rows] ** (-k / 2.0) for k in range(MODEL_TERMS)], axis=1)
    coefficients = []
    start = int(np.flatnonzero((log_p[rows] < 0.0).any(axis=0))[0])
    for node in range(start, BINS):
        usable = exceed[rows, node] >= min_count
        if usable.sum() < MIN_SIZES or sizes[rows][usable].max() < MODEL_SPAN:
            break
        weight = 1.0 / np.sqrt(variance[rows, node][usable])
        solution, *_ = np.linalg.lstsq(design[usable] * weight[:, None], log_p[rows, node][usable] * weight,
                                       rcond=None)
        coefficients.append(solution)
    return start, np.asarray(coefficients).T


def fit(paths, out="sketchtest/_nulls/lilliefors_table.py"):
    """Write the generated module from the fitting counts; print the model's residuals per size."""
    sizes, replicates, counts = load(paths)
    log_p, variance, exceed = log_survival(replicates, counts)
    start, coefficients = model_table(sizes, log_p, variance, exceed)
    for row, n in enumerate(sizes):
        if n < MODEL_FROM:
            continue
        model = sum(c * n ** (-k / 2.0) for k, c in enumerate(coefficients))
        nodes = slice(start, start + model.size)
        usable = exceed[row, nodes] >= MIN_COUNT
        z = (model - log_p[row, nodes])[usable] / np.sqrt(variance[row, nodes][usable])
        p_error = np.abs(np.exp(model) - np.exp(log_p[row, nodes]))[usable]
        print(f"n={n:5d} residual chi2/dof={np.mean(z * z):.2f} max|z|={np.max(np.abs(z)):.1f} "
              f"max|dp|={p_error.max():.2e}", flush=True)
    lines = ['"""Generated by ``python benchmarks/lilliefors_null.py fit ...``: do not edit.',
             "",
             "The Lilliefors null of :mod:`sketchtest._nulls.lilliefors`, from "
             f"{int(replicates.sum()):,} simulated samples",
             "(``numpy.random.default_rng(SeedSequence([22, n]))``, n = "
             f"{', '.join(str(int(n)) for n in sizes)}).",
             '"""', "",
             f"STEP = {STEP!r}  # node spacing in s = sqrt(n) D; node j is s = j * STEP",
             f"NODES = {BINS}",
             f"MODEL_FROM = {RAW_UP_TO + 1}  # sizes from here use MODEL, below RAW",
             "",
             "#: n -> (first node below p = 1, log p at the nodes from there; simulated)",
             "RAW = {"]
    for row, n in enumerate(sizes):
        if n <= RAW_UP_TO:
            first, values = raw_table(log_p[row], exceed[row])
            lines.append(f"    {int(n)}: ({first}, ({', '.join(f'{v:.7g}' for v in values)},)),")
    lines += ["}", "",
              "#: (first node, coefficients c_k at the nodes from there): log p = sum_k c_k n^(-k/2)",
              f"MODEL = ({start}, ("]
    for row in coefficients:
        lines.append(f"    ({', '.join(f'{v:.9g}' for v in row)},),")
    lines += ["))"]
    with open(out, "w") as file:
        file.write("\n".join(lines) + "\n")


def check(paths) -> None:
    """Largest errors of the package's p-value against independent counts, per n and dtype.

    At every node s_j with at least 100 samples on either side: the absolute error, in
    binomial standard errors, over the body (p >= 0.01) and the tail; the
    relative error in the tail (p < 0.01).
    """
    from sketchtest._nulls.lilliefors import lilliefors_sf

    sizes, replicates, counts = load(paths)
    exceed = survival(replicates, counts)
    for row, n in enumerate(sizes):
        nodes = np.flatnonzero((exceed[row] >= 100) & (exceed[row] <= replicates[row] - 100))
        simulated = exceed[row, nodes] / replicates[row]
        standard_error = np.sqrt(simulated * (1.0 - simulated) / replicates[row])
        d = nodes * STEP / np.sqrt(n)
        for name, pvalue in (("float64", lambda d: lilliefors_sf(d, int(n), xp=np)),
                             ("float32", lambda d: lilliefors_sf(d.astype(np.float32), int(n), xp=np)),
                             ("nortest", lambda d: nortest_pvalue(d, int(n)))):
            p = np.asarray(pvalue(d), dtype=np.float64)
            body, tail = simulated >= 0.01, simulated < 0.01
            error = np.abs(p - simulated)
            z = error / np.maximum(standard_error, 1e-300)
            print(f"n={n:5d} {name:7s} replicates={replicates[row]:.0e}  "
                  f"body max|dp|={error[body].max():.2e} ({z[body].max():.1f} se)  "
                  f"tail max|dp|/p={np.max(error[tail] / simulated[tail]):.3f} ({z[tail].max():.1f} se, "
                  f"down to p={simulated.min():.1e})", flush=True)


def nortest_pvalue(d, n: int):
    """R nortest 1.0.4 ``lillie.test``'s p-value of D (Dallal-Wilkinson, Stephens' quartics), for comparison."""
    d = np.asarray(d, dtype=np.float64)
    kd, nd = (d * (n / 100.0) ** 0.49, 100) if n > 100 else (d, n)
    p = np.exp(-7.01256 * kd**2 * (nd + 2.78019) + 2.99587 * kd * np.sqrt(nd + 2.78019)
               - 0.122119 + 0.974598 / np.sqrt(nd) + 1.67997 / nd)
    kk = (np.sqrt(n) - 0.01 + 0.85 / np.sqrt(n)) * d
    upper = np.select(
        [kk <= 0.302, kk <= 0.5, kk <= 0.9, kk <= 1.31],
        [1.0, 2.76773 - 19.828315 * kk + 80.709644 * kk**2 - 138.55152 * kk**3 + 81.218052 * kk**4,
         -4.901232 + 40.662806 * kk - 97.490286 * kk**2 + 94.029866 * kk**3 - 32.355711 * kk**4,
         6.198765 - 19.558097 * kk + 23.186922 * kk**2 - 12.234627 * kk**3 + 2.423045 * kk**4], 0.0)
    return np.where(p > 0.1, upper, p)


def holdout(paths, raw_min_count=400, min_count=1000) -> None:
    """The tail form tested on simulated counts it was not fitted to.

    Tables are built as :func:`fit` does but cut early (a node kept while
    `raw_min_count`, for the model `min_count`, samples exceed it), the tail
    form of :func:`sketchtest._nulls.lilliefors._tail_form` is fitted to them,
    and its values beyond the cut are compared with each size's own
    simulated counts where at least 25 samples exceed: the largest relative
    error, and in Poisson standard errors.
    """
    from sketchtest._nulls.lilliefors import _tail_form

    sizes, replicates, counts = load(paths)
    log_p, variance, exceed = log_survival(replicates, counts)
    start, coefficients = model_table(sizes, log_p, variance, exceed, min_count)
    for row, n in enumerate(sizes):
        if n <= RAW_UP_TO:
            first, values = raw_table(log_p[row], exceed[row], raw_min_count)
        else:
            first, values = start, sum(c * n ** (-k / 2.0) for k, c in enumerate(coefficients))
        table = np.minimum.accumulate(np.concatenate([np.zeros(first), np.minimum(values, 0.0)]))
        a, b, c = _tail_form(table, int(n))
        end = STEP * (table.size - 1)
        nodes = np.flatnonzero((np.arange(BINS) * STEP > end) & (exceed[row] >= 25))
        if nodes.size == 0:
            continue
        s = nodes * STEP
        simulated = exceed[row, nodes] / replicates[row]
        relative = np.abs(np.exp(np.minimum(a + s * (b + c * s), table[-1])) / simulated - 1.0)
        z = relative * np.sqrt(exceed[row, nodes])
        print(f"n={n:5d} cut at s={end:.3f} (p={np.exp(table[-1]):.1e}): simulated p down to "
              f"{simulated.min():.1e}, max relative error {relative.max():.3f} ({z[np.argmax(relative)]:.1f} se)",
              flush=True)


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    if command == "simulate":
        simulate(arguments[0], int(arguments[1]), int(arguments[2]), arguments[3])
    elif command == "fit":
        fit(arguments)
    elif command == "check":
        check(arguments)
    elif command == "holdout":
        holdout(arguments)
