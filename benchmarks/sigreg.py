"""SIGReg forward+backward: a naive reference against sketchtest's kernels.

The naive reference is LeJEPA's formula written directly (it materializes the
``(N, K, T)`` angles, their cos and sin, and autodiff keeps them). Ours keeps
only the ``(N, K)`` projections and recomputes the trigonometric terms in the
backward pass. For each (N, D, K) of the grid, T = 17, it reports the time of
one forward+backward (the better of two warm runs) and its peak memory:

* torch CPU: the rise of the resident set size during the first call, in a
  forked child (``VmHWM`` reset through ``/proc/self/clear_refs``), with
  ``MALLOC_MMAP_THRESHOLD_`` pinned so freed buffers return to the system;
* JAX CPU/GPU: XLA's own ``memory_analysis()`` of the compiled
  value-and-grad (temporaries + outputs);
* torch CUDA (float32, and bfloat16 under autocast): ``max_memory_allocated``.

GPU rows run only where an NVIDIA GPU is present; next to them (and in a
table of their own) stands the H100 roofline estimate of our kernel, with
the bytes and FLOPs written out.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/sigreg.py            # the full grid
    OMP_NUM_THREADS=1 python benchmarks/sigreg.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import time

import numpy as np

T = 17
T_MAX = 3.0

# H100 SXM5 (80 GB) datasheet peaks: dense FP32 on CUDA cores, dense BF16 tensor cores, HBM3.
H100 = {"fp32_flops": 67e12, "bf16_flops": 989e12, "tf32_flops": 494e12, "bytes_per_s": 3.35e12}


def roofline(n, d, k, t=T, element_bytes=4, peaks=H100):
    """FLOPs, bytes and the lower bound of one forward+backward of our kernel on `peaks`.

    `peaks` holds ``fp32_flops``, ``bf16_flops`` (matrix products) and
    ``bytes_per_s``: the H100 datasheet by default, or measured ceilings.

    FLOPs: the projection ``z @ A`` and the backward ``dP @ A^T`` (2 N D K each),
    plus per (n, k) one sincos pair twice (about 40 FLOPs) and per knot a complex
    multiply-add forward (6 + 2 for the sums) and backward (8).
    Bytes: read z, write P (forward matmul); read P (sums); read P, write dP
    (backward kernel); read dP, write dz (backward matmul): ``2 N D + 5 N K``
    elements; A and the (T, K) sums are negligible.
    """
    matmul_flops = 4.0 * n * d * k
    trig_flops = n * k * (40.0 + (t - 1) * 16.0)
    moved = element_bytes * (2.0 * n * d + 5.0 * n * k)
    matmul_peak = peaks["bf16_flops"] if element_bytes == 2 else peaks["fp32_flops"]
    seconds = max(matmul_flops / matmul_peak + trig_flops / H100["fp32_flops"], moved / peaks["bytes_per_s"])
    return {"gflop": (matmul_flops + trig_flops) / 1e9, "mbytes": moved / 1e6, "bound_ms": seconds * 1e3}


# ----------------------------------------------------------------------------- torch


def torch_naive(z, directions):
    import torch

    t = torch.linspace(0.0, T_MAX, T, dtype=torch.float32, device=z.device)
    step = T_MAX / (T - 1)
    weights = torch.full((T,), 2.0 * step, dtype=torch.float32, device=z.device)
    weights[[0, -1]] = step
    phi = torch.exp(-t.square() / 2.0)
    angles = (z @ directions).unsqueeze(-1) * t
    error = (angles.cos().mean(-3) - phi).square() + angles.sin().mean(-3).square()
    return ((error @ (weights * phi)) * z.shape[-2]).mean()


def torch_ours(z, directions):
    from sketchtest.torch import sigreg

    return sigreg(z, directions=directions, distributed=False)


def _torch_inputs(n, d, k, device="cpu"):
    import torch

    generator = torch.Generator(device="cpu").manual_seed(0)
    z = torch.randn(n, d, generator=generator).to(device).requires_grad_()
    directions = torch.randn(d, k, generator=generator)
    directions = (directions / directions.norm(dim=0)).to(device)
    return z, directions


def _forward_backward(function, z, directions, autocast=None):
    import torch

    z.grad = None
    if autocast is None:
        loss = function(z, directions)
    else:
        with torch.autocast(z.device.type, dtype=autocast):
            loss = function(z, directions)
    loss.backward()
    return float(loss.detach())


def _rss_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _in_forked_child(work):
    """Run `work()` in a forked child and return what it returns (JSON-able)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            payload = json.dumps(work())
        except BaseException as error:  # report, never hang the parent
            payload = json.dumps({"error": repr(error)})
        os.write(write_end, payload.encode())
        os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 1 << 16):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    return json.loads(b"".join(chunks))


