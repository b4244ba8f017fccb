"""Transfer of a fitted linear model to new tasks (docs/user_guide/transfer.rst)."""

import numpy as np
from scipy.special import expit, softmax
from sklearn.utils.extmath import safe_sparse_dot


def record_source_noise(estimator, data, kind):
    """Record the per-row noise level of a fit, for the intercept of new tasks.

    ``fit_new_tasks`` ties a new task's intercept to ``shared_intercept_``
    with the strength of an empirical-Bayes prior: the spread of the source
    tasks' intercepts against the noise of one row. This function measures
    that noise at the end of ``fit``, on the rows of fit, and stores it in
    ``estimator._source_noise``:

    - ``"squared"``: the mean over tasks of each task's weighted mean squared
      residual;
    - ``"logistic"`` and ``"multinomial"``: the inverse of the mean over
      tasks of each task's weighted mean ``p (1 - p)`` (averaged over the
      classes), the variance of one row's score under the Laplace
      approximation. It needs no labels.

    Parameters
    ----------
    estimator : fitted linear estimator
        Has ``coef_`` and ``intercept_`` for the tasks of ``data``.
    data : TaskData
        The data of fit, grouped by task.
    kind : {"squared", "logistic", "multinomial"}
    """
    per_task = np.zeros(data.n_tasks)
    coef = np.asarray(estimator.coef_, dtype=float)
    intercept = np.asarray(estimator.intercept_, dtype=float)
    for t in range(data.n_tasks):
        observations = slice(data.offsets[t], data.offsets[t + 1])
        rows = observations if data.row_index is None else data.row_index[observations]
        scores = (
            safe_sparse_dot(data.X[rows], coef[t].T, dense_output=True) + intercept[t]
        )
        weight = data.sample_weight[observations]
        if kind == "squared":
            value = (np.asarray(data.y[observations], dtype=float) - scores) ** 2
        elif kind == "logistic":
            p = expit(scores)
            value = p * (1.0 - p)
        else:
            p = softmax(scores, axis=1)
            value = np.mean(p * (1.0 - p), axis=1)
        per_task[t] = np.average(value, weights=weight)
    level = float(np.mean(per_task))
    if kind != "squared":
        level = 1.0 / max(level, np.finfo(float).tiny)
    estimator._source_noise = level
