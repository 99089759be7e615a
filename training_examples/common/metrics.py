"""Metrics files of a run: one CSV row per step and per epoch, a JSON summary, PNG curves."""

from __future__ import annotations

import csv
import json
import pathlib

import numpy as np

STEP_METRICS = ("loss", "sigreg", "invariance", "probe_loss", "grad_norm")
"""What a trainer's step returns, in this order (``sigreg`` is the regularizer term, whichever it is)."""
STEP_COLUMNS = ("epoch", "step", *STEP_METRICS, "lr")
COLUMNS = (
    "epoch",
    "step",
    *STEP_METRICS,
    "online_probe_accuracy",
    "lr",
    "epoch_seconds",
    "elapsed_seconds",
)
CURVES = (*STEP_METRICS, "lr")
REFERENCE_PROBES = {
    "probe_accuracy": "trained encoder",
    "random_init_probe_accuracy": "random-init encoder",
    "raw_pixel_probe_accuracy": "raw pixels",
}


def read_rows(path: pathlib.Path) -> list[dict]:
    """The rows of a metrics CSV file as dicts of floats (empty cells are NaN)."""
    with pathlib.Path(path).open(newline="") as file:
        return [{key: float(value or "nan") for key, value in row.items()} for row in csv.DictReader(file)]


class MetricsLog:
    """Step and epoch rows kept in memory and mirrored to ``DIR/steps.csv`` and ``DIR/metrics.csv``.

    Resuming a run reloads the rows written up to the checkpoint's epoch.
    """

    def __init__(self, out_dir: pathlib.Path, resume_epoch: int = 0):
        self.out_dir = pathlib.Path(out_dir)
        self.csv_path = self.out_dir / "metrics.csv"
        self.steps_path = self.out_dir / "steps.csv"
        self.rows: list[dict] = []
        self.step_rows: list[dict] = []
        if resume_epoch > 0 and self.csv_path.exists():
            self.rows = [row for row in read_rows(self.csv_path) if row["epoch"] <= resume_epoch]
        if resume_epoch > 0 and self.steps_path.exists():
            self.step_rows = [row for row in read_rows(self.steps_path) if row["epoch"] <= resume_epoch]
        self.out_dir.mkdir(parents=True, exist_ok=True)
        _write_csv(self.csv_path, COLUMNS, self.rows, mode="w")
        _write_csv(self.steps_path, STEP_COLUMNS, self.step_rows, mode="w")

    def record_epoch(self, epoch: int, step_metrics, learning_rates, **epoch_values) -> dict:
        """Add one epoch: a row per step and a row of their means; return the epoch row.

        Parameters
        ----------
        epoch : int
            The epoch just finished, counted from 1.
        step_metrics : array_like
            Shape ``(steps, len(STEP_METRICS))``: each step's values, in the order of :data:`STEP_METRICS`.
        learning_rates : array_like
            The learning rate each step used.
        **epoch_values
            ``online_probe_accuracy``, ``epoch_seconds`` and ``elapsed_seconds``.
        """
        values = np.asarray(step_metrics, dtype=np.float64)
        first_step = (epoch - 1) * len(values)
        new_steps = [
            {"epoch": epoch, "step": first_step + index + 1, **dict(zip(STEP_METRICS, row)), "lr": lr}
            for index, (row, lr) in enumerate(zip(values.tolist(), np.asarray(learning_rates).tolist()))
        ]
        row = {"epoch": epoch, "step": first_step + len(values), **dict(zip(STEP_METRICS, values.mean(axis=0)))}
        row = {key: float(value) for key, value in {**row, "lr": new_steps[-1]["lr"], **epoch_values}.items()}
        self.step_rows.extend(new_steps)
        self.rows.append({key: row[key] for key in COLUMNS})
        _write_csv(self.steps_path, STEP_COLUMNS, new_steps, mode="a")
        _write_csv(self.csv_path, COLUMNS, self.rows[-1:], mode="a")
        return self.rows[-1]

    @property
    def elapsed_seconds(self) -> float:
        return self.rows[-1]["elapsed_seconds"] if self.rows else 0.0

    def write_summary(self, summary: dict) -> pathlib.Path:
        """Write ``DIR/metrics.json``: `summary` plus the per-epoch history (steps are in ``steps.csv``)."""
        path = self.out_dir / "metrics.json"
        path.write_text(json.dumps({**summary, "history": self.rows}, indent=2) + "\n")
        return path

    def plot(self, title: str, summary: dict | None = None) -> list[pathlib.Path]:
        """Save ``loss_curve.png`` (per step) and ``probe_accuracy_curve.png``; return their paths.

        The probe plot draws the final probes of `summary` (trained encoder,
        random-init encoder, raw pixels) as horizontal reference lines.
        """
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        paths = [self.out_dir / "loss_curve.png", self.out_dir / "probe_accuracy_curve.png"]
        figures = [loss_figure(self.step_rows, title), probe_figure(self.rows, title, summary or {})]
        for figure, path in zip(figures, paths):
            figure.savefig(path, dpi=100)
            plt.close(figure)
        return paths


