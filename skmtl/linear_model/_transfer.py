"""Transfer of a fitted linear model to new tasks (docs/user_guide/transfer.rst)."""

import warnings

import numpy as np
import scipy.sparse as sp
from scipy import linalg
from scipy.special import expit, log_softmax, softmax
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_is_fitted

from .._tasks import (
    add_new_tasks,
    check_new_task_data,
    n_source_tasks,
    source_row_weight,
)
from .._validation import format_labels
from ._transfer_prior import check_prior, strengthen, strengthen_blocks


def record_source_noise(estimator, data, kind):
    """Record the per-row noise level of a fit, for the intercept of new tasks.

    ``fit_new_tasks`` ties a new task's intercept to ``shared_intercept_``
    with the strength of an empirical-Bayes prior: the spread of the source
    tasks' intercepts against the noise of one row. This function measures
    that noise at the end of ``fit``, on the rows of fit, and stores it in
    ``estimator._source_noise``:

    - ``"squared"``: the mean over tasks of each task's weighted mean squared
      residual;
    - ``"logistic"`` and ``"multinomial"``: the inverse of the mean over
      tasks of each task's weighted mean ``p (1 - p)`` (averaged over the
      classes), the variance of one row's score under the Laplace
      approximation. It needs no labels.

    Parameters
    ----------
    estimator : fitted linear estimator
        Has ``coef_`` and ``intercept_`` for the tasks of ``data``.
    data : TaskData
        The data of fit, grouped by task.
    kind : {"squared", "logistic", "multinomial"}
    """
    per_task = np.zeros(data.n_tasks)
    coef = np.asarray(estimator.coef_, dtype=float)
    intercept = np.asarray(estimator.intercept_, dtype=float)
    for t in range(data.n_tasks):
        observations = slice(data.offsets[t], data.offsets[t + 1])
        rows = observations if data.row_index is None else data.row_index[observations]
        scores = (
            safe_sparse_dot(data.X[rows], coef[t].T, dense_output=True) + intercept[t]
        )
        weight = data.sample_weight[observations]
        if kind == "squared":
            value = (np.asarray(data.y[observations], dtype=float) - scores) ** 2
        elif kind == "logistic":
            p = expit(scores)
            value = p * (1.0 - p)
        else:
            p = softmax(scores, axis=1)
            value = np.mean(p * (1.0 - p), axis=1)
        per_task[t] = np.average(value, weights=weight)
    level = float(np.mean(per_task))
    if kind != "squared":
        level = 1.0 / max(level, np.finfo(float).tiny)
    estimator._source_noise = level


# --------------------------------------------------------------------------
# the prior of a new task
# --------------------------------------------------------------------------

#: Intercept tie of new tasks when the source intercepts do not spread at
#: all: the new tasks keep ``shared_intercept_`` up to rounding.
INTERCEPT_ALPHA_CAP = 1e12

#: Relative size under which a singular value or a feature's norm counts as
#: zero (as ``rank_`` of the low-rank models).
ZERO_TOLERANCE = 1e-10


class QuadraticPrior:
    """A quadratic prior ``R(w)`` on an affine set of coefficients.

    The coefficients of the new task are ``w = center + basis @ theta``
    (flattened row-major when ``w`` is a matrix of class rows) and::

        R(w) = constant + linear . theta + 0.5 sum_j curvature_j theta_j^2

    ``basis`` has orthonormal columns (``None``: the identity, every
    coefficient free); restricting ``w - center`` to its span keeps a new
    task in what the source tasks use (selected features, a shared
    subspace).

    This is the smooth case of the interface the solvers of
    :func:`solve_new_task` read: ``center`` and ``basis`` (the linear
    predictions are those of ``center`` plus ``X basis theta``, per class),
    ``n_params``, ``coef(theta)``, ``value(theta)``, ``gradient(theta)``,
    ``curvature`` (the diagonal of the smooth part's Hessian) and
    ``prox(theta, step)`` with
    ``nonsmooth_value(theta)`` for a separable non-smooth part (here none:
    ``smooth = True``). A prior with a non-smooth part (an L1 or group norm
    of a block of ``theta``; several blocks ``w = p + q`` through a basis
    ``[I, I]``, which need not be orthonormal) sets ``smooth = False`` and
    provides ``prox``; the solver then runs FISTA.

    Parameters
    ----------
    center : ndarray of shape (n_features,) or (n_classes, n_features)
        Coefficients at ``theta = 0``.
    curvature : ndarray of shape (n_params,) or float
        Diagonal of the Hessian in ``theta`` (>= 0).
    linear : ndarray of shape (n_params,), default=None
        Linear term in ``theta``.
    constant : float, default=0.0
        ``R`` at ``theta = 0``.
    basis : ndarray of shape (center.size, n_params) or (n_params,), default=None
        Orthonormal directions ``w - center`` may take; a 1-D integer array
        names the coordinates of the flattened ``w`` that move (the columns
        of the identity, without forming them); ``None``: all.

    Examples
    --------
    >>> prior = QuadraticPrior(np.array([1.0, 2.0]), curvature=3.0)
    >>> prior.value(np.array([1.0, 0.0])), prior.coef(np.array([1.0, 0.0]))
    (1.5, array([2., 2.]))
    """

    smooth = True

    def __init__(self, center, curvature, linear=None, constant=0.0, basis=None):
        self.center = np.asarray(center, dtype=float)
        self.basis = basis
        if basis is None:
            n_params = self.center.size
        else:
            n_params = basis.shape[-1] if np.ndim(basis) == 2 else len(basis)
        self.curvature = np.broadcast_to(
            np.asarray(curvature, dtype=float), (n_params,)
        ).copy()
        self.linear = np.zeros(n_params) if linear is None else np.asarray(linear)
        self.constant = float(constant)

    @property
    def n_params(self):
        """Length of ``theta``."""
        return self.curvature.size

    def coef(self, theta):
        """``center + basis @ theta`` in the shape of ``center``."""
        if self.basis is None:
            return self.center + np.reshape(theta, self.center.shape)
        if np.ndim(self.basis) == 1:
            flat = self.center.ravel().copy()
            flat[self.basis] += theta
            return flat.reshape(self.center.shape)
        return self.center + np.reshape(self.basis @ theta, self.center.shape)

    def value(self, theta):
        """Smooth part of ``R``."""
        return float(
            self.constant
            + self.linear @ theta
            + 0.5 * np.sum(self.curvature * theta * theta)
        )

    def gradient(self, theta):
        """Gradient of :meth:`value`."""
        return self.linear + self.curvature * theta

    def prox(self, theta, step):
        """Proximal operator of the non-smooth part (none: the identity)."""
        return theta

    def nonsmooth_value(self, theta):
        """Value of the non-smooth part (none: 0)."""
        return 0.0

    def penalty_prox(self, theta, step):
        """Proximal operator of ``step * R``: the quadratic part, then :meth:`prox`.

        Exact when the non-smooth part acts on coordinates of zero curvature
        and zero linear term, as in every prior here: FISTA then steps on
        the data term alone, whatever the prior's curvature.
        """
        shrunk = (theta - step * self.linear) / (1.0 + step * self.curvature)
        return self.prox(shrunk, step)


