"""Which univariate tests make good LeJEPA losses: the LeJEPA paper's comparison, on digits, on CPU.

Two parts:

1. **Training.** The PyTorch LeJEPA trainer (``training_examples.torch_lejepa``,
   run in this process) with each test of :func:`sketchtest.torch.sliced_loss`
   as the regularizer (``--loss TEST``; ``sigreg`` is the trainer's default,
   :class:`sketchtest.torch.LeJEPALoss`), the same small budget and 3 seeds:
   the frozen linear-probe accuracy, the final regularizer and invariance
   terms, the spread of the projections (a collapse shows as a spread near 0),
   the stability of the loss and of the gradient norm, non-finite steps and the
   time per step. A test that only supports the composite null (Shapiro-Wilk,
   Shapiro-Francia, D'Agostino-Pearson) runs with ``--loss-null normal``.
2. **Each loss alone.** One forward+backward of
   ``sliced_loss(z, test=..., directions=A)`` at N = 8192, D = 512, K = 1024
   (float32, CPU): the better of two warm timings, and the peak memory as the
   rise of the resident set size during the first call, in a forked child per
   loss whose high-water mark is reset first (``/proc/self/clear_refs``), with
   ``MALLOC_MMAP_THRESHOLD_`` pinned so that freed buffers leave the resident
   set (the method of ``benchmarks/sigreg.py``); the inputs are excluded.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/losses.py --output losses.json
    OMP_NUM_THREADS=1 python benchmarks/losses.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import sys
import tempfile
import time

import numpy as np

from _tables import rst_table  # benchmarks/, on the path when a script here runs
from sigreg import _in_forked_child, _rss_kib

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # training_examples is not installed: it runs from the source tree

TRAIN_IMAGES, TEST_IMAGES = 320, 640
BUDGET = [
    "--epochs", "6", "--batch-size", "32", "--arch", "resnet", "--depth", "1", "--embed-dim", "32",
    "--proj-hidden-dim", "64", "--proj-dim", "16", "--num-slices", "128", "--num-local-views", "2",
    "--warmup-epochs", "1", "--lr", "3e-3", "--no-progress", "--checkpoint-every", "1000",
]  # fmt: skip
QUICK_BUDGET = ["--epochs", "2"]
#: ``--budget longer``: every digit not held out for testing, 64 images a step, 12 epochs (about 200
#: steps) and a two-stage encoder: long enough for the encoder to move away from its initialization.
LONGER_TRAIN_IMAGES = 1157
LONGER_BUDGET = ["--epochs", "12", "--batch-size", "64", "--depth", "2", "--warmup-epochs", "2"]
ALONE_SHAPE = (8192, 512, 1024)  # N, D, K


def loss_tests() -> dict[str, str]:
    """Every loss to compare, with the null it trains under ("standard" where the test supports it)."""
    from sketchtest._losses.sliced_loss import LOSS_STATISTICS

    tests = {"sigreg": "standard"}
    for name, entry in LOSS_STATISTICS.items():
        tests[name] = "standard" if "standard" in entry.nulls else "normal"
    return tests


def small_digits(directory: pathlib.Path, train_images: int = TRAIN_IMAGES) -> pathlib.Path:
    """`train_images` training and the next 640 test images of one fixed permutation of scikit-learn's digits."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))
    if train_images + TEST_IMAGES > len(order):
        raise ValueError(f"at most {len(order) - TEST_IMAGES} training images; got {train_images}")
    train, test = order[:train_images], order[train_images : train_images + TEST_IMAGES]
    images = (digits.images / 16.0).astype(np.float32)
    path = directory / f"digits_{train_images}.npz"
    np.savez(path, x_train=images[train], y_train=digits.target[train], x_test=images[test], y_test=digits.target[test])
    return path


