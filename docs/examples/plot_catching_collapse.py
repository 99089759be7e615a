"""
Catching collapse
=================

LeJEPA's invariance term alone, "make the views of an image agree", has a
trivial solution: map every image to (nearly) the same point, or to a thin
subspace. SIGReg is there to prevent it. Here the same small encoder is
trained twice on the digits, once with the invariance term only
(``lamb=0``: no SIGReg, collapse expected) and once with SIGReg (``lamb=0.05``),
while :class:`sketchtest.torch.EmbeddingMonitor` watches the embeddings. The
test-set embeddings of each run are then saved as ``.npy`` and given to
``sketchtest check``, exactly as a user would do with a trainer's
``embeddings.npy`` (``python -m training_examples.torch_lejepa --lamb 0 ...``
writes one in ``--out``).
"""

import pathlib
import subprocess
import sys
import tempfile

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits

from sketchtest.torch import EmbeddingMonitor, LeJEPALoss

digits = load_digits()
images = torch.tensor(digits.data / 16.0, dtype=torch.float32)   # (1797, 64), in [0, 1]
train, test = np.arange(0, 1400), np.arange(1400, len(digits.target))


def views_of(batch, num_views=2):
    """Augmented views: pixel noise and a random quarter of the pixels set to 0."""
    batch = batch.expand(num_views, *batch.shape)
    keep = (torch.rand(batch.shape) > 0.25).to(batch.dtype)
    return (batch + 0.1 * torch.randn(batch.shape)) * keep        # (V, N, 64)


def train_encoder(lamb, steps=200, dim=16):
    """Train a small MLP encoder; return it and the monitor's reading every 10 steps."""
    torch.manual_seed(0)
    encoder = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.GELU(), torch.nn.Linear(256, dim))
    criterion = LeJEPALoss(num_slices=128, lamb=lamb, num_global_views=2)
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=2e-3, weight_decay=1e-4)
    monitor, readings = EmbeddingMonitor(dim), []
    for step in range(steps):
        projections = encoder(views_of(images[train[torch.randint(0, len(train), (256,))]]))
        loss = criterion(projections).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        monitor.update(projections[0])          # on the device, no host synchronization
        if (step + 1) % 10 == 0:
            readings.append({"step": step + 1, **monitor.read()})   # one read per 10 steps
    return encoder, readings


runs = {lamb: train_encoder(lamb) for lamb in (0.0, 0.05)}

# %%
# What the monitor shows
# ----------------------
# Each reading pools 10 steps (2560 rows of a 16-dimensional embedding).
# Without SIGReg, the encoder takes the trivial way out: every eigenvalue of
# the covariance falls five orders of magnitude below the Marchenko-Pastur
# band of N(0, I) at that sample count (grey), and SIGReg's p-value is 0
# from the first readings. This collapse is *to a point*: the tiny cloud
# left is still roughly isotropic, so its effective rank stays high. The
# effective rank catches a *dimensional* collapse (a few directions left);
# the eigenvalues against the band catch both. With SIGReg, the largest
# eigenvalues sit near the band; after 200 steps the spectrum is still
# spread (effective rank about 9 of 16, smallest eigenvalues well below the
# band) and the p-value is still 0: this short run is far from isotropic,
# and the monitor says so.

fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), layout="constrained")
for (lamb, (_, readings)), color in zip(runs.items(), ("C3", "C0")):
    steps = [r["step"] for r in readings]
    label = "lamb = 0 (no SIGReg)" if lamb == 0 else f"lamb = {lamb} (SIGReg)"
    axes[0].plot(steps, [r["effective_rank"] for r in readings], color=color, label=label)
    axes[1].plot(steps, [r["eig_max"] for r in readings], color=color, label=f"{label}: largest")
    axes[1].plot(steps, [r["eig_min"] for r in readings], color=color, linestyle=":", label=f"{label}: smallest")
    axes[2].plot(steps, [r["mean_norm"] for r in readings], color=color, label=label)
axes[1].fill_between(steps, [r["mp_low"] for r in readings], [r["mp_high"] for r in readings], color="0.85")
axes[0].set(xlabel="step", title="effective rank (of 16)", ylim=(0, 16.5))
axes[1].set(xlabel="step", title="covariance eigenvalues", yscale="log")
axes[2].set(xlabel="step", title="norm of the embedding mean")
for axis in axes:
    axis.legend(fontsize="x-small")
plt.show()

# %%
# ``sketchtest check`` on the saved embeddings
# --------------------------------------------
# The test images' embeddings of each run go to a ``.npy`` file and through
# the command line. Its report gives the verdict, the component that found
# the departure, and the spectrum. The collapsed run's "average variance"
# of a few 1e-6 says what happened; the SIGReg run is rejected too (its
# skewness, kurtosis and covariance are not yet those of N(0, I)), but at
# the right scale.

folder = pathlib.Path(tempfile.mkdtemp())
for lamb, (encoder, _) in runs.items():
    with torch.no_grad():
        embeddings = encoder(images[test]).numpy()
    path = folder / f"embeddings_lamb{lamb:g}.npy"
    np.save(path, embeddings)
    report = subprocess.run(
        [sys.executable, "-m", "sketchtest", "check", str(path), "--no-progress",
         "--plot", str(path.with_suffix(".png"))],
        capture_output=True, text=True,
    )
    print(report.stdout)

# %%
# The check's own figure for the collapsed run (``--plot``):

figure, axis = plt.subplots(figsize=(12, 7), layout="constrained")
axis.imshow(plt.imread(folder / "embeddings_lamb0.png"))
axis.set_axis_off()
plt.show()
