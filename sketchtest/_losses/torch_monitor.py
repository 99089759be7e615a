"""The embedding monitor for PyTorch: sums on the device, one all-reduce and one host copy per read."""

from __future__ import annotations

import array_api_compat.torch as _xp
import torch

from sketchtest._losses import monitor as _core
from sketchtest._typing import Seed
from sketchtest_backends import torch as _backend


class EmbeddingMonitor:
    r"""Health of embeddings during training: mean, covariance spectrum, effective rank, SIGReg p-value.

    :meth:`update` adds a batch of embeddings to running sums kept on their
    device (detached, in float64 where the device has it) and returns None:
    no host synchronization, so it can be called every step. :meth:`read`
    all-reduces the sums over the ``torch.distributed`` group (when one is
    initialized and `distributed` is true), so every rank reads the statistics
    of all ranks' embeddings; it then copies them to the host once and, by
    default, starts a new window. :meth:`compute` does the same and returns
    the statistics as a tensor on the device (for a trainer that stacks
    per-step metrics and copies them once per epoch).

    The statistics (see :func:`monitor_fields` for their order):

    - ``mean_norm``: :math:`\lVert \bar z \rVert`, 0 for a centred embedding;
    - ``eig_max``, ``eig_min``, ``spread``: extremes of the eigenvalues of the
      sample covariance and their ratio;
    - ``mp_low``, ``mp_high``: the Marchenko-Pastur range
      :math:`(1 \pm \sqrt{D/n})^2` of those eigenvalues for N(0, I) rows at
      this sample count n (the window's rows; one step's global batch when
      read every step);
    - ``effective_rank``: :math:`\exp` of the entropy of the normalized
      eigenvalues, D when isotropic, near 1 when collapsed to a line;
    - ``sigreg``, ``sigreg_pvalue``: SIGReg of the window's rows on
      `num_slices` fixed directions, and its p-value under N(0, I)
      (:func:`sketchtest.sigreg_pvalue`).

    Parameters
    ----------
    dim : int
        Embedding dimension D.
    num_slices : int, default 64
        Number K of fixed SIGReg directions, drawn once from `seed`.
    seed : int, default 0
        Seed of the directions.
    t_max, n_points : float, int
        SIGReg's knots, ``linspace(0, t_max, n_points)``.
    distributed : bool, default True
        All-reduce the sums over the default process group at read time.
    device : torch.device or str, optional
        Where the sums live; the first batch's device when None.

    Examples
    --------
    >>> import torch
    >>> from sketchtest.torch import EmbeddingMonitor
    >>> monitor = EmbeddingMonitor(dim=8)
    >>> generator = torch.Generator().manual_seed(0)
    >>> for step in range(4):
    ...     monitor.update(torch.randn(256, 8, generator=generator))
    >>> stats = monitor.read()
    >>> stats["count"], round(stats["effective_rank"], 1)
    (1024, 8.0)
    >>> collapsed = torch.randn(1024, 1, generator=generator) * torch.ones(8)
    >>> monitor.update(collapsed + 1e-3 * torch.randn(1024, 8, generator=generator))
    >>> round(monitor.read()["effective_rank"], 2)
    1.0
    """

    def __init__(
        self, dim: int, *, num_slices: int = 64, seed: Seed = 0, t_max: float = 3.0, n_points: int = 17,
        distributed: bool = True, device: torch.device | str | None = None,
    ) -> None:
        self.dim = _core.check_int(dim, name="dim", minimum=1)
        self.num_slices = _core.check_int(num_slices, name="num_slices", minimum=1)
        self.t_max, self.n_points = _core.check_knots(t_max, n_points)
        if not isinstance(distributed, bool):
            raise TypeError(f"`distributed` must be a bool; got {type(distributed).__name__}")
        self.distributed = distributed
        self.directions_host = _core.monitor_directions(self.dim, self.num_slices, seed)
        self.device = None if device is None else torch.device(device)
        self._directions = self._knots = self._sums = None

    def _constants(self, z):
        if self._directions is None:
            device = self.device or z.device
            dtype = _core.accumulation_dtype(torch.empty(0, device=device), xp=_xp)
            self._directions = torch.as_tensor(self.directions_host, dtype=dtype, device=device)
            self._knots = torch.linspace(0.0, self.t_max, self.n_points, dtype=dtype, device=device)
        return self._directions, self._knots

    @torch.no_grad()
    def update(self, z: torch.Tensor) -> None:
        """Add the rows of `z` (shape ``(..., N, D)``, detached) to the sums; no host synchronization.

        Integer and bool tensors are taken as their float values; complex ones are refused.
        """
        if not isinstance(z, torch.Tensor) or z.is_complex():
            kind = f"complex {z.dtype}" if isinstance(z, torch.Tensor) else type(z).__name__
            raise TypeError(f"`z` must be a real torch.Tensor; got {kind}")
        _core.check_embeddings(z, dim=self.dim)
        directions, knots = self._constants(z)
        rows = z.detach().reshape(-1, self.dim).to(directions.device)
        sums = _core.batch_sums(rows, directions, knots, xp=_xp)
        self._sums = sums if self._sums is None else self._sums + sums

    @torch.no_grad()
    def compute(self, reset: bool = True) -> torch.Tensor:
        """The statistics of the window as a float tensor on the device, in :func:`monitor_fields` order.

        ``sigreg_pvalue`` is NaN in this tensor (its table lives on the host):
        :meth:`read` fills it in, or call :func:`sketchtest.sigreg_pvalue` on
        the ``sigreg`` entry with ``directions=monitor.directions_host``.
        """
        if self._sums is None:
            raise ValueError("the monitor has seen no embeddings since it was last read: call update(z) first")
        sums = self._sums
        if self.distributed and _backend.is_distributed():
            sums = sums.clone()
            torch.distributed.all_reduce(sums)
        if reset:
            self._sums = None
        return _core.monitor_statistics(sums, self._knots, dim=self.dim, num_slices=self.num_slices, xp=_xp)

    def read(self, reset: bool = True) -> dict:
        """The statistics of the window (all ranks' rows) as a dict of floats; one host copy."""
        values = self.compute(reset=reset)
        return _core.read_statistics(values.cpu(), self.directions_host, t_max=self.t_max, n_points=self.n_points)

    def reset(self) -> None:
        """Forget the rows seen so far."""
        self._sums = None

    def __repr__(self) -> str:
        return f"EmbeddingMonitor(dim={self.dim}, num_slices={self.num_slices}, distributed={self.distributed})"


def monitor_fields() -> tuple[str, ...]:
    """Names of the monitor's statistics, in the order of :meth:`EmbeddingMonitor.compute`'s tensor.

    Examples
    --------
    >>> from sketchtest.torch import monitor_fields
    >>> monitor_fields()[:3]
    ('count', 'mean_norm', 'eig_max')
    """
    return _core.FIELDS
