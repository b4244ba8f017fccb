"""Penalties on the coefficient matrix ``W`` (tasks x features).

Every linear model of skmtl is a loss of :mod:`skmtl.losses` plus one
penalty from this module, solved by a solver of :mod:`skmtl.solvers`
(docs/architecture.rst walks through adding one). A penalty on ``W`` gives:

- ``value(W)``, and ``prox(W, step)``, the proximal operator of
  ``step * P`` (accelerated proximal gradient,
  :mod:`skmtl.solvers.fista`);
- what the duality gap needs: ``dual_value(...)``, the dual objective at the
  generalised residuals rescaled to feasibility. For a norm penalty
  ``alpha * N(W)`` this is the dual norm ``N*`` (:meth:`NormPenalty.dual_norm`):
  the residuals are shrunk until their correlation with the features lies in
  the ball ``N* <= alpha``. Where no bounded dual exists (``alpha = 0``) the
  solvers fall back on the squared norm of the gradient;
- ``alpha_max(gradient_at_zero)``: the smallest strength whose solution is
  ``W = 0``, from the gradient of the data term at zero (the correlation of
  the generalised residuals with the features);
- ``to_cvxpy(W)``: the penalty as a cvxpy expression, for the reference
  solver :mod:`skmtl.solvers.cvxpy`;
- ``rescaled(scaling)``: the penalty on data rescaled by powers of two
  (:mod:`skmtl.solvers._scaling`).

A multiclass ``W`` of shape ``(n_tasks, n_classes, n_features)`` is seen as
the matrix of its ``n_tasks * n_classes`` rows, ``W.reshape(-1, n_features)``
(task-major), by every penalty but :class:`TaskGroupNorm`, whose group is a
task's whole block.

:class:`Decomposition` writes ``W = P + Q`` with one penalty on each block:
the solvers then work on the stacked blocks ``C`` of shape ``(2,) + W.shape``
through ``combine`` and ``spread``. A single penalty has one block and both
are the identity.

The objectives are written in the notation of
docs/user_guide/regularization.rst.
"""

import inspect

import numpy as np
from scipy import linalg


def stationarity_criterion(penalty, correlation, W):
    """Squared norm of the objective's gradient: the stop where no dual is bounded.

    ``correlation`` is the negative gradient of the data term in ``W``.
    Without a bounded dual (``dual_value`` is ``-inf``) the solvers stop on
    this instead of the duality gap: for a penalty that is zero (every
    strength zero) it is ``||correlation||^2``; for a smooth penalty with a
    flat direction (a task graph without ridge, a free shared mean), whose
    gradient ``smooth_gradient(W)`` the optimum balances, it is
    ``||correlation - smooth_gradient(W)||^2``, zero exactly at the optimum.
    """
    A = np.asarray(correlation, dtype=float)
    smooth_gradient = getattr(penalty, "smooth_gradient", None)
    if smooth_gradient is not None:
        A = A - smooth_gradient(W)
    return float(np.vdot(A, A))


