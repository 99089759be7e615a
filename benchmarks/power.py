"""Power study: rejection rates at alpha = 0.05 against common alternatives.

Every sketchtest test (both nulls where offered) side by side with SciPy's
normality tests, at n = 50 and 500, over seeded replicates laid along a batch
axis. Non-normal alternatives are standardized to mean 0 and variance 1 with
their population moments, so the standard-null tests see shape, not scale;
N(0, 1.3^2) and N(0.3, 1) probe the standard null's scale and location.

Run: ``OMP_NUM_THREADS=1 python benchmarks/power.py [--replicates 1000] [--rst FILE]``.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import scipy.stats as stats

import sketchtest as st

ALPHA = 0.05


def _standardized(draws, mean, variance):
    return (draws - mean) / math.sqrt(variance)


def _mixture(rng, shape):
    # 0.5 N(-1, 0.5^2) + 0.5 N(1, 0.5^2): mean 0, variance 1.25
    signs = rng.choice([-1.0, 1.0], size=shape)
    return _standardized(signs + 0.5 * rng.standard_normal(shape), 0.0, 1.25)


ALTERNATIVES = {
    "t(3)": lambda rng, s: _standardized(rng.standard_t(3, s), 0.0, 3.0),
    "t(10)": lambda rng, s: _standardized(rng.standard_t(10, s), 0.0, 10 / 8),
    "Laplace": lambda rng, s: _standardized(rng.laplace(0.0, 1.0, s), 0.0, 2.0),
    "uniform": lambda rng, s: _standardized(rng.uniform(0.0, 1.0, s), 0.5, 1 / 12),
    "lognormal(0.5)": lambda rng, s: _standardized(
        rng.lognormal(0.0, 0.5, s), math.exp(0.125), (math.exp(0.25) - 1) * math.exp(0.25)
    ),
    "mixture": _mixture,
    "N(0, 1.3^2)": lambda rng, s: 1.3 * rng.standard_normal(s),
    "N(0.3, 1)": lambda rng, s: 0.3 + rng.standard_normal(s),
}


def _ours():
    tests = {}
    for name in ("epps_pulley", "cramer_von_mises", "anderson_darling", "watson", "kolmogorov_smirnov", "jarque_bera"):
        for null in ("standard", "normal"):
            function = getattr(st, name)
            tests[f"{name} ({null})"] = lambda x, f=function, null=null: f(x, axis=-1, null=null).pvalue
    tests["shapiro_wilk"] = lambda x: st.shapiro_wilk(x, axis=-1).pvalue
    tests["shapiro_francia"] = lambda x: st.shapiro_francia(x, axis=-1).pvalue
    return tests


def _anderson_rejects(x):
    # SciPy reports critical values, not p-values: reject where A^2 exceeds the 5% critical value.
    return np.array([(lambda r: r.statistic > r.critical_values[2])(stats.anderson(row, "norm")) for row in x])


SCIPY = {
    "scipy shapiro": lambda x: stats.shapiro(x, axis=-1).pvalue <= ALPHA,
    "scipy normaltest": lambda x: stats.normaltest(x, axis=-1).pvalue <= ALPHA,
    "scipy jarque_bera": lambda x: stats.jarque_bera(x, axis=-1).pvalue <= ALPHA,
    "scipy kstest (N(0,1))": lambda x: stats.kstest(x, "norm", axis=-1).pvalue <= ALPHA,
    "scipy cramervonmises (N(0,1))": lambda x: stats.cramervonmises(x, stats.norm.cdf, axis=-1).pvalue <= ALPHA,
    "scipy anderson (5% table)": _anderson_rejects,
}


def power_table(replicates: int, sizes=(50, 500), seed: int = 0):
    """Rejection rates ``{(test, alternative, n): rate}`` at alpha = 0.05."""
    rates = {}
    ours = _ours()
    for n in sizes:
        for index, (alternative, draw) in enumerate(ALTERNATIVES.items()):
            data = draw(np.random.default_rng([seed, n, index]), (replicates, n))
            for name, pvalue in ours.items():
                rates[(name, alternative, n)] = float(np.mean(np.asarray(pvalue(data)) <= ALPHA))
            for name, rejects in SCIPY.items():
                rates[(name, alternative, n)] = float(np.mean(rejects(data)))
    return rates


def _format(rates, sizes, as_rst: bool):
    tests = list(dict.fromkeys(key[0] for key in rates))
    header = ["test"] + [f"{a} n={n}" for n in sizes for a in ALTERNATIVES]
    rows = [[t] + [f"{rates[(t, a, n)]:.2f}" for n in sizes for a in ALTERNATIVES] for t in tests]
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths))
    rule = "  ".join("=" * w for w in widths)
    body = [line(r) for r in rows]
    return "\n".join([rule, line(header), rule, *body, rule] if as_rst else [line(header), *body])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--rst", help="also write the table as reStructuredText to this file")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    sizes = (50, 500)
    rates = power_table(args.replicates, sizes)
    print(f"Rejection rates at alpha={ALPHA}, {args.replicates} replicates per cell "
          f"({time.perf_counter() - start:.0f} s)")
    print(_format(rates, sizes, as_rst=False))
    if args.rst:
        with open(args.rst, "w") as handle:
            handle.write(_format(rates, sizes, as_rst=True) + "\n")


if __name__ == "__main__":
    main()
