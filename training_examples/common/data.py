"""Image data without downloads: scikit-learn's digits, or the user's own arrays.

Every source ends as a :class:`Dataset`: float32 images of shape (N, C, H, W)
scaled to [0, 1], integer labels, and a fixed train/test split.

Accepted sources (``--data``):

- ``digits`` (default): :func:`sklearn.datasets.load_digits`, 1797 grey 8x8
  images of 10 classes.
- ``shifted-digits``: the same digits, each scaled by 1 to 2.5, rotated by
  up to 40 degrees and placed at a random position on a black 32x32 canvas
  (:func:`shifted_digits`; seeded, made offline in a second). A linear probe
  on its raw pixels is near chance, so what an encoder learns shows.
- a ``.npz`` file with ``x_train, y_train, x_test, y_test`` (the layout of
  the usual CIFAR-10 conversions), or with one array of images (``x``,
  ``images``, ``data`` or ``X``) and one of labels (``y``, ``labels``,
  ``targets`` or ``Y``);
- a ``.npy`` file of images, with labels in another ``.npy`` given by
  ``--labels``;
- a folder with one subfolder of image files per class (the ImageFolder
  layout of Imagenette and friends), resized to ``--image-size``.

Images may be (N, H, W), (N, H, W, C) or (N, C, H, W), integer (0..255) or
float. Files are read with ``allow_pickle=False``: nothing in them runs.
A source without its own split is split 75/25, stratified, with a fixed seed.
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

IMAGE_KEYS = ("x", "images", "data", "X")
LABEL_KEYS = ("y", "labels", "targets", "Y")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
SPLIT_SEED = 0
TEST_FRACTION = 0.25


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Images in [0, 1] of shape (N, C, H, W) and integer labels, split once."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])

    @property
    def channel_mean(self) -> np.ndarray:
        return self.x_train.mean(axis=(0, 2, 3)).astype(np.float32)

    @property
    def channel_std(self) -> np.ndarray:
        return (self.x_train.std(axis=(0, 2, 3)) + 1e-6).astype(np.float32)


def load_dataset(source: str = "digits", labels: str | None = None, image_size: int = 32) -> Dataset:
    """Load `source` (``digits``, a .npz/.npy file or an image folder) as a :class:`Dataset`."""
    if source == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        return _split("digits", digits.images / 16.0, digits.target)
    if source == "shifted-digits":
        images, targets = shifted_digits()
        return _split("shifted-digits", images, targets)
    path = pathlib.Path(source)
    if path.is_dir():
        images, targets = _read_image_folder(path, image_size)
        return _split(path.name, images, targets)
    if path.suffix == ".npz":
        return _read_npz(path)
    if path.suffix == ".npy":
        if labels is None:
            raise ValueError("--labels: a .npy file of labels is required with a .npy file of images")
        return _split(path.stem, np.load(path, allow_pickle=False), np.load(labels, allow_pickle=False))
    raise ValueError(f"--data: expected 'digits', 'shifted-digits', a .npz or .npy file or a folder, got {source!r}")


SHIFTED_CANVAS = 32
SHIFTED_SCALE = (1.0, 2.5)
SHIFTED_MAX_DEGREES = 40.0


def shifted_digits(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits at random scales, rotations and positions on a 32x32 canvas.

    Each 8x8 digit (values in [0, 1]) is zoomed by a factor drawn from
    :data:`SHIFTED_SCALE` and rotated by an angle within
    +-:data:`SHIFTED_MAX_DEGREES` (bilinear, :mod:`scipy.ndimage`), then
    pasted at a uniform position; a draw larger than the canvas is cropped to
    its centre. The same `seed` gives the same images. Returns float32 images
    ``(1797, 32, 32)`` in [0, 1] and their labels.
    """
    from scipy import ndimage
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    canvas = np.zeros((len(digits.target), SHIFTED_CANVAS, SHIFTED_CANVAS), dtype=np.float32)
    for image, target in zip(digits.images / 16.0, canvas):
        glyph = ndimage.zoom(image, rng.uniform(*SHIFTED_SCALE), order=1)
        glyph = np.clip(ndimage.rotate(glyph, rng.uniform(-SHIFTED_MAX_DEGREES, SHIFTED_MAX_DEGREES), order=1), 0, 1)
        glyph = _center_crop(glyph, SHIFTED_CANVAS)
        row = rng.integers(0, SHIFTED_CANVAS - glyph.shape[0] + 1)
        column = rng.integers(0, SHIFTED_CANVAS - glyph.shape[1] + 1)
        target[row : row + glyph.shape[0], column : column + glyph.shape[1]] = glyph
    return canvas, digits.target


