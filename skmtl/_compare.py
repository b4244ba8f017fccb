"""The comparison protocol behind ``skmtl compare``.

Every model is fitted on repeated train/test splits made within each task
(the School protocol: random splits holding out 25% of every task's rows,
10 in Argyriou, Evgeniou & Pontil 2008, 3 by default) or on the folds of a
k-fold cross-validation within each task, and scored on the test rows:

- regression: the explained variance (R^2 of all test rows pooled) and the
  RMSE; in wide format (tasks on shared rows) the R^2 of every task averaged
  over tasks, as the ``score`` of skmtl estimators;
- classification: the accuracy (averaged over tasks in wide format) and the
  log-loss of the predicted probabilities.

Each task is also scored on its own test rows (R^2 or accuracy, with
:func:`skmtl.metrics.task_scores`), so that a model can be compared with the
per-task baseline task by task.

Everything a model learns comes from the training part of a split only: the
preprocessing (imputation of missing values, standardisation of numeric
columns, one-hot encoding of categorical ones) is the first step of the
model's pipeline, and every hyper-parameter is chosen by cross-validation on
the training part, within every task (:class:`skmtl.model_selection.TaskKFold`,
shuffled). The per-task and pooled ridge baselines use ``RidgeCV``'s
efficient leave-one-out instead, which is the same kind of choice.

References
----------
A. Argyriou, T. Evgeniou and M. Pontil. Convex multi-task feature learning.
Machine Learning, 73(3):243-272, 2008.
"""

import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegressionCV, RidgeCV
from sklearn.metrics import accuracy_score, log_loss, mean_squared_error, r2_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler, OneHotEncoder, StandardScaler
from sklearn.utils.parallel import Parallel, delayed
from threadpoolctl import threadpool_limits

from .baseline import PerTaskEstimator, PooledEstimator
from .metrics import task_scores
from .model_selection import FewShotTasksOut, TaskKFold, train_test_split_tasks
from .model_selection._split import _task_split_sizes
from .pipeline import TaskColumnPassthrough

#: Ridge strengths searched by the baselines' efficient leave-one-out CV.
RIDGE_ALPHAS = tuple(np.logspace(-3, 4, 15))
#: Inverse strengths ``C`` searched by the logistic baselines.
LOGISTIC_CS = tuple(np.logspace(-3, 3, 7))
#: Folds of the logistic baselines' own (stratified) cross-validation.
LOGISTIC_FOLDS = 3
#: ``alpha`` values searched for ``MeanRegularizedClassifier``.
MEAN_REGULARIZED_CLASSIFIER_ALPHAS = (1e-3, 1e-2, 1e-1, 1.0, 10.0)
#: Length of the ``alpha`` path of the trace-norm, sparse + low-rank, robust
#: and dirty models (from their ``alpha_max``, three decades).
STRUCTURE_N_ALPHAS = 10
#: Values of ``eta`` (ridge strength / cluster strength) searched for the
#: clustered model, each with its path (about 3 s per value and split on
#: School). On one School split their inner CV R^2 was 0.324, 0.329 and
#: 0.320 with 9 clusters: a ridge much stronger than the cluster term
#: (the class default also tries 10) does not help there.
CLUSTERED_ETAS = (0.01, 0.1, 1.0)

#: Length and extent of the ``alpha`` path of ``JointFeatureRegressorCV``:
#: on School, 20 values down to ``alpha_max / 100`` choose nearly the same
#: ``alpha`` as the default 100 values down to ``alpha_max / 1000`` (test
#: R^2 within 0.0003 on two splits), five times faster.
JOINT_FEATURE_N_ALPHAS = 20
JOINT_FEATURE_EPS = 1e-2
#: Folds of the inner cross-validation within every task (fewer when the
#: largest task has fewer training rows).
INNER_FOLDS = 5
#: Fewest training rows a task may have in a split.
MIN_TRAINING_ROWS = 2


class CompareError(ValueError):
    """A problem with the user's input or settings, reported in one line."""