# --------------------------------------------------------------------------
# the adaptation problem of one new task and its solvers
# --------------------------------------------------------------------------


class NewTaskProblem:
    """The adaptation problem of one new task, in ``u = (theta, b)``.

    ``F(u) = row_weight sum_i s_i loss(y_i, x_i . w + b) + R(w)
    + (intercept_alpha / 2) ||b - shared_intercept||^2`` with
    ``w = prior.coef(theta)``; without intercept ``b = 0`` and ``u = theta``.

    The linear predictions are ``offset + design @ u``, with ``design`` of
    shape ``(n_rows, n_outputs, n_params [+ n_outputs])``: its size depends on
    the task's rows and the number of features only.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_rows, n_features)
    targets : ndarray of shape (n_rows,)
        Values (squared loss), 0/1 (logistic) or class indices (multinomial).
    sample_weight : ndarray of shape (n_rows,)
    kind : {"squared", "logistic", "multinomial"}
    prior : QuadraticPrior or an object with its interface
    row_weight : float
        ``1 / n_bar``: rows of a new task weigh as rows of an average source
        task.
    intercept_alpha : float or None
        Strength of the intercept tie; ``None``: no intercept.
    shared_intercept : float or ndarray of shape (n_classes,)
    """

    def __init__(
        self,
        X,
        targets,
        sample_weight,
        kind,
        prior,
        row_weight,
        intercept_alpha,
        shared_intercept,
    ):
        self.kind = kind
        self.prior = prior
        self.targets = targets
        self.row_scale = row_weight * np.asarray(sample_weight, dtype=float)
        center = np.atleast_2d(prior.center)
        n_outputs = center.shape[0]
        self.offset = safe_sparse_dot(X, center.T, dense_output=True)
        design = _coefficient_design(X, prior, n_outputs)
        self.fit_intercept = intercept_alpha is not None
        if self.fit_intercept:
            identity = np.broadcast_to(
                np.eye(n_outputs), (X.shape[0], n_outputs, n_outputs)
            )
            design = np.concatenate([design, identity], axis=2)
            self.intercept_alpha = float(intercept_alpha)
            self.shared_intercept = np.atleast_1d(
                np.asarray(shared_intercept, dtype=float)
            )
        self.design = design
        self.n_outputs = n_outputs

    def split(self, u):
        """``(theta, b)``; ``b`` is ``None`` without intercept."""
        n_params = self.prior.n_params
        if not self.fit_intercept:
            return u, None
        return u[:n_params], u[n_params:]

    def _scores(self, u):
        return self.offset + self.design @ u

    def smooth_value(self, u):
        """Data term, smooth part of the prior and intercept tie."""
        theta, b = self.split(u)
        losses, _, _ = _loss_terms(self.kind, self.targets, self._scores(u))
        value = float(self.row_scale @ losses) + self.prior.value(theta)
        if b is not None:
            gap = b - self.shared_intercept
            value += 0.5 * self.intercept_alpha * float(gap @ gap)
        return value

    def value(self, u):
        """The whole objective ``F(u)``."""
        return self.smooth_value(u) + self.prior.nonsmooth_value(self.split(u)[0])

    def data_value(self, u):
        """The data term alone."""
        losses, _, _ = _loss_terms(self.kind, self.targets, self._scores(u))
        return float(self.row_scale @ losses)

    def data_gradient(self, u):
        """Gradient of :meth:`data_value`."""
        _, G, _ = _loss_terms(self.kind, self.targets, self._scores(u))
        return np.einsum("nkr,nk->r", self.design, self.row_scale[:, None] * G)

    def penalty_prox(self, u, step):
        """Proximal operator of ``step`` times the prior and the intercept tie."""
        theta, b = self.split(u)
        theta = self.prior.penalty_prox(theta, step)
        if b is None:
            return theta
        tie = step * self.intercept_alpha
        b = (b + tie * self.shared_intercept) / (1.0 + tie)
        return np.concatenate([theta, b])

    def smooth_gradient(self, u, hessian=False):
        """Gradient of :meth:`smooth_value` (and its Hessian if asked)."""
        theta, b = self.split(u)
        _, G, curvature = _loss_terms(self.kind, self.targets, self._scores(u))
        weighted = self.row_scale[:, None] * G
        gradient = np.einsum("nkr,nk->r", self.design, weighted)
        prior_part = [self.prior.gradient(theta)]
        if b is not None:
            prior_part.append(self.intercept_alpha * (b - self.shared_intercept))
        gradient += np.concatenate(prior_part)
        if not hessian:
            return gradient
        H = _data_hessian(self.design, self.row_scale, curvature)
        diagonal = [self.prior.curvature]
        if b is not None:
            diagonal.append(np.full(self.n_outputs, self.intercept_alpha))
        H[np.diag_indices_from(H)] += np.concatenate(diagonal)
        return gradient, H

    def start(self):
        """``theta = 0`` (the prior's centre) and ``b = shared_intercept``."""
        u = np.zeros(self.design.shape[2])
        if self.fit_intercept:
            u[self.prior.n_params :] = self.shared_intercept
        return u

    def coef_intercept(self, u):
        """The task's coefficients and intercept from ``u``."""
        theta, b = self.split(u)
        coef = self.prior.coef(theta)
        if b is None:
            b = np.zeros(self.n_outputs)
        return coef, (b if self.n_outputs > 1 else float(b[0]))


