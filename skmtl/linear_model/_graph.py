"""Graph-regularised multi-task learning: tasks joined in a graph have close models."""

import re

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import StrOptions

from .._tasks import _as_key, _is_dataframe
from .._validation import format_labels
from ..penalties import TaskGraph
from ._cv import PathCVMixin
from ._penalized import (
    _DOC_PARTS,
    _WARM_START_DOC,
    CLASSIFIER_CONSTRAINTS,
    COMMON_CONSTRAINTS,
    STRENGTH,
    PenalizedClassifierMixin,
    PenalizedRegressorMixin,
    SmoothPathMixin,
    cv_constraints,
    fill_doc,
)

#: The graphs given by name.
GRAPH_NAMES = ("complete", "empty")

_GRAPH_CONSTRAINT = [StrOptions(set(GRAPH_NAMES)), "array-like", "sparse matrix"]


# --------------------------------------------------------------------------
# the task graph given by the user, as an adjacency matrix in task order
# --------------------------------------------------------------------------


def task_adjacency(graph, tasks):
    """The adjacency matrix of ``graph`` in the order of ``tasks``.

    Parameters
    ----------
    graph : {"complete", "empty"}, ndarray, sparse matrix, DataFrame or list
        The task graph in any of the forms of
        :class:`GraphRegularizedRegressor` (see its Notes).
    tasks : ndarray of shape (n_tasks,)
        Task labels of the fitted data (``tasks_``).

    Returns
    -------
    adjacency : ndarray of shape (n_tasks, n_tasks)
        Symmetric (``(A + A^T) / 2`` of the graph), non-negative, zero
        diagonal.

    Raises
    ------
    ValueError
        For an array of the wrong shape, labels that are not tasks of the
        data, a malformed or repeated edge, or a negative or non-finite weight.

    Examples
    --------
    >>> task_adjacency([("a", "b", 2.0), ("b", "c")], np.array(["a", "b", "c"]))
    array([[0., 2., 0.],
           [2., 0., 1.],
           [0., 1., 0.]])
    """
    n_tasks = len(tasks)
    if isinstance(graph, str):
        if graph == "complete":
            return np.ones((n_tasks, n_tasks)) - np.eye(n_tasks)
        return np.zeros((n_tasks, n_tasks))
    if _is_dataframe(graph):
        adjacency = _frame_adjacency(graph, tasks)
    elif isinstance(graph, (list, tuple)):
        adjacency = _edge_adjacency(graph, tasks)
    else:
        adjacency = _array_adjacency(graph, tasks)
    adjacency = (adjacency + adjacency.T) / 2.0
    np.fill_diagonal(adjacency, 0.0)
    return adjacency


def _check_weights(weights, where):
    """Refuse negative and non-finite edge weights."""
    bad = ~np.isfinite(weights) | (weights < 0)
    if np.any(bad):
        raise ValueError(
            f"The graph's edge weights must be finite and non-negative; got "
            f"{float(weights[bad][0])} {where(np.argwhere(bad)[0])}. Use 0 for tasks "
            "that are not related."
        )


def _numeric(values, what):
    try:
        return np.array(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"The graph's {what} must be numbers (edge weights); got values of "
            f"dtype {np.asarray(values).dtype}. Give a numeric matrix, or an edge "
            "list [(task_s, task_t, weight), ...] for labels."
        ) from exc


def _array_adjacency(graph, tasks):
    """A square matrix in the order of ``tasks``."""
    n_tasks = len(tasks)
    values = graph.toarray() if sp.issparse(graph) else graph
    adjacency = _numeric(values, "entries")
    if adjacency.shape != (n_tasks, n_tasks):
        raise ValueError(
            f"graph has shape {adjacency.shape}; expected ({n_tasks}, {n_tasks}): "
            "one row and one column per task, in the order of tasks_ "
            f"{format_labels(tasks)}. To give the graph by task label, pass a "
            "DataFrame indexed and columned by task labels, or an edge list "
            "[(task_s, task_t, weight), ...]."
        )

    def where(index):
        row, column = _as_key(tasks[index[0]]), _as_key(tasks[index[1]])
        return f"at row {row!r}, column {column!r}"

    _check_weights(adjacency, where)
    return adjacency