def one_line(exc):
    """The message of an exception on one line, prefixed by its type.

    Parameters
    ----------
    exc : BaseException

    Returns
    -------
    message : str
    """
    text = " ".join(str(exc).split())
    if isinstance(exc, CompareError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --------------------------------------------------------------------------
# the data
# --------------------------------------------------------------------------


@dataclass
class Dataset:
    """A prepared table: features, targets and the role of every column.

    Parameters
    ----------
    X : pandas.DataFrame
        Feature columns, and the task column in long format.
    y : ndarray of shape (n_samples,) or (n_samples, n_tasks)
        Targets; 2-D in wide format, with ``NaN`` for unobserved cells.
    task_column : str or None
        The task column of ``X``; ``None`` in wide format, where the tasks
        are the columns of ``y``.
    task_type : {"regression", "classification"}
    numeric_columns : list of str
        Columns imputed and standardised (except ``indicator_columns``).
    categorical_columns : list of str
        Columns one-hot encoded.
    target_names : list of str
        The target column (long format) or the target columns (wide format).
    impute : {"mean", "median", "none"}, default="mean"
        Imputation of missing numeric values.
    max_categories : int, default=20
        Most indicator columns per categorical column.
    source : str, default=""
        Where the data come from, for messages.
    rescale : bool, default=False
        Divide the numeric columns by their largest absolute value before
        standardising them: for columns whose squares overflow float64.
    indicator_columns : list of str, default=[]
        The numeric columns that hold only 0 and 1: imputed and centred,
        not scaled (centred, the intercepts stay those of an average row).
        Standardising a rare indicator gives it values far
        from the others (an indicator of 0.5% of the rows becomes 14 for
        them), which then dominate the distances of kernels and networks
        and weigh more in a ridge penalty.
    """

    X: object
    y: np.ndarray
    task_column: object
    task_type: str
    numeric_columns: list
    categorical_columns: list
    target_names: list
    impute: str = "mean"
    max_categories: int = 20
    source: str = ""
    rescale: bool = False
    indicator_columns: list = field(default_factory=list)

    @property
    def layout(self):
        """``"long"`` with a task column, ``"wide"`` without."""
        return "wide" if self.task_column is None else "long"

    @property
    def n_samples(self):
        """Number of rows."""
        return len(self.y)

    def task_of_rows(self, rows=None):
        """Task label of the given rows (long format only).

        Parameters
        ----------
        rows : ndarray of int or None
            Row positions; ``None`` for every row.

        Returns
        -------
        labels : ndarray
        """
        labels = self.X[self.task_column].to_numpy()
        return labels if rows is None else labels[rows]

    def task_sizes(self, rows=None):
        """Number of observed targets of every task.

        Parameters
        ----------
        rows : ndarray of int or None
            Count only these rows; ``None`` for every row.

        Returns
        -------
        sizes : dict
            ``{task label: size}``, tasks sorted (long format) or in the
            order of the target columns (wide format).
        """
        if self.layout == "wide":
            y = self.y if rows is None else self.y[rows]
            observed = (~np.isnan(y)).sum(axis=0)
            return dict(zip(self.target_names, observed.tolist()))
        labels, counts = np.unique(self.task_of_rows(rows), return_counts=True)
        return dict(zip(labels.tolist(), counts.tolist()))


def build_preprocessor(dataset):
    """The preprocessing step, fitted on the training part of every split.

    Numeric columns: missing values imputed (unless ``impute="none"``), then
    standardised (after division by their largest absolute value when
    ``dataset.rescale``), except 0/1 indicator columns, which are only
    imputed and centred; categorical columns: one-hot encoded, a missing value being
    a category of its own, at most ``max_categories`` indicators per column
    (rarer categories, and categories unseen in training, share an
    "infrequent" indicator). The task column is passed through unchanged.

    Parameters
    ----------
    dataset : Dataset

    Returns
    -------
    preprocessor : TaskColumnPassthrough
    """
    parts = []
    indicators = list(dataset.indicator_columns)
    scaled = [c for c in dataset.numeric_columns if c not in indicators]
    if scaled:
        steps = [("scale", StandardScaler())]
        if dataset.impute != "none":
            steps.insert(0, ("impute", _imputer(dataset.impute)))
        if dataset.rescale:
            steps.insert(0, ("rescale", MaxAbsScaler()))
        parts.append(("numeric", Pipeline(steps), scaled))
    if indicators:
        # Centred, not scaled: the intercepts stay those of an average row
        # (the empirical-Bayes intercept tie of fit_new_tasks relies on it).
        steps = [("center", StandardScaler(with_std=False))]
        if dataset.impute != "none":
            steps.insert(0, ("impute", _imputer(dataset.impute)))
        parts.append(("indicator", Pipeline(steps), indicators))
    if dataset.categorical_columns:
        parts.append(
            (
                "categorical",
                one_hot_encoder(dataset.max_categories),
                list(dataset.categorical_columns),
            )
        )
    columns = ColumnTransformer(
        parts, sparse_threshold=0.0, verbose_feature_names_out=False
    )
    # DataFrame output in every format, so that models see the column names.
    return TaskColumnPassthrough(columns, task_column=dataset.task_column).set_output(
        transform="pandas"
    )


def _imputer(strategy):
    return SimpleImputer(strategy=strategy, keep_empty_features=True)


def one_hot_encoder(max_categories):
    """The one-hot encoder of the categorical columns.

    Parameters
    ----------
    max_categories : int

    Returns
    -------
    encoder : sklearn.preprocessing.OneHotEncoder
    """
    return OneHotEncoder(
        sparse_output=False,
        handle_unknown="infrequent_if_exist",
        max_categories=max_categories,
    )


# --------------------------------------------------------------------------
# the models
# --------------------------------------------------------------------------


def _logistic_cv():
    return LogisticRegressionCV(
        Cs=LOGISTIC_CS,
        l1_ratios=(0.0,),
        cv=LOGISTIC_FOLDS,
        scoring="neg_log_loss",
        max_iter=1000,
        use_legacy_attributes=False,
    )


def _per_task_regressor(task_column, inner_cv, random_state):
    return PerTaskEstimator(RidgeCV(alphas=RIDGE_ALPHAS), task_column=task_column)


def _per_task_classifier(task_column, inner_cv, random_state):
    return PerTaskEstimator(_logistic_cv(), task_column=task_column)


def _pooled_regressor(task_column, inner_cv, random_state):
    return PooledEstimator(RidgeCV(alphas=RIDGE_ALPHAS), task_column=task_column)


def _pooled_classifier(task_column, inner_cv, random_state):
    return PooledEstimator(_logistic_cv(), task_column=task_column)


def _mean_regularized_regressor(task_column, inner_cv, random_state):
    from .linear_model import MeanRegularizedRegressorCV

    return MeanRegularizedRegressorCV(task_column=task_column, cv=inner_cv)


def _mean_regularized_classifier(task_column, inner_cv, random_state):
    from .linear_model import MeanRegularizedClassifier

    # There is no MeanRegularizedClassifierCV: search alpha with GridSearchCV.
    return GridSearchCV(
        MeanRegularizedClassifier(task_column=task_column),
        {"alpha": list(MEAN_REGULARIZED_CLASSIFIER_ALPHAS)},
        cv=inner_cv,
        scoring=neg_log_loss_scorer,
        error_score="raise",
    )


def _joint_feature_regressor(task_column, inner_cv, random_state):
    from .linear_model import JointFeatureRegressorCV

    return JointFeatureRegressorCV(
        n_alphas=JOINT_FEATURE_N_ALPHAS,
        eps=JOINT_FEATURE_EPS,
        task_column=task_column,
        cv=inner_cv,
    )


def _joint_feature_classifier(task_column, inner_cv, random_state):
    from .linear_model import JointFeatureClassifierCV

    return JointFeatureClassifierCV(task_column=task_column, cv=inner_cv)


def _structure_model(name, kind, **params):
    """Factory of the ``*CV`` class ``name + kind + "CV"`` of skmtl.linear_model.

    The class is looked up when the factory is called, so that a model whose
    module cannot be imported is skipped with the reason
    (:func:`unavailable_reason`) instead of breaking the command.
    """

    def factory(task_column, inner_cv, random_state):
        from . import linear_model

        estimator = getattr(linear_model, f"{name}{kind}CV")
        return estimator(
            alphas=STRUCTURE_N_ALPHAS, task_column=task_column, cv=inner_cv, **params
        )

    factory.__name__ = f"_{name}_{kind}".lower()
    return factory


def clustered_n_clusters(n_tasks):
    """Number of clusters of the clustered model in a comparison.

    ``ceil(sqrt(n_tasks / 2))``, the usual rule of thumb for a number of
    clusters (2 for 3 to 8 tasks, 9 for the 139 schools of School): the
    comparison has no cross-validation over it.

    Parameters
    ----------
    n_tasks : int

    Returns
    -------
    n_clusters : int
        Between 1 and ``n_tasks``.
    """
    return int(min(n_tasks, max(1, np.ceil(np.sqrt(n_tasks / 2)))))


def _mlp(kind, **params):
    """Factory of ``MultiTaskMLP<kind>``: one hidden layer of 32 units.

    Its strengths are fixed (not searched: a network is costly to fit on
    every fold), at values that did well on School with raw targets.
    """

    def factory(task_column, inner_cv, random_state):
        from . import neural_network

        estimator = getattr(neural_network, f"MultiTaskMLP{kind}")
        return estimator(
            (32,),
            max_iter=1000,
            task_column=task_column,
            random_state=random_state,
            **params,
        )

    return factory


def _mtgp_regressor(task_column, inner_cv, random_state):
    from .gaussian_process import MultiTaskGaussianProcessRegressor

    return MultiTaskGaussianProcessRegressor(
        task_column=task_column, random_state=random_state
    )


@dataclass(frozen=True)
class ModelSpec:
    """A model of ``skmtl compare``.

    Parameters
    ----------
    name : str
        Name on the command line.
    description : str
        One line for ``--help``.
    multi_task : bool
        Whether the model shares information between tasks in a learned way
        (the baselines do not).
    regressor, classifier : callable or None
        ``factory(task_column, inner_cv, random_state)`` returning the
        unfitted estimator; ``None`` when the model does not exist for that
        kind of target.
    single_blas_thread : bool, default=True
        Run BLAS on one thread while fitting: the matrices of the linear
        models are small, and threads cost more than they gain (up to 5x
        slower on a busy 2-core machine); ``--n-jobs`` parallelises over
        splits instead.
    default : bool, default=True
        Run without ``--models``; the others run when named there.
    relations : bool, default=False
        The fitted model holds relations between tasks (a task similarity,
        correlation or graph, see :class:`skmtl.inspection.TaskRelationsDisplay`):
        they are kept for every split and drawn by ``--plot``.
    data_params : callable or None, default=None
        ``data_params(n_tasks)`` gives parameters that depend on the data
        (set on the estimator with ``set_params``), for example a number of
        clusters.
    """

    name: str
    description: str
    multi_task: bool
    regressor: object
    classifier: object
    single_blas_thread: bool = True
    default: bool = True
    relations: bool = False
    data_params: object = None

    def factory(self, task_type):
        """The estimator factory for a kind of target, or None."""
        return self.regressor if task_type == "regression" else self.classifier


#: The models, in the order of the table.
MODELS = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "per-task",
            "single-task learning: RidgeCV (LogisticRegressionCV) fitted on "
            "each task alone",
            False,
            _per_task_regressor,
            _per_task_classifier,
        ),
        ModelSpec(
            "pooled",
            "one RidgeCV (LogisticRegressionCV) on the rows of all tasks, task ignored",
            False,
            _pooled_regressor,
            _pooled_classifier,
        ),
        ModelSpec(
            "mean-regularized",
            "task models pulled towards a shared mean (Evgeniou & Pontil 2004)",
            True,
            _mean_regularized_regressor,
            _mean_regularized_classifier,
        ),
        ModelSpec(
            "joint-feature",
            "tasks select a common set of features, L2,1 penalty "
            "(Argyriou et al. 2008)",
            True,
            _joint_feature_regressor,
            _joint_feature_classifier,
        ),
        ModelSpec(
            "trace-norm",
            "tasks share a few learned features, trace-norm penalty "
            "(Argyriou et al. 2008)",
            True,
            _structure_model("TraceNorm", "Regressor"),
            _structure_model("TraceNorm", "Classifier"),
        ),
        ModelSpec(
            "sparse-low-rank",
            "low-rank shared part plus sparse task effects (Chen et al. 2012); "
            "with --models",
            True,
            _structure_model("SparseLowRank", "Regressor"),
            _structure_model("SparseLowRank", "Classifier"),
            default=False,
        ),
        ModelSpec(
            "robust",
            "low-rank shared part plus outlier tasks (Chen et al. 2011); with --models",
            True,
            _structure_model("RobustMultiTask", "Regressor"),
            _structure_model("RobustMultiTask", "Classifier"),
            default=False,
        ),
        ModelSpec(
            "dirty",
            "features shared by all tasks plus task-specific ones (Jalali et al. "
            "2010); with --models",
            True,
            _structure_model("DirtyModel", "Regressor"),
            _structure_model("DirtyModel", "Classifier"),
            default=False,
        ),
        ModelSpec(
            "graph",
            "task models pulled towards each other along a task graph (Evgeniou "
            "et al. 2005); here the complete graph, as no graph is given; with "
            "--models",
            True,
            _structure_model("GraphRegularized", "Regressor", graph="complete"),
            _structure_model("GraphRegularized", "Classifier", graph="complete"),
            default=False,
            relations=True,
        ),
        ModelSpec(
            "clustered",
            "tasks grouped into ceil(sqrt(n_tasks / 2)) learned clusters, convex "
            "relaxation (Jacob et al. 2008; Zhou et al. 2011); with --models",
            True,
            _structure_model("ClusteredMultiTask", "Regressor", etas=CLUSTERED_ETAS),
            _structure_model("ClusteredMultiTask", "Classifier", etas=CLUSTERED_ETAS),
            default=False,
            relations=True,
            data_params=lambda n_tasks: {"n_clusters": clustered_n_clusters(n_tasks)},
        ),
        ModelSpec(
            "task-relationship",
            "learned task covariance between the task models (Zhang & Yeung "
            "2010); with --models",
            True,
            _structure_model("TaskRelationship", "Regressor"),
            _structure_model("TaskRelationship", "Classifier"),
            default=False,
            relations=True,
        ),
        ModelSpec(
            "mlp-hard",
            "network with hard parameter sharing: one trunk, a head per task "
            "(fixed strengths); with --models",
            True,
            _mlp("Regressor", alpha=100.0),
            _mlp("Classifier", alpha=1.0),
            default=False,
        ),
        ModelSpec(
            "mlp-soft",
            "network with soft parameter sharing: a trunk per task, pulled to "
            "their mean (fixed strengths); with --models",
            True,
            _mlp("Regressor", sharing="soft", alpha=100.0, sharing_alpha=100.0),
            _mlp("Classifier", sharing="soft", alpha=1.0, sharing_alpha=1.0),
            default=False,
        ),
        ModelSpec(
            "mtgp",
            "multi-task Gaussian process with a learned task covariance "
            "(Bonilla et al. 2008); regression only; exact up to 2,000 "
            "observations, sparse (100 inducing inputs, Titsias 2009) above",
            True,
            _mtgp_regressor,
            None,
            single_blas_thread=False,
            relations=True,
        ),
    )
}

