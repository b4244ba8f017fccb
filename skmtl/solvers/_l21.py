"""The joint-feature (L2,1) problem shared by the BCD and FISTA solvers.

The problem (docs/user_guide/regularization.rst; Argyriou et al. 2008,
Obozinski et al. 2010)::

    minimise  sum_i c_i loss(y_i, x_i . w_{t_i} + b_{t_i})
              + a1 sum_j ||W[..., j]||_2 + (a2 / 2) ||W||_F^2
              + (intercept_alpha / 2) sum_t ||b_t - mean_s b_s||^2

with ``c_i = s_i / n_t`` (:func:`skmtl.losses.observation_scale`),
``a1 = alpha * l1_ratio`` and ``a2 = alpha * (1 - l1_ratio)``. The group of
feature ``j`` is the whole slice ``W[..., j]``: every task (and, for the
multinomial loss, every class). The last term is zero unless the intercepts
are tied (``intercept_alpha > 0``, used by the classifiers so that a task that
misses a class keeps a finite intercept); it equals the ridge
``(intercept_alpha / 2) sum_t ||c_t||^2`` on task offsets ``b_t = b_0 + c_t``
around an unpenalised shared intercept ``b_0``.

This module holds what both solvers need:

- :class:`SharedRowsDesign` and :class:`LongRowsDesign`: the feature matrix
  seen task by task, with the few products the solvers use;
- the penalty pieces: :func:`group_norms`, :func:`group_soft_threshold`;
- :func:`fit_intercepts`: the optimal intercepts for fixed ``W`` (Newton);
- :func:`duality_gap`: a feasible dual point by rescaling the generalised
  residuals, and the gap between the primal and dual values;
- :func:`alpha_max`: the smallest ``alpha`` whose solution is ``W = 0``.

References
----------
A. Argyriou, T. Evgeniou and M. Pontil. Convex multi-task feature learning.
Machine Learning, 73(3):243-272, 2008.

G. Obozinski, B. Taskar and M. I. Jordan. Joint covariate selection and joint
subspace selection for multiple classification problems. Statistics and
Computing, 20(2):231-252, 2010.

E. Ndiaye, O. Fercoq, A. Gramfort and J. Salmon. Gap safe screening rules for
sparse multi-task and multi-class models. NeurIPS, 2015.
"""

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, xlogy
from sklearn.utils.extmath import safe_sparse_dot

from ..losses import observation_scale
from ._scaling import Scaling, problem_scaling

#: Largest number of float64 entries of the Gram matrices a working set may use.
GRAM_BUDGET = 2**23


def penalty_strengths(alpha, l1_ratio):
    """Split ``alpha`` into the group-norm and ridge strengths ``(a1, a2)``.

    Examples
    --------
    >>> penalty_strengths(2.0, 0.75)
    (1.5, 0.5)
    """
    return float(alpha) * float(l1_ratio), float(alpha) * (1.0 - float(l1_ratio))


def group_norms(W):
    """Euclidean norm of every feature group ``W[..., j]``, shape (n_features,).

    Examples
    --------
    >>> group_norms(np.array([[3.0, 0.0], [4.0, 1.0]]))
    array([5., 1.])
    """
    flat = np.reshape(W, (-1, np.shape(W)[-1]))
    return np.sqrt(np.einsum("ij,ij->j", flat, flat))


def penalty_value(W, a1, a2):
    """``a1 sum_j ||W[..., j]|| + (a2 / 2) ||W||_F^2``."""
    value = a1 * float(np.sum(group_norms(W))) if a1 else 0.0
    if a2:
        value += 0.5 * a2 * float(np.vdot(W, W))
    return value


def group_soft_threshold(W, threshold, shrink=1.0):
    """Proximal operator of ``step (a1 ||.||_{2,1} + (a2 / 2) ||.||_F^2)``.

    Parameters
    ----------
    W : ndarray of shape (..., n_features)
        Point to project; not modified.
    threshold : float or ndarray of shape (n_features,)
        ``step * a1``.
    shrink : float or ndarray of shape (n_features,), default=1.0
        ``1 / (1 + step * a2)``.

    Returns
    -------
    prox : ndarray of the shape of ``W``

    Examples
    --------
    >>> group_soft_threshold(np.array([[3.0, 0.1], [4.0, 0.0]]), 1.0)
    array([[2.4, 0. ],
           [3.2, 0. ]])
    """
    norms = group_norms(W)
    factor = np.zeros_like(norms)
    positive = norms > threshold
    factor[positive] = (
        1.0 - np.broadcast_to(threshold, norms.shape)[positive] / (norms[positive])
    )
    return W * (factor * shrink)


