"""Penalties that tie the tasks' coefficients together.

Each penalty is a small class with its value, what the solvers need of it
(gradient, proximal operator or dual norm) and ``to_cvxpy`` for the
reference solver. The objectives are written in the notation of
docs/user_guide/regularization.rst.
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


class L21:
    """Joint-feature penalty: group norm over tasks plus a ridge part.

    ``P(W) = alpha * l1_ratio * sum_j ||W[..., j]||_2
    + (alpha / 2) (1 - l1_ratio) ||W||_F^2``

    The group of feature ``j`` is the slice ``W[..., j]`` over all tasks
    (and classes): a feature is used by all tasks or by none (Argyriou et al.
    2008; Obozinski et al. 2010). ``l1_ratio=1`` is the penalty of
    scikit-learn's ``MultiTaskLasso``, ``l1_ratio < 1`` that of
    ``MultiTaskElasticNet``.

    Parameters
    ----------
    alpha : float
        Overall strength (>= 0).
    l1_ratio : float, default=1.0
        Share of the group norm, in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> penalty = L21(alpha=1.0)
    >>> W = np.array([[3.0, 0.0], [4.0, 0.0]])
    >>> penalty.value(W)
    5.0
    >>> penalty.prox(W, step=1.0)
    array([[2.4, 0. ],
           [3.2, 0. ]])
    >>> penalty.dual_norm(W)
    5.0
    """

    def __init__(self, alpha, l1_ratio=1.0):
        self.alpha = alpha
        self.l1_ratio = l1_ratio

    @property
    def strengths(self):
        """``(alpha * l1_ratio, alpha * (1 - l1_ratio))``: group and ridge parts."""
        return self.alpha * self.l1_ratio, self.alpha * (1.0 - self.l1_ratio)

    @staticmethod
    def group_norms(W):
        """``||W[..., j]||_2`` for every feature ``j``, shape (n_features,)."""
        W = np.asarray(W, dtype=float)
        flat = W.reshape(-1, W.shape[-1])
        return np.sqrt(np.einsum("ij,ij->j", flat, flat))

    def value(self, W):
        """Penalty value at ``W`` of shape (n_tasks, [n_classes,] n_features)."""
        group, ridge = self.strengths
        W = np.asarray(W, dtype=float)
        return group * float(self.group_norms(W).sum()) + 0.5 * ridge * float(
            np.vdot(W, W)
        )

    def prox(self, W, step):
        """Proximal operator of ``step * P``: group soft-thresholding, then shrink."""
        group, ridge = self.strengths
        W = np.asarray(W, dtype=float)
        norms = self.group_norms(W)
        factor = np.zeros_like(norms)
        keep = norms > step * group
        factor[keep] = 1.0 - step * group / norms[keep]
        return W * (factor / (1.0 + step * ridge))

    def dual_norm(self, V):
        """Dual norm of the group norm, ``max_j ||V[..., j]||_2``."""
        return float(np.max(self.group_norms(V), initial=0.0))

    def to_cvxpy(self, W):
        """The penalty as a cvxpy expression of a 2-D ``W`` (tasks x features).

        For a multinomial model stack the classes into the rows first.
        """
        import cvxpy as cp

        group, ridge = self.strengths
        expression = group * cp.sum(cp.norm(W, 2, axis=0))
        if ridge:
            expression = expression + 0.5 * ridge * cp.sum_squares(W)
        return expression
