"""Generate ``demo_embeddings.npy``, the example behind ``sketchtest check --demo``.

2048 embeddings of dimension 16, float32 (about 130 KB), that look like the
output of a half-trained encoder: most directions are Gaussian, but one is
bimodal (two clusters), one is skewed, two are partly collapsed (variance
0.25), and a random rotation spreads these defects over every coordinate, so
no single column shows them. ``sketchtest check --demo`` lists these plants
and the component of ``normality_test`` that finds each
(:mod:`sketchtest._cli.demo`). Run from anywhere::

    python sketchtest/data/make_demo.py

The seed is fixed: the file is reproducible bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SEED = 20250711
SAMPLES, DIMENSIONS = 2048, 16


def make_demo_embeddings(seed: int = SEED) -> np.ndarray:
    """Return the ``(2048, 16)`` float32 demo embeddings drawn from `seed`."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((SAMPLES, DIMENSIONS))
    clusters = rng.choice([-1.0, 1.0], size=SAMPLES)
    latent[:, 0] = 1.1 * clusters + 0.45 * rng.standard_normal(SAMPLES)   # bimodal
    latent[:, 1] = rng.exponential(1.0, SAMPLES) - 1.0                     # skewed
    latent[:, 2:4] *= 0.5                                                  # partly collapsed
    rotation, _ = np.linalg.qr(rng.standard_normal((DIMENSIONS, DIMENSIONS)))
    return (latent @ rotation.T).astype(np.float32)


if __name__ == "__main__":
    target = Path(__file__).with_name("demo_embeddings.npy")
    np.save(target, make_demo_embeddings())
    print(f"wrote {target} ({target.stat().st_size} bytes)")