# --------------------------------------------------------------------------
# designs: the feature matrix seen task by task
# --------------------------------------------------------------------------


class SharedRowsDesign:
    """Tasks observed on the rows of one ``X`` (wide and single-task format).

    Residual-like arrays have the shape ``(n_samples, n_tasks)``; an
    unobserved cell has scale 0 and target 0, so it drops out of every sum.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_tasks)
        Targets, 0 where unobserved.
    scale : ndarray of shape (n_samples, n_tasks)
        ``c_i = s_i / n_t``, 0 where unobserved.
    """

    layout = "shared"
    #: Powers of two applied to the data (see :func:`make_design`).
    scaling = Scaling()

    def __init__(self, X, Y, scale):
        self.X = X.tocsc() if sp.issparse(X) else X
        self.y = Y
        self.scale = scale
        self.n_tasks = Y.shape[1]
        self.n_features = X.shape[1]
        # Fully observed with common weights: one Gram matrix serves all tasks.
        self.uniform = bool(np.all(scale == scale[:, :1]))
        self._moments = None
        self._gram = None
        #: Per-design results the solvers reuse along a path.
        self.cache = {}

    def predict(self, W):
        """``x_i . w_t`` for every cell, shape (n_samples, n_tasks)."""
        return safe_sparse_dot(self.X, W.T, dense_output=True)

    def expand_intercept(self, intercept):
        """Intercept of every cell, broadcastable to (n_samples, n_tasks)."""
        return intercept[None, :]

    def correlate(self, values):
        """``sum_{i in t} values_i x_i`` for every task, shape (n_tasks, n_features)."""
        return np.asarray(safe_sparse_dot(self.X.T, values, dense_output=True)).T

    def task_sums(self, values):
        """Sum of ``values`` over the observations of every task."""
        return values.sum(axis=0)

    def scale_like(self, values):
        """The scale ``c_i``, broadcastable to ``values``."""
        return self.scale

    def flat(self, values):
        """Values as one observation axis, the layout the losses expect."""
        return values.reshape(-1)

    def column_moments(self):
        """Weighted column means and second moments per task, each (n_tasks, p)."""
        if self._moments is None:
            # Common weights: one column of scales gives every task's moments.
            scale = self.scale[:, :1] if self.uniform else self.scale
            means = self.correlate(scale)
            if sp.issparse(self.X):
                second = safe_sparse_dot(self.X.multiply(self.X).T, scale).T
            elif self.uniform:
                second = np.einsum("ij,ij,i->j", self.X, self.X, scale[:, 0])[None]
            else:
                second = ((self.X**2).T @ scale).T
            shape = (self.n_tasks, self.n_features)
            self._moments = (
                np.broadcast_to(means, shape).copy(),
                np.broadcast_to(np.asarray(second), shape).copy(),
            )
        return self._moments

    def gram(self, columns):
        """Weighted Gram of ``X[:, columns]``: (k, k) if uniform, else (T, k, k)."""
        if self._gram is None:
            self._gram = _GramCache(self._cross_gram, self.n_features)
        gram = self._gram.get(np.asarray(columns))
        return gram[0] if self.uniform else gram

    def _cross_gram(self, left, right):
        left_block = _dense_columns(self.X, left)
        right_block = _dense_columns(self.X, right)
        if self.uniform:
            return (left_block.T @ (self.scale[:, :1] * right_block))[None]
        return np.stack(
            [
                left_block.T @ (self.scale[:, [t]] * right_block)
                for t in range(self.n_tasks)
            ]
        )

    def gram_size(self, n_columns):
        """Number of entries of :meth:`gram` for ``n_columns`` columns."""
        return n_columns * n_columns * (1 if self.uniform else self.n_tasks)

    def product_size(self, n_classes=1):
        """Multiply-adds of the largest single product with the design."""
        return self.X.shape[0] * self.n_features * self.n_tasks * n_classes

    def columns(self, columns):
        """``X[:, columns]`` for column-wise sweeps (dense F-order or CSC)."""
        if sp.issparse(self.X):
            return self.X[:, columns].tocsc()
        return np.asfortranarray(self.X[:, columns])


