#!/usr/bin/env bash
# Build the wheels that benchmarks/gpu/run.sh installs on the GPU machine (which has no network).
# Run here, from the repository root, before the device call; then call the device with carry [".whl"].
# The GPU image (Python 3.12, torch 2.11 CUDA 13, Triton 3.6, JAX 0.11 CUDA, NumPy, SciPy) lacks only
# sketchtest's two pure-Python dependencies and array-api-strict (a test dependency); .whl/ is git-ignored.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
mkdir -p .whl
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl "array-api-compat==1.16.0" "array-api-extra==0.11.5" "array-api-strict==2.6.1"
ls -la .whl
