"""Robust multi-task learning: a low-rank part plus a few outlier tasks."""

from sklearn.base import BaseEstimator

from ..penalties import Decomposition, TaskGroupNorm, TraceNorm
from ._cv import PathCVMixin
from ._penalized import (
    CLASSIFIER_CONSTRAINTS,
    COMMON_CONSTRAINTS,
    STRENGTH,
    PenalizedClassifierMixin,
    PenalizedRegressorMixin,
    _low_rank_structure,
    cv_constraints,
    fill_doc,
)


class _RobustMixin:
    _block_attributes = ("low_rank_coef_", "outlier_coef_")

    def _penalty(self):
        return Decomposition(
            TraceNorm(self.alpha_rank), TaskGroupNorm(self.alpha_outlier)
        )

    def _set_structure(self):
        self.rank_, self.components_, _ = _low_rank_structure(self.low_rank_coef_)
        norms = TaskGroupNorm.task_norms(self.outlier_coef_)
        self.outlier_tasks_ = self.tasks_[norms > 0]


class RobustMultiTaskRegressor(_RobustMixin, PenalizedRegressorMixin, BaseEstimator):
    """Multi-task linear regression robust to outlier tasks.

    The task coefficients are ``W = L + S``: the related tasks share a
    low-rank ``L``; a task that does not fit the shared structure gets a
    non-zero row ``S[t]`` of its own, and is reported as an outlier task
    (Chen, Zhou & Ye 2011)::

        minimise  sum_t (1 / n_t) sum_{i in t} s_i (y_i - x_i . w_t - b_t)^2 / 2
                  + alpha_rank * ||L||_* + alpha_outlier * sum_t ||S[t]||_2
                  + (intercept_alpha / 2) sum_t (b_t - b_0)^2

    solved by ADMM in Gram form (:mod:`skmtl.solvers.admm`) or accelerated
    proximal gradient on both blocks (:mod:`skmtl.solvers.fista`).

    Read more in the :ref:`User Guide <low_rank>`.

    Parameters
    ----------
    alpha_rank : float, default=0.1
        Strength of the trace norm of ``L`` (>= 0).
    alpha_outlier : float, default=0.1
        Strength of the group norm of the rows of ``S`` (>= 0): the larger,
        the fewer outlier tasks.
    {regressor_parameters}

    Attributes
    ----------
    coef_ : ndarray of shape (n_tasks, n_features)
        Task coefficients ``W = L + S``.
    intercept_ : ndarray of shape (n_tasks,)
        Task intercepts.
    low_rank_coef_ : ndarray of shape (n_tasks, n_features)
        The shared low-rank part ``L``.
    outlier_coef_ : ndarray of shape (n_tasks, n_features)
        The outlier part ``S``; its non-zero rows are the outlier tasks.
    outlier_tasks_ : ndarray
        Labels of the tasks with a non-zero row of ``S``.
    rank_ : int
        Rank of ``L``.
    components_ : ndarray of shape (``rank_``, n_features)
        Orthonormal directions spanning the rows of ``L``.
    {common_attributes}

    See Also
    --------
    RobustMultiTaskRegressorCV : Choose the strengths by cross-validation.
    TraceNormRegressor : The low-rank part alone.

    References
    ----------
    J. Chen, J. Zhou and J. Ye. Integrating low-rank and group-sparse
    structures for robust multi-task learning. KDD, 2011.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import RobustMultiTaskRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 6))
    >>> W = rng.normal(size=(6, 1)) @ rng.normal(size=(1, 6))
    >>> W[2] = 3 * rng.normal(size=6)  # task 2 is an outlier
    >>> Y = X @ W.T + 0.1 * rng.normal(size=(200, 6))
    >>> model = RobustMultiTaskRegressor(alpha_rank=0.3, alpha_outlier=0.3)
    >>> model.fit(X, Y).outlier_tasks_
    array([2])
    """

    _parameter_constraints = {
        **COMMON_CONSTRAINTS,
        "alpha_rank": STRENGTH,
        "alpha_outlier": STRENGTH,
    }

    def __init__(
        self,
        alpha_rank=0.1,
        alpha_outlier=0.1,
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
        self.alpha_rank = alpha_rank
        self.alpha_outlier = alpha_outlier
        self.fit_intercept = fit_intercept
        self.intercept_alpha = intercept_alpha
        self.task_column = task_column
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.unknown_task = unknown_task


class RobustMultiTaskClassifier(_RobustMixin, PenalizedClassifierMixin, BaseEstimator):
    """Multi-task logistic regression robust to outlier tasks.

    ``W = L + S`` with ``penalty(W) = alpha_rank ||L||_* +
    alpha_outlier sum_t ||S[t]||_2`` (Chen, Zhou & Ye 2011)::

        {classifier_objective}

    {classifier_loss} The group of an outlier task spans all its classes.

    Read more in the :ref:`User Guide <low_rank>`.

    Parameters
    ----------
    alpha_rank : float, default=0.01
        Strength of the trace norm of ``L`` (>= 0).
    alpha_outlier : float, default=0.01
        Strength of the group norm of the tasks' blocks of ``S`` (>= 0).
    {classifier_parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, common to all tasks.
    coef_ : ndarray of shape (n_tasks, n_features) or (n_tasks, n_classes, n_features)
        Task coefficients ``W = L + S``.
    intercept_ : ndarray of shape (n_tasks,) or (n_tasks, n_classes)
        Task intercepts.
    low_rank_coef_ : ndarray of the shape of ``coef_``
        The shared low-rank part ``L``.
    outlier_coef_ : ndarray of the shape of ``coef_``
        The outlier part ``S``.
    outlier_tasks_ : ndarray
        Labels of the tasks with a non-zero block of ``S``.
    rank_ : int
        Rank of ``L`` (as the matrix of its rows).
    components_ : ndarray of shape (``rank_``, n_features)
        Orthonormal directions spanning the rows of ``L``.
    {common_attributes}

    See Also
    --------
    RobustMultiTaskClassifierCV : Choose the strengths by cross-validation.
    RobustMultiTaskRegressor : The same penalty with the squared loss.

    References
    ----------
    J. Chen, J. Zhou and J. Ye. Integrating low-rank and group-sparse
    structures for robust multi-task learning. KDD, 2011.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import RobustMultiTaskClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5))
    >>> Y = (X @ rng.normal(size=(5, 3)) > 0).astype(int)
    >>> clf = RobustMultiTaskClassifier().fit(X, Y)
    >>> clf.predict(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints = {
        **CLASSIFIER_CONSTRAINTS,
        "alpha_rank": STRENGTH,
        "alpha_outlier": STRENGTH,
    }

    def __init__(
        self,
        alpha_rank=0.01,
        alpha_outlier=0.01,
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
        self.alpha_rank = alpha_rank
        self.alpha_outlier = alpha_outlier
        self.fit_intercept = fit_intercept
        self.intercept_alpha = intercept_alpha
        self.task_column = task_column
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.unknown_task = unknown_task


fill_doc(RobustMultiTaskRegressor, RobustMultiTaskClassifier)


class RobustMultiTaskRegressorCV(
    _RobustMixin, PathCVMixin, PenalizedRegressorMixin, BaseEstimator
):
    """:class:`RobustMultiTaskRegressor` with its strengths chosen by cross-validation.

    The path runs over ``alpha_rank``, with ``alpha_outlier = outlier_ratio *
    alpha_rank`` for every ratio of ``outlier_ratios``; every fold fits it with
    warm starts, and the best point (mean held-out score) is refitted on all the
    data (:mod:`skmtl.linear_model._cv`, docs/architecture.rst).

    Read more in the :ref:`User Guide <low_rank>`.

    Parameters
    ----------
    {cv_parameters}
    outlier_ratios : float or array-like, default=(0.5, 1.0, 2.0)
        Values of ``alpha_outlier / alpha_rank`` searched, each with its own path.
    {regressor_parameters}

    Attributes
    ----------
    {cv_attributes}
    outlier_ratio_ : float
        The chosen ``alpha_outlier / alpha_rank``.
    coef_, intercept_, low_rank_coef_, outlier_coef_, outlier_tasks_, rank_
        As in :class:`RobustMultiTaskRegressor`, refitted at the chosen point.
    {common_attributes}

    See Also
    --------
    RobustMultiTaskRegressor : The model at fixed strengths.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import RobustMultiTaskRegressorCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 6))
    >>> Y = X @ (rng.normal(size=(6, 1)) @ rng.normal(size=(1, 4)))
    >>> Y = Y + 0.1 * rng.normal(size=Y.shape)
    >>> model = RobustMultiTaskRegressorCV(alphas=5, cv=3).fit(X, Y)
    >>> model.cv_results_["mean_test_score"].shape
    (15,)
    """

    _estimator_class = RobustMultiTaskRegressor
    _path_param = "alpha_rank"
    _grid_params = {
        "outlier_ratios": (
            "outlier_ratio",
            lambda alpha, ratio: {"alpha_outlier": ratio * alpha},
        )
    }
    _parameter_constraints = cv_constraints(
        RobustMultiTaskRegressor._parameter_constraints,
        path_param="alpha_rank",
        mapped=("alpha_outlier",),
        grids=("outlier_ratios",),
    )

    def __init__(
        self,
        *,
        alphas=10,
        eps=1e-3,
        outlier_ratios=(0.5, 1.0, 2.0),
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
        self.outlier_ratios = outlier_ratios
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


class RobustMultiTaskClassifierCV(
    _RobustMixin, PathCVMixin, PenalizedClassifierMixin, BaseEstimator
):
    """:class:`RobustMultiTaskClassifier` with its strengths chosen by cross-validation.

    The path runs over ``alpha_rank``, with ``alpha_outlier = outlier_ratio *
    alpha_rank`` for every ratio of ``outlier_ratios``; every fold fits it with
    warm starts, and the best point (mean held-out score) is refitted on all the
    data (:mod:`skmtl.linear_model._cv`, docs/architecture.rst).

    Read more in the :ref:`User Guide <low_rank>`.

    Parameters
    ----------
    {cv_parameters}
    outlier_ratios : float or array-like, default=(0.5, 1.0, 2.0)
        Values of ``alpha_outlier / alpha_rank`` searched, each with its own path.
    {classifier_parameters}

    Attributes
    ----------
    {cv_attributes}
    outlier_ratio_ : float
        The chosen ``alpha_outlier / alpha_rank``.
    coef_, intercept_, low_rank_coef_, outlier_coef_, outlier_tasks_, rank_
        As in :class:`RobustMultiTaskClassifier`, refitted at the chosen point.
    {common_attributes}

    See Also
    --------
    RobustMultiTaskClassifier : The model at fixed strengths.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import RobustMultiTaskClassifierCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5))
    >>> Y = (X @ (rng.normal(size=(5, 1)) @ rng.normal(size=(1, 3))) > 0).astype(int)
    >>> model = RobustMultiTaskClassifierCV(alphas=4, cv=2, outlier_ratios=[1.0])
    >>> sorted(model.fit(X, Y).best_params_)
    ['alpha_rank', 'outlier_ratio']
    >>> model.cv_results_["mean_test_score"].shape
    (4,)
    """

    _estimator_class = RobustMultiTaskClassifier
    _path_param = "alpha_rank"
    _grid_params = {
        "outlier_ratios": (
            "outlier_ratio",
            lambda alpha, ratio: {"alpha_outlier": ratio * alpha},
        )
    }
    _parameter_constraints = cv_constraints(
        RobustMultiTaskClassifier._parameter_constraints,
        path_param="alpha_rank",
        mapped=("alpha_outlier",),
        grids=("outlier_ratios",),
    )

    def __init__(
        self,
        *,
        alphas=10,
        eps=1e-3,
        outlier_ratios=(0.5, 1.0, 2.0),
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
        self.outlier_ratios = outlier_ratios
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


fill_doc(RobustMultiTaskRegressorCV, RobustMultiTaskClassifierCV)