class LongRowsDesign:
    """Tasks with their own rows (long format), rows grouped by task.

    Residual-like arrays have the shape ``(n_observations,)`` or, for the
    multinomial loss, ``(n_observations, n_classes)``.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_observations, n_features)
        Rows grouped by task.
    y : ndarray of shape (n_observations,)
    scale : ndarray of shape (n_observations,)
    task_index : ndarray of shape (n_observations,)
        Non-decreasing task of every row.
    n_tasks : int
    """

    layout = "long"
    uniform = False
    #: Powers of two applied to the data (see :func:`make_design`).
    scaling = Scaling()

    def __init__(self, X, y, scale, task_index, n_tasks):
        self.X = X.tocsr() if sp.issparse(X) else X
        self.y = y
        self.scale = scale
        self.task_index = task_index
        self.n_tasks = n_tasks
        self.n_features = X.shape[1]
        self.offsets = np.searchsorted(task_index, np.arange(n_tasks + 1))
        # Row blocks once: CSR row slices are copies, dense ones views.
        self.blocks = [
            self.X[self.offsets[t] : self.offsets[t + 1]] for t in range(n_tasks)
        ]
        self._moments = None
        self._gram = None
        #: Per-design results the solvers reuse along a path.
        self.cache = {}

    def _slices(self):
        return [
            slice(self.offsets[t], self.offsets[t + 1]) for t in range(self.n_tasks)
        ]

    def predict(self, W):
        """``x_i . w_{t_i}``: (n_obs,) or, for 3-D ``W``, (n_obs, n_classes)."""
        out = np.empty((self.X.shape[0],) + W.shape[1:-1])
        for t, rows in enumerate(self._slices()):
            out[rows] = safe_sparse_dot(self.blocks[t], W[t].T, dense_output=True)
        return out

    def expand_intercept(self, intercept):
        """Intercept of every observation."""
        return intercept[self.task_index]

    def correlate(self, values):
        """``sum_{i in t} values_i x_i``: (n_tasks, [n_classes,] n_features)."""
        out = np.empty((self.n_tasks,) + values.shape[1:] + (self.n_features,))
        for t, rows in enumerate(self._slices()):
            out[t] = np.asarray(
                safe_sparse_dot(self.blocks[t].T, values[rows], dense_output=True)
            ).T
        return out

    def task_sums(self, values):
        """Sum of ``values`` over the observations of every task."""
        return np.add.reduceat(values, self.offsets[:-1], axis=0)

    def scale_like(self, values):
        """The scale ``c_i``, broadcastable to ``values``."""
        return self.scale if values.ndim == 1 else self.scale[:, None]

    def flat(self, values):
        """Values as the losses expect them (already one observation axis)."""
        return values

    def column_moments(self):
        """Weighted column means and second moments per task, each (n_tasks, p)."""
        if self._moments is None:
            squared = self.X.multiply(self.X) if sp.issparse(self.X) else self.X**2
            means = self.correlate(self.scale)
            second = np.empty_like(means)
            for t, rows in enumerate(self._slices()):
                second[t] = np.asarray(
                    safe_sparse_dot(squared[rows].T, self.scale[rows])
                ).ravel()
            self._moments = (means, second)
        return self._moments

    def gram(self, columns):
        """Weighted Gram of ``X_t[:, columns]`` for every task, (T, k, k)."""
        if self._gram is None:
            self._gram = _GramCache(self._cross_gram, self.n_features)
        return self._gram.get(np.asarray(columns))

    def _cross_gram(self, left, right):
        left_block = _dense_columns(self.X, left)
        right_block = _dense_columns(self.X, right)
        out = np.empty((self.n_tasks, len(left), len(right)))
        for t, rows in enumerate(self._slices()):
            out[t] = left_block[rows].T @ (self.scale[rows, None] * right_block[rows])
        return out

    def gram_size(self, n_columns):
        """Number of entries of :meth:`gram` for ``n_columns`` columns."""
        return n_columns * n_columns * self.n_tasks

    def product_size(self, n_classes=1):
        """Multiply-adds of the largest single product (one task's block)."""
        return int(np.max(np.diff(self.offsets))) * self.n_features * n_classes

    def columns(self, columns):
        """``X[:, columns]`` for column-wise sweeps (dense F-order or CSC)."""
        if sp.issparse(self.X):
            return self.X[:, columns].tocsc()
        return np.asfortranarray(self.X[:, columns])