def _positions(labels, tasks, what):
    """Position of every label in ``tasks``; an error for labels that are not tasks."""
    position = {_as_key(task): t for t, task in enumerate(tasks)}
    try:
        found = [position.get(_as_key(label), -1) for label in labels]
    except TypeError as exc:
        raise ValueError(
            f"The graph's {what} must be task labels (hashable); got {exc}."
        ) from exc
    unknown = [label for label, t in zip(labels, found) if t < 0]
    if unknown:
        raise ValueError(
            f"The graph's {what} name task(s) {format_labels(unknown)} that are "
            f"not tasks of the data; its tasks are {format_labels(tasks)}. Every "
            "label of the graph must be a task of the fitted data (check the "
            "spelling and the type of the labels, for example 1 against '1')."
        )
    return np.asarray(found, dtype=np.intp)


def _frame_adjacency(frame, tasks):
    """A DataFrame indexed and columned by task labels; absent tasks are isolated."""
    index, columns = list(frame.index), list(frame.columns)
    if frame.index.has_duplicates or frame.columns.has_duplicates:
        raise ValueError(
            "The graph DataFrame repeats a task label in its index or columns; "
            "give every task one row and one column."
        )
    if set(map(_as_key, index)) != set(map(_as_key, columns)):
        raise ValueError(
            "The graph DataFrame must have the same task labels as index and as "
            f"columns; got index {format_labels(index)} and columns "
            f"{format_labels(columns)}. Use frame.reindex(index=labels, "
            "columns=labels, fill_value=0)."
        )
    rows = _positions(index, tasks, "DataFrame index")
    cols = _positions(columns, tasks, "DataFrame columns")
    values = _numeric(frame.to_numpy(), "DataFrame entries")

    def where(position):
        row, column = _as_key(index[position[0]]), _as_key(columns[position[1]])
        return f"at row {row!r}, column {column!r}"

    _check_weights(values, where)
    adjacency = np.zeros((len(tasks), len(tasks)))
    adjacency[np.ix_(rows, cols)] = values
    return adjacency


_LIST_HINT = "(A list is read as edges: give a matrix as a numpy array or a DataFrame.)"


def _edge_adjacency(edges, tasks):
    """An undirected edge list ``[(task_s, task_t[, weight]), ...]``."""
    ends, weights = [], []
    for k, edge in enumerate(edges):
        if not isinstance(edge, (list, tuple)) or len(edge) not in (2, 3):
            raise ValueError(
                "Every edge of a graph given as a list must be (task_s, task_t) or "
                f"(task_s, task_t, weight); got {edge!r} at position {k}. {_LIST_HINT}"
            )
        ends.extend(edge[:2])
        weights.append(edge[2] if len(edge) == 3 else 1.0)
    positions = _positions(ends, tasks, "edges").reshape(-1, 2)
    weights = _numeric(weights, "edge weights").reshape(-1)

    def where(position):
        return f"on edge {tuple(edges[position[0]][:2])!r}"

    _check_weights(weights, where)
    pairs = np.sort(positions, axis=1)
    _, first, counts = np.unique(pairs, axis=0, return_index=True, return_counts=True)
    if np.any(counts > 1):
        repeated = edges[int(first[np.argmax(counts > 1)])]
        raise ValueError(
            f"The edge between {repeated[0]!r} and {repeated[1]!r} is given more "
            "than once (edges are undirected: (s, t) and (t, s) are the same "
            f"edge). Give every edge once, with its total weight. {_LIST_HINT}"
        )
    adjacency = np.zeros((len(tasks), len(tasks)))
    # Undirected: both ordered pairs carry the edge's weight.
    adjacency[positions[:, 0], positions[:, 1]] = weights
    adjacency[positions[:, 1], positions[:, 0]] = weights
    return adjacency