#: The model every other one is compared with, task by task.
BASELINE = "per-task"


def unavailable_reason(name, task_type):
    """Why a model cannot run for a kind of target, or None if it can.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`.
    task_type : {"regression", "classification"}

    Returns
    -------
    reason : str or None
    """
    factory = MODELS[name].factory(task_type)
    if factory is None:
        return f"not available for {task_type}"
    try:
        factory(None, None, None)
    except Exception as exc:  # a module being written may fail in any way
        return f"cannot be imported ({one_line(exc)})"
    return None


def inner_cv(dataset, n_folds, random_state):
    """The cross-validation that chooses hyper-parameters on a training part.

    Parameters
    ----------
    dataset : Dataset
    n_folds : int
    random_state : int

    Returns
    -------
    cv : TaskKFold
        Shuffled k-fold within every task (plain k-fold over rows in wide
        format).
    """
    return TaskKFold(
        n_folds,
        task_column=dataset.task_column,
        shuffle=True,
        random_state=random_state,
    )


def build_model(name, dataset, *, random_state, inner_folds=INNER_FOLDS):
    """The pipeline of a model: preprocessing, then the estimator.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`.
    dataset : Dataset
    random_state : int
        Seed of the inner cross-validation (and of the model, if random).
    inner_folds : int, default=5
        Folds of the inner cross-validation.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Steps ``"preprocess"`` and ``"model"``.
    """
    spec = MODELS[name]
    cv = inner_cv(dataset, inner_folds, random_state)
    estimator = spec.factory(dataset.task_type)(dataset.task_column, cv, random_state)
    if spec.data_params is not None:
        estimator.set_params(**spec.data_params(len(dataset.task_sizes())))
    return Pipeline([("preprocess", build_preprocessor(dataset)), ("model", estimator)])


# --------------------------------------------------------------------------
# scores
# --------------------------------------------------------------------------


def metric_names(dataset):
    """JSON keys and table headers of the two scores of a data set.

    Parameters
    ----------
    dataset : Dataset

    Returns
    -------
    names : dict
        ``"score"`` and ``"error"``: ``(key, header)`` of the main score
        (higher is better) and of the error (lower is better); ``"task"``:
        the key of the per-task score.
    """
    wide = dataset.layout == "wide"
    if dataset.task_type == "classification":
        header = "accuracy (mean over tasks)" if wide else "accuracy"
        return {
            "score": ("accuracy", header),
            "error": ("log_loss", "log-loss"),
            "task": "accuracy",
        }
    if wide:
        score = ("r2", "R^2 (mean over tasks)")
    else:
        score = ("explained_variance", "explained variance")
    return {"score": score, "error": ("rmse", "RMSE"), "task": "r2"}


def neg_log_loss_scorer(estimator, X, y):
    """Minus the log-loss of ``estimator`` on ``X``, for model selection.

    Long format: the log-loss of all rows with the estimator's classes (a
    fold may miss a class); wide format: of every observed cell.

    Parameters
    ----------
    estimator : fitted classifier
    X : DataFrame
    y : ndarray of shape (n_samples,) or (n_samples, n_tasks)

    Returns
    -------
    score : float
    """
    return -_log_loss(estimator, X, y)


