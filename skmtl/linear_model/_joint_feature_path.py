"""Regularisation paths of the joint-feature (L2,1) models, and their CV."""

import time
import warnings
from numbers import Integral, Real

import numpy as np
from scipy.special import log_softmax
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.model_selection import KFold, StratifiedKFold, check_cv
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted, indexable

from .._tasks import check_predict_data, check_task_data, per_task_rows
from ..base import MultiTaskClassifierMixin, MultiTaskRegressorMixin
from ..losses import LogisticLoss, MultinomialLoss, SquaredLoss, observation_scale
from ..solvers._l21 import alpha_max as _alpha_max
from ..solvers._l21 import make_design
from ..utils._routing import (
    cv_router,
    expand_sample_weight,
    route_fit_params,
)
from ._base import MultiTaskLinearClassifierMixin
from ._joint_feature import (
    JointFeatureClassifier,
    JointFeatureRegressor,
    _check_every_class_seen,
    _classification_problem,
    _JointFeatureMixin,
    _resolve_solver,
    _solve,
)
from ._mean_regularized import _check_grid
from ._transfer import record_source_noise


class _Problem:
    """A validated data set with its loss, encoded targets and design."""

    def __init__(self, data, loss, targets=None, n_classes=None, classes=None):
        self.data = data
        self.loss = loss
        self.targets = data.y if targets is None else targets
        self.multinomial = loss.name == "multinomial"
        self.n_classes = n_classes if self.multinomial else None
        self.classes = classes
        self.design = make_design(data, self.targets, multinomial=self.multinomial)


def _validate(X, y, *, task_column, sample_weight, loss, template, classes=None):
    """Validate the input of one fit and build its :class:`_Problem`.

    ``template`` receives the fitted data attributes; ``classes`` encodes the
    labels of a cross-validation fold with the classes of the whole data.
    """
    data = check_task_data(
        template,
        X,
        y,
        task_column=task_column,
        sample_weight=sample_weight,
        y_numeric=loss == "squared",
    )
    if loss == "squared":
        return _Problem(data, SquaredLoss())
    if classes is None:
        targets, loss_object, n_classes = _classification_problem(template, data)
    else:
        # A fold is fitted with the classes of the whole data (as in
        # LogisticRegressionCV): a class missing from the fold keeps its
        # coefficients and gets low scores instead of changing the model.
        template.classes_ = classes
        targets, loss_object, n_classes = _encode_classes(data.y, classes)
    _check_every_class_seen(template, data, targets, n_classes)
    return _Problem(data, loss_object, targets, n_classes, template.classes_)


def _encode_classes(labels, classes):
    """Targets, loss and number of classes of ``labels`` among ``classes``."""
    targets = np.searchsorted(classes, labels)
    if len(classes) > 2:
        return targets.astype(np.intp), MultinomialLoss(), len(classes)
    return targets.astype(float), LogisticLoss(), 2


def _targets_constant_per_task(problem):
    """Whether every task's weighted targets are equal up to rounding.

    The intercepts then fit the data exactly and ``alpha_max`` is zero in
    exact arithmetic; computed, it is rounding noise of the intercept step
    (about ``1e-15`` times the scale of ``X`` and ``y``), which would make a
    meaningless grid.
    """
    data = problem.data
    used = observation_scale(data) > 0
    y = np.asarray(data.y, dtype=float)[used]
    task = data.task_index[used]
    low = np.full(data.n_tasks, np.inf)
    high = np.full(data.n_tasks, -np.inf)
    np.minimum.at(low, task, y)
    np.maximum.at(high, task, y)
    seen = np.isfinite(low)
    magnitude = np.maximum(np.abs(low[seen]), np.abs(high[seen]))
    spread = high[seen] - low[seen]
    return bool(np.all(spread <= 4 * np.finfo(float).eps * magnitude))


def _alpha_grid(problem, *, l1_ratio, eps, n_alphas, fit_intercept, intercept_alpha):
    """Log-spaced grid from ``alpha_max`` down to ``eps * alpha_max``."""
    if l1_ratio <= 0:
        raise ValueError(
            "An automatic alpha grid needs l1_ratio > 0: with l1_ratio=0 no alpha "
            "sets every coefficient to zero. Pass alphas explicitly."
        )
    largest, _ = _alpha_max(
        problem.design,
        problem.loss,
        l1_ratio=l1_ratio,
        fit_intercept=fit_intercept,
        intercept_alpha=intercept_alpha,
        n_classes=problem.n_classes,
    )
    resolution = np.finfo(float).resolution
    # As scikit-learn's _alpha_grid (test_uniform_targets): W = 0 is optimal
    # for every alpha, and every grid point is the smallest float resolution.
    constant = (
        fit_intercept
        and problem.loss.name == "squared"
        and _targets_constant_per_task(problem)
    )
    if constant or largest <= resolution:
        return np.full(n_alphas, resolution)
    if not np.isfinite(largest):
        raise ValueError(
            "The automatic alpha grid starts at alpha_max, the largest "
            "correlation of a feature with the targets, which is beyond "
            "float64's range for these features and targets (of extreme "
            "magnitudes). Scale the features and targets (for example with "
            "StandardScaler), or pass alphas explicitly."
        )
    return np.geomspace(largest, largest * eps, num=n_alphas)


