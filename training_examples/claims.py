"""LeJEPA's claims, checked in miniature: the study behind docs/claims.rst.

``python -m training_examples.claims --out runs/claims --docs docs/claims`` trains
the PyTorch LeJEPA trainer on ``shifted-digits`` (digits at random scales,
rotations and positions: raw pixels give a near-chance linear probe) with a
small ResNet, for a few epochs per run, and measures:

- **collapse**: lambda = 0 (invariance only) against the default 0.05, with the
  embedding monitor per step, and ``sketchtest check`` on each run's
  ``embeddings.npy``;
- **one hyperparameter**: the frozen linear probe over lambda in 1e-4 ... 1
  (four decades), 3 seeds each;
- **loss tracks quality**: Spearman's rank correlation between each sweep
  run's final SIGReg value (and total loss) and its probe, with a percentile
  bootstrap confidence interval over runs;
- **bf16**: the default run under bfloat16 autocast against float32;
- **DDP**: 2 gloo processes (torchrun) against 1 process, same global batch.

It writes every run under ``--out`` and, under ``--docs``, ``claims.json``,
``claims_tables.rst`` (included by the docs page), the check outputs and
the figures. Everything is seeded; the CPU budget is the reason runs are tiny.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

from training_examples.common.metrics import read_rows

RECIPE = [
    "--data", "shifted-digits", "--arch", "resnet", "--embed-dim", "32", "--depth", "2",
    "--proj-hidden-dim", "128", "--proj-dim", "32", "--num-local-views", "2", "--num-slices", "128",
    "--batch-size", "128", "--lr", "3e-3", "--warmup-epochs", "0.5", "--no-progress",
]  # fmt: skip
"""The small recipe every run shares (32-dimensional projections, 10 steps per epoch)."""
DEFAULT_LAMBDA = 0.05
SWEEP_LAMBDAS = (1e-4, 1e-2, 0.05, 1.0)
SWEEP_SEEDS = (0, 1, 2)
BOOTSTRAP_RESAMPLES = 4000


def run_trainer(out: pathlib.Path, options: list[str], processes: int = 1) -> dict:
    """One torch trainer run in fresh process(es); its metrics.json, plus its wall time."""
    if (out / "metrics.json").exists():  # a finished run is kept: the study can be resumed
        return json.loads((out / "metrics.json").read_text())
    launcher = ["-m", "training_examples.torch_lejepa"]
    if processes > 1:
        launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes), *launcher]
    command = [sys.executable, *launcher, *RECIPE, *options, "--out", str(out)]
    print(" ".join(command), flush=True)
    started = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    subprocess.run(command, check=True, env=env)
    summary = json.loads((out / "metrics.json").read_text())
    summary["study_wall_seconds"] = time.perf_counter() - started
    (out / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def sketchtest_check(path: pathlib.Path, plot: pathlib.Path) -> dict:
    """``sketchtest check`` on an embeddings file: its text report, exit code, and its JSON p-value."""
    base = [sys.executable, "-m", "sketchtest", "check", str(path), "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    text = subprocess.run([*base, "--plot", str(plot)], capture_output=True, text=True, env=env)
    as_json = subprocess.run([*base, "--json"], capture_output=True, text=True, env=env)
    try:
        pvalue = _find_pvalue(json.loads(as_json.stdout))
    except (json.JSONDecodeError, TypeError):
        pvalue = float("nan")
    return {"returncode": text.returncode, "text": text.stdout + text.stderr, "pvalue": pvalue}


def _find_pvalue(report) -> float:
    """The first top-level ``pvalue`` of the check's JSON (the first test's), whatever its nesting."""
    if isinstance(report, dict):
        if "pvalue" in report:
            return float(report["pvalue"])
        for value in report.values():
            found = _find_pvalue(value)
            if np.isfinite(found):
                return found
    if isinstance(report, list):
        for value in report:
            found = _find_pvalue(value)
            if np.isfinite(found):
                return found
    return float("nan")


def spearman_with_ci(x, y, seed: int = 0) -> tuple[float, float, float]:
    """Spearman's rho of (x, y) and its 95 % percentile bootstrap interval over pairs."""
    from scipy.stats import spearmanr

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    rho = float(spearmanr(x, y).statistic)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        pick = rng.integers(0, len(x), len(x))
        if np.ptp(x[pick]) > 0 and np.ptp(y[pick]) > 0:
            draws.append(spearmanr(x[pick], y[pick]).statistic)
    low, high = np.percentile(draws, [2.5, 97.5])
    return rho, float(low), float(high)