def _log_loss(model, X, y):
    proba = np.asarray(model.predict_proba(X))
    y = np.asarray(y)
    if y.ndim == 2:
        observed = ~np.isnan(y.astype(float))
        return float(log_loss(y[observed], proba[observed], labels=[0, 1]))
    return float(log_loss(y, proba, labels=model.classes_))


def score_model(model, dataset, rows):
    """Score a fitted model on some rows, pooled and task by task.

    Parameters
    ----------
    model : fitted estimator
    dataset : Dataset
    rows : ndarray of int
        The test rows.

    Returns
    -------
    scores : dict
        The main score and the error (keys of :func:`metric_names`).
    per_task : dict
        ``{task label: R^2 or accuracy on the task's test rows}``.
    """
    names = metric_names(dataset)
    X, y = dataset.X.iloc[rows], dataset.y[rows]
    y_pred = model.predict(X)
    classification = dataset.task_type == "classification"
    metric = accuracy_score if classification else r2_score
    if dataset.layout == "wide":
        by_column = task_scores(y, y_pred, metric=metric)
        per_task = {dataset.target_names[k]: v for k, v in by_column.items()}
        score = float(np.nanmean(list(per_task.values())))
    else:
        per_task = task_scores(y, y_pred, dataset.task_of_rows(rows), metric=metric)
        score = float(metric(y, y_pred))
    if classification:
        error = _log_loss(model, X, y)
    else:
        observed = ~np.isnan(y)
        error = float(np.sqrt(mean_squared_error(y[observed], y_pred[observed])))
    return {names["score"][0]: score, names["error"][0]: error}, per_task


#: Fitted attributes of the ``*CV`` classes reported as chosen hyper-parameters.
_CHOSEN_PARAMETERS = (
    "alpha_",
    "alpha_mean_",
    "l1_ratio_",
    "alpha_ridge_",
    "eta_",
    "beta_",
    "ridge_ratio_",
    "ridge_alpha_",
)


def fitted_details(model):
    """The hyper-parameters a fitted pipeline chose, as JSON-ready values.

    Parameters
    ----------
    model : fitted Pipeline of :func:`build_model`

    Returns
    -------
    details : dict
        For example ``{"alpha": 1.0, "alpha_mean": 0.01}``; per-task
        baselines give the value of every task (``"alpha_per_task"`` or
        ``"C_per_task"``, in the order of ``"tasks"``); joint-feature models
        add ``"features"``, ``"group_norms"`` (the norm of every feature's
        coefficients over tasks) and ``"selected"``; clustered models add
        ``"task_clusters"`` (a cluster label per task, in the order of their
        ``tasks_``).
    """
    estimator = model[-1]
    details = {}
    if isinstance(estimator, GridSearchCV):
        details.update(_plain(estimator.best_params_))
        estimator = estimator.best_estimator_
    if isinstance(estimator, PooledEstimator):
        estimator = estimator.estimator_
    if isinstance(estimator, PerTaskEstimator):
        for name in ("alpha_", "C_"):
            if hasattr(estimator.estimators_[0], name):
                values = [getattr(est, name) for est in estimator.estimators_]
                details[f"{name[:-1]}_per_task"] = _plain(values)
        details["tasks"] = _plain(list(estimator.tasks_))
    for name in (*_CHOSEN_PARAMETERS, "C_"):
        if hasattr(estimator, name):
            details[name[:-1]] = _plain(getattr(estimator, name))
    if hasattr(estimator, "support_"):
        details.update(_feature_selection(estimator))
    if hasattr(estimator, "task_clusters_"):
        details["task_clusters"] = _plain(estimator.task_clusters_)
    if hasattr(estimator, "log_marginal_likelihood_value_"):
        details["log_marginal_likelihood"] = float(
            estimator.log_marginal_likelihood_value_
        )
        details["kernel"] = str(estimator.kernel_)
    return details


def fitted_relations(model):
    """The relations between tasks that a fitted pipeline holds.

    Parameters
    ----------
    model : fitted Pipeline of :func:`build_model`

    Returns
    -------
    relations : dict
        ``"matrix"`` of shape ``(n_tasks, n_tasks)``, ``"labels"`` (the task
        labels of its axes), ``"quantity"`` (what it holds, for example
        ``"task correlation"``), ``"clusters"`` (a cluster label per task,
        or None) and ``"attribute"`` (the fitted attribute read), as read by
        :meth:`skmtl.inspection.TaskRelationsDisplay.from_estimator`.
    """
    from .inspection._task_relations import task_relations

    relations = task_relations(model, caller="skmtl compare")
    keys = ("matrix", "labels", "quantity", "clusters", "attribute")
    return {key: relations[key] for key in keys}


def _feature_selection(estimator):
    coef = np.asarray(estimator.coef_)
    # Norm of every feature's coefficients over tasks (and classes).
    norms = np.sqrt((coef**2).reshape(-1, coef.shape[-1]).sum(axis=0))
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        names = [f"x{j}" for j in range(coef.shape[-1])]
    return {
        "features": [str(name) for name in names],
        "group_norms": norms.tolist(),
        "selected": int(np.count_nonzero(estimator.support_)),
    }


