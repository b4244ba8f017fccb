"""Trace-norm multi-task learning: the tasks share a few learned features."""

from sklearn.base import BaseEstimator, TransformerMixin

from ..penalties import TraceNorm
from ._cv import PathCVMixin
from ._penalized import (
    CLASSIFIER_CONSTRAINTS,
    COMMON_CONSTRAINTS,
    STRENGTH,
    LowRankTransformMixin,
    PenalizedClassifierMixin,
    PenalizedRegressorMixin,
    _low_rank_structure,
    cv_constraints,
    fill_doc,
)

_NOTES = """
    **Learned shared features.** Argyriou, Evgeniou & Pontil (2008) show that
    learning a small set of features ``u_1 ... u_k`` (orthonormal directions
    of feature space) shared by all tasks, with a squared-norm penalty on each
    task's weights in them, is equivalent to this trace-norm penalty: the
    fitted ``W`` has rank ``rank_`` and its rows lie in the span of
    ``components_``. :meth:`transform` returns these shared features.

    **One task.** ``||w||_* = ||w||_2``: the model is a single-group lasso
    (all coefficients zero or none).

    **Multiclass.** The penalty acts on the matrix of all task and class rows
    of ``coef_`` (``coef_.reshape(-1, n_features)``): classes and tasks share
    the same subspace.
"""


class _TraceNormMixin(LowRankTransformMixin):
    def _penalty(self):
        return TraceNorm(self.alpha)

    def _set_structure(self):
        self.rank_, self.components_, self.explained_variance_ratio_ = (
            _low_rank_structure(self.coef_)
        )


