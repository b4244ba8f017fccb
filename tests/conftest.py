"""Fixtures shared by the test modules."""

import inspect

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge

from skmtl.utils.discovery import all_estimators

# Networks start from a fixed draw, so that two fits of the same data agree,
# and run to their tolerance on the small test problems.
_NETWORKS = {"MultiTaskMLPRegressor": {"random_state": 0, "max_iter": 5000}}

# Meta-estimators get a concrete estimator to wrap.
_INNER_REGRESSOR = {"PerTaskEstimator": Ridge, "PooledEstimator": Ridge}


def _task_regressors():
    """Every public regressor that takes a task column, as a factory."""
    for name, cls in all_estimators(type_filter="regressor"):
        if "task_column" not in inspect.signature(cls).parameters:
            continue
        if name in _INNER_REGRESSOR:
            inner = _INNER_REGRESSOR[name]
            yield pytest.param(
                lambda cls=cls, inner=inner, **kw: cls(inner(), **kw), id=name
            )
        elif name in _NETWORKS:
            fixed = _NETWORKS[name]
            yield pytest.param(
                lambda cls=cls, fixed=fixed, **kw: cls(**fixed, **kw), id=name
            )
        elif getattr(cls, "_grid_params", {}):
            # Path CV classes: a short path and one point of each extra grid
            # (the task-handling tests do not depend on the grid).
            defaults = cls().get_params()
            short = {"alphas": 4, "eps": 0.01}
            short.update(
                {grid: [np.atleast_1d(defaults[grid])[0]] for grid in cls._grid_params}
            )
            yield pytest.param(
                lambda cls=cls, short=short, **kw: cls(**short, **kw), id=name
            )
        else:
            yield pytest.param(lambda cls=cls, **kw: cls(**kw), id=name)


@pytest.fixture(scope="session", params=list(_task_regressors()))
def make_regressor(request):
    """Factory ``make_regressor(task_column=...)`` for each task-aware regressor."""
    return request.param


@pytest.fixture(scope="session")
def l1_logistic():
    """scikit-learn's L1 logistic regression at skmtl's strength ``alpha``.

    skmtl minimises ``(1/n) sum_i loss_i + alpha ||w||_1``, scikit-learn
    ``||w||_1 + C sum_i loss_i``: the same model for ``C = 1 / (alpha n)``.
    saga to ``tol=1e-12``, with a fixed seed: its order of the rows is random.
    """

    def fit(X, y, alpha):
        return LogisticRegression(
            l1_ratio=1.0,
            C=1 / (alpha * len(y)),
            solver="saga",
            tol=1e-12,
            max_iter=100_000,
            random_state=0,
        ).fit(X, y)

    return fit
