"""The PyTorch reader of ``sketchtest check`` (see :mod:`sketchtest._cli.readers`).

``torch.load(weights_only=True, map_location="meta")`` gives the shape, dtype,
strides and file offset of a tensor without its data (nothing executed,
nothing allocated); the rows are then read from the file at that offset.
Anything but a plain dense float or integer tensor is refused.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from functools import partial

import numpy as np

from sketchtest._cli.rows import (
    InputError, RowSource, _check_dtype, _choose_key, _file_rows, _matrix_shape, _one_line,
    _widen_bfloat16,
)

__all__ = ["open_torch"]

_TORCH_DTYPES = {"float64": "<f8", "float32": "<f4", "float16": "<f2", "bfloat16": "<u2",
                 "int64": "<i8", "int32": "<i4", "int16": "<i2", "int8": "i1", "uint8": "u1",
                 "uint16": "<u2", "uint32": "<u4", "uint64": "<u8", "bool": "?"}


def open_torch(path, key, whole_limit):
    """The :class:`~sketchtest._cli.readers.RowSource` of a tensor in a ``.pt``/``.pth`` file."""
    try:
        import torch
    except ImportError:
        raise InputError(f"{path}: reading .pt/.pth files needs PyTorch (pip install torch, or from "
                         'a clone of sketchtest: pip install -c .ci/constraints.txt -e ".[torch]")') \
            from None
    legacy = not zipfile.is_zipfile(path)
    if legacy and os.path.getsize(path) > whole_limit:
        raise InputError(f"{path}: a legacy-format (non-zip) PyTorch file larger than a quarter of "
                         "--memory-budget cannot be streamed; raise --memory-budget or re-save it")
    try:  # on "meta": shapes, dtypes, strides and file offsets, no data
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch's deprecation notes
            loaded = torch.load(path, map_location="cpu" if legacy else "meta", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any refusal of the safe unpickler
        raise InputError(f"{path}: refused or unreadable as plain dense tensors (read with "
                         f"weights_only=True, nothing executed): {_one_line(error)}") from None
    name, tensor = _pick_tensor(torch, loaded, key, path=path)
    where = f"{path}: tensor {name!r}" if name is not None else f"{path}: the tensor"
    dtype = _torch_numpy_dtype(torch, tensor, where=where)
    samples, dimensions = _matrix_shape(tensor.shape, path=path)
    read, note = _torch_reader(torch, tensor, dtype, (samples, dimensions), path=path, where=where,
                               whole_limit=whole_limit, legacy=legacy)
    if tensor.dtype == torch.bfloat16:
        read, dtype = partial(_widen_bfloat16, read), np.dtype(np.float32)
    return RowSource(path, "torch", samples, dimensions, dtype, read, key=name, note=note)


def _pick_tensor(torch, loaded, key, *, path):
    if isinstance(loaded, dict):
        by_name = {str(k): v for k, v in loaded.items()}
        candidates = by_name if key is not None else [
            name for name, value in by_name.items() if isinstance(value, torch.Tensor)]
        name = _choose_key(list(candidates), key, path=path)
        if not isinstance(by_name[name], torch.Tensor):
            raise InputError(f"{path}: entry {name!r} is not a tensor")
        return name, by_name[name]
    if key is not None:
        raise InputError(f"{path}: holds a single tensor; --key does not apply")
    if not isinstance(loaded, torch.Tensor):
        raise InputError(f"{path}: holds a {type(loaded).__name__}, not a tensor or a dict of tensors")
    return None, loaded


def _torch_numpy_dtype(torch, tensor, *, where) -> np.dtype:
    if tensor.layout != torch.strided or tensor.is_nested or tensor.is_quantized:
        raise InputError(f"{where} is not a plain dense tensor (layout {tensor.layout}); "
                         "save a dense copy (.to_dense()) first")
    if tensor.is_complex():
        raise InputError(f"{where}: complex data ({tensor.dtype}); expected real numbers")
    code = _TORCH_DTYPES.get(str(tensor.dtype).removeprefix("torch."))
    if code is None:
        raise InputError(f"{where}: unsupported dtype {tensor.dtype}; expected a float or integer dtype")
    return _check_dtype(code, path=where)


def _torch_reader(torch, tensor, dtype, shape, *, path, where, whole_limit, legacy):
    """A chunk reader of the tensor's rows: from the file at its storage offset when it can;
    and, when it cannot, a note saying that the tensor is read whole, and why."""
    if legacy:  # already in memory (small: checked by the caller)
        values = tensor.detach().contiguous().reshape(shape)
        values = values.view(torch.int16) if tensor.dtype == torch.bfloat16 else values
        return partial(_array_rows, values.numpy().view(dtype)), (
            "loaded whole: a legacy-format (non-zip) PyTorch file can only be unpickled at once")
    storage = tensor.untyped_storage()
    file_offset = getattr(storage, "_checkpoint_offset", None)
    if file_offset is None:
        raise InputError(f"{where} holds no data (a tensor on the meta device)")
    storage_bytes = storage.nbytes()
    if file_offset + storage_bytes > os.path.getsize(path):
        raise InputError(f"{where}: its storage lies outside the file")
    strides = tuple(tensor.stride()) if tensor.dim() == 2 else (tensor.stride()[0], 1)
    last = tensor.storage_offset() + sum((n - 1) * s for n, s in zip(shape, strides))
    if min(strides) < 0 or (last + 1) * dtype.itemsize > storage_bytes:
        raise InputError(f"{where}: its strides reach outside its storage")
    start = file_offset + tensor.storage_offset() * dtype.itemsize
    if strides == (shape[1], 1) or shape[1] == 1 and strides[0] == 1:
        return partial(_file_rows, path, offset=start, shape=shape, dtype=dtype, fortran=False), None
    if storage_bytes > whole_limit:
        raise InputError(f"{where}: a non-contiguous tensor larger than a quarter of --memory-budget "
                         "cannot be streamed; save a .contiguous() copy or raise --memory-budget")
    whole = np.fromfile(path, dtype=dtype, count=storage_bytes // dtype.itemsize, offset=file_offset)
    view = np.lib.stride_tricks.as_strided(
        whole[tensor.storage_offset():], shape=shape, strides=[s * dtype.itemsize for s in strides],
        writeable=False)
    return partial(_array_rows, view), ("loaded whole: the tensor is not contiguous (its rows are "
                                        "not consecutive in the file)")


def _array_rows(array, rows):
    for start in range(0, array.shape[0], rows):
        yield np.array(array[start:start + rows])
