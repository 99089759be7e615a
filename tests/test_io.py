"""The safe file readers of ``sketchtest check`` (sketchtest._cli.readers).

Real files of every format are written with their own libraries (NumPy,
torch.save, safetensors) and read back; hostile files carry a payload that
would create a marker file if anything in them were executed.
"""

from __future__ import annotations

import json
import pathlib
import os
import pickle
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sketchtest._cli.readers import InputError, load_samples, open_samples, parse_size


def _samples(shape=(50, 3), seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


class _Payload:
    """Unpickling this object creates the file `marker`: code that must never run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


# --- formats that read ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, ">f8", np.float16])
def test_npy_round_trip(tmp_path, dtype):
    x = (_samples() * 10).astype(dtype)
    np.save(tmp_path / "x.npy", x)
    loaded = load_samples(tmp_path / "x.npy")
    assert (loaded.samples, loaded.dimensions, loaded.format) == (50, 3, "npy")
    expected = np.float32 if np.dtype(dtype) in (np.float16, np.float32) else np.float64
    assert loaded.data.dtype == expected
    np.testing.assert_array_equal(loaded.data, x.astype(expected))


def test_vector_becomes_one_column(tmp_path):
    np.save(tmp_path / "v.npy", np.arange(7.0))
    assert load_samples(tmp_path / "v.npy").data.shape == (7, 1)


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
    with pytest.raises(InputError, match=r"offsets \[0, 160\] do not match.*8 bytes of data"):
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
    (np.ones((5, 2), dtype=bool), "boolean data"),
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
    for text in ("0", "0.5", "-1G", "inf", "nan", "-inf", "1e400"):
        with pytest.raises(InputError, match="finite size of at least 1 byte"):
            parse_size(text)


@given(st.text(max_size=12))
@settings(max_examples=200, deadline=None)
def test_parse_size_is_a_positive_int_or_an_input_error(text):
    try:
        size = parse_size(text)
    except InputError:
        return
    assert type(size) is int and size >= 1


# --- chunked reading: every format, every layout, any chunk size ------------------------------

def _write_layouts(x, folder):
    """`x` saved in every layout the readers stream: {path: key}."""
    paths = {folder / "c.npy": None, folder / "f.npy": None, folder / "z.npz": "x",
             folder / "fz.npz": None, folder / "t.csv": None}
    np.save(folder / "c.npy", x)
    np.save(folder / "f.npy", np.asfortranarray(x))
    np.savez_compressed(folder / "z.npz", x=x, other=x[:2])
    np.savez(folder / "fz.npz", np.asfortranarray(x))
    np.savetxt(folder / "t.csv", x, delimiter=",", fmt="%.17g", header="a,b,c", comments="")
    try:
        import torch
        from safetensors.numpy import save_file
    except ImportError:
        return paths
    save_file({"x": x}, str(folder / "s.safetensors"))
    wide = torch.as_tensor(np.concatenate([x, x], axis=1))
    torch.save({"x": torch.as_tensor(x), "y": wide[:, ::2], "z": torch.as_tensor(x)[1:]},
               folder / "t.pt")
    paths.update({folder / "s.safetensors": None, folder / "t.pt": "x"})
    return paths


@given(rows=st.integers(1, 40))
@settings(max_examples=15, deadline=None)
def test_chunks_of_any_size_give_the_same_rows(tmp_path_factory, rows):
    folder = tmp_path_factory.mktemp("layouts")
    x = _samples((37, 3), seed=rows)
    for path, key in _write_layouts(x, folder).items():
        source = open_samples(path, key=key)
        chunks = list(source.chunks(rows))
        assert [start for start, _ in chunks] == list(range(0, 37, rows)), path
        np.testing.assert_array_equal(np.concatenate([c for _, c in chunks]), x, err_msg=str(path))


def test_torch_views_are_read_at_their_offsets_and_strides(tmp_path):
    torch = pytest.importorskip("torch")
    x = _samples((20, 6))
    torch.save({"every_other": torch.as_tensor(x)[:, ::2], "tail": torch.as_tensor(x)[5:],
                "transposed": torch.as_tensor(x).T}, tmp_path / "v.pt")
    np.testing.assert_array_equal(load_samples(tmp_path / "v.pt", key="every_other").data, x[:, ::2])
    np.testing.assert_array_equal(load_samples(tmp_path / "v.pt", key="tail").data, x[5:])
    np.testing.assert_array_equal(load_samples(tmp_path / "v.pt", key="transposed").data, x.T)


# --- files that must be refused before anything is allocated or blocks ------------------------

def test_fifo_is_refused_without_opening(tmp_path):
    os.mkfifo(tmp_path / "pipe.npy")  # opening it for reading would block forever
    with pytest.raises(InputError, match="not a regular file"):
        open_samples(tmp_path / "pipe.npy")


@pytest.mark.parametrize("shape", [(10**12,), (10**6, 10**6), (2**62, 4)])
def test_npy_header_claiming_more_than_the_file(tmp_path, shape):
    with open(tmp_path / "huge.npy", "wb") as stream:
        np.lib.format.write_array_header_2_0(
            stream, {"descr": "<f8", "fortran_order": False, "shape": shape})
        stream.write(b"\0" * 64)
    with pytest.raises(InputError, match="header declares .* but the file holds"):
        open_samples(tmp_path / "huge.npy")


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04" + b"\0" * 40])
def test_npz_that_is_not_a_zip(tmp_path, content):
    (tmp_path / "x.npz").write_bytes(content)
    with pytest.raises(InputError, match="x.npz"):
        open_samples(tmp_path / "x.npz")


def test_npz_member_claiming_more_than_it_holds(tmp_path):
    """A zip bomb's shape: a tiny member whose header declares 8 TB of zeros."""
    import io

    member = io.BytesIO()
    np.lib.format.write_array_header_2_0(
        member, {"descr": "<f8", "fortran_order": False, "shape": (10**12, 1)})
    member.write(b"\0" * 4096)
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x.npy", member.getvalue())
    with pytest.raises(InputError, match="declares .* but the zip member holds"):
        open_samples(tmp_path / "bomb.npz")


def test_npz_member_is_decompressed_in_chunks(tmp_path):
    """A highly compressible member is read a chunk at a time, never whole."""
    x = np.zeros((200_000, 4))
    x[::7] = 1.0
    np.savez_compressed(tmp_path / "z.npz", x=x)
    assert os.path.getsize(tmp_path / "z.npz") < x.nbytes // 50
    source = open_samples(tmp_path / "z.npz")
    sizes = {chunk.shape[0] for _, chunk in source.chunks(1000)}
    assert sizes == {1000}


_BAD_SAFETENSORS_ENTRIES = [
    {"dtype": "F64", "shape": [4, 2], "data_offsets": ["0", "64"]},
    {"dtype": "F64", "shape": [4, 2], "data_offsets": [0.0, 64.0]},
    {"dtype": "F64", "shape": [4, 2], "data_offsets": [False, True]},
    {"dtype": "F64", "shape": [4, 2], "data_offsets": [0]},
    {"dtype": "F64", "shape": [4, 2], "data_offsets": [-64, 0]},
    {"dtype": "F64", "shape": [4, 2], "data_offsets": [0, 10**30]},
    {"dtype": "F64", "shape": [-4, -2], "data_offsets": [0, 64]},
    {"dtype": "F64", "shape": [4.5, 2], "data_offsets": [0, 64]},
    {"dtype": "F64", "shape": ["4", 2], "data_offsets": [0, 64]},
    {"dtype": "F64", "shape": [True, 2], "data_offsets": [0, 16]},
    {"dtype": "F64", "shape": 8, "data_offsets": [0, 64]},
    {"dtype": 64, "shape": [4, 2], "data_offsets": [0, 64]},
    {"dtype": "C64", "shape": [4, 2], "data_offsets": [0, 64]},
    {"dtype": "F64", "shape": [4, 2]},
    [1, 2, 3],
]


@pytest.mark.parametrize("entry", _BAD_SAFETENSORS_ENTRIES)
def test_malformed_safetensors_entries(tmp_path, entry):
    header = json.dumps({"x": entry}).encode()
    (tmp_path / "bad.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 64)
    with pytest.raises(InputError, match="tensor 'x'"):
        open_samples(tmp_path / "bad.safetensors")


def test_deeply_nested_safetensors_header(tmp_path):
    header = b'{"x": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    (tmp_path / "deep.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    with pytest.raises(InputError, match="not a safetensors file"):
        open_samples(tmp_path / "deep.safetensors")


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=4),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children,
                                                                         max_size=3),
    max_leaves=8)


