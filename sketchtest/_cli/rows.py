"""The base the command line's file readers build on: a file's rows as a :class:`RowSource`.

Every reader (:mod:`sketchtest._cli.readers` for ``.npy``, ``.npz`` and
``.safetensors``, :mod:`sketchtest._cli.text`, :mod:`sketchtest._cli.torch_files`)
checks a file's header and returns a :class:`RowSource`, which yields the rows
in chunks; every problem raises :class:`InputError` with one line that says
what is wrong and where. The helpers here (shape and dtype checks, reading
rows at an offset, counting non-finite values) are shared by all of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

__all__ = ["InputError", "RowSource", "LoadedArray", "parse_size", "format_size",
           "count_nonfinite", "describe_nonfinite"]


class InputError(ValueError):
    """A file or an option the command cannot use; the message is one line."""


@dataclass(frozen=True)
class RowSource:
    """An ``(N, D)`` array in a file, read in chunks of rows, never whole.

    `dtype` is the dtype of the rows as read (bfloat16 already widened to
    float32); :meth:`chunks` yields them converted to `compute_dtype`.
    `read_overhead` is the transient memory, in bytes per row, the reader
    needs besides the chunk it returns (the text of a line, a zip buffer).
    `note` says, for the few layouts that cannot be read a chunk at a time,
    that the data are read whole (within a quarter of the budget) and why.
    """

    path: str
    format: str
    samples: int
    dimensions: int
    dtype: np.dtype
    read: Callable[[int], Iterator[np.ndarray]] = field(repr=False)
    key: str | None = None
    read_overhead: int = 0
    note: str | None = None

    @property
    def compute_dtype(self) -> np.dtype:
        """float32 for float16, bfloat16 and float32 rows; float64 for every other dtype."""
        return np.dtype(np.float32 if self.dtype in (np.float16, np.float32) else np.float64)

    @property
    def row_bytes(self) -> int:
        """Bytes of one row as read."""
        return self.dimensions * self.dtype.itemsize

    def chunks(self, rows: int) -> Iterator[tuple[int, np.ndarray]]:
        """``(first row, chunk)`` pairs of at most `rows` rows each, in `compute_dtype`."""
        start = 0
        for block in self.read(rows):
            yield start, block.astype(self.compute_dtype, copy=False)
            start += block.shape[0]
        if start != self.samples:
            raise InputError(f"{self.path}: the data end after {start} of {self.samples} rows "
                             "(truncated file?)")


@dataclass
class LoadedArray:
    """Samples read whole from a file (see :func:`load_samples`)."""

    data: np.ndarray
    path: str
    format: str
    key: str | None = None

    @property
    def samples(self) -> int:
        """Number of samples N."""
        return int(self.data.shape[0])

    @property
    def dimensions(self) -> int:
        """Number of dimensions D."""
        return int(self.data.shape[1])


def parse_size(text: str) -> int:
    """Bytes in a size such as ``"512M"``, ``"2G"``, ``"1.5GB"`` or ``"4096"``.

    The size must be finite and at least one whole byte.

    Examples
    --------
    >>> parse_size("2G"), parse_size("512k"), parse_size("100")
    (2147483648, 524288, 100)
    """
    units = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
    cleaned = str(text).strip().lower().removesuffix("ib").removesuffix("b")
    number, unit = cleaned, ""
    if cleaned and cleaned[-1] in units:
        number, unit = cleaned[:-1], cleaned[-1]
    try:
        value = float(number) * units[unit]
    except ValueError:
        raise InputError(f"--memory-budget: cannot read a size from {text!r} (e.g. 512M, 2G)") from None
    if not (math.isfinite(value) and value >= 1):
        raise InputError(f"--memory-budget must be a finite size of at least 1 byte; got {text!r}")
    return int(value)


def format_size(size: float) -> str:
    """A byte count for people: ``format_size(3 * 2**20) == '3.0 MiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def _matrix_shape(shape, *, path) -> tuple[int, int]:
    """``(N, D)`` of an ``(N, D)`` or ``(N,)`` shape, or an InputError."""
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (1, 2):
        raise InputError(f"{path}: expected an (N, D) or (N,) array; got shape {shape}")
    samples, dimensions = shape if len(shape) == 2 else (shape[0], 1)
    if dimensions == 0:
        raise InputError(f"{path}: the array has no dimensions (shape {shape})")
    if samples < 2:
        raise InputError(f"{path}: needs at least 2 samples; got {samples}")
    return samples, dimensions