class _GramCache:
    """Gram entries of every column requested so far, grown block by block.

    Working sets of one solve grow, and those of successive ``alpha`` of a
    path overlap: only the entries of columns not seen before are computed.
    When the cache would exceed :data:`GRAM_BUDGET` entries it restarts from
    the requested columns.
    """

    def __init__(self, cross, n_features):
        self.cross = cross
        self.position = np.full(n_features, -1)
        self.features = np.zeros(0, dtype=np.intp)
        self.matrix = None

    def get(self, columns):
        new = columns[self.position[columns] < 0]
        if new.size:
            total = self.features.size + new.size
            if self.matrix is None or total**2 * len(self.matrix) > GRAM_BUDGET:
                self._reset(columns)
            else:
                self._extend(new)
        index = self.position[columns]
        return self.matrix[:, index[:, None], index[None, :]]

    def _reset(self, columns):
        self.position[:] = -1
        self.features = np.array(columns, dtype=np.intp)
        self.position[self.features] = np.arange(self.features.size)
        self.matrix = self.cross(self.features, self.features)

    def _extend(self, new):
        old = self.features.size
        cross = self.cross(self.features, new)
        corner = self.cross(new, new)
        size = old + new.size
        matrix = np.empty((len(self.matrix), size, size))
        matrix[:, :old, :old] = self.matrix
        matrix[:, :old, old:] = cross
        matrix[:, old:, :old] = np.swapaxes(cross, 1, 2)
        matrix[:, old:, old:] = corner
        self.matrix = matrix
        self.features = np.concatenate([self.features, new])
        self.position[new] = np.arange(old, size)


def _dense_columns(X, columns):
    if sp.issparse(X):
        return X[:, columns].toarray()
    return X[:, columns]


def make_design(data, targets=None, multinomial=False):
    """Build the design of a :class:`~skmtl._tasks.TaskData`.

    Features and targets of extreme magnitude are rescaled exactly by powers
    of two (:mod:`skmtl.solvers._scaling`); ``design.scaling`` records the
    factors, which the solvers undo on their results. Class targets (0/1 or
    class indices) are never rescaled: their magnitudes are ordinary.

    Parameters
    ----------
    data : TaskData
    targets : ndarray of shape (n_observations,), default=None
        Targets as the loss expects them (class indices, 0/1); ``data.y``
        if None.
    multinomial : bool, default=False
        Multinomial targets always use the long layout (one row per
        observation), also for a single task.

    Returns
    -------
    design : SharedRowsDesign or LongRowsDesign

    Raises
    ------
    ValueError
        When the features differ so much in magnitude that no float64
        product holds them together
        (:func:`~skmtl.solvers._scaling.check_column_scales`).
    """
    y = data.y if targets is None else targets
    scaling = problem_scaling(data.X, y)
    y = scaling.scale_targets(y)
    scale = observation_scale(data)
    if data.layout == "long" or multinomial:
        X = data.X if data.row_index is None else data.X[data.row_index]
        design = LongRowsDesign(
            scaling.scale_features(X), y, scale, data.task_index, data.n_tasks
        )
    else:
        n_rows = data.X.shape[0]
        rows = np.arange(n_rows) if data.row_index is None else data.row_index
        Y = np.zeros((n_rows, data.n_tasks))
        cell_scale = np.zeros((n_rows, data.n_tasks))
        Y[rows, data.task_index] = y
        cell_scale[rows, data.task_index] = scale
        design = SharedRowsDesign(scaling.scale_features(data.X), Y, cell_scale)
    design.scaling = scaling
    return design


# --------------------------------------------------------------------------
# losses in the design's layout
# --------------------------------------------------------------------------


def _log_softmax(z):
    # scipy.special.logsumexp costs ~0.3 ms of array-API checks per call.
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def data_term(design, loss, z):
    """``sum_i c_i loss(y_i, z_i)``."""
    if loss.name == "multinomial":
        picked = _log_softmax(z)[np.arange(len(design.y)), design.y]
        return -float(np.dot(design.scale, picked))
    return loss.value(design.flat(design.y), design.flat(z), design.flat(design.scale))


