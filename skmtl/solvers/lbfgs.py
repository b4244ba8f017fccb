"""L-BFGS for smooth mean-regularised multi-task objectives (scipy.optimize).

The problem (docs/user_guide/regularization.rst, Evgeniou & Pontil 2004) is, with
``w_t = w_0 + v_t`` and ``b_t = b_0 + c_t``::

    minimise  sum_t (1 / n_t) sum_{i in t} s_i loss(y_i, x_i . w_t + b_t)
              + (alpha / 2) sum_t ||v_t||^2 + (alpha_mean / 2) ||w_0||^2
              + (intercept_penalty / 2) sum_t c_t^2

for any loss of :mod:`skmtl.losses`. For the multinomial loss every ``w_t`` is
a ``(n_classes, n_features)`` matrix, ``b_t`` a ``(n_classes,)`` vector and the
norms are Frobenius norms over classes and features. The shared intercept
``b_0`` is never penalised. With ``intercept_penalty=0`` the intercepts are not
split: each task has its own unpenalised ``b_t``.
"""

import dataclasses
import warnings

import numpy as np
from scipy import optimize
from sklearn.exceptions import ConvergenceWarning

from .._config import blas_threads_for
from ._design import (
    LongRowsDesign,
    SharedRowsDesign,
    data_term,
    make_design,
    scaled_gradient,
)
from ._result import SolverResult
from ._scaling import unscale_result

#: Wide data with fewer observed cells than this fraction is laid out long:
#: the one product over ``X`` computes every cell, observed or not.
MIN_OBSERVED = 0.5


