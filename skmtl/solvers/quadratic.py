"""Exact solver of the squared loss with a quadratic coupling of the tasks.

The problem (docs/architecture.rst)::

    minimise  sum_t (1 / n_t) sum_{i in t} s_i (y_i - x_i . w_t - b_t)^2 / 2
              + 0.5 tr(W^T K W)

for a penalty with a ``coupling()`` matrix ``K`` (``n_tasks x n_tasks``,
positive semi-definite), such as :class:`~skmtl.penalties.TaskGraph`
(``K = 2 alpha L + alpha_ridge I``). With the intercepts profiled out
(``b_t = ybar_t - xbar_t . w_t``, weighted task means) the data term is
``sum_t w_t^T G_t w_t / 2 - r_t . w_t + c_t`` with the weighted, centred
per-task Gram matrices ``G_t`` of :class:`skmtl.solvers.admm.GramProblem`,
and the minimiser solves the block system::

    G_t w_t + sum_s K[t, s] w_s = r_t      for every task t,

that is ``M vec(W) = vec(R)`` with ``M = blockdiag(G_t) + K (x) I_d``
(task-major). It is solved by preconditioned conjugate gradient (Hestenes &
Stiefel 1952) with one of three preconditioners, the first two exact:

- ``"kronecker"``: the tasks share one Gram matrix ``G`` (wide data, fully
  observed, common weights). Then ``M = I_T (x) G + K (x) I_d`` and, with
  ``G = U diag(mu) U^T`` and ``K = V diag(kappa) V^T``,
  ``W = V [(V^T R U) / (kappa_s + mu_j)] U^T``: ``O(T^3 + d^3 + T^2 d + T d^2)``.
- ``"cholesky"``: ``T * d <= DENSE_MAX_SIZE`` (500); the dense ``M`` is
  factored (:func:`scipy.linalg.cho_factor`).
- ``"pcg"``: larger problems never form ``M``. A product with ``M`` costs
  ``O(T d^2 + T^2 d)``; the preconditioner is ``I_T (x) Hbar + K (x) I_d``
  with ``Hbar`` the mean of the ``G_t``, applied as above through the
  eigendecompositions of ``Hbar`` and ``K`` computed once (``O(d^3 + T^3)``),
  in ``O(T^2 d + T d^2)`` per iteration. It is exact when the tasks' Gram
  matrices are equal, and otherwise gathers the coupling of the tasks
  (through ``K``) and the scale of the features (through ``Hbar``) into one
  cheap solve.

**Stopping rule.** The residual ``R = vec(r) - M vec(W)`` (the negative
gradient) bounds how far the objective is above its minimum ``f*``::

    f(W) - f* = R^T M^{-1} R / 2 <= ||R||^2 / (2 lambda_min(K)),

because ``M >= K (x) I_d`` (the Gram matrices are positive semi-definite).
The solver stops when this bound is at most ``tol`` times the objective of
the intercept-only model, as the duality-gap solvers do; ``gap`` of the
result is the bound. When ``K`` is singular (no ridge, for example a graph
penalty with ``alpha_ridge = 0``) there is no such bound and the solver
stops on the squared norm of the gradient ``||R||^2`` instead (the fallback
of docs/architecture.rst). A residual at the rounding level of the products
(``||R|| <= 1e3 eps (||r|| + ||M W||)``) also stops: it is then within
the rounding error of its own computation, and no iteration can certify
more. The residual is updated by the conjugate-gradient recursion and
recomputed from ``W`` before every stop, so that the bound is that of the
returned coefficients.

Features and targets of extreme magnitude are rescaled by powers of two
(:mod:`skmtl.solvers._scaling`) as in every solver.

References
----------
M. R. Hestenes and E. Stiefel. Methods of conjugate gradients for solving
linear systems. Journal of Research of the National Bureau of Standards,
49(6):409-436, 1952.

T. Evgeniou, C. A. Micchelli and M. Pontil. Learning multiple tasks with
kernel methods. Journal of Machine Learning Research, 6:615-637, 2005.
"""

import warnings

import numpy as np
from scipy import linalg
from sklearn.exceptions import ConvergenceWarning

from .._config import blas_threads_for
from ._design import make_design
from ._result import SolverResult
from ._scaling import unscale_result
from .admm import GramProblem

#: Largest ``n_tasks * n_features`` whose block system is factored densely;
#: beyond it, conjugate gradient with the Kronecker preconditioner. The
#: factorisation costs ``(T d)^3 / 3``: about 10 ms at 500, but 0.5 s at 2000
#: and 139 schools x 27 features, where conjugate gradient took 5 to 250
#: iterations of ``O(T d^2 + T^2 d)`` (10 to 50 ms) to reach ``tol=1e-10``.
DENSE_MAX_SIZE = 500

#: A residual below this many rounding units of ``||r|| + ||M W||`` is exact.
_ROUNDING = 1e3 * np.finfo(float).eps

#: The recursive residual of conjugate gradient drifts from ``r - M W``;
#: it is recomputed from ``W`` at least this often.
_RECOMPUTE_EVERY = 50


