#!/usr/bin/env bash
# SIGReg on one CUDA GPU: kernel checks, ceilings, block sweep, streaming, timings (benchmarks/gpu/sigreg_gpu.py).
#
#   bash benchmarks/gpu/wheels.sh                      # here, once: the carried wheels into .whl/
#   device run, carry [".whl"]:  bash benchmarks/gpu/run.sh "$OUT" [--dry-run]
#
# benchmarks/gpu/device_check.sh runs this after the GPU tests; alone, it fits one call too.
# Torch timings start within BUDGET_S seconds (default 330), JAX within JAX_S more (default 100),
# and everything is killed at BUDGET_S + JAX_S + 40 s. Leaves report.md, results.json, jax.json
# and log.txt (nvidia-smi first) in the output folder (default ./gpu-out).
# On a machine without CUDA (or with --dry-run) the same command is a dry run at toy sizes.
set -uo pipefail
out="${1:-${OUT:-gpu-out}}"
shift || true
mkdir -p "$out"
source "$(dirname "$0")/env.sh" || exit 1
budget="${BUDGET_S:-330}" jax_s="${JAX_S:-100}"
{
    "$PYTHON" -c "import sketchtest, sketchtest_backends, torch; print('sketchtest', sketchtest.__file__, 'torch', torch.__version__)" || exit 1
    nvidia-smi 2>&1 | head -15
    timeout $((budget + jax_s + 40)) "$PYTHON" "$root/benchmarks/gpu/sigreg_gpu.py" "$out" \
        --budget-s "$budget" --jax-s "$jax_s" "$@" 2>&1
} | tee "$out/log.txt"
status=${PIPESTATUS[0]}
echo "exit status $status; report: $out/report.md" | tee -a "$out/log.txt"
exit "$status"
