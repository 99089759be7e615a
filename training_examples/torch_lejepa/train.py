"""LeJEPA in PyTorch: multi-crop views, a ViT or ResNet encoder, SIGReg from sketchtest.

Run ``python -m training_examples.torch_lejepa --help``; for several processes,
``torchrun --nproc_per_node N -m training_examples.torch_lejepa`` (gloo on CPU,
nccl on CUDA; the LeJEPA loss all-reduces its statistics across ranks).
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time

import numpy as np
import torch
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from sketchtest.torch import EmbeddingMonitor, monitor_fields
from training_examples.common import (
    MONITOR_SLICES,
    MetricsLog,
    epilog_text,
    epoch_batches,
    eval_health,
    linear_probe_accuracy,
    load_dataset,
    monitor_columns,
    parse_config,
    print_summary,
    raw_pixel_probe_accuracy,
    save_embeddings,
    warn,
)
from training_examples.torch_lejepa.distributed import Runtime, start_runtime, stop_runtime
from training_examples.torch_lejepa.losses import LOSS_HELP, build_loss
from training_examples.torch_lejepa.models import LeJEPAModel
from training_examples.torch_lejepa.views import ViewSpec, make_views, resize_and_normalize

DESCRIPTION = "Train a LeJEPA encoder with PyTorch (SIGReg from sketchtest) and report linear-probe accuracy."
NUM_GLOBAL_VIEWS = 2
NAN = float("nan")


@dataclasses.dataclass
class Trainer:
    """Everything a training step needs, built once."""

    config: object
    runtime: Runtime
    model: torch.nn.Module
    ddp_model: torch.nn.Module
    backbone_parameters: list
    loss_fn: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    generator: torch.Generator
    images: torch.Tensor
    labels: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    global_spec: ViewSpec
    local_spec: ViewSpec
    monitor: EmbeddingMonitor

    def autocast(self):
        """bfloat16 autocast with ``--precision bfloat16`` or on CUDA by default; full float32 otherwise."""
        enabled = self.config.use_bfloat16(self.runtime.device.type == "cuda")
        return torch.autocast(self.runtime.device.type, dtype=torch.bfloat16, enabled=enabled)


def build_model(config, dataset, device) -> LeJEPAModel:
    """The model at its initial weights: the same weights for the same seed, every time."""
    torch.manual_seed(config.seed)
    return LeJEPAModel(config, dataset.image_shape[0], dataset.num_classes).to(device)


def warmup_cosine(warmup_steps: int, total_steps: int):
    """Learning-rate factor: linear warmup to 1, then cosine decay to 0."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def build_trainer(config, dataset, runtime: Runtime, steps_per_epoch: int) -> Trainer:
    model = build_model(config, dataset, runtime.device)
    ddp_model = model
    if runtime.distributed:
        device_ids = [runtime.device.index] if runtime.device.type == "cuda" else None
        ddp_model = DistributedDataParallel(model, device_ids=device_ids)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and not n.startswith("probe")]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1 and not n.startswith("probe")]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
            {"params": model.probe.parameters(), "weight_decay": 0.0, "lr": config.probe_lr},
        ],
        lr=config.lr,
    )
    total_steps = config.epochs * steps_per_epoch
    warmup_steps = max(1, round(config.warmup_epochs * steps_per_epoch))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(warmup_steps, total_steps))
    loss_fn = build_loss(config, NUM_GLOBAL_VIEWS).to(runtime.device)
    generator = torch.Generator(device=runtime.device)
    generator.manual_seed(config.seed * 1000 + runtime.rank)
    return Trainer(
        config=config,
        runtime=runtime,
        model=model,
        ddp_model=ddp_model,
        backbone_parameters=decay + no_decay,
        loss_fn=loss_fn,
        optimizer=optimizer,
        scheduler=scheduler,
        generator=generator,
        images=torch.as_tensor(dataset.x_train, device=runtime.device),
        labels=torch.as_tensor(dataset.y_train, device=runtime.device),
        mean=torch.as_tensor(dataset.channel_mean, device=runtime.device),
        std=torch.as_tensor(dataset.channel_std, device=runtime.device),
        global_spec=ViewSpec(config.global_size, config.global_scale, config.flip_probability),
        local_spec=ViewSpec(config.local_size, config.local_scale, config.flip_probability),
        monitor=EmbeddingMonitor(config.proj_dim, num_slices=MONITOR_SLICES, seed=config.seed),
    )


def gradient_norm(parameters: list) -> torch.Tensor:
    """The global L2 norm of the gradients of `parameters` (a tensor: no host synchronization)."""
    norms = [torch.linalg.vector_norm(p.grad) for p in parameters if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(norms))