def final_epoch(run: dict) -> dict:
    return run["history"][-1]


def steps_of(run: dict) -> list[dict]:
    return read_rows(pathlib.Path(run["config"]["out"]) / "steps.csv")


def list_table(header: list[str], rows: list[list[str]]) -> str:
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        lines.append("   * - " + row[0])
        lines.extend(f"     - {cell}" for cell in row[1:])
    return "\n".join(lines) + "\n"


def run_study(out: pathlib.Path, epochs: int) -> dict:
    """Every run of the study (resumable: finished runs are read back)."""
    base = ["--epochs", str(epochs)]

    def lamb_run(lamb, seed, *extra, processes=1, name=None):
        name = name or f"lambda{lamb:g}_seed{seed}"
        references = [] if (lamb == DEFAULT_LAMBDA and seed == 0 and not extra) else ["--no-reference-probes"]
        options = [*base, "--lamb", str(lamb), "--seed", str(seed), *references, *extra]
        return run_trainer(out / name, options, processes)

    runs = {"default": lamb_run(DEFAULT_LAMBDA, 0), "lambda0": lamb_run(0.0, 0)}
    runs["sweep"] = [
        {"lamb": lamb, "seed": seed,
         "run": runs["default"] if (lamb, seed) == (DEFAULT_LAMBDA, 0) else lamb_run(lamb, seed)}
        for lamb in SWEEP_LAMBDAS for seed in SWEEP_SEEDS
    ]
    runs["bfloat16"] = lamb_run(DEFAULT_LAMBDA, 0, "--precision", "bfloat16", name="bfloat16")
    runs["ddp"] = lamb_run(DEFAULT_LAMBDA, 0, processes=2, name="ddp2")
    return runs


def collapse_section(runs: dict, docs: pathlib.Path) -> tuple[str, dict]:
    checks = {}
    rows = []
    for key, label in (("lambda0", "0 (invariance only)"), ("default", f"{DEFAULT_LAMBDA} (default)")):
        run = runs[key]
        embeddings = pathlib.Path(run["config"]["out"]) / "embeddings.npy"
        checks[key] = sketchtest_check(embeddings, docs / f"check_{key}.png")
        (docs / f"check_{key}.txt").write_text(checks[key]["text"])
        last = final_epoch(run)
        rows.append([
            label, f"{run['probe_accuracy']:.3f}", f"{last['eval_effective_rank']:.2f} of {run['config']['proj_dim']}",
            f"{last['eval_sigreg']:.2f}", f"{last['eval_sigreg_pvalue']:.2g}", f"{checks[key]['pvalue']:.2g}",
        ])
    header = ["lambda", "probe", "effective rank (eval)", "SIGReg (eval)", "SIGReg p-value", "sketchtest check p"]
    return list_table(header, rows), checks


def sweep_section(runs: dict) -> tuple[str, dict]:
    by_lambda = {}
    for entry in runs["sweep"]:
        by_lambda.setdefault(entry["lamb"], []).append(entry["run"]["probe_accuracy"])
    rows = [[f"{lamb:g}", *[f"{value:.3f}" for value in values],
             f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}"]
            for lamb, values in by_lambda.items()]
    header = ["lambda", *[f"seed {seed}" for seed in SWEEP_SEEDS], "mean ± sd"]
    references = runs["default"]
    rows.append(["random-init encoder", f"{references['random_init_probe_accuracy']:.3f}", "", "", ""])
    rows.append(["raw pixels", f"{references['raw_pixel_probe_accuracy']:.3f}", "", "", ""])
    return list_table(header, rows), {f"{lamb:g}": values for lamb, values in by_lambda.items()}


