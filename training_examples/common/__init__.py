"""Framework-free helpers shared by the PyTorch and JAX trainers."""

from training_examples.common.data import Dataset, epoch_batches, load_dataset
from training_examples.common.metrics import (
    EVAL_METRICS, HEALTH_METRICS, MONITOR_METRICS, STEP_METRICS, MetricsLog, print_summary, read_rows,
)
from training_examples.common.health import MONITOR_SLICES, eval_health, monitor_columns, save_embeddings
from training_examples.common.options import TrainConfig, epilog_text, parse_config, warn
from training_examples.common.positional import sincos_position_embedding
from training_examples.common.probe import linear_probe_accuracy, raw_pixel_probe_accuracy

__all__ = [
    "EVAL_METRICS",
    "HEALTH_METRICS",
    "MONITOR_METRICS",
    "MONITOR_SLICES",
    "STEP_METRICS",
    "Dataset",
    "MetricsLog",
    "TrainConfig",
    "epilog_text",
    "eval_health",
    "epoch_batches",
    "linear_probe_accuracy",
    "load_dataset",
    "monitor_columns",
    "parse_config",
    "print_summary",
    "raw_pixel_probe_accuracy",
    "read_rows",
    "save_embeddings",
    "sincos_position_embedding",
    "warn",
]
