"""Data layouts: the feature matrix seen task by task, for every solver.

A :class:`~skmtl._tasks.TaskData` reaches the iterative solvers as a
*design* (docs/architecture.rst):

- :class:`SharedRowsDesign`: the tasks share the rows of one ``X`` (wide
  format with missing targets, and single-task data); residual-like arrays
  are ``(n_samples, n_tasks)`` cells, an unobserved cell has scale 0;
- :class:`LongRowsDesign`: every task has its own rows (long format, and
  multinomial targets); residual-like arrays have one entry (or, for the
  multinomial loss, one row of classes) per observation.

Both hold dense or sparse ``X`` and give the same few products: predictions
``x_i . w_t``, the per-task correlations ``sum_{i in t} v_i x_i``, per-task
sums, weighted column moments and Gram matrices. :func:`make_design` builds
the design of a problem, with exact power-of-two rescaling of extreme
magnitudes (:mod:`skmtl.solvers._scaling`).

The second half of the module evaluates a loss of :mod:`skmtl.losses` in a
design's layout (:func:`data_term`, :func:`scaled_gradient`, ...), and the
intercepts: the tie ``(intercept_alpha / 2) sum_t ||b_t - mean_s b_s||^2``
and :func:`fit_intercepts`, the optimal intercepts for fixed coefficients.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils.extmath import safe_sparse_dot

from ..losses import observation_scale
from ._scaling import Scaling, problem_scaling

#: Largest number of float64 entries of the Gram matrices a working set may use.
GRAM_BUDGET = 2**23


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
    observed : ndarray of shape (n_samples, n_tasks) of bool, default=None
        Observed cells; ``scale > 0`` if None.
    """

    layout = "shared"
    #: Powers of two applied to the data (see :func:`make_design`).
    scaling = Scaling()

    def __init__(self, X, Y, scale, observed=None):
        self.X = X.tocsc() if sp.issparse(X) else X
        self.y = Y
        self.scale = scale
        self.observed = scale > 0 if observed is None else observed
        #: Number of observations of every task, shape (n_tasks,).
        self.task_counts = self.observed.sum(axis=0)
        self.n_tasks = Y.shape[1]
        self.n_features = X.shape[1]
        # Fully observed with common weights: one Gram matrix serves all tasks.
        self.uniform = bool(np.all(scale == scale[:, :1]))
        self._means = None
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

    def task_rows(self, t):
        """Rows, targets and scales ``(X_t, y_t, c_t)`` observed by task ``t``.

        A fully observed task gets ``X`` itself; otherwise its rows are
        gathered (a copy, in the order of ``X``).
        """
        if self.task_counts[t] == self.X.shape[0]:
            return self.X, self.y[:, t], self.scale[:, t]
        rows = np.flatnonzero(self.observed[:, t])
        return self.X[rows], self.y[rows, t], self.scale[rows, t]

    @property
    def fully_observed(self):
        """Whether every task observes every row (one design for all tasks)."""
        return bool(np.all(self.task_counts == self.X.shape[0]))

    def column_means(self):
        """Weighted column means ``sum_{i in t} c_i x_i`` per task, (n_tasks, p).

        With ``sum_{i in t} c_i = 1`` (no zero weights) these are the
        weighted means of every task's columns.
        """
        if self._means is None:
            # Common weights: one column of scales gives every task's means.
            scale = self.scale[:, :1] if self.uniform else self.scale
            shape = (self.n_tasks, self.n_features)
            self._means = np.broadcast_to(self.correlate(scale), shape).copy()
        return self._means

    def column_moments(self):
        """Weighted column means and second moments per task, each (n_tasks, p)."""
        if self._moments is None:
            # Common weights: one column of scales gives every task's moments.
            scale = self.scale[:, :1] if self.uniform else self.scale
            means = self.column_means()
            if sp.issparse(self.X):
                second = safe_sparse_dot(self.X.multiply(self.X).T, scale).T
            elif self.uniform:
                second = np.einsum("ij,ij,i->j", self.X, self.X, scale[:, 0])[None]
            else:
                second = ((self.X**2).T @ scale).T
            shape = (self.n_tasks, self.n_features)
            self._moments = (
                means,
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
        #: Number of observations of every task, shape (n_tasks,).
        self.task_counts = np.diff(self.offsets)
        # Row blocks once: CSR row slices are copies, dense ones views.
        self.blocks = [
            self.X[self.offsets[t] : self.offsets[t + 1]] for t in range(n_tasks)
        ]
        self._means = None
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

    def task_rows(self, t):
        """Rows, targets and scales ``(X_t, y_t, c_t)`` of task ``t``."""
        rows = slice(self.offsets[t], self.offsets[t + 1])
        return self.blocks[t], self.y[rows], self.scale[rows]

    #: Tasks never share one block of rows.
    fully_observed = False

    def column_means(self):
        """Weighted column means ``sum_{i in t} c_i x_i`` per task, (n_tasks, p)."""
        if self._means is None:
            self._means = self.correlate(self.scale)
        return self._means

    def column_moments(self):
        """Weighted column means and second moments per task, each (n_tasks, p)."""
        if self._moments is None:
            squared = self.X.multiply(self.X) if sp.issparse(self.X) else self.X**2
            means = self.column_means()
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


def make_design(
    data, targets=None, multinomial=False, *, rescale=True, min_observed=0.0
):
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
    rescale : bool, default=True
        Rescale extreme magnitudes; False keeps the data as it is (and
        ``design.scaling`` the identity).
    min_observed : float, default=0.0
        Wide data with a smaller fraction of observed cells uses the long
        layout: one product per task on its gathered rows costs less than
        one product over every cell when most cells are missing.

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
    scaling = problem_scaling(data.X, y) if rescale else Scaling()
    y = scaling.scale_targets(y)
    scale = observation_scale(data)
    n_rows = data.X.shape[0]
    sparse_cells = data.n_observations < min_observed * n_rows * data.n_tasks
    if data.layout == "long" or multinomial or sparse_cells:
        X = data.X if data.row_index is None else data.X[data.row_index]
        design = LongRowsDesign(
            scaling.scale_features(X), y, scale, data.task_index, data.n_tasks
        )
    else:
        rows = np.arange(n_rows) if data.row_index is None else data.row_index
        Y = np.zeros((n_rows, data.n_tasks))
        cell_scale = np.zeros((n_rows, data.n_tasks))
        observed = np.zeros((n_rows, data.n_tasks), dtype=bool)
        Y[rows, data.task_index] = y
        cell_scale[rows, data.task_index] = scale
        observed[rows, data.task_index] = True
        design = SharedRowsDesign(
            scaling.scale_features(data.X), Y, cell_scale, observed
        )
    design.scaling = scaling
    return design


# --------------------------------------------------------------------------
# losses in the design's layout
# --------------------------------------------------------------------------


def data_term(design, loss, z):
    """``sum_i c_i loss(y_i, z_i)``."""
    return loss.value(design.y, z, design.scale)


def scaled_gradient(design, loss, z):
    """``c_i loss'(y_i, z_i)`` in the layout of ``z``."""
    return loss.gradient(design.y, z, design.scale)


def generalized_residual(design, loss, z):
    """``nu_i = -loss'(y_i, z_i)`` (``y - z`` for the squared loss)."""
    return loss.residual(design.y, z)


def bregman_term(design, loss, z, step):
    """``sum_i c_i [loss(z_i + d_i) - loss(z_i) - loss'(z_i) d_i]``, accurately."""
    return loss.bregman(design.y, z, step, design.scale)


def conjugate_term(design, loss, dual_residual):
    """``sum_i c_i loss*(y_i, -u_i)`` for the dual point ``u``."""
    return loss.conjugate_value(design.y, -dual_residual, design.scale)


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
    hessians = design.task_sums(loss.hessian(z, design.scale))
    hessians = hessians.reshape(design.n_tasks, *hessians.shape[-2:])
    if loss.shift_invariant:
        # Softmax is blind to a common shift of the logits; adding 11^T / K
        # makes every block invertible without changing steps orthogonal to 1.
        n_classes = hessians.shape[-1]
        hessians = hessians + np.ones((n_classes, n_classes)) / n_classes
    return hessians


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
    if loss.shift_invariant:
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


def zero_coef(design, n_classes=None):
    """All-zero coefficients of the right shape."""
    if n_classes:
        return np.zeros((design.n_tasks, n_classes, design.n_features))
    return np.zeros((design.n_tasks, design.n_features))
