"""Draw the relations between tasks that a model learned or was given.

A model that relates tasks to each other keeps the relations in a fitted
``(n_tasks, n_tasks)`` matrix whose axes follow its ``tasks_``:

- ``task_similarity_``: the clustered models;
- ``task_correlation_``: the task-relationship models and the multi-task
  Gaussian process;
- ``adjacency_``: the graph-regularised models (the graph they were given).

:class:`TaskRelationsDisplay` draws such a matrix as a heat map, with the
tasks reordered so that related tasks are neighbours: cluster by cluster when
the model found clusters (``task_clusters_``), else in the leaf order of an
average-linkage hierarchical clustering of the matrix
(:mod:`scipy.cluster.hierarchy`).

matplotlib is an optional dependency (``pip install "skmtl[plot]"``),
imported only when something is drawn.
"""

import numpy as np
from scipy.cluster import hierarchy
from scipy.spatial.distance import squareform
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_array, check_is_fitted

#: Fitted attributes that hold relations between tasks, in order of
#: preference, with what they hold (the label of the colour bar).
RELATION_ATTRIBUTES = (
    ("task_similarity_", "task similarity"),
    ("task_correlation_", "task correlation"),
    ("adjacency_", "task graph weight"),
)
#: With ``tick_labels="auto"``, at most about this many task labels are
#: written on each axis (every k-th task beyond it).
MAX_TICK_LABELS = 40


