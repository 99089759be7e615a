"""The LeJEPA training examples: tiny runs of both trainers, DDP and sharded smoke runs, the helpers.

Each trainer runs in a fresh process (as a user runs it), with a model and a
dataset small enough for a few seconds of training on one CPU core: 320
training and 160 test images of the digits, written once as a ``.npz`` (the
trainers' own file format for user data), and the smallest encoders. What is
left is mostly start-up and compilation, so the subprocess timeout is generous
for a loaded machine.
"""

from __future__ import annotations

import csv
import importlib
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
TINY = [
    "--epochs", "3", "--batch-size", "64", "--embed-dim", "32", "--depth", "1", "--num-heads", "2",
    "--proj-hidden-dim", "64", "--proj-dim", "16", "--num-slices", "64", "--num-local-views", "2",
    "--warmup-epochs", "1", "--lr", "3e-3", "--no-progress",
]  # fmt: skip
SUBPROCESS_TIMEOUT = 900  # seconds; a quiet 2-core machine takes under a minute per run
OUTPUT_FILES = ("metrics.csv", "steps.csv", "metrics.json", "loss_curve.png", "probe_accuracy_curve.png",
                "embeddings.npy", "features.npy")
STEPS_PER_EPOCH = 5  # 320 training images in batches of 64
PEAK_LR = 3e-3  # TINY's --lr


