"""The embedding monitor (torch class, JAX functions) against NumPy on the same embeddings.

Reference values are computed here with NumPy from their definitions:
``np.cov``, ``np.linalg.eigvalsh``, the Marchenko-Pastur edges
:math:`(1 \\pm \\sqrt{D/n})^2`, the entropy effective rank, and LeJEPA's
SIGReg formula written out (``N * sum_j w_j [(mean cos - e^{-t^2/2})^2 + mean sin^2]``,
averaged over slices, trapezoid weights doubled for the half line).
"""

from __future__ import annotations

import socket

import numpy as np
import pytest

import sketchtest as st
from sketchtest._losses.monitor import monitor_directions

torch = pytest.importorskip("torch")
from sketchtest.torch import EmbeddingMonitor, monitor_fields  # noqa: E402

DIM, BATCHES, ROWS = 6, 3, 50


def embeddings(seed=0, shift=0.5) -> np.ndarray:
    """Anisotropic, shifted rows: (BATCHES, ROWS, DIM)."""
    rng = np.random.default_rng(seed)
    scales = np.linspace(0.3, 2.0, DIM)
    return rng.standard_normal((BATCHES, ROWS, DIM)) * scales + shift


def numpy_reference(rows: np.ndarray, directions: np.ndarray) -> dict:
    """Every statistic from its definition, in float64."""
    n, dim = rows.shape
    eigenvalues = np.linalg.eigvalsh(np.cov(rows, rowvar=False))
    weights = eigenvalues / eigenvalues.sum()
    t = np.linspace(0.0, 3.0, 17)
    quadrature = np.full(17, 3.0 / 16) * np.r_[0.5, np.ones(15), 0.5] * 2.0 * np.exp(-(t**2) / 2)
    angles = (rows @ directions)[:, None, :] * t[:, None]
    error = (np.cos(angles).mean(0) - np.exp(-(t**2) / 2)[:, None]) ** 2 + np.sin(angles).mean(0) ** 2
    sigreg = float(np.mean(n * (quadrature[:, None] * error).sum(0)))
    return {
        "count": n,
        "mean_norm": float(np.linalg.norm(rows.mean(0))),
        "eig_max": eigenvalues.max(),
        "eig_min": eigenvalues.min(),
        "spread": eigenvalues.max() / eigenvalues.min(),
        "mp_low": (1 - np.sqrt(dim / n)) ** 2,
        "mp_high": (1 + np.sqrt(dim / n)) ** 2,
        "effective_rank": float(np.exp(-(weights * np.log(weights)).sum())),
        "sigreg": sigreg,
        "sigreg_pvalue": float(st.sigreg_pvalue(sigreg, directions=directions)),
    }


