"""Overhead of the embedding monitor in the PyTorch LeJEPA trainer's step and epoch.

The trainer's step (``training_examples.torch_lejepa.train.train_step``) feeds
the first global view's projections to :class:`sketchtest.torch.EmbeddingMonitor`
and reads its statistics on the device every step; once per epoch the host
turns the per-step SIGReg values into p-values and checks the evaluation
set's projections. This script times, in one process and interleaved (so
that a loaded machine slows both alike):

- blocks of steps with the monitor, and blocks with a no-op monitor
  (``update`` does nothing, ``compute`` returns zeros): the step overhead is
  the ratio of the medians;
- the monitor alone (``update`` then ``compute`` on one batch of projections,
  100 times) against the no-op step;
- the monitor's per-epoch host work (p-values of the epoch's steps and the
  evaluation-set check) against the measured epoch time.

Usage::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/monitor_overhead.py [--recipe study|default] [--blocks 5]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from training_examples.claims import RECIPE
from training_examples.common import MONITOR_SLICES, load_dataset, monitor_columns, parse_config
from training_examples.torch_lejepa.distributed import Runtime
from sketchtest.torch import EmbeddingMonitor, monitor_fields
from training_examples.torch_lejepa.train import build_trainer, encode, project, train_step


class NoMonitor:
    """The monitor's interface, doing nothing: the baseline step."""

    def __init__(self, size: int):
        self.zeros = torch.zeros(size)

    def update(self, z) -> None:
        return None

    def compute(self, reset=True):
        return self.zeros


def time_steps(trainer, batches) -> float:
    started = time.perf_counter()
    for batch in batches:
        train_step(trainer, batch)
    return (time.perf_counter() - started) / len(batches)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", choices=("study", "default"), default="study")
    parser.add_argument("--blocks", type=int, default=5, help="interleaved blocks of each kind")
    parser.add_argument("--steps", type=int, default=4, help="steps per block")
    parser.add_argument("--output", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    options = RECIPE if args.recipe == "study" else ["--data", "shifted-digits", "--no-progress"]
    config = parse_config([*options, "--out", "/tmp/monitor_overhead"], "bench", "bench")
    dataset = load_dataset(config.data)
    config.resolve_sizes(dataset.image_shape[1])
    config.resolve_flip(dataset.name)
    steps_per_epoch = len(dataset.x_train) // config.batch_size
    trainer = build_trainer(config, dataset, Runtime(torch.device("cpu")), steps_per_epoch)
    monitor = trainer.monitor
    rng = np.random.default_rng(0)
    batch_of = lambda: rng.permutation(len(dataset.x_train))[: config.batch_size]  # noqa: E731
    time_steps(trainer, [batch_of() for _ in range(2)])  # warm-up
    with_monitor, without = [], []
    for _ in range(args.blocks):
        trainer.monitor = monitor
        with_monitor.append(time_steps(trainer, [batch_of() for _ in range(args.steps)]))
        trainer.monitor = NoMonitor(len(monitor_fields()))
        without.append(time_steps(trainer, [batch_of() for _ in range(args.steps)]))
    trainer.monitor = monitor
    step_with, step_without = float(np.median(with_monitor)), float(np.median(without))
    z = torch.randn(config.batch_size, config.proj_dim)
    started = time.perf_counter()
    for _ in range(100):
        monitor.update(z)
        monitor.compute()
    monitor_alone = (time.perf_counter() - started) / 100
    values = []
    for _ in range(steps_per_epoch):
        monitor.update(torch.randn(config.batch_size, config.proj_dim))
        values.append(monitor.compute())
    monitor_columns(torch.stack(values).numpy(), monitor_fields(), monitor.directions_host)  # builds the table
    started = time.perf_counter()
    monitor_columns(torch.stack(values).numpy(), monitor_fields(), monitor.directions_host)
    pvalue_seconds = time.perf_counter() - started
    features = encode(trainer, trainer.model, dataset.x_test)  # the online probe's, already in the epoch
    started = time.perf_counter()
    eval_monitor = EmbeddingMonitor(config.proj_dim, num_slices=MONITOR_SLICES, distributed=False)
    eval_monitor.update(project(trainer, features))
    eval_monitor.read()
    evaluate_seconds = time.perf_counter() - started
    epoch_seconds = steps_per_epoch * step_with
    results = {
        "recipe": args.recipe,
        "batch_size": config.batch_size,
        "proj_dim": config.proj_dim,
        "monitor_slices": MONITOR_SLICES,
        "step_seconds_with_monitor": step_with,
        "step_seconds_without_monitor": step_without,
        "step_overhead": step_with / step_without - 1.0,
        "monitor_seconds_alone": monitor_alone,
        "monitor_alone_over_step": monitor_alone / step_without,
        "epoch_pvalue_seconds": pvalue_seconds,
        "epoch_eval_health_seconds": evaluate_seconds,
        "epoch_host_overhead": (pvalue_seconds + evaluate_seconds) / epoch_seconds,
        "steps_per_epoch": steps_per_epoch,
    }
    print(json.dumps(results, indent=1))
    if args.output:
        with open(args.output, "w") as file:
            json.dump(results, file, indent=1)
    return results


if __name__ == "__main__":
    main()
