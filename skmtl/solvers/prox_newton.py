"""Proximal Newton for the logistic loss with any penalty; ADMM solves each step.

The problem is that of :mod:`skmtl.solvers.fista` with an elementwise loss
(logistic for binary and multi-label tasks)::

    minimise  sum_i c_i loss(y_i, x_i . w_t + b_t) + penalty(W)
              + (intercept_alpha / 2) sum_t ||b_t - mean_s b_s||^2

Every outer step replaces the smooth part by its second-order model at the
iterate, a weighted least-squares problem with per-observation weights
``h_i = c_i loss''(z_i)`` and working responses, in which the task offsets
``delta_t`` are free (the gradient of the intercept tie enters as a shift of
each task's responses). That model plus the penalty is solved by ADMM in
Gram form (:mod:`skmtl.solvers.admm`), exact in the data term and therefore
insensitive to the poorly conditioned features that make first-order
methods crawl; a backtracking line search on the true objective (Armijo
rule of Lee, Sun & Saunders 2014) gives the step, and the intercepts are
then set to their optimum by Newton's method
(:func:`~skmtl.solvers._design.fit_intercepts`).

The solver stops on the duality gap of :mod:`skmtl.solvers.fista`
(``gap <= tol * P(0)``), and warns with ``ConvergenceWarning`` when
``max_iter`` outer steps do not reach it.

References
----------
J. D. Lee, Y. Sun and M. A. Saunders. Proximal Newton-type methods for
minimizing composite functions. SIAM Journal on Optimization,
24(3):1420-1443, 2014.
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .._config import blas_threads_for
from ._design import (
    LongRowsDesign,
    SharedRowsDesign,
    data_term,
    intercept_penalty,
    make_design,
    zero_coef,
)
from ._result import SolverResult
from ._scaling import unscale_result
from .admm import GramProblem
from .admm import _solve as admm_solve
from .fista import _GapCheck, _null_objective, _SmoothPart

#: Sufficient-decrease factor of the line search.
_ARMIJO = 1e-4

#: Most ADMM iterations for one Newton step.
_INNER_MAX_ITER = 2000

#: Most halvings of the step in one line search.
_MAX_HALVINGS = 30


def solve(
    data,
    loss,
    penalty,
    *,
    fit_intercept=True,
    intercept_alpha=0.0,
    targets=None,
    n_classes=None,
    tol=1e-4,
    max_iter=100,
    coef_init=None,
    intercept_init=None,
    warn=True,
):
    """Solve the problem of a :class:`~skmtl._tasks.TaskData` by proximal Newton.

    Parameters
    ----------
    data : TaskData
    loss : LogisticLoss
        An elementwise loss (not multiclass).
    penalty : penalty of :mod:`skmtl.penalties`
    fit_intercept : bool, default=True
    intercept_alpha : float, default=0.0
    targets : ndarray of shape (n_observations,), default=None
        0/1 targets; ``data.y`` if None.
    n_classes : None
        Accepted for a common signature with :func:`skmtl.solvers.fista.solve`;
        must be None or 2 (elementwise losses only).
    tol : float, default=1e-4
        Stop when the duality gap is at most ``tol`` times the objective of
        the intercept-only model.
    max_iter : int, default=100
        Most outer (Newton) steps.
    coef_init, intercept_init : ndarray, default=None
        Warm start (the stacked blocks for a decomposition).
    warn : bool, default=True

    Returns
    -------
    result : SolverResult
        ``n_iter`` counts outer steps; ``extra["inner_iterations"]`` the ADMM
        iterations in all.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skmtl._tasks import check_task_data
    >>> from skmtl.losses import LogisticLoss
    >>> from skmtl.penalties import L1
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4))
    >>> y = (X @ np.array([1.0, -2.0, 0.0, 0.5]) + rng.normal(size=200) > 0)
    >>> data = check_task_data(LogisticRegression(), X, y.astype(float))
    >>> result = solve(data, LogisticLoss(), L1(0.01), tol=1e-10)
    >>> reference = LogisticRegression(l1_ratio=1, C=1 / (0.01 * 200),
    ...     solver="saga", tol=1e-12, max_iter=100_000, random_state=0).fit(X, y)
    >>> bool(np.allclose(result.coef[0], reference.coef_[0], atol=1e-4))
    True
    """
    if loss.multiclass:
        raise ValueError(
            "The proximal Newton solver handles elementwise losses (logistic); "
            "use FISTA for the multinomial loss."
        )
    design = make_design(data, targets)
    scaling = design.scaling
    with (
        np.errstate(over="ignore", invalid="ignore"),
        blas_threads_for(design.product_size()),
    ):
        result = _solve(
            design,
            loss,
            penalty.rescaled(scaling),
            fit_intercept=fit_intercept,
            intercept_alpha=intercept_alpha,
            tol=tol,
            max_iter=max_iter,
            coef_init=scaling.coef_in(coef_init),
            intercept_init=scaling.intercept_in(intercept_init),
            warn=warn,
        )
    if "blocks" in result.extra:
        result.extra["blocks"] = scaling.coef_out(result.extra["blocks"])
    return unscale_result(result, scaling)


def _weighted_design(design, values, weights):
    """The design of the working least-squares problem: same X, new y and scale."""
    if design.layout == "long":
        return LongRowsDesign(
            design.X, values, weights, design.task_index, design.n_tasks
        )
    return SharedRowsDesign(design.X, values, weights)


def _solve(
    design,
    loss,
    penalty,
    *,
    fit_intercept,
    intercept_alpha,
    tol,
    max_iter,
    coef_init,
    intercept_init,
    warn,
):
    smooth = _SmoothPart(design, loss, fit_intercept, intercept_alpha)
    W_shape = zero_coef(design).shape
    C = np.zeros(penalty.blocks_shape(W_shape))
    if coef_init is not None:
        C = np.array(coef_init, dtype=float).reshape(C.shape)
    b = np.zeros(W_shape[:-1])
    if intercept_init is not None and fit_intercept:
        b = np.array(intercept_init, dtype=float)
    null_objective = _null_objective(smooth, W_shape)
    check = _GapCheck(smooth, penalty, tol * null_objective)
    # The gap check also sets b to its optimum for W (Newton, with the tie).
    C, centred, z, done = check(C, b + smooth.offset(penalty.combine(C)))
    b = check.intercept
    iteration, inner_total = 0, 0
    # Gap the model's solution must reach: a tenth of the outer gap, and at
    # least ten times smaller at every step (the model's gap and the true
    # one differ: without the second rule a step could stop at once), down
    # to a hundredth of the outer threshold.
    inner_target = check.gap
    while not done and iteration < max_iter:
        iteration += 1
        W = penalty.combine(C)
        inner_target = max(0.1 * min(check.gap, inner_target), 0.01 * check.threshold)
        step = _newton_step(smooth, penalty, C, W, b, z, inner_target)
        if step is None:
            break
        C_new, delta, inner = step
        inner_total += inner
        C, b = _line_search(smooth, penalty, (C, b, z), (C_new, delta))
        C, centred, z, done = check(C, b + smooth.offset(penalty.combine(C)))
        b = check.intercept
    if warn and not done:
        warnings.warn(
            f"Proximal Newton did not converge: duality gap {check.gap:.3e} > "
            f"tol * null_objective = {check.threshold:.3e} after {iteration} "
            "outer iterations. Increase max_iter, raise tol, or scale the "
            "features.",
            ConvergenceWarning,
            stacklevel=3,
        )
    extra = {"null_objective": null_objective, "inner_iterations": inner_total}
    if penalty.n_blocks > 1:
        extra["blocks"] = C
    return SolverResult(
        coef=penalty.combine(C),
        intercept=b,
        n_iter=iteration,
        objective=check.primal,
        gap=check.gap,
        converged=bool(done),
        extra=extra,
    )


def _newton_step(smooth, penalty, C, W, b, z, target):
    """Minimise the second-order model plus the penalty by ADMM.

    Returns ``(C_new, delta, inner_iterations)``, or None when the model is
    degenerate (no curvature left: every prediction saturated).
    """
    design, loss = smooth.design, smooth.loss
    weights = design.scale * loss.second_derivative(z)
    gradient = loss.gradient(design.y, z, design.scale)
    tiny = np.finfo(float).tiny
    if not np.any(weights > tiny):
        return None
    safe = np.where(weights > tiny, weights, 1.0)
    # Working responses of the model in W: x . w_t + delta_t - response.
    response = design.predict(W) - np.where(weights > tiny, gradient / safe, 0.0)
    pseudo_rows = None
    if smooth.fit_intercept and smooth.intercept_alpha and design.n_tasks > 1:
        # The tie is (alpha / 2) sum_t (b_t - b_0)^2 at its optimum b_0 =
        # mean b: with b_0 held, a ridge of each offset delta_t towards
        # b_0 - b_t, i.e. one pseudo-row per task (features zero). It damps a
        # common shift of the intercepts, which slows the steps where the
        # features are far from zero; one task has no tie at all.
        pseudo_rows = (
            np.full(design.n_tasks, float(smooth.intercept_alpha)),
            b.mean(axis=0) - b,
        )
    problem = GramProblem(
        _weighted_design(design, response, weights),
        smooth.fit_intercept,
        pseudo_rows,
    )
    # Inexact Newton: the model is solved to the duality gap ``target``.
    inner_tol = float(np.clip(target / max(problem.null_objective, tiny), 0, 1e-2))
    result = admm_solve(
        problem,
        penalty,
        tol=inner_tol,
        max_iter=_INNER_MAX_ITER,
        coef_init=C,
        warn=False,
    )
    C_new = result.extra.get("blocks", result.coef).reshape(C.shape)
    W_new = penalty.combine(C_new)
    # The model's responses exclude the intercepts: its own intercepts are
    # the change of the task intercepts.
    delta = problem.intercept(W_new) if smooth.fit_intercept else np.zeros_like(b)
    return C_new, delta, result.n_iter


def _objective(smooth, penalty, C, b):
    W = penalty.combine(C)
    z = smooth.design.predict(W)
    if smooth.fit_intercept:
        z = z + smooth.design.expand_intercept(b)
    value = data_term(smooth.design, smooth.loss, z) + penalty.value(C)
    if smooth.fit_intercept:
        value += intercept_penalty(b, smooth.intercept_alpha)
    return value, z


def _line_search(smooth, penalty, point, target):
    """Backtracking from ``(C, b)`` towards the model's minimiser."""
    C, b, z = point
    C_new, delta = target
    D = C_new - C
    value, _ = _objective(smooth, penalty, C, b)
    weighted = smooth.loss.gradient(smooth.design.y, z, smooth.design.scale)
    grad_W = smooth.design.correlate(weighted)
    grad_b = smooth.design.task_sums(weighted).reshape(b.shape)
    if smooth.intercept_alpha:
        grad_b = grad_b + smooth.intercept_alpha * (b - b.mean(axis=0))
    decrease = (
        float(np.vdot(grad_W, penalty.combine(D)))
        + (float(np.vdot(grad_b, delta)) if smooth.fit_intercept else 0.0)
        + penalty.value(C_new)
        - penalty.value(C)
    )
    t = 1.0
    for _ in range(_MAX_HALVINGS):
        candidate_C = C + t * D
        candidate_b = b + t * delta
        candidate, _ = _objective(smooth, penalty, candidate_C, candidate_b)
        if candidate <= value + _ARMIJO * t * min(decrease, 0.0):
            return candidate_C, candidate_b
        t *= 0.5
    return C, b