def solve(
    data,
    penalty,
    *,
    fit_intercept=True,
    tol=1e-10,
    max_iter=1000,
    coef_init=None,
    warn=True,
):
    """Solve the squared-loss problem with a quadratic task coupling exactly.

    Parameters
    ----------
    data : TaskData
        Observations grouped by task.
    penalty : penalty of :mod:`skmtl.penalties` with ``coupling()``
        ``penalty(W) = 0.5 tr(W^T K W)`` with ``K = penalty.coupling()`` of
        shape (n_tasks, n_tasks), positive semi-definite.
    fit_intercept : bool, default=True
        Fit free (unpenalised) task intercepts.
    tol : float, default=1e-10
        Stop when the bound on the distance to the optimal objective (see
        the module docstring) is at most ``tol`` times the objective of the
        intercept-only model.
    max_iter : int, default=1000
        Maximum number of conjugate-gradient iterations.
    coef_init : ndarray of shape (n_tasks, n_features), default=None
        Starting point.
    warn : bool, default=True
        Raise a ``ConvergenceWarning`` when ``tol`` is not met.

    Returns
    -------
    result : SolverResult
        ``gap`` is the bound on the distance to the optimal objective (or the
        squared gradient norm when ``K`` is singular);
        ``extra["method"]`` is ``"kronecker"``, ``"cholesky"`` or ``"pcg"``.

    Raises
    ------
    ValueError
        When ``penalty.coupling()`` is not of shape (n_tasks, n_tasks).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skmtl._tasks import check_task_data
    >>> class Ridge2:  # 0.5 tr(W^T K W) with K = 2 I: a ridge on every task
    ...     n_blocks = 1
    ...     def coupling(self):
    ...         return 2.0 * np.eye(1)
    ...     def value(self, W):
    ...         return float(np.sum(W**2))
    ...     def rescaled(self, scaling):
    ...         return self
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 3))
    >>> y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=40)
    >>> result = solve(check_task_data(Ridge(), X, y), Ridge2())
    >>> reference = Ridge(alpha=2.0 * 40).fit(X, y)  # data term: the mean / 2
    >>> bool(np.allclose(result.coef[0], reference.coef_))
    True
    """
    design = make_design(data)
    scaling = design.scaling
    coef_init = scaling.coef_in(coef_init)
    with np.errstate(over="ignore", invalid="ignore"):
        problem = GramProblem(design, fit_intercept)
        n_tasks, p = problem.correlation.shape
        # Multiply-adds of the largest calls: eigh(K), the Gram products,
        # and the dense factorisation when there is one.
        dense = n_tasks * p <= DENSE_MAX_SIZE and problem.gram.ndim == 3
        work = n_tasks**3 + n_tasks * p * (p + n_tasks) + dense * (n_tasks * p) ** 3
        with blas_threads_for(work):
            result = _solve(
                problem,
                penalty.rescaled(scaling),
                tol=tol,
                max_iter=max_iter,
                coef_init=coef_init,
                warn=warn,
            )
    return unscale_result(result, scaling)


def _solve(problem, penalty, *, tol, max_iter, coef_init, warn):
    n_tasks, p = problem.correlation.shape
    coupling = _check_coupling(penalty.coupling(), n_tasks)
    # One eigendecomposition of K serves the bound and the preconditioner.
    spectrum = linalg.eigh(coupling, driver="evd")
    system = _BlockSystem(problem, coupling)
    method, precondition = _preconditioner(problem.gram, coupling, spectrum)
    criterion = _Criterion(
        spectrum[0], tol * problem.null_objective, problem.correlation
    )
    W = np.zeros((n_tasks, p))
    if coef_init is not None:
        W = np.array(coef_init, dtype=float).reshape(n_tasks, p)
    W, n_iter = _conjugate_gradient(system, precondition, W, criterion, max_iter)
    if warn and not criterion.done:
        warnings.warn(
            f"The exact squared-loss solver ({method} preconditioner) did not "
            f"converge: the bound {criterion.bound:.3e} on the objective error "
            f"exceeds tol * null_objective = {criterion.threshold:.3e} after "
            f"{n_iter} conjugate-gradient iterations. Increase max_iter, raise "
            "tol, or scale the features.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return SolverResult(
        coef=W,
        intercept=problem.intercept(W),
        n_iter=n_iter,
        objective=problem.objective(W) + float(penalty.value(W)),
        gap=criterion.bound,
        converged=criterion.done,
        extra={"null_objective": problem.null_objective, "method": method},
    )


def _check_coupling(coupling, n_tasks):
    coupling = np.asarray(coupling, dtype=float)
    if coupling.shape != (n_tasks, n_tasks):
        raise ValueError(
            f"The penalty's coupling matrix has shape {coupling.shape}, expected "
            f"({n_tasks}, {n_tasks}): one row and column per task of the data. "
            "Build the penalty for the tasks of this data."
        )
    return coupling


class _BlockSystem:
    """``M vec(W) = vec(r)`` with ``M = blockdiag(G_t) + K (x) I_d``."""

    def __init__(self, problem, coupling):
        self.problem = problem
        self.coupling = coupling

    def apply(self, W):
        """``M vec(W)`` as a (n_tasks, n_features) array, never forming ``M``."""
        return self.problem.product(W) + self.coupling @ W

    def residual(self, W):
        """``(r - M W, M W)``."""
        product = self.apply(W)
        return self.problem.correlation - product, product


