"""Exact rescaling of problems whose values are too large or too small.

Features of magnitude ``1e150`` make ``X^T X`` overflow float64 (``1e300``
times the number of rows), and features of magnitude ``1e-170`` make it
underflow to zero. Multiplying ``X`` by ``2^-e_x`` and ``y`` by ``2^-e_y``
(exponents chosen so that both have a largest magnitude in ``[0.5, 1)``)
changes no bit of their mantissas, and the problem maps exactly onto one on
the rescaled data: with ``W = 2^(e_y - e_x) W'`` and ``b = 2^e_y b'``, the
objective of the squared loss is ``2^(2 e_y)`` times the objective on the
rescaled data with

- group-norm (L2,1) strength ``a1' = 2^-(e_x + e_y) a1`` (degree 1 in ``W``),
- ridge strengths ``a2' = 2^(-2 e_x) a2`` (degree 2 in ``W``), which covers
  ``alpha`` and ``alpha_mean`` of the mean-regularised model,
- intercept penalties unchanged (degree 2 in ``b``, like the data term).

For the logistic and multinomial losses only ``X`` is rescaled (``e_y = 0``):
the predictions ``X W`` are unchanged. Inputs whose largest magnitudes lie
in ``[2^-40, 2^40]`` are left as they are (``e_x = e_y = 0``), so that
ordinary data is solved exactly as given.

A single rescaling cannot help features of very different magnitudes: when
the largest magnitudes of two columns differ by more than
:data:`MAX_COLUMN_RATIO`, the square of the smaller one underflows next to
the larger one and no solver sees that feature;
:func:`check_column_scales` refuses such data with a message that says to
scale the features.
"""

import copy
import dataclasses
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

#: Largest magnitudes within ``[2^-RESCALE_EXPONENT, 2^RESCALE_EXPONENT]``
#: are solved as given.
RESCALE_EXPONENT = 40

#: Largest ratio between the magnitudes of two non-zero feature columns.
#: Squares of values ``2^-450`` times the largest (and sums weighted by
#: ``1 / n``) stay far above the smallest normal float64, ``2^-1022``.
MAX_COLUMN_RATIO = 2.0**450


def _column_maxima(X):
    """Largest magnitude of every column of a dense or sparse ``X``."""
    if X.shape[0] == 0:
        return np.zeros(X.shape[1])
    if sp.issparse(X):
        return np.asarray(abs(X).max(axis=0).todense()).ravel()
    # Two reductions rather than np.abs(X), which would copy X.
    return np.maximum(np.max(X, axis=0), -np.min(X, axis=0))


def _exponent(largest):
    """``e`` with ``largest * 2^-e`` in ``[0.5, 1)``, or 0 for ordinary values."""
    if not np.isfinite(largest) or largest == 0:
        return 0
    if 2.0**-RESCALE_EXPONENT <= largest <= 2.0**RESCALE_EXPONENT:
        return 0
    return int(np.frexp(largest)[1])


def check_column_scales(X, column_maxima=None):
    """Refuse features whose magnitudes no float64 product can hold together.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_rows, n_features)
    column_maxima : ndarray of shape (n_features,), default=None
        Largest magnitude of every column, if already known.

    Raises
    ------
    ValueError
        When two non-zero columns differ in magnitude by more than
        :data:`MAX_COLUMN_RATIO`.
    """
    maxima = _column_maxima(X) if column_maxima is None else column_maxima
    nonzero = maxima[maxima > 0]
    if nonzero.size < 2:
        return
    largest, smallest = float(nonzero.max()), float(nonzero.min())
    if largest > MAX_COLUMN_RATIO * smallest:
        columns = np.flatnonzero(maxima > 0)
        raise ValueError(
            "The features differ too much in magnitude for float64: feature "
            f"{int(columns[np.argmax(nonzero)])} reaches {largest:.3g} and feature "
            f"{int(columns[np.argmin(nonzero)])} only {smallest:.3g} (0-based "
            "positions among the features, task column excluded), so products "
            "such as X^T X overflow or underflow. Scale the features first, for "
            "example with skmtl.pipeline.TaskColumnPassthrough(MaxAbsScaler()) "
            "in a Pipeline (StandardScaler's variance itself overflows beyond "
            "about 1e154)."
        )


