"""Regularisation path + cross-validation for the penalised linear models.

One engine, in the shape of scikit-learn's ``LinearModelCV``
(docs/architecture.rst): a ``*CV`` class names its base estimator, the
parameter the path runs over, and the extra hyper-parameters searched on a
grid; the engine builds the path from ``alpha_max`` (``alphas`` an int) or
takes it as given (``alphas`` an array), fits it fold by fold with warm
starts (each fit starts from the previous, larger, strength), scores every
point with ``scoring``, and refits the best point on all the data.

Every ``*CV`` class ends with the same result attributes: ``alpha_`` (the
path parameter), ``alphas_`` (the path; one row per combination of the
extra grids when there are any), ``cv_results_`` with the keys of
:class:`~sklearn.model_selection.GridSearchCV` (``params``,
``param_<name>``, ``split<k>_test_score``, ``mean_test_score``,
``std_test_score``, ``rank_test_score``, ``mean_fit_time``, ...),
``best_score_``, ``best_params_``, ``best_index_``, ``n_splits_``, ``<name>_``
for every extra hyper-parameter, and the fitted attributes of the base
estimator (``coef_``, ``intercept_``, ``rank_``, ...).

The contract of a subclass::

    class TraceNormRegressorCV(
        _TraceNormMixin, TransformerMixin, PathCVMixin, PenalizedRegressorMixin,
        BaseEstimator,
    ):
        _estimator_class = TraceNormRegressor
        _path_param = "alpha"          # parameter of the base estimator
        _grid_params = {}              # CV parameter -> (name, base params)

with an ``__init__`` that takes ``alphas``, ``eps``, ``cv``, ``scoring``,
``n_jobs`` and the base estimator's fixed parameters (copied by name). A
two-strength model adds a grid, for example
``{"rank_ratios": ("rank_ratio", lambda alpha, ratio: {"alpha_rank": ratio *
alpha})}``: every ratio gets a path over the first strength with the second
held in proportion. The base estimator provides ``_alpha_max(X, y,
sample_weight)``: the smallest path value whose coefficients are all zero.

Hooks a subclass may override: ``_fold_scores`` (the path of one fold: the
default clones the base estimator with ``warm_start=True`` and fits it down
the path; a model with a faster specialised path replaces it),
``_base_estimator`` (which constructor parameters are copied; by default
every parameter of the base estimator that the ``*CV`` class also has) and
``_path`` (the grid). :func:`set_search_results` sets the common result
attributes from a table of scores, for a class that searches its own way.
"""

import itertools
import time
import warnings
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from scipy.stats import rankdata
from sklearn.base import ClassifierMixin, _fit_context, clone
from sklearn.metrics import check_scoring
from sklearn.utils import _safe_indexing, indexable
from sklearn.utils._param_validation import Interval

from ..utils._routing import cv_router, expand_sample_weight, route_fit_params
from ._joint_feature_path import _default_cv, _numeric_labels

#: Parameters every path-CV class adds to those of its base estimator.
CV_CONSTRAINTS = {
    "alphas": [Interval(Integral, 1, None, closed="left"), "array-like"],
    "eps": [Interval(Real, 0, 1, closed="neither")],
    "cv": ["cv_object"],
    "scoring": [str, callable, None],
    "n_jobs": [Integral, None],
}

_UNUSED_CV_DOC = """alphas : int or array-like, default={alphas}
        Path of the strength ``{path}``: an int gives that many values
        from ``alpha_max`` (the smallest strength with all coefficients
        zero) down to ``eps * alpha_max``, evenly on a log scale; an array
        gives the values.
    eps : float, default=1e-3
        Length of the path for an int ``alphas``: ``alpha_min / alpha_max``.
    cv : int, cross-validation generator or iterable, default=None
        Folds. ``None`` or an int: :class:`~skmtl.model_selection.TaskKFold`
        in long format (every task in every training fold), ``KFold`` (or
        ``StratifiedKFold`` for a 1-D classification target) otherwise.
    scoring : str, callable or None, default=None
        Score of the held-out rows, a scikit-learn scorer; ``None``: the
        estimator's ``score`` (R^2 or accuracy over all tasks).
    n_jobs : int or None, default=None
        Folds (and grid combinations) fitted in parallel (joblib threads)."""


