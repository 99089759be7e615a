"""Rows per second of ``normality_test`` at scale, and the peak memory of every process.

Writes an ``(N, 256)`` float32 ``.npy`` file of N(0, 1) values in chunks (N = 10^7 is 10 GB),
then runs ``normality_test`` (``null="standard"``, 128 slices, seed 0) on it four ways, each in
fresh subprocesses:

* ``cli``: ``python -m sketchtest check FILE --memory-budget 1G``, which streams every row in
  two passes over the file (``StreamingNormalityTest``) when the rows do not fit the budget
  (``--budget``, default 1G);
* ``dask``: ``dask.distributed.LocalCluster`` with 2 worker processes (one thread each), the
  file read by the workers in chunks of rows (each task memory-maps the file and copies its
  rows; the first ``--cluster-rows`` rows, default all of them), the D x D eigendecomposition on the driver;
* ``stream``: ``StreamingNormalityTest`` on the same cluster and blocks: in each pass, one task
  per block updates a ``spawn()`` of the accumulator on a worker, and the driver merges them;
* ``memory``: ``st.normality_test`` on a NumPy array of the first ``--subset`` rows (10^6) in
  memory (the load is not timed);
* ``subsample``: ``sketchtest check FILE --memory-budget 1G --subsample M`` (``--subsample``,
  default 20000: about the most rows of D = 256 whose working set fits 1G): one pass, the test
  on M random rows.

Peak memory is ``ru_maxrss`` (which counts every page a process touched, the file's mapped pages
included): of the CLI subprocess (``os.wait4``; it starts no process), and of the in-memory
process, the dask driver and each worker, each read inside that process (``VmHWM``, the peak of
the process's own memory; on the workers with ``client.run``). The parent process imports
nothing but the standard library, so that no child inherits its high-water mark.

Run: ``OMP_NUM_THREADS=1 python benchmarks/normality_scale.py [--rows 10000000] [--folder DIR]
[--paths cli,dask,stream,memory,subsample] [--cluster-rows M] [--subset 1000000] [--subsample 20000] [--budget 1G]
[--keep]``. The file
is written to ``--folder`` (default: a temporary folder, removed afterwards unless ``--keep``; an
existing file of the right size is reused). Prints a reStructuredText table
(``docs/guide/scale_table.inc``, shown in ``docs/guide/scale.rst``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from _tables import rst_table  # benchmarks/, on the path when a script here runs

COLUMNS = 256
SEED = 0
WRITE_ROWS = 2**16  # rows written per chunk (64 MiB of float32)
DASK_CHUNK_ROWS = 2**15  # rows per dask task (32 MiB of float32)
PATHS = ("cli", "dask", "stream", "memory", "subsample")


# --- the data ------------------------------------------------------------------------------

def data_file(folder, rows):
    """The path of the ``(rows, COLUMNS)`` float32 file in `folder`, written (in a subprocess) if absent."""
    path = os.path.join(folder, f"normal_{rows}x{COLUMNS}_float32.npy")
    expected = rows * COLUMNS * 4
    if not (os.path.exists(path) and os.path.getsize(path) >= expected):
        subprocess.run([sys.executable, __file__, "--write", path, str(rows)], check=True)
    return path


def _write(path, rows):
    import numpy as np

    generator = np.random.default_rng(SEED)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, COLUMNS))
    for start in range(0, rows, WRITE_ROWS):
        stop = min(start + WRITE_ROWS, rows)
        out[start:stop] = generator.standard_normal((stop - start, COLUMNS), dtype=np.float32)
        out.flush()
    del out


# --- the four ways -----------------------------------------------------------------------------

def run_measured(command):
    """Run `command`; its wall seconds, peak RSS in bytes (``os.wait4``) and stdout. Raises if it fails."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)  # the child's own rusage: its peak RSS
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{err.read().decode()[-2000:]}")
        return seconds, usage.ru_maxrss * 1024, out.read().decode()


def measure_cli(path, budget, options):
    """``sketchtest check`` on `path`: seconds, peak RSS, rows used, p-value of normality_test."""
    command = [sys.executable, "-m", "sketchtest", "check", path, "--memory-budget", budget,
               "--no-progress", "--json", "--seed", str(SEED), *options]
    seconds, peak, out = run_measured(command)
    report = json.loads(out)
    test = next(t for t in report["tests"] if t.get("test") == "normality_test")
    return {"seconds": seconds, "peaks": [peak], "pvalue": test["pvalue"],
            "streamed": bool(test.get("streamed") or report.get("streamed"))}


