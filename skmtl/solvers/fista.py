"""Accelerated proximal gradient (FISTA) for any loss with any proximable penalty.

The problem (docs/user_guide/regularization.rst, docs/architecture.rst)::

    minimise  sum_t (1 / n_t) sum_{i in t} s_i loss(y_i, x_i . w_t + b_t)
              + penalty(W)
              + (intercept_alpha / 2) sum_t ||b_t - mean_s b_s||^2

for the squared, logistic and multinomial losses of :mod:`skmtl.losses`
(multinomial: ``W`` is ``(n_tasks, n_classes, n_features)``) and any penalty
of :mod:`skmtl.penalties`: the L2,1 norm of joint-feature learning (the
default, from ``alpha`` and ``l1_ratio``), the trace norm, and
decompositions ``W = P + Q`` with a penalty on each block, whose blocks are
the iterates. The intercepts are smooth variables of the gradient step; the
penalty is handled by its proximal operator.

Steps use backtracking on the Lipschitz constant, started from
``loss.curvature`` times the largest eigenvalue of the design (power
iteration), and the momentum is reset by the gradient-based adaptive restart
of O'Donoghue & Candes (2015). Every ``check_every`` iterations the
intercepts are polished by Newton's method
(:func:`~skmtl.solvers._l21.fit_intercepts`), which makes the generalised
residuals dual feasible with respect to the intercepts, and the duality gap
is computed from the penalty's dual (``penalty.dual_value``: the generalised
residuals rescaled into the dual ball; the squared gradient norm when no
penalty is positive, where no bounded dual exists); the solver stops when
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
from ..penalties import L21, stationarity_criterion
from ._design import (
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
from ._l21 import group_norms
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
    alpha=None,
    l1_ratio=1.0,
    penalty=None,
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
    alpha : float, default=None
        Overall strength of the L2,1 penalty (>= 0), when ``penalty`` is None.
    l1_ratio : float, default=1.0
        Share of the group-norm penalty, in [0, 1], when ``penalty`` is None.
    penalty : penalty of :mod:`skmtl.penalties`, default=None
        Any penalty with a proximal operator; ``L21(alpha, l1_ratio)`` if
        None. For a :class:`~skmtl.penalties.Decomposition` the result's
        ``coef`` is ``W = P + Q`` and ``extra["blocks"]`` holds ``(P, Q)``.
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
        L2,1 penalty only: every 500 iterations without convergence,
        minimise over the current support by L-BFGS
        (:func:`_polish_on_support`), which converges where little
        regularisation makes first-order steps crawl.

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
    if penalty is None:
        if alpha is None:
            raise TypeError("solve() needs a penalty or the L2,1 strength alpha.")
        penalty = L21(alpha, l1_ratio)
    multinomial = loss.multiclass
    design = make_design(data, targets, multinomial=multinomial)
    return solve_design(
        design,
        loss,
        penalty,
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

    Tied intercepts with the squared loss are ``profiled``: every step sets
    them to their exact minimiser for the new ``W``
    (:meth:`profiled_intercepts`), so that the step on ``W`` is not limited
    by the tie's curvature ``intercept_alpha`` (FISTA would otherwise crawl
    for a strong tie). The minimiser is affine in ``W``, so the extrapolated
    points keep optimal intercepts as well.
    """

    def __init__(self, design, loss, fit_intercept, intercept_alpha):
        self.design = design
        self.loss = loss
        self.fit_intercept = fit_intercept
        self.intercept_alpha = intercept_alpha if fit_intercept else 0.0
        self.means = design.column_moments()[0] if fit_intercept else None
        self.profiled = bool(self.intercept_alpha) and loss.name == "squared"
        if self.profiled:
            n_tasks = design.n_tasks
            self.task_weights = design.task_sums(design.scale).reshape(n_tasks)

    def profiled_intercepts(self, W):
        """Optimal centred intercepts for ``W`` and the predictions (squared loss).

        With ``D_t`` the weight of task ``t`` and ``m_t`` its weighted mean
        residual, ``b_t = (D_t m_t + a b_0) / (D_t + a)`` and ``b_0`` the mean
        of the ``m_t`` weighted by ``D_t / (D_t + a)``, ``a = intercept_alpha``.
        """
        design, alpha = self.design, self.intercept_alpha
        z = design.predict(W)
        weights = self.task_weights
        residual_sums = -design.task_sums(scaled_gradient(design, self.loss, z))
        means = residual_sums.reshape(weights.shape) / weights
        shrink = weights / (weights + alpha)
        shared = float(np.dot(shrink, means) / shrink.sum())
        intercept = shrink * means + (1.0 - shrink) * shared
        return intercept + self.offset(W), z + design.expand_intercept(intercept)

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
        tie = 0.0 if self.profiled else 2.0 * self.intercept_alpha
        return self.loss.curvature * value + tie


