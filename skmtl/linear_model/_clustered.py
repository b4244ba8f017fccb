"""Clustered multi-task learning: the tasks fall into a few learned clusters."""

from numbers import Integral, Real

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator
from sklearn.cluster import AgglomerativeClustering
from sklearn.utils._param_validation import Interval

from ..penalties import ClusteredTasks
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
from ._task_relationship import unit_diagonal

_RELATION_CONSTRAINTS = {
    "alpha": STRENGTH,
    "eta": [Interval(Real, 0, None, closed="neither")],
    "n_clusters": [Interval(Integral, 1, None, closed="left")],
}

_NOTES = """
    **What the penalty does.** For a hard clustering of the tasks, ``M`` is
    the projection ``F (F^T F)^{-1} F^T`` of the cluster-indicator matrix
    ``F`` (``n_tasks x n_clusters``), and the penalty is
    ``alpha sum_t ||w_t - wbar_c(t)||^2 + alpha eta ||W||_F^2`` with
    ``wbar_c(t)`` the mean of the coefficients of the cluster of task
    ``t``: ``alpha`` (``rho_1`` of Zhou, Chen & Ye 2011) pulls the tasks of
    a cluster together, ``alpha eta`` (``rho_2``) is a ridge. The convex
    relaxation lets ``M`` range over ``0 <= M <= I`` (eigenvalues in
    ``[0, 1]``) with ``tr(M) = n_clusters``; it is jointly convex in
    ``(W, M)``. The minimising ``M`` shares the eigenvectors of ``W W^T``
    (``n_tasks x n_tasks``) and has closed-form eigenvalues, so the solvers
    work on ``W`` alone, with the proximal operator of the penalty.

    **Reading the clusters.** ``cluster_matrix_`` is the minimising ``M``
    at the fitted ``W``. ``task_clusters_`` cuts the Ward hierarchical
    clustering (scikit-learn's
    :class:`~sklearn.cluster.AgglomerativeClustering`, ``linkage="ward"``)
    of the rows of ``M^{1/2}`` into ``n_clusters`` clusters: the squared
    distance of tasks ``s`` and ``t`` is ``M[s, s] + M[t, t] - 2 M[s, t]``,
    so the labels depend on ``M`` only, deterministically (no random
    start). Clusters are numbered in the order of their first task in
    ``tasks_``. ``task_similarity_`` is ``M`` scaled to a unit diagonal:
    one within a cluster and zero between clusters for a hard clustering.

    **Limits.** ``n_clusters = n_tasks`` forces ``M = I``: independent
    ridge regressions, with penalty ``alpha eta ||W||_F^2``. With one task
    the penalty is ``alpha eta ||w||^2``: scikit-learn's
    ``Ridge(alpha=2 alpha eta n)`` with ``n`` the total sample weight.

    **Multiclass.** ``W`` is ``coef_.reshape(n_tasks, -1)`` (the classes of
    a task side by side): tasks are clustered, not classes.
"""

_CV_PATH = """alphas : int or array-like, default=10
        Path of the strength ``alpha``. The penalty never makes all the
        coefficients zero: an int gives that many values from the top of the
        useful range (a multiple of the curvature of the data term, where the
        model is close to the intercept-only model) down to ``eps`` times
        it, evenly on a log scale; an array gives the values.
    eps : float, default=1e-6
        Length of the path for an int ``alphas``: ``alpha_min / alpha_max``.
    etas : float or array-like, default=(0.1, 1.0, 10.0)
        Values of ``eta`` (ratio of the ridge strength to the cluster
        strength, > 0) searched, each with its own path."""

_CV_TAIL = """n_clusters : int, default=1
        Number of clusters (``1 <= n_clusters <= n_tasks``), fixed."""

_CV_ATTRIBUTES = """eta_ : float
        The chosen ``eta``."""


def check_n_clusters(n_clusters, n_tasks):
    """Raise a ``ValueError`` unless ``1 <= n_clusters <= n_tasks``."""
    if not 1 <= n_clusters <= n_tasks:
        raise ValueError(
            f"n_clusters={n_clusters} but the data have {n_tasks} task(s); "
            f"expected 1 <= n_clusters <= n_tasks. Set n_clusters to at most "
            f"{n_tasks}."
        )


