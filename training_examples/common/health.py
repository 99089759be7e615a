"""Embedding health for the trainers' logs: the monitor's per-step columns, and what is saved at the end."""

from __future__ import annotations

import numpy as np

from training_examples.common.metrics import MONITOR_METRICS

MONITOR_SOURCES = {name: name for name in MONITOR_METRICS} | {"batch_sigreg": "sigreg"}
"""Which field of the library's monitor each of :data:`MONITOR_METRICS` is."""
MONITOR_SLICES = 64
"""Fixed directions of the trainers' monitors (its SIGReg is on these, not the loss's fresh ones)."""


def monitor_columns(values, fields, directions) -> np.ndarray:
    """Per-step monitor statistics ``(steps, len(fields))`` -> the log's monitor and p-value columns.

    The p-values of the per-step SIGReg values come from :func:`sketchtest.sigreg_pvalue`
    on the monitor's directions, once per epoch on the host.
    """
    import sketchtest as st

    values = np.asarray(values, dtype=np.float64)
    picked = values[:, [fields.index(MONITOR_SOURCES[name]) for name in MONITOR_METRICS]]
    # float32 directions (JAX without x64) are unit only to float32's rounding: normalized again in
    # float64, since sigreg_pvalue checks float64 directions to float64's tolerance
    directions = np.asarray(directions, dtype=np.float64)
    directions = directions / np.linalg.norm(directions, axis=0)
    pvalues = np.asarray(st.sigreg_pvalue(values[:, fields.index("sigreg")], directions=directions))
    return np.column_stack([picked, pvalues])


def eval_health(stats: dict) -> dict:
    """The per-epoch :data:`EVAL_METRICS` from a monitor read of the evaluation set's projections."""
    return {
        "eval_effective_rank": stats["effective_rank"],
        "eval_sigreg": stats["sigreg"],
        "eval_sigreg_pvalue": stats["sigreg_pvalue"],
    }


def save_embeddings(out_dir, projections: np.ndarray, features: np.ndarray) -> None:
    """``embeddings.npy`` (evaluation set's projections, the space SIGReg shapes) and ``features.npy``."""
    np.save(out_dir / "embeddings.npy", np.asarray(projections, dtype=np.float32))
    np.save(out_dir / "features.npy", np.asarray(features, dtype=np.float32))