# --------------------------------------------------------------------------
# estimators
# --------------------------------------------------------------------------


class _GraphMixin:
    """The penalty of the task graph, and its fitted ``adjacency_``, ``laplacian_``."""

    def _penalty(self):
        return TaskGraph(self.alpha, self.adjacency_, self.alpha_ridge)

    def _check_data(self, X, y, sample_weight):
        checked = super()._check_data(X, y, sample_weight)
        data = checked[0] if isinstance(checked, tuple) else checked
        # The graph is checked against the tasks before any fit (and before
        # the folds of a *CV class).
        task_adjacency(self.graph, data.tasks)
        return checked

    def _fit_problem(self, data, loss, targets=None, n_classes=None):
        self.adjacency_ = task_adjacency(self.graph, data.tasks)
        self.laplacian_ = TaskGraph(1.0, self.adjacency_).laplacian
        return super()._fit_problem(data, loss, targets, n_classes)


_GRAPH_DOC = """graph : {"complete", "empty"}, ndarray, sparse matrix, DataFrame or \
list, default="complete"
        The task graph ``A`` (non-negative edge weights): a name
        (``"complete"``: every pair of tasks joined with weight 1,
        ``"empty"``: no edges), a square matrix in the order of ``tasks_``,
        a DataFrame indexed and columned by task labels, or a list of
        undirected edges ``(task_s, task_t)`` (weight 1) or
        ``(task_s, task_t, weight)``. See the Notes."""

_SOLVER_DOC = """solver : {"auto", "exact", "admm", "fista", "cvxpy"}, default="auto"
        ``"exact"``: the exact solver of the squared loss with a quadratic
        penalty (:mod:`skmtl.solvers.quadratic`): the block system of the
        per-task Gram matrices and the graph Laplacian, factored densely for
        ``n_tasks * n_features <= 500`` and solved by preconditioned
        conjugate gradient beyond (never a dense matrix of that size);
        ``"admm"``, ``"fista"``: the iterative solvers of every penalised
        model; ``"cvxpy"``: the reference formulation. ``"auto"``:
        ``"exact"``. For ``"exact"``, ``tol`` applies to a bound on the
        distance to the optimal objective instead of the duality gap."""

_REGRESSOR_PARAMETERS = re.sub(
    r"solver : \{.*?(?=\n    tol :)",
    lambda _: _SOLVER_DOC,
    _DOC_PARTS["regressor_parameters"],
    flags=re.S,
)

_NOTES = """
    **The graph.** ``A[s, t]`` says how strongly tasks ``s`` and ``t`` are
    related; a matrix is read as ``(A + A^T) / 2`` and its diagonal is
    ignored, and an edge ``(s, t, w)`` of a list is undirected
    (``A[s, t] = A[t, s] = w``, so that it adds ``alpha * w *
    ||w_s - w_t||^2``; an edge from a task to itself adds nothing). Every
    label of a DataFrame or an edge list must be a task of the data (an
    error names the others, which are mostly misspelt labels or labels of
    another type, ``1`` against ``"1"``); a task that the graph does not
    name has no edges, and only ``alpha_ridge`` acts on it. A DataFrame
    needs the same labels as index and columns, each once. A plain array
    follows the order of ``tasks_``: the sorted task labels in long format,
    the columns of ``Y`` in wide format. ``adjacency_`` is the symmetric
    matrix the penalty uses, ``laplacian_`` its Laplacian ``D - A``; with
    ``K = 2 alpha L + alpha_ridge I`` the penalty is ``tr(W^T K W) / 2``.

    **Complete graph: the mean-regularised model.** With ``A = 1`` off the
    diagonal, ``(alpha / 2) sum_{s,t} ||w_s - w_t||^2
    = alpha T sum_t ||w_t - wbar||^2`` (``T`` tasks, ``wbar`` the mean
    task), so that ``graph="complete"`` is
    :class:`~skmtl.linear_model.MeanRegularizedRegressor` with
    ``alpha_mr = 2 T alpha + alpha_ridge`` and
    ``alpha_mean = T alpha_ridge (2 T alpha + alpha_ridge) / (2 T alpha)``
    (for ``alpha > 0``); conversely ``MeanRegularizedRegressor(alpha_mr,
    alpha_mean)`` is this model with ``alpha_ridge = alpha_mr alpha_mean /
    (T alpha_mr + alpha_mean)`` and ``alpha = (alpha_mr - alpha_ridge) /
    (2 T)``.

    **Empty graph: independent ridge regressions.** Without edges every
    task is fitted alone with the ridge ``(alpha_ridge / 2) ||w_t||^2`` on
    its weighted *mean* loss: scikit-learn's ``Ridge(alpha=alpha_ridge *
    n_t)`` on the task's rows with the same sample weights, ``n_t`` the
    task's total sample weight (its number of rows without weights).

    **A graph without ridge.** ``alpha_ridge = 0`` leaves the mean of every
    connected component of the graph unpenalised (and an isolated task
    unpenalised altogether): the solution is unique only where the data of
    those tasks determines it.
"""


