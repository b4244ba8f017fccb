"""Sparse + low-rank multi-task learning: ``W = P + Q``, P sparse, Q low rank."""

from sklearn.base import BaseEstimator

from ..penalties import L1, Decomposition, TraceNorm
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


class _SparseLowRankMixin:
    _block_attributes = ("sparse_coef_", "low_rank_coef_")

    def _penalty(self):
        return Decomposition(L1(self.alpha_sparse), TraceNorm(self.alpha_rank))

    def _set_structure(self):
        self.rank_, self.components_, _ = _low_rank_structure(self.low_rank_coef_)


class SparseLowRankRegressor(
    _SparseLowRankMixin, PenalizedRegressorMixin, BaseEstimator
):
    """Multi-task linear regression with a sparse plus a low-rank part.

    The task coefficients are ``W = P + Q``: a low-rank ``Q`` captures what
    the tasks share (a few common directions), a sparse ``P`` the few
    task-specific effects that do not fit it (Chen, Liu & Ye 2012)::

        minimise  sum_t (1 / n_t) sum_{i in t} s_i (y_i - x_i . w_t - b_t)^2 / 2
                  + alpha_sparse * ||P||_1 + alpha_rank * ||Q||_*
                  + (intercept_alpha / 2) sum_t (b_t - b_0)^2

    over ``P``, ``Q`` and the intercepts, solved by ADMM in Gram form
    (:mod:`skmtl.solvers.admm`) or accelerated proximal gradient on both
    blocks (:mod:`skmtl.solvers.fista`).

    Read more in the :ref:`User Guide <low_rank>`.

    Parameters
    ----------
    alpha_sparse : float, default=0.01
        Strength of the L1 norm of ``P`` (>= 0).
    alpha_rank : float, default=0.1
        Strength of the trace norm of ``Q`` (>= 0).
    {regressor_parameters}

    Attributes
    ----------
    coef_ : ndarray of shape (n_tasks, n_features)
        Task coefficients ``W = P + Q``.
    intercept_ : ndarray of shape (n_tasks,)
        Task intercepts.
    sparse_coef_ : ndarray of shape (n_tasks, n_features)
        The sparse part ``P``.
    low_rank_coef_ : ndarray of shape (n_tasks, n_features)
        The low-rank part ``Q``.
    rank_ : int
        Rank of ``Q``.
    components_ : ndarray of shape (``rank_``, n_features)
        Orthonormal directions spanning the rows of ``Q``.
    {common_attributes}

    See Also
    --------
    SparseLowRankRegressorCV : Choose the strengths by cross-validation.
    TraceNormRegressor : The low-rank part alone.

    Notes
    -----
    With ``alpha_rank`` at or above the spectral norm of the gradient at
    zero, ``Q = 0`` and every task is a lasso: scikit-learn's
    :class:`~sklearn.linear_model.Lasso` with ``alpha=alpha_sparse`` on the
    task's rows (both scale the squared loss by ``1 / (2 n_t)``).

    References
    ----------
    J. Chen, J. Liu and J. Ye. Learning incoherent sparse and low-rank
    patterns from multiple tasks. ACM Transactions on Knowledge Discovery
    from Data, 5(4):22, 2012.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import SparseLowRankRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 6))
    >>> W = rng.normal(size=(5, 1)) @ rng.normal(size=(1, 6))
    >>> W[0, 5] += 3.0  # one task-specific effect
    >>> Y = X @ W.T + 0.1 * rng.normal(size=(100, 5))
    >>> model = SparseLowRankRegressor(alpha_sparse=0.05, alpha_rank=0.2).fit(X, Y)
    >>> model.rank_, model.coef_.shape
    (1, (5, 6))
    """

    _parameter_constraints = {
        **COMMON_CONSTRAINTS,
        "alpha_sparse": STRENGTH,
        "alpha_rank": STRENGTH,
    }

    def __init__(
        self,
        alpha_sparse=0.01,
        alpha_rank=0.1,
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
        self.alpha_sparse = alpha_sparse
        self.alpha_rank = alpha_rank
        self.fit_intercept = fit_intercept
        self.intercept_alpha = intercept_alpha
        self.task_column = task_column
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.unknown_task = unknown_task


class SparseLowRankClassifier(
    _SparseLowRankMixin, PenalizedClassifierMixin, BaseEstimator
):
    """Multi-task logistic regression with a sparse plus a low-rank part.

    ``W = P + Q`` with ``penalty(W) = alpha_sparse ||P||_1 +
    alpha_rank ||Q||_*`` (Chen, Liu & Ye 2012)::

        {classifier_objective}

    {classifier_loss}

    Read more in the :ref:`User Guide <low_rank>`.

    Parameters
    ----------
    alpha_sparse : float, default=0.01
        Strength of the L1 norm of ``P`` (>= 0).
    alpha_rank : float, default=0.01
        Strength of the trace norm of ``Q`` (>= 0).
    {classifier_parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, common to all tasks.
    coef_ : ndarray of shape (n_tasks, n_features) or (n_tasks, n_classes, n_features)
        Task coefficients ``W = P + Q``.
    intercept_ : ndarray of shape (n_tasks,) or (n_tasks, n_classes)
        Task intercepts.
    sparse_coef_ : ndarray of the shape of ``coef_``
        The sparse part ``P``.
    low_rank_coef_ : ndarray of the shape of ``coef_``
        The low-rank part ``Q``.
    rank_ : int
        Rank of ``Q`` (as the matrix of its rows).
    components_ : ndarray of shape (``rank_``, n_features)
        Orthonormal directions spanning the rows of ``Q``.
    {common_attributes}

    See Also
    --------
    SparseLowRankClassifierCV : Choose the strengths by cross-validation.
    SparseLowRankRegressor : The same penalty with the squared loss.

    Notes
    -----
    With ``alpha_rank`` large enough that ``Q = 0``, each task of two
    classes is scikit-learn's ``LogisticRegression(l1_ratio=1,
    C=1 / (alpha_sparse * n_t))`` on its rows, up to the weak intercept tie
    (which vanishes with one task, or with ``intercept_alpha=0``).

    References
    ----------
    J. Chen, J. Liu and J. Ye. Learning incoherent sparse and low-rank
    patterns from multiple tasks. ACM Transactions on Knowledge Discovery
    from Data, 5(4):22, 2012.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import SparseLowRankClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5))
    >>> Y = (X @ rng.normal(size=(5, 3)) > 0).astype(int)
    >>> clf = SparseLowRankClassifier().fit(X, Y)
    >>> clf.predict(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints = {
        **CLASSIFIER_CONSTRAINTS,
        "alpha_sparse": STRENGTH,
        "alpha_rank": STRENGTH,
    }

    def __init__(
        self,
        alpha_sparse=0.01,
        alpha_rank=0.01,
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
        self.alpha_sparse = alpha_sparse
        self.alpha_rank = alpha_rank
        self.fit_intercept = fit_intercept
        self.intercept_alpha = intercept_alpha
        self.task_column = task_column
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.unknown_task = unknown_task


fill_doc(SparseLowRankRegressor, SparseLowRankClassifier)


class SparseLowRankRegressorCV(
    _SparseLowRankMixin, PathCVMixin, PenalizedRegressorMixin, BaseEstimator
):
    """:class:`SparseLowRankRegressor` with its strengths chosen by cross-validation.

    The path runs over ``alpha_sparse``, with ``alpha_rank = rank_ratio *
    alpha_sparse`` for every ratio of ``rank_ratios``; every fold fits it with
    warm starts, and the best point (mean held-out score) is refitted on all the
    data (:mod:`skmtl.linear_model._cv`, docs/architecture.rst).

    Read more in the :ref:`User Guide <low_rank>`.

    Parameters
    ----------
    {cv_parameters}
    rank_ratios : float or array-like, default=(1.0, 2.0, 4.0)
        Values of ``alpha_rank / alpha_sparse`` searched, each with its own path.
    {regressor_parameters}

    Attributes
    ----------
    {cv_attributes}
    rank_ratio_ : float
        The chosen ``alpha_rank / alpha_sparse``.
    coef_, intercept_, sparse_coef_, low_rank_coef_, rank_
        As in :class:`SparseLowRankRegressor`, refitted at the chosen point.
    {common_attributes}

    See Also
    --------
    SparseLowRankRegressor : The model at fixed strengths.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import SparseLowRankRegressorCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 6))
    >>> Y = X @ (rng.normal(size=(6, 1)) @ rng.normal(size=(1, 4)))
    >>> Y = Y + 0.1 * rng.normal(size=Y.shape)
    >>> model = SparseLowRankRegressorCV(alphas=5, cv=3).fit(X, Y)
    >>> model.cv_results_["mean_test_score"].shape
    (15,)
    """

    _estimator_class = SparseLowRankRegressor
    _path_param = "alpha_sparse"
    _grid_params = {
        "rank_ratios": (
            "rank_ratio",
            lambda alpha, ratio: {"alpha_rank": ratio * alpha},
        )
    }
    _parameter_constraints = cv_constraints(
        SparseLowRankRegressor._parameter_constraints,
        path_param="alpha_sparse",
        mapped=("alpha_rank",),
        grids=("rank_ratios",),
    )

    def __init__(
        self,
        *,
        alphas=10,
        eps=1e-3,
        rank_ratios=(1.0, 2.0, 4.0),
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
        self.rank_ratios = rank_ratios
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


class SparseLowRankClassifierCV(
    _SparseLowRankMixin, PathCVMixin, PenalizedClassifierMixin, BaseEstimator
):
    """:class:`SparseLowRankClassifier` with its strengths chosen by cross-validation.

    The path runs over ``alpha_sparse``, with ``alpha_rank = rank_ratio *
    alpha_sparse`` for every ratio of ``rank_ratios``; every fold fits it with
    warm starts, and the best point (mean held-out score) is refitted on all the
    data (:mod:`skmtl.linear_model._cv`, docs/architecture.rst).

    Read more in the :ref:`User Guide <low_rank>`.

    Parameters
    ----------
    {cv_parameters}
    rank_ratios : float or array-like, default=(1.0, 2.0, 4.0)
        Values of ``alpha_rank / alpha_sparse`` searched, each with its own path.
    {classifier_parameters}

    Attributes
    ----------
    {cv_attributes}
    rank_ratio_ : float
        The chosen ``alpha_rank / alpha_sparse``.
    coef_, intercept_, sparse_coef_, low_rank_coef_, rank_
        As in :class:`SparseLowRankClassifier`, refitted at the chosen point.
    {common_attributes}

    See Also
    --------
    SparseLowRankClassifier : The model at fixed strengths.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import SparseLowRankClassifierCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5))
    >>> Y = (X @ (rng.normal(size=(5, 1)) @ rng.normal(size=(1, 3))) > 0).astype(int)
    >>> model = SparseLowRankClassifierCV(alphas=4, cv=2, rank_ratios=[1.0])
    >>> sorted(model.fit(X, Y).best_params_)
    ['alpha_sparse', 'rank_ratio']
    >>> model.cv_results_["mean_test_score"].shape
    (4,)
    """

    _estimator_class = SparseLowRankClassifier
    _path_param = "alpha_sparse"
    _grid_params = {
        "rank_ratios": (
            "rank_ratio",
            lambda alpha, ratio: {"alpha_rank": ratio * alpha},
        )
    }
    _parameter_constraints = cv_constraints(
        SparseLowRankClassifier._parameter_constraints,
        path_param="alpha_sparse",
        mapped=("alpha_rank",),
        grids=("rank_ratios",),
    )

    def __init__(
        self,
        *,
        alphas=10,
        eps=1e-3,
        rank_ratios=(1.0, 2.0, 4.0),
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
        self.rank_ratios = rank_ratios
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


fill_doc(SparseLowRankRegressorCV, SparseLowRankClassifierCV)
