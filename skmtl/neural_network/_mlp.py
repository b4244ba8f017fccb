"""Multi-task multi-layer perceptrons: hard and soft parameter sharing."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from .._tasks import (
    add_new_tasks,
    check_new_task_data,
    check_predict_data,
    check_task_data,
    n_source_tasks,
)
from .._validation import format_labels
from ..base import MultiTaskClassifierMixin, MultiTaskRegressorMixin
from ..linear_model._base import MultiTaskLinearClassifierMixin
from ..linear_model._joint_feature import _classification_problem
from ._network import Batch, NetworkLayout, forward
from ._solvers import Problem, fit_adam, fit_lbfgs
from ._transfer import adapt_new_tasks, record_source_noise


def _check_layer_sizes(sizes, name):
    """``sizes`` as a tuple of positive ints (an int is one layer)."""
    if isinstance(sizes, Integral) and not isinstance(sizes, bool):
        sizes = (sizes,)
    try:
        sizes = tuple(sizes)
    except TypeError:
        sizes = None
    if sizes is None or not all(
        isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes
    ):
        raise ValueError(
            f"{name} must be a positive int or a sequence of positive ints (one "
            f"per layer, () for none); got {sizes!r}. For example {name}=(100,)."
        )
    return sizes


#: Largest magnitude of a feature or a regression target the networks take:
#: the products of weights and features, and the squared errors, stay far
#: inside float64 below it, and overflow not far above (1e150 squared).
MAX_MAGNITUDE = 1e100


def _check_magnitudes(values, what, advice):
    """Refuse features or targets beyond :data:`MAX_MAGNITUDE` with a clear error."""
    values = values.data if hasattr(values, "tocsr") else np.asarray(values)
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    largest = float(np.max(np.abs(finite), initial=0.0))
    if largest > MAX_MAGNITUDE:
        raise ValueError(
            f"The {what} reach {largest:.3g} in magnitude, above the supported "
            f"{MAX_MAGNITUDE:.0e}: a network's products of weights and inputs, "
            f"and its squared errors, overflow float64 there. {advice}"
        )


_FEATURE_ADVICE = (
    "Scale the features first, for example with "
    "skmtl.pipeline.TaskColumnPassthrough(StandardScaler())."
)


_TARGET_ADVICE = "Divide the targets by a constant first, or standardise them."


_CONSTRAINTS = {
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    "task_hidden_layer_sizes": [
        "array-like",
        Interval(Integral, 1, None, closed="left"),
    ],
    "sharing": [StrOptions({"hard", "soft"})],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "sharing_alpha": [Interval(Real, 0, None, closed="left")],
    "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
    "solver": [StrOptions({"lbfgs", "adam"})],
    "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0, None, closed="left")],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "random_state": ["random_state"],
    "warm_start": ["boolean"],
    "task_column": "no_validation",
    "unknown_task": [StrOptions({"error", "shared"})],
}


class _BaseMultiTaskMLP(BaseEstimator):
    """Fit, prediction and attributes shared by the regressor and the classifier."""

    _parameter_constraints = dict(_CONSTRAINTS)

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        task_hidden_layer_sizes=(),
        *,
        sharing="hard",
        alpha=1e-4,
        sharing_alpha=0.1,
        activation="relu",
        solver="lbfgs",
        batch_size="auto",
        learning_rate_init=1e-3,
        max_iter=200,
        tol=1e-4,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        random_state=None,
        warm_start=False,
        task_column=None,
        unknown_task="error",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.task_hidden_layer_sizes = task_hidden_layer_sizes
        self.sharing = sharing
        self.alpha = alpha
        self.sharing_alpha = sharing_alpha
        self.activation = activation
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.warm_start = warm_start
        self.task_column = task_column
        self.unknown_task = unknown_task

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    # ---------------------------------------------------------------- fit

    def _layout(self, data, n_outputs):
        return NetworkLayout(
            data.n_features,
            _check_layer_sizes(self.hidden_layer_sizes, "hidden_layer_sizes"),
            _check_layer_sizes(self.task_hidden_layer_sizes, "task_hidden_layer_sizes"),
            n_outputs,
            data.n_tasks,
            self.sharing,
        )

    def _problem(self, data, targets, loss, n_outputs):
        """The objective of ``data`` (observations grouped by task)."""
        return Problem(
            self._layout(data, n_outputs),
            data.X,
            data.row_index,
            data.task_index,
            targets,
            data.sample_weight,
            1.0 / data.task_weights,
            loss=loss,
            activation=self.activation,
            alpha=float(self.alpha),
            sharing_alpha=float(self.sharing_alpha),
        )

    def _initial_theta(self, layout, random_state):
        if (
            self.warm_start
            and hasattr(self, "coefs_")
            and layout.matches(self.coefs_, self.intercepts_)
        ):
            return layout.pack(self.coefs_, self.intercepts_)
        return layout.initialize(random_state, self.activation)

    def _fit_network(self, data, targets, loss, n_outputs):
        """Train on ``data`` and set the fitted attributes."""
        random_state = check_random_state(self.random_state)
        problem = self._problem(data, targets, loss, n_outputs)
        layout = problem.layout
        theta = self._initial_theta(layout, random_state)
        self.best_loss_ = None
        if self.solver == "lbfgs":
            theta, value, self.n_iter_, self.loss_curve_ = fit_lbfgs(
                problem, theta, max_iter=self.max_iter, tol=self.tol
            )
            self.loss_ = value
        else:
            theta = self._fit_stochastic(
                data, targets, loss, n_outputs, theta, random_state
            )
        coefs, intercepts = layout.unpack(theta.copy())
        self.coefs_, self.intercepts_ = coefs, intercepts
        self.n_layers_ = layout.n_layers + 1
        self.n_shared_layers_ = layout.n_shared
        self.n_outputs_ = n_outputs
        self._network_layout = layout
        # The noise of one row of fit scales the prior of fit_new_tasks.
        record_source_noise(self, data, targets, loss)
        return self

    def _fit_stochastic(self, data, targets, loss, n_outputs, theta, random_state):
        """Adam, with a task-stratified validation split for early stopping."""
        # Batches and split continue the stream that drew the initial weights.
        random_state = np.random.default_rng(
            random_state.randint(np.iinfo(np.int32).max)
        )
        train = np.arange(data.n_observations)
        validation_score = None
        if self.early_stopping:
            train, held_out = _stratified_split(
                data.task_index, data.n_tasks, self.validation_fraction, random_state
            )
            validation_score = self._validation_scorer(
                data, targets, held_out, loss, n_outputs
            )
        problem = self._problem(_Subset(data, train), targets[train], loss, n_outputs)
        batch_size = (
            min(200, len(train)) if self.batch_size == "auto" else self.batch_size
        )
        theta, self.n_iter_, rule, self.loss_curve_, scores = fit_adam(
            problem,
            theta,
            batch_size=min(batch_size, len(train)),
            learning_rate=self.learning_rate_init,
            max_iter=self.max_iter,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            random_state=random_state,
            validation_score=validation_score,
        )
        self.loss_ = self.loss_curve_[-1]
        if self.early_stopping:
            self.validation_scores_ = scores
            self.best_validation_score_ = rule.best_score
        else:
            self.best_loss_ = rule.best_loss
        return theta

    def _validation_scorer(self, data, targets, held_out, loss, n_outputs):
        """``theta -> score`` on the held-out observations, tasks weighted alike."""
        layout = self._layout(data, n_outputs)
        sub = _Subset(data, held_out)
        batch = Batch(sub.X, sub.row_index, sub.task_index, data.n_tasks)
        weight = sub.sample_weight / np.bincount(
            sub.task_index, weights=sub.sample_weight, minlength=data.n_tasks
        )[sub.task_index].clip(min=np.finfo(float).tiny)
        y_true = targets[held_out]

        def score(theta):
            output = forward(layout, theta, batch, self.activation)[0]
            if loss == "squared":
                return r2_score(y_true, output[:, 0], sample_weight=weight)
            predicted = (
                np.argmax(output, axis=1) if loss == "multinomial" else output[:, 0] > 0
            )
            return accuracy_score(y_true, predicted, sample_weight=weight)

        return score

    # ------------------------------------------------------- new tasks

    def fit_new_tasks(self, X, y, sample_weight=None):
        """Adapt to new tasks, with what the fitted tasks learned held fixed.

        Hard sharing keeps the trunk; each new task fits its own task layers
        and head on its rows. Soft sharing keeps the fitted networks; each
        new task fits a whole network pulled towards their mean. With ``c = 1 /
        n_bar`` (rows of a new task weigh as rows of an average source task,
        ``n_bar`` the mean size of the tasks of ``fit``), new task ``q``
        minimises::

            c [ sum_{i in q} s_i loss(y_i, f_q(x_i))
                + (1 / 2) sum_j a_j (phi_qj - mean_j)^2 ]

        with ``phi_q`` all of the task's own weights and intercepts (the
        whole network under soft sharing) and ``mean_j`` the mean of
        coordinate ``j`` over the tasks of ``fit``. The prior is empirical
        Bayes: the source tasks' parameters are draws from it, so its
        variance ``s_j^2`` is the spread of coordinate ``j`` over them
        (floored at 1e-3 times the mean spread of its layer's weights or
        intercepts), and with ``sigma^2`` the noise of one row measured at
        the end of ``fit`` (mean squared residual; classifier: the inverse
        of the mean ``p (1 - p)``) the strength is ``a_j = max(a0_j, sigma^2
        / (rho s_j^2))``: the posterior mode for the squared loss, never
        weaker than the model's own strength ``a0_j``, ``alpha`` (plus
        ``n_bar * sharing_alpha`` on a soft-sharing trunk). ``rho <= 1``,
        measured at the end of ``fit``, scales the spreads so that the
        prior's spread of a task's outputs (linearised, coordinates taken
        as independent) is that of the source networks' outputs on the
        rows of ``fit``: a task's coordinates vary together. With ``k`` rows
        a coordinate moves about ``k / (k + sigma^2 / (rho s_j^2))`` of the
        way from the source mean; a coordinate shared by every source task
        stays there. The strengths are in ``new_task_alpha_``. The
        parameters start at the source mean: with no rows a new task is the
        mean source network (the predictions of ``unknown_task="shared"``
        exactly for hard sharing without task layers). The solver is L-BFGS
        (whatever ``solver``), at most ``max_iter`` iterations, on the new
        tasks' parameters only.

        Every call starts from the tasks of ``fit`` and replaces the tasks
        of an earlier call; ``fit`` forgets them. Long format only.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Features and the task column, rows of new tasks only.
        y : array-like of shape (n_samples,)
            Targets (classes of ``classes_`` for the classifier).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights ``s_i``.

        Returns
        -------
        self : object
            The estimator, with the new tasks at the end of ``tasks_``,
            their rows appended to the per-task arrays of ``coefs_`` and
            ``intercepts_``, and the prior's strengths in
            ``new_task_alpha_``.
        """
        check_is_fitted(self, "coefs_")
        data = check_new_task_data(
            self,
            X,
            y,
            sample_weight=sample_weight,
            y_numeric=not isinstance(self, MultiTaskMLPClassifier),
        )
        _check_magnitudes(data.X, "features", _FEATURE_ADVICE)
        targets, loss = self._new_task_targets(data)
        adapt_new_tasks(self, data, targets, loss)
        add_new_tasks(self, data.tasks)
        return self

    # ------------------------------------------------------------ predict

    def _outputs(self, X):
        """Head outputs (before the output activation) in the caller's layout.

        Returns
        -------
        output : ndarray
            Single and long format: ``(n_samples, n_outputs)``; wide format:
            ``(n_samples, n_tasks, n_outputs)``.
        """
        check_is_fitted(self, "coefs_")
        data = check_predict_data(self, X, allow_unknown=self.unknown_task != "error")
        theta = self._network_layout.pack(self.coefs_, self.intercepts_)
        n_rows = data.X.shape[0]
        if data.layout == "wide":
            per_task = [
                self._task_outputs(theta, data.X, t) for t in range(self.n_tasks_)
            ]
            return np.stack(per_task, axis=1)
        if data.layout == "single":
            return self._task_outputs(theta, data.X, 0)
        output = np.empty((n_rows, self.n_outputs_))
        known = np.flatnonzero(~data.unknown)
        order = known[np.argsort(data.task_index[known], kind="stable")]
        if len(order):
            batch = Batch(data.X[order], None, data.task_index[order], self.n_tasks_)
            output[order] = forward(
                self._network_layout, theta, batch, self.activation
            )[0]
        unknown = np.flatnonzero(data.unknown)
        if len(unknown):
            # A task not seen in fit: the mean of the source networks' outputs
            # (tasks added by fit_new_tasks do not change the shared model).
            output[unknown] = np.mean(
                [
                    self._task_outputs(theta, data.X[unknown], t)
                    for t in range(n_source_tasks(self))
                ],
                axis=0,
            )
        return output

    def _task_outputs(self, theta, X, t):
        """Outputs of task ``t``'s network on every row of ``X``."""
        batch = Batch(X, None, np.full(X.shape[0], t, dtype=np.intp), self.n_tasks_)
        return forward(self._network_layout, theta, batch, self.activation)[0]


