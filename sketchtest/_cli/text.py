"""The text reader of ``sketchtest check`` (see :mod:`sketchtest._cli.readers`).

One line is one sample; comma, tab or whitespace separated; ``#`` starts a
comment. The first data line is a header of column names only when one of
its fields is not a number of any kind; complex values are refused, never
dropped. Lines are parsed a block at a time by :func:`numpy.loadtxt`.
"""

from __future__ import annotations

import itertools
import os
from functools import partial

import numpy as np

from sketchtest._cli.rows import InputError, RowSource, _matrix_shape

__all__ = ["open_text"]

_BOM = b"\xef\xbb\xbf"  # UTF-8 byte-order mark, dropped from the start of a file

def open_text(path, key, whole_limit):
    """The :class:`~sketchtest._cli.readers.RowSource` of a text file: at most one header row, then one
    sample per line."""
    first, samples = _scan_text(path)
    if first is None:
        raise InputError(f"{path}: no data (the file is empty or only comments)")
    delimiter = "," if "," in first else ("\t" if "\t" in first else None)
    fields = [field.strip() for field in (first.split(delimiter) if delimiter else first.split())]
    is_header = not all(_parses_as(float, f) for f in fields)
    if is_header and all(_parses_as(complex, f) for f in fields):
        bad = next(f for f in fields if not _parses_as(float, f))
        raise InputError(f"{path}: complex value {bad!r} in data row 0; expected real numbers")
    samples -= int(is_header)
    samples, dimensions = _matrix_shape((samples, len(fields)), path=path)
    line_bytes = os.path.getsize(path) // max(samples, 1) + 1
    read = partial(_text_rows, path, delimiter=delimiter, dimensions=dimensions, skip=int(is_header))
    return RowSource(path, "text", samples, dimensions, np.dtype(np.float64), read,
                     read_overhead=4 * line_bytes + 120)


def _scan_text(path):
    """The first data line (decoded) and the number of data lines (not blank, not only a comment)."""
    first, count = None, 0
    with open(path, "rb") as stream:
        for index, line in enumerate(stream):
            if index == 0 and line.startswith(_BOM):  # Excel's "CSV UTF-8" starts with one
                line = line[len(_BOM):]
            if line.split(b"#", 1)[0].strip():
                if first is None:
                    try:
                        first = line.decode("utf-8").split("#", 1)[0].strip()
                    except UnicodeDecodeError:
                        raise InputError(f"{path}: not a UTF-8 text file") from None
                count += 1
    return first, count


def _parses_as(kind, text) -> bool:
    try:
        kind(text.replace(" ", "")) if kind is complex else kind(text)
    except ValueError:
        return False
    return True


def _text_rows(path, rows, *, delimiter, dimensions, skip):
    """Blocks of `rows` data lines parsed as float64 (comments and blank lines skipped)."""
    with open(path, encoding="utf-8-sig") as stream:
        lines = (text for text in (line.split("#", 1)[0].strip() for line in stream) if text)
        for _ in range(skip):
            next(lines)
        start = 0
        while True:
            try:
                block = list(itertools.islice(lines, rows))
            except UnicodeDecodeError:
                raise InputError(f"{path}: not a UTF-8 text file") from None
            if not block:
                return
            yield _parse_lines(block, delimiter, dimensions, path=path, first_row=start)
            start += len(block)


def _parse_lines(block, delimiter, dimensions, *, path, first_row):
    try:
        values = np.loadtxt(block, delimiter=delimiter, ndmin=2, dtype=np.float64, comments=None)
    except ValueError:
        values = None
    if values is not None and values.shape[1] == dimensions:
        return values
    for offset, line in enumerate(block):  # name the first bad line and why
        fields = [f.strip() for f in (line.split(delimiter) if delimiter else line.split())]
        row = first_row + offset
        if len(fields) != dimensions:
            raise InputError(f"{path}: ragged data: data row {row} has {len(fields)} values, "
                             f"the first row {dimensions} (counting from 0)")
        for value in fields:
            if not _parses_as(float, value):
                what = "complex value" if _parses_as(complex, value) else "non-numeric value"
                raise InputError(f"{path}: {what} {value!r} in data row {row} (counting from 0); "
                                 "expected real numbers")
    raise InputError(f"{path}: cannot parse data rows {first_row} to {first_row + len(block) - 1}")
