"""The command line shared by both trainers: one recipe, one set of options."""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import sys

from training_examples.common.requirements import install_command

SHORT_RUN_WARMUP_FRACTION = 0.125


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
    loss: str = "sigreg"
    loss_null: str = "standard"
    precision: str = "auto"
    reference_probes: bool = True

    def use_bfloat16(self, on_gpu: bool) -> bool:
        """bfloat16 compute: ``--precision bfloat16``, or ``auto`` on a GPU."""
        return self.precision == "bfloat16" or (self.precision == "auto" and on_gpu)

    def resolve_sizes(self, image_height: int) -> None:
        """Default view sizes from the data: global views at least 16 pixels, locals half that."""
        if self.global_size <= 0:
            self.global_size = max(16, image_height)
        if self.local_size <= 0:
            self.local_size = max(self.patch_size, self.global_size // 2)

    def resolve_warmup(self) -> str | None:
        """Shorten a warm-up that the run would not finish; return the one-line warning, if any.

        A warm-up of at least ``epochs`` epochs never reaches the peak ``--lr``;
        it is cut to :data:`SHORT_RUN_WARMUP_FRACTION` of the run (the default
        recipe's 5 of 40 epochs).
        """
        if self.warmup_epochs < self.epochs:
            return None
        requested, self.warmup_epochs = self.warmup_epochs, SHORT_RUN_WARMUP_FRACTION * self.epochs
        return (
            f"warning: --warmup-epochs {requested:g} >= --epochs {self.epochs}: the learning rate would never "
            f"reach --lr {self.lr:g}; warming up over {self.warmup_epochs:g} epochs instead (1/8 of the run)"
        )

    def resolve_flip(self, dataset_name: str) -> None:
        """Horizontal flips by default, except on digits (a mirrored digit is another glyph)."""
        if self.flip_probability < 0:
            self.flip_probability = 0.0 if dataset_name in ("digits", "shifted-digits") else 0.5

    @property
    def out_dir(self) -> pathlib.Path:
        return pathlib.Path(self.out)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown after each option; the epilog's lines kept as written."""


def epilog_text(framework: str) -> str:
    """The end of a trainer's ``--help``: what to install, and where the recipe is described."""
    return (
        f"This trainer needs {framework} and the [examples] extra (scikit-learn, matplotlib, tqdm, optax);\n"
        f"from the source tree: {install_command(framework)}\n"
        "The recipe, its output files and measured results: docs/training.rst."
    )


def warn(message: str | None) -> None:
    """Print a one-line warning on stderr (nothing for None)."""
    if message:
        print(message, file=sys.stderr)


def build_parser(prog: str, description: str, epilog: str = "", loss_help: str = "") -> argparse.ArgumentParser:
    """The argument parser of a trainer; every option of :class:`TrainConfig`.

    `loss_help` adds the ``--loss`` option (each trainer's choice of regularizer).
    """
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(
        prog=prog, description=description, epilog=epilog, formatter_class=HelpFormatter
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--data", default=defaults.data, help="'digits', 'shifted-digits', a .npz/.npy image array or an image folder"
    )
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
    recipe.add_argument(
        "--warmup-epochs",
        type=float,
        default=defaults.warmup_epochs,
        help="linear warm-up to --lr; one of at least --epochs epochs (which would never reach the peak) "
        "is cut to 1/8 of the run, with a warning",
    )
    recipe.add_argument("--num-local-views", type=int, default=defaults.num_local_views, help="V local views")
    recipe.add_argument("--global-size", type=int, default=0, help="global view side (0: max(16, image))")
    recipe.add_argument("--local-size", type=int, default=0, help="local view side (0: global / 2)")
    recipe.add_argument("--global-scale", type=float, nargs=2, default=defaults.global_scale, help="area range")
    recipe.add_argument("--local-scale", type=float, nargs=2, default=defaults.local_scale, help="area range")
    recipe.add_argument(
        "--flip-probability", type=float, default=-1.0, help="horizontal flips (-1: 0 on digits, else 0.5)"
    )
    recipe.add_argument("--lamb", type=float, default=defaults.lamb, help="weight lambda of the regularizer (SIGReg)")
    recipe.add_argument("--num-slices", type=int, default=defaults.num_slices, help="regularizer directions per step")
    if loss_help:
        recipe.add_argument("--loss", default=defaults.loss, help=loss_help)
        recipe.add_argument(
            "--loss-null",
            choices=("standard", "normal"),
            default=defaults.loss_null,
            help="for a --loss test: distance of each slice to N(0, 1), or to any Gaussian (slices standardized)",
        )
    recipe.add_argument(
        "--precision",
        choices=("auto", "bfloat16", "float32"),
        default=defaults.precision,
        help="encoder and projector compute dtype (auto: bfloat16 autocast on GPU, float32 on CPU)",
    )
    recipe.add_argument("--probe-lr", type=float, default=defaults.probe_lr, help="online linear probe lr")
    recipe.add_argument("--seed", type=int, default=defaults.seed, help="random seed")
    run = parser.add_argument_group("run")
    run.add_argument("--out", default=defaults.out, help="output folder (metrics, curves, checkpoint)")
    run.add_argument("--resume", action="store_true", help="resume from OUT/checkpoint if present")
    run.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="tqdm progress bar")
    run.add_argument(
        "--reference-probes",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also probe the random-init encoder and the raw pixels at the end",
    )
    run.add_argument("--checkpoint-every", type=int, default=defaults.checkpoint_every, help="epochs")
    return parser


def parse_config(
    argv: list[str] | None, prog: str, description: str, epilog: str = "", loss_help: str = ""
) -> TrainConfig:
    """Parse `argv` into a validated :class:`TrainConfig` (see :func:`build_parser`)."""
    parser = build_parser(prog, description, epilog, loss_help)
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
    if config.warmup_epochs < 0:
        parser.error("--warmup-epochs must be >= 0")
    for name in ("global_scale", "local_scale"):
        low, high = getattr(config, name)
        if not 0.0 < low <= high <= 1.0:
            parser.error(f"--{name.replace('_', '-')} needs 0 < min <= max <= 1")
    return config