class TaskRelationsDisplay:
    """Heat map of the relations between tasks, ordered by cluster.

    Use :meth:`from_estimator` to draw what a fitted model learned (or was
    given) about its tasks, or :meth:`from_matrix` for any square matrix of
    relations; both create the display and call :meth:`plot`. All
    parameters are stored as attributes.

    The tasks are reordered so that related tasks are neighbours: with
    ``clusters``, cluster by cluster (clusters in the order of their first
    task, tasks within a cluster in the leaf order below), lines marking the
    boundaries; without, in the leaf order of an average-linkage
    hierarchical clustering of the tasks with distance ``c - S[s, t]``
    (``S`` the symmetrised matrix, ``c`` its largest off-diagonal value),
    optimally ordered (:func:`scipy.cluster.hierarchy.optimal_leaf_ordering`).
    The colour scale is symmetric around zero: ``[-m, m]``, ``m`` the
    largest absolute value of the matrix.

    Read more in the :ref:`User Guide <task_relations>`.

    Parameters
    ----------
    matrix : array-like of shape (n_tasks, n_tasks)
        Relations between every pair of tasks, for example a task
        correlation or similarity, or the weights of a task graph.
    labels : array-like of shape (n_tasks,), default=None
        Task labels, in the order of the axes of ``matrix``; ``None`` for
        ``0, ..., n_tasks - 1``.
    clusters : array-like of shape (n_tasks,), default=None
        A cluster label per task; ``None`` when the tasks have no clusters.
    order : "cluster", None or array-like of shape (n_tasks,), default="cluster"
        ``"cluster"`` reorders the tasks as described above; ``None`` keeps
        the order of ``matrix``; an array of task labels (a permutation of
        ``labels``, for example the ``labels_`` of another display) draws
        the tasks in that order.
    quantity : str, default="task relation"
        What the matrix holds: the label of the colour bar.
    estimator_name : str, default=None
        Title of the axes; ``None`` for no title.

    Attributes
    ----------
    matrix_ : ndarray of shape (n_tasks, n_tasks)
        The matrix as drawn: ``matrix[order_][:, order_]``.
    labels_ : ndarray of shape (n_tasks,)
        The task labels as drawn, ``labels[order_]``.
    order_ : ndarray of shape (n_tasks,)
        The permutation of the tasks: position ``i`` of the drawing is task
        ``order_[i]`` of ``matrix``.
    clusters_ : ndarray of shape (n_tasks,) or None
        The cluster labels as drawn, ``clusters[order_]``.
    im_ : matplotlib.image.AxesImage
        The image of the matrix.
    ax_ : matplotlib.axes.Axes
        The axes of the drawing.
    figure_ : matplotlib.figure.Figure
        The figure of the axes.

    See Also
    --------
    skmtl.linear_model.GraphRegularizedRegressor :
        Given a task graph (``adjacency_``).
    skmtl.linear_model.ClusteredMultiTaskRegressor :
        Learns clusters of tasks (``task_similarity_``, ``task_clusters_``).
    skmtl.linear_model.TaskRelationshipRegressor :
        Learns a task covariance (``task_correlation_``).
    skmtl.gaussian_process.MultiTaskGaussianProcessRegressor :
        Learns a task covariance (``task_correlation_``).

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> from skmtl.inspection import TaskRelationsDisplay
    >>> correlation = np.array([[1.0, 0.1, 0.9],
    ...                         [0.1, 1.0, 0.2],
    ...                         [0.9, 0.2, 1.0]])
    >>> ax = Figure().subplots()
    >>> display = TaskRelationsDisplay.from_matrix(
    ...     correlation, labels=["a", "b", "c"], clusters=[0, 1, 0], ax=ax)
    >>> display.labels_.tolist(), display.clusters_.tolist()
    (['b', 'c', 'a'], [1, 0, 0])
    >>> float(display.matrix_[1, 2])
    0.9

    The relations a model learned: here tasks 0 and 2 have the same
    coefficients, task 1 the opposite ones.

    >>> from skmtl.linear_model import TaskRelationshipRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 3))
    >>> w = np.array([1.0, -2.0, 0.5])
    >>> Y = X @ np.array([w, -w, w]).T + 0.1 * rng.normal(size=(60, 3))
    >>> model = TaskRelationshipRegressor(alpha=0.01, beta=0.01).fit(X, Y)
    >>> display = TaskRelationsDisplay.from_estimator(model, ax=Figure().subplots())
    >>> display.labels_.tolist()
    [1, 2, 0]
    >>> display.matrix_.round(2)
    array([[ 1., -1., -1.],
           [-1.,  1.,  1.],
           [-1.,  1.,  1.]])
    """

    def __init__(
        self,
        matrix,
        *,
        labels=None,
        clusters=None,
        order="cluster",
        quantity="task relation",
        estimator_name=None,
    ):
        self.matrix = matrix
        self.labels = labels
        self.clusters = clusters
        self.order = order
        self.quantity = quantity
        self.estimator_name = estimator_name

    def plot(self, *, ax=None, cmap="RdBu_r", colorbar=True, tick_labels="auto"):
        """Draw the matrix.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; ``None`` creates a figure with
            :func:`matplotlib.pyplot.subplots`.
        cmap : str or matplotlib.colors.Colormap, default="RdBu_r"
            Colour map (diverging: the scale is symmetric around zero).
        colorbar : bool, default=True
            Add a colour bar labelled with ``quantity``.
        tick_labels : "auto" or bool, default="auto"
            Write the task labels on the axes: ``True`` every one, ``False``
            none, ``"auto"`` every one up to 40 tasks, else every k-th.

        Returns
        -------
        display : TaskRelationsDisplay
            ``self``, with the fitted attributes set.
        """
        _check_matplotlib("TaskRelationsDisplay.plot")
        if tick_labels not in ("auto", True, False):
            raise ValueError(
                f"tick_labels must be 'auto', True or False; got {tick_labels!r}."
            )
        matrix, labels, clusters = _check_inputs(
            self.matrix, self.labels, self.clusters
        )
        order = _resolve_order(self.order, matrix, labels, clusters)
        self.order_ = order
        self.matrix_ = matrix[np.ix_(order, order)]
        self.labels_ = labels[order]
        self.clusters_ = None if clusters is None else clusters[order]
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots()
        limit = float(np.abs(self.matrix_).max()) or 1.0
        self.im_ = ax.imshow(
            self.matrix_, cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest"
        )
        _set_task_ticks(ax, self.labels_, tick_labels)
        if self.clusters_ is not None:
            _mark_clusters(ax, self.clusters_)
        if colorbar:
            ax.figure.colorbar(self.im_, ax=ax, label=self.quantity)
        if self.estimator_name is not None:
            ax.set_title(self.estimator_name)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        *,
        order="cluster",
        ax=None,
        cmap="RdBu_r",
        colorbar=True,
        tick_labels="auto",
    ):
        """Draw the task relations of a fitted model.

        The matrix is the model's ``task_similarity_`` if it has one, else
        its ``task_correlation_``, else its ``adjacency_`` (graph models);
        the labels are its ``tasks_`` and the clusters its
        ``task_clusters_``, if any. A :class:`~sklearn.pipeline.Pipeline`
        is drawn through its last step.

        Parameters
        ----------
        estimator : fitted estimator or Pipeline
            A model with task relations: a graph-regularised, clustered or
            task-relationship model of :mod:`skmtl.linear_model`, or
            :class:`~skmtl.gaussian_process.MultiTaskGaussianProcessRegressor`.
        order : "cluster", None or array-like, default="cluster"
            See :class:`TaskRelationsDisplay`.
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; ``None`` creates a figure.
        cmap : str or matplotlib.colors.Colormap, default="RdBu_r"
            Colour map.
        colorbar : bool, default=True
            Add a colour bar.
        tick_labels : "auto" or bool, default="auto"
            See :meth:`plot`.

        Returns
        -------
        display : TaskRelationsDisplay

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        ValueError
            If the estimator has no task relations.
        """
        _check_matplotlib("TaskRelationsDisplay.from_estimator")
        relations = task_relations(estimator)
        display = cls(
            relations["matrix"],
            labels=relations["labels"],
            clusters=relations["clusters"],
            order=order,
            quantity=relations["quantity"],
            estimator_name=relations["estimator_name"],
        )
        return display.plot(
            ax=ax, cmap=cmap, colorbar=colorbar, tick_labels=tick_labels
        )

    @classmethod
    def from_matrix(
        cls,
        matrix,
        *,
        labels=None,
        clusters=None,
        order="cluster",
        quantity="task relation",
        estimator_name=None,
        ax=None,
        cmap="RdBu_r",
        colorbar=True,
        tick_labels="auto",
    ):
        """Draw a square matrix of relations between tasks.

        Parameters
        ----------
        matrix : array-like of shape (n_tasks, n_tasks)
            Relations between every pair of tasks. A DataFrame gives the
            labels from its index when ``labels`` is None.
        labels : array-like of shape (n_tasks,), default=None
            Task labels in the order of ``matrix``.
        clusters : array-like of shape (n_tasks,), default=None
            A cluster label per task.
        order : "cluster", None or array-like, default="cluster"
            See :class:`TaskRelationsDisplay`.
        quantity : str, default="task relation"
            Label of the colour bar.
        estimator_name : str, default=None
            Title of the axes.
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; ``None`` creates a figure.
        cmap : str or matplotlib.colors.Colormap, default="RdBu_r"
            Colour map.
        colorbar : bool, default=True
            Add a colour bar.
        tick_labels : "auto" or bool, default="auto"
            See :meth:`plot`.

        Returns
        -------
        display : TaskRelationsDisplay
        """
        _check_matplotlib("TaskRelationsDisplay.from_matrix")
        if labels is None and hasattr(matrix, "index"):
            labels = np.asarray(matrix.index)
        display = cls(
            matrix,
            labels=labels,
            clusters=clusters,
            order=order,
            quantity=quantity,
            estimator_name=estimator_name,
        )
        return display.plot(
            ax=ax, cmap=cmap, colorbar=colorbar, tick_labels=tick_labels
        )


