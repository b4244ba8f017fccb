"""Adapting a fitted multi-task network to new tasks (``fit_new_tasks``).

What the source tasks learned is held fixed: under hard sharing the trunk,
under soft sharing the source networks (and so their mean). Each new task
gets the per-task parameters a task of ``fit`` has: its task layers and head
(hard sharing), or a whole network (soft sharing). With ``c = 1 / n_bar``
(rows of a new task weigh as rows of an average source task, ``n_bar`` the
mean size of the source tasks) a new task ``q`` minimises::

    c [ sum_{i in q} s_i loss(y_i, f_q(x_i))
        + (1 / 2) sum_j a_j (phi_qj - mean_j)^2 ]

``phi_q`` are all the new task's own parameters, weights and intercepts,
and ``mean_j`` the mean of coordinate ``j`` over the source tasks.

**The prior is empirical Bayes**, the idea the linear models use for a new
task's intercept: the source tasks' own parameters are draws from it. Its
variance ``s_j^2`` of coordinate ``j`` is the spread (variance) of that
coordinate over the source tasks, floored at ``SPREAD_FLOOR`` times the
mean spread of its array (one layer's weights, or its intercepts), so that
a coordinate every source task shares is pinned to it rather than given an
infinite strength. ``sigma^2``, the noise of one row, is measured at the
end of ``fit`` on its rows (:func:`record_source_noise`). The posterior mode
of a Gaussian likelihood (squared loss ``r^2 / 2``, rows of weight ``c``)
under that prior has the penalty ``(c / 2) (sigma^2 / s_j^2) (phi_qj -
mean_j)^2``.

A task's coordinates do not vary independently over the source tasks (a
head on correlated trunk units, an intercept against its weights): taken
as independent, their spreads make the source networks' outputs spread far
more than they do. So the variances are ``rho s_j^2``, with ``rho =
min(1, V / D)`` measured at the end of ``fit`` on (at most
``CALIBRATION_ROWS``) rows of fit (:func:`prior_scale`): ``V`` the variance
of the source networks' outputs over the tasks, ``D`` that of the
independent prior, linearised at the mean source network (``sum_j s_j^2
(d f / d phi_j)^2``). On School's hard-sharing network ``rho`` is about
0.05: without it one labelled row made a new school worse than none.
Hence::

    a_j = max(a0_j, sigma^2 / (rho s_j^2))        (at most STRENGTH_CAP)

with ``a0_j`` the model's own strength, the floor: ``alpha`` (``fit``'s
penalty, in its units, here centred at the source mean and extended to the
intercepts), plus ``n_bar * sharing_alpha`` on the trunk under soft sharing
(soft sharing's pull of ``fit`` to the source trunks' mean). Under hard
sharing without task layers and the squared loss a new task's head is
therefore a ridge regression on the trunk's activations with one strength
per coefficient: with ``k`` rows, a coordinate moves about ``k / (k +
sigma^2 / (rho s_j^2))`` of the way from the source mean, so one row cannot
pull a new task further than the source tasks spread. A new task unlike
every source task needs correspondingly many rows to get away from them,
the more so the tighter the source tasks agree (a soft-sharing trunk tied
tight by ``sharing_alpha``). The classifiers take ``sigma^2`` as the
inverse of the mean ``p (1 - p)`` of the rows of ``fit``, the variance of
one row's score under the Laplace approximation, as the linear classifiers
do (``V`` and ``D`` are then those of the scores). A model without that
record (fitted by an older version) uses the floor ``a0_j`` alone.

The parameters start at the source mean, the minimiser of the penalties:
with no rows a new task is the mean source network, whose outputs are those
of ``unknown_task="shared"`` whenever the task's own part is affine in its
parameters (hard sharing without task layers); otherwise the two differ by
the non-linearity of the task layers. The new tasks are independent given
the source, so one L-BFGS run over all of them minimises each one's
objective; it works in units of the prior's standard deviation (coordinate
``j`` scaled by ``sqrt(a_j)``), so that strengths far apart do not slow it,
and its work depends on the new rows only.
"""

