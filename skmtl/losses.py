"""Losses of the data term, per observation.

Every skmtl linear model minimises a data term (docs/user_guide/regularization.rst)

    L(W, b) = sum_t (1 / n_t) sum_{i in t} s_i * loss(y_i, x_i . w_t + b_t)

The losses here work on the linear predictions ``z_i = x_i . w_t + b_t`` of
all observations at once, with a per-observation scale ``c_i = s_i / n_t``
(see :func:`observation_scale`), so that ``L = sum_i c_i loss(y_i, z_i)``.
Solvers turn gradients with respect to ``z`` into gradients with respect to
``W`` and ``b`` by per-task products with ``X`` (docs/architecture.rst).

Every loss gives what the solvers need, so that no solver branches on a
loss: the value, the gradient in ``z``, the generalised residual
``-loss'(y, z)``, a bound on the curvature, the Bregman term that a
backtracking line search tests, the convex conjugate behind the duality gap,
and the per-observation Hessian blocks of the intercept Newton step.

The squared and logistic losses are elementwise: ``y``, ``z`` and ``scale``
may have any common shape (one axis per observation in the long layout,
``(n_samples, n_tasks)`` cells in the wide layout). The multinomial loss
works on rows: ``z`` has shape ``(n_observations, n_classes)``, ``y`` holds
class indices and ``scale`` one value per row.
"""

import numpy as np
from scipy.special import expit, log_expit, xlogy


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


class _ElementwiseLoss:
    """What the squared and logistic losses share: one prediction per cell."""

    #: Whether the loss scores one vector of class predictions per row.
    multiclass = False
    #: Whether adding a constant to every prediction of a row leaves the
    #: loss unchanged (softmax); the intercept Newton step then fixes it.
    shift_invariant = False

    def value(self, y, z, scale):
        """Data term ``sum_i scale_i * loss(y_i, z_i)``."""
        return float(np.sum(scale * self.pointwise(y, z)))

    def gradient(self, y, z, scale):
        """Derivative of :meth:`value` with respect to ``z``."""
        return -scale * self.residual(y, z)

    def conjugate_value(self, y, u, scale):
        """``sum_i scale_i loss*(y_i, u_i)``."""
        return float(np.sum(scale * self.conjugate(y, u)))

    def hessian(self, z, scale):
        """Per-cell Hessian blocks ``scale_i loss''(z_i)``, ``z.shape + (1, 1)``."""
        return (scale * self.second_derivative(z))[..., None, None]


class SquaredLoss(_ElementwiseLoss):
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

    def pointwise(self, y, z):
        """``loss(y_i, z_i)`` for every observation."""
        residual = y - z
        return 0.5 * residual * residual

    def value(self, y, z, scale):
        """Data term ``sum_i scale_i * loss(y_i, z_i)``."""
        residual = y - z
        return 0.5 * float(np.sum(scale * residual * residual))

    def residual(self, y, z):
        """Generalised residual ``-loss'(y, z) = y - z``."""
        return y - z

    def second_derivative(self, z):
        """``loss''(z)``."""
        return np.ones_like(z)

    def bregman(self, y, z, step, scale):
        """``sum_i scale_i [loss(z_i + d_i) - loss(z_i) - loss'(z_i) d_i]``."""
        return 0.5 * float(np.sum(scale * step * step))

    def conjugate(self, y, u):
        """Convex conjugate ``loss*(u) = u^2 / 2 + u y`` of ``z -> loss(y, z)``."""
        return 0.5 * u * u + u * y

    def to_cvxpy(self, y, z):
        """Per-observation loss as a cvxpy expression of the predictions."""
        import cvxpy as cp

        return 0.5 * cp.square(y - z)


class LogisticLoss(_ElementwiseLoss):
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

    def pointwise(self, y, z):
        """``loss(y_i, z_i)`` for every observation."""
        return -log_expit(z) + (1.0 - y) * z

    def residual(self, y, z):
        """Generalised residual ``-loss'(y, z) = y - sigmoid(z)``."""
        return y - expit(z)

    def second_derivative(self, z):
        """``loss''(z) = p (1 - p)``, as ``expit(z) expit(-z)`` (no rounding)."""
        return expit(z) * expit(-z)

    def bregman(self, y, z, step, scale):
        """``sum_i scale_i [loss(z_i + d_i) - loss(z_i) - loss'(z_i) d_i]``.

        Written with ``log1p``/``expm1`` so that it keeps its relative
        accuracy for small steps, where a difference of loss values would be
        lost in rounding; backtracking line searches test this term.
        """
        # Written around the less likely outcome, q = sigmoid(-|z|): with
        # t = sign(z) d, the term is q t + log1p(q expm1(-t)) for z > 0 and
        # log1p(q expm1(t)) - q t for z <= 0, accurate also where one outcome
        # is almost sure (q tiny).
        z = np.asarray(z, dtype=float)
        step = np.asarray(step, dtype=float)
        q = expit(-np.abs(z))
        t = np.where(z > 0, -step, step)
        near = np.clip(t, -1.0, 1.0)
        per_cell = np.log1p(q * np.expm1(near)) - q * near
        large = np.abs(t) >= 1.0
        if large.any():
            # Far from the point the direct difference is accurate and safe.
            zl, sl = z[large], step[large]
            per_cell[large] = (
                np.logaddexp(0.0, zl + sl) - np.logaddexp(0.0, zl) - expit(zl) * sl
            )
        return float(np.sum(scale * per_cell))

    def conjugate(self, y, u):
        """Convex conjugate of ``z -> loss(y, z)``, finite for ``u + y`` in [0, 1]."""
        p = u + y
        return xlogy(p, p) + xlogy(1.0 - p, 1.0 - p)

    def to_cvxpy(self, y, z):
        """Per-observation loss as a cvxpy expression of the predictions."""
        import cvxpy as cp

        return cp.logistic(z) - cp.multiply(y, z)