def solve_design(
    design,
    loss,
    penalty,
    a2=None,
    *,
    n_classes=None,
    coef_init=None,
    intercept_init=None,
    **options,
):
    """FISTA on a prepared design; see :func:`solve` for the parameters.

    ``penalty`` is a penalty of :mod:`skmtl.penalties`; two numbers
    ``(a1, a2)`` instead give the L2,1 penalty with group strength ``a1`` and
    ridge strength ``a2``. ``coef_init`` holds the stacked blocks of a
    decomposition (or ``W`` for a single penalty).

    Small designs run with a single BLAS thread
    (:func:`skmtl._config.blas_threads_for`): their products are too short
    to gain from threads, and lose much to them on a busy machine. A
    rescaled design (``design.scaling``) is solved in its own units and the
    result mapped back to those of the original data.
    """
    if a2 is not None:
        a1 = float(penalty)
        total = a1 + float(a2)
        penalty = L21(total, a1 / total if total else 1.0)
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
            penalty.rescaled(scaling),
            n_classes=n_classes,
            coef_init=scaling.coef_in(coef_init),
            intercept_init=scaling.intercept_in(intercept_init),
            **options,
        )
    if "blocks" in result.extra:
        result.extra["blocks"] = scaling.coef_out(result.extra["blocks"])
    return unscale_result(result, scaling)


def _solve_design(
    design,
    loss,
    penalty,
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
    W_shape = zero_coef(design, n_classes).shape
    C = np.zeros(penalty.blocks_shape(W_shape))
    if coef_init is not None:
        C = np.array(coef_init, dtype=float).reshape(C.shape)
    b = (
        np.zeros(W_shape[:-1])
        if intercept_init is None or not fit_intercept
        else np.array(intercept_init, dtype=float)
    )
    # Both depend on the data only: computed once per design along a path.
    key = (loss.name, fit_intercept, smooth.intercept_alpha, W_shape)
    if key not in design.cache:
        design.cache[key] = (
            max(smooth.lipschitz(W_shape, b.shape), np.finfo(float).tiny),
            _null_objective(smooth, W_shape),
        )
    lipschitz, null_objective = design.cache[key]
    # The data term of W = sum of the blocks: its curvature in the blocks is
    # at most n_blocks times that in W.
    lipschitz = lipschitz * penalty.n_blocks
    smallest_lipschitz = np.ldexp(lipschitz, -40)
    check = _GapCheck(smooth, penalty, tol * null_objective)
    C, b, z, done = check(C, b + smooth.offset(penalty.combine(C)))
    y_C, y_b, z_y, momentum = C, b, z, 1.0
    iteration, failed = 0, not np.isfinite(check.gap)
    polish = polish_every if getattr(penalty, "polish_on_support", False) else None
    while not done and not failed and iteration < max_iter:
        iteration += 1
        grad_W, grad_b = smooth.gradient(z_y, penalty.combine(y_C), y_b)
        grad_C = penalty.spread(grad_W)
        # Try a longer step first: the local curvature of the logistic loss
        # is often far below its global bound (Scheinberg et al. 2014).
        previous_lipschitz = lipschitz
        # Never below 2^-40 of the global bound: a zero step (at the optimum
        # to rounding) passes every test, and the estimate would otherwise
        # shrink without limit, then need more than _MAX_BACKTRACKS doublings.
        lipschitz = max(lipschitz * _DECREASE, smallest_lipschitz)
        step = _backtracking_step(
            smooth, penalty, (y_C, y_b, z_y), (grad_C, grad_b), lipschitz
        )
        if step is None:
            # Values beyond float64: no step size gives a finite decrease.
            failed = True
            break
        new_C, new_b, new_z, lipschitz = step
        restart = (
            float(np.vdot(y_C - new_C, new_C - C) + np.vdot(y_b - new_b, new_b - b)) > 0
        )
        if restart:
            y_C, y_b, z_y, momentum = new_C, new_b, new_z, 1.0
        else:
            ratio = previous_lipschitz / lipschitz
            next_momentum = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * ratio * momentum**2))
            beta = (momentum - 1.0) / next_momentum
            y_C = new_C + beta * (new_C - C)
            y_b = new_b + beta * (new_b - b)
            z_y = new_z + beta * (new_z - z)
            momentum = next_momentum
        C, b, z = new_C, new_b, new_z
        if iteration % check_every == 0 or iteration == max_iter:
            if polish and iteration % polish == 0 and iteration < max_iter:
                C, b = _polish_on_support(smooth, C, b, penalty)
            C, b, z, done = check(C, b)
            # The polished intercepts moved the iterate: restart the momentum.
            y_C, y_b, z_y, momentum = C, b, z, 1.0
    if not done and iteration < max_iter:
        C, b, z, done = check(C, b)
    failed = failed or not np.isfinite(check.gap)
    if warn and not done:
        _warn_not_converged(check, iteration, failed)
    extra = {"lipschitz": lipschitz, "null_objective": check.threshold / tol}
    if penalty.n_blocks > 1:
        extra["blocks"] = C
    return SolverResult(
        coef=penalty.combine(C),
        intercept=check.intercept,
        n_iter=iteration,
        objective=check.primal,
        gap=check.gap,
        converged=bool(done),
        extra=extra,
    )


