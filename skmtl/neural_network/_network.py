"""The multi-task network: parameter layout, forward pass, loss and gradient.

A network has ``n_layers`` affine layers: the trunk (``hidden_layer_sizes``),
the task layers (``task_hidden_layer_sizes``) and the output head. A layer is
*shared* (one weight matrix for all tasks: the trunk under hard sharing) or
*per task* (a stack of ``n_tasks`` matrices: task layers, heads, and the trunk
under soft sharing). All parameters live in one flat vector, so that scipy's
L-BFGS and Adam see one array; the layer arrays are views into it.

The objective (docs/user_guide/neural_network.rst), with ``c_t = 1 / n_t`` and
``n_t`` the sum of the sample weights of task ``t``::

    sum_t c_t [ sum_{i in t} s_i loss(y_i, f_t(x_i)) + (alpha / 2) ||W_t||^2 ]
    + (sharing_alpha / 2) sum_t ||theta_t - mean_u theta_u||^2

where ``W_t`` are the weight matrices (not the intercepts) task ``t``'s
network uses and ``theta_t`` its trunk weights and intercepts (soft sharing).
A shared weight matrix is thus penalised by ``(alpha / 2) (sum_t c_t)``.
"""

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, log_expit, logsumexp, softmax
from sklearn.utils.extmath import safe_sparse_dot

#: Per-task layers with at most this many outputs gather each row's task
#: weights (vectorised over tasks); wider ones loop over the tasks.
GATHER_MAX_OUTPUTS = 4

#: Fewest tasks present in a batch for which gathering beats the task loop.
GATHER_MIN_TASKS = 8

#: Wider per-task layers stack the tasks' rows, zero-padded to the largest
#: task, into one batched product when the padding at most multiplies the
#: rows by this factor; otherwise (or for sparse rows) they loop over tasks.
PAD_MAX_GROWTH = 4


# --------------------------------------------------------------------------
# activations (functions of the pre-activation; derivatives of the output)
# --------------------------------------------------------------------------


def _relu(z):
    return np.maximum(z, 0.0)


ACTIVATIONS = {
    "identity": lambda z: z,
    "logistic": expit,
    "tanh": np.tanh,
    "relu": _relu,
}

#: Derivative of each activation expressed through its output ``a``.
DERIVATIVES = {
    "identity": lambda a: np.ones_like(a),
    "logistic": lambda a: a * (1.0 - a),
    "tanh": lambda a: 1.0 - a**2,
    "relu": lambda a: (a > 0).astype(a.dtype),
}


# --------------------------------------------------------------------------
# losses: value per observation and derivative in the output
# --------------------------------------------------------------------------


def squared_loss(y, z):
    """``(y - z)^2 / 2`` per observation and its derivative in ``z``."""
    residual = z[:, 0] - y
    return 0.5 * residual**2, residual[:, None]


def logistic_loss(y, z):
    """Binary log-loss of ``y`` in {0, 1} with score ``z``, and its derivative."""
    z = z[:, 0]
    return -(y * log_expit(z) + (1.0 - y) * log_expit(-z)), (expit(z) - y)[:, None]


def multinomial_loss(y, z):
    """Cross-entropy of the class index ``y`` with scores ``z``, and its derivative."""
    rows = np.arange(len(y))
    value = logsumexp(z, axis=1) - z[rows, y]
    derivative = softmax(z, axis=1)
    derivative[rows, y] -= 1.0
    return value, derivative


LOSSES = {
    "squared": squared_loss,
    "logistic": logistic_loss,
    "multinomial": multinomial_loss,
}


# --------------------------------------------------------------------------
# parameter layout
# --------------------------------------------------------------------------


