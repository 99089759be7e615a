"""Metrics files of a run: one CSV row per epoch, a JSON summary, PNG curves."""

from __future__ import annotations

import csv
import json
import pathlib

COLUMNS = (
    "epoch",
    "step",
    "loss",
    "sigreg",
    "invariance",
    "probe_loss",
    "online_probe_accuracy",
    "lr",
    "epoch_seconds",
    "elapsed_seconds",
)


class MetricsLog:
    """Epoch rows kept in memory and mirrored to ``DIR/metrics.csv``.

    Resuming a run reloads the rows written before the checkpoint's epoch.
    """

    def __init__(self, out_dir: pathlib.Path, resume_epoch: int = 0):
        self.out_dir = pathlib.Path(out_dir)
        self.csv_path = self.out_dir / "metrics.csv"
        self.rows: list[dict] = []
        if resume_epoch > 0 and self.csv_path.exists():
            with self.csv_path.open(newline="") as file:
                rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(file)]
            self.rows = [row for row in rows if row["epoch"] <= resume_epoch]
        self._rewrite()

    def append(self, row: dict) -> None:
        """Add one epoch's row and write it to the CSV file."""
        self.rows.append({key: float(row[key]) for key in COLUMNS})
        with self.csv_path.open("a", newline="") as file:
            csv.DictWriter(file, fieldnames=COLUMNS).writerow(self.rows[-1])

    def _rewrite(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        with self.csv_path.open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows)

    @property
    def elapsed_seconds(self) -> float:
        return self.rows[-1]["elapsed_seconds"] if self.rows else 0.0

    def write_summary(self, summary: dict) -> pathlib.Path:
        """Write ``DIR/metrics.json``: `summary` plus the per-epoch history."""
        path = self.out_dir / "metrics.json"
        path.write_text(json.dumps({**summary, "history": self.rows}, indent=2) + "\n")
        return path

    def plot(self, title: str) -> list[pathlib.Path]:
        """Save ``loss_curve.png`` and ``probe_accuracy_curve.png``; return their paths."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        epochs = [row["epoch"] for row in self.rows]
        paths = [self.out_dir / "loss_curve.png", self.out_dir / "probe_accuracy_curve.png"]
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
        for axis, key in zip(axes, ("loss", "sigreg", "invariance")):
            axis.plot(epochs, [row[key] for row in self.rows])
            axis.set(xlabel="epoch", title=key, yscale="log")
        fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(paths[0], dpi=100)
        plt.close(fig)
        fig, axis = plt.subplots(figsize=(5, 3.4))
        axis.plot(epochs, [row["online_probe_accuracy"] for row in self.rows])
        axis.set(xlabel="epoch", ylabel="test accuracy", title=f"online linear probe: {title}")
        fig.tight_layout()
        fig.savefig(paths[1], dpi=100)
        plt.close(fig)
        return paths


def print_summary(summary: dict, out_dir) -> None:
    """Print the final probe accuracies and training time on one line."""
    print(
        f"probe_accuracy={summary['probe_accuracy']:.4f} "
        f"random_init_probe_accuracy={summary['random_init_probe_accuracy']:.4f} "
        f"raw_pixel_probe_accuracy={summary['raw_pixel_probe_accuracy']:.4f} "
        f"train_seconds={summary['train_seconds']:.1f} -> {pathlib.Path(out_dir) / 'metrics.json'}"
    )
