"""The joint-feature (L2,1) problem shared by the BCD and FISTA solvers.

The problem (docs/user_guide/regularization.rst; Argyriou et al. 2008,
Obozinski et al. 2010)::

    minimise  sum_i c_i loss(y_i, x_i . w_{t_i} + b_{t_i})
              + a1 sum_j ||W[..., j]||_2 + (a2 / 2) ||W||_F^2
              + (intercept_alpha / 2) sum_t ||b_t - mean_s b_s||^2

with ``c_i = s_i / n_t`` (:func:`skmtl.losses.observation_scale`),
``a1 = alpha * l1_ratio`` and ``a2 = alpha * (1 - l1_ratio)``. The group of
feature ``j`` is the whole slice ``W[..., j]``: every task (and, for the
multinomial loss, every class). The last term is zero unless the intercepts
are tied (``intercept_alpha > 0``, used by the classifiers so that a task that
misses a class keeps a finite intercept); it equals the ridge
``(intercept_alpha / 2) sum_t ||c_t||^2`` on task offsets ``b_t = b_0 + c_t``
around an unpenalised shared intercept ``b_0``.

This module holds the L2,1 maths both solvers need (the data layouts and the
intercept step live in :mod:`skmtl.solvers._design`, shared by every solver):

- the penalty pieces: :func:`group_norms`, :func:`group_soft_threshold`;
- :func:`duality_gap`: a feasible dual point by rescaling the generalised
  residuals, and the gap between the primal and dual values;
- :func:`alpha_max`: the smallest ``alpha`` whose solution is ``W = 0``.

References
----------
A. Argyriou, T. Evgeniou and M. Pontil. Convex multi-task feature learning.
Machine Learning, 73(3):243-272, 2008.

G. Obozinski, B. Taskar and M. I. Jordan. Joint covariate selection and joint
subspace selection for multiple classification problems. Statistics and
Computing, 20(2):231-252, 2010.

E. Ndiaye, O. Fercoq, A. Gramfort and J. Salmon. Gap safe screening rules for
sparse multi-task and multi-class models. NeurIPS, 2015.
"""

from typing import NamedTuple

import numpy as np

from ._design import (  # noqa: F401 (the layouts, re-exported for the solvers)
    GRAM_BUDGET,
    LongRowsDesign,
    SharedRowsDesign,
    bregman_term,
    conjugate_term,
    data_term,
    fit_intercepts,
    generalized_residual,
    intercept_penalty,
    intercept_penalty_gradient,
    make_design,
    scaled_gradient,
    zero_coef,
)


def penalty_strengths(alpha, l1_ratio):
    """Split ``alpha`` into the group-norm and ridge strengths ``(a1, a2)``.

    Examples
    --------
    >>> penalty_strengths(2.0, 0.75)
    (1.5, 0.5)
    """
    return float(alpha) * float(l1_ratio), float(alpha) * (1.0 - float(l1_ratio))


def group_norms(W):
    """Euclidean norm of every feature group ``W[..., j]``, shape (n_features,).

    Examples
    --------
    >>> group_norms(np.array([[3.0, 0.0], [4.0, 1.0]]))
    array([5., 1.])
    """
    flat = np.reshape(W, (-1, np.shape(W)[-1]))
    return np.sqrt(np.einsum("ij,ij->j", flat, flat))


def penalty_value(W, a1, a2):
    """``a1 sum_j ||W[..., j]|| + (a2 / 2) ||W||_F^2``."""
    value = a1 * float(np.sum(group_norms(W))) if a1 else 0.0
    if a2:
        value += 0.5 * a2 * float(np.vdot(W, W))
    return value


def group_soft_threshold(W, threshold, shrink=1.0):
    """Proximal operator of ``step (a1 ||.||_{2,1} + (a2 / 2) ||.||_F^2)``.

    Parameters
    ----------
    W : ndarray of shape (..., n_features)
        Point to project; not modified.
    threshold : float or ndarray of shape (n_features,)
        ``step * a1``.
    shrink : float or ndarray of shape (n_features,), default=1.0
        ``1 / (1 + step * a2)``.

    Returns
    -------
    prox : ndarray of the shape of ``W``

    Examples
    --------
    >>> group_soft_threshold(np.array([[3.0, 0.1], [4.0, 0.0]]), 1.0)
    array([[2.4, 0. ],
           [3.2, 0. ]])
    """
    norms = group_norms(W)
    factor = np.zeros_like(norms)
    positive = norms > threshold
    factor[positive] = (
        1.0 - np.broadcast_to(threshold, norms.shape)[positive] / (norms[positive])
    )
    return W * (factor * shrink)


