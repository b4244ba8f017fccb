"""scikit-learn's estimator checks on every public skmtl estimator."""

import inspect

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmtl.linear_model._cv import PathCVMixin
from skmtl.utils.discovery import all_estimators

# Estimators whose constructor needs an argument get it here; every other
# estimator is checked with its defaults. A new estimator is picked up by
# discovery and checked without touching this file.
_WRAPPED = {
    "PerTaskEstimator": [Ridge(), LogisticRegression()],
    "PooledEstimator": [Ridge(), LogisticRegression()],
    "TaskColumnPassthrough": [StandardScaler()],
}


def _short_path(estimator):
    """Path-CV classes on a short path: the checks test the API, not the search."""
    if not isinstance(estimator, PathCVMixin):
        return estimator
    params = {"alphas": 2, "cv": 2, "eps": 0.1}
    for grid in estimator._grid_params:
        params[grid] = [float(np.atleast_1d(getattr(estimator, grid))[0])]
    return estimator.set_params(**params)


def _instances():
    for name, cls in all_estimators():
        required = [
            parameter
            for parameter in inspect.signature(cls).parameters.values()
            if parameter.default is inspect.Parameter.empty
            and parameter.kind is not inspect.Parameter.VAR_KEYWORD
        ]
        if not required:
            yield _short_path(cls())
            continue
        for inner in _WRAPPED[name]:
            yield cls(inner)


def test_every_estimator_can_be_built():
    """Discovery finds the baselines, and each one gets an instance."""
    names = {type(estimator).__name__ for estimator in _instances()}
    assert {"PerTaskEstimator", "PooledEstimator"} <= names
    assert names == {name for name, _ in all_estimators()}


#: Checks that compare two fits to 1e-7 (weighted against repeated rows).
#: Two solves that each meet a relative duality gap of ``tol`` may differ by
#: about ``sqrt(tol)``: the duality-gap solvers run these checks at a ``tol``
#: that makes agreement to 1e-7 a property of the objective, not of the
#: iterates (the L-BFGS ones meet them at their default ``tol``).
_TIGHT_TOL_CHECKS = (
    "check_sample_weight_equivalence_on_dense_data",
    "check_sample_weight_equivalence_on_sparse_data",
)
_DUALITY_GAP_ESTIMATORS = tuple(
    f"{model}{kind}{cv}"
    for model in (
        "JointFeature",
        "TraceNorm",
        "SparseLowRank",
        "RobustMultiTask",
        "DirtyModel",
    )
    for kind in ("Regressor", "Classifier")
    for cv in ("", "CV")
)


@parametrize_with_checks(list(_instances()))
def test_sklearn_compatible_estimator(estimator, check):
    name = getattr(check, "func", check).__name__
    if (
        name in _TIGHT_TOL_CHECKS
        and type(estimator).__name__ in _DUALITY_GAP_ESTIMATORS
    ):
        estimator = clone(estimator).set_params(tol=1e-12)
    check(estimator)