class MeanRegularization:
    """Mean-regularised penalty on ``w_t = w_0 + v_t`` (Evgeniou & Pontil 2004).

    ``P(w_0, V) = (alpha / 2) sum_t ||v_t||^2 + (alpha_mean / 2) ||w_0||^2``

    The task coefficients are split into a shared mean ``w_0`` and task
    deviations ``v_t``; ``alpha`` pulls every task towards the mean,
    ``alpha_mean`` shrinks the mean itself.

    Minimised over ``w_0`` it is a quadratic penalty on ``W`` alone (the
    form the generic solvers use, with ``T`` tasks and ``wbar`` the mean
    row of ``W``)::

        P(W) = (alpha / 2) sum_t ||w_t - wbar||^2
               + (T alpha alpha_mean / (2 (T alpha + alpha_mean))) ||wbar||^2

    at ``w_0 = T alpha wbar / (T alpha + alpha_mean)``. Called with one
    argument, :meth:`value` and :meth:`to_cvxpy` take this form; with two,
    the split form.

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
    >>> W = np.array([[2.0, 1.0], [1.0, 0.0]])
    >>> round(penalty.value(W), 6)
    2.0
    """

    n_blocks = 1

    def __init__(self, alpha, alpha_mean):
        self.alpha = alpha
        self.alpha_mean = alpha_mean

    def __repr__(self):
        return (
            f"MeanRegularization(alpha={self.alpha!r}, alpha_mean={self.alpha_mean!r})"
        )

    def combine(self, C):
        """One block: ``W`` itself."""
        return C

    def _mean_strength(self, n_tasks):
        """``s = alpha alpha_mean / (T alpha + alpha_mean)``, on the mean row."""
        alpha, alpha_mean = float(self.alpha), float(self.alpha_mean)
        if alpha == 0 or alpha_mean == 0:
            return 0.0
        return alpha * alpha_mean / (n_tasks * alpha + alpha_mean)

    def shared_coef(self, W):
        """The optimal shared mean ``w_0`` for ``W``."""
        W = np.asarray(W, dtype=float)
        n_tasks = W.shape[0]
        alpha, alpha_mean = float(self.alpha), float(self.alpha_mean)
        if alpha_mean == 0:
            return W.mean(axis=0)
        return n_tasks * alpha * W.mean(axis=0) / (n_tasks * alpha + alpha_mean)

    def value(self, shared_coef, deviations=None):
        """Penalty value: of ``(w_0, V)``, or of ``W`` alone (one argument).

        Parameters
        ----------
        shared_coef : ndarray of shape (n_features,), or ``W``
            The shared mean ``w_0``; or, alone, the task coefficients ``W``
            of shape (n_tasks, n_features).
        deviations : ndarray of shape (n_tasks, n_features), default=None
            The task deviations ``v_t`` (rows).

        Returns
        -------
        value : float
        """
        if deviations is None:
            W = np.asarray(shared_coef, dtype=float)
            mean = W.mean(axis=0)
            centred = W - mean
            return 0.5 * (
                float(self.alpha) * float(np.vdot(centred, centred))
                + W.shape[0]
                * self._mean_strength(W.shape[0])
                * float(np.dot(mean, mean))
            )
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

    def smooth_gradient(self, W):
        """Gradient of the one-argument form: ``alpha (w_t - wbar) + s wbar``."""
        W = np.asarray(W, dtype=float)
        mean = W.mean(axis=0)
        return float(self.alpha) * (W - mean) + self._mean_strength(W.shape[0]) * mean

    def prox(self, W, step):
        """Proximal operator of ``step * P`` on ``W``: shrink deviations and mean.

        ``P(W) = (alpha ||W - 1 wbar^T||^2 + s ||1 wbar^T||^2) / 2`` with
        ``s = alpha alpha_mean / (T alpha + alpha_mean)``: the deviations
        from the mean row shrink by ``1 + step alpha``, the mean row by
        ``1 + step s``.
        """
        W = np.asarray(W, dtype=float)
        mean = W.mean(axis=0)
        mean_factor = 1.0 / (1.0 + step * self._mean_strength(W.shape[0]))
        return (W - mean) / (1.0 + step * float(self.alpha)) + mean_factor * mean

    def blocks_shape(self, shape):
        """One block: the shape of ``W``."""
        return tuple(shape)

    def spread(self, G):
        """One block: the gradient itself."""
        return G

    def alpha_max(self, gradient_at_zero):
        """No finite strength makes a ridge-type penalty's solution zero."""
        return float("inf")

    def dual_value(self, conjugate, correlation, W, intercept_term=0.0):
        """Dual value at the generalised residuals (no rescaling needed).

        ``-conjugate(1) - P*(A) - intercept_term`` with ``P*`` the conjugate
        of the quadratic, ``P*(A) = ||A - 1 Abar^T||^2 / (2 alpha)
        + T ||Abar||^2 / (2 s)`` (``s`` as in :meth:`prox`); ``-inf`` when a
        strength is zero (no bounded conjugate).
        """
        A = np.asarray(correlation, dtype=float)
        mean_strength = self._mean_strength(A.shape[0])
        if float(self.alpha) <= 0 or mean_strength <= 0:
            return -np.inf
        mean = A.mean(axis=0)
        centred = A - mean
        conjugate_penalty = (
            0.5 * float(np.vdot(centred, centred)) / float(self.alpha)
            + 0.5 * A.shape[0] * float(np.dot(mean, mean)) / mean_strength
        )
        return -conjugate(1.0) - conjugate_penalty - intercept_term

    def rescaled(self, scaling):
        """The penalty on data rescaled by powers of two (``scaling``)."""
        return MeanRegularization(
            _overflow_safe(scaling.strength(self.alpha, degree=2)),
            _overflow_safe(scaling.strength(self.alpha_mean, degree=2)),
        )

    def to_cvxpy(self, shared_coef, deviations=None, n_tasks=None):
        """The penalty as a cvxpy expression: of ``(w_0, V)``, or of ``W``.

        Parameters
        ----------
        shared_coef : cvxpy.Variable of shape (n_features,), or ``W``
            The shared mean; alone, a 2-D ``W`` (tasks x features).
        deviations : cvxpy.Variable of shape (n_tasks, n_features), default=None

        Returns
        -------
        expression : cvxpy.Expression
        """
        import cvxpy as cp

        if deviations is None:
            W = shared_coef
            rows = W.shape[0]
            mean = cp.sum(W, axis=0) / rows
            centred = W - np.ones((rows, 1)) @ cp.reshape(
                mean, (1, W.shape[1]), order="C"
            )
            return 0.5 * self.alpha * cp.sum_squares(centred) + (
                0.5 * rows * self._mean_strength(rows) * cp.sum_squares(mean)
            )
        return 0.5 * self.alpha * cp.sum_squares(deviations) + (
            0.5 * self.alpha_mean * cp.sum_squares(shared_coef)
        )


def _matrix(W):
    """The 2-D view ``(rows, n_features)`` of a 2-D or 3-D coefficient array."""
    W = np.asarray(W, dtype=float)
    return W.reshape(-1, W.shape[-1])


def _overflow_safe(value):
    """A strength beyond float64 after rescaling zeroes ``W``: the largest float."""
    return float(np.finfo(np.float64).max) if np.isinf(value) else value