def _stratified_split(task_index, n_tasks, fraction, random_state):
    """Hold out ``fraction`` of every task's observations (at least one, if it has two).

    Returns
    -------
    train, held_out : ndarray of int
        Sorted observation indices (so still grouped by task).
    """
    offsets = np.searchsorted(task_index, np.arange(n_tasks + 1))
    held_out = []
    for t in range(n_tasks):
        size = offsets[t + 1] - offsets[t]
        n_held = min(size - 1, max(1, int(round(fraction * size))))
        if n_held > 0:
            chosen = random_state.choice(size, n_held, replace=False)
            held_out.append(offsets[t] + chosen)
    held_out = np.sort(np.concatenate(held_out)) if held_out else np.zeros(0, int)
    if not len(held_out):
        raise ValueError(
            "early_stopping=True needs a task with at least 2 observations to "
            "hold some out for validation; every task has one. Set "
            "early_stopping=False."
        )
    train = np.setdiff1d(np.arange(len(task_index)), held_out)
    return train, held_out


class _Subset:
    """The observations ``index`` of a :class:`~skmtl._tasks.TaskData`."""

    def __init__(self, data, index):
        if data.row_index is None:
            self.X, self.row_index = data.X[index], None
        else:
            self.X, self.row_index = data.X, data.row_index[index]
        self.task_index = data.task_index[index]
        self.sample_weight = data.sample_weight[index]
        self.n_tasks = data.n_tasks
        self.n_features = data.n_features
        self.n_observations = len(index)
        self.task_weights = np.bincount(
            self.task_index, weights=self.sample_weight, minlength=self.n_tasks
        )


