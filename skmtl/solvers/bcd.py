"""Block coordinate descent for the L2,1 problem with the squared loss.

The problem (docs/user_guide/regularization.rst)::

    minimise  sum_t (1 / n_t) sum_{i in t} s_i 0.5 (y_i - x_i . w_t - b_t)^2
              + a1 sum_j ||W[:, j]||_2 + (a2 / 2) ||W||_F^2

with ``a1 = alpha * l1_ratio`` and ``a2 = alpha * (1 - l1_ratio)``. The
intercepts are kept at their optimum for the current ``W`` by weighted
centring, task by task.

The solver is block coordinate descent over *blocks of feature groups*, as in
celer and skglm (Massias et al. 2018; Bertrand et al. 2022). Each outer
iteration

1. computes the residuals, a feasible dual point by rescaling them
   (:func:`skmtl.solvers._l21.duality_gap`) and the duality gap, and stops
   when ``gap <= tol * P(0)``, ``P(0)`` the objective of the intercept-only
   model (see *Stopping rule* below);
2. discards the features that the gap safe sphere test proves inactive
   (Ndiaye et al. 2015);
3. picks a working set: the current support plus the features closest to
   violating their dual constraint, at least twice the support and growing
   geometrically;
4. minimises over that block of groups with the other groups at zero.

The block subproblem is solved through the centred, weighted Gram matrices of
its columns (no pass over the rows inside the loop; cached across the working
sets of a solve and the ``alpha`` of a path), or through the columns
themselves when the Gram matrices would be too large. The default inner
solver is accelerated proximal gradient with adaptive restart, vectorised
over the whole block. Cyclic descent over the groups of the block (exact
block minimisation on a shared design; Simon, Friedman & Hastie 2013), the
textbook inner solver, is available as ``inner="cd"``: in pure numpy its
per-feature Python-level update costs more than the extra iterations of the
vectorised solver (measured in ``benchmarks/bench_joint_feature.py``).

**Stopping rule.** The run stops at the first duality-gap check with
``gap <= tol * P(0)``. Since the gap bounds the suboptimality, this
guarantees ``P(W) - P* <= tol * P(0)``: the excess objective is at most
``tol`` times the objective of the intercept-only model. scikit-learn's
``MultiTaskLasso`` (coordinate descent in
``sklearn/linear_model/_cd_fast.pyx``) computes the gap only
after an epoch in which no coefficient moved by more than ``tol`` times the
largest coefficient (``max_j |dW_j| <= tol * max_j |W_j|``), and then stops
when ``gap <= tol * ||Y - mean||_F^2 / n = tol * 2 P(0)``. Its guarantee on
the objective is therefore ``P(W) - P* <= 2 tol P(0)``, twice skmtl's bound.
The condition on the updates bounds nothing by itself but can only delay
the stop: scikit-learn keeps running while some coefficient still moves by
more than ``tol`` relative to the largest, and on some problems (several of
its own tests) ends far below either gap threshold, whereas skmtl stops as
soon as its bound holds. To match scikit-learn's solutions that closely,
pass a smaller ``tol``; the guarantee stays the one above.

References
----------
N. Simon, J. Friedman and T. Hastie. A blockwise descent algorithm for
group-penalized multiresponse and multinomial regression. arXiv:1311.6529,
2013.

E. Ndiaye, O. Fercoq, A. Gramfort and J. Salmon. Gap safe screening rules for
sparse multi-task and multi-class models. NeurIPS, 2015.

M. Massias, A. Gramfort and J. Salmon. Celer: a fast solver for the Lasso with
dual extrapolation. ICML, 2018.

Q. Bertrand, Q. Klopfenstein, P.-A. Bannier, G. Gidel and M. Massias. Beyond
L1: faster and better sparse models with skglm. NeurIPS, 2022.
"""

import functools
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.extmath import safe_sparse_dot

from .._config import blas_threads_for
from ..losses import SquaredLoss
from . import _cd_kernels
from ._design import GRAM_BUDGET, make_design
from ._l21 import (
    dual_value,
    duality_gap,
    group_norms,
    group_soft_threshold,
    penalty_strengths,
    penalty_value,
)
from ._result import SolverResult
from ._scaling import unscale_result

#: A working-set subproblem is solved until its gap is this fraction of the
#: outer gap (or 0.3 tol, whichever is larger): loose enough that early,
#: small working sets cost little, tight enough that each outer iteration,
#: which costs a product with the whole design, gains an order of magnitude.
INNER_RATIO = 0.1


