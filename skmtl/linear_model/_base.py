"""What every per-task linear model shares: predicting from ``coef_``."""

import numpy as np
from sklearn.utils.extmath import safe_sparse_dot

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


def _scores(X, coef, intercept):
    """``X @ coef.T + intercept`` for a coefficient vector or matrix."""
    return safe_sparse_dot(X, np.asarray(coef).T, dense_output=True) + intercept