class NetworkLayout:
    """Shapes of the layers of a multi-task network and their flat packing.

    Parameters
    ----------
    n_features : int
    hidden_layer_sizes : sequence of int
        Trunk layers.
    task_hidden_layer_sizes : sequence of int
        Per-task layers between the trunk and the head.
    n_outputs : int
        Outputs of each task's head.
    n_tasks : int
    sharing : {"hard", "soft"}
    """

    def __init__(
        self,
        n_features,
        hidden_layer_sizes,
        task_hidden_layer_sizes,
        n_outputs,
        n_tasks,
        sharing,
    ):
        self.units = [
            n_features,
            *hidden_layer_sizes,
            *task_hidden_layer_sizes,
            n_outputs,
        ]
        self.n_tasks = n_tasks
        self.sharing = sharing
        self.n_trunk = len(hidden_layer_sizes)
        self.n_layers = len(self.units) - 1
        #: Number of leading layers shared by all tasks.
        self.n_shared = self.n_trunk if sharing == "hard" else 0
        self.shared = [k < self.n_shared for k in range(self.n_layers)]
        task_axis = [() if s else (n_tasks,) for s in self.shared]
        self.coef_shapes = [
            task_axis[k] + (self.units[k], self.units[k + 1])
            for k in range(self.n_layers)
        ]
        self.intercept_shapes = [
            task_axis[k] + (self.units[k + 1],) for k in range(self.n_layers)
        ]
        sizes = [int(np.prod(s)) for s in self.coef_shapes + self.intercept_shapes]
        self.bounds = np.concatenate([[0], np.cumsum(sizes)])
        self.size = int(self.bounds[-1])

    def unpack(self, theta):
        """Views ``(coefs, intercepts)`` of the layers in the flat ``theta``."""
        shapes = self.coef_shapes + self.intercept_shapes
        views = [
            theta[self.bounds[j] : self.bounds[j + 1]].reshape(shape)
            for j, shape in enumerate(shapes)
        ]
        return views[: self.n_layers], views[self.n_layers :]

    def pack(self, coefs, intercepts):
        """The flat vector of ``coefs`` and ``intercepts``."""
        return np.concatenate([np.ravel(a) for a in [*coefs, *intercepts]])

    def matches(self, coefs, intercepts):
        """Whether arrays of a previous fit have this layout (warm start)."""
        return [np.shape(c) for c in coefs] == self.coef_shapes and [
            np.shape(b) for b in intercepts
        ] == self.intercept_shapes

    def initialize(self, random_state, activation):
        """Glorot-uniform weights and intercepts, as scikit-learn's MLP.

        Layers are drawn in order, each weight matrix before its intercepts,
        with the bound ``sqrt(factor / (fan_in + fan_out))`` (``factor`` 2
        for the logistic activation, 6 otherwise). Per-task layers draw every
        task's matrix; a soft-sharing trunk gives every task the same draw
        (the tasks start at their mean). With one task and hard sharing the
        draws are scikit-learn's for the same ``random_state``.
        """
        factor = 2.0 if activation == "logistic" else 6.0
        theta = np.empty(self.size)
        coefs, intercepts = self.unpack(theta)
        for k in range(self.n_layers):
            fan_in, fan_out = self.units[k], self.units[k + 1]
            bound = np.sqrt(factor / (fan_in + fan_out))
            same_for_all = self.sharing == "soft" and k < self.n_trunk
            n_draws = 1 if self.shared[k] or same_for_all else self.n_tasks
            for t in range(n_draws):
                weight = random_state.uniform(-bound, bound, (fan_in, fan_out))
                intercept = random_state.uniform(-bound, bound, fan_out)
                if self.shared[k]:
                    coefs[k][...], intercepts[k][...] = weight, intercept
                elif same_for_all:
                    coefs[k][:], intercepts[k][:] = weight, intercept
                else:
                    coefs[k][t], intercepts[k][t] = weight, intercept
        return theta


# --------------------------------------------------------------------------
# batches of observations
# --------------------------------------------------------------------------


