"""The safe file readers of ``sketchtest check`` (sketchtest._io).

Real files of every format are written with their own libraries (NumPy,
torch.save, safetensors) and read back; hostile files carry a payload that
would create a marker file if anything in them were executed.
"""

from __future__ import annotations

import json
import pathlib
import pickle

import numpy as np
import pytest

from sketchtest._io import InputError, load_samples, parse_size


def _samples(shape=(50, 3), seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


class _Payload:
    """Unpickling this object creates the file `marker`: code that must never run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


# --- formats that read ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_npy_round_trip(tmp_path, dtype):
    x = (_samples() * 10).astype(dtype)
    np.save(tmp_path / "x.npy", x)
    loaded = load_samples(tmp_path / "x.npy")
    assert (loaded.samples, loaded.dimensions, loaded.format) == (50, 3, "npy")
    np.testing.assert_array_equal(loaded.data, x.astype(np.float64 if dtype == np.int64 else dtype))
    assert not loaded.streamed


def test_vector_becomes_one_column(tmp_path):
    np.save(tmp_path / "v.npy", np.arange(7.0))
    assert load_samples(tmp_path / "v.npy").data.shape == (7, 1)


def test_large_npy_is_memory_mapped(tmp_path):
    x = _samples((200, 4))
    np.save(tmp_path / "big.npy", x)
    loaded = load_samples(tmp_path / "big.npy", memory_budget=1024)
    assert loaded.streamed and isinstance(loaded.data, np.memmap)
    np.testing.assert_array_equal(np.asarray(loaded.data), x)


def test_npz_single_and_keyed(tmp_path):
    x, y = _samples(), _samples(seed=1)
    np.savez(tmp_path / "one.npz", embeddings=x)
    np.testing.assert_array_equal(load_samples(tmp_path / "one.npz").data, x)
    np.savez(tmp_path / "two.npz", a=x, b=y)
    np.testing.assert_array_equal(load_samples(tmp_path / "two.npz", key="b").data, y)
    with pytest.raises(InputError, match="holds 2 arrays.*--key"):
        load_samples(tmp_path / "two.npz")
    with pytest.raises(InputError, match="no array named 'c'.*'a', 'b'"):
        load_samples(tmp_path / "two.npz", key="c")


def test_torch_tensor_and_dict(tmp_path):
    torch = pytest.importorskip("torch")
    x = _samples()
    torch.save(torch.as_tensor(x), tmp_path / "t.pt")
    np.testing.assert_array_equal(load_samples(tmp_path / "t.pt").data, x)
    torch.save({"z": torch.as_tensor(x, dtype=torch.bfloat16), "step": 3}, tmp_path / "d.pth")
    loaded = load_samples(tmp_path / "d.pth")  # the only tensor is chosen without --key
    assert loaded.data.dtype == np.float32
    np.testing.assert_allclose(loaded.data, x, rtol=2**-8)  # bfloat16 keeps 8 bits
    with pytest.raises(InputError, match="entry 'step' is not a tensor"):
        load_samples(tmp_path / "d.pth", key="step")


def test_safetensors_written_by_the_library(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    x, y = _samples(), _samples(seed=1).astype(np.float32)
    safetensors_numpy.save_file({"x": x, "y": y}, str(tmp_path / "s.safetensors"))
    np.testing.assert_array_equal(load_samples(tmp_path / "s.safetensors", key="x").data, x)
    np.testing.assert_array_equal(load_samples(tmp_path / "s.safetensors", key="y").data, y)
    with pytest.raises(InputError, match="choose one with --key"):
        load_samples(tmp_path / "s.safetensors")


def test_safetensors_bfloat16_from_torch(tmp_path):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    tensor = torch.as_tensor(_samples(), dtype=torch.bfloat16)
    safetensors_torch.save_file({"z": tensor}, str(tmp_path / "b.safetensors"))
    loaded = load_samples(tmp_path / "b.safetensors")
    np.testing.assert_array_equal(loaded.data, tensor.float().numpy())


@pytest.mark.parametrize("header", [b"\xff" * 8, (40).to_bytes(8, "little") + b"not json" * 5,
                                    (2).to_bytes(8, "little") + b"[]"])
def test_malformed_safetensors(tmp_path, header):
    (tmp_path / "bad.safetensors").write_bytes(header)
    with pytest.raises(InputError, match="not a safetensors file"):
        load_samples(tmp_path / "bad.safetensors")


def test_safetensors_offsets_outside_the_file(tmp_path):
    header = json.dumps({"x": {"dtype": "F64", "shape": [10, 2], "data_offsets": [0, 160]}}).encode()
    (tmp_path / "short.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 8)
    with pytest.raises(InputError, match="offsets do not match"):
        load_samples(tmp_path / "short.safetensors")


def test_csv_with_header_and_txt_without(tmp_path):
    x = np.round(_samples((6, 2)), 6)
    (tmp_path / "x.csv").write_text("a,b\n" + "\n".join(f"{u},{v}" for u, v in x))
    np.testing.assert_array_equal(load_samples(tmp_path / "x.csv").data, x)
    (tmp_path / "x.txt").write_text("# comment\n" + "\n".join(f"{u} {v}" for u, v in x))
    np.testing.assert_array_equal(load_samples(tmp_path / "x.txt").data, x)


# --- hostile files: refused, and nothing in them runs ----------------------------------------

def test_pickled_object_npy_is_refused_without_running(tmp_path):
    marker = tmp_path / "ran"
    np.save(tmp_path / "evil.npy", np.array([_Payload(marker), 1.0], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="pickled Python objects"):
        load_samples(tmp_path / "evil.npy")
    assert not marker.exists()
    np.load(tmp_path / "evil.npy", allow_pickle=True)  # the payload is real: unsafe loading runs it
    assert marker.exists()


def test_pickled_object_inside_npz_is_refused(tmp_path):
    marker = tmp_path / "ran"
    np.savez(tmp_path / "evil.npz", x=np.array([_Payload(marker)], dtype=object))
    with pytest.raises(InputError, match="pickled Python objects"):
        load_samples(tmp_path / "evil.npz")
    assert not marker.exists()


def test_plain_pickle_named_npy_is_refused(tmp_path):
    marker = tmp_path / "ran"
    (tmp_path / "evil.npy").write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(InputError, match="pickled"):
        load_samples(tmp_path / "evil.npy")
    assert not marker.exists()


def test_torch_file_whose_pickle_runs_code_is_refused(tmp_path):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "ran"
    torch.save({"z": torch.zeros(4, 2), "payload": _Payload(marker)}, tmp_path / "evil.pt")
    with pytest.raises(InputError, match="weights_only=True"):
        load_samples(tmp_path / "evil.pt", key="z")
    assert not marker.exists()
    torch.load(tmp_path / "evil.pt", weights_only=False)  # the payload is real
    assert marker.exists()


# --- input errors -----------------------------------------------------------------------------

def test_missing_file_directory_and_unknown_type(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_samples(tmp_path / "absent.npy")
    with pytest.raises(InputError, match="is a directory"):
        load_samples(tmp_path)
    (tmp_path / "x.xlsx").write_text("1")
    with pytest.raises(InputError, match="unknown file type '.xlsx'"):
        load_samples(tmp_path / "x.xlsx")


def test_unreadable_npy(tmp_path):
    (tmp_path / "garbage.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(InputError, match="garbage.npy"):
        load_samples(tmp_path / "garbage.npy")


@pytest.mark.parametrize("array, message", [
    (np.array(["a", "b", "c"]), "non-numeric data"),
    (np.zeros(3, dtype=[("u", "f8"), ("v", "f8")]), "non-numeric data"),
    (np.ones((3, 2), dtype=np.complex128), "complex data"),
    (np.zeros((2, 2, 2)), r"expected an \(N, D\) or \(N,\) array; got shape \(2, 2, 2\)"),
    (np.zeros((1, 4)), "at least 2 samples; got 1"),
    (np.zeros((5, 0)), "no dimensions"),
])
def test_arrays_that_cannot_be_checked(tmp_path, array, message):
    np.save(tmp_path / "x.npy", array)
    with pytest.raises(InputError, match=message):
        load_samples(tmp_path / "x.npy")


def test_nan_and_inf_counted_and_located(tmp_path):
    x = _samples((10, 3))
    x[2, 1] = np.nan
    x[7, 0] = np.nan
    x[4, 2] = -np.inf
    np.save(tmp_path / "x.npy", x)
    with pytest.raises(InputError, match=r"2 NaN and 1 -inf value\(s\).*\(row 2, column 1\), "
                                         r"\(row 4, column 2\), \(row 7, column 0\)"):
        load_samples(tmp_path / "x.npy")


def test_non_numeric_csv_cell(tmp_path):
    (tmp_path / "x.csv").write_text("1,2\n3,oops\n5,6\n")
    with pytest.raises(InputError, match="non-numeric.*oops"):
        load_samples(tmp_path / "x.csv")


def test_key_on_a_format_without_keys(tmp_path):
    np.save(tmp_path / "x.npy", _samples())
    with pytest.raises(InputError, match="--key applies to"):
        load_samples(tmp_path / "x.npy", key="x")


def test_parse_size():
    assert parse_size("1K") == 1024
    assert parse_size("1.5GB") == 3 * 2**29
    assert parse_size("64MiB") == 64 * 2**20
    with pytest.raises(InputError, match="memory-budget"):
        parse_size("lots")
    with pytest.raises(InputError, match="positive"):
        parse_size("0")