class _Criterion:
    """The stopping rule of the module docstring, on the true residual."""

    def __init__(self, eigenvalues, threshold, correlation):
        largest = float(np.max(np.abs(eigenvalues), initial=0.0))
        smallest = float(np.min(eigenvalues, initial=np.inf))
        # Below the accuracy of eigh, lambda_min(K) is zero: no bound.
        accuracy = 64 * eigenvalues.size * np.finfo(float).eps * largest
        self.curvature = smallest if smallest > accuracy else 0.0
        self.threshold = threshold
        self.correlation_norm = float(np.linalg.norm(correlation))
        self.bound = np.inf
        self.done = False

    def _met(self, residual, product_norm):
        bound = self.value(residual)
        rounding = _ROUNDING * (self.correlation_norm + product_norm)
        return bound, bool(
            bound <= self.threshold or np.linalg.norm(residual) <= rounding
        )

    def value(self, residual):
        """The bound on ``f(W) - f*`` (or ``||R||^2`` when ``K`` is singular)."""
        squared = float(np.vdot(residual, residual))
        return 0.5 * squared / self.curvature if self.curvature else squared

    def likely(self, residual):
        """Whether the recursive residual stops (near the solution ``M W ~ r``)."""
        return self._met(residual, self.correlation_norm)[1]

    def certify(self, residual, product):
        """Whether the true residual ``r - M W`` stops; records the bound."""
        self.bound, self.done = self._met(residual, float(np.linalg.norm(product)))
        return self.done


def _conjugate_gradient(system, precondition, W, criterion, max_iter):
    """Preconditioned conjugate gradient on ``M vec(W) = vec(r)``, from ``W``."""
    residual, product = system.residual(W)
    n_iter = 0
    if criterion.certify(residual, product):
        return W, n_iter
    Z = precondition(residual)
    direction, rz = Z, float(np.vdot(residual, Z))
    while n_iter < max_iter and rz > 0:
        n_iter += 1
        product = system.apply(direction)
        curvature = float(np.vdot(direction, product))
        if not curvature > 0:
            break
        step = rz / curvature
        W = W + step * direction
        residual = residual - step * product
        if criterion.likely(residual) or n_iter % _RECOMPUTE_EVERY == 0:
            residual, product = system.residual(W)
            if criterion.certify(residual, product):
                return W, n_iter
        Z = precondition(residual)
        rz_next = float(np.vdot(residual, Z))
        direction, rz = Z + (rz_next / rz) * direction, rz_next
    criterion.certify(*system.residual(W))
    return W, n_iter


def _preconditioner(gram, coupling, spectrum):
    """``(method, apply)``: the exact or approximate inverse of ``M``.

    ``spectrum`` is ``(kappa, V)``, the eigendecomposition of ``K``.
    """
    if gram.ndim == 2:
        return "kronecker", _kronecker_inverse(gram, spectrum)
    n_tasks, p = gram.shape[:2]
    if n_tasks * p <= DENSE_MAX_SIZE:
        return "cholesky", _dense_inverse(gram, coupling)
    return "pcg", _kronecker_inverse(gram.mean(axis=0), spectrum)


def _kronecker_inverse(gram, spectrum):
    """``R -> (I_T (x) G + K (x) I_d)^{-1} R`` through two eigendecompositions."""
    mu, U = linalg.eigh(gram)
    kappa, V = spectrum
    denominator = np.maximum(kappa, 0.0)[:, None] + np.maximum(mu, 0.0)[None, :]
    # A direction neither the data nor the penalty sees (singular system):
    # any positive value keeps the preconditioner positive definite.
    floor = max(float(denominator.max()) * np.finfo(float).eps, np.finfo(float).tiny)
    inverse = 1.0 / np.maximum(denominator, floor)

    def apply(R):
        return V @ (((V.T @ R) @ U) * inverse) @ U.T

    return apply


def _dense_inverse(gram, coupling):
    """``R -> M^{-1} R`` from a Cholesky factor of the dense block matrix."""
    n_tasks, p = gram.shape[:2]
    M = np.zeros((n_tasks, p, n_tasks, p))
    tasks = np.arange(n_tasks)
    M[tasks, :, tasks, :] = gram
    M += coupling[:, None, :, None] * np.eye(p)[None, :, None, :]
    M = M.reshape(n_tasks * p, n_tasks * p)
    try:
        factor = linalg.cho_factor(M)
    except linalg.LinAlgError:
        # Singular (a direction no task's data and no penalty sees): a shift
        # at rounding level keeps the preconditioner positive definite; the
        # conjugate-gradient steps solve the system itself.
        size = M.shape[0]
        shift = max(size * np.finfo(float).eps * float(np.trace(M)), 1e-300)
        factor = linalg.cho_factor(M + shift * np.eye(M.shape[0]))

    def apply(R):
        return linalg.cho_solve(factor, R.reshape(-1)).reshape(n_tasks, p)

    return apply
