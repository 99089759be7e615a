"""Peak resident memory of ``sketchtest check`` per file format, against ``--memory-budget``.

Writes the same float64 ``(N, 32)`` Gaussian samples as ``.npy``, ``.npz``
(compressed), ``.safetensors``, ``.pt`` and ``.csv`` (the text file holds a
quarter of the rows: it is about 2.5 times larger per row and parses slowly),
then runs ``python -m sketchtest check FILE --memory-budget B`` in a fresh
subprocess for every (format, budget) and reads the child's peak resident set
size from ``os.wait4`` (``ru_maxrss``, which counts every page the process
touched, file-backed ones included). A baseline run on a 1000-row file of the
same format gives the interpreter and its imports (PyTorch for ``.pt``).
With budget 64M the files do not fit (chunks, streamed Epps-Pulley, a
subsample for the other tests); with 1G they do (all rows in memory).

Run: ``OMP_NUM_THREADS=1 python benchmarks/cli_memory.py [--megabytes 200] [--budgets 64M,1G]``
(``--megabytes 500`` for the large case; files go to a temporary folder, or
``--folder``). Prints a reStructuredText table (``docs/benchmarks/cli_memory.rst``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from _tables import rst_table  # benchmarks/, on the path when a script here runs

DIMENSIONS = 32
OVERHEAD = 300 * 2**20  # the fixed allowance above the budget (interpreter, NumPy, SciPy, PyTorch)
FORMATS = ("npy", "npz", "safetensors", "pt", "csv")


def write_file(folder, kind, samples):
    """Write `samples` rows of N(0, I) in format `kind` (in a subprocess); return the path.

    This process stays small: a child's ``ru_maxrss`` starts from its parent's
    peak (Linux carries the high-water mark across fork and exec), so the
    parent must never hold the samples or import PyTorch.
    """
    path = os.path.join(folder, f"x{samples}.{kind}")
    if not os.path.exists(path):
        subprocess.run([sys.executable, __file__, "--write", kind, str(samples), path], check=True)
    return path


def _write(kind, samples, path, seed=0):
    import numpy as np

    x = np.random.default_rng(seed).standard_normal((samples, DIMENSIONS))
    if kind == "npy":
        np.save(path, x)
    elif kind == "npz":
        np.savez_compressed(path, x=x)
    elif kind == "safetensors":
        from safetensors.numpy import save_file

        save_file({"x": x}, path)
    elif kind == "pt":
        import torch

        torch.save({"x": torch.as_tensor(x)}, path)
    else:
        np.savetxt(path, x, delimiter=",", fmt="%.17g")


def measure(path, budget, options):
    """Peak RSS (bytes), wall seconds and exit status of one ``sketchtest check`` subprocess."""
    command = [sys.executable, "-m", "sketchtest", "check", path, "--memory-budget", budget,
               "--no-progress", "--json", *options]
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    error = child.stderr.read().decode().strip()
    child.stderr.close()
    return usage.ru_maxrss * 1024, seconds, os.waitstatus_to_exitcode(status), error


def parse_size(text):
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1].upper() in units else int(text)


def mebibytes(size):
    return f"{size / 2**20:.0f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=200, help="size of the .npy file (200)")
    parser.add_argument("--budgets", default="64M,1G", help="comma-separated --memory-budget values")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--slices", default="32", help="--slices of every run (32)")
    parser.add_argument("--tests", default="epps_pulley,jarque_bera,mardia")
    parser.add_argument("--folder", help="where the files go (default: a temporary folder)")
    args = parser.parse_args()
    samples = int(args.megabytes * 2**20 / (8 * DIMENSIONS))
    options = ["--slices", args.slices, "--tests", args.tests]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.folder or scratch
        for kind in args.formats.split(","):
            count = samples // 4 if kind == "csv" else samples
            path, small = write_file(folder, kind, count), write_file(folder, kind, 1000)
            baseline, _, _, _ = measure(small, "1G", options)
            for budget in args.budgets.split(","):
                peak, seconds, status, error = measure(path, budget, options)
                bound = parse_size(budget) + OVERHEAD
                rows.append([kind, f"{count}", mebibytes(os.path.getsize(path)), budget,
                             mebibytes(baseline), mebibytes(peak), mebibytes(peak - baseline),
                             f"{seconds:.0f}", "yes" if peak <= bound and status == 0 else
                             f"NO (exit {status}: {error[-80:]})"])
                print("  ".join(rows[-1]), file=sys.stderr, flush=True)
    header = ["format", "rows", "file MiB", "budget", "baseline MiB", "peak RSS MiB",
              "peak - baseline MiB", "seconds", "peak <= budget + 300 MiB"]
    print(rst_table(header, rows))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        _write(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
