"""Task-relationship learning (MTRL): the covariance of the tasks is learned with W."""

import numpy as np
from sklearn.base import BaseEstimator

from ..penalties import TaskRelationship
from ._cv import PathCVMixin
from ._penalized import (
    CLASSIFIER_CONSTRAINTS,
    COMMON_CONSTRAINTS,
    STRENGTH,
    PenalizedClassifierMixin,
    PenalizedRegressorMixin,
    SmoothPathMixin,
    cv_constraints,
    fill_doc,
)

_NOTES = """
    **The learned covariance.** For a fixed ``W`` the minimum over ``Omega``
    is attained at ``Omega = (W W^T)^{1/2} / tr((W W^T)^{1/2})`` (``W W^T``
    is ``n_tasks x n_tasks``), where the relationship term equals
    ``(beta / 2) ||W||_*^2``, the squared trace norm. The problem is jointly
    convex in ``(W, Omega)``; the solvers work on ``W`` alone with the
    proximal operator of ``(alpha / 2) ||W||_F^2 + (beta / 2) ||W||_*^2``
    (no alternating minimisation), and ``task_covariance_`` is this
    ``Omega`` at the fitted ``W``. It is the row covariance of the
    matrix-normal prior ``W ~ MN(0, Omega, I)`` of Zhang & Yeung (2010):
    a positive ``task_correlation_[s, t]`` says that tasks ``s`` and ``t``
    have similar coefficients, a negative one opposite coefficients, zero
    unrelated ones.

    **One task.** ``||w||_* = ||w||_2``: the penalty is
    ``((alpha + beta) / 2) ||w||^2`` and the model is ridge regression,
    scikit-learn's ``Ridge(alpha=(alpha + beta) * n)`` with ``n`` the total
    sample weight (the number of rows without weights).

    **Multiclass.** ``W`` is the matrix of the task rows of
    ``coef_.reshape(n_tasks, -1)`` (the classes of a task side by side):
    ``Omega`` relates tasks, not classes.
"""

_CV_PATH = """alphas : int or array-like, default=10
        Path of the relationship strength ``beta``. The penalty never makes
        all the coefficients zero: an int gives that many values from the top
        of the useful range (a multiple of the curvature of the data term,
        where the model is close to the intercept-only model) down to
        ``eps`` times it, evenly on a log scale; an array gives the values.
    eps : float, default=1e-6
        Length of the path for an int ``alphas``: ``beta_min / beta_max``.
    ridge_ratios : float or array-like, default=(0.01, 0.1, 1.0)
        Values of ``alpha / beta`` searched, each with its own path."""

_CV_TAIL = """cv : int, cross-validation generator or iterable, default=None
        Folds. ``None`` or an int: :class:`~skmtl.model_selection.TaskKFold`
        in long format (every task in every training fold), ``KFold`` (or
        ``StratifiedKFold`` for a 1-D classification target) otherwise.
    scoring : str, callable or None, default=None
        Score of the held-out rows, a scikit-learn scorer; ``None``: the
        estimator's ``score`` (R^2 or accuracy over all tasks).
    n_jobs : int or None, default=None
        Folds and grid points fitted in parallel (joblib threads)."""

_CV_ATTRIBUTES = """alpha_ : float
        The chosen value of the path parameter, ``beta`` (the name every
        ``*CV`` class of skmtl gives its path parameter).
    beta_ : float
        The chosen ``beta`` (the same value as ``alpha_``).
    ridge_ratio_ : float
        The chosen ``alpha / beta``.
    ridge_alpha_ : float
        The chosen ridge strength ``alpha = ridge_ratio_ * beta_``.
    alphas_ : ndarray of shape (n_ridge_ratios, n_alphas)
        The paths of ``beta``, one row per value of ``ridge_ratios``.
    cv_results_ : dict of ndarray
        Scores of every point and fold, with the keys of
        :class:`~sklearn.model_selection.GridSearchCV` (``params``,
        ``param_beta``, ``param_ridge_ratio``, ``split<k>_test_score``,
        ``mean_test_score``, ``std_test_score``, ``rank_test_score``, fit
        and score times).
    best_score_ : float
        Mean cross-validated score of the chosen point.
    best_params_ : dict
        The chosen point, ``{"beta": ..., "ridge_ratio": ...}``.
    best_index_ : int
        Its index in ``cv_results_``.
    n_splits_ : int
        Number of folds."""