def _coefficient_design(X, prior, n_outputs):
    """``design[i, k, j]``: change of prediction ``k`` of row ``i`` per ``theta_j``."""
    n_features = X.shape[1]
    basis = prior.basis
    if basis is None or np.ndim(basis) == 1:
        # Coordinates of w: a column of X, placed at its class.
        coordinates = np.arange(n_outputs * n_features) if basis is None else basis
        columns = X[:, coordinates % n_features]
        columns = columns.toarray() if sp.issparse(columns) else np.asarray(columns)
        design = np.zeros((X.shape[0], n_outputs, len(coordinates)))
        design[:, coordinates // n_features, np.arange(len(coordinates))] = columns
        return design
    per_class = basis.reshape(n_outputs, n_features, -1).transpose(1, 0, 2)
    flat = safe_sparse_dot(X, per_class.reshape(n_features, -1), dense_output=True)
    return np.asarray(flat).reshape(X.shape[0], n_outputs, basis.shape[1])


def _loss_terms(kind, targets, scores):
    """Per-row loss, its gradient in the scores, and the curvature.

    The curvature is the second derivative per row for the elementwise
    losses (shape (n_rows, 1)) and the probabilities for the multinomial
    loss, whose Hessian ``diag(p) - p p^T`` :func:`_data_hessian` builds.
    """
    if kind == "squared":
        residual = scores[:, 0] - targets
        return 0.5 * residual**2, residual[:, None], np.ones_like(scores)
    if kind == "logistic":
        z = scores[:, 0]
        p = expit(z)
        losses = np.logaddexp(0.0, z) - targets * z
        return losses, (p - targets)[:, None], (p * (1.0 - p))[:, None]
    log_p = log_softmax(scores, axis=1)
    rows = np.arange(len(targets))
    p = np.exp(log_p)
    gradient = p.copy()
    gradient[rows, targets] -= 1.0
    return -log_p[rows, targets], gradient, p


def _data_hessian(design, row_scale, curvature):
    """``sum_i s_i design_i^T H_i design_i`` for the per-row curvature."""
    if design.shape[1] == 1:
        rows = design[:, 0, :]
        return (rows * (row_scale * curvature[:, 0])[:, None]).T @ rows
    # Multinomial: H_i = diag(p_i) - p_i p_i^T.
    weighted = curvature * row_scale[:, None]
    flat = design.reshape(-1, design.shape[2])
    H = (flat * weighted.reshape(-1, 1)).T @ flat
    projected = np.einsum("nkr,nk->nr", design, curvature)
    return H - (projected * row_scale[:, None]).T @ projected


def _solve_psd(H, rhs):
    """Minimum-norm solution of ``H x = rhs`` for a symmetric PSD ``H``.

    The system is scaled to a unit diagonal first: the intercept tie may be
    ``1e12`` next to curvatures of order one.
    """
    diagonal = np.sqrt(np.clip(np.diag(H), 0.0, None))
    diagonal[diagonal == 0] = 1.0
    scaled = H / diagonal[:, None] / diagonal[None, :]
    values, vectors = linalg.eigh(scaled, check_finite=False)
    keep = values > values.max(initial=0.0) * H.shape[0] * np.finfo(float).eps
    projected = vectors[:, keep].T @ (rhs / diagonal)
    return (vectors[:, keep] @ (projected / values[keep])) / diagonal


class NewTaskResult:
    """Solution of one adaptation problem: ``u``, objective, iterations, converged."""

    def __init__(self, u, value, n_iter, converged):
        self.u = u
        self.value = value
        self.n_iter = n_iter
        self.converged = converged


def solve_new_task(problem, *, tol, max_iter):
    """Solve one adaptation problem.

    - squared loss with a quadratic prior: one linear solve (the closed form);
    - a smooth prior: Newton's method with a backtracking line search,
      stopped when half the squared Newton decrement (an estimate of
      ``F(u) - min F``) is at most ``min(tol, 1e-10) * |F(u)|``: the
      problems are small, so the last digits cost a step or two;
    - a prior with a non-smooth part: FISTA (:func:`_fista`), stopped at a
      gradient mapping ``min(tol, 1e-9)`` times that at the start, for the
      same reason.

    Parameters
    ----------
    problem : NewTaskProblem
    tol : float
    max_iter : int

    Returns
    -------
    result : NewTaskResult
    """
    u = problem.start()
    if not problem.prior.smooth:
        return _fista(problem, u, tol=min(tol, 1e-9), max_iter=max_iter)
    if problem.kind == "squared":
        gradient, H = problem.smooth_gradient(u, hessian=True)
        u = u - _solve_psd(H, gradient)
        return NewTaskResult(u, problem.value(u), 1, True)
    return _newton(problem, u, tol=min(tol, 1e-10), max_iter=max_iter)


def _newton(problem, u, *, tol, max_iter):
    """Damped Newton's method on a smooth convex ``F``."""
    value = problem.value(u)
    for iteration in range(1, max_iter + 1):
        gradient, H = problem.smooth_gradient(u, hessian=True)
        direction = -_solve_psd(H, gradient)
        decrement = -float(gradient @ direction)
        if 0.5 * decrement <= tol * max(abs(value), np.finfo(float).tiny):
            # A last full step squares the error near the minimum, for the
            # price of the solve already made.
            candidate = u + direction
            candidate_value = problem.value(candidate)
            if candidate_value <= value:
                u, value = candidate, candidate_value
            return NewTaskResult(u, value, iteration, True)
        step = 1.0
        for _ in range(60):
            candidate = u + step * direction
            candidate_value = problem.value(candidate)
            if candidate_value <= value - 0.25 * step * decrement:
                break
            step *= 0.5
        else:
            # No decrease at rounding level: u is as good as it gets.
            settled = 0.5 * decrement <= 1e-8 * max(abs(value), np.finfo(float).tiny)
            return NewTaskResult(u, value, iteration, settled)
        u, value = candidate, candidate_value
    gradient, H = problem.smooth_gradient(u, hessian=True)
    decrement = -float(gradient @ -_solve_psd(H, gradient))
    converged = 0.5 * decrement <= tol * max(abs(value), np.finfo(float).tiny)
    return NewTaskResult(u, value, max_iter, converged)


#: Iterations without a decrease of the objective beyond rounding after
#: which FISTA settles for a gradient mapping of ``sqrt(tol)``.
FISTA_PATIENCE = 100


def _fista(problem, u, *, tol, max_iter):
    """FISTA with backtracking and adaptive restart, for a non-smooth prior.

    The gradient steps are taken on the data term alone; the whole prior and
    the intercept tie enter through their proximal operator
    (:meth:`NewTaskProblem.penalty_prox`), so that a stiff tie (up to
    :data:`INTERCEPT_ALPHA_CAP`) or a large curvature does not shrink the
    step. Stops when the sup-norm of the gradient mapping ``L (y - u_next)``
    (zero exactly at a minimiser) is at most ``tol`` times that at the start,
    or, once the objective has not decreased beyond rounding for
    :data:`FISTA_PATIENCE` iterations, at most ``sqrt(tol)`` times: the
    mapping of a flat problem (a multinomial task of a few rows) stalls at
    its rounding level.
    """
    # Function values near the minimum differ by less than their rounding:
    # the tests of decrease allow for it.
    slack = 1e-12
    lipschitz = 1.0
    y, momentum = u.copy(), 1.0
    value = problem.value(u)
    scale = None
    progress_value, progress_iteration = value, 0
    for iteration in range(1, max_iter + 1):
        if value < progress_value - 1e-13 * abs(progress_value):
            progress_value, progress_iteration = value, iteration
        f_y = problem.data_value(y)
        g_y = problem.data_gradient(y)
        for _ in range(60):
            candidate = problem.penalty_prox(y - g_y / lipschitz, 1.0 / lipschitz)
            shift = candidate - y
            bound = f_y + g_y @ shift + 0.5 * lipschitz * float(shift @ shift)
            if problem.data_value(candidate) <= bound + slack * abs(f_y):
                break
            lipschitz *= 2.0
        mapping = float(np.max(np.abs(lipschitz * shift), initial=0.0))
        scale = mapping if scale is None else scale
        candidate_value = problem.value(candidate)
        stalled = iteration - progress_iteration >= FISTA_PATIENCE
        level = np.sqrt(tol) if stalled else tol
        if mapping <= level * max(scale, np.finfo(float).tiny):
            if candidate_value <= value:
                u, value = candidate, candidate_value
            return NewTaskResult(u, value, iteration, True)
        if candidate_value > value + slack * abs(value):
            # Adaptive restart: drop the momentum, step from the best point.
            y, momentum = u.copy(), 1.0
            continue
        if float((y - candidate) @ (candidate - u)) > 0:
            # Gradient restart (O'Donoghue & Candes 2015): the momentum points
            # uphill. Near the minimum the values differ by rounding only,
            # so the test on values above no longer sees it.
            u, value = candidate, candidate_value
            y, momentum = candidate.copy(), 1.0
            lipschitz *= 0.9
            continue
        next_momentum = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * momentum**2))
        y = candidate + ((momentum - 1.0) / next_momentum) * (candidate - u)
        u, value, momentum = candidate, candidate_value, next_momentum
        lipschitz *= 0.9
    return NewTaskResult(u, value, max_iter, False)