import numpy as np
from scipy.special import expit, softmax
from sklearn.utils.extmath import safe_sparse_dot

from .._tasks import n_source_tasks, source_row_weight
from ._network import ACTIVATIONS, Batch, NetworkLayout, forward, loss_and_gradient
from ._solvers import fit_lbfgs

#: Floor of a coordinate's prior variance, relative to the mean variance of
#: its array: a coordinate that does not vary over the source tasks is
#: pinned, its strength at most ``1 / SPREAD_FLOOR`` times the array's.
SPREAD_FLOOR = 1e-3

#: Strength of an array that does not vary at all over the source tasks
#: (for example with one source task): the new tasks keep it up to rounding.
STRENGTH_CAP = 1e12

#: Most rows of fit (evenly spaced) on which the prior's spread of the
#: outputs is compared with the source networks' (``_source_prior_scale``).
CALIBRATION_ROWS = 500


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


def record_source_noise(estimator, data, targets, loss):
    """Record the noise of one row of ``fit``, the scale of the new tasks' prior.

    Measured on the rows of ``fit`` with the fitted network and stored in
    ``estimator._source_noise`` (module docstring), with the calibration
    ``rho`` of the prior's spread in ``estimator._source_prior_scale``
    (:func:`prior_scale`, on at most ``CALIBRATION_ROWS`` evenly spaced rows):

    - ``"squared"``: the mean over tasks of each task's weighted mean
      squared residual;
    - ``"logistic"`` and ``"multinomial"``: the inverse of the mean over
      tasks of each task's weighted mean ``p (1 - p)`` (averaged over the
      classes), as the linear classifiers.

    Parameters
    ----------
    estimator : fitted MultiTaskMLPRegressor or MultiTaskMLPClassifier
    data : TaskData
        The data of ``fit``, grouped by task.
    targets : ndarray of shape (n_observations,)
        Encoded targets, as in fit.
    loss : {"squared", "logistic", "multinomial"}
    """
    layout = estimator._network_layout
    theta = layout.pack(estimator.coefs_, estimator.intercepts_)
    batch = Batch(data.X, data.row_index, data.task_index, data.n_tasks)
    scores = forward(layout, theta, batch, estimator.activation)[0]
    if loss == "squared":
        value = (np.asarray(targets, dtype=float) - scores[:, 0]) ** 2
    elif loss == "logistic":
        p = expit(scores[:, 0])
        value = p * (1.0 - p)
    else:
        p = softmax(scores, axis=1)
        value = np.mean(p * (1.0 - p), axis=1)
    weight = data.sample_weight
    totals = np.bincount(data.task_index, weights=weight, minlength=data.n_tasks)
    sums = np.bincount(data.task_index, weights=weight * value, minlength=data.n_tasks)
    observed = totals > 0
    level = float(np.mean(sums[observed] / totals[observed]))
    if loss != "squared":
        level = 1.0 / max(level, np.finfo(float).tiny)
    estimator._source_noise = level
    rows = np.unique(
        np.linspace(0, data.X.shape[0] - 1, min(CALIBRATION_ROWS, data.X.shape[0]))
    ).astype(np.intp)
    estimator._source_prior_scale = prior_scale(estimator, data.X[rows])
    # A new fit forgets the new tasks, and so their prior.
    estimator.__dict__.pop("new_task_alpha_", None)


def _source_arrays(estimator):
    """The source tasks' per-task arrays: ``(coefs, intercepts)``, lists."""
    n_shared = estimator._network_layout.n_shared
    n_source = n_source_tasks(estimator)
    return tuple(
        [a[:n_source] for a in arrays[n_shared:]]
        for arrays in (estimator.coefs_, estimator.intercepts_)
    )


def prior_spread(source):
    """``s_j^2`` of one per-task array: its variance over the source tasks.

    Floored at ``SPREAD_FLOOR`` times its mean; zero everywhere if the array
    does not vary at all (:func:`empirical_strength` then caps).
    """
    spread = np.var(source, axis=0)
    floor = SPREAD_FLOOR * float(spread.mean()) if spread.size else 0.0
    return np.maximum(spread, floor)