_PARAMETERS_DOC = """
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Units of the trunk's hidden layers (shared by all tasks under hard
        sharing, one copy per task under soft sharing); ``()`` for none.
    task_hidden_layer_sizes : int or sequence of int, default=()
        Units of the hidden layers every task has of its own, between the
        trunk and its head.
    sharing : {"hard", "soft"}, default="hard"
        ``"hard"``: one trunk for all tasks. ``"soft"``: a trunk per task,
        pulled towards the tasks' mean trunk by ``sharing_alpha``.
    alpha : float, default=1e-4
        L2 strength on the weights, in scikit-learn's units: the weights of
        task ``t``'s network are penalised by ``alpha / (2 n_t)`` (a weight
        matrix shared by all tasks by ``alpha / 2 * sum_t 1 / n_t``).
    sharing_alpha : float, default=0.1
        Soft sharing strength: ``(sharing_alpha / 2) sum_t ||theta_t -
        mean_u theta_u||^2`` over the trunk weights and intercepts. Ignored
        with ``sharing="hard"``. ``0``: independent task networks; large:
        hard sharing of the trunk.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Activation of every hidden layer.
    solver : {"lbfgs", "adam"}, default="lbfgs"
        ``"lbfgs"``: scipy's L-BFGS-B on the full objective, best for small
        and medium data. ``"adam"``: Adam on task-stratified mini-batches
        (every task in every batch, each task's gradient unbiased).
    batch_size : int or "auto", default="auto"
        Adam's batch size, ``min(200, n_observations)`` for ``"auto"``.
    learning_rate_init : float, default=1e-3
        Adam's step size.
    max_iter : int, default=200
        L-BFGS iterations, or Adam epochs.
    tol : float, default=1e-4
        L-BFGS stops when no gradient entry exceeds ``tol``; Adam when the
        epoch loss (or the validation score) has not improved by ``tol``
        for ``n_iter_no_change`` epochs.
    early_stopping : bool, default=False
        Adam only: hold out ``validation_fraction`` of every task's
        observations and stop when their score stops improving; the
        parameters of the best score are kept.
    validation_fraction : float, default=0.1
        Share of each task's observations held out for early stopping.
    n_iter_no_change : int, default=10
        Epochs without improvement before Adam stops.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the batches and the validation split.
    warm_start : bool, default=False
        Start from the previous fit's parameters when their shapes fit.
    task_column : str, int or None, default=None
        Column of ``X`` holding the task of each row (long format); ``None``
        for one task (1-D ``y``) or one column of ``Y`` per task (wide,
        ``NaN`` marking unobserved targets).
    unknown_task : {"error", "shared"}, default="error"
        ``predict`` on rows of a task not seen in fit (nor added by
        :meth:`fit_new_tasks`): raise, or use the mean of the outputs of the
        networks of the tasks of fit."""

