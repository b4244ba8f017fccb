"""The joint-feature (L2,1) problem written in cvxpy: reference solver.

Minimises (docs/user_guide/regularization.rst)::

    sum_t (1 / n_t) sum_{i in t} s_i loss(y_i, x_i . w_t + b_t)
    + alpha * l1_ratio * sum_j ||W[..., j]||_2 + (alpha / 2) (1 - l1_ratio) ||W||_F^2
    + (intercept_alpha / 2) sum_t ||b_t - mean_s b_s||^2

The squared and logistic data terms come from
:func:`skmtl.solvers.cvxpy.cvxpy_data_term`; the multinomial one is written
here with ``log_sum_exp``. Slow, but independent of the BCD and FISTA code.
"""

import numpy as np

from .._tasks import TaskData
from ..losses import observation_scale
from ..penalties import L21
from ._result import SolverResult
from .cvxpy import cvxpy_data_term, solve_problem


def _with_targets(data, targets):
    return TaskData(
        X=data.X,
        y=targets,
        task_index=data.task_index,
        sample_weight=data.sample_weight,
        tasks=data.tasks,
        layout=data.layout,
        input_position=data.input_position,
        n_samples_in=data.n_samples_in,
        row_index=data.row_index,
    )


def _multinomial_data_term(data, coef_rows, intercept, targets, n_classes):
    """``sum_i c_i (logsumexp(z_i) - z_i[y_i])`` with ``W_t`` = rows of a block."""
    import cvxpy as cp

    scale = observation_scale(data)
    terms = []
    for t in range(data.n_tasks):
        rows = data.task_slice(t)
        X_t = data.task_rows(t)
        X_t = X_t.toarray() if hasattr(X_t, "toarray") else X_t
        block = coef_rows[t * n_classes : (t + 1) * n_classes, :]
        z = X_t @ block.T
        if intercept is not None:
            z = z + np.ones((X_t.shape[0], 1)) @ cp.reshape(
                intercept[t, :], (1, n_classes), order="C"
            )
        onehot = np.eye(n_classes)[targets[rows]]
        picked = cp.sum(cp.multiply(onehot, z), axis=1)
        terms.append(scale[rows] @ (cp.log_sum_exp(z, axis=1) - picked))
    return cp.sum(cp.hstack(terms))


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
    import cvxpy as cp

    targets = data.y if targets is None else np.asarray(targets)
    penalty = L21(alpha, l1_ratio)
    multinomial = loss_name == "multinomial"
    n_rows = data.n_tasks * (n_classes if multinomial else 1)
    coef = cp.Variable((n_rows, data.n_features))
    intercept_shape = (data.n_tasks, n_classes) if multinomial else (data.n_tasks,)
    intercept = cp.Variable(intercept_shape) if fit_intercept else None
    if multinomial:
        data_term = _multinomial_data_term(data, coef, intercept, targets, n_classes)
    else:
        data_term = cvxpy_data_term(
            _with_targets(data, targets.astype(float)), coef, intercept, loss_name
        )
    objective = data_term + penalty.to_cvxpy(coef)
    if fit_intercept and intercept_alpha:
        centred = intercept - np.ones((data.n_tasks, data.n_tasks)) @ intercept / (
            data.n_tasks
        )
        objective = objective + 0.5 * intercept_alpha * cp.sum_squares(centred)
    problem = cp.Problem(cp.Minimize(objective))
    solver = solve_problem(problem, tol=tol)
    coef_value = np.asarray(coef.value, dtype=float)
    if multinomial:
        coef_value = coef_value.reshape(data.n_tasks, n_classes, data.n_features)
    intercept_value = (
        np.asarray(intercept.value, dtype=float)
        if fit_intercept
        else np.zeros(intercept_shape)
    )
    return SolverResult(
        coef=coef_value,
        intercept=intercept_value,
        n_iter=int(problem.solver_stats.num_iters or 0),
        objective=float(problem.value),
        gap=0.0,
        converged=problem.status == "optimal",
        extra={"cvxpy_solver": solver},
    )
