"""The task data model: user formats <-> :class:`TaskData`.

This is the only module that knows the formats users hand data over in
(docs/user_guide/data_formats.rst):

- **long**: ``X`` holds a task-identifier column named by ``task_column``
  (a column name for a DataFrame, an integer position for an array) and
  ``y`` is 1-D; tasks have their own rows and any sizes;
- **wide**: ``task_column=None`` and ``Y`` is 2-D ``(n_samples, n_tasks)``;
  every task shares the rows of ``X`` and ``NaN`` in ``Y`` marks a target
  that was not observed;
- **single**: ``task_column=None`` and ``y`` is 1-D: one task.

Whatever the format, a fit sees one :class:`TaskData` whose observations are
grouped by task (a stable sort plus offsets), so that per-task work is a slice.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array
from sklearn.utils.validation import (
    _check_sample_weight,
    _num_samples,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._validation import format_labels, is_integer_index

LAYOUTS = ("long", "wide", "single")


class TaskData:
    """Observations of one or more tasks, grouped by task.

    An *observation* is one target value: a row of ``X`` seen by one task.
    In long format every row of the input is one observation; in wide format
    a row gives one observation per task that observed it.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_rows, n_features)
        Feature rows. In long format the rows are already sorted by task, so
        that ``row_index`` is ``None`` and the rows of task ``t`` are
        ``X[offsets[t]:offsets[t + 1]]``. In wide format ``X`` is the caller's
        matrix and ``row_index`` maps observations to its rows.
    y : ndarray of shape (n_observations,)
        Targets, grouped by task.
    task_index : ndarray of shape (n_observations,)
        Integer task of each observation (non-decreasing).
    sample_weight : ndarray of shape (n_observations,)
        Weight of each observation.
    tasks : ndarray of shape (n_tasks,)
        Task labels; ``task_index`` indexes into them.
    layout : {"long", "wide", "single"}
        The format the data came in.
    input_position : ndarray of shape (n_observations,)
        Where each observation was in the caller's input: its row in long and
        single format, its row ``* n_tasks + task`` in wide format.
    n_samples_in : int
        Number of rows the caller passed.
    row_index : ndarray of shape (n_observations,) or None
        Row of ``X`` of each observation; ``None`` when it is the identity.
    """

    def __init__(
        self,
        X,
        y,
        task_index,
        sample_weight,
        tasks,
        layout,
        input_position,
        n_samples_in,
        row_index=None,
    ):
        self.X = X
        self.y = y
        self.task_index = task_index
        self.sample_weight = sample_weight
        self.tasks = tasks
        self.layout = layout
        self.input_position = input_position
        self.n_samples_in = n_samples_in
        self.row_index = row_index
        self.offsets = np.searchsorted(task_index, np.arange(len(tasks) + 1))

    @property
    def n_tasks(self):
        """Number of tasks."""
        return len(self.tasks)

    @property
    def n_features(self):
        """Number of features (task column excluded)."""
        return self.X.shape[1]

    @property
    def n_observations(self):
        """Number of observed targets over all tasks."""
        return len(self.y)

    @property
    def task_counts(self):
        """Number of observations of each task, shape (n_tasks,)."""
        return np.diff(self.offsets)

    @property
    def task_weights(self):
        """Sum of sample weights of each task (``n_t``), shape (n_tasks,)."""
        return np.bincount(
            self.task_index, weights=self.sample_weight, minlength=self.n_tasks
        )

    @property
    def shared_design(self):
        """True when every task observes every row of the same ``X``."""
        return self.layout in ("wide", "single") and self.n_observations == (
            self.n_tasks * self.X.shape[0]
        )

    @property
    def observation_rows(self):
        """Row of the caller's input of each observation, shape (n_observations,).

        Indexes row-aligned metadata (``groups``, weights) of the caller.
        """
        return self.row_index if self.layout == "wide" else self.input_position

    def task_slice(self, t):
        """Slice of the observation arrays that belongs to task ``t``."""
        return slice(self.offsets[t], self.offsets[t + 1])

    def task_rows(self, t):
        """Rows of ``X`` observed by task ``t`` (a view where possible)."""
        if self.row_index is None:
            return self.X[self.task_slice(t)]
        if self.shared_design:
            return self.X
        return self.X[self.row_index[self.task_slice(t)]]

    def task_targets(self, t):
        """Targets of task ``t``."""
        return self.y[self.task_slice(t)]

    def task_sample_weight(self, t):
        """Sample weights of task ``t``."""
        return self.sample_weight[self.task_slice(t)]

    def iter_tasks(self):
        """Yield ``(t, X_t, y_t, sample_weight_t)`` for every task."""
        for t in range(self.n_tasks):
            yield (
                t,
                self.task_rows(t),
                self.task_targets(t),
                self.task_sample_weight(t),
            )

    def with_targets(self, y):
        """The same observations with other targets (e.g. encoded classes).

        Parameters
        ----------
        y : ndarray of shape (n_observations,)
            New targets, in the grouped order of this object.

        Returns
        -------
        data : TaskData
        """
        return TaskData(
            X=self.X,
            y=y,
            task_index=self.task_index,
            sample_weight=self.sample_weight,
            tasks=self.tasks,
            layout=self.layout,
            input_position=self.input_position,
            n_samples_in=self.n_samples_in,
            row_index=self.row_index,
        )

    def to_input_order(self, values, fill_value=np.nan):
        """Put per-observation values back in the layout of the caller's input.

        Parameters
        ----------
        values : array-like of shape (n_observations,)
            One value per observation, in the grouped order of this object.
        fill_value : float, default=nan
            Value of the wide cells that were not observed.

        Returns
        -------
        out : ndarray of shape (n_samples_in,) or (n_samples_in, n_tasks)
            2-D for wide data, 1-D otherwise.
        """
        values = np.asarray(values)
        if self.layout == "wide":
            out = np.full(
                self.n_samples_in * self.n_tasks, fill_value, dtype=values.dtype
            )
            out[self.input_position] = values
            return out.reshape(self.n_samples_in, self.n_tasks)
        out = np.empty(self.n_samples_in, dtype=values.dtype)
        out[self.input_position] = values
        return out


# --------------------------------------------------------------------------
# the task column
# --------------------------------------------------------------------------


def _is_dataframe(X):
    return hasattr(X, "columns") and hasattr(X, "iloc")


def resolve_task_column(X, task_column):
    """Find the task column of ``X``.

    Parameters
    ----------
    X : array-like, sparse matrix or DataFrame
        The input with a task column.
    task_column : hashable
        A column name (DataFrame) or an integer position (negative counts from
        the end).

    Returns
    -------
    position : int
        Non-negative position of the task column in ``X``.
    name : hashable
        The resolved name: the column name for a DataFrame, else ``position``.
    """
    if _is_dataframe(X):
        columns = list(X.columns)
        if task_column in columns:
            return columns.index(task_column), task_column
        if is_integer_index(task_column) and -len(columns) <= task_column < len(
            columns
        ):
            position = task_column % len(columns)
            return position, columns[position]
        raise ValueError(
            f"task_column={task_column!r} is not a column of X; X has the columns "
            f"{format_labels(columns, max_shown=30)}. Set task_column to the "
            "name of the column that identifies the task of each row."
        )
    n_columns = _n_columns(X)
    if not is_integer_index(task_column):
        raise ValueError(
            f"task_column={task_column!r} names a column, but X is a "
            f"{type(X).__name__} without column names. Pass X as a pandas "
            "DataFrame, or give task_column as an integer column position."
        )
    if not -n_columns <= task_column < n_columns:
        raise ValueError(
            f"task_column={task_column} is out of range for X with {n_columns} "
            f"columns; expected an integer in [{-n_columns}, {n_columns - 1}]."
        )
    position = int(task_column) % n_columns
    return position, position


def _n_columns(X):
    shape = getattr(X, "shape", None)
    if shape is None:
        X = np.asarray(X, dtype=object)
        shape = X.shape
    if len(shape) != 2:
        raise ValueError(
            f"Expected a 2-D X with a task column, got an array of shape "
            f"{tuple(shape)}. Reshape X to (n_samples, n_columns)."
        )
    return shape[1]


def split_task_column(X, task_column):
    """Separate the task column from the feature columns.

    Parameters
    ----------
    X : array-like, sparse matrix or DataFrame of shape (n_samples, n_columns)
        Input holding a task column.
    task_column : hashable
        Column name (DataFrame) or integer position.

    Returns
    -------
    features : array-like, sparse matrix or DataFrame
        ``X`` without the task column (a DataFrame stays a DataFrame).
    labels : ndarray of shape (n_samples,)
        The task label of every row.
    name : hashable
        The resolved task column (name for a DataFrame, position otherwise).

    Examples
    --------
    >>> import numpy as np
    >>> features, labels, name = split_task_column(
    ...     np.array([[0.0, 1.5], [1.0, 2.5]]), task_column=0)
    >>> features.tolist(), labels.tolist(), name
    ([[1.5], [2.5]], [0.0, 1.0], 0)
    """
    position, name = resolve_task_column(X, task_column)
    labels = _column_values(X, position, name)
    if _is_dataframe(X):
        features = X.drop(columns=X.columns[position])
    elif sp.issparse(X):
        keep = np.delete(np.arange(X.shape[1]), position)
        features = X.tocsc()[:, keep].tocsr()
    else:
        features = np.delete(np.asarray(X), position, axis=1)
    return features, labels, name


def task_labels(X, task_column):
    """The task label of every row, without touching the feature columns.

    Parameters
    ----------
    X : array-like, sparse matrix or DataFrame of shape (n_samples, n_columns)
        Input holding a task column.
    task_column : hashable
        Column name (DataFrame) or integer position.

    Returns
    -------
    labels : ndarray of shape (n_samples,)
    name : hashable
        The resolved task column.

    Examples
    --------
    >>> import numpy as np
    >>> labels, name = task_labels(np.array([[0.0, 1.5], [1.0, 2.5]]), -2)
    >>> labels.tolist(), name
    ([0.0, 1.0], 0)
    """
    position, name = resolve_task_column(X, task_column)
    return _column_values(X, position, name), name


def _column_values(X, position, name):
    if _is_dataframe(X):
        labels = X.iloc[:, position].to_numpy()
    elif sp.issparse(X):
        labels = X.tocsc()[:, [position]].toarray().ravel()
    else:
        labels = np.asarray(X)[:, position]
    _check_task_labels(labels, name)
    return labels


def _check_task_labels(labels, name):
    missing = missing_mask(labels)
    if missing.any():
        rows = np.flatnonzero(missing)
        raise ValueError(
            f"The task column {name!r} has {len(rows)} missing value(s) "
            f"(NaN or None), first at row(s) {rows[:5].tolist()}. Every row needs "
            "a task label: drop those rows or fill in their task."
        )


def missing_mask(labels):
    """True where a value is missing: ``NaN``, ``None``, or pandas' ``NA``/``NaT``.

    Parameters
    ----------
    labels : ndarray
        Task labels or targets, of any dtype.

    Returns
    -------
    missing : ndarray of bool, of the shape of ``labels``

    Examples
    --------
    >>> missing_mask(np.array([1.0, None, "a", np.nan], dtype=object)).tolist()
    [False, True, False, True]
    """
    if labels.dtype.kind == "f":
        return np.isnan(labels)
    if labels.dtype.kind == "O":
        try:
            import pandas as pd
        except ImportError:
            # NaN is the only value unequal to itself.
            return np.asarray(np.equal(labels, None) | (labels != labels), dtype=bool)
        return np.asarray(pd.isna(labels), dtype=bool)
    return np.zeros(labels.shape, dtype=bool)


def unique_tasks(labels, name="task"):
    """Sorted unique task labels and the index of each row's task.

    Parameters
    ----------
    labels : ndarray of shape (n_samples,)
        Task label of every row.
    name : hashable, default="task"
        Name of the task column, for error messages.

    Returns
    -------
    tasks : ndarray of shape (n_tasks,)
    task_index : ndarray of shape (n_samples,) of int
    """
    try:
        tasks, task_index = np.unique(labels, return_inverse=True)
    except TypeError as exc:
        kinds = sorted({type(value).__name__ for value in labels})
        raise ValueError(
            f"The task column {name!r} mixes label types {kinds} that cannot be "
            "sorted together. Use labels of one type (for example all strings)."
        ) from exc
    return tasks, task_index.ravel().astype(np.intp)


def lookup_tasks(known_tasks, labels):
    """Index of each label in ``known_tasks``; -1 where it is unknown.

    Parameters
    ----------
    known_tasks : ndarray of shape (n_tasks,)
        Task labels seen during fit.
    labels : ndarray of shape (n_samples,)
        Labels to look up.

    Returns
    -------
    task_index : ndarray of shape (n_samples,) of int
        ``-1`` marks a label not in ``known_tasks``.
    """
    position = {_as_key(task): t for t, task in enumerate(known_tasks)}
    try:
        uniques, inverse = np.unique(labels, return_inverse=True)
    except TypeError:
        uniques = np.array(list(dict.fromkeys(labels.tolist())), dtype=object)
        index = {_as_key(label): u for u, label in enumerate(uniques)}
        inverse = np.array([index[_as_key(label)] for label in labels.tolist()])
    mapped = np.array([position.get(_as_key(u), -1) for u in uniques], dtype=np.intp)
    return mapped[inverse.ravel()] if len(labels) else np.zeros(0, dtype=np.intp)


def _as_key(value):
    return value.item() if isinstance(value, np.generic) else value


def unknown_task_error(unknown_labels, known_tasks, task_column, hint=""):
    """The error raised when rows belong to tasks not seen during fit."""
    return ValueError(
        f"Task(s) {format_labels(unknown_labels)} in the task column "
        f"{task_column!r} of X were not seen during fit; known tasks: "
        f"{format_labels(known_tasks)}. Predict only for known tasks, or refit "
        f"with rows of the new task(s).{hint}"
    )


# --------------------------------------------------------------------------
# features and targets
# --------------------------------------------------------------------------


def require_features(features, name):
    """Refuse an ``X`` whose only column is the task column.

    Parameters
    ----------
    features : ndarray, sparse matrix or DataFrame
        ``X`` without its task column.
    name : hashable
        The task column, for the message.
    """
    if features.shape[1] == 0:
        raise ValueError(
            f"X has no feature columns besides the task column {name!r}: "
            f"got {features.shape[0]} rows and only the task column. Add at least "
            "one feature column to X."
        )


def _check_features(estimator, features, *, reset, accept_sparse):
    """Validate the feature part of X; set or check n_features_in_ and names."""
    _reject_non_numeric_columns(features)
    try:
        return validate_data(
            estimator,
            features,
            reset=reset,
            accept_sparse=accept_sparse,
            dtype=np.float64,
            ensure_min_features=1,
        )
    except ValueError as exc:
        if "could not convert" in str(exc) or "dtype='numeric'" in str(exc):
            raise ValueError(_non_numeric_message("Some feature columns of X")) from exc
        raise


def _reject_non_numeric_columns(features):
    if not _is_dataframe(features):
        return
    bad = [
        column for column, dtype in features.dtypes.items() if dtype.kind not in "biuf"
    ]
    if bad:
        raise ValueError(
            _non_numeric_message(f"Feature columns {format_labels(bad)} of X")
        )


def _non_numeric_message(what):
    return (
        f"{what} are not numeric. skmtl estimators need numeric "
        "features: encode them first, for example with "
        "TaskColumnPassthrough(OneHotEncoder(), task_column=...) from "
        "skmtl.pipeline, or a ColumnTransformer wrapped in TaskColumnPassthrough."
    )


def missing_as_nan(y):
    """Targets with every ``None`` or ``pd.NA`` replaced by ``NaN``.

    So that a missing value is treated as ``NaN`` whatever marks it: an
    unobserved cell of a wide ``Y``, an error in a 1-D ``y``. The caller's
    ``y`` is not modified.

    Parameters
    ----------
    y : array-like, DataFrame or sparse matrix
        Targets.

    Returns
    -------
    y : array-like
        ``y`` itself when it is not of object dtype or has no missing cell;
        otherwise an object ndarray copy with ``NaN`` in the missing cells.

    Examples
    --------
    >>> missing_as_nan(np.array([1.0, None], dtype=object)).tolist()
    [1.0, nan]
    """
    if sp.issparse(y):
        return y
    values = y.to_numpy() if hasattr(y, "to_numpy") else np.asarray(y)
    if values.dtype.kind != "O":
        return y
    missing = missing_mask(values)
    if not missing.any():
        return y
    values = values.copy()
    values[missing] = np.nan
    return values


def check_label_types(labels, name):
    """Class labels as one array type; refuse a mix of strings and numbers.

    Object arrays of numbers (left after removing ``None`` cells) become
    numeric, so that classifiers recognise them as classes.
    """
    if labels.dtype.kind != "O" or not len(labels):
        return labels
    values = labels.tolist()
    is_string = np.fromiter((isinstance(v, str) for v in values), bool, len(values))
    if is_string.all():
        return labels
    if is_string.any():
        string, other = values[np.argmax(is_string)], values[np.argmin(is_string)]
        raise ValueError(
            f"Mix of label input types (string and number) in {name}: for "
            f"example {string!r} and {other!r}. Classes must be all strings or "
            f"all numbers: convert them, for example with {name}.astype(str)."
        )
    numeric = np.asarray(values)
    return numeric if numeric.dtype.kind in "biuf" else labels


def _check_target_array(y, name, **check_kwargs):
    """``check_array`` of targets, saying so when regression targets are words."""
    try:
        return check_array(y, input_name=name, **check_kwargs)
    except ValueError as exc:
        if "could not convert" not in str(exc):
            raise
        raise ValueError(
            f"{name} holds values that are not numbers, for example "
            f"{_first_non_number(y)!r}, but a regressor needs numeric targets. "
            f"Convert {name} to numbers, or use a classifier for class labels."
        ) from exc


def _first_non_number(y):
    """The first value of ``y`` that ``float`` refuses (for an error message)."""
    values = y.to_numpy() if hasattr(y, "to_numpy") else np.asarray(y, dtype=object)
    for value in values.ravel().tolist():  # only on the error path
        try:
            float(value)
        except (TypeError, ValueError):
            return value
    return None


def _check_wide_targets(Y, n_rows, y_numeric):
    names = list(Y.columns) if _is_dataframe(Y) else None
    Y = _check_target_array(
        missing_as_nan(Y),
        "Y",
        ensure_all_finite="allow-nan",
        dtype=np.float64 if y_numeric else None,
        ensure_min_samples=1,
    )
    if Y.dtype.kind == "f" and np.isinf(Y).any():
        raise ValueError("Y contains infinity; only NaN (unobserved) is allowed.")
    observed = ~missing_mask(Y)
    empty = np.flatnonzero(~observed.any(axis=0))
    if len(empty):
        labels = [names[j] for j in empty] if names else empty.tolist()
        raise ValueError(
            f"Task column(s) {format_labels(labels)} of Y have no observed target "
            "(all NaN): a task needs at least one row. Drop those columns of Y."
        )
    tasks = np.asarray(names) if names else np.arange(Y.shape[1])
    return Y, observed, tasks


def _check_targets_1d(y, y_numeric):
    y = missing_as_nan(column_or_1d(y, warn=True))
    if y_numeric:
        return _check_target_array(
            y, "y", ensure_2d=False, dtype=np.float64, ensure_all_finite=True
        )
    if len(y) and missing_mask(np.asarray(y)).any():
        raise ValueError("y contains NaN or None; every row needs a target.")
    if y.dtype.kind == "f" and np.isinf(y).any():
        raise ValueError("Input y contains infinity, which is not a class label.")
    return check_label_types(y, "y")


def _check_lengths(n_rows, y):
    n_targets = _num_samples(y)
    if n_targets != n_rows:
        raise ValueError(
            f"X has {n_rows} rows but y has {n_targets}; they must have one "
            "target (row of y) per row of X."
        )


# --------------------------------------------------------------------------
# entry points used by estimators
# --------------------------------------------------------------------------


def check_task_data(
    estimator,
    X,
    y,
    *,
    task_column=None,
    sample_weight=None,
    y_numeric=True,
    accept_sparse=("csr", "csc"),
):
    """Validate fit input in any format and build its :class:`TaskData`.

    Sets the fitted attributes shared by every skmtl estimator: ``tasks_``,
    ``n_tasks_``, ``n_features_in_``, ``feature_names_in_`` (task column
    excluded), ``task_column_`` and the private ``_task_layout``.

    Parameters
    ----------
    estimator : estimator instance
        Receives the fitted attributes.
    X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
        Features, with the task column in long format.
    y : array-like of shape (n_samples,) or (n_samples, n_tasks)
        Targets; 2-D (with ``NaN`` for unobserved) in wide format.
    task_column : hashable or None, default=None
        Name or position of the task column; ``None`` for wide or single format.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the rows.
    y_numeric : bool, default=True
        Convert targets to float64 (regression); keep labels otherwise.
    accept_sparse : tuple of str, default=("csr", "csc")
        Sparse formats accepted for the features.

    Returns
    -------
    data : TaskData
    """
    if y is None:
        raise ValueError(
            f"{type(estimator).__name__} requires y to be passed, but the target "
            "y is None."
        )
    if not _is_dataframe(y) and not hasattr(y, "to_numpy"):
        y = np.asarray(y)
    if task_column is not None:
        features, labels, name = split_task_column(X, task_column)
        _check_lengths(len(labels), y)
        if np.ndim(y) != 1 and not (np.ndim(y) == 2 and np.shape(y)[1] == 1):
            raise ValueError(
                f"y must be 1-D in long format (task_column={task_column!r}); got "
                f"shape {np.shape(y)}. For tasks that share rows, set "
                "task_column=None and pass a 2-D Y with one column per task."
            )
        require_features(features, name)
        _check_no_empty_categories(X, labels, name)
        data = _long_task_data(
            estimator,
            features,
            labels,
            name,
            y,
            sample_weight,
            y_numeric,
            accept_sparse,
        )
        estimator.task_column_ = name
    else:
        data = _shared_rows_task_data(
            estimator, X, y, sample_weight, y_numeric, accept_sparse
        )
        estimator.task_column_ = None
    estimator.tasks_ = data.tasks
    estimator.n_tasks_ = data.n_tasks
    estimator._task_layout = data.layout
    _check_task_weights(data)
    # The sizes of the tasks of fit, for the weight of a new task's rows.
    estimator._source_task_weights = data.task_weights
    # A refit forgets the tasks of fit_new_tasks and what was fitted for them.
    for name in [name for name in vars(estimator) if name.startswith("new_task")]:
        delattr(estimator, name)
    return data


def _long_task_data(
    estimator, features, labels, name, y, sample_weight, y_numeric, accept_sparse
):
    X = _check_features(estimator, features, reset=True, accept_sparse=accept_sparse)
    y = _check_targets_1d(y, y_numeric)
    sample_weight = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True
    )
    tasks, task_index = unique_tasks(labels, name)
    order = np.argsort(task_index, kind="stable")
    already_sorted = np.all(order == np.arange(len(order)))
    return TaskData(
        X=X if already_sorted else X[order],
        y=y[order],
        task_index=task_index[order],
        sample_weight=sample_weight[order],
        tasks=tasks,
        layout="long",
        input_position=order,
        n_samples_in=X.shape[0],
    )


def _check_no_empty_categories(X, labels, name):
    """A categorical task column declares its tasks; each needs rows."""
    if not _is_dataframe(X):
        return
    categories = getattr(X[name].dtype, "categories", None)
    if categories is None:
        return
    present = set(unique_in_order(labels))
    empty = [category for category in categories if category not in present]
    if empty:
        raise ValueError(
            f"Task(s) {format_labels(empty)} of the categorical task column "
            f"{name!r} have no rows: a task needs at least one row. Drop unused "
            f"categories first, e.g. X[{name!r}].cat.remove_unused_categories()."
        )


def _shared_rows_task_data(estimator, X, y, sample_weight, y_numeric, accept_sparse):
    X_checked = _check_features(estimator, X, reset=True, accept_sparse=accept_sparse)
    n_rows = X_checked.shape[0]
    _check_lengths(n_rows, y)
    sample_weight = _check_sample_weight(
        sample_weight, X_checked, dtype=np.float64, ensure_non_negative=True
    )
    if np.ndim(y) == 2:
        Y, observed, tasks = _check_wide_targets(y, n_rows, y_numeric)
        rows, task_index = np.nonzero(observed.T)[::-1]
        # nonzero on the transpose walks task by task: already grouped.
        targets = Y[rows, task_index]
        return TaskData(
            X=X_checked,
            y=targets if y_numeric else check_label_types(targets, "Y"),
            task_index=task_index.astype(np.intp),
            sample_weight=sample_weight[rows],
            tasks=tasks,
            layout="wide",
            input_position=rows * len(tasks) + task_index,
            n_samples_in=n_rows,
            row_index=rows.astype(np.intp),
        )
    y = _check_targets_1d(y, y_numeric)
    return TaskData(
        X=X_checked,
        y=y,
        task_index=np.zeros(n_rows, dtype=np.intp),
        sample_weight=sample_weight,
        tasks=np.array([0]),
        layout="single",
        input_position=np.arange(n_rows),
        n_samples_in=n_rows,
    )


def _check_task_weights(data):
    zero = np.flatnonzero(data.task_weights <= 0)
    if len(zero):
        raise ValueError(
            f"Task(s) {format_labels(data.tasks[zero])} have total sample weight "
            "0, so their data term is undefined. Give them positive weights or "
            "drop their rows."
        )


class PredictData:
    """Validated predict input: features plus the task of every row.

    Attributes
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    task_index : ndarray of shape (n_samples,) or None
        Task of every row in long format (``-1`` for an unknown task allowed
        by the caller); ``None`` in wide and single format, where every row
        is predicted for all tasks.
    layout : {"long", "wide", "single"}
    """

    def __init__(self, X, task_index, layout):
        self.X = X
        self.task_index = task_index
        self.layout = layout

    @property
    def unknown(self):
        """Boolean mask of rows whose task was not seen in fit (long format)."""
        if self.task_index is None:
            return np.zeros(self.X.shape[0], dtype=bool)
        return self.task_index < 0


def check_predict_data(
    estimator, X, *, allow_unknown=False, accept_sparse=("csr", "csc")
):
    """Validate predict-time input against what the estimator saw in fit.

    Parameters
    ----------
    estimator : fitted estimator
        Has the attributes set by :func:`check_task_data`.
    X : {array-like, sparse matrix, DataFrame}
        Rows to predict, with the task column in long format.
    allow_unknown : bool, default=False
        Mark rows of unseen tasks with ``-1`` instead of raising.
    accept_sparse : tuple of str, default=("csr", "csc")

    Returns
    -------
    data : PredictData
    """
    check_is_fitted(estimator, "tasks_")
    if estimator._task_layout != "long":
        features = _check_features(
            estimator, X, reset=False, accept_sparse=accept_sparse
        )
        return PredictData(features, None, estimator._task_layout)
    features, labels, name = split_task_column(X, estimator.task_column_)
    require_features(features, name)
    features = _check_features(
        estimator, features, reset=False, accept_sparse=accept_sparse
    )
    task_index = lookup_tasks(estimator.tasks_, labels)
    unknown = task_index < 0
    if unknown.any() and not allow_unknown:
        hint = ""
        if hasattr(estimator, "unknown_task"):
            hint = " To predict them with the shared model, set unknown_task='shared'."
        raise unknown_task_error(
            unique_in_order(labels[unknown]), estimator.tasks_, name, hint
        )
    return PredictData(features, task_index, "long")


def unique_in_order(values):
    """Unique values in order of first appearance."""
    return list(dict.fromkeys(_as_key(v) for v in values))


def per_task_rows(task_index, n_tasks):
    """Yield ``(t, rows)`` for the tasks present in ``task_index``.

    Parameters
    ----------
    task_index : ndarray of shape (n_samples,)
        Task of every row (``-1`` rows are skipped).
    n_tasks : int

    Yields
    ------
    t : int
    rows : ndarray of int
        Positions of the rows of task ``t``, in input order.
    """
    order = np.argsort(task_index, kind="stable")
    offsets = np.searchsorted(task_index[order], np.arange(n_tasks + 1))
    for t in range(n_tasks):
        if offsets[t + 1] > offsets[t]:
            yield t, order[offsets[t] : offsets[t + 1]]


# --------------------------------------------------------------------------
# new tasks (transfer)
# --------------------------------------------------------------------------


def n_source_tasks(estimator):
    """Number of tasks of ``fit``: ``tasks_`` minus those of ``fit_new_tasks``."""
    return estimator.n_tasks_ - len(getattr(estimator, "new_tasks_", ()))


def source_row_weight(estimator):
    """Weight of one row of a new task in its data term: ``1 / n_bar``.

    ``n_bar`` is the mean size (sum of sample weights) of the tasks of
    ``fit``. A new task's data term is ``(1 / n_bar) sum_i s_i loss_i``, so
    its rows count as rows of an average source task do: with a few rows the
    prior learned from the source tasks dominates, with many rows the task's
    own data (docs/user_guide/transfer.rst).
    """
    return 1.0 / float(np.mean(estimator._source_task_weights))


def check_new_task_data(estimator, X, y, *, sample_weight=None, y_numeric=True):
    """Validate the rows of new tasks for ``fit_new_tasks``.

    The estimator must be fitted in long format. The features are checked
    against those of fit (count and names); the task labels must not be
    tasks of fit. Tasks added by an earlier ``fit_new_tasks`` may appear
    again: every call starts again from the source tasks.

    Parameters
    ----------
    estimator : fitted estimator
        Has the attributes set by :func:`check_task_data`.
    X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
        Features and the task column.
    y : array-like of shape (n_samples,)
        Targets of the new tasks.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the rows.
    y_numeric : bool, default=True
        Convert targets to float64 (regression); keep labels otherwise.

    Returns
    -------
    data : TaskData
        The rows of the new tasks only; ``data.tasks`` are the new labels.
    """
    check_is_fitted(estimator, "tasks_")
    name = type(estimator).__name__
    if estimator._task_layout != "long":
        raise ValueError(
            f"fit_new_tasks adds tasks given by a task column (long format), but "
            f"this {name} was fitted in {estimator._task_layout} format "
            "(task_column=None). Refit with the new tasks' columns of Y "
            "instead."
        )
    if y is None:
        raise ValueError(f"{name}.fit_new_tasks requires y; got None.")
    if not _is_dataframe(y) and not hasattr(y, "to_numpy"):
        y = np.asarray(y)
    features, labels, column = split_task_column(X, estimator.task_column_)
    _check_lengths(len(labels), y)
    if np.ndim(y) != 1 and not (np.ndim(y) == 2 and np.shape(y)[1] == 1):
        raise ValueError(
            f"y must be 1-D in long format (task column {column!r}); got shape "
            f"{np.shape(y)}."
        )
    require_features(features, column)
    features = _check_features(
        estimator, features, reset=False, accept_sparse=("csr", "csc")
    )
    source = estimator.tasks_[: n_source_tasks(estimator)]
    seen = lookup_tasks(source, labels) >= 0
    if seen.any():
        raise ValueError(
            f"Task(s) {format_labels(unique_in_order(labels[seen]))} in the task "
            f"column {column!r} were seen during fit; fit_new_tasks adds tasks "
            "the model has not seen and leaves the fitted tasks as they are. "
            "Pass only rows of new tasks, or refit with fit to update the "
            "fitted ones."
        )
    y = _check_targets_1d(y, y_numeric)
    sample_weight = _check_sample_weight(
        sample_weight, features, dtype=np.float64, ensure_non_negative=True
    )
    tasks, task_index = unique_tasks(labels, column)
    order = np.argsort(task_index, kind="stable")
    data = TaskData(
        X=features[order],
        y=y[order],
        task_index=task_index[order],
        sample_weight=sample_weight[order],
        tasks=tasks,
        layout="long",
        input_position=order,
        n_samples_in=features.shape[0],
    )
    _check_task_weights(data)
    return data


def add_new_tasks(estimator, new_tasks):
    """Set ``tasks_``, ``n_tasks_`` and ``new_tasks_`` after ``fit_new_tasks``.

    The new tasks follow the tasks of fit, in the order of ``new_tasks``;
    those of an earlier ``fit_new_tasks`` call are dropped.

    Parameters
    ----------
    estimator : fitted estimator
    new_tasks : ndarray of shape (n_new_tasks,)
        Labels of the new tasks (``TaskData.tasks`` of
        :func:`check_new_task_data`).
    """
    source = estimator.tasks_[: n_source_tasks(estimator)]
    new_tasks = np.asarray(new_tasks)
    if new_tasks.dtype.kind != source.dtype.kind:
        # Integer source labels and string new ones: keep each label as is.
        source, new_tasks = source.astype(object), new_tasks.astype(object)
    estimator.tasks_ = np.concatenate([source, new_tasks])
    estimator.n_tasks_ = len(estimator.tasks_)
    estimator.new_tasks_ = np.asarray(new_tasks).copy()