class Scaling(NamedTuple):
    """Powers of two dividing the features (``2^x_exponent``) and targets.

    Attributes
    ----------
    x_exponent, y_exponent : int
        ``X' = 2^-x_exponent X`` and ``y' = 2^-y_exponent y``.
    """

    x_exponent: int = 0
    y_exponent: int = 0

    @property
    def identity(self):
        """Whether the data is solved as given."""
        return self.x_exponent == 0 and self.y_exponent == 0

    def scale_features(self, X):
        """``2^-x_exponent X``, a new array or matrix (exact)."""
        if self.x_exponent == 0:
            return X
        if sp.issparse(X):
            X = X.copy()
            X.data = np.ldexp(X.data, -self.x_exponent)
            return X
        return np.ldexp(X, -self.x_exponent)

    def scale_targets(self, y):
        """``2^-y_exponent y``, a new array (exact)."""
        return y if self.y_exponent == 0 else np.ldexp(y, -self.y_exponent)

    def strength(self, value, degree):
        """Penalty strength on the rescaled data, for a penalty of ``degree``.

        ``degree`` is 1 for the group norm, 2 for ridge penalties. A strength
        beyond the float64 range (tiny features, say ``1e-300``, with
        ``alpha = 1``) is ``inf``: the coefficients of the rescaled problem
        are below the smallest float64, and the solvers return their limit,
        zero.
        """
        shift = degree * self.x_exponent + (2 - degree) * self.y_exponent
        with np.errstate(over="ignore"):
            return float(np.ldexp(float(value), -shift))

    def l21_strengths(self, a1, a2):
        """Group-norm and ridge strengths ``(a1, a2)`` on the rescaled data.

        When either overflows, the solution is ``W = 0``: returned as the
        largest finite ``a1`` (above any ``alpha_max`` of the rescaled data)
        and no ridge, so that the solvers compute no ``inf * 0``.
        """
        a1, a2 = self.strength(a1, degree=1), self.strength(a2, degree=2)
        if np.isinf(a1) or np.isinf(a2):
            return float(np.finfo(np.float64).max), 0.0
        return a1, a2

    def strength_out(self, value, degree):
        """Inverse of :meth:`strength`: a rescaled strength in original units."""
        shift = degree * self.x_exponent + (2 - degree) * self.y_exponent
        with np.errstate(over="ignore"):
            return float(np.ldexp(float(value), shift))

    def coef_in(self, coef):
        """Coefficients of the original problem in rescaled units."""
        if coef is None or self.identity:
            return coef
        shift = self.x_exponent - self.y_exponent
        return np.ldexp(np.asarray(coef, dtype=float), shift)

    def coef_out(self, coef):
        """Coefficients of the rescaled problem in original units."""
        if self.identity:
            return coef
        shift = self.y_exponent - self.x_exponent
        with np.errstate(over="ignore"):
            unscaled = np.ldexp(np.asarray(coef, dtype=float), shift)
        if not np.all(np.isfinite(unscaled)):
            # Targets of magnitude 1e299 on features of magnitude 1e-301 need
            # coefficients of magnitude 1e600: no float64 holds the answer.
            raise ValueError(
                "The coefficients of this problem are beyond the range of "
                f"float64: the targets are about 2^{self.y_exponent} and the "
                f"features about 2^{self.x_exponent} in magnitude, so the "
                f"coefficients are of order 2^{shift}. Scale the features or "
                "the targets (for example with sklearn.preprocessing."
                "MaxAbsScaler, wrapped in skmtl.pipeline.TaskColumnPassthrough "
                "for a task column) and fit again."
            )
        return unscaled

    def intercept_in(self, intercept):
        """Intercepts of the original problem in rescaled units."""
        if intercept is None or self.y_exponent == 0:
            return intercept
        return np.ldexp(np.asarray(intercept, dtype=float), -self.y_exponent)

    def intercept_out(self, intercept):
        """Intercepts of the rescaled problem in original units."""
        if self.y_exponent == 0:
            return intercept
        return np.ldexp(np.asarray(intercept, dtype=float), self.y_exponent)

    def objective_out(self, value):
        """An objective value (or gap) of the rescaled problem, original units."""
        if self.y_exponent == 0:
            return value
        # Beyond float64 (targets of magnitude 1e300 squared): inf.
        with np.errstate(over="ignore"):
            return float(np.ldexp(float(value), 2 * self.y_exponent))


def unscale_result(result, scaling):
    """A :class:`~skmtl.solvers.SolverResult` of rescaled data in original units.

    ``extra["null_objective"]`` is mapped like the objective; other extra
    entries are left as they are.
    """
    if scaling.identity:
        return result
    extra = dict(result.extra)
    if "null_objective" in extra:
        extra["null_objective"] = scaling.objective_out(extra["null_objective"])
    return dataclasses.replace(
        result,
        coef=scaling.coef_out(result.coef),
        intercept=scaling.intercept_out(result.intercept),
        objective=scaling.objective_out(result.objective),
        gap=scaling.objective_out(result.gap),
        extra=extra,
    )


def scale_task_data(data, scaling):
    """A shallow copy of a :class:`~skmtl._tasks.TaskData` on rescaled data.

    The caller's arrays are not modified; ``data`` itself is returned when
    there is nothing to rescale.
    """
    if scaling.identity:
        return data
    scaled = copy.copy(data)
    scaled.X = scaling.scale_features(data.X)
    scaled.y = scaling.scale_targets(data.y)
    return scaled


def problem_scaling(X, y=None):
    """The :class:`Scaling` of a problem, after :func:`check_column_scales`.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_rows, n_features)
    y : ndarray or None, default=None
        Targets of the squared loss; None for classification (only ``X`` is
        rescaled).

    Returns
    -------
    scaling : Scaling

    Examples
    --------
    >>> problem_scaling(np.array([[1e300, -3e299]]), np.array([2.0]))
    Scaling(x_exponent=997, y_exponent=0)
    >>> problem_scaling(np.array([[1.0, 2.0]])).identity
    True
    """
    maxima = _column_maxima(X)
    check_column_scales(X, maxima)
    x_exponent = _exponent(float(np.max(maxima, initial=0.0)))
    y_exponent = 0
    if y is not None and np.size(y):
        y_exponent = _exponent(float(np.max(np.abs(y))))
    return Scaling(x_exponent, y_exponent)
