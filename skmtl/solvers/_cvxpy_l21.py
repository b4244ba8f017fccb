"""The joint-feature (L2,1) problem written in cvxpy: reference solver.

Minimises (docs/user_guide/regularization.rst)::

    sum_t (1 / n_t) sum_{i in t} s_i loss(y_i, x_i . w_t + b_t)
    + alpha * l1_ratio * sum_j ||W[..., j]||_2 + (alpha / 2) (1 - l1_ratio) ||W||_F^2
    + (intercept_alpha / 2) sum_t ||b_t - mean_s b_s||^2

A thin wrapper of :func:`skmtl.solvers.cvxpy.solve_cvxpy` with the
:class:`~skmtl.penalties.L21` penalty. Slow, but independent of the BCD and
FISTA code.
"""

from ..penalties import L21
from .cvxpy import solve_cvxpy


def solve_l21_cvxpy(
    data,
    loss_name="squared",
    *,
    alpha,
    l1_ratio=1.0,
    fit_intercept=True,
    intercept_alpha=0.0,
    targets=None,
    n_classes=None,
    tol=1e-9,
):
    """Solve the L2,1 problem with cvxpy.

    Parameters
    ----------
    data : TaskData
        Observations grouped by task.
    loss_name : {"squared", "logistic", "multinomial"}, default="squared"
    alpha : float
    l1_ratio : float, default=1.0
    fit_intercept : bool, default=True
    intercept_alpha : float, default=0.0
        Strength of the tie between task intercepts.
    targets : ndarray of shape (n_observations,), default=None
        Targets as the loss expects them; ``data.y`` if None.
    n_classes : int or None
        Number of classes (multinomial only).
    tol : float, default=1e-9
        Tolerance handed to the conic solver.

    Returns
    -------
    result : SolverResult
        ``objective`` is the optimal value reported by cvxpy, ``gap`` 0.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import MultiTaskLasso
    >>> from skmtl._tasks import check_task_data
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(20, 3))
    >>> Y = X @ rng.normal(size=(3, 2))
    >>> data = check_task_data(MultiTaskLasso(), X, Y)
    >>> result = solve_l21_cvxpy(data, alpha=0.1)
    >>> reference = MultiTaskLasso(alpha=0.1, tol=1e-12).fit(X, Y)
    >>> bool(np.allclose(result.coef, reference.coef_, atol=1e-5))
    True
    """
    from .. import losses

    loss = {
        "squared": losses.SquaredLoss,
        "logistic": losses.LogisticLoss,
        "multinomial": losses.MultinomialLoss,
    }[loss_name]()
    return solve_cvxpy(
        data,
        loss,
        L21(alpha, l1_ratio),
        fit_intercept=fit_intercept,
        intercept_alpha=intercept_alpha,
        targets=targets,
        n_classes=n_classes,
        tol=tol,
    )
