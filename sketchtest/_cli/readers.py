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
from functools import partial

import numpy as np

from sketchtest._cli.rows import (
    InputError, LoadedArray, RowSource, _check_declared_bytes, _check_dtype, _choose_key, _file_rows,
    _is_count, _matrix_shape, _one_line, _read_exactly, _widen_bfloat16, count_nonfinite,
    describe_nonfinite, format_size, parse_size,
)

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
    note = ("read whole at each pass: a Fortran-order array in a zip archive cannot be read a "
            "chunk of rows at a time (a zip member is decompressed in order)") if fortran else None
    return RowSource(path, "npz", samples, dimensions, dtype, read, key=name,
                     read_overhead=dimensions * dtype.itemsize, note=note)


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






# --- non-finite values -----------------------------------------------------------------------





