"""Framework-free helpers shared by the PyTorch and JAX trainers."""

from training_examples.common.data import Dataset, epoch_batches, load_dataset
from training_examples.common.metrics import MetricsLog, print_summary
from training_examples.common.options import TrainConfig, parse_config
from training_examples.common.positional import sincos_position_embedding
from training_examples.common.probe import linear_probe_accuracy, raw_pixel_probe_accuracy

__all__ = [
    "Dataset",
    "MetricsLog",
    "TrainConfig",
    "epoch_batches",
    "linear_probe_accuracy",
    "load_dataset",
    "parse_config",
    "print_summary",
    "raw_pixel_probe_accuracy",
    "sincos_position_embedding",
]
