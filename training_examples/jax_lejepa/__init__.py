"""LeJEPA trainer for JAX: ``python -m training_examples.jax_lejepa --help``."""

from training_examples.jax_lejepa.train import main

__all__ = ["main"]