class NormPenalty:
    """``alpha * N(W)`` for a norm ``N``: what every norm penalty shares.

    Subclasses give the norm, its dual norm and the proximal operator of the
    norm (``norm``, ``dual_norm``, ``_prox_norm``) and ``to_cvxpy``.

    Parameters
    ----------
    alpha : float
        Strength (>= 0).
    """

    #: Number of coefficient blocks (see :class:`Decomposition`).
    n_blocks = 1

    def __init__(self, alpha):
        self.alpha = alpha

    def __repr__(self):
        return f"{type(self).__name__}(alpha={self.alpha!r})"

    def combine(self, C):
        """``W`` from the coefficient blocks (one block: ``C`` itself)."""
        return C

    def spread(self, G):
        """Gradient of every block from the gradient in ``W``."""
        return G

    def blocks_shape(self, shape):
        """Shape of the stacked blocks for a ``W`` of ``shape``."""
        return tuple(shape)

    def value(self, W):
        """Penalty value at ``W`` of shape (n_tasks, [n_classes,] n_features)."""
        return float(self.alpha) * self.norm(W) if self.alpha else 0.0

    def prox(self, W, step):
        """Proximal operator of ``step * alpha * N`` at ``W`` (a new array)."""
        return self._prox_norm(np.asarray(W, dtype=float), step * float(self.alpha))

    def alpha_max(self, gradient_at_zero):
        """Smallest ``alpha`` with ``W = 0`` optimal: ``N*(gradient at zero)``."""
        return self.dual_norm(gradient_at_zero)

    def dual_constraints(self, correlation):
        """Pairs ``(strength, N*(correlation))`` the dual point must satisfy."""
        return [(float(self.alpha), self.dual_norm(correlation))]

    def dual_value(self, conjugate, correlation, W, intercept_term=0.0):
        """Dual objective at the generalised residuals rescaled to feasibility.

        With ``A = sum_i c_i nu_i x_i`` (``correlation``) and
        ``kappa = min(1, min_k alpha_k / N_k*(A))`` over the constraints of
        :meth:`dual_constraints`, the point ``kappa * nu`` is dual feasible
        and its value is
        ``-conjugate(kappa) - kappa^2 * intercept_term``.

        Parameters
        ----------
        conjugate : callable
            ``conjugate(kappa) = sum_i c_i loss*(y_i, -kappa nu_i)``.
        correlation : ndarray of the shape of ``W``
        W : ndarray
            The iterate (unused by norm penalties without a ridge part).
        intercept_term : float, default=0.0
            ``||s||^2 / (2 intercept_alpha)`` for tied intercepts, with
            ``s_t`` the per-task sums of ``c_i nu_i``.

        Returns
        -------
        dual : float
            ``-inf`` when no strength is positive (no bounded dual).
        """
        kappa = 1.0
        for strength, norm in self.dual_constraints(correlation):
            if strength <= 0:
                return -np.inf
            if norm > strength:
                kappa = min(kappa, strength / norm)
        return -conjugate(kappa) - kappa**2 * intercept_term

    def rescaled(self, scaling):
        """The penalty on data rescaled by powers of two (``scaling``)."""
        return type(self)(_overflow_safe(scaling.strength(self.alpha, degree=1)))


class L1(NormPenalty):
    """Lasso penalty on every coefficient: ``alpha * sum_{t,j} |W[t, j]|``.

    Examples
    --------
    >>> import numpy as np
    >>> penalty = L1(alpha=1.0)
    >>> penalty.value(np.array([[3.0, -0.5]]))
    3.5
    >>> penalty.prox(np.array([[3.0, -0.5]]), step=1.0)
    array([[ 2., -0.]])
    """

    def norm(self, W):
        """``sum |W|``."""
        return float(np.abs(W).sum())

    def dual_norm(self, G):
        """``max |G|``."""
        return float(np.max(np.abs(G), initial=0.0))

    def _prox_norm(self, W, threshold):
        return np.sign(W) * np.maximum(np.abs(W) - threshold, 0.0)

    def to_cvxpy(self, W, n_tasks=None):
        """The penalty as a cvxpy expression of a 2-D ``W``."""
        import cvxpy as cp

        return self.alpha * cp.sum(cp.abs(W))


class TraceNorm(NormPenalty):
    """Trace (nuclear) norm: ``alpha * ||W||_* = alpha * sum_k sigma_k(W)``.

    Penalising the singular values of ``W`` favours a low rank: the tasks'
    coefficients lie in a small shared subspace, which amounts to learning a
    few features shared by all tasks (Argyriou, Evgeniou & Pontil 2008).
    Its proximal operator soft-thresholds the singular values.

    Examples
    --------
    >>> import numpy as np
    >>> penalty = TraceNorm(alpha=1.0)
    >>> W = np.diag([3.0, 0.5])
    >>> penalty.value(W)
    3.5
    >>> penalty.prox(W, step=1.0)
    array([[2., 0.],
           [0., 0.]])
    >>> penalty.dual_norm(W)
    3.0
    """

    def norm(self, W):
        """Sum of the singular values."""
        return float(linalg.svdvals(_matrix(W), check_finite=False).sum())

    def dual_norm(self, G):
        """Spectral norm: the largest singular value."""
        M = _matrix(G)
        if M.size == 0:
            return 0.0
        return float(linalg.svdvals(M, check_finite=False)[0])

    def _prox_norm(self, W, threshold):
        M = _matrix(W)
        U, s, Vt = linalg.svd(M, full_matrices=False, check_finite=False)
        s = np.maximum(s - threshold, 0.0)
        keep = s > 0
        return ((U[:, keep] * s[keep]) @ Vt[keep]).reshape(W.shape)

    def to_cvxpy(self, W, n_tasks=None):
        """The penalty as a cvxpy expression of a 2-D ``W``."""
        import cvxpy as cp

        return self.alpha * cp.normNuc(W)


class TaskGroupNorm(NormPenalty):
    """Group norm over the tasks: ``alpha * sum_t ||W[t]||_2``.

    The group of task ``t`` is its whole coefficient vector (all classes of
    a multiclass task): a task's block is zero or not as a whole. Robust
    multi-task learning puts it on the outlier part (Chen, Zhou & Ye 2011).

    Examples
    --------
    >>> import numpy as np
    >>> penalty = TaskGroupNorm(alpha=1.0)
    >>> W = np.array([[3.0, 4.0], [0.3, 0.4]])
    >>> penalty.value(W)
    5.5
    >>> penalty.prox(W, step=1.0)
    array([[2.4, 3.2],
           [0. , 0. ]])
    """

    @staticmethod
    def task_norms(W):
        """``||W[t]||_2`` for every task."""
        flat = np.reshape(W, (np.shape(W)[0], -1))
        return np.sqrt(np.einsum("ij,ij->i", flat, flat))

    def norm(self, W):
        """Sum of the tasks' Euclidean norms."""
        return float(self.task_norms(W).sum())

    def dual_norm(self, G):
        """Largest Euclidean norm of a task's block."""
        return float(np.max(self.task_norms(G), initial=0.0))

    def _prox_norm(self, W, threshold):
        norms = self.task_norms(W)
        factor = np.zeros_like(norms)
        keep = norms > threshold
        factor[keep] = 1.0 - threshold / norms[keep]
        return W * factor.reshape((-1,) + (1,) * (W.ndim - 1))

    def to_cvxpy(self, W, n_tasks=None):
        """The penalty as a cvxpy expression of a 2-D ``W`` (``n_tasks`` row blocks)."""
        import cvxpy as cp

        n_tasks = W.shape[0] if n_tasks is None else n_tasks
        rows_per_task = W.shape[0] // n_tasks
        grouped = cp.reshape(W, (n_tasks, rows_per_task * W.shape[1]), order="C")
        return self.alpha * cp.sum(cp.norm(grouped, 2, axis=1))


