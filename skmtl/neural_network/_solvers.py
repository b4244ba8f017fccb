"""Solvers of the multi-task network: scipy's L-BFGS; Adam on task-stratified batches.

**Batches.** Adam's epoch has ``K = ceil(n_observations / batch_size)``
steps. Every epoch, each task's observations are shuffled and dealt round
the ``K`` steps from a random step of the task's own, so that each
observation lands in any given step with probability ``1 / K``. A step's
data term weighs its observations by ``K s_i c_t``: its expectation is the
full data term, task by task (every task's gradient estimate is unbiased,
whatever the task sizes), and over an epoch every observation is used once,
so the mean of the ``K`` step objectives is the full objective. The
penalties enter every step in full. With one task this is scikit-learn's
batching, except that ``alpha`` keeps the same meaning as for L-BFGS (its
Adam scales ``alpha`` by the batch size instead of the number of samples).
"""

import warnings

import numpy as np
from scipy import optimize
from sklearn.exceptions import ConvergenceWarning

from ._network import Batch, loss_and_gradient

#: Most function evaluations of L-BFGS, as scikit-learn's ``max_fun``.
LBFGS_MAX_FUN = 15_000

#: Adam's moment decay rates and its denominator's offset (Kingma & Ba 2015).
ADAM_BETA_1, ADAM_BETA_2, ADAM_EPSILON = 0.9, 0.999, 1e-8


class Problem:
    """The objective of one fit: layout, observations and penalties.

    Parameters
    ----------
    layout : NetworkLayout
    X : ndarray or sparse matrix
    rows : ndarray or None
        Row of ``X`` of each observation (wide format), else ``None``.
    task_index, y, sample_weight : ndarray of shape (n_observations,)
        Grouped by task.
    task_scale : ndarray of shape (n_tasks,)
        ``c_t = 1 / n_t``.
    loss, activation : str
    alpha, sharing_alpha : float
    """

    def __init__(
        self,
        layout,
        X,
        rows,
        task_index,
        y,
        sample_weight,
        task_scale,
        *,
        loss,
        activation,
        alpha,
        sharing_alpha,
    ):
        self.layout = layout
        self.X = X
        self.rows = rows
        self.task_index = task_index
        self.y = y
        self.weight = sample_weight * task_scale[task_index]
        self.task_scale = task_scale
        self.options = dict(
            loss=loss,
            activation=activation,
            alpha=alpha,
            sharing_alpha=sharing_alpha,
            task_scale=task_scale,
        )

    @property
    def n_observations(self):
        return len(self.y)

    def batch(self, index=None, scale=1.0):
        """The observations ``index`` (all by default), weighted ``scale`` times."""
        n_tasks = self.layout.n_tasks
        if index is None:
            return Batch(
                self.X, self.rows, self.task_index, n_tasks, self.y, self.weight
            )
        if self.rows is None:
            X, rows = self.X[index], None
        else:
            unique_rows, rows = np.unique(self.rows[index], return_inverse=True)
            X = self.X[unique_rows]
        return Batch(
            X,
            rows,
            self.task_index[index],
            n_tasks,
            self.y[index],
            self.weight[index] * scale,
        )

    def value_and_gradient(self, theta, batch):
        return loss_and_gradient(self.layout, theta, batch, **self.options)


def fit_lbfgs(problem, theta, *, max_iter, tol, ftol=None):
    """Minimise the full objective with scipy's L-BFGS-B.

    Stops when the largest gradient entry is at most ``tol`` (``gtol``, as
    scikit-learn's MLP), after ``max_iter`` iterations or 15 000 evaluations,
    or when an iteration reduces the objective by at most ``ftol`` relative
    to ``max(|f|, 1)`` (scipy's default for ``None``).

    Returns
    -------
    theta : ndarray
    value : float
    n_iter : int
    loss_curve : list of float
        Objective after every iteration.
    """
    batch = problem.batch()
    loss_curve = []

    def record(intermediate_result):
        loss_curve.append(float(intermediate_result.fun))

    result = optimize.minimize(
        problem.value_and_gradient,
        theta,
        args=(batch,),
        method="L-BFGS-B",
        jac=True,
        callback=record,
        options={
            "maxiter": max_iter,
            "maxfun": LBFGS_MAX_FUN,
            "gtol": tol,
            **({} if ftol is None else {"ftol": ftol}),
        },
    )
    n_iter = min(int(result.nit), max_iter)
    if result.status != 0:
        warnings.warn(
            f"L-BFGS did not converge after {n_iter} iteration(s) (max_iter="
            f"{max_iter}, tol={tol}): {result.message}. Increase max_iter, or "
            "scale the features (for example with StandardScaler).",
            ConvergenceWarning,
            stacklevel=3,
        )
    return result.x, float(result.fun), n_iter, loss_curve


