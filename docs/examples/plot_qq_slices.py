"""
Q-Q plots of slices
===================

A sliced test projects D-dimensional samples on random unit directions and
tests every projection for :math:`N(0, 1)`. The slices with the smallest
p-values show *where* the data depart from :math:`N(0, I)`; a Q-Q plot of
each (sorted projections against normal quantiles) shows *how*.

Here 2000 points in dimension 8 are Gaussian except along one hidden
direction, where they form two clusters.
"""

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import norm

import sketchtest as st

rng = np.random.default_rng(0)
n, d = 2000, 8
latent = rng.standard_normal((n, d))
latent[:, 0] = rng.choice([-1.0, 1.0], size=n) * 1.0 + 0.3 * rng.standard_normal(n)
rotation, _ = np.linalg.qr(rng.standard_normal((d, d)))
x = latent @ rotation.T          # the bimodal direction is rotation[:, 0]

result = st.sliced_test(x, test="epps_pulley", num_slices=128, seed=1)
print(f"aggregate p-value: {float(result.pvalue):.3g}")

slice_pvalues = np.asarray(result.slice_pvalues)
directions = np.asarray(result.directions)
order = np.argsort(slice_pvalues)
hidden = rotation[:, 0]

# %%
# The worst slices line up with the hidden direction (absolute cosine near 1); the
# best slices are nearly orthogonal to it and look Gaussian.

fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), layout="constrained")
for ax, k, label in zip(axes, [order[0], order[1], order[-1]], ["worst", "second worst", "best"]):
    values = np.sort(x @ directions[:, k])
    quantiles = norm.ppf((np.arange(1, n + 1) - 0.5) / n)
    ax.plot(quantiles, values, ".", markersize=2)
    ax.plot([-3.5, 3.5], [-3.5, 3.5], "k--", linewidth=1)
    cosine = abs(float(directions[:, k] @ hidden))
    ax.set_title(f"{label} slice: p = {slice_pvalues[k]:.2g}\n|cos(angle to hidden)| = {cosine:.2f}",
                 fontsize=9)
    ax.set_xlabel("N(0, 1) quantiles")
axes[0].set_ylabel("projected samples")
plt.show()
