"""Multi-seed study: run both trainers for several seeds, one run at a time, and tabulate.

``python -m training_examples.study --seeds 0 1 2 --out runs/study [-- extra trainer options]``
writes ``DIR/<framework>_seed<k>/`` (each run's own files), ``DIR/study.json``
(every run's summary), ``DIR/study.rst`` (the table of the docs page) and
``DIR/study_curves.png`` (loss and online-probe curves of every run).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys

import numpy as np

from training_examples.common.metrics import read_rows
from training_examples.common.requirements import require_packages

FRAMEWORKS = ("torch", "jax")
KEYS = ("probe_accuracy", "random_init_probe_accuracy", "raw_pixel_probe_accuracy", "train_seconds", "wall_seconds")


def run_one(framework: str, seed: int, out: pathlib.Path, extra: list[str]) -> dict:
    """Run one trainer in a fresh process; return its metrics.json."""
    command = [sys.executable, "-m", f"training_examples.{framework}_lejepa", "--seed", str(seed)]
    command += ["--out", str(out), "--no-progress", *extra]
    print(" ".join(command), flush=True)
    subprocess.run(command, check=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return json.loads((out / "metrics.json").read_text())


def mean_std(values) -> str:
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.4f} ± {values.std(ddof=1) if len(values) > 1 else 0.0:.4f}"


def rst_table(results: dict) -> str:
    """A list-table: one row per framework, mean ± standard deviation over seeds."""
    header = ["trainer", "seeds", "LeJEPA probe", "random-init probe", "raw-pixel probe", "train s", "wall s"]
    lines = [".. list-table::", "   :header-rows: 1", ""]
    rows = [header]
    for framework, runs in results.items():
        cells = [framework, str(len(runs))] + [mean_std([run[key] for run in runs]) for key in KEYS[:3]]
        cells += [f"{np.mean([run[key] for run in runs]):.0f}" for key in KEYS[3:]]
        rows.append(cells)
    for row in rows:
        lines.append("   * - " + row[0])
        lines.extend(f"     - {cell}" for cell in row[1:])
    return "\n".join(lines) + "\n"


def step_history(run: dict) -> list[dict]:
    """The per-step rows of a run (its ``steps.csv``), or its per-epoch rows when there are none."""
    path = pathlib.Path(run["config"]["out"]) / "steps.csv"
    return read_rows(path) if path.exists() else run["history"]


def plot_curves(results: dict, path: pathlib.Path) -> None:
    """Loss per step and online probe accuracy per epoch of every run, steps on a linear axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (loss_axis, probe_axis) = plt.subplots(1, 2, figsize=(10, 3.6))
    for (framework, runs), color in zip(results.items(), ("C0", "C1")):
        for index, run in enumerate(runs):
            label = framework if index == 0 else None
            steps = step_history(run)
            loss_axis.plot([row["step"] for row in steps], [row["loss"] for row in steps], color=color, alpha=0.5,
                           linewidth=0.8, label=label)
            accuracy = [row["online_probe_accuracy"] for row in run["history"]]
            probe_axis.plot([row["step"] for row in run["history"]], accuracy, color=color, alpha=0.7, label=label)
    loss_axis.set(xlabel="step", ylabel="LeJEPA loss", yscale="log", title="training loss per step (every seed)")
    probe_axis.set(xlabel="step", ylabel="test accuracy", title="online linear probe per epoch (every seed)")
    loss_axis.legend()
    probe_axis.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m training_examples.study", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="one run per seed and trainer")
    parser.add_argument("--frameworks", nargs="+", choices=FRAMEWORKS, default=list(FRAMEWORKS))
    parser.add_argument("--out", default="runs/study", help="output folder")
    args, extra = parser.parse_known_args(argv)
    extra = [arg for arg in extra if arg != "--"]
    for framework in args.frameworks:
        require_packages(framework)  # one line and exit 2, before any run starts
    out = pathlib.Path(args.out)
    results = {}
    for framework in args.frameworks:
        results[framework] = [run_one(framework, seed, out / f"{framework}_seed{seed}", extra) for seed in args.seeds]
        out.mkdir(parents=True, exist_ok=True)
        (out / "study.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "study.rst").write_text(rst_table(results))
    plot_curves(results, out / "study_curves.png")
    print(rst_table(results))
    return results


if __name__ == "__main__":
    main()