# --------------------------------------------------------------------------
# the prior of each model family
# --------------------------------------------------------------------------


def model_params(estimator):
    """The hyperparameters the fitted coefficients were computed with.

    A ``*CV`` class fits its base estimator at the chosen point
    (``alpha_`` and the other chosen values ``<name>_``): those replace
    the path and grid parameters.
    """
    params = estimator.get_params(deep=False)
    if getattr(estimator, "_estimator_class", None) is not None:
        point = {
            name: getattr(estimator, f"{name}_")
            for name, _ in estimator._grid_params.values()
        }
        params = estimator._base_estimator().get_params(deep=False)
        params.update(estimator._base_params(estimator.alpha_, point))
        return params
    if "alphas" in params:
        for name in ("alpha", "alpha_mean", "l1_ratio"):
            if hasattr(estimator, f"{name}_"):
                params[name] = getattr(estimator, f"{name}_")
    return params


def _mean_regularized_prior(estimator, params, source_coef):
    """``(alpha / 2) ||w - w_0||^2``: the model's own penalty with ``w_0`` fixed."""
    return [QuadraticPrior(estimator.shared_coef_, float(params["alpha"]))]


def graph_link_weight(graph, adjacency):
    """Weight of the edges of a new task to every source task.

    1 for ``"complete"``, none for ``"empty"``, the mean non-zero edge
    weight of the fitted adjacency for a graph given by the user.
    """
    if isinstance(graph, str):
        return 1.0 if graph == "complete" else 0.0
    edges = np.asarray(adjacency)[np.asarray(adjacency) > 0]
    return float(edges.mean()) if edges.size else 0.0


def _graph_prior(estimator, params, source_coef):
    """The increment of the graph penalty by a task linked to every source task.

    ``alpha a sum_s ||w - w_s||^2 + (alpha_ridge / 2) ||w||^2``
    ``= alpha a (T ||w - wbar||^2 + sum_s ||w_s - wbar||^2)
    + (alpha_ridge / 2) ||w||^2`` (ordered pairs, as
    :class:`~skmtl.penalties.TaskGraph`; classes side by side).
    """
    alpha, ridge = float(params["alpha"]), float(params["alpha_ridge"])
    link = graph_link_weight(params["graph"], estimator.adjacency_)
    rows = source_coef.reshape(source_coef.shape[0], -1)
    mean = rows.mean(axis=0)
    spread = float(np.sum((rows - mean) ** 2))
    return [
        QuadraticPrior(
            mean.reshape(source_coef.shape[1:]),
            curvature=2.0 * alpha * link * rows.shape[0] + ridge,
            linear=ridge * mean,
            constant=alpha * link * spread + 0.5 * ridge * float(mean @ mean),
        )
    ]


def _joint_feature_prior(estimator, params, source_coef):
    """The variational majoriser of the L2,1 norm at the source solution.

    ``alpha l1_ratio sum_j ||w_j - c_j||^2 / (2 d_j)
    + (alpha / 2)(1 - l1_ratio) ||w - c||^2`` with ``d_j`` the norm of
    feature ``j`` over the source tasks (and classes); a feature no source
    task uses (``d_j = 0``) stays at ``c_j = 0``.
    """
    alpha, l1_ratio = float(params["alpha"]), float(params["l1_ratio"])
    group, ridge = alpha * l1_ratio, alpha * (1.0 - l1_ratio)
    center = np.asarray(estimator.shared_coef_, dtype=float)
    n_features = center.shape[-1]
    n_outputs = center.size // n_features
    flat = source_coef.reshape(-1, n_features)
    norms = np.sqrt(np.einsum("ij,ij->j", flat, flat))
    if group > 0:
        used = norms > ZERO_TOLERANCE * norms.max(initial=0.0)
    else:
        used = np.ones(n_features, dtype=bool)
    curvature = ridge + group / np.where(used, norms, 1.0)[used]
    columns = (
        np.arange(n_outputs)[:, None] * n_features + np.flatnonzero(used)
    ).ravel()
    return [QuadraticPrior(center, np.tile(curvature, n_outputs), basis=columns)]