_ATTRIBUTES_DOC = """
    coefs_ : list of ndarray
        Weight matrix of every layer, in order: trunk, task layers, head.
        A layer shared by all tasks (the first ``n_shared_layers_``) has
        shape ``(fan_in, fan_out)``; a per-task layer ``(n_tasks, fan_in,
        fan_out)``, indexed by task as ``tasks_``.
    intercepts_ : list of ndarray
        Intercepts of every layer, of shape ``(fan_out,)`` (shared) or
        ``(n_tasks, fan_out)`` (per task).
    n_shared_layers_ : int
        Number of leading layers shared by all tasks: the trunk's under
        hard sharing, 0 under soft sharing.
    n_layers_ : int
        Number of layers, input and output included (as scikit-learn).
    n_outputs_ : int
        Outputs of each task's head.
    loss_ : float
        Objective at the end of the fit (Adam: mean over the last epoch).
    loss_curve_ : list of float
        Objective after every L-BFGS iteration, or mean over every epoch.
    best_loss_ : float or None
        Adam without early stopping: the lowest epoch loss; else ``None``.
    validation_scores_ : list of float
        Early stopping: score of the held-out observations after every
        epoch (R^2 or accuracy, every task's observations weighted to the
        same total).
    best_validation_score_ : float
        Early stopping: the best of ``validation_scores_``.
    n_iter_ : int
        L-BFGS iterations or Adam epochs run.
    tasks_ : ndarray of shape (n_tasks,)
        Task labels.
    n_tasks_ : int
        Number of tasks.
    new_tasks_ : ndarray of shape (n_new_tasks,)
        After :meth:`fit_new_tasks`: the labels it added, at the end of
        ``tasks_``.
    new_task_alpha_ : dict
        After :meth:`fit_new_tasks`: the strengths ``a_j`` of the prior of
        a new task, ``{"coefs": [...], "intercepts": [...]}``, one array per
        per-task layer shaped as one task's weights or intercepts.
    task_column_ : hashable or None
        The resolved task column.
    n_features_in_ : int
        Number of features (task column excluded).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when ``X`` is a DataFrame with string names."""