def _multinomial_residual(design, z):
    residual = -np.exp(_log_softmax(z))
    residual[np.arange(len(design.y)), design.y] += 1.0
    return residual


def scaled_gradient(design, loss, z):
    """``c_i loss'(y_i, z_i)`` in the layout of ``z``."""
    if loss.name == "multinomial":
        return -design.scale[:, None] * _multinomial_residual(design, z)
    flat = loss.gradient(
        design.flat(design.y), design.flat(z), design.flat(design.scale)
    )
    return flat.reshape(z.shape)


def generalized_residual(design, loss, z):
    """``nu_i = -loss'(y_i, z_i)`` (``y - z`` for the squared loss)."""
    if loss.name == "multinomial":
        return _multinomial_residual(design, z)
    flat_y = design.flat(design.y)
    flat = -loss.gradient(flat_y, design.flat(z), np.ones(len(flat_y)))
    return flat.reshape(z.shape)


def bregman_term(design, loss, z, step):
    """``sum_i c_i [loss(z_i + d_i) - loss(z_i) - loss'(z_i) d_i]``, accurately.

    Written with ``log1p``/``expm1`` so that it keeps its relative accuracy
    for small steps ``d``, where the difference of loss values would be lost
    in rounding; backtracking line searches test this curvature term.
    """
    if loss.name == "squared":
        return 0.5 * float(np.sum(design.scale * step * step))
    if loss.name == "logistic":
        proba = expit(z)
        near = np.clip(step, -1.0, 1.0)
        per_cell = np.log1p(proba * np.expm1(near)) - proba * near
        large = np.abs(step) >= 1.0
        if large.any():
            # Far from the point the direct difference is accurate and safe.
            per_cell[large] = (
                np.logaddexp(0.0, z[large] + step[large])
                - np.logaddexp(0.0, z[large])
                - proba[large] * step[large]
            )
        return float(np.sum(design.scale * per_cell))
    if loss.name == "multinomial":
        log_proba = _log_softmax(z)
        proba = np.exp(log_proba)
        large = np.any(np.abs(step) >= 1.0, axis=1)
        safe_step = np.clip(step, -1.0, 1.0)
        per_row = np.log1p(np.sum(proba * np.expm1(safe_step), axis=1)) - np.sum(
            proba * safe_step, axis=1
        )
        if large.any():
            rows = np.flatnonzero(large)
            shifted = _log_softmax(z[rows] + step[rows])
            picked = np.arange(len(rows)), design.y[rows]
            per_row[rows] = (
                log_proba[rows][picked]
                - shifted[picked]
                - np.sum(proba[rows] * step[rows], axis=1)
                + step[rows][picked]
            )
        return float(np.dot(design.scale, per_row))
    raise ValueError(
        f"No curvature term for the loss {loss.name!r}; expected 'squared', "
        "'logistic' or 'multinomial'."
    )


def conjugate_term(design, loss, dual_residual):
    """``sum_i c_i loss*(y_i, -u_i)`` for the dual point ``u``."""
    y = design.flat(design.y)
    scale = design.flat(design.scale)
    u = -design.flat(dual_residual)
    if loss.name == "multinomial":
        q = u.copy()
        q[np.arange(len(y)), y] += 1.0
        per_observation = np.sum(xlogy(q, np.clip(q, 0.0, None)), axis=1)
    else:
        per_observation = loss.conjugate(y, u)
    return float(np.dot(scale, per_observation))


# --------------------------------------------------------------------------
# intercepts
# --------------------------------------------------------------------------


def intercept_penalty(intercept, intercept_alpha):
    """``(intercept_alpha / 2) sum_t ||b_t - mean_s b_s||^2``."""
    if not intercept_alpha:
        return 0.0
    centred = intercept - intercept.mean(axis=0)
    return 0.5 * intercept_alpha * float(np.vdot(centred, centred))


def intercept_penalty_gradient(intercept, intercept_alpha):
    """Gradient of :func:`intercept_penalty`."""
    if not intercept_alpha:
        return np.zeros_like(intercept)
    return intercept_alpha * (intercept - intercept.mean(axis=0))


