"""How ``sketchtest check`` spends its ``--memory-budget``.

The command reads every file in chunks of rows and never holds more than the
budget (plus the interpreter and the libraries it imports). The budget B is
split as follows, with the per-cell costs measured with :mod:`tracemalloc`
on NumPy and doubled (or 1.5x) as a margin:

* fixed: the ``(D, K)`` directions (float64 on the host plus one copy in the
  data's dtype), the per-slice state of the streamed Epps-Pulley sums, and
  the ``D x D`` covariance (not formed when three copies exceed B/4); these
  must fit in B/2, else ``--slices`` is too large for the budget;
* of the rest F: a quarter holds the rows kept for the in-memory tests (all
  N rows when they fit, else a uniform random subsample), half the working
  set of one in-memory test, a quarter the chunk being read (its raw and
  converted copies, the moments' float64 copies and, when streamed, the
  projections of Epps-Pulley on a block of slices).

A sliced test on the kept rows runs on blocks of slices whose working set
(rows x slices x cost) fits its half; the blocks' slice p-values are then
combined with the Cauchy combination, exactly as one call would.

When ``normality_test`` cannot hold every row, it streams them in two passes
(:class:`sketchtest.StreamingNormalityTest`): its state (a few ``D x D``
matrices, the directions, the per-column sums) joins the fixed part, and the
working arrays of one ``update`` (the batch's projections on every column and
their cosines and sines) join the cost of a row in the chunk, so the chunk
shrinks and the process stays within B whatever N. With ``--subsample M``
nothing streams: every test runs on the same M random rows, which must fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sketchtest._cli import report as _report
from sketchtest._cli.rows import InputError, format_size
from sketchtest._multivariate.normality import PRINCIPAL_AXES

__all__ = ["MemoryPlan", "plan_memory", "SubsampleRows"]

#: Bytes per (row, slice) a sliced test holds at most, in items of the data's dtype:
#: measured 8 (Anderson-Darling), 6 (Cramer-von Mises, Watson, Shapiro), 5 (KS, JB),
#: 1.5-3 (Epps-Pulley) with tracemalloc; x1.5.
TEST_CELL_ITEMS = 12
#: Bytes per (row, slice) of ``SlicedEppsPulley.update`` (float64 sums): measured 12.3; x2.
STREAM_CELL_BYTES = 24
#: Bytes per pair of rows of the multivariate tests (three float64 N x N arrays): measured 24; x2.
PAIR_BYTES = 48
#: Bytes per slice of the streamed sums and their result (17 knots): measured 700; x2.
SLICE_STATE_BYTES = 1400
#: Bytes per (row, column) of ``normality_test`` over the columns of the samples, their random
#: projections and principal scores: measured 10-20 (float64, tracemalloc, N = 1000..4000,
#: D = 16..512, K = 16..256, both nulls); x2.
NORMALITY_CELL_BYTES = 40
#: ``normality_test`` with ``null="normal"`` simulates its skewness null on batches of about
#: 2**22 float64 numbers (or one N x D draw), about four copies at once: measured 130-150 MB
#: at N = 2000..4000, D = 64..256.
NORMALITY_SIMULATION_BYTES = 5 * 8 * 2**22
#: Smallest chunk worth streaming; below it, Epps-Pulley streams fewer slices per block.
MIN_STREAM_CHUNK = 256
#: Bytes per (row, column) of one ``StreamingNormalityTest.update``, over the D + K + 32 columns
#: of the samples, their random projections and principal scores: measured at most 46 per
#: (row, coordinate) in pass 1 and 40 per (row, column) in pass 2 (tracemalloc, float32 and
#: float64, both nulls, D = 16..256, K = 16..128, batches of 500 and 2000 rows); x2.
STREAM_NORMALITY_CELL_BYTES = 80
#: Bytes of the state of ``StreamingNormalityTest`` per item of a ``D x D`` matrix: its pickle
#: measured 31 D^2 bytes at D = 256, K = 128 (its D x D matrices and directions); x2.
STREAM_NORMALITY_SQUARE_BYTES = 64


@dataclass(frozen=True)
class MemoryPlan:
    """Chunk sizes that keep one run of ``sketchtest check`` within its budget."""

    chunk_rows: int          #: rows read per chunk
    kept_rows: int           #: rows held for the in-memory tests (N when all fit)
    test_block: int          #: slices per call of an in-memory sliced test
    stream_block: int        #: slices per streamed Epps-Pulley accumulator (0: none streamed)
    multivariate_rows: int   #: rows of the multivariate tests (their memory grows as N^2)
    normality_rows: int      #: rows of ``normality_test`` (its memory grows as N x (D + K))
    full_covariance: bool    #: whether the D x D covariance is formed
    stream_normality: bool = False  #: ``normality_test`` streams every row in two passes


def plan_memory(source, *, num_slices, budget, stream_epps_pulley=True, normal_null=False,
                normality=False, subsample=None) -> MemoryPlan:
    """The :class:`MemoryPlan` of `source` (a :class:`~sketchtest._cli.readers.RowSource`).

    `normal_null` says whether ``normality_test`` runs with ``null="normal"``
    (its null simulation needs a fixed amount of memory). `normality` says
    whether ``normality_test`` runs: when its working set cannot hold every
    row, it streams them in two passes (``plan.stream_normality``).
    `subsample` (``--subsample M``) instead runs every test on the same
    ``min(M, N)`` random rows, nothing streamed. Raises
    :class:`~sketchtest._cli.readers.InputError` naming ``--slices``,
    ``--subsample`` or ``--memory-budget`` when no plan fits.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from sketchtest._cli.readers import open_samples
    >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(path, np.zeros((100_000, 8)))
    >>> plan = plan_memory(open_samples(path), num_slices=256, budget=2**20)
    >>> plan.kept_rows < 100_000, plan.chunk_rows * 8 * 8 < 2**20
    (True, True)
    >>> plan = plan_memory(open_samples(path), num_slices=16, budget=2**20, normality=True)
    >>> plan.stream_normality, plan.normality_rows
    (True, 100000)
    """
    options = {"num_slices": num_slices, "budget": budget, "normal_null": normal_null}
    if subsample is not None:
        plan = _plan(source, **options, stream_epps_pulley=False, rows_wanted=subsample)
        _check_subsample(plan, source, subsample, normality=normality, budget=budget)
        return plan
    plan = _plan(source, **options, stream_epps_pulley=stream_epps_pulley)
    if normality and plan.normality_rows < source.samples:
        return _plan(source, **options, stream_epps_pulley=stream_epps_pulley, stream_normality=True)
    return plan


def _plan(source, *, num_slices, budget, normal_null, stream_epps_pulley, rows_wanted=None,
          stream_normality=False) -> MemoryPlan:
    """The plan of :func:`plan_memory`, with at most `rows_wanted` rows kept, and the state
    and per-row working set of the streamed ``normality_test`` counted when it streams."""
    samples, dimensions, slices = source.samples, source.dimensions, num_slices
    item = source.compute_dtype.itemsize
    covariance = 3 * dimensions * dimensions * 8
    full_covariance = dimensions <= _report.MAX_COVARIANCE_DIMENSIONS and covariance <= budget // 4
    fixed = (dimensions * slices * (8 + item) + slices * SLICE_STATE_BYTES
             + (covariance if full_covariance else 3 * dimensions * 8))
    if stream_normality:
        fixed += stream_normality_state_bytes(dimensions, slices)
    if fixed > budget // 2:
        what = "the streamed normality_test's state" if stream_normality else "its directions and sums"
        raise InputError(f"--slices {slices} at D = {dimensions} needs {format_size(fixed)} for "
                         f"{what}, more than half of --memory-budget ({format_size(budget)}); "
                         "lower --slices or raise --memory-budget")
    quarter = (budget - fixed) // 4
    kept = min(samples, quarter // (dimensions * item),
               2 * quarter // (TEST_CELL_ITEMS * item * min(slices, 8)))
    if rows_wanted is not None:
        kept = min(kept, rows_wanted)
    if kept < 2:
        raise InputError(f"--memory-budget {format_size(budget)} holds fewer than 2 rows of "
                         f"D = {dimensions} for the tests (with --slices {slices}); raise it")
    test_block = max(1, min(slices, 2 * quarter // (kept * TEST_CELL_ITEMS * item)))
    row_bytes = dimensions * (source.dtype.itemsize + item + 16) + source.read_overhead
    if stream_normality:
        row_bytes += STREAM_NORMALITY_CELL_BYTES * (dimensions + slices + PRINCIPAL_AXES)
    stream_block = 0
    if kept < samples and stream_epps_pulley:
        stream_block = max(1, min(slices, (quarter // MIN_STREAM_CHUNK - row_bytes) // STREAM_CELL_BYTES))
        row_bytes += stream_block * STREAM_CELL_BYTES
    chunk_rows = min(samples, quarter // row_bytes)
    if chunk_rows < 1:
        raise InputError(f"--memory-budget {format_size(budget)} cannot hold one row of "
                         f"D = {dimensions} while reading; raise it")
    if stream_normality and normal_null and 2 * quarter < NORMALITY_SIMULATION_BYTES:
        raise InputError(f"--memory-budget {format_size(budget)} is too small for normality_test "
                         f"with --null normal, whose null simulation needs about "
                         f"{format_size(NORMALITY_SIMULATION_BYTES)} once the rows are read; raise it")
    multivariate_rows = min(kept, math.isqrt(2 * quarter // PAIR_BYTES))
    normality = samples if stream_normality else \
        min(kept, _normality_rows(dimensions, slices, 2 * quarter, normal_null))
    return MemoryPlan(chunk_rows=int(chunk_rows), kept_rows=int(kept), test_block=int(test_block),
                      stream_block=int(stream_block), multivariate_rows=int(multivariate_rows),
                      normality_rows=int(normality), full_covariance=full_covariance,
                      stream_normality=stream_normality)


def stream_normality_state_bytes(dimensions, slices) -> int:
    """Bytes of the state of a streamed ``normality_test``, kept while the rows are read.

    (The null simulation of ``null="normal"`` runs once the rows are read, in
    the half of the budget the in-memory tests use.)
    """
    return STREAM_NORMALITY_SQUARE_BYTES * dimensions * dimensions \
        + 2 * 8 * dimensions * slices + 8 * 64 * (dimensions + slices + PRINCIPAL_AXES)


def _check_subsample(plan, source, subsample, *, normality, budget) -> None:
    """Refuse a ``--subsample`` whose rows do not fit the budget (never a silently smaller one)."""
    wanted = min(subsample, source.samples)
    fitting = plan.normality_rows if normality else plan.kept_rows
    if fitting < wanted:
        which = "normality_test's working set" if normality else "the tests"
        raise InputError(f"--subsample {subsample}: {wanted} rows of D = {source.dimensions} do not "
                         f"fit --memory-budget {format_size(budget)} for {which} (at most "
                         f"{fitting}); lower --subsample or raise --memory-budget")


def _normality_rows(dimensions, slices, working, normal_null) -> int:
    """Rows of ``normality_test`` whose working set fits in `working` bytes: a few N x (D + K)
    arrays, a few D x D ones and, for ``null="normal"``, the simulation of its null."""
    fixed = 6 * 8 * dimensions * dimensions
    if normal_null:
        fixed += NORMALITY_SIMULATION_BYTES  # larger draws are counted per row
    per_row = NORMALITY_CELL_BYTES * (dimensions + slices + PRINCIPAL_AXES)
    return max(0, (working - fixed) // per_row)


class SubsampleRows:
    """A uniform random subset of `size` of `samples` rows, handed out chunk by chunk.

    The rows are split into fixed blocks of `block` rows; the number chosen in
    each block is one multivariate hypergeometric draw, and the rows within a
    block are drawn from a generator seeded by ``(seed, block index)``. The
    subset does not depend on the chunk size, and memory stays O(chunk).

    Examples
    --------
    >>> rows = SubsampleRows(1000, 10, seed=0)
    >>> picked = np.concatenate([rows.between(start, start + 300) for start in range(0, 1000, 300)])
    >>> picked.shape, bool(np.all(np.diff(picked) > 0))
    ((10,), True)
    """

    def __init__(self, samples, size, *, seed, block=2**16):
        self.samples, self.size, self.seed, self.block = samples, size, seed, block
        sizes = np.full(-(-samples // block), block, dtype=np.int64)
        sizes[-1] = samples - block * (sizes.shape[0] - 1)
        rng = np.random.default_rng(seed)
        self.counts = rng.multivariate_hypergeometric(sizes, size, method="marginals")
        self._cached = (None, None)

    def between(self, start, stop) -> np.ndarray:
        """Sorted chosen rows in ``[start, stop)``."""
        if self.size == self.samples:
            return np.arange(start, stop)
        parts = [self._block_rows(b) for b in range(start // self.block, -(-stop // self.block))]
        rows = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return rows[(rows >= start) & (rows < stop)]

    def _block_rows(self, index) -> np.ndarray:
        if self._cached[0] != index:
            first = index * self.block
            width = min(self.block, self.samples - first)
            rng = np.random.default_rng([self.seed, index])
            chosen = np.sort(rng.choice(width, size=int(self.counts[index]), replace=False))
            self._cached = (index, first + chosen)
        return self._cached[1]
