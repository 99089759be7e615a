"""The command line shared by both trainers: one recipe, one set of options."""

from __future__ import annotations

import argparse
import dataclasses
import pathlib


@dataclasses.dataclass
class TrainConfig:
    """Every option of a training run (the defaults are the CPU recipe on digits)."""

    data: str = "digits"
    labels: str | None = None
    image_size: int = 32
    arch: str = "resnet"
    epochs: int = 40
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 5.0
    num_local_views: int = 4
    global_size: int = 0
    local_size: int = 0
    global_scale: tuple[float, float] = (0.6, 1.0)
    local_scale: tuple[float, float] = (0.3, 0.6)
    flip_probability: float = -1.0
    lamb: float = 0.05
    num_slices: int = 256
    embed_dim: int = 64
    depth: int = 4
    num_heads: int = 4
    patch_size: int = 4
    proj_hidden_dim: int = 256
    proj_dim: int = 64
    probe_lr: float = 1e-2
    seed: int = 0
    out: str = "runs/lejepa"
    resume: bool = False
    progress: bool = True
    checkpoint_every: int = 10

    def resolve_sizes(self, image_height: int) -> None:
        """Default view sizes from the data: global views at least 16 pixels, locals half that."""
        if self.global_size <= 0:
            self.global_size = max(16, image_height)
        if self.local_size <= 0:
            self.local_size = max(self.patch_size, self.global_size // 2)

    def resolve_flip(self, dataset_name: str) -> None:
        """Horizontal flips by default, except on digits (a mirrored digit is another glyph)."""
        if self.flip_probability < 0:
            self.flip_probability = 0.0 if dataset_name == "digits" else 0.5

    @property
    def out_dir(self) -> pathlib.Path:
        return pathlib.Path(self.out)


def build_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The argument parser of a trainer; every option of :class:`TrainConfig`."""
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    data = parser.add_argument_group("data")
    data.add_argument("--data", default=defaults.data, help="'digits', a .npz/.npy image array or an image folder")
    data.add_argument("--labels", default=None, help="a .npy file of labels, for --data FILE.npy")
    data.add_argument("--image-size", type=int, default=defaults.image_size, help="resize folder images to this")
    model = parser.add_argument_group("model")
    model.add_argument("--arch", choices=("vit", "resnet"), default=defaults.arch, help="encoder")
    model.add_argument("--embed-dim", type=int, default=defaults.embed_dim, help="encoder width")
    model.add_argument("--depth", type=int, default=defaults.depth, help="ViT blocks / ResNet stages")
    model.add_argument("--num-heads", type=int, default=defaults.num_heads, help="ViT attention heads")
    model.add_argument("--patch-size", type=int, default=defaults.patch_size, help="ViT patch size")
    model.add_argument("--proj-hidden-dim", type=int, default=defaults.proj_hidden_dim, help="projector width")
    model.add_argument("--proj-dim", type=int, default=defaults.proj_dim, help="projection dimension K")
    recipe = parser.add_argument_group("recipe")
    recipe.add_argument("--epochs", type=int, default=defaults.epochs, help="training epochs")
    recipe.add_argument("--batch-size", type=int, default=defaults.batch_size, help="global batch size")
    recipe.add_argument("--lr", type=float, default=defaults.lr, help="peak AdamW learning rate")
    recipe.add_argument("--weight-decay", type=float, default=defaults.weight_decay, help="AdamW weight decay")
    recipe.add_argument("--warmup-epochs", type=float, default=defaults.warmup_epochs, help="linear warmup")
    recipe.add_argument("--num-local-views", type=int, default=defaults.num_local_views, help="V local views")
    recipe.add_argument("--global-size", type=int, default=0, help="global view side (0: max(16, image))")
    recipe.add_argument("--local-size", type=int, default=0, help="local view side (0: global / 2)")
    recipe.add_argument("--global-scale", type=float, nargs=2, default=defaults.global_scale, help="area range")
    recipe.add_argument("--local-scale", type=float, nargs=2, default=defaults.local_scale, help="area range")
    recipe.add_argument(
        "--flip-probability", type=float, default=-1.0, help="horizontal flips (-1: 0 on digits, else 0.5)"
    )
    recipe.add_argument("--lamb", type=float, default=defaults.lamb, help="SIGReg weight lambda")
    recipe.add_argument("--num-slices", type=int, default=defaults.num_slices, help="SIGReg slices")
    recipe.add_argument("--probe-lr", type=float, default=defaults.probe_lr, help="online linear probe lr")
    recipe.add_argument("--seed", type=int, default=defaults.seed, help="random seed")
    run = parser.add_argument_group("run")
    run.add_argument("--out", default=defaults.out, help="output folder (metrics, curves, checkpoint)")
    run.add_argument("--resume", action="store_true", help="resume from OUT/checkpoint if present")
    run.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    run.add_argument("--checkpoint-every", type=int, default=defaults.checkpoint_every, help="epochs")
    return parser


def parse_config(argv: list[str] | None, prog: str, description: str) -> TrainConfig:
    """Parse `argv` into a validated :class:`TrainConfig`."""
    parser = build_parser(prog, description)
    args = vars(parser.parse_args(argv))
    args["global_scale"] = tuple(args["global_scale"])
    args["local_scale"] = tuple(args["local_scale"])
    config = TrainConfig(**args)
    for name in ("epochs", "batch_size", "num_slices", "embed_dim", "depth", "patch_size", "proj_dim"):
        if getattr(config, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive integer")
    if config.num_local_views < 0:
        parser.error("--num-local-views must be >= 0")
    if not 0.0 <= config.lamb <= 1.0:
        parser.error("--lamb must lie in [0, 1]")
    for name in ("global_scale", "local_scale"):
        low, high = getattr(config, name)
        if not 0.0 < low <= high <= 1.0:
            parser.error(f"--{name.replace('_', '-')} needs 0 < min <= max <= 1")
    return config