def _write_csv(path: pathlib.Path, columns, rows: list[dict], mode: str) -> None:
    with path.open(mode, newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns, extrasaction="ignore")
        if mode == "w":
            writer.writeheader()
        writer.writerows(rows)


def _step_axis(axis, rows: list[dict]) -> None:
    """Steps on a linear x axis with integer ticks, and the epochs of `rows` on a second axis above."""
    from matplotlib.ticker import MaxNLocator

    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("step")
    steps_per_epoch = rows[-1]["step"] / rows[-1]["epoch"] if rows else 1.0
    epochs = axis.secondary_xaxis(
        "top", functions=(lambda step: step / steps_per_epoch, lambda epoch: epoch * steps_per_epoch)
    )
    epochs.xaxis.set_major_locator(MaxNLocator(integer=True))
    epochs.set_xlabel("epoch", fontsize="small")


def _y_scale(values: np.ndarray) -> str:
    """Log scale for positive values spanning more than a decade, linear otherwise (no lone log ticks)."""
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() > 0 and finite.max() > 10 * finite.min():
        return "log"
    return "linear"


def loss_figure(step_rows: list[dict], title: str):
    """The per-step curves of :data:`CURVES`, one panel each, steps on a linear x axis."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 3, figsize=(12, 6.4))
    steps = np.asarray([row["step"] for row in step_rows])
    for axis, key in zip(axes.ravel(), CURVES):
        values = np.asarray([row[key] for row in step_rows])
        axis.plot(steps, values, marker="." if len(steps) <= 50 else None)
        axis.set(title=key.replace("_", " "), yscale="linear" if key == "lr" else _y_scale(values))
        _step_axis(axis, step_rows)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def probe_figure(epoch_rows: list[dict], title: str, summary: dict):
    """Online probe accuracy at the end of each epoch, and the final probes as reference lines."""
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.4, 4.0))
    steps = [row["step"] for row in epoch_rows]
    axis.plot(steps, [row["online_probe_accuracy"] for row in epoch_rows], marker="o", label="online probe")
    for (key, name), style in zip(REFERENCE_PROBES.items(), ("-", "--", ":")):
        if key in summary:
            label = f"{name}, logistic probe: {summary[key]:.3f}"
            axis.axhline(summary[key], color="0.3", linestyle=style, linewidth=1, label=label)
    axis.set(ylabel="test accuracy", title=f"linear probes: {title}")
    _step_axis(axis, epoch_rows)
    axis.set_xlim(left=0)
    axis.legend(fontsize="small", loc="best")
    figure.tight_layout()
    return figure


def print_summary(summary: dict, out_dir) -> None:
    """Print the final probe accuracies and training time on one line."""
    print(
        f"probe_accuracy={summary['probe_accuracy']:.4f} "
        f"random_init_probe_accuracy={summary['random_init_probe_accuracy']:.4f} "
        f"raw_pixel_probe_accuracy={summary['raw_pixel_probe_accuracy']:.4f} "
        f"train_seconds={summary['train_seconds']:.1f} -> {pathlib.Path(out_dir) / 'metrics.json'}"
    )
