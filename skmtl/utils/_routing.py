"""Fit parameters of the cross-validated estimators: weights and metadata routing.

The ``*CV`` estimators route extra ``fit`` parameters (``groups``, scorer
metadata) as scikit-learn's ``LassoCV`` and ``RidgeCV`` do: only when
metadata routing is enabled (``sklearn.set_config(enable_metadata_routing=True)``),
to the splitter's ``split`` and the scorer's ``score``.
"""

from numbers import Real

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._metadata_requests import _raise_for_params
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.validation import _check_method_params, _check_sample_weight


def expand_sample_weight(sample_weight, X):
    """One weight per row of ``X`` when ``sample_weight`` is a number.

    The cross-validated estimators index ``sample_weight`` by fold, which a
    number does not allow; scikit-learn's ``_check_sample_weight`` expands it
    (a number weighs every row the same). Arrays and ``None`` are returned
    unchanged, for the estimators' own validation.

    Parameters
    ----------
    sample_weight : float, array-like or None
    X : array-like, sparse matrix or DataFrame
        The rows the weights belong to.

    Returns
    -------
    sample_weight : ndarray of shape (n_samples,), array-like or None
    """
    if isinstance(sample_weight, Real) or (
        isinstance(sample_weight, np.ndarray) and sample_weight.ndim == 0
    ):
        return _check_sample_weight(float(sample_weight), X, dtype=np.float64)
    return sample_weight


def cv_router(estimator, splitter, scorer=None):
    """The :class:`~sklearn.utils.metadata_routing.MetadataRouter` of a CV class.

    ``fit`` consumes ``sample_weight`` itself and routes to ``splitter.split``
    (and to ``scorer.score`` when ``scorer`` is given).

    Parameters
    ----------
    estimator : BaseEstimator
        The cross-validated estimator (its own ``fit`` request is added).
    splitter : cross-validation splitter
        The splitter ``fit`` uses.
    scorer : scorer or None, default=None

    Returns
    -------
    router : MetadataRouter
    """
    router = (
        MetadataRouter(owner=estimator)
        .add_self_request(estimator)
        .add(
            splitter=splitter,
            method_mapping=MethodMapping().add(caller="fit", callee="split"),
        )
    )
    if scorer is not None:
        router.add(
            scorer=scorer,
            method_mapping=MethodMapping().add(caller="fit", callee="score"),
        )
    return router


def route_fit_params(estimator, sample_weight, params):
    """Split and score parameters of one ``fit`` call.

    Without metadata routing, extra parameters raise scikit-learn's
    ``ValueError`` (which says how to enable routing) and nothing is routed.

    Parameters
    ----------
    estimator : BaseEstimator
        The cross-validated estimator; its ``get_metadata_routing`` is used.
    sample_weight : array-like or None
        The ``sample_weight`` given to ``fit`` (consumed by the estimator; also
        routed where requested).
    params : dict
        The other keyword arguments of ``fit``.

    Returns
    -------
    routed : Bunch
        ``routed.splitter.split`` and ``routed.scorer.score`` (empty dicts when
        nothing is routed there).
    """
    _raise_for_params(params, estimator, "fit")
    routed = Bunch(splitter=Bunch(split={}), scorer=Bunch(score={}))
    if not _routing_enabled():
        return routed
    if sample_weight is not None:
        params = {**params, "sample_weight": sample_weight}
    processed = process_routing(estimator, "fit", **params)
    # ``process_routing`` returns a stand-in without ``__contains__`` (and
    # iterated forever by ``in``) when nothing is passed: use ``get``.
    for child in ("splitter", "scorer"):
        value = processed.get(child)
        if value is not None:
            routed[child] = value
    return routed


def select_rows(X, params, indices):
    """Row-wise parameters (``sample_weight``, ``groups``...) of ``X[indices]``.

    Parameters
    ----------
    X : array-like
        The rows the parameters belong to.
    params : dict
    indices : ndarray

    Returns
    -------
    params : dict
    """
    return _check_method_params(X, params=params, indices=indices)