def _plain(value):
    """Numpy scalars and arrays as Python numbers and lists (for JSON)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


# --------------------------------------------------------------------------
# the protocol
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """One outer train/test split.

    Parameters
    ----------
    index : int
    train, test : ndarray of int
        Row positions, sorted.
    seed : int
        Seed of this split's inner cross-validation (and random models).
    """

    index: int
    train: np.ndarray
    test: np.ndarray
    seed: int


def min_rows_per_task(*, test_size=0.25, cv=None):
    """Fewest rows a task needs for the splits.

    A task must keep :data:`MIN_TRAINING_ROWS` training rows and one test
    row in every split (random splits round the test part up, as
    :func:`skmtl.model_selection.train_test_split_tasks`), and with ``cv``
    it must have a row in each of the ``cv`` test folds.

    Parameters
    ----------
    test_size : float, default=0.25
    cv : int or None, default=None

    Returns
    -------
    n_rows : int
    """
    n_rows = max(2, cv or 2)
    while True:
        if cv is not None:
            n_train = n_rows - -(-n_rows // cv)
        else:
            n_train, _ = _task_split_sizes(n_rows, test_size, None)
        if n_train >= MIN_TRAINING_ROWS:
            return n_rows
        n_rows += 1


def check_enough_rows(dataset, *, test_size=0.25, cv=None):
    """Raise a :class:`CompareError` if a task is too small for the splits.

    Parameters
    ----------
    dataset : Dataset
    test_size : float, default=0.25
    cv : int or None, default=None
    """
    needed = min_rows_per_task(test_size=test_size, cv=cv)
    sizes = dataset.task_sizes()
    small = {task: size for task, size in sizes.items() if size < needed}
    if not small:
        return
    what = f"--cv {cv}" if cv is not None else f"--test-size {test_size:g}"
    rows = "observed targets" if dataset.layout == "wide" else "rows"
    shown = ", ".join(f"{task!r} ({size})" for task, size in list(small.items())[:5])
    more = f" and {len(small) - 5} more" if len(small) > 5 else ""
    raise CompareError(
        f"too few rows for the splits: with {what} every task needs at least "
        f"{needed} {rows} ({MIN_TRAINING_ROWS} to train, the rest to test), but "
        f"task(s) {shown}{more} have fewer. Remove these tasks from the data"
        + (", or lower --cv." if cv is not None else ", or lower --test-size.")
        + (
            " Most tasks are that small: is --task-column the column that "
            "names the task of each row?"
            if dataset.layout == "long" and 2 * len(small) > len(sizes)
            else ""
        )
    )


def make_splits(dataset, *, n_splits=10, test_size=0.25, cv=None, random_state=0):
    """The outer train/test splits.

    Parameters
    ----------
    dataset : Dataset
    n_splits : int, default=10
        Number of random splits (ignored with ``cv``). Split ``k`` is
        :func:`~skmtl.model_selection.train_test_split_tasks` (long format)
        or ``train_test_split`` (wide format) seeded with
        ``random_state + k``.
    test_size : float, default=0.25
        Fraction of every task's rows held out for testing.
    cv : int or None, default=None
        Use the ``cv`` folds of a shuffled :class:`TaskKFold` seeded with
        ``random_state`` instead.
    random_state : int, default=0

    Returns
    -------
    splits : list of Split
        Split ``k`` seeds its inner cross-validation with ``random_state + k``.
    """
    positions = np.arange(dataset.n_samples)
    if cv is not None:
        folds = TaskKFold(
            cv,
            task_column=dataset.task_column,
            shuffle=True,
            random_state=random_state,
        ).split(dataset.X)
        return [
            Split(k, train, test, random_state + k)
            for k, (train, test) in enumerate(folds)
        ]
    splits = []
    for k in range(n_splits):
        seed = random_state + k
        if dataset.layout == "wide":
            train, test = train_test_split(
                positions, test_size=test_size, random_state=seed
            )
        else:
            *_, train, test = train_test_split_tasks(
                dataset.X,
                positions,
                task_column=dataset.task_column,
                test_size=test_size,
                random_state=seed,
            )
        splits.append(Split(k, np.sort(train), np.sort(test), seed))
    return splits


def inner_folds_for(dataset, splits):
    """Folds of the inner cross-validation: 5, or fewer for tiny tasks.

    :class:`TaskKFold` needs a task with ``k`` training rows to make ``k``
    folds; smaller tasks stay in every inner training fold.

    Parameters
    ----------
    dataset : Dataset
    splits : list of Split

    Returns
    -------
    n_folds : int
    """
    largest = min(max(dataset.task_sizes(split.train).values()) for split in splits)
    return int(min(INNER_FOLDS, max(2, largest)))


def training_size(dataset, splits):
    """Largest number of training observations over the splits.

    Parameters
    ----------
    dataset : Dataset
    splits : list of Split

    Returns
    -------
    n_observations : int
    """
    return max(sum(dataset.task_sizes(split.train).values()) for split in splits)


@dataclass
class SplitOutcome:
    """What fitting one model on one split gave."""

    name: str
    split: int
    scores: dict = field(default_factory=dict)
    task_scores: dict = field(default_factory=dict)
    fit_time: float = float("nan")
    details: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    error: str = None
    relations: dict = None


def fit_and_score(name, dataset, split, inner_folds=INNER_FOLDS):
    """Fit one model on the training rows of a split and score the test rows.

    Any exception is caught and recorded in ``error``: a model that fails
    (for example a per-task classifier on a task with one class) is reported
    as failed instead of ending the whole comparison. Warnings are recorded,
    not shown.

    Parameters
    ----------
    name : str
    dataset : Dataset
    split : Split
    inner_folds : int, default=5

    Returns
    -------
    outcome : SplitOutcome
    """
    outcome = SplitOutcome(name, split.index)
    single_thread = MODELS[name].single_blas_thread
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = build_model(
                name, dataset, random_state=split.seed, inner_folds=inner_folds
            )
            X, y = dataset.X.iloc[split.train], dataset.y[split.train]
            with threadpool_limits(1, "blas") if single_thread else nullcontext():
                start = time.perf_counter()
                model.fit(X, y)
                outcome.fit_time = time.perf_counter() - start
                outcome.scores, outcome.task_scores = score_model(
                    model, dataset, split.test
                )
            outcome.details = fitted_details(model)
            if MODELS[name].relations:
                outcome.relations = fitted_relations(model)
        except Exception as exc:  # reported per model, see the docstring
            outcome.error = one_line(exc)
    outcome.warnings = sorted({one_line(w.message) for w in caught})
    return outcome


# --------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------


@dataclass
class ModelResult:
    """Everything measured for one model over all splits.

    Parameters
    ----------
    name : str
    status : {"ok", "failed", "skipped"}
    reason : str or None
        Why the model failed or was skipped.
    error : str or None
        The first error of a failed model, on one line.
    scores : dict
        ``{metric key: [value of every split]}`` (``nan`` where it failed).
    fit_time : list of float
        Seconds per split (preprocessing, inner CV and refit included).
    task_scores : dict
        ``{task label: [per-task score of every split]}``.
    details : list of dict
        Hyper-parameters chosen in every split (:func:`fitted_details`).
    warnings : list of str
        Distinct warnings raised while fitting.
    tasks_improved, tasks_compared : int or None
        Tasks whose mean per-task score beats the per-task baseline's, out of
        the tasks where both are defined.
    relations : list of dict
        For models with task relations (:class:`ModelSpec`), the relations
        fitted in every split (:func:`fitted_relations`; ``None`` where the
        model failed); not part of :meth:`summary`, as they hold a number
        per pair of tasks.
    """

    name: str
    status: str = "ok"
    reason: str = None
    error: str = None
    scores: dict = field(default_factory=dict)
    fit_time: list = field(default_factory=list)
    task_scores: dict = field(default_factory=dict)
    details: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    tasks_improved: int = None
    tasks_compared: int = None
    relations: list = field(default_factory=list)

    @property
    def ok(self):
        """Whether the model ran on every split."""
        return self.status == "ok"

    def mean(self, key):
        """Mean over splits of a score (``"fit_time"`` for fit times)."""
        return float(np.mean(self._values(key)))

    def std(self, key):
        """Standard deviation over splits of a score."""
        return float(np.std(self._values(key)))

    def _values(self, key):
        return self.fit_time if key == "fit_time" else self.scores[key]

    def task_means(self):
        """Mean over splits of every task's score (``nan`` if never defined)."""
        means = {}
        for task, values in self.task_scores.items():
            values = np.asarray(values, dtype=float)
            finite = values[~np.isnan(values)]
            means[task] = float(finite.mean()) if len(finite) else float("nan")
        return means

    def summary(self):
        """Every number as JSON-ready values (``nan`` becomes ``None``).

        Returns
        -------
        summary : dict
        """
        out = {"model": self.name, "status": self.status, "reason": self.reason}
        if self.scores:
            for key in (*self.scores, "fit_time"):
                out[f"{key}_mean"] = _finite(self.mean(key))
                out[f"{key}_std"] = _finite(self.std(key))
            out["per_split"] = {
                key: [_finite(v) for v in values]
                for key, values in {**self.scores, "fit_time": self.fit_time}.items()
            }
            out["per_task"] = {
                str(task): [_finite(v) for v in values]
                for task, values in self.task_scores.items()
            }
            out["per_task_mean"] = {
                str(task): _finite(v) for task, v in self.task_means().items()
            }
        out["tasks_improved"] = self.tasks_improved
        out["tasks_compared"] = self.tasks_compared
        out["hyper_parameters"] = self.details
        out["warnings"] = self.warnings
        return out


def _finite(value):
    value = float(value)
    return value if np.isfinite(value) else None