class MultiTaskMLPRegressor(MultiTaskRegressorMixin, _BaseMultiTaskMLP):
    """Multi-task multi-layer perceptron regressor: hard or soft parameter sharing.

    Every task ``t`` has a network ``f_t``: a trunk (``hidden_layer_sizes``),
    its own hidden layers (``task_hidden_layer_sizes``) and its own linear
    head. Under hard sharing the trunk is one network used by all tasks;
    under soft sharing every task has its own trunk and a penalty pulls the
    trunks together. The objective, with ``n_t`` the sum of the sample
    weights of task ``t``, is::

        minimise  sum_t (1 / n_t) [ sum_{i in t} s_i (y_i - f_t(x_i))^2 / 2
                                    + (alpha / 2) ||W_t||^2 ]
                  + (sharing_alpha / 2) sum_t ||theta_t - mean_u theta_u||^2

    with ``W_t`` the weight matrices of task ``t``'s network and
    ``theta_t`` its trunk parameters (soft sharing only). Each task's data
    term is its weighted mean loss, so a large task does not drown a small
    one. With one task, hard sharing and no task layers the objective is
    scikit-learn's :class:`~sklearn.neural_network.MLPRegressor`'s.

    Read more in the :ref:`User Guide <neural_network>`.

    Parameters
    ----------{parameters}

    Attributes
    ----------{attributes}

    See Also
    --------
    MultiTaskMLPClassifier : The classifier.
    skmtl.linear_model.MeanRegularizedRegressor : The linear counterpart of
        soft sharing.

    References
    ----------
    Caruana, R. (1997). Multitask learning. Machine Learning, 28(1), 41-75.

    Ruder, S. (2017). An overview of multi-task learning in deep neural
    networks. arXiv:1706.05098.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.neural_network import MultiTaskMLPRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 3))
    >>> Y = np.column_stack([np.sin(X[:, 0]), np.sin(X[:, 0]) + X[:, 1]])
    >>> Y[:10, 1] = np.nan  # unobserved targets
    >>> model = MultiTaskMLPRegressor((16,), random_state=0, max_iter=500).fit(X, Y)
    >>> model.predict(X[:2]).shape
    (2, 2)
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the task networks.

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
        data = check_task_data(
            self, X, y, task_column=self.task_column, sample_weight=sample_weight
        )
        _check_magnitudes(data.X, "features", _FEATURE_ADVICE)
        _check_magnitudes(data.y, "targets", _TARGET_ADVICE)
        return self._fit_network(data, data.y, "squared", 1)

    def _new_task_targets(self, data):
        _check_magnitudes(data.y, "targets", _TARGET_ADVICE)
        return data.y, "squared"

    def predict(self, X):
        """Predict with the network of each row's task.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Rows to predict, with the task column in long format.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_tasks)
            One prediction per row, or per row and task in wide format.
        """
        return self._outputs(X)[..., 0]


class MultiTaskMLPClassifier(
    MultiTaskClassifierMixin, MultiTaskLinearClassifierMixin, _BaseMultiTaskMLP
):
    """Multi-task multi-layer perceptron classifier: hard or soft parameter sharing.

    The networks of :class:`MultiTaskMLPRegressor` with a logistic head for
    two classes, a softmax head for more (long format), and one logistic
    head per column of ``Y`` in wide (multi-label) format. The objective,
    with ``n_t`` the sum of the sample weights of task ``t``, is::

        minimise  sum_t (1 / n_t) [ sum_{i in t} s_i loss(y_i, f_t(x_i))
                                    + (alpha / 2) ||W_t||^2 ]
                  + (sharing_alpha / 2) sum_t ||theta_t - mean_u theta_u||^2

    with the binary or multinomial log-loss. With one task, hard sharing and
    no task layers it is scikit-learn's
    :class:`~sklearn.neural_network.MLPClassifier`'s objective.

    Read more in the :ref:`User Guide <neural_network>`.

    Parameters
    ----------{parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (of every task; in wide format the two labels of every
        column).{attributes}

    See Also
    --------
    MultiTaskMLPRegressor : The regressor.

    References
    ----------
    Caruana, R. (1997). Multitask learning. Machine Learning, 28(1), 41-75.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.neural_network import MultiTaskMLPClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(80, 2))
    >>> Y = np.column_stack([X[:, 0] > 0, X[:, 0] + X[:, 1] > 0]).astype(float)
    >>> model = MultiTaskMLPClassifier((8,), random_state=0, max_iter=500).fit(X, Y)
    >>> model.predict(X[:3]).shape
    (3, 2)
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the task networks.

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
        _check_magnitudes(data.X, "features", _FEATURE_ADVICE)
        targets, loss, n_classes = _classification_problem(self, data)
        if loss.name == "multinomial":
            return self._fit_network(data, targets, "multinomial", n_classes)
        return self._fit_network(data, targets, "logistic", 1)

    # The linear classifiers' mixin (prediction) has its own fit_new_tasks.
    fit_new_tasks = _BaseMultiTaskMLP.fit_new_tasks

    def _new_task_targets(self, data):
        """Class indices (softmax head) or 0/1 (logistic head) of ``classes_``."""
        check_classification_targets(data.y)
        unseen = np.setdiff1d(np.unique(data.y), self.classes_)
        if len(unseen):
            raise ValueError(
                f"The new tasks hold the class(es) {format_labels(unseen)}, which "
                f"fit did not see; the classes are {format_labels(self.classes_)}. "
                "fit_new_tasks keeps the heads of fit: refit with fit to add "
                "classes."
            )
        encoded = np.searchsorted(self.classes_, data.y)
        if self.n_outputs_ == 1:
            return encoded.astype(float), "logistic"
        return encoded.astype(np.intp), "multinomial"

    def decision_function(self, X):
        """Scores of the heads (before the logistic or softmax).

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
        output = self._outputs(X)
        return output[..., 0] if self.n_outputs_ == 1 else output


for _cls in (MultiTaskMLPRegressor, MultiTaskMLPClassifier):
    _cls.__doc__ = _cls.__doc__.replace("{parameters}", _PARAMETERS_DOC).replace(
        "{attributes}", _ATTRIBUTES_DOC
    )
