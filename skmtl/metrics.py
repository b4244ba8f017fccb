"""Per-task and task-averaged scores for multi-task predictions.

A multi-task model is judged task by task: :func:`task_scores` applies any
scikit-learn metric to the rows of each task, :func:`task_averaged_score`
averages those scores over tasks, and :func:`make_task_scorer` turns that
average into a scorer for :class:`~sklearn.model_selection.GridSearchCV` and
:func:`~sklearn.model_selection.cross_val_score`. Both data formats of skmtl
are understood (see :ref:`data_formats`):

- **long**: ``y_true`` and ``y_pred`` are 1-D and ``tasks`` gives the task
  label of every row;
- **wide**: ``tasks=None`` and ``y_true``, ``y_pred`` are 2-D
  ``(n_samples, n_tasks)``; ``NaN`` in ``y_true`` marks a target that was not
  observed, and each column is scored on its observed rows only;
- **single**: ``tasks=None`` and 1-D targets: one task, labelled ``0``.

The "explained variance" reported on the School data (Bakker & Heskes 2003;
Argyriou, Evgeniou & Pontil 2008) is one minus the mean squared test error over
the total variance of the test targets, all tasks pooled. That is exactly
:func:`sklearn.metrics.r2_score` on the pooled test rows (and what ``score``
of a skmtl regressor returns in long format), so skmtl adds no function of its
own for it; :func:`normalized_mse` is one minus it.

References
----------
B. Bakker and T. Heskes. Task clustering and gating for Bayesian multitask
learning. Journal of Machine Learning Research, 4:83-99, 2003.

A. Argyriou, T. Evgeniou and M. Pontil. Convex multi-task feature learning.
Machine Learning, 73(3):243-272, 2008.
"""

import warnings

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import r2_score

from ._tasks import (
    _is_dataframe,
    missing_as_nan,
    missing_mask,
    per_task_rows,
    task_labels,
    unique_tasks,
)

__all__ = [
    "make_task_scorer",
    "normalized_mse",
    "task_averaged_score",
    "task_scores",
]

TASK_WEIGHTS = ("uniform", "size")


def task_scores(y_true, y_pred, tasks=None, *, metric=r2_score, sample_weight=None):
    """Score the predictions of every task separately.

    For task ``t`` with rows ``i in t`` (its observed rows in wide format) the
    score is ``metric(y_true[i in t], y_pred[i in t], sample_weight=s[i in t])``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_tasks)
        True targets: 1-D in long and single format; 2-D in wide format, with
        ``NaN`` where a task did not observe a row.
    y_pred : array-like of the same shape as ``y_true``
        Predicted targets. In wide format the cells where ``y_true`` is ``NaN``
        are ignored.
    tasks : array-like of shape (n_samples,), default=None
        Task label of every row (long format). ``None`` for wide format (2-D
        targets) or for a single task (1-D targets).
    metric : callable, default=sklearn.metrics.r2_score
        A scikit-learn style metric ``metric(y_true, y_pred, sample_weight=...)``
        returning a float. ``sample_weight`` is only passed when it is given.
    sample_weight : array-like of shape (n_samples,), default=None
        Weight of every row; in wide format a row's weight applies to each of
        its observed cells.

    Returns
    -------
    scores : dict
        ``{task label: score}``. Long format: keys are the sorted task labels.
        Wide format: keys are the column positions ``0 .. n_tasks - 1``, or the
        column names when ``y_true`` is a DataFrame (in column order). Single
        format: the key is ``0``.

        A score is ``nan`` when the task has no observed row (or only zero
        weights), or when ``metric`` is undefined on the task's rows and says
        so with :class:`~sklearn.exceptions.UndefinedMetricWarning` (for
        example :func:`~sklearn.metrics.r2_score` on fewer than two rows). That
        warning is caught, not re-emitted: the ``nan`` is the signal.

    See Also
    --------
    task_averaged_score : The average of these scores over tasks.

    Examples
    --------
    >>> import numpy as np
    >>> y_true = np.array([1.0, 2.0, 3.0, 10.0, 20.0, 30.0])
    >>> y_pred = np.array([1.0, 2.0, 4.0, 10.0, 20.0, 30.0])
    >>> task_scores(y_true, y_pred, tasks=["a", "a", "a", "b", "b", "b"])
    {'a': 0.5, 'b': 1.0}

    Wide format: ``NaN`` marks unobserved targets.

    >>> Y_true = np.array([[1.0, np.nan], [2.0, 5.0], [3.0, 7.0]])
    >>> Y_pred = np.array([[1.0, 0.0], [2.0, 5.0], [3.0, 8.0]])
    >>> task_scores(Y_true, Y_pred)
    {0: 1.0, 1: 0.5}
    """
    labels, scores, _ = _score_tasks(y_true, y_pred, tasks, metric, sample_weight)
    return dict(zip(labels, scores.tolist()))


