"""
Training an encoder with SIGReg in JAX
======================================

The same LeJEPA training loop as :ref:`the PyTorch example
<sphx_glr_auto_examples_plot_train_torch_lejepa.py>`, in JAX: plain
parameters in a dictionary, :func:`sketchtest.jax.lejepa_loss` inside a
``jax.jit``-compiled step, gradients from ``jax.value_and_grad`` and the
AdamW optimizer of optax. The directions of SIGReg are drawn from a key
folded with the step number: fresh every step, the same on every device of a
data-parallel run.
"""

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from sketchtest.jax import lejepa_loss

digits = load_digits()
images = jnp.asarray(digits.data / 16.0, dtype=jnp.float32)      # (1797, 64), in [0, 1]
labels = digits.target
train, test = np.arange(0, 1400), np.arange(1400, len(labels))


def init_params(key, hidden=256, embedding_dim=32):
    """Weights of a backbone (64 to `hidden` features) and a linear projector."""
    backbone_key, projector_key = jax.random.split(key)
    return {
        "backbone": jax.random.normal(backbone_key, (64, hidden)) / jnp.sqrt(64.0),
        "backbone_bias": jnp.zeros(hidden),
        "projector": jax.random.normal(projector_key, (hidden, embedding_dim)) / jnp.sqrt(hidden),
    }


def backbone(params, pixels):
    """Features of the images `pixels` (..., 64)."""
    return jax.nn.gelu(pixels @ params["backbone"] + params["backbone_bias"])


def views_of(key, batch, num_views=2):
    """Augmented views: pixel noise and a random quarter of the pixels set to 0."""
    noise_key, mask_key = jax.random.split(key)
    shape = (num_views, *batch.shape)
    keep = jax.random.uniform(mask_key, shape) > 0.25
    return (batch + 0.1 * jax.random.normal(noise_key, shape)) * keep     # (V, N, 64)


def loss_fn(params, views, step):
    """The LeJEPA loss of the views (V, N, 64), and its terms for logging."""
    projections = backbone(params, views) @ params["projector"]          # (V, N, K)
    key = jax.random.fold_in(jax.random.key(0), step)                    # fresh directions
    out = lejepa_loss(projections, key=key, num_slices=256, num_global_views=2, lamb=0.05)
    return out.loss, out


optimizer = optax.adamw(2e-3, weight_decay=1e-4)


@jax.jit
def train_step(params, optimizer_state, key, step):
    """One AdamW step on a random batch of training images."""
    batch_key, views_key = jax.random.split(key)
    batch = images[jax.random.randint(batch_key, (256,), 0, len(train))]
    (_, out), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        params, views_of(views_key, batch), step)
    updates, optimizer_state = optimizer.update(grads, optimizer_state, params)
    return optax.apply_updates(params, updates), optimizer_state, out


def probe_accuracy(features):
    """Test accuracy of a logistic regression on frozen features (one row per image)."""
    features = np.asarray(features)
    probe = LogisticRegression(max_iter=2000).fit(features[train], labels[train])
    return probe.score(features[test], labels[test])


params = init_params(jax.random.key(1))
accuracy_at_init = probe_accuracy(backbone(params, images))
optimizer_state = optimizer.init(params)
history = {"loss": [], "sigreg": [], "invariance": []}
for step in range(300):
    params, optimizer_state, out = train_step(
        params, optimizer_state, jax.random.fold_in(jax.random.key(2), step), step)
    for name in history:
        history[name].append(float(getattr(out, name)))

# %%
# The loss per step and its two terms, as in the PyTorch example; the dashed
# line is the expected SIGReg under :math:`N(0, I)`.

fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
for name, values in history.items():
    ax.plot(values, label=name, linewidth=1)
ax.axhline(1.0525, color="k", linestyle="--", linewidth=1, label="E[SIGReg] under N(0, I)")
ax.set_yscale("log")
ax.set_xlabel("training step (batch of 256 images, 2 views)")
ax.set_ylabel("value")
ax.legend()
plt.show()

# %%
# The linear probe on the backbone's features, with the untrained encoder
# and the raw pixels as references.

accuracy_trained = probe_accuracy(backbone(params, images))
accuracy_pixels = probe_accuracy(images)
print(f"linear probe accuracy: {accuracy_trained:.3f} after {len(history['loss'])} steps; "
      f"{accuracy_at_init:.3f} at initialization, {accuracy_pixels:.3f} on raw pixels")
print(f"last step: SIGReg {history['sigreg'][-1]:.3f}, invariance {history['invariance'][-1]:.4f}")
