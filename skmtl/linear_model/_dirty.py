"""The dirty model: a part shared feature by feature, plus task-specific effects."""

from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import StrOptions

from ..penalties import L1, L21, Decomposition, FeatureMaxNorm
from ._cv import PathCVMixin
from ._penalized import (
    CLASSIFIER_CONSTRAINTS,
    COMMON_CONSTRAINTS,
    STRENGTH,
    PenalizedClassifierMixin,
    PenalizedRegressorMixin,
    cv_constraints,
    fill_doc,
)


class _DirtyMixin:
    _block_attributes = ("block_sparse_coef_", "sparse_coef_")

    def _penalty(self):
        if self.shared_norm == "l2":
            shared = L21(self.alpha_shared)
        else:
            shared = FeatureMaxNorm(self.alpha_shared)
        return Decomposition(shared, L1(self.alpha_task))

    def _set_structure(self):
        block = self.block_sparse_coef_
        self.shared_support_ = (block.reshape(-1, block.shape[-1]) != 0).any(axis=0)


_CONSTRAINTS = {
    **COMMON_CONSTRAINTS,
    "alpha_shared": STRENGTH,
    "alpha_task": STRENGTH,
    "shared_norm": [StrOptions({"linf", "l2"})],
}


class DirtyModelRegressor(_DirtyMixin, PenalizedRegressorMixin, BaseEstimator):
    """Multi-task linear regression with the dirty model's two parts.

    The task coefficients are ``W = P + Q``: ``P`` is block-sparse (a
    feature is used by all tasks or by none, with magnitudes tied by the
    L-infinity norm over tasks), ``Q`` elementwise sparse (effects of single
    tasks). Jalali, Ravikumar, Sanghavi & Ruan (2010) show that the sum
    recovers supports that neither part alone does when tasks share only
    part of their features::

        minimise  sum_t (1 / n_t) sum_{i in t} s_i (y_i - x_i . w_t - b_t)^2 / 2
                  + alpha_shared * sum_j ||P[:, j]||_inf
                  + alpha_task * ||Q||_1
                  + (intercept_alpha / 2) sum_t (b_t - b_0)^2

    ``shared_norm="l2"`` uses the Euclidean group norm ``sum_j ||P[:, j]||_2``
    for the shared part instead. Solved by ADMM in Gram form
    (:mod:`skmtl.solvers.admm`) or accelerated proximal gradient on both
    blocks (:mod:`skmtl.solvers.fista`).

    Read more in the :ref:`User Guide <low_rank>`.

    Parameters
    ----------
    alpha_shared : float, default=0.1
        Strength of the block norm of ``P`` (>= 0).
    alpha_task : float, default=0.05
        Strength of the L1 norm of ``Q`` (>= 0). The model is a genuine mix
        of the two parts for ``alpha_shared / n_tasks < alpha_task <
        alpha_shared`` (linf): outside, one part is always zero.
    shared_norm : {"linf", "l2"}, default="linf"
        Norm of every feature's column of ``P`` over tasks.
    {regressor_parameters}

    Attributes
    ----------
    coef_ : ndarray of shape (n_tasks, n_features)
        Task coefficients ``W = P + Q``.
    intercept_ : ndarray of shape (n_tasks,)
        Task intercepts.
    block_sparse_coef_ : ndarray of shape (n_tasks, n_features)
        The shared part ``P``.
    sparse_coef_ : ndarray of shape (n_tasks, n_features)
        The task-specific part ``Q``.
    shared_support_ : ndarray of shape (n_features,) of bool
        Features used by the shared part.
    {common_attributes}

    See Also
    --------
    DirtyModelRegressorCV : Choose the strengths by cross-validation.
    JointFeatureRegressor : The shared part alone (with ``shared_norm="l2"``).

    Notes
    -----
    With ``alpha_shared`` large enough that ``P = 0`` every task is a lasso:
    scikit-learn's :class:`~sklearn.linear_model.Lasso` with
    ``alpha=alpha_task`` on the task's rows.

    References
    ----------
    A. Jalali, P. Ravikumar, S. Sanghavi and C. Ruan. A dirty model for
    multi-task learning. NeurIPS, 2010.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import DirtyModelRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 6))
    >>> W = np.zeros((4, 6)); W[:, 0] = 2.0; W[1, 4] = 1.5
    >>> Y = X @ W.T + 0.1 * rng.normal(size=(100, 4))
    >>> model = DirtyModelRegressor(alpha_shared=0.2, alpha_task=0.1).fit(X, Y)
    >>> model.shared_support_
    array([ True, False, False, False, False, False])
    """

    _parameter_constraints = _CONSTRAINTS

    def __init__(
        self,
        alpha_shared=0.1,
        alpha_task=0.05,
        *,
        shared_norm="linf",
        fit_intercept=True,
        intercept_alpha=0.0,
        task_column=None,
        solver="auto",
        tol=1e-4,
        max_iter=10_000,
        warm_start=False,
        unknown_task="error",
    ):
        self.alpha_shared = alpha_shared
        self.alpha_task = alpha_task
        self.shared_norm = shared_norm
        self.fit_intercept = fit_intercept
        self.intercept_alpha = intercept_alpha
        self.task_column = task_column
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.unknown_task = unknown_task


