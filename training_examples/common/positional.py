"""Fixed 2-D sine-cosine position embeddings (MAE's convention), computed on the host."""

from __future__ import annotations

import numpy as np


def sincos_position_embedding(grid_height: int, grid_width: int, dim: int) -> np.ndarray:
    """Embeddings of shape (grid_height * grid_width, dim), row-major over the patch grid.

    The first half of the channels encodes the row, the second half the column;
    each half is ``[sin(p * w_k), cos(p * w_k)]`` with ``w_k = 10000^(-k / (dim / 4))``.
    Any grid size works, so global and local views share one encoder.
    """
    if dim % 4 != 0:
        raise ValueError(f"embed_dim must be a multiple of 4 for 2-D sin-cos embeddings, got {dim}")
    frequencies = 1.0 / 10000.0 ** (np.arange(dim // 4) / (dim / 4))
    rows, cols = np.meshgrid(np.arange(grid_height), np.arange(grid_width), indexing="ij")

    def encode(positions):
        angles = positions.reshape(-1, 1) * frequencies
        return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)

    return np.concatenate([encode(rows), encode(cols)], axis=1).astype(np.float32)