def task_relations(estimator, caller="TaskRelationsDisplay.from_estimator"):
    """The task relations of a fitted model, as the display draws them.

    Parameters
    ----------
    estimator : fitted estimator or Pipeline
    caller : str
        Named in the error messages.

    Returns
    -------
    relations : dict
        ``"matrix"`` (a copy of the attribute, float64), ``"labels"`` (the
        model's ``tasks_``), ``"clusters"`` (``task_clusters_`` or None),
        ``"attribute"`` (the name of the attribute read), ``"quantity"``
        and ``"estimator_name"``.
    """
    model = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    name = type(model).__name__
    if not hasattr(model, "fit"):
        raise TypeError(
            f"{caller} expects a fitted estimator; got an object of type {name}. "
            "To draw a matrix of relations between tasks, use "
            "TaskRelationsDisplay.from_matrix."
        )
    check_is_fitted(
        model,
        msg=(
            f"This {name} instance is not fitted yet: {caller} draws what a "
            "fitted model learned about its tasks. Call fit first."
        ),
    )
    found = [(a, q) for a, q in RELATION_ATTRIBUTES if hasattr(model, a)]
    if not found:
        names = ", ".join(a for a, _ in RELATION_ATTRIBUTES)
        raise ValueError(
            f"{name} has no relations between tasks to draw: it has none of the "
            f"fitted attributes {names}. Use a model that learns or is given "
            "them (the graph-regularised, clustered and task-relationship models "
            "of skmtl.linear_model, or MultiTaskGaussianProcessRegressor), or "
            "pass a matrix to TaskRelationsDisplay.from_matrix."
        )
    attribute, quantity = found[0]
    matrix = np.array(getattr(model, attribute), dtype=np.float64)
    labels = getattr(model, "tasks_", None)
    clusters = getattr(model, "task_clusters_", None)
    return {
        "matrix": matrix,
        "labels": None if labels is None else np.array(labels),
        "clusters": None if clusters is None else np.array(clusters),
        "attribute": attribute,
        "quantity": quantity,
        "estimator_name": name,
    }


def cluster_order(matrix, clusters=None):
    """Order of the tasks that makes related tasks neighbours.

    Parameters
    ----------
    matrix : ndarray of shape (n_tasks, n_tasks)
        Relations between tasks (larger is more related), finite.
    clusters : ndarray of shape (n_tasks,) or None
        A cluster label per task.

    Returns
    -------
    order : ndarray of shape (n_tasks,)
        A permutation of ``range(n_tasks)``. Without clusters, the leaf
        order of the average-linkage tree; with clusters, every cluster's
        tasks are consecutive, clusters in the order of their first task in
        that leaf order.
    """
    leaves = _leaf_order(matrix)
    if clusters is None:
        return leaves
    rank = np.empty(len(leaves), dtype=np.intp)
    rank[leaves] = np.arange(len(leaves))
    _, cluster_index = np.unique(clusters, return_inverse=True)
    first = np.full(cluster_index.max() + 1, len(leaves))
    np.minimum.at(first, cluster_index, rank)
    return np.lexsort((rank, first[cluster_index]))