def solve(
    data,
    loss=None,
    *,
    alpha,
    l1_ratio=1.0,
    fit_intercept=True,
    tol=1e-4,
    max_iter=1000,
    coef_init=None,
    screening=True,
    working_set=True,
    inner="auto",
    warn=True,
):
    """Solve the L2,1 squared-loss problem of a :class:`~skmtl._tasks.TaskData`.

    Parameters
    ----------
    data : TaskData
        Observations grouped by task.
    loss : SquaredLoss or None, default=None
        Only the squared loss is supported.
    alpha : float
        Overall penalty strength (>= 0).
    l1_ratio : float, default=1.0
        Share of the group-norm penalty, in [0, 1].
    fit_intercept : bool, default=True
        Fit one unpenalised intercept per task.
    tol : float, default=1e-4
        Stop when the duality gap is at most ``tol`` times the objective of
        the intercept-only model, ``P(0) = sum_t (1 / n_t) sum_{i in t}
        s_i 0.5 (y_i - ybar_t)^2``, which guarantees an objective within
        ``tol * P(0)`` of the optimum (scikit-learn's rule differs; see the
        module's *Stopping rule*).
    max_iter : int, default=1000
        Maximum number of epochs (sweeps over a working set), summed over
        the outer iterations.
    coef_init : ndarray of shape (n_tasks, n_features), default=None
        Warm start.
    screening : bool, default=True
        Discard features proven inactive by the gap safe sphere test.
    working_set : bool, default=True
        Solve growing subproblems; ``False`` works on every kept feature.
    inner : {"auto", "cd", "apg"}, default="auto"
        Solver of the working-set subproblems: cyclic descent over its
        feature groups with the residuals kept up to date (compiled with
        numba, the ``fast`` extra; without numba a per-feature Python loop
        over Gram matrices), or accelerated proximal gradient (vectorised
        over the working set). ``"auto"`` is ``"cd"`` for dense ``X`` when
        numba is installed and ``"apg"`` otherwise.
    warn : bool, default=True
        Raise a ``ConvergenceWarning`` when ``tol`` is not met.

    Returns
    -------
    result : SolverResult
        ``gap`` is the duality gap, ``objective`` the primal value.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl._tasks import check_task_data
    >>> from sklearn.linear_model import MultiTaskLasso
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(30, 5))
    >>> Y = X[:, :2] @ rng.normal(size=(2, 3))
    >>> data = check_task_data(MultiTaskLasso(), X, Y)
    >>> result = solve(data, alpha=0.1, tol=1e-10)
    >>> reference = MultiTaskLasso(alpha=0.1, tol=1e-12).fit(X, Y)
    >>> bool(np.allclose(result.coef, reference.coef_, atol=1e-8))
    True
    """
    if loss is not None and loss.name != "squared":
        raise ValueError(
            f"The BCD solver handles the squared loss only; got {loss.name!r}. "
            "Use solver='fista' for other losses."
        )
    design = make_design(data)
    a1, a2 = penalty_strengths(alpha, l1_ratio)
    return solve_design(
        design,
        a1,
        a2,
        fit_intercept=fit_intercept,
        tol=tol,
        max_iter=max_iter,
        coef_init=coef_init,
        screening=screening,
        working_set=working_set,
        inner=inner,
        warn=warn,
    )


def solve_design(
    design,
    a1,
    a2,
    *,
    fit_intercept=True,
    tol=1e-4,
    max_iter=1000,
    coef_init=None,
    screening=True,
    working_set=True,
    inner="auto",
    warn=True,
    initial_working_set=10,
):
    """BCD on a prepared design; see :func:`solve` for the parameters.

    Designs whose largest product has up to
    :data:`skmtl._config.SINGLE_THREAD_BELOW` multiply-adds run with one BLAS
    thread throughout (:func:`skmtl._config.blas_threads_for`); larger ones
    use every thread for the products with the whole design. A rescaled
    design (``design.scaling``) is solved in its own units and the result
    mapped back to those of the original data.
    """
    scaling = design.scaling
    # Overflow ends the run with a ConvergenceWarning that says so; numpy's
    # own warnings on the way would only repeat it.
    with (
        np.errstate(over="ignore", invalid="ignore"),
        blas_threads_for(design.product_size()),
    ):
        result = _solve_design(
            design,
            *scaling.l21_strengths(a1, a2),
            fit_intercept=fit_intercept,
            tol=tol,
            max_iter=max_iter,
            coef_init=scaling.coef_in(coef_init),
            screening=screening,
            working_set=working_set,
            inner=inner,
            warn=warn,
            initial_working_set=initial_working_set,
        )
    return unscale_result(result, scaling)


