"""Encoders (a small ViT, a small ResNet), the projector and the online probe, in plain JAX.

Parameters are nested dicts of arrays; every ``*_init(key, ...)`` returns one,
every ``*_apply(params, x)`` is a pure function of it. The architectures
match the PyTorch trainer's layer for layer.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from training_examples.common import sincos_position_embedding


def dense_init(key, fan_in: int, fan_out: int):
    """PyTorch's default Linear initialization: uniform in +-1/sqrt(fan_in)."""
    weight_key, bias_key = jax.random.split(key)
    bound = fan_in**-0.5
    weight = jax.random.uniform(weight_key, (fan_in, fan_out), jnp.float32, -bound, bound)
    return {"w": weight, "b": jax.random.uniform(bias_key, (fan_out,), jnp.float32, -bound, bound)}


def dense(params, x):
    return x @ params["w"].astype(x.dtype) + params["b"].astype(x.dtype)


def norm_init(dim: int):
    return {"scale": jnp.ones((dim,), jnp.float32), "bias": jnp.zeros((dim,), jnp.float32)}


def layer_norm(params, x, eps: float = 1e-5):
    """LayerNorm over the last axis, computed in float32."""
    x32 = x.astype(jnp.float32)
    mean = x32.mean(-1, keepdims=True)
    normalized = (x32 - mean) * jax.lax.rsqrt(x32.var(-1, keepdims=True) + eps)
    return (normalized * params["scale"] + params["bias"]).astype(x.dtype)


def batch_norm(params, x, eps: float = 1e-5):
    """BatchNorm with the batch's statistics (no running averages), computed in float32."""
    x32 = x.astype(jnp.float32)
    normalized = (x32 - x32.mean(0)) * jax.lax.rsqrt(x32.var(0) + eps)
    return (normalized * params["scale"] + params["bias"]).astype(x.dtype)


def group_norm(params, x, groups: int, eps: float = 1e-5):
    """GroupNorm on (B, C, H, W), computed in float32."""
    batch, channels, height, width = x.shape
    grouped = x.astype(jnp.float32).reshape(batch, groups, -1)
    grouped = (grouped - grouped.mean(-1, keepdims=True)) * jax.lax.rsqrt(grouped.var(-1, keepdims=True) + eps)
    normalized = grouped.reshape(batch, channels, height, width)
    return (normalized * params["scale"][:, None, None] + params["bias"][:, None, None]).astype(x.dtype)


def vit_init(key, in_channels: int, patch_size: int, dim: int, depth: int, num_heads: int):
    if dim % num_heads != 0:
        raise ValueError(f"--embed-dim {dim} must be divisible by --num-heads {num_heads}")
    keys = jax.random.split(key, 1 + depth)
    blocks = []
    for block_key in keys[1:]:
        qkv_key, out_key, up_key, down_key = jax.random.split(block_key, 4)
        blocks.append(
            {
                "norm1": norm_init(dim),
                "qkv": dense_init(qkv_key, dim, 3 * dim),
                "out": dense_init(out_key, dim, dim),
                "norm2": norm_init(dim),
                "up": dense_init(up_key, dim, 4 * dim),
                "down": dense_init(down_key, 4 * dim, dim),
            }
        )
    patch = dense_init(keys[0], in_channels * patch_size**2, dim)
    return {"patch": patch, "blocks": blocks, "norm": norm_init(dim)}