def tracking_section(runs: dict) -> tuple[str, dict]:
    probes = [entry["run"]["probe_accuracy"] for entry in runs["sweep"]]
    results = {}
    rows = []
    for key, label in (("sigreg", "final SIGReg (training, last epoch)"), ("loss", "final total loss"),
                       ("eval_sigreg", "final SIGReg (evaluation set)")):
        values = [final_epoch(entry["run"])[key] for entry in runs["sweep"]]
        rho, low, high = spearman_with_ci(values, probes)
        results[key] = {"rho": rho, "ci95": [low, high]}
        rows.append([label, f"{rho:+.2f}", f"[{low:+.2f}, {high:+.2f}]"])
    header = [f"against the probe ({len(probes)} sweep runs)", "Spearman rho", "95 % bootstrap CI"]
    return list_table(header, rows), results


def pairs_section(runs: dict) -> tuple[str, dict]:
    base_steps = steps_of(runs["default"])
    rows, results = [], {}
    for key, label in (("bfloat16", "bfloat16 autocast"), ("ddp", "DDP, 2 gloo processes")):
        other = runs[key]
        steps = steps_of(other)
        loss_gap = np.abs(np.asarray([r["loss"] for r in steps]) - [r["loss"] for r in base_steps])
        results[key] = {
            "probe": other["probe_accuracy"],
            "probe_difference": other["probe_accuracy"] - runs["default"]["probe_accuracy"],
            "max_abs_loss_difference": float(loss_gap.max()), "first_step_loss_difference": float(loss_gap[0]),
            "train_seconds": other["train_seconds"],
        }
        rows.append([label, f"{other['probe_accuracy']:.3f}", f"{results[key]['probe_difference']:+.3f}",
                     f"{loss_gap[0]:.1e}", f"{loss_gap.max():.1e}", f"{other['train_seconds']:.0f}"])
    rows.insert(0, ["float32, 1 process (reference)", f"{runs['default']['probe_accuracy']:.3f}", "0", "0", "0",
                    f"{runs['default']['train_seconds']:.0f}"])
    header = ["run (lambda 0.05, seed 0)", "probe", "probe difference", "loss difference, step 1",
              "largest loss difference", "train s"]
    return list_table(header, rows), results