def train_step(trainer: Trainer, indices: np.ndarray) -> torch.Tensor:
    """One optimizer step on this rank's share of a batch; returns its :data:`STEP_METRICS` and monitor.

    The gradient norm is that of the encoder and projector (the probe's excluded), after DDP's averaging.
    The embedding monitor reads the first global view's projections of the whole
    global batch (all ranks), as a tensor on the device: no host synchronization.
    """
    index = torch.as_tensor(indices, device=trainer.runtime.device)
    images, labels = trainer.images[index], trainer.labels[index]
    config, generator = trainer.config, trainer.generator
    global_views = make_views(images, trainer.global_spec, NUM_GLOBAL_VIEWS, generator, trainer.mean, trainer.std)
    local_views = make_views(images, trainer.local_spec, config.num_local_views, generator, trainer.mean, trainer.std)
    with trainer.autocast():
        _, projections, logits = trainer.ddp_model(global_views, local_views)
    lejepa = trainer.loss_fn(projections.float())
    probe_loss = F.cross_entropy(logits.float(), labels.repeat(NUM_GLOBAL_VIEWS))
    trainer.optimizer.zero_grad(set_to_none=True)
    (lejepa.loss + probe_loss).backward()
    grad_norm = gradient_norm(trainer.backbone_parameters)
    trainer.optimizer.step()
    trainer.scheduler.step()
    trainer.monitor.update(projections[0].float())
    health = trainer.monitor.compute().to(lejepa.loss.dtype)
    return torch.cat([torch.stack([lejepa.loss, lejepa.sigreg, lejepa.invariance, probe_loss, grad_norm]).detach(),
                      health])


@torch.no_grad()
def encode(trainer: Trainer, model: LeJEPAModel, images: np.ndarray, batch_size: int = 512) -> torch.Tensor:
    """Encoder features of whole images resized to the global view size."""
    model.eval()
    features = []
    for start in range(0, len(images), batch_size):
        chunk = torch.as_tensor(images[start : start + batch_size], device=trainer.runtime.device)
        views = resize_and_normalize(chunk, trainer.config.global_size, trainer.mean, trainer.std)
        with trainer.autocast():
            features.append(model.encoder(views).float())
    model.train()
    return torch.cat(features)


@torch.no_grad()
def project(trainer: Trainer, features: torch.Tensor) -> torch.Tensor:
    """The projector on a whole set of features at once (its BatchNorm uses this set's statistics)."""
    with trainer.autocast():
        return trainer.model.projector(features).float()


def evaluate(trainer: Trainer, dataset) -> tuple[float, dict, tuple[torch.Tensor, torch.Tensor]]:
    """Online probe accuracy, the evaluation set's embedding health, and its (features, projections)."""
    features = encode(trainer, trainer.model, dataset.x_test)
    with torch.no_grad():
        logits = trainer.model.probe(features)
    predictions = logits.argmax(dim=1).cpu().numpy()
    projections = project(trainer, features)
    monitor = EmbeddingMonitor(projections.shape[-1], num_slices=MONITOR_SLICES, distributed=False)
    monitor.update(projections)
    return float(np.mean(predictions == dataset.y_test)), eval_health(monitor.read()), (features, projections)


def frozen_probe_accuracy(trainer: Trainer, model: LeJEPAModel, dataset) -> float:
    """Fit a logistic-regression probe on frozen train features; score it on the test split."""
    train_features = encode(trainer, model, dataset.x_train).cpu().numpy()
    test_features = encode(trainer, model, dataset.x_test).cpu().numpy()
    return linear_probe_accuracy(train_features, dataset.y_train, test_features, dataset.y_test)


def save_checkpoint(trainer: Trainer, epoch: int) -> None:
    """Write OUT/checkpoint.pt atomically (rank 0 only)."""
    path = trainer.config.out_dir / "checkpoint.pt"
    state = {
        "epoch": epoch,
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": trainer.scheduler.state_dict(),
        "loss_fn": trainer.loss_fn.state_dict(),
        "generator": trainer.generator.get_state(),
    }
    torch.save(state, path.with_suffix(".tmp"))
    os.replace(path.with_suffix(".tmp"), path)


def load_checkpoint(trainer: Trainer) -> int:
    """Restore OUT/checkpoint.pt if it exists; return the number of epochs already done."""
    path = trainer.config.out_dir / "checkpoint.pt"
    if not path.exists():
        return 0
    state = torch.load(path, map_location=trainer.runtime.device, weights_only=True)
    trainer.model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    trainer.scheduler.load_state_dict(state["scheduler"])
    trainer.loss_fn.load_state_dict(state["loss_fn"])
    trainer.generator.set_state(state["generator"].cpu())
    return int(state["epoch"])