def measure_torch_cpu(function, n, d, k):
    _forward_backward(function, *_torch_inputs(8, 4, 4))  # imports and lazy initialization
    z, directions = _torch_inputs(n, d, k)

    def work():
        _forward_backward(function, *_torch_inputs(8, 4, 4))  # this process's own lazy state
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # reset the peak RSS (VmHWM) of this child
        before = _rss_kib("VmRSS")
        start = time.perf_counter()
        value = _forward_backward(function, z, directions)
        first = time.perf_counter() - start
        peak_mib = (_rss_kib("VmHWM") - before) / 1024
        start = time.perf_counter()
        _forward_backward(function, z, directions)
        return {"seconds": min(first, time.perf_counter() - start), "peak_mib": peak_mib, "value": value}

    return _in_forked_child(work)


def measure_torch_cuda(function, n, d, k, autocast=None):
    import torch

    z, directions = _torch_inputs(n, d, k, device="cuda")
    _forward_backward(function, z, directions, autocast)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    baseline = torch.cuda.memory_allocated()
    times = []
    for _ in range(3):
        torch.cuda.synchronize()
        start = time.perf_counter()
        value = _forward_backward(function, z, directions, autocast)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated() - baseline) / 2**20
    return {"seconds": min(times), "peak_mib": peak, "value": value}


# ----------------------------------------------------------------------------- jax


def jax_naive(z, directions):
    import jax.numpy as jnp

    t = jnp.linspace(0.0, T_MAX, T, dtype=jnp.float32)
    step = T_MAX / (T - 1)
    weights = jnp.full((T,), 2.0 * step, dtype=jnp.float32).at[jnp.array([0, T - 1])].set(step)
    phi = jnp.exp(-(t**2) / 2.0)
    angles = (z @ directions)[..., None] * t
    error = (jnp.cos(angles).mean(-3) - phi) ** 2 + jnp.sin(angles).mean(-3) ** 2
    return ((error @ (weights * phi)) * z.shape[-2]).mean()


def jax_ours(z, directions):
    from sketchtest.jax import sigreg

    return sigreg(z, directions=directions)


def measure_jax(function, n, d, k, device):
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    z = jax.device_put(jnp.asarray(rng.standard_normal((n, d)), dtype=jnp.float32), device)
    directions = rng.standard_normal((d, k))
    directions = jax.device_put(jnp.asarray(directions / np.linalg.norm(directions, axis=0), jnp.float32), device)
    compiled = jax.jit(jax.value_and_grad(function)).lower(z, directions).compile()
    memory = compiled.memory_analysis()
    peak_mib = (memory.temp_size_in_bytes + memory.output_size_in_bytes) / 2**20
    value, grad = compiled(z, directions)
    grad.block_until_ready()
    times = []
    for _ in range(2):
        start = time.perf_counter()
        value, grad = compiled(z, directions)
        grad.block_until_ready()
        times.append(time.perf_counter() - start)
    return {"seconds": min(times), "peak_mib": peak_mib, "value": float(value)}


# ----------------------------------------------------------------------------- precision


def bfloat16_errors(n=8192, d=256, k=256, seeds=3):
    """Relative error of the loss against float64, for bfloat16 inputs and autocast.

    * ``naive bfloat16``: the naive formula with every tensor in bfloat16 (the
      angles, cos, sin and their means);
    * ``ours, bfloat16 input``: z and A rounded to bfloat16, our float32 path;
    * ``ours, autocast``: float32 z under ``torch.autocast(bfloat16)``: the
      projection ``z @ A`` runs in bfloat16, the rest in float32.
    """
    import torch

    errors = {"naive bfloat16": [], "ours, bfloat16 input": [], "ours, autocast": []}
    for seed in range(seeds):
        generator = torch.Generator().manual_seed(seed)
        z = torch.randn(n, d, generator=generator)
        directions = torch.randn(d, k, generator=generator)
        directions = directions / directions.norm(dim=0)
        exact = float(torch_ours(z.double(), directions.double()))
        with torch.no_grad():
            naive = float(_naive_in(z.bfloat16(), directions.bfloat16()))
            rounded = float(torch_ours(z.bfloat16(), directions.bfloat16()))
            with torch.autocast("cpu", dtype=torch.bfloat16):
                autocast = float(torch_ours(z, directions))
        for name, value in zip(errors, (naive, rounded, autocast)):
            errors[name].append(abs(value / exact - 1))
    return {name: max(values) for name, values in errors.items()}