def _range_basis(matrix):
    """Right singular vectors and singular values of ``matrix`` above rounding."""
    _, values, vt = linalg.svd(matrix, full_matrices=False, check_finite=False)
    rank = int(np.count_nonzero(values > ZERO_TOLERANCE * values.max(initial=0.0)))
    return vt[:rank].T, values[:rank]


def _trace_norm_prior(estimator, params, source_coef):
    """``(alpha / 2) (w - c)^T D^+ (w - c)`` with ``w - c`` in the range of ``D``.

    ``alpha ||W||_* = min_D (alpha / 2)(tr(W D^+ W^T) + tr(D))``, at
    ``D = (W^T W)^{1/2}``: with ``D`` fixed, a new row costs
    ``(alpha / 2) w^T D^+ w`` and must lie in the range of ``D``, the
    subspace of the source tasks (every class row of a multinomial task).
    """
    alpha = float(params["alpha"])
    center = np.asarray(estimator.shared_coef_, dtype=float)
    if alpha <= 0:
        return [QuadraticPrior(center, 0.0)]
    n_features = center.shape[-1]
    n_outputs = center.size // n_features
    vectors, values = _range_basis(source_coef.reshape(-1, n_features))
    basis = np.kron(np.eye(n_outputs), vectors)
    return [QuadraticPrior(center, np.tile(alpha / values, n_outputs), basis=basis)]


def _task_relationship_prior(estimator, params, source_coef):
    """``(alpha / 2) ||w||^2 + (beta / 2) (w - c)^T D^+ (w - c)``.

    ``D = (W^T W)^{1/2} / tr((W^T W)^{1/2})`` on the task matrix (classes
    side by side), the feature-side form of ``||W||_*^2 = min_D
    tr(W D^+ W^T)`` over ``tr(D) = 1``; ``w - c`` in the range of ``D``.
    """
    alpha, beta = float(params["alpha"]), float(params["beta"])
    center = np.asarray(estimator.shared_coef_, dtype=float)
    flat_center = center.ravel()
    constant = 0.5 * alpha * float(flat_center @ flat_center)
    if beta <= 0:
        return [
            QuadraticPrior(center, alpha, linear=alpha * flat_center, constant=constant)
        ]
    vectors, values = _range_basis(source_coef.reshape(source_coef.shape[0], -1))
    return [
        QuadraticPrior(
            center,
            alpha + beta * values.sum() / values,
            linear=alpha * (vectors.T @ flat_center),
            constant=constant,
            basis=vectors,
        )
    ]


def _clustered_priors(estimator, params, source_coef):
    """One prior per cluster: ``alpha (1 + eta) ||w - m_c||^2 + alpha eta ||m_c||^2``.

    With a hard cluster projection ``M`` the penalty is
    ``alpha (1 + eta) ||(I - M) W||^2 + alpha eta ||M W||^2``; a new task
    joining cluster ``c`` (cluster means ``m_c`` of the source rows fixed)
    adds this. The new task joins the cluster of lowest objective.
    """
    alpha, eta = float(params["alpha"]), float(params["eta"])
    rows = source_coef.reshape(source_coef.shape[0], -1)
    labels = np.asarray(estimator.task_clusters_)[: rows.shape[0]]
    priors = []
    for cluster in np.unique(labels):
        mean = rows[labels == cluster].mean(axis=0)
        priors.append(
            QuadraticPrior(
                mean.reshape(source_coef.shape[1:]),
                2.0 * alpha * (1.0 + eta),
                constant=alpha * eta * float(mean @ mean),
            )
        )
    return priors


class DecompositionPrior(QuadraticPrior):
    """The prior of a new task whose coefficients are a sum of blocks.

    ``w = sum_k w^(k)``; block ``k`` is ``block.coef(theta_k)`` for a
    :class:`QuadraticPrior` ``block`` (its quadratic part: a subspace or
    feature majoriser) plus, when ``penalty`` is given, an exact non-smooth
    penalty ``penalty.value(w^(k))`` on the block itself, whose proximal
    operator ``penalty.prox(w^(k), step)`` FISTA uses. A penalised block
    moves freely (no basis, no curvature). ``theta`` stacks the blocks'
    parameters; the basis of ``w`` is ``[B_1, B_2, ...]``.

    Parameters
    ----------
    blocks : list of (QuadraticPrior, penalty or None)
        In the order of the estimator's ``_block_attributes``.
    """

    smooth = False

    def __init__(self, blocks):
        self.blocks = blocks
        priors = [block for block, _ in blocks]
        super().__init__(
            sum(block.center for block in priors),
            np.concatenate([block.curvature for block in priors]),
            linear=np.concatenate([block.linear for block in priors]),
            constant=sum(block.constant for block in priors),
            basis=np.hstack([_dense_basis(block) for block in priors]),
        )
        bounds = np.cumsum([0] + [block.n_params for block in priors])
        self._slices = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]

    def block_coefs(self, theta):
        """The blocks ``w^(k)``, each in the shape of ``center``."""
        return [
            block.coef(theta[part])
            for (block, _), part in zip(self.blocks, self._slices)
        ]

    def prox(self, theta, step):
        """Proximal operator of the blocks' exact penalties."""
        return self._prox(theta, step, shrunk=False)

    def penalty_prox(self, theta, step):
        """Proximal operator of ``step * R``, quadratic parts included.

        A penalised block may carry a uniform curvature ``e`` centred at its
        centre (``prior="empirical"``): the proximal operator of
        ``step (P + (e / 2) ||.||^2)`` is that of ``step / (1 + step e)``
        times ``P`` at the point shrunk by ``1 + step e``.
        """
        shrunk = (theta - step * self.linear) / (1.0 + step * self.curvature)
        return self._prox(shrunk, step, shrunk=True)

    def _prox(self, theta, step, shrunk):
        theta = np.array(theta, dtype=float)
        for (block, penalty), part in zip(self.blocks, self._slices):
            if penalty is not None:
                curvature = float(block.curvature.max(initial=0.0)) if shrunk else 0.0
                moved = penalty.prox(
                    block.coef(theta[part]), step / (1.0 + step * curvature)
                )
                theta[part] = (moved - block.center).ravel()
        return theta

    def nonsmooth_value(self, theta):
        """Sum of the blocks' exact penalties."""
        return float(
            sum(
                penalty.value(block.coef(theta[part]))
                for (block, penalty), part in zip(self.blocks, self._slices)
                if penalty is not None
            )
        )