class DirtyModelClassifier(_DirtyMixin, PenalizedClassifierMixin, BaseEstimator):
    """Multi-task logistic regression with the dirty model's two parts.

    ``W = P + Q`` with ``penalty(W) = alpha_shared sum_j ||P[..., j]||_inf
    + alpha_task ||Q||_1`` (Jalali et al. 2010)::

        {classifier_objective}

    {classifier_loss}

    Read more in the :ref:`User Guide <low_rank>`.

    Parameters
    ----------
    alpha_shared : float, default=0.01
        Strength of the block norm of ``P`` (>= 0).
    alpha_task : float, default=0.005
        Strength of the L1 norm of ``Q`` (>= 0).
    shared_norm : {"linf", "l2"}, default="linf"
        Norm of every feature's column of ``P`` over tasks (and classes).
    {classifier_parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, common to all tasks.
    coef_ : ndarray of shape (n_tasks, n_features) or (n_tasks, n_classes, n_features)
        Task coefficients ``W = P + Q``.
    intercept_ : ndarray of shape (n_tasks,) or (n_tasks, n_classes)
        Task intercepts.
    block_sparse_coef_ : ndarray of the shape of ``coef_``
        The shared part ``P``.
    sparse_coef_ : ndarray of the shape of ``coef_``
        The task-specific part ``Q``.
    shared_support_ : ndarray of shape (n_features,) of bool
        Features used by the shared part.
    {common_attributes}

    See Also
    --------
    DirtyModelClassifierCV : Choose the strengths by cross-validation.
    DirtyModelRegressor : The same penalty with the squared loss.

    Notes
    -----
    With ``alpha_shared`` large enough that ``P = 0``, each task of two
    classes is scikit-learn's ``LogisticRegression(l1_ratio=1,
    C=1 / (alpha_task * n_t))`` on its rows, up to the weak intercept tie.

    References
    ----------
    A. Jalali, P. Ravikumar, S. Sanghavi and C. Ruan. A dirty model for
    multi-task learning. NeurIPS, 2010.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import DirtyModelClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5))
    >>> Y = (X @ rng.normal(size=(5, 3)) > 0).astype(int)
    >>> clf = DirtyModelClassifier().fit(X, Y)
    >>> clf.predict(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints = {
        **_CONSTRAINTS,
        **CLASSIFIER_CONSTRAINTS,
        "shared_norm": _CONSTRAINTS["shared_norm"],
    }

    def __init__(
        self,
        alpha_shared=0.01,
        alpha_task=0.005,
        *,
        shared_norm="linf",
        fit_intercept=True,
        intercept_alpha=1e-3,
        task_column=None,
        solver="auto",
        tol=1e-4,
        max_iter=10_000,
        warm_start=False,
        unknown_task="error",
    ):
        self.alpha_shared = alpha_shared
        self.alpha_task = alpha_task
        self.shared_norm = shared_norm
        self.fit_intercept = fit_intercept
        self.intercept_alpha = intercept_alpha
        self.task_column = task_column
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.unknown_task = unknown_task


fill_doc(DirtyModelRegressor, DirtyModelClassifier)


class DirtyModelRegressorCV(
    _DirtyMixin, PathCVMixin, PenalizedRegressorMixin, BaseEstimator
):
    """:class:`DirtyModelRegressor` with its strengths chosen by cross-validation.

    The path runs over ``alpha_shared``, with ``alpha_task = task_ratio *
    alpha_shared`` for every ratio of ``task_ratios``; every fold fits it with
    warm starts, and the best point (mean held-out score) is refitted on all the
    data (:mod:`skmtl.linear_model._cv`, docs/architecture.rst).

    Read more in the :ref:`User Guide <low_rank>`.

    Parameters
    ----------
    {cv_parameters}
    task_ratios : float or array-like, default=(0.1, 0.3, 0.6)
        Values of ``alpha_task / alpha_shared`` searched, each with its own path.
    shared_norm : {"linf", "l2"}, default="linf"
        As in :class:`DirtyModelRegressor`.
    {regressor_parameters}

    Attributes
    ----------
    {cv_attributes}
    task_ratio_ : float
        The chosen ``alpha_task / alpha_shared``.
    coef_, intercept_, block_sparse_coef_, sparse_coef_, shared_support_
        As in :class:`DirtyModelRegressor`, refitted at the chosen point.
    {common_attributes}

    See Also
    --------
    DirtyModelRegressor : The model at fixed strengths.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import DirtyModelRegressorCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 6))
    >>> Y = X @ (rng.normal(size=(6, 1)) @ rng.normal(size=(1, 4)))
    >>> Y = Y + 0.1 * rng.normal(size=Y.shape)
    >>> model = DirtyModelRegressorCV(alphas=5, cv=3).fit(X, Y)
    >>> model.cv_results_["mean_test_score"].shape
    (15,)
    """

    _estimator_class = DirtyModelRegressor
    _path_param = "alpha_shared"
    _grid_params = {
        "task_ratios": (
            "task_ratio",
            lambda alpha, ratio: {"alpha_task": ratio * alpha},
        )
    }
    _parameter_constraints = cv_constraints(
        DirtyModelRegressor._parameter_constraints,
        path_param="alpha_shared",
        mapped=("alpha_task",),
        grids=("task_ratios",),
    )

    def __init__(
        self,
        *,
        alphas=10,
        eps=1e-3,
        task_ratios=(0.1, 0.3, 0.6),
        shared_norm="linf",
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
        self.task_ratios = task_ratios
        self.shared_norm = shared_norm
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


class DirtyModelClassifierCV(
    _DirtyMixin, PathCVMixin, PenalizedClassifierMixin, BaseEstimator
):
    """:class:`DirtyModelClassifier` with its strengths chosen by cross-validation.

    The path runs over ``alpha_shared``, with ``alpha_task = task_ratio *
    alpha_shared`` for every ratio of ``task_ratios``; every fold fits it with
    warm starts, and the best point (mean held-out score) is refitted on all the
    data (:mod:`skmtl.linear_model._cv`, docs/architecture.rst).

    Read more in the :ref:`User Guide <low_rank>`.

    Parameters
    ----------
    {cv_parameters}
    task_ratios : float or array-like, default=(0.1, 0.3, 0.6)
        Values of ``alpha_task / alpha_shared`` searched, each with its own path.
    shared_norm : {"linf", "l2"}, default="linf"
        As in :class:`DirtyModelClassifier`.
    {classifier_parameters}

    Attributes
    ----------
    {cv_attributes}
    task_ratio_ : float
        The chosen ``alpha_task / alpha_shared``.
    coef_, intercept_, block_sparse_coef_, sparse_coef_, shared_support_
        As in :class:`DirtyModelClassifier`, refitted at the chosen point.
    {common_attributes}

    See Also
    --------
    DirtyModelClassifier : The model at fixed strengths.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import DirtyModelClassifierCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5))
    >>> Y = (X @ (rng.normal(size=(5, 1)) @ rng.normal(size=(1, 3))) > 0).astype(int)
    >>> model = DirtyModelClassifierCV(alphas=4, cv=2, task_ratios=[1.0])
    >>> sorted(model.fit(X, Y).best_params_)
    ['alpha_shared', 'task_ratio']
    >>> model.cv_results_["mean_test_score"].shape
    (4,)
    """

    _estimator_class = DirtyModelClassifier
    _path_param = "alpha_shared"
    _grid_params = {
        "task_ratios": (
            "task_ratio",
            lambda alpha, ratio: {"alpha_task": ratio * alpha},
        )
    }
    _parameter_constraints = cv_constraints(
        DirtyModelClassifier._parameter_constraints,
        path_param="alpha_shared",
        mapped=("alpha_task",),
        grids=("task_ratios",),
    )

    def __init__(
        self,
        *,
        alphas=10,
        eps=1e-3,
        task_ratios=(0.1, 0.3, 0.6),
        shared_norm="linf",
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
        self.task_ratios = task_ratios
        self.shared_norm = shared_norm
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


fill_doc(DirtyModelRegressorCV, DirtyModelClassifierCV)