class FeatureMaxNorm(NormPenalty):
    """Block L1/Linf norm over features: ``alpha * sum_j max_t |W[t, j]|``.

    A feature is used by the tasks with one common magnitude or not at all:
    the shared part of the dirty model (Jalali et al. 2010). Its proximal
    operator is, by Moreau's identity, the residual of the projection of
    every column onto an L1 ball.

    Examples
    --------
    >>> import numpy as np
    >>> penalty = FeatureMaxNorm(alpha=1.0)
    >>> W = np.array([[3.0, 0.2], [1.0, -0.3]])
    >>> penalty.value(W)
    3.3
    >>> penalty.prox(W, step=1.0)
    array([[2., 0.],
           [1., 0.]])
    """

    def norm(self, W):
        """Sum over features of the largest magnitude over tasks."""
        return float(np.abs(_matrix(W)).max(axis=0, initial=0.0).sum())

    def dual_norm(self, G):
        """Largest L1 norm of a feature's column."""
        return float(np.max(np.abs(_matrix(G)).sum(axis=0), initial=0.0))

    def _prox_norm(self, W, threshold):
        M = _matrix(W)
        return (M - _project_columns_l1(M, threshold)).reshape(W.shape)

    def to_cvxpy(self, W, n_tasks=None):
        """The penalty as a cvxpy expression of a 2-D ``W``."""
        import cvxpy as cp

        return self.alpha * cp.sum(cp.max(cp.abs(W), axis=0))


def _project_columns_l1(M, radius):
    """Euclidean projection of every column of ``M`` onto the L1 ball ``radius``.

    The sort-based algorithm of Duchi et al. (2008), for all columns at once.
    """
    if radius <= 0:
        return np.zeros_like(M)
    magnitude = np.abs(M)
    inside = magnitude.sum(axis=0) <= radius
    ordered = -np.sort(-magnitude, axis=0)
    cumulative = np.cumsum(ordered, axis=0) - radius
    index = np.arange(1, M.shape[0] + 1)[:, None]
    positive = ordered - cumulative / index > 0
    count = positive.sum(axis=0)
    count = np.maximum(count, 1)
    theta = cumulative[count - 1, np.arange(M.shape[1])] / count
    theta = np.where(inside, 0.0, np.maximum(theta, 0.0))
    return np.sign(M) * np.maximum(magnitude - theta, 0.0)


class L21(NormPenalty):
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

    #: The group norm is smooth on its support: FISTA may finish by L-BFGS
    #: there (:func:`skmtl.solvers.fista._polish_on_support`).
    polish_on_support = True

    def __init__(self, alpha, l1_ratio=1.0):
        self.alpha = alpha
        self.l1_ratio = l1_ratio

    def __repr__(self):
        return f"L21(alpha={self.alpha!r}, l1_ratio={self.l1_ratio!r})"

    @property
    def strengths(self):
        """``(alpha * l1_ratio, alpha * (1 - l1_ratio))``: group and ridge parts."""
        return self.alpha * self.l1_ratio, self.alpha * (1.0 - self.l1_ratio)

    @staticmethod
    def group_norms(W):
        """``||W[..., j]||_2`` for every feature ``j``, shape (n_features,)."""
        flat = _matrix(W)
        return np.sqrt(np.einsum("ij,ij->j", flat, flat))

    def norm(self, W):
        """Sum of the features' Euclidean norms over tasks."""
        return float(self.group_norms(W).sum())

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

    def dual_constraints(self, correlation):
        """``(alpha * l1_ratio, max_j ||A[..., j]||)`` (valid without ridge part)."""
        return [(self.strengths[0], self.dual_norm(correlation))]

    def alpha_max(self, gradient_at_zero):
        """Smallest ``alpha`` with ``W = 0`` optimal (``l1_ratio > 0``)."""
        if float(self.l1_ratio) <= 0:
            raise ValueError(
                "alpha_max is not defined for l1_ratio=0: a pure ridge penalty "
                "never makes every coefficient zero. Use l1_ratio > 0."
            )
        return self.dual_norm(gradient_at_zero) / float(self.l1_ratio)

    def dual_value(self, conjugate, correlation, W, intercept_term=0.0):
        """Dual value, with the exact conjugate of the ridge part when present.

        See :func:`skmtl.solvers._l21.dual_value`.
        """
        from .solvers._l21 import tied_dual_value

        group, ridge = self.strengths
        return tied_dual_value(conjugate, correlation, W, group, ridge, intercept_term)

    def rescaled(self, scaling):
        """The penalty on data rescaled by powers of two (``scaling``)."""
        group, ridge = scaling.l21_strengths(*self.strengths)
        alpha = group + ridge
        return L21(alpha, group / alpha if alpha else self.l1_ratio)

    def to_cvxpy(self, W, n_tasks=None):
        """The penalty as a cvxpy expression of a 2-D ``W`` (tasks x features).

        For a multinomial model stack the classes into the rows first.
        """
        import cvxpy as cp

        group, ridge = self.strengths
        expression = group * cp.sum(cp.norm(W, 2, axis=0))
        if ridge:
            expression = expression + 0.5 * ridge * cp.sum_squares(W)
        return expression


