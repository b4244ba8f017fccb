"""Accelerated proximal gradient (FISTA) for the L2,1 problem with any loss.

The problem (docs/user_guide/regularization.rst; see :mod:`skmtl.solvers._l21`)::

    minimise  sum_t (1 / n_t) sum_{i in t} s_i loss(y_i, x_i . w_t + b_t)
              + a1 sum_j ||W[..., j]||_2 + (a2 / 2) ||W||_F^2
              + (intercept_alpha / 2) sum_t ||b_t - mean_s b_s||^2

for the squared, logistic and multinomial losses of :mod:`skmtl.losses`
(multinomial: ``W`` is ``(n_tasks, n_classes, n_features)`` and the group of
feature ``j`` spans all tasks and classes). The intercepts are smooth
variables of the gradient step; the group norm and the ridge are handled by
their proximal operator (group soft-thresholding).

Steps use backtracking on the Lipschitz constant, started from
``loss.curvature`` times the largest eigenvalue of the design (power
iteration), and the momentum is reset by the gradient-based adaptive restart
of O'Donoghue & Candes (2015). Every ``check_every`` iterations the
intercepts are polished by Newton's method
(:func:`~skmtl.solvers._l21.fit_intercepts`), which makes the generalised
residuals dual feasible with respect to the intercepts, and the duality gap
of :func:`~skmtl.solvers._l21.duality_gap` is computed; the solver stops when
``gap <= tol * P(0)``, ``P(0)`` the objective of the intercept-only model
(``W = 0`` and optimal intercepts), which guarantees an objective within
``tol * P(0)`` of the optimum; :mod:`skmtl.solvers.bcd` compares this rule
with scikit-learn's.

References
----------
A. Beck and M. Teboulle. A fast iterative shrinkage-thresholding algorithm
for linear inverse problems. SIAM Journal on Imaging Sciences, 2(1):183-202,
2009.

B. O'Donoghue and E. Candes. Adaptive restart for accelerated gradient
schemes. Foundations of Computational Mathematics, 15:715-732, 2015.
"""

import warnings

import numpy as np
from scipy import optimize
from sklearn.exceptions import ConvergenceWarning

from .._config import blas_threads_for
from ._l21 import (
    bregman_term,
    data_term,
    duality_gap,
    fit_intercepts,
    generalized_residual,
    group_norms,
    group_soft_threshold,
    intercept_penalty,
    intercept_penalty_gradient,
    make_design,
    penalty_strengths,
    penalty_value,
    scaled_gradient,
    zero_coef,
)
from ._result import SolverResult
from ._scaling import unscale_result

#: Factor applied to the step's Lipschitz estimate before each backtracking.
_DECREASE = 0.9

#: Most doublings of the Lipschitz estimate in one backtracking line search.
#: The estimate stays above 2^-40 times the global bound (the largest
#: curvature of the design), so needing 2^60 times more means a step at the
#: rounding level of the iterate.
_MAX_BACKTRACKS = 60