class GraphRegularizedRegressor(
    SmoothPathMixin, _GraphMixin, PenalizedRegressorMixin, BaseEstimator
):
    """Multi-task linear regression with tasks tied along a given task graph.

    Every task ``t`` has its own linear model ``x . w_t + b_t``; tasks that
    a user-given graph joins are pulled towards each other, in proportion
    to the weight ``A[s, t]`` of their edge (Evgeniou, Micchelli & Pontil
    2005; SRMTL of MALSAR). The objective is::

        minimise  sum_t (1 / n_t) sum_{i in t} s_i (y_i - x_i . w_t - b_t)^2 / 2
                  + (alpha / 2) sum_{s,t} A[s, t] ||w_s - w_t||^2
                  + (alpha_ridge / 2) ||W||_F^2
                  + (intercept_alpha / 2) sum_t (b_t - b_0)^2

    with ``n_t`` the total sample weight of task ``t`` and the sum over
    ordered pairs of tasks. It is a quadratic problem, solved exactly by
    default (:mod:`skmtl.solvers.quadratic`).

    Read more in the :ref:`User Guide <graph_regularized>`.

    Parameters
    ----------
    alpha : float, default=0.1
        Strength of the graph term (>= 0).
    {graph}
    alpha_ridge : float, default=0.01
        Strength of the ridge on every task's coefficients (>= 0). On tasks
        of 100 rows it shrinks as much as ``Ridge``'s default ``alpha=1.0``
        (``Ridge(alpha=alpha_ridge * n_t)``, see the Notes).
    {graph_regressor_parameters}

    Attributes
    ----------
    coef_ : ndarray of shape (n_tasks, n_features)
        Task coefficients ``w_t`` (rows of ``W``).
    intercept_ : ndarray of shape (n_tasks,)
        Task intercepts ``b_t``.
    adjacency_ : ndarray of shape (n_tasks, n_tasks)
        The graph in the order of ``tasks_``: symmetric, zero diagonal.
    laplacian_ : ndarray of shape (n_tasks, n_tasks)
        Its Laplacian ``D - A`` (``D`` the diagonal of the row sums).
    {common_attributes}

    See Also
    --------
    GraphRegularizedRegressorCV : Choose ``alpha`` by cross-validation.
    MeanRegularizedRegressor : Every task pulled towards the mean task (the
        complete graph).

    Notes
    -----
    {notes}
    References
    ----------
    T. Evgeniou, C. A. Micchelli and M. Pontil. Learning multiple tasks with
    kernel methods. Journal of Machine Learning Research, 6:615-637, 2005.

    J. Zhou, J. Chen and J. Ye. MALSAR: Multi-tAsk Learning via StructurAl
    Regularization. Arizona State University, 2011.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skmtl.linear_model import GraphRegularizedRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 3))
    >>> w = rng.normal(size=3)
    >>> Y = pd.DataFrame(X @ np.array([w, w, -w]).T, columns=["a", "b", "c"])
    >>> model = GraphRegularizedRegressor(alpha=1.0, graph=[("a", "b")]).fit(X, Y)
    >>> model.adjacency_
    array([[0., 1., 0.],
           [1., 0., 0.],
           [0., 0., 0.]])
    >>> model.solver_
    'exact'
    """

    _parameter_constraints = {
        **COMMON_CONSTRAINTS,
        "solver": [StrOptions({"auto", "exact", "admm", "fista", "cvxpy"})],
        "alpha": STRENGTH,
        "graph": _GRAPH_CONSTRAINT,
        "alpha_ridge": STRENGTH,
    }

    def __init__(
        self,
        alpha=0.1,
        *,
        graph="complete",
        alpha_ridge=0.01,
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
        self.graph = graph
        self.alpha_ridge = alpha_ridge
        self.fit_intercept = fit_intercept
        self.intercept_alpha = intercept_alpha
        self.task_column = task_column
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.unknown_task = unknown_task


class GraphRegularizedClassifier(
    SmoothPathMixin, _GraphMixin, PenalizedClassifierMixin, BaseEstimator
):
    """Multi-task logistic regression with tasks tied along a given task graph.

    Every task ``t`` has its own linear model; tasks that a user-given graph
    joins are pulled towards each other, in proportion to the weight
    ``A[s, t]`` of their edge (Evgeniou, Micchelli & Pontil 2005). The
    objective is::

        minimise  sum_t (1 / n_t) sum_{i in t} s_i loss(y_i, x_i . w_t + b_t)
                  + (alpha / 2) sum_{s,t} A[s, t] ||w_s - w_t||^2
                  + (alpha_ridge / 2) ||W||_F^2
                  + (intercept_alpha / 2) sum_t ||b_t - b_0||^2

    minimised also over the shared intercept ``b_0``. {classifier_loss}
    For the multinomial loss ``w_t`` is the whole block of task ``t``
    (``coef_[t]``, all classes).

    Read more in the :ref:`User Guide <graph_regularized>`.

    Parameters
    ----------
    alpha : float, default=0.1
        Strength of the graph term (>= 0).
    {graph}
    alpha_ridge : float, default=0.01
        Strength of the ridge on every task's coefficients (>= 0).
    {classifier_parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, common to all tasks.
    coef_ : ndarray of shape (n_tasks, n_features) or (n_tasks, n_classes, n_features)
        Task coefficients; 3-D for more than two classes.
    intercept_ : ndarray of shape (n_tasks,) or (n_tasks, n_classes)
        Task intercepts.
    adjacency_ : ndarray of shape (n_tasks, n_tasks)
        The graph in the order of ``tasks_``: symmetric, zero diagonal.
    laplacian_ : ndarray of shape (n_tasks, n_tasks)
        Its Laplacian ``D - A``.
    {common_attributes}

    See Also
    --------
    GraphRegularizedClassifierCV : Choose ``alpha`` by cross-validation.
    GraphRegularizedRegressor : The same penalty with the squared loss.

    Notes
    -----
    {notes}
    References
    ----------
    T. Evgeniou, C. A. Micchelli and M. Pontil. Learning multiple tasks with
    kernel methods. Journal of Machine Learning Research, 6:615-637, 2005.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import GraphRegularizedClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> w = rng.normal(size=3)
    >>> Y = (X @ np.array([w, w, -w]).T > 0).astype(int)
    >>> clf = GraphRegularizedClassifier(alpha=0.1, graph=[(0, 1)]).fit(X, Y)
    >>> clf.predict(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints = {
        **CLASSIFIER_CONSTRAINTS,
        "alpha": STRENGTH,
        "graph": _GRAPH_CONSTRAINT,
        "alpha_ridge": STRENGTH,
    }

    def __init__(
        self,
        alpha=0.1,
        *,
        graph="complete",
        alpha_ridge=0.01,
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
        self.graph = graph
        self.alpha_ridge = alpha_ridge
        self.fit_intercept = fit_intercept
        self.intercept_alpha = intercept_alpha
        self.task_column = task_column
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.unknown_task = unknown_task


def _fill_graph_doc(*classes):
    for cls in classes:
        parameters = _REGRESSOR_PARAMETERS
        if "warm_start" not in cls().get_params():
            # The *CV classes warm-start along their path themselves.
            parameters = parameters.replace(_WARM_START_DOC, "")
        cls.__doc__ = (
            cls.__doc__.replace("{notes}", _NOTES.strip() + "\n")
            .replace("{graph}", _GRAPH_DOC)
            .replace("{graph_regressor_parameters}", parameters)
        )
    fill_doc(*classes)


_fill_graph_doc(GraphRegularizedRegressor, GraphRegularizedClassifier)


# --------------------------------------------------------------------------
# cross-validation
# --------------------------------------------------------------------------

_CV_PATH = """alphas : int or array-like, default=10
        Path of the graph strength ``alpha``. The penalty never makes all
        the coefficients zero: an int gives that many values from the top of
        the useful range (a multiple of the curvature of the data term,
        where the tasks joined in the graph are nearly equal) down to
        ``eps`` times it, evenly on a log scale; an array gives the values.
    eps : float, default=1e-6
        Length of the path for an int ``alphas``: ``alpha_min / alpha_max``.
    ridge_ratios : float or array-like, default=(0.01, 0.1)
        Values of ``alpha_ridge / alpha`` searched (positive), each with its
        own path."""

_CV_TAIL = """cv : int, cross-validation generator or iterable, default=None
        Folds. ``None`` or an int: :class:`~skmtl.model_selection.TaskKFold`
        in long format (every task in every training fold, as the graph
        needs), ``KFold`` (or ``StratifiedKFold`` for a 1-D classification
        target) otherwise.
    scoring : str, callable or None, default=None
        Score of the held-out rows, a scikit-learn scorer; ``None``: the
        estimator's ``score`` (R^2 or accuracy over all tasks).
    n_jobs : int or None, default=None
        Folds and grid points fitted in parallel (joblib threads)."""

_CV_ATTRIBUTES = """alpha_ : float
        The chosen graph strength.
    ridge_ratio_ : float
        The chosen ``alpha_ridge / alpha``.
    alpha_ridge_ : float
        The chosen ridge strength ``ridge_ratio_ * alpha_``.
    alphas_ : ndarray of shape (n_ridge_ratios, n_alphas)
        The paths of ``alpha``, one row per value of ``ridge_ratios``.
    cv_results_ : dict of ndarray
        Scores of every point and fold, with the keys of
        :class:`~sklearn.model_selection.GridSearchCV` (``params``,
        ``param_alpha``, ``param_ridge_ratio``, ``split<k>_test_score``,
        ``mean_test_score``, ``std_test_score``, ``rank_test_score``, fit
        and score times).
    best_score_ : float
        Mean cross-validated score of the chosen point.
    best_params_ : dict
        The chosen point, ``{"alpha": ..., "ridge_ratio": ...}``.
    best_index_ : int
        Its index in ``cv_results_``.
    n_splits_ : int
        Number of folds."""


class _GraphCVMixin(_GraphMixin, PathCVMixin):
    """The path over ``alpha``, a grid over ``alpha_ridge / alpha``."""

    _path_param = "alpha"
    _grid_params = {
        "ridge_ratios": (
            "ridge_ratio",
            lambda alpha, ratio: {"alpha_ridge": ratio * alpha},
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
        self.alpha_ridge_ = self.ridge_ratio_ * self.alpha_
        return self


def _cv_parameter_constraints(base):
    return cv_constraints(
        base._parameter_constraints,
        path_param="alpha",
        mapped=("alpha_ridge",),
        grids=("ridge_ratios",),
    )


class GraphRegularizedRegressorCV(
    _GraphCVMixin, PenalizedRegressorMixin, BaseEstimator
):
    """:class:`GraphRegularizedRegressor` with its strengths chosen by cross-validation.

    The path runs over the graph strength ``alpha``, with the ridge
    strength ``alpha_ridge = ridge_ratio * alpha`` for every ratio of
    ``ridge_ratios``; every fold fits it with warm starts, and the best
    point (mean held-out score) is refitted on all the data
    (:mod:`skmtl.linear_model._cv`, docs/architecture.rst).

    Read more in the :ref:`User Guide <graph_regularized>`.

    Parameters
    ----------
    {cv_path}
    {graph}
    {cv_tail}
    {graph_regressor_parameters}

    Attributes
    ----------
    {graph_cv_attributes}
    coef_, intercept_, adjacency_, laplacian_
        As in :class:`{model}`, refitted at the chosen point.
    {common_attributes}

    See Also
    --------
    GraphRegularizedRegressor : The model at fixed strengths.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import GraphRegularizedRegressorCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 4))
    >>> w = rng.normal(size=4)
    >>> Y = X @ np.array([w, w, -w]).T + 0.1 * rng.normal(size=(120, 3))
    >>> model = GraphRegularizedRegressorCV(alphas=5, graph=[(0, 1)], cv=3).fit(X, Y)
    >>> sorted(model.best_params_)
    ['alpha', 'ridge_ratio']
    """

    _estimator_class = GraphRegularizedRegressor
    _parameter_constraints = _cv_parameter_constraints(GraphRegularizedRegressor)

    def __init__(
        self,
        *,
        alphas=10,
        eps=1e-6,
        ridge_ratios=(0.01, 0.1),
        graph="complete",
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
        self.graph = graph
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


class GraphRegularizedClassifierCV(
    _GraphCVMixin, PenalizedClassifierMixin, BaseEstimator
):
    """:class:`GraphRegularizedClassifier` with strengths chosen by cross-validation.

    The path runs over the graph strength ``alpha``, with the ridge
    strength ``alpha_ridge = ridge_ratio * alpha`` for every ratio of
    ``ridge_ratios``; every fold fits it with warm starts, and the best
    point (mean held-out score) is refitted on all the data
    (:mod:`skmtl.linear_model._cv`, docs/architecture.rst).

    Read more in the :ref:`User Guide <graph_regularized>`.

    Parameters
    ----------
    {cv_path}
    {graph}
    {cv_tail}
    {classifier_parameters}

    Attributes
    ----------
    {graph_cv_attributes}
    coef_, intercept_, adjacency_, laplacian_
        As in :class:`{model}`, refitted at the chosen point.
    {common_attributes}

    See Also
    --------
    GraphRegularizedClassifier : The model at fixed strengths.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import GraphRegularizedClassifierCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> w = rng.normal(size=3)
    >>> Y = (X @ np.array([w, w, -w]).T > 0).astype(int)
    >>> model = GraphRegularizedClassifierCV(alphas=3, cv=3).fit(X, Y)
    >>> model.cv_results_["mean_test_score"].shape
    (6,)
    """

    _estimator_class = GraphRegularizedClassifier
    _parameter_constraints = _cv_parameter_constraints(GraphRegularizedClassifier)

    def __init__(
        self,
        *,
        alphas=10,
        eps=1e-6,
        ridge_ratios=(0.01, 0.1),
        graph="complete",
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
        self.graph = graph
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


def _fill_cv_doc(*classes):
    for cls, model in classes:
        cls.__doc__ = (
            cls.__doc__.replace("{cv_path}", _CV_PATH)
            .replace("{cv_tail}", _CV_TAIL)
            .replace("{graph_cv_attributes}", _CV_ATTRIBUTES)
            .replace("{model}", model.__name__)
        )
    _fill_graph_doc(*(cls for cls, _ in classes))


_fill_cv_doc(
    (GraphRegularizedRegressorCV, GraphRegularizedRegressor),
    (GraphRegularizedClassifierCV, GraphRegularizedClassifier),
)