def collect(name, outcomes, n_splits):
    """Gather the outcomes of one model into a :class:`ModelResult`.

    Parameters
    ----------
    name : str
    outcomes : list of SplitOutcome
        Of this model, any order.
    n_splits : int

    Returns
    -------
    result : ModelResult
    """
    result = ModelResult(name)
    by_split = sorted(outcomes, key=lambda outcome: outcome.split)
    keys = next((list(o.scores) for o in by_split if o.scores), [])
    tasks = sorted({t for o in by_split for t in o.task_scores}, key=_sort_key)
    result.scores = {key: [o.scores.get(key, np.nan) for o in by_split] for key in keys}
    result.fit_time = [o.fit_time for o in by_split]
    result.task_scores = {
        task: [o.task_scores.get(task, np.nan) for o in by_split] for task in tasks
    }
    result.details = [o.details for o in by_split]
    result.relations = [o.relations for o in by_split]
    result.warnings = sorted({w for o in by_split for w in o.warnings})
    failed = [o for o in by_split if o.error is not None]
    if failed:
        result.status = "failed"
        result.error = failed[0].error
        result.reason = (
            f"failed on {len(failed)} of {n_splits} split(s); first "
            f"(split {failed[0].split}): {failed[0].error}"
        )
    return result


def _sort_key(label):
    return (str(type(label)), label)


def count_improved_tasks(results, baseline=BASELINE):
    """Set ``tasks_improved`` of every model against the baseline.

    A task counts as improved when the model's per-task score, averaged over
    splits, is strictly higher than the baseline's; tasks where either mean
    is undefined (for example R^2 of a task with one test row) are not
    compared.

    Parameters
    ----------
    results : list of ModelResult
    baseline : str, default="per-task"
    """
    reference = next((r for r in results if r.name == baseline and r.ok), None)
    if reference is None:
        return
    base = reference.task_means()
    for result in results:
        if result is reference or not result.ok:
            continue
        means = result.task_means()
        pairs = [
            (means[task], base[task])
            for task in base
            if task in means and np.isfinite(means[task]) and np.isfinite(base[task])
        ]
        result.tasks_compared = len(pairs)
        result.tasks_improved = sum(model > ref for model, ref in pairs)


def run_comparison(
    dataset, models, splits, *, inner_folds=INNER_FOLDS, n_jobs=1, progress=None
):
    """Fit and score every model on every split.

    Parameters
    ----------
    dataset : Dataset
    models : list of str
        Keys of :data:`MODELS` that can run (see :func:`unavailable_reason`).
    splits : list of Split
    inner_folds : int, default=5
    n_jobs : int, default=1
        Fits run in parallel with joblib, one (model, split) pair per job.
    progress : callable or None
        Called as ``progress(name, split)`` after each fit.

    Returns
    -------
    results : list of ModelResult
        In the order of ``models``, with ``tasks_improved`` set.
    """
    jobs = [(name, split) for split in splits for name in models]
    parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    outcomes = {name: [] for name in models}
    for outcome in parallel(
        delayed(fit_and_score)(name, dataset, split, inner_folds)
        for name, split in jobs
    ):
        outcomes[outcome.name].append(outcome)
        if progress is not None:
            progress(outcome.name, outcome.split)
    results = [collect(name, outcomes[name], len(splits)) for name in models]
    count_improved_tasks(results)
    return results


def check_some_model_ran(results):
    """Raise a :class:`CompareError` when every model failed.

    A comparison where some models fail still answers the question for the
    others (the table gives every failure); one where all fail answers
    nothing, and the reason is almost always the data.

    Parameters
    ----------
    results : list of ModelResult
        The models that ran (skipped ones excluded).
    """
    if not results or any(result.ok for result in results):
        return
    errors = {
        result.name: _shorten(result.error or "unknown error").rstrip(".")
        for result in results
    }
    if len(set(errors.values())) == 1:
        error = next(iter(errors.values()))
        why = f" ({', '.join(errors)}) with the same error: {error}"
    else:
        why = ": " + "; ".join(f"{name}: {error}" for name, error in errors.items())
    raise CompareError(
        f"every model failed{why}. Nothing is left to compare: fix the data "
        "or the options and run again."
    )


def _shorten(text, width=200):
    return text if len(text) <= width else text[: width - 3] + "..."


def best_result(results, *, multi_task_only=False):
    """The model with the highest mean score, among those that ran.

    Parameters
    ----------
    results : list of ModelResult
    multi_task_only : bool, default=False
        Only consider multi-task models (see :class:`ModelSpec`).

    Returns
    -------
    result : ModelResult or None
    """
    candidates = [
        r
        for r in results
        if r.ok and r.scores and (MODELS[r.name].multi_task or not multi_task_only)
    ]
    if not candidates:
        return None
    key = next(iter(candidates[0].scores))
    return max(candidates, key=lambda r: r.mean(key))


def format_results(results, dataset):
    """Plain-text table of the results, with the reasons of failures.

    Parameters
    ----------
    results : list of ModelResult
    dataset : Dataset

    Returns
    -------
    table : str
    """
    names = metric_names(dataset)
    score_key, score_header = names["score"]
    error_key, error_header = names["error"]
    header = ("model", score_header, error_header, "fit time (s)", "tasks improved")
    rows, notes = [header], []
    for result in results:
        if not result.ok:
            rows.append((result.name, result.status, "", "", ""))
            notes.append(f"{result.name} {result.status}: {result.reason}")
            continue
        rows.append(
            (
                result.name,
                f"{result.mean(score_key):.4f} +- {result.std(score_key):.4f}",
                f"{result.mean(error_key):.4f} +- {result.std(error_key):.4f}",
                f"{result.mean('fit_time'):.2f}",
                _improved_cell(result),
            )
        )
    n_tasks = len(dataset.task_sizes())
    compared = {r.tasks_compared for r in results if r.tasks_compared is not None}
    if compared and min(compared) < n_tasks:
        notes.append(
            f"tasks improved: counted over the {min(compared)} of {n_tasks} tasks "
            "whose per-task score is defined (R^2 needs 2 test rows in a task)"
        )
    for result in results:
        if result.warnings:
            first = result.warnings[0]
            first = first if len(first) <= 150 else first[:147] + "..."
            notes.append(
                f"{result.name}: {len(result.warnings)} distinct warning(s) while "
                f"fitting (all in --json), e.g. {first}"
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines + notes)


def _improved_cell(result):
    if result.name == BASELINE:
        return "(baseline)"
    if result.tasks_improved is None:
        return "-"
    return f"{result.tasks_improved}/{result.tasks_compared}"


# --------------------------------------------------------------------------
# transfer to new tasks (skmtl compare --new-tasks)
# --------------------------------------------------------------------------

#: Default numbers of labelled rows of every held-out task (``--shots``).
DEFAULT_SHOTS = (0, 1, 2, 5, 10)
#: Default folds of held-out tasks: every model is fitted once per fold and
#: adapted once per ``k``.
NEW_TASK_N_SPLITS = 3
#: Fewest labelled rows of a task for the per-task baseline to be fitted.
PER_TASK_MIN_SHOTS = 2


@dataclass(frozen=True)
class NewTaskFold:
    """One fold of held-out tasks of the k-shot protocol.

    Parameters
    ----------
    index : int
    source : ndarray of int
        Rows of the tasks that are not held out.
    labelled : dict
        ``{k: rows}``: the first ``k`` rows of every held-out task.
    test : ndarray of int
        The held-out tasks' rows after their first ``max(shots)``.
    held_out : list
        Labels of the held-out tasks.
    seed : int
        Seed of this fold's inner cross-validation (and random models).
    """

    index: int
    source: np.ndarray
    labelled: dict
    test: np.ndarray
    held_out: list
    seed: int