class MeanRegularizedObjective:
    """Value and gradient of the mean-regularised objective over a flat vector.

    The flat parameter vector holds, in this order, ``w_0`` (``(K, p)``),
    ``V = (v_t)`` (``(T, K, p)``) and, with an intercept, ``b_0`` (``(K,)``,
    only when ``intercept_penalty > 0``) and ``C = (c_t)`` (``(T, K)``; the
    task intercepts ``b_t`` themselves when ``intercept_penalty == 0``).
    ``K = n_classes`` for the multinomial loss and 1 otherwise.

    Parameters
    ----------
    data : TaskData or design
        Observations grouped by task, ``data.y`` as the loss expects it; or
        their design (:func:`~skmtl.solvers._design.make_design`). A
        ``TaskData`` is laid out as given, without rescaling.
    loss : SquaredLoss, LogisticLoss or MultinomialLoss
    alpha, alpha_mean : float
        Strengths of the task-offset and shared-coefficient penalties.
    fit_intercept : bool
    n_classes : int or None
        Number of classes of the multinomial loss; ignored otherwise.
    intercept_penalty : float
        Strength of the penalty on the task-intercept offsets ``c_t``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.base import BaseEstimator
    >>> from skmtl._tasks import check_task_data
    >>> from skmtl.losses import LogisticLoss
    >>> X = np.array([[0, 1.0], [0, -1.0], [1, 2.0], [1, -2.0]])
    >>> data = check_task_data(BaseEstimator(), X, np.array([1.0, 0, 1, 0]),
    ...                        task_column=0)
    >>> objective = MeanRegularizedObjective(
    ...     data, LogisticLoss(), alpha=1.0, alpha_mean=1.0, intercept_penalty=1.0)
    >>> objective.size  # w_0, v_1, v_2, b_0, c_1, c_2
    6
    >>> value, gradient = objective.value_and_gradient(np.zeros(objective.size))
    >>> round(value, 4)  # two tasks, each log(2)
    1.3863
    """

    def __init__(
        self,
        data,
        loss,
        *,
        alpha,
        alpha_mean,
        fit_intercept=True,
        n_classes=None,
        intercept_penalty=0.0,
    ):
        self.loss = loss
        self.alpha = float(alpha)
        self.alpha_mean = float(alpha_mean)
        self.fit_intercept = bool(fit_intercept)
        self.intercept_penalty = float(intercept_penalty)
        self.multiclass = loss.multiclass
        if not isinstance(data, (SharedRowsDesign, LongRowsDesign)):
            data = make_design(
                data,
                multinomial=self.multiclass,
                rescale=False,
                min_observed=MIN_OBSERVED,
            )
        #: The data as a design: ``SharedRowsDesign`` or ``LongRowsDesign``.
        self.design = data
        if self.multiclass and n_classes is None:
            n_classes = int(np.max(data.y)) + 1
        self.n_classes = int(n_classes) if self.multiclass else 1
        self.split_intercept = self.fit_intercept and self.intercept_penalty > 0
        T, K, p = data.n_tasks, self.n_classes, data.n_features
        self.shapes = {"shared_coef": (K, p), "task_coef": (T, K, p)}
        if self.split_intercept:
            self.shapes["shared_intercept"] = (K,)
        if self.fit_intercept:
            self.shapes["task_intercept"] = (T, K)
        self.size = sum(int(np.prod(shape)) for shape in self.shapes.values())

    # ------------------------------------------------------------------
    # parameter vector
    # ------------------------------------------------------------------

    def unpack(self, params):
        """Split the flat vector into ``w_0, V, b_0, C`` (zeros where absent)."""
        T, K = self.design.n_tasks, self.n_classes
        blocks = {
            "shared_intercept": np.zeros(K),
            "task_intercept": np.zeros((T, K)),
        }
        start = 0
        for name, shape in self.shapes.items():
            stop = start + int(np.prod(shape))
            blocks[name] = params[start:stop].reshape(shape)
            start = stop
        return (
            blocks["shared_coef"],
            blocks["task_coef"],
            blocks["shared_intercept"],
            blocks["task_intercept"],
        )

    def pack(self, shared_coef, task_coef, shared_intercept, task_intercept):
        """Inverse of :meth:`unpack`."""
        blocks = {
            "shared_coef": shared_coef,
            "task_coef": task_coef,
            "shared_intercept": shared_intercept,
            "task_intercept": task_intercept,
        }
        return np.concatenate(
            [np.asarray(blocks[name], dtype=float).ravel() for name in self.shapes]
        )

    def curvature_scale(self):
        """Per-parameter ``sqrt(m_j + lambda_j)``, the diagonal preconditioner.

        ``lambda_j`` is the penalty strength of the block of parameter ``j``
        (``alpha_mean`` for ``w_0``, ``alpha`` for ``v_t``,
        ``intercept_penalty`` for ``c_t``, 0 for ``b_0`` and unsplit ``b_t``)
        and ``m_j`` the number of task data terms it enters (``n_tasks`` for
        ``w_0`` and ``b_0``, 1 otherwise): about the curvature of the
        objective along that parameter for features of unit scale.
        """
        n_tasks = self.design.n_tasks
        curvature = {
            "shared_coef": n_tasks + self.alpha_mean,
            "task_coef": 1.0 + self.alpha,
            "shared_intercept": float(n_tasks),
            "task_intercept": 1.0
            + (self.intercept_penalty if self.split_intercept else 0.0),
        }
        return np.concatenate(
            [
                np.full(int(np.prod(shape)), np.sqrt(curvature[name]))
                for name, shape in self.shapes.items()
            ]
        )

    def coefficients(self, params):
        """Per-task ``W`` of shape (T, K, p) and ``b`` of shape (T, K)."""
        shared_coef, task_coef, shared_intercept, task_intercept = self.unpack(params)
        return shared_coef + task_coef, shared_intercept + task_intercept

    # ------------------------------------------------------------------
    # value and gradient
    # ------------------------------------------------------------------

    def value_and_gradient(self, params):
        """Objective value and its gradient with respect to ``params``."""
        shared_coef, task_coef, shared_intercept, task_intercept = self.unpack(params)
        coef = shared_coef + task_coef
        intercept = shared_intercept + task_intercept
        z = self._predictions(coef, intercept)
        z_gradient = scaled_gradient(self.design, self.loss, z)
        coef_gradient = self._blocks(self.design.correlate(z_gradient))
        value = (
            data_term(self.design, self.loss, z)
            + 0.5 * self.alpha * _squared_norm(task_coef)
            + 0.5 * self.alpha_mean * _squared_norm(shared_coef)
        )
        gradient = {
            "shared_coef": coef_gradient.sum(axis=0) + self.alpha_mean * shared_coef,
            "task_coef": coef_gradient + self.alpha * task_coef,
        }
        if self.fit_intercept:
            intercept_gradient = self._blocks(self.design.task_sums(z_gradient))
            gradient["task_intercept"] = intercept_gradient
            if self.split_intercept:
                value += 0.5 * self.intercept_penalty * _squared_norm(task_intercept)
                gradient["shared_intercept"] = intercept_gradient.sum(axis=0)
                gradient["task_intercept"] = (
                    intercept_gradient + self.intercept_penalty * task_intercept
                )
        return value, np.concatenate([gradient[name].ravel() for name in self.shapes])

    def _predictions(self, coef, intercept):
        """``x_i . w_t + b_t`` in the design's layout (class axis last)."""
        if not self.multiclass:
            # One prediction per observation: drop the class axis of size 1.
            coef, intercept = coef[:, 0], intercept[:, 0]
        return self.design.predict(coef) + self.design.expand_intercept(intercept)

    def _blocks(self, per_task):
        """Per-task results with the class axis, (T, K, ...)."""
        return per_task.reshape(
            (self.design.n_tasks, self.n_classes)
            + per_task.shape[1 + self.multiclass :]
        )


