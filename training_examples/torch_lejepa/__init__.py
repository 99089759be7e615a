"""LeJEPA trainer for PyTorch: ``python -m training_examples.torch_lejepa --help``."""

from training_examples.torch_lejepa.train import main

__all__ = ["main"]