def _dense_basis(prior):
    """The basis of ``prior`` as a matrix of shape (center.size, n_params)."""
    if prior.basis is None:
        return np.eye(prior.center.size)
    if np.ndim(prior.basis) == 1:
        return np.eye(prior.center.size)[:, prior.basis]
    return prior.basis


class TaskPenalty:
    """A penalty separable over tasks, on the block of one task.

    ``alpha ||w||_1`` (:class:`~skmtl.penalties.L1`) or ``alpha ||w||_2``
    over all the task's coefficients
    (:class:`~skmtl.penalties.TaskGroupNorm`): the increase of the model's
    penalty by a new task is the penalty of its block, exactly.

    Parameters
    ----------
    penalty : NormPenalty
    """

    def __init__(self, penalty):
        self.penalty = penalty

    def value(self, block):
        """The penalty of the block."""
        return self.penalty.value(block[None])

    def prox(self, block, step):
        """Its proximal operator."""
        return self.penalty.prox(block[None], step)[0]


class FeatureMaxIncrement:
    """``alpha sum_j (max_k |w_kj| - m_j)_+``: a new task's share of an L1/Linf norm.

    With ``m_j = max |P[:, j]|`` over the source tasks (and classes), adding
    the rows ``w_k`` of a new task raises ``alpha sum_j max_t |P[t, j]|`` by
    exactly this: a feature costs nothing up to the source's magnitude.

    Its proximal operator clips every feature's column at
    ``max(s_j, m_j)``, with ``s_j`` the clipping level of the proximal
    operator of ``step * alpha * max_k |v_kj|`` (for one class:
    soft-thresholding of ``|v_j| - m_j`` on the part beyond ``m_j``).
    Minimising ``step alpha (s - m)_+ + sum_k (|v_k| - s)_+^2 / 2`` over the
    clipping level ``s`` gives ``s_j`` if ``s_j > m_j`` and else ``m_j``
    (or ``max_k |v_kj|``, the same clip).

    Parameters
    ----------
    alpha : float
    magnitude : ndarray of shape (n_features,)
        ``m_j``.
    """

    def __init__(self, alpha, magnitude):
        self.alpha = float(alpha)
        self.magnitude = np.asarray(magnitude, dtype=float)

    def value(self, block):
        """The increment of the norm."""
        largest = np.abs(np.reshape(block, (-1, self.magnitude.size))).max(axis=0)
        return self.alpha * float(np.maximum(largest - self.magnitude, 0.0).sum())

    def prox(self, block, step):
        """Proximal operator of ``step`` times :meth:`value`."""
        from ..penalties import FeatureMaxNorm

        columns = np.reshape(block, (-1, self.magnitude.size))
        clipped = FeatureMaxNorm(self.alpha).prox(columns, step)
        level = np.maximum(np.abs(clipped).max(axis=0), self.magnitude)
        return np.clip(columns, -level, level).reshape(np.shape(block))


def _free_block(center, penalty):
    """A block moving freely from ``center``, with an exact ``penalty``."""
    return QuadraticPrior(center, 0.0), penalty


def _source_blocks(estimator, n_source):
    """The source tasks' rows of each of the estimator's blocks."""
    return [
        np.asarray(getattr(estimator, name), dtype=float)[:n_source]
        for name in estimator._block_attributes
    ]


def _sparse_low_rank_prior(estimator, params, source_coef):
    """``alpha_sparse ||p||_1`` exactly, and the trace-norm prior on ``q``.

    ``w = p + q``: the sparse block keeps the model's own L1 penalty; the
    low-rank block gets :func:`_trace_norm_prior` with ``alpha_rank`` and
    the source rows of ``low_rank_coef_``: ``q`` is ``shared_coef_`` plus
    a move in the row space of the source ``Q``.
    """
    from ..penalties import L1

    _, low_rank = _source_blocks(estimator, source_coef.shape[0])
    rank_part = _trace_norm_prior(estimator, {"alpha": params["alpha_rank"]}, low_rank)[
        0
    ]
    zero = np.zeros_like(rank_part.center)
    sparse = _free_block(zero, TaskPenalty(L1(float(params["alpha_sparse"]))))
    return [DecompositionPrior([sparse, (rank_part, None)])]


def _robust_prior(estimator, params, source_coef):
    """The trace-norm prior on the low-rank block, ``alpha_outlier ||s||_2`` exactly.

    ``w = l + s``: ``l`` as :func:`_sparse_low_rank_prior`'s low-rank block
    (the source rows of ``low_rank_coef_``); the outlier block keeps the
    model's own group norm over the whole task, so a new task becomes an
    outlier task (``outlier_tasks_``) only if its rows call for it.
    """
    from ..penalties import TaskGroupNorm

    low_rank, _ = _source_blocks(estimator, source_coef.shape[0])
    rank_part = _trace_norm_prior(estimator, {"alpha": params["alpha_rank"]}, low_rank)[
        0
    ]
    zero = np.zeros_like(rank_part.center)
    outlier = TaskPenalty(TaskGroupNorm(float(params["alpha_outlier"])))
    return [DecompositionPrior([(rank_part, None), _free_block(zero, outlier)])]


def _dirty_prior(estimator, params, source_coef):
    """The shared block's increment and ``alpha_task ||q||_1`` exactly.

    ``w = p + q``. With ``shared_norm="linf"`` the shared block costs
    :class:`FeatureMaxIncrement`: ``alpha_shared sum_j (max_k |p_kj| -
    m_j)_+``, free up to the source magnitude ``m_j`` of each feature; it
    starts (and, without rows, stays) at ``shared_coef_`` clipped to
    ``[-m_j, m_j]``, the point of that free box nearest the shared model.
    With ``shared_norm="l2"`` the shared block gets the joint-feature prior
    (:func:`_joint_feature_prior` with ``l1_ratio=1`` on the source rows of
    ``block_sparse_coef_``): ``shared_coef_`` plus moves on the features
    the source tasks share.
    """
    from ..penalties import L1

    shared, _ = _source_blocks(estimator, source_coef.shape[0])
    alpha_shared = float(params["alpha_shared"])
    center = np.asarray(estimator.shared_coef_, dtype=float)
    n_features = center.shape[-1]
    if params["shared_norm"] == "l2":
        shared_part = (
            _joint_feature_prior(
                estimator, {"alpha": alpha_shared, "l1_ratio": 1.0}, shared
            )[0],
            None,
        )
    else:
        magnitude = np.abs(shared.reshape(-1, n_features)).max(axis=0, initial=0.0)
        shared_part = _free_block(
            np.clip(center, -magnitude, magnitude),
            FeatureMaxIncrement(alpha_shared, magnitude),
        )
    task = TaskPenalty(L1(float(params["alpha_task"])))
    return [DecompositionPrior([shared_part, _free_block(np.zeros_like(center), task)])]


