"""Test support: the backends present on this machine, tolerances, rounding.

``backend`` is parametrized over every array library (and device) that can
run here; those that cannot are skipped with the reason. Test data is drawn
with a seeded NumPy Generator and moved with :meth:`Backend.asarray`, so
backends never differ through their random streams.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")


def _configure_jax():
    if importlib.util.find_spec("jax") is None:
        return
    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_default_matmul_precision", "highest")


_configure_jax()


@dataclass(frozen=True)
class Backend:
    """One array library on one device, as the tests see it."""

    name: str
    module: object  # the library users import (numpy, torch, jax.numpy, ...)
    device: object = None
    float64: bool = True
    bfloat16: bool = False
    lazy: bool = False

    def __repr__(self) -> str:
        return self.name

    @property
    def xp(self):
        """The array API namespace of this backend's arrays."""
        import array_api_compat

        return array_api_compat.array_namespace(self.asarray(np.zeros(1)))

    def dtype(self, name: str):
        """The library's dtype called `name` ("float64", "float32", "bfloat16", "int64")."""
        if name == "bfloat16" and self.name.startswith("jax"):
            import jax.numpy as jnp

            return jnp.bfloat16
        return getattr(self.module, name)

    def asarray(self, values, dtype: str | None = None):
        """`values` (NumPy) as an array of this backend, on its device."""
        values = np.asarray(values)
        if dtype is None:
            dtype = "float64" if values.dtype.kind == "f" and self.float64 else (
                "float32" if values.dtype.kind == "f" else str(values.dtype))
        if self.name.startswith("torch"):
            import torch

            return torch.asarray(values.astype(np.float64) if dtype == "bfloat16" else values,
                                 device=self.device).to(self.dtype(dtype))
        if self.name.startswith("jax"):
            import jax

            return jax.device_put(self.module.asarray(values, dtype=self.dtype(dtype)), self.device)
        if self.name.startswith("cupy"):
            return self.module.asarray(values, dtype=self.dtype(dtype))
        if self.name.startswith("array_api_strict"):
            return self.module.asarray(values.astype(dtype), device=self.device)
        return values.astype(dtype)

    def to_numpy(self, array) -> np.ndarray:
        """`array` as a float64 (or its own integer/bool) NumPy array on the host."""
        name = self.name
        if name.startswith("torch"):
            import torch

            array = array.detach().cpu()
            if array.dtype in (torch.bfloat16, torch.float16):
                array = array.float()
            host = array.numpy()
        elif name.startswith("jax"):
            import jax

            host = np.asarray(jax.device_get(array))
        elif name.startswith("cupy"):
            host = array.get()
        elif name.startswith("array_api_strict"):
            cpu = self.module.Device("CPU_DEVICE")
            host = np.from_dlpack(self.module.asarray(array, device=cpu, copy=True))
        else:
            host = np.asarray(array)
        return host.astype(np.float64) if host.dtype.kind == "f" or host.dtype.name == "bfloat16" else host


def _torch_backends():
    if importlib.util.find_spec("torch") is None:
        return [pytest.param(None, id="torch", marks=pytest.mark.skip(reason="torch is not installed"))]
    import torch

    cpu = Backend("torch", torch, torch.device("cpu"), bfloat16=True)
    if torch.cuda.is_available():
        cuda = pytest.param(Backend("torch:cuda", torch, torch.device("cuda"), bfloat16=True), id="torch:cuda")
    else:
        cuda = pytest.param(None, id="torch:cuda", marks=pytest.mark.skip(reason="no CUDA device for torch"))
    return [pytest.param(cpu, id="torch"), cuda]


def _jax_backends():
    if importlib.util.find_spec("jax") is None:
        return [pytest.param(None, id="jax", marks=pytest.mark.skip(reason="jax is not installed"))]
    import jax
    import jax.numpy as jnp

    cpu = Backend("jax", jnp, jax.devices("cpu")[0], bfloat16=True, lazy=True)
    try:
        gpu = pytest.param(Backend("jax:gpu", jnp, jax.devices("gpu")[0], bfloat16=True, lazy=True), id="jax:gpu")
    except RuntimeError:
        gpu = pytest.param(None, id="jax:gpu", marks=pytest.mark.skip(reason="no GPU device for jax"))
    return [pytest.param(cpu, id="jax"), gpu]


def _cupy_backends():
    reason = None
    if importlib.util.find_spec("cupy") is None:
        reason = "cupy is not installed"
    else:
        try:
            import cupy

            if not cupy.cuda.is_available():
                reason = "cupy is installed but no CUDA device is available"
        except Exception as error:  # a broken CUDA install is a reason to skip, not to fail
            reason = f"cupy cannot use CUDA: {error}"
    if reason:
        return [pytest.param(None, id="cupy", marks=pytest.mark.skip(reason=reason))]
    import cupy

    return [pytest.param(Backend("cupy", cupy, cupy.cuda.Device(0)), id="cupy")]


def _strict_backends():
    if importlib.util.find_spec("array_api_strict") is None:
        reason = "array-api-strict is not installed"
        return [pytest.param(None, id="array_api_strict", marks=pytest.mark.skip(reason=reason))]
    import array_api_strict as xs

    return [
        pytest.param(Backend("array_api_strict", xs, xs.Device("CPU_DEVICE")), id="array_api_strict"),
        pytest.param(Backend("array_api_strict:device1", xs, xs.Device("device1")), id="array_api_strict:device1"),
        pytest.param(
            Backend("array_api_strict:no_float64", xs, xs.Device("no_float64"), float64=False),
            id="array_api_strict:no_float64",
        ),
    ]