def _solve_design(
    design,
    a1,
    a2,
    *,
    fit_intercept,
    tol,
    max_iter,
    coef_init,
    screening,
    working_set,
    inner,
    warn,
    initial_working_set,
):
    problem = _Problem(design, a1, a2, fit_intercept)
    W = (
        np.zeros((design.n_tasks, design.n_features))
        if coef_init is None
        else np.array(coef_init, dtype=float)
    )
    kept = np.arange(design.n_features)
    n_epochs, ws_size = 0, 0
    # Relative to the objective of the intercept-only model, so that tol
    # means the same for any scale of y and number of rows (module docstring:
    # how this differs from scikit-learn's rule).
    threshold = tol * problem.null_primal
    converged = False
    while True:
        state, intercept = problem.state(W)
        if state.gap <= threshold:
            converged = True
            break
        if n_epochs >= max_iter or not np.isfinite(state.gap):
            break
        if screening and a1 > 0:
            kept, W = problem.screen(state, kept, W)
        if working_set and a1 > 0:
            ws_size = _next_size(ws_size, W, kept, initial_working_set)
            ws = problem.working_set(state, kept, W, ws_size)
        else:
            ws = kept
        if ws.size < kept.size:
            target = max(0.3 * threshold, INNER_RATIO * state.gap)
        else:
            # Every kept feature is in play: stop the sweeps early so that the
            # next gap, ten times smaller, screens more (dynamic screening).
            target = max(threshold, 0.1 * state.gap) if screening else threshold
        W[:, ws], epochs = problem.solve_subproblem(
            ws, W[:, ws], target, max_iter - n_epochs, inner
        )
        n_epochs += max(epochs, 1)
    if warn and not converged:
        _warn_not_converged(state.gap, threshold, n_epochs)
    return SolverResult(
        coef=W,
        intercept=intercept,
        n_iter=n_epochs,
        objective=state.primal,
        gap=state.gap,
        converged=converged,
        extra={
            "n_screened": design.n_features - kept.size,
            "ws_size": ws_size,
            "null_objective": problem.null_primal,
        },
    )


def _warn_not_converged(gap, threshold, n_epochs):
    if np.isfinite(gap):
        message = (
            f"BCD did not converge: duality gap {gap:.3e} > tol * "
            f"null_objective = {threshold:.3e} after {n_epochs} epochs. Increase "
            "max_iter, raise tol, or scale the features."
        )
    else:
        message = (
            f"BCD stopped after {n_epochs} epochs: the duality gap is {gap} in "
            "float64. Scale the features and targets, for example with "
            "StandardScaler."
        )
    warnings.warn(message, ConvergenceWarning, stacklevel=5)


def _next_size(previous, W, kept, initial):
    """Twice the support, never shrinking; four times a saturated working set.

    A subproblem whose solution uses every feature of its working set says
    that the support is still growing fast: quadrupling saves outer
    iterations, each of which costs a product with the whole design.
    """
    n_support = int(np.count_nonzero(group_norms(W[:, kept])))
    size = max(initial, 2 * n_support, previous)
    if previous and n_support >= previous:
        size = max(size, 4 * previous)
    return min(size, kept.size)


