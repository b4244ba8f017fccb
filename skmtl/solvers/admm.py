"""ADMM for the squared loss with any proximable penalty, in Gram form.

The problem (docs/architecture.rst)::

    minimise  sum_t (1 / n_t) sum_{i in t} s_i (y_i - x_i . w_t - b_t)^2 / 2
              + penalty(W),       W = sum_k C_k

for a penalty of :mod:`skmtl.penalties` on one block (``C_0 = W``) or on the
blocks of a :class:`~skmtl.penalties.Decomposition`. With the intercepts
profiled out (``b_t = ybar_t - xbar_t . w_t``) the data term is a sum of
per-task quadratics ``w_t^T G_t w_t / 2 - r_t . w_t + c_t``, with ``G_t``
the weighted, centred Gram matrix of task ``t``: an iteration costs
``O(n_tasks n_features^2)`` however many rows there are.

The alternating direction method of multipliers (Boyd et al. 2011) splits
each block ``C_k`` from a copy ``Z_k`` that carries the penalty::

    C-step: minimise the data term of sum_k C_k + (rho / 2) sum_k ||C_k - Z_k + U_k||^2
    Z-step: Z = prox_{penalty / rho}(C + U)
    U-step: U = U + C - Z

The C-step is exact, per task, from one eigendecomposition of every
``G_t`` computed once: for ``K`` blocks, ``(K G_t + rho I) s = ...`` gives
their sum ``s``, then each block. Being exact in the data term, it is
insensitive to the poor conditioning (rare categories, features constant
within tasks) that makes first-order methods crawl on data such as School.
``rho`` is adapted by residual balancing (Boyd et al. 2011, section 3.4.1)
and the steps over-relaxed (factor 1.6).

Every ``check_every`` iterations the duality gap is computed at ``W = sum_k
Z_k`` (exactly sparse or low-rank, as the proximal operator leaves it),
in Gram form, from the penalty's dual (``penalty.dual_value``); the solver
stops when ``gap <= tol * P(0)``, ``P(0)`` the objective of the
intercept-only model, as :mod:`skmtl.solvers.fista` does.

References
----------
S. Boyd, N. Parikh, E. Chu, B. Peleato and J. Eckstein. Distributed
optimization and statistical learning via the alternating direction method
of multipliers. Foundations and Trends in Machine Learning, 3(1):1-122, 2011.
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .._config import blas_threads_for
from ..penalties import stationarity_criterion
from ._design import make_design
from ._result import SolverResult
from ._scaling import unscale_result

#: Relative imbalance of the primal and dual residuals that changes ``rho``.
_BALANCE = 10.0

#: Over-relaxation factor of the C-step (Boyd et al. 2011, section 3.4.3).
_RELAXATION = 1.6


class GramProblem:
    """The squared-loss data term of a design, in per-task Gram form.

    Parameters
    ----------
    design : SharedRowsDesign or LongRowsDesign
    fit_intercept : bool
    pseudo_rows : tuple of two ndarrays of shape (n_tasks,), default=None
        ``(weight_t, response_t)``: one extra observation per task with all
        features zero, which adds ``weight_t (b_t - response_t)^2 / 2`` to
        the task's data term (a ridge of its intercept towards
        ``response_t``).

    Attributes
    ----------
    gram : ndarray of shape (n_tasks, p, p) or (p, p)
        Weighted (centred) Gram matrices; one for all tasks when the tasks
        share rows and weights.
    correlation : ndarray of shape (n_tasks, p)
        ``r_t = sum_{i in t} c_i (x_i - xbar_t) (y_i - ybar_t)``.
    constant : ndarray of shape (n_tasks,)
        ``c_t = sum_{i in t} c_i (y_i - ybar_t)^2 / 2``.
    means, target_means : ndarray
        ``xbar_t`` (n_tasks, p) and ``ybar_t`` (n_tasks,).
    """

    def __init__(self, design, fit_intercept=True, pseudo_rows=None):
        n_tasks, p = design.n_tasks, design.n_features
        weighted_y = design.scale * design.y
        self.gram = np.array(design.gram(np.arange(p)), dtype=float)
        self.correlation = np.asarray(design.correlate(weighted_y), dtype=float)
        total = design.task_sums(design.scale).reshape(n_tasks)
        sums_y = design.task_sums(weighted_y).reshape(n_tasks)
        sums_y2 = design.task_sums(weighted_y * design.y).reshape(n_tasks)
        if pseudo_rows is not None:
            weight, response = pseudo_rows
            total = total + weight
            sums_y = sums_y + weight * response
            sums_y2 = sums_y2 + weight * response**2
        self.means = np.zeros((n_tasks, p))
        self.target_means = np.zeros(n_tasks)
        if fit_intercept:
            weight = np.where(total > 0, total, 1.0)
            self.means = design.column_moments()[0] / weight[:, None]
            self.target_means = sums_y / weight
            if self.gram.ndim == 2 and not np.allclose(
                self.means, self.means[:1], rtol=0, atol=0
            ):
                self.gram = np.broadcast_to(self.gram, (n_tasks, p, p)).copy()
            outer = total[:, None, None] * self.means[:, :, None] * self.means[:, None]
            self.gram = self.gram - (outer[0] if self.gram.ndim == 2 else outer)
            self.correlation = (
                self.correlation - (total * self.target_means)[:, None] * self.means
            )
            sums_y2 = sums_y2 - total * self.target_means**2
        self.constant = 0.5 * sums_y2
        self.null_objective = float(self.constant.sum())

    def product(self, W):
        """``G_t w_t`` for every task."""
        if self.gram.ndim == 2:
            return W @ self.gram
        return np.einsum("tij,tj->ti", self.gram, W)

    def objective(self, W, GW=None):
        """Data term at ``W`` (intercepts optimal)."""
        GW = self.product(W) if GW is None else GW
        return float(0.5 * np.vdot(W, GW) - np.vdot(self.correlation, W)) + (
            self.null_objective
        )

    def intercept(self, W):
        """Optimal intercepts for ``W``."""
        return self.target_means - np.einsum("tp,tp->t", self.means, W)


def solve(data, penalty, *, fit_intercept=True, **options):
    """Solve the squared-loss problem of a :class:`~skmtl._tasks.TaskData` by ADMM.

    Parameters
    ----------
    data : TaskData
        Observations grouped by task.
    penalty : penalty of :mod:`skmtl.penalties`
        Any penalty with a proximal operator and a dual (``dual_value``).
    fit_intercept : bool, default=True
    tol : float, default=1e-4
        Stop when the duality gap is at most ``tol`` times the objective of
        the intercept-only model.
    max_iter : int, default=10_000
    coef_init : ndarray, default=None
        Warm start: the blocks (``W`` for a single penalty).
    warn : bool, default=True
        Raise a ``ConvergenceWarning`` when ``tol`` is not met.

    Returns
    -------
    result : SolverResult
        ``gap`` is the duality gap; ``extra["blocks"]`` holds the blocks of
        a decomposition.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Lasso
    >>> from skmtl._tasks import check_task_data
    >>> from skmtl.penalties import L1
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 5))
    >>> y = X @ np.array([1.0, 0.0, 0.0, -2.0, 0.5])
    >>> data = check_task_data(Lasso(), X, y)
    >>> result = solve(data, L1(0.1), tol=1e-10)
    >>> reference = Lasso(alpha=0.1, tol=1e-12).fit(X, y)
    >>> bool(np.allclose(result.coef[0], reference.coef_, atol=1e-6))
    True
    """
    design = make_design(data)
    scaling = design.scaling
    coef_init = scaling.coef_in(options.pop("coef_init", None))
    with np.errstate(over="ignore", invalid="ignore"):
        problem = GramProblem(design, fit_intercept)
        with blas_threads_for(problem.gram.size):
            result = _solve(
                problem, penalty.rescaled(scaling), coef_init=coef_init, **options
            )
    if "blocks" in result.extra:
        result.extra["blocks"] = scaling.coef_out(result.extra["blocks"])
    return unscale_result(result, scaling)


def _solve(
    problem,
    penalty,
    *,
    tol=1e-4,
    max_iter=10_000,
    coef_init=None,
    warn=True,
    check_every=10,
):
    n_tasks, p = problem.correlation.shape
    shape = penalty.blocks_shape((n_tasks, p))
    n_blocks = penalty.n_blocks
    eigenvalues, eigenvectors = np.linalg.eigh(problem.gram)
    eigenvalues = np.maximum(eigenvalues, 0.0)
    Z = np.zeros(shape) if coef_init is None else np.array(coef_init, dtype=float)
    Z = Z.reshape(shape)
    U = np.zeros(shape)
    rho = max(float(np.mean(eigenvalues)), np.finfo(float).tiny)
    check = _GapCheck(problem, penalty, tol * problem.null_objective)
    done = check(Z)
    iteration = 0
    while not done and iteration < max_iter:
        iteration += 1
        C = _block_step(problem, eigenvalues, eigenvectors, Z - U, rho, n_blocks)
        relaxed = _RELAXATION * C + (1.0 - _RELAXATION) * Z
        previous = Z
        Z = penalty.prox(relaxed + U, 1.0 / rho)
        U = U + relaxed - Z
        if iteration % check_every == 0 or iteration == max_iter:
            done = check(Z)
            if not np.isfinite(check.gap):
                break
            primal = np.sqrt(np.vdot(C - Z, C - Z))
            dual = rho * np.sqrt(np.vdot(Z - previous, Z - previous))
            if primal > _BALANCE * dual:
                rho, U = 2.0 * rho, U / 2.0
            elif dual > _BALANCE * primal:
                rho, U = rho / 2.0, 2.0 * U
    if warn and not done:
        warnings.warn(
            f"ADMM did not converge: duality gap {check.gap:.3e} > tol * "
            f"null_objective = {check.threshold:.3e} after {iteration} iterations. "
            "Increase max_iter, raise tol, or scale the features.",
            ConvergenceWarning,
            stacklevel=3,
        )
    W = penalty.combine(Z)
    extra = {"null_objective": problem.null_objective, "rho": rho}
    if n_blocks > 1:
        extra["blocks"] = Z
    return SolverResult(
        coef=W,
        intercept=problem.intercept(W),
        n_iter=iteration,
        objective=check.primal,
        gap=check.gap,
        converged=bool(done),
        extra=extra,
    )


def _block_step(problem, eigenvalues, eigenvectors, R, rho, n_blocks):
    """Minimise ``f(sum_k C_k) + (rho / 2) sum_k ||C_k - R_k||^2`` exactly.

    With ``s = sum_k C_k``: ``(K G_t + rho I) s_t = rho sum_k R_kt + K r_t``,
    then ``C_k = R_k - (G s - r) / rho``.
    """
    total = R if n_blocks == 1 else R.sum(axis=0)
    rhs = rho * total + n_blocks * problem.correlation
    if eigenvectors.ndim == 2:
        rotated = rhs @ eigenvectors
        s = (rotated / (n_blocks * eigenvalues + rho)) @ eigenvectors.T
    else:
        rotated = np.einsum("tji,tj->ti", eigenvectors, rhs)
        s = np.einsum(
            "tij,tj->ti", eigenvectors, rotated / (n_blocks * eigenvalues + rho)
        )
    if n_blocks == 1:
        return s
    residual = (problem.product(s) - problem.correlation) / rho
    return R - residual[None]


class _GapCheck:
    """Duality gap at ``W = combine(Z)``, in Gram form."""

    def __init__(self, problem, penalty, threshold):
        self.problem = problem
        self.penalty = penalty
        self.threshold = threshold
        self.gap = np.inf
        self.primal = np.inf

    def __call__(self, Z):
        problem, penalty = self.problem, self.penalty
        W = penalty.combine(Z)
        GW = problem.product(W)
        data_term = problem.objective(W, GW)
        correlation = problem.correlation - GW
        # Per task: sum_i c_i nu_i^2 = 2 f_t(W), sum_i c_i nu_i y_i = 2 c_t - r_t.w_t.
        squared = 2.0 * data_term
        cross = 2.0 * problem.null_objective - float(np.vdot(problem.correlation, W))

        def conjugate(kappa):
            return 0.5 * kappa**2 * squared - kappa * cross

        self.primal = data_term + penalty.value(Z)
        dual = penalty.dual_value(conjugate, correlation, W)
        if np.isfinite(dual):
            self.gap = self.primal - dual
        else:
            self.gap = stationarity_criterion(penalty, correlation, W)
        return self.gap <= self.threshold