def unit_diagonal(matrix):
    """``M`` scaled to a unit diagonal: ``C[s, t] = M[s, t] / sqrt(M[s, s] M[t, t])``.

    A row with a zero diagonal entry (a task whose coefficients are all
    zero) is zero off the diagonal and one on it.
    """
    matrix = np.asarray(matrix, dtype=float)
    scale = np.sqrt(np.clip(np.diag(matrix), 0.0, None))
    positive = scale > 0
    inverse = np.where(positive, 1.0 / np.where(positive, scale, 1.0), 0.0)
    scaled = matrix * inverse[:, None] * inverse[None, :]
    # Rounding may leave |C[s, t]| a hair above one for a PSD matrix.
    scaled = np.clip(scaled, -1.0, 1.0)
    np.fill_diagonal(scaled, 1.0)
    return scaled


class _TaskRelationshipMixin:
    def _penalty(self):
        return TaskRelationship(self.alpha, self.beta)

    def _set_structure(self):
        self.task_covariance_ = self._penalty().task_covariance(self.coef_)
        self.task_correlation_ = unit_diagonal(self.task_covariance_)


class TaskRelationshipRegressor(
    SmoothPathMixin, _TaskRelationshipMixin, PenalizedRegressorMixin, BaseEstimator
):
    """Multi-task linear regression that learns the covariance of the tasks (MTRL).

    Every task ``t`` has its own linear model ``x . w_t + b_t``; a task
    covariance ``Omega`` (``n_tasks x n_tasks``, positive semi-definite,
    trace one) is learned with the coefficient matrix ``W`` (tasks x
    features) (Zhang & Yeung 2010)::

        minimise  sum_t (1 / n_t) sum_{i in t} s_i (y_i - x_i . w_t - b_t)^2 / 2
                  + (alpha / 2) ||W||_F^2
                  + (beta / 2) min_Omega tr(W^T Omega^{-1} W)
                  + (intercept_alpha / 2) sum_t (b_t - b_0)^2

        over      Omega >= 0 (positive semi-definite), tr(Omega) = 1

    with ``n_t`` the total sample weight of task ``t``. Related tasks
    (large ``|Omega[s, t]|``) borrow strength from one another, positively
    or negatively correlated. It is solved by ADMM on the per-task Gram
    matrices (:mod:`skmtl.solvers.admm`) or accelerated proximal gradient
    (:mod:`skmtl.solvers.fista`), stopping on the duality gap.

    Read more in the :ref:`User Guide <task_relationship>`.

    Parameters
    ----------
    alpha : float, default=0.01
        Ridge strength (>= 0).
    beta : float, default=0.1
        Strength of the task-relationship term (>= 0).
    {regressor_parameters}

    Attributes
    ----------
    coef_ : ndarray of shape (n_tasks, n_features)
        Task coefficients ``w_t`` (rows of ``W``).
    intercept_ : ndarray of shape (n_tasks,)
        Task intercepts ``b_t``.
    task_covariance_ : ndarray of shape (n_tasks, n_tasks)
        The learned ``Omega = (W W^T)^{1/2} / tr((W W^T)^{1/2})`` at the
        fitted ``W`` (``I / n_tasks`` when ``W = 0``), in the order of
        ``tasks_``.
    task_correlation_ : ndarray of shape (n_tasks, n_tasks)
        ``task_covariance_`` scaled to a unit diagonal (a task with zero
        coefficients is uncorrelated with the others).
    {common_attributes}

    See Also
    --------
    TaskRelationshipRegressorCV : Choose ``beta`` and ``alpha`` by cross-validation.
    ClusteredMultiTaskRegressor : Tasks grouped into clusters instead.
    TraceNormRegressor : The trace norm itself, not squared: a low-rank ``W``.

    Notes
    -----
    {notes}
    References
    ----------
    Y. Zhang and D.-Y. Yeung. A convex formulation for learning task
    relationships in multi-task learning. UAI, 2010.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import TaskRelationshipRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 4))
    >>> w = rng.normal(size=4)
    >>> W = np.array([w, w, -w])  # tasks 0 and 1 alike, task 2 opposite
    >>> Y = X @ W.T + 0.1 * rng.normal(size=(100, 3))
    >>> model = TaskRelationshipRegressor(alpha=0.01, beta=0.1).fit(X, Y)
    >>> model.task_correlation_.round(1)
    array([[ 1.,  1., -1.],
           [ 1.,  1., -1.],
           [-1., -1.,  1.]])
    """

    _parameter_constraints = {**COMMON_CONSTRAINTS, "alpha": STRENGTH, "beta": STRENGTH}

    def __init__(
        self,
        alpha=0.01,
        beta=0.1,
        *,
        fit_intercept=True,
        intercept_alpha=0.0,
        task_column=None,
        solver="auto",
        tol=1e-4,
        max_iter=10_000,
        warm_start=False,
        unknown_task="error",
    ):
        self.alpha = alpha
        self.beta = beta
        self.fit_intercept = fit_intercept
        self.intercept_alpha = intercept_alpha
        self.task_column = task_column
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.unknown_task = unknown_task