def _check_dtype(dtype, *, path) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        raise InputError(f"{path}: refused: the file holds pickled Python objects, which are never "
                         "loaded (object arrays)")
    if dtype.kind == "c":
        raise InputError(f"{path}: complex data ({dtype}); expected real numbers")
    if dtype.kind == "b":
        raise InputError(f"{path}: boolean data; expected real numbers (a mask, not samples?)")
    if dtype.kind not in "iuf" or dtype.fields is not None or dtype.subdtype is not None:
        raise InputError(f"{path}: non-numeric data (dtype {dtype}); expected real numbers")
    return dtype


def _check_declared_bytes(samples, dimensions, dtype, available, *, path, what="the file"):
    """Refuse a header that claims more data than `available` bytes (before allocating anything)."""
    declared = samples * dimensions * dtype.itemsize
    if declared > available:
        raise InputError(f"{path}: the header declares {samples * dimensions} values "
                         f"({format_size(declared)}) but {what} holds {format_size(available)} of data")


def _file_rows(path, rows, *, offset, shape, dtype, fortran):
    """Chunks of `rows` rows of an ``(N, D)`` array stored at `offset` of a file (C or Fortran order)."""
    samples, dimensions = shape
    with open(path, "rb") as stream:
        for start in range(0, samples, rows):
            count = min(rows, samples - start)
            if not fortran:
                block = np.empty((count, dimensions), dtype=dtype)
                stream.seek(offset + start * dimensions * dtype.itemsize)
                _read_exactly(stream, block, path=path)
                yield block
                continue
            block = np.empty((dimensions, count), dtype=dtype)
            for column in range(dimensions):
                stream.seek(offset + (column * samples + start) * dtype.itemsize)
                _read_exactly(stream, block[column], path=path)
            yield block.T


def _read_exactly(stream, block, *, path) -> None:
    """Fill the contiguous array `block` from `stream`, or raise if the data end first."""
    view = memoryview(block.reshape(-1).view(np.uint8))
    done = 0
    while done < view.nbytes:
        count = stream.readinto(view[done:])
        if not count:
            raise InputError(f"{path}: the data end early (truncated file?)")
        done += count


def _choose_key(names, key, *, path):
    listed = ", ".join(repr(n) for n in names) or "none"
    if key is not None:
        if key not in names:
            raise InputError(f"{path}: no array named {key!r}; the file holds {listed}")
        return key
    if len(names) != 1:
        raise InputError(f"{path}: holds {len(names)} arrays ({listed}); choose one with --key")
    return names[0]


def _is_count(value) -> bool:
    return type(value) is int and value >= 0  # bool, float and str are refused


def _widen_bfloat16(read, rows):
    for block in read(rows):
        yield (block.astype(np.uint32) << 16).view(np.float32)


def count_nonfinite(data, *, row_offset=0):
    """Counts of NaN, +inf and -inf in `data`, and the (row, column) of the first few."""
    bad = ~np.isfinite(data)
    if not bad.any():
        return {"NaN": 0, "+inf": 0, "-inf": 0}, []
    counts = {
        "NaN": int(np.count_nonzero(np.isnan(data))),
        "+inf": int(np.count_nonzero(np.isposinf(data))),
        "-inf": int(np.count_nonzero(np.isneginf(data))),
    }
    rows, columns = np.nonzero(bad)
    first = [(int(r) + row_offset, int(c)) for r, c in zip(rows[:3], columns[:3])]
    return counts, first


def describe_nonfinite(counts, first) -> str:
    """One line such as ``2 NaN and 1 +inf value(s), first at (row 3, column 0) ...``."""
    parts = [f"{count} {name}" for name, count in counts.items() if count]
    where = ", ".join(f"(row {r}, column {c})" for r, c in first)
    return (f"{' and '.join(parts)} value(s), first at {where} (counting from 0); "
            "remove or impute them before checking")


def _one_line(error) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
