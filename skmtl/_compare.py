"""The comparison protocol behind ``skmtl compare``.

Each model is fitted on repeated random within-task train/test splits (the
School protocol: 75% of every task's rows for training, 25% for testing,
10 repetitions; Argyriou, Evgeniou & Pontil 2008) and scored on the test rows
by the pooled explained variance (R^2 over all test rows) and the RMSE.
Features are standardised inside each training part; hyper-parameters are
chosen by each model's own cross-validation on the training part only.
"""

import time
from dataclasses import dataclass, field

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from .baseline import PerTaskEstimator, PooledEstimator
from .model_selection import train_test_split_tasks
from .pipeline import TaskColumnPassthrough

#: Ridge strengths searched by the baselines' efficient leave-one-out CV.
RIDGE_ALPHAS = tuple(np.logspace(-3, 4, 15))


def _per_task(task_column):
    return PerTaskEstimator(RidgeCV(alphas=RIDGE_ALPHAS), task_column=task_column)


def _pooled(task_column):
    return PooledEstimator(RidgeCV(alphas=RIDGE_ALPHAS), task_column=task_column)


def _mean_regularized(task_column):
    from .linear_model import MeanRegularizedRegressorCV

    return MeanRegularizedRegressorCV(task_column=task_column)


#: name -> (factory of the estimator given the task column, description)
MODELS = {
    "per-task": (_per_task, "RidgeCV fitted on each task alone (single-task)"),
    "pooled": (_pooled, "one RidgeCV on all rows, task ignored (hard sharing)"),
    "mean-regularized": (
        _mean_regularized,
        "MeanRegularizedRegressorCV: tasks pulled to a shared mean",
    ),
}


@dataclass
class ModelResult:
    """Scores of one model over all splits."""

    name: str
    explained_variance: list = field(default_factory=list)
    rmse: list = field(default_factory=list)
    fit_time: list = field(default_factory=list)

    def summary(self):
        """Mean and standard deviation of every score, as a dict."""
        out = {"model": self.name}
        for key in ("explained_variance", "rmse", "fit_time"):
            values = np.asarray(getattr(self, key))
            out[f"{key}_mean"] = float(values.mean())
            out[f"{key}_std"] = float(values.std())
            out[key] = values.tolist()
        return out


def build_model(name, task_column):
    """The estimator of a model name: standardisation, then the model.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`.
    task_column : hashable
        Task column of the data.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
    """
    factory, _ = MODELS[name]
    return Pipeline(
        [
            ("scale", TaskColumnPassthrough(StandardScaler(), task_column=task_column)),
            ("model", factory(task_column)),
        ]
    )


def run_comparison(
    X,
    y,
    *,
    task_column,
    models,
    n_splits=10,
    test_size=0.25,
    random_state=0,
    progress=None,
):
    """Fit and score every model on repeated within-task splits.

    Parameters
    ----------
    X : DataFrame or array of shape (n_samples, n_columns)
        Features with the task column.
    y : array-like of shape (n_samples,)
        Targets.
    task_column : hashable
        Task column of ``X``.
    models : list of str
        Keys of :data:`MODELS`.
    n_splits : int, default=10
        Number of random splits.
    test_size : float, default=0.25
        Fraction of each task's rows held out for testing.
    random_state : int, default=0
        Seed of the first split; split ``k`` uses ``random_state + k``.
    progress : callable or None
        Called as ``progress(split, model_name)`` before each fit.

    Returns
    -------
    results : list of ModelResult
    """
    results = {name: ModelResult(name) for name in models}
    for split in range(n_splits):
        X_train, X_test, y_train, y_test = train_test_split_tasks(
            X,
            y,
            task_column=task_column,
            test_size=test_size,
            random_state=random_state + split,
        )
        for name in models:
            if progress is not None:
                progress(split, name)
            model = build_model(name, task_column)
            start = time.perf_counter()
            model.fit(X_train, y_train)
            elapsed = time.perf_counter() - start
            y_pred = model.predict(X_test)
            result = results[name]
            result.explained_variance.append(r2_score(y_test, y_pred))
            result.rmse.append(float(np.sqrt(mean_squared_error(y_test, y_pred))))
            result.fit_time.append(elapsed)
    return list(results.values())


def format_results(results):
    """Plain-text table of the results.

    Parameters
    ----------
    results : list of ModelResult

    Returns
    -------
    table : str
    """
    header = ("model", "explained variance", "RMSE", "fit time (s)")
    rows = [header]
    for result in results:
        s = result.summary()
        explained = s["explained_variance_mean"], s["explained_variance_std"]
        rows.append(
            (
                result.name,
                "{:.4f} +- {:.4f}".format(*explained),
                f"{s['rmse_mean']:.3f} +- {s['rmse_std']:.3f}",
                f"{s['fit_time_mean']:.3f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
