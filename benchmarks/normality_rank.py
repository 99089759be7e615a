"""Eigenvalue ratios lambda_min / lambda_max of collapsed and of full-rank data, per dtype.

Collapsed: N(0, I_k) times a Gaussian k x D matrix, rounded to float32 or
bfloat16 after a float64 product ("cast"), or computed in the dtype ("mm",
torch for bfloat16); the largest ratio over three draws. Full rank: N(0, I_D)
at N = D + 1, D + 2, D + 4, 2D; the smallest and the median ratio. Ratios are
of the covariance of the centred data, in float64. These are the numbers
behind the rank threshold of ``normality_test`` (``normality_spectrum``).

Run: ``OMP_NUM_THREADS=1 python benchmarks/normality_rank.py`` (needs torch).
"""

import numpy as np
import torch


def ratio(values):
    """lambda_min / lambda_max of the covariance of `values` (float64)."""
    centred = values - values.mean(axis=0)
    centred /= np.abs(centred).max()
    eigenvalues = np.linalg.eigvalsh(centred.T @ centred / len(centred))
    return eigenvalues[0] / eigenvalues[-1]


def collapsed_versions(z, w):
    """The rank-k product z @ w as each dtype would hold it (values as float64 for `ratio`)."""
    return {
        "f32cast": (z @ w).astype(np.float32).astype(np.float64),
        "f32mm": (z.astype(np.float32) @ w.astype(np.float32)).astype(np.float64),
        "bf16mm": (torch.tensor(z, dtype=torch.bfloat16) @ torch.tensor(w, dtype=torch.bfloat16)).double().numpy(),
        "bf16cast": torch.tensor(z @ w).bfloat16().double().numpy(),
        "f64": z @ w,
    }


def main():
    rng = np.random.default_rng(0)
    for dim in (8, 32, 128, 512):
        for rank in (1, dim // 2, dim - 1):
            worst = {}
            for _ in range(3):
                z, w = rng.standard_normal((max(2 * dim, 200), rank)), rng.standard_normal((rank, dim))
                for name, values in collapsed_versions(z, w).items():
                    worst[name] = max(worst.get(name, 0.0), ratio(values))
            print(dim, rank, {name: f"{value:.2e}" for name, value in worst.items()})
        for n in (dim + 1, dim + 2, dim + 4, 2 * dim):
            ratios = [ratio(rng.standard_normal((n, dim))) for _ in range(200 if dim < 128 else 20)]
            print(dim, "full rank N =", n, f"min ratio {min(ratios):.2e}", f"median {np.median(ratios):.2e}")


if __name__ == "__main__":
    main()