def _center_crop(image: np.ndarray, size: int) -> np.ndarray:
    top, left = max(0, (image.shape[0] - size) // 2), max(0, (image.shape[1] - size) // 2)
    return image[top : top + size, left : left + size]


def _read_npz(path: pathlib.Path) -> Dataset:
    with np.load(path, allow_pickle=False) as arrays:
        if {"x_train", "y_train", "x_test", "y_test"} <= set(arrays.files):
            train_size = len(arrays["y_train"])
            targets = to_labels(np.concatenate([arrays["y_train"], arrays["y_test"]]))
            return Dataset(
                path.stem,
                to_nchw_unit(arrays["x_train"]),
                targets[:train_size],
                to_nchw_unit(arrays["x_test"]),
                targets[train_size:],
            )
        image_key = next((k for k in IMAGE_KEYS if k in arrays.files), None)
        label_key = next((k for k in LABEL_KEYS if k in arrays.files), None)
        if image_key is None or label_key is None:
            raise ValueError(
                f"--data: {path} needs x_train/y_train/x_test/y_test, or one of {IMAGE_KEYS} "
                f"and one of {LABEL_KEYS}; it has {arrays.files}"
            )
        return _split(path.stem, arrays[image_key], arrays[label_key])


def _read_image_folder(root: pathlib.Path, image_size: int) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    classes = sorted(p for p in root.iterdir() if p.is_dir())
    if not classes:
        raise ValueError(f"--data: {root} has no class subfolders")
    images, targets = [], []
    for index, folder in enumerate(classes):
        for file in sorted(folder.rglob("*")):
            if file.suffix.lower() in IMAGE_SUFFIXES:
                with Image.open(file) as image:
                    image = image.convert("RGB").resize((image_size, image_size), Image.BILINEAR)
                    images.append(np.asarray(image, dtype=np.uint8))
                targets.append(index)
    if not images:
        raise ValueError(f"--data: no image files under {root}")
    return np.stack(images).transpose(0, 3, 1, 2), np.asarray(targets)


def _split(name: str, images: np.ndarray, targets: np.ndarray) -> Dataset:
    from sklearn.model_selection import train_test_split

    images, targets = to_nchw_unit(images), to_labels(targets)
    if len(images) != len(targets):
        raise ValueError(f"--data: {len(images)} images but {len(targets)} labels")
    x_train, x_test, y_train, y_test = train_test_split(
        images, targets, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=targets
    )
    return Dataset(name, x_train, y_train, x_test, y_test)


def to_nchw_unit(images: np.ndarray) -> np.ndarray:
    """Images as float32 (N, C, H, W) in [0, 1], from (N, H, W), NHWC or NCHW."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[:, None]
    elif images.ndim != 4:
        raise ValueError(f"--data: images must have 3 or 4 dimensions, got shape {images.shape}")
    elif images.shape[-1] in (1, 3, 4) and images.shape[1] not in (1, 3):
        images = images.transpose(0, 3, 1, 2)
    scale = 255.0 if np.issubdtype(images.dtype, np.integer) or images.max() > 1.0 else 1.0
    return np.ascontiguousarray(images, dtype=np.float32) / np.float32(scale)


def to_labels(targets: np.ndarray) -> np.ndarray:
    """Labels as int64 class indices 0..C-1 (any hashable labels are re-indexed)."""
    targets = np.asarray(targets).reshape(-1)
    _, indices = np.unique(targets, return_inverse=True)
    return indices.astype(np.int64)


def epoch_batches(num_train: int, batch_size: int, seed: int, epoch: int) -> np.ndarray:
    """Shuffled index batches of one epoch, shape (steps, batch_size); the last partial batch is dropped.

    The order depends only on (seed, epoch), so every process of a distributed
    job, and a resumed run, sees the same batches.
    """
    if batch_size > num_train:
        raise ValueError(f"--batch-size {batch_size} is larger than the {num_train} training images")
    order = np.random.default_rng([seed, epoch]).permutation(num_train)
    steps = num_train // batch_size
    return order[: steps * batch_size].reshape(steps, batch_size)