def _compute_path(
    problem, alphas, *, l1_ratio, fit_intercept, intercept_alpha, solver, tol, max_iter
):
    """Warm-started solutions along ``alphas`` (in the given order)."""
    coefs, intercepts, gaps = [], [], []
    coef, intercept = None, None
    for alpha in alphas:
        result = _solve(
            problem.data,
            problem.loss,
            alpha=alpha,
            l1_ratio=l1_ratio,
            fit_intercept=fit_intercept,
            intercept_alpha=intercept_alpha,
            targets=problem.targets,
            n_classes=problem.n_classes,
            solver=solver,
            tol=tol,
            max_iter=max_iter,
            coef_init=coef,
            intercept_init=intercept,
            design=problem.design,
        )
        coef, intercept = result.coef, result.intercept
        coefs.append(coef)
        intercepts.append(intercept if fit_intercept else np.zeros_like(intercept))
        gaps.append(result.gap)
    return np.asarray(coefs), np.asarray(intercepts), np.asarray(gaps)


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "y": ["array-like"],
        "task_column": "no_validation",
        "alphas": ["array-like", None],
        "n_alphas": [Interval(Integral, 1, None, closed="left")],
        "eps": [Interval(Real, 0, None, closed="neither")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "loss": [StrOptions({"squared", "logistic"})],
        "fit_intercept": ["boolean"],
        "intercept_alpha": [Interval(Real, 0, None, closed="left")],
        "sample_weight": ["array-like", None],
        "solver": [StrOptions({"auto", "bcd", "fista", "cvxpy"})],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def joint_feature_path(
    X,
    y,
    *,
    task_column=None,
    alphas=None,
    n_alphas=100,
    eps=1e-3,
    l1_ratio=1.0,
    loss="squared",
    fit_intercept=True,
    intercept_alpha=1e-3,
    sample_weight=None,
    solver="auto",
    tol=1e-4,
    max_iter=10_000,
):
    """Solutions of the joint-feature (L2,1) model along a grid of ``alpha``.

    The objective is that of
    :class:`JointFeatureRegressor` (``loss="squared"``) or
    :class:`JointFeatureClassifier` (``loss="logistic"``; multinomial for more
    than two classes)::

        sum_t (1 / n_t) sum_{i in t} s_i loss(y_i, x_i . w_t + b_t)
        + alpha * l1_ratio * sum_j ||W[..., j]||_2
        + (alpha / 2) (1 - l1_ratio) ||W||_F^2
        (+ (intercept_alpha / 2) sum_t ||b_t - b_0||^2, classification only)

    Without ``alphas`` the grid is log-spaced from ``alpha_max``, the smallest
    ``alpha`` whose solution is ``W = 0``, down to ``eps * alpha_max``.
    ``alpha_max = max_j ||sum_i c_i nu_i x_ij|| / l1_ratio`` where ``nu`` is
    the negative loss derivative at ``W = 0`` with the intercepts at their
    optimum and ``c_i = s_i / n_t`` (for ``l1_ratio < 1`` divided by
    ``l1_ratio``, like scikit-learn). Each solution warm-starts the next.

    Read more in the :ref:`User Guide <joint_feature>`.

    Parameters
    ----------
    X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
        Features, plus the task column in long format.
    y : array-like of shape (n_samples,) or (n_samples, n_tasks)
        Targets (classes for ``loss="logistic"``); 2-D in wide format.
    task_column : str, int or None, default=None
        Column of ``X`` holding the task of each row (long format).
    alphas : array-like, default=None
        Values of ``alpha``, used in decreasing order; a grid if None.
    n_alphas : int, default=100
        Grid size when ``alphas`` is None.
    eps : float, default=1e-3
        ``alpha_min / alpha_max`` of the grid.
    l1_ratio : float, default=1.0
        Share of the group norm in the penalty.
    loss : {"squared", "logistic"}, default="squared"
    fit_intercept : bool, default=True
    intercept_alpha : float, default=1e-3
        Tie between task intercepts (``loss="logistic"`` only, ignored for the
        squared loss; see :class:`JointFeatureClassifier`).
    sample_weight : array-like of shape (n_samples,), default=None
    solver : {"auto", "bcd", "fista", "cvxpy"}, default="auto"
    tol : float, default=1e-4
        Duality-gap tolerance of each solve, relative to the objective of the
        intercept-only model.
    max_iter : int, default=10_000
        Iteration limit of each solve.

    Returns
    -------
    alphas : ndarray of shape (n_alphas,)
        Decreasing.
    coefs : ndarray of shape (n_alphas, n_tasks, n_features) or \
(n_alphas, n_tasks, n_classes, n_features)
    intercepts : ndarray of shape (n_alphas, n_tasks) or (n_alphas, n_tasks, n_classes)
    dual_gaps : ndarray of shape (n_alphas,)

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import joint_feature_path
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 4))
    >>> Y = X[:, :2] @ rng.normal(size=(2, 3))
    >>> alphas, coefs, intercepts, gaps = joint_feature_path(X, Y, n_alphas=5)
    >>> coefs.shape
    (5, 3, 4)
    >>> bool(np.all(coefs[0] == 0)), bool(np.any(coefs[1] != 0))
    (True, True)
    """
    if loss == "squared":
        template = JointFeatureRegressor(task_column=task_column)
        intercept_alpha = 0.0
    else:
        template = JointFeatureClassifier(
            task_column=task_column,
            fit_intercept=fit_intercept,
            intercept_alpha=intercept_alpha,
        )
    problem = _validate(
        X,
        y,
        task_column=task_column,
        sample_weight=sample_weight,
        loss=loss,
        template=template,
    )
    if alphas is None:
        alphas = _alpha_grid(
            problem,
            l1_ratio=l1_ratio,
            eps=eps,
            n_alphas=n_alphas,
            fit_intercept=fit_intercept,
            intercept_alpha=intercept_alpha,
        )
    else:
        alphas = np.sort(_check_grid(alphas, "alphas"))[::-1]
    coefs, intercepts, gaps = _compute_path(
        problem,
        alphas,
        l1_ratio=l1_ratio,
        fit_intercept=fit_intercept,
        intercept_alpha=intercept_alpha,
        solver=_resolve_solver(solver, problem.loss),
        tol=tol,
        max_iter=max_iter,
    )
    return alphas, coefs, intercepts, gaps


# --------------------------------------------------------------------------
# cross-validation
# --------------------------------------------------------------------------


def _path_scores(
    coefs, intercepts, template, X_test, y_test, weight_test, score, shared=False
):
    """Score every solution of a path on held-out rows (one value per alpha).

    Rows of tasks absent from the training fold are predicted with the shared
    model (the mean of the task models) if ``shared``, else left out of the
    score.
    """
    predict = check_predict_data(template, X_test, allow_unknown=True)
    n_alphas = coefs.shape[0]
    weight_test = (
        np.ones(predict.X.shape[0]) if weight_test is None else np.asarray(weight_test)
    )
    if predict.layout == "long":
        y_test = np.asarray(y_test).ravel()
        parts = []
        for t, rows in per_task_rows(predict.task_index, coefs.shape[1]):
            scores = _scores(predict.X[rows], coefs[:, t], intercepts[:, t])
            parts.append((scores, y_test[rows], weight_test[rows]))
        unknown = np.flatnonzero(predict.task_index < 0)
        if shared and len(unknown):
            scores = _scores(
                predict.X[unknown], coefs.mean(axis=1), intercepts.mean(axis=1)
            )
            parts.append((scores, y_test[unknown], weight_test[unknown]))
        return score(parts, n_alphas)
    n_tasks = coefs.shape[1]
    scores = _scores(predict.X, coefs, intercepts)  # (n, n_alphas, n_tasks)
    Y = np.asarray(y_test, dtype=object if score.labels else float)
    Y = Y.reshape(len(Y), -1)
    parts = []
    for t in range(n_tasks):
        observed = ~_is_missing(Y[:, t])
        parts.append((scores[observed, :, t], Y[observed, t], weight_test[observed]))
    return score(parts, n_alphas)


def _is_missing(values):
    values = np.asarray(values)
    if values.dtype.kind == "f":
        return np.isnan(values)
    return np.array([v is None or v != v for v in values], dtype=bool)


def _scores(X, coefs, intercepts):
    """``X @ W^T + b`` for every alpha: (n, n_alphas[, n_tasks][, n_classes])."""
    n_features = coefs.shape[-1]
    flat = safe_sparse_dot(X, coefs.reshape(-1, n_features).T, dense_output=True)
    scores = np.asarray(flat).reshape((X.shape[0],) + coefs.shape[:-1])
    return scores + intercepts[None]


class _MeanSquaredError:
    """Pooled weighted mean squared error over the observed test targets."""

    labels = False

    def __call__(self, parts, n_alphas):
        residuals = [
            (scores - np.asarray(y, dtype=float)[:, None], sample_weight)
            for scores, y, sample_weight in parts
        ]
        # Squares of residuals beyond 1e154 overflow: sum them relative to
        # the largest, then scale back (inf only if the mean is beyond float64).
        unit = max((np.max(np.abs(r), initial=0.0) for r, _ in residuals), default=0)
        unit = unit if np.isfinite(unit) and unit > 0 else 1.0
        total, weight = np.zeros(n_alphas), 0.0
        for residual, sample_weight in residuals:
            total += sample_weight @ (residual / unit) ** 2
            weight += sample_weight.sum()
        if weight <= 0:
            return np.full(n_alphas, np.nan)
        with np.errstate(over="ignore"):
            return total / weight * unit**2


class _ClassificationScore:
    """Negative log-loss or accuracy of the held-out labels (higher is better)."""

    labels = True

    def __init__(self, scoring, classes):
        self.scoring = scoring
        self.classes = classes

    def __call__(self, parts, n_alphas):
        total, weight = np.zeros(n_alphas), 0.0
        for scores, y, sample_weight in parts:
            encoded = np.searchsorted(
                self.classes, np.asarray(y, dtype=self.classes.dtype)
            )
            known = (encoded < len(self.classes)) & (
                self.classes[np.minimum(encoded, len(self.classes) - 1)] == y
            )
            scores, encoded = scores[known], encoded[known]
            sample_weight = sample_weight[known]
            if scores.ndim == 2:  # binary: score of classes_[1]
                scores = np.stack([np.zeros_like(scores), scores], axis=-1)
            if self.scoring == "accuracy":
                value = (np.argmax(scores, axis=-1) == encoded[:, None]).astype(float)
            else:
                log_proba = log_softmax(scores, axis=-1)
                picked = np.take_along_axis(log_proba, encoded[:, None, None], axis=-1)[
                    ..., 0
                ]
                value = np.maximum(picked, np.log(1e-15))
            total += sample_weight @ value
            weight += sample_weight.sum()
        return total / weight if weight > 0 else np.full(n_alphas, np.nan)


def _timed_fold_scores(*args):
    """:func:`_fold_scores` and its wall time."""
    start = time.perf_counter()
    scores = _fold_scores(*args)
    return scores, time.perf_counter() - start


def _fold_scores(
    X, y, sample_weight, fold, train, test, config, alphas, l1_ratio, score
):
    """Fit a path on the training rows of fold ``fold`` and score its test rows."""
    template = config["make_template"]()
    try:
        problem = _validate(
            _safe_indexing(X, train),
            _safe_indexing(y, train),
            task_column=config["task_column"],
            sample_weight=None
            if sample_weight is None
            else _safe_indexing(sample_weight, train),
            loss=config["loss"],
            template=template,
            classes=config["classes"],
        )
        coefs, intercepts, _ = _compute_path(
            problem,
            alphas,
            l1_ratio=l1_ratio,
            fit_intercept=config["fit_intercept"],
            intercept_alpha=config["intercept_alpha"],
            solver=config["solver"],
            tol=config["tol"],
            max_iter=config["max_iter"],
        )
    except ValueError as error:  # numpy's LinAlgError included
        raise fold_error(fold, train, error) from error
    return _path_scores(
        coefs,
        intercepts,
        template,
        _safe_indexing(X, test),
        _safe_indexing(y, test),
        None if sample_weight is None else _safe_indexing(sample_weight, test),
        score,
        shared=config["unknown_task"] == "shared",
    )


def _numeric_labels(y):
    """``y`` for the splitter: numbers held in an object array as floats.

    The estimators read such labels as numbers (``None`` as missing), but
    scikit-learn's ``StratifiedKFold`` rejects an object array of numbers as
    of unknown type.
    """
    if getattr(getattr(y, "dtype", None), "kind", None) != "O":
        return y
    try:
        return np.asarray(y, dtype=float)
    except (TypeError, ValueError):
        return y


def fold_error(fold, train, error):
    """A ValueError saying which cross-validation fold could not be fitted."""
    return ValueError(
        f"Cannot fit the training rows of cross-validation fold {fold} "
        f"({len(train)} rows): {error} Every training fold needs the tasks "
        "(and, for classifiers, enough rows of the classes) the model needs: "
        "use fewer folds, a shuffled or stratified splitter (for example "
        "StratifiedKFold, or TaskKFold in long format), or drop the rare "
        "tasks or classes."
    )


def _default_cv(cv, task_column, y, classifier):
    """TaskKFold in long format, else KFold / StratifiedKFold via check_cv."""
    if cv is None or isinstance(cv, Integral):
        n_splits = 5 if cv is None else int(cv)
        if task_column is not None:
            from ..model_selection import TaskKFold

            return TaskKFold(n_splits, task_column=task_column)
        if classifier and len(getattr(y, "shape", ())) == 1:
            return StratifiedKFold(n_splits)
        return KFold(n_splits)
    return check_cv(cv, y, classifier=classifier)


_CV_CONSTRAINTS = {
    "l1_ratio": [Interval(Real, 0, 1, closed="both"), "array-like"],
    "eps": [Interval(Real, 0, None, closed="neither")],
    "n_alphas": [Interval(Integral, 1, None, closed="left")],
    "alphas": [Interval(Integral, 1, None, closed="left"), "array-like", None],
    "fit_intercept": ["boolean"],
    "task_column": "no_validation",
    "cv": ["cv_object"],
    "n_jobs": [Integral, None],
    "tol": [Interval(Real, 0, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "unknown_task": [StrOptions({"error", "shared"})],
}


class _JointFeatureCVMixin(_JointFeatureMixin):
    """Cross-validation over the path, then a refit at the best point."""

    def _l1_ratios(self):
        ratios = np.atleast_1d(np.asarray(self.l1_ratio, dtype=float)).ravel()
        if ratios.size == 0 or np.any((ratios < 0) | (ratios > 1)):
            raise ValueError(
                f"l1_ratio must be a float or a list of floats in [0, 1]; got "
                f"{self.l1_ratio!r}."
            )
        return ratios

    def get_metadata_routing(self):
        """Metadata routing of ``fit``: ``groups`` and the like go to ``cv.split``.

        See scikit-learn's :ref:`sklearn:metadata_routing` user guide; routing
        must be enabled with
        ``sklearn.set_config(enable_metadata_routing=True)``.

        Returns
        -------
        routing : sklearn.utils.metadata_routing.MetadataRouter
        """
        classifier = isinstance(self, ClassifierMixin)
        return cv_router(self, _default_cv(self.cv, self.task_column, None, classifier))

    def _cross_validate(self, X, y, sample_weight, problem, config, score, split):
        ratios = self._l1_ratios()
        if self.alphas is None or isinstance(self.alphas, Integral):
            # An int ``alphas`` is the number of values (scikit-learn >= 1.7).
            n_alphas = self.n_alphas if self.alphas is None else int(self.alphas)
            grids = np.array(
                [
                    _alpha_grid(
                        problem,
                        l1_ratio=ratio,
                        eps=self.eps,
                        n_alphas=n_alphas,
                        fit_intercept=self.fit_intercept,
                        intercept_alpha=config["intercept_alpha"],
                    )
                    for ratio in ratios
                ]
            )
        else:
            alphas = np.sort(_check_grid(self.alphas, "alphas"))[::-1]
            grids = np.tile(alphas, (len(ratios), 1))
        X, y, sample_weight = indexable(X, y, sample_weight)
        cv = _default_cv(
            self.cv, self.task_column, y, isinstance(self, ClassifierMixin)
        )
        folds = list(cv.split(X, _numeric_labels(y), **split))
        results = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(_timed_fold_scores)(
                X, y, sample_weight, k, train, test, config, grids[r], ratios[r], score
            )
            for r in range(len(ratios))
            for k, (train, test) in enumerate(folds)
        )
        path = np.asarray([r[0] for r in results])
        path = path.reshape(len(ratios), len(folds), -1)
        path = np.transpose(path, (0, 2, 1))  # (n_l1_ratio, n_alphas, n_folds)
        # The specialised path times a whole fold: each point gets an equal
        # share of it (scoring included).
        times = np.array([r[1] for r in results]).reshape(len(ratios), len(folds))
        times = np.repeat((times / grids.shape[1])[:, None, :], grids.shape[1], axis=1)
        return ratios, grids, (path, times)

    def _select(self, ratios, grids, path_and_times, higher_is_better):
        path, times = path_and_times
        if np.all(np.isnan(path)):
            raise ValueError(
                "No test row of any cross-validation fold could be scored: "
                "the tasks of the test rows are absent from their training "
                "folds (or no test target is observed). Set "
                "unknown_task='shared' to score them with the shared model, or "
                "use a splitter that keeps every task in every training fold "
                "(for example TaskKFold)."
            )
        with warnings.catch_warnings():
            # A fold without any scored row is NaN and left out of the mean.
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(path, axis=2)
        flat = np.nanargmax(mean) if higher_is_better else np.nanargmin(mean)
        best_ratio, best_alpha = np.unravel_index(flat, mean.shape)
        self._set_common_results(ratios, grids, path, times, higher_is_better)
        self.l1_ratio_ = float(ratios[best_ratio])
        self.alpha_ = float(grids[best_ratio, best_alpha])
        single = np.ndim(self.l1_ratio) == 0
        self.alphas_ = grids[0] if single else grids
        return path[0] if single else path

    def _set_common_results(self, ratios, grids, path, times, higher_is_better):
        """``cv_results_`` and the ``best_*`` attributes of every ``*CV`` class."""
        from ._cv import set_search_results  # _cv imports this module

        n_folds = path.shape[2]
        params = [
            {"alpha": float(alpha), "l1_ratio": float(ratio)}
            for ratio, grid in zip(ratios, grids)
            for alpha in grid
        ]
        # GridSearchCV's convention: higher is better (neg_mean_squared_error).
        scores = path if higher_is_better else -path
        set_search_results(
            self,
            params,
            scores.reshape(-1, n_folds),
            times.reshape(-1, n_folds),
            np.zeros((len(params), n_folds)),
            extra_names=["l1_ratio"],
        )


class JointFeatureRegressorCV(
    MultiTaskRegressorMixin, _JointFeatureCVMixin, BaseEstimator
):
    """Joint-feature regression with ``alpha`` chosen by cross-validation.

    Minimises the objective of :class:`JointFeatureRegressor`::

        sum_t (1 / n_t) sum_{i in t} s_i 0.5 (y_i - x_i . w_t - b_t)^2
        + alpha * l1_ratio * sum_j ||W[:, j]||_2 + (alpha / 2) (1 - l1_ratio) ||W||_F^2

    with ``alpha`` (and ``l1_ratio`` from a list) chosen by the smallest mean
    held-out mean squared error over the folds, on a path of ``alpha`` from
    ``alpha_max`` down to ``eps * alpha_max`` computed with warm starts
    (:func:`joint_feature_path`); the grid of each ``l1_ratio`` comes from the
    whole data, as in scikit-learn's ``MultiTaskElasticNetCV``. Folds run in
    parallel with joblib. Then the model is refitted on all the data.

    Read more in the :ref:`User Guide <joint_feature>`.

    Parameters
    ----------
    l1_ratio : float or list of float, default=1.0
        Share(s) of the group norm in the penalty, in [0, 1].
    eps : float, default=1e-3
        ``alpha_min / alpha_max`` of the grid.
    n_alphas : int, default=100
        Number of ``alpha`` values of the grid.
    alphas : int or array-like, default=None
        Explicit values of ``alpha`` instead of the grid, or an int: the
        number of values of the grid (overrides ``n_alphas``, as in
        scikit-learn >= 1.7).
    fit_intercept : bool, default=True
        Whether to fit one intercept per task.
    intercept_alpha : float, default=0.0
        Strength of the tie of the task intercepts, as in
        :class:`JointFeatureRegressor` (not searched).
    task_column : str, int or None, default=None
        Column of ``X`` that holds the task of each row (long format).
    cv : int, cross-validation generator or iterable, default=None
        ``None`` or an int ``k``: ``k``-fold (5 by default) within every task
        (:class:`~skmtl.model_selection.TaskKFold`) in long format,
        :class:`~sklearn.model_selection.KFold` otherwise. Other values as in
        :func:`~sklearn.model_selection.check_cv`; splitters get ``X`` (with
        its task column) and ``y``.
    n_jobs : int, default=None
        Number of folds (times ``l1_ratio`` values) fitted in parallel.
    solver : {"auto", "bcd", "fista", "cvxpy"}, default="auto"
        See :class:`JointFeatureRegressor`.
    tol : float, default=1e-4
        Duality-gap tolerance of every solve, relative to the objective of
        the intercept-only model.
    max_iter : int, default=10_000
        Iteration limit of every solve.
    unknown_task : {"error", "shared"}, default="error"
        See :class:`JointFeatureRegressor`.

    Attributes
    ----------
    alpha_ : float
        The chosen ``alpha``.
    l1_ratio_ : float
        The chosen ``l1_ratio``.
    alphas_ : ndarray of shape (n_alphas,) or (n_l1_ratio, n_alphas)
        The grid(s), decreasing; 2-D when ``l1_ratio`` is a list.
    cv_results_ : dict of ndarray
        The keys of :class:`~sklearn.model_selection.GridSearchCV`
        (``params``, ``param_alpha``, ``param_l1_ratio``,
        ``split<k>_test_score``, ``mean_test_score``, ``std_test_score``,
        ``rank_test_score``, ``mean_fit_time``, ...), one entry per ``alpha``
        of every ``l1_ratio``; scores are higher-is-better (minus ``mse_path_``). The
        path of a fold is timed as a whole: each point gets an equal share
        in ``mean_fit_time`` (scoring included, ``mean_score_time`` is 0).
    best_index_ : int
        Index of the chosen point in ``cv_results_``.
    best_params_ : dict
        ``{"alpha": alpha_, "l1_ratio": l1_ratio_}``.
    best_score_ : float
        Mean held-out score of the chosen point.
    n_splits_ : int
        Number of folds.
    mse_path_ : ndarray of shape (n_alphas, n_folds) or (n_l1_ratio, n_alphas, n_folds)
        Held-out mean squared error of every ``alpha`` and fold: the
        sample-weighted mean over every observed test target (all tasks
        pooled). Rows of a task absent from a training fold are scored with
        the shared model (the mean of the task models) if
        ``unknown_task="shared"``, else left out; a fold without any scored
        row is ``NaN`` and left out of the mean.
    coef_, intercept_, support_, shared_coef_, shared_intercept_, n_iter_, \
dual_gap_, solver_
        Of the model refitted at ``alpha_``, as in :class:`JointFeatureRegressor`.
    tasks_ : ndarray of shape (n_tasks,)
        Task labels, in the order of the rows of ``coef_``.
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
    JointFeatureRegressor : The model at a fixed ``alpha``.
    joint_feature_path : The path itself.
    sklearn.linear_model.MultiTaskLassoCV : The shared-design special case.

    References
    ----------
    G. Obozinski, B. Taskar and M. I. Jordan. Joint covariate selection and
    joint subspace selection for multiple classification problems.
    Statistics and Computing, 20(2):231-252, 2010.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import JointFeatureRegressorCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(80, 6))
    >>> Y = X[:, :2] @ rng.normal(size=(2, 3)) + 0.1 * rng.normal(size=(80, 3))
    >>> model = JointFeatureRegressorCV(n_alphas=10, cv=3).fit(X, Y)
    >>> model.mse_path_.shape
    (10, 3)
    >>> bool(model.alpha_ < model.alphas_[0]), model.coef_.shape
    (True, (3, 6))
    """

    _parameter_constraints = {
        **_CV_CONSTRAINTS,
        "intercept_alpha": [Interval(Real, 0, None, closed="left")],
        "solver": [StrOptions({"auto", "bcd", "fista", "cvxpy"})],
    }

    def __init__(
        self,
        l1_ratio=1.0,
        *,
        eps=1e-3,
        n_alphas=100,
        alphas=None,
        fit_intercept=True,
        intercept_alpha=0.0,
        task_column=None,
        cv=None,
        n_jobs=None,
        solver="auto",
        tol=1e-4,
        max_iter=10_000,
        unknown_task="error",
    ):
        self.l1_ratio = l1_ratio
        self.eps = eps
        self.n_alphas = n_alphas
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.intercept_alpha = intercept_alpha
        self.task_column = task_column
        self.cv = cv
        self.n_jobs = n_jobs
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.unknown_task = unknown_task

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, **params):
        """Cross-validate the path, then fit at the best ``alpha``.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Features, plus the task column in long format.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            Targets; 2-D in wide format, with ``NaN`` for unobserved targets.
        sample_weight : float or array-like of shape (n_samples,), default=None
            Non-negative row weights ``s_i``; a number weighs every row the
            same (the fit is then that without weights).
        **params : dict
            Metadata routed to the splitter's ``split`` (for example
            ``groups`` for :class:`~sklearn.model_selection.GroupKFold`); only
            with metadata routing enabled
            (``sklearn.set_config(enable_metadata_routing=True)``).

        Returns
        -------
        self : JointFeatureRegressorCV
            The fitted estimator.
        """
        sample_weight = expand_sample_weight(sample_weight, X)
        routed = route_fit_params(self, sample_weight, params)
        problem = _validate(
            X,
            y,
            task_column=self.task_column,
            sample_weight=sample_weight,
            loss="squared",
            template=self,
        )
        intercept_alpha = float(self.intercept_alpha) if self.fit_intercept else 0.0
        solver = _resolve_solver(self.solver, problem.loss, intercept_alpha)
        config = {
            "make_template": lambda: JointFeatureRegressor(
                task_column=self.task_column
            ),
            "task_column": self.task_column,
            "loss": "squared",
            "classes": None,
            "fit_intercept": self.fit_intercept,
            "intercept_alpha": intercept_alpha,
            "solver": solver,
            "tol": self.tol,
            "max_iter": self.max_iter,
            "unknown_task": self.unknown_task,
        }
        ratios, grids, path = self._cross_validate(
            X,
            y,
            sample_weight,
            problem,
            config,
            _MeanSquaredError(),
            routed.splitter.split,
        )
        self.mse_path_ = self._select(ratios, grids, path, higher_is_better=False)
        result = _solve(
            problem.data,
            problem.loss,
            alpha=self.alpha_,
            l1_ratio=self.l1_ratio_,
            fit_intercept=self.fit_intercept,
            intercept_alpha=intercept_alpha,
            solver=solver,
            tol=self.tol,
            max_iter=self.max_iter,
            design=problem.design,
        )
        self._set_result(result, solver, self.fit_intercept)
        # Extreme targets (1e300) overflow the squared residuals: the noise
        # is then infinite, not an error of fit.
        with np.errstate(over="ignore", invalid="ignore"):
            record_source_noise(self, problem.data, "squared")
        return self

    def predict(self, X):
        """Predict with the model of each row's task.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Rows to predict, with the task column in long format.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_tasks)
        """
        check_is_fitted(self, "coef_")
        return self._linear_predictions(X)


class JointFeatureClassifierCV(
    MultiTaskClassifierMixin,
    MultiTaskLinearClassifierMixin,
    _JointFeatureCVMixin,
    BaseEstimator,
):
    """Joint-feature logistic regression with ``alpha`` chosen by cross-validation.

    Minimises the objective of :class:`JointFeatureClassifier`::

        sum_t (1 / n_t) sum_{i in t} s_i loss(y_i, x_i . w_t + b_t)
        + alpha * l1_ratio * sum_j ||W[..., j]||_2
        + (alpha / 2) (1 - l1_ratio) ||W||_F^2
        + (intercept_alpha / 2) sum_t ||b_t - b_0||^2

    with ``alpha`` (and ``l1_ratio`` from a list) chosen by the best mean
    held-out score over the folds, on a warm-started path from ``alpha_max``
    down to ``eps * alpha_max``; then refitted on all the data.

    Read more in the :ref:`User Guide <joint_feature>`.

    Parameters
    ----------
    l1_ratio : float or list of float, default=1.0
        Share(s) of the group norm in the penalty, in [0, 1].
    eps : float, default=1e-2
        ``alpha_min / alpha_max`` of the grid (smaller values reach the
        nearly unregularised, slowly converging end on separable data).
    n_alphas : int, default=10
        Number of ``alpha`` values of the grid (as many as the ``Cs`` of
        scikit-learn's ``LogisticRegressionCV``).
    alphas : int or array-like, default=None
        Explicit values of ``alpha`` instead of the grid, or an int: the
        number of values of the grid (overrides ``n_alphas``, as in
        scikit-learn >= 1.7).
    fit_intercept : bool, default=True
        Whether to fit intercepts.
    intercept_alpha : float, default=1e-3
        Tie between the task intercepts (see :class:`JointFeatureClassifier`).
    task_column : str, int or None, default=None
        Column of ``X`` that holds the task of each row (long format).
    scoring : {"neg_log_loss", "accuracy"}, default="neg_log_loss"
        Held-out score (higher is better): the sample-weighted mean
        log-likelihood of the observed test labels (probabilities clipped at
        ``1e-15``), or the fraction predicted right; labels of all tasks
        pooled.
    cv : int, cross-validation generator or iterable, default=None
        ``None`` or an int ``k``: ``k``-fold (5 by default) within every task
        (:class:`~skmtl.model_selection.TaskKFold`) in long format,
        :class:`~sklearn.model_selection.StratifiedKFold` for one task and
        :class:`~sklearn.model_selection.KFold` in wide format.
    n_jobs : int, default=None
        Number of folds (times ``l1_ratio`` values) fitted in parallel.
    solver : {"auto", "fista", "cvxpy"}, default="auto"
    tol : float, default=1e-4
        Duality-gap tolerance of every solve, relative to the objective of
        the intercept-only model.
    max_iter : int, default=10_000
        Iteration limit of every solve.
    unknown_task : {"error", "shared"}, default="error"
        See :class:`JointFeatureClassifier`.

    Attributes
    ----------
    alpha_ : float
        The chosen ``alpha``.
    l1_ratio_ : float
        The chosen ``l1_ratio``.
    alphas_ : ndarray of shape (n_alphas,) or (n_l1_ratio, n_alphas)
        The grid(s), decreasing.
    cv_results_ : dict of ndarray
        The keys of :class:`~sklearn.model_selection.GridSearchCV`
        (``params``, ``param_alpha``, ``param_l1_ratio``,
        ``split<k>_test_score``, ``mean_test_score``, ``std_test_score``,
        ``rank_test_score``, ``mean_fit_time``, ...), one entry per ``alpha``
        of every ``l1_ratio``; scores are higher-is-better (``scores_``). The
        path of a fold is timed as a whole: each point gets an equal share
        in ``mean_fit_time`` (scoring included, ``mean_score_time`` is 0).
    best_index_ : int
        Index of the chosen point in ``cv_results_``.
    best_params_ : dict
        ``{"alpha": alpha_, "l1_ratio": l1_ratio_}``.
    best_score_ : float
        Mean held-out score of the chosen point.
    n_splits_ : int
        Number of folds.
    scores_ : ndarray of shape (n_alphas, n_folds) or (n_l1_ratio, n_alphas, n_folds)
        Held-out ``scoring`` of every ``alpha`` and fold (higher is better).
        Every fold is fitted with the classes of the whole data (as
        scikit-learn's ``LogisticRegressionCV``): a class absent from a
        training fold gets low probabilities on its test rows. Rows of tasks
        absent from a training fold are handled as in
        :class:`JointFeatureRegressorCV`.
    classes_ : ndarray of shape (n_classes,)
        Class labels, common to all tasks.
    coef_, intercept_, support_, shared_coef_, shared_intercept_, n_iter_, \
dual_gap_, solver_
        Of the model refitted at ``alpha_``, as in :class:`JointFeatureClassifier`.
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
    JointFeatureClassifier : The model at a fixed ``alpha``.
    joint_feature_path : The path itself (``loss="logistic"``).

    References
    ----------
    G. Obozinski, B. Taskar and M. I. Jordan. Joint covariate selection and
    joint subspace selection for multiple classification problems.
    Statistics and Computing, 20(2):231-252, 2010.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import JointFeatureClassifierCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(150, 5))
    >>> scores = X[:, :2] @ rng.normal(size=(2, 3)) + rng.logistic(size=(150, 3))
    >>> Y = (scores > 0).astype(int)
    >>> clf = JointFeatureClassifierCV(n_alphas=8, cv=3).fit(X, Y)
    >>> clf.scores_.shape
    (8, 3)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints = {
        **_CV_CONSTRAINTS,
        "intercept_alpha": [Interval(Real, 0, None, closed="left")],
        "scoring": [StrOptions({"neg_log_loss", "accuracy"})],
        "solver": [StrOptions({"auto", "fista", "cvxpy"})],
    }

    def __init__(
        self,
        l1_ratio=1.0,
        *,
        eps=1e-2,
        n_alphas=10,
        alphas=None,
        fit_intercept=True,
        intercept_alpha=1e-3,
        task_column=None,
        scoring="neg_log_loss",
        cv=None,
        n_jobs=None,
        solver="auto",
        tol=1e-4,
        max_iter=10_000,
        unknown_task="error",
    ):
        self.l1_ratio = l1_ratio
        self.eps = eps
        self.n_alphas = n_alphas
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.intercept_alpha = intercept_alpha
        self.task_column = task_column
        self.scoring = scoring
        self.cv = cv
        self.n_jobs = n_jobs
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
    def fit(self, X, y, sample_weight=None, **params):
        """Cross-validate the path, then fit at the best ``alpha``.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Features, plus the task column in long format.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            Class labels; 2-D in wide (multi-label) format.
        sample_weight : float or array-like of shape (n_samples,), default=None
            Non-negative row weights ``s_i``; a number weighs every row the
            same (the fit is then that without weights).
        **params : dict
            Metadata routed to the splitter's ``split`` (for example
            ``groups`` for :class:`~sklearn.model_selection.GroupKFold`); only
            with metadata routing enabled
            (``sklearn.set_config(enable_metadata_routing=True)``).

        Returns
        -------
        self : JointFeatureClassifierCV
            The fitted estimator.
        """
        shape = getattr(y, "shape", ())
        if self.task_column is None and len(shape) == 2 and shape[1] == 1:
            y = np.ravel(np.asarray(y))
        sample_weight = expand_sample_weight(sample_weight, X)
        routed = route_fit_params(self, sample_weight, params)
        problem = _validate(
            X,
            y,
            task_column=self.task_column,
            sample_weight=sample_weight,
            loss="logistic",
            template=self,
        )
        solver = _resolve_solver(self.solver, problem.loss)
        config = {
            "make_template": lambda: JointFeatureClassifier(
                task_column=self.task_column,
                fit_intercept=self.fit_intercept,
                intercept_alpha=self.intercept_alpha,
            ),
            "task_column": self.task_column,
            "loss": "logistic",
            "classes": problem.classes,
            "fit_intercept": self.fit_intercept,
            "intercept_alpha": self.intercept_alpha,
            "solver": solver,
            "tol": self.tol,
            "max_iter": self.max_iter,
            "unknown_task": self.unknown_task,
        }
        score = _ClassificationScore(self.scoring, problem.classes)
        ratios, grids, path = self._cross_validate(
            X, y, sample_weight, problem, config, score, routed.splitter.split
        )
        self.scores_ = self._select(ratios, grids, path, higher_is_better=True)
        result = _solve(
            problem.data,
            problem.loss,
            alpha=self.alpha_,
            l1_ratio=self.l1_ratio_,
            fit_intercept=self.fit_intercept,
            intercept_alpha=self.intercept_alpha,
            targets=problem.targets,
            n_classes=problem.n_classes,
            solver=solver,
            tol=self.tol,
            max_iter=self.max_iter,
            design=problem.design,
        )
        self._set_result(result, solver, self.fit_intercept)
        # Extreme targets (1e300) overflow the squared residuals: the noise
        # is then infinite, not an error of fit.
        with np.errstate(over="ignore", invalid="ignore"):
            record_source_noise(self, problem.data, problem.loss.name)
        return self