def _prior_builder(estimator):
    """The prior builder of the estimator's family."""
    from ._clustered import _ClusteredMixin
    from ._dirty import _DirtyMixin
    from ._graph import _GraphMixin
    from ._joint_feature import _JointFeatureMixin
    from ._mean_regularized import _MeanRegularizedRegressorBase
    from ._mean_regularized_classifier import MeanRegularizedClassifier
    from ._robust import _RobustMixin
    from ._sparse_low_rank import _SparseLowRankMixin
    from ._task_relationship import _TaskRelationshipMixin
    from ._trace_norm import _TraceNormMixin

    families = (
        (
            (_MeanRegularizedRegressorBase, MeanRegularizedClassifier),
            _mean_regularized_prior,
        ),
        (_GraphMixin, _graph_prior),
        (_JointFeatureMixin, _joint_feature_prior),
        (_TraceNormMixin, _trace_norm_prior),
        (_TaskRelationshipMixin, _task_relationship_prior),
        (_ClusteredMixin, _clustered_priors),
        (_SparseLowRankMixin, _sparse_low_rank_prior),
        (_RobustMixin, _robust_prior),
        (_DirtyMixin, _dirty_prior),
    )
    for family, builder in families:
        if isinstance(estimator, family):
            return builder
    name = type(estimator).__name__
    raise NotImplementedError(
        f"fit_new_tasks is not available for {name}: it has no prior for a "
        "new task. Fit the model "
        "on the source and new tasks together with fit, or use a model whose "
        "fit_new_tasks is available (for example MeanRegularizedRegressor)."
    )


# --------------------------------------------------------------------------
# fit_new_tasks
# --------------------------------------------------------------------------


def _intercept_tie(estimator, params):
    """The model's own intercept tie (``intercept_alpha=None``: ``alpha``)."""
    value = params.get("intercept_alpha")
    if value is None:
        # MeanRegularizedClassifier's default: the intercepts tied by alpha.
        return float(params.get("alpha", 0.0)) if "intercept_alpha" in params else 0.0
    return float(value)


def new_task_intercept_alpha(estimator, params, source_intercept):
    """``max(intercept tie, noise / (n_bar * spread))``, capped at 1e12.

    ``spread`` is the mean squared distance of the source intercepts to
    ``shared_intercept_`` (averaged over classes), ``noise`` the per-row
    noise of fit (:func:`record_source_noise`): the empirical-Bayes
    strength, under which a task with ``k`` rows moves its intercept
    ``k / (k + noise / spread)`` of the way from ``shared_intercept_``.
    """
    tie = _intercept_tie(estimator, params)
    noise = getattr(estimator, "_source_noise", None)
    if noise is None:
        return tie
    gap = np.asarray(source_intercept, dtype=float) - estimator.shared_intercept_
    spread = float(np.mean(gap**2)) if gap.size else 0.0
    if spread <= 0:
        return max(tie, INTERCEPT_ALPHA_CAP)
    empirical = float(noise) * source_row_weight(estimator) / spread
    return max(tie, min(empirical, INTERCEPT_ALPHA_CAP))


def _new_task_targets(estimator, data):
    """``(kind, targets)``: the loss and the targets of the new tasks' rows."""
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        return "squared", np.asarray(data.y, dtype=float)
    try:
        known = np.isin(data.y, classes)
    except TypeError:
        known = np.array([label in set(classes.tolist()) for label in data.y])
    if not known.all():
        unknown = list(dict.fromkeys(data.y[~known].tolist()))
        raise ValueError(
            f"Class label(s) {format_labels(unknown)} of the new tasks are not "
            f"classes of fit; the model knows {format_labels(classes)}. A new "
            "task's coefficients exist only for these classes: drop those rows, "
            "or refit with fit on data that holds every class."
        )
    encoded = np.searchsorted(classes, data.y)
    if len(classes) == 2:
        return "logistic", encoded.astype(float)
    return "multinomial", encoded.astype(np.intp)