class Decomposition:
    """``W = P + Q`` with one penalty on each block: ``first(P) + second(Q)``.

    The solvers minimise over both blocks, stacked as ``C`` of shape
    ``(2,) + W.shape``; the data term sees ``W = C[0] + C[1]``. Minimising
    over the blocks amounts to the infimal convolution of the two penalties
    on ``W``, whose dual is the intersection of the two dual balls: the
    rescaled residuals must satisfy both penalties' dual constraints.

    Parameters
    ----------
    first, second : NormPenalty
        Penalties of ``C[0]`` and ``C[1]``.

    Examples
    --------
    >>> import numpy as np
    >>> penalty = Decomposition(L1(1.0), TraceNorm(2.0))
    >>> C = np.stack([np.eye(2), np.diag([1.0, 0.0])])
    >>> penalty.combine(C)
    array([[2., 0.],
           [0., 1.]])
    >>> penalty.value(C)
    4.0
    """

    n_blocks = 2

    def __init__(self, first, second):
        for part in (first, second):
            if not hasattr(part, "dual_constraints") or (
                isinstance(part, L21) and part.strengths[1] > 0
            ):
                raise ValueError(
                    "Decomposition needs a norm penalty on each block (L1, "
                    "TraceNorm, TaskGroupNorm, FeatureMaxNorm, or L21 with "
                    f"l1_ratio=1), got {part!r}: its duality gap rescales the "
                    "residuals into the intersection of the dual norm balls."
                )
        self.first = first
        self.second = second

    def __repr__(self):
        return f"Decomposition({self.first!r}, {self.second!r})"

    @property
    def parts(self):
        return (self.first, self.second)

    def combine(self, C):
        """``W = C[0] + C[1]``."""
        return C[0] + C[1]

    def spread(self, G):
        """Both blocks receive the gradient in ``W``."""
        return np.stack([G, G])

    def blocks_shape(self, shape):
        """``(2,) + shape``."""
        return (2,) + tuple(shape)

    def value(self, C):
        """``first(C[0]) + second(C[1])``."""
        return self.first.value(C[0]) + self.second.value(C[1])

    def prox(self, C, step):
        """Block-wise proximal operator (the penalty is separable in the blocks)."""
        return np.stack([self.first.prox(C[0], step), self.second.prox(C[1], step)])

    def dual_constraints(self, correlation):
        """The constraints of both penalties."""
        return [
            *self.first.dual_constraints(correlation),
            *self.second.dual_constraints(correlation),
        ]

    def zero_thresholds(self, gradient_at_zero):
        """``(alpha_max of first, alpha_max of second)``: ``W = 0`` iff both hold."""
        return (
            self.first.alpha_max(gradient_at_zero),
            self.second.alpha_max(gradient_at_zero),
        )

    def alpha_max(self, gradient_at_zero):
        """Smallest strength of ``first`` with ``W = 0`` when ``second/first`` is fixed.

        ``max(N1*(A), N2*(A) * alpha_1 / alpha_2)`` for the current ratio of
        the two strengths.
        """
        first, second = self.zero_thresholds(gradient_at_zero)
        if float(self.second.alpha) <= 0:
            # An unpenalised block is zero only where the gradient is.
            return first if second == 0 else float("inf")
        ratio = float(self.first.alpha) / float(self.second.alpha)
        return max(first, second * ratio)

    dual_value = NormPenalty.dual_value

    def rescaled(self, scaling):
        """Both penalties on rescaled data."""
        return Decomposition(
            self.first.rescaled(scaling), self.second.rescaled(scaling)
        )

    def to_cvxpy(self, P, Q, n_tasks=None):
        """``first(P) + second(Q)`` as a cvxpy expression of two 2-D blocks."""
        return self.first.to_cvxpy(P, n_tasks=n_tasks) + self.second.to_cvxpy(
            Q, n_tasks=n_tasks
        )


# Penalties of task relations. Each is a convex function of the task matrix
# ``M = W.reshape(n_tasks, -1)`` (one row per task, all classes of a
# multiclass task in one row), smooth apart from the squared trace norm, and
# never zero at a finite strength (``alpha_max`` is ``inf``).


def _task_matrix(W):
    """``W`` as one row per task: ``(n_tasks, n_classes * n_features)``."""
    W = np.asarray(W, dtype=float)
    return W.reshape(W.shape[0], -1)


def _cvxpy_task_matrix(W, n_tasks):
    """The cvxpy counterpart of :func:`_task_matrix` for a task-major 2-D ``W``."""
    import cvxpy as cp

    if n_tasks is None or W.shape[0] == n_tasks:
        return W
    rows_per_task = W.shape[0] // n_tasks
    return cp.reshape(W, (n_tasks, rows_per_task * W.shape[1]), order="C")


def _singular_values(M):
    """Singular values of ``M`` padded with zeros to ``M.shape[0]`` (one per task)."""
    values = np.zeros(M.shape[0])
    if M.size:
        s = linalg.svdvals(M, check_finite=False)
        values[: s.size] = s
    return values


class _TaskRelationPenalty:
    """What the task-relation penalties share: one block, no zero solution."""

    n_blocks = 1

    def combine(self, C):
        """One block: ``W`` itself."""
        return C

    def spread(self, G):
        """One block: the gradient itself."""
        return G

    def blocks_shape(self, shape):
        """One block: the shape of ``W``."""
        return tuple(shape)

    def alpha_max(self, gradient_at_zero):
        """No finite strength makes the solution zero."""
        return float("inf")

    def dual_value(self, conjugate, correlation, W, intercept_term=0.0):
        """Dual value at the generalised residuals (no rescaling needed).

        ``-conjugate(1) - P*(A) - intercept_term`` with ``P*`` the convex
        conjugate of the penalty (:meth:`conjugate`) at the correlation
        ``A``; ``-inf`` where ``P*`` is unbounded.
        """
        value = self.conjugate(correlation)
        if not np.isfinite(value):
            return -np.inf
        return -conjugate(1.0) - value - intercept_term

    def __repr__(self):
        names = inspect.signature(type(self)).parameters
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__name__}({args})"


