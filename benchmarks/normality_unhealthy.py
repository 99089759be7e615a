"""normality_test on four embeddings, healthy and not: p per component, combined p, time.

N = 2000, D = 32, float32 (NumPy): a rank-4 cloud (N(0, I_4) times a
Gaussian 4 x 32 matrix), N(0, I) + 1000, N(0, I) x 1e4, and N(0, I); under
both nulls, 128 slices, ``seed=0``. The time is that of the second call (the
first pays the null tables once per process).

Run: ``OMP_NUM_THREADS=1 python benchmarks/normality_unhealthy.py``.
"""

from __future__ import annotations

import time

import numpy as np

import sketchtest as st
from _tables import rst_table  # benchmarks/, on the path when a script here runs

N, D = 2000, 32


def embeddings():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((N, D))
    return {
        "rank 4 of 32": (rng.standard_normal((N, 4)) @ rng.standard_normal((4, D))).astype(np.float32),
        "N(0, I) + 1000": (z + 1000.0).astype(np.float32),
        "N(0, I) x 1e4": (z * 1e4).astype(np.float32),
        "N(0, I)": z.astype(np.float32),
    }


def main():
    names = ["random_slices", "principal_axes", "coordinates", "skewness", "kurtosis", "covariance", "mean",
             "rank", "within_subspace"]
    rows = []
    for label, x in embeddings().items():
        for null in ("standard", "normal"):
            st.normality_test(x, null=null, seed=0)
            start = time.perf_counter()
            result = st.normality_test(x, null=null, seed=0)
            elapsed = time.perf_counter() - start
            parts = [f"{float(result.components[name].pvalue):.2g}" if name in result.components else "-"
                     for name in names]
            rows.append([label, null, f"{float(result.pvalue):.3g}", *parts, f"{elapsed:.3f}"])
            print(rows[-1], flush=True)
            if "rank" in result.components and label.startswith("rank"):
                extras = result.components["rank"].extras
                print("   rank", int(extras["rank"]), "effective rank", round(float(extras["effective_rank"]), 2))
    print(rst_table(["data", "null", "p", *names, "time (s)"], rows))


if __name__ == "__main__":
    main()
