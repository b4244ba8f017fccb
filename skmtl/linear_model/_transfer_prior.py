"""The empirical-Bayes strengthening of a new task's prior (``prior="empirical"``).

A linear model's own prior for a new task (``fit_new_tasks(prior="model")``)
has the strength its penalty had in ``fit``. That strength was chosen (often by
cross-validation) for tasks of the size of the source tasks, where it matters
little; a task with one or two rows then moves its coefficients further than
the source tasks' own spread justifies. On School, with the mean-regularised
model, a new school given one labelled row was predicted worse than with
none (explained variance 0.331 against 0.333).

Read as a Gaussian prior, the fitted source tasks are draws from it: in the
coordinates ``theta`` of the prior (``w = center + basis theta``), source task
``s`` sits at ``theta_s``, and ``spread_j = mean_s theta_sj^2`` estimates the
prior variance of coordinate ``j``. With rows weighted ``1 / n_bar`` and a
per-row noise ``sigma^2`` (``record_source_noise``), the Gaussian posterior
mode penalises coordinate ``j`` by ``(lambda_j / 2) theta_j^2`` with
``lambda_j = sigma^2 / (n_bar spread_j)``: the same empirical-Bayes rule as the
intercept tie of new tasks. The empirical prior is the model's prior plus
``(e_j / 2)(theta_j - theta*_j)^2`` with ``e_j = max(lambda_j - c_j, 0)``
(``c_j`` the model prior's curvature) centred at the model prior's minimiser
``theta*``: every coordinate is at least as strong as either rule says, and a
task with no rows is predicted exactly as under the model's prior. A
coordinate in which no source task moves is pinned. The spread of fitted
(shrunk) source parameters underestimates the prior variance, so the rule
errs on the side of the prior.

The decompositions ``w = p + q`` get the same rule block by block, from the
source tasks' rows of each block: a block without a penalty of its own (a
trace-norm or joint-feature block) coordinate by coordinate; a block with an
exact non-smooth penalty (L1, a task's group norm, the L1/Linf increment) with
one strength from its mean spread, so that the proximal operator of the
penalty plus the quadratic stays exact (a scaled step of the penalty's own).
"""

import numpy as np

#: Strength of a coordinate in which no source task moves: it keeps its
#: centre up to rounding (as ``INTERCEPT_ALPHA_CAP`` for intercepts).
STRENGTH_CAP = 1e12

PRIORS = ("empirical", "model")


def check_prior(prior):
    """Validate the ``prior`` argument of ``fit_new_tasks``."""
    if not isinstance(prior, str) or prior not in PRIORS:
        raise ValueError(
            f"prior must be 'empirical' or 'model'; got {prior!r}. 'empirical' "
            "(the default) strengthens the model's prior of a new task to the "
            "spread of the source tasks; 'model' uses the model's own prior, "
            "as a refit with the source tasks held fixed would."
        )
    return prior


def source_coordinates(prior, source_coef):
    """``theta`` of every source task in the coordinates of ``prior``.

    Parameters
    ----------
    prior : QuadraticPrior
    source_coef : ndarray of shape (n_tasks, ...) shaped as ``prior.center``

    Returns
    -------
    thetas : ndarray of shape (n_tasks, prior.n_params)
    """
    offsets = np.asarray(source_coef, dtype=float) - prior.center
    flat = offsets.reshape(offsets.shape[0], -1)
    if prior.basis is None:
        return flat
    if np.ndim(prior.basis) == 1:
        return flat[:, prior.basis]
    # Orthonormal columns: coordinates of the projection on their span.
    return flat @ prior.basis


def empirical_bayes_prior(prior, source_coef, noise, row_weight):
    """The prior strengthened coordinate by coordinate to the source spread.

    Parameters
    ----------
    prior : QuadraticPrior or a prior with a non-smooth part
        The model's prior (returned unchanged when not smooth).
    source_coef : ndarray of shape (n_tasks, ...)
        Coefficients of the source tasks the prior describes (for clustered
        models, the members of its cluster).
    noise : float or None
        Per-row noise of ``fit``; ``None`` (not recorded) leaves the prior.
    row_weight : float
        ``1 / n_bar``.

    Returns
    -------
    prior : QuadraticPrior
    """
    if not prior.smooth or noise is None or len(source_coef) == 0:
        return prior
    thetas = source_coordinates(prior, source_coef)
    spread = np.mean(thetas**2, axis=0)
    with np.errstate(divide="ignore", over="ignore"):
        strength = np.where(
            spread > 0, float(noise) * row_weight / spread, STRENGTH_CAP
        )
    strength = np.minimum(strength, STRENGTH_CAP)
    curvature = prior.curvature
    extra = np.maximum(strength - curvature, 0.0)
    if not np.any(extra > 0):
        return prior
    positive = curvature > 0
    minimiser = np.where(
        positive, -prior.linear / np.where(positive, curvature, 1.0), 0.0
    )
    return type(prior)(
        prior.center,
        curvature + extra,
        linear=prior.linear - extra * minimiser,
        constant=prior.constant + 0.5 * float(np.sum(extra * minimiser**2)),
        basis=prior.basis,
    )


def strengthen(priors, source_coef, noise, row_weight, members=None):
    """:func:`empirical_bayes_prior` of every prior of a family.

    Parameters
    ----------
    priors : list of QuadraticPrior
    source_coef : ndarray of shape (n_tasks, ...)
    noise : float or None
    row_weight : float
    members : list of ndarray of int, default=None
        The source tasks each prior describes (clustered models: the
        members of its cluster); ``None``: all of them for every prior.

    Returns
    -------
    priors : list of QuadraticPrior
    """
    if members is None:
        members = [np.arange(len(source_coef))] * len(priors)
    return [
        empirical_bayes_prior(prior, source_coef[rows], noise, row_weight)
        for prior, rows in zip(priors, members)
    ]


def strengthen_blocks(prior, source_blocks, noise, row_weight):
    """:func:`empirical_bayes_prior` for the blocks of a decomposition.

    Parameters
    ----------
    prior : DecompositionPrior
        Its ``blocks`` are ``(QuadraticPrior, penalty or None)`` pairs.
    source_blocks : list of ndarray of shape (n_tasks, ...)
        The source tasks' rows of each block, in the same order.
    noise : float or None
    row_weight : float

    Returns
    -------
    prior : DecompositionPrior
    """
    if noise is None:
        return prior
    blocks = []
    for (block, penalty), rows in zip(prior.blocks, source_blocks):
        if penalty is None:
            blocks.append((empirical_bayes_prior(block, rows, noise, row_weight), None))
            continue
        # A free block (no curvature, no linear term): one strength, so the
        # proximal operator of penalty plus quadratic is the penalty's own.
        spread = float(np.mean(source_coordinates(block, rows) ** 2))
        strength = (
            min(float(noise) * row_weight / spread, STRENGTH_CAP)
            if spread > 0
            else STRENGTH_CAP
        )
        curvature = np.full(block.n_params, max(strength, 0.0))
        blocks.append(
            (type(block)(block.center, curvature, basis=block.basis), penalty)
        )
    return type(prior)(blocks)