class TaskGraph(_TaskRelationPenalty):
    """Graph-regularised penalty: related tasks have close coefficients.

    ``P(W) = (alpha / 2) sum_{s,t} A[s, t] ||w_s - w_t||^2
    + (alpha_ridge / 2) ||W||_F^2 = tr(W^T K W) / 2``

    with ``K = 2 alpha L + alpha_ridge I`` (:meth:`coupling`) and
    ``L = D - A`` the Laplacian of the task graph (Evgeniou, Micchelli &
    Pontil 2005). The sum runs over ordered pairs of a symmetric ``A``: a
    non-symmetric adjacency is read as ``(A + A^T) / 2``; the diagonal is
    ignored.

    Parameters
    ----------
    alpha : float
        Strength of the graph term (>= 0).
    adjacency : ndarray of shape (n_tasks, n_tasks)
        Non-negative edge weights, in the order of the rows of ``W``.
    alpha_ridge : float, default=0.0
        Strength of the ridge term (>= 0).

    Examples
    --------
    >>> import numpy as np
    >>> penalty = TaskGraph(alpha=1.0, adjacency=np.array([[0.0, 1.0], [1.0, 0.0]]))
    >>> W = np.array([[1.0, 0.0], [0.0, 0.0]])
    >>> penalty.value(W)
    1.0
    >>> penalty.prox(W, step=0.25)
    array([[0.75, 0.  ],
           [0.25, 0.  ]])
    """

    def __init__(self, alpha, adjacency, alpha_ridge=0.0):
        self.alpha = alpha
        self.adjacency = adjacency
        self.alpha_ridge = alpha_ridge

    @property
    def laplacian(self):
        """``L = D - A`` of the symmetrised adjacency, zero diagonal."""
        A = np.asarray(self.adjacency, dtype=float)
        A = (A + A.T) / 2.0
        np.fill_diagonal(A, 0.0)
        return np.diag(A.sum(axis=1)) - A

    def coupling(self):
        """``K = 2 alpha L + alpha_ridge I``: the penalty is ``tr(W^T K W) / 2``."""
        L = self.laplacian
        return 2.0 * float(self.alpha) * L + float(self.alpha_ridge) * np.eye(len(L))

    def _eigh(self):
        """Eigendecomposition of :meth:`coupling`, cached for the prox."""
        key = (float(self.alpha), float(self.alpha_ridge), id(self.adjacency))
        if getattr(self, "_eigh_key", None) != key:
            values, vectors = linalg.eigh(self.coupling(), check_finite=False)
            self._eigh_cache = (np.maximum(values, 0.0), vectors)
            self._eigh_key = key
        return self._eigh_cache

    def value(self, W):
        """``tr(W^T K W) / 2`` on the task matrix of ``W``."""
        M = _task_matrix(W)
        return 0.5 * float(np.vdot(M, self.coupling() @ M))

    def prox(self, W, step):
        """``(I + step K)^{-1} W``, through the eigendecomposition of ``K``."""
        values, vectors = self._eigh()
        M = _task_matrix(W)
        rotated = (vectors.T @ M) / (1.0 + step * values)[:, None]
        return (vectors @ rotated).reshape(np.shape(W))

    def smooth_gradient(self, W):
        """Gradient ``K W`` (on the task matrix of ``W``)."""
        M = _task_matrix(W)
        return (self.coupling() @ M).reshape(np.shape(W))

    def conjugate(self, G):
        """``tr(G^T K^{-1} G) / 2``; ``inf`` when ``K`` is singular."""
        values, vectors = self._eigh()
        if values.size and values.min() <= 1e-12 * max(values.max(), 1e-300):
            return float("inf")
        rotated = vectors.T @ _task_matrix(G)
        return 0.5 * float(np.sum(rotated * rotated / values[:, None]))

    def rescaled(self, scaling):
        """The penalty on data rescaled by powers of two (``scaling``)."""
        return TaskGraph(
            _overflow_safe(scaling.strength(self.alpha, degree=2)),
            self.adjacency,
            _overflow_safe(scaling.strength(self.alpha_ridge, degree=2)),
        )

    def to_cvxpy(self, W, n_tasks=None):
        """The penalty as a cvxpy expression, from its sum over the edges."""
        import cvxpy as cp

        M = _cvxpy_task_matrix(W, n_tasks)
        A = np.asarray(self.adjacency, dtype=float)
        A = (A + A.T) / 2.0
        s, t = np.nonzero(np.triu(A, k=1))
        expression = 0.5 * self.alpha_ridge * cp.sum_squares(M)
        if s.size and self.alpha:
            # (alpha / 2) sum over ordered pairs = alpha sum over edges s < t.
            incidence = np.zeros((s.size, M.shape[0]))
            rows = np.arange(s.size)
            incidence[rows, s] = np.sqrt(A[s, t])
            incidence[rows, t] = -np.sqrt(A[s, t])
            expression = expression + self.alpha * cp.sum_squares(incidence @ M)
        return expression