def log_softmax(z):
    """Row-wise ``log softmax`` (scipy's costs ~0.3 ms of checks per call)."""
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


class MultinomialLoss:
    """``loss(y, z) = logsumexp(z) - z[y]`` for ``z`` of shape (n_classes,).

    ``y`` holds integer class indices; predictions ``z`` have shape
    ``(n_observations, n_classes)``; ``scale`` has one value per row.

    Examples
    --------
    >>> import numpy as np
    >>> round(MultinomialLoss().value(np.array([0]), np.zeros((1, 3)),
    ...                               np.array([1.0])), 6)
    1.098612
    """

    name = "multinomial"
    curvature = 0.5
    multiclass = True
    shift_invariant = True

    def value(self, y, z, scale):
        """Data term ``sum_i scale_i * loss(y_i, z_i)``."""
        picked = log_softmax(z)[np.arange(len(y)), y]
        return -float(np.dot(scale, picked))

    def residual(self, y, z):
        """Generalised residual ``-loss'(y, z) = onehot(y) - softmax(z)``."""
        residual = -np.exp(log_softmax(z))
        residual[np.arange(len(y)), y] += 1.0
        return residual

    def gradient(self, y, z, scale):
        """Derivative of :meth:`value` with respect to ``z``."""
        return -scale[:, None] * self.residual(y, z)

    def bregman(self, y, z, step, scale):
        """``sum_i scale_i [loss(z_i + d_i) - loss(z_i) - <loss'(z_i), d_i>]``.

        Accurate for small steps (``log1p``/``expm1``), as
        :meth:`LogisticLoss.bregman`.
        """
        log_proba = log_softmax(z)
        proba = np.exp(log_proba)
        rows = np.arange(len(z))
        # The term is blind to a common shift of a row's steps: shift them so
        # that the most likely class does not move, which keeps the accuracy
        # where that class is almost sure.
        dominant = np.argmax(z, axis=1)
        shifted_step = step - step[rows, dominant][:, None]
        large = np.any(np.abs(shifted_step) >= 1.0, axis=1)
        safe_step = np.clip(shifted_step, -1.0, 1.0)
        per_row = np.log1p(np.sum(proba * np.expm1(safe_step), axis=1)) - np.sum(
            proba * safe_step, axis=1
        )
        if large.any():
            far = np.flatnonzero(large)
            moved = log_softmax(z[far] + step[far])
            picked = np.arange(len(far)), y[far]
            per_row[far] = (
                log_proba[far][picked]
                - moved[picked]
                - np.sum(proba[far] * step[far], axis=1)
                + step[far][picked]
            )
        return float(np.dot(scale, per_row))

    def conjugate(self, y, u):
        """Convex conjugate of ``z -> loss(y, z)``, per row.

        ``loss*(u) = sum_k q_k log q_k`` with ``q = u + onehot(y)``, finite
        when ``q`` lies in the probability simplex.
        """
        q = np.array(u, dtype=float)
        q[np.arange(len(y)), y] += 1.0
        return np.sum(xlogy(q, np.clip(q, 0.0, None)), axis=1)

    def conjugate_value(self, y, u, scale):
        """``sum_i scale_i loss*(y_i, u_i)``."""
        return float(np.dot(scale, self.conjugate(y, u)))

    def hessian(self, z, scale):
        """Per-row Hessian blocks ``scale_i (diag(p_i) - p_i p_i^T)``, (n, K, K)."""
        proba = np.exp(log_softmax(z))
        weighted = scale[:, None] * proba
        blocks = -weighted[:, :, None] * proba[:, None, :]
        index = np.arange(z.shape[1])
        blocks[:, index, index] += weighted
        return blocks

    def to_cvxpy(self, y, z):
        """Per-row loss as a cvxpy expression of the predictions (n, K)."""
        import cvxpy as cp

        onehot = np.zeros(z.shape)
        onehot[np.arange(len(y)), y] = 1.0
        return cp.log_sum_exp(z, axis=1) - cp.sum(cp.multiply(onehot, z), axis=1)