def _backtracking_step(smooth, penalty, point, gradient, lipschitz):
    """Proximal gradient step from ``point`` with backtracking on ``lipschitz``.

    Doubles the Lipschitz estimate until the sufficient decrease holds, at
    most :data:`_MAX_BACKTRACKS` times; a step that rounds to zero, or the
    step at the last doubling (of the order of the rounding of the iterate:
    near the optimum, rounding in the predictions can defeat the test), is
    taken as it is. Returns ``(C, b, z, lipschitz)``, or None when the
    estimate or the curvature is not finite (values overflowing float64).
    """
    y_C, y_b, z_y = point
    grad_C, grad_b = gradient
    for _ in range(_MAX_BACKTRACKS):
        if not np.isfinite(lipschitz):
            return None
        new_C = penalty.prox(y_C - grad_C / lipschitz, 1.0 / lipschitz)
        if smooth.profiled:
            # The step is on W alone; the intercepts follow exactly.
            new_b, new_z = smooth.profiled_intercepts(penalty.combine(new_C))
        else:
            new_b = y_b - grad_b / lipschitz
            new_z = smooth.predictions(penalty.combine(new_C), new_b)
        step_C, step_b = new_C - y_C, new_b - y_b
        squared_step = float(np.vdot(step_C, step_C))
        if not smooth.profiled:
            squared_step += float(np.vdot(step_b, step_b))
        curvature = smooth.curvature(z_y, new_z - z_y, penalty.combine(step_C), step_b)
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
    return new_C, new_b, new_z, lipschitz


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


def _polish_on_support(smooth, W, b, penalty, max_iter=300):
    """Minimise the objective over the current support by L-BFGS.

    On the support (the groups with a non-zero norm) the group norm is
    differentiable. With little regularisation and nearly separable classes
    the problem is so ill-conditioned that first-order steps crawl, while a
    quasi-Newton method (scipy's L-BFGS-B) converges; the duality gap, checked
    next, decides whether the result is optimal for the whole problem.
    Returns the better of the start and the result (``b`` in centred
    coordinates, as the iterates of :func:`_solve_design`).
    """
    a1, a2 = penalty.strengths
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
        value = smooth.value(z, W_new, b_new) + penalty.value(coef)
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
    """Polish the intercepts, then compute the duality gap at ``(C, b)``."""

    def __init__(self, smooth, penalty, threshold):
        self.smooth = smooth
        self.penalty = penalty
        self.threshold = threshold
        self.gap = np.inf
        self.primal = np.inf

    def __call__(self, C, centred_b):
        """Return ``(C, b', z, converged)``; ``b'`` in centred coordinates."""
        smooth, penalty = self.smooth, self.penalty
        design, loss = smooth.design, smooth.loss
        W = penalty.combine(C)
        z = design.predict(W)
        b = centred_b - smooth.offset(W)
        tied = smooth.fit_intercept and smooth.intercept_alpha > 0
        if smooth.fit_intercept:
            b = fit_intercepts(design, loss, z, b, smooth.intercept_alpha)
            z = z + design.expand_intercept(b)
        self.intercept = b
        nu = generalized_residual(design, loss, z)
        weighted = design.scale_like(nu) * nu
        correlation = design.correlate(weighted)
        primal = data_term(design, loss, z) + penalty.value(C)
        intercept_term = 0.0
        if tied:
            primal += intercept_penalty(b, smooth.intercept_alpha)
            sums = design.task_sums(weighted)
            intercept_term = float(np.vdot(sums, sums)) / (2 * smooth.intercept_alpha)
        dual = penalty.dual_value(
            lambda kappa: conjugate_term(design, loss, kappa * nu),
            correlation,
            W,
            intercept_term,
        )
        if np.isfinite(dual):
            self.gap = primal - dual
        else:
            # No bounded dual: the squared gradient norm is the criterion.
            self.gap = stationarity_criterion(penalty, correlation, W)
        self.primal = primal
        done = self.gap <= self.threshold
        return C, b + smooth.offset(W), z, done