@given(dtype=st.sampled_from(["F64", "F32", "BF16", "I8"]) | _JSON_VALUES,
       shape=st.lists(st.integers(-3, 6), max_size=3) | _JSON_VALUES,
       offsets=st.lists(st.integers(-8, 600), min_size=2, max_size=2) | _JSON_VALUES)
@settings(max_examples=150, deadline=None)
def test_any_safetensors_header_reads_or_is_an_input_error(tmp_path_factory, dtype, shape, offsets):
    header = json.dumps({"x": {"dtype": dtype, "shape": shape, "data_offsets": offsets}}).encode()
    path = tmp_path_factory.mktemp("st") / "x.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + bytes(range(256)) * 2)
    try:
        loaded = load_samples(path)
    except InputError as error:
        assert "\n" not in str(error)
        return
    assert loaded.samples >= 2 and loaded.dimensions >= 1


@pytest.mark.parametrize("make, message", [
    (lambda torch: torch.randn(6, 3).to_sparse(), "not a plain dense tensor"),
    (lambda torch: torch.randn(6, 3).to_sparse_csr(), "not a plain dense tensor"),
    (lambda torch: torch.nested.nested_tensor([torch.randn(2, 3), torch.randn(4, 3)]),
     "plain dense tensors"),
    (lambda torch: torch.quantize_per_tensor(torch.randn(6, 3), 0.1, 0, torch.qint8),
     "plain dense tensors"),
    (lambda torch: torch.empty(6, 3, device="meta"), "holds no data"),
    (lambda torch: torch.randn(6, 3, dtype=torch.complex64), "complex data"),
    (lambda torch: torch.randn(6, 3).to(torch.float8_e4m3fn), "unsupported dtype"),
    (lambda torch: torch.ones(6, 3, dtype=torch.bool), "boolean data"),
])
def test_torch_tensors_that_are_not_plain_dense_arrays(tmp_path, make, message):
    torch = pytest.importorskip("torch")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nested tensors are a prototype
        torch.save({"x": make(torch)}, tmp_path / "odd.pt")
    with pytest.raises(InputError, match=message):
        open_samples(tmp_path / "odd.pt")