class _Problem:
    """Precomputed per-task column statistics of one squared-loss problem."""

    def __init__(self, design, a1, a2, fit_intercept):
        self.design = design
        self.a1, self.a2 = a1, a2
        self.fit_intercept = fit_intercept
        self.loss = SquaredLoss()
        means, second = design.column_moments()
        if fit_intercept:
            self.column_means = means
            self.target_means = design.task_sums(design.scale * design.y)
            # Centred weighted column norms; clip rounding below zero.
            self.column_norms2 = np.maximum(second - means**2, 0.0)
        else:
            self.column_means = np.zeros_like(means)
            self.target_means = np.zeros(design.n_tasks)
            self.column_norms2 = second
        self.lipschitz = self.column_norms2.max(axis=0)
        centred_y = design.y - design.expand_intercept(self.target_means)
        weighted_y = design.scale * centred_y
        self.target_norms2 = design.task_sums(weighted_y * centred_y)
        self.null_primal = 0.5 * float(np.sum(self.target_norms2))

    @property
    def target_correlation(self):
        """``sum_{i in t} c_i (y_i - ybar_t) x_i``: one product with the design.

        Only the Gram subproblems need it; kept in the design's cache for
        the ``alpha`` of a path.
        """
        key = ("target_correlation", self.fit_intercept)
        cache = self.design.cache
        if key not in cache:
            design = self.design
            centred_y = design.y - design.expand_intercept(self.target_means)
            cache[key] = design.correlate(design.scale * centred_y)
        return cache[key]

    def compiled_inputs(self):
        """The design F-ordered and the scales, laid out for the compiled epochs.

        Made once per design (one copy of ``X`` unless it is F-ordered
        already) and kept in its cache for the ``alpha`` of a path.
        """
        cache = self.design.cache
        if "compiled_inputs" not in cache:
            scale = self.design.scale
            cache["compiled_inputs"] = (
                np.asfortranarray(self.design.X, dtype=float),
                np.ascontiguousarray(scale, dtype=float)
                if scale.ndim == 1
                else np.asfortranarray(scale, dtype=float),
            )
        return cache["compiled_inputs"]

    def state(self, W):
        design = self.design
        support = np.flatnonzero(group_norms(W))
        z = _predict(design, _design_columns(self, support), W[:, support])
        intercept = (
            design.task_sums(design.scale * (design.y - z))
            if self.fit_intercept
            else np.zeros(design.n_tasks)
        )
        z = z + design.expand_intercept(intercept)
        correlation = design.correlate(design.scale * (design.y - z))
        gap = duality_gap(
            design,
            self.loss,
            z,
            W,
            intercept,
            correlation,
            self.a1,
            self.a2,
            fit_intercept=self.fit_intercept,
        )
        return gap, intercept

    def screen(self, state, kept, W):
        """Gap safe sphere test: drop features whose group is zero at the optimum."""
        radius = np.sqrt(2.0 * max(state.screening_gap, 0.0))
        norms = state.kappa * state.constraint_norms[kept]
        bound = norms + radius * np.sqrt(self.lipschitz[kept] + self.a2)
        inactive = bound < self.a1
        if inactive.any():
            W = W.copy()
            W[:, kept[inactive]] = 0.0
            kept = kept[~inactive]
        return kept, W

    def working_set(self, state, kept, W, size):
        """The ``size`` kept features closest to violating their constraint."""
        scale = np.sqrt(self.lipschitz[kept] + self.a2)
        with np.errstate(divide="ignore", invalid="ignore"):
            priority = (self.a1 - state.kappa * state.constraint_norms[kept]) / scale
        priority[~np.isfinite(priority)] = np.inf
        priority[group_norms(W[:, kept]) > 0] = -np.inf
        if size >= kept.size:
            return kept
        chosen = np.argpartition(priority, size - 1)[:size]
        return np.sort(kept[chosen])

    def solve_subproblem(self, ws, W_ws, target, max_epochs, inner="auto"):
        """Minimise over ``W[:, ws]`` with the other columns at zero."""
        compiled = _cd_kernels.AVAILABLE and not sp.issparse(self.design.X)
        if inner == "auto":
            inner = "cd" if compiled else "apg"
        if inner == "cd" and compiled:
            operator = _ResidualOperator(self, ws)
            with blas_threads_for(0):
                return _compiled_descent(operator, W_ws, target, max_epochs)
        use_gram = self.design.gram_size(ws.size) <= GRAM_BUDGET and (
            ws.size <= 4 * self.design.X.shape[0]
        )
        # Building the operator (Gram matrices) may use every BLAS thread; the
        # iterations, many medium-sized products, run on one whatever their
        # size (threads waiting for a busy core cost more than they bring).
        operator = _GramOperator(self, ws) if use_gram else _ResidualOperator(self, ws)
        with blas_threads_for(0):
            if inner == "cd" and use_gram:
                return _cyclic_descent(operator, W_ws, target, max_epochs)
            return _accelerated_gradient(operator, W_ws, target, max_epochs)


def _columns(X, columns):
    return X[:, columns]


