"""Safe readers of sample arrays for the command line.

Nothing in a file is ever executed: ``.npy``/``.npz`` are read with
``allow_pickle=False``, PyTorch files with ``torch.load(weights_only=True)``,
``.safetensors`` by a small reader of its documented layout (an 8-byte header
length, a JSON header, raw little-endian data), text files by
:func:`numpy.loadtxt`. Every problem raises :class:`InputError` with one line
that says what is wrong and where.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

__all__ = ["InputError", "LoadedArray", "load_samples", "parse_size", "check_samples",
           "count_nonfinite"]

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


@dataclass
class LoadedArray:
    """Samples read from a file: `data` is ``(N, D)`` (a memory map when `streamed`)."""

    data: np.ndarray
    path: str
    format: str
    key: str | None = None
    streamed: bool = False

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
        value = float(number)
    except ValueError:
        raise InputError(f"--memory-budget: cannot read a size from {text!r} (e.g. 512M, 2G)") from None
    if not value > 0:
        raise InputError(f"--memory-budget must be positive; got {text!r}")
    return int(value * units[unit])


def load_samples(path, *, key=None, memory_budget=2**30) -> LoadedArray:
    """Read an ``(N, D)`` or ``(N,)`` array from `path` without executing anything in it.

    A ``.npy`` file larger than `memory_budget` bytes is memory-mapped (and
    checked later, chunk by chunk, by the streaming path); every other input is
    read into memory and checked here by :func:`check_samples`.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(path, np.zeros((5, 3)))
    >>> loaded = load_samples(path)
    >>> loaded.samples, loaded.dimensions, loaded.format
    (5, 3, 'npy')
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, not a file")
    extension = os.path.splitext(path)[1].lower()
    kind = FORMATS.get(extension)
    if kind is None:
        known = ", ".join(sorted(FORMATS))
        raise InputError(f"{path}: unknown file type {extension or '(none)'!r}; expected one of {known}")
    if key is not None and kind not in ("npz", "torch", "safetensors"):
        raise InputError(f"--key applies to .npz, .pt/.pth and .safetensors files, not {extension}")
    streamed = kind == "npy" and os.path.getsize(path) > memory_budget
    try:
        reader = _READERS[kind]
        data = reader(path, key, streamed) if kind == "npy" else reader(path, key)
    except InputError:
        raise
    except (OSError, EOFError) as error:
        raise InputError(f"{path}: cannot read the file: {_one_line(error)}") from None
    data = _as_samples_matrix(data, path=path)
    if not streamed:
        data = check_samples(data, path=path)
    return LoadedArray(data=data, path=path, format=kind, key=key, streamed=streamed)


def _read_npy(path, key, streamed):
    try:
        loaded = np.load(path, allow_pickle=False, mmap_mode="r" if streamed else None)
    except ValueError as error:
        raise InputError(f"{path}: refused: {_pickle_message(error)}") from None
    if isinstance(loaded, np.lib.npyio.NpzFile):  # a zip archive under a .npy name
        with loaded:
            return _pick_npz_member(loaded, path=path, key=key)
    return loaded