def fit_new_tasks(estimator, X, y, sample_weight=None, prior="empirical"):
    """Fit the coefficients and intercepts of new tasks, the source fixed.

    See :meth:`MultiTaskLinearMixin.fit_new_tasks`.
    """
    check_is_fitted(estimator, "coef_")
    check_prior(prior)
    classifier = hasattr(estimator, "classes_")
    data = check_new_task_data(
        estimator, X, y, sample_weight=sample_weight, y_numeric=not classifier
    )
    _forget_stale_new_tasks(estimator)
    builder = _prior_builder(estimator)
    kind, targets = _new_task_targets(estimator, data)
    params = model_params(estimator)
    n_source = n_source_tasks(estimator)
    source_coef = np.asarray(estimator.coef_, dtype=float)[:n_source]
    source_intercept = np.asarray(estimator.intercept_, dtype=float)[:n_source]
    priors = builder(estimator, params, source_coef)
    noise = getattr(estimator, "_source_noise", None)
    if prior == "empirical" and builder in _EMPIRICAL_FAMILIES:
        priors = strengthen(
            priors,
            source_coef,
            noise,
            source_row_weight(estimator),
            _cluster_members(estimator, n_source, builder),
        )
    elif prior == "empirical":
        blocks = _source_blocks(estimator, n_source)
        priors = [
            strengthen_blocks(candidate, blocks, noise, source_row_weight(estimator))
            for candidate in priors
        ]
    intercept_alpha = new_task_intercept_alpha(estimator, params, source_intercept)
    fit_intercept = bool(getattr(estimator, "fit_intercept", True))
    tol = float(getattr(estimator, "tol", 1e-4))
    max_iter = int(getattr(estimator, "max_iter", 1000))
    mix = prior == "empirical" and builder is _clustered_priors
    coefs, intercepts, choices, missed, blocks, shares = [], [], [], [], [], []
    for t in range(data.n_tasks):
        rows = data.task_slice(t)
        fits = []
        for candidate in priors:
            problem = NewTaskProblem(
                data.X[rows],
                targets[rows],
                data.sample_weight[rows],
                kind,
                candidate,
                source_row_weight(estimator),
                intercept_alpha if fit_intercept else None,
                estimator.shared_intercept_,
            )
            fits.append((problem, solve_new_task(problem, tol=tol, max_iter=max_iter)))
        if not all(result.converged for _, result in fits):
            missed.append(data.tasks[t])
        solutions = [problem.coef_intercept(result.u) for problem, result in fits]
        if mix:
            share = _cluster_shares(estimator, n_source, kind, fits)
            coef = sum(w * c for w, (c, _) in zip(share, solutions))
            intercept = sum(w * b for w, (_, b) in zip(share, solutions))
            shares.append(share)
            best_index = int(np.argmax(share))
        else:
            best_index = int(np.argmin([result.value for _, result in fits]))
            coef, intercept = solutions[best_index]
        problem, result = fits[best_index]
        if isinstance(problem.prior, DecompositionPrior):
            blocks.append(problem.prior.block_coefs(problem.split(result.u)[0]))
        coefs.append(coef)
        intercepts.append(intercept)
        choices.append(best_index)
    if missed:
        warnings.warn(
            f"fit_new_tasks did not reach tol={tol} within max_iter={max_iter} "
            f"iterations for the new task(s) {format_labels(missed)}. Increase "
            "max_iter, or check for a task whose rows are separable with a weak "
            "prior.",
            ConvergenceWarning,
            stacklevel=3,
        )
    _append_new_tasks(estimator, data.tasks, n_source, coefs, intercepts)
    if blocks:
        _append_new_blocks(estimator, n_source, blocks)
    estimator.new_task_intercept_alpha_ = float(intercept_alpha)
    if builder is _clustered_priors:
        labels = np.unique(np.asarray(estimator.task_clusters_)[:n_source])
        estimator.new_task_clusters_ = labels[np.asarray(choices, dtype=int)]
        if mix:
            estimator.new_task_cluster_probabilities_ = np.array(shares)
        elif hasattr(estimator, "new_task_cluster_probabilities_"):
            del estimator.new_task_cluster_probabilities_
    return estimator


def _cluster_shares(estimator, n_source, kind, fits):
    """Posterior probabilities of the clusters for one new task.

    ``pi_c`` proportional to ``n_c exp(-(F_c - F_min) / scale)``: ``n_c`` source
    tasks in cluster ``c`` (the prior odds), ``F_c`` the task's adaptation
    objective in cluster ``c`` without the constant of the cluster's prior
    (the rows' fit and the distance to the cluster), ``scale`` the factor
    that turns it into a negative log-likelihood: ``noise / n_bar`` for the
    squared loss (``noise`` the per-row noise of fit), ``1 / n_bar`` for the
    logistic losses. Without rows the shares are the cluster sizes, and the
    mixture of the cluster means is the mean of the source tasks.
    """
    labels = np.asarray(estimator.task_clusters_)[:n_source]
    sizes = np.unique(labels, return_counts=True)[1]
    scale = source_row_weight(estimator)
    if kind == "squared":
        scale *= float(getattr(estimator, "_source_noise", 1.0) or 1.0)
    fitness = np.array([result.value - p.prior.constant for p, result in fits])
    log_share = np.log(sizes) - (fitness - fitness.min()) / max(scale, 1e-300)
    share = np.exp(log_share - log_share.max())
    return share / share.sum()


#: The families whose prior is quadratic: ``prior="empirical"`` applies.
_EMPIRICAL_FAMILIES = (
    _mean_regularized_prior,
    _graph_prior,
    _joint_feature_prior,
    _trace_norm_prior,
    _task_relationship_prior,
    _clustered_priors,
)


def _cluster_members(estimator, n_source, builder):
    """The source tasks of every cluster prior (in its order); else ``None``."""
    if builder is not _clustered_priors:
        return None
    labels = np.asarray(estimator.task_clusters_)[:n_source]
    return [np.flatnonzero(labels == cluster) for cluster in np.unique(labels)]


def _forget_stale_new_tasks(estimator):
    """Drop ``new_tasks_`` left over from before the last ``fit``.

    ``fit`` records the sizes of its tasks (``_source_task_weights``); a
    ``*CV`` class copies the fitted attributes of its final fit without
    resetting those of an earlier ``fit_new_tasks``, which would then
    count source tasks as new ones.
    """
    n_source = len(getattr(estimator, "_source_task_weights", ()))
    if hasattr(estimator, "new_tasks_") and n_source == estimator.n_tasks_:
        del estimator.new_tasks_


def _append_new_tasks(estimator, tasks, n_source, coefs, intercepts):
    """Source rows of ``coef_``/``intercept_`` followed by those of the new tasks."""
    coef = np.asarray(estimator.coef_, dtype=float)[:n_source]
    intercept = np.asarray(estimator.intercept_, dtype=float)[:n_source]
    estimator.coef_ = np.concatenate(
        [coef, np.asarray(coefs).reshape((-1,) + coef.shape[1:])]
    )
    estimator.intercept_ = np.concatenate(
        [
            intercept,
            np.asarray(intercepts, dtype=float).reshape((-1,) + intercept.shape[1:]),
        ]
    )
    add_new_tasks(estimator, tasks)


def _append_new_blocks(estimator, n_source, blocks):
    """Source rows of each block attribute followed by those of the new tasks.

    ``blocks[t][k]`` is block ``k`` of new task ``t``, in the order of
    ``_block_attributes``; robust models also list a new task whose outlier
    block is not zero in ``outlier_tasks_``.
    """
    from ..penalties import TaskGroupNorm
    from ._robust import _RobustMixin

    for k, name in enumerate(estimator._block_attributes):
        source = np.asarray(getattr(estimator, name), dtype=float)[:n_source]
        new = np.asarray([task_blocks[k] for task_blocks in blocks])
        setattr(
            estimator,
            name,
            np.concatenate([source, new.reshape((-1,) + source.shape[1:])]),
        )
    if isinstance(estimator, _RobustMixin):
        norms = TaskGroupNorm.task_norms(estimator.outlier_coef_)
        estimator.outlier_tasks_ = estimator.tasks_[norms > 0]
