"""Safe, streaming readers of sample arrays for the command line.

Nothing in a file is ever executed, and no file is read whole: opening a
file (:func:`open_samples`) reads and checks only its header (shape, dtype,
where the data lie, that the file holds as many bytes as the header claims)
and returns a :class:`RowSource`, which then yields the rows in chunks of a
size the caller chooses. ``.npy`` files and ``.npz`` members are parsed with
:mod:`numpy.lib.format` (object arrays are refused, never unpickled; an
``.npz`` member is decompressed chunk by chunk from the zip stream);
PyTorch files are opened with ``torch.load(weights_only=True,
map_location="meta")``, which gives the shape, dtype, strides and file offset
of a tensor without its data; ``.safetensors`` by a small reader of its
documented layout (an 8-byte header length, a JSON header, raw little-endian
data); text files are parsed a block of lines at a time. Every problem raises
:class:`InputError` with one line that says what is wrong and where.
"""

from __future__ import annotations

import json
import math
import os
import stat
import zipfile
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Iterator

import numpy as np

__all__ = ["InputError", "RowSource", "LoadedArray", "open_samples", "load_samples", "parse_size",
           "count_nonfinite", "describe_nonfinite", "format_size"]

FORMATS = {
    ".npy": "npy", ".npz": "npz", ".pt": "torch", ".pth": "torch",
    ".safetensors": "safetensors", ".csv": "text", ".txt": "text", ".tsv": "text",
}
_SAFETENSORS_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4",
    "I16": "<i2", "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?",
}
_MAX_HEADER_BYTES = 100 * 2**20


class InputError(ValueError):
    """A file or an option the command cannot use; the message is one line."""


@dataclass(frozen=True)
class RowSource:
    """An ``(N, D)`` array in a file, read in chunks of rows, never whole.

    `dtype` is the dtype of the rows as read (bfloat16 already widened to
    float32); :meth:`chunks` yields them converted to `compute_dtype`.
    `read_overhead` is the transient memory, in bytes per row, the reader
    needs besides the chunk it returns (the text of a line, a zip buffer).
    """

    path: str
    format: str
    samples: int
    dimensions: int
    dtype: np.dtype
    read: Callable[[int], Iterator[np.ndarray]] = field(repr=False)
    key: str | None = None
    read_overhead: int = 0

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