def _design_columns(problem, columns):
    """``X[:, columns]``, gathered from the F-ordered copy when there is one."""
    compiled = problem.design.cache.get("compiled_inputs")
    return _columns(problem.design.X if compiled is None else compiled[0], columns)


def _predict(design, X_columns, W_columns):
    """``x_i . w_{t_i}`` over some columns, in the design's layout."""
    if W_columns.shape[1] == 0:
        return np.zeros_like(design.y)
    if design.layout != "long":
        return np.asarray(safe_sparse_dot(X_columns, W_columns.T, dense_output=True))
    z = np.empty(X_columns.shape[0])
    for t in range(design.n_tasks):
        rows = slice(design.offsets[t], design.offsets[t + 1])
        z[rows] = safe_sparse_dot(X_columns[rows], W_columns[t], dense_output=True)
    return z


# --------------------------------------------------------------------------
# the subproblem on a working set: two views of its quadratic data term
# --------------------------------------------------------------------------


class _Operator:
    """The data term of a working-set subproblem, ``0.5 |P X W - y_c|_C^2``.

    ``image(W)`` is a linear image of ``W`` from which the gradient and the
    curvature along a step follow without another pass over the data:
    ``G W`` for the Gram view, the centred predictions for the residual view.
    """

    def __init__(self, problem, ws):
        self.problem = problem
        self.ws = ws
        self.a1, self.a2 = problem.a1, problem.a2

    def penalty(self, W):
        return penalty_value(W, self.a1, self.a2)

    def gap_from(self, W, correlation, residual_norm2, residual_target):
        """Duality gap from residual sums (squared loss).

        ``sum_i c_i loss*(y_i, -kappa r_i) = kappa^2 |r|_C^2 / 2 - kappa r.y``.
        """
        primal = 0.5 * residual_norm2 + self.penalty(W)
        return dual_value(
            lambda kappa: 0.5 * kappa**2 * residual_norm2 - kappa * residual_target,
            correlation,
            W,
            self.a1,
            self.a2,
            primal,
        ).gap

    def lipschitz(self, n_power=8):
        """Largest eigenvalue of the data Hessian (power iteration).

        A few iterations suffice: an underestimate is corrected by the
        backtracking of :func:`_accelerated_gradient`.
        """
        rng = np.random.default_rng(0)
        vector = rng.standard_normal((self.problem.design.n_tasks, self.ws.size))
        value = 0.0
        for _ in range(n_power):
            vector /= np.sqrt(np.vdot(vector, vector))
            image = self.image(vector)
            value = self.curvature(image, vector)
            vector = self.hessian_times(image, vector)
            if not np.any(vector):
                break
        return value


class _GramOperator(_Operator):
    """Centred, weighted Gram matrices of the working set: no pass over rows."""

    def __init__(self, problem, ws):
        super().__init__(problem, ws)
        design = problem.design
        self.uniform = design.uniform
        gram = design.gram(ws)
        means = problem.column_means[:, ws]
        if self.uniform:
            self.gram = gram - np.outer(means[0], means[0])
        else:
            self.gram = gram - means[:, :, None] * means[:, None, :]
        self.target_correlation = problem.target_correlation[:, ws]
        self.target_norms2 = problem.target_norms2
        self.diagonal = problem.lipschitz[ws]

    def image(self, W):
        if self.uniform:
            return W @ self.gram
        return np.einsum("tkl,tl->tk", self.gram, W)

    def lipschitz(self, n_power=8):
        """Largest eigenvalue of the Gram matrices: exact when they are small."""
        if self.ws.size > 200:
            return super().lipschitz(n_power)
        return float(np.max(np.linalg.eigvalsh(self.gram), initial=0.0))

    def hessian_times(self, image, W):
        return image

    def correlation(self, image):
        return self.target_correlation - image

    def curvature(self, image_step, step):
        return float(np.vdot(step, image_step))

    def _residual_sums(self, W, image):
        linear = np.einsum("tk,tk->t", self.target_correlation, W)
        quadratic = np.einsum("tk,tk->t", W, image)
        residual_norm2 = np.maximum(self.target_norms2 - 2 * linear + quadratic, 0.0)
        return float(residual_norm2.sum()), float(np.sum(self.target_norms2 - linear))

    def primal(self, W, image):
        return 0.5 * self._residual_sums(W, image)[0] + self.penalty(W)

    def gap(self, W, image):
        residual_norm2, residual_target = self._residual_sums(W, image)
        return self.gap_from(
            W, self.correlation(image), residual_norm2, residual_target
        )