def _cluster_weights(sigma, eta, n_clusters):
    """The eigenvalues ``m`` of the optimal ``M`` of :class:`ClusteredTasks`.

    Minimises ``sum_i sigma_i^2 / (eta + m_i)`` over ``0 <= m_i <= 1``,
    ``sum_i m_i = n_clusters``: by the KKT conditions
    ``m_i = clip(tau sigma_i - eta, 0, 1)`` for the ``tau`` at which they sum
    to ``n_clusters``. The sum is piecewise linear in ``tau``, with breaks at
    ``eta / sigma_i`` and ``(1 + eta) / sigma_i``: ``tau`` is found exactly on
    the segment that crosses ``n_clusters``. Directions with ``sigma_i = 0``
    take what is left, evenly (the value does not depend on it).
    """
    sigma = np.asarray(sigma, dtype=float)
    positive = sigma > 0
    n_positive = int(positive.sum())
    m = np.zeros_like(sigma)
    if n_positive <= n_clusters:
        m[positive] = 1.0
        if n_positive < sigma.size:
            m[~positive] = (n_clusters - n_positive) / (sigma.size - n_positive)
        return m
    s = sigma[positive]
    breaks = np.sort(np.concatenate([eta / s, (1.0 + eta) / s]))

    def total(tau):
        return np.clip(tau * s - eta, 0.0, 1.0).sum()

    totals = np.array([total(tau) for tau in breaks])
    upper = int(np.searchsorted(totals, n_clusters))
    lower_tau = breaks[upper - 1] if upper > 0 else 0.0
    lower_total = totals[upper - 1] if upper > 0 else 0.0
    span = totals[upper] - lower_total
    tau = lower_tau + (breaks[upper] - lower_tau) * (
        (n_clusters - lower_total) / span if span > 0 else 0.0
    )
    m[positive] = np.clip(tau * s - eta, 0.0, 1.0)
    return m


class ClusteredTasks(_TaskRelationPenalty):
    """Convex relaxation of clustered multi-task learning.

    ``P(W) = alpha eta (1 + eta) min_M tr(W^T (eta I + M)^{-1} W)``

    over the task matrices ``0 <= M <= I`` with ``tr(M) = n_clusters``
    (Jacob, Bach & Vert 2008, in the form of Zhou, Chen & Ye 2011 with
    ``rho_1 = alpha`` and ``rho_2 = eta alpha``). ``W`` has one row per task,
    so ``M`` is ``n_tasks x n_tasks``: it relaxes ``F F^T`` for a normalised
    cluster-indicator matrix ``F``. The minimising ``M`` shares the
    eigenvectors of ``W W^T``; its eigenvalues follow from those of
    ``W W^T`` by water-filling (:meth:`cluster_matrix`), and so do the
    proximal operator and the conjugate.

    Parameters
    ----------
    alpha : float
        Strength (>= 0).
    n_clusters : int
        Number of clusters ``k``, ``1 <= k <= n_tasks``.
    eta : float
        Ratio of the ridge strength to the cluster strength (> 0).

    Examples
    --------
    >>> import numpy as np
    >>> penalty = ClusteredTasks(alpha=1.0, n_clusters=1, eta=1.0)
    >>> W = np.array([[1.0, 0.0], [1.0, 0.0]])
    >>> round(penalty.value(W), 6)
    2.0
    >>> penalty.cluster_matrix(W).round(3)
    array([[0.5, 0.5],
           [0.5, 0.5]])
    """

    def __init__(self, alpha, n_clusters, eta):
        self.alpha = alpha
        self.n_clusters = n_clusters
        self.eta = eta

    def _scale(self):
        eta = float(self.eta)
        return float(self.alpha) * eta * (1.0 + eta)

    def cluster_matrix(self, W):
        """The minimising ``M`` (n_tasks x n_tasks) for ``W``."""
        M = _task_matrix(W)
        U, s, _ = linalg.svd(M, full_matrices=True, check_finite=False)
        sigma = np.zeros(M.shape[0])
        sigma[: s.size] = s
        m = _cluster_weights(sigma, float(self.eta), self.n_clusters)
        return (U * m) @ U.T

    def value(self, W):
        """``alpha eta (1 + eta) sum_i sigma_i^2 / (eta + m_i)``."""
        sigma = _singular_values(_task_matrix(W))
        m = _cluster_weights(sigma, float(self.eta), self.n_clusters)
        return self._scale() * float(np.sum(sigma**2 / (float(self.eta) + m)))

    def prox(self, W, step):
        """Proximal operator of ``step * P``, on the singular values of ``W``.

        For a fixed ``M`` the minimiser is ``(eta I + M)(eta I + M + 2 c I)^{-1} W``
        (``c = step alpha eta (1 + eta)``); the best ``M`` is then the one of
        the penalty with ``eta + 2 c`` in place of ``eta``.
        """
        M = _task_matrix(W)
        c = step * self._scale()
        if c <= 0 or M.size == 0:
            return np.array(W, dtype=float)
        U, s, Vt = linalg.svd(M, full_matrices=False, check_finite=False)
        sigma = np.zeros(M.shape[0])
        sigma[: s.size] = s
        eta = float(self.eta)
        m = _cluster_weights(sigma, eta + 2.0 * c, self.n_clusters)[: s.size]
        shrunk = s * (eta + m) / (eta + m + 2.0 * c)
        return ((U * shrunk) @ Vt).reshape(np.shape(W))

    def conjugate(self, G):
        """``(eta ||G||_F^2 + sum of the n_clusters largest sigma_i(G)^2) / (4 c)``.

        ``c = alpha eta (1 + eta)``; ``inf`` when ``c = 0``.
        """
        c = self._scale()
        if c <= 0:
            return float("inf")
        sigma = _singular_values(_task_matrix(G))
        top = np.sort(sigma)[::-1][: int(self.n_clusters)]
        return float(float(self.eta) * np.sum(sigma**2) + np.sum(top**2)) / (4.0 * c)

    def rescaled(self, scaling):
        """The penalty on data rescaled by powers of two (``scaling``)."""
        return ClusteredTasks(
            _overflow_safe(scaling.strength(self.alpha, degree=2)),
            self.n_clusters,
            self.eta,
        )

    def to_cvxpy(self, W, n_tasks=None):
        """``(expression, constraints)``: ``matrix_frac`` over a variable ``M``."""
        import cvxpy as cp

        T = _cvxpy_task_matrix(W, n_tasks)
        n = T.shape[0]
        M = cp.Variable((n, n), symmetric=True)
        constraints = [M >> 0, np.eye(n) - M >> 0, cp.trace(M) == self.n_clusters]
        expression = self._scale() * cp.matrix_frac(T, float(self.eta) * np.eye(n) + M)
        return expression, constraints