def _task_hessians(design, loss, z):
    """Per-task Hessian of the data term in the intercept, (T, K, K)."""
    scale = design.scale
    if loss.name == "multinomial":
        shifted = np.exp(z - z.max(axis=1, keepdims=True))
        proba = shifted / shifted.sum(axis=1, keepdims=True)
        weighted = scale[:, None] * proba
        diagonal = design.task_sums(weighted)
        outer = np.stack(
            [
                np.einsum("ik,il->kl", weighted[rows], proba[rows])
                for rows in design._slices()
            ]
        )
        n_classes = z.shape[1]
        # Softmax is blind to a common shift of the logits; adding 11^T / K
        # makes every block invertible without changing steps orthogonal to 1.
        return (
            diagonal[:, :, None] * np.eye(n_classes)
            - outer
            + np.ones((n_classes, n_classes)) / n_classes
        )
    curvature = scale * _second_derivative(loss, z)
    return design.task_sums(curvature).reshape(-1, 1, 1)


def _second_derivative(loss, z):
    if loss.name == "squared":
        return np.ones_like(z)
    if loss.name == "logistic":
        proba = expit(z)
        return proba * (1.0 - proba)
    raise ValueError(
        f"Intercepts for the loss {loss.name!r} are not supported; expected "
        "'squared', 'logistic' or 'multinomial'."
    )


def _solve_or_lstsq(matrices, vectors):
    """``matrices^-1 vectors`` for stacked systems; least squares when singular.

    A task whose curvature vanishes (a class it never sees, probabilities
    saturated at 0 or 1) makes its block singular; the minimum-norm step
    leaves that direction alone instead of failing.
    """
    try:
        return np.linalg.solve(matrices, vectors)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(matrices) @ vectors


def _newton_direction(hessians, gradient, intercept_alpha):
    """Solve the Newton system of the intercepts, (T, K) from (T, K, K)."""
    n_tasks, n_classes = gradient.shape
    if not intercept_alpha:
        return -_solve_or_lstsq(hessians, gradient[:, :, None])[:, :, 0]
    # Hessian = blockdiag(H_t + lam I) - (lam / T) (1 1^T kron I): Woodbury.
    blocks = hessians + intercept_alpha * np.eye(n_classes)
    inverse = _solve_or_lstsq(blocks, np.broadcast_to(np.eye(n_classes), blocks.shape))
    first = np.einsum("tkl,tl->tk", inverse, gradient)
    coupling = np.eye(n_classes) - (intercept_alpha / n_tasks) * inverse.sum(axis=0)
    correction = _solve_or_lstsq(coupling, first.sum(axis=0))
    step = first + (intercept_alpha / n_tasks) * np.einsum(
        "tkl,l->tk", inverse, correction
    )
    return -step


def fit_intercepts(
    design, loss, z, intercept, intercept_alpha=0.0, *, tol=1e-24, max_iter=100
):
    """Minimise the objective over the intercepts for fixed ``W`` (Newton).

    Parameters
    ----------
    design : SharedRowsDesign or LongRowsDesign
    loss : SquaredLoss, LogisticLoss or MultinomialLoss
    z : ndarray
        Linear predictions without intercept, ``x_i . w_{t_i}``.
    intercept : ndarray of shape (n_tasks,) or (n_tasks, n_classes)
        Starting point; not modified.
    intercept_alpha : float, default=0.0
        Strength of the tie between the task intercepts.
    tol : float, default=1e-24
        Stop when the Newton decrement is below ``tol * (1 + |objective|)``
        (Newton converges quadratically: the last steps are cheap, and the
        duality gap needs the intercept gradient at rounding level).
    max_iter : int, default=100

    Returns
    -------
    intercept : ndarray of the shape of ``intercept``
    """
    shape = intercept.shape
    b = intercept.reshape(design.n_tasks, -1).astype(float, copy=True)
    if loss.name == "multinomial":
        b -= b.mean(axis=1, keepdims=True)

    def objective_at(candidate):
        shaped = candidate.reshape(shape)
        zb = z + design.expand_intercept(shaped)
        return zb, data_term(design, loss, zb) + intercept_penalty(
            shaped, intercept_alpha
        )

    zb, value = objective_at(b)
    polishing_steps = 0
    for _ in range(max_iter):
        gradient = design.task_sums(scaled_gradient(design, loss, zb)).reshape(
            b.shape
        ) + intercept_penalty_gradient(b, intercept_alpha)
        direction = _newton_direction(
            _task_hessians(design, loss, zb), gradient, intercept_alpha
        )
        decrement = -float(np.vdot(gradient, direction))
        if not decrement > tol * (1.0 + abs(value)) or polishing_steps >= 3:
            break
        if decrement < 1e-14 * (1.0 + abs(value)):
            # Objective values no longer resolve the step: take full Newton
            # steps, which still shrink the gradient, a few times.
            b = b + direction
            zb, value = objective_at(b)
            polishing_steps += 1
            continue
        step = 1.0
        while step > 1e-10:
            candidate = b + step * direction
            z_candidate, candidate_value = objective_at(candidate)
            if candidate_value <= value - 1e-4 * step * decrement:
                break
            step *= 0.5
        else:
            break
        b, zb, value = candidate, z_candidate, candidate_value
    return b.reshape(shape)