def _squared_norm(array):
    return float(np.dot(array.ravel(), array.ravel()))


def solve_mean_regularized(
    data,
    loss,
    *,
    alpha,
    alpha_mean,
    fit_intercept=True,
    n_classes=None,
    intercept_penalty=0.0,
    tol=1e-6,
    max_iter=1000,
    init=None,
):
    """Minimise the mean-regularised multi-task objective with L-BFGS.

    The objective, with ``w_t = w_0 + v_t`` and ``b_t = b_0 + c_t``, is::

        sum_t (1 / n_t) sum_{i in t} s_i loss(y_i, x_i . w_t + b_t)
        + (alpha / 2) sum_t ||v_t||^2 + (alpha_mean / 2) ||w_0||^2
        + (intercept_penalty / 2) sum_t ||c_t||^2

    ``b_0`` is unpenalised. With ``intercept_penalty=0`` the intercepts are not
    split and every ``b_t`` is a free, unpenalised parameter
    (docs/user_guide/regularization.rst).
    For the multinomial loss ``w_t`` is ``(n_classes, n_features)`` and the
    norms are Frobenius norms over classes and features.

    Stopping criterion: with ``lambda_j`` the penalty strength of the block
    of parameter ``theta_j`` (``alpha_mean`` for ``w_0``, ``alpha`` for
    ``v_t``, ``intercept_penalty`` for ``c_t``, 0 for ``b_0`` and unsplit
    ``b_t``) and ``m_j`` the number of task data terms it enters (``n_tasks``
    for ``w_0`` and ``b_0``, 1 otherwise), the run converges when::

        max_j |dF / d theta_j| / sqrt(m_j + lambda_j) <= tol

    This is the sup-norm of the gradient in coordinates where every block has
    a curvature of about 1 for features of unit scale; L-BFGS runs in these
    coordinates (a diagonal preconditioner) with scipy's ``gtol = tol``. The
    data term of every task is a weighted *mean*, so the criterion does not
    grow with the number of rows or the scale of the sample weights, and it
    stays reachable for large ``alpha`` or ``alpha_mean``, where an absolute
    gradient bound falls below floating-point resolution. For one task and
    small penalties it is close to the criterion of scikit-learn's
    ``LogisticRegression(solver="lbfgs")`` (gradient sup-norm of the mean
    loss). ``ftol`` is 0, so L-BFGS does not stop because the objective
    changes little; it stops early only when the objective no longer
    decreases at all in floating point, which bounds the reachable ``tol``
    from below (about ``1e-8``). Missing ``tol`` sets ``converged=False`` and
    warns.

    Features (and, for the squared loss, targets) beyond ``2^40`` or below
    ``2^-40`` are rescaled exactly by powers of two
    (:mod:`skmtl.solvers._scaling`); the criterion is then that of the
    rescaled problem. Features so small that the rescaled strengths exceed
    float64 are refused with a ``ValueError``.

    Parameters
    ----------
    data : TaskData
        Observations grouped by task. Targets as the loss expects them:
        floats for the squared loss, 0/1 for the logistic loss, integer class
        indices for the multinomial loss.
    loss : SquaredLoss, LogisticLoss or MultinomialLoss
        Loss of the data term, from :mod:`skmtl.losses`.
    alpha : float
        Strength of the penalty on the task offsets ``v_t`` (>= 0).
    alpha_mean : float
        Strength of the penalty on the shared coefficients ``w_0`` (>= 0).
    fit_intercept : bool, default=True
        Fit intercepts; without, every ``b_t = 0``.
    n_classes : int, default=None
        Number of classes of the multinomial loss (inferred from ``data.y``
        when ``None``); ignored for other losses.
    intercept_penalty : float, default=0.0
        Strength of the penalty on the task intercept offsets ``c_t``.
    tol : float, default=1e-6
        Bound on the scaled sup-norm of the gradient (see above).
    max_iter : int, default=1000
        Maximum number of L-BFGS iterations.
    init : SolverResult, default=None
        Warm start: a previous result of this function on a problem of the
        same shape. ``None`` starts from zero.

    Returns
    -------
    result : SolverResult
        ``coef`` of shape ``(n_tasks, n_features)`` (multinomial:
        ``(n_tasks, n_classes, n_features)``), ``intercept`` of shape
        ``(n_tasks,)`` (``(n_tasks, n_classes)``), ``gap`` the final value of
        the stopping criterion (scaled gradient sup-norm),
        ``extra["shared_coef"]`` (``w_0``) and ``extra["shared_intercept"]``
        (``b_0``; with ``intercept_penalty=0`` the unweighted mean of the
        task intercepts). For the multinomial loss, whose intercepts are
        defined up to a common shift over classes, every ``b_t`` and ``b_0``
        is centred to sum to zero over classes.

    Warns
    -----
    ConvergenceWarning
        When the stopping criterion is still above ``tol`` at the end.

    References
    ----------
    T. Evgeniou and M. Pontil. Regularized multi-task learning. KDD 2004.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.base import BaseEstimator
    >>> from skmtl._tasks import check_task_data
    >>> from skmtl.losses import SquaredLoss
    >>> X = np.array([[0, 1.0], [0, 2.0], [1, 1.0], [1, 3.0], [1, 4.0]])
    >>> y = np.array([1.0, 2.0, 0.5, 1.5, 2.0])
    >>> data = check_task_data(BaseEstimator(), X, y, task_column=0)
    >>> result = solve_mean_regularized(data, SquaredLoss(), alpha=1.0,
    ...                                 alpha_mean=0.1)
    >>> result.coef.shape, result.converged
    ((2, 1), True)
    """
    design = make_design(data, multinomial=loss.multiclass, min_observed=MIN_OBSERVED)
    scaling = design.scaling
    strengths = [scaling.strength(value, degree=2) for value in (alpha, alpha_mean)]
    if not np.all(np.isfinite(strengths)):
        raise ValueError(
            f"The features are too small for alpha={alpha:g} and alpha_mean="
            f"{alpha_mean:g}: their largest magnitude is about "
            f"2^{scaling.x_exponent}, so the coefficients underflow float64. "
            "Scale the features, for example with "
            "skmtl.pipeline.TaskColumnPassthrough(MaxAbsScaler()) in a Pipeline."
        )
    objective = MeanRegularizedObjective(
        design,
        loss,
        alpha=strengths[0],
        alpha_mean=strengths[1],
        fit_intercept=fit_intercept,
        n_classes=n_classes,
        intercept_penalty=intercept_penalty,
    )
    with blas_threads_for(_largest_product(design, objective.n_classes)):
        result = _minimize(objective, _scaled_init(init, scaling), tol, max_iter)
    extra = dict(result.extra)
    extra["shared_coef"] = scaling.coef_out(extra["shared_coef"])
    extra["shared_intercept"] = scaling.intercept_out(extra["shared_intercept"])
    return dataclasses.replace(
        unscale_result(result, scaling), gap=result.gap, extra=extra
    )


