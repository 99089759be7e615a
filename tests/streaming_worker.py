"""A worker for tests/test_streaming_pickle.py: imported by spawned processes, so it stays light."""

from __future__ import annotations

import sketchtest as st


def accumulate(samples, num_slices, seed):
    """A SlicedEppsPulley over `samples` (NumPy), returned to the parent by pickling."""
    return st.SlicedEppsPulley(num_slices, seed=seed).update(samples)
