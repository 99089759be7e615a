"""The trainer's objective: LeJEPA's loss with SIGReg (default) or another sliced test (``--loss``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from sketchtest.jax import LeJEPAOutput, lejepa_loss, sliced_loss

LOSS_HELP = (
    "regularizer: 'sigreg' (LeJEPA's SIGReg) or the name of a univariate test of "
    "sketchtest.jax.sliced_loss (epps_pulley, cramer_von_mises, anderson_darling, watson, ...), "
    "averaged over --num-slices fresh directions and weighted by --lamb (the metrics' sigreg column holds it)"
)


def sliced_lejepa_loss(projections, *, key, test, num_slices, lamb, num_global_views, null="standard"):
    r"""LeJEPA's loss with a sliced univariate test in place of SIGReg.

    .. math::

        \mathcal L = \lambda\,\frac1V \sum_v T(z_v)
            + (1 - \lambda)\,\frac{1}{V N K}\sum_{v,n,k} \big(\bar z^{g}_{nk} - z_{v,nk}\big)^2,

    with :math:`T` the mean over the directions drawn from `key` of the test's
    statistic (:func:`sketchtest.jax.sliced_loss`, every view on the same
    directions) and :math:`\bar z^{g}` the mean of the global views (eq. 9 of
    the LeJEPA paper, the invariance term of :func:`sketchtest.jax.lejepa_loss`).

    Returns
    -------
    LeJEPAOutput
        ``(loss, sigreg, invariance)``; `sigreg` holds the test's mean value.
    """
    regularizer = jnp.mean(sliced_loss(projections, key=key, test=test, num_slices=num_slices, null=null))
    projections = projections.astype(regularizer.dtype)
    centers = jnp.mean(projections[:num_global_views], axis=0)
    invariance = jnp.mean(jnp.square(projections - centers))
    return LeJEPAOutput(lamb * regularizer + (1.0 - lamb) * invariance, regularizer, invariance)


def build_loss(config, num_global_views: int):
    """The objective ``(projections, key) -> LeJEPAOutput`` that ``--loss`` names.

    A test other than ``"sigreg"`` is checked at once, on the shapes of a step
    (``jax.eval_shape``: nothing is computed); ``ValueError`` naming ``--loss``
    for an unknown test, a ``--loss-null`` it does not support or too small a batch.
    """
    if config.loss == "sigreg":

        def sigreg_objective(projections, key):
            return lejepa_loss(
                projections, key=key, num_global_views=num_global_views, lamb=config.lamb,
                num_slices=config.num_slices,
            )

        return sigreg_objective

    def sliced_objective(projections, key):
        return sliced_lejepa_loss(
            projections, key=key, test=config.loss, num_slices=config.num_slices, lamb=config.lamb,
            num_global_views=num_global_views, null=config.loss_null,
        )

    step_shape = (num_global_views + config.num_local_views, config.batch_size, config.proj_dim)
    try:
        jax.eval_shape(lambda p: sliced_objective(p, jax.random.key(0)), jax.ShapeDtypeStruct(step_shape, jnp.float32))
    except (ValueError, TypeError) as error:
        raise ValueError(f"--loss {config.loss}: {error}") from None
    return sliced_objective
