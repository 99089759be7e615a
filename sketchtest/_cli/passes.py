"""How ``sketchtest check`` reads a file's rows: one pass, or two when ``normality_test`` streams.

The first pass checks every value is finite, accumulates the mean and
covariance of the report, keeps the rows of the in-memory tests (all of them,
or a uniform random subsample when they do not fit) and feeds the streamed
Epps-Pulley sums and the first pass of the streamed ``normality_test`` (its
mean and covariance). The second pass, only when ``normality_test`` streams
(:attr:`~sketchtest._cli.budget.MemoryPlan.stream_normality`), reads the same
rows again for everything else it sums. One progress bar counts the rows of
both passes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from sketchtest._cli.budget import SubsampleRows
from sketchtest._cli.readers import InputError, count_nonfinite, describe_nonfinite
from sketchtest._cli.report import MomentAccumulator, progress_bar
from sketchtest._cli.rows import _one_line

__all__ = ["FileRead", "read_rows"]


@dataclass
class FileRead:
    """What the passes over a file leave for the tests and the report."""

    kept: np.ndarray          #: the rows kept for the in-memory tests (on the host)
    moments: MomentAccumulator  #: mean and covariance of every row
    streamed: list            #: the streamed Epps-Pulley accumulators (empty: none)
    normality: object = None  #: the streamed ``normality_test`` after both passes, or None
    normality_error: str | None = None  #: why the streamed ``normality_test`` stopped, if it did
    passes: int = 1           #: passes over the file
    seconds: float = 0.0      #: seconds spent reading (and streaming) the passes


def read_rows(source, plan, directions, args, to_backend) -> FileRead:
    """Read the rows of `source` in chunks of ``plan.chunk_rows``, in one or two passes.

    Non-finite values raise :class:`~sketchtest._cli.readers.InputError` at
    the end of the first pass, naming their count and first positions.
    """
    started = time.perf_counter()
    normality = _streamed_normality(source, plan, args)
    passes = 1 if normality is None else 2
    with progress_bar(passes * source.samples, enabled=not args.no_progress,
                      description=_pass_name(1, passes)) as progress:
        read = _first_pass(source, plan, directions, args, to_backend, normality, progress)
        if normality is not None:
            try:
                normality.end_first_pass()
            except (ValueError, TypeError, ArithmeticError, RuntimeError) as error:
                read.normality_error = _one_line(error)
            else:
                progress.set_description(_pass_name(2, passes))
                _second_pass(source, plan.chunk_rows, to_backend, normality, progress)
                read.normality, read.passes = normality, 2
    read.seconds = time.perf_counter() - started
    return read


def _pass_name(number, passes) -> str:
    return "reading" if passes == 1 else f"pass {number} of {passes}"


def _streamed_normality(source, plan, args):
    """An empty ``StreamingNormalityTest`` with the options of ``normality_test``, when it streams."""
    if not plan.stream_normality or source.samples < 4:
        return None
    from sketchtest._multivariate.normality_stream import StreamingNormalityTest

    return StreamingNormalityTest(source.dimensions, null=args.null, seed=args.seed,
                                  num_slices=args.slices)


def _first_pass(source, plan, directions, args, to_backend, normality, progress) -> FileRead:
    """Moments, kept rows, streamed Epps-Pulley sums and pass 1 of `normality`; NaN checks."""
    from sketchtest._multivariate.streaming import SlicedEppsPulley

    samples, dimensions = source.samples, source.dimensions
    chosen = SubsampleRows(samples, plan.kept_rows, seed=args.seed)
    kept = np.empty((plan.kept_rows, dimensions), dtype=source.compute_dtype)
    moments = MomentAccumulator(full_covariance=plan.full_covariance)
    block = plan.stream_block
    streamed = [SlicedEppsPulley(directions=directions[:, k:k + block])
                for k in range(0, args.slices, block)] if block else []
    totals, first, filled = {"NaN": 0, "+inf": 0, "-inf": 0}, [], 0
    for start, chunk in source.chunks(plan.chunk_rows):
        counts, where = count_nonfinite(chunk, row_offset=start)
        totals = {name: totals[name] + counts[name] for name in totals}
        first = (first + where)[:3]
        if not first:  # nothing to compute once the input is known to be bad
            moments.update(chunk)
            on_backend = to_backend(chunk) if streamed or normality is not None else None
            for accumulator in streamed:
                accumulator.update(on_backend)
            if normality is not None:
                normality.update(on_backend)
            picked = chunk if plan.kept_rows == samples else \
                chunk[chosen.between(start, start + chunk.shape[0]) - start]
            kept[filled:filled + picked.shape[0]] = picked
            filled += picked.shape[0]
        progress.update(chunk.shape[0])
    if first:
        raise InputError(f"{source.path}: {describe_nonfinite(totals, first)}")
    return FileRead(kept=kept, moments=moments, streamed=streamed)


def _second_pass(source, chunk_rows, to_backend, normality, progress) -> None:
    """Pass 2 of the streamed ``normality_test``: the same rows again, in the same chunks.

    The rows were all finite in pass 1; a file changed in between raises
    :class:`~sketchtest._cli.readers.InputError` (a changed row count, or new
    non-finite values).
    """
    for start, chunk in source.chunks(chunk_rows):
        counts, where = count_nonfinite(chunk, row_offset=start)
        if where:
            raise InputError(f"{source.path}: changed while it was read: "
                             f"{describe_nonfinite(counts, where)}")
        normality.update(to_backend(chunk))
        progress.update(chunk.shape[0])
