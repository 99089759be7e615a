"""DDP on a 2-process gloo group equals one process on the concatenated batch.

Each rank holds half of the batch; SIGReg all-reduces its sums of cos and
sin, so the loss is the global one, and DistributedDataParallel's averaged
gradients equal the single-process gradients (neither discarded all-reduces
nor gradients off by the world size). The same holds for the sliced losses:
sum-reducible tests all-reduce their sums (and the global mean and standard
deviation under ``null="normal"``), sort-based ones all-gather the projections.
Every rank runs with warnings as errors: the collectives are public
``torch.distributed`` calls, with no deprecation warning.
"""

from __future__ import annotations

import socket
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not torch.distributed.is_available():  # pragma: no cover
    pytest.skip("torch.distributed is not available", allow_module_level=True)

from sketchtest.torch import LeJEPALoss, SIGReg, SlicedLoss  # noqa: E402

pytestmark = pytest.mark.distributed

WORLD_SIZE = 2
#: Sum-reducible (Epps-Pulley, moments) and sort-based (EDF, Shapiro, Vasicek) tests, each as a SlicedLoss.
SLICED = [("epps_pulley", "normal"), ("jarque_bera", "standard"), ("anderson_darling", "normal"),
          ("shapiro_wilk", "normal"), ("kurtosis_test", "normal"), ("vasicek", "standard")]
VIEWS, SAMPLES, FEATURES = 3, 40, 6


def _batch():
    return torch.asarray(np.random.default_rng(0).standard_normal((VIEWS, SAMPLES, FEATURES)))


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(FEATURES, 8), torch.nn.Tanh(), torch.nn.Linear(8, 5)
    ).double()


def _losses(model, views, distributed):
    """Two steps of both losses; returns the values and the parameter gradients."""
    results = {}
    criteria = {
        "sigreg": SIGReg(num_slices=16, distributed=distributed),
        "lejepa": LeJEPALoss(num_slices=16, lamb=0.3, distributed=distributed),
        **{f"{test}_{null}": SlicedLoss(test=test, null=null, num_slices=16, distributed=distributed)
           for test, null in SLICED},
    }
    for name, criterion in criteria.items():
        for step in range(2):
            model.zero_grad()
            out = criterion(model(views))
            loss = out.loss if name == "lejepa" else out
            loss.backward()
            parameters = model.module if hasattr(model, "module") else model
            results[f"{name}{step}"] = {
                "loss": loss.detach().clone(),
                "sigreg": (out.sigreg if name == "lejepa" else out).detach().clone(),
                "grads": [p.grad.detach().clone() for p in parameters.parameters()],
            }
    return results


def _worker(rank, port, path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a deprecated collective (FutureWarning) fails the run
        _run_rank(rank, port, path)


def _run_rank(rank, port, path):
    torch.distributed.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD_SIZE
    )
    try:
        torch.set_num_threads(1)
        half = SAMPLES // WORLD_SIZE
        views = _batch()[:, rank * half : (rank + 1) * half]
        model = torch.nn.parallel.DistributedDataParallel(_model())
        results = _losses(model, views, distributed=True)
        local = SIGReg(num_slices=16, distributed=False)(_model()(views)).detach()
        torch.save({"results": results, "local": local}, f"{path}/rank{rank}.pt")
    finally:
        torch.distributed.destroy_process_group()


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    path = tmp_path_factory.mktemp("ddp")
    torch.multiprocessing.spawn(_worker, args=(_free_port(), str(path)), nprocs=WORLD_SIZE, join=True)
    return [torch.load(path / f"rank{rank}.pt", weights_only=True) for rank in range(WORLD_SIZE)]


@pytest.mark.parametrize(
    "name",
    [f"{loss}{step}" for loss in ["sigreg", "lejepa", *(f"{t}_{n}" for t, n in SLICED)] for step in (0, 1)],
)
def test_ddp_equals_single_process_on_the_concatenated_batch(ranks, name):
    single = _losses(_model(), _batch(), distributed=True)[name]  # no process group here
    for rank in ranks:
        result = rank["results"][name]
        torch.testing.assert_close(result["sigreg"], single["sigreg"], rtol=1e-12, atol=0)
        # DDP averages the ranks' gradients: equal to the single-process gradient.
        for grad, grad_single in zip(result["grads"], single["grads"]):
            torch.testing.assert_close(grad, grad_single, rtol=1e-10, atol=1e-14)
    mean_loss = sum(rank["results"][name]["loss"] for rank in ranks) / WORLD_SIZE
    torch.testing.assert_close(mean_loss, single["loss"], rtol=1e-12, atol=0)


def test_opt_out_computes_each_ranks_own_statistic(ranks):
    half = SAMPLES // WORLD_SIZE
    for rank, saved in enumerate(ranks):
        views = _batch()[:, rank * half : (rank + 1) * half]
        expected = SIGReg(num_slices=16)(_model()(views)).detach()
        torch.testing.assert_close(saved["local"], expected, rtol=1e-12, atol=0)
    assert not torch.allclose(ranks[0]["local"], ranks[1]["local"])