# --- text files: one row is one sample; complex values are refused, never dropped ------------

def test_one_row_csv_is_one_sample_like_npy(tmp_path):
    (tmp_path / "row.csv").write_text("0.1,0.2,0.3,0.4\n")
    np.save(tmp_path / "row.npy", np.array([[0.1, 0.2, 0.3, 0.4]]))
    for name in ("row.csv", "row.npy"):
        with pytest.raises(InputError, match="at least 2 samples; got 1"):
            open_samples(tmp_path / name)


def test_one_column_csv_is_n_samples(tmp_path):
    (tmp_path / "column.csv").write_text("x\n1\n2\n3\n")
    assert load_samples(tmp_path / "column.csv").data.tolist() == [[1.0], [2.0], [3.0]]


@pytest.mark.parametrize("text, row", [
    ("1+2j,3\n4,5\n6,7\n", 0), ("(1+2j),3\n4,5\n6,7\n", 0), ("a,b\n1,2\n3,4j\n5,6\n", 1),
    ("1,2\n3,4\n5,6-1j\n", 2),
])
def test_complex_values_are_refused_not_dropped(tmp_path, text, row):
    (tmp_path / "c.csv").write_text(text)
    with pytest.raises(InputError, match=f"complex value .* in data row {row}"):
        load_samples(tmp_path / "c.csv")


_NUMBER_TEXT = st.one_of(
    st.integers(-10**6, 10**6).map(str),
    st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda v: f"{v:.3e}"),
)


@given(first=st.lists(_NUMBER_TEXT, min_size=1, max_size=4), delimiter=st.sampled_from([",", "\t", " "]))
@settings(max_examples=60, deadline=None)
def test_a_numeric_first_row_is_never_taken_for_a_header(tmp_path_factory, first, delimiter):
    second = ["0.5"] * len(first)
    path = tmp_path_factory.mktemp("csv") / ("x.csv" if delimiter == "," else "x.txt")
    path.write_text(delimiter.join(first) + "\n" + delimiter.join(second) + "\n")
    data = load_samples(path).data
    np.testing.assert_array_equal(data, np.array([[float(v) for v in first], [0.5] * len(first)]))


def test_ragged_text_names_the_row(tmp_path):
    (tmp_path / "r.csv").write_text("1,2\n3,4\n5\n")
    with pytest.raises(InputError, match="ragged data: data row 2 has 1 values"):
        load_samples(tmp_path / "r.csv")


def test_legacy_torch_files_are_read_when_small_and_refused_when_large(tmp_path):
    torch = pytest.importorskip("torch")
    x = torch.as_tensor(_samples((20, 3)))
    torch.save({"x": x, "b": x.bfloat16()}, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    np.testing.assert_array_equal(load_samples(tmp_path / "old.pt", key="x").data, x.numpy())
    np.testing.assert_array_equal(load_samples(tmp_path / "old.pt", key="b").data,
                                  x.bfloat16().float().numpy())
    with pytest.raises(InputError, match="legacy-format .* --memory-budget"):
        open_samples(tmp_path / "old.pt", key="x", memory_budget=1000)