def epoch_steps(task_index, n_tasks, n_steps, random_state):
    """Observations of each step of an epoch, task-stratified (module docstring).

    Returns
    -------
    steps : list of ndarray
        Indices of each step's observations, grouped by task.
    """
    n = len(task_index)
    offsets = np.searchsorted(task_index, np.arange(n_tasks + 1))
    # Random order within each task: sort by task, then by a random key.
    order = np.lexsort((random_state.random(n), task_index))
    rank = np.arange(n) - offsets[task_index]
    start = random_state.integers(n_steps, size=n_tasks)
    step = (rank + start[task_index]) % n_steps
    by_step = np.lexsort((task_index, step))
    bounds = np.searchsorted(step[by_step], np.arange(n_steps + 1))
    return [order[by_step[bounds[b] : bounds[b + 1]]] for b in range(n_steps)]


class Adam:
    """Adam updates of a flat parameter vector."""

    def __init__(self, size, learning_rate):
        self.learning_rate = learning_rate
        self.first = np.zeros(size)
        self.second = np.zeros(size)
        self.t = 0

    def step(self, theta, gradient):
        """The updated parameters (``theta`` itself is updated in place)."""
        self.t += 1
        # In place: the vectors hold every task's network.
        self.first *= ADAM_BETA_1
        self.first += (1 - ADAM_BETA_1) * gradient
        gradient *= gradient
        self.second *= ADAM_BETA_2
        self.second += (1 - ADAM_BETA_2) * gradient
        rate = (
            self.learning_rate
            * np.sqrt(1 - ADAM_BETA_2**self.t)
            / (1 - ADAM_BETA_1**self.t)
        )
        denominator = np.sqrt(self.second, out=gradient)
        denominator += ADAM_EPSILON
        theta -= rate * self.first / denominator
        return theta


class StoppingRule:
    """scikit-learn's rule: stop after ``n_iter_no_change`` epochs without gain.

    Without early stopping an epoch gains when its loss is below the best
    loss minus ``tol``; with it, when the validation score exceeds the best
    score plus ``tol`` (the parameters of the best score are kept).
    """

    def __init__(self, tol, n_iter_no_change, early_stopping):
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.best_loss = np.inf
        self.best_score = -np.inf
        self.best_theta = None
        self.no_improvement = 0

    def update(self, loss, score, theta):
        """Record an epoch; return whether to stop."""
        if self.early_stopping:
            gained = score > self.best_score + self.tol
            if score > self.best_score:
                self.best_score = score
                self.best_theta = theta.copy()
        else:
            gained = loss < self.best_loss - self.tol
            self.best_loss = min(self.best_loss, loss)
        self.no_improvement = 0 if gained else self.no_improvement + 1
        return self.no_improvement > self.n_iter_no_change


def fit_adam(
    problem,
    theta,
    *,
    batch_size,
    learning_rate,
    max_iter,
    tol,
    n_iter_no_change,
    random_state,
    validation_score=None,
):
    """Minimise the objective with Adam on task-stratified batches.

    Parameters
    ----------
    validation_score : callable or None
        ``theta -> score`` on the held-out observations (early stopping).

    Returns
    -------
    theta : ndarray
    n_iter : int
        Epochs run.
    rule : StoppingRule
        Best loss, best validation score and their history.
    loss_curve : list of float
        Mean step objective of every epoch.
    validation_scores : list of float
    """
    n_steps = max(1, -(-problem.n_observations // batch_size))
    adam = Adam(len(theta), learning_rate)
    theta = theta.copy()
    rule = StoppingRule(tol, n_iter_no_change, validation_score is not None)
    loss_curve, validation_scores = [], []
    for _ in range(max_iter):
        total = 0.0
        steps = epoch_steps(
            problem.task_index, problem.layout.n_tasks, n_steps, random_state
        )
        for index in steps:
            value, gradient = problem.value_and_gradient(
                theta, problem.batch(index, scale=n_steps)
            )
            theta = adam.step(theta, gradient)
            total += value
        loss_curve.append(total / n_steps)
        score = None
        if validation_score is not None:
            score = validation_score(theta)
            validation_scores.append(score)
        if rule.update(loss_curve[-1], score, theta):
            break
    else:
        warnings.warn(
            f"Adam reached max_iter={max_iter} epochs before the loss (or the "
            f"validation score) stopped improving by tol={tol} for "
            f"n_iter_no_change={n_iter_no_change} epochs. Increase max_iter.",
            ConvergenceWarning,
            stacklevel=3,
        )
    if rule.best_theta is not None:
        theta = rule.best_theta
    return theta, len(loss_curve), rule, loss_curve, validation_scores
