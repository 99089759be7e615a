# Sourced by run.sh and device_check.sh: installs the carried wheels (.whl/, from wheels.sh) into
# $SITE (default /tmp/site) and puts the repository on the import path without installing it:
# sketchtest from the working tree, backends/ as sketchtest_backends (a symbolic link in a fresh
# temporary folder), and benchmarks/gpu for the device_budget pytest plugin.
# Sets PYTHON (default python3: the GPU image's Python that holds PyTorch) and root.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
SITE="${SITE:-/tmp/site}"
shim="$(mktemp -d "${TMPDIR:-/tmp}/sketchtest-shim.XXXXXX")"
ln -sfn "$root/backends" "$shim/sketchtest_backends"
import_path="$root:$shim:$root/benchmarks/gpu"
if compgen -G "$root/.whl/*.whl" >/dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$SITE" "$root"/.whl/*.whl || return 1
    import_path="$SITE:$import_path"
fi
export PYTHONPATH="$import_path${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # JAX shares the GPU with torch and CuPy in one process