def stability(step_rows: list[dict], warmup_steps: int) -> dict:
    """Spread of the loss and the gradient norm after the warm-up, and the non-finite steps."""
    loss = np.asarray([row["loss"] for row in step_rows])
    grad = np.asarray([row["grad_norm"] for row in step_rows])
    finite = np.isfinite(loss) & np.isfinite(grad)
    after = finite & (np.arange(len(loss)) >= warmup_steps)
    last = finite & (np.arange(len(loss)) >= len(loss) - max(2, len(loss) // 4))
    return {
        "loss_cv_last_quarter": float(np.std(loss[last]) / abs(np.mean(loss[last]))),
        "grad_cv": float(np.std(grad[after]) / np.mean(grad[after])),
        "grad_spike": float(np.max(grad[after]) / np.median(grad[after])),
        "nonfinite_steps": int(np.sum(~finite)),
    }


def projection_spread(trainer, dataset) -> float:
    """Mean over the K dimensions of the standard deviation of the test images' projections (1 for N(0, I))."""
    import torch

    from training_examples.torch_lejepa.train import encode

    with torch.no_grad():
        projections = trainer.model.projector(encode(trainer, trainer.model, dataset.x_test))
    return float(projections.std(dim=0).mean())


def train_once(loss: str, null: str, seed: int, data: pathlib.Path, out: pathlib.Path, budget: list[str]):
    """One training run in this process; its summary row and the trainer."""
    from training_examples.common import load_dataset, parse_config
    from training_examples.torch_lejepa.distributed import start_runtime
    from training_examples.torch_lejepa.losses import LOSS_HELP
    from training_examples.torch_lejepa.train import frozen_probe_accuracy, train

    argv = [*BUDGET, *budget, "--data", str(data), "--loss", loss, "--loss-null", null]
    config = parse_config([*argv, "--seed", str(seed), "--out", str(out)], "losses", "", loss_help=LOSS_HELP)
    dataset = load_dataset(config.data)
    config.resolve_sizes(dataset.image_shape[1])
    config.resolve_flip(dataset.name)
    config.resolve_warmup()
    trainer, log = train(config, dataset, start_runtime())
    steps = log.step_rows
    steps_per_epoch = len(steps) // config.epochs
    last = steps[-max(1, len(steps) // 10) :]
    row = {
        "loss": loss, "null": null, "seed": seed,
        "probe_accuracy": frozen_probe_accuracy(trainer, trainer.model, dataset),
        "online_probe_accuracy": log.rows[-1]["online_probe_accuracy"],
        "final_regularizer": float(np.mean([r["sigreg"] for r in last])),
        "final_invariance": float(np.mean([r["invariance"] for r in last])),
        "projection_spread": projection_spread(trainer, dataset),
        "seconds_per_step": log.elapsed_seconds / len(steps),
        **stability(steps, round(config.warmup_epochs * steps_per_epoch)),
    }  # fmt: skip
    return row, trainer, dataset


def reference_probes(trainer, dataset) -> dict:
    """The same probe on the encoder at its initial weights, and on the raw pixels."""
    from training_examples.common import raw_pixel_probe_accuracy
    from training_examples.torch_lejepa.train import build_model, frozen_probe_accuracy

    initial = build_model(trainer.config, dataset, trainer.runtime.device)
    return {
        "random_init_probe_accuracy": frozen_probe_accuracy(trainer, initial, dataset),
        "raw_pixel_probe_accuracy": raw_pixel_probe_accuracy(dataset),
    }


def run_training(seeds, budget, train_images=TRAIN_IMAGES, tests=None) -> tuple[list[dict], dict]:
    """Every loss for every seed; the rows and the reference probes of each seed."""
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    rows, references = [], {}
    with tempfile.TemporaryDirectory() as scratch:
        data = small_digits(pathlib.Path(scratch), train_images)
        for seed in seeds:
            for loss, null in loss_tests().items():
                if tests and loss not in tests:
                    continue
                started = time.perf_counter()
                row, trainer, dataset = train_once(loss, null, seed, data, pathlib.Path(scratch) / loss, budget)
                if seed not in references:
                    references[seed] = reference_probes(trainer, dataset)
                rows.append(row)
                print(json.dumps(row), f"# {time.perf_counter() - started:.0f} s", flush=True)
    return rows, references


# ----------------------------------------------------------------------------- each loss alone


def measure_alone(loss: str, null: str, shape=ALONE_SHAPE) -> dict:
    """Time and peak RSS of one float32 forward+backward of the sliced loss, in a forked child."""
    import torch

    from sketchtest.torch import sigreg, sliced_loss

    n, d, k = shape
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(n, d, generator=generator, requires_grad=True)
    directions = torch.randn(d, k, generator=generator)
    directions /= torch.linalg.vector_norm(directions, dim=0)

    def forward_backward(samples, matrix):
        samples.grad = None
        if loss == "sigreg":
            value = sigreg(samples, directions=matrix)
        else:
            value = sliced_loss(samples, test=loss, directions=matrix, null=null)
        value.backward()
        return float(value.detach())

    def small_call():
        forward_backward(torch.randn(64, 4, requires_grad=True), torch.eye(4))  # imports, lazy state

    def work():
        small_call()
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # reset the peak RSS (VmHWM) of this child
        before = _rss_kib("VmRSS")
        start = time.perf_counter()
        value = forward_backward(z, directions)
        first = time.perf_counter() - start
        peak_mib = (_rss_kib("VmHWM") - before) / 1024
        start = time.perf_counter()
        forward_backward(z, directions)
        return {"seconds": min(first, time.perf_counter() - start), "peak_mib": peak_mib, "value": value}

    small_call()
    return {"loss": loss, "null": null, **_in_forked_child(work)}


# ----------------------------------------------------------------------------- tables


def training_table(rows: list[dict], references: dict) -> str:
    """Mean ± standard deviation over seeds of each loss's probe; means of the other columns."""
    header = [
        "loss", "null", "probe acc.", "final reg.", "final inv.", "spread", "loss CV", "grad CV",
        "grad max/med.", "non-finite", "ms/step",
    ]  # fmt: skip
    table = []
    for loss in dict.fromkeys(row["loss"] for row in rows):
        runs = [row for row in rows if row["loss"] == loss]

        def mean(key, runs=runs):
            return np.mean([run[key] for run in runs])

        accuracy = np.asarray([run["probe_accuracy"] for run in runs])
        spread = f"± {accuracy.std(ddof=1):.3f}" if len(runs) > 1 else ""
        table.append([
            loss, runs[0]["null"], f"{accuracy.mean():.3f} {spread}", f"{mean('final_regularizer'):.3g}",
            f"{mean('final_invariance'):.3g}", f"{mean('projection_spread'):.2f}",
            f"{mean('loss_cv_last_quarter'):.3f}", f"{mean('grad_cv'):.2f}", f"{mean('grad_spike'):.1f}",
            str(sum(run["nonfinite_steps"] for run in runs)), f"{1e3 * mean('seconds_per_step'):.0f}",
        ])  # fmt: skip
    lines = [rst_table(header, table), ""]
    for key, name in (("random_init_probe_accuracy", "random-init encoder"), ("raw_pixel_probe_accuracy", "raw pixels")):
        values = np.asarray([reference[key] for reference in references.values()])
        lines.append(f"Same probe on the {name}: {values.mean():.3f} (seeds: {', '.join(f'{v:.3f}' for v in values)}).")
    return "\n".join(lines)


def alone_table(rows: list[dict]) -> str:
    header = ["loss", "null", "forward+backward (ms)", "peak memory (MiB)", "value"]
    table = [
        [row["loss"], row["null"], f"{1e3 * row['seconds']:.0f}", f"{row['peak_mib']:.0f}", f"{row['value']:.4g}"]
        if "error" not in row
        else [row["loss"], row["null"], row["error"], "", ""]
        for row in rows
    ]
    return rst_table(header, table)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true", help="2 epochs, seed 0, N = 1024 for the loss alone")
    parser.add_argument("--budget", choices=("small", "longer"), default="small",
                        help="small: 320 images, 60 steps; longer: 1157 images, about 200 steps of 64")
    parser.add_argument("--tests", nargs="+", help="train with these losses only (default: every one)")
    parser.add_argument("--skip-training", action="store_true", help="only the loss-alone table")
    parser.add_argument("--skip-alone", action="store_true", help="only the training table")
    parser.add_argument("--table-from", nargs="+", metavar="JSON",
                        help="print the training table of rows saved by earlier --output runs, and exit")
    parser.add_argument("--output", help="write every row as JSON here")
    args = parser.parse_args(argv)
    if args.table_from:
        print(table_from_files(args.table_from))
        return
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") is None:  # make freed buffers leave the RSS
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    import torch

    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, torch {torch.__version__}, "
          f"python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    alone = []
    if not args.skip_alone:
        shape = (1024, 512, 1024) if args.quick else ALONE_SHAPE
        alone = [measure_alone(loss, null, shape) for loss, null in loss_tests().items()]
        print(f"\nEach loss alone, N, D, K = {shape}, float32, CPU:\n\n{alone_table(alone)}\n", flush=True)
    rows, references = [], {}
    longer = args.budget == "longer"
    budget = QUICK_BUDGET if args.quick else LONGER_BUDGET if longer else []
    train_images = LONGER_TRAIN_IMAGES if longer else TRAIN_IMAGES
    if not args.skip_training:
        seeds = args.seeds[:1] if args.quick else args.seeds
        rows, references = run_training(seeds, budget, train_images, args.tests)
        print(f"\nTraining on digits ({train_images} train, {TEST_IMAGES} test images), seeds {seeds}:\n")
        print(training_table(rows, references))
    print(f"# load average at the end: {os.getloadavg()[0]:.1f} (1 min), {os.getloadavg()[2]:.1f} (15 min)")
    if args.output:
        result = {"alone": alone, "training": rows, "references": references, "budget": [*BUDGET, *budget],
                  "train_images": train_images}
        pathlib.Path(args.output).write_text(json.dumps(result, indent=1) + "\n")


def table_from_files(paths) -> str:
    """The training table of the rows and reference probes saved in several ``--output`` files."""
    rows, references = [], {}
    for path in paths:
        saved = json.loads(pathlib.Path(path).read_text())
        rows += saved["training"]
        references.update(saved["references"])
    order = list(dict.fromkeys(row["loss"] for row in rows))
    rows.sort(key=lambda row: (order.index(row["loss"]), row["seed"]))
    return training_table(rows, references)

if __name__ == "__main__":
    main()
