#!/usr/bin/env bash
# SIGReg on one CUDA GPU: kernel checks, ceilings, timings (see benchmarks/gpu/sigreg_gpu.py).
#
#   bash benchmarks/gpu/wheels.sh                      # here, once: the carried wheels into .whl/
#   device run, carry [".whl"]:  bash benchmarks/gpu/run.sh "$OUT"
#
# Installs the carried wheels (if any) into /tmp/site, makes the repository importable
# (sketchtest, and backends/ as sketchtest_backends) without installing it, then runs the
# driver (torch timings start within 330 s, JAX within 100 s more, all killed at 470 s);
# the report lands in OUT (default ./gpu-out).
# On a machine without CUDA the same command is a dry run at toy sizes.
set -uo pipefail
out="${1:-${OUT:-gpu-out}}"
mkdir -p "$out"
root="$(cd "$(dirname "$0")/../.." && pwd)"
shim=/tmp/sketchtest-shim
mkdir -p "$shim"
ln -sfn "$root/backends" "$shim/sketchtest_backends"
path="$root:$shim"
if compgen -G "$root/.whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site "$root"/.whl/*.whl || exit 1
    path="/tmp/site:$path"
fi
export PYTHONPATH="$path${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
python3 -c "import sketchtest, sketchtest_backends, torch; print('sketchtest', sketchtest.__file__, 'torch', torch.__version__)" || exit 1
nvidia-smi 2>&1 | head -15 | tee "$out/nvidia-smi.txt"
timeout 470 python3 "$root/benchmarks/gpu/sigreg_gpu.py" "$out" --budget-s "${BUDGET_S:-330}" 2>&1 | tee "$out/log.txt"
status=${PIPESTATUS[0]}
echo "exit status $status; report: $out/report.md"
exit "$status"