def _largest_product(design, n_classes):
    """Multiply-adds of the largest product with the design, per task."""
    rows = design.X.shape[0] if design.fully_observed else design.task_counts.max()
    return int(rows) * design.n_features * n_classes


def _scaled_init(init, scaling):
    """A warm start in the units of the rescaled data."""
    if init is None or scaling.identity:
        return init
    extra = dict(init.extra)
    try:
        extra["shared_coef"] = scaling.coef_in(extra["shared_coef"])
        extra["shared_intercept"] = scaling.intercept_in(extra["shared_intercept"])
    except KeyError:
        return init  # reported by _initial_params
    return dataclasses.replace(
        init,
        coef=scaling.coef_in(init.coef),
        intercept=scaling.intercept_in(init.intercept),
        extra=extra,
    )


def _minimize(objective, init, tol, max_iter):
    """L-BFGS-B in preconditioned coordinates (see :func:`solve_mean_regularized`)."""
    root_curvature = objective.curvature_scale()

    def scaled_value_and_gradient(scaled_params):
        value, gradient = objective.value_and_gradient(scaled_params / root_curvature)
        return value, gradient / root_curvature

    optimum = optimize.minimize(
        scaled_value_and_gradient,
        _initial_params(objective, init) * root_curvature,
        method="L-BFGS-B",
        jac=True,
        # max_iter bounds the evaluations too (scipy's default maxfun does not
        # follow maxiter): 20 per iteration is far above the one or two a
        # line search usually takes.
        options={
            "maxiter": max_iter,
            "maxfun": 20 * max_iter,
            "maxls": 50,
            "gtol": tol,
            "ftol": 0.0,
        },
    )
    params = optimum.x / root_curvature
    n_iter = min(int(optimum.nit), max_iter)
    gap = float(np.max(np.abs(optimum.jac))) if optimum.jac.size else 0.0
    converged = gap <= tol
    if not converged:
        finite = np.isfinite(gap) and np.isfinite(optimum.fun)
        _warn_not_converged(gap, tol, n_iter, max_iter, optimum.message, finite)
    return _result(objective, params, optimum.fun, n_iter, gap, converged)