def assert_matches(stats: dict, expected: dict, rtol: float) -> None:
    assert set(stats) == set(monitor_fields()) == set(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(stats[key], value, rtol=rtol, atol=0, err_msg=key)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_torch_monitor_matches_numpy_over_several_steps(dtype):
    data = embeddings()
    monitor = EmbeddingMonitor(DIM, num_slices=16, seed=3)
    for batch in data:
        monitor.update(torch.asarray(batch, dtype=dtype))
    stats = monitor.read()
    rows = torch.asarray(data.reshape(-1, DIM), dtype=dtype).double().numpy()  # the values the monitor saw
    expected = numpy_reference(rows, monitor_directions(DIM, 16, 3))
    assert_matches(stats, expected, rtol=1e-9)  # sums in float64 either way


def test_read_starts_a_new_window_and_leading_axes_are_rows():
    data = embeddings(seed=1)
    monitor = EmbeddingMonitor(DIM, num_slices=8)
    monitor.update(torch.asarray(data[0]))
    monitor.read()
    monitor.update(torch.asarray(data[1:]))  # (2, ROWS, DIM): leading axes are more rows
    expected = numpy_reference(data[1:].reshape(-1, DIM), monitor_directions(DIM, 8, 0))
    assert_matches(monitor.read(), expected, rtol=1e-9)
    with pytest.raises(ValueError, match="no embeddings"):
        monitor.read()


def test_compute_keeps_the_statistics_on_the_device_and_reset_false_keeps_the_window():
    monitor = EmbeddingMonitor(DIM, num_slices=8)
    monitor.update(torch.asarray(embeddings()[0]))
    values = monitor.compute(reset=False)
    assert isinstance(values, torch.Tensor) and values.shape == (len(monitor_fields()),)
    assert torch.isnan(values[monitor_fields().index("sigreg_pvalue")])
    again = monitor.read()
    assert again["count"] == ROWS and again["sigreg"] == pytest.approx(float(values[-2]), rel=1e-12)


def test_collapse_shows_as_low_effective_rank_and_zero_pvalue():
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((512, 2)) @ rng.standard_normal((2, DIM))  # rank 2 in D = 6
    monitor = EmbeddingMonitor(DIM)
    monitor.update(torch.asarray(rows))
    stats = monitor.read()
    assert stats["effective_rank"] < 2.0 + 1e-9
    assert stats["eig_min"] < 1e-10 * stats["eig_max"] and stats["spread"] > 1e10
    assert stats["sigreg_pvalue"] < 1e-6
    monitor.update(torch.ones(10, DIM))  # constant rows: rank 0, not NaN
    constant = monitor.read()
    assert constant["effective_rank"] == 0.0 and constant["spread"] == np.inf


def test_gaussian_rows_lie_in_the_marchenko_pastur_range():
    monitor = EmbeddingMonitor(16)
    monitor.update(torch.asarray(np.random.default_rng(2).standard_normal((2048, 16))))
    stats = monitor.read()
    # edges at n = 2048, D = 16: (1 -/+ 0.0884)^2 = 0.831, 1.185; finite-n fluctuations are O(n^{-2/3})
    assert stats["mp_low"] - 0.05 < stats["eig_min"] < stats["eig_max"] < stats["mp_high"] + 0.05
    assert stats["sigreg_pvalue"] > 1e-3 and stats["effective_rank"] > 15.5


class _HostSync(Exception):
    pass


def test_update_makes_no_host_synchronization(monkeypatch):
    monitor = EmbeddingMonitor(DIM)
    batch = torch.asarray(embeddings()[0], dtype=torch.float32).requires_grad_()
    monitor.update(batch)  # the first call builds the constants

    def refuse(*args, **kwargs):
        raise _HostSync

    for name in ("item", "cpu", "numpy", "tolist", "__bool__", "__float__", "__int__", "__index__"):
        monkeypatch.setattr(torch.Tensor, name, refuse)
    assert monitor.update(batch) is None
    monkeypatch.undo()
    assert monitor.read()["count"] == 2 * ROWS


def test_update_compiles_in_one_graph():
    monitor = EmbeddingMonitor(DIM, num_slices=8)
    batch = torch.asarray(embeddings()[0])
    monitor.update(batch)
    compiled = torch.compile(lambda z: monitor.update(z), fullgraph=True, backend="eager")
    compiled(batch)
    assert monitor.read()["count"] == 2 * ROWS


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [(np.zeros((4, DIM)), TypeError, "`z`"), (torch.zeros(4, DIM + 1), ValueError, r"\(\.\.\., N, 6\)"),
     (torch.zeros(0, DIM), ValueError, "no rows"), (torch.zeros(4, DIM, dtype=torch.complex64), TypeError, "`z`")],
)
def test_bad_embeddings_are_refused_naming_the_argument(bad, error, match):
    with pytest.raises(error, match=match):
        EmbeddingMonitor(DIM).update(bad)


@pytest.mark.parametrize(("kwargs", "name"), [({"dim": 0}, "dim"), ({"dim": 3, "num_slices": 0}, "num_slices"),
                                              ({"dim": 3, "t_max": -1.0}, "t_max"),
                                              ({"dim": 3, "distributed": 1}, "distributed")])
