"""Losses of the data term, per observation.

Every skmtl linear model minimises a data term (docs/user_guide/regularization.rst)

    L(W, b) = sum_t (1 / n_t) sum_{i in t} s_i * loss(y_i, x_i . w_t + b_t)

The losses here work on the linear predictions ``z_i = x_i . w_t + b_t`` of
all observations at once, with a per-observation scale ``c_i = s_i / n_t``
(see :func:`observation_scale`), so that ``L = sum_i c_i loss(y_i, z_i)``.
Solvers turn gradients with respect to ``z`` into gradients with respect to
``W`` and ``b`` by per-task products with ``X``.
"""

import numpy as np
from scipy.special import expit, log_expit, logsumexp, xlogy


def observation_scale(data):
    """Per-observation factor ``c_i = s_i / n_t`` of the data term.

    Parameters
    ----------
    data : TaskData
        Observations grouped by task.

    Returns
    -------
    scale : ndarray of shape (n_observations,)
    """
    return data.sample_weight / data.task_weights[data.task_index]


class SquaredLoss:
    """``loss(y, z) = 0.5 (y - z)^2``.

    Examples
    --------
    >>> import numpy as np
    >>> SquaredLoss().value(np.array([1.0, 2.0]), np.array([0.0, 2.0]),
    ...                     np.array([1.0, 1.0]))
    0.5
    """

    name = "squared"
    #: Upper bound on the second derivative of the loss in ``z``.
    curvature = 1.0

    def value(self, y, z, scale):
        """Data term ``sum_i scale_i * loss(y_i, z_i)``."""
        residual = y - z
        return 0.5 * float(np.dot(scale, residual * residual))

    def gradient(self, y, z, scale):
        """Derivative of :meth:`value` with respect to ``z``."""
        return scale * (z - y)

    def conjugate(self, y, u):
        """Convex conjugate ``loss*(u) = u^2 / 2 + u y`` of ``z -> loss(y, z)``."""
        return 0.5 * u * u + u * y


class LogisticLoss:
    """``loss(y, z) = log(1 + exp(z)) - y z`` for ``y`` in {0, 1}.

    Examples
    --------
    >>> import numpy as np
    >>> round(LogisticLoss().value(np.array([1.0]), np.array([0.0]),
    ...                            np.array([1.0])), 6)
    0.693147
    """

    name = "logistic"
    curvature = 0.25

    def value(self, y, z, scale):
        """Data term ``sum_i scale_i * loss(y_i, z_i)``."""
        return float(np.dot(scale, -log_expit(z) + (1.0 - y) * z))

    def gradient(self, y, z, scale):
        """Derivative of :meth:`value` with respect to ``z``."""
        return scale * (expit(z) - y)

    def conjugate(self, y, u):
        """Convex conjugate of ``z -> loss(y, z)``, finite for ``u + y`` in [0, 1]."""
        p = u + y
        return xlogy(p, p) + xlogy(1.0 - p, 1.0 - p)


class MultinomialLoss:
    """``loss(y, z) = logsumexp(z) - z[y]`` for ``z`` of shape (n_classes,).

    ``y`` holds integer class indices; predictions ``z`` have shape
    ``(n_observations, n_classes)``.

    Examples
    --------
    >>> import numpy as np
    >>> round(MultinomialLoss().value(np.array([0]), np.zeros((1, 3)),
    ...                               np.array([1.0])), 6)
    1.098612
    """

    name = "multinomial"
    curvature = 0.5

    def value(self, y, z, scale):
        """Data term ``sum_i scale_i * loss(y_i, z_i)``."""
        picked = z[np.arange(len(y)), y]
        return float(np.dot(scale, logsumexp(z, axis=1) - picked))

    def gradient(self, y, z, scale):
        """Derivative of :meth:`value` with respect to ``z``."""
        probabilities = np.exp(z - logsumexp(z, axis=1, keepdims=True))
        probabilities[np.arange(len(y)), y] -= 1.0
        return scale[:, None] * probabilities
