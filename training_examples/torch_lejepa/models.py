"""Encoders (a small ViT, a small ResNet), the projector and the online probe, in plain torch."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from training_examples.common import sincos_position_embedding


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"--embed-dim {dim} must be divisible by --num-heads {num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, tokens):
        batch, length, dim = tokens.shape
        qkv = self.qkv(tokens).reshape(batch, length, 3, self.num_heads, dim // self.num_heads)
        query, key, value = qkv.permute(2, 0, 3, 1, 4)
        mixed = F.scaled_dot_product_attention(query, key, value)
        return self.out(mixed.transpose(1, 2).reshape(batch, length, dim))


class TransformerBlock(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: int = 4):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attention = Attention(dim, num_heads)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))

    def forward(self, tokens):
        tokens = tokens + self.attention(self.norm1(tokens))
        return tokens + self.mlp(self.norm2(tokens))


class ViT(nn.Module):
    """Patch embedding, fixed sin-cos positions, pre-norm blocks, mean-pooled tokens."""

    def __init__(self, in_channels: int, patch_size: int, dim: int, depth: int, num_heads: int):
        super().__init__()
        self.dim = dim
        self.patch_embed = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)
        self.blocks = nn.ModuleList(TransformerBlock(dim, num_heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

    def forward(self, images):
        patches = self.patch_embed(images)
        grid_h, grid_w = patches.shape[-2:]
        positions = sincos_position_embedding(grid_h, grid_w, self.dim)
        tokens = patches.flatten(2).transpose(1, 2) + torch.as_tensor(positions, device=images.device)
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens.mean(dim=1))


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with GroupNorm (no running statistics), strided shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        groups = min(8, out_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.norm1 = nn.GroupNorm(groups, out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.norm2 = nn.GroupNorm(groups, out_channels)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)

    def forward(self, x):
        hidden = F.relu(self.norm1(self.conv1(x)))
        return F.relu(self.norm2(self.conv2(hidden)) + self.shortcut(x))


class ResNet(nn.Module):
    """A 3x3 stem and `depth` residual stages, widths doubling up to `dim`, global average pool."""

    def __init__(self, in_channels: int, dim: int, depth: int):
        super().__init__()
        widths = [max(8, dim >> (depth - 1 - stage)) for stage in range(depth)]
        self.stem = nn.Conv2d(in_channels, widths[0], 3, padding=1)
        stages, previous = [], widths[0]
        for stage, width in enumerate(widths):
            stages.append(ResidualBlock(previous, width, stride=1 if stage == 0 else 2))
            previous = width
        self.stages = nn.Sequential(*stages)
        self.dim = widths[-1]

    def forward(self, images):
        return self.stages(self.stem(images)).mean(dim=(2, 3))


def projector(dim: int, hidden_dim: int, out_dim: int) -> nn.Sequential:
    """LeJEPA's projector MLP; its BatchNorm always uses the batch statistics."""
    return nn.Sequential(
        nn.Linear(dim, hidden_dim),
        nn.BatchNorm1d(hidden_dim, track_running_stats=False),
        nn.ReLU(),
        nn.Linear(hidden_dim, hidden_dim),
        nn.BatchNorm1d(hidden_dim, track_running_stats=False),
        nn.ReLU(),
        nn.Linear(hidden_dim, out_dim),
    )


class LeJEPAModel(nn.Module):
    """Encoder, projector and online linear probe: one module for DDP to wrap."""

    def __init__(self, config, in_channels: int, num_classes: int):
        super().__init__()
        if config.arch == "vit":
            self.encoder = ViT(in_channels, config.patch_size, config.embed_dim, config.depth, config.num_heads)
        else:
            self.encoder = ResNet(in_channels, config.embed_dim, config.depth)
        self.projector = projector(self.encoder.dim, config.proj_hidden_dim, config.proj_dim)
        self.probe = nn.Linear(self.encoder.dim, num_classes)

    def forward(self, global_views, local_views):
        """Views (G, B, C, h, w) and (L, B, C, h', w') -> global features, projections (G+L, B, K), logits."""
        num_global, batch = global_views.shape[:2]
        features = self.encoder(global_views.flatten(0, 1))
        all_features = features
        if local_views.shape[0] > 0:
            all_features = torch.cat([features, self.encoder(local_views.flatten(0, 1))])
        projections = self.projector(all_features).unflatten(0, (-1, batch))
        logits = self.probe(features.detach())
        return features, projections, logits