def cli_streams():
    """Whether this sketchtest's CLI streams normality_test and has ``--subsample``."""
    usage = subprocess.run([sys.executable, "-m", "sketchtest", "check", "--help"],
                           capture_output=True, text=True, check=True).stdout
    return "--subsample" in usage


def measure_python(mode, path, rows):
    """The ``--dask``, ``--stream`` or ``--memory`` mode of this script in a subprocess; its JSON line."""
    seconds, _, out = run_measured([sys.executable, __file__, f"--{mode}", path, str(rows)])
    result = json.loads(out.strip().splitlines()[-1])
    # its own peak, read inside it: os.wait4's counts the children it waited for (the workers) too
    result["peaks"] = [result["peak"]] + result.get("worker_peaks", [])
    result["process_seconds"] = seconds
    return result


def _peak_bytes():
    """This process's peak resident set size: ``VmHWM`` on Linux (the high-water mark of this
    program's own memory; ``ru_maxrss`` would also carry its parent's size at the fork), else
    ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _read_rows(path, start, stop):
    """Rows ``start:stop`` of the ``.npy`` at `path`, copied out of a memory map (runs on a worker)."""
    import numpy as np

    return np.array(np.load(path, mmap_mode="r")[start:stop])


def _row_ranges(rows):
    return [(start, min(start + DASK_CHUNK_ROWS, rows)) for start in range(0, rows, DASK_CHUNK_ROWS)]


def _blocks(path, rows):
    """The file's rows as lazy blocks of DASK_CHUNK_ROWS rows, each read by its task on a worker."""
    import dask
    import dask.array as da
    import numpy as np

    return [da.from_delayed(dask.delayed(_read_rows)(path, start, stop), shape=(stop - start, COLUMNS),
                            dtype=np.float32) for start, stop in _row_ranges(rows)]


def _fold_rows(template, path, start, stop):
    """Rows ``start:stop`` folded into an empty copy of `template` (runs on a worker)."""
    return template.spawn().update(_read_rows(path, start, stop))


def _normality_on_cluster(path, rows, client):
    """``normality_test`` on the file's rows as one dask array; the p-value."""
    import dask.array as da

    import sketchtest as st

    return float(st.normality_test(da.concatenate(_blocks(path, rows), axis=0), seed=SEED).pvalue)


def _streamed_on_cluster(path, rows, client):
    """StreamingNormalityTest, one task per block and pass on the workers, merged here; the p-value."""
    import distributed

    import sketchtest as st

    stream = st.StreamingNormalityTest(COLUMNS, seed=SEED)
    for _ in range(2):
        template = client.scatter(stream.spawn(), broadcast=True)  # sent to each worker once
        partials = [client.submit(_fold_rows, template, path, start, stop, pure=False)
                    for start, stop in _row_ranges(rows)]
        for _, partial in distributed.as_completed(partials, with_results=True):
            stream.merge(partial)
        if stream.stage == 1:
            stream.end_first_pass()
    return float(stream.result().pvalue)


def _cluster(path, rows, run_on_cluster):
    import distributed

    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=":0", silence_logs=40) as cluster, \
            distributed.Client(cluster) as client:
        client.run(lambda: __import__("sketchtest"))  # imports outside the timing
        start = time.perf_counter()
        pvalue = run_on_cluster(path, rows, client)
        seconds = time.perf_counter() - start
        worker_peaks = list(client.run(_peak_bytes).values())
    print(json.dumps({"seconds": seconds, "pvalue": pvalue, "peak": _peak_bytes(), "worker_peaks": worker_peaks}))


def _dask(path, rows):
    _cluster(path, rows, _normality_on_cluster)


def _stream(path, rows):
    _cluster(path, rows, _streamed_on_cluster)


def _memory(path, rows):
    import numpy as np

    import sketchtest as st

    x = np.array(np.load(path, mmap_mode="r")[:rows])
    start = time.perf_counter()
    pvalue = float(st.normality_test(x, seed=SEED).pvalue)
    print(json.dumps({"seconds": time.perf_counter() - start, "pvalue": pvalue, "peak": _peak_bytes()}))