def task_averaged_score(
    y_true,
    y_pred,
    tasks=None,
    *,
    metric=r2_score,
    sample_weight=None,
    task_weights="uniform",
):
    """Average of the per-task scores.

    With :math:`S_t` the score of task ``t`` (see :func:`task_scores`) and
    :math:`T` the tasks whose score is defined (not ``nan``):

    .. math:: \\bar S = \\sum_{t \\in T} a_t S_t / \\sum_{t \\in T} a_t

    where :math:`a_t = 1` (``"uniform"``) or :math:`a_t = n_t` (``"size"``),
    :math:`n_t` being the sum of the sample weights of the task's observed
    rows (its number of observed rows when ``sample_weight`` is None).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_tasks)
        True targets, as in :func:`task_scores`.
    y_pred : array-like of the same shape as ``y_true``
        Predicted targets.
    tasks : array-like of shape (n_samples,), default=None
        Task label of every row (long format); ``None`` for wide or single
        format.
    metric : callable, default=sklearn.metrics.r2_score
        Metric ``metric(y_true, y_pred, sample_weight=...)`` applied per task.
    sample_weight : array-like of shape (n_samples,), default=None
        Weight of every row.
    task_weights : {"uniform", "size"}, default="uniform"
        ``"uniform"``: every task counts the same; ``"size"``: a task counts
        in proportion to its size :math:`n_t`.

    Returns
    -------
    score : float
        The weighted mean of the defined per-task scores. ``nan``, with an
        :class:`~sklearn.exceptions.UndefinedMetricWarning`, when no task has a
        defined score.

    See Also
    --------
    task_scores : The per-task scores.
    make_task_scorer : This average as a scorer for model selection.

    Examples
    --------
    >>> import numpy as np
    >>> y_true = np.array([1.0, 2.0, 3.0, 10.0, 20.0, 30.0, 40.0])
    >>> y_pred = np.array([1.0, 2.0, 4.0, 10.0, 20.0, 30.0, 40.0])
    >>> tasks = ["a", "a", "a", "b", "b", "b", "b"]
    >>> task_averaged_score(y_true, y_pred, tasks)
    0.75
    >>> round(task_averaged_score(y_true, y_pred, tasks, task_weights="size"), 4)
    0.7857
    """
    _check_task_weights_option(task_weights)
    _, scores, sizes = _score_tasks(y_true, y_pred, tasks, metric, sample_weight)
    defined = ~np.isnan(scores)
    weights = sizes[defined] if task_weights == "size" else np.ones(defined.sum())
    if not defined.any() or weights.sum() <= 0:
        warnings.warn(
            "No task has a defined score (every per-task score is NaN, for "
            "example because each task has fewer than two rows for r2_score); "
            "the task-averaged score is NaN.",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        return np.nan
    return float(np.average(scores[defined], weights=weights))


def normalized_mse(y_true, y_pred, *, sample_weight=None):
    """Mean squared error divided by the variance of the true targets.

    All observed targets are pooled, whatever their task:

    .. math:: \\mathrm{nMSE} = \\frac{\\sum_i s_i (y_i - \\hat y_i)^2}
              {\\sum_i s_i (y_i - \\bar y)^2}, \\qquad
              \\bar y = \\sum_i s_i y_i / \\sum_i s_i

    so that ``normalized_mse = 1 - r2_score`` on the pooled rows (the School
    "explained variance" is ``1 - normalized_mse``). A model that predicts the
    mean scores 1, a perfect model 0.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_tasks)
        True targets; in 2-D, ``NaN`` cells are unobserved and left out.
    y_pred : array-like of the same shape as ``y_true``
        Predicted targets.
    sample_weight : array-like of shape (n_samples,), default=None
        Weight of every row (applied to each observed cell of the row).

    Returns
    -------
    score : float
        The normalised MSE; ``nan``, with an
        :class:`~sklearn.exceptions.UndefinedMetricWarning`, when the observed
        targets have zero variance (for example a single row).

    Examples
    --------
    >>> import numpy as np
    >>> normalized_mse(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0]))
    0.5
    """
    y_obs, pred_obs, weight_obs = _pooled_observed(y_true, y_pred, sample_weight)
    mean = np.average(y_obs, weights=weight_obs)
    variance = np.average((y_obs - mean) ** 2, weights=weight_obs)
    if variance <= 0:
        warnings.warn(
            "normalized_mse is not defined when the true targets have zero "
            f"variance ({len(y_obs)} observed target(s)); returning NaN.",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        return np.nan
    mse = np.average((y_obs - pred_obs) ** 2, weights=weight_obs)
    return float(mse / variance)


def make_task_scorer(
    metric=r2_score, *, task_column, average="uniform", greater_is_better=True
):
    """Make a scorer of the task-averaged score, for model selection.

    The scorer ``scorer(estimator, X, y, sample_weight=None)`` predicts ``X``
    with ``estimator``, reads the task of every row from the column
    ``task_column`` of ``X`` and returns :func:`task_averaged_score` (negated
    when ``greater_is_better=False``, like scikit-learn's ``neg_*`` scorers,
    so that larger is always better).

    Parameters
    ----------
    metric : callable, default=sklearn.metrics.r2_score
        Metric ``metric(y_true, y_pred, sample_weight=...)`` applied per task.
    task_column : hashable or None
        Name (DataFrame) or integer position (array) of the task column of
        ``X``. ``None`` for wide format (2-D ``y``: the columns of ``y`` are
        the tasks) or a single task (1-D ``y``).
    average : {"uniform", "size"}, default="uniform"
        How tasks are weighted in the average (``task_weights`` of
        :func:`task_averaged_score`).
    greater_is_better : bool, default=True
        Whether a larger ``metric`` is better. If False the scorer returns the
        negated average.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y, sample_weight=None) -> float``, usable as
        ``scoring=`` of :class:`~sklearn.model_selection.GridSearchCV` and
        :func:`~sklearn.model_selection.cross_val_score`. It pickles.

    See Also
    --------
    task_averaged_score : The score the scorer computes.

    Examples
    --------
    >>> from sklearn.metrics import mean_squared_error
    >>> make_task_scorer(task_column="school")
    make_task_scorer(r2_score, task_column='school', average='uniform')
    >>> make_task_scorer(
    ...     mean_squared_error, task_column=0, greater_is_better=False)
    make_task_scorer(mean_squared_error, task_column=0, average='uniform',
                     greater_is_better=False)
    """
    if not callable(metric):
        raise ValueError(
            f"metric must be a callable metric(y_true, y_pred, sample_weight=...), "
            f"got {metric!r}."
        )
    _check_task_weights_option(average, name="average")
    return _TaskScorer(metric, task_column, average, greater_is_better)


class _TaskScorer:
    """The callable returned by :func:`make_task_scorer`."""

    def __init__(self, metric, task_column, average, greater_is_better):
        self.metric = metric
        self.task_column = task_column
        self.average = average
        self.greater_is_better = greater_is_better

    def __call__(self, estimator, X, y, sample_weight=None):
        y_pred = estimator.predict(X)
        tasks = None
        if self.task_column is not None:
            tasks, _ = task_labels(X, self.task_column)
        score = task_averaged_score(
            y,
            y_pred,
            tasks,
            metric=self.metric,
            sample_weight=sample_weight,
            task_weights=self.average,
        )
        return score if self.greater_is_better else -score

    def __repr__(self):
        name = getattr(self.metric, "__name__", None) or repr(self.metric)
        text = (
            f"make_task_scorer({name}, task_column={self.task_column!r}, "
            f"average={self.average!r}"
        )
        if not self.greater_is_better:
            text += ", greater_is_better=False"
        return text + ")"


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def _check_task_weights_option(value, name="task_weights"):
    if isinstance(value, str) and value in TASK_WEIGHTS:
        return
    raise ValueError(
        f"{name}={value!r} is not supported; expected one of {list(TASK_WEIGHTS)}: "
        "'uniform' weights every task the same, 'size' by its number of rows."
    )


def _score_tasks(y_true, y_pred, tasks, metric, sample_weight):
    """Labels, scores and sizes (sum of weights) of every task, as arrays."""
    if tasks is None and np.ndim(y_true) == 2:
        groups = _wide_groups(y_true, y_pred, sample_weight)
    else:
        groups = _long_groups(y_true, y_pred, tasks, sample_weight)
    labels, scores, sizes = [], [], []
    for label, y_true_t, y_pred_t, weight_t in groups:
        labels.append(label)
        scores.append(_score_one(metric, y_true_t, y_pred_t, weight_t))
        sizes.append(len(y_true_t) if weight_t is None else np.sum(weight_t))
    return labels, np.asarray(scores, dtype=np.float64), np.asarray(sizes, float)


def _score_one(metric, y_true, y_pred, sample_weight):
    if len(y_true) == 0 or (sample_weight is not None and not np.any(sample_weight)):
        return np.nan
    kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
    with warnings.catch_warnings():
        # The metric signals an undefined score with this warning; turn it
        # into an exception so that the score becomes NaN and nothing leaks.
        warnings.simplefilter("error", UndefinedMetricWarning)
        try:
            return float(metric(y_true, y_pred, **kwargs))
        except UndefinedMetricWarning:
            return np.nan


def _long_groups(y_true, y_pred, tasks, sample_weight):
    """Yield ``(label, y_true_t, y_pred_t, sample_weight_t)`` per task."""
    y_true = _as_1d(y_true, "y_true", tasks is not None)
    y_pred = _as_1d(y_pred, "y_pred", tasks is not None)
    if tasks is None:
        tasks = np.zeros(len(y_true), dtype=np.intp)
    tasks = _as_1d(tasks, "tasks", True)
    sample_weight = _as_weights(sample_weight)
    _check_lengths(
        y_true=y_true, y_pred=y_pred, tasks=tasks, sample_weight=sample_weight
    )
    missing = missing_mask(tasks)
    if missing.any():
        raise ValueError(
            f"tasks has {missing.sum()} missing label(s) (NaN or None), first at "
            f"row(s) {np.flatnonzero(missing)[:5].tolist()}; every row needs a task."
        )
    labels, task_index = unique_tasks(tasks, "tasks")
    keys = labels.tolist()  # plain Python labels, not numpy scalars
    for t, rows in per_task_rows(task_index, len(labels)):
        weight = None if sample_weight is None else sample_weight[rows]
        yield keys[t], y_true[rows], y_pred[rows], weight


def _wide_groups(y_true, y_pred, sample_weight):
    """Yield ``(label, y_true_t, y_pred_t, sample_weight_t)`` per column."""
    names = y_true.columns.tolist() if _is_dataframe(y_true) else None
    Y = _as_float_2d(y_true, "y_true")
    P = _as_float_2d(y_pred, "y_pred")
    if Y.shape != P.shape:
        raise ValueError(
            f"y_true has shape {Y.shape} but y_pred has shape {P.shape}; in wide "
            "format (tasks=None, 2-D targets) they need the same shape "
            "(n_samples, n_tasks)."
        )
    sample_weight = _as_weights(sample_weight)
    _check_lengths(y_true=Y, sample_weight=sample_weight)
    observed = ~np.isnan(Y)
    for j in range(Y.shape[1]):
        rows = np.flatnonzero(observed[:, j])
        weight = None if sample_weight is None else sample_weight[rows]
        yield names[j] if names else j, Y[rows, j], P[rows, j], weight


def _pooled_observed(y_true, y_pred, sample_weight):
    """Observed targets, their predictions and weights, all tasks pooled."""
    Y = _as_float(y_true, "y_true")
    P = _as_float(y_pred, "y_pred")
    if Y.shape != P.shape or Y.ndim not in (1, 2):
        raise ValueError(
            f"y_true has shape {np.shape(y_true)} but y_pred has shape "
            f"{np.shape(y_pred)}; they need the same 1-D or 2-D shape."
        )
    Y, P = Y.reshape(len(Y), -1), P.reshape(len(P), -1)
    sample_weight = _as_weights(sample_weight)
    _check_lengths(y_true=Y, sample_weight=sample_weight)
    if sample_weight is None:
        sample_weight = np.ones(Y.shape[0])
    observed = ~np.isnan(Y)
    if not observed.any():
        raise ValueError("y_true has no observed target (all values are NaN).")
    rows = np.nonzero(observed)[0]
    if not np.isfinite(P[observed]).all():
        raise ValueError("y_pred contains NaN or infinity where y_true is observed.")
    return Y[observed], P[observed], sample_weight[rows]


def _as_1d(values, name, long_format):
    values = values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(values)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values.ravel()
    if values.ndim != 1:
        where = " when tasks is given (long format)" if long_format else ""
        raise ValueError(
            f"{name} must be 1-D{where}; got shape {values.shape}. For tasks "
            "that share rows (wide format) pass tasks=None and 2-D y_true and "
            "y_pred with one column per task."
        )
    return values


def _as_float_2d(values, name):
    values = _as_float(values, name)
    if values.ndim != 2:
        raise ValueError(f"{name} must be 2-D in wide format; got {values.shape}.")
    return values


def _as_float(values, name):
    values = missing_as_nan(values)  # None and pd.NA are unobserved, as NaN
    try:
        if hasattr(values, "to_numpy"):
            values = values.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            values = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must be numeric in wide format (NaN marks an unobserved "
            "target); encode class labels as numbers first."
        ) from exc
    return values


def _as_weights(sample_weight):
    if sample_weight is None:
        return None
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    if sample_weight.ndim != 1:
        raise ValueError(
            f"sample_weight must be 1-D (one weight per row); got shape "
            f"{sample_weight.shape}."
        )
    return sample_weight


def _check_lengths(**arrays):
    lengths = {name: len(a) for name, a in arrays.items() if a is not None}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(
            f"Inconsistent numbers of rows: {described}. They need one entry per row."
        )
