"""The two baselines every multi-task model is compared against.

- :class:`PerTaskEstimator`: single-task learning, one clone of an estimator
  per task, fitted on that task's rows only (no sharing at all).
- :class:`PooledEstimator`: one estimator fitted on the rows of all tasks,
  the task column dropped (full hard sharing: every task gets the same model).

Mean-regularised multi-task learning interpolates between the two.
"""

import numpy as np
from sklearn.base import (
    BaseEstimator,
    MetaEstimatorMixin,
    _fit_context,
    clone,
    is_classifier,
)
from sklearn.utils import get_tags, metadata_routing
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _raise_for_params,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_method_params,
    check_is_fitted,
    has_fit_parameter,
)

from ._tasks import (
    add_new_tasks,
    check_new_task_data,
    check_predict_data,
    check_task_data,
    n_source_tasks,
    per_task_rows,
)
from ._validation import format_labels
from .base import score_predictions


def _inner_has(method):
    """Make a method available only when the wrapped estimator has it."""

    def check(self):
        getattr(self.estimator, method)
        return True

    return check


class _TaskWrapperBase(MetaEstimatorMixin, BaseEstimator):
    """Shared parameters, tags and fit bookkeeping of the two baselines."""

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"])],
        "task_column": "no_validation",
    }

    # Under metadata routing ``sample_weight`` reaches fit only for the wrapped
    # estimator, which requests it with its own ``set_fit_request``; the
    # wrapper validates it but has no request of its own to set.
    __metadata_request__fit = {"sample_weight": metadata_routing.UNUSED}

    def __init__(self, estimator, *, task_column=None):
        self.estimator = estimator
        self.task_column = task_column

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def score(self, X, y, sample_weight=None):
        """R^2 (regressors) or accuracy (classifiers) of the predictions.

        Pooled over rows in long and single-task format, averaged over tasks
        (each on its observed rows) in wide format.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame}
            Rows to predict, with the task column in long format.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        return score_predictions(
            y,
            self.predict(X),
            sample_weight,
            classifier=is_classifier(self.estimator),
        )

    def get_metadata_routing(self):
        """Get the metadata routing of this object.

        ``fit`` routes its metadata (``sample_weight``, or whatever the wrapped
        estimator requests with ``set_fit_request``) to the wrapped
        estimator's ``fit``, row-aligned metadata split by task; ``score``
        consumes ``sample_weight`` itself (``set_score_request``). Routing
        is used only under ``sklearn.set_config(enable_metadata_routing=True)``.

        Returns
        -------
        routing : MetadataRouter
            A :class:`~sklearn.utils.metadata_routing.MetadataRouter`
            encapsulating the routing information.
        """
        return (
            MetadataRouter(owner=self)
            .add_self_request(self)
            .add(
                estimator=self.estimator,
                method_mapping=MethodMapping().add(caller="fit", callee="fit"),
            )
        )

    def _fit_metadata(self, sample_weight, fit_params):
        """The metadata of the wrapped estimator's ``fit``, by parameter name.

        With metadata routing, what the wrapped estimator requested; without,
        ``sample_weight`` alone (other parameters raise scikit-learn's error).
        """
        if _routing_enabled():
            if sample_weight is not None:
                fit_params = {**fit_params, "sample_weight": sample_weight}
            return dict(process_routing(self, "fit", **fit_params).estimator.fit)
        _raise_for_params(fit_params, self, "fit")
        if sample_weight is None:
            return {}
        if not has_fit_parameter(self.estimator, "sample_weight"):
            raise ValueError(
                f"{type(self.estimator).__name__}.fit does not accept "
                "sample_weight; fit without sample_weight or wrap an estimator "
                "that supports it."
            )
        return {"sample_weight": sample_weight}

    @staticmethod
    def _select_metadata(X, metadata, data, observations):
        """The metadata of some observations: row-aligned values indexed.

        ``sample_weight`` is taken validated from ``data``; other metadata of
        the length of ``X`` is indexed by the caller's rows of the
        observations, anything else is passed unchanged.
        """
        others = {k: v for k, v in metadata.items() if k != "sample_weight"}
        rows = data.observation_rows[observations]
        selected = _check_method_params(X, params=others, indices=rows)
        if "sample_weight" in metadata:
            selected["sample_weight"] = data.sample_weight[observations]
        return selected

    def _task_data(self, X, y, sample_weight):
        classifier = is_classifier(self.estimator)
        data = check_task_data(
            self,
            X,
            y,
            task_column=self.task_column,
            sample_weight=sample_weight,
            y_numeric=not classifier,
            accept_sparse=("csr", "csc")
            if get_tags(self.estimator).input_tags.sparse
            else False,
        )
        if classifier:
            # sklearn's message for continuous or unknown targets, once for
            # all tasks rather than from the first task's clone.
            check_classification_targets(data.y)
            self.classes_ = np.unique(data.y)
            if len(self.classes_) < 2:
                raise ValueError(
                    "A classifier needs at least two classes in the training "
                    f"data; y holds 1 class: {format_labels(self.classes_)}."
                )
        return data

    def _fit_one(self, X, y, metadata, task_label=None):
        """Fit a clone of the estimator, naming the task if it fails."""
        estimator = clone(self.estimator)
        try:
            return estimator.fit(X, y, **metadata)
        except ValueError as exc:
            if task_label is None:
                raise
            raise ValueError(
                f"Fitting {type(estimator).__name__} on task "
                f"{format_labels([task_label])[1:-1]} "
                f"({X.shape[0]} rows) failed: {exc}"
            ) from exc

    def _new_task_data(self, X, y, sample_weight):
        """Validated rows of new tasks (a classifier's labels in ``classes_``)."""
        classifier = is_classifier(self.estimator)
        data = check_new_task_data(
            self, X, y, sample_weight=sample_weight, y_numeric=not classifier
        )
        if classifier:
            check_classification_targets(data.y)
            unseen = np.setdiff1d(np.unique(data.y), self.classes_)
            if len(unseen):
                raise ValueError(
                    f"The new tasks hold the class(es) {format_labels(unseen)}, "
                    f"which fit did not see; the classes are "
                    f"{format_labels(self.classes_)}. fit_new_tasks keeps the "
                    "classes of fit: refit with fit to add classes."
                )
        return data


class PerTaskEstimator(_TaskWrapperBase):
    """Single-task learning: an independent clone of an estimator per task.

    Each task ``t`` gets ``clone(estimator)`` fitted on its own rows (long
    format), on the rows where its column of ``Y`` is observed (wide format),
    or on all rows (single task). Nothing is shared between tasks: this is the
    baseline a multi-task model must beat when tasks have little data.

    Parameters
    ----------
    estimator : estimator object
        A scikit-learn regressor or classifier, cloned once per task.
    task_column : hashable or None, default=None
        Column of ``X`` holding the task of each row: a column name for a
        DataFrame, an integer position for an array. ``None`` for wide
        (2-D ``Y``, one column per task) or single-task data.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted clone of each task, in the order of ``tasks_``.
    tasks_ : ndarray of shape (n_tasks,)
        Task labels, sorted.
    n_tasks_ : int
        Number of tasks.
    new_tasks_ : ndarray of shape (n_new_tasks,)
        After :meth:`fit_new_tasks`: the labels it added, at the end of
        ``tasks_``.
    task_column_ : hashable or None
        The resolved task column (a name, or a non-negative position).
    classes_ : ndarray of shape (n_classes,)
        Classes seen in any task (classifiers only).
    coef_ : ndarray of shape (n_tasks, ...)
        The tasks' ``coef_`` stacked, when every fitted clone has one.
    intercept_ : ndarray of shape (n_tasks, ...)
        The tasks' ``intercept_`` stacked, when every fitted clone has one.
    n_features_in_ : int
        Number of features, task column excluded.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, task column excluded (DataFrame input only).

    See Also
    --------
    PooledEstimator : One model for all tasks.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> X = np.array([[0, 1.0], [0, 2.0], [1, 1.0], [1, 2.0]])
    >>> y = np.array([1.0, 2.0, -1.0, -2.0])
    >>> model = PerTaskEstimator(Ridge(alpha=1e-9), task_column=0).fit(X, y)
    >>> model.coef_.round(3).tolist()
    [[1.0], [-1.0]]
    >>> model.predict(np.array([[1, 3.0], [0, 3.0]])).round(3).tolist()
    [-3.0, 3.0]
    """

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit one clone of the estimator per task.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Features, with the task column in long format.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            Targets; 2-D with ``NaN`` for unobserved cells in wide format.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, passed to each clone's ``fit`` (under metadata
            routing, only if the estimator requests it with
            ``set_fit_request(sample_weight=True)``).
        **fit_params : dict
            Further metadata of the estimator's ``fit``, for each task its
            rows' values. Only with metadata routing enabled
            (``sklearn.set_config(enable_metadata_routing=True)``) and
            requested by the estimator's ``set_fit_request``.

        Returns
        -------
        self : PerTaskEstimator
        """
        metadata = self._fit_metadata(sample_weight, fit_params)
        data = self._task_data(X, y, metadata.get("sample_weight"))
        if is_classifier(self.estimator):
            self._check_two_classes_per_task(data)
        self.estimators_ = [
            self._fit_one(
                X_t,
                y_t,
                self._select_metadata(X, metadata, data, data.task_slice(t)),
                data.tasks[t] if data.layout != "single" else None,
            )
            for t, X_t, y_t, _ in data.iter_tasks()
        ]
        self._stack_coefficients()
        return self

    def _check_two_classes_per_task(self, data):
        one_class = [
            data.tasks[t]
            for t in range(data.n_tasks)
            if len(np.unique(data.task_targets(t))) < 2
        ]
        if one_class:
            raise ValueError(
                f"Task(s) {format_labels(one_class)} hold a single class, so a "
                "per-task classifier cannot be fitted on them. Use "
                "PooledEstimator, or a multi-task classifier such as "
                "MeanRegularizedClassifier that borrows strength from other tasks."
            )

    def _stack_coefficients(self):
        for name in ("coef_", "intercept_"):
            values = [getattr(est, name, None) for est in self.estimators_]
            if all(value is not None for value in values):
                shapes = {np.shape(value) for value in values}
                if len(shapes) == 1:
                    setattr(self, name, np.stack([np.asarray(v) for v in values]))

    def fit_new_tasks(self, X, y, sample_weight=None):
        """Fit a clone of the estimator on each new task's rows.

        The fitted tasks are left as they are; each task of ``X`` (a label
        not seen in ``fit``) gets its own ``clone(estimator)`` fitted on its
        rows alone, appended to ``estimators_``. A second call replaces the
        tasks of the first. Long format only.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Features and the task column, rows of new tasks only.
        y : array-like of shape (n_samples,)
            Targets of the new tasks.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, passed to each clone's ``fit``.

        Returns
        -------
        self : PerTaskEstimator
        """
        check_is_fitted(self, "estimators_")
        metadata = self._fit_metadata(sample_weight, {})
        data = self._new_task_data(X, y, metadata.get("sample_weight"))
        if is_classifier(self.estimator):
            self._check_two_classes_per_task(data)
        new = [
            self._fit_one(
                X_t,
                y_t,
                {"sample_weight": w_t} if "sample_weight" in metadata else {},
                data.tasks[t],
            )
            for t, X_t, y_t, w_t in data.iter_tasks()
        ]
        self.estimators_ = self.estimators_[: n_source_tasks(self)] + new
        add_new_tasks(self, data.tasks)
        for name in ("coef_", "intercept_"):
            if hasattr(self, name):
                delattr(self, name)
        self._stack_coefficients()
        return self

    def predict(self, X):
        """Predict each row with the model of its task.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Rows to predict, with the task column in long format.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_tasks)
            2-D in wide format (every task for every row).
        """
        return self._per_task_output(X, "predict")

    @available_if(_inner_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of each row from the model of its task.

        Classes a task never saw get probability 0 for that task's rows.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes) or (n_samples, n_tasks)
            In wide format (binary labels only): the probability of
            ``classes_[1]`` for every task.
        """
        return self._per_task_output(X, "predict_proba")

    @available_if(_inner_has("decision_function"))
    def decision_function(self, X):
        """Decision function of each row from the model of its task.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        return self._per_task_output(X, "decision_function")

    def _per_task_output(self, X, method):
        check_is_fitted(self, "estimators_")
        data = check_predict_data(self, X, accept_sparse=("csr", "csc"))
        if data.layout == "single":
            return self._task_output(0, data.X, method)
        if data.layout == "wide":
            columns = [
                self._task_output(t, data.X, method) for t in range(self.n_tasks_)
            ]
            if method == "predict_proba":
                columns = [self._positive_column(proba) for proba in columns]
            return np.column_stack(columns)
        out = None
        for t, rows in per_task_rows(data.task_index, self.n_tasks_):
            values = self._task_output(t, data.X[rows], method)
            if out is None:
                out = np.empty((data.X.shape[0],) + values.shape[1:], values.dtype)
            out[rows] = values
        return out

    def _task_output(self, t, X, method):
        estimator = self.estimators_[t]
        values = getattr(estimator, method)(X)
        if method == "predict" or not hasattr(self, "classes_"):
            return values
        task_classes = estimator.classes_
        if np.array_equal(task_classes, self.classes_):
            return values
        if method == "decision_function":
            raise ValueError(
                f"Task {self.tasks_[t]!r} saw the classes "
                f"{format_labels(task_classes)} but the tasks together saw "
                f"{format_labels(self.classes_)}; its decision function is not "
                "comparable. Use predict_proba instead."
            )
        full = np.zeros((values.shape[0], len(self.classes_)))
        full[:, np.searchsorted(self.classes_, task_classes)] = values
        return full

    def _positive_column(self, proba):
        if len(self.classes_) != 2:
            raise ValueError(
                "predict_proba in wide format returns the probability of the "
                f"positive class of every task; it needs 2 classes, got "
                f"{len(self.classes_)}."
            )
        return proba[:, 1]


class PooledEstimator(_TaskWrapperBase):
    """Full hard sharing: one estimator fitted on the rows of all tasks.

    The task column is dropped (long format), or the observed cells of every
    column of ``Y`` are stacked into one training set (wide format), and a
    single clone of ``estimator`` is fitted. Every task gets the same model,
    so rows of tasks never seen in ``fit`` are predicted too.

    Parameters
    ----------
    estimator : estimator object
        A scikit-learn regressor or classifier.
    task_column : hashable or None, default=None
        Column of ``X`` holding the task of each row (dropped before fitting);
        ``None`` for wide or single-task data.

    Attributes
    ----------
    estimator_ : estimator
        The fitted clone.
    tasks_ : ndarray of shape (n_tasks,)
        Task labels seen in ``fit`` (then those of :meth:`fit_new_tasks`).
    n_tasks_ : int
        Number of tasks.
    new_tasks_ : ndarray of shape (n_new_tasks,)
        After :meth:`fit_new_tasks`: the labels it added, at the end of
        ``tasks_``.
    task_column_ : hashable or None
        The resolved task column.
    classes_ : ndarray of shape (n_classes,)
        Classes (classifiers only).
    n_features_in_ : int
        Number of features, task column excluded.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, task column excluded (DataFrame input only).

    See Also
    --------
    PerTaskEstimator : One independent model per task.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> X = np.array([[0, 1.0], [0, 2.0], [1, 3.0], [1, 4.0]])
    >>> y = np.array([1.0, 2.0, 3.0, 4.0])
    >>> model = PooledEstimator(LinearRegression(), task_column=0).fit(X, y)
    >>> model.predict(np.array([[7, 5.0]])).round(3).tolist()
    [5.0]
    """

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit one clone of the estimator on the rows of all tasks.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Features, with the task column in long format.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            Targets; 2-D with ``NaN`` for unobserved cells in wide format.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, passed to the estimator's ``fit`` (under metadata
            routing, only if the estimator requests it with
            ``set_fit_request(sample_weight=True)``).
        **fit_params : dict
            Further metadata of the estimator's ``fit`` (a row's value is
            repeated for each task observing it in wide format). Only with
            metadata routing enabled and requested by the estimator.

        Returns
        -------
        self : PooledEstimator
        """
        metadata = self._fit_metadata(sample_weight, fit_params)
        data = self._task_data(X, y, metadata.get("sample_weight"))
        rows = data.X if data.row_index is None else data.X[data.row_index]
        self.estimator_ = self._fit_one(
            rows,
            data.y,
            self._select_metadata(X, metadata, data, slice(None)),
        )
        return self

    def fit_new_tasks(self, X, y, sample_weight=None):
        """Register new tasks; the pooled model is left unchanged.

        The pooled model has no parameter of its own per task, so a new
        task's rows change nothing: they are validated (features, labels
        not seen in ``fit``, the classes of ``fit`` for a classifier) and
        the task labels are added to ``tasks_``. Refitting with ``fit`` on
        the rows of the fitted and the new tasks is the alternative that
        uses the new rows. A second call replaces the tasks of the first.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Features and the task column, rows of new tasks only.
        y : array-like of shape (n_samples,)
            Targets of the new tasks.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights (validated, not used).

        Returns
        -------
        self : PooledEstimator
        """
        check_is_fitted(self, "estimator_")
        data = self._new_task_data(X, y, sample_weight)
        add_new_tasks(self, data.tasks)
        return self

    def predict(self, X):
        """Predict every row with the pooled model.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Rows to predict; their task labels are not used.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_tasks)
            In wide format the same prediction for every task.
        """
        return self._pooled_output(X, "predict")

    @available_if(_inner_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities from the pooled model.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes) or (n_samples, n_tasks)
            In wide format (binary labels only): the probability of
            ``classes_[1]``, repeated for every task.
        """
        return self._pooled_output(X, "predict_proba")

    @available_if(_inner_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the pooled model.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        return self._pooled_output(X, "decision_function")

    def _pooled_output(self, X, method):
        check_is_fitted(self, "estimator_")
        data = check_predict_data(
            self, X, allow_unknown=True, accept_sparse=("csr", "csc")
        )
        values = getattr(self.estimator_, method)(data.X)
        if data.layout != "wide":
            return values
        if method == "predict_proba":
            if values.shape[1] != 2:
                raise ValueError(
                    "predict_proba in wide format returns the probability of the "
                    f"positive class; it needs 2 classes, got {values.shape[1]}."
                )
            values = values[:, 1]
        return np.repeat(values[:, None], self.n_tasks_, axis=1)