class Batch:
    """Observations grouped by task, with their rows of features.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_rows, n_features)
        Feature rows.
    rows : ndarray of shape (n_observations,) or None
        Row of ``X`` of each observation; ``None``: observation ``i`` is row
        ``i``.
    task_index : ndarray of shape (n_observations,)
        Task of each observation, non-decreasing.
    n_tasks : int
    y : ndarray of shape (n_observations,) or None
        Targets (class indices for the multinomial loss).
    weight : ndarray of shape (n_observations,) or None
        Weight of each observation in the data term (``s_i c_t`` times the
        batch's scale).
    """

    def __init__(self, X, rows, task_index, n_tasks, y=None, weight=None):
        self.X = X
        self.rows = rows
        self.task_index = task_index
        self.n_tasks = n_tasks
        self.y = y
        self.weight = weight
        offsets = np.searchsorted(task_index, np.arange(n_tasks + 1))
        self.segments = [
            (t, slice(offsets[t], offsets[t + 1]))
            for t in range(n_tasks)
            if offsets[t + 1] > offsets[t]
        ]
        self._task_matrix = None
        self._row_matrix = None

    @property
    def n_observations(self):
        return len(self.task_index)

    def task_matrix(self):
        """Sparse ``(n_observations, n_tasks)`` indicator of each one's task."""
        if self._task_matrix is None:
            n = self.n_observations
            self._task_matrix = sp.csr_matrix(
                (np.ones(n), (np.arange(n), self.task_index)),
                shape=(n, self.n_tasks),
            )
        return self._task_matrix

    def row_matrix(self):
        """Sparse ``(n_observations, n_rows)`` indicator of each one's row."""
        if self._row_matrix is None:
            n = self.n_observations
            self._row_matrix = sp.csr_matrix(
                (np.ones(n), (np.arange(n), self.rows)),
                shape=(n, self.X.shape[0]),
            )
        return self._row_matrix

    def gathers(self, A, n_outputs):
        """Whether a per-task layer on ``A`` gathers each row's task weights."""
        return (
            not sp.issparse(A)
            and n_outputs <= GATHER_MAX_OUTPUTS
            and len(self.segments) >= GATHER_MIN_TASKS
        )

    def pads(self, A):
        """Whether a per-task layer on ``A`` is one batched product over tasks."""
        if sp.issparse(A) or len(self.segments) < 2:
            return False  # one task's rows are a slice already
        counts = [rows.stop - rows.start for _, rows in self.segments]
        return self.n_tasks * max(counts) <= PAD_MAX_GROWTH * self.n_observations

    def padded_positions(self):
        """``(task, position)`` of every observation in a ``(n_tasks, m, .)`` stack."""
        start = np.array([rows.start for _, rows in self.segments])
        first = np.zeros(self.n_tasks, dtype=np.intp)
        first[[t for t, _ in self.segments]] = start
        position = np.arange(self.n_observations) - first[self.task_index]
        return self.task_index, position, int(position.max()) + 1

    def pad(self, A):
        """Rows of ``A`` stacked by task, zero-padded: ``(n_tasks, m, width)``."""
        task, position, size = self.padded_positions()
        stacked = np.zeros((self.n_tasks, size, A.shape[1]))
        stacked[task, position] = A
        return stacked


# --------------------------------------------------------------------------
# per-task layers
# --------------------------------------------------------------------------


def _task_forward(A, W, b, batch):
    """``A_i @ W[t_i] + b[t_i]`` for every observation ``i``."""
    n_outputs = W.shape[2]
    task = batch.task_index
    if batch.gathers(A, n_outputs):
        out = np.empty((A.shape[0], n_outputs))
        for k in range(n_outputs):
            out[:, k] = np.einsum("ij,ij->i", A, W[task, :, k])
        return out + b[task]
    if batch.pads(A):
        task, position, _ = batch.padded_positions()
        return np.matmul(batch.pad(A), W)[task, position] + b[task]
    out = np.zeros((A.shape[0], n_outputs))
    for t, rows in batch.segments:
        out[rows] = safe_sparse_dot(A[rows], W[t], dense_output=True) + b[t]
    return out


def _task_backward(A, W, delta, batch, grad_W, grad_b, need_input):
    """Add the gradients of a per-task layer; return the one of its input."""
    n_outputs = W.shape[2]
    task = batch.task_index
    grad_b += batch.task_matrix().T @ delta
    if batch.gathers(A, n_outputs):
        grad_A = np.zeros(A.shape) if need_input else None
        for k in range(n_outputs):
            grad_W[:, :, k] += batch.task_matrix().T @ (A * delta[:, k : k + 1])
            if need_input:
                grad_A += delta[:, k : k + 1] * W[task, :, k]
        return grad_A
    if batch.pads(A):
        task, position, _ = batch.padded_positions()
        padded_delta = batch.pad(delta)
        grad_W += np.matmul(batch.pad(A).transpose(0, 2, 1), padded_delta)
        if not need_input:
            return None
        return np.matmul(padded_delta, W.transpose(0, 2, 1))[task, position]
    grad_A = np.zeros(A.shape) if need_input else None
    for t, rows in batch.segments:
        grad_W[t] += safe_sparse_dot(A[rows].T, delta[rows], dense_output=True)
        if need_input:
            grad_A[rows] = delta[rows] @ W[t].T
    return grad_A


# --------------------------------------------------------------------------
# forward pass, objective and gradient
# --------------------------------------------------------------------------


