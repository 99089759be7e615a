"""LeJEPA trainer for JAX: ``python -m training_examples.jax_lejepa --help``."""

from training_examples.common.requirements import require_packages


def main(argv: list[str] | None = None) -> dict:
    """Check that JAX, optax and the ``[examples]`` extra are installed, then train (see ``--help``)."""
    require_packages("jax")
    from training_examples.jax_lejepa.train import main as train_main

    return train_main(argv)


__all__ = ["main"]
