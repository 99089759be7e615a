"""SIGReg forward+backward on one CUDA GPU: kernel checks, ceilings, timings, in one run.

Run by ``benchmarks/gpu/run.sh`` (which installs the carried wheels first)::

    python3 benchmarks/gpu/sigreg_gpu.py OUT [--budget-s 330]

In order, each section rewriting ``OUT/report.md`` and ``OUT/results.json``
when it ends (a run cut short keeps what it measured):

1. the machine: GPU, driver, library versions;
2. the two ceilings of the roofline: a large device-to-device copy (bytes
   read plus written per second) and a large bfloat16 matrix product (and a
   float32 one, for the float32 rows), on random data, median of CUDA-event
   timings after warm-up;
3. the Triton kernels against a float64 reference on the GPU (ragged shapes,
   float32 and bfloat16, outputs allocated from NaN-poisoned memory):
   ``||out - ref|| / ||ref||``, and the whole loss and its gradient against
   float64 and against the torch path;
4. a sweep of the kernels' block sizes (time and achieved bandwidth of each);
5. one forward+backward at N = 8192, K = 1024, T = 17, D in {2048, 256},
   float32 and bfloat16 autocast: naive eager, naive ``torch.compile``, ours
   eager (torch path), ours eager with the Triton kernels (default and tuned
   blocks), the ``SIGReg`` module (draws its directions each step), ours
   ``torch.compile`` reaching the Triton kernels through the custom
   operators and on the fused torch path (each default and
   ``mode="reduce-overhead"``); every case's eager rows first, then the
   compiled ones; median of
   CUDA-event timings after warm-up, peak memory from
   ``torch.cuda.max_memory_allocated``, the roofline of
   ``docs/benchmarks/sigreg.rst`` with the measured ceilings next to each;
6. JAX (naive and ours, jitted value-and-grad) in a child process.

Torch timings stop being started once `--budget-s` seconds have passed, JAX
gets at most `--jax-s` seconds more (the whole device call must end within
8 minutes). Between 4 and 5, the throughput of ``SlicedEppsPulley``
streaming 10^6 x 1024 float32 samples (K = 256). Without CUDA
(``--dry-run`` or no GPU) the same code runs at toy sizes on the CPU, with
Triton's interpreter standing in for the GPU (its timings mean nothing), and
the report says so.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time
import warnings

warnings.filterwarnings("ignore", message=".*lru_cache.*")  # Dynamo's note on array-api-compat helpers
ROOT = pathlib.Path(__file__).resolve().parents[2]
T = 17
T_MAX = 3.0
KNOT_STEP = T_MAX / (T - 1)
FULL = {"n": 8192, "k": 1024, "dimensions": (2048, 256), "warmup": 5, "repeats": 30}
TOY = {"n": 96, "k": 48, "dimensions": (40, 24), "warmup": 1, "repeats": 2}
STREAM_FULL = {"rows": 1_000_000, "d": 1024, "k": 256, "batch": 1 << 16}  # 4.1 GB of float32 samples
STREAM_TOY = {"rows": 3000, "d": 32, "k": 16, "batch": 1024}
SWEEP = [(64, 64, 4), (64, 64, 8), (128, 64, 8), (32, 64, 4), (64, 32, 4), (32, 128, 4), (128, 32, 4), (16, 128, 4)]


def load_cpu_benchmark():
    """benchmarks/sigreg.py: the naive formulas and the roofline."""
    spec = importlib.util.spec_from_file_location("sigreg_benchmark", ROOT / "benchmarks" / "sigreg.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Report:
    """Markdown lines and JSON results, rewritten into `folder` after every section."""

    def __init__(self, folder, started):
        self.folder, self.started = pathlib.Path(folder), started
        self.folder.mkdir(parents=True, exist_ok=True)
        self.lines, self.results = [], {}

    def add(self, *lines):
        for line in lines:
            print(line, flush=True)
            self.lines.append(line)

    def save(self):
        self.results["elapsed_s"] = round(time.perf_counter() - self.started, 1)
        (self.folder / "report.md").write_text("\n".join(self.lines) + "\n")
        (self.folder / "results.json").write_text(json.dumps(self.results, indent=1, default=str))


# ----------------------------------------------------------------------------- timing


def timed(step, *, warmup, repeats, cuda):
    """Median, 10th and 90th percentile (ms) of `step()` after `warmup` calls."""
    import torch

    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            step()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        else:
            start = time.perf_counter()
            step()
            times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    return {"median_ms": statistics.median(times), "p10_ms": times[len(times) // 10],
            "p90_ms": times[(9 * len(times)) // 10], "repeats": repeats}


def ceilings(device, cuda):
    """Copy bandwidth (bytes read + written per s) and matrix-product rates, on random data."""
    import torch

    elements, size = (1 << 28, 8192) if cuda else (1 << 20, 256)
    source = torch.randn(elements, device=device)
    target = torch.empty_like(source)
    copy = timed(lambda: target.copy_(source), warmup=3, repeats=20, cuda=cuda)
    result = {"copy_bytes_per_s": 2 * 4 * elements / (copy["median_ms"] / 1e3), "copy_gib": 4 * elements / 2**30}
    del source, target
    for name, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
        a = torch.randn(size, size, device=device, dtype=dtype)
        b = torch.randn(size, size, device=device, dtype=dtype)
        product = timed(lambda: a @ b, warmup=3, repeats=10, cuda=cuda)
        result[f"{name}_flops"] = 2.0 * size**3 / (product["median_ms"] / 1e3)
    result["matmul_size"] = size
    return result


@contextlib.contextmanager
def poisoned_allocator(device, cuda, megabytes=512):
    """Fill freed caching-allocator memory with NaN, so that unwritten outputs show up."""
    import torch

    if cuda:
        torch.empty(megabytes << 18, device=device).fill_(float("nan"))
    yield


# ----------------------------------------------------------------------------- kernel checks


def relative_error(out, ref):
    import torch

    out, ref = out.double(), ref.double()
    if not bool(torch.isfinite(out).all()):
        return float("nan")
    return float(torch.linalg.vector_norm(out - ref) / torch.linalg.vector_norm(ref))


def check_kernels(kernels, device, cuda):
    """The kernels against float64 on the device; ragged shapes, float32 and bfloat16."""
    import torch

    shapes = [(4000, 1000), (3, 1500, 333), (8192, 1024)] if cuda else [(45, 21), (2, 37, 33)]
    generator = torch.Generator(device=device).manual_seed(0)
    knots = torch.arange(T, dtype=torch.float64, device=device) * KNOT_STEP
    rows = []
    for shape in shapes:
        for dtype in (torch.float32, torch.bfloat16):
            p = (1.5 * torch.randn(shape, device=device, generator=generator)).to(dtype)
            cotangent = (*shape[:-2], T, shape[-1])
            cos_grad = torch.randn(cotangent, device=device, generator=generator)
            sin_grad = torch.randn(cotangent, device=device, generator=generator)
            with poisoned_allocator(device, cuda):
                cos_sums, sin_sums = kernels.forward_sums(p, KNOT_STEP, T)
                gradient = kernels.backward_projections(p, cos_grad, sin_grad, KNOT_STEP, T)
            angles = p.double()[..., None, :, :] * knots[:, None, None]
            cos_ref, sin_ref = angles.cos().sum(-2), angles.sin().sum(-2)
            grad_ref = (knots[:, None, None] * (sin_grad.double()[..., None, :] * angles.cos()
                                                - cos_grad.double()[..., None, :] * angles.sin())).sum(-3)
            del angles
            rows.append({
                "shape": list(shape), "dtype": str(dtype).removeprefix("torch."),
                "cos_sums": relative_error(cos_sums, cos_ref), "sin_sums": relative_error(sin_sums, sin_ref),
                "gradient": relative_error(gradient, grad_ref),
                "gradient_vs_rounded_ref": relative_error(gradient, grad_ref.to(dtype)),
            })
    return rows


def check_loss(sketchtest_torch, backend, kernels, device, cuda):
    """The whole loss and its gradient: Triton path vs torch path vs float64."""
    import torch

    n, d, k = (8192, 256, 1024) if cuda else (64, 12, 20)
    generator = torch.Generator(device=device).manual_seed(1)
    z = torch.randn(n, d, device=device, generator=generator)
    directions = torch.randn(d, k, device=device, generator=generator, dtype=torch.float64)

    def value_and_grad(dtype, use_triton, autocast=False):
        leaf = z.to(dtype).requires_grad_()
        unit = directions.to(dtype) / directions.to(dtype).norm(dim=0)  # unit columns in this dtype
        with triton_dispatch(backend, kernels if use_triton else None, cuda):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                value = sketchtest_torch.sigreg(leaf, directions=unit, distributed=False)
            (grad,) = torch.autograd.grad(value, leaf)
        return value.detach(), grad

    exact_value, exact_grad = value_and_grad(torch.float64, False)
    rows = []
    for label, dtype, use_triton, autocast in (
        ("float32, torch path", torch.float32, False, False), ("float32, Triton", torch.float32, True, False),
        ("bf16 autocast, torch path", torch.float32, False, True), ("bf16 autocast, Triton", torch.float32, True, True),
    ):
        value, grad = value_and_grad(dtype, use_triton, autocast)
        rows.append({"case": label, "value_rel": abs(float(value) / float(exact_value) - 1),
                     "grad_rel": relative_error(grad, exact_grad)})
    return rows


def _no_kernels(device, dtype, numel=0):
    return None


def _kernels_everywhere(device, dtype, numel=0):
    """The kernels for CPU tensors too (Triton's interpreter): the dry run's stand-in for CUDA."""
    from sketchtest._losses import triton_sigreg

    return triton_sigreg if triton_sigreg.supports(dtype) else None


@contextlib.contextmanager
def triton_dispatch(backend, kernels, cuda):
    """Route the trig sums to `kernels` (CPU tensors too, for the interpreter) or, with None, to torch.

    The replacements are module-level functions, the same objects on every
    call, so that compiled variants keep their graphs (Dynamo guards on them).
    """
    original = backend._triton_kernels
    if kernels is None:
        backend._triton_kernels = _no_kernels
    elif not cuda:
        backend._triton_kernels = _kernels_everywhere
    try:
        yield
    finally:
        backend._triton_kernels = original


def check_draws(kernels, backend, device, cuda):
    """The Triton direction draw against the torch counter_normal: agreement and time."""
    import torch

    shape = (2048, 1024) if cuda else (7, 9)
    seed = torch.tensor(12345, device=device)
    with triton_dispatch(backend, None, cuda):
        expected = backend.counter_normal(shape, seed=seed)
        torch_path = timed(lambda: backend.counter_normal(shape, seed=seed), warmup=2,
                           repeats=10 if cuda else 1, cuda=cuda)
    draws = kernels.counter_normal(shape, seed, torch.float32)
    triton_time = timed(lambda: kernels.counter_normal(shape, seed, torch.float32), warmup=2,
                        repeats=10 if cuda else 1, cuda=cuda)
    return {"shape": list(shape), "max_abs_diff": float((draws - expected).abs().max()),
            "mean": float(draws.mean()), "std": float(draws.std()),
            "torch_path_ms": torch_path["median_ms"], "triton_ms": triton_time["median_ms"]}


def sweep_kernels(kernels, device, cuda, size):
    """Time each block configuration of both kernels on bfloat16 projections (N, K)."""
    import torch

    n, k = size
    p = torch.randn(n, k, device=device).to(torch.bfloat16)
    cos_grad, sin_grad = torch.randn(T, k, device=device), torch.randn(T, k, device=device)
    rows = []
    for config in SWEEP if cuda else SWEEP[:2]:
        forward = timed(lambda: kernels.forward_sums(p, KNOT_STEP, T, config=config), warmup=3,
                        repeats=20 if cuda else 1, cuda=cuda)
        backward = timed(lambda: kernels.backward_projections(p, cos_grad, sin_grad, KNOT_STEP, T, config=config),
                         warmup=3, repeats=20 if cuda else 1, cuda=cuda)
        rows.append({"config": list(config), "forward_ms": forward["median_ms"], "backward_ms": backward["median_ms"],
                     "forward_gb_s": 2 * n * k / forward["median_ms"] / 1e6,
                     "backward_gb_s": 2 * 2 * n * k / backward["median_ms"] / 1e6})
    return rows


# ----------------------------------------------------------------------------- streaming


def stream_throughput(device, cuda, peaks):
    """``SlicedEppsPulley.update`` over ``rows x d`` float32 samples in batches, then ``result()``.

    Two batches drawn on the device are fed in turn (the draw is not timed);
    one warm-up accumulator first (direction draw, first-call costs). The
    floor beside the time: reading the samples once at the copy bandwidth,
    or the float32 projections at the fp32 matmul rate, whichever is slower.
    """
    import torch

    import sketchtest

    sizes = STREAM_FULL if cuda else STREAM_TOY
    rows, d, k, batch = sizes["rows"], sizes["d"], sizes["k"], sizes["batch"]
    generator = torch.Generator(device=device).manual_seed(4)
    batches = [torch.randn(batch, d, device=device, generator=generator) for _ in range(2)]
    sizes_fed = [min(batch, rows - start) for start in range(0, rows, batch)]

    def run():
        accumulator = sketchtest.SlicedEppsPulley(k, seed=0)
        for index, size in enumerate(sizes_fed):
            accumulator.update(batches[index % 2][:size])
        return accumulator.result()

    sketchtest.SlicedEppsPulley(k, seed=0).update(batches[0]).result()  # warm-up
    if cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = run()
    pvalue = float(result.pvalue)  # synchronizes
    seconds = time.perf_counter() - start
    floor = max(4.0 * rows * d / peaks["copy_bytes_per_s"], 2.0 * rows * d * k / peaks["fp32_flops"])
    return {"rows": rows, "d": d, "k": k, "batch": batch, "seconds": seconds, "rows_per_s": rows / seconds,
            "input_gb_per_s": 4.0 * rows * d / seconds / 1e9, "floor_s": floor, "x_floor": seconds / floor,
            "pvalue": pvalue, "sum_dtype": str(result.slice_statistics.dtype)}


# ----------------------------------------------------------------------------- timings


def variants(bench, sketchtest_torch, backend, kernels, cuda, compile_backend, tuned):
    """(name, make(z, directions) -> step) for every torch variant, in the order they run."""
    import torch

    def plain(function, *, use_triton=True, config=None):
        def make(z, directions, autocast):
            def step():
                z.grad = None
                with triton_dispatch(backend, kernels if use_triton else None, cuda), tuned_config(kernels, config):
                    with torch.autocast(z.device.type, dtype=torch.bfloat16, enabled=autocast):
                        loss = function(z, directions)
                    loss.backward()
            return step
        return make

    def module(z, directions, autocast):
        loss_fn = sketchtest_torch.SIGReg(num_slices=directions.shape[1], distributed=False).to(z.device)
        return plain(lambda z, _: loss_fn(z))(z, directions, autocast)

    def compiled(function, use_triton=False, **options):
        def make(z, directions, autocast):  # a fresh compiled function per case: no shared guards
            compiled_function = torch.compile(function, backend=compile_backend, **options)
            return plain(compiled_function, use_triton=use_triton)(z, directions, autocast)
        return make

    ours = bench.torch_ours
    rows = [
        ("naive eager", plain(bench.torch_naive, use_triton=False)),
        ("naive torch.compile", compiled(bench.torch_naive)),
        ("ours eager, torch path", plain(ours, use_triton=False)),
        ("ours eager, Triton", plain(ours)),
        ("ours eager, Triton tuned", plain(ours, config=tuned)),
        ("ours SIGReg module, Triton", module),
        ("ours torch.compile, Triton", compiled(ours, use_triton=True, fullgraph=True)),
    ]
    if cuda:  # CUDA graphs: no launch gaps between the small kernels around the matmuls
        rows.append(("ours torch.compile reduce-overhead, Triton",
                     compiled(ours, use_triton=True, fullgraph=True, mode="reduce-overhead")))
    rows.append(("ours torch.compile, torch path", compiled(ours, fullgraph=True)))
    if cuda:
        rows.append(("ours torch.compile reduce-overhead, torch path",
                     compiled(ours, fullgraph=True, mode="reduce-overhead")))
    return rows if kernels is not None else [row for row in rows if "Triton" not in row[0]]


@contextlib.contextmanager
def tuned_config(kernels, config):
    if kernels is None or config is None:
        yield
        return
    saved = dict(kernels.CONFIG)
    kernels.CONFIG.update(config)
    try:
        yield
    finally:
        kernels.CONFIG.clear()
        kernels.CONFIG.update(saved)


def time_variants(report, bench, make_variants, device, cuda, sizes, peaks, deadline):
    """Every case's eager variants first, then every case's compiled ones (slow to build).

    So a run that reaches its time budget loses compiled rows of the last
    cases, not whole cases.
    """
    report.results.setdefault("timings", [])
    for compiled_pass in (False, True):
        for d in sizes["dimensions"]:
            for autocast in (True, False):
                chosen = [(name, make) for name, make in make_variants() if ("torch.compile" in name) == compiled_pass]
                time_case(report, bench, chosen, device, cuda, sizes, peaks, deadline, d, autocast)
    return report.results["timings"]


def time_case(report, bench, chosen, device, cuda, sizes, peaks, deadline, d, autocast):
    """One (D, precision) case: each variant timed (rows into the report), or skipped after the deadline."""
    import torch

    n, k = sizes["n"], sizes["k"]
    generator = torch.Generator(device=device).manual_seed(2)
    z = torch.randn(n, d, device=device, generator=generator).requires_grad_()
    directions = torch.randn(d, k, device=device, generator=generator)
    directions = directions / directions.norm(dim=0)
    bound = bench.roofline(n, d, k, element_bytes=2 if autocast else 4, peaks=peaks)
    label = "bf16 autocast" if autocast else "float32"
    for name, make in chosen:
        row = {"N": n, "D": d, "K": k, "precision": label, "variant": name, "roofline_ms": bound["bound_ms"]}
        if time.perf_counter() > deadline:
            row["skipped"] = "time budget"
        else:
            try:
                row.update(measure(make(z, directions, autocast), cuda, sizes))
                row["x_roofline"] = row["median_ms"] / bound["bound_ms"]
            except Exception as error:  # report and go on: one broken variant must not end the run
                row["error"] = repr(error)[:300]
        report.results["timings"].append(row)
        report.add(format_row(row))
        report.save()  # a run cut short keeps every row measured so far
    del z, directions
    if cuda:
        torch.cuda.empty_cache()


def measure(step, cuda, sizes):
    import torch

    step()  # compile, autotune, allocate
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        baseline = torch.cuda.memory_allocated()
        step()
        torch.cuda.synchronize()
        peak_mib = (torch.cuda.max_memory_allocated() - baseline) / 2**20
    else:
        peak_mib = float("nan")
    return {**timed(step, warmup=sizes["warmup"], repeats=sizes["repeats"], cuda=cuda), "peak_mib": peak_mib}


def format_row(row):
    head = f"| {row['precision']} | {row['D']} | {row['variant']} |"
    if "median_ms" in row:
        return (head + f" {row['median_ms']:.3f} | {row['p10_ms']:.3f}-{row['p90_ms']:.3f} | {row['peak_mib']:.1f} |"
                f" {row['roofline_ms']:.3f} | {row['x_roofline']:.1f}x |")
    return head + f" {row.get('skipped') or row.get('error')} | | | {row['roofline_ms']:.3f} | |"


# ----------------------------------------------------------------------------- JAX (child process)


def jax_part(sizes_name, output):
    """Naive and ours as jitted value-and-grad, float32 and bfloat16 inputs; JSON rows to `output`."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    bench = load_cpu_benchmark()
    sizes = FULL if sizes_name == "full" else TOY
    device = jax.devices()[0]
    rows = []
    for d in sizes["dimensions"]:
        rng = np.random.default_rng(3)
        n, k = sizes["n"], sizes["k"]
        z32 = rng.standard_normal((n, d)).astype(np.float32)
        a32 = rng.standard_normal((d, k))
        a32 = (a32 / np.linalg.norm(a32, axis=0)).astype(np.float32)
        for precision, dtype in (("bf16 inputs", jnp.bfloat16), ("float32", jnp.float32)):
            z = jax.device_put(jnp.asarray(z32, dtype=dtype), device)
            a = jax.device_put(jnp.asarray(a32, dtype=dtype), device)
            for name, function in (("JAX naive", bench.jax_naive), ("JAX ours", bench.jax_ours)):
                row = {"N": n, "D": d, "K": k, "precision": precision, "variant": name, "platform": device.platform}
                try:
                    compiled = jax.jit(jax.value_and_grad(function)).lower(z, a).compile()
                    memory = compiled.memory_analysis()
                    row["peak_mib"] = (memory.temp_size_in_bytes + memory.output_size_in_bytes) / 2**20
                    for _ in range(sizes["warmup"]):
                        jax.block_until_ready(compiled(z, a))
                    times = []
                    for _ in range(sizes["repeats"]):
                        start = time.perf_counter()
                        jax.block_until_ready(compiled(z, a))
                        times.append((time.perf_counter() - start) * 1e3)
                    row["median_ms"] = statistics.median(times)
                    row["value"] = float(compiled(z, a)[0])
                except Exception as error:
                    row["error"] = repr(error)[:300]
                rows.append(row)
                print(row, flush=True)
    pathlib.Path(output).write_text(json.dumps({"jax": jax.__version__, "device": str(device), "rows": rows}))


def run_jax_child(folder, sizes_name, timeout):
    output = pathlib.Path(folder) / "jax.json"
    env = dict(os.environ, XLA_PYTHON_CLIENT_PREALLOCATE="false")
    try:
        completed = subprocess.run([sys.executable, __file__, str(folder), "--jax-part", sizes_name],
                                   env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if completed.returncode != 0 or not output.exists():
        return {"error": completed.stderr[-1500:]}
    return json.loads(output.read_text())


# ----------------------------------------------------------------------------- driver


def environment(cuda):
    import torch

    info = {"python": platform.python_version(), "torch": torch.__version__, "cuda_runtime": torch.version.cuda}
    try:
        import triton

        info["triton"] = triton.__version__
    except ImportError:
        info["triton"] = None
    if cuda:
        properties = torch.cuda.get_device_properties(0)
        info.update(device=properties.name, multiprocessors=properties.multi_processor_count,
                    memory_gib=round(properties.total_memory / 2**30, 1))
        try:
            info["nvidia_smi"] = subprocess.run(
                ["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,power.limit",
                 "--format=csv,noheader"], capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError) as error:
            info["nvidia_smi"] = repr(error)
    else:
        info["device"] = f"CPU ({platform.machine()}), no CUDA: dry run at toy sizes"
    return info


def kernel_sections(report, kernels, backend, sketchtest_torch, device, cuda, sizes):
    """Sections 3 and 4: the kernels' checks and block sweep; returns the best configurations."""
    report.add("## Triton kernels against float64 on the device (relative 2-norm error)", "",
               "| shape | dtype | cos sums | sin sums | gradient | gradient vs ref rounded to dtype |",
               "|---|---|---|---|---|---|")
    checks = check_kernels(kernels, device, cuda)
    report.results["kernel_checks"] = checks
    for row in checks:
        report.add(f"| {row['shape']} | {row['dtype']} | {row['cos_sums']:.1e} | {row['sin_sums']:.1e} | "
                   f"{row['gradient']:.1e} | {row['gradient_vs_rounded_ref']:.1e} |")
    losses = check_loss(sketchtest_torch, backend, kernels, device, cuda)
    report.results["loss_checks"] = losses
    report.add("", "Whole loss against float64: " + "; ".join(
        f"{row['case']}: value {row['value_rel']:.1e}, gradient {row['grad_rel']:.1e}" for row in losses), "")
    draws = check_draws(kernels, backend, device, cuda)
    report.results["draw_check"] = draws
    report.add(f"Direction draw {draws['shape']}: Triton vs torch counter_normal max |diff| "
               f"{draws['max_abs_diff']:.1e} (mean {draws['mean']:.4f}, std {draws['std']:.4f}); "
               f"{draws['triton_ms']:.3f} ms vs {draws['torch_path_ms']:.3f} ms", "")
    report.save()
    sweep = sweep_kernels(kernels, device, cuda, (sizes["n"], sizes["k"]))
    report.results["sweep"] = sweep
    report.add("## Kernel block sweep (bf16 P of N x K; GB/s of the bytes each must move)", "",
               "| BLOCK_N, BLOCK_K, warps | forward ms | GB/s | backward ms | GB/s |", "|---|---|---|---|---|",
               *(f"| {row['config']} | {row['forward_ms']:.4f} | {row['forward_gb_s']:.0f} | "
                 f"{row['backward_ms']:.4f} | {row['backward_gb_s']:.0f} |" for row in sweep), "")
    tuned = {"forward": tuple(min(sweep, key=lambda row: row["forward_ms"])["config"]),
             "backward": tuple(min(sweep, key=lambda row: row["backward_ms"])["config"])}
    report.results["tuned"] = tuned
    report.add(f"Tuned: forward {tuned['forward']}, backward {tuned['backward']} (default {kernels.CONFIG})", "")
    report.save()
    return tuned


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="folder for report.md, results.json, jax.json")
    parser.add_argument("--budget-s", type=float, default=330.0, help="start no torch timing after this many seconds")
    parser.add_argument("--jax-s", type=float, default=100.0, help="seconds JAX may run past the torch budget")
    parser.add_argument("--dry-run", action="store_true", help="toy sizes on the CPU even if CUDA is present")
    parser.add_argument("--jax-part", choices=["full", "toy"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.jax_part:
        return jax_part(args.jax_part, pathlib.Path(args.out) / "jax.json")
    started = time.perf_counter()
    deadline = started + args.budget_s
    import torch

    cuda = torch.cuda.is_available() and not args.dry_run
    if not cuda:  # Triton's interpreter stands in for the GPU; must be set before triton is imported
        os.environ["TRITON_INTERPRET"] = "1"
    sys.path.insert(0, str(ROOT))
    import sketchtest.torch as sketchtest_torch
    import sketchtest_backends.torch as backend

    try:
        from sketchtest._losses import triton_sigreg as kernels
        kernels = kernels if kernels.available() else None
    except ImportError:
        kernels = None
    bench = load_cpu_benchmark()
    device = torch.device("cuda" if cuda else "cpu")
    sizes = FULL if cuda else TOY
    report = Report(args.out, started)
    report.results["environment"] = env = environment(cuda)
    report.add("# SIGReg on the GPU: benchmarks/gpu/sigreg_gpu.py", "",
               *(f"- {key}: {value}" for key, value in env.items()), "")
    if not cuda:
        report.add("**No CUDA device: dry run.** Toy sizes on the CPU; the Triton rows run under Triton's "
                   "interpreter (TRITON_INTERPRET=1) and torch.compile uses the aot_eager backend: the code "
                   "paths are exercised, the times and ceilings mean nothing.", "")
    if kernels is None:
        report.add("**Triton is not importable: the Triton rows are skipped.**", "")
    report.save()

    peaks = ceilings(device, cuda)
    report.results["ceilings"] = peaks
    report.add("## Ceilings (measured, random data)", "",
               f"- device copy of {peaks['copy_gib']:.2f} GiB: "
               f"{peaks['copy_bytes_per_s'] / 1e12:.3f} TB/s (read + write)",
               f"- bf16 matmul {peaks['matmul_size']}^3: "
               f"{peaks['bf16_flops'] / 1e12:.1f} TFLOP/s; fp32: {peaks['fp32_flops'] / 1e12:.1f} TFLOP/s", "")
    peaks_for_roofline = {"bf16_flops": peaks["bf16_flops"], "fp32_flops": peaks["fp32_flops"],
                          "bytes_per_s": peaks["copy_bytes_per_s"]}
    report.save()

    tuned = None if kernels is None else kernel_sections(report, kernels, backend, sketchtest_torch, device,
                                                         cuda, sizes)
    try:
        stream = stream_throughput(device, cuda, peaks)
        text = (f"{stream['rows']} x {stream['d']} float32 in batches of {stream['batch']}, K = {stream['k']}: "
                f"{stream['seconds']:.3f} s, {stream['rows_per_s']:.3g} rows/s, "
                f"{stream['input_gb_per_s']:.1f} GB/s of samples; floor {stream['floor_s']:.4f} s "
                f"({stream['x_floor']:.1f}x); p = {stream['pvalue']:.3g}")
    except Exception as error:  # report and go on
        stream, text = {"error": repr(error)[:300]}, f"failed: {error!r}"[:300]
    report.results["streaming"] = stream
    report.add("## SlicedEppsPulley streaming (update over every batch, then result)", "", text, "")
    report.save()

    clock = "CUDA events" if cuda else "host clock, dry run"
    report.add(f"## Forward+backward ({clock}, median after warm-up)", "",
               "| precision | D | variant | median ms | p10-p90 | peak MiB | roofline ms | x roofline |",
               "|---|---|---|---|---|---|---|---|")
    compile_backend = "inductor" if cuda else "aot_eager"

    def make_variants():
        return variants(bench, sketchtest_torch, backend, kernels, cuda, compile_backend, tuned)

    time_variants(report, bench, make_variants, device, cuda, sizes, peaks_for_roofline, deadline)

    remaining = deadline + args.jax_s - time.perf_counter()  # JAX may run past the torch budget
    if remaining > 20:
        jax_results = run_jax_child(args.out, "full" if cuda else "toy", timeout=remaining)
    else:
        jax_results = {"error": "skipped: time budget"}
    report.results["jax"] = jax_results
    report.add("", "## JAX (jit of value_and_grad, wall clock after block_until_ready, median)", "")
    for row in jax_results.get("rows", []):
        text = f"{row['median_ms']:.3f} ms, {row['peak_mib']:.1f} MiB" if "median_ms" in row else row.get("error")
        report.add(f"- {row['variant']} {row['precision']} D={row['D']} on {row['platform']}: {text}")
    if "error" in jax_results:
        report.add(f"- JAX: {jax_results['error']}")
    summarize(report, report.results["timings"])
    report.add("", f"Total {time.perf_counter() - started:.0f} s.")
    report.save()


def summarize(report, rows):
    """Per (precision, D): our best time against the roofline and against compiled naive."""
    report.add("", "## Summary: our best forward+backward", "",
               "| precision | D | best of ours | ms | x roofline | x naive torch.compile | x naive eager |",
               "|---|---|---|---|---|---|---|")
    keys = sorted({(row["precision"], row["D"]) for row in rows}, key=lambda key: (key[0], -key[1]))
    for precision, d in keys:
        timed_rows = {row["variant"]: row for row in rows
                      if (row["precision"], row["D"]) == (precision, d) and "median_ms" in row}
        ours = [row for name, row in timed_rows.items() if name.startswith("ours")]
        if not ours:
            continue
        best = min(ours, key=lambda row: row["median_ms"])
        ratios = [f"{best['median_ms'] / timed_rows[name]['median_ms']:.2f}" if name in timed_rows else "n/a"
                  for name in ("naive torch.compile", "naive eager")]
        report.add(f"| {precision} | {d} | {best['variant']} | {best['median_ms']:.3f} | "
                   f"{best['x_roofline']:.2f} | {ratios[0]} | {ratios[1]} |")


if __name__ == "__main__":
    main()