def _naive_in(z, directions):
    """The naive formula with every intermediate in the dtype of `z`."""
    import torch

    dtype = z.dtype
    t = torch.linspace(0.0, T_MAX, T, dtype=dtype)
    step = T_MAX / (T - 1)
    weights = torch.full((T,), 2.0 * step, dtype=dtype)
    weights[[0, -1]] = step
    phi = torch.exp(-t.square() / 2.0)
    angles = (z @ directions).unsqueeze(-1) * t
    count = torch.tensor(float(z.shape[-2]), dtype=dtype)
    cos_sum = torch.zeros(angles.shape[1:], dtype=dtype)
    sin_sum = torch.zeros(angles.shape[1:], dtype=dtype)
    for row in range(angles.shape[0]):  # a running sum in the low precision
        cos_sum += angles[row].cos()
        sin_sum += angles[row].sin()
    error = (cos_sum / count - phi).square() + (sin_sum / count).square()
    return ((error @ (weights * phi)) * count).mean()


# ----------------------------------------------------------------------------- module vs function


def module_ratios(n, d, k, repeats=5):
    """Forward+backward times on torch CPU, measured round-robin in one process.

    ``naive`` (eager), ``naive compiled`` (``torch.compile``, Inductor),
    ``ours`` (:func:`sketchtest.torch.sigreg` with given directions) and
    ``ours module`` (:class:`sketchtest.torch.SIGReg`, which also draws its
    (D, K) directions on the device every step). Each time is the best of
    `repeats` warm runs, taken in turns so that the shared machine's load
    drifts over all four alike.
    """
    import torch

    from sketchtest.torch import SIGReg

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    z, directions = _torch_inputs(n, d, k)
    module = SIGReg(num_slices=k, distributed=False)
    compiled = torch.compile(torch_naive)
    functions = {
        "naive": lambda: torch_naive(z, directions),
        "naive compiled": lambda: compiled(z, directions),
        "ours": lambda: torch_ours(z, directions),
        "ours module": lambda: module(z),
    }
    best = {name: float("inf") for name in functions}
    for round_ in range(repeats + 1):
        for name, function in functions.items():
            z.grad = None
            start = time.perf_counter()
            function().backward()
            if round_:  # the first round warms up (and compiles)
                best[name] = min(best[name], time.perf_counter() - start)
    return best


def print_module_ratios(grid):
    print("# torch CPU forward+backward (s), best of 5 round-robin runs; ratios to the naive eager time")
    for n, d, k in grid:
        best = module_ratios(n, d, k)
        text = "  ".join(f"{name} {seconds:.3f} s ({seconds / best['naive']:.2f}x)" for name, seconds in best.items())
        print(f"N={n:5d} D={d:5d} K={k:5d}  {text}  module/function {best['ours module'] / best['ours']:.2f}",
              flush=True)


# ----------------------------------------------------------------------------- driver


def _grid(quick):
    if quick:
        return [(512, 128, 256), (2048, 128, 256)]
    return list(itertools.product((512, 2048, 8192), (128, 512, 2048), (256, 1024)))


