"""
SIGReg pulls a skewed cloud toward N(0, I)
==========================================

SIGReg is differentiable: gradient descent on the positions of points
themselves, with no encoder at all, moves a skewed, correlated, off-centre
cloud toward an isotropic standard Gaussian. Fresh random directions are
drawn at every step (``seed=step``), as in training; plain gradient descent
moves every point by the gradient of the loss with respect to it.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch

import sketchtest as st
from sketchtest.torch import sigreg

torch.manual_seed(0)
rng = np.random.default_rng(0)
n = 1000
tail = rng.exponential(1.0, n) - 1.0                      # skewed, mean 0, variance 1
start = np.column_stack([tail + 1.0, 0.6 * tail + 0.5 * rng.standard_normal(n)])
points = torch.tensor(start, dtype=torch.float32, requires_grad=True)
optimizer = torch.optim.SGD([points], lr=1.0)

snapshots, losses = {}, []
for step in range(301):
    if step in (0, 10, 50, 300):
        snapshots[step] = points.detach().numpy().copy()
    loss = sigreg(points, num_slices=64, seed=step)       # fresh directions every step
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())

# %%
# Snapshots of the cloud, and the loss per step. Under N(0, I) the expected
# value of SIGReg is 1.0525 (the dashed line) whatever the number of points;
# optimized points go below it, because they are the parameters and adapt to
# the directions and knots themselves (an encoder trained on fresh images
# cannot).

fig = plt.figure(figsize=(12, 6), layout="constrained")
grid = fig.add_gridspec(2, 4)
for column, (step, cloud) in enumerate(snapshots.items()):
    ax = fig.add_subplot(grid[0, column])
    ax.scatter(cloud[:, 0], cloud[:, 1], s=2, alpha=0.5)
    ax.set_xlim(-4, 7)
    ax.set_ylim(-4, 7)
    ax.set_aspect("equal")
    ax.set_title(f"step {step}", fontsize=10)
curve = fig.add_subplot(grid[1, :])
curve.plot(losses)
curve.axhline(1.0525, color="k", linestyle="--", linewidth=1, label="E[SIGReg] under N(0, I)")
curve.set_yscale("log")
curve.set_xlabel("step")
curve.set_ylabel("SIGReg")
curve.legend()
plt.show()

# %%
# The final cloud passes a sliced test of N(0, I), on directions never used
# in training, that it failed at the start. Its covariance tells one more
# thing: the few points far out in the exponential tail barely move, because
# the gradient of a characteristic-function loss fades with distance (its
# terms are bounded, :math:`|\cos|, |\sin| \le 1`); the bulk of the cloud is
# standard normal, a handful of outliers inflate the variance.

for step in (0, 300):
    cloud = snapshots[step].astype(np.float64)
    result = st.sliced_test(cloud, num_slices=64, seed=12345)
    print(f"step {step}: sliced Epps-Pulley p-value {float(result.pvalue):.3g}, "
          f"mean {np.round(cloud.mean(axis=0), 2)}, "
          f"covariance {np.round(np.cov(cloud, rowvar=False), 2).tolist()}")