def solve(
    data,
    loss,
    *,
    alpha,
    l1_ratio=1.0,
    fit_intercept=True,
    intercept_alpha=0.0,
    targets=None,
    n_classes=None,
    tol=1e-4,
    max_iter=1000,
    coef_init=None,
    intercept_init=None,
    warn=True,
    polish=True,
):
    """Solve the L2,1 problem of a :class:`~skmtl._tasks.TaskData` by FISTA.

    Parameters
    ----------
    data : TaskData
        Observations grouped by task.
    loss : SquaredLoss, LogisticLoss or MultinomialLoss
    alpha : float
        Overall penalty strength (>= 0).
    l1_ratio : float, default=1.0
        Share of the group-norm penalty, in [0, 1].
    fit_intercept : bool, default=True
    intercept_alpha : float, default=0.0
        Strength of the tie between task intercepts (0: free intercepts).
    targets : ndarray of shape (n_observations,), default=None
        Targets as the loss expects them (0/1, class indices); ``data.y`` if
        None.
    n_classes : int or None, default=None
        Number of classes for the multinomial loss.
    tol : float, default=1e-4
        Stop when the duality gap is at most ``tol`` times the objective of
        the intercept-only model (``W = 0``, optimal intercepts).
    max_iter : int, default=1000
        Maximum number of iterations.
    coef_init, intercept_init : ndarray, default=None
        Warm start.
    warn : bool, default=True
        Raise a ``ConvergenceWarning`` when ``tol`` is not met.
    polish : bool, default=True
        Every 500 iterations without convergence, minimise over the current
        support by L-BFGS (:func:`_polish_on_support`), which converges where
        little regularisation makes first-order steps crawl.

    Returns
    -------
    result : SolverResult
        ``gap`` is the duality gap, ``objective`` the primal value.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import MultiTaskLasso
    >>> from skmtl._tasks import check_task_data
    >>> from skmtl.losses import SquaredLoss
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(30, 5))
    >>> Y = X[:, :2] @ rng.normal(size=(2, 3))
    >>> data = check_task_data(MultiTaskLasso(), X, Y)
    >>> result = solve(data, SquaredLoss(), alpha=0.1, tol=1e-10, max_iter=5000)
    >>> reference = MultiTaskLasso(alpha=0.1, tol=1e-12).fit(X, Y)
    >>> bool(np.allclose(result.coef, reference.coef_, atol=1e-6))
    True
    """
    multinomial = loss.name == "multinomial"
    design = make_design(data, targets, multinomial=multinomial)
    a1, a2 = penalty_strengths(alpha, l1_ratio)
    return solve_design(
        design,
        loss,
        a1,
        a2,
        fit_intercept=fit_intercept,
        intercept_alpha=intercept_alpha,
        n_classes=n_classes if multinomial else None,
        tol=tol,
        max_iter=max_iter,
        coef_init=coef_init,
        intercept_init=intercept_init,
        warn=warn,
        polish_every=500 if polish else None,
    )


class _SmoothPart:
    """Data term plus intercept tie, in centred coordinates.

    The iterates are ``(W, b')`` with ``b'_t = b_t + mean_t . w_t`` and
    ``mean_t`` the weighted column means of task ``t``: predictions are
    ``(x_i - mean_t) . w_t + b'_t``. The change of variables is linear and
    leaves the penalty on ``W`` unchanged, but decouples the intercepts from
    the coefficients of non-centred features, which otherwise make the
    problem badly conditioned for a first-order method.
    """

    def __init__(self, design, loss, fit_intercept, intercept_alpha):
        self.design = design
        self.loss = loss
        self.fit_intercept = fit_intercept
        self.intercept_alpha = intercept_alpha if fit_intercept else 0.0
        self.means = design.column_moments()[0] if fit_intercept else None

    def offset(self, W):
        """``mean_t . w_t`` for every task (and class)."""
        if not self.fit_intercept:
            return np.zeros(W.shape[:-1])
        return np.einsum("tp,t...p->t...", self.means, W)

    def predictions(self, W, b):
        z = self.design.predict(W)
        if self.fit_intercept:
            z = z + self.design.expand_intercept(b - self.offset(W))
        return z

    def value(self, z, W, b):
        penalty = intercept_penalty(b - self.offset(W), self.intercept_alpha)
        return data_term(self.design, self.loss, z) + penalty

    def curvature(self, z, step_z, step_W, step_b):
        """``f(y + d) - f(y) - <grad f(y), d>`` from the prediction step."""
        tie = intercept_penalty(step_b - self.offset(step_W), self.intercept_alpha)
        return bregman_term(self.design, self.loss, z, step_z) + tie

    def adjoint(self, weighted, b_shape):
        """Transpose of :meth:`predictions` applied to per-observation values."""
        grad_W = self.design.correlate(weighted)
        if not self.fit_intercept:
            return grad_W, np.zeros(b_shape)
        sums = self.design.task_sums(weighted).reshape(b_shape)
        return grad_W - self._spread(sums), sums

    def _spread(self, per_task):
        """``per_task[t, ...] * mean_t``, shaped like ``W``."""
        if per_task.ndim == 1:
            return per_task[:, None] * self.means
        return per_task[:, :, None] * self.means[:, None, :]

    def gradient(self, z, W, b):
        weighted = scaled_gradient(self.design, self.loss, z)
        grad_W, grad_b = self.adjoint(weighted, b.shape)
        if self.intercept_alpha:
            tie = intercept_penalty_gradient(b - self.offset(W), self.intercept_alpha)
            grad_W, grad_b = grad_W - self._spread(tie), grad_b + tie
        return grad_W, grad_b

    def lipschitz(self, W_shape, b_shape, n_power=15):
        """``curvature * lambda_max`` of the design, by power iteration."""
        rng = np.random.default_rng(0)
        V = rng.standard_normal(W_shape)
        c = rng.standard_normal(b_shape) if self.fit_intercept else np.zeros(b_shape)
        value = 0.0
        for _ in range(n_power):
            norm = np.sqrt(np.vdot(V, V) + np.vdot(c, c))
            V, c = V / norm, c / norm
            image = self.predictions(V, c)
            weighted = self.design.scale_like(image) * image
            value = float(np.vdot(weighted, image))
            V, c = self.adjoint(weighted, b_shape)
        return self.loss.curvature * value + 2.0 * self.intercept_alpha