class _ResidualOperator(_Operator):
    """Products with the working-set columns, for sets too large for a Gram."""

    def __init__(self, problem, ws):
        super().__init__(problem, ws)
        self.design = problem.design
        self.X = _design_columns(problem, ws)
        self.centred_y = self.design.y - self.design.expand_intercept(
            problem.target_means
        )

    def image(self, W):
        """Centred predictions ``P X W`` (the intercepts absorb the means)."""
        design = self.design
        z = _predict(design, self.X, W)
        if self.problem.fit_intercept:
            means = design.task_sums(design.scale * z)
            z = z - design.expand_intercept(means)
        return z

    def correlate(self, values):
        design = self.design
        weighted = design.scale * values
        if design.layout != "long":
            return np.asarray(safe_sparse_dot(self.X.T, weighted, dense_output=True)).T
        out = np.empty((design.n_tasks, self.ws.size))
        for t in range(design.n_tasks):
            rows = slice(design.offsets[t], design.offsets[t + 1])
            out[t] = safe_sparse_dot(self.X[rows].T, weighted[rows])
        return out

    def hessian_times(self, image, W):
        return self.correlate(image)

    def correlation(self, image):
        return self.correlate(self.centred_y - image)

    def curvature(self, image_step, step):
        return float(np.sum(self.design.scale * image_step * image_step))

    def primal(self, W, image):
        residual = self.centred_y - image
        data = 0.5 * float(np.sum(self.design.scale * residual * residual))
        return data + self.penalty(W)

    def gap(self, W, image):
        residual = self.centred_y - image
        weighted = self.design.scale * residual
        return self.gap_from(
            W,
            self.correlate(residual),
            float(np.sum(weighted * residual)),
            float(np.sum(weighted * self.centred_y)),
        )


def _accelerated_gradient(operator, W, target, max_iter, check_every=10):
    """FISTA with backtracking and gradient-based adaptive restart.

    The image of the extrapolated point is the same combination of the images
    of the iterates, so one product per iteration gives both the gradient and
    the exact curvature along the step (for the backtracking test).

    References
    ----------
    B. O'Donoghue and E. Candes. Adaptive restart for accelerated gradient
    schemes. Foundations of Computational Mathematics, 15:715-732, 2015.
    """
    a1, a2 = operator.a1, operator.a2
    x = np.array(W, dtype=float)
    image_x = operator.image(x)
    y, image_y, momentum = x, image_x, 1.0
    lipschitz = max(operator.lipschitz(), np.finfo(float).tiny)
    iteration = 0
    for iteration in range(1, max_iter + 1):
        correlation = operator.correlation(image_y)
        # At most 60 doublings: the estimate starts from the largest
        # eigenvalue, so more means values float64 cannot resolve (NaN, inf).
        for _ in range(60):
            x_new = group_soft_threshold(
                y + correlation / lipschitz, a1 / lipschitz, 1 / (1 + a2 / lipschitz)
            )
            image_new = operator.image(x_new)
            step = x_new - y
            squared_step = float(np.vdot(step, step))
            if operator.curvature(image_new - image_y, step) <= lipschitz * (
                squared_step * (1 + 1e-10)
            ):
                break
            lipschitz *= 2.0
        else:
            return x, iteration
        if np.vdot(y - x_new, x_new - x) > 0:
            y, image_y, momentum = x_new, image_new, 1.0
        else:
            next_momentum = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * momentum**2))
            beta = (momentum - 1.0) / next_momentum
            y = x_new + beta * (x_new - x)
            image_y = image_new + beta * (image_new - image_x)
            momentum = next_momentum
        x, image_x = x_new, image_new
        if (iteration == 1 or iteration % check_every == 0) and operator.gap(
            x, image_x
        ) <= target:
            break
    return x, iteration


