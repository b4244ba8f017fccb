"""scikit-learn's estimator checks on every public skmtl estimator."""

import inspect

from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmtl.utils.discovery import all_estimators

# Estimators whose constructor needs an argument get it here; every other
# estimator is checked with its defaults. A new estimator is picked up by
# discovery and checked without touching this file.
_WRAPPED = {
    "PerTaskEstimator": [Ridge(), LogisticRegression()],
    "PooledEstimator": [Ridge(), LogisticRegression()],
    "TaskColumnPassthrough": [StandardScaler()],
}


def _instances():
    for name, cls in all_estimators():
        required = [
            parameter
            for parameter in inspect.signature(cls).parameters.values()
            if parameter.default is inspect.Parameter.empty
            and parameter.kind is not inspect.Parameter.VAR_KEYWORD
        ]
        if not required:
            yield cls()
            continue
        for inner in _WRAPPED[name]:
            yield cls(inner)


def test_every_estimator_can_be_built():
    """Discovery finds the baselines, and each one gets an instance."""
    names = {type(estimator).__name__ for estimator in _instances()}
    assert {"PerTaskEstimator", "PooledEstimator"} <= names
    assert names == {name for name, _ in all_estimators()}


@parametrize_with_checks(list(_instances()))
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