def plot_collapse(runs: dict, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 4, figsize=(15, 3.4))
    for key, label, color in (("lambda0", "lambda = 0", "C3"), ("default", f"lambda = {DEFAULT_LAMBDA}", "C0")):
        steps = steps_of(runs[key])
        x = [row["step"] for row in steps]
        epochs = runs[key]["history"]
        axes[0].plot(x, [row["effective_rank"] for row in steps], color=color, label=f"{label} (batch)")
        axes[0].plot([row["step"] for row in epochs], [row["eval_effective_rank"] for row in epochs], "o",
                     color=color, markersize=4)
        axes[1].plot(x, [row["eig_min"] for row in steps], color=color, linestyle=":", label=f"{label}: smallest")
        axes[1].plot(x, [row["eig_max"] for row in steps], color=color, label=f"{label}: largest")
        axes[2].plot(x, np.clip([row["batch_sigreg_pvalue"] for row in steps], 1e-300, 1), color=color, label=label)
        axes[3].plot([row["step"] for row in epochs], [row["online_probe_accuracy"] for row in epochs], "o-",
                     color=color, label=label)
    axes[1].fill_between(x, [row["mp_low"] for row in steps], [row["mp_high"] for row in steps], color="0.85",
                         label="Marchenko-Pastur")
    axes[0].set(title="effective rank (line: batch, dots: eval set)", xlabel="step", ylim=(0, None))
    axes[1].set(title="covariance eigenvalues", xlabel="step", yscale="log")
    axes[2].set(title="monitor: SIGReg p-value (batch)", xlabel="step", yscale="log")
    axes[3].set(title="online linear probe", xlabel="step", ylabel="test accuracy")
    for axis in axes:
        axis.legend(fontsize="x-small")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def plot_sweep_and_pairs(runs: dict, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    lambdas = np.asarray([entry["lamb"] for entry in runs["sweep"]])
    probes = np.asarray([entry["run"]["probe_accuracy"] for entry in runs["sweep"]])
    sigregs = np.asarray([final_epoch(entry["run"])["sigreg"] for entry in runs["sweep"]])
    axes[0].plot(lambdas, probes, "o", alpha=0.6)
    means = sorted({lamb: probes[lambdas == lamb].mean() for lamb in lambdas}.items())
    axes[0].plot(*zip(*means), "-", color="C0")
    for key, style in (("random_init_probe_accuracy", "--"), ("raw_pixel_probe_accuracy", ":")):
        axes[0].axhline(runs["default"][key], color="0.4", linestyle=style, label=key.replace("_probe_accuracy", ""))
    axes[0].set(xscale="log", xlabel="lambda", ylabel="frozen linear probe", title="probe over lambda (3 seeds)")
    axes[0].legend(fontsize="x-small")
    axes[1].scatter(sigregs, probes, c=np.log10(lambdas), cmap="viridis")
    axes[1].set(xscale="log", xlabel="final SIGReg (training)", ylabel="probe", title="loss vs quality (sweep runs)")
    for key, label in (("default", "float32, 1 process"), ("bfloat16", "bfloat16 autocast"), ("ddp", "DDP 2 gloo")):
        steps = steps_of(runs[key])
        axes[2].plot([row["step"] for row in steps], [row["loss"] for row in steps], label=label, linewidth=1)
    axes[2].set(xlabel="step", ylabel="LeJEPA loss", title="same run: float32, bf16, DDP", yscale="log")
    axes[2].legend(fontsize="x-small")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m training_examples.claims", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/claims", help="folder of the runs")
    parser.add_argument("--docs", default="docs/claims", help="folder of the tables, check outputs and figures")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run")
    args = parser.parse_args(argv)
    out, docs = pathlib.Path(args.out), pathlib.Path(args.docs)
    docs.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    runs = run_study(out, args.epochs)
    collapse_table, checks = collapse_section(runs, docs)
    sweep_table, sweep = sweep_section(runs)
    tracking_table, tracking = tracking_section(runs)
    pairs_table, pairs = pairs_section(runs)
    plot_collapse(runs, docs / "collapse.png")
    plot_sweep_and_pairs(runs, docs / "sweep_bf16_ddp.png")
    wall = time.perf_counter() - started
    tables = "\n".join([
        f".. Generated by python -m training_examples.claims --epochs {args.epochs} in {wall / 60:.0f} minutes; "
        "do not edit.\n",
        ".. _claims-collapse-table:\n", collapse_table, ".. _claims-sweep-table:\n", sweep_table,
        ".. _claims-tracking-table:\n", tracking_table, ".. _claims-pairs-table:\n", pairs_table,
    ])
    (docs / "claims_tables.rst").write_text(tables)
    results = {"epochs": args.epochs, "recipe": RECIPE, "wall_seconds": wall, "sweep": sweep, "tracking": tracking,
               "pairs": pairs, "collapse": {key: {"pvalue": check["pvalue"], "returncode": check["returncode"]}
                                            for key, check in checks.items()},
               "default": {k: runs["default"][k] for k in ("probe_accuracy", "random_init_probe_accuracy",
                                                           "raw_pixel_probe_accuracy")},
               "lambda0_probe": runs["lambda0"]["probe_accuracy"]}
    (docs / "claims.json").write_text(json.dumps(results, indent=1) + "\n")
    print(tables)
    return results


if __name__ == "__main__":
    main()
