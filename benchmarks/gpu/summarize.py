"""The short summary of one GPU call: test counts per backend and dtype, failures, benchmark headline.

    python3 benchmarks/gpu/summarize.py OUT > OUT/summary.md

Reads ``OUT/junit.xml`` (from ``device_check.sh``) and ``OUT/bench/results.json``
(from ``sigreg_gpu.py``); either may be missing (a run cut short), and the
summary says so.
"""

from __future__ import annotations

import collections
import json
import pathlib
import re
import sys
import xml.etree.ElementTree as ElementTree

BACKENDS = ("cupy", "torch:cuda", "jax:gpu")
DTYPES = ("float64", "float32", "bfloat16")
OUTCOMES = ("passed", "failed", "error", "skipped")


def parameters(name):
    """Backend and dtype from a test id such as ``test_x[torch:cuda-float32-standard]``."""
    match = re.search(r"\[(.*)\]$", name)
    tokens = match.group(1).split("-") if match else []
    backend = next((token for token in tokens if token in BACKENDS), "other")
    dtype = next((token for token in tokens if token in DTYPES), "-")
    return backend, dtype


def outcome(case):
    for child in case:
        if child.tag in ("failure", "error", "skipped"):
            return {"failure": "failed"}.get(child.tag, child.tag), child.get("message") or ""
    return "passed", ""


def test_section(junit):
    if not junit.exists():
        return ["## Tests", "", "No junit.xml: the test run did not finish (see tests.log)."]
    counts = collections.Counter()
    failures, skip_reasons = [], collections.Counter()
    for case in ElementTree.parse(junit).iter("testcase"):
        backend, dtype = parameters(case.get("name", ""))
        result, message = outcome(case)
        counts[backend, dtype, result] += 1
        if result in ("failed", "error"):
            failures.append(f"- `{case.get('classname')}::{case.get('name')}`: {message.splitlines()[0][:200] if message else ''}")
        elif result == "skipped":
            skip_reasons[message.splitlines()[0][:120] if message else "(no reason)"] += 1
    lines = ["## Tests (junit.xml)", "", "| backend | dtype | passed | failed | error | skipped |", "|---|---|---|---|---|---|"]
    for backend, dtype in sorted({key[:2] for key in counts}):
        lines.append(f"| {backend} | {dtype} | " + " | ".join(str(counts[backend, dtype, result]) for result in OUTCOMES) + " |")
    totals = {result: sum(value for key, value in counts.items() if key[2] == result) for result in OUTCOMES}
    lines += ["", "Totals: " + ", ".join(f"{value} {result}" for result, value in totals.items()),
              "(dtype -: tests that choose their dtypes themselves)", ""]
    if failures:
        lines += [f"### Failures and errors ({len(failures)})", "", *failures[:60], ""]
    if skip_reasons:
        lines += ["### Skip reasons", "", *(f"- {count} x {reason}" for reason, count in skip_reasons.most_common(8)), ""]
    return lines


def bench_section(results_path):
    if not results_path.exists():
        return ["## Benchmark", "", "No bench/results.json: the benchmark did not start (see bench/log.txt)."]
    results = json.loads(results_path.read_text())
    environment = results.get("environment", {})
    lines = ["## Benchmark (bench/report.md has every row)", ""]
    lines += [f"- {key}: {environment[key]}" for key in ("device", "nvidia_smi", "torch", "cuda_runtime", "triton")
              if key in environment]
    checks = results.get("kernel_checks", [])
    if checks:
        worst = max(max(row["cos_sums"], row["sin_sums"], row["gradient_vs_rounded_ref"]) for row in checks)
        lines.append(f"- kernels against float64 on the device: worst relative error {worst:.1e}")
    if "tuned" in results:
        lines.append(f"- block sweep's best (BLOCK_N, BLOCK_K, warps): {results['tuned']}")
    stream = results.get("streaming", {})
    if "rows_per_s" in stream:
        lines.append(f"- SlicedEppsPulley streaming {stream['rows']} x {stream['d']} float32, K = {stream['k']}: "
                     f"{stream['seconds']:.3f} s, {stream['rows_per_s']:.3g} rows/s ({stream['x_floor']:.1f}x floor)")
    elif stream:
        lines.append(f"- streaming: {stream.get('error')}")
    lines += ["", "| precision | D | variant | median ms | x roofline |", "|---|---|---|---|---|"]
    for row in results.get("timings", []):
        time_text = f"{row['median_ms']:.3f}" if "median_ms" in row else (row.get("skipped") or row.get("error", ""))[:80]
        ratio = f"{row['x_roofline']:.2f}" if "x_roofline" in row else ""
        lines.append(f"| {row['precision']} | {row['D']} | {row['variant']} | {time_text} | {ratio} |")
    jax = results.get("jax", {})
    lines += ["", f"JAX {jax.get('jax', '')} on {jax.get('device', '?')}: " + (jax.get("error") or "")[:300]]
    for row in jax.get("rows", []):
        text = f"{row['median_ms']:.3f} ms" if "median_ms" in row else row.get("error", "")[:120]
        lines.append(f"- {row['variant']}, {row['precision']}, D = {row['D']}: {text}")
    lines += ["", f"Benchmark elapsed: {results.get('elapsed_s')} s"]
    return lines


def main(argv=None):
    folder = pathlib.Path((argv or sys.argv[1:])[0])
    lines = ["# GPU check (benchmarks/gpu/device_check.sh)", "", *test_section(folder / "junit.xml"), "",
             *bench_section(folder / "bench" / "results.json")]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