def _targets(frameworks):
    """Yield (label, measure(function, n, d, k), naive, ours) for every runnable target.

    A generator: JAX (multithreaded) is imported only after the torch CPU rows,
    which fork a child per measurement.
    """
    if "torch" in frameworks:
        import torch

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        yield "torch CPU float32", measure_torch_cpu, torch_naive, torch_ours
        if torch.cuda.is_available():
            yield "torch CUDA float32", measure_torch_cuda, torch_naive, torch_ours
            bf16 = lambda f, n, d, k: measure_torch_cuda(f, n, d, k, autocast=torch.bfloat16)  # noqa: E731
            yield "torch CUDA bfloat16 (autocast)", bf16, torch_naive, torch_ours
    if "jax" in frameworks:
        import jax

        cpu = jax.devices("cpu")[0]
        yield "JAX CPU float32", lambda f, n, d, k: measure_jax(f, n, d, k, cpu), jax_naive, jax_ours
        try:
            gpu = jax.devices("gpu")[0]
        except RuntimeError:
            return
        yield "JAX GPU float32", lambda f, n, d, k: measure_jax(f, n, d, k, gpu), jax_naive, jax_ours


def run(grid, frameworks, naive_limit_mib):
    rows = []
    for label, measure, naive, ours in _targets(frameworks):
        for n, d, k in grid:
            row = {"target": label, "N": n, "D": d, "K": k, **roofline(n, d, k, element_bytes=2 if "bfloat16" in label else 4)}
            naive_mib = 4 * n * k * T * 5 / 2**20  # angles, cos, sin and their gradients
            row["naive"] = measure(naive, n, d, k) if naive_mib < naive_limit_mib else {"skipped": "memory"}
            row["ours"] = measure(ours, n, d, k)
            rows.append(row)
            print(_format_row(row), flush=True)
    return rows


def _format_row(row):
    naive, ours = row["naive"], row["ours"]
    text = f"{row['target']:32s} N={row['N']:5d} D={row['D']:5d} K={row['K']:5d}"
    if "seconds" in naive and "seconds" in ours:
        text += (f"  naive {naive['seconds']:8.3f} s {naive['peak_mib']:8.1f} MiB"
                 f"  ours {ours['seconds']:8.3f} s {ours['peak_mib']:7.1f} MiB"
                 f"  time x{ours['seconds'] / naive['seconds']:.3f}  memory 1/{naive['peak_mib'] / max(ours['peak_mib'], 1e-3):.1f}"
                 f"  |rel diff| {abs(ours['value'] / naive['value'] - 1):.1e}")
    else:
        text += f"  naive {naive}  ours {ours}"
    if "GPU" in row["target"] or "CUDA" in row["target"]:
        text += f"  H100 roofline {row['bound_ms']:.3f} ms ({row['gflop']:.1f} GFLOP, {row['mbytes']:.0f} MB)"
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a two-point smoke grid")
    parser.add_argument("--frameworks", nargs="+", default=["torch", "jax"], choices=["torch", "jax"])
    parser.add_argument("--naive-limit-mib", type=float, default=6000, help="skip naive runs above this")
    parser.add_argument("--output", help="write the rows as JSON here")
    parser.add_argument("--precision-only", action="store_true", help="only the bfloat16 error table")
    parser.add_argument("--module-ratios", nargs="*", type=int, metavar="N D K",
                        help="only the module-vs-function table, at these N D K triples (default: the issue's)")
    args = parser.parse_args(argv)
    if args.module_ratios is not None:
        triples = args.module_ratios or [8192, 256, 1024, 8192, 2048, 1024]
        print_module_ratios([tuple(triples[i:i + 3]) for i in range(0, len(triples) - 2, 3)])
        return
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") is None:  # make freed buffers leave the RSS
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, python {platform.python_version()}")
    if "torch" in args.frameworks:
        print("# bfloat16: max relative error of the loss against float64 over 3 seeds (N=8192, D=256, K=256)")
        for name, error in bfloat16_errors().items():
            print(f"{name:24s} {error:.1e}")
    if args.precision_only:
        return
    rows = run(_grid(args.quick), args.frameworks, args.naive_limit_mib)
    print("# H100 roofline of our kernel (no GPU here: estimates only)")
    for n, d, k in _grid(args.quick):
        for label, element_bytes in (("float32", 4), ("bfloat16", 2)):
            r = roofline(n, d, k, element_bytes=element_bytes)
            print(f"H100 {label:8s} N={n:5d} D={d:5d} K={k:5d}  {r['gflop']:7.2f} GFLOP  "
                  f"{r['mbytes']:8.1f} MB  >= {r['bound_ms']:.3f} ms")
    if args.output:
        with open(args.output, "w") as handle:
            json.dump(rows, handle, indent=1)


if __name__ == "__main__":
    main()