def _own_layout(estimator, n_inputs, n_tasks, n_outputs):
    """Layout of the per-task parameters alone, one task per ``n_tasks``."""
    full = estimator._network_layout
    hard = full.sharing == "hard"
    return NetworkLayout(
        n_inputs,
        () if hard else _trunk_sizes(full),
        _task_sizes(full),
        n_outputs,
        n_tasks,
        full.sharing,
    )


def _broadcast_pack(layout, per_layer, n):
    """Flat vector of one task's ``(coefs, intercepts)`` repeated ``n`` times."""
    return layout.pack(
        *[
            [np.broadcast_to(a, (n, *np.shape(a))) for a in arrays]
            for arrays in per_layer
        ]
    )


def prior_scale(estimator, X):
    """``rho``: the prior's variances are ``rho s_j^2`` (module docstring).

    ``rho = min(1, V / D)`` with ``V`` the variance over the source tasks of
    their networks' outputs on the rows ``X`` (summed over outputs, averaged
    over rows) and ``D`` the same under the per-coordinate prior of
    variances ``s_j^2``, linearised at the mean source network: ``sum_j
    s_j^2 (d f(x) / d phi_j)^2``. The coordinates of a task vary together
    (a head on correlated trunk units, an intercept against its weights),
    so independent coordinates of the same spreads overstate how far the
    tasks' predictions spread; ``rho`` makes the two agree.
    """
    full = estimator._network_layout
    n_source = n_source_tasks(estimator)
    theta = full.pack(estimator.coefs_, estimator.intercepts_)
    n = X.shape[0]
    outputs = np.stack(
        [
            forward(
                full,
                theta,
                Batch(X, None, np.full(n, t, dtype=np.intp), full.n_tasks),
                estimator.activation,
            )[0]
            for t in range(n_source)
        ]
    )
    actual = float(outputs.var(axis=0).sum(axis=1).mean())
    inputs = shared_trunk_output(estimator, X) if full.sharing == "hard" else X
    source = _source_arrays(estimator)
    spread = tuple([prior_spread(a) for a in arrays] for arrays in source)
    mean = tuple([a.mean(axis=0) for a in arrays] for arrays in source)
    rows = np.arange(n, dtype=np.intp)
    layout = _own_layout(estimator, inputs.shape[1], n, 1)
    linearised = 0.0
    for o in range(full.units[-1]):
        # Output o alone: the head's column o, each row its own task, so the
        # gradient of (f - (f - 1))^2 / 2 is every row's Jacobian.
        def column(per_layer, o=o):
            return tuple(
                [*arrays[:-1], arrays[-1][..., o : o + 1]] for arrays in per_layer
            )

        center = _broadcast_pack(layout, column(mean), n)
        f = forward(layout, center, Batch(inputs, None, rows, n), estimator.activation)[
            0
        ]
        batch = Batch(inputs, None, rows, n, f[:, 0] - 1.0, np.ones(n))
        _, jacobian = loss_and_gradient(
            layout,
            center,
            batch,
            loss="squared",
            activation=estimator.activation,
            alpha=0.0,
            sharing_alpha=0.0,
            task_scale=np.ones(n),
        )
        linearised += float(jacobian**2 @ _broadcast_pack(layout, column(spread), n))
    linearised /= n
    if linearised <= 0 or not np.isfinite(actual):
        return 1.0
    return min(1.0, actual / linearised)