def _compiled_descent(operator, W, target, max_epochs, check_every=5, n_anderson=5):
    """Cyclic block coordinate descent on the residuals (compiled epochs).

    See :mod:`skmtl.solvers._cd_kernels` for the update. Every
    ``n_anderson`` epochs the iterates are extrapolated (Anderson
    acceleration, as in Bertrand & Massias 2021 and skglm) and the
    extrapolated point is kept when its objective is lower. The duality gap
    of the subproblem is checked after the first epoch and every
    ``check_every`` epochs; one check costs about one epoch.

    References
    ----------
    Q. Bertrand and M. Massias. Anderson acceleration of coordinate descent.
    AISTATS, 2021.
    """
    W = np.array(W, dtype=float, order="C")
    # F-ordered on shared rows: the kernels sweep every task's rows in turn.
    residual = np.asfortranarray(operator.centred_y - operator.image(W))
    run = _epoch_runner(operator, residual, W)
    history = []
    epoch = 0
    while epoch < max_epochs:
        run(1)
        epoch += 1
        history.append(W.copy())
        if len(history) > n_anderson:
            _try_extrapolation(operator, history, W, residual)
            history.clear()
        if (epoch == 1 or epoch % check_every == 0) and operator.gap(
            W, operator.centred_y - residual
        ) <= target:
            break
    return W, epoch


def _try_extrapolation(operator, history, W, residual):
    """Replace ``W`` (and its residuals, in place) by the Anderson point if better."""
    iterates = np.array([w.ravel() for w in history])
    differences = np.diff(iterates, axis=0)
    products = differences @ differences.T
    try:
        weights = np.linalg.solve(products, np.ones(len(products)))
    except np.linalg.LinAlgError:
        return
    if not np.all(np.isfinite(weights)) or weights.sum() == 0:
        return
    weights /= weights.sum()
    candidate = (weights @ iterates[1:]).reshape(W.shape)
    image = operator.image(candidate)
    current = operator.primal(W, operator.centred_y - residual)
    if operator.primal(candidate, image) < current:
        W[...] = candidate
        residual[...] = operator.centred_y - image


def _epoch_runner(operator, residual, W, python=False):
    """``run(n_epochs)``: compiled epochs updating ``residual`` and ``W`` in place.

    On shared rows ``residual`` is (n, T) and F-ordered, in long format (N,).
    ``python=True`` runs the kernels' plain Python definitions (slow; for
    tests).
    """
    kernels = _cd_kernels.python_kernels() if python else _cd_kernels
    problem = operator.problem
    design = problem.design
    ws = operator.ws
    X, scale = problem.compiled_inputs()
    # Per-task curvatures, one contiguous row per feature.
    curvature = np.ascontiguousarray(problem.column_norms2[:, ws].T)
    means = np.ascontiguousarray(problem.column_means[:, ws])
    if design.layout == "long":
        kernel = functools.partial(
            kernels.long_epochs, X, ws, scale, design.offsets, means
        )
    elif design.uniform:
        kernel = functools.partial(kernels.uniform_epochs, X, ws, scale[:, 0], means[0])
    else:
        kernel = functools.partial(kernels.shared_epochs, X, ws, scale, means)
    return lambda n_epochs: kernel(
        residual, W, curvature, problem.a1, problem.a2, n_epochs
    )


def _cyclic_descent(operator, W, target, max_epochs, check_every=5):
    """Cyclic block coordinate descent, one feature group at a time (Gram view).

    Each block update is an exact minimisation when the tasks share their
    rows and weights, a majorised one otherwise (step ``1 / max_t G_t[j, j]``).
    Kept as the reference inner solver: in pure numpy, the per-feature Python
    loop costs more than the extra iterations of :func:`_accelerated_gradient`.
    """
    W = np.array(W, dtype=float)
    diagonal = operator.diagonal
    active = np.flatnonzero(diagonal > 0)
    threshold = np.zeros_like(diagonal)
    threshold[active] = operator.a1 / diagonal[active]
    shrink = np.zeros_like(diagonal)
    shrink[active] = diagonal[active] / (diagonal[active] + operator.a2)
    epoch = 0
    for epoch in range(1, max_epochs + 1):
        for jj in active:
            if operator.uniform:
                column = operator.gram[jj] @ W.T
            else:
                column = np.einsum("tk,tk->t", operator.gram[:, jj, :], W)
            u = (
                W[:, jj]
                + (operator.target_correlation[:, jj] - column) / (diagonal[jj])
            )
            norm = np.sqrt(u @ u)
            W[:, jj] = (
                0.0
                if norm <= threshold[jj]
                else u * ((1.0 - threshold[jj] / norm) * shrink[jj])
            )
        if (epoch == 1 or epoch % check_every == 0) and operator.gap(
            W, operator.image(W)
        ) <= target:
            break
    return W, epoch