class TaskRelationshipClassifier(
    SmoothPathMixin, _TaskRelationshipMixin, PenalizedClassifierMixin, BaseEstimator
):
    """Multi-task logistic regression that learns the covariance of the tasks (MTRL).

    Every task ``t`` has its own linear model; a task covariance ``Omega``
    is learned with the coefficients (Zhang & Yeung 2010)::

        minimise  sum_t (1 / n_t) sum_{i in t} s_i loss(y_i, x_i . w_t + b_t)
                  + (alpha / 2) ||W||_F^2
                  + (beta / 2) min_Omega tr(W^T Omega^{-1} W)
                  + (intercept_alpha / 2) sum_t ||b_t - b_0||^2

        over      Omega >= 0 (positive semi-definite), tr(Omega) = 1

    minimised also over the shared intercept ``b_0``. {classifier_loss}

    Read more in the :ref:`User Guide <task_relationship>`.

    Parameters
    ----------
    alpha : float, default=0.001
        Ridge strength (>= 0).
    beta : float, default=0.01
        Strength of the task-relationship term (>= 0).
    {classifier_parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, common to all tasks.
    coef_ : ndarray of shape (n_tasks, n_features) or (n_tasks, n_classes, n_features)
        Task coefficients; 3-D for more than two classes.
    intercept_ : ndarray of shape (n_tasks,) or (n_tasks, n_classes)
        Task intercepts.
    task_covariance_ : ndarray of shape (n_tasks, n_tasks)
        The learned ``Omega = (W W^T)^{1/2} / tr((W W^T)^{1/2})`` at the
        fitted ``W = coef_.reshape(n_tasks, -1)``.
    task_correlation_ : ndarray of shape (n_tasks, n_tasks)
        ``task_covariance_`` scaled to a unit diagonal.
    {common_attributes}

    See Also
    --------
    TaskRelationshipClassifierCV : Choose ``beta`` and ``alpha`` by cross-validation.
    TaskRelationshipRegressor : The same penalty with the squared loss.

    Notes
    -----
    {notes}
    References
    ----------
    Y. Zhang and D.-Y. Yeung. A convex formulation for learning task
    relationships in multi-task learning. UAI, 2010.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import TaskRelationshipClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 4))
    >>> w = rng.normal(size=4)
    >>> Y = (X @ np.array([w, w, -w]).T > 0).astype(int)
    >>> clf = TaskRelationshipClassifier().fit(X, Y)
    >>> clf.task_correlation_.round(1)
    array([[ 1.,  1., -1.],
           [ 1.,  1., -1.],
           [-1., -1.,  1.]])
    """

    _parameter_constraints = {
        **CLASSIFIER_CONSTRAINTS,
        "alpha": STRENGTH,
        "beta": STRENGTH,
    }

    def __init__(
        self,
        alpha=0.001,
        beta=0.01,
        *,
        fit_intercept=True,
        intercept_alpha=1e-3,
        task_column=None,
        solver="auto",
        tol=1e-4,
        max_iter=10_000,
        warm_start=False,
        unknown_task="error",
    ):
        self.alpha = alpha
        self.beta = beta
        self.fit_intercept = fit_intercept
        self.intercept_alpha = intercept_alpha
        self.task_column = task_column
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.unknown_task = unknown_task


