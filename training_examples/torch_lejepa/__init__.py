"""LeJEPA trainer for PyTorch: ``python -m training_examples.torch_lejepa --help``."""

from training_examples.common.requirements import require_packages


def main(argv: list[str] | None = None) -> dict | None:
    """Check that PyTorch and the ``[examples]`` extra are installed, then train (see ``--help``)."""
    require_packages("torch")
    from training_examples.torch_lejepa.train import main as train_main

    return train_main(argv)


__all__ = ["main"]