# --------------------------------------------------------------------------
# duality gap and alpha_max
# --------------------------------------------------------------------------


class DualityGap(NamedTuple):
    """Duality gap at an iterate and the dual point behind it.

    Attributes
    ----------
    gap : float
        ``primal - dual`` with the best of the dual points tried.
    primal : float
    dual : float
    constraint_norms : ndarray of shape (n_features,)
        ``||A_j||``, with ``A_j = sum_i c_i nu_i x_ij - a2 W[..., j]``.
    kappa : float
        Rescaling of the residuals that makes the dual point feasible.
    screening_gap : float
        Gap of the rescaled point alone (the centre of the safe sphere).
    """

    gap: float
    primal: float
    dual: float
    constraint_norms: np.ndarray
    kappa: float
    screening_gap: float


def dual_value(
    conjugate, correlation, W, a1, a2, primal, intercept_sums=None, intercept_alpha=0
):
    """Dual value at the rescaled generalised residuals.

    The dual point is the generalised residual ``nu = -loss'(y, z)`` rescaled
    to feasibility (Ndiaye et al. 2015; scikit-learn's "formulation A" for
    the elastic net): with ``A_j = sum_i c_i nu_i x_ij - a2 W[..., j]`` and
    ``kappa = min(1, a1 / max_j ||A_j||)``::

        D = - sum_i c_i loss*(y_i, -kappa nu_i) - kappa^2 (a2 / 2) ||W||^2
            - kappa^2 / (2 intercept_alpha) sum_t ||s_t||^2,

    ``s_t = sum_{i in t} c_i nu_i``. With ``a2 > 0`` the unscaled point with
    the exact conjugate of the penalty,
    ``sum_j (||A_j + a2 W_j|| - a1)_+^2 / (2 a2)``, is tried too and the larger
    dual value kept. Without any penalty (``a1 = a2 = 0``) there is no
    bounded dual and the gap is replaced by the squared gradient norm
    ``||A||_F^2``. Feasibility with respect to unpenalised intercepts needs
    ``s_t = 0`` (free intercepts) or ``sum_t s_t = 0`` (tied intercepts):
    callers pass intercepts optimal for ``W`` (centring or
    :func:`fit_intercepts`), which meets it up to rounding.

    Parameters
    ----------
    conjugate : callable
        ``conjugate(kappa) = sum_i c_i loss*(y_i, -kappa nu_i)``.
    correlation : ndarray of the shape of ``W``
        ``sum_{i in t} c_i nu_i x_i`` for every task.
    W : ndarray of shape (n_tasks, [n_classes,] n_features)
    a1, a2 : float
        Group-norm and ridge strengths.
    primal : float
        Primal value at the iterate.
    intercept_sums : ndarray or None, default=None
        ``s_t`` when the intercepts are tied (``intercept_alpha > 0``).
    intercept_alpha : float, default=0

    Returns
    -------
    result : DualityGap
    """
    constraint_norms = group_norms(correlation - a2 * W if a2 else correlation)
    tied = 0.0
    if intercept_sums is not None and intercept_alpha:
        tied = float(np.vdot(intercept_sums, intercept_sums)) / (2 * intercept_alpha)
    largest = float(np.max(constraint_norms, initial=0.0))
    dual = -np.inf
    kappa = 1.0
    if a1 > 0:
        kappa = 1.0 if largest <= a1 else a1 / largest
        dual = -conjugate(kappa) - kappa**2 * (0.5 * a2 * float(np.vdot(W, W)) + tied)
    screening_gap = primal - dual
    if a2 > 0:
        excess = np.maximum(group_norms(correlation) - a1, 0.0)
        ridge_dual = -conjugate(1.0) - float(excess @ excess) / (2 * a2) - tied
        dual = max(dual, ridge_dual)
    if not np.isfinite(dual):
        gradient_norm2 = float(np.vdot(correlation, correlation))
        return DualityGap(gradient_norm2, primal, dual, constraint_norms, kappa, np.inf)
    return DualityGap(
        primal - dual, primal, dual, constraint_norms, kappa, screening_gap
    )