def test_bad_options_are_refused_naming_them(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        EmbeddingMonitor(**kwargs)


def test_jax_monitor_matches_numpy_and_psum_over_an_axis_equals_one_device():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    from sketchtest.jax import monitor_init, monitor_read, monitor_reset, monitor_update

    data = embeddings(seed=4)
    state = monitor_init(DIM, num_slices=16, seed=3)
    update = jax.jit(monitor_update)
    for batch in data:
        state = update(state, jax.numpy.asarray(batch))
    expected = numpy_reference(data.reshape(-1, DIM), monitor_directions(DIM, 16, 3))
    assert_matches(monitor_read(state), expected, rtol=1e-9)
    # two "devices" of a vmap, each with half of every batch: psum gives each the global sums
    halves = jax.numpy.asarray(data.reshape(BATCHES, 2, ROWS // 2, DIM).transpose(1, 0, 2, 3))
    fresh = monitor_reset(state)

    def per_device(rows):
        local = fresh
        for batch in rows:
            local = monitor_update(local, batch, axis_name="devices")
        return local.sums

    sums = jax.vmap(per_device, axis_name="devices")(halves)
    np.testing.assert_allclose(np.asarray(sums[0]), np.asarray(sums[1]), rtol=0, atol=0)
    assert_matches(monitor_read(fresh._replace(sums=sums[0])), expected, rtol=1e-9)


# --------------------------------------------------------------------------
# DDP: 2 gloo processes, each with half of every batch, read what one process reads.
# --------------------------------------------------------------------------


def _worker(rank, port, path):
    torch.distributed.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        half = ROWS // 2
        monitor = EmbeddingMonitor(DIM, num_slices=16, seed=3)
        local = EmbeddingMonitor(DIM, num_slices=16, seed=3, distributed=False)
        for batch in embeddings():
            monitor.update(torch.asarray(batch[rank * half : (rank + 1) * half]))
            local.update(torch.asarray(batch[rank * half : (rank + 1) * half]))
        torch.save({"global": monitor.read(), "local": local.read()}, f"{path}/rank{rank}.pt")
    finally:
        torch.distributed.destroy_process_group()


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.distributed
def test_ddp_two_processes_read_what_one_process_reads(tmp_path):
    torch.multiprocessing.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    single = EmbeddingMonitor(DIM, num_slices=16, seed=3)
    for batch in embeddings():
        single.update(torch.asarray(batch))
    expected = single.read()
    for rank in range(2):
        saved = torch.load(tmp_path / f"rank{rank}.pt", weights_only=False)
        assert_matches(saved["global"], expected, rtol=1e-12)
        assert saved["local"]["count"] == BATCHES * ROWS // 2  # distributed=False: this rank's rows only


def test_directions_unit_only_in_float32_give_the_float64_pvalue():
    # JAX without x64 keeps the monitor's directions in float32: unit columns to float32's rounding,
    # which sigreg_pvalue's float64 check refuses; the read normalizes them again in float64
    from sketchtest._losses.monitor import FIELDS, read_statistics

    directions = np.random.default_rng(5).standard_normal((DIM, 16))
    directions /= np.linalg.norm(directions, axis=0)
    rounded = directions.astype(np.float32).astype(np.float64)  # as monitor_read hands them over
    values = np.zeros(len(FIELDS))
    values[FIELDS.index("count")], values[FIELDS.index("sigreg")] = 200.0, 0.9
    exact = read_statistics(values, directions, t_max=3.0, n_points=17)["sigreg_pvalue"]
    from_float32 = read_statistics(values, rounded, t_max=3.0, n_points=17)["sigreg_pvalue"]
    # the reference: sigreg_pvalue on the exact unit directions (the rounding moves p by ~1e-7 at most)
    assert exact == pytest.approx(float(st.sigreg_pvalue(0.9, directions=directions)), rel=1e-12)
    assert from_float32 == pytest.approx(exact, rel=1e-5)