def attention(params, tokens, num_heads: int):
    batch, length, dim = tokens.shape
    qkv = dense(params["qkv"], tokens).reshape(batch, length, 3, num_heads, dim // num_heads)
    query, key, value = jnp.moveaxis(qkv, 2, 0)
    scores = jnp.einsum("bqhd,bkhd->bhqk", query, key) / jnp.sqrt(jnp.float32(dim // num_heads)).astype(query.dtype)
    weights = jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(value.dtype)
    mixed = jnp.einsum("bhqk,bkhd->bqhd", weights, value).reshape(batch, length, dim)
    return dense(params["out"], mixed)


def vit_apply(params, images, patch_size: int, num_heads: int):
    """Patch embedding, fixed sin-cos positions, pre-norm blocks, mean-pooled tokens."""
    batch, channels, height, width = images.shape
    grid_h, grid_w = height // patch_size, width // patch_size
    patches = images[:, :, : grid_h * patch_size, : grid_w * patch_size]
    patches = patches.reshape(batch, channels, grid_h, patch_size, grid_w, patch_size)
    patches = patches.transpose(0, 2, 4, 1, 3, 5).reshape(batch, grid_h * grid_w, -1)
    dim = params["patch"]["w"].shape[1]
    positions = jnp.asarray(sincos_position_embedding(grid_h, grid_w, dim), dtype=images.dtype)
    tokens = dense(params["patch"], patches) + positions
    for block in params["blocks"]:
        tokens = tokens + attention(block, layer_norm(block["norm1"], tokens), num_heads)
        hidden = jax.nn.gelu(dense(block["up"], layer_norm(block["norm2"], tokens)), approximate=False)
        tokens = tokens + dense(block["down"], hidden)
    return layer_norm(params["norm"], tokens.mean(axis=1))


def conv_init(key, in_channels: int, out_channels: int, size: int, bias: bool = False):
    weight_key, bias_key = jax.random.split(key)
    bound = (in_channels * size * size) ** -0.5
    params = {"w": jax.random.uniform(weight_key, (out_channels, in_channels, size, size), jnp.float32, -bound, bound)}
    if bias:
        params["b"] = jax.random.uniform(bias_key, (out_channels,), jnp.float32, -bound, bound)
    return params


def conv(params, x, stride: int = 1):
    padding = params["w"].shape[-1] // 2
    out = jax.lax.conv_general_dilated(
        x, params["w"].astype(x.dtype), (stride, stride), [(padding, padding)] * 2,
        dimension_numbers=("NCHW", "OIHW", "NCHW"),
    )
    return out + params["b"].astype(x.dtype)[:, None, None] if "b" in params else out


def resnet_widths(dim: int, depth: int) -> list[int]:
    return [max(8, dim >> (depth - 1 - stage)) for stage in range(depth)]


def resnet_init(key, in_channels: int, dim: int, depth: int):
    widths = resnet_widths(dim, depth)
    keys = jax.random.split(key, 1 + depth)
    stages, previous = [], widths[0]
    for stage, (stage_key, width) in enumerate(zip(keys[1:], widths)):
        conv1_key, conv2_key, shortcut_key = jax.random.split(stage_key, 3)
        block = {"conv1": conv_init(conv1_key, previous, width, 3), "norm1": norm_init(width)}
        block.update(conv2=conv_init(conv2_key, width, width, 3), norm2=norm_init(width))
        if stage > 0 or previous != width:
            block["shortcut"] = conv_init(shortcut_key, previous, width, 1)
        stages.append(block)
        previous = width
    return {"stem": conv_init(keys[0], in_channels, widths[0], 3, bias=True), "stages": stages}


def resnet_apply(params, images):
    """A 3x3 stem and residual stages (stride 2 after the first), GroupNorm, global average pool."""
    x = conv(params["stem"], images)
    for stage, block in enumerate(params["stages"]):
        stride = 1 if stage == 0 else 2
        groups = min(8, block["conv1"]["w"].shape[0])
        hidden = jax.nn.relu(group_norm(block["norm1"], conv(block["conv1"], x, stride), groups))
        hidden = group_norm(block["norm2"], conv(block["conv2"], hidden), groups)
        shortcut = conv(block["shortcut"], x, stride) if "shortcut" in block else x
        x = jax.nn.relu(hidden + shortcut)
    return x.mean(axis=(2, 3))


def projector_init(key, dim: int, hidden_dim: int, out_dim: int):
    keys = jax.random.split(key, 3)
    return {
        "fc1": dense_init(keys[0], dim, hidden_dim),
        "bn1": norm_init(hidden_dim),
        "fc2": dense_init(keys[1], hidden_dim, hidden_dim),
        "bn2": norm_init(hidden_dim),
        "fc3": dense_init(keys[2], hidden_dim, out_dim),
    }


def projector_apply(params, features):
    """LeJEPA's projector MLP; its BatchNorm always uses the batch statistics."""
    hidden = jax.nn.relu(batch_norm(params["bn1"], dense(params["fc1"], features)))
    hidden = jax.nn.relu(batch_norm(params["bn2"], dense(params["fc2"], hidden)))
    return dense(params["fc3"], hidden)


def encoder_dim(config) -> int:
    return config.embed_dim if config.arch == "vit" else resnet_widths(config.embed_dim, config.depth)[-1]


def model_init(key, config, in_channels: int, num_classes: int):
    """All parameters: {"encoder", "projector", "probe"}."""
    encoder_key, projector_key, probe_key = jax.random.split(key, 3)
    if config.arch == "vit":
        sizes = (config.patch_size, config.embed_dim, config.depth, config.num_heads)
        encoder = vit_init(encoder_key, in_channels, *sizes)
    else:
        encoder = resnet_init(encoder_key, in_channels, config.embed_dim, config.depth)
    dim = encoder_dim(config)
    projector = projector_init(projector_key, dim, config.proj_hidden_dim, config.proj_dim)
    return {"encoder": encoder, "projector": projector, "probe": dense_init(probe_key, dim, num_classes)}


def encoder_apply(params, images, config):
    if config.arch == "vit":
        return vit_apply(params, images, config.patch_size, config.num_heads)
    return resnet_apply(params, images)
