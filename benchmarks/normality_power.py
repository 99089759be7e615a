"""Power of `normality_test` against each of its components alone, Henze-Zirkler and Mardia.

Rejection rates at alpha = 0.05 over D in {8, 64, 512} and N in {512, 4096}
for the alternatives of issue 12 (every coordinate scaled to mean 0 and
variance 1 where that makes sense, so the tests must see the shape, not the
scale), and the time of one `normality_test` at N = 4096, D = 512 against one
sliced Epps-Pulley test (`sliced_test` defaults: 256 slices, Cauchy).

Henze-Zirkler uses its Monte Carlo null (`n_resamples` below) and, with
Mardia, runs only where N > D and its O(N^2 D) cost fits (see `_affordable`).
pingouin is used when it is installed (this script never installs it).

Usage::

    python benchmarks/normality_power.py --quick            # minutes on one core
    python benchmarks/normality_power.py --replicates 200   # the full table
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import sketchtest as st

ALPHA = 0.05
DIMENSIONS = (8, 64, 512)
SIZES = (512, 4096)
COMPONENTS = ("random_slices", "principal_axes", "coordinates", "skewness", "kurtosis", "covariance", "mean")


def _unit_axis(rng, dim):
    axis = rng.standard_normal(dim)
    return axis / np.linalg.norm(axis)


def two_clusters(rng, shape, separation=1.25):
    """N(0, I) shifted by +-separation along a random axis: two clusters, the top principal axis."""
    replicates, n, dim = shape
    signs = rng.choice([-1.0, 1.0], size=(replicates, n, 1))
    return rng.standard_normal(shape) + separation * signs * _unit_axis(rng, dim)


def relu_features(rng, shape):
    """ReLU of Gaussian features (through a random rotation), standardized."""
    dim = shape[-1]
    rotation, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    g = np.maximum(rng.standard_normal(shape) @ rotation, 0.0)
    return (g - 1.0 / math.sqrt(2.0 * math.pi)) / math.sqrt(0.5 - 1.0 / (2.0 * math.pi))


def low_rank(rng, shape):
    """A rank-D/8 Gaussian cloud (unit variance on its span) plus 0.1 isotropic noise."""
    dim = shape[-1]
    rank = max(1, dim // 8)
    basis, _ = np.linalg.qr(rng.standard_normal((dim, rank)))
    return rng.standard_normal((*shape[:-1], rank)) @ basis.T + 0.1 * rng.standard_normal(shape)


def one_skewed(rng, shape):
    x = rng.standard_normal(shape)
    x[..., 0] = rng.exponential(size=shape[:-1]) - 1.0
    return x


ALTERNATIVES = {
    "N(0, I) (size)": lambda rng, shape: rng.standard_normal(shape),
    "uniform": lambda rng, shape: rng.uniform(-math.sqrt(3.0), math.sqrt(3.0), size=shape),
    "t(5)": lambda rng, shape: rng.standard_t(5, size=shape) * math.sqrt(3.0 / 5.0),
    "exponential": lambda rng, shape: rng.exponential(size=shape) - 1.0,
    "Laplace": lambda rng, shape: rng.laplace(scale=1.0 / math.sqrt(2.0), size=shape),
    "one skewed coordinate": one_skewed,
    "two clusters": two_clusters,
    "anisotropic Gaussian": lambda rng, shape: rng.standard_normal(shape) * np.exp(
        rng.uniform(math.log(0.5) / 2, math.log(2.0) / 2, size=shape[-1])),
    "ReLU features": relu_features,
    "low-rank cloud": low_rank,
}


def _affordable(n, dim, budget):
    """Henze-Zirkler (Monte Carlo) and Mardia: O(N^2 D) pairwise sums, and N > D."""
    return n > dim + 1 and n * n * dim <= budget


def _pingouin():
    try:
        import pingouin
    except ImportError:
        return None
    return pingouin


def power_row(alternative, n, dim, *, replicates, null, hz_resamples, budget, seed):
    """Rejection rates of every method on `replicates` samples of one alternative."""
    rng = np.random.default_rng(seed)
    rejections: dict = {}
    chunk = max(1, (1 << 23) // (n * dim))
    for start in range(0, replicates, chunk):
        x = ALTERNATIVES[alternative](rng, (min(chunk, replicates - start), n, dim))
        result = st.normality_test(x, null=null, seed=seed + start)
        rejections.setdefault("normality_test", []).append(np.asarray(result.pvalue) <= ALPHA)
        for name, part in result.components.items():
            rejections.setdefault(name, []).append(np.asarray(part.pvalue) <= ALPHA)
        if _affordable(n, dim, budget / 10):  # the Monte Carlo null costs n_resamples statistics
            hz = st.henze_zirkler(x, method="monte_carlo", n_resamples=hz_resamples, seed=0)
            rejections.setdefault("henze_zirkler", []).append(np.asarray(hz.pvalue) <= ALPHA)
        if _affordable(n, dim, budget):
            rejections.setdefault("mardia", []).append(np.asarray(st.mardia(x).pvalue) <= ALPHA)
            pingouin = _pingouin()
            if pingouin is not None:
                pvalues = [pingouin.multivariate_normality(sample, alpha=ALPHA).pval for sample in x]
                rejections.setdefault("pingouin", []).append(np.asarray(pvalues) <= ALPHA)
    return {name: float(np.mean(np.concatenate(parts))) for name, parts in rejections.items()}


def timing_ratio(n=4096, dim=512, repeats=3):
    """Median seconds of normality_test (both nulls, warm caches) and of one sliced_test."""
    x = np.random.default_rng(0).standard_normal((n, dim))
    functions = {
        "sliced_test": lambda: st.sliced_test(x, seed=0),
        "normality_test standard": lambda: st.normality_test(x, seed=0),
        "normality_test normal": lambda: st.normality_test(x, null="normal", seed=0),
    }
    seconds = {}
    for name, function in functions.items():
        function()  # warm: null tables and the composite skewness simulation are cached
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            function()
            times.append(time.perf_counter() - start)
        seconds[name] = float(np.median(times))
    return seconds


def csv_table(rows, methods):
    """The rows as the body of an RST ``csv-table``."""
    lines = ['   :header: "alternative", "N", "D", ' + ", ".join(f'"{m}"' for m in methods), ""]
    for (alternative, n, dim, replicates), rates in rows:
        cells = [f"{rates[m]:.2f}" if m in rates else "--" for m in methods]
        lines.append(f'   "{alternative}", {n}, {dim}, ' + ", ".join(cells))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few replicates: minutes on one core")
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--null", choices=("standard", "normal"), default="standard")
    parser.add_argument("--hz-resamples", type=int, default=199)
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--hz-budget", type=float, default=None,
                        help="run Henze-Zirkler and Mardia only where N^2 D is at most this (default: 2e11, "
                             "2e9 with --quick)")
    parser.add_argument("--dims", type=int, nargs="+", default=list(DIMENSIONS))
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    args = parser.parse_args(argv)
    budget = args.hz_budget if args.hz_budget is not None else (2e9 if args.quick else 2e11)
    rows = []
    for dim in args.dims:
        for n in args.sizes:
            if args.null == "normal" and n < dim + 2:
                continue
            small = n * dim <= 32768
            replicates = (20 if small else 10) if args.quick else args.replicates
            for alternative in ALTERNATIVES:
                started = time.perf_counter()
                rates = power_row(alternative, n, dim, replicates=replicates, null=args.null,
                                  hz_resamples=49 if args.quick else args.hz_resamples, budget=budget, seed=dim + n)
                rows.append(((alternative, n, dim, replicates), rates))
                print(f"{alternative:>22} N={n:5d} D={dim:4d} R={replicates:4d} "
                      f"{time.perf_counter() - started:6.1f}s  "
                      + " ".join(f"{k}={v:.2f}" for k, v in rates.items()), flush=True)
    methods = ["normality_test", *[c for c in COMPONENTS if any(c in r for _, r in rows)],
               *[m for m in ("henze_zirkler", "mardia", "pingouin") if any(m in r for _, r in rows)]]
    print(f"\n.. csv-table:: Rejection rate at alpha = {ALPHA}, null={args.null!r}\n" + csv_table(rows, methods))
    if not args.no_timing:
        seconds = timing_ratio()
        base = seconds["sliced_test"]
        print("\nN = 4096, D = 512: " + ", ".join(
            f"{name} {value:.2f} s ({value / base:.1f}x)" for name, value in seconds.items()))


if __name__ == "__main__":
    main()