def open_samples(path, *, key=None, memory_budget=2**30) -> RowSource:
    """Open the ``(N, D)`` or ``(N,)`` array in `path` without reading its data.

    Only the header is read and checked. `memory_budget` bounds the few
    layouts that cannot be read in chunks (a Fortran-order ``.npz`` member, a
    non-contiguous or legacy-format PyTorch tensor): they are refused when
    larger than a quarter of it.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(path, np.zeros((5, 3)))
    >>> source = open_samples(path)
    >>> source.samples, source.dimensions, source.format
    (5, 3, 'npy')
    >>> [chunk.shape for _, chunk in source.chunks(2)]
    [(2, 3), (2, 3), (1, 3)]
    """
    path = os.fspath(path)
    kind = _format_of(path, key)
    opener = _opener(kind)
    try:
        return opener(path, key, memory_budget // 4)
    except InputError:
        raise
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as error:
        raise InputError(f"{path}: cannot read the file: {_one_line(error)}") from None


def _opener(kind):
    if kind == "torch":
        from sketchtest._cli.torch_files import open_torch
        return open_torch
    if kind == "text":
        from sketchtest._cli.text import open_text
        return open_text
    return {"npy": _open_npy, "npz": _open_npz, "safetensors": _open_safetensors}[kind]


def load_samples(path, *, key=None, memory_budget=2**30) -> LoadedArray:
    """Read the whole array in `path` (checked: finite, at least 2 samples) into memory.

    For small files and tests; the command line streams with :func:`open_samples`.
    """
    source = open_samples(path, key=key, memory_budget=memory_budget)
    data = np.empty((source.samples, source.dimensions), dtype=source.compute_dtype)
    for start, chunk in source.chunks(max(1, 2**24 // max(source.row_bytes, 1))):
        counts, first = count_nonfinite(chunk, row_offset=start)
        if sum(counts.values()):
            raise InputError(f"{source.path}: {describe_nonfinite(counts, first)}")
        data[start:start + chunk.shape[0]] = chunk
    return LoadedArray(data=data, path=source.path, format=source.format, key=source.key)


def _format_of(path, key) -> str:
    """The reader of `path`, after checking that it is a regular file (never a FIFO or device)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read the file: {_one_line(error)}") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{path}: is a directory, not a file")
    if not stat.S_ISREG(mode):
        raise InputError(f"{path}: not a regular file (a pipe, socket or device); "
                         "save the samples to a file first")
    extension = os.path.splitext(path)[1].lower()
    kind = FORMATS.get(extension)
    if kind is None:
        known = ", ".join(sorted(FORMATS))
        raise InputError(f"{path}: unknown file type {extension or '(none)'!r}; expected one of {known}")
    if key is not None and kind not in ("npz", "torch", "safetensors"):
        raise InputError(f"--key applies to .npz, .pt/.pth and .safetensors files, not {extension}")
    return kind


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


# --- .npy and .npz ---------------------------------------------------------------------------

def _read_npy_header(stream, *, path):
    """``(shape, fortran_order, dtype)`` from a .npy header; nothing after it is read."""
    start = stream.read(6)
    if start[:1] == b"\x80":
        raise InputError(f"{path}: refused: the file is a pickled Python object, which is never loaded")
    if start != b"\x93NUMPY":
        raise InputError(f"{path}: not a .npy array (no NumPy magic string)")
    version = tuple(stream.read(2))
    readers = {(1, 0): np.lib.format.read_array_header_1_0,
               (2, 0): np.lib.format.read_array_header_2_0}
    try:
        if version in readers:
            return readers[version](stream, max_header_size=_MAX_HEADER_BYTES)
        if version == (3, 0):
            return np.lib.format._read_array_header(stream, version, max_header_size=_MAX_HEADER_BYTES)
    except (ValueError, SyntaxError) as error:
        raise InputError(f"{path}: not a .npy array (bad header: {_one_line(error)})") from None
    raise InputError(f"{path}: not a .npy array (unknown format version {version})")


def _open_npy(path, key, whole_limit):
    with open(path, "rb") as stream:
        if stream.read(2) == b"PK":  # an .npz archive under a .npy name
            return _open_npz(path, key, whole_limit)
        stream.seek(0)
        shape, fortran, dtype = _read_npy_header(stream, path=path)
        offset = stream.tell()
    dtype = _check_dtype(dtype, path=path)
    samples, dimensions = _matrix_shape(shape, path=path)
    _check_declared_bytes(samples, dimensions, dtype, os.path.getsize(path) - offset, path=path)
    read = partial(_file_rows, path, offset=offset, shape=(samples, dimensions), dtype=dtype,
                   fortran=fortran)
    return RowSource(path, "npy", samples, dimensions, dtype, read)


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


def _open_npz(path, key, whole_limit):
    try:
        with zipfile.ZipFile(path) as archive:
            members = {name.removesuffix(".npy"): name for name in archive.namelist()}
            name = _choose_key(list(members), key, path=path)
            info = archive.getinfo(members[name])
            with archive.open(info) as stream:
                shape, fortran, dtype = _read_npy_header(stream, path=f"{path} (array {name!r})")
                header_bytes = stream.tell()
    except zipfile.BadZipFile as error:
        raise InputError(f"{path}: not a valid zip archive, which an .npz file is "
                         f"({_one_line(error)})") from None
    where = f"{path} (array {name!r})"
    dtype = _check_dtype(dtype, path=where)
    samples, dimensions = _matrix_shape(shape, path=where)
    _check_declared_bytes(samples, dimensions, dtype, info.file_size - header_bytes, path=where,
                          what="the zip member")
    if fortran and samples * dimensions * dtype.itemsize > whole_limit:
        raise InputError(f"{where}: a Fortran-order array larger than a quarter of --memory-budget "
                         "cannot be streamed from a zip; raise --memory-budget or save it in C order")
    read = partial(_zip_rows, path, info.filename, header_bytes=header_bytes,
                   shape=(samples, dimensions), dtype=dtype, fortran=fortran)
    return RowSource(path, "npz", samples, dimensions, dtype, read, key=name,
                     read_overhead=dimensions * dtype.itemsize)


def _zip_rows(path, member, rows, *, header_bytes, shape, dtype, fortran):
    """Chunks of a zip member's array, decompressed as they are read (never whole)."""
    samples, dimensions = shape
    with zipfile.ZipFile(path) as archive, archive.open(member) as stream:
        stream.read(header_bytes)
        if fortran:  # small (checked when opened): read whole, then hand out rows
            whole = np.empty((dimensions, samples), dtype=dtype)
            _read_exactly(stream, whole, path=path)
            for start in range(0, samples, rows):
                yield whole[:, start:start + rows].T
            return
        for start in range(0, samples, rows):
            block = np.empty((min(rows, samples - start), dimensions), dtype=dtype)
            _read_exactly(stream, block, path=path)
            yield block


def _choose_key(names, key, *, path):
    listed = ", ".join(repr(n) for n in names) or "none"
    if key is not None:
        if key not in names:
            raise InputError(f"{path}: no array named {key!r}; the file holds {listed}")
        return key
    if len(names) != 1:
        raise InputError(f"{path}: holds {len(names)} arrays ({listed}); choose one with --key")
    return names[0]


# --- safetensors -----------------------------------------------------------------------------

def _open_safetensors(path, key, whole_limit):
    size = os.path.getsize(path)
    with open(path, "rb") as stream:
        prefix = stream.read(8)
        if len(prefix) < 8:
            raise InputError(f"{path}: not a safetensors file (shorter than its 8-byte header length)")
        header_bytes = int.from_bytes(prefix, "little")
        if header_bytes > min(_MAX_HEADER_BYTES, size - 8):
            raise InputError(f"{path}: not a safetensors file (header length {header_bytes} is impossible)")
        try:
            header = json.loads(stream.read(header_bytes).decode("utf-8"))
        except RecursionError:
            raise InputError(f"{path}: not a safetensors file (its JSON header is nested too deeply)") \
                from None
        except (UnicodeDecodeError, ValueError):
            raise InputError(f"{path}: not a safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise InputError(f"{path}: not a safetensors file (its header is not a JSON object)")
    name = _choose_key([name for name in header if name != "__metadata__"], key, path=path)
    code, shape, begin = _safetensors_entry(header[name], where=f"{path}: tensor {name!r}",
                                            data_bytes=size - 8 - header_bytes)
    dtype = _check_dtype(_SAFETENSORS_DTYPES[code], path=f"{path} (tensor {name!r})")
    samples, dimensions = _matrix_shape(shape, path=f"{path} (tensor {name!r})")
    read = partial(_file_rows, path, offset=8 + header_bytes + begin, shape=(samples, dimensions),
                   dtype=dtype, fortran=False)
    if code == "BF16":  # bfloat16 is the upper half of a float32
        read, dtype = partial(_widen_bfloat16, read), np.dtype(np.float32)
    return RowSource(path, "safetensors", samples, dimensions, dtype, read, key=name)


def _safetensors_entry(entry, *, where, data_bytes):
    """``(dtype code, shape, begin)`` of a header entry, every field checked."""
    if not isinstance(entry, dict):
        raise InputError(f"{where}: its header entry is not a JSON object")
    code, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not isinstance(code, str) or code not in _SAFETENSORS_DTYPES:
        raise InputError(f"{where}: unsupported dtype {code!r}; expected one of "
                         f"{', '.join(_SAFETENSORS_DTYPES)}")
    if not isinstance(shape, list) or not all(_is_count(s) for s in shape):
        raise InputError(f"{where}: its shape {shape!r} is not a list of non-negative integers")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_count(o) for o in offsets)):
        raise InputError(f"{where}: its data_offsets {offsets!r} are not two non-negative integers")
    begin, end = offsets
    expected = math.prod(shape) * np.dtype(_SAFETENSORS_DTYPES[code]).itemsize
    if end - begin != expected or end > data_bytes:
        raise InputError(f"{where}: its offsets [{begin}, {end}] do not match its shape and dtype "
                         f"({expected} bytes) within the {data_bytes} bytes of data")
    return code, shape, begin


def _is_count(value) -> bool:
    return type(value) is int and value >= 0  # bool, float and str are refused


def _widen_bfloat16(read, rows):
    for block in read(rows):
        yield (block.astype(np.uint32) << 16).view(np.float32)


# --- non-finite values -----------------------------------------------------------------------

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