# --- the table -----------------------------------------------------------------------------------

def megabytes(peaks):
    return ", ".join(f"{peak / 1e6:.0f}" for peak in peaks)


def table_row(name, rows, result):
    return [name, f"{rows:,}", f"{result['seconds']:.1f}", f"{rows / result['seconds']:,.0f}",
            megabytes(result["peaks"]), f"{result['pvalue']:.3g}"]


def measure_path(name, path, rows, subset, subsample, budget, cluster_rows):
    """One row of the table: `name` (one of PATHS) on the file at `path`."""
    if name == "cli":
        result = measure_cli(path, budget, [])
        label = "CLI, every row streamed (2 passes)" if result["streamed"] else "CLI (rows in memory)"
        return table_row(label, rows, result)
    if name == "subsample":
        return table_row(f"CLI ``--subsample {subsample}``", subsample,
                         measure_cli(path, budget, ["--subsample", str(subsample)]))
    if name == "dask":
        return table_row("dask, 2 worker processes", cluster_rows, measure_python("dask", path, cluster_rows))
    if name == "stream":
        return table_row("StreamingNormalityTest, 2 dask workers", cluster_rows,
                         measure_python("stream", path, cluster_rows))
    return table_row("NumPy in memory", subset, measure_python("memory", path, subset))


def run(paths, rows, subset, subsample, folder, budget, cluster_rows=None):
    path = data_file(folder, rows)
    subset, subsample = min(subset, rows), min(subsample, rows)
    cluster_rows = rows if cluster_rows is None else min(cluster_rows, rows)
    lines, skipped = [], []
    streams = cli_streams()
    for name in paths:
        if name in ("cli", "subsample") and not streams:
            skipped.append(f"{name}: this sketchtest's CLI has no --subsample (it does not stream every "
                           "row yet): skipped")
            continue
        try:
            lines.append(measure_path(name, path, rows, subset, subsample, budget, cluster_rows))
        except RuntimeError as error:  # one failed path does not lose the others' numbers
            skipped.append(f"{name}: {error}")
    header = ["path", "rows", "seconds", "rows/s", "peak MB per process", "p-value"]
    return rst_table(header, lines), skipped


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10**7, help="N, rows of the file (default 10^7: 10 GB)")
    parser.add_argument("--subset", type=int, default=10**6, help="rows of the in-memory run (default 10^6)")
    parser.add_argument("--subsample", type=int, default=20000,
                        help="the CLI's --subsample M (default 20000, within a 1G budget at D = 256)")
    parser.add_argument("--cluster-rows", type=int, help="rows the dask and stream paths read, the first "
                        "ones of the file (default: all of them; 2 worker processes on 2 cores take hours on 10^7)")
    parser.add_argument("--paths", default=",".join(PATHS), help=f"comma-separated, of {', '.join(PATHS)}")
    parser.add_argument("--budget", default="1G", help="the CLI's --memory-budget (default 1G; the CLI "
                        "streams every row only when they do not fit it: use less to check the script on a small N)")
    parser.add_argument("--folder", help="where the file goes (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and its file")
    parser.add_argument("--write", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--dask", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--stream", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--memory", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for mode, function in (("write", _write), ("dask", _dask), ("stream", _stream), ("memory", _memory)):
        if getattr(args, mode):
            path, rows = getattr(args, mode)
            return function(path, int(rows))
    paths = [name.strip() for name in args.paths.split(",") if name.strip()]
    unknown = sorted(set(paths) - set(PATHS))
    if unknown:
        parser.error(f"--paths: unknown {unknown}; choose from {', '.join(PATHS)}")
    folder = args.folder or tempfile.mkdtemp(prefix="sketchtest-scale-")
    try:
        table, skipped = run(paths, args.rows, args.subset, args.subsample, folder, args.budget,
                             args.cluster_rows)
    finally:
        if not args.folder and not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    for line in skipped:
        print(line, file=sys.stderr)
    print(f"N = {args.rows:,} x {COLUMNS} float32, CLI --memory-budget {args.budget}; "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print(table)


if __name__ == "__main__":
    main()