def forward(layout, theta, batch, activation):
    """Outputs of the network of each observation's task.

    Returns
    -------
    output : ndarray of shape (n_observations, n_outputs)
        Head outputs before the output activation.
    inputs : list of array
        Input of every layer (observation-level from the first per-task one).
    outputs : list of array
        Activated output of every hidden layer, before any gathering.
    """
    coefs, intercepts = layout.unpack(theta)
    act = ACTIVATIONS[activation]
    A = batch.X
    inputs, outputs = [], []
    for k in range(layout.n_layers):
        if k == layout.n_shared and batch.rows is not None:
            A = A[batch.rows]
        inputs.append(A)
        if layout.shared[k]:
            Z = safe_sparse_dot(A, coefs[k], dense_output=True) + intercepts[k]
        else:
            Z = _task_forward(A, coefs[k], intercepts[k], batch)
        if k == layout.n_layers - 1:
            return Z, inputs, outputs
        A = act(Z)
        outputs.append(A)
    raise AssertionError("a network has at least its head")  # pragma: no cover


def loss_and_gradient(
    layout, theta, batch, *, loss, activation, alpha, sharing_alpha, task_scale
):
    """Objective of ``theta`` on ``batch`` and its gradient.

    Parameters
    ----------
    layout : NetworkLayout
    theta : ndarray of shape (layout.size,)
    batch : Batch
        With ``y`` and ``weight`` (``weight_i = s_i c_t`` for the full data).
    loss : {"squared", "logistic", "multinomial"}
    activation : str
    alpha : float
        L2 strength, applied to task ``t``'s weights as ``alpha * task_scale[t]``.
    sharing_alpha : float
        Soft sharing strength on the trunk.
    task_scale : ndarray of shape (n_tasks,)
        ``c_t = 1 / n_t``.

    Returns
    -------
    value : float
    gradient : ndarray of shape (layout.size,)
    """
    output, inputs, outputs = forward(layout, theta, batch, activation)
    values, delta = LOSSES[loss](batch.y, output)
    value = float(values @ batch.weight)
    delta = delta * batch.weight[:, None]
    gradient = np.zeros_like(theta)
    coefs, intercepts = layout.unpack(theta)
    grad_coefs, grad_intercepts = layout.unpack(gradient)
    derivative = DERIVATIVES[activation]
    for k in range(layout.n_layers - 1, -1, -1):
        need_input = k > 0
        if layout.shared[k]:
            grad_coefs[k] += safe_sparse_dot(inputs[k].T, delta, dense_output=True)
            grad_intercepts[k] += delta.sum(axis=0)
            grad_input = delta @ coefs[k].T if need_input else None
        else:
            grad_input = _task_backward(
                inputs[k],
                coefs[k],
                delta,
                batch,
                grad_coefs[k],
                grad_intercepts[k],
                need_input,
            )
        if need_input:
            if k == layout.n_shared and batch.rows is not None:
                # Observations of one row add up their gradients on that row.
                grad_input = np.asarray(batch.row_matrix().T @ grad_input)
            delta = grad_input * derivative(outputs[k - 1])
    value += _add_penalties(
        layout,
        (coefs, intercepts),
        (grad_coefs, grad_intercepts),
        alpha,
        sharing_alpha,
        task_scale,
    )
    return value, gradient


def _add_penalties(layout, params, grads, alpha, sharing_alpha, scale):
    """Value of the L2 and sharing penalties; adds their gradients to ``grads``."""
    (coefs, intercepts), (grad_coefs, grad_intercepts) = params, grads
    value = 0.0
    for k in range(layout.n_layers):
        W = coefs[k]
        if layout.shared[k]:
            total = float(scale.sum())
            value += 0.5 * alpha * total * float(np.vdot(W, W))
            grad_coefs[k] += alpha * total * W
        else:
            if alpha:
                squares = np.einsum("tij,tij->t", W, W)
                value += 0.5 * alpha * float(scale @ squares)
                grad_coefs[k] += (alpha * scale)[:, None, None] * W
    if layout.sharing != "soft" or sharing_alpha == 0:
        return value
    trunk = [(coefs[k], grad_coefs[k]) for k in range(layout.n_trunk)]
    trunk += [(intercepts[k], grad_intercepts[k]) for k in range(layout.n_trunk)]
    for trunk_params, trunk_grads in trunk:
        deviation = trunk_params - trunk_params.mean(axis=0)
        value += 0.5 * sharing_alpha * float(np.vdot(deviation, deviation))
        # The deviations sum to zero: the mean's own derivative cancels.
        trunk_grads += sharing_alpha * deviation
    return value
