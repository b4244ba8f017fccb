"""Mixins shared by skmtl estimators: the ``score`` of every layout.

In long and single-task format the score is sklearn's: pooled R^2 (the
"explained variance" of the School literature) for regressors, accuracy for
classifiers. In wide format, where ``NaN`` marks an unobserved target, each
task is scored on its observed rows and the scores are averaged over tasks;
with a fully observed ``Y`` this equals sklearn's ``uniform_average``.
"""

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score


def score_predictions(y_true, y_pred, sample_weight=None, *, classifier=False):
    """R^2 or accuracy of predictions in any layout.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_tasks)
        True targets; in 2-D, ``NaN`` marks an unobserved cell.
    y_pred : array-like of the same shape
        Predictions.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights.
    classifier : bool, default=False
        Accuracy instead of R^2.

    Returns
    -------
    score : float

    Examples
    --------
    >>> import numpy as np
    >>> Y = np.array([[1.0, np.nan], [2.0, 1.0], [3.0, 3.0]])
    >>> float(score_predictions(Y, np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 3.0]])))
    1.0
    """
    metric = accuracy_score if classifier else r2_score
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.ndim == 1 or (y_true.ndim == 2 and y_true.shape[1] == 1):
        return metric(y_true.reshape(y_pred.shape), y_pred, sample_weight=sample_weight)
    observed = _observed(y_true)
    weights = (
        np.ones(len(y_true))
        if sample_weight is None
        else np.asarray(sample_weight, dtype=float)
    )
    scores = [
        metric(y_true[rows, t], y_pred[rows, t], sample_weight=weights[rows])
        for t, rows in enumerate(observed.T)
    ]
    return float(np.mean(scores))


def _observed(Y):
    if Y.dtype.kind == "f":
        return ~np.isnan(Y)
    return ~np.asarray(np.equal(Y, None) | (Y != Y), dtype=bool)


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