class PathCVMixin:
    """Cross-validation over a regularisation path; see the module docstring."""

    _estimator_class = None
    _path_param = "alpha"
    _grid_params = {}

    def _base_estimator(self):
        names = self._estimator_class().get_params()
        own = self.get_params(deep=False)
        return self._estimator_class(**{k: own[k] for k in names if k in own})

    def _grid_points(self):
        """Every combination of the extra grids, as ``{name: value}`` dicts."""
        lists = []
        for cv_name, (name, _) in self._grid_params.items():
            values = np.atleast_1d(np.asarray(getattr(self, cv_name), dtype=float))
            if values.ndim != 1 or values.size == 0 or np.any(values <= 0):
                raise ValueError(
                    f"{cv_name} must be a positive number or a non-empty list of "
                    f"positive numbers; got {getattr(self, cv_name)!r}."
                )
            lists.append([(name, float(v)) for v in values])
        return [dict(point) for point in itertools.product(*lists)]

    def _base_params(self, path_value, point):
        """Base-estimator parameters of one point of the grid."""
        params = {self._path_param: float(path_value)}
        for _cv_name, (name, mapping) in self._grid_params.items():
            params.update(mapping(path_value, point[name]))
        return params

    def _path(self, base, X, y, sample_weight, point):
        """The decreasing path of ``point``."""
        if isinstance(self.alphas, Integral):
            probe = clone(base).set_params(**self._base_params(1.0, point))
            largest = float(probe._alpha_max(X, y, sample_weight))
            if not np.isfinite(largest) or largest <= 0:
                # Constant targets: nothing to select; a rounding-level grid.
                largest = np.finfo(float).resolution
            return np.geomspace(largest, largest * self.eps, int(self.alphas))
        values = np.asarray(self.alphas, dtype=float).ravel()
        if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError(
                "alphas must be a positive int or a non-empty array of finite "
                f"non-negative numbers; got {self.alphas!r}."
            )
        return np.sort(values)[::-1]

    def get_metadata_routing(self):
        """Metadata routing of ``fit``: ``groups`` and the like go to ``cv.split``.

        See scikit-learn's :ref:`sklearn:metadata_routing` user guide.

        Returns
        -------
        routing : sklearn.utils.metadata_routing.MetadataRouter
        """
        classifier = isinstance(self, ClassifierMixin)
        return cv_router(
            self,
            _default_cv(self.cv, self.task_column, None, classifier),
            check_scoring(self._base_estimator(), self.scoring),
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, **params):
        """Cross-validate the path, then fit the best point on all the data.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Features, plus the task column in long format.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            Targets; 2-D in wide format (``NaN`` for unobserved).
        sample_weight : float or array-like of shape (n_samples,), default=None
            Row weights, for the fits and for scorers that accept them.
        **params : dict
            Metadata routed to the splitter's ``split`` (for example
            ``groups``) and the scorer, with metadata routing enabled.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        routed = route_fit_params(self, sample_weight, params)
        sample_weight = expand_sample_weight(sample_weight, X)
        base = self._base_estimator()
        # Validate the data once, with the estimator's own messages (before
        # scikit-learn's generic length check in ``indexable``).
        clone(base)._check_data(X, y, sample_weight)
        X, y, sample_weight = indexable(X, y, sample_weight)
        points = self._grid_points()
        paths = np.array([self._path(base, X, y, sample_weight, p) for p in points])
        classifier = isinstance(self, ClassifierMixin)
        cv = _default_cv(self.cv, self.task_column, y, classifier)
        folds = list(cv.split(X, _numeric_labels(y), **routed.splitter.split))
        scorer = check_scoring(base, self.scoring)
        score_params = routed.scorer.score
        results = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(self._fold_scores)(
                base,
                X,
                y,
                sample_weight,
                train,
                test,
                paths[g],
                points[g],
                scorer,
                score_params,
            )
            for g in range(len(points))
            for train, test in folds
        )
        self._set_cv_results(points, paths, folds, results)
        best = self.cv_results_["params"][self.best_index_]
        point = {name: best[name] for name, _ in self._grid_params.values()}
        final = clone(base).set_params(
            **self._base_params(best[self._path_param], point)
        )
        final.fit(X, y, sample_weight=sample_weight)
        skip = set(final.get_params())
        # The tasks of an earlier fit_new_tasks are forgotten, as by any fit.
        for key in [key for key in vars(self) if key.startswith("new_task")]:
            delattr(self, key)
        for key, value in vars(final).items():
            if key not in skip:
                setattr(self, key, value)
        return self

    def _set_cv_results(self, points, paths, folds, results):
        n_folds = len(folds)
        scores = np.array([r[0] for r in results]).reshape(len(points), n_folds, -1)
        fit_times = np.array([r[1] for r in results]).reshape(scores.shape)
        score_times = np.array([r[2] for r in results]).reshape(scores.shape)

        def by_point(values):
            # (grid point x alpha) rows, folds in columns.
            return np.transpose(values, (0, 2, 1)).reshape(-1, n_folds)

        params = [
            {self._path_param: float(alpha), **point}
            for point, path in zip(points, paths)
            for alpha in path
        ]
        set_search_results(
            self,
            params,
            by_point(scores),
            by_point(fit_times),
            by_point(score_times),
            path_param=self._path_param,
            extra_names=[name for name, _ in self._grid_params.values()],
        )
        self.alphas_ = paths[0] if not self._grid_params else paths

    def _fold_scores(
        self, base, X, y, sample_weight, train, test, path, point, scorer, params
    ):
        """Hook: scores, fit times and score times of one fold along ``path``.

        The default clones the base estimator with ``warm_start=True`` and fits
        it along the decreasing ``path``; a model with a faster specialised
        path overrides this method (same arguments and return value: three
        lists with one entry per value of ``path``).
        """
        return _fold_path(
            self, base, X, y, sample_weight, train, test, path, point, scorer, params
        )


def set_search_results(
    estimator,
    params,
    scores,
    fit_times,
    score_times,
    *,
    path_param="alpha",
    extra_names=(),
):
    """Set the result attributes shared by every ``*CV`` class.

    Parameters
    ----------
    estimator : object
        The ``*CV`` estimator; gets ``cv_results_``, ``best_index_``,
        ``best_params_``, ``best_score_``, ``n_splits_``, ``alpha_`` and
        ``<name>_`` for every name of ``extra_names``.
    params : list of dict
        One dict of hyper-parameters per candidate.
    scores, fit_times, score_times : ndarray of shape (n_candidates, n_splits)
        Held-out scores (higher is better; ``NaN`` for a fold without any
        scored row) and times of every candidate and fold.
    path_param : str, default="alpha"
        Name of the path parameter, whose best value becomes ``alpha_``.
    extra_names : sequence of str, default=()
        The other hyper-parameters searched.
    """
    if np.all(np.isnan(scores)):
        raise ValueError(
            "No test row of any cross-validation fold could be scored: the "
            "tasks of the test rows are absent from their training folds. "
            "Set unknown_task='shared' to score them with the shared model, "
            "or use a splitter that keeps every task in every training fold "
            "(for example TaskKFold)."
        )
    n_folds = scores.shape[1]
    with warnings.catch_warnings():
        # A fold without any scored row is NaN and left out of the mean.
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(scores, axis=1)
        std = np.nanstd(scores, axis=1)
    results = {"params": [dict(p) for p in params]}
    for name in params[0]:
        # Numeric candidates keep a numeric dtype, as in GridSearchCV.
        values = np.array([p[name] for p in params])
        results[f"param_{name}"] = np.ma.MaskedArray(values, mask=False)
    for k in range(n_folds):
        results[f"split{k}_test_score"] = scores[:, k]
    results["mean_test_score"] = mean
    results["std_test_score"] = std
    ranked = np.where(np.isnan(mean), -np.inf, mean)
    results["rank_test_score"] = rankdata(-ranked, method="min").astype(np.int32)
    for name, times in (("fit", fit_times), ("score", score_times)):
        results[f"mean_{name}_time"] = times.mean(axis=1)
        results[f"std_{name}_time"] = times.std(axis=1)
    estimator.cv_results_ = results
    # The first best candidate: the largest strength among equal scores.
    estimator.best_index_ = int(np.argmax(ranked))
    estimator.best_params_ = dict(params[estimator.best_index_])
    estimator.best_score_ = float(mean[estimator.best_index_])
    estimator.n_splits_ = n_folds
    estimator.alpha_ = estimator.best_params_[path_param]
    for name in extra_names:
        setattr(estimator, f"{name}_", estimator.best_params_[name])


def _fold_path(
    cv_estimator,
    base,
    X,
    y,
    sample_weight,
    train,
    test,
    path,
    point,
    scorer,
    score_params,
):
    """Fit the path on one training fold with warm starts; score every point."""
    estimator = clone(base).set_params(warm_start=True)
    X_train, y_train = _safe_indexing(X, train), _safe_indexing(y, train)
    # Labels held as numbers in an object array are scored as numbers, as the
    # estimators read them.
    X_test, y_test = _safe_indexing(X, test), _numeric_labels(_safe_indexing(y, test))
    weight_train = (
        None if sample_weight is None else _safe_indexing(sample_weight, train)
    )
    test_params = {
        key: _safe_indexing(value, test) if _is_per_row(value, y) else value
        for key, value in score_params.items()
    }
    if not test_params and sample_weight is not None and _accepts_sample_weight(scorer):
        # Without routing, weights weigh the held-out rows as they weigh fit.
        test_params = {"sample_weight": _safe_indexing(sample_weight, test)}
    scores, fit_times, score_times = [], [], []
    for alpha in path:
        estimator.set_params(**cv_estimator._base_params(alpha, point))
        start = time.perf_counter()
        with warnings.catch_warnings():
            # Points far down the path may stop at max_iter; the refit warns.
            warnings.simplefilter("ignore", category=UserWarning)
            estimator.fit(X_train, y_train, sample_weight=weight_train)
        fit_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        try:
            scores.append(float(scorer(estimator, X_test, y_test, **test_params)))
        except ValueError as error:
            if "not seen during fit" not in str(error):
                raise
            # Test rows of tasks absent from this training fold: not scored.
            scores.append(np.nan)
        score_times.append(time.perf_counter() - start)
    return scores, fit_times, score_times


def _is_per_row(value, y):
    return (
        hasattr(value, "__len__")
        and not isinstance(value, str)
        and (len(value) == len(y))
    )


def _accepts_sample_weight(scorer):
    """Whether ``scorer(estimator, X, y, sample_weight=...)`` is accepted."""
    import inspect

    if hasattr(scorer, "_score_func") or getattr(scorer, "__name__", "") == "score":
        return True
    try:
        parameters = inspect.signature(scorer).parameters
    except (TypeError, ValueError):
        return False
    return "sample_weight" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )
