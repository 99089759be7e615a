"""Metrics files of a run: one CSV row per step and per epoch, a JSON summary, PNG curves."""

from __future__ import annotations

import csv
import json
import pathlib

import numpy as np

STEP_METRICS = ("loss", "sigreg", "invariance", "probe_loss", "grad_norm")
"""What a trainer's step returns, in this order (``sigreg`` is the regularizer term, whichever it is)."""
MONITOR_METRICS = ("mean_norm", "eig_max", "eig_min", "mp_low", "mp_high", "effective_rank", "batch_sigreg")
"""The embedding monitor's per-step statistics (of one step's global batch of first-view projections)."""
HEALTH_METRICS = ("batch_sigreg_pvalue",)
"""Per-step values computed on the host once per epoch, from :data:`MONITOR_METRICS`."""
EVAL_METRICS = ("eval_effective_rank", "eval_sigreg", "eval_sigreg_pvalue")
"""Per-epoch health of the evaluation set's projections (``embeddings.npy`` at the end)."""
STEP_COLUMNS = ("epoch", "step", *STEP_METRICS, "lr", *MONITOR_METRICS, *HEALTH_METRICS)
COLUMNS = (
    "epoch",
    "step",
    *STEP_METRICS,
    "online_probe_accuracy",
    "lr",
    "epoch_seconds",
    "elapsed_seconds",
    *EVAL_METRICS,
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

    def record_epoch(self, epoch: int, step_metrics, learning_rates, monitor=None, **epoch_values) -> dict:
        """Add one epoch: a row per step and a row of their means; return the epoch row.

        Parameters
        ----------
        epoch : int
            The epoch just finished, counted from 1.
        step_metrics : array_like
            Shape ``(steps, len(STEP_METRICS))``: each step's values, in the order of :data:`STEP_METRICS`.
        learning_rates : array_like
            The learning rate each step used.
        monitor : array_like, optional
            Shape ``(steps, len(MONITOR_METRICS) + len(HEALTH_METRICS))``: the embedding monitor per step.
        **epoch_values
            ``online_probe_accuracy``, ``epoch_seconds``, ``elapsed_seconds`` and the :data:`EVAL_METRICS`.
        """
        values = np.asarray(step_metrics, dtype=np.float64)
        first_step = (epoch - 1) * len(values)
        health_names = (*MONITOR_METRICS, *HEALTH_METRICS)
        health = np.full((len(values), len(health_names)), np.nan) if monitor is None else np.asarray(monitor)
        new_steps = [
            {"epoch": epoch, "step": first_step + index + 1, **dict(zip(STEP_METRICS, row)), "lr": lr,
             **dict(zip(health_names, health_row))}
            for index, (row, lr, health_row) in enumerate(
                zip(values.tolist(), np.asarray(learning_rates).tolist(), health.tolist())
            )
        ]
        epoch_values = {**dict.fromkeys(EVAL_METRICS, float("nan")), **epoch_values}
        row = {"epoch": epoch, "step": first_step + len(values), **dict(zip(STEP_METRICS, values.mean(axis=0)))}
        row = {key: float(value) for key, value in {**row, "lr": new_steps[-1]["lr"], **epoch_values}.items()}
        self.step_rows.extend(new_steps)
        self.rows.append({key: row.get(key, float("nan")) for key in COLUMNS})
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
        figures = [loss_figure(self.step_rows, title, self.rows), probe_figure(self.rows, title, summary or {})]
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


def has_monitor(step_rows: list[dict]) -> bool:
    """Whether the rows hold embedding-monitor values (a run of a trainer with the monitor)."""
    return any(np.isfinite(row.get("effective_rank", np.nan)) for row in step_rows)


def loss_figure(step_rows: list[dict], title: str, epoch_rows: list[dict] | None = None):
    """The per-step curves of :data:`CURVES`, one panel each, steps on a linear x axis.

    With embedding-monitor values, a third row shows them next to the loss
    (:func:`monitor_panels`).
    """
    import matplotlib.pyplot as plt

    monitor = has_monitor(step_rows)
    figure, axes = plt.subplots(3 if monitor else 2, 3, figsize=(12, 9.6 if monitor else 6.4))
    steps = np.asarray([row["step"] for row in step_rows])
    for axis, key in zip(axes.ravel(), CURVES):
        values = np.asarray([row[key] for row in step_rows])
        axis.plot(steps, values, marker="." if len(steps) <= 50 else None)
        axis.set(title=key.replace("_", " "), yscale="linear" if key == "lr" else _y_scale(values))
        _step_axis(axis, step_rows)
    if monitor:
        monitor_panels(axes[2], step_rows, epoch_rows or [])
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def monitor_panels(axes, step_rows: list[dict], epoch_rows: list[dict]) -> None:
    """Three panels: the embedding mean's norm, the covariance spectrum against Marchenko-Pastur, health.

    A collapse shows as the smallest eigenvalue falling out of the
    Marchenko-Pastur band, the effective rank dropping and the SIGReg
    p-value going to 0.
    """
    steps = np.asarray([row["step"] for row in step_rows])

    def column(key, rows=step_rows):
        return np.asarray([row.get(key, np.nan) for row in rows], dtype=float)

    mean_axis, spectrum_axis, rank_axis = axes
    mean_axis.plot(steps, column("mean_norm"))
    mean_axis.set(title="monitor: norm of the embedding mean", yscale=_y_scale(column("mean_norm")))
    spectrum_axis.fill_between(steps, column("mp_low"), column("mp_high"), color="0.85", label="Marchenko-Pastur")
    spectrum_axis.plot(steps, column("eig_max"), label="largest")
    spectrum_axis.plot(steps, column("eig_min"), label="smallest")
    spectrum_axis.set(title="monitor: covariance eigenvalues", yscale="log")
    spectrum_axis.legend(fontsize="x-small", loc="best")
    rank_axis.plot(steps, column("effective_rank"), color="C0", label="effective rank (batch)")
    if epoch_rows:
        rank_axis.plot(column("step", epoch_rows), column("eval_effective_rank", epoch_rows), "o", color="C0",
                       markersize=4, label="effective rank (eval set)")
    rank_axis.set(title="monitor: effective rank, SIGReg p-value", ylim=(0, None))
    pvalue_axis = rank_axis.twinx()
    pvalue_axis.plot(steps, np.clip(column("batch_sigreg_pvalue"), 1e-12, 1), color="C3", linewidth=0.8,
                     label="p-value (batch; 1e-12 = below)")
    pvalue_axis.set(yscale="log", ylim=(1e-12, 2))
    pvalue_axis.set_ylabel("SIGReg p-value", color="C3")
    rank_axis.legend(fontsize="x-small", loc="lower left")
    for axis in axes:
        _step_axis(axis, step_rows)


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