def empirical_strength(source, noise):
    """``sigma^2 / s_j^2`` of every coordinate of one per-task array.

    Parameters
    ----------
    source : ndarray of shape (n_source_tasks, ...)
        The array of the source tasks.
    noise : float
        ``sigma^2``, the noise of one row.

    Returns
    -------
    strength : ndarray of shape ``source.shape[1:]``
        At most ``STRENGTH_CAP``; the cap everywhere if the array does not
        vary over the source tasks.
    """
    spread = prior_spread(source)
    if not np.any(spread > 0):
        return np.full(spread.shape, STRENGTH_CAP)
    strength = float(noise) / spread
    return np.minimum(strength, STRENGTH_CAP)


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

    Attributes
    ----------
    center : ndarray of shape (layout.size,)
        The source mean of every coordinate, for every new task.
    strength : ndarray of shape (layout.size,)
        ``a_j`` of every coordinate (the problem minimises ``n_bar`` times
        the objective, so the strengths are those of the module docstring).
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
        # The objective is minimised times n_bar (data weights s_i, strengths
        # a_j): the same minimiser, but a few rows' data term is not tiny next
        # to L-BFGS's tolerances.
        self.n_bar = 1.0 / source_row_weight(estimator)
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
        own = [
            [a[: self.n_source] for a in arrays[self.n_shared :]]
            for arrays in (estimator.coefs_, estimator.intercepts_)
        ]
        self.center = self._per_new_task(
            [[a.mean(axis=0) for a in arrays] for arrays in own], data.n_tasks
        )
        #: a_j of one task, shaped as its arrays: ``(coefs, intercepts)``.
        self.task_strengths = self._strengths(estimator, own)
        self.strength = self._per_new_task(self.task_strengths, data.n_tasks)

    def _per_new_task(self, per_layer, n_new):
        """Flat vector of one task's ``(coefs, intercepts)``, for every new task."""
        return self.layout.pack(
            *[
                [np.broadcast_to(a, (n_new, *np.shape(a))) for a in arrays]
                for arrays in per_layer
            ]
        )

    def _strengths(self, estimator, own):
        """``a_j = max(a0_j, sigma^2 / s_j^2)`` of one task's arrays."""
        noise = getattr(estimator, "_source_noise", None)
        if noise is not None:
            noise = noise / getattr(estimator, "_source_prior_scale", 1.0)
        soft_trunk = self.layout.sharing == "soft"
        strengths = []
        for arrays in own:
            per_array = []
            for k, source in enumerate(arrays):
                floor = float(estimator.alpha)
                if soft_trunk and k < self.layout.n_trunk:
                    floor += self.n_bar * float(estimator.sharing_alpha)
                strength = np.full(source.shape[1:], floor)
                if noise is not None:
                    empirical = empirical_strength(source, noise)
                    np.maximum(strength, empirical, out=strength)
                per_array.append(strength)
            strengths.append(per_array)
        return tuple(strengths)

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


class _PriorUnits:
    """``problem`` in the variables ``u = sqrt(a) (theta - center)``.

    The penalty becomes ``||u||^2 / 2``: strengths many orders apart (a
    pinned coordinate next to a free one) no longer make L-BFGS crawl.
    """

    def __init__(self, problem):
        self.problem = problem
        self.scale = np.sqrt(problem.strength)

    def theta(self, u):
        return self.problem.center + u / self.scale

    def batch(self):
        return self.problem.batch()

    def value_and_gradient(self, u, batch=None):
        value, gradient = self.problem.value_and_gradient(self.theta(u), batch)
        return value, gradient / self.scale


def adapt_new_tasks(estimator, data, targets, loss):
    """Fit the new tasks' own parameters and append them to the fitted arrays.

    Per-task arrays keep the source tasks' rows (those of an earlier call
    are dropped) and get the new tasks' rows appended; the shared layers and
    every source parameter are left unchanged. Sets ``new_task_alpha_``.
    """
    problem = NewTaskProblem(estimator, data, targets, loss)
    scaled = _PriorUnits(problem)
    # The objective of a few rows is small: the relative-reduction stop
    # (absolute below 1) would end far from tol, so only tol and max_iter stop.
    u, _, _, _ = fit_lbfgs(
        scaled,
        np.zeros(problem.layout.size),
        max_iter=estimator.max_iter,
        tol=estimator.tol,
        ftol=np.finfo(float).eps,
    )
    new_coefs, new_intercepts = problem.layout.unpack(scaled.theta(u))
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
    coefs, intercepts = problem.task_strengths
    estimator.new_task_alpha_ = {"coefs": coefs, "intercepts": intercepts}