def train(config, dataset, runtime: Runtime) -> tuple[Trainer, MetricsLog]:
    """The training loop: epochs of steps, metrics rows per step and per epoch, periodic checkpoints."""
    world = runtime.world_size
    if config.batch_size % world:
        raise ValueError(f"--batch-size {config.batch_size} must be divisible by the {world} processes")
    steps_per_epoch = len(epoch_batches(len(dataset.x_train), config.batch_size, config.seed, 0))
    trainer = build_trainer(config, dataset, runtime, steps_per_epoch)
    start_epoch = load_checkpoint(trainer) if config.resume else 0
    log = MetricsLog(config.out_dir, resume_epoch=start_epoch) if runtime.is_main else None
    elapsed = log.elapsed_seconds if log else 0.0
    bar = tqdm(
        total=config.epochs * steps_per_epoch,
        initial=start_epoch * steps_per_epoch,
        disable=not (config.progress and runtime.is_main),
        desc="torch lejepa",
    )
    for epoch in range(start_epoch, config.epochs):
        started = time.perf_counter()
        step_metrics, learning_rates = [], []
        for batch in epoch_batches(len(dataset.x_train), config.batch_size, config.seed, epoch):
            learning_rates.append(trainer.scheduler.get_last_lr()[0])
            step_metrics.append(train_step(trainer, batch[runtime.rank :: world]))
            bar.update()
        step_metrics = torch.stack(step_metrics).cpu().numpy()  # one synchronization per epoch
        elapsed += time.perf_counter() - started
        if runtime.is_main:
            accuracy, health, _ = evaluate(trainer, dataset)
            monitor = monitor_columns(step_metrics[:, 5:], monitor_fields(), trainer.monitor.directions_host)
            row = log.record_epoch(
                epoch + 1, step_metrics[:, :5], learning_rates, monitor, online_probe_accuracy=accuracy,
                epoch_seconds=time.perf_counter() - started, elapsed_seconds=elapsed, **health,
            )
            bar.set_postfix(loss=f"{row['loss']:.3f}", probe=f"{accuracy:.3f}")
            if (epoch + 1) % config.checkpoint_every == 0 or epoch + 1 == config.epochs:
                save_checkpoint(trainer, epoch + 1)
    bar.close()
    return trainer, log


def finish(trainer: Trainer, log: MetricsLog, dataset, started: float) -> dict:
    """Final probes (trained, random init, raw pixels), metrics.json and the PNG curves."""
    config = trainer.config
    random_model = build_model(config, dataset, trainer.runtime.device)
    references = config.reference_probes
    summary = {
        "framework": "torch",
        "probe_accuracy": frozen_probe_accuracy(trainer, trainer.model, dataset),
        "random_init_probe_accuracy": frozen_probe_accuracy(trainer, random_model, dataset) if references else NAN,
        "raw_pixel_probe_accuracy": raw_pixel_probe_accuracy(dataset) if references else NAN,
        "online_probe_accuracy": log.rows[-1]["online_probe_accuracy"] if log.rows else float("nan"),
        "train_seconds": log.elapsed_seconds,
        "wall_seconds": time.perf_counter() - started,
        "world_size": trainer.runtime.world_size,
        "device": str(trainer.runtime.device),
        "torch_threads": torch.get_num_threads(),
        "dataset": dataset.name,
        "config": dataclasses.asdict(config),
    }
    _, health, (features, projections) = evaluate(trainer, dataset)
    save_embeddings(config.out_dir, projections.cpu().numpy(), features.cpu().numpy())
    summary.update({f"final_{key}": value for key, value in health.items()})
    log.write_summary(summary)
    log.plot(f"torch, {config.arch}, {dataset.name}, loss {config.loss}", summary)
    return summary


def main(argv: list[str] | None = None) -> dict | None:
    """Parse the options, train, probe; return the summary on rank 0."""
    started = time.perf_counter()
    prog = "python -m training_examples.torch_lejepa"
    config = parse_config(argv, prog, DESCRIPTION, epilog_text("torch"), loss_help=LOSS_HELP)
    try:
        build_loss(config, NUM_GLOBAL_VIEWS)
    except ValueError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    dataset = load_dataset(config.data, config.labels, config.image_size)
    config.resolve_sizes(dataset.image_shape[1])
    config.resolve_flip(dataset.name)
    runtime = start_runtime()
    warmup_warning = config.resolve_warmup()
    if runtime.is_main:
        warn(warmup_warning)
    try:
        trainer, log = train(config, dataset, runtime)
        summary = None
        if runtime.is_main:
            summary = finish(trainer, log, dataset, started)
            print_summary(summary, config.out_dir)
        return summary
    finally:
        stop_runtime(runtime)
