"""Framework-free helpers shared by the PyTorch and JAX trainers."""

from training_examples.common.data import Dataset, epoch_batches, load_dataset
from training_examples.common.metrics import STEP_METRICS, MetricsLog, print_summary, read_rows
from training_examples.common.options import TrainConfig, epilog_text, parse_config, warn
from training_examples.common.positional import sincos_position_embedding
from training_examples.common.probe import linear_probe_accuracy, raw_pixel_probe_accuracy

__all__ = [
    "STEP_METRICS",
    "Dataset",
    "MetricsLog",
    "TrainConfig",
    "epilog_text",
    "epoch_batches",
    "linear_probe_accuracy",
    "load_dataset",
    "parse_config",
    "print_summary",
    "raw_pixel_probe_accuracy",
    "read_rows",
    "sincos_position_embedding",
    "warn",
]