def _leaf_order(matrix):
    """Leaf order of the average-linkage tree, similar tasks adjacent."""
    n_tasks = len(matrix)
    if n_tasks <= 2:
        return np.arange(n_tasks)
    similarity = (matrix + matrix.T) / 2
    off_diagonal = ~np.eye(n_tasks, dtype=bool)
    # Any decreasing affine map of the similarities gives the same tree and
    # leaf order: shift them so that the closest pair is at distance 0.
    distance = similarity[off_diagonal].max() - similarity
    np.fill_diagonal(distance, 0.0)
    condensed = squareform(distance, checks=False)
    tree = hierarchy.linkage(condensed, method="average")
    tree = hierarchy.optimal_leaf_ordering(tree, condensed)
    return hierarchy.leaves_list(tree)


def _check_inputs(matrix, labels, clusters):
    """Validated copies of the matrix, labels and clusters."""
    matrix = check_array(matrix, dtype=np.float64, input_name="matrix", copy=True)
    n_tasks = matrix.shape[0]
    if matrix.shape[1] != n_tasks:
        raise ValueError(
            f"matrix must be square, of shape (n_tasks, n_tasks); got shape "
            f"{matrix.shape}. Pass the relations between every pair of tasks, "
            "for example a fitted model's task_correlation_."
        )
    labels = np.arange(n_tasks) if labels is None else _per_task(labels, "labels")
    if clusters is not None:
        clusters = _per_task(clusters, "clusters")
    for name, values in (("labels", labels), ("clusters", clusters)):
        if values is not None and len(values) != n_tasks:
            raise ValueError(
                f"{name} must have one entry per task ({n_tasks}, the size of "
                f"matrix); got {len(values)}."
            )
    return matrix, labels, clusters


def _per_task(values, name):
    values = np.array(values)
    if values.ndim != 1:
        raise ValueError(
            f"{name} must be one-dimensional, one entry per task; got an array "
            f"of shape {values.shape}."
        )
    return values


def _resolve_order(order, matrix, labels, clusters):
    """The permutation of the tasks asked for by ``order``."""
    if order is None:
        return np.arange(len(matrix))
    if isinstance(order, str):
        if order != "cluster":
            raise ValueError(
                f"order must be 'cluster', None or an array of task labels; got "
                f"{order!r}."
            )
        return cluster_order(matrix, clusters)
    return _given_order(order, labels)


def _given_order(order, labels):
    position = {label: i for i, label in enumerate(labels.tolist())}
    wanted = np.asarray(order).tolist()
    unknown = [label for label in wanted if label not in position]
    permutation = np.array([position.get(label, -1) for label in wanted])
    if unknown or len(wanted) != len(labels) or len(set(wanted)) != len(labels):
        raise ValueError(
            "order must list every task label exactly once (a permutation of "
            f"labels: {_shorten(labels.tolist())}); got {_shorten(wanted)}"
            + (f", with unknown labels {_shorten(unknown)}" if unknown else "")
            + "."
        )
    return permutation


def _shorten(values, n_shown=10):
    shown = ", ".join(repr(value) for value in values[:n_shown])
    more = f", ... ({len(values)} in all)" if len(values) > n_shown else ""
    return f"[{shown}{more}]"


def _set_task_ticks(ax, labels, tick_labels):
    n_tasks = len(labels)
    if tick_labels == "auto":
        step = -(-n_tasks // MAX_TICK_LABELS)
    elif tick_labels:
        step = 1
    else:
        ax.set_xticks([])
        ax.set_yticks([])
        return
    positions = np.arange(0, n_tasks, step)
    text = [str(label) for label in labels[positions]]
    ax.set_xticks(positions, text, rotation=90, fontsize=8)
    ax.set_yticks(positions, text, fontsize=8)
    ax.set_xlabel("task")
    ax.set_ylabel("task")


def _mark_clusters(ax, clusters):
    """Lines between consecutive clusters."""
    for bound in np.flatnonzero(clusters[1:] != clusters[:-1]) + 0.5:
        ax.axhline(bound, color="black", linewidth=0.8)
        ax.axvline(bound, color="black", linewidth=0.8)


def _check_matplotlib(caller):
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"{caller} needs matplotlib, which is not installed: "
            'pip install "skmtl[plot]" (or pip install matplotlib).'
        ) from exc
