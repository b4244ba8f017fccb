"""Joint-feature learning: tasks select one common set of features (L2,1)."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import assert_all_finite
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from .._tasks import check_task_data
from .._validation import format_labels
from ..base import MultiTaskClassifierMixin, MultiTaskRegressorMixin
from ..losses import LogisticLoss, MultinomialLoss, SquaredLoss
from ..solvers import bcd, fista
from ..solvers._l21 import group_norms, make_design, penalty_strengths
from ._base import MultiTaskLinearClassifierMixin, MultiTaskLinearMixin
from ._transfer import record_source_noise

_SOLVERS = {"squared": ("bcd", "fista", "cvxpy"), "logistic": ("fista", "cvxpy")}


def _resolve_solver(solver, loss, intercept_alpha=0.0):
    """``"auto"``: BCD for the squared loss with free intercepts, FISTA otherwise.

    BCD profiles out free intercepts task by task; tied ones
    (``intercept_alpha > 0``) couple the tasks, which FISTA and cvxpy handle.
    """
    family = "squared" if loss.name == "squared" else "logistic"
    if family == "squared" and intercept_alpha > 0:
        if solver == "bcd":
            raise ValueError(
                "solver='bcd' needs free task intercepts; got intercept_alpha="
                f"{intercept_alpha!r}. Use solver='auto', 'fista' or 'cvxpy', or "
                "set intercept_alpha=0."
            )
        return "fista" if solver == "auto" else solver
    if solver == "auto":
        return "bcd" if family == "squared" else "fista"
    if solver not in _SOLVERS[family]:
        raise ValueError(
            f"solver={solver!r} does not handle the {loss.name} loss; expected one "
            f"of {['auto', *_SOLVERS[family]]}."
        )
    return solver


def _solve(
    data,
    loss,
    *,
    alpha,
    l1_ratio,
    fit_intercept,
    solver,
    tol,
    max_iter,
    intercept_alpha=0.0,
    targets=None,
    n_classes=None,
    coef_init=None,
    intercept_init=None,
    design=None,
    warn=True,
):
    """Fit the L2,1 model with the resolved ``solver``; return a SolverResult."""
    if solver == "cvxpy":
        from ..solvers._cvxpy_l21 import solve_l21_cvxpy

        return solve_l21_cvxpy(
            data,
            loss.name,
            alpha=alpha,
            l1_ratio=l1_ratio,
            fit_intercept=fit_intercept,
            intercept_alpha=intercept_alpha,
            targets=targets,
            n_classes=n_classes,
        )
    multinomial = loss.name == "multinomial"
    if design is None:
        design = make_design(data, targets, multinomial=multinomial)
    a1, a2 = penalty_strengths(alpha, l1_ratio)
    if solver == "bcd":
        return bcd.solve_design(
            design,
            a1,
            a2,
            fit_intercept=fit_intercept,
            tol=tol,
            max_iter=max_iter,
            coef_init=coef_init,
            warn=warn,
        )
    return fista.solve_design(
        design,
        loss,
        a1,
        a2,
        fit_intercept=fit_intercept,
        intercept_alpha=intercept_alpha,
        n_classes=n_classes if multinomial else None,
        tol=tol,
        max_iter=max_iter,
        coef_init=coef_init,
        intercept_init=intercept_init,
        warn=warn,
    )


_COMMON_CONSTRAINTS = {
    "alpha": [Interval(Real, 0, None, closed="left")],
    "l1_ratio": [Interval(Real, 0, 1, closed="both")],
    "fit_intercept": ["boolean"],
    "task_column": "no_validation",
    "tol": [Interval(Real, 0, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "warm_start": ["boolean"],
    "unknown_task": [StrOptions({"error", "shared"})],
}


class _JointFeatureMixin(MultiTaskLinearMixin):
    """Fitted attributes shared by the joint-feature estimators."""

    def _warm_start_init(self, shape):
        if not self.warm_start or not hasattr(self, "coef_"):
            return None, None
        if np.shape(self.coef_) != shape:
            return None, None
        return np.array(self.coef_, dtype=float), np.array(self.intercept_, dtype=float)

    def _set_result(self, result, solver, fit_intercept):
        """Fitted attributes of ``result`` (coefficients in the units of ``X``)."""
        self.coef_ = np.asarray(result.coef, dtype=float)
        intercept = np.asarray(result.intercept, dtype=float)
        self.intercept_ = intercept if fit_intercept else np.zeros_like(intercept)
        self.support_ = group_norms(self.coef_) > 0
        self.n_iter_ = int(result.n_iter)
        self.dual_gap_ = float(result.gap)
        self.solver_ = solver
        self.shared_coef_ = self.coef_.mean(axis=0)
        self.shared_intercept_ = self.intercept_.mean(axis=0)


class JointFeatureRegressor(MultiTaskRegressorMixin, _JointFeatureMixin, BaseEstimator):
    """Multi-task linear regression with a common set of features (L2,1).

    Every task ``t`` has its own linear model ``(w_t, b_t)``; the tasks select
    one common set of features: a feature is used by all tasks or by none
    (Argyriou et al. 2008; Obozinski et al. 2010). The objective is::

        minimise  sum_t (1 / n_t) sum_{i in t} s_i 0.5 (y_i - x_i . w_t - b_t)^2
                  + alpha * l1_ratio * sum_j ||W[:, j]||_2
                  + (alpha / 2) (1 - l1_ratio) ||W||_F^2
                  + (intercept_alpha / 2) sum_t (b_t - b_0)^2

    where ``n_t`` is the total sample weight of task ``t``, ``s_i`` the
    sample weight of row ``i`` and ``W[:, j]`` the coefficients of feature
    ``j`` in all tasks, minimised also over the shared intercept ``b_0``.
    With the default ``intercept_alpha=0`` the intercepts ``b_t`` are free.

    With every task observing the same rows of ``X`` (wide format without
    ``NaN``), no sample weights and ``l1_ratio=1`` this is exactly
    scikit-learn's :class:`~sklearn.linear_model.MultiTaskLasso` with the same
    ``alpha``; with ``l1_ratio < 1`` it is
    :class:`~sklearn.linear_model.MultiTaskElasticNet`. Unlike those, tasks
    may have their own rows and sizes (long format, ``task_column``), and
    targets may be missing (wide format with ``NaN``).

    Read more in the :ref:`User Guide <joint_feature>`.

    Parameters
    ----------
    alpha : float, default=1.0
        Overall penalty strength (>= 0). Every coefficient is zero from
        ``alpha_max`` up (see :func:`joint_feature_path`).
    l1_ratio : float, default=1.0
        Share of the group norm in the penalty, in [0, 1]; the rest is a
        ridge penalty.
    fit_intercept : bool, default=True
        Whether to fit one intercept per task; without, every ``b_t = 0``.
    intercept_alpha : float, default=0.0
        Strength of the tie of the task intercepts to the shared intercept
        ``b_0`` (>= 0), as in every linear model of skmtl (see the
        :ref:`User Guide <regularization>`). 0: free intercepts; large values:
        one intercept for all tasks. It helps tasks with few rows. When
        positive, ``solver="auto"`` picks FISTA ("bcd" needs free intercepts).
    task_column : str, int or None, default=None
        Column of ``X`` that holds the task of each row (long format): a name
        for a DataFrame, an integer position for an array. ``None``: ``y`` is
        1-D (one task) or ``Y`` is 2-D with one column per task (wide format,
        ``NaN`` for an unobserved target).
    solver : {"auto", "bcd", "fista", "cvxpy"}, default="auto"
        ``"bcd"`` (the default for ``"auto"``): block coordinate descent over
        working sets of features with gap safe screening
        (:mod:`skmtl.solvers.bcd`), whose subproblems are solved by compiled
        cyclic coordinate descent when numba is installed (``pip install
        "skmtl[fast]"``; several times faster when many features are
        selected) and by accelerated proximal gradient otherwise;
        ``"fista"``: accelerated proximal gradient on all features
        (:mod:`skmtl.solvers.fista`); ``"cvxpy"``: the reference formulation
        (slow).
    tol : float, default=1e-4
        Stop when the duality gap is at most ``tol`` times the objective of
        the intercept-only model, ``gap <= tol * P(0)`` (see Notes).
    max_iter : int, default=10_000
        Maximum number of epochs (BCD: passes over a working set) or
        iterations (FISTA).
    warm_start : bool, default=False
        Start from the previous ``coef_`` when it has the right shape.
    unknown_task : {"error", "shared"}, default="error"
        What ``predict`` does with rows of a task not seen in ``fit`` (long
        format): raise a ``ValueError``, or use the shared model
        ``(shared_coef_, shared_intercept_)``.

    Attributes
    ----------
    coef_ : ndarray of shape (n_tasks, n_features)
        Task coefficients ``w_t`` (rows).
    intercept_ : ndarray of shape (n_tasks,)
        Task intercepts ``b_t``.
    support_ : ndarray of shape (n_features,) of bool
        Features with a non-zero group ``W[:, j]``: the features all tasks use.
    shared_coef_ : ndarray of shape (n_features,)
        Unweighted mean of the task coefficients; the model of a task not
        seen in ``fit`` when ``unknown_task="shared"``. It uses only the
        selected features.
    shared_intercept_ : float
        Unweighted mean of the task intercepts.
    n_iter_ : int
        Epochs (BCD) or iterations (FISTA) run.
    dual_gap_ : float
        Duality gap at the solution (0 for cvxpy).
    solver_ : str
        The solver used.
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
    JointFeatureRegressorCV : Choose ``alpha`` (and ``l1_ratio``) by
        cross-validation.
    JointFeatureClassifier : The same penalty with the logistic loss.
    sklearn.linear_model.MultiTaskLasso : The shared-design special case.

    Notes
    -----
    **One task** (``task_column=None``, 1-D ``y``): the group norm is the
    absolute value, and the model is :class:`~sklearn.linear_model.Lasso`
    (``l1_ratio=1``) or :class:`~sklearn.linear_model.ElasticNet`.

    **Stopping.** Every solver stops at the first duality-gap check with
    ``gap <= tol * P(0)``, where ``P(0) = sum_t (1 / n_t) sum_{i in t}
    s_i 0.5 (y_i - ybar_t)^2`` is the objective of the intercept-only model.
    The gap bounds the suboptimality, so this guarantees
    ``P(W) - P* <= tol * P(0)`` and nothing more: the coefficients themselves
    may still move. scikit-learn's ``MultiTaskLasso`` (coordinate descent,
    ``sklearn/linear_model/_cd_fast.pyx``) evaluates the gap only after an
    epoch in which no coefficient moved by more than ``tol`` times the
    largest coefficient (``max_j |dW_j| <= tol * max_j |W_j|``, and at the
    last iteration), and then stops when
    ``gap <= tol * ||Y - mean||_F^2 / n = tol * 2 P(0)`` (same objective on a
    shared design). Its guarantee on the objective is thus
    ``P(W) - P* <= 2 tol P(0)``; but the condition on the updates delays the
    stop until the coefficients have settled, so at the same ``tol`` it
    usually ends much closer to the optimum than its bound, and than skmtl,
    which stops as soon as its bound holds. To reproduce scikit-learn's
    coefficients to many digits, pass a smaller ``tol`` here (the guarantee
    stays ``tol * P(0)``). Normalising by ``P(0)`` rather than by the current
    objective keeps the criterion scale-free without making nearly
    interpolating fits (small ``alpha``, many features) needlessly
    expensive. The dual point is the residual rescaled into the dual
    feasible set (Ndiaye et al. 2015).

    References
    ----------
    A. Argyriou, T. Evgeniou and M. Pontil. Convex multi-task feature
    learning. Machine Learning, 73(3):243-272, 2008.

    G. Obozinski, B. Taskar and M. I. Jordan. Joint covariate selection and
    joint subspace selection for multiple classification problems.
    Statistics and Computing, 20(2):231-252, 2010.

    E. Ndiaye, O. Fercoq, A. Gramfort and J. Salmon. Gap safe screening rules
    for sparse multi-task and multi-class models. NeurIPS, 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import JointFeatureRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 6))
    >>> Y = X[:, :2] @ rng.normal(size=(2, 3)) + 0.1 * rng.normal(size=(100, 3))
    >>> model = JointFeatureRegressor(alpha=0.1).fit(X, Y)
    >>> model.coef_.shape
    (3, 6)
    >>> model.support_
    array([ True,  True, False, False, False, False])
    >>> model.predict(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints = {
        **_COMMON_CONSTRAINTS,
        "intercept_alpha": [Interval(Real, 0, None, closed="left")],
        "solver": [StrOptions({"auto", "bcd", "fista", "cvxpy"})],
    }

    def __init__(
        self,
        alpha=1.0,
        *,
        l1_ratio=1.0,
        fit_intercept=True,
        intercept_alpha=0.0,
        task_column=None,
        solver="auto",
        tol=1e-4,
        max_iter=10_000,
        warm_start=False,
        unknown_task="error",
    ):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.intercept_alpha = intercept_alpha
        self.task_column = task_column
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.unknown_task = unknown_task

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

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
        self : JointFeatureRegressor
            The fitted estimator.
        """
        data = check_task_data(
            self, X, y, task_column=self.task_column, sample_weight=sample_weight
        )
        loss = SquaredLoss()
        intercept_alpha = float(self.intercept_alpha) if self.fit_intercept else 0.0
        solver = _resolve_solver(self.solver, loss, intercept_alpha)
        coef_init, intercept_init = self._warm_start_init(
            (data.n_tasks, data.n_features)
        )
        result = _solve(
            data,
            loss,
            alpha=self.alpha,
            l1_ratio=self.l1_ratio,
            fit_intercept=self.fit_intercept,
            intercept_alpha=intercept_alpha,
            solver=solver,
            tol=self.tol,
            max_iter=self.max_iter,
            coef_init=coef_init,
            intercept_init=intercept_init if intercept_alpha else None,
        )
        self._set_result(result, solver, self.fit_intercept)
        # Extreme targets (1e300) overflow the squared residuals: the noise
        # is then infinite, not an error of fit.
        with np.errstate(over="ignore", invalid="ignore"):
            record_source_noise(self, data, "squared")
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
            One prediction per row (long and single format), or one per row
            and task (wide format).
        """
        check_is_fitted(self, "coef_")
        return self._linear_predictions(X)


class JointFeatureClassifier(
    MultiTaskClassifierMixin,
    MultiTaskLinearClassifierMixin,
    _JointFeatureMixin,
    BaseEstimator,
):
    """Multi-task logistic regression with a common set of features (L2,1).

    Every task ``t`` has its own linear model; the tasks select one common
    set of features (Obozinski et al. 2010). The objective is::

        minimise  sum_t (1 / n_t) sum_{i in t} s_i loss(y_i, x_i . w_t + b_t)
                  + alpha * l1_ratio * sum_j ||W[..., j]||_2
                  + (alpha / 2) (1 - l1_ratio) ||W||_F^2
                  + (intercept_alpha / 2) sum_t ||b_t - b_0||^2

    minimised also over the shared intercept ``b_0`` (unpenalised), where
    ``loss`` is the logistic loss (two classes) or the multinomial loss (more
    than two; then ``w_t`` has one row per class, ``b_t`` one intercept per
    class, and the group ``W[..., j]`` of feature ``j`` spans all tasks and
    all classes).

    Why the intercepts are tied: a task whose rows hold a single class (or
    that never sees some class; common in multi-label data) has no finite
    optimum with a free intercept (``b_t -> +-inf``). The last term, a weak
    Gaussian prior on the task offsets ``b_t - b_0`` around a shared
    intercept, keeps every optimum finite: such a task predicts its own
    class with high probability (the smaller ``intercept_alpha``, the
    closer to 1), instead of failing. ``intercept_alpha=0`` gives free,
    unpenalised task intercepts (and requires every task to see every class).
    With one task the term is zero at the optimum, and the model is exactly
    :class:`~sklearn.linear_model.LogisticRegression` with an L1 penalty (see
    Notes). :class:`~skmtl.linear_model.MeanRegularizedClassifier` ties its
    intercept offsets in the same way, with its own ``alpha``.

    Read more in the :ref:`User Guide <joint_feature>`.

    Parameters
    ----------
    alpha : float, default=0.01
        Overall penalty strength (>= 0).
    l1_ratio : float, default=1.0
        Share of the group norm in the penalty, in [0, 1].
    fit_intercept : bool, default=True
        Whether to fit intercepts; without, every ``b_t = 0``.
    intercept_alpha : float, default=1e-3
        Strength of the tie between the task intercepts (>= 0).
    task_column : str, int or None, default=None
        Column of ``X`` that holds the task of each row (long format). ``None``:
        ``y`` is 1-D (one task) or ``Y`` is 2-D with one binary column per task
        (wide, multi-label format; ``NaN`` marks an unobserved label).
    solver : {"auto", "fista", "cvxpy"}, default="auto"
        ``"auto"`` and ``"fista"``: accelerated proximal gradient
        (:mod:`skmtl.solvers.fista`), finished by L-BFGS on the support when
        little regularisation makes it slow; ``"cvxpy"``: the reference
        formulation.
    tol : float, default=1e-4
        Stop when the duality gap is at most ``tol`` times the objective of
        the intercept-only model (``W = 0`` with optimal intercepts).
    max_iter : int, default=10_000
        Maximum number of FISTA iterations.
    warm_start : bool, default=False
        Start from the previous ``coef_`` and ``intercept_`` when they have
        the right shape.
    unknown_task : {"error", "shared"}, default="error"
        What ``predict`` does with rows of a task not seen in ``fit``: raise
        a ``ValueError``, or use ``(shared_coef_, shared_intercept_)``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, common to all tasks (sorted unique labels of ``y``).
    coef_ : ndarray of shape (n_tasks, n_features) or (n_tasks, n_classes, n_features)
        Task coefficients; 3-D for more than two classes.
    intercept_ : ndarray of shape (n_tasks,) or (n_tasks, n_classes)
        Task intercepts ``b_t``; multiclass intercepts sum to zero over the
        classes of each task.
    support_ : ndarray of shape (n_features,) of bool
        Features with a non-zero group ``W[..., j]``.
    shared_coef_ : ndarray of shape (n_features,) or (n_classes, n_features)
        Unweighted mean of the task coefficients; the model of a task not seen
        in ``fit`` when ``unknown_task="shared"``.
    shared_intercept_ : float or ndarray of shape (n_classes,)
        The shared intercept ``b_0`` (the mean of the task intercepts).
    n_iter_ : int
        FISTA iterations run.
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
        Names of the features, when ``X`` is a DataFrame with string names.

    See Also
    --------
    JointFeatureClassifierCV : Choose ``alpha`` by cross-validation.
    JointFeatureRegressor : The same penalty with the squared loss.

    Notes
    -----
    **One task, two classes.** scikit-learn's ``LogisticRegression`` with
    ``l1_ratio=1`` minimises ``||w||_1 + C sum_i s_i loss_i``: the same
    model for ``C = 1 / (alpha n)``, ``n = sum_i s_i``. With more than two
    classes the group norm couples the classes of a feature, unlike
    scikit-learn's L1 penalty.

    **Formats.** Long format (``task_column`` set): ``y`` holds the class of
    each row, binary or multiclass. Wide format (``task_column=None`` and 2-D
    ``Y``): every column is a binary task on the shared rows (multi-label);
    ``predict`` returns ``(n_samples, n_labels)`` labels, ``predict_proba``
    and ``decision_function`` the probability and score of ``classes_[1]``
    for every label.

    References
    ----------
    G. Obozinski, B. Taskar and M. I. Jordan. Joint covariate selection and
    joint subspace selection for multiple classification problems.
    Statistics and Computing, 20(2):231-252, 2010.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.linear_model import JointFeatureClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5))
    >>> Y = (X[:, :2] @ rng.normal(size=(2, 3)) > 0).astype(int)
    >>> clf = JointFeatureClassifier(alpha=0.05).fit(X, Y)
    >>> clf.coef_.shape
    (3, 5)
    >>> clf.support_
    array([ True,  True, False, False, False])
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints = {
        **_COMMON_CONSTRAINTS,
        "intercept_alpha": [Interval(Real, 0, None, closed="left")],
        "solver": [StrOptions({"auto", "fista", "cvxpy"})],
    }

    def __init__(
        self,
        alpha=0.01,
        *,
        l1_ratio=1.0,
        fit_intercept=True,
        intercept_alpha=1e-3,
        task_column=None,
        solver="auto",
        tol=1e-4,
        max_iter=10_000,
        warm_start=False,
        unknown_task="error",
    ):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.intercept_alpha = intercept_alpha
        self.task_column = task_column
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
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
        self : JointFeatureClassifier
            The fitted estimator.
        """
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
        solver = _resolve_solver(self.solver, loss)
        shape = (data.n_tasks, n_classes, data.n_features)
        coef_init, intercept_init = self._warm_start_init(
            shape if loss.name == "multinomial" else shape[::2]
        )
        result = _solve(
            data,
            loss,
            alpha=self.alpha,
            l1_ratio=self.l1_ratio,
            fit_intercept=self.fit_intercept,
            intercept_alpha=self.intercept_alpha,
            targets=targets,
            n_classes=n_classes,
            solver=solver,
            tol=self.tol,
            max_iter=self.max_iter,
            coef_init=coef_init,
            intercept_init=intercept_init,
        )
        self._set_result(result, solver, self.fit_intercept)
        # Extreme targets (1e300) overflow the squared residuals: the noise
        # is then infinite, not an error of fit.
        with np.errstate(over="ignore", invalid="ignore"):
            record_source_noise(self, data, loss.name)
        return self


def _classification_problem(estimator, data):
    """Set ``classes_``; return the encoded targets, the loss and n_classes."""
    if data.y.dtype.kind == "f":
        assert_all_finite(data.y, input_name="y")
    check_classification_targets(data.y)
    encoder = LabelEncoder().fit(data.y)
    estimator.classes_ = encoder.classes_
    encoded = encoder.transform(data.y)
    n_classes = len(estimator.classes_)
    weight = np.bincount(encoded, weights=data.sample_weight, minlength=n_classes)
    if np.count_nonzero(weight) < 2:
        raise ValueError(
            f"{type(estimator).__name__} needs samples of at least 2 classes with "
            "positive sample weight, but the data contains only one class: "
            f"{format_labels(estimator.classes_[weight > 0])}. Fit on data with "
            "two or more classes."
        )
    if data.layout == "wide" and n_classes > 2:
        raise ValueError(
            f"In wide format every column of Y is a binary task, but Y holds "
            f"{n_classes} classes {format_labels(estimator.classes_)}. Use two "
            "values (for example 0/1, NaN for unobserved), or pass multiclass "
            "tasks in long format with task_column."
        )
    if n_classes > 2:
        return encoded.astype(np.intp), MultinomialLoss(), n_classes
    return encoded.astype(float), LogisticLoss(), 2


def _check_every_class_seen(estimator, data, targets, n_classes):
    """Free intercepts need every class (with weight) in every task."""
    if not estimator.fit_intercept or estimator.intercept_alpha > 0:
        return
    counts = np.zeros((data.n_tasks, n_classes))
    np.add.at(counts, (data.task_index, targets.astype(np.intp)), data.sample_weight)
    missing = np.flatnonzero((counts <= 0).any(axis=1))
    if len(missing):
        raise ValueError(
            f"Task(s) {format_labels(data.tasks[missing])} miss at least one of "
            f"the classes {format_labels(estimator.classes_)}, so their free "
            "intercept has no finite optimum (intercept_alpha=0). Set "
            "intercept_alpha > 0 (for example 1e-3) to tie the task intercepts."
        )