def solve_design(
    design,
    loss,
    a1,
    a2,
    *,
    n_classes=None,
    coef_init=None,
    intercept_init=None,
    **options,
):
    """FISTA on a prepared design; see :func:`solve` for the parameters.

    Small designs run with a single BLAS thread
    (:func:`skmtl._config.blas_threads_for`): their products are too short
    to gain from threads, and lose much to them on a busy machine. A
    rescaled design (``design.scaling``) is solved in its own units and the
    result mapped back to those of the original data.
    """
    scaling = design.scaling
    # Overflow ends the run with a ConvergenceWarning that says so; numpy's
    # own warnings on the way would only repeat it.
    with (
        np.errstate(over="ignore", invalid="ignore"),
        blas_threads_for(design.product_size(n_classes or 1)),
    ):
        result = _solve_design(
            design,
            loss,
            *scaling.l21_strengths(a1, a2),
            n_classes=n_classes,
            coef_init=scaling.coef_in(coef_init),
            intercept_init=scaling.intercept_in(intercept_init),
            **options,
        )
    return unscale_result(result, scaling)


def _solve_design(
    design,
    loss,
    a1,
    a2,
    *,
    fit_intercept=True,
    intercept_alpha=0.0,
    n_classes=None,
    tol=1e-4,
    max_iter=1000,
    coef_init=None,
    intercept_init=None,
    warn=True,
    check_every=10,
    polish_every=500,
):
    smooth = _SmoothPart(design, loss, fit_intercept, intercept_alpha)
    W = zero_coef(design, n_classes) if coef_init is None else np.array(coef_init)
    W = W.astype(float, copy=True)
    b = (
        np.zeros(W.shape[:-1])
        if intercept_init is None or not fit_intercept
        else np.array(intercept_init, dtype=float)
    )
    # Both depend on the data only: computed once per design along a path.
    key = (loss.name, fit_intercept, smooth.intercept_alpha, W.shape)
    if key not in design.cache:
        design.cache[key] = (
            max(smooth.lipschitz(W.shape, b.shape), np.finfo(float).tiny),
            _null_objective(smooth, W.shape),
        )
    lipschitz, null_objective = design.cache[key]
    smallest_lipschitz = np.ldexp(lipschitz, -40)
    check = _GapCheck(smooth, a1, a2, tol * null_objective)
    W, b, z, done = check(W, b + smooth.offset(W))
    y_W, y_b, z_y, momentum = W, b, z, 1.0
    iteration, failed = 0, not np.isfinite(check.gap)
    while not done and not failed and iteration < max_iter:
        iteration += 1
        grad_W, grad_b = smooth.gradient(z_y, y_W, y_b)
        # Try a longer step first: the local curvature of the logistic loss
        # is often far below its global bound (Scheinberg et al. 2014).
        previous_lipschitz = lipschitz
        # Never below 2^-40 of the global bound: a zero step (at the optimum
        # to rounding) passes every test, and the estimate would otherwise
        # shrink without limit, then need more than _MAX_BACKTRACKS doublings.
        lipschitz = max(lipschitz * _DECREASE, smallest_lipschitz)
        step = _backtracking_step(
            smooth, (y_W, y_b, z_y), (grad_W, grad_b), a1, a2, lipschitz
        )
        if step is None:
            # Values beyond float64: no step size gives a finite decrease.
            failed = True
            break
        new_W, new_b, new_z, lipschitz = step
        restart = (
            float(np.vdot(y_W - new_W, new_W - W) + np.vdot(y_b - new_b, new_b - b)) > 0
        )
        if restart:
            y_W, y_b, z_y, momentum = new_W, new_b, new_z, 1.0
        else:
            ratio = previous_lipschitz / lipschitz
            next_momentum = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * ratio * momentum**2))
            beta = (momentum - 1.0) / next_momentum
            y_W = new_W + beta * (new_W - W)
            y_b = new_b + beta * (new_b - b)
            z_y = new_z + beta * (new_z - z)
            momentum = next_momentum
        W, b, z = new_W, new_b, new_z
        if iteration % check_every == 0 or iteration == max_iter:
            if polish_every and iteration % polish_every == 0 and iteration < max_iter:
                W, b = _polish_on_support(smooth, W, b, a1, a2)
            W, b, z, done = check(W, b)
            # The polished intercepts moved the iterate: restart the momentum.
            y_W, y_b, z_y, momentum = W, b, z, 1.0
    if not done and iteration < max_iter:
        W, b, z, done = check(W, b)
    failed = failed or not np.isfinite(check.gap)
    if warn and not done:
        _warn_not_converged(check, iteration, failed)
    return SolverResult(
        coef=W,
        intercept=check.intercept,
        n_iter=iteration,
        objective=check.primal,
        gap=check.gap,
        converged=bool(done),
        extra={"lipschitz": lipschitz, "null_objective": check.threshold / tol},
    )