@pytest.fixture(scope="module")
def small_digits(tmp_path_factory) -> list[str]:
    """``--data`` arguments for a 320/160 split of scikit-learn's digits, saved as a ``.npz``."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))
    train, test = order[:320], order[320:480]
    images = (digits.images / 16.0).astype(np.float32)  # floats in [0, 1] are taken as they are
    path = tmp_path_factory.mktemp("data") / "small_digits.npz"
    np.savez(path, x_train=images[train], y_train=digits.target[train], x_test=images[test], y_test=digits.target[test])
    return ["--data", str(path)]


@pytest.fixture(scope="module", autouse=True)
def jax_compilation_cache(tmp_path_factory):
    """One persistent XLA cache for the JAX runs of this module: a resumed run does not compile again."""
    directory = tmp_path_factory.mktemp("jax_cache")
    saved = {name: os.environ.get(name) for name in JAX_CACHE_ENV}
    os.environ.update({**JAX_CACHE_ENV, "JAX_COMPILATION_CACHE_DIR": str(directory)})
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


JAX_CACHE_ENV = {
    "JAX_COMPILATION_CACHE_DIR": "",
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
}


def run_module(args: list[str], extra_env: dict | None = None, timeout: float = SUBPROCESS_TIMEOUT):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), **(extra_env or {})}
    env.pop("JAX_ENABLE_X64", None)
    result = subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def epoch_rows(out: pathlib.Path) -> list[dict]:
    with (out / "metrics.csv").open(newline="") as file:
        return [{key: float(value) for key, value in row.items()} for row in csv.DictReader(file)]


def step_rows(out: pathlib.Path) -> list[dict]:
    with (out / "steps.csv").open(newline="") as file:
        return [{key: float(value) for key, value in row.items()} for row in csv.DictReader(file)]


def check_run(out: pathlib.Path, epochs: int) -> dict:
    """The files exist, a row per step and per epoch, the loss fell, the peak lr was reached, the probes."""
    for name in OUTPUT_FILES:
        assert (out / name).stat().st_size > 0, name
    rows = epoch_rows(out)
    assert [row["epoch"] for row in rows] == list(range(1, epochs + 1))
    steps = step_rows(out)
    assert [row["step"] for row in steps] == list(range(1, epochs * STEPS_PER_EPOCH + 1))
    assert all(np.isfinite(row["grad_norm"]) and row["grad_norm"] > 0 for row in steps)
    assert max(row["lr"] for row in steps) == pytest.approx(PEAK_LR)  # the 1-epoch warm-up ends in the run
    first_epoch_loss = np.mean([row["loss"] for row in steps[:STEPS_PER_EPOCH]])
    assert rows[0]["loss"] == pytest.approx(first_epoch_loss, rel=1e-6)  # the epoch row is the mean of its steps
    assert rows[-1]["loss"] < rows[0]["loss"]
    assert rows[-1]["sigreg"] < rows[0]["sigreg"]
    # the embedding monitor, per step (64 rows of 16 projections: Marchenko-Pastur edges (1 -/+ 1/2)^2)
    assert all(0 < row["effective_rank"] <= 16 and row["eig_min"] <= row["eig_max"] for row in steps)
    assert all(row["mp_low"] == pytest.approx(0.25) and row["mp_high"] == pytest.approx(2.25) for row in steps)
    assert all(0 <= row["batch_sigreg_pvalue"] <= 1 for row in steps)
    assert all(0 < row["eval_effective_rank"] <= 16 and 0 <= row["eval_sigreg_pvalue"] <= 1 for row in rows)
    assert np.load(out / "embeddings.npy").shape == (160, 16)  # the test split's projections
    summary = json.loads((out / "metrics.json").read_text())
    for key in ("probe_accuracy", "random_init_probe_accuracy", "raw_pixel_probe_accuracy"):
        assert 0.1 < summary[key] <= 1.0, key  # 10 balanced classes: chance is 0.1
    return summary


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_tiny_run_learns_writes_files_and_resumes(framework, tmp_path, small_digits):
    pytest.importorskip(framework)
    module = f"training_examples.{framework}_lejepa"
    run_module(["-m", module, *TINY, *small_digits, "--arch", "vit", "--out", str(tmp_path)])
    summary = check_run(tmp_path, epochs=3)
    assert summary["framework"] == framework
    checkpoint = tmp_path / ("checkpoint.pt" if framework == "torch" else "checkpoint.npz")
    assert checkpoint.exists()
    before, steps_before = epoch_rows(tmp_path), step_rows(tmp_path)
    resume = ["--epochs", "4", "--resume"]
    run_module(["-m", module, *TINY, *small_digits, "--arch", "vit", "--out", str(tmp_path), *resume])
    after, steps_after = epoch_rows(tmp_path), step_rows(tmp_path)
    assert len(after) == 4 and len(steps_after) == 4 * STEPS_PER_EPOCH
    assert after[:3] == before  # the resumed run kept the history and went on from epoch 3
    assert steps_after[: len(steps_before)] == steps_before
    assert after[3]["step"] == 4 * after[0]["step"]


@pytest.mark.distributed
def test_collapse_run_writes_embeddings_and_sketchtest_check_gives_a_verdict(tmp_path, small_digits):
    """The "Catching collapse" gallery in small: no SIGReg (--lamb 0), then ``sketchtest check`` on the file."""
    pytest.importorskip("torch")
    tiny = [*TINY[:1], "2", *TINY[2:]]  # 2 epochs
    run_module(["-m", "training_examples.torch_lejepa", *tiny, *small_digits, "--lamb", "0", "--out", str(tmp_path)])
    embeddings = np.load(tmp_path / "embeddings.npy")
    assert embeddings.shape == (160, 16) and np.isfinite(embeddings).all()
    result = run_module(["-m", "sketchtest", "check", str(tmp_path / "embeddings.npy"), "--no-progress"])
    assert "verdict:" in result.stdout and "effective rank" in result.stdout


@pytest.mark.distributed
def test_torch_ddp_two_processes_on_cpu(tmp_path, small_digits):
    """Two gloo processes, with the ResNet encoder (the tiny run above covers the ViT)."""
    pytest.importorskip("torch")
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    args = [*TINY, *small_digits, "--arch", "resnet", "--depth", "1", "--out", str(tmp_path)]
    run_module([*launcher, "-m", "training_examples.torch_lejepa", *args])
    summary = check_run(tmp_path, epochs=3)
    assert summary["world_size"] == 2 and summary["config"]["arch"] == "resnet"


def test_jax_data_parallel_over_two_host_devices(tmp_path, small_digits):
    """The batch sharded over two host devices, with the ResNet encoder (the tiny run covers the ViT)."""
    pytest.importorskip("jax")
    flags = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    args = [*TINY, *small_digits, "--arch", "resnet", "--depth", "1", "--out", str(tmp_path)]
    run_module(["-m", "training_examples.jax_lejepa", *args], extra_env=flags)
    summary = check_run(tmp_path, epochs=3)
    assert summary["num_devices"] == 2 and summary["config"]["arch"] == "resnet"


def trainer_main(framework: str):
    pytest.importorskip(framework)
    return importlib.import_module(f"training_examples.{framework}_lejepa").main


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_help_lists_the_options_and_what_to_install(framework, capsys):
    with pytest.raises(SystemExit) as exit_info:
        trainer_main(framework)(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--epochs", "--out", "--arch", "--data", "--resume", "--lamb", "--num-local-views"):
        assert option in text
    # one switch with its true default, not "--no-progress ... (default: True)"
    assert "--progress, --no-progress" in text and "tqdm progress bar (default: True)" in text
    assert "cut to 1/8 of the run" in " ".join(text.split())  # the short-run warm-up rule is in the help
    assert f'pip install -c .ci/constraints.txt -e ".[{framework},examples]"' in text
    assert "--loss LOSS" in text and "--loss-null" in text  # both trainers take another sliced test


@pytest.mark.parametrize(
    ("framework", "hidden"), [("torch", "torch"), ("jax", "jax"), ("jax", "optax"), ("torch", "sklearn")]
)
def test_missing_package_says_what_to_install_and_exits_2(framework, hidden, monkeypatch, capsys):
    """An import that fails (simulated by a None entry in sys.modules) gives one line and status 2."""
    from training_examples.common.requirements import install_command

    from training_examples.study import main as study_main

    main = importlib.import_module(f"training_examples.{framework}_lejepa").main
    monkeypatch.setitem(sys.modules, hidden, None)
    for run in (lambda: main(["--epochs", "1"]), lambda: study_main(["--frameworks", framework])):
        with pytest.raises(SystemExit) as exit_info:
            run()
        assert exit_info.value.code == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and "Traceback" not in error
        assert install_command(framework) in error
        assert {"sklearn": "scikit-learn"}.get(hidden, hidden) in error


def test_a_run_shorter_than_its_warmup_is_warned_and_shortened():
    from training_examples.common import TrainConfig

    config = TrainConfig(epochs=2, warmup_epochs=5.0)
    message = config.resolve_warmup()
    assert config.warmup_epochs == 0.25  # 1/8 of the 2 epochs
    assert message.count("\n") == 0 and "--warmup-epochs 5 >= --epochs 2" in message
    assert TrainConfig(epochs=40, warmup_epochs=5.0).resolve_warmup() is None


def test_precision_option_and_reference_probes_switch():
    from training_examples.common import parse_config

    def config(*argv):
        return parse_config(list(argv), "prog", "description")

    assert config().use_bfloat16(on_gpu=True) and not config().use_bfloat16(on_gpu=False)
    assert config("--precision", "bfloat16").use_bfloat16(on_gpu=False)
    assert not config("--precision", "float32").use_bfloat16(on_gpu=True)
    assert config().reference_probes and not config("--no-reference-probes").reference_probes


def test_claims_spearman_interval_brackets_scipys_rho():
    from scipy.stats import spearmanr

    from training_examples.claims import spearman_with_ci

    rng = np.random.default_rng(0)
    x = rng.standard_normal(12)
    y = x + 0.5 * rng.standard_normal(12)
    rho, low, high = spearman_with_ci(x, y)
    assert rho == pytest.approx(spearmanr(x, y).statistic, abs=0)
    assert -1 <= low < rho < high <= 1
    _, low_noise, high_noise = spearman_with_ci(x, rng.standard_normal(12))
    assert low_noise < 0 < high_noise  # independent: the interval holds 0


def test_bad_options_are_refused():
    from training_examples.common import parse_config

    for bad in (["--lamb", "1.5"], ["--epochs", "0"], ["--local-scale", "0.5", "0.2"], ["--arch", "mlp"]):
        with pytest.raises(SystemExit):
            parse_config(bad, "prog", "description")


# ---- the view construction, against closed forms -------------------------------------------------


def torch_views():
    pytest.importorskip("torch")
    from training_examples.torch_lejepa import views

    return views


def jax_views():
    pytest.importorskip("jax")
    from training_examples.jax_lejepa import views

    return views


@pytest.mark.parametrize("views_of", [torch_views, jax_views])
def test_resampling_whole_image_at_same_size_is_identity(views_of):
    views = views_of()
    zero, eight = np.zeros(3, np.float32), np.full(3, 8.0, np.float32)
    as_array = _array_maker(views)
    matrix = np.asarray(views.resample_matrix(as_array(zero), as_array(eight), 8, 8))
    np.testing.assert_allclose(matrix, np.broadcast_to(np.eye(8), (3, 8, 8)), atol=1e-6)


@pytest.mark.parametrize("views_of", [torch_views, jax_views])
def test_resampling_upscale_by_two_is_bilinear(views_of):
    views = views_of()
    as_array = _array_maker(views)
    start, length = as_array(np.zeros(1, np.float32)), as_array(np.full(1, 2.0, np.float32))
    matrix = np.asarray(views.resample_matrix(start, length, 2, 4))[0]
    # Output pixel centres 0.25, 0.75, 1.25, 1.75 map to source -0.25, 0.25, 0.75, 1.25 (half-pixel convention,
    # as align_corners=False); the triangle kernel gives these weights, border rows renormalized.
    expected = np.array([[1.0, 0.0], [0.75, 0.25], [0.25, 0.75], [0.0, 1.0]])
    np.testing.assert_allclose(matrix, expected, atol=1e-6)


@pytest.mark.parametrize("views_of", [torch_views, jax_views])
def test_tiny_blur_is_identity_and_rows_sum_to_one(views_of):
    views = views_of()
    as_array = _array_maker(views)
    blur = np.asarray(views.blur_matrix(as_array(np.array([1e-3, 1.0], np.float32)), 6))
    np.testing.assert_allclose(blur[0], np.eye(6), atol=1e-6)
    np.testing.assert_allclose(blur[1].sum(axis=1), np.ones(6), rtol=1e-6)
    first_row = np.exp(-0.5 * np.arange(6) ** 2)  # exp(-k^2 / (2 sigma^2)), sigma = 1
    np.testing.assert_allclose(blur[1][0], first_row / first_row.sum(), rtol=1e-5)


def _array_maker(views):
    if "torch" in views.__name__:
        import torch

        return torch.as_tensor
    import jax.numpy as jnp

    return jnp.asarray


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_views_have_the_requested_shapes_and_range(framework):
    images = np.random.default_rng(0).random((5, 3, 12, 12), dtype=np.float32)
    zeros, ones = np.zeros(3, np.float32), np.ones(3, np.float32)
    if framework == "torch":
        views, torch = torch_views(), pytest.importorskip("torch")
        spec = views.ViewSpec(size=8, scale=(0.2, 0.6), flip_probability=0.5)
        generator = torch.Generator().manual_seed(1)
        out = views.make_views(torch.as_tensor(images), spec, 3, generator, torch.as_tensor(zeros), torch.ones(3))
    else:
        views, jax = jax_views(), pytest.importorskip("jax")
        spec = views.ViewSpec(size=8, scale=(0.2, 0.6), flip_probability=0.5)
        out = views.make_views(jax.random.key(1), jax.numpy.asarray(images), spec, 3, zeros, ones)
    out = np.asarray(out)
    assert out.shape == (3, 5, 3, 8, 8)
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not np.allclose(out[0], out[1])  # views differ


# ---- data loading and probes ---------------------------------------------------------------------


def test_digits_split_is_fixed_and_stratified():
    from training_examples.common import load_dataset

    first, second = load_dataset("digits"), load_dataset("digits")
    assert first.x_train.shape == (1347, 1, 8, 8) and first.x_test.shape == (450, 1, 8, 8)
    np.testing.assert_array_equal(first.y_test, second.y_test)
    assert first.x_train.max() == 1.0 and first.num_classes == 10


def test_shifted_digits_are_deterministic_and_defeat_a_raw_pixel_probe():
    from training_examples.common import load_dataset, raw_pixel_probe_accuracy
    from training_examples.common.data import shifted_digits

    images, labels = shifted_digits()
    again, _ = shifted_digits()
    assert images.shape == (1797, 32, 32) and images.dtype == np.float32 and np.array_equal(images, again)
    assert 0.0 <= images.min() and images.max() <= 1.0 and (images.sum(axis=(1, 2)) > 5).all()  # every digit is there
    dataset = load_dataset("shifted-digits")
    assert dataset.image_shape == (1, 32, 32) and dataset.name == "shifted-digits"
    assert raw_pixel_probe_accuracy(dataset) < 0.3  # 0.129 measured; 0.97 on the centred digits; chance 0.1


def test_npz_npy_and_folder_sources(tmp_path):
    from PIL import Image

    from training_examples.common import load_dataset

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(40, 6, 6, 3), dtype=np.uint8)
    labels = np.repeat(["cat", "dog"], 20)
    np.savez(tmp_path / "split.npz", x_train=images[:30], y_train=labels[:30], x_test=images[30:], y_test=labels[30:])
    split = load_dataset(str(tmp_path / "split.npz"))
    assert split.x_train.shape == (30, 3, 6, 6) and split.y_test.tolist() == [1] * 10
    np.testing.assert_allclose(split.x_train[0, :, 1, 2], images[0, 1, 2] / 255.0, rtol=1e-6)
    np.savez(tmp_path / "flat.npz", images=images, labels=labels)
    assert len(load_dataset(str(tmp_path / "flat.npz")).x_test) == 10
    np.save(tmp_path / "x.npy", images)
    np.save(tmp_path / "y.npy", labels)
    assert load_dataset(str(tmp_path / "x.npy"), labels=str(tmp_path / "y.npy")).image_shape == (3, 6, 6)
    for index in range(8):
        folder = tmp_path / "folder" / ("a" if index < 4 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(images[index]).save(folder / f"{index}.png")
    from_folder = load_dataset(str(tmp_path / "folder"), image_size=4)
    assert from_folder.image_shape == (3, 4, 4) and from_folder.num_classes == 2
    with pytest.raises(ValueError, match="--labels"):
        load_dataset(str(tmp_path / "x.npy"))


def test_epoch_batches_are_a_deterministic_partition():
    from training_examples.common import epoch_batches

    batches = epoch_batches(10, 3, seed=0, epoch=2)
    assert batches.shape == (3, 3) and len(set(batches.ravel())) == 9
    np.testing.assert_array_equal(batches, epoch_batches(10, 3, seed=0, epoch=2))
    assert not np.array_equal(batches, epoch_batches(10, 3, seed=0, epoch=3))


def test_raw_pixel_probe_on_digits_matches_scikit_learn():
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from training_examples.common import load_dataset, raw_pixel_probe_accuracy

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    reference = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x_train, y_train)
    assert raw_pixel_probe_accuracy(load_dataset("digits")) == pytest.approx(reference.score(x_test, y_test))


def test_position_embedding_closed_form():
    from training_examples.common import sincos_position_embedding

    table = sincos_position_embedding(2, 3, 8)
    assert table.shape == (6, 8)
    # patch (row 1, column 2) is index 5; channels: sin(r), sin(r/100), cos(r), cos(r/100), then the same for c
    expected = [np.sin(1), np.sin(0.01), np.cos(1), np.cos(0.01), np.sin(2), np.sin(0.02), np.cos(2), np.cos(0.02)]
    np.testing.assert_allclose(table[5], expected, rtol=1e-6)


def test_study_table_reports_mean_and_sample_std_over_seeds():
    from training_examples.study import rst_table

    run = {"raw_pixel_probe_accuracy": 0.9, "train_seconds": 10.0, "wall_seconds": 12.0}
    runs = [{**run, "probe_accuracy": p, "random_init_probe_accuracy": r} for p, r in [(0.9, 0.8), (1.0, 0.6)]]
    table = rst_table({"torch": runs})
    # mean 0.95, sample standard deviation |0.9 - 1.0| / sqrt(2) = 0.0707; 0.7 and 0.1414 for the random init
    assert "0.9500 ± 0.0707" in table and "0.7000 ± 0.1414" in table and "0.9000 ± 0.0000" in table


# ---- per-step metrics and curves -----------------------------------------------------------------


def record_two_epochs(out: pathlib.Path):
    """A log of 2 epochs of 5 steps with known values: step s has loss 1/s^2, the other metrics s."""
    from training_examples.common import STEP_METRICS, MetricsLog

    log = MetricsLog(out)
    for epoch in (1, 2):
        steps = np.arange(1, 6) + 5 * (epoch - 1)
        values = np.stack([1.0 / steps**2 if name == "loss" else steps * 1.0 for name in STEP_METRICS], axis=1)
        log.record_epoch(epoch, values, 1e-3 * steps, online_probe_accuracy=0.5 + 0.1 * epoch,
                         epoch_seconds=1.0, elapsed_seconds=float(epoch))
    return log


def test_metrics_log_writes_a_row_per_step_and_their_epoch_means(tmp_path):
    log = record_two_epochs(tmp_path)
    steps = step_rows(tmp_path)
    assert [row["step"] for row in steps] == list(range(1, 11))
    assert [row["epoch"] for row in steps] == [1.0] * 5 + [2.0] * 5
    assert steps[6]["loss"] == pytest.approx(1 / 49) and steps[6]["lr"] == pytest.approx(7e-3)
    epochs = epoch_rows(tmp_path)
    # epoch 2 holds steps 6..10: mean loss (1/36 + ... + 1/100) / 5, mean grad norm 8, the last step's lr
    assert epochs[1]["loss"] == pytest.approx(np.mean(1 / np.arange(6, 11) ** 2))
    assert epochs[1]["grad_norm"] == 8.0 and epochs[1]["lr"] == pytest.approx(1e-2) and epochs[1]["step"] == 10
    from training_examples.common import MetricsLog

    resumed = MetricsLog(tmp_path, resume_epoch=1)  # a checkpoint of epoch 1: epoch 2's rows are dropped
    assert len(resumed.rows) == 1 and len(resumed.step_rows) == 5 and len(step_rows(tmp_path)) == 5
    assert log.elapsed_seconds == 2.0


def test_curves_are_drawn_per_step_with_the_reference_probes(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from training_examples.common.metrics import loss_figure, probe_figure

    log = record_two_epochs(tmp_path)
    figure = loss_figure(log.step_rows, "title")
    titles = [axis.get_title() for axis in figure.axes if axis.lines]
    assert titles == ["loss", "sigreg", "invariance", "probe loss", "grad norm", "lr"]
    for axis in figure.axes:
        if axis.lines:
            assert list(axis.lines[0].get_xdata()) == list(range(1, 11))  # 2 epochs draw 10 points
            assert axis.get_xscale() == "linear"
    scales = {axis.get_title(): axis.get_yscale() for axis in figure.axes if axis.lines}
    assert scales["loss"] == "log" and scales["grad norm"] == "linear"  # 1 to 0.01; 1 to 10 is not > a decade
    summary = {"probe_accuracy": 0.9, "random_init_probe_accuracy": 0.8, "raw_pixel_probe_accuracy": 0.85}
    axis = probe_figure(log.rows, "title", summary).axes[0]
    references = sorted(line.get_ydata()[0] for line in axis.lines[1:])
    assert references == [0.8, 0.85, 0.9]
    assert [text.get_text().split(",")[0] for text in axis.get_legend().get_texts()] == [
        "online probe", "trained encoder", "random-init encoder", "raw pixels",
    ]
    paths = log.plot("title", summary)
    assert all(path.stat().st_size > 0 for path in paths)


# ---- --loss: another sliced test as the regularizer ----------------------------------------------


def test_loss_option_builds_sigreg_or_the_sliced_test():
    torch = pytest.importorskip("torch")
    from sketchtest.torch import LeJEPALoss, sliced_loss
    from training_examples.common import TrainConfig
    from training_examples.torch_lejepa.losses import build_loss

    projections = torch.randn(4, 64, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    config = TrainConfig(loss="sigreg", num_slices=16, lamb=0.3)
    assert isinstance(build_loss(config, 2), LeJEPALoss)
    config.loss = "cramer_von_mises"
    out = build_loss(config, 2)(projections)
    reference = LeJEPALoss(num_slices=16, lamb=0.3)(projections)
    assert out.invariance == pytest.approx(reference.invariance.item(), rel=1e-12)  # the same invariance term
    # step 0 draws the directions of seed 0; the regularizer is the mean over views of the sliced statistic
    regularizer = sliced_loss(projections, test="cramer_von_mises", num_slices=16, seed=0).mean()
    assert out.sigreg == pytest.approx(regularizer.item(), rel=1e-12)
    assert out.loss == pytest.approx(0.3 * regularizer.item() + 0.7 * out.invariance.item(), rel=1e-12)


def test_jax_loss_option_builds_sigreg_or_the_sliced_test():
    pytest.importorskip("optax")
    jax = pytest.importorskip("jax")
    from sketchtest.jax import lejepa_loss, sliced_loss
    from training_examples.common import TrainConfig
    from training_examples.jax_lejepa.losses import build_loss

    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)  # float64, restored below
    try:
        projections = jax.random.normal(jax.random.key(0), (4, 64, 8), dtype=jax.numpy.float64)
        key = jax.random.key(1)
        config = TrainConfig(loss="sigreg", num_slices=16, lamb=0.3, batch_size=64, proj_dim=8, num_local_views=2)
        default = build_loss(config, 2)(projections, key)
        reference = lejepa_loss(projections, key=key, num_global_views=2, lamb=0.3, num_slices=16)
        assert tuple(map(float, default)) == tuple(map(float, reference))  # the default path is lejepa_loss itself
        # sliced_loss's Epps-Pulley with null="standard" is SIGReg: the same value on the same directions
        config.loss = "epps_pulley"
        epps_pulley = build_loss(config, 2)(projections, key)
        for name in ("loss", "sigreg", "invariance"):
            assert float(getattr(epps_pulley, name)) == pytest.approx(float(getattr(reference, name)), rel=1e-12)
        config.loss = "cramer_von_mises"
        out = build_loss(config, 2)(projections, key)
        regularizer = float(sliced_loss(projections, key=key, test="cramer_von_mises", num_slices=16).mean())
        assert float(out.sigreg) == pytest.approx(regularizer, rel=1e-12)
        assert float(out.invariance) == pytest.approx(float(reference.invariance), rel=1e-12)
        assert float(out.loss) == pytest.approx(0.3 * regularizer + 0.7 * float(out.invariance), rel=1e-12)
        assert out.loss.dtype == jax.numpy.float64
    finally:
        jax.config.update("jax_enable_x64", previous)


@pytest.mark.parametrize("framework", ["torch", "jax"])
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--loss", "no_such_test"], "--loss no_such_test"),
        (["--loss", "shapiro_wilk", "--loss-null", "standard"], "--loss shapiro_wilk"),  # a null it lacks
    ],
)
def test_unknown_loss_exits_2_naming_the_option_in_both_trainers(framework, argv, message, capsys):
    main = trainer_main(framework)
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_study_curves_read_each_runs_steps(tmp_path):
    pytest.importorskip("matplotlib")
    from training_examples.study import plot_curves, step_history

    log = record_two_epochs(tmp_path)
    run = {"config": {"out": str(tmp_path)}, "history": log.rows}
    assert [row["step"] for row in step_history(run)] == list(range(1, 11))
    assert len(step_history({"config": {"out": str(tmp_path / "none")}, "history": log.rows})) == 2  # no steps.csv
    plot_curves({"torch": [run]}, tmp_path / "study_curves.png")
    assert (tmp_path / "study_curves.png").stat().st_size > 0
