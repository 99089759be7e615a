"""The trainer's objective: LeJEPA's loss with SIGReg (default) or another sliced test (``--loss``)."""

from __future__ import annotations

import torch

from sketchtest.torch import LeJEPALoss, LeJEPAOutput

LOSS_HELP = (
    "regularizer: 'sigreg' (LeJEPA's SIGReg) or the name of a univariate test of "
    "sketchtest.torch.sliced_loss (epps_pulley, cramer_von_mises, anderson_darling, watson, ...), "
    "averaged over --num-slices fresh directions and weighted by --lamb (the metrics' sigreg column holds it)"
)


class SlicedLeJEPALoss(torch.nn.Module):
    r"""LeJEPA's loss with a sliced univariate test in place of SIGReg.

    .. math::

        \mathcal L = \lambda\,\frac1V \sum_v T(z_v)
            + (1 - \lambda)\,\frac{1}{V N K}\sum_{v,n,k} \big(\bar z^{g}_{nk} - z_{v,nk}\big)^2,

    with :math:`T` the mean over fresh directions of the test's statistic
    (:class:`sketchtest.torch.SlicedLoss`) and :math:`\bar z^{g}` the mean of
    the global views (eq. 9 of the LeJEPA paper, as :class:`sketchtest.torch.LeJEPALoss`).
    """

    def __init__(self, test: str, num_slices: int, lamb: float, num_global_views: int, null: str = "standard"):
        super().__init__()
        from sketchtest.torch import SlicedLoss

        self.regularizer = SlicedLoss(test=test, num_slices=num_slices, null=null)
        self.lamb = lamb
        self.num_global_views = num_global_views

    def forward(self, projections: torch.Tensor) -> LeJEPAOutput:
        regularizer = self.regularizer(projections).mean()  # the mean over the views
        centers = projections[: self.num_global_views].mean(dim=0)
        invariance = (projections - centers).square().mean()
        return LeJEPAOutput(self.lamb * regularizer + (1.0 - self.lamb) * invariance, regularizer, invariance)


def build_loss(config, num_global_views: int) -> torch.nn.Module:
    """The objective that ``--loss`` names; ``ValueError`` naming ``--loss`` for an unknown test."""
    if config.loss == "sigreg":
        return LeJEPALoss(
            num_slices=config.num_slices, lamb=config.lamb, num_global_views=num_global_views, distributed=True
        )
    try:
        return SlicedLeJEPALoss(config.loss, config.num_slices, config.lamb, num_global_views, config.loss_null)
    except ImportError as error:
        raise ValueError(f"--loss {config.loss}: this sketchtest has no sliced_loss ({error})") from None
    except (ValueError, TypeError) as error:
        raise ValueError(f"--loss {config.loss}: {error}") from None