def _squared_l1_prox(sigma, ridge, squared):
    """Proximal point of a ridge plus squared L1 term on non-negative values.

    The minimiser over ``x >= 0`` of
    ``||x - sigma||^2 / 2 + ridge ||x||^2 / 2 + squared (sum x)^2 / 2``.

    ``x_i = max(sigma_i - squared S, 0) / (1 + ridge)`` with ``S = sum x``;
    on a support of the ``j`` largest ``sigma``,
    ``S = sum_{i <= j} sigma_i / (1 + ridge + j squared)``, and the support
    is the largest ``j`` whose smallest entry stays positive.
    """
    order = np.argsort(-sigma)
    ordered = sigma[order]
    counts = np.arange(1, ordered.size + 1)
    sums = np.cumsum(ordered) / (1.0 + ridge + counts * squared)
    inside = ordered - squared * sums > 0
    x = np.zeros_like(sigma)
    if not inside.any():
        return x
    j = int(np.nonzero(inside)[0].max())
    x[order] = np.maximum(ordered - squared * sums[j], 0.0) / (1.0 + ridge)
    return x


class TaskRelationship(_TaskRelationPenalty):
    """Task-relationship penalty (MTRL, Zhang & Yeung 2010).

    ``P(W) = (alpha / 2) ||W||_F^2 + (beta / 2) min_Omega tr(W^T Omega^{-1} W)``

    over task covariances ``Omega >= 0`` with ``tr(Omega) = 1`` (``W`` has
    one row per task; ``Omega^{-1}`` is read as the pseudo-inverse on the
    range of ``W``). The minimum is ``(beta / 2) ||W||_*^2``, the squared
    trace norm, at ``Omega = (W W^T)^{1/2} / tr((W W^T)^{1/2})``
    (:meth:`task_covariance`): the penalty is jointly convex and the
    alternating minimisation of the original paper is not needed; the
    solvers work on ``W`` alone, with the proximal operator and conjugate
    of the squared trace norm.

    Parameters
    ----------
    alpha : float
        Ridge strength (>= 0).
    beta : float
        Strength of the task-relationship term (>= 0).

    Examples
    --------
    >>> import numpy as np
    >>> penalty = TaskRelationship(alpha=0.0, beta=2.0)
    >>> W = np.diag([3.0, 1.0])
    >>> penalty.value(W)
    16.0
    >>> penalty.task_covariance(W)
    array([[0.75, 0.  ],
           [0.  , 0.25]])
    """

    def __init__(self, alpha, beta):
        self.alpha = alpha
        self.beta = beta

    def task_covariance(self, W):
        """``Omega = (W W^T)^{1/2} / tr((W W^T)^{1/2})``; ``I / T`` at ``W = 0``."""
        M = _task_matrix(W)
        if M.size == 0:
            return np.eye(M.shape[0]) / max(M.shape[0], 1)
        U, s, _ = linalg.svd(M, full_matrices=False, check_finite=False)
        total = s.sum()
        if not total > 0:
            return np.eye(M.shape[0]) / M.shape[0]
        return (U * (s / total)) @ U.T

    def value(self, W):
        """``(alpha / 2) ||W||_F^2 + (beta / 2) ||W||_*^2``."""
        sigma = _singular_values(_task_matrix(W))
        return 0.5 * (
            float(self.alpha) * float(np.sum(sigma**2))
            + float(self.beta) * float(sigma.sum()) ** 2
        )

    def prox(self, W, step):
        """Proximal operator of ``step * P``, on the singular values of ``W``."""
        M = _task_matrix(W)
        if M.size == 0:
            return np.array(W, dtype=float)
        U, s, Vt = linalg.svd(M, full_matrices=False, check_finite=False)
        shrunk = _squared_l1_prox(s, step * float(self.alpha), step * float(self.beta))
        return ((U * shrunk) @ Vt).reshape(np.shape(W))

    def conjugate(self, G):
        """Convex conjugate, on the singular values ``g`` of ``G``.

        ``sup_{x >= 0} g . x - (alpha / 2) ||x||^2 - (beta / 2) (sum x)^2``:
        ``g_1^2 / (2 beta)`` when ``alpha = 0``; otherwise attained at
        ``x = (g - beta S)_+ / alpha``, the proximal point of
        :func:`_squared_l1_prox` at ``g / alpha``.
        """
        alpha, beta = float(self.alpha), float(self.beta)
        g = _singular_values(_task_matrix(G))
        if alpha <= 0:
            if beta <= 0:
                return float("inf")
            return float(g.max(initial=0.0)) ** 2 / (2.0 * beta)
        # x = argmax: the prox of (beta / alpha)(sum x)^2 / 2 at g / alpha.
        x = _squared_l1_prox(g / alpha, 0.0, beta / alpha)
        return float(
            g @ x - 0.5 * alpha * float(x @ x) - 0.5 * beta * float(x.sum()) ** 2
        )

    def rescaled(self, scaling):
        """The penalty on data rescaled by powers of two (``scaling``)."""
        return TaskRelationship(
            _overflow_safe(scaling.strength(self.alpha, degree=2)),
            _overflow_safe(scaling.strength(self.beta, degree=2)),
        )

    def to_cvxpy(self, W, n_tasks=None):
        """``(expression, constraints)``: ``matrix_frac`` over a variable ``Omega``."""
        import cvxpy as cp

        T = _cvxpy_task_matrix(W, n_tasks)
        n = T.shape[0]
        expression = 0.5 * self.alpha * cp.sum_squares(T)
        if not self.beta:
            return expression, []
        omega = cp.Variable((n, n), symmetric=True)
        constraints = [omega >> 0, cp.trace(omega) == 1]
        return expression + 0.5 * self.beta * cp.matrix_frac(T, omega), constraints
