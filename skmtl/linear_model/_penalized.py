"""What every penalised multi-task linear model shares: one fit for any penalty.

A model of this family is a penalty of :mod:`skmtl.penalties` plus a thin
estimator (docs/architecture.rst): the estimator names its parameters and
builds its penalty in ``_penalty()``; :class:`PenalizedRegressorMixin` and
:class:`PenalizedClassifierMixin` validate the data, choose the loss, call
the solver (:mod:`skmtl.solvers.fista`, or the cvxpy reference), and set the
fitted attributes every linear model has. A decomposition ``W = P + Q``
names the attributes of its blocks in ``_block_attributes``.

The objective (docs/user_guide/regularization.rst)::

    sum_t (1 / n_t) sum_{i in t} s_i loss(y_i, x_i . w_t + b_t) + penalty(W)
    + (intercept_alpha / 2) sum_t ||b_t - b_0||^2

with ``b_0`` free: by default free intercepts for the regressors
(``intercept_alpha = 0``) and tied ones for the classifiers
(``intercept_alpha = 1e-3``), as every linear model of skmtl.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import svd_flip
from sklearn.utils.validation import check_is_fitted, column_or_1d

from .._tasks import check_predict_data, check_task_data
from ..base import MultiTaskClassifierMixin, MultiTaskRegressorMixin
from ..losses import SquaredLoss
from ..solvers import admm, fista, prox_newton, quadratic
from ..solvers._design import (
    fit_intercepts,
    generalized_residual,
    make_design,
    zero_coef,
)
from ._base import MultiTaskLinearClassifierMixin, MultiTaskLinearMixin
from ._joint_feature import _check_every_class_seen, _classification_problem
from ._transfer import record_source_noise

#: A strength (>= 0).
STRENGTH = [Interval(Real, 0, None, closed="left")]

#: Parameter constraints every penalised model shares.
COMMON_CONSTRAINTS = {
    "fit_intercept": ["boolean"],
    "intercept_alpha": STRENGTH,
    "task_column": "no_validation",
    "solver": [StrOptions({"auto", "admm", "fista", "cvxpy"})],
    "tol": [Interval(Real, 0, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "warm_start": ["boolean"],
    "unknown_task": [StrOptions({"error", "shared"})],
}

#: Constraints of the classifiers: no Gram-form ADMM.
CLASSIFIER_CONSTRAINTS = {
    **COMMON_CONSTRAINTS,
    "solver": [StrOptions({"auto", "prox_newton", "fista", "cvxpy"})],
}

#: Most features for which ``solver="auto"`` picks ADMM (regressors).
ADMM_MAX_FEATURES = 100

#: Top of the path of a smooth penalty, relative to the data term's curvature
#: (:class:`SmoothPathMixin`).
SMOOTH_PATH_TOP = 1e3

#: Relative size under which a singular value counts as zero in ``rank_``.
RANK_TOLERANCE = 1e-10


class _PenalizedMixin(MultiTaskLinearMixin):
    """Fit and fitted attributes of a model ``loss + penalty(W)``."""

    #: Fitted attributes of the coefficient blocks, in the penalty's order.
    _block_attributes = ("coef_",)

    def _penalty(self):
        raise NotImplementedError

    def _intercept_alpha(self):
        """Strength of the tie of the task intercepts (0 without intercepts)."""
        return float(self.intercept_alpha) if self.fit_intercept else 0.0

    def _warm_start_init(self, shape):
        """The previous blocks and intercepts when they fit ``shape``."""
        if not self.warm_start or not hasattr(self, "coef_"):
            return None, None
        blocks = [getattr(self, name) for name in self._block_attributes]
        if len(blocks) > 1:
            blocks = np.stack(blocks)
        else:
            blocks = np.asarray(blocks[0])
        if blocks.shape != shape:
            return None, None
        return np.array(blocks, dtype=float), np.array(self.intercept_, dtype=float)

    def _fit_problem(self, data, loss, targets=None, n_classes=None):
        """Solve the problem of ``data`` and set the fitted attributes."""
        penalty = self._penalty()
        multiclass = bool(loss.multiclass)
        n_classes = n_classes if multiclass else None
        W_shape = (
            (data.n_tasks,) + ((n_classes,) if n_classes else ()) + (data.n_features,)
        )
        coef_init, intercept_init = self._warm_start_init(penalty.blocks_shape(W_shape))
        options = dict(
            fit_intercept=self.fit_intercept,
            intercept_alpha=self._intercept_alpha(),
            targets=targets,
            n_classes=n_classes,
        )
        solver = self._resolve_solver(data, loss)
        if solver == "cvxpy":
            from ..solvers.cvxpy import solve_cvxpy

            result = solve_cvxpy(data, loss, penalty, **options)
        elif solver == "prox_newton":
            result = prox_newton.solve(
                data,
                loss,
                penalty,
                tol=self.tol,
                max_iter=self.max_iter,
                coef_init=coef_init,
                intercept_init=intercept_init,
                **options,
            )
        elif solver == "exact":
            result = quadratic.solve(
                data,
                penalty,
                fit_intercept=self.fit_intercept,
                tol=self.tol,
                max_iter=self.max_iter,
                coef_init=coef_init,
            )
        elif solver == "admm":
            result = admm.solve(
                data,
                penalty,
                fit_intercept=self.fit_intercept,
                tol=self.tol,
                max_iter=self.max_iter,
                coef_init=coef_init,
            )
        else:
            result = fista.solve(
                data,
                loss,
                penalty=penalty,
                tol=self.tol,
                max_iter=self.max_iter,
                coef_init=coef_init,
                intercept_init=intercept_init,
                **options,
            )
        blocks = result.extra.get("blocks", [result.coef])
        for name, block in zip(self._block_attributes, blocks):
            setattr(self, name, np.asarray(block, dtype=float))
        self.coef_ = np.asarray(result.coef, dtype=float)
        intercept = np.asarray(result.intercept, dtype=float)
        self.intercept_ = intercept if self.fit_intercept else np.zeros_like(intercept)
        self.n_iter_ = int(result.n_iter)
        self.dual_gap_ = float(result.gap)
        self.solver_ = solver
        self.shared_coef_ = self.coef_.mean(axis=0)
        self.shared_intercept_ = self.intercept_.mean(axis=0)
        self._set_structure()
        # Extreme targets (1e300) overflow the squared residuals: the noise
        # is then infinite, not an error of fit.
        with np.errstate(over="ignore", invalid="ignore"):
            record_source_noise(self, data, loss.name)
        return self

    def _set_structure(self):
        """Model-specific fitted attributes (rank, outlier tasks, ...)."""

    def _resolve_solver(self, data, loss):
        """The solver ``"auto"`` stands for, or the one asked for if it applies.

        Squared loss: ADMM in Gram form with at most
        :data:`ADMM_MAX_FEATURES` features and Gram matrices no larger than
        the data, else FISTA. Logistic loss: proximal Newton (whose steps are
        such ADMM problems) under the same condition, else FISTA.
        Multinomial loss: FISTA. ADMM's set-up (a Gram matrix and an
        eigendecomposition per task) costs about ``n_features / 2`` FISTA
        iterations; its iterations are then cheap and insensitive to poorly
        conditioned features, where FISTA may need thousands (School: 0.04 s
        against 20 s). A quadratic penalty (one with a ``coupling()`` matrix,
        :class:`~skmtl.penalties.TaskGraph`) with the squared loss: the exact
        solver :mod:`skmtl.solvers.quadratic`. With tied intercepts
        (``intercept_alpha > 0``) the squared loss no longer splits into
        per-task Gram problems: ``"auto"`` picks FISTA, and ``"admm"`` and
        ``"exact"`` raise a ``ValueError``.
        """
        gram_form = {"squared": "admm", "logistic": "prox_newton"}.get(loss.name)
        exact = loss.name == "squared" and hasattr(self._penalty(), "coupling")
        if loss.name == "squared" and self._intercept_alpha() > 0:
            if self.solver in ("admm", "exact"):
                raise ValueError(
                    f"solver={self.solver!r} needs free task intercepts; got "
                    f"intercept_alpha={self.intercept_alpha!r}. Use solver='auto', "
                    "'fista' or 'cvxpy', or set intercept_alpha=0."
                )
            gram_form, exact = None, False
        if self.solver == "exact" and not exact:
            raise ValueError(
                "solver='exact' solves the squared loss with a quadratic penalty "
                f"only; got the {loss.name} loss with the "
                f"{type(self._penalty()).__name__} penalty. Use 'auto', 'fista' "
                "or 'cvxpy'."
            )
        if exact and self.solver in ("auto", "exact"):
            return "exact"
        if self.solver != "auto":
            if self.solver in ("admm", "prox_newton") and self.solver != gram_form:
                raise ValueError(
                    f"solver={self.solver!r} does not handle the {loss.name} "
                    "loss; use 'auto', 'fista' or 'cvxpy'."
                )
            return self.solver
        p, n_rows = data.n_features, data.X.shape[0]
        small = p <= ADMM_MAX_FEATURES and data.n_tasks * p * p <= n_rows * p
        return gram_form if gram_form and small else "fista"

    def _gradient_at_zero(self, data, loss, targets=None, n_classes=None):
        """Correlation of the residuals of the intercept-only model, and its design."""
        n_classes = n_classes if loss.multiclass else None
        design = make_design(data, targets, multinomial=bool(loss.multiclass))
        W = zero_coef(design, n_classes)
        z = np.zeros(design.y.shape + W.shape[1:-1])
        if self.fit_intercept:
            intercept = fit_intercepts(
                design, loss, z, np.zeros(W.shape[:-1]), self._intercept_alpha()
            )
            z = z + design.expand_intercept(intercept)
        nu = generalized_residual(design, loss, z)
        return design.correlate(design.scale_like(nu) * nu), design

    def _alpha_max_of(self, data, loss, targets=None, n_classes=None):
        correlation, design = self._gradient_at_zero(data, loss, targets, n_classes)
        value = self._penalty().alpha_max(correlation)
        return design.scaling.strength_out(value, degree=1)


def _low_rank_structure(coef):
    """``(rank, components, explained_variance_ratio)`` of a coefficient array.

    The singular value decomposition of the matrix of the task (and class)
    rows of ``coef``; singular values below :data:`RANK_TOLERANCE` times the
    largest count as zero. Signs follow :func:`sklearn.utils.extmath.svd_flip`.
    """
    matrix = np.reshape(coef, (-1, np.shape(coef)[-1]))
    U, s, Vt = np.linalg.svd(matrix, full_matrices=False)
    U, Vt = svd_flip(U, Vt)
    largest = s[0] if s.size else 0.0
    rank = int(np.count_nonzero(s > RANK_TOLERANCE * largest)) if largest else 0
    # Relative to the largest: squares of values near 1e-300 underflow.
    power = (s[:rank] / largest) ** 2 if rank else np.zeros(0)
    ratio = power / power.sum() if rank else np.zeros(0)
    return rank, Vt[:rank].copy(), ratio


class PenalizedRegressorMixin(MultiTaskRegressorMixin, _PenalizedMixin):
    """``fit``/``predict`` of a penalised multi-task regressor (squared loss)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def _check_data(self, X, y, sample_weight):
        return check_task_data(
            self, X, y, task_column=self.task_column, sample_weight=sample_weight
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the task models.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Features, plus the task column in long format.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            Targets; 2-D in wide format, with ``NaN`` for unobserved targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights ``s_i``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        data = self._check_data(X, y, sample_weight)
        return self._fit_problem(data, SquaredLoss())

    def predict(self, X):
        """Predict with the model of each row's task.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Rows to predict, with the task column in long format.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_tasks)
            One prediction per row (long and single format), or one per row
            and task (wide format).
        """
        check_is_fitted(self, "coef_")
        return self._linear_predictions(X)

    def _alpha_max(self, X, y, sample_weight=None):
        """Smallest strength with all coefficients zero on ``(X, y)``.

        For a decomposition: the first strength, with the ratio of the two
        strengths held fixed (:meth:`skmtl.penalties.Decomposition.alpha_max`).
        """
        data = self._check_data(X, y, sample_weight)
        return self._alpha_max_of(data, SquaredLoss())


class PenalizedClassifierMixin(
    MultiTaskClassifierMixin, MultiTaskLinearClassifierMixin, _PenalizedMixin
):
    """``fit`` of a penalised multi-task classifier.

    Logistic loss for two classes, multinomial for more (long format), one
    binary task per column in wide (multi-label) format; task intercepts tied
    with ``intercept_alpha`` as in
    :class:`~skmtl.linear_model.JointFeatureClassifier`.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        tags.classifier_tags.multi_label = True
        return tags

    def _check_data(self, X, y, sample_weight):
        shape = getattr(y, "shape", ())
        if self.task_column is None and len(shape) == 2 and shape[1] == 1:
            # A column vector is one task, as for scikit-learn classifiers.
            y = column_or_1d(y, warn=True)
        data = check_task_data(
            self,
            X,
            y,
            task_column=self.task_column,
            sample_weight=sample_weight,
            y_numeric=False,
        )
        targets, loss, n_classes = _classification_problem(self, data)
        _check_every_class_seen(self, data, targets, n_classes)
        return data, targets, loss, n_classes

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the task models.

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
        self : object
            The fitted estimator.
        """
        data, targets, loss, n_classes = self._check_data(X, y, sample_weight)
        return self._fit_problem(data, loss, targets, n_classes)

    def _alpha_max(self, X, y, sample_weight=None):
        """Smallest strength with all coefficients zero on ``(X, y)``.

        For a decomposition: the first strength, with the ratio of the two
        strengths held fixed (:meth:`skmtl.penalties.Decomposition.alpha_max`).
        """
        data, targets, loss, n_classes = self._check_data(X, y, sample_weight)
        return self._alpha_max_of(data, loss, targets, n_classes)


class SmoothPathMixin:
    """Top of the regularisation path for a penalty that never zeroes ``W``.

    The ridge-type penalties of task relations have no ``alpha_max``; the
    path of their ``*CV`` class (``alphas`` an int) starts at
    :data:`SMOOTH_PATH_TOP` times the data term's curvature, the mean over
    tasks of the trace of the weighted (centred) Gram matrix, where the
    penalty dominates the fit, and runs ``eps`` times lower (the default
    ``eps=1e-6`` of these classes ends at 1e-3 times the scale; the grid of
    :class:`~skmtl.linear_model.MeanRegularizedRegressorCV` spans 1e-5 to
    1e3 times the same scale).
    """

    def _alpha_max(self, X, y, sample_weight=None):
        """Top of the path on ``(X, y)`` (no strength makes ``W`` zero)."""
        from ._mean_regularized import _gram_scale

        data = self._check_data(X, y, sample_weight)
        data = data[0] if isinstance(data, tuple) else data
        return SMOOTH_PATH_TOP * _gram_scale(data, self.fit_intercept)


class LowRankTransformMixin:
    """``transform``: the shared features ``X @ components_.T`` of a low-rank model."""

    def transform(self, X):
        """Project the rows on the shared directions ``components_``.

        The tasks' coefficients lie in the span of ``components_``, so every
        task's prediction is a linear function of these ``rank_`` features:
        inside a :class:`~sklearn.pipeline.Pipeline` the model serves as a
        learned representation shared by all tasks.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Rows, with the task column in long format (ignored; rows of
            tasks not seen in ``fit`` are transformed too).

        Returns
        -------
        X_new : ndarray of shape (n_samples, ``rank_``)
        """
        check_is_fitted(self, "components_")
        data = check_predict_data(self, X, allow_unknown=True)
        return np.asarray(data.X @ self.components_.T)


#: Docstring sections every penalised model shares, filled in by
#: :func:`fill_doc` where a docstring says ``{regressor_parameters}`` etc.
_DOC_PARTS = {
    "regressor_parameters": """fit_intercept : bool, default=True
        Whether to fit task intercepts.
    intercept_alpha : float, default=0.0
        Strength of the tie of the task intercepts ``b_t`` to a shared
        intercept ``b_0`` (>= 0): the objective gains
        ``(intercept_alpha / 2) sum_t (b_t - b_0)^2``, minimised also over
        ``b_0`` (``shared_intercept_``). 0: free intercepts; large values: one
        intercept for all tasks. It helps tasks with few rows (see the
        :ref:`User Guide <regularization>`). When positive, ``solver="auto"``
        picks FISTA (the Gram-form solvers need free intercepts).
    task_column : str, int or None, default=None
        Column of ``X`` that holds the task of each row (long format).
        ``None``: ``y`` is 1-D (one task) or ``Y`` is 2-D with one column per
        task (wide format; ``NaN`` marks an unobserved target).
    solver : {"auto", "admm", "fista", "cvxpy"}, default="auto"
        ``"admm"``: ADMM on the per-task Gram matrices
        (:mod:`skmtl.solvers.admm`), insensitive to poorly conditioned
        features; ``"fista"``: accelerated proximal gradient on the rows
        (:mod:`skmtl.solvers.fista`); ``"cvxpy"``: the reference formulation.
        ``"auto"``: ADMM for at most 100 features when the Gram matrices
        (``n_tasks * n_features^2`` entries) are no larger than the data,
        else FISTA.
    tol : float, default=1e-4
        Stop when the duality gap is at most ``tol`` times the objective of
        the intercept-only model.
    max_iter : int, default=10_000
        Maximum number of iterations.
    warm_start : bool, default=False
        Start from the previous solution when it has the right shape.
    unknown_task : {"error", "shared"}, default="error"
        What ``predict`` does with rows of a task not seen in ``fit``: raise
        a ``ValueError``, or use ``(shared_coef_, shared_intercept_)``.""",
    "classifier_parameters": """fit_intercept : bool, default=True
        Whether to fit intercepts.
    intercept_alpha : float, default=1e-3
        Strength of the tie between the task intercepts (>= 0), as in
        :class:`~skmtl.linear_model.JointFeatureClassifier`.
    task_column : str, int or None, default=None
        Column of ``X`` that holds the task of each row (long format).
        ``None``: ``y`` is 1-D (one task) or ``Y`` is 2-D with one binary
        column per task (wide, multi-label format; ``NaN`` for unobserved).
    solver : {"auto", "prox_newton", "fista", "cvxpy"}, default="auto"
        ``"prox_newton"``: proximal Newton with ADMM steps in Gram form
        (:mod:`skmtl.solvers.prox_newton`; two classes and multi-label
        only), insensitive to poorly conditioned features; ``"fista"``:
        accelerated proximal gradient (:mod:`skmtl.solvers.fista`);
        ``"cvxpy"``: the reference formulation. ``"auto"``: proximal Newton
        for two classes with at most 100 features, else FISTA.
    tol : float, default=1e-4
        Stop when the duality gap is at most ``tol`` times the objective of
        the intercept-only model.
    max_iter : int, default=10_000
        Maximum number of iterations (outer iterations for proximal Newton).
    warm_start : bool, default=False
        Start from the previous solution when it has the right shape.
    unknown_task : {"error", "shared"}, default="error"
        What ``predict`` does with rows of a task not seen in ``fit``.""",
    "common_attributes": """\
shared_coef_ : ndarray of shape (n_features,) or (n_classes, n_features)
        Mean of the task coefficients: the model of a task not seen in
        ``fit`` when ``unknown_task="shared"``.
    shared_intercept_ : float or ndarray of shape (n_classes,)
        Mean of the task intercepts: the shared intercept ``b_0`` of the tie.
    n_iter_ : int
        Iterations run.
    dual_gap_ : float
        Duality gap at the solution (0 for cvxpy).
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
        Names of the features, when ``X`` is a DataFrame with string names.""",
    "classifier_objective": """\
minimise  sum_t (1 / n_t) sum_{i in t} s_i loss(y_i, x_i . w_t + b_t)
                  + penalty(W) + (intercept_alpha / 2) sum_t ||b_t - b_0||^2""",
    "cv_parameters": """\
alphas : int or array-like, default=20 (10 with an extra grid)
        Path of the first strength: an int gives that many values from
        ``alpha_max`` (the smallest strength with all coefficients zero) down
        to ``eps * alpha_max``, evenly on a log scale; an array gives them.
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
        Folds and grid points fitted in parallel (joblib threads).""",
    "cv_attributes": """\
alpha_ : float
        The chosen value of the path parameter.
    alphas_ : ndarray of shape (n_alphas,) or (n_grid_points, n_alphas)
        The path, one row per combination of the extra grids if any.
    cv_results_ : dict of ndarray
        Scores of every point and fold, with the keys of
        :class:`~sklearn.model_selection.GridSearchCV` (``params``,
        ``param_<name>``, ``split<k>_test_score``, ``mean_test_score``,
        ``std_test_score``, ``rank_test_score``, fit and score times).
    best_score_ : float
        Mean cross-validated score of the chosen point.
    best_params_ : dict
        The chosen point.
    best_index_ : int
        Its index in ``cv_results_``.
    n_splits_ : int
        Number of folds.""",
    "classifier_loss": """\
The loss is logistic for two classes and multinomial for more (then
    ``w_t`` has one row per class and the penalty sees the matrix of all task
    and class rows, ``coef_.reshape(-1, n_features)``); in wide format every
    column of ``Y`` is a binary task (multi-label). The shared intercept
    ``b_0`` is unpenalised.""",
}


_WARM_START_DOC = """
    warm_start : bool, default=False
        Start from the previous solution when it has the right shape."""


def fill_doc(*classes):
    """Fill the shared docstring sections of ``classes`` (see ``_DOC_PARTS``).

    The ``*CV`` classes warm-start along their path themselves: their
    parameters leave ``warm_start`` out.
    """
    for cls in classes:
        doc = cls.__doc__
        for key, text in _DOC_PARTS.items():
            if "warm_start" not in cls().get_params():
                text = text.replace(_WARM_START_DOC, "")
            doc = doc.replace("{" + key + "}", text)
        cls.__doc__ = doc


def cv_constraints(base_constraints, *, path_param, mapped=(), grids=()):
    """Constraints of a ``*CV`` class from those of its base estimator.

    The path parameter and the parameters its grids map to are replaced by
    ``alphas``, ``eps``, ``cv``, ``scoring``, ``n_jobs`` and one list per grid;
    ``warm_start`` goes (the engine warm-starts along the path).
    """
    from ._cv import CV_CONSTRAINTS

    dropped = {path_param, "warm_start", *mapped}
    constraints = {k: v for k, v in base_constraints.items() if k not in dropped}
    constraints.update(CV_CONSTRAINTS)
    for name in grids:
        constraints[name] = [Interval(Real, 0, None, closed="neither"), "array-like"]
    return constraints