# --------------------------------------------------------------------------
# duality gap and alpha_max
# --------------------------------------------------------------------------


class DualityGap(NamedTuple):
    """Duality gap at an iterate and the dual point behind it.

    Attributes
    ----------
    gap : float
        ``primal - dual`` with the best of the dual points tried.
    primal : float
    dual : float
    constraint_norms : ndarray of shape (n_features,)
        ``||A_j||``, with ``A_j = sum_i c_i nu_i x_ij - a2 W[..., j]``.
    kappa : float
        Rescaling of the residuals that makes the dual point feasible.
    screening_gap : float
        Gap of the rescaled point alone (the centre of the safe sphere).
    """

    gap: float
    primal: float
    dual: float
    constraint_norms: np.ndarray
    kappa: float
    screening_gap: float


def dual_value(
    conjugate, correlation, W, a1, a2, primal, intercept_sums=None, intercept_alpha=0
):
    """Dual value at the rescaled generalised residuals.

    The dual point is the generalised residual ``nu = -loss'(y, z)`` rescaled
    to feasibility (Ndiaye et al. 2015; scikit-learn's "formulation A" for
    the elastic net): with ``A_j = sum_i c_i nu_i x_ij - a2 W[..., j]`` and
    ``kappa = min(1, a1 / max_j ||A_j||)``::

        D = - sum_i c_i loss*(y_i, -kappa nu_i) - kappa^2 (a2 / 2) ||W||^2
            - kappa^2 / (2 intercept_alpha) sum_t ||s_t||^2,

    ``s_t = sum_{i in t} c_i nu_i``. With ``a2 > 0`` the unscaled point with
    the exact conjugate of the penalty,
    ``sum_j (||A_j + a2 W_j|| - a1)_+^2 / (2 a2)``, is tried too and the larger
    dual value kept. Without any penalty (``a1 = a2 = 0``) there is no
    bounded dual and the gap is replaced by the squared gradient norm
    ``||A||_F^2``. Feasibility with respect to unpenalised intercepts needs
    ``s_t = 0`` (free intercepts) or ``sum_t s_t = 0`` (tied intercepts):
    callers pass intercepts optimal for ``W`` (centring or
    :func:`fit_intercepts`), which meets it up to rounding.

    Parameters
    ----------
    conjugate : callable
        ``conjugate(kappa) = sum_i c_i loss*(y_i, -kappa nu_i)``.
    correlation : ndarray of the shape of ``W``
        ``sum_{i in t} c_i nu_i x_i`` for every task.
    W : ndarray of shape (n_tasks, [n_classes,] n_features)
    a1, a2 : float
        Group-norm and ridge strengths.
    primal : float
        Primal value at the iterate.
    intercept_sums : ndarray or None, default=None
        ``s_t`` when the intercepts are tied (``intercept_alpha > 0``).
    intercept_alpha : float, default=0

    Returns
    -------
    result : DualityGap
    """
    constraint_norms = group_norms(correlation - a2 * W if a2 else correlation)
    tied = 0.0
    if intercept_sums is not None and intercept_alpha:
        tied = float(np.vdot(intercept_sums, intercept_sums)) / (2 * intercept_alpha)
    largest = float(np.max(constraint_norms, initial=0.0))
    dual = -np.inf
    kappa = 1.0
    if a1 > 0:
        kappa = 1.0 if largest <= a1 else a1 / largest
        dual = -conjugate(kappa) - kappa**2 * (0.5 * a2 * float(np.vdot(W, W)) + tied)
    screening_gap = primal - dual
    if a2 > 0:
        excess = np.maximum(group_norms(correlation) - a1, 0.0)
        ridge_dual = -conjugate(1.0) - float(excess @ excess) / (2 * a2) - tied
        dual = max(dual, ridge_dual)
    if not np.isfinite(dual):
        gradient_norm2 = float(np.vdot(correlation, correlation))
        return DualityGap(gradient_norm2, primal, dual, constraint_norms, kappa, np.inf)
    return DualityGap(
        primal - dual, primal, dual, constraint_norms, kappa, screening_gap
    )


