#!/usr/bin/env bash
# Issue 23's one GPU call: the GPU tests, then the SIGReg benchmark, with a junit report and a summary.
#
#   here, once:        bash benchmarks/gpu/wheels.sh        (array-api-compat, -extra, -strict into .whl/)
#   the device call:   carry [".whl"], timeout_s 600:  bash benchmarks/gpu/device_check.sh
#   dry run (CPU):     OUT=/tmp/out PYTHON=.venv/bin/python bash benchmarks/gpu/device_check.sh --dry-run
#
# 1. installs the carried wheels and puts the repository on the import path (env.sh);
# 2. runs the conformance, sliced, normality_test, SIGReg, sliced_loss and streaming tests on the
#    cupy, torch:cuda and jax:gpu backends only (SKETCHTEST_BACKENDS; every dtype each has), with
#    a per-test alarm and a session budget (benchmarks/gpu/device_budget.py), under `timeout`;
# 3. runs run.sh (kernel checks, ceilings, block sweep, streaming, fwd+bwd timings, JAX);
# 4. writes summary.md (pass/fail/skip per backend and dtype, the failures, the benchmark's headline).
# Files in $OUT (7): summary.md, junit.xml, tests.log, bench/{report.md,results.json,jax.json,log.txt}.
# Time: TESTS_S (default 150, collection not counted) + BUDGET_S (200) + JAX_S (50) + about 60 s:
# under 8 minutes.
# Without a GPU every test skips (no CUDA device) and the benchmark runs at toy sizes on the CPU.
set -uo pipefail
dry_run=()
[[ "${1:-}" == "--dry-run" ]] && dry_run=(--dry-run)
out="${OUT:?set OUT to the output folder}"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$out/bench"
source "$here/env.sh" || { echo "installing the carried wheels failed" | tee "$out/summary.md"; exit 1; }
cd "$root" || exit 1
tests_s="${TESTS_S:-150}"
export SKETCHTEST_BACKENDS="${SKETCHTEST_BACKENDS:-cupy,torch:cuda,jax:gpu}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
workers=()
if [[ ${#dry_run[@]} -eq 0 ]] && "$PYTHON" -c "import xdist" 2>/dev/null; then
    workers=(-n "${WORKERS:-6}")  # one GPU, several processes: JAX does not preallocate (env.sh)
fi
test_files=(
    tests/test_losses_on_device.py tests/test_sigreg.py tests/test_sigreg_jax.py tests/test_sliced_loss.py
    tests/test_sliced_loss_jax.py tests/test_streaming.py tests/test_sliced.py tests/test_sliced_inputs.py
    tests/test_normality.py tests/test_conformance.py
)
echo "tests on $SKETCHTEST_BACKENDS, at most $tests_s s" | tee "$out/tests.log"
timeout $((tests_s + 60)) "$PYTHON" -m pytest -p device_budget --per-test-timeout "${PER_TEST_S:-90}" \
    --session-budget "$tests_s" "${workers[@]}" -q -rfEs -p no:cacheprovider \
    --junitxml "$out/junit.xml" -o junit_family=xunit2 "${test_files[@]}" >>"$out/tests.log" 2>&1
status=$?
tail -2 "$out/tests.log"
echo "pytest exit status $status" | tee -a "$out/tests.log"
BUDGET_S="${BUDGET_S:-200}" JAX_S="${JAX_S:-50}" bash "$here/run.sh" "$out/bench" "${dry_run[@]}" >/dev/null
echo "benchmark exit status $?"
"$PYTHON" "$here/summarize.py" "$out" | tee "$out/summary.md"
