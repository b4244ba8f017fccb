"""Mean-regularised multi-task logistic regression (Evgeniou & Pontil 2004)."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from .._tasks import check_task_data
from .._validation import format_labels
from ..base import MultiTaskClassifierMixin
from ..losses import LogisticLoss, MultinomialLoss
from ..solvers.lbfgs import solve_mean_regularized
from ._base import MultiTaskLinearClassifierMixin
from ._transfer import record_source_noise


class MeanRegularizedClassifier(
    MultiTaskClassifierMixin, MultiTaskLinearClassifierMixin, BaseEstimator
):
    """Multi-task logistic regression with task models pulled to a shared mean.

    Every task ``t`` has its own linear model ``w_t = w_0 + v_t``,
    ``b_t = b_0 + c_t``: a shared part ``(w_0, b_0)`` and a task offset
    ``(v_t, c_t)``. The objective is::

        minimise  sum_t (1 / n_t) sum_{i in t} s_i loss(y_i, x_i . w_t + b_t)
                  + (alpha / 2) sum_t ||v_t||^2
                  + (intercept_alpha / 2) sum_t ||c_t||^2
                  + (alpha_mean / 2) ||w_0||^2

    where ``n_t`` is the total sample weight of task ``t``, ``s_i`` the sample
    weight of row ``i`` and ``loss`` the logistic loss (two classes) or the
    multinomial loss (more than two classes; then ``w_t`` holds one row per
    class, ``b_t`` one intercept per class, and the norms are Frobenius norms
    over classes and features). The shared intercept ``b_0`` is not penalised.

    Large ``alpha`` pulls every task onto the shared model (one pooled model
    when ``alpha -> inf``); ``alpha -> 0`` gives independent tasks.

    Why the intercept offsets ``c_t`` are penalised: a task whose rows hold a
    single class (or that never sees some class) has no finite optimum with a
    free per-task intercept (``b_t -> +-inf``). Splitting the intercept like
    the weights and penalising ``c_t`` (by default with the same ``alpha``)
    keeps every optimum finite and pulls such a task's predictions towards
    the shared model instead. ``intercept_alpha`` is the tie of every skmtl
    linear model (docs/user_guide/regularization.rst); here its default
    follows ``alpha``. With one task ``c_t = 0`` at the optimum and the model is
    scikit-learn's :class:`~sklearn.linear_model.LogisticRegression` with an
    unpenalised intercept (see Notes).

    Parameters
    ----------
    alpha : float, default=1.0
        Strength of the penalty on the task offsets ``v_t``, and on ``c_t``
        when ``intercept_alpha=None`` (>= 0). ``alpha=0`` (with
        ``intercept_alpha=None``) removes the ties between tasks, including
        the one that keeps one-class tasks finite.
    intercept_alpha : float or None, default=None
        Strength of the tie ``(intercept_alpha / 2) sum_t ||b_t - b_0||^2`` of
        the task intercepts to the shared one (>= 0). ``None`` uses ``alpha``.
        ``0`` frees the task intercepts (a task with one class then has no
        finite optimum).
    alpha_mean : float, default=0.01
        Strength of the penalty on the shared coefficients ``w_0`` (>= 0).
        The shared model is estimated from the rows of all tasks, so it needs
        little shrinkage; the default is small but positive, as for
        :class:`MeanRegularizedRegressor`, so that the optimum is unique.
    fit_intercept : bool, default=True
        Whether to fit intercepts ``b_t``; without, every ``b_t = 0``.
    task_column : str, int or None, default=None
        Column of ``X`` that holds the task of each row (long format): a name
        for a DataFrame, an integer position for an array. ``None``: ``y`` is
        1-D (one task) or ``Y`` is 2-D with one binary column per task (wide,
        multi-label format; ``NaN`` marks an unobserved label).
    solver : {"auto", "lbfgs"}, default="auto"
        ``"auto"`` and ``"lbfgs"`` both use L-BFGS
        (:func:`skmtl.solvers.lbfgs.solve_mean_regularized`).
    tol : float, default=1e-6
        Stop when the sup-norm of the objective's gradient, each block scaled
        by ``1 / sqrt(m + penalty)`` (``m = n_tasks`` for the shared part, 1
        for task offsets; see :func:`skmtl.solvers.lbfgs.solve_mean_regularized`),
        is at most ``tol``. For one task and small penalties this is close to
        ``LogisticRegression``'s criterion. Values below about ``1e-8`` are
        beyond floating-point resolution and end in a ``ConvergenceWarning``.
    max_iter : int, default=1000
        Maximum number of L-BFGS iterations.
    unknown_task : {"error", "shared"}, default="error"
        What ``predict`` does with rows of a task not seen in ``fit``:
        raise a ``ValueError``, or use the shared model ``(w_0, b_0)``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, common to all tasks (sorted unique labels of ``y``).
    coef_ : ndarray of shape (n_tasks, n_features) or (n_tasks, n_classes, n_features)
        Task coefficients ``w_t``; 3-D for more than two classes.
    intercept_ : ndarray of shape (n_tasks,) or (n_tasks, n_classes)
        Task intercepts ``b_t``.
    shared_coef_ : ndarray of shape (n_features,) or (n_classes, n_features)
        Shared coefficients ``w_0``.
    shared_intercept_ : float or ndarray of shape (n_classes,)
        Shared intercept ``b_0``.
    n_iter_ : int
        Number of L-BFGS iterations run.
    solver_ : str
        The solver used.
    tasks_ : ndarray of shape (n_tasks,)
        Task labels, in the order of the first axis of ``coef_``.
    n_tasks_ : int
        Number of tasks.
    task_column_ : hashable or None
        The resolved task column.
    n_features_in_ : int
        Number of features (task column excluded).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when ``X`` is a DataFrame with string names.

    See Also
    --------
    MeanRegularizedRegressor : The same model with the squared loss.
    sklearn.linear_model.LogisticRegression : The single-task model.

    Notes
    -----
    **Formats.** Long format (``task_column`` set): ``y`` holds the class of
    each row, binary or multiclass. Wide format (``task_column=None`` and 2-D
    ``Y``): every column is a binary task on the shared rows (multi-label
    learning); ``Y`` must hold two distinct values over all observed cells
    (typically 0/1) and ``NaN`` for unobserved cells. Then ``predict`` returns
    ``(n_samples, n_labels)`` labels, and ``predict_proba`` and
    ``decision_function`` return ``(n_samples, n_labels)`` values for the
    second class (label 1). A ``Y`` with a single column is one task and is
    raveled to 1-D with a ``DataConversionWarning``, as scikit-learn's
    classifiers do.

    **One task.** Minimising over the split ``w = w_0 + v`` gives the penalty
    ``(lambda / 2) ||w||^2`` with ``lambda = alpha * alpha_mean / (alpha +
    alpha_mean)``, and ``c = 0``. scikit-learn's ``LogisticRegression``
    minimises ``C sum_i s_i loss + 0.5 ||w||^2``, so the two agree for
    ``C = 1 / (n lambda)`` with ``n = sum_i s_i``. For more than two classes
    both use the full softmax with one penalised row per class.

    **Limits.** ``alpha_mean -> inf`` with ``fit_intercept=False`` gives
    independent per-task models with ``C_t = 1 / (n_t alpha)`` (with
    intercepts, the penalty on ``c_t`` still ties the task intercepts to
    ``b_0``); ``alpha -> inf`` (with ``intercept_alpha=None``) forces
    ``v_t, c_t -> 0`` and gives one pooled
    ``LogisticRegression`` fitted with sample weights ``s_i / n_t`` and
    ``C = 1 / alpha_mean``.

    References
    ----------
    T. Evgeniou and M. Pontil. Regularized multi-task learning. In Proceedings
    of the 10th ACM SIGKDD International Conference on Knowledge Discovery and
    Data Mining (KDD), pages 109-117, 2004.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import MeanRegularizedClassifier
    >>> rng = np.random.default_rng(0)
    >>> features = rng.normal(size=(60, 2))
    >>> task = np.repeat([0, 1, 2], 20)
    >>> y = (features[:, 0] + 0.5 * (task - 1) * features[:, 1] > 0).astype(int)
    >>> X = np.column_stack([task, features])
    >>> clf = MeanRegularizedClassifier(alpha=0.1, task_column=0).fit(X, y)
    >>> clf.coef_.shape, clf.shared_coef_.shape
    ((3, 2), (2,))
    >>> clf.predict(X[:3])
    array([1, 1, 0])
    >>> clf.predict_proba(X[:3]).round(2)
    array([[0.48, 0.52],
           [0.1 , 0.9 ],
           [0.93, 0.07]])
    >>> round(clf.score(X, y), 2)
    0.95
    """

    _parameter_constraints = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "alpha_mean": [Interval(Real, 0, None, closed="left")],
        "intercept_alpha": [Interval(Real, 0, None, closed="left"), None],
        "fit_intercept": ["boolean"],
        "task_column": "no_validation",
        "solver": [StrOptions({"auto", "lbfgs"})],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "unknown_task": [StrOptions({"error", "shared"})],
    }

    def __init__(
        self,
        alpha=1.0,
        alpha_mean=0.01,
        *,
        fit_intercept=True,
        intercept_alpha=None,
        task_column=None,
        solver="auto",
        tol=1e-6,
        max_iter=1000,
        unknown_task="error",
    ):
        self.alpha = alpha
        self.alpha_mean = alpha_mean
        self.fit_intercept = fit_intercept
        self.intercept_alpha = intercept_alpha
        self.task_column = task_column
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.unknown_task = unknown_task

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        tags.classifier_tags.multi_label = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the task models and the shared model.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Features, plus the task column in long format.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            Class labels; 2-D in wide (multi-label) format, with ``NaN`` for
            unobserved labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights ``s_i``.

        Returns
        -------
        self : MeanRegularizedClassifier
            The fitted estimator.
        """
        if self.task_column is None and _is_column_vector(y):
            # A column vector is one task, as for scikit-learn's classifiers.
            y = column_or_1d(y, warn=True)
        data = check_task_data(
            self,
            X,
            y,
            task_column=self.task_column,
            sample_weight=sample_weight,
            y_numeric=False,
        )
        encoded = self._encode_classes(data)
        multiclass = len(self.classes_) > 2
        result = solve_mean_regularized(
            data.with_targets(encoded if multiclass else encoded.astype(float)),
            MultinomialLoss() if multiclass else LogisticLoss(),
            alpha=self.alpha,
            alpha_mean=self.alpha_mean,
            fit_intercept=self.fit_intercept,
            n_classes=len(self.classes_) if multiclass else None,
            intercept_penalty=self._intercept_alpha(),
            tol=self.tol,
            max_iter=self.max_iter,
        )
        self.coef_ = result.coef
        self.intercept_ = result.intercept
        self.shared_coef_ = result.extra["shared_coef"]
        self.shared_intercept_ = result.extra["shared_intercept"]
        self.n_iter_ = result.n_iter
        self.solver_ = "lbfgs"
        # Extreme targets (1e300) overflow the squared residuals: the noise
        # is then infinite, not an error of fit.
        with np.errstate(over="ignore", invalid="ignore"):
            record_source_noise(self, data, "multinomial" if multiclass else "logistic")
        return self

    def _intercept_alpha(self):
        """The tie of the task intercepts: ``intercept_alpha``, else ``alpha``."""
        return self.alpha if self.intercept_alpha is None else self.intercept_alpha

    def _encode_classes(self, data):
        """Set ``classes_``; return the class index of every observation."""
        if data.y.dtype.kind == "f" and not np.isfinite(data.y).all():
            raise ValueError(
                "Input y contains infinity or a value too large for "
                "dtype('float64'). Class labels must be finite."
            )
        check_classification_targets(data.y)
        encoder = LabelEncoder().fit(data.y)
        self.classes_ = encoder.classes_
        encoded = encoder.transform(data.y)
        class_weight = np.bincount(
            encoded, weights=data.sample_weight, minlength=len(self.classes_)
        )
        weighted = self.classes_[class_weight > 0]
        if len(weighted) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes with "
                "positive sample weight, but the data contains only one class: "
                f"{format_labels(weighted)}. Fit on data with two or more classes."
            )
        if len(weighted) < len(self.classes_):
            raise ValueError(
                f"Class(es) {format_labels(self.classes_[class_weight == 0])} "
                "have total sample weight 0, so their intercept has no finite "
                "optimum. Drop those rows or give them positive weights."
            )
        if data.layout == "wide" and len(self.classes_) > 2:
            raise ValueError(
                f"In wide format every column of Y is a binary task, but Y holds "
                f"{len(self.classes_)} classes {format_labels(self.classes_)}. "
                "Use two values (for example 0/1, NaN for unobserved), or pass "
                "multiclass tasks in long format with task_column."
            )
        return encoded


def _is_column_vector(y):
    shape = getattr(y, "shape", None)
    if shape is None:
        shape = np.asarray(y).shape
    return len(shape) == 2 and shape[1] == 1