def tied_dual_value(conjugate, correlation, W, a1, a2, intercept_term=0.0):
    """The dual value of :func:`dual_value`, with the tie term given.

    ``intercept_term`` is ``||s||^2 / (2 intercept_alpha)`` (0 for free
    intercepts). Returns ``-inf`` when no penalty is positive.
    """
    dual = -np.inf
    if a1 > 0:
        largest = float(
            np.max(
                group_norms(correlation - a2 * W if a2 else correlation), initial=0.0
            )
        )
        kappa = 1.0 if largest <= a1 else a1 / largest
        dual = -conjugate(kappa) - kappa**2 * (
            0.5 * a2 * float(np.vdot(W, W)) + intercept_term
        )
    if a2 > 0:
        excess = np.maximum(group_norms(correlation) - a1, 0.0)
        dual = max(
            dual, -conjugate(1.0) - float(excess @ excess) / (2 * a2) - intercept_term
        )
    return dual


def duality_gap(
    design,
    loss,
    z,
    W,
    intercept,
    correlation,
    a1,
    a2,
    *,
    fit_intercept=True,
    intercept_alpha=0.0,
):
    """Duality gap at ``(W, b)`` for any loss (see :func:`dual_value`).

    Parameters
    ----------
    design : SharedRowsDesign or LongRowsDesign
    loss : SquaredLoss, LogisticLoss or MultinomialLoss
    z : ndarray
        Linear predictions including the intercept.
    W : ndarray of shape (n_tasks, [n_classes,] n_features)
    intercept : ndarray of shape (n_tasks, [n_classes])
    correlation : ndarray of the shape of ``W``
        ``sum_{i in t} c_i nu_i x_i`` with ``nu = -loss'(y, z)``.
    a1, a2 : float
        Group-norm and ridge strengths.
    fit_intercept : bool, default=True
    intercept_alpha : float, default=0.0

    Returns
    -------
    result : DualityGap
    """
    nu = generalized_residual(design, loss, z)
    tied = fit_intercept and intercept_alpha > 0
    primal = (
        data_term(design, loss, z)
        + penalty_value(W, a1, a2)
        + (intercept_penalty(intercept, intercept_alpha) if tied else 0.0)
    )
    return dual_value(
        lambda kappa: conjugate_term(design, loss, kappa * nu),
        correlation,
        W,
        a1,
        a2,
        primal,
        design.task_sums(design.scale_like(nu) * nu) if tied else None,
        intercept_alpha if tied else 0.0,
    )


def alpha_max(
    design,
    loss,
    *,
    l1_ratio=1.0,
    fit_intercept=True,
    intercept_alpha=0.0,
    n_classes=None,
):
    """Smallest ``alpha`` for which ``W = 0`` solves the problem.

    With ``W = 0`` and the intercepts at their optimum, ``W = 0`` is optimal
    iff ``max_j ||sum_i c_i nu_i x_ij|| <= alpha * l1_ratio``.

    Parameters
    ----------
    design : SharedRowsDesign or LongRowsDesign
    loss : SquaredLoss, LogisticLoss or MultinomialLoss
    l1_ratio : float, default=1.0
        Must be positive.
    fit_intercept : bool, default=True
    intercept_alpha : float, default=0.0
    n_classes : int or None
        Number of classes of the multinomial loss.

    Returns
    -------
    alpha_max : float
        In the units of the original data, also for a rescaled design
        (``design.scaling``).
    intercept : ndarray
        The optimal intercepts at ``W = 0``, in the same units.
    """
    W = zero_coef(design, n_classes)
    z = np.zeros(design.y.shape + ((n_classes,) if n_classes else ()))
    intercept = np.zeros(W.shape[:-1])
    if fit_intercept:
        intercept = fit_intercepts(design, loss, z, intercept, intercept_alpha)
        z = z + design.expand_intercept(intercept)
    nu = generalized_residual(design, loss, z)
    correlation = design.correlate(design.scale_like(nu) * nu)
    largest = float(np.max(group_norms(correlation), initial=0.0))
    scaling = design.scaling
    return (
        scaling.strength_out(largest, degree=1) / float(l1_ratio),
        scaling.intercept_out(intercept),
    )