def duality_gap(
    design,
    loss,
    z,
    W,
    intercept,
    correlation,
    a1,
    a2,
    *,
    fit_intercept=True,
    intercept_alpha=0.0,
):
    """Duality gap at ``(W, b)`` for any loss (see :func:`dual_value`).

    Parameters
    ----------
    design : SharedRowsDesign or LongRowsDesign
    loss : SquaredLoss, LogisticLoss or MultinomialLoss
    z : ndarray
        Linear predictions including the intercept.
    W : ndarray of shape (n_tasks, [n_classes,] n_features)
    intercept : ndarray of shape (n_tasks, [n_classes])
    correlation : ndarray of the shape of ``W``
        ``sum_{i in t} c_i nu_i x_i`` with ``nu = -loss'(y, z)``.
    a1, a2 : float
        Group-norm and ridge strengths.
    fit_intercept : bool, default=True
    intercept_alpha : float, default=0.0

    Returns
    -------
    result : DualityGap
    """
    nu = generalized_residual(design, loss, z)
    tied = fit_intercept and intercept_alpha > 0
    primal = (
        data_term(design, loss, z)
        + penalty_value(W, a1, a2)
        + (intercept_penalty(intercept, intercept_alpha) if tied else 0.0)
    )
    return dual_value(
        lambda kappa: conjugate_term(design, loss, kappa * nu),
        correlation,
        W,
        a1,
        a2,
        primal,
        design.task_sums(design.scale_like(nu) * nu) if tied else None,
        intercept_alpha if tied else 0.0,
    )


def alpha_max(
    design,
    loss,
    *,
    l1_ratio=1.0,
    fit_intercept=True,
    intercept_alpha=0.0,
    n_classes=None,
):
    """Smallest ``alpha`` for which ``W = 0`` solves the problem.

    With ``W = 0`` and the intercepts at their optimum, ``W = 0`` is optimal
    iff ``max_j ||sum_i c_i nu_i x_ij|| <= alpha * l1_ratio``.

    Parameters
    ----------
    design : SharedRowsDesign or LongRowsDesign
    loss : SquaredLoss, LogisticLoss or MultinomialLoss
    l1_ratio : float, default=1.0
        Must be positive.
    fit_intercept : bool, default=True
    intercept_alpha : float, default=0.0
    n_classes : int or None
        Number of classes of the multinomial loss.

    Returns
    -------
    alpha_max : float
        In the units of the original data, also for a rescaled design
        (``design.scaling``).
    intercept : ndarray
        The optimal intercepts at ``W = 0``, in the same units.
    """
    W = zero_coef(design, n_classes)
    z = np.zeros(design.y.shape + ((n_classes,) if n_classes else ()))
    intercept = np.zeros(W.shape[:-1])
    if fit_intercept:
        intercept = fit_intercepts(design, loss, z, intercept, intercept_alpha)
        z = z + design.expand_intercept(intercept)
    nu = generalized_residual(design, loss, z)
    correlation = design.correlate(design.scale_like(nu) * nu)
    largest = float(np.max(group_norms(correlation), initial=0.0))
    scaling = design.scaling
    return (
        scaling.strength_out(largest, degree=1) / float(l1_ratio),
        scaling.intercept_out(intercept),
    )


def zero_coef(design, n_classes=None):
    """All-zero coefficients of the right shape."""
    if n_classes:
        return np.zeros((design.n_tasks, n_classes, design.n_features))
    return np.zeros((design.n_tasks, design.n_features))
