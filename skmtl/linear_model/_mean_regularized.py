"""Mean-regularised multi-task least squares (Evgeniou & Pontil 2004)."""

import inspect
import time
from collections.abc import Hashable
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import check_cv
from sklearn.utils import _safe_indexing, check_array, indexable
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_is_fitted

from .._tasks import check_predict_data, check_task_data, per_task_rows
from ..base import MultiTaskRegressorMixin
from ..losses import SquaredLoss, observation_scale
from ..solvers.closed_form import (
    MeanRegularizedFactorization,
    TiedInterceptFactorization,
    solve_mean_regularized_closed_form,
    tied_closed_form_applies,
)
from ..utils._routing import (
    cv_router,
    expand_sample_weight,
    route_fit_params,
    select_rows,
)
from ._base import MultiTaskLinearMixin
from ._transfer import record_source_noise

#: ``solver="auto"`` uses L-BFGS above this many features: the closed form
#: needs ``p x p`` matrices (memory ``8 p^2`` bytes, time ``O(p^3)``), while an
#: L-BFGS iteration costs one pass over the non-zeros of ``X``.
LBFGS_MIN_FEATURES = 5000


class _MeanRegularizedRegressorBase(
    MultiTaskLinearMixin, MultiTaskRegressorMixin, BaseEstimator
):
    """Prediction, fitted attributes and tags shared by the regressor and CV.

    ``score`` (from :class:`skmtl.base.MultiTaskRegressorMixin`) is the R^2
    pooled over all rows in long format (the *explained variance* of the
    School literature), averaged over tasks on their observed rows in wide
    format.
    """

    def _set_solution(self, shared_coef, coef, intercept):
        self.shared_coef_ = shared_coef
        self.coef_ = coef
        self.intercept_ = intercept
        # Every task weighs the same in the objective, so an unseen task gets
        # the plain average of the task intercepts.
        self.shared_intercept_ = float(np.mean(intercept))

    def predict(self, X):
        """Predict with the model of each row's task.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Rows to predict; in long format with the task column.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_tasks)
            One prediction per row (long and single format), or per row and
            task (wide format). With ``unknown_task="shared"``, rows of tasks
            not seen in ``fit`` get ``x . shared_coef_ + shared_intercept_``.
        """
        check_is_fitted(self)
        return self._linear_predictions(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = True
        return tags


_SHARED_CONSTRAINTS = {
    "fit_intercept": ["boolean"],
    "intercept_alpha": [Interval(Real, 0, None, closed="left")],
    "task_column": [None, Hashable],
    "unknown_task": [StrOptions({"error", "shared"})],
}


class MeanRegularizedRegressor(_MeanRegularizedRegressorBase):
    """Multi-task least squares with tasks pulled towards a shared mean.

    Each task ``t`` has coefficients ``w_t = w_0 + v_t``: a shared mean
    ``w_0`` plus a task deviation ``v_t`` (Evgeniou & Pontil, 2004), and an
    intercept ``b_t``. The objective is::

        sum_t (1 / n_t) sum_{i in t} s_i 0.5 (y_i - x_i . w_t - b_t)^2
        + (alpha / 2) sum_t ||v_t||^2 + (alpha_mean / 2) ||w_0||^2
        + (intercept_alpha / 2) sum_t (b_t - b_0)^2

    minimised also over the shared intercept ``b_0`` (free intercepts with
    the default ``intercept_alpha=0``).

    where ``s_i`` are the sample weights and ``n_t`` the sum of the sample
    weights of task ``t``: every task's data term is a weighted *mean*, so
    every task counts equally whatever its size.

    ``alpha`` is the sharing strength. As ``alpha -> inf`` all tasks use
    ``w_0`` (hard sharing, a pooled model with per-task intercepts); at
    ``alpha = 0`` the tasks are independent least-squares fits. Exact
    correspondences with :class:`sklearn.linear_model.Ridge`:

    - ``alpha -> inf``: ``w_0`` is ``Ridge(alpha=alpha_mean)`` fitted on all
      rows, each centred with its task's weighted means, with
      ``sample_weight = s_i / n_t``; ``b_t = ybar_t - xbar_t . w_0``.
    - ``alpha_mean -> inf``: ``w_0 = 0`` and task ``t`` is
      ``Ridge(alpha=alpha * n_t)`` fitted on its rows with ``sample_weight=s_i``.
    - one task of ``n`` rows (total weight ``n``): ``w = w_0 + v`` minimises
      the data term plus ``(kappa / 2) ||w||^2`` with
      ``kappa = alpha * alpha_mean / (alpha + alpha_mean)``, i.e.
      ``Ridge(alpha=kappa * n)`` with the same sample weights; the shared and
      task parts split ``w`` in the ratio ``alpha : alpha_mean``.

    Read more in the :ref:`User Guide <mean_regularized>`.

    Parameters
    ----------
    alpha : float, default=1.0
        Strength of the pull of every task towards the shared mean (penalty
        on the deviations ``v_t``). Larger values share more.
    alpha_mean : float, default=0.01
        Strength of the ridge penalty on the shared mean ``w_0``. The shared
        mean is estimated from the rows of all tasks, so it needs little
        shrinkage; the default is small but positive so that the solution is
        unique (collinear or constant features, more features than rows).
        On tasks of 100 rows it shrinks the shared mean as much as ``Ridge``'s
        default ``alpha=1.0`` shrinks a fit on them (Ridge sums the squared
        errors, skmtl averages them per task: ``Ridge(alpha=0.01 * n_t)``).
        On School, cross-validated scores hardly depend on it
        (:class:`MeanRegularizedRegressorCV` searches it when it matters).
    fit_intercept : bool, default=True
        Fit an intercept ``b_t`` per task. If False, the data are
        expected to be centred.
    task_column : hashable or None, default=None
        Long format: name (DataFrame) or integer position (array) of the
        column of ``X`` that holds each row's task; ``y`` is 1-D. ``None``:
        wide format (``y`` is 2-D, one column per task, ``NaN`` = not
        observed) or a single task (``y`` is 1-D).
    intercept_alpha : float, default=0.0
        Strength of the tie of the task intercepts ``b_t`` to the shared
        intercept ``b_0`` (>= 0), as in every linear model of skmtl (see the
        :ref:`User Guide <regularization>`). 0: free intercepts; large values:
        one intercept for all tasks. It helps tasks with few rows, and lets
        features that are constant within each task (a school's size, say)
        have a coefficient: with free intercepts they are absorbed by the
        intercepts, and an unseen task cannot use them. When positive, the
        closed form writes the intercept as one more feature (constant
        ``sqrt(alpha / intercept_alpha)``) and needs ``alpha > 0``:
        ``solver="auto"`` picks "lbfgs" for ``alpha = 0``.
    solver : {"auto", "closed_form", "lbfgs", "cvxpy"}, default="auto"
        - "closed_form": exact; one ``p x p`` system plus per-task
          eigendecompositions, cost linear in the number of tasks.
        - "lbfgs": iterative (``skmtl.solvers.lbfgs``); memory linear in the
          number of non-zeros of ``X``, for very many features.
        - "cvxpy": the reference formulation in cvxpy; slow, for checking.
        - "auto": "closed_form" unless ``n_features > 5000``, then "lbfgs".
    tol : float, default=1e-6
        Stopping tolerance of the "lbfgs" solver: a bound on the sup-norm of
        the objective's gradient (see ``skmtl.solvers.lbfgs``). The "cvxpy"
        solver uses ``min(tol, 1e-8)`` as its conic tolerance. The closed form
        is exact and ignores it.
    max_iter : int, default=1000
        Maximum number of iterations of the "lbfgs" solver.
    unknown_task : {"error", "shared"}, default="error"
        What ``predict`` does with rows of a task not seen in ``fit`` (long
        format): raise a ``ValueError`` naming the tasks, or predict them with
        the shared model ``x . shared_coef_ + shared_intercept_``.

    Attributes
    ----------
    coef_ : ndarray of shape (n_tasks, n_features)
        Task coefficients ``w_t = w_0 + v_t``, rows in the order of ``tasks_``.
    intercept_ : ndarray of shape (n_tasks,)
        Task intercepts ``b_t`` (zeros if ``fit_intercept=False``).
    shared_coef_ : ndarray of shape (n_features,)
        The shared mean ``w_0``.
    shared_intercept_ : float
        Unweighted mean of ``intercept_`` (every task weighs the same in the
        objective); the intercept of a task not seen in ``fit``.
    n_iter_ : int
        Iterations of the solver; the closed form, one direct solve, reports 1
        (sklearn's convention that an estimator with ``max_iter`` reports at
        least one iteration).
    solver_ : str
        The solver used.
    tasks_ : ndarray of shape (n_tasks,)
        Task labels seen in ``fit``.
    n_tasks_ : int
        Number of tasks.
    task_column_ : hashable or None
        Resolved task column (name for a DataFrame, position for an array).
    n_features_in_ : int
        Number of features (task column excluded).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names (task column excluded); only when ``X`` has string
        column names.

    See Also
    --------
    MeanRegularizedRegressorCV : Chooses ``alpha`` and ``alpha_mean`` by
        task-aware cross-validation.
    sklearn.linear_model.Ridge : The single-task twin.

    Notes
    -----
    The closed form (``skmtl.solvers.closed_form``) eliminates the intercepts
    by per-task weighted centring, eigendecomposes each task's centred Gram
    matrix (or kernel matrix when the task has fewer rows than features) and
    solves one ``p x p`` system for ``w_0``: time and memory grow linearly
    with the number of tasks; sparse ``X`` is never densified.

    Zero strengths are limits, solved in the minimum-norm sense of
    ``numpy.linalg.lstsq`` where the problem is singular: ``alpha=0`` gives
    every task its own least-squares fit (as ``LinearRegression``), with
    ``shared_coef_ = 0`` if ``alpha_mean > 0`` and, if ``alpha_mean = 0``
    too, the average of the task coefficients; ``alpha_mean=0`` leaves
    ``w_0`` unpenalised (and 0 along directions no task's data sees).

    References
    ----------
    T. Evgeniou and M. Pontil. Regularized multi-task learning. In Proceedings
    of the 10th ACM SIGKDD International Conference on Knowledge Discovery and
    Data Mining (KDD), pages 109-117, 2004.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import MeanRegularizedRegressor
    >>> rng = np.random.default_rng(0)
    >>> task = np.repeat([0, 1, 2], 20)
    >>> features = rng.normal(size=(60, 2))
    >>> y = features @ [1.0, -2.0] + 0.3 * task * features[:, 0] + task
    >>> X = np.column_stack([task, features])
    >>> model = MeanRegularizedRegressor(alpha=0.1, task_column=0).fit(X, y)
    >>> model.coef_.shape, model.shared_coef_.shape
    ((3, 2), (2,))
    >>> model.predict(np.array([[2, 1.0, 0.0]])).round(1)
    array([3.6])
    >>> round(model.score(X, y), 3)
    1.0
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "alpha_mean": [Interval(Real, 0, None, closed="left")],
        "solver": [StrOptions({"auto", "closed_form", "lbfgs", "cvxpy"})],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        **_SHARED_CONSTRAINTS,
    }

    def __init__(
        self,
        alpha=1.0,
        alpha_mean=0.01,
        *,
        fit_intercept=True,
        intercept_alpha=0.0,
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

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the task coefficients, the shared mean and the intercepts.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Features; in long format with the task column.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            Targets: 1-D in long and single format, 2-D with ``NaN`` for
            unobserved targets in wide format.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights ``s_i``.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        data = check_task_data(
            self, X, y, task_column=self.task_column, sample_weight=sample_weight
        )
        solver = self._resolve_solver(data)
        # The iterative solvers warn (ConvergenceWarning) when they miss tol.
        result = self._solve(solver, data)
        self._set_solution(result.extra["shared_coef"], result.coef, result.intercept)
        # One direct solve counts as one iteration (sklearn: n_iter_ >= 1).
        self.n_iter_ = max(int(result.n_iter), 1)
        self.solver_ = solver
        # Extreme targets (1e300) overflow the squared residuals: the noise
        # is then infinite, not an error of fit.
        with np.errstate(over="ignore", invalid="ignore"):
            record_source_noise(self, data, "squared")
        return self

    def _tied(self):
        """Whether the task intercepts are tied (``intercept_alpha > 0``)."""
        return bool(self.fit_intercept and self.intercept_alpha > 0)

    def _resolve_solver(self, data):
        if self._tied() and not tied_closed_form_applies(
            data, float(self.alpha), float(self.intercept_alpha)
        ):
            # The tied closed form writes the intercept as a feature of
            # constant sqrt(alpha / intercept_alpha), tied with strength alpha.
            if self.solver == "closed_form":
                raise ValueError(
                    "solver='closed_form' with tied task intercepts "
                    f"(intercept_alpha={self.intercept_alpha!r}) writes the "
                    "intercept as a feature of constant sqrt(alpha / "
                    "intercept_alpha): it needs alpha > 0 and that constant "
                    "within float64's range of the features' magnitudes; got "
                    f"alpha={self.alpha!r}. Use solver='auto', 'lbfgs' or "
                    "'cvxpy', or set intercept_alpha=0."
                )
            return "lbfgs" if self.solver == "auto" else self.solver
        if self.solver != "auto":
            return self.solver
        if data.n_features > LBFGS_MIN_FEATURES:
            return "lbfgs"
        return "closed_form"

    def _solve(self, solver, data):
        strengths = {"alpha": float(self.alpha), "alpha_mean": float(self.alpha_mean)}
        if solver == "closed_form":
            return solve_mean_regularized_closed_form(
                data,
                fit_intercept=self.fit_intercept,
                intercept_alpha=float(self.intercept_alpha) if self._tied() else 0.0,
                **strengths,
            )
        if solver == "cvxpy":
            from ..solvers.cvxpy import solve_mean_regularized_cvxpy

            return solve_mean_regularized_cvxpy(
                data,
                "squared",
                fit_intercept=self.fit_intercept,
                intercept_alpha=float(self.intercept_alpha) if self._tied() else 0.0,
                tol=min(self.tol, 1e-8),
                **strengths,
            )
        from ..solvers.lbfgs import solve_mean_regularized

        return solve_mean_regularized(
            data,
            SquaredLoss(),
            fit_intercept=self.fit_intercept,
            intercept_penalty=float(self.intercept_alpha) if self._tied() else 0.0,
            tol=self.tol,
            max_iter=self.max_iter,
            **strengths,
        )


def _check_grid(values, name):
    """A grid of penalty strengths as a 1-D float array; a number is one point.

    Raises
    ------
    TypeError
        When ``values`` holds something other than numbers.
    ValueError
        When the grid is empty, not 1-D, or holds NaN, infinite or negative
        values.
    """
    try:
        grid = np.atleast_1d(np.asarray(values, dtype=np.float64))
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{name} must be a sequence of non-negative numbers; got {values!r}."
        ) from error
    problem = None
    if grid.ndim != 1:
        problem = f"an array of shape {grid.shape}"
    elif grid.size == 0:
        problem = "an empty sequence"
    elif not np.all(np.isfinite(grid)):
        problem = "NaN or infinite values"
    elif np.any(grid < 0):
        problem = "negative values"
    if problem is not None:
        raise ValueError(
            f"{name} must be a non-empty 1-D sequence of finite, non-negative "
            f"numbers; got {problem}: {values!r}. Pass for example "
            f"{name}=[0.01, 0.1, 1.0]."
        )
    return grid


class MeanRegularizedRegressorCV(_MeanRegularizedRegressorBase):
    """Mean-regularised multi-task regression with strengths chosen by CV.

    Cross-validates :class:`MeanRegularizedRegressor` over the grid
    ``alphas x alpha_means`` and refits the best pair on all the data. The
    objective is::

        sum_t (1 / n_t) sum_{i in t} s_i 0.5 (y_i - x_i . w_t - b_t)^2
        + (alpha / 2) sum_t ||v_t||^2 + (alpha_mean / 2) ||w_0||^2

    with ``w_t = w_0 + v_t`` (see :class:`MeanRegularizedRegressor` for the
    limits and their mappings to ``Ridge``). Each training fold is factorised
    once (one eigendecomposition per task, as ``RidgeCV`` reuses its SVD);
    every grid point then costs one ``p x p`` eigendecomposition per
    ``alpha`` and diagonal work per task, not a new fit. The scores are those
    :class:`~sklearn.model_selection.GridSearchCV` computes over the same
    folds, and ties go to the first best point in its order (``alpha``
    outer, ``alpha_mean`` inner), so both select the same point.

    Parameters
    ----------
    alphas : array-like of shape (n_alphas,), default=None
        Candidate strengths of the pull towards the shared mean. ``None``:
        17 values, two per decade, from ``1e-5 scale`` (independent tasks) to
        ``1e3 scale`` (one pooled model), where ``scale`` is the mean over
        tasks of the trace of the task's centred Gram matrix
        ``sum_i c_i (x_i - xbar_t)(x_i - xbar_t)^T``, ``c_i = s_i / n_t``
        (the number of features for standardised features), an upper bound
        of its eigenvalues.
    alpha_means : array-like of shape (n_alpha_means,), default=None
        Candidate strengths of the ridge penalty on the shared mean. ``None``:
        the default ``alphas`` times ``n_tasks`` (``w_0`` is fitted on all
        tasks' data): from an unpenalised pooled model to ``w_0 = 0``, where
        every task is the ridge fit ``Ridge(alpha=alpha * n_t)`` of its rows.
        With both defaults, cross-validation can select the pooled model and
        independent per-task ridge fits as well as any sharing in between.
    fit_intercept : bool, default=True
        Fit an intercept per task.
    intercept_alpha : float, default=0.0
        Strength of the tie of the task intercepts, as in
        :class:`MeanRegularizedRegressor` (not searched). When positive, the
        closed form is factorised once per ``alpha`` of the grid instead of
        once per fold (the intercept is a feature whose value depends on
        ``alpha``); a grid with ``alpha = 0`` is fitted point by point with
        L-BFGS.
    task_column : hashable or None, default=None
        Column of ``X`` holding each row's task (long format); ``None`` for
        wide or single-task data. See :class:`MeanRegularizedRegressor`.
    cv : int, cross-validation generator or iterable, default=None
        ``None`` or an int ``k``: ``skmtl.model_selection.TaskKFold(k,
        task_column=task_column)`` (5 folds for ``None``): in long format the
        rows of every task are split, so that every task is in every training
        and test fold; in wide and single format this is ``KFold(k)``.
        A splitter or an iterable of ``(train, test)`` index arrays is used
        as given (see :func:`sklearn.model_selection.check_cv`); every task
        of a test fold must then be in its training fold unless
        ``unknown_task="shared"``.
    scoring : str or callable, default=None
        ``None``: the estimator's :meth:`score` (pooled R^2 in long format).
        A scorer name or callable as for ``GridSearchCV``.
    unknown_task : {"error", "shared"}, default="error"
        What ``predict`` does with rows of tasks not seen in ``fit``.

    Attributes
    ----------
    alpha_ : float
        Selected ``alpha``.
    alpha_mean_ : float
        Selected ``alpha_mean``.
    alphas_ : ndarray of shape (n_alphas,)
        The grid of ``alpha`` searched.
    alpha_means_ : ndarray of shape (n_alpha_means,)
        The grid of ``alpha_mean`` searched.
    best_score_ : float
        Mean cross-validated score of the selected pair.
    best_params_ : dict
        ``{"alpha": alpha_, "alpha_mean": alpha_mean_}``.
    best_index_ : int
        Index of the selected pair in ``cv_results_``.
    n_splits_ : int
        Number of folds.
    cv_results_ : dict of ndarrays
        As ``GridSearchCV.cv_results_``: ``params``, ``param_alpha``,
        ``param_alpha_mean``, ``split{k}_test_score``, ``mean_test_score``,
        ``std_test_score``, ``rank_test_score``, ``mean_fit_time``,
        ``std_fit_time``, ``mean_score_time``, ``std_score_time``. One
        factorisation per fold serves every pair: each pair gets an equal
        share of the fold's time in ``mean_fit_time`` (scoring included;
        ``mean_score_time`` is 0).
    coef_ : ndarray of shape (n_tasks, n_features)
        Task coefficients refitted on all data with the selected strengths.
    intercept_ : ndarray of shape (n_tasks,)
        Task intercepts.
    shared_coef_ : ndarray of shape (n_features,)
        Shared mean ``w_0``.
    shared_intercept_ : float
        Unweighted mean of ``intercept_``.
    n_iter_ : int
        1: the refit is one exact, direct solve.
    solver_ : str
        ``"closed_form"``.
    tasks_ : ndarray of shape (n_tasks,)
        Task labels seen in ``fit``.
    n_tasks_ : int
        Number of tasks.
    task_column_ : hashable or None
        Resolved task column.
    n_features_in_ : int
        Number of features (task column excluded).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names (task column excluded); only when ``X`` has string
        column names.

    See Also
    --------
    MeanRegularizedRegressor : The model with fixed strengths.
    sklearn.linear_model.RidgeCV : The single-task twin.

    References
    ----------
    T. Evgeniou and M. Pontil. Regularized multi-task learning. In Proceedings
    of the 10th ACM SIGKDD International Conference on Knowledge Discovery and
    Data Mining (KDD), pages 109-117, 2004.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import MeanRegularizedRegressorCV
    >>> rng = np.random.default_rng(0)
    >>> task = np.repeat([0, 1, 2], 30)
    >>> features = rng.normal(size=(90, 3))
    >>> y = features @ [1.0, -2.0, 0.5] + 0.2 * task * features[:, 0]
    >>> y = y + 0.1 * rng.normal(size=90)
    >>> X = np.column_stack([task, features])
    >>> model = MeanRegularizedRegressorCV(task_column=0).fit(X, y)
    >>> model.alphas_.shape, model.alpha_means_.shape  # grids from the data
    ((17,), (17,))
    >>> round(model.alpha_, 3), round(model.alpha_mean_, 4)
    (0.094, 0.0028)
    >>> model.best_params_ == {"alpha": model.alpha_, "alpha_mean": model.alpha_mean_}
    True
    >>> model.coef_.shape
    (3, 3)
    """

    _parameter_constraints: dict = {
        "alphas": ["array-like", None],
        "alpha_means": ["array-like", None],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        **_SHARED_CONSTRAINTS,
    }

    def __init__(
        self,
        alphas=None,
        alpha_means=None,
        *,
        fit_intercept=True,
        intercept_alpha=0.0,
        task_column=None,
        cv=None,
        scoring=None,
        unknown_task="error",
    ):
        self.alphas = alphas
        self.alpha_means = alpha_means
        self.fit_intercept = fit_intercept
        self.intercept_alpha = intercept_alpha
        self.task_column = task_column
        self.cv = cv
        self.scoring = scoring
        self.unknown_task = unknown_task

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, **params):
        """Cross-validate the grid of strengths, then refit the best pair.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Features; in long format with the task column.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            Targets (2-D with ``NaN`` for unobserved targets in wide format).
        sample_weight : float or array-like of shape (n_samples,), default=None
            Row weights, used by every fit and by the test scores when the
            scorer accepts them (as ``GridSearchCV`` does since scikit-learn
            1.7). A number weighs every row the same (the fit is then that
            without weights).
        **params : dict
            Metadata routed to the splitter's ``split`` (for example
            ``groups`` for :class:`~sklearn.model_selection.GroupKFold`) and
            to the scorer's ``score``; only with metadata routing enabled
            (``sklearn.set_config(enable_metadata_routing=True)``).

        Returns
        -------
        self : object
            Fitted estimator.
        """
        sample_weight = expand_sample_weight(sample_weight, X)
        routed = route_fit_params(self, sample_weight, params)
        data = check_task_data(
            self, X, y, task_column=self.task_column, sample_weight=sample_weight
        )
        self.alphas_, self.alpha_means_ = self._grids(data)
        X, y, sample_weight = indexable(X, y, sample_weight)
        splits = list(self._check_cv().split(X, y, **routed.splitter.split))
        score_params = self._score_params(sample_weight, routed)
        # With tied intercepts the closed form needs every alpha > 0 (and
        # within float64's range of the features); else L-BFGS per point.
        self._closed_form_grid = not self._tied() or all(
            tied_closed_form_applies(data, alpha, float(self.intercept_alpha))
            for alpha in self.alphas_
        )
        scores = np.empty((len(self.alphas_) * len(self.alpha_means_), len(splits)))
        times = np.empty_like(scores)
        for k, (train, test) in enumerate(splits):
            start = time.perf_counter()
            scores[:, k] = self._fold_scores(
                X, y, sample_weight, k, train, test, score_params
            )
            # One factorisation serves every pair of a fold: each pair gets
            # an equal share of the fold's time (scoring included).
            times[:, k] = (time.perf_counter() - start) / len(scores)
        self._set_search_results(scores, times)
        if self._tied() and not tied_closed_form_applies(
            data, self.alpha_, float(self.intercept_alpha)
        ):
            model = self._fold_model().set_params(
                alpha=self.alpha_, alpha_mean=self.alpha_mean_, solver="lbfgs"
            )
            model.fit(X, y, sample_weight=sample_weight)
            self._set_solution(model.shared_coef_, model.coef_, model.intercept_)
            self.n_iter_, self.solver_ = model.n_iter_, model.solver_
        else:
            factorization = self._factorization(data)
            self._set_solution(*factorization.solve(self.alpha_, self.alpha_mean_))
            self.n_iter_ = 1
            self.solver_ = "closed_form"
        # Extreme targets (1e300) overflow the squared residuals: the noise
        # is then infinite, not an error of fit.
        with np.errstate(over="ignore", invalid="ignore"):
            record_source_noise(self, data, "squared")
        return self

    def _tied(self):
        """Whether the task intercepts are tied (``intercept_alpha > 0``)."""
        return bool(self.fit_intercept and self.intercept_alpha > 0)

    def _factorization(self, data):
        """The closed form of ``data``, serving every grid point with ``alpha > 0``
        (and every grid point when the intercepts are free)."""
        if self._tied():
            return TiedInterceptFactorization(
                data, intercept_alpha=float(self.intercept_alpha)
            )
        return MeanRegularizedFactorization(data, fit_intercept=self.fit_intercept)

    def _set_search_results(self, scores, times):
        """The result attributes common to every ``*CV`` class."""
        from ._cv import set_search_results  # _cv imports the linear models

        params = [
            {"alpha": float(alpha), "alpha_mean": float(alpha_mean)}
            for alpha in self.alphas_
            for alpha_mean in self.alpha_means_
        ]
        set_search_results(
            self,
            params,
            scores,
            times,
            np.zeros_like(times),
            extra_names=["alpha_mean"],
        )

    def _grids(self, data):
        """The ``alpha`` and ``alpha_mean`` grids: given, or from the data.

        The default grids reach both limits of the model (see the class
        docstring), relative to ``scale``, the mean over tasks of the trace of
        the task's (centred) Gram matrix ``sum_i c_i x_i x_i^T``, an upper
        bound of its eigenvalues: ``alpha`` from ``1e-5 scale`` (deviations
        nearly free: independent tasks) to ``1e3 scale`` (deviations shrunk
        to about ``1e-3`` of their free value: one pooled model), and
        ``alpha_mean`` over the same range times ``n_tasks`` (``w_0`` is fitted
        on the data of all tasks; at the top of the range it is about zero,
        and the tasks are independent ridge fits with strength ``alpha``).
        """
        if self.alphas is not None:
            alphas = _check_grid(self.alphas, "alphas")
        else:
            alphas = _DEFAULT_RANGE * _gram_scale(data, self.fit_intercept)
        if self.alpha_means is not None:
            alpha_means = _check_grid(self.alpha_means, "alpha_means")
        else:
            scale = _gram_scale(data, self.fit_intercept)
            alpha_means = _DEFAULT_RANGE * data.n_tasks * scale
        return alphas, alpha_means

    def get_metadata_routing(self):
        """Metadata routing of ``fit``: to ``cv.split`` and to the scorer.

        See scikit-learn's :ref:`sklearn:metadata_routing` user guide; routing
        must be enabled with
        ``sklearn.set_config(enable_metadata_routing=True)``. With the default
        ``scoring=None`` the test scores use the ``sample_weight`` of ``fit``.

        Returns
        -------
        routing : sklearn.utils.metadata_routing.MetadataRouter
        """
        scorer = None
        if self.scoring is not None:
            scorer = check_scoring(self._fold_model(), scoring=self.scoring)
        return cv_router(self, self._check_cv(), scorer)

    def _score_params(self, sample_weight, routed):
        """Metadata of the test scores (all rows; each fold takes its own)."""
        if self.scoring is not None and routed.scorer.score:
            return dict(routed.scorer.score)
        if sample_weight is None:
            return {}
        scorer = check_scoring(self._fold_model(), scoring=self.scoring)
        if self.scoring is None or _accepts_sample_weight(scorer):
            return {"sample_weight": sample_weight}
        return {}

    def _check_cv(self):
        if self.cv is None or isinstance(self.cv, Integral):
            from ..model_selection import TaskKFold

            n_splits = 5 if self.cv is None else int(self.cv)
            return TaskKFold(n_splits, task_column=self.task_column)
        return check_cv(self.cv)

    def _fold_model(self):
        return MeanRegularizedRegressor(
            fit_intercept=self.fit_intercept,
            intercept_alpha=self.intercept_alpha,
            task_column=self.task_column,
            unknown_task=self.unknown_task,
            solver="closed_form",
        )

    def _tied_fold_scores(self, X, y, sample_weight, fold, train, test, score_params):
        """Test scores of one fold, one L-BFGS fit per grid point.

        For tied intercepts and a grid with ``alpha = 0``, which the tied
        closed form cannot serve.
        """
        model = self._fold_model().set_params(solver="lbfgs")
        weight = None if sample_weight is None else _safe_indexing(sample_weight, train)
        X_train, y_train = _safe_indexing(X, train), _safe_indexing(y, train)
        X_test, y_test = _safe_indexing(X, test), _safe_indexing(y, test)
        scorer = check_scoring(model, scoring=self.scoring)
        score_params = select_rows(X, score_params, test)
        scores = []
        for alpha in self.alphas_:
            for alpha_mean in self.alpha_means_:
                model.set_params(alpha=float(alpha), alpha_mean=float(alpha_mean))
                try:
                    model.fit(X_train, y_train, sample_weight=weight)
                except ValueError as error:
                    raise _fold_error(fold, train, error) from error
                scores.append(scorer(model, X_test, y_test, **score_params))
        return scores

    def _fold_scores(self, X, y, sample_weight, fold, train, test, score_params):
        """Test scores of one fold for the whole grid, ``alpha`` outer."""
        if not self._closed_form_grid:
            return self._tied_fold_scores(
                X, y, sample_weight, fold, train, test, score_params
            )
        model = self._fold_model()
        try:
            data = check_task_data(
                model,
                _safe_indexing(X, train),
                _safe_indexing(y, train),
                task_column=self.task_column,
                sample_weight=None
                if sample_weight is None
                else _safe_indexing(sample_weight, train),
            )
            factorization = self._factorization(data)
        except ValueError as error:  # numpy's LinAlgError included
            raise _fold_error(fold, train, error) from error
        X_test, y_test = _safe_indexing(X, test), _safe_indexing(y, test)
        scorer = check_scoring(model, scoring=self.scoring)
        score_params = select_rows(X, score_params, test)
        fast_targets = self._fast_score_targets(y_test)
        if fast_targets is not None:
            predict_data = check_predict_data(
                model, X_test, allow_unknown=self.unknown_task == "shared"
            )
        model.n_iter_, model.solver_ = 1, "closed_form"
        scores = []
        for alpha in self.alphas_:
            path = factorization.solve_path(alpha, self.alpha_means_)
            if fast_targets is not None:
                predictions = _path_predictions(predict_data, *path)
                scores.extend(_r2_path(fast_targets, predictions, **score_params))
                continue
            for j, alpha_mean in enumerate(self.alpha_means_):
                model.set_params(alpha=float(alpha), alpha_mean=float(alpha_mean))
                model._set_solution(path[0][j], path[1][j], path[2][j])
                scores.append(scorer(model, X_test, y_test, **score_params))
        return scores

    def _fast_score_targets(self, y_test):
        """Test targets as a 2-D float array if the vectorised R^2 applies.

        That is the default scoring (``score``, an R^2) when every task has
        either no or at least two observed test targets; a task without test
        targets is left out of the fold's score, as
        :func:`skmtl.metrics.task_averaged_score` leaves out tasks without a
        score. Otherwise ``None`` and the scorer is called per grid point,
        exactly as GridSearchCV would.
        """
        if self.scoring is not None:
            return None
        targets = check_array(
            y_test, ensure_2d=False, ensure_all_finite="allow-nan", input_name="y"
        )
        targets = targets.reshape(len(targets), -1)
        counts = np.sum(~np.isnan(targets), axis=0)
        if np.any(counts == 1) or not np.any(counts):
            return None
        return targets


#: Default grids, relative to the scale of the data (see ``_grids``).
_DEFAULT_RANGE = np.logspace(-5, 3, 17)


def _gram_scale(data, fit_intercept):
    """Mean over tasks of ``trace(sum_i c_i (x_i - xbar_t)(x_i - xbar_t)^T)``.

    ``c_i = s_i / n_t``; without intercept the rows are not centred. Computed
    on ``X / max|X|`` to stay finite; 1 when the features are constant (any
    strength then gives the same model).
    """
    X = data.X if data.row_index is None else data.X[data.row_index]
    largest = abs(X).max() if X.shape[0] else 0.0
    if not np.isfinite(largest) or largest == 0:
        return 1.0
    X = X / largest
    scale = observation_scale(data)
    squares = X.multiply(X).sum(axis=1) if sp.issparse(X) else np.sum(X * X, axis=1)
    traces = np.bincount(
        data.task_index,
        weights=scale * np.asarray(squares).ravel(),
        minlength=data.n_tasks,
    )
    if fit_intercept:
        weights = sp.csr_matrix(
            (scale, (data.task_index, np.arange(len(scale)))),
            shape=(data.n_tasks, X.shape[0]),
        )
        means = np.asarray(safe_sparse_dot(weights, X, dense_output=True))
        traces = traces - np.sum(means * means, axis=1)
    with np.errstate(over="ignore", under="ignore"):
        result = np.mean(traces) * np.float64(largest) ** 2
    # Beyond float64's range the strengths that matter are not representable.
    return float(result) if np.isfinite(result) and result > 0 else 1.0


def _fold_error(fold, train, error):
    """A ValueError saying which cross-validation fold could not be fitted."""
    return ValueError(
        f"Cannot fit the training rows of cross-validation fold {fold} "
        f"({len(train)} rows): {error} Every training fold needs every task: "
        "use fewer folds, a shuffled splitter, or TaskKFold in long format."
    )


def _accepts_sample_weight(scorer):
    """Whether GridSearchCV would pass ``sample_weight`` to this scorer."""
    accepts = getattr(scorer, "_accept_sample_weight", None)
    if accepts is not None:
        return accepts()
    return "sample_weight" in inspect.signature(scorer).parameters


def _path_predictions(predict_data, shared_coef, coef, intercept):
    """Predictions of every path point, shape (n_path, n_samples, n_outputs).

    The vectorised counterpart of ``predict`` for the models of one
    :meth:`MeanRegularizedFactorization.solve_path` call.
    """
    X = predict_data.X
    n_path, n_tasks, n_features = coef.shape
    if predict_data.layout == "wide":
        flat = safe_sparse_dot(
            X, coef.reshape(n_path * n_tasks, n_features).T, dense_output=True
        ) + intercept.reshape(-1)
        return flat.reshape(X.shape[0], n_path, n_tasks).transpose(1, 0, 2)
    if predict_data.layout == "single":
        predictions = safe_sparse_dot(X, coef[:, 0, :].T, dense_output=True)
        return (predictions + intercept[:, 0]).T[:, :, None]
    # Long format; the shared model is appended as task n_tasks, for the rows
    # of unknown tasks (index -1).
    all_coef = np.concatenate([coef, shared_coef[:, None, :]], axis=1)
    all_intercept = np.column_stack([intercept, intercept.mean(axis=1)])
    task_index = np.where(predict_data.task_index < 0, n_tasks, predict_data.task_index)
    predictions = np.empty((n_path, X.shape[0]))
    if sp.issparse(X):
        for t, rows in per_task_rows(task_index, n_tasks + 1):
            predictions[:, rows] = (
                safe_sparse_dot(all_coef[:, t, :], X[rows].T, dense_output=True)
                + all_intercept[:, t, None]
            )
        return predictions[:, :, None]
    # Dense: gather every row's coefficients, in chunks of bounded memory.
    step = max(1, 2**20 // (n_path * n_features))
    for start in range(0, X.shape[0], step):
        rows = slice(start, start + step)
        index = task_index[rows]
        predictions[:, rows] = (
            np.einsum("ip,mip->mi", X[rows], all_coef[:, index])
            + all_intercept[:, index]
        )
    return predictions[:, :, None]


def _r2_path(targets, predictions, sample_weight=None):
    """``r2_score`` (observed targets, uniform average) of every path point.

    Parameters
    ----------
    targets : ndarray of shape (n_samples, n_outputs)
        ``NaN`` marks an unobserved target.
    predictions : ndarray of shape (n_path, n_samples, n_outputs)
    sample_weight : ndarray of shape (n_samples,), default=None

    Returns
    -------
    scores : ndarray of shape (n_path,)
    """
    observed = ~np.isnan(targets)
    # Tasks without test targets have no score (task_averaged_score's rule).
    scored = observed.any(axis=0)
    targets, predictions = targets[:, scored], predictions[:, :, scored]
    observed = observed[:, scored]
    weight = np.ones(len(targets)) if sample_weight is None else sample_weight
    weight = np.where(observed, np.asarray(weight, dtype=np.float64)[:, None], 0.0)
    filled = np.where(observed, targets, 0.0)
    # R^2 is scale-free: in units of the largest target, squares of targets
    # of extreme magnitude do not overflow.
    unit = np.max(np.abs(filled), initial=0.0)
    if np.isfinite(unit) and unit > 0:
        filled, predictions = filled / unit, predictions / unit
    residuals = filled - predictions
    with np.errstate(over="ignore"):
        numerator = np.sum(weight * residuals * residuals, axis=1)
    means = np.sum(weight * filled, axis=0) / np.sum(weight, axis=0)
    deviations = filled - means
    denominator = np.sum(weight * deviations * deviations, axis=0)
    # sklearn's force_finite convention: 1 for a perfect fit of a constant,
    # 0 for an imperfect one.
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = 1.0 - numerator / denominator
    constant = denominator == 0
    scores[:, constant] = np.where(numerator[:, constant] == 0, 1.0, 0.0)
    scores[numerator == 0] = 1.0
    return scores.mean(axis=1)