def _backtracking_step(smooth, point, gradient, a1, a2, lipschitz):
    """Proximal gradient step from ``point`` with backtracking on ``lipschitz``.

    Doubles the Lipschitz estimate until the sufficient decrease holds, at
    most :data:`_MAX_BACKTRACKS` times; a step that rounds to zero, or the
    step at the last doubling (of the order of the rounding of the iterate:
    near the optimum, rounding in the predictions can defeat the test), is
    taken as it is. Returns ``(W, b, z, lipschitz)``, or None when the
    estimate or the curvature is not finite (values overflowing float64).
    """
    y_W, y_b, z_y = point
    grad_W, grad_b = gradient
    for _ in range(_MAX_BACKTRACKS):
        if not np.isfinite(lipschitz):
            return None
        new_W = group_soft_threshold(
            y_W - grad_W / lipschitz, a1 / lipschitz, 1.0 / (1.0 + a2 / lipschitz)
        )
        new_b = y_b - grad_b / lipschitz
        new_z = smooth.predictions(new_W, new_b)
        step_W, step_b = new_W - y_W, new_b - y_b
        squared_step = float(np.vdot(step_W, step_W) + np.vdot(step_b, step_b))
        curvature = smooth.curvature(z_y, new_z - z_y, step_W, step_b)
        if not (np.isfinite(curvature) and np.isfinite(squared_step)):
            return None
        # Sufficient decrease f(x) <= f(y) + <grad, x - y> + L/2 |x - y|^2,
        # tested on the curvature term alone: exact near the solution,
        # where a difference of objective values is only rounding noise.
        if squared_step == 0 or curvature <= 0.5 * lipschitz * (
            squared_step * (1.0 + 1e-10)
        ):
            break
        lipschitz *= 2.0
    return new_W, new_b, new_z, lipschitz


def _warn_not_converged(check, iteration, failed):
    if failed:
        message = (
            f"FISTA stopped after {iteration} iterations: the objective, its "
            "gradient or the step size is not finite in float64 (duality gap "
            f"{check.gap:.3e}). Scale the features and targets, for example with "
            "StandardScaler."
        )
    else:
        message = (
            f"FISTA did not converge: duality gap {check.gap:.3e} > tol * "
            f"null_objective = {check.threshold:.3e} after {iteration} iterations. "
            "Increase max_iter, raise tol, or scale the features."
        )
    warnings.warn(message, ConvergenceWarning, stacklevel=5)


def _polish_on_support(smooth, W, b, a1, a2, max_iter=300):
    """Minimise the objective over the current support by L-BFGS.

    On the support (the groups with a non-zero norm) the group norm is
    differentiable. With little regularisation and nearly separable classes
    the problem is so ill-conditioned that first-order steps crawl, while a
    quasi-Newton method (scipy's L-BFGS-B) converges; the duality gap, checked
    next, decides whether the result is optimal for the whole problem.
    Returns the better of the start and the result (``b`` in centred
    coordinates, as the iterates of :func:`_solve_design`).
    """
    support = np.flatnonzero(group_norms(W))
    if support.size == 0:
        return W, b
    shape = W[..., support].shape
    n_coef = int(np.prod(shape))

    def unpack(theta):
        W_new = np.zeros_like(W)
        W_new[..., support] = theta[:n_coef].reshape(shape)
        return W_new, theta[n_coef:].reshape(b.shape)

    def objective(theta):
        W_new, b_new = unpack(theta)
        z = smooth.predictions(W_new, b_new)
        coef = W_new[..., support]
        value = smooth.value(z, W_new, b_new) + penalty_value(coef, a1, a2)
        grad_W, grad_b = smooth.gradient(z, W_new, b_new)
        norms = np.maximum(group_norms(coef), np.finfo(float).tiny)
        grad_coef = grad_W[..., support] + a1 * coef / norms + a2 * coef
        return value, np.concatenate([grad_coef.ravel(), grad_b.ravel()])

    start = np.concatenate([W[..., support].ravel(), b.ravel()])
    result = optimize.minimize(
        objective,
        start,
        jac=True,
        method="L-BFGS-B",
        options={
            "maxiter": max_iter,
            "maxfun": 20 * max_iter,
            "ftol": 1e-15,
            "gtol": 1e-12,
        },
    )
    if np.isfinite(result.fun) and result.fun < objective(start)[0]:
        return unpack(result.x)
    return W, b


def _null_objective(smooth, shape):
    """Objective of the intercept-only model (``W = 0``, optimal intercepts)."""
    design = smooth.design
    z = np.zeros(design.y.shape + shape[1:-1])
    b = np.zeros(shape[:-1])
    if smooth.fit_intercept:
        b = fit_intercepts(design, smooth.loss, z, b, smooth.intercept_alpha)
        z = z + design.expand_intercept(b)
    return smooth.value(z, np.zeros(shape), b)


class _GapCheck:
    """Polish the intercepts, then compute the duality gap at ``(W, b)``."""

    def __init__(self, smooth, a1, a2, threshold):
        self.smooth = smooth
        self.a1, self.a2 = a1, a2
        self.threshold = threshold
        self.gap = np.inf
        self.primal = np.inf

    def __call__(self, W, centred_b):
        """Return ``(W, b', z, converged)``; ``b'`` in centred coordinates."""
        smooth = self.smooth
        design, loss = smooth.design, smooth.loss
        z = design.predict(W)
        b = centred_b - smooth.offset(W)
        if smooth.fit_intercept:
            b = fit_intercepts(design, loss, z, b, smooth.intercept_alpha)
            z = z + design.expand_intercept(b)
        self.intercept = b
        nu = generalized_residual(design, loss, z)
        correlation = design.correlate(design.scale_like(nu) * nu)
        result = duality_gap(
            design,
            loss,
            z,
            W,
            b,
            correlation,
            self.a1,
            self.a2,
            fit_intercept=smooth.fit_intercept,
            intercept_alpha=smooth.intercept_alpha,
        )
        self.gap, self.primal = result.gap, result.primal
        done = result.gap <= self.threshold
        return W, b + smooth.offset(W), z, done