def cluster_labels(cluster_matrix, n_clusters):
    """A cluster label per task from ``M``: Ward clustering of the rows of ``M^{1/2}``.

    Labels are numbered in the order of their first task, so that they do
    not depend on the clustering's own numbering.
    """
    n_tasks = cluster_matrix.shape[0]
    if n_clusters == 1:
        return np.zeros(n_tasks, dtype=int)
    if n_clusters == n_tasks:
        return np.arange(n_tasks)
    values, vectors = linalg.eigh(cluster_matrix, check_finite=False)
    # Rows of U sqrt(m): their inner products are M, whatever the eigenbasis.
    embedding = vectors * np.sqrt(np.clip(values, 0.0, None))
    # Ward merges minimise the within-cluster sum of squares (the k-means
    # objective) without a random start: labels are a function of M.
    labels = (
        AgglomerativeClustering(n_clusters=n_clusters, linkage="ward")
        .fit(embedding)
        .labels_
    )
    _, first = np.unique(labels, return_index=True)
    order = np.argsort(np.argsort(first))
    return order[labels]


class _ClusteredMixin:
    def _penalty(self):
        return ClusteredTasks(self.alpha, self.n_clusters, self.eta)

    def _check_data(self, X, y, sample_weight):
        checked = super()._check_data(X, y, sample_weight)
        data = checked[0] if isinstance(checked, tuple) else checked
        check_n_clusters(self.n_clusters, data.n_tasks)
        return checked

    def _set_structure(self):
        self.cluster_matrix_ = self._penalty().cluster_matrix(self.coef_)
        self.task_clusters_ = cluster_labels(self.cluster_matrix_, self.n_clusters)
        self.task_similarity_ = unit_diagonal(self.cluster_matrix_)


_ATTRIBUTES = """cluster_matrix_ : ndarray of shape (n_tasks, n_tasks)
        The minimising ``M`` at the fitted ``W`` (symmetric, eigenvalues in
        ``[0, 1]``, trace ``n_clusters``), in the order of ``tasks_``.
    task_clusters_ : ndarray of shape (n_tasks,)
        Cluster label of every task, ``0 ... n_clusters - 1`` (see Notes).
    task_similarity_ : ndarray of shape (n_tasks, n_tasks)
        ``cluster_matrix_`` scaled to a unit diagonal."""


