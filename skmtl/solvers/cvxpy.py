"""Reference solver: the objectives written in cvxpy.

Slow but independent of skmtl's own numerical code, this is the oracle the
tests compare every other solver with, and a fallback for any convex
combination of a loss and a penalty. Every formulation uses the data term of
docs/user_guide/regularization.rst,

    L(W, b) = sum_t (1 / n_t) sum_{i in t} s_i * loss(y_i, x_i . w_t + b_t),

built by :func:`cvxpy_data_term` for any coefficient expression ``W`` (so the
joint-feature and other models reuse it), plus the model's penalty.
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ..losses import observation_scale
from ..penalties import MeanRegularization
from ._result import SolverResult

#: Solvers tried in this order; the first installed one is used.
PREFERRED_SOLVERS = ("CLARABEL", "ECOS", "SCS")

_LOSS_NAMES = ("squared", "logistic")


def _cvxpy():
    import cvxpy

    return cvxpy


def cvxpy_data_term(data, coef, intercept, loss_name):
    """The data term ``L(W, b)`` as a cvxpy expression.

    Parameters
    ----------
    data : TaskData
        Observations grouped by task.
    coef : cvxpy.Expression of shape (n_tasks, n_features)
        Task coefficients ``W`` (row ``t`` is ``w_t``); any affine expression,
        for example ``w_0 + V``.
    intercept : cvxpy.Expression of shape (n_tasks,) or None
        Task intercepts ``b``; ``None`` for no intercept.
    loss_name : {"squared", "logistic"}
        ``0.5 (y - z)^2``, or ``log(1 + exp(z)) - y z`` for ``y`` in {0, 1}.

    Returns
    -------
    expression : cvxpy.Expression
        Convex scalar expression.
    """
    if loss_name not in _LOSS_NAMES:
        raise ValueError(
            f"loss_name={loss_name!r} is not supported by the cvxpy reference "
            f"solver; expected one of {list(_LOSS_NAMES)}."
        )
    cp = _cvxpy()
    scale = observation_scale(data)
    terms = []
    for t in range(data.n_tasks):
        rows = data.task_slice(t)
        z = data.task_rows(t) @ coef[t]
        if intercept is not None:
            z = z + intercept[t]
        y = data.y[rows]
        if loss_name == "squared":
            terms.append(0.5 * cp.sum_squares(cp.multiply(np.sqrt(scale[rows]), y - z)))
        else:
            terms.append(
                cp.sum(cp.multiply(scale[rows], cp.logistic(z) - cp.multiply(y, z)))
            )
    return cp.sum(cp.hstack(terms)) if len(terms) > 1 else terms[0]


def solve_problem(problem, *, tol=1e-9, solver=None):
    """Solve a cvxpy problem with the first installed preferred solver.

    Parameters
    ----------
    problem : cvxpy.Problem
    tol : float, default=1e-9
        Absolute and relative feasibility and gap tolerance of the solver.
    solver : str or None, default=None
        A cvxpy solver name; ``None`` picks from :data:`PREFERRED_SOLVERS`.

    Returns
    -------
    solver : str
        The solver used.
    """
    cp = _cvxpy()
    if solver is None:
        installed = set(cp.installed_solvers())
        solver = next((s for s in PREFERRED_SOLVERS if s in installed), None)
    options = _tolerance_options(solver, tol)
    problem.solve(solver=solver, **options)
    if problem.status not in ("optimal", "optimal_inaccurate"):
        raise RuntimeError(
            f"cvxpy solver {solver} ended with status {problem.status!r}; the "
            "reference solution is unavailable. Check the data for NaN or "
            "extreme values, or try another solver."
        )
    if problem.status == "optimal_inaccurate":
        warnings.warn(
            f"cvxpy solver {solver} reports an inaccurate solution.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return solver


def _tolerance_options(solver, tol):
    if solver == "CLARABEL":
        return {"tol_gap_abs": tol, "tol_gap_rel": tol, "tol_feas": tol}
    if solver == "ECOS":
        return {"abstol": tol, "reltol": tol, "feastol": tol}
    if solver == "SCS":
        return {"eps_abs": tol, "eps_rel": tol, "max_iters": 100_000}
    return {}


def solve_mean_regularized_cvxpy(
    data,
    loss_name="squared",
    *,
    alpha,
    alpha_mean,
    fit_intercept,
    intercept_alpha=0.0,
    tol=1e-9,
):
    """Mean-regularised multi-task model solved by cvxpy.

    Minimises ``L(w_0 + V, b) + (alpha / 2) sum_t ||v_t||^2
    + (alpha_mean / 2) ||w_0||^2 + (intercept_alpha / 2) sum_t (b_t - b_0)^2``
    over ``w_0``, ``V``, ``b`` and the shared intercept ``b_0``.

    Parameters
    ----------
    data : TaskData
        Observations grouped by task.
    loss_name : {"squared", "logistic"}, default="squared"
    alpha : float
        Strength on the deviations ``v_t``.
    alpha_mean : float
        Strength on the shared coefficients ``w_0``.
    fit_intercept : bool
        Fit per-task intercepts ``b_t``.
    intercept_alpha : float, default=0.0
        Strength of the tie of the task intercepts to ``b_0`` (0: free).
    tol : float, default=1e-9
        Tolerance handed to the conic solver.

    Returns
    -------
    result : SolverResult
        ``objective`` is the optimal value reported by cvxpy;
        ``extra["shared_coef"]``, ``extra["shared_intercept"]`` (unweighted mean
        of the intercepts, ``b_0`` at the optimum) and ``extra["cvxpy_solver"]``.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl._tasks import check_task_data
    >>> from skmtl.linear_model import MeanRegularizedRegressor
    >>> X = np.array([[0, 1.0], [0, 2.0], [0, 3.0], [1, 1.0], [1, 2.0], [1, 4.0]])
    >>> y = np.array([1.0, 2.0, 3.0, 2.0, 4.0, 8.0])
    >>> data = check_task_data(MeanRegularizedRegressor(), X, y, task_column=0)
    >>> result = solve_mean_regularized_cvxpy(
    ...     data, alpha=0.0, alpha_mean=1.0, fit_intercept=True)
    >>> result.coef.round(5).tolist()
    [[1.0], [2.0]]
    """
    cp = _cvxpy()
    shared_coef = cp.Variable(data.n_features)
    deviations = cp.Variable((data.n_tasks, data.n_features))
    intercept = cp.Variable(data.n_tasks) if fit_intercept else None
    coef = deviations + np.ones((data.n_tasks, 1)) @ cp.reshape(
        shared_coef, (1, data.n_features), order="C"
    )
    penalty = MeanRegularization(alpha, alpha_mean)
    objective = cvxpy_data_term(data, coef, intercept, loss_name) + penalty.to_cvxpy(
        shared_coef, deviations
    )
    if fit_intercept and intercept_alpha:
        # b_0 minimises the tie at the mean of the b_t: centre instead of a variable.
        objective = objective + 0.5 * intercept_alpha * cp.sum_squares(
            intercept - cp.sum(intercept) / data.n_tasks
        )
    problem = cp.Problem(cp.Minimize(objective))
    solver = solve_problem(problem, tol=tol)
    intercept_value = (
        np.asarray(intercept.value, dtype=np.float64)
        if fit_intercept
        else np.zeros(data.n_tasks)
    )
    return SolverResult(
        coef=np.asarray(coef.value, dtype=np.float64),
        intercept=intercept_value,
        n_iter=int(problem.solver_stats.num_iters or 0),
        objective=float(problem.value),
        gap=0.0,
        converged=problem.status == "optimal",
        extra={
            "shared_coef": np.asarray(shared_coef.value, dtype=np.float64),
            "shared_intercept": float(np.mean(intercept_value)),
            "cvxpy_solver": solver,
        },
    )


def _task_predictions(data, coef_rows, intercept, t, n_classes):
    """``X_t W_t^T + b_t`` of task ``t`` as a cvxpy expression."""
    cp = _cvxpy()
    X_t = data.task_rows(t)
    X_t = X_t.toarray() if hasattr(X_t, "toarray") else X_t
    if not n_classes:
        z = X_t @ coef_rows[t]
        return z if intercept is None else z + intercept[t]
    block = coef_rows[t * n_classes : (t + 1) * n_classes, :]
    z = X_t @ block.T
    if intercept is not None:
        z = z + np.ones((X_t.shape[0], 1)) @ cp.reshape(
            intercept[t, :], (1, n_classes), order="C"
        )
    return z


def solve_cvxpy(
    data,
    loss,
    penalty,
    *,
    fit_intercept=True,
    intercept_alpha=0.0,
    targets=None,
    n_classes=None,
    tol=1e-9,
):
    """Any loss with any penalty on ``W``, written in cvxpy: the reference solver.

    Minimises (docs/architecture.rst)::

        sum_t (1 / n_t) sum_{i in t} s_i loss(y_i, x_i . w_t + b_t) + penalty(W)
        + (intercept_alpha / 2) sum_t ||b_t - mean_s b_s||^2

    with the loss's ``to_cvxpy`` and the penalty's ``to_cvxpy``. A multiclass
    ``W`` is the ``(n_tasks * n_classes, n_features)`` matrix of its rows; a
    :class:`~skmtl.penalties.Decomposition` gets one variable per block.

    Parameters
    ----------
    data : TaskData
        Observations grouped by task.
    loss : SquaredLoss, LogisticLoss or MultinomialLoss
    penalty : penalty of :mod:`skmtl.penalties`
    fit_intercept : bool, default=True
    intercept_alpha : float, default=0.0
        Strength of the tie between task intercepts.
    targets : ndarray of shape (n_observations,), default=None
        Targets as the loss expects them (0/1, class indices); ``data.y`` if
        None.
    n_classes : int or None
        Number of classes of the multinomial loss.
    tol : float, default=1e-9
        Tolerance handed to the conic solver.

    Returns
    -------
    result : SolverResult
        ``objective`` is the optimal value reported by cvxpy, ``gap`` 0;
        ``extra["blocks"]`` holds the blocks of a decomposition.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Lasso
    >>> from skmtl._tasks import check_task_data
    >>> from skmtl.losses import SquaredLoss
    >>> from skmtl.penalties import L1
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(20, 3))
    >>> y = X @ np.array([1.0, 0.0, -2.0])
    >>> data = check_task_data(Lasso(), X, y)
    >>> result = solve_cvxpy(data, SquaredLoss(), L1(0.1))
    >>> reference = Lasso(alpha=0.1, tol=1e-12).fit(X, y)
    >>> bool(np.allclose(result.coef[0], reference.coef_, atol=1e-6))
    True
    """
    cp = _cvxpy()
    targets = data.y if targets is None else np.asarray(targets)
    multiclass = bool(loss.multiclass)
    n_classes = n_classes if multiclass else None
    n_rows = data.n_tasks * (n_classes or 1)
    blocks = [cp.Variable((n_rows, data.n_features)) for _ in range(penalty.n_blocks)]
    coef = blocks[0] if len(blocks) == 1 else blocks[0] + blocks[1]
    intercept_shape = (data.n_tasks, n_classes) if multiclass else (data.n_tasks,)
    intercept = cp.Variable(intercept_shape) if fit_intercept else None
    scale = observation_scale(data)
    terms = []
    for t in range(data.n_tasks):
        rows = data.task_slice(t)
        z = _task_predictions(data, coef, intercept, t, n_classes)
        y = targets[rows] if multiclass else targets[rows].astype(float)
        terms.append(scale[rows] @ loss.to_cvxpy(y, z))
    penalty_term = penalty.to_cvxpy(*blocks, n_tasks=data.n_tasks)
    # A penalty defined by a minimum over auxiliary variables (the task
    # relations) gives its expression with their constraints.
    penalty_term, constraints = (
        penalty_term if isinstance(penalty_term, tuple) else (penalty_term, [])
    )
    objective = cp.sum(cp.hstack(terms)) + penalty_term
    if fit_intercept and intercept_alpha:
        centring = np.eye(data.n_tasks) - 1.0 / data.n_tasks
        objective = objective + 0.5 * intercept_alpha * cp.sum_squares(
            centring @ intercept
        )
    problem = cp.Problem(cp.Minimize(objective), constraints)
    solver = solve_problem(problem, tol=tol)
    shape = (data.n_tasks, n_classes, data.n_features) if multiclass else None
    values = [np.asarray(block.value, dtype=float) for block in blocks]
    if shape:
        values = [value.reshape(shape) for value in values]
    extra = {"cvxpy_solver": solver}
    if len(values) > 1:
        extra["blocks"] = np.stack(values)
    return SolverResult(
        coef=values[0] if len(values) == 1 else values[0] + values[1],
        intercept=(
            np.asarray(intercept.value, dtype=float)
            if fit_intercept
            else np.zeros(intercept_shape)
        ),
        n_iter=int(problem.solver_stats.num_iters or 0),
        objective=float(problem.value),
        gap=0.0,
        converged=problem.status == "optimal",
        extra=extra,
    )