def _selected(params):
    """The backends named in ``SKETCHTEST_BACKENDS`` (ids, comma-separated), or all of them.

    ``SKETCHTEST_BACKENDS=cupy,torch:cuda,jax:gpu`` runs the GPU backends
    alone (``benchmarks/gpu/device_check.sh``); tests that take no backend
    are then deselected (``conftest.py``).
    """
    wanted = {name.strip() for name in os.environ.get("SKETCHTEST_BACKENDS", "").split(",") if name.strip()}
    unknown = wanted - {param.id for param in params}
    if unknown:
        known = ", ".join(param.id for param in params)
        raise ValueError(f"SKETCHTEST_BACKENDS names unknown backends {sorted(unknown)}; known: {known}")
    return [param for param in params if param.id in wanted] if wanted else params


ALL_BACKENDS = _selected([
    pytest.param(Backend("numpy", np), id="numpy"),
    *_strict_backends(),
    *_torch_backends(),
    *_jax_backends(),
    *_cupy_backends(),
])


def rtol_for(dtype_name: str) -> float:
    """Relative tolerance for results computed in `dtype_name`: 4 sqrt(eps).

    bfloat16 inputs are computed in float32, so their results are compared
    (against the float64 NumPy result on the same bfloat16-rounded data) with
    float32's tolerance.
    """
    eps = {"float64": 2.0**-52, "float32": 2.0**-23, "bfloat16": 2.0**-23}[dtype_name]
    return 4 * eps**0.5


def round_like(values: np.ndarray, dtype_name: str) -> np.ndarray:
    """`values` rounded to `dtype_name` and back to float64 (the data a backend sees)."""
    if dtype_name == "bfloat16":
        import ml_dtypes

        return values.astype(ml_dtypes.bfloat16).astype(np.float64)
    return values.astype(dtype_name).astype(np.float64)


@dataclass(frozen=True)
class UnivariateCase:
    """One public univariate test under one null, as the cross-backend suites call it.

    `null` is the value passed as ``null=`` (``None``: the test has no such
    option); `min_samples` is the smallest sample size it accepts; `options`
    are keyword arguments that make its p-value deterministic and jit-safe
    (an analytic method rather than a Monte Carlo one); `affine_invariant`
    says whether the statistic is unchanged by ``x -> a x + b`` with ``a > 0``.
    """

    name: str
    null: str | None
    min_samples: int
    options: tuple = ()
    affine_invariant: bool = False

    def __repr__(self) -> str:
        return self.name if self.null is None else f"{self.name}-{self.null}"

    @property
    def function(self):
        import sketchtest

        return getattr(sketchtest, self.name)

    def keywords(self, **overrides) -> dict:
        """The keyword arguments of a call: null, options, then `overrides`."""
        keywords = {} if self.null is None else {"null": self.null}
        return {**keywords, **dict(self.options), **overrides}

    def __call__(self, x, **overrides):
        return self.function(x, **self.keywords(**overrides))


def _univariate_cases():
    cases = []
    for name in ("cramer_von_mises", "anderson_darling", "watson", "kolmogorov_smirnov", "epps_pulley"):
        cases.append(UnivariateCase(name, "standard", 2))
        if name == "epps_pulley":  # its "auto" is Monte Carlo (backend-specific draws) below n=50
            cases.append(UnivariateCase(name, "normal", 3, (("method", "asymptotic"),), affine_invariant=True))
        else:
            cases.append(UnivariateCase(name, "normal", 2, affine_invariant=True))
    asymptotic = (("method", "asymptotic"),)  # "auto" simulates the null below n=1000
    cases.append(UnivariateCase("jarque_bera", "standard", 2, asymptotic))
    cases.append(UnivariateCase("jarque_bera", "normal", 2, asymptotic, affine_invariant=True))
    cases.append(UnivariateCase("dagostino_pearson", "normal", 8, asymptotic, affine_invariant=True))
    cases.append(UnivariateCase("shapiro_wilk", "normal", 3, affine_invariant=True))
    cases.append(UnivariateCase("shapiro_francia", "normal", 5, affine_invariant=True))
    cases.append(UnivariateCase("skewness_test", "normal", 8, affine_invariant=True))
    cases.append(UnivariateCase("kurtosis_test", "normal", 5, affine_invariant=True))
    cases.append(UnivariateCase("vasicek", "standard", 3))
    cases.append(UnivariateCase("vasicek", "normal", 3, affine_invariant=True))
    return cases


#: Every public univariate test x null, with its sample-size minimum.
UNIVARIATE_CASES = _univariate_cases()


def loss_of_statistic(test: str, statistic):
    """The sliced-loss value of a univariate test's statistic (NumPy): what decreases towards normality.

    ``1 - W`` for the Shapiro tests, :math:`Z^2` for the skewness and kurtosis
    tests, :math:`\\log(\\sqrt{2\\pi e}/K)` for Vasicek's, the statistic itself otherwise.
    """
    statistic = np.asarray(statistic)
    if test.startswith("shapiro"):
        return 1.0 - statistic
    if test in ("skewness_test", "kurtosis_test"):
        return statistic**2
    if test == "vasicek":
        return 0.5 * np.log(2.0 * np.pi * np.e) - np.log(statistic)
    return statistic


def save_torch_formats(x, folder, key: str = "x") -> list:
    """`x` saved as ``folder/x.pt`` and ``folder/x.safetensors`` under `key`: their paths
    (none where torch or safetensors is not installed)."""
    try:
        import torch
        from safetensors.numpy import save_file
    except ImportError:
        return []
    torch.save({key: torch.as_tensor(x)}, folder / "x.pt")
    save_file({key: x}, str(folder / "x.safetensors"))
    return [folder / "x.pt", folder / "x.safetensors"]
