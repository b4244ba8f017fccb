"""Mixins shared by skmtl estimators: the ``score`` of every layout.

In long and single-task format the score is sklearn's: pooled R^2 (the
"explained variance" of the School literature) for regressors, accuracy for
classifiers. In wide format, where ``NaN`` (or ``None``, ``pd.NA``) marks an
unobserved target, each task is scored on its observed rows and the scores are
averaged over tasks; with a fully observed ``Y`` this equals sklearn's
``uniform_average``. A task with no observed row (or only rows of weight 0)
among the rows given is left out of the average, as in
:func:`skmtl.metrics.task_averaged_score`.
"""

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score

from ._tasks import check_label_types, missing_mask


def score_predictions(y_true, y_pred, sample_weight=None, *, classifier=False):
    """R^2 or accuracy of predictions in any layout.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_tasks)
        True targets; in 2-D, ``NaN``, ``None`` or ``pd.NA`` marks an
        unobserved cell.
    y_pred : array-like of the same shape
        Predictions.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights.
    classifier : bool, default=False
        Accuracy instead of R^2.

    Returns
    -------
    score : float
        In 2-D, the mean over the tasks with an observed row of positive
        weight; a task without one is left out.

    Raises
    ------
    ValueError
        In 2-D, when no task has an observed row of positive weight.

    Examples
    --------
    >>> import numpy as np
    >>> Y = np.array([[1.0, np.nan], [2.0, 1.0], [3.0, 3.0]])
    >>> float(score_predictions(Y, np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 3.0]])))
    1.0
    """
    metric = accuracy_score if classifier else _r2_in_common_units
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.size != y_pred.size or len(y_true) != len(y_pred):
        raise ValueError(
            f"y has shape {y_true.shape} but the predictions for X have shape "
            f"{y_pred.shape}; score needs the targets of the rows of X, in the "
            "layout the model was fitted on."
        )
    if y_true.ndim == 1 or (y_true.ndim == 2 and y_true.shape[1] == 1):
        return metric(y_true.reshape(y_pred.shape), y_pred, sample_weight=sample_weight)
    weights = (
        np.ones(len(y_true))
        if sample_weight is None
        else np.asarray(sample_weight, dtype=float)
    )
    scores = [
        metric(_targets(y_true[rows, t], classifier), y_pred[rows, t], sample_weight=w)
        for t, rows, w in _scored_tasks(y_true, weights)
    ]
    return float(np.mean(scores))


def _r2_in_common_units(y_true, y_pred, sample_weight=None):
    """R^2, computed on targets and predictions divided by one power of two.

    R^2 does not change when both are scaled alike; dividing by the power of
    two nearest their largest magnitude keeps the squared errors of targets
    as large as 1e300 (or as small as 1e-300) within float64, exactly.
    """
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    finite = np.abs(np.concatenate([y_true.ravel(), y_pred.ravel()]))
    finite = finite[np.isfinite(finite)]
    largest = float(finite.max()) if finite.size else 0.0
    if largest > 0:
        exponent = int(np.frexp(largest)[1])
        y_true, y_pred = np.ldexp(y_true, -exponent), np.ldexp(y_pred, -exponent)
    return r2_score(y_true, y_pred, sample_weight=sample_weight)


def _scored_tasks(Y, weights):
    """``(t, rows, weights)`` of the tasks with observed, weighted rows in ``Y``."""
    observed = ~missing_mask(Y)
    tasks = [
        (t, rows, weights[rows])
        for t, rows in enumerate(observed.T)
        if rows.any() and weights[rows].sum() > 0
    ]
    if not tasks:
        raise ValueError(
            f"No task of Y has an observed target with positive weight in the "
            f"{len(Y)} rows given (every cell is NaN, None or of weight 0), so "
            "there is nothing to score. Score on rows where at least one task "
            "is observed."
        )
    return tasks


def _targets(values, classifier):
    """Observed cells of an object ``Y`` as numbers, or as one label type."""
    if values.dtype.kind != "O":
        return values
    if classifier:
        return check_label_types(values, "Y")
    return values.astype(np.float64)


class MultiTaskRegressorMixin(RegressorMixin):
    """``RegressorMixin`` whose ``score`` understands wide ``Y`` with ``NaN``."""

    def score(self, X, y, sample_weight=None):
        """R^2 of the predictions (pooled; task-averaged in wide format).

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame}
            Rows to predict (with the task column in long format).
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            True targets; ``NaN`` marks unobserved cells in wide format.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        return score_predictions(y, self.predict(X), sample_weight)


class MultiTaskClassifierMixin(ClassifierMixin):
    """``ClassifierMixin`` whose ``score`` understands wide ``Y`` with ``NaN``."""

    def score(self, X, y, sample_weight=None):
        """Accuracy of the predictions (task-averaged in wide format).

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame}
            Rows to predict (with the task column in long format).
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            True labels; ``NaN`` marks unobserved cells in wide format.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        return score_predictions(y, self.predict(X), sample_weight, classifier=True)