def check_new_task_rows(dataset, *, shots, n_splits):
    """Raise a :class:`CompareError` if the tasks do not fit the k-shot protocol.

    Parameters
    ----------
    dataset : Dataset
    shots : tuple of int
    n_splits : int
    """
    if dataset.layout != "long":
        raise CompareError(
            "--new-tasks holds out whole tasks and needs a task column: give "
            "--target COL --task-column COL instead of --targets."
        )
    sizes = dataset.task_sizes()
    if n_splits > len(sizes):
        raise CompareError(
            f"--new-tasks with --n-splits {n_splits}: there are only "
            f"{len(sizes)} tasks to hold out; set --n-splits to at most "
            f"{len(sizes)}."
        )
    small = {task: n for task, n in sizes.items() if n <= max(shots)}
    if small:
        shown = ", ".join(f"{task!r} ({n})" for task, n in list(small.items())[:5])
        more = f" and {len(small) - 5} more" if len(small) > 5 else ""
        raise CompareError(
            f"--shots up to {max(shots)}: every task needs more than "
            f"{max(shots)} rows (the rest are its test rows), but task(s) "
            f"{shown}{more} have fewer. Give smaller --shots, or remove these "
            "tasks from the data."
        )


def make_new_task_folds(dataset, *, n_splits, shots, random_state=0):
    """The folds of :class:`~skmtl.model_selection.FewShotTasksOut`.

    Parameters
    ----------
    dataset : Dataset
        Long format.
    n_splits : int
    shots : tuple of int
    random_state : int, default=0
        Seeds the splitter; fold ``f`` seeds its inner cross-validation with
        ``random_state + f``.

    Returns
    -------
    folds : list of NewTaskFold
    """
    cv = FewShotTasksOut(
        n_splits,
        shots=shots,
        task_column=dataset.task_column,
        random_state=random_state,
    )
    labels = dataset.task_of_rows()
    folds = {}
    for fold, k, train, test in cv.split_shots(dataset.X):
        if fold not in folds:
            held_out = np.unique(labels[test])
            source = np.flatnonzero(~np.isin(labels, held_out))
            folds[fold] = NewTaskFold(
                fold, source, {}, test, held_out.tolist(), random_state + fold
            )
        folds[fold].labelled[k] = np.setdiff1d(train, folds[fold].source)
    return list(folds.values())


@dataclass
class NewTaskOutcome:
    """What one model gave on one fold of held-out tasks, at every ``k``."""

    name: str
    fold: int
    scores: dict = field(default_factory=dict)
    fit_time: float = float("nan")
    adapt_time: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    error: str = None


def _allow_unknown_tasks(model):
    """Predict tasks the model never saw with its shared model, where it can."""
    keys = [key for key in model.get_params() if key.split("__")[-1] == "unknown_task"]
    model.set_params(**dict.fromkeys(keys, "shared"))
    return model


def _adaptable(model):
    """The fitted estimator of a pipeline whose ``fit_new_tasks`` is called."""
    estimator = model[-1]
    if isinstance(estimator, GridSearchCV):
        estimator = estimator.best_estimator_
    if not hasattr(estimator, "fit_new_tasks"):
        raise CompareError(
            f"{type(estimator).__name__} has no fit_new_tasks: it cannot adapt "
            "to new tasks without refitting the source tasks"
        )
    return estimator


def _rows_of(dataset, rows):
    return dataset.X.iloc[rows], dataset.y[rows]


def _adapted_curve(name, dataset, fold, shots, inner_folds, outcome):
    """A multi-task model: fitted on the source tasks, adapted at every k."""
    model = build_model(name, dataset, random_state=fold.seed, inner_folds=inner_folds)
    _allow_unknown_tasks(model)
    start = time.perf_counter()
    model.fit(*_rows_of(dataset, fold.source))
    outcome.fit_time = time.perf_counter() - start
    for k in shots:
        try:
            start = time.perf_counter()
            if k > 0:
                X_k, y_k = _rows_of(dataset, fold.labelled[k])
                # The preprocessing stays as fitted on the source rows.
                _adaptable(model).fit_new_tasks(model[:-1].transform(X_k), y_k)
            outcome.adapt_time[k] = time.perf_counter() - start
            outcome.scores[k] = score_model(model, dataset, fold.test)[0]
        except Exception as exc:  # reported per k, see fit_and_score_new_tasks
            outcome.errors[k] = one_line(exc)


def _per_task_curve(name, dataset, fold, shots, inner_folds, outcome):
    """The per-task baseline: fitted on the k rows of each held-out task alone."""
    preprocess = build_preprocessor(dataset).fit(dataset.X.iloc[fold.source])
    for k in shots:
        if k < PER_TASK_MIN_SHOTS:
            continue
        try:
            model = build_model(name, dataset, random_state=fold.seed)
            model.steps[0] = ("preprocess", preprocess)
            X_k, y_k = _rows_of(dataset, fold.labelled[k])
            start = time.perf_counter()
            model[-1].fit(preprocess.transform(X_k), y_k)
            outcome.adapt_time[k] = time.perf_counter() - start
            outcome.scores[k] = score_model(model, dataset, fold.test)[0]
        except Exception as exc:
            outcome.errors[k] = one_line(exc)


def _pooled_curve(name, dataset, fold, shots, inner_folds, outcome):
    """The pooled baseline: refitted on the source rows and the k rows."""
    for k in shots:
        try:
            model = build_model(name, dataset, random_state=fold.seed)
            rows = np.sort(np.concatenate([fold.source, fold.labelled[k]]))
            start = time.perf_counter()
            model.fit(*_rows_of(dataset, rows))
            elapsed = time.perf_counter() - start
            if k == shots[0]:
                outcome.fit_time = elapsed
            outcome.adapt_time[k] = elapsed
            outcome.scores[k] = score_model(model, dataset, fold.test)[0]
        except Exception as exc:
            outcome.errors[k] = one_line(exc)


def fit_and_score_new_tasks(name, dataset, fold, shots, inner_folds=INNER_FOLDS):
    """The learning curve of one model on one fold of held-out tasks.

    The per-task baseline is fitted on the ``k`` labelled rows of each
    held-out task alone (``k >= 2``), the pooled baseline refitted on the
    source rows and the ``k`` rows; a multi-task model is fitted once on the
    source rows (its hyper-parameters chosen there) and, for each ``k > 0``,
    adapted with ``fit_new_tasks`` on the ``k`` rows (each call replaces the
    previous new tasks), the preprocessing staying as fitted on the source
    rows; at ``k = 0`` it predicts the held-out tasks with its shared model
    (``unknown_task="shared"``). Every model is scored on the held-out
    tasks' test rows, the same for every ``k``.

    An error in the fit on the source rows is recorded in ``error``, an
    error at one ``k`` in ``errors[k]``; warnings are recorded, not shown.

    Parameters
    ----------
    name : str
    dataset : Dataset
    fold : NewTaskFold
    shots : tuple of int
    inner_folds : int, default=5

    Returns
    -------
    outcome : NewTaskOutcome
    """
    outcome = NewTaskOutcome(name, fold.index)
    curve = {BASELINE: _per_task_curve, "pooled": _pooled_curve}.get(
        name, _adapted_curve
    )
    single_thread = MODELS[name].single_blas_thread
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with threadpool_limits(1, "blas") if single_thread else nullcontext():
                curve(name, dataset, fold, shots, inner_folds, outcome)
        except Exception as exc:  # reported per model
            outcome.error = one_line(exc)
    outcome.warnings = sorted({one_line(w.message) for w in caught})
    return outcome


