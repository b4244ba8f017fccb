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

    :meth:`fit_new_tasks` adapts the fitted model to new tasks.
    """

    def fit_new_tasks(self, X, y, sample_weight=None, *, prior="empirical"):
        """Fit new tasks with the source tasks' model held fixed.

        Each new task ``t`` gets its own coefficients ``w`` and intercept
        ``b``, independently of the other new tasks::

            minimise  (1 / n_bar) sum_{i in t} s_i loss(y_i, x_i . w + b)
                      + R(w) + (a / 2) ||b - shared_intercept_||^2

        Rows of a new task weigh as rows of an average source task
        (``n_bar`` is the mean total sample weight of the tasks of ``fit``):
        with a few rows the prior ``R`` learned from the source tasks
        dominates, with many rows the task's own data. ``R`` is the model's
        prior for a new task; without a ridge part it is centred at the
        shared model, so that a task without rows would be predicted as by
        ``unknown_task="shared"`` (``c`` is ``shared_coef_``):

        - mean-regularised models: ``(alpha / 2) ||w - shared_coef_||^2``,
          the model's own objective with ``w_0`` and the source tasks fixed;
        - graph-regularised models: the increase of the penalty when the new
          task joins the graph linked to every source task (weight 1 for
          ``"complete"``, the mean edge weight of a given graph, no link for
          ``"empty"``), ridge part included (it shrinks towards zero);
        - joint-feature models: ``alpha l1_ratio sum_j (w_j - c_j)^2 /
          (2 d_j) + (alpha / 2)(1 - l1_ratio) ||w - c||^2`` with ``d_j`` the
          norm of feature ``j`` over the source tasks and ``c`` the shared
          model: only the selected features move;
        - trace-norm models: ``(alpha / 2)(w - c)^T D^+ (w - c)`` with
          ``D = (W^T W)^{1/2}`` of the source rows: the new task stays in the
          source tasks' subspace;
        - task-relationship models: ``(alpha / 2) ||w||^2 + (beta / 2)
          (w - c)^T D^+ (w - c)``, ``D`` of the task rows (classes side by
          side) as above, scaled to unit trace;
        - clustered models: ``alpha (1 + eta) ||w - m_c||^2 + alpha eta
          ||m_c||^2`` for the mean ``m_c`` of a cluster of source tasks
          (``task_clusters_``); with ``prior="model"`` the new task joins
          the cluster of lowest objective (``new_task_clusters_``), with
          ``prior="empirical"`` its coefficients mix the fits in every
          cluster by their posterior probabilities
          (``new_task_cluster_probabilities_``: the cluster sizes times the
          likelihood of the task's rows; ``new_task_clusters_`` is the most
          probable).

        - decompositions ``w = p + q`` (sparse plus low-rank, robust and
          dirty models): the new task gets its own two blocks (appended to
          the block attributes, e.g. ``sparse_coef_``). A block whose
          penalty is separable over tasks keeps it exactly
          (``alpha_sparse ||p||_1``, ``alpha_task ||q||_1``,
          ``alpha_outlier ||s||_2``, so a new task may join
          ``outlier_tasks_``); the low-rank block gets the trace-norm prior
          above with ``alpha_rank`` and the source rows of
          ``low_rank_coef_``; the dirty model's shared block the exact
          increase of its norm, ``alpha_shared sum_j (|p_j| - m_j)_+`` with
          ``m_j`` the largest magnitude of feature ``j`` in the source block
          (``shared_norm="linf"``; it starts at ``c`` clipped to
          ``[-m_j, m_j]``, where it costs nothing), or the joint-feature
          prior above on the source block (``shared_norm="l2"``). Solved by
          FISTA.

        The intercept tie ``a`` (``new_task_intercept_alpha_``) is the larger
        of the model's own tie and the empirical-Bayes strength
        ``noise / (n_bar * spread)``, with ``spread`` the mean squared
        distance of the source intercepts to ``shared_intercept_`` and
        ``noise`` the per-row noise of fit: with ``k`` rows the intercept
        moves ``k / (k + noise / spread)`` of the way to the task's own.

        With a quadratic prior the squared loss has a closed form (one small
        linear solve per task); the other losses are solved by Newton's
        method, to at most
        ``max_iter`` iterations (a ``ConvergenceWarning`` when ``tol`` is
        missed). The time depends on the new rows and the number of features
        only. Every call starts from the source tasks and replaces the tasks
        of an earlier call. Read more in the :ref:`User Guide <transfer>`.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Rows of the new tasks, with the task column; their tasks must not
            be tasks of ``fit``.
        y : array-like of shape (n_samples,)
            Targets; for a classifier, labels among ``classes_``.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights ``s_i``.
        prior : {"empirical", "model"}, default="empirical"
            ``"model"``: ``R`` as listed above, the model's own prior, so that
            the adaptation equals a refit of the model with the source tasks
            and what they share held fixed. ``"empirical"``: ``R`` plus, in
            each of its coordinates ``theta_j`` (the free coordinates of
            ``w``), ``(e_j / 2)(theta_j - theta*_j)^2`` centred at ``R``'s
            minimiser, where ``e_j`` raises the strength of the coordinate to
            the empirical-Bayes value ``noise / (n_bar * spread_j)`` when
            that is larger, ``spread_j`` being the mean square of the source
            tasks' coordinate ``j`` (for clustered models, of the tasks of
            the cluster): a task with a few rows then moves no further than
            the source tasks differ. The prediction of a task without rows
            is the same under both (clustered models: the mean source task
            under ``"empirical"``). The decompositions strengthen each
            block from the source rows of that block: a block without a
            penalty of its own coordinate by coordinate, a block with an L1,
            group or L1/Linf penalty with one strength from its mean spread
            (so its proximal operator stays exact).

        Returns
        -------
        self : object
            The estimator, whose ``tasks_``, ``coef_`` and ``intercept_``
            now end with the new tasks (``new_tasks_``).
        """
        from ._transfer import fit_new_tasks

        return fit_new_tasks(self, X, y, sample_weight=sample_weight, prior=prior)

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
