"""Penalties that tie the tasks' coefficients together.

Each penalty is a small class with its value, what the solvers need of it
(gradient, proximal operator or dual norm) and ``to_cvxpy`` for the
reference solver. The objectives are written in DESIGN section 3 notation.
"""

import numpy as np


class MeanRegularization:
    """Mean-regularised penalty on ``w_t = w_0 + v_t`` (Evgeniou & Pontil 2004).

    ``P(w_0, V) = (alpha / 2) sum_t ||v_t||^2 + (alpha_mean / 2) ||w_0||^2``

    The task coefficients are split into a shared mean ``w_0`` and task
    deviations ``v_t``; ``alpha`` pulls every task towards the mean,
    ``alpha_mean`` shrinks the mean itself.

    Parameters
    ----------
    alpha : float
        Strength on the deviations ``v_t``.
    alpha_mean : float
        Strength on the shared coefficients ``w_0``.

    Examples
    --------
    >>> import numpy as np
    >>> penalty = MeanRegularization(alpha=2.0, alpha_mean=1.0)
    >>> penalty.value(np.array([1.0, 0.0]), np.array([[1.0, 1.0], [0.0, 0.0]]))
    2.5
    """

    def __init__(self, alpha, alpha_mean):
        self.alpha = alpha
        self.alpha_mean = alpha_mean

    def value(self, shared_coef, deviations):
        """Penalty value.

        Parameters
        ----------
        shared_coef : ndarray of shape (n_features,)
            The shared mean ``w_0``.
        deviations : ndarray of shape (n_tasks, n_features)
            The task deviations ``v_t`` (rows).

        Returns
        -------
        value : float
        """
        shared_coef = np.asarray(shared_coef)
        deviations = np.asarray(deviations)
        return 0.5 * (
            self.alpha * float(np.sum(deviations * deviations))
            + self.alpha_mean * float(np.dot(shared_coef, shared_coef))
        )

    def gradient(self, shared_coef, deviations):
        """Gradients of :meth:`value` with respect to ``w_0`` and ``V``.

        Returns
        -------
        grad_shared : ndarray of shape (n_features,)
        grad_deviations : ndarray of shape (n_tasks, n_features)
        """
        return (
            self.alpha_mean * np.asarray(shared_coef),
            self.alpha * np.asarray(deviations),
        )

    def to_cvxpy(self, shared_coef, deviations):
        """The penalty as a cvxpy expression of the variables ``w_0`` and ``V``.

        Parameters
        ----------
        shared_coef : cvxpy.Variable of shape (n_features,)
        deviations : cvxpy.Variable of shape (n_tasks, n_features)

        Returns
        -------
        expression : cvxpy.Expression
        """
        import cvxpy as cp

        return 0.5 * self.alpha * cp.sum_squares(deviations) + (
            0.5 * self.alpha_mean * cp.sum_squares(shared_coef)
        )