def _warn_not_converged(gap, tol, n_iter, max_iter, message, finite=True):
    if not finite:
        advice = (
            "The objective or its gradient is not finite in float64: scale the "
            "features and targets (for example with MaxAbsScaler)."
        )
    elif n_iter >= max_iter:
        advice = (
            f"Increase max_iter (now {max_iter}) or scale the features (for "
            "example with StandardScaler)."
        )
    else:
        advice = (
            "L-BFGS stopped early because the objective no longer decreased in "
            "floating point: tol is below what this problem resolves. Loosen "
            "tol, or scale the features (for example with StandardScaler)."
        )
    warnings.warn(
        f"L-BFGS did not converge: after {n_iter} iteration(s) the scaled "
        f"sup-norm of the objective's gradient is {gap:.3g}, above tol={tol:g} "
        "(scipy: "
        f"{message}). {advice}",
        ConvergenceWarning,
        stacklevel=4,
    )


def _initial_params(objective, init):
    if init is None:
        return np.zeros(objective.size)
    T, K = objective.design.n_tasks, objective.n_classes
    p = objective.design.n_features
    try:
        shared_coef = np.reshape(init.extra["shared_coef"], (K, p))
        coef = np.reshape(init.coef, (T, K, p))
        shared_intercept = np.reshape(init.extra["shared_intercept"], (-1,))
        intercept = np.reshape(init.intercept, (T, K))
    except (ValueError, KeyError, AttributeError) as exc:
        raise ValueError(
            "init must be the SolverResult of solve_mean_regularized on a "
            f"problem with {T} task(s), {K} class block(s) and {p} feature(s); "
            f"got {init!r}."
        ) from exc
    if not objective.split_intercept:
        shared_intercept = np.zeros(K)
    return objective.pack(
        shared_coef,
        coef - shared_coef,
        shared_intercept,
        intercept - shared_intercept,
    )


def _result(objective, params, value, n_iter, gap, converged):
    shared_coef, _, shared_intercept, task_intercept = objective.unpack(params)
    coef, intercept = objective.coefficients(params)
    if not objective.split_intercept:
        shared_intercept = task_intercept.mean(axis=0)
    if objective.multiclass:
        # The softmax is invariant to a common shift of a task's intercepts:
        # report the representative that sums to zero over classes.
        intercept = intercept - intercept.mean(axis=1, keepdims=True)
        shared_intercept = shared_intercept - shared_intercept.mean()
    else:
        shared_coef, shared_intercept = shared_coef[0], float(shared_intercept[0])
        coef, intercept = coef[:, 0, :], intercept[:, 0]
    return SolverResult(
        coef=np.array(coef),
        intercept=np.array(intercept),
        n_iter=n_iter,
        objective=float(value),
        gap=gap,
        converged=converged,
        extra={
            "shared_coef": np.array(shared_coef),
            "shared_intercept": shared_intercept,
        },
    )
