"""Multi-crop views in plain JAX: random resized crop, flip, blur, brightness and contrast.

The same construction as the PyTorch trainer: per image, ``view = A_y @ image
@ A_x.T``, where ``A_y`` and ``A_x`` resample the crop box with an
(antialiased) triangle kernel, the flip reverses ``A_x``'s rows and the blur
multiplies both by a Gaussian matrix. Pure functions of a key: they run
under ``jit`` on a batch sharded across devices.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class ViewSpec:
    """How one family of views is drawn (global or local)."""

    size: int
    scale: tuple[float, float]
    flip_probability: float = 0.5
    blur_probability: float = 0.5
    jitter_probability: float = 0.8


def resample_matrix(start, length, in_size: int, out_size: int):
    """(B, out, in) rows that resample the interval [start, start + length) to `out_size` pixels."""
    centers = jnp.arange(out_size, dtype=jnp.float32) + 0.5
    source = start[:, None] + centers * (length / out_size)[:, None] - 0.5
    width = jnp.maximum(length / out_size, 1.0)[:, None, None]
    pixels = jnp.arange(in_size, dtype=jnp.float32)
    weights = jax.nn.relu(1.0 - jnp.abs(source[..., None] - pixels) / width)
    return weights / jnp.maximum(weights.sum(-1, keepdims=True), 1e-8)


def blur_matrix(sigma, size: int):
    """(B, size, size) row-normalized Gaussian blur along one axis, one sigma per image."""
    positions = jnp.arange(size, dtype=jnp.float32)
    distance2 = (positions[:, None] - positions[None, :]) ** 2
    weights = jnp.exp(-distance2 / (2.0 * sigma[:, None, None] ** 2))
    return weights / weights.sum(-1, keepdims=True)


def crop_boxes(key, batch: int, height: int, width: int, scale):
    """Random crop boxes (y0, x0, h, w) of area fraction in `scale` and aspect in [3/4, 4/3]."""
    uniform = jax.random.uniform(key, (4, batch), jnp.float32)
    area = (scale[0] + (scale[1] - scale[0]) * uniform[0]) * height * width
    log_ratio = math.log(3 / 4) + (math.log(4 / 3) - math.log(3 / 4)) * uniform[1]
    box_h = jnp.minimum(jnp.sqrt(area / jnp.exp(log_ratio)), height)
    box_w = jnp.minimum(jnp.sqrt(area * jnp.exp(log_ratio)), width)
    return uniform[2] * (height - box_h), uniform[3] * (width - box_w), box_h, box_w


def make_views(key, images, spec: ViewSpec, num_views: int, mean, std):
    """`num_views` augmented views of `images` (B, C, H, W): shape (num_views, B, C, size, size)."""
    batch, channels, height, width = images.shape
    count = num_views * batch
    crop_key, coin_key, sigma_key, jitter_key = jax.random.split(key, 4)
    y0, x0, box_h, box_w = crop_boxes(crop_key, count, height, width, spec.scale)
    rows = resample_matrix(y0, box_h, height, spec.size)
    cols = resample_matrix(x0, box_w, width, spec.size)
    coin = jax.random.uniform(coin_key, (3, count), jnp.float32)
    cols = jnp.where((coin[0] < spec.flip_probability)[:, None, None], cols[:, ::-1], cols)
    sigma_max = min(2.0, spec.size / 16)
    sigma = 0.1 + (sigma_max - 0.1) * jax.random.uniform(sigma_key, (count,), jnp.float32)
    sigma = jnp.where(coin[1] < spec.blur_probability, sigma, 1e-3)
    blur = blur_matrix(sigma, spec.size)
    rows, cols = blur @ rows, blur @ cols
    repeated = jnp.tile(images, (num_views, 1, 1, 1))
    views = jnp.einsum("boh,bchw,bpw->bcop", rows, repeated, cols)
    views = color_jitter(jitter_key, views, coin[2] < spec.jitter_probability)
    views = (views - mean[:, None, None]) / std[:, None, None]
    return views.reshape(num_views, batch, channels, spec.size, spec.size)


def color_jitter(key, views, apply):
    """Brightness and contrast factors in [0.6, 1.4] where `apply`; values clipped to [0, 1]."""
    factors = 0.6 + 0.8 * jax.random.uniform(key, (2, views.shape[0]), jnp.float32)
    factors = jnp.where(apply, factors, 1.0)[..., None, None, None]
    views = views * factors[0]
    mean = views.mean(axis=(1, 2, 3), keepdims=True)
    return jnp.clip((views - mean) * factors[1] + mean, 0.0, 1.0)


def resize_and_normalize(images, size: int, mean, std):
    """The clean evaluation view: the whole image resized to `size`, normalized."""
    batch, _, height, width = images.shape
    zeros = jnp.zeros((batch,), jnp.float32)
    rows = resample_matrix(zeros, jnp.full((batch,), height, jnp.float32), height, size)
    cols = resample_matrix(zeros, jnp.full((batch,), width, jnp.float32), width, size)
    views = jnp.einsum("boh,bchw,bpw->bcop", rows, images, cols)
    return (views - mean[:, None, None]) / std[:, None, None]