class ClusteredMultiTaskRegressor(
    SmoothPathMixin, _ClusteredMixin, PenalizedRegressorMixin, BaseEstimator
):
    """Multi-task linear regression with tasks grouped into learned clusters.

    Every task ``t`` has its own linear model ``x . w_t + b_t``; the tasks
    are grouped into ``n_clusters`` clusters, learned with the coefficients,
    and the tasks of a cluster are pulled together (the convex relaxation of
    Jacob, Bach & Vert 2008, in the form of Zhou, Chen & Ye 2011)::

        minimise  sum_t (1 / n_t) sum_{i in t} s_i (y_i - x_i . w_t - b_t)^2 / 2
                  + alpha eta (1 + eta) min_M tr(W^T (eta I + M)^{-1} W)
                  + (intercept_alpha / 2) sum_t (b_t - b_0)^2

        over      0 <= M <= I, tr(M) = n_clusters

    with ``W`` the coefficients (tasks x features), ``M`` a symmetric
    ``n_tasks x n_tasks`` matrix, ``n_t`` the total sample weight of task
    ``t``, ``alpha = rho_1`` and ``eta = rho_2 / rho_1`` in the notation of
    Zhou, Chen & Ye. It is solved by ADMM on the per-task Gram matrices
    (:mod:`skmtl.solvers.admm`) or accelerated proximal gradient
    (:mod:`skmtl.solvers.fista`), stopping on the duality gap.

    Read more in the :ref:`User Guide <clustered>`.

    Parameters
    ----------
    alpha : float, default=0.1
        Strength of the clustering term (>= 0).
    eta : float, default=1.0
        Ratio of the ridge strength to the cluster strength (> 0).
    n_clusters : int, default=1
        Number of clusters, ``1 <= n_clusters <= n_tasks``.
    {regressor_parameters}

    Attributes
    ----------
    coef_ : ndarray of shape (n_tasks, n_features)
        Task coefficients ``w_t`` (rows of ``W``).
    intercept_ : ndarray of shape (n_tasks,)
        Task intercepts ``b_t``.
    {clustered_attributes}
    {common_attributes}

    See Also
    --------
    ClusteredMultiTaskRegressorCV : Choose ``alpha`` and ``eta`` by cross-validation.
    TaskRelationshipRegressor : A learned task covariance instead of clusters.
    MeanRegularizedRegressor : One cluster of all the tasks, around their mean.

    Notes
    -----
    {notes}
    References
    ----------
    L. Jacob, F. Bach and J.-P. Vert. Clustered multi-task learning: a
    convex formulation. NIPS, 2008.

    J. Zhou, J. Chen and J. Ye. Clustered multi-task learning via
    alternating structure optimization. NIPS, 2011.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import ClusteredMultiTaskRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 4))
    >>> centres = 3 * rng.normal(size=(2, 4))
    >>> W = centres[[0, 1, 0, 1]] + 0.1 * rng.normal(size=(4, 4))
    >>> Y = X @ W.T + 0.1 * rng.normal(size=(100, 4))
    >>> model = ClusteredMultiTaskRegressor(alpha=0.1, n_clusters=2).fit(X, Y)
    >>> model.task_clusters_
    array([0, 1, 0, 1])
    """

    _parameter_constraints = {**COMMON_CONSTRAINTS, **_RELATION_CONSTRAINTS}

    def __init__(
        self,
        alpha=0.1,
        eta=1.0,
        n_clusters=1,
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
        self.eta = eta
        self.n_clusters = n_clusters
        self.fit_intercept = fit_intercept
        self.intercept_alpha = intercept_alpha
        self.task_column = task_column
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.unknown_task = unknown_task


class ClusteredMultiTaskClassifier(
    SmoothPathMixin, _ClusteredMixin, PenalizedClassifierMixin, BaseEstimator
):
    """Multi-task logistic regression with tasks grouped into learned clusters.

    Every task ``t`` has its own linear model; the tasks are grouped into
    ``n_clusters`` learned clusters whose tasks are pulled together (Jacob,
    Bach & Vert 2008, in the form of Zhou, Chen & Ye 2011)::

        minimise  sum_t (1 / n_t) sum_{i in t} s_i loss(y_i, x_i . w_t + b_t)
                  + alpha eta (1 + eta) min_M tr(W^T (eta I + M)^{-1} W)
                  + (intercept_alpha / 2) sum_t ||b_t - b_0||^2

        over      0 <= M <= I, tr(M) = n_clusters

    minimised also over the shared intercept ``b_0``. {classifier_loss}

    Read more in the :ref:`User Guide <clustered>`.

    Parameters
    ----------
    alpha : float, default=0.01
        Strength of the clustering term (>= 0).
    eta : float, default=1.0
        Ratio of the ridge strength to the cluster strength (> 0).
    n_clusters : int, default=1
        Number of clusters, ``1 <= n_clusters <= n_tasks``.
    {classifier_parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, common to all tasks.
    coef_ : ndarray of shape (n_tasks, n_features) or (n_tasks, n_classes, n_features)
        Task coefficients; 3-D for more than two classes.
    intercept_ : ndarray of shape (n_tasks,) or (n_tasks, n_classes)
        Task intercepts.
    {clustered_attributes}
    {common_attributes}

    See Also
    --------
    ClusteredMultiTaskClassifierCV : Choose ``alpha`` and ``eta`` by cross-validation.
    ClusteredMultiTaskRegressor : The same penalty with the squared loss.

    Notes
    -----
    {notes}
    References
    ----------
    L. Jacob, F. Bach and J.-P. Vert. Clustered multi-task learning: a
    convex formulation. NIPS, 2008.

    J. Zhou, J. Chen and J. Ye. Clustered multi-task learning via
    alternating structure optimization. NIPS, 2011.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import ClusteredMultiTaskClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 4))
    >>> centres = 3 * rng.normal(size=(2, 4))
    >>> Y = (X @ centres[[0, 1, 0, 1]].T > 0).astype(int)
    >>> clf = ClusteredMultiTaskClassifier(n_clusters=2).fit(X, Y)
    >>> clf.task_clusters_
    array([0, 1, 0, 1])
    """

    _parameter_constraints = {**CLASSIFIER_CONSTRAINTS, **_RELATION_CONSTRAINTS}

    def __init__(
        self,
        alpha=0.01,
        eta=1.0,
        n_clusters=1,
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
        self.eta = eta
        self.n_clusters = n_clusters
        self.fit_intercept = fit_intercept
        self.intercept_alpha = intercept_alpha
        self.task_column = task_column
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.unknown_task = unknown_task


def _fill(cls, model=None):
    """Fill the docstring parts of this module, then the shared ones."""
    doc = cls.__doc__.replace("{notes}", _NOTES.strip() + "\n")
    doc = doc.replace("{clustered_attributes}", _ATTRIBUTES)
    doc = doc.replace("{cv_path}", _CV_PATH).replace("{cv_tail}", _CV_TAIL)
    doc = doc.replace("{clustered_cv_attributes}", _CV_ATTRIBUTES)
    if model is not None:
        doc = doc.replace("{model}", model.__name__)
    cls.__doc__ = doc
    fill_doc(cls)


_fill(ClusteredMultiTaskRegressor)
_fill(ClusteredMultiTaskClassifier)


class _ClusteredCVMixin(_ClusteredMixin, PathCVMixin):
    """The path over ``alpha``, a grid over ``eta``."""

    _path_param = "alpha"
    _grid_params = {"etas": ("eta", lambda alpha, eta: {"eta": eta})}


_CV_SHARED = """{cv_path}
    {cv_tail}
    cv : int, cross-validation generator or iterable, default=None
        Folds. ``None`` or an int: :class:`~skmtl.model_selection.TaskKFold`
        in long format (every task in every training fold), ``KFold`` (or
        ``StratifiedKFold`` for a 1-D classification target) otherwise.
    scoring : str, callable or None, default=None
        Score of the held-out rows, a scikit-learn scorer; ``None``: the
        estimator's ``score`` (R^2 or accuracy over all tasks).
    n_jobs : int or None, default=None
        Folds and grid points fitted in parallel (joblib threads)."""


class ClusteredMultiTaskRegressorCV(
    _ClusteredCVMixin, PenalizedRegressorMixin, BaseEstimator
):
    """:class:`ClusteredMultiTaskRegressor` with strengths chosen by cross-validation.

    The path runs over ``alpha`` for every value of ``etas``, with
    ``n_clusters`` fixed; every fold fits it with warm starts, and the best
    point (mean held-out score) is refitted on all the data
    (:mod:`skmtl.linear_model._cv`, docs/architecture.rst).

    Read more in the :ref:`User Guide <clustered>`.

    Parameters
    ----------
    {cv_shared}
    {regressor_parameters}

    Attributes
    ----------
    {cv_attributes}
    {clustered_cv_attributes}
    coef_, intercept_, cluster_matrix_, task_clusters_, task_similarity_
        As in :class:`{model}`, refitted at the chosen point.
    {common_attributes}

    See Also
    --------
    ClusteredMultiTaskRegressor : The model at fixed strengths.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import ClusteredMultiTaskRegressorCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 4))
    >>> centres = 3 * rng.normal(size=(2, 4))
    >>> Y = X @ centres[[0, 1, 0, 1]].T + 0.1 * rng.normal(size=(120, 4))
    >>> model = ClusteredMultiTaskRegressorCV(alphas=5, cv=3, n_clusters=2)
    >>> model.fit(X, Y).cv_results_["mean_test_score"].shape
    (15,)
    >>> model.task_clusters_
    array([0, 1, 0, 1])
    """

    _estimator_class = ClusteredMultiTaskRegressor
    _parameter_constraints = cv_constraints(
        ClusteredMultiTaskRegressor._parameter_constraints,
        path_param="alpha",
        mapped=("eta",),
        grids=("etas",),
    )

    def __init__(
        self,
        *,
        alphas=10,
        eps=1e-6,
        etas=(0.1, 1.0, 10.0),
        n_clusters=1,
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
        self.etas = etas
        self.n_clusters = n_clusters
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


class ClusteredMultiTaskClassifierCV(
    _ClusteredCVMixin, PenalizedClassifierMixin, BaseEstimator
):
    """:class:`ClusteredMultiTaskClassifier` with strengths chosen by cross-validation.

    The path runs over ``alpha`` for every value of ``etas``, with
    ``n_clusters`` fixed; every fold fits it with warm starts, and the best
    point (mean held-out score) is refitted on all the data
    (:mod:`skmtl.linear_model._cv`, docs/architecture.rst).

    Read more in the :ref:`User Guide <clustered>`.

    Parameters
    ----------
    {cv_shared}
    {classifier_parameters}

    Attributes
    ----------
    {cv_attributes}
    {clustered_cv_attributes}
    classes_, coef_, intercept_, cluster_matrix_, task_clusters_, task_similarity_
        As in :class:`{model}`, refitted at the chosen point.
    {common_attributes}

    See Also
    --------
    ClusteredMultiTaskClassifier : The model at fixed strengths.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import ClusteredMultiTaskClassifierCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4))
    >>> centres = 3 * rng.normal(size=(2, 4))
    >>> Y = (X @ centres[[0, 1, 0, 1]].T > 0).astype(int)
    >>> model = ClusteredMultiTaskClassifierCV(alphas=4, cv=3, etas=1.0, n_clusters=2)
    >>> model.fit(X, Y).cv_results_["mean_test_score"].shape
    (4,)
    """

    _estimator_class = ClusteredMultiTaskClassifier
    _parameter_constraints = cv_constraints(
        ClusteredMultiTaskClassifier._parameter_constraints,
        path_param="alpha",
        mapped=("eta",),
        grids=("etas",),
    )

    def __init__(
        self,
        *,
        alphas=10,
        eps=1e-6,
        etas=(0.1, 1.0, 10.0),
        n_clusters=1,
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
        self.etas = etas
        self.n_clusters = n_clusters
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


for _cls, _model in (
    (ClusteredMultiTaskRegressorCV, ClusteredMultiTaskRegressor),
    (ClusteredMultiTaskClassifierCV, ClusteredMultiTaskClassifier),
):
    _cls.__doc__ = _cls.__doc__.replace("{cv_shared}", _CV_SHARED)
    _fill(_cls, _model)
