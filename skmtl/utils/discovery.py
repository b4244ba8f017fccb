"""Find the public estimators of skmtl, so that no test can forget one."""

import inspect
import pkgutil
from importlib import import_module

from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    TransformerMixin,
)

_TYPE_MIXINS = {
    "classifier": ClassifierMixin,
    "regressor": RegressorMixin,
    "transformer": TransformerMixin,
}


def all_estimators(type_filter=None):
    """List the public estimator classes of skmtl.

    Every module whose dotted path has no component starting with ``_``,
    except tests, is imported; the classes defined in skmtl that derive from
    :class:`sklearn.base.BaseEstimator` and are re-exported publicly are kept.

    Parameters
    ----------
    type_filter : {"classifier", "regressor", "transformer"} or list or None
        Keep only estimators of these kinds; ``None`` keeps all.

    Returns
    -------
    estimators : list of (str, type)
        ``(name, class)`` pairs sorted by name, without duplicates.

    Examples
    --------
    >>> names = [name for name, _ in all_estimators(type_filter="regressor")]
    >>> "PerTaskEstimator" in names
    True
    """
    import skmtl

    found = {}
    for module_info in pkgutil.walk_packages(skmtl.__path__, prefix="skmtl."):
        parts = module_info.name.split(".")
        if any(part.startswith("_") for part in parts) or "tests" in parts:
            continue
        module = import_module(module_info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if _is_public_estimator(name, cls):
                found[name] = cls
    estimators = sorted(found.items())
    if type_filter is None:
        return estimators
    kinds = [type_filter] if isinstance(type_filter, str) else list(type_filter)
    unknown = [kind for kind in kinds if kind not in _TYPE_MIXINS]
    if unknown:
        raise ValueError(
            f"type_filter={type_filter!r} is not supported; expected None or any of "
            f"{sorted(_TYPE_MIXINS)}."
        )
    return [
        (name, cls)
        for name, cls in estimators
        if any(_is_kind(cls, kind) for kind in kinds)
    ]


def _is_public_estimator(name, cls):
    return (
        not name.startswith("_")
        and cls.__module__.startswith("skmtl.")
        and issubclass(cls, BaseEstimator)
        and not inspect.isabstract(cls)
    )


def _is_kind(cls, kind):
    if issubclass(cls, _TYPE_MIXINS[kind]):
        return True
    # Meta-estimators take their kind from the estimator they wrap.
    return kind in ("classifier", "regressor") and _wraps_an_estimator(cls)


def _wraps_an_estimator(cls):
    return "estimator" in inspect.signature(cls).parameters
