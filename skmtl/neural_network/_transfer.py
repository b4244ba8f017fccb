"""Adapting a fitted multi-task network to new tasks (``fit_new_tasks``).

What the source tasks learned is held fixed: under hard sharing the trunk,
under soft sharing the source networks (and so their mean). Each new task
gets the per-task parameters a task of ``fit`` has: its task layers and head
(hard sharing), or a whole network (soft sharing). With ``c = 1 / n_bar``
(rows of a new task weigh as rows of an average source task, ``n_bar`` the
mean size of the source tasks) a new task ``q`` minimises::

    c [ sum_{i in q} s_i loss(y_i, f_q(x_i)) + (alpha / 2) ||phi_q - mean_phi||^2 ]
    + (sharing_alpha / 2) ||theta_q - mean_theta||^2              (soft only)

``phi_q`` are all the new task's own parameters, weights and intercepts,
and ``mean_phi`` their mean over the source tasks: the ``alpha`` penalty of
``fit``, in its units, centred at the source mean instead of zero, and
extended to the intercepts so that a task with one row cannot move its
intercept alone. ``theta_q`` are the new task's trunk parameters and
``mean_theta`` the mean of the source trunks, fixed (soft sharing's penalty
of ``fit``, the mean taken over the source tasks only). The parameters
start at the source mean, the minimiser of the penalties: with no rows a
new task is the mean source network, whose outputs are those of
``unknown_task="shared"`` whenever the task's own part is affine in its
parameters (hard sharing without task layers); otherwise the two differ by
the non-linearity of the task layers. The new tasks are independent given
the source, so one L-BFGS run over all of them minimises each one's
objective; its work depends on the new rows only.
"""

import numpy as np
from sklearn.utils.extmath import safe_sparse_dot

from .._tasks import n_source_tasks, source_row_weight
from ._network import ACTIVATIONS, Batch, NetworkLayout, loss_and_gradient
from ._solvers import fit_lbfgs


def _trunk_sizes(layout):
    return layout.units[1 : 1 + layout.n_trunk]


def _task_sizes(layout):
    return layout.units[1 + layout.n_trunk : -1]


def with_n_tasks(layout, n_tasks):
    """``layout`` with another number of tasks (same layers and sharing)."""
    return NetworkLayout(
        layout.units[0],
        _trunk_sizes(layout),
        _task_sizes(layout),
        layout.units[-1],
        n_tasks,
        layout.sharing,
    )


def shared_trunk_output(estimator, X):
    """Activated output of the shared layers on ``X`` (``X`` if there are none)."""
    act = ACTIVATIONS[estimator.activation]
    A = X
    for k in range(estimator.n_shared_layers_):
        Z = safe_sparse_dot(A, estimator.coefs_[k], dense_output=True)
        A = act(Z + estimator.intercepts_[k])
    return A


class NewTaskProblem:
    """The adaptation objective of the new tasks (module docstring).

    Parameters
    ----------
    estimator : fitted MultiTaskMLPRegressor or MultiTaskMLPClassifier
    data : TaskData
        Rows of the new tasks (:func:`~skmtl._tasks.check_new_task_data`).
    targets : ndarray of shape (n_observations,)
        Encoded targets, as in fit.
    loss : {"squared", "logistic", "multinomial"}
    """

    def __init__(self, estimator, data, targets, loss):
        full = estimator._network_layout
        self.n_shared = full.n_shared
        self.n_source = n_source_tasks(estimator)
        hard = full.sharing == "hard"
        inputs = shared_trunk_output(estimator, data.X) if hard else data.X
        # Hard sharing: the fixed trunk's output is the input of the new
        # tasks' own layers, a network without shared layers.
        self.layout = NetworkLayout(
            inputs.shape[1],
            () if hard else _trunk_sizes(full),
            _task_sizes(full),
            full.units[-1],
            data.n_tasks,
            full.sharing,
        )
        # The objective is minimised times n_bar (data weights s_i, penalties
        # alpha and n_bar * sharing_alpha): the same minimiser, but a few rows'
        # data term is not tiny next to L-BFGS's tolerances.
        n_bar = 1.0 / source_row_weight(estimator)
        self.options = dict(
            loss=loss,
            activation=estimator.activation,
            alpha=0.0,
            sharing_alpha=0.0,
            task_scale=np.ones(data.n_tasks),
        )
        self._batch = Batch(
            inputs,
            None,
            data.task_index,
            data.n_tasks,
            targets,
            data.sample_weight,
        )
        self.center = self.layout.pack(
            *[
                [self._source_mean(a, data.n_tasks) for a in arrays[self.n_shared :]]
                for arrays in (estimator.coefs_, estimator.intercepts_)
            ]
        )
        self.strength = np.full(self.layout.size, float(estimator.alpha))
        if full.sharing == "soft":
            n_layers = self.layout.n_layers
            bounds = self.layout.bounds
            for j in [*range(full.n_trunk), *range(n_layers, n_layers + full.n_trunk)]:
                self.strength[bounds[j] : bounds[j + 1]] += n_bar * float(
                    estimator.sharing_alpha
                )

    def _source_mean(self, per_task, n_new):
        """Mean of a per-task array over the source tasks, repeated per new task."""
        mean = per_task[: self.n_source].mean(axis=0)
        return np.broadcast_to(mean, (n_new, *mean.shape))

    def batch(self):
        return self._batch

    def value_and_gradient(self, theta, batch=None):
        """``n_bar`` times the new tasks' objective of ``theta``, and its gradient."""
        batch = self._batch if batch is None else batch
        value, gradient = loss_and_gradient(self.layout, theta, batch, **self.options)
        deviation = theta - self.center
        value += 0.5 * float(self.strength @ deviation**2)
        gradient += self.strength * deviation
        return value, gradient


def adapt_new_tasks(estimator, data, targets, loss):
    """Fit the new tasks' own parameters and append them to the fitted arrays.

    Per-task arrays keep the source tasks' rows (those of an earlier call
    are dropped) and get the new tasks' rows appended; the shared layers and
    every source parameter are left unchanged.
    """
    problem = NewTaskProblem(estimator, data, targets, loss)
    # The objective of a few rows is small: the relative-reduction stop
    # (absolute below 1) would end far from tol, so only tol and max_iter stop.
    theta, _, _, _ = fit_lbfgs(
        problem,
        problem.center.copy(),
        max_iter=estimator.max_iter,
        tol=estimator.tol,
        ftol=np.finfo(float).eps,
    )
    new_coefs, new_intercepts = problem.layout.unpack(theta.copy())
    n_shared, n_source = problem.n_shared, problem.n_source

    def appended(arrays, new):
        kept, per_task = arrays[:n_shared], arrays[n_shared:]
        return kept + [
            np.concatenate([old[:n_source], values])
            for old, values in zip(per_task, new, strict=True)
        ]

    estimator.coefs_ = appended(estimator.coefs_, new_coefs)
    estimator.intercepts_ = appended(estimator.intercepts_, new_intercepts)
    estimator._network_layout = with_n_tasks(
        estimator._network_layout, n_source + data.n_tasks
    )