@dataclass
class NewTaskResult:
    """The learning curve of one model over the folds of held-out tasks.

    Parameters
    ----------
    name : str
    shots : tuple of int
    status : {"ok", "failed", "skipped"}
        ``"failed"`` when the fit on the source tasks failed in a fold.
    reason : str or None
    error : str or None
        The first error of the fit on the source tasks, on one line.
    scores : dict
        ``{metric key: {k: [value of every fold]}}``; ``nan`` where the
        model does not apply (the per-task baseline below
        :data:`PER_TASK_MIN_SHOTS` rows) or failed.
    fit_time : list of float
        Seconds of the fit on the source rows, per fold.
    adapt_time : dict
        ``{k: [seconds per fold]}`` of the adaptation (``fit_new_tasks``, the
        per-task fits, the pooled refit).
    errors : dict
        ``{k: first error at that k}``.
    warnings : list of str
    """

    name: str
    shots: tuple
    status: str = "ok"
    reason: str = None
    error: str = None
    scores: dict = field(default_factory=dict)
    fit_time: list = field(default_factory=list)
    adapt_time: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)

    @property
    def ok(self):
        """Whether the model was fitted on the source tasks of every fold."""
        return self.status == "ok"

    def applies(self, k):
        """Whether the model is defined with ``k`` labelled rows per task."""
        return self.name != BASELINE or k >= PER_TASK_MIN_SHOTS

    def complete(self, key, k):
        """Whether the score ``key`` at ``k`` is known on every fold."""
        values = self.scores.get(key, {}).get(k, [])
        return bool(values) and bool(np.all(np.isfinite(values)))

    def mean(self, key, k):
        """Mean over folds of a score at ``k``."""
        return float(np.mean(self.scores[key][k]))

    def std(self, key, k):
        """Standard deviation over folds of a score at ``k``."""
        return float(np.std(self.scores[key][k]))

    def summary(self):
        """Every number as JSON-ready values (``nan`` becomes ``None``).

        Returns
        -------
        summary : dict
            ``curve``: one entry per ``k`` with the mean, standard deviation
            and per-fold values of every score (``None`` where the model does
            not apply or failed), the adaptation times and the error.
        """
        curve = []
        for k in self.shots:
            point = {"k": k, "applies": self.applies(k)}
            for key, by_k in self.scores.items():
                complete = self.complete(key, k)
                point[f"{key}_mean"] = _finite(self.mean(key, k)) if complete else None
                point[f"{key}_std"] = _finite(self.std(key, k)) if complete else None
                point[key] = [_finite(v) for v in by_k.get(k, [])]
            point["adapt_time"] = [_finite(v) for v in self.adapt_time.get(k, [])]
            point["error"] = self.errors.get(k)
            curve.append(point)
        return {
            "model": self.name,
            "status": self.status,
            "reason": self.reason,
            "curve": curve,
            "fit_time": [_finite(v) for v in self.fit_time],
            "warnings": self.warnings,
        }


def collect_new_tasks(name, outcomes, shots, dataset):
    """Gather the outcomes of one model into a :class:`NewTaskResult`.

    Parameters
    ----------
    name : str
    outcomes : list of NewTaskOutcome
    shots : tuple of int
    dataset : Dataset

    Returns
    -------
    result : NewTaskResult
    """
    result = NewTaskResult(name, tuple(shots))
    by_fold = sorted(outcomes, key=lambda outcome: outcome.fold)
    names = metric_names(dataset)
    for key in (names["score"][0], names["error"][0]):
        result.scores[key] = {
            k: [o.scores.get(k, {}).get(key, np.nan) for o in by_fold] for k in shots
        }
    result.fit_time = [o.fit_time for o in by_fold]
    result.adapt_time = {
        k: [o.adapt_time.get(k, np.nan) for o in by_fold] for k in shots
    }
    for outcome in by_fold:
        for k, error in outcome.errors.items():
            result.errors.setdefault(k, f"fold {outcome.fold}: {error}")
    result.warnings = sorted({w for o in by_fold for w in o.warnings})
    failed = [o for o in by_fold if o.error is not None]
    if failed:
        result.status = "failed"
        result.error = failed[0].error
        result.reason = (
            f"failed on {len(failed)} of {len(by_fold)} fold(s); first (fold "
            f"{failed[0].fold}): {failed[0].error}"
        )
    return result


def run_new_tasks(
    dataset, models, folds, shots, *, inner_folds=INNER_FOLDS, n_jobs=1, progress=None
):
    """The learning curve of every model on every fold of held-out tasks.

    Parameters
    ----------
    dataset : Dataset
    models : list of str
    folds : list of NewTaskFold
    shots : tuple of int
    inner_folds : int, default=5
    n_jobs : int, default=1
        One (model, fold) pair per job.
    progress : callable or None
        Called as ``progress(name, fold)`` after each model and fold.

    Returns
    -------
    results : list of NewTaskResult
        In the order of ``models``.
    """
    parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    outcomes = {name: [] for name in models}
    for outcome in parallel(
        delayed(fit_and_score_new_tasks)(name, dataset, fold, shots, inner_folds)
        for fold in folds
        for name in models
    ):
        outcomes[outcome.name].append(outcome)
        if progress is not None:
            progress(outcome.name, outcome.fold)
    return [collect_new_tasks(name, outcomes[name], shots, dataset) for name in models]


def format_new_tasks(results, dataset):
    """Plain-text table of the learning curves: a row per model, a column per k.

    Parameters
    ----------
    results : list of NewTaskResult
    dataset : Dataset

    Returns
    -------
    table : str
    """
    key, header = metric_names(dataset)["score"]
    shots = next(r.shots for r in results)
    rows = [("model", *(f"k={k}" for k in shots), "fit time (s)", "adapt (s)")]
    notes = []
    for result in results:
        if not result.ok:
            rows.append((result.name, result.status, *[""] * (len(shots) + 1)))
            notes.append(f"{result.name} {result.status}: {result.reason}")
            continue
        cells = [_curve_cell(result, key, k) for k in shots]
        rows.append((result.name, *cells, *_time_cells(result)))
        notes += _error_notes(result)
    n_folds = max((len(r.fit_time) for r in results if r.ok), default=0)
    notes.insert(
        0,
        f"{header} on the held-out tasks' test rows, mean +- std over {n_folds} "
        f"folds; k = labelled rows of each held-out task; '-': per-task needs "
        f"k >= {PER_TASK_MIN_SHOTS}; fit time: on the source tasks (pooled: "
        "k=0); adapt: mean time per k > 0 of fit_new_tasks (per-task: its "
        "fits on the k rows; pooled: its refit)",
    )
    for result in results:
        if result.warnings:
            notes.append(
                f"{result.name}: {len(result.warnings)} distinct warning(s) "
                f"(all in --json), e.g. {_shorten(result.warnings[0], 150)}"
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines + notes)


def _error_notes(result):
    """One line per distinct error of a model, with the values of k it hit."""
    by_error = {}
    for k, error in result.errors.items():
        # The same error in another fold reads the same without its fold.
        by_error.setdefault(error.split(": ", 1)[-1], []).append(k)
    return [
        f"{result.name} failed at k={', '.join(map(str, ks))}: {_shorten(error)}"
        for error, ks in by_error.items()
    ]


def _time_cells(result):
    """Mean seconds of the fit on the source tasks and of one adaptation."""
    fit = np.asarray(result.fit_time, dtype=float)
    adapt = np.array(
        [t for k, times in result.adapt_time.items() if k > 0 for t in times],
        dtype=float,
    )
    return tuple(
        f"{np.nanmean(times):.2f}" if np.isfinite(times).any() else "-"
        for times in (fit, adapt)
    )


def _curve_cell(result, key, k):
    if not result.applies(k):
        return "-"
    if k in result.errors or not result.complete(key, k):
        return "failed"
    return f"{result.mean(key, k):.4f} +- {result.std(key, k):.4f}"
