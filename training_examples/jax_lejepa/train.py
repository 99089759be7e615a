"""LeJEPA in JAX: multi-crop views, a ViT or ResNet encoder, SIGReg from sketchtest, optax AdamW.

Run ``python -m training_examples.jax_lejepa --help``. The batch is sharded
over all local devices (a one-axis ``data`` mesh); parameters are replicated
and ``jit`` partitions the step, so the loss's sums over the batch span every
device. On CPU, ``XLA_FLAGS=--xla_force_host_platform_device_count=2`` makes
two devices to try it.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm.auto import tqdm

from sketchtest.jax import MONITOR_FIELDS, monitor_init, monitor_read, monitor_statistics, monitor_update
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
from training_examples.jax_lejepa.losses import LOSS_HELP, build_loss
from training_examples.jax_lejepa.models import dense, encoder_apply, model_init, projector_apply
from training_examples.jax_lejepa.views import ViewSpec, make_views, resize_and_normalize

DESCRIPTION = (
    "Train a LeJEPA encoder with JAX and optax (SIGReg or another sliced test from sketchtest) "
    "and report linear-probe accuracy."
)
NUM_GLOBAL_VIEWS = 2


@dataclasses.dataclass
class Setup:
    """What the jitted functions close over, built once."""

    config: object
    mesh: Mesh
    compute_dtype: object
    mean: jax.Array
    std: jax.Array
    global_spec: ViewSpec
    local_spec: ViewSpec

    @property
    def replicated(self) -> NamedSharding:
        return NamedSharding(self.mesh, PartitionSpec())

    @property
    def batch_sharded(self) -> NamedSharding:
        return NamedSharding(self.mesh, PartitionSpec("data"))


def warmup_cosine(config, steps_per_epoch: int, peak: float) -> optax.Schedule:
    """Linear warmup from 0 to `peak`, then cosine decay to 0 at the last step."""
    total_steps = config.epochs * steps_per_epoch
    warmup_steps = max(1, round(config.warmup_epochs * steps_per_epoch))
    return optax.warmup_cosine_decay_schedule(0.0, peak, warmup_steps, max(total_steps, warmup_steps + 1))


def make_optimizer(config, steps_per_epoch: int) -> optax.GradientTransformation:
    """AdamW with linear warmup and cosine decay; the probe gets its own rate and no decay."""

    def schedule(peak):
        return warmup_cosine(config, steps_per_epoch, peak)

    def decay_mask(params):
        return jax.tree_util.tree_map(lambda p: p.ndim > 1, params)

    def labels(params):
        return {name: jax.tree_util.tree_map(lambda _: name == "probe", tree) for name, tree in params.items()}

    return optax.multi_transform(
        {
            False: optax.adamw(schedule(config.lr), weight_decay=config.weight_decay, mask=decay_mask),
            True: optax.adamw(schedule(config.probe_lr), weight_decay=0.0),
        },
        labels,
    )


def embed_views(setup: Setup, params, global_views, local_views):
    """Encoder features of the global views, and projections (G + L, B, K) of all views in float32."""
    config, dtype = setup.config, setup.compute_dtype
    encoder = jax.tree_util.tree_map(lambda p: p.astype(dtype), params["encoder"])
    num_global, batch = global_views.shape[:2]
    features = encoder_apply(encoder, global_views.reshape(-1, *global_views.shape[2:]).astype(dtype), config)
    all_features = features
    if local_views.shape[0] > 0:
        local = encoder_apply(encoder, local_views.reshape(-1, *local_views.shape[2:]).astype(dtype), config)
        all_features = jnp.concatenate([features, local])
    projector = jax.tree_util.tree_map(lambda p: p.astype(dtype), params["projector"])
    projections = projector_apply(projector, all_features).astype(jnp.float32)
    return features.astype(jnp.float32), projections.reshape(-1, batch, projections.shape[-1])


def make_train_step(setup: Setup, optimizer: optax.GradientTransformation, base_key):
    """The jitted step: (params, opt_state), images, labels, step -> new state, its :data:`STEP_METRICS`.

    The gradient norm is that of the encoder and projector (the probe's excluded). The
    metrics end with the embedding monitor's statistics of the first global view's
    projections (the whole global batch), computed in the step: no host synchronization.
    """
    config = setup.config
    lejepa_objective = build_loss(config, NUM_GLOBAL_VIEWS)
    fresh_monitor = monitor_init(config.proj_dim, num_slices=MONITOR_SLICES, seed=config.seed)

    def objective(params, images, labels, step):
        view_key, loss_key = jax.random.split(jax.random.fold_in(base_key, step))
        global_key, local_key = jax.random.split(view_key)
        global_views = make_views(global_key, images, setup.global_spec, NUM_GLOBAL_VIEWS, setup.mean, setup.std)
        local_views = make_views(local_key, images, setup.local_spec, config.num_local_views, setup.mean, setup.std)
        features, projections = embed_views(setup, params, global_views, local_views)
        lejepa = lejepa_objective(projections, loss_key)
        logits = dense(params["probe"], jax.lax.stop_gradient(features))
        targets = jnp.tile(labels, NUM_GLOBAL_VIEWS)
        probe_loss = optax.softmax_cross_entropy_with_integer_labels(logits, targets).mean()
        metrics = jnp.stack([lejepa.loss, lejepa.sigreg, lejepa.invariance, probe_loss])
        health = monitor_statistics(monitor_update(fresh_monitor, jax.lax.stop_gradient(projections[0])))
        return lejepa.loss + probe_loss, (metrics, health.astype(metrics.dtype))

    def train_step(state, images, labels, step):
        params, opt_state = state
        grads, (metrics, health) = jax.grad(objective, has_aux=True)(params, images, labels, step)
        grad_norm = optax.global_norm({name: grads[name] for name in ("encoder", "projector")})
        metrics = jnp.concatenate([metrics, grad_norm[None], health])
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), metrics

    return jax.jit(train_step, out_shardings=setup.replicated, donate_argnums=0)


def make_encode(setup: Setup):
    """Jitted encoder features of whole images resized to the global view size."""

    def encode(encoder_params, images):
        views = resize_and_normalize(images, setup.config.global_size, setup.mean, setup.std)
        encoder = jax.tree_util.tree_map(lambda p: p.astype(setup.compute_dtype), encoder_params)
        return encoder_apply(encoder, views.astype(setup.compute_dtype), setup.config).astype(jnp.float32)

    jitted = jax.jit(encode)

    def encode_all(encoder_params, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
        chunks = [jitted(encoder_params, images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
        return np.concatenate([np.asarray(chunk) for chunk in chunks])

    return encode_all


def evaluate(encode, params, config, dataset) -> tuple[float, dict, tuple[np.ndarray, np.ndarray]]:
    """Online probe accuracy, the evaluation set's embedding health, and its (features, projections)."""
    features = encode(params["encoder"], dataset.x_test)
    logits = np.asarray(dense(params["probe"], features))
    projections = np.asarray(projector_apply(params["projector"], jnp.asarray(features)))
    monitor = monitor_update(monitor_init(projections.shape[-1], num_slices=MONITOR_SLICES), projections)
    accuracy = float(np.mean(logits.argmax(axis=1) == dataset.y_test))
    return accuracy, eval_health(monitor_read(monitor)), (features, projections)


def save_checkpoint(path, state, epoch: int) -> None:
    """Write the flattened (params, opt_state) leaves and the epoch to an .npz, atomically."""
    leaves = jax.tree_util.tree_leaves(jax.device_get(state))
    temporary = path.with_suffix(".tmp.npz")
    np.savez(temporary, epoch=np.int64(epoch), **{f"leaf_{i}": np.asarray(leaf) for i, leaf in enumerate(leaves)})
    os.replace(temporary, path)


def load_checkpoint(path, state):
    """(state, epochs done) from `path`, shaped like `state`; (state, 0) when there is none."""
    if not path.exists():
        return state, 0
    leaves, treedef = jax.tree_util.tree_flatten(state)
    with np.load(path, allow_pickle=False) as saved:
        restored = [saved[f"leaf_{i}"] for i in range(len(leaves))]
        epoch = int(saved["epoch"])
    for old, new in zip(leaves, restored):
        if old.shape != new.shape:
            raise ValueError(f"--resume: {path} holds a different model ({new.shape} vs {old.shape})")
    restored = [jnp.asarray(new, dtype=old.dtype) for old, new in zip(leaves, restored)]
    return jax.tree_util.tree_unflatten(treedef, restored), epoch


def build_setup(config, dataset) -> Setup:
    devices = np.asarray(jax.devices())
    if config.batch_size % devices.size:
        raise ValueError(f"--batch-size {config.batch_size} must be divisible by the {devices.size} devices")
    return Setup(
        config=config,
        mesh=Mesh(devices, ("data",)),
        compute_dtype=jnp.bfloat16 if config.use_bfloat16(jax.default_backend() == "gpu") else jnp.float32,
        mean=jnp.asarray(dataset.channel_mean),
        std=jnp.asarray(dataset.channel_std),
        global_spec=ViewSpec(config.global_size, config.global_scale, config.flip_probability),
        local_spec=ViewSpec(config.local_size, config.local_scale, config.flip_probability),
    )


def initial_params(config, dataset):
    """The model at its initial weights: the same weights for the same seed, every time."""
    key = jax.random.fold_in(jax.random.key(config.seed), 0)
    return model_init(key, config, dataset.image_shape[0], dataset.num_classes)


def train(config, dataset):
    """The training loop: epochs of sharded steps, metrics rows per step and per epoch, periodic checkpoints."""
    setup = build_setup(config, dataset)
    num_train = len(dataset.x_train)
    steps_per_epoch = len(epoch_batches(num_train, config.batch_size, config.seed, 0))
    optimizer = make_optimizer(config, steps_per_epoch)
    learning_rate = warmup_cosine(config, steps_per_epoch, config.lr)
    params = initial_params(config, dataset)
    state = (params, optimizer.init(params))
    checkpoint = config.out_dir / "checkpoint.npz"
    state, start_epoch = load_checkpoint(checkpoint, state) if config.resume else (state, 0)
    state = jax.device_put(state, setup.replicated)
    train_step = make_train_step(setup, optimizer, jax.random.fold_in(jax.random.key(config.seed), 1))
    encode = make_encode(setup)
    log = MetricsLog(config.out_dir, resume_epoch=start_epoch)
    elapsed = log.elapsed_seconds
    bar = tqdm(
        total=config.epochs * steps_per_epoch,
        initial=start_epoch * steps_per_epoch,
        disable=not config.progress,
        desc="jax lejepa",
    )
    for epoch in range(start_epoch, config.epochs):
        started = time.perf_counter()
        step_metrics = []
        for index, batch in enumerate(epoch_batches(num_train, config.batch_size, config.seed, epoch)):
            images = jax.device_put(dataset.x_train[batch], setup.batch_sharded)
            labels = jax.device_put(dataset.y_train[batch].astype(np.int32), setup.batch_sharded)
            step = np.int32(epoch * steps_per_epoch + index)
            state, metrics = train_step(state, images, labels, step)
            # Reading the metrics waits for the step: on CPU devices, XLA's in-process
            # collectives can deadlock when two programs' collectives interleave.
            step_metrics.append(np.asarray(metrics))
            bar.update()
        elapsed += time.perf_counter() - started
        accuracy, health, _ = evaluate(encode, state[0], config, dataset)
        learning_rates = np.asarray(learning_rate(epoch * steps_per_epoch + np.arange(steps_per_epoch)))
        step_metrics = np.asarray(step_metrics)
        directions = monitor_init(config.proj_dim, num_slices=MONITOR_SLICES, seed=config.seed).directions
        monitor = monitor_columns(step_metrics[:, 5:], MONITOR_FIELDS, np.asarray(directions, dtype=np.float64))
        row = log.record_epoch(
            epoch + 1, step_metrics[:, :5], learning_rates, monitor, online_probe_accuracy=accuracy,
            epoch_seconds=time.perf_counter() - started, elapsed_seconds=elapsed, **health,
        )
        bar.set_postfix(loss=f"{row['loss']:.3f}", probe=f"{accuracy:.3f}")
        if (epoch + 1) % config.checkpoint_every == 0 or epoch + 1 == config.epochs:
            save_checkpoint(checkpoint, state, epoch + 1)
    bar.close()
    return state[0], encode, log


def frozen_probe_accuracy(encode, encoder_params, dataset) -> float:
    """Fit a logistic-regression probe on frozen train features; score it on the test split."""
    train_features = encode(encoder_params, dataset.x_train)
    test_features = encode(encoder_params, dataset.x_test)
    return linear_probe_accuracy(train_features, dataset.y_train, test_features, dataset.y_test)


def main(argv: list[str] | None = None) -> dict:
    """Parse the options, train, probe; write metrics.json and the curves; return the summary."""
    started = time.perf_counter()
    prog = "python -m training_examples.jax_lejepa"
    config = parse_config(argv, prog, DESCRIPTION, epilog_text("jax"), loss_help=LOSS_HELP)
    try:
        build_loss(config, NUM_GLOBAL_VIEWS)
    except ValueError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    dataset = load_dataset(config.data, config.labels, config.image_size)
    config.resolve_sizes(dataset.image_shape[1])
    config.resolve_flip(dataset.name)
    warn(config.resolve_warmup())
    params, encode, log = train(config, dataset)
    random_encoder = initial_params(config, dataset)["encoder"]
    summary = {
        "framework": "jax",
        "probe_accuracy": frozen_probe_accuracy(encode, params["encoder"], dataset),
        "random_init_probe_accuracy": (
            frozen_probe_accuracy(encode, random_encoder, dataset) if config.reference_probes else float("nan")
        ),
        "raw_pixel_probe_accuracy": raw_pixel_probe_accuracy(dataset) if config.reference_probes else float("nan"),
        "online_probe_accuracy": log.rows[-1]["online_probe_accuracy"] if log.rows else float("nan"),
        "train_seconds": log.elapsed_seconds,
        "wall_seconds": time.perf_counter() - started,
        "num_devices": jax.device_count(),
        "device": str(jax.devices()[0].platform),
        "dataset": dataset.name,
        "config": dataclasses.asdict(config),
    }
    _, health, (features, projections) = evaluate(encode, params, config, dataset)
    save_embeddings(config.out_dir, projections, features)
    summary.update({f"final_{key}": value for key, value in health.items()})
    log.write_summary(summary)
    log.plot(f"jax, {config.arch}, {dataset.name}, loss {config.loss}", summary)
    print_summary(summary, config.out_dir)
    return summary