class TraceNormRegressor(
    _TraceNormMixin, TransformerMixin, PenalizedRegressorMixin, BaseEstimator
):
    """Multi-task linear regression with a trace-norm (low-rank) penalty.

    Every task ``t`` has its own linear model ``x . w_t + b_t``; the matrix
    ``W`` of the task coefficients (tasks x features) is pulled towards a low
    rank, so that all tasks use a few shared directions of the features.
    The objective is::

        minimise  sum_t (1 / n_t) sum_{i in t} s_i (y_i - x_i . w_t - b_t)^2 / 2
                  + alpha * ||W||_*
                  + (intercept_alpha / 2) sum_t (b_t - b_0)^2

    with ``||W||_*`` the sum of the singular values of ``W``. It is solved by
    ADMM on the per-task Gram matrices (:mod:`skmtl.solvers.admm`) or by
    accelerated proximal gradient (Ji & Ye 2009; :mod:`skmtl.solvers.fista`),
    both with singular value thresholding and stopping on the duality gap.

    Read more in the :ref:`User Guide <low_rank>`.

    Parameters
    ----------
    alpha : float, default=0.1
        Strength of the trace norm (>= 0); :meth:`_alpha_max` and
        :class:`TraceNormRegressorCV` give the largest useful value.
    {regressor_parameters}

    Attributes
    ----------
    coef_ : ndarray of shape (n_tasks, n_features)
        Task coefficients ``w_t`` (rows of ``W``).
    intercept_ : ndarray of shape (n_tasks,)
        Task intercepts ``b_t``.
    rank_ : int
        Rank of ``coef_`` (singular values above 1e-10 times the largest).
    components_ : ndarray of shape (``rank_``, n_features)
        Orthonormal shared directions: the right singular vectors of
        ``coef_``; every row of ``coef_`` is a combination of them.
    explained_variance_ratio_ : ndarray of shape (``rank_``,)
        Share of each direction in ``||W||_F^2`` (squared singular values).
    {common_attributes}

    See Also
    --------
    TraceNormRegressorCV : Choose ``alpha`` by cross-validation.
    SparseLowRankRegressor : A low-rank part plus a sparse part.
    JointFeatureRegressor : Tasks share a set of features instead of a subspace.

    Notes
    -----
    {notes}
    References
    ----------
    A. Argyriou, T. Evgeniou and M. Pontil. Convex multi-task feature
    learning. Machine Learning, 73(3):243-272, 2008.

    S. Ji and J. Ye. An accelerated gradient method for trace norm
    minimization. ICML, 2009.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import TraceNormRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 6))
    >>> W = rng.normal(size=(5, 1)) @ rng.normal(size=(1, 6))  # rank 1
    >>> Y = X @ W.T + 0.1 * rng.normal(size=(100, 5))
    >>> model = TraceNormRegressor(alpha=0.05).fit(X, Y)
    >>> model.rank_
    1
    >>> model.transform(X).shape
    (100, 1)
    """

    _parameter_constraints = {**COMMON_CONSTRAINTS, "alpha": STRENGTH}

    def __init__(
        self,
        alpha=0.1,
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
        self.fit_intercept = fit_intercept
        self.intercept_alpha = intercept_alpha
        self.task_column = task_column
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.unknown_task = unknown_task


class TraceNormClassifier(
    _TraceNormMixin, TransformerMixin, PenalizedClassifierMixin, BaseEstimator
):
    """Multi-task logistic regression with a trace-norm (low-rank) penalty.

    Every task ``t`` has its own linear model; the matrix of the task (and
    class) coefficient rows is pulled towards a low rank. The objective is::

        minimise  sum_t (1 / n_t) sum_{i in t} s_i loss(y_i, x_i . w_t + b_t)
                  + alpha * ||W||_*
                  + (intercept_alpha / 2) sum_t ||b_t - b_0||^2

    with the logistic loss (two classes) or the multinomial loss (more; then
    ``w_t`` has one row per class), minimised also over the shared intercept
    ``b_0``. The intercepts are tied as in
    :class:`~skmtl.linear_model.JointFeatureClassifier`, so that a task that
    sees one class only keeps a finite model.

    Read more in the :ref:`User Guide <low_rank>`.

    Parameters
    ----------
    alpha : float, default=0.01
        Strength of the trace norm (>= 0).
    {classifier_parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, common to all tasks.
    coef_ : ndarray of shape (n_tasks, n_features) or (n_tasks, n_classes, n_features)
        Task coefficients; 3-D for more than two classes.
    intercept_ : ndarray of shape (n_tasks,) or (n_tasks, n_classes)
        Task intercepts.
    rank_ : int
        Rank of the matrix of the coefficient rows.
    components_ : ndarray of shape (``rank_``, n_features)
        Orthonormal shared directions (right singular vectors).
    explained_variance_ratio_ : ndarray of shape (``rank_``,)
        Share of each direction in the squared Frobenius norm.
    {common_attributes}

    See Also
    --------
    TraceNormClassifierCV : Choose ``alpha`` by cross-validation.
    TraceNormRegressor : The same penalty with the squared loss.

    Notes
    -----
    {notes}
    References
    ----------
    A. Argyriou, T. Evgeniou and M. Pontil. Convex multi-task feature
    learning. Machine Learning, 73(3):243-272, 2008.

    S. Ji and J. Ye. An accelerated gradient method for trace norm
    minimization. ICML, 2009.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import TraceNormClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5))
    >>> W = rng.normal(size=(4, 1)) @ rng.normal(size=(1, 5))
    >>> Y = (X @ W.T > 0).astype(int)
    >>> clf = TraceNormClassifier(alpha=0.02).fit(X, Y)
    >>> clf.rank_
    1
    >>> clf.predict(X[:2]).shape
    (2, 4)
    """

    _parameter_constraints = {
        **CLASSIFIER_CONSTRAINTS,
        "alpha": STRENGTH,
    }

    def __init__(
        self,
        alpha=0.01,
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
        self.fit_intercept = fit_intercept
        self.intercept_alpha = intercept_alpha
        self.task_column = task_column
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.unknown_task = unknown_task


for _cls in (TraceNormRegressor, TraceNormClassifier):
    _cls.__doc__ = _cls.__doc__.replace("{notes}", _NOTES.strip() + "\n")
fill_doc(TraceNormRegressor, TraceNormClassifier)


class TraceNormRegressorCV(
    _TraceNormMixin,
    TransformerMixin,
    PathCVMixin,
    PenalizedRegressorMixin,
    BaseEstimator,
):
    """:class:`TraceNormRegressor` with its strengths chosen by cross-validation.

    The path runs over the trace-norm strength ``alpha``; every fold fits it with warm
    starts, and the best point (mean held-out score) is refitted on all the
    data (:mod:`skmtl.linear_model._cv`, docs/architecture.rst).

    Read more in the :ref:`User Guide <low_rank>`.

    Parameters
    ----------
    {cv_parameters}
    {regressor_parameters}

    Attributes
    ----------
    {cv_attributes}
    coef_, intercept_, rank_, components_, explained_variance_ratio_
        As in :class:`TraceNormRegressor`, refitted at the chosen point.
    {common_attributes}

    See Also
    --------
    TraceNormRegressor : The model at fixed strengths.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import TraceNormRegressorCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 6))
    >>> Y = X @ (rng.normal(size=(6, 1)) @ rng.normal(size=(1, 4)))
    >>> Y = Y + 0.1 * rng.normal(size=Y.shape)
    >>> model = TraceNormRegressorCV(alphas=5, cv=3).fit(X, Y)
    >>> model.cv_results_["mean_test_score"].shape
    (5,)
    """

    _estimator_class = TraceNormRegressor
    _path_param = "alpha"
    _grid_params = {}
    _parameter_constraints = cv_constraints(
        TraceNormRegressor._parameter_constraints,
        path_param="alpha",
        mapped=(),
        grids=(),
    )

    def __init__(
        self,
        *,
        alphas=20,
        eps=1e-3,
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


class TraceNormClassifierCV(
    _TraceNormMixin,
    TransformerMixin,
    PathCVMixin,
    PenalizedClassifierMixin,
    BaseEstimator,
):
    """:class:`TraceNormClassifier` with its strengths chosen by cross-validation.

    The path runs over the trace-norm strength ``alpha``; every fold fits it with warm
    starts, and the best point (mean held-out score) is refitted on all the
    data (:mod:`skmtl.linear_model._cv`, docs/architecture.rst).

    Read more in the :ref:`User Guide <low_rank>`.

    Parameters
    ----------
    {cv_parameters}
    {classifier_parameters}

    Attributes
    ----------
    {cv_attributes}
    coef_, intercept_, rank_, components_, explained_variance_ratio_
        As in :class:`TraceNormClassifier`, refitted at the chosen point.
    {common_attributes}

    See Also
    --------
    TraceNormClassifier : The model at fixed strengths.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import TraceNormClassifierCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5))
    >>> Y = (X @ (rng.normal(size=(5, 1)) @ rng.normal(size=(1, 3))) > 0).astype(int)
    >>> model = TraceNormClassifierCV(alphas=5, cv=3).fit(X, Y)
    >>> model.cv_results_["mean_test_score"].shape
    (5,)
    """

    _estimator_class = TraceNormClassifier
    _path_param = "alpha"
    _grid_params = {}
    _parameter_constraints = cv_constraints(
        TraceNormClassifier._parameter_constraints,
        path_param="alpha",
        mapped=(),
        grids=(),
    )

    def __init__(
        self,
        *,
        alphas=20,
        eps=1e-3,
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


fill_doc(TraceNormRegressorCV, TraceNormClassifierCV)
