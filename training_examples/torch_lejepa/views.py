"""Multi-crop views in plain torch: random resized crop, flip, blur, brightness and contrast.

Every geometric step is linear in the image, and separable: for one image,
``view = A_y @ image @ A_x.T`` per channel, where ``A_y`` (out, H) and
``A_x`` (out, W) resample the crop box with an (antialiased) triangle kernel,
the flip reverses ``A_x``'s rows and the blur multiplies both by a Gaussian
matrix. A whole batch of views is then one ``einsum``, on any device.
"""

from __future__ import annotations

import dataclasses
import math

import torch


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
    device = start.device
    centers = torch.arange(out_size, device=device, dtype=torch.float32) + 0.5
    source = start[:, None] + centers * (length / out_size)[:, None] - 0.5
    width = torch.clamp(length / out_size, min=1.0)[:, None, None]
    pixels = torch.arange(in_size, device=device, dtype=torch.float32)
    weights = torch.relu(1.0 - (source[..., None] - pixels).abs() / width)
    return weights / weights.sum(-1, keepdim=True).clamp_min(1e-8)


def blur_matrix(sigma, size: int):
    """(B, size, size) row-normalized Gaussian blur along one axis, one sigma per image."""
    positions = torch.arange(size, device=sigma.device, dtype=torch.float32)
    distance2 = (positions[:, None] - positions[None, :]) ** 2
    weights = torch.exp(-distance2 / (2.0 * sigma[:, None, None] ** 2))
    return weights / weights.sum(-1, keepdim=True)


def crop_boxes(batch: int, height: int, width: int, scale, generator, device):
    """Random crop boxes (y0, x0, h, w) of area fraction in `scale` and aspect in [3/4, 4/3]."""
    uniform = torch.rand(4, batch, generator=generator, device=device)
    area = (scale[0] + (scale[1] - scale[0]) * uniform[0]) * height * width
    log_ratio = math.log(3 / 4) + (math.log(4 / 3) - math.log(3 / 4)) * uniform[1]
    box_h = torch.sqrt(area / torch.exp(log_ratio)).clamp(max=height)
    box_w = torch.sqrt(area * torch.exp(log_ratio)).clamp(max=width)
    return uniform[2] * (height - box_h), uniform[3] * (width - box_w), box_h, box_w


def make_views(images, spec: ViewSpec, num_views: int, generator, mean, std):
    """`num_views` augmented views of `images` (B, C, H, W): shape (num_views, B, C, size, size)."""
    batch, channels, height, width = images.shape
    count, device = num_views * batch, images.device
    y0, x0, box_h, box_w = crop_boxes(count, height, width, spec.scale, generator, device)
    rows = resample_matrix(y0, box_h, height, spec.size)
    cols = resample_matrix(x0, box_w, width, spec.size)
    coin = torch.rand(4, count, generator=generator, device=device)
    cols = torch.where((coin[0] < spec.flip_probability)[:, None, None], cols.flip(1), cols)
    sigma_max = min(2.0, spec.size / 16)
    sigma = 0.1 + (sigma_max - 0.1) * torch.rand(count, generator=generator, device=device)
    sigma = torch.where(coin[1] < spec.blur_probability, sigma, torch.full_like(sigma, 1e-3))
    blur = blur_matrix(sigma, spec.size)
    rows, cols = blur @ rows, blur @ cols
    repeated = images.repeat(num_views, 1, 1, 1)
    views = torch.einsum("boh,bchw,bpw->bcop", rows, repeated, cols)
    views = color_jitter(views, coin[2] < spec.jitter_probability, generator)
    views = (views - mean[:, None, None]) / std[:, None, None]
    return views.reshape(num_views, batch, channels, spec.size, spec.size)


def color_jitter(views, apply, generator):
    """Brightness and contrast factors in [0.6, 1.4] where `apply`; values clipped to [0, 1]."""
    factors = 0.6 + 0.8 * torch.rand(2, views.shape[0], generator=generator, device=views.device)
    factors = torch.where(apply, factors, torch.ones_like(factors))[..., None, None, None]
    views = views * factors[0]
    mean = views.mean(dim=(1, 2, 3), keepdim=True)
    return ((views - mean) * factors[1] + mean).clamp(0.0, 1.0)


def resize_and_normalize(images, size: int, mean, std):
    """The clean evaluation view: the whole image resized to `size`, normalized."""
    batch, _, height, width = images.shape
    zeros = torch.zeros(batch, device=images.device)
    rows = resample_matrix(zeros, torch.full_like(zeros, height), height, size)
    cols = resample_matrix(zeros, torch.full_like(zeros, width), width, size)
    views = torch.einsum("boh,bchw,bpw->bcop", rows, images, cols)
    return (views - mean[:, None, None]) / std[:, None, None]