def _read_npz(path, key):
    try:
        archive = np.load(path, allow_pickle=False)
    except ValueError as error:
        raise InputError(f"{path}: refused: {_pickle_message(error)}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        return archive
    with archive:
        return _pick_npz_member(archive, path=path, key=key)


def _pick_npz_member(archive, *, path, key):
    names = list(archive.files)
    name = _choose_key(names, key, path=path)
    try:
        return archive[name]
    except ValueError as error:
        raise InputError(f"{path}: refused array {name!r}: {_pickle_message(error)}") from None


def _choose_key(names, key, *, path):
    listed = ", ".join(repr(n) for n in names) or "none"
    if key is not None:
        if key not in names:
            raise InputError(f"{path}: no array named {key!r}; the file holds {listed}")
        return key
    if len(names) != 1:
        raise InputError(f"{path}: holds {len(names)} arrays ({listed}); choose one with --key")
    return names[0]


def _read_torch(path, key):
    try:
        import torch
    except ImportError:
        raise InputError(f"{path}: reading .pt/.pth files needs PyTorch (pip install torch)") from None
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any refusal of the safe unpickler
        raise InputError(f"{path}: refused or unreadable (read with weights_only=True, "
                         f"nothing executed): {_one_line(error)}") from None
    if isinstance(loaded, dict):
        by_name = {str(k): v for k, v in loaded.items()}
        candidates = by_name if key is not None else [
            name for name, value in by_name.items() if isinstance(value, torch.Tensor)]
        name = _choose_key(list(candidates), key, path=path)
        loaded = by_name[name]
        if not isinstance(loaded, torch.Tensor):
            raise InputError(f"{path}: entry {name!r} is not a tensor")
    elif key is not None:
        raise InputError(f"{path}: holds a single tensor; --key does not apply")
    if not isinstance(loaded, torch.Tensor):
        raise InputError(f"{path}: holds a {type(loaded).__name__}, not a tensor or a dict of tensors")
    if loaded.is_complex():
        raise InputError(f"{path}: complex data ({loaded.dtype}); expected real numbers")
    if loaded.is_floating_point() and loaded.dtype not in (torch.float32, torch.float64):
        loaded = loaded.to(torch.float32)  # bfloat16 and float16: NumPy lacks bfloat16
    return loaded.detach().contiguous().numpy()


def _read_safetensors(path, key):
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
        except (UnicodeDecodeError, ValueError):
            raise InputError(f"{path}: not a safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise InputError(f"{path}: not a safetensors file (its header is not a JSON object)")
    names = [name for name in header if name != "__metadata__"]
    name = _choose_key(names, key, path=path)
    return _read_safetensors_entry(path, header[name], name=name, data_start=8 + header_bytes,
                                   size=size)


def _read_safetensors_entry(path, entry, *, name, data_start, size):
    try:
        code, shape, (begin, end) = entry["dtype"], tuple(entry["shape"]), entry["data_offsets"]
        shape = tuple(int(s) for s in shape)
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{path}: tensor {name!r} has a malformed header entry") from None
    if code not in _SAFETENSORS_DTYPES:
        raise InputError(f"{path}: tensor {name!r} has unsupported dtype {code}")
    dtype = np.dtype(_SAFETENSORS_DTYPES[code])
    count = int(np.prod(shape, dtype=np.int64))
    if end - begin != count * dtype.itemsize or begin < 0 or data_start + end > size:
        raise InputError(f"{path}: tensor {name!r}: its offsets do not match its shape and dtype")
    values = np.fromfile(path, dtype=dtype, count=count, offset=data_start + begin)
    if code == "BF16":  # bfloat16 is the upper half of a float32
        values = (values.astype(np.uint32) << 16).view(np.float32)
    return values.reshape(shape)


def _read_text(path, key):
    first = _first_data_line(path)
    if first is None:
        raise InputError(f"{path}: no data (the file is empty or only comments)")
    delimiter = "," if "," in first else ("\t" if "\t" in first else None)
    fields = first.split(delimiter) if delimiter else first.split()
    skip = 0 if _all_numbers(fields) else 1  # one header row of column names
    try:
        return np.loadtxt(path, delimiter=delimiter, skiprows=skip, ndmin=1, dtype=np.float64,
                          comments="#")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file") from None
    except ValueError as error:
        raise InputError(f"{path}: non-numeric or ragged data: {_one_line(error)}") from None


def _first_data_line(path):
    with open(path, encoding="utf-8", errors="replace") as stream:
        for line in stream:
            stripped = line.split("#", 1)[0].strip()
            if stripped:
                return stripped
    return None


def _all_numbers(fields) -> bool:
    try:
        [float(field) for field in fields]
    except ValueError:
        return False
    return True


_READERS = {"npy": _read_npy, "npz": _read_npz, "torch": _read_torch,
            "safetensors": _read_safetensors, "text": _read_text}


def _as_samples_matrix(data, *, path):
    data = data if isinstance(data, np.ndarray) else np.asarray(data)
    kind = data.dtype.kind
    if kind == "c":
        raise InputError(f"{path}: complex data ({data.dtype}); expected real numbers")
    if kind not in "biuf" or data.dtype.fields is not None:
        raise InputError(f"{path}: non-numeric data (dtype {data.dtype}); expected real numbers")
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2:
        raise InputError(f"{path}: expected an (N, D) or (N,) array; got shape {tuple(data.shape)}")
    if data.shape[1] == 0:
        raise InputError(f"{path}: the array has no dimensions (shape {tuple(data.shape)})")
    if data.shape[0] < 2:
        raise InputError(f"{path}: needs at least 2 samples; got {data.shape[0]}")
    return data


def check_samples(data, *, path, row_offset=0):
    """Return `data` as float32/float64, or raise if it holds NaN or infinite values."""
    if data.dtype.kind != "f" or data.dtype == np.float16:
        data = data.astype(np.float32 if data.dtype == np.float16 else np.float64)
    counts, first = count_nonfinite(data, row_offset=row_offset)
    if sum(counts.values()):
        raise InputError(f"{path}: {describe_nonfinite(counts, first)}")
    return data


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


def _pickle_message(error) -> str:
    text = _one_line(error)
    if "pickle" in text.lower() or "object arrays" in text.lower():
        return f"the file holds pickled Python objects, which are never loaded ({text})"
    return text


def _one_line(error) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
