"""What every per-task linear model shares: predicting from ``coef_``."""

import numpy as np
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_is_fitted

from .._tasks import check_predict_data, per_task_rows


class MultiTaskLinearMixin:
    """Prediction for models with one linear function per task.

    Fitted attributes used:

    - ``coef_`` of shape ``(n_tasks, n_features)`` or, for multiclass models,
      ``(n_tasks, n_classes, n_features)``;
    - ``intercept_`` of shape ``(n_tasks,)`` or ``(n_tasks, n_classes)``;
    - with ``unknown_task="shared"``: ``shared_coef_`` and
      ``shared_intercept_`` (the model of a task not seen in fit).
    """

    def _linear_predictions(self, X):
        """Linear predictions ``x . w_t + b_t`` in the caller's layout.

        Returns
        -------
        scores : ndarray
            Long and single format: ``(n_samples,)`` or, multiclass,
            ``(n_samples, n_classes)``. Wide format: ``(n_samples, n_tasks)``.
        """
        unknown_task = getattr(self, "unknown_task", "error")
        data = check_predict_data(self, X, allow_unknown=unknown_task != "error")
        if data.layout == "single":
            return _scores(data.X, self.coef_[0], self.intercept_[0])
        if data.layout == "wide":
            return _scores(data.X, self.coef_, self.intercept_)
        shape = (data.X.shape[0],) + np.shape(self.intercept_)[1:]
        scores = np.empty(shape)
        for t, rows in per_task_rows(data.task_index, self.n_tasks_):
            scores[rows] = _scores(data.X[rows], self.coef_[t], self.intercept_[t])
        unknown = data.unknown
        if unknown.any():
            scores[unknown] = _scores(
                data.X[unknown], self.shared_coef_, self.shared_intercept_
            )
        return scores


class MultiTaskLinearClassifierMixin(MultiTaskLinearMixin):
    """Class predictions of per-task logistic (binary) or softmax models.

    Needs ``classes_`` besides the attributes of :class:`MultiTaskLinearMixin`.
    In wide format every column of ``Y`` is a binary task (multi-label).
    """

    def decision_function(self, X):
        """Linear predictions ``x . w_t + b_t``.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Rows to score, with the task column in long format.

        Returns
        -------
        scores : ndarray of shape (n_samples,), (n_samples, n_classes) or \
(n_samples, n_labels)
            Binary: the score of ``classes_[1]``; multiclass: one score per
            class; wide format: the score of label ``classes_[1]`` per task.
        """
        check_is_fitted(self, "coef_")
        return self._linear_predictions(X)

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Rows to predict, with the task column in long format.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes) or (n_samples, n_labels)
            Probability of every class in the order of ``classes_``; in wide
            format the probability of ``classes_[1]`` for every task.
        """
        scores = self.decision_function(X)
        if self._task_layout == "wide":
            return expit(scores)
        if scores.ndim == 1:
            return np.column_stack([expit(-scores), expit(scores)])
        return softmax(scores, axis=1)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed without overflow.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Rows to predict, with the task column in long format.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes) or (n_samples, n_labels)
        """
        scores = self.decision_function(X)
        if self._task_layout == "wide":
            return log_expit(scores)
        if scores.ndim == 1:
            return np.column_stack([log_expit(-scores), log_expit(scores)])
        return log_softmax(scores, axis=1)

    def predict(self, X):
        """Predicted class of every row (of every task in wide format).

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Rows to predict, with the task column in long format.

        Returns
        -------
        labels : ndarray of shape (n_samples,) or (n_samples, n_labels)
            Labels from ``classes_``; 2-D in wide format.
        """
        scores = self.decision_function(X)
        if scores.ndim == 1 or self._task_layout == "wide":
            return self.classes_[(scores > 0).astype(np.intp)]
        return self.classes_[np.argmax(scores, axis=1)]


def _scores(X, coef, intercept):
    """``X @ coef.T + intercept`` for a coefficient vector or matrix."""
    return safe_sparse_dot(X, np.asarray(coef).T, dense_output=True) + intercept