for _cls in (TaskRelationshipRegressor, TaskRelationshipClassifier):
    _cls.__doc__ = _cls.__doc__.replace("{notes}", _NOTES.strip() + "\n")
fill_doc(TaskRelationshipRegressor, TaskRelationshipClassifier)


class _TaskRelationshipCVMixin(_TaskRelationshipMixin, PathCVMixin):
    """The path over ``beta``, a grid over ``alpha / beta``."""

    _path_param = "beta"
    _grid_params = {
        "ridge_ratios": (
            "ridge_ratio",
            lambda beta, ratio: {"alpha": ratio * beta},
        )
    }

    def fit(self, X, y, sample_weight=None, **params):
        """Cross-validate the paths, then fit the best point on all the data.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Features, plus the task column in long format.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            Targets; 2-D in wide format (``NaN`` for unobserved).
        sample_weight : float or array-like of shape (n_samples,), default=None
            Row weights, for the fits and for scorers that accept them.
        **params : dict
            Metadata routed to the splitter's ``split`` (for example
            ``groups``) and the scorer, with metadata routing enabled.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        super().fit(X, y, sample_weight=sample_weight, **params)
        self.beta_ = self.alpha_
        self.ridge_alpha_ = self.ridge_ratio_ * self.beta_
        return self


def _cv_doc(cls, model):
    """Fill the docstring of a ``*CV`` class of ``model``."""
    cls.__doc__ = (
        cls.__doc__.replace("{cv_path}", _CV_PATH)
        .replace("{cv_tail}", _CV_TAIL)
        .replace("{mtrl_cv_attributes}", _CV_ATTRIBUTES)
        .replace("{model}", model.__name__)
    )
    fill_doc(cls)


class TaskRelationshipRegressorCV(
    _TaskRelationshipCVMixin, PenalizedRegressorMixin, BaseEstimator
):
    """:class:`TaskRelationshipRegressor` with its strengths chosen by cross-validation.

    The path runs over the relationship strength ``beta``, with the ridge
    strength ``alpha = ridge_ratio * beta`` for every ratio of
    ``ridge_ratios``; every fold fits it with warm starts, and the best
    point (mean held-out score) is refitted on all the data
    (:mod:`skmtl.linear_model._cv`, docs/architecture.rst).

    Read more in the :ref:`User Guide <task_relationship>`.

    Parameters
    ----------
    {cv_path}
    {cv_tail}
    {regressor_parameters}

    Attributes
    ----------
    {mtrl_cv_attributes}
    coef_, intercept_, task_covariance_, task_correlation_
        As in :class:`{model}`, refitted at the chosen point.
    {common_attributes}

    See Also
    --------
    TaskRelationshipRegressor : The model at fixed strengths.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import TaskRelationshipRegressorCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 4))
    >>> w = rng.normal(size=4)
    >>> Y = X @ np.array([w, 0.5 * w, -w]).T + 0.1 * rng.normal(size=(120, 3))
    >>> model = TaskRelationshipRegressorCV(alphas=5, cv=3).fit(X, Y)
    >>> sorted(model.best_params_)
    ['beta', 'ridge_ratio']
    >>> model.task_correlation_.shape
    (3, 3)
    """

    _estimator_class = TaskRelationshipRegressor
    _parameter_constraints = cv_constraints(
        TaskRelationshipRegressor._parameter_constraints,
        path_param="beta",
        mapped=("alpha",),
        grids=("ridge_ratios",),
    )

    def __init__(
        self,
        *,
        alphas=10,
        eps=1e-6,
        ridge_ratios=(0.01, 0.1, 1.0),
        fit_intercept=True,
        intercept_alpha=0.0,
        task_column=None,
        solver="auto",
        tol=1e-4,
        max_iter=10_000,
        unknown_task="error",
        cv=None,
        scoring=None,
        n_jobs=None,
    ):
        self.alphas = alphas
        self.eps = eps
        self.ridge_ratios = ridge_ratios
        self.fit_intercept = fit_intercept
        self.intercept_alpha = intercept_alpha
        self.task_column = task_column
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.unknown_task = unknown_task
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs


class TaskRelationshipClassifierCV(
    _TaskRelationshipCVMixin, PenalizedClassifierMixin, BaseEstimator
):
    """:class:`TaskRelationshipClassifier` with strengths chosen by cross-validation.

    The path runs over the relationship strength ``beta``, with the ridge
    strength ``alpha = ridge_ratio * beta`` for every ratio of
    ``ridge_ratios``; every fold fits it with warm starts, and the best
    point (mean held-out score) is refitted on all the data
    (:mod:`skmtl.linear_model._cv`, docs/architecture.rst).

    Read more in the :ref:`User Guide <task_relationship>`.

    Parameters
    ----------
    {cv_path}
    {cv_tail}
    {classifier_parameters}

    Attributes
    ----------
    {mtrl_cv_attributes}
    classes_, coef_, intercept_, task_covariance_, task_correlation_
        As in :class:`{model}`, refitted at the chosen point.
    {common_attributes}

    See Also
    --------
    TaskRelationshipClassifier : The model at fixed strengths.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import TaskRelationshipClassifierCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4))
    >>> w = rng.normal(size=4)
    >>> Y = (X @ np.array([w, w, -w]).T > 0).astype(int)
    >>> model = TaskRelationshipClassifierCV(alphas=4, cv=3, ridge_ratios=0.1)
    >>> model.fit(X, Y).cv_results_["mean_test_score"].shape
    (4,)
    """

    _estimator_class = TaskRelationshipClassifier
    _parameter_constraints = cv_constraints(
        TaskRelationshipClassifier._parameter_constraints,
        path_param="beta",
        mapped=("alpha",),
        grids=("ridge_ratios",),
    )

    def __init__(
        self,
        *,
        alphas=10,
        eps=1e-6,
        ridge_ratios=(0.01, 0.1, 1.0),
        fit_intercept=True,
        intercept_alpha=1e-3,
        task_column=None,
        solver="auto",
        tol=1e-4,
        max_iter=10_000,
        unknown_task="error",
        cv=None,
        scoring=None,
        n_jobs=None,
    ):
        self.alphas = alphas
        self.eps = eps
        self.ridge_ratios = ridge_ratios
        self.fit_intercept = fit_intercept
        self.intercept_alpha = intercept_alpha
        self.task_column = task_column
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.unknown_task = unknown_task
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs


_cv_doc(TaskRelationshipRegressorCV, TaskRelationshipRegressor)
_cv_doc(TaskRelationshipClassifierCV, TaskRelationshipClassifier)
