"""Multi-task Gaussian process regression (ICM / LMC)."""

import functools
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.optimize
from sklearn.base import (
    BaseEstimator,
    MultiOutputMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Kernel
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._config import blas_threads_for
from .._tasks import (
    add_new_tasks,
    check_new_task_data,
    check_predict_data,
    check_task_data,
    lookup_tasks,
    n_source_tasks,
    split_task_column,
    unique_in_order,
    unknown_task_error,
)
from ..base import MultiTaskRegressorMixin
from ._bounds import warn_on_bounds
from ._dense import (
    DensePosterior,
    Observations,
    dense_log_marginal_likelihood,
    dense_size_error,
)
from ._finite import (
    check_feature_magnitudes,
    check_target_magnitudes,
    non_finite_error,
    target_normalisation,
)
from ._init import independent_start
from ._kronecker import KroneckerPosterior, kronecker_log_marginal_likelihood
from ._sparse import (
    SparsePosterior,
    TaskStructure,
    check_inducing_kernels,
    choose_inducing_points,
    sparse_log_marginal_likelihood,
)
from ._task_kernel import HyperParameters, kernel_gradient, latent_kernels
from ._transfer import (
    adapt_new_tasks,
    forget_new_tasks,
    task_units,
    transfer_posterior,
)

#: Below this matrix size the optimiser's BLAS calls run on one thread: they
#: are too small to gain from threads, and OpenBLAS's thread synchronisation
#: made them 4-10x slower on a busy 2-core machine.
SINGLE_THREAD_BELOW = 1000


#: Smallest number of correction pairs L-BFGS-B keeps (scipy's default is
#: 10). With at least one pair per parameter its Hessian approximation can
#: become that of full BFGS; the memory is negligible next to one likelihood
#: evaluation, and the final iterations on an ill-conditioned likelihood
#: converge faster.
LBFGS_MIN_MEMORY = 10

#: ``solver="auto"`` uses an exact solver while the matrix it factorises
#: (``N x N`` for the dense solver, ``n x n`` for the Kronecker solver) has at
#: most this many rows, and the sparse solver above: one exact evaluation at
#: 2,000 rows takes about a second on a laptop core, and the cost grows as
#: the cube.
EXACT_MAX_SIZE = 2000

#: Rows of ``X`` on which ``fit`` checks whether kernel hyper-parameters on a
#: bound are flat there, with the sparse solver (the check builds an
#: ``n x n`` kernel matrix).
_BOUND_CHECK_ROWS = 1000


def _blas_threads_for(size):
    """Context limiting BLAS to one thread below ``SINGLE_THREAD_BELOW`` rows.

    See :func:`skmtl._config.blas_threads_for`, which also honours
    ``skmtl.set_config(limit_blas_threads=False)``.
    """
    return blas_threads_for(size, single_thread_below=SINGLE_THREAD_BELOW - 1)


def _sqrt_kappa_search(obj_func, bounds, kappa):
    """L-BFGS-B's variables: ``theta`` with ``sqrt(kappa)`` for ``log(kappa)``.

    When a task is fully explained by the shared part of ``B``, its
    ``kappa`` tends to its lower bound. In ``log(kappa)`` the likelihood
    flattens there (its gradient is ``kappa dL/dkappa``) and L-BFGS-B creeps
    towards the bound over many evaluations; in ``sqrt(kappa)``, like the
    entries of ``A``, it is locally quadratic and the bound is reached in a
    few steps. The optimum is the same.

    Returns
    -------
    to_theta, to_search : callable
        The maps between ``theta`` and the search variables.
    search_bounds : ndarray of shape (n_params, 2)
    search_objective : callable
        ``obj_func`` (negative LML and gradient) of the search variables.
    """

    def to_theta(z):
        theta = np.array(z, dtype=np.float64)
        theta[kappa] = 2.0 * np.log(z[kappa])
        return theta

    def to_search(theta):
        z = np.array(theta, dtype=np.float64)
        z[kappa] = np.exp(0.5 * z[kappa])
        return z

    def search_objective(z):
        value, gradient = obj_func(to_theta(z))
        gradient = np.array(gradient, dtype=np.float64)
        gradient[kappa] *= 2.0 / z[kappa]  # dlog(kappa)/dsqrt(kappa)
        return value, gradient

    search_bounds = np.array(bounds, dtype=np.float64)
    search_bounds[kappa] = np.exp(0.5 * search_bounds[kappa])
    return to_theta, to_search, search_bounds, search_objective


def _overflow_checked(method):
    """Run a prediction method without overflow warnings.

    Its results are checked by :func:`_check_finite_predictions`, which
    raises one clear error instead.
    """

    @functools.wraps(method)
    def checked(*args, **kwargs):
        with np.errstate(over="ignore", invalid="ignore"):
            return method(*args, **kwargs)

    return checked


def _check_finite_predictions(mean, variance):
    """Refuse to return NaN or infinite predictions without a word."""
    if np.isfinite(mean).all() and (variance is None or np.isfinite(variance).all()):
        return
    raise ValueError(
        "The posterior mean or variance at the query rows is not finite: the "
        "kernel between the query rows and the training rows overflows. "
        "Scale the query rows as the training rows were scaled, and both to "
        "moderate magnitudes (e.g. with MaxAbsScaler or StandardScaler)."
    )


class MultiTaskGaussianProcessRegressor(
    MultiOutputMixin, MultiTaskRegressorMixin, BaseEstimator
):
    """Multi-task Gaussian process regression with a learned task covariance.

    Every task ``t`` is a latent function ``f_t`` observed with Gaussian noise,
    ``y = f_t(x) + e``, ``e ~ N(0, sigma_t^2)``. The functions of all tasks
    are jointly Gaussian with the linear model of coregionalisation (LMC)
    covariance

        cov(f_s(x), f_t(x')) = sum_{q=1}^{Q} B_q[s, t] k_q(x, x'),
        B_q = A_q A_q^T + diag(kappa_q),

    where ``k_q`` are kernels over the features (scikit-learn kernels),
    ``A_q`` has shape ``(n_tasks, rank)`` and ``kappa_q > 0``. ``Q = 1``
    (``n_latent=1``) is the intrinsic coregionalisation model (ICM) of
    Bonilla et al. (2008): all tasks share one kernel and differ by the task
    covariance ``B``. The hyper-parameters (those of the kernels, the
    ``A_q``, ``kappa_q`` and the noise variances) maximise the log marginal
    likelihood of the ``N`` observations ``y`` (Rasmussen & Williams 2006,
    eq. 2.30)

        log p(y) = -1/2 y^T C^{-1} y - 1/2 log|C| - N/2 log(2 pi),
        C[i, j] = sum_q B_q[t_i, t_j] k_q(x_i, x_j) + delta_ij (sigma_{t_i}^2 + alpha),

    with L-BFGS-B and analytic gradients, as in scikit-learn's
    :class:`~sklearn.gaussian_process.GaussianProcessRegressor`.

    Parameters
    ----------
    kernel : kernel instance, default=None
        Kernel ``k`` over the features (without the task column). Its
        hyper-parameters are optimised unless their bounds are ``"fixed"``.
        ``None`` means ``ConstantKernel(1.0) * RBF(np.ones(n_features))``
        (one length scale per feature). Do not add a ``WhiteKernel``: the
        noise is part of the model (see ``noise``).
    rank : int or "full", default=1
        Number of columns of ``A_q``: the rank of the part of ``B_q`` shared
        between tasks. ``"full"`` (or any value above) means ``n_tasks``; the
        value used is ``rank_``.
    n_latent : int, default=1
        Number of latent processes ``Q``. 1 is the ICM; above 1 is the LMC,
        with independent clones of ``kernel`` (the clones ``q >= 1`` start
        from randomly perturbed hyper-parameters so that they can differ).
    noise : {"task", "shared"}, default="task"
        One noise variance per task, or one for all tasks. With
        ``normalize_y=True`` a shared noise is shared in the units of the
        normalised targets (the same noise-to-signal ratio for all tasks).
        It starts at 0.1 and is bounded to ``[1e-6, 1e5]`` (normalised
        units); ``kappa`` starts at 1 within the same bounds.
    task_column : hashable, default=None
        Long format: the column of ``X`` (name for a DataFrame, integer
        position for an array) with the task of each row; ``y`` is 1-D.
        ``None``: wide format (2-D ``Y``, one column per task, ``NaN`` marks an
        unobserved target) or single task (1-D ``y``).
    normalize_y : bool, default=True
        Centre and scale the targets of every task by their own mean and
        standard deviation before fitting; predictions, standard deviations,
        covariances and ``noise_variance_`` are in the original units.
    alpha : float, default=1e-10
        Value added to the diagonal of the covariance of the observations,
        as in scikit-learn: a fixed extra noise variance (in the units of the
        normalised targets) that also guards the Cholesky factorisation.
    optimizer : "fmin_l_bfgs_b", callable or None, default="fmin_l_bfgs_b"
        As in scikit-learn. A callable is called as
        ``theta_opt, func_min = optimizer(obj_func, initial_theta, bounds)``
        where ``obj_func(theta, eval_gradient=True)`` returns the negative log
        marginal likelihood and its gradient and ``bounds`` has shape
        ``(n_params, 2)`` (infinite for the entries of ``A``). ``None`` keeps
        the initial hyper-parameters.
    n_restarts_optimizer : int, default=0
        Further optimiser runs from random starting points: kernel
        hyper-parameters uniform within their (finite) bounds, as in
        scikit-learn; ``A ~ N(0, 1)``; ``kappa`` and the noise variances
        log-uniform in ``[0.01, 10]``. The run with the largest likelihood is
        kept.
    init : {"independent", "kernel"}, default="independent"
        Where the optimiser starts (with several tasks; with one task, and
        with ``optimizer=None``, both mean ``"kernel"``). ``"independent"``:
        every task first gets its own GP (``kernel`` plus a noise variance),
        fitted on at most 200 of its observations; the kernel starts from the
        mean of their hyper-parameters (log space, weighted by rows), every
        noise from its task's fit, and ``B`` from the correlation of the
        tasks' posterior means at 200 training inputs, scaled to their prior
        variances (``A`` from its leading eigenvectors, ``kappa`` from the
        rest of the diagonal, at least 5% of it). These fits cost about
        ``n_tasks * 200^3`` per evaluation, next to ``N^3`` for one
        evaluation of the dense multi-task likelihood, and the start cuts the
        number of multi-task evaluations (measured for 4 tasks with 200 rows
        each at their own inputs: 23 instead of 40 with ``"kernel"``; 46
        against GPy's 167 for 4 x 800 rows, see ``benchmarks/bench_mtgp.py``).
        ``"kernel"``: start from the hyper-parameters of ``kernel``, a small
        random ``A``, ``kappa = 1`` and noise 0.1.
    solver : {"auto", "dense", "kronecker", "sparse"}, default="auto"
        ``"kronecker"`` needs every task observed at the same inputs (a wide
        ``Y`` without ``NaN``) and ``n_latent=1``; it uses eigendecompositions
        of ``K`` (n x n) and of the noise-whitened ``B`` (n_tasks x n_tasks)
        and costs ``O(n^3 + n_tasks^3 + n^2 n_tasks)`` per evaluation of the
        likelihood and its gradient. ``"dense"`` factorises the full
        covariance of the ``N`` observations, ``O(N^3)``, for any data and
        any ``n_latent``. ``"sparse"`` maximises the collapsed variational
        lower bound of Titsias (2009) with ``M`` inducing inputs (see
        ``inducing_points``), ``O(N M^2)`` per evaluation for any data and
        any ``n_latent`` (see Notes). ``"auto"`` picks an exact solver while
        the matrix it factorises has at most 2,000 rows: ``"kronecker"``
        when it applies, there are at least two tasks and there are at most
        2,000 rows of ``X``; else ``"dense"`` for at most 2,000
        observations; else ``"sparse"``. The choice is ``solver_``.
    inducing_points : int or array-like of shape (M, n_features), default=100
        Sparse solver only. An int ``M``: that many distinct training rows
        (features without the task column) chosen by k-means++ seeding
        (:func:`sklearn.cluster.kmeans_plusplus`, reproducible for a given
        ``random_state``), so that they spread over the data; all distinct
        rows if there are at most ``M``. An array: the inducing inputs
        themselves. They are shared by all tasks and latent processes. The
        ones used are ``inducing_points_``.
    optimize_inducing : bool, default=False
        Sparse solver only: also optimise the inducing inputs (``M x
        n_features`` more parameters, with analytic gradients) along with the
        hyper-parameters. This needs the gradient of the kernel with respect
        to its inputs, available for ``ConstantKernel``, ``WhiteKernel``,
        ``RBF``, ``Matern`` (``nu`` in 0.5, 1.5, 2.5, inf),
        ``RationalQuadratic`` and their sums and products; ``fit`` raises a
        ``ValueError`` for other kernels.
    max_dense_size : int or None, default=10_000
        Largest number of observations the dense solver (when chosen
        explicitly) accepts. Above it
        ``fit`` raises a ``ValueError`` (before allocating anything) that
        states the memory needed: a 10,000 x 10,000 matrix takes 0.75 GiB and
        the gradient needs several of them. ``None`` removes the limit.
    unknown_task : {"error", "shared"}, default="error"
        Rows (long format) of tasks neither fitted nor added by
        :meth:`fit_new_tasks`. ``"error"`` raises a ``ValueError``.
        ``"shared"`` predicts them as the *average task*: a task whose
        covariance with the latent processes is the mean of the source
        tasks' (its loadings are the mean of the rows of every ``A_q``, its
        ``kappa_q`` the mean ``kappa_q``), in the units of an average task
        (the mean of the tasks' target means and standard deviations), with
        an unknown offset from that mean (see Notes). Every unknown label is
        its own average task. ``return_std``, ``return_cov`` and
        :meth:`sample_y` include them.
    random_state : int, RandomState instance or None, default=None
        Draws the initial ``A`` (which must not be 0: the gradient of the
        likelihood with respect to ``A`` vanishes there), the perturbed
        initial kernels of the LMC and the restart points.

    Attributes
    ----------
    kernel_ : kernel instance
        The fitted kernel (ICM). With ``n_latent > 1``, the kernel of the
        first latent process; all of them are in ``kernels_``.
    kernels_ : list of kernel instances
        The fitted kernel ``k_q`` of every latent process.
    coregionalization_ : ndarray of shape (n_latent, n_tasks, n_tasks)
        The fitted ``B_q``, in the units of the normalised targets. They are
        not identifiable on their own (see Notes).
    task_covariance_ : ndarray of shape (n_tasks, n_tasks)
        Prior covariance of the tasks at the same input, in the units of
        ``y``: ``sum_q B_q[s, t] kbar_q sd_s sd_t``, where ``kbar_q`` is the
        mean of ``k_q(x, x)`` over the training inputs (for a stationary
        kernel, ``k_q(x, x)`` itself) and ``sd_t`` the standard deviation used
        to normalise task ``t`` (1 without ``normalize_y``).
    task_correlation_ : ndarray of shape (n_tasks, n_tasks)
        ``task_covariance_`` scaled to a unit diagonal: the prior correlation
        of the tasks at the same input. It is identifiable.
    noise_variance_ : ndarray of shape (n_tasks,)
        Fitted noise variance ``sigma_t^2`` of every task, in the units of
        ``y`` (``alpha`` excluded).
    rank_ : int
        Rank of the ``A_q``.
    solver_ : {"dense", "kronecker", "sparse"}
        The solver used.
    inducing_points_ : ndarray of shape (M, n_features)
        Sparse solver only: the inducing inputs (optimised if
        ``optimize_inducing``).
    theta_ : ndarray of shape (n_params,)
        Fitted parameter vector: the ``theta`` of every kernel (log space,
        as scikit-learn), then for every latent process the entries of
        ``A_q`` (row by row, unconstrained) and ``log(kappa_q)``, then the log
        noise variances (normalised units). With one task ``B = 1`` is fixed
        and has no parameters.
    bounds_ : ndarray of shape (n_params, 2)
        Bounds of ``theta_`` (infinite for the entries of ``A``).
    log_marginal_likelihood_value_ : float
        Log marginal likelihood of the normalised targets at ``theta_``.
        With the sparse solver it is the variational lower bound on it at
        ``theta_`` and ``inducing_points_`` (the exact value is not
        computed), as is :meth:`log_marginal_likelihood`.
    X_train_ : ndarray of shape (n_rows, n_features)
        Training inputs: the rows of ``X`` (long format: grouped by task).
    y_train_ : ndarray of shape (n_observations,)
        Observed targets, normalised, grouped by task.
    tasks_ : ndarray of shape (n_tasks,)
        Task labels, in the order of the axes of ``task_covariance_``.
    n_tasks_ : int
        Number of tasks.
    task_column_ : hashable or None
        The resolved task column (long format), else None.
    n_features_in_ : int
        Number of features seen during fit (task column excluded).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during fit, when ``X`` has string column
        names (task column excluded).
    new_tasks_ : ndarray of shape (n_new_tasks,)
        After :meth:`fit_new_tasks`: the labels it added, at the end of
        ``tasks_``. ``task_covariance_``, ``task_correlation_``,
        ``coregionalization_``, ``noise_variance_`` and ``theta_`` keep the
        tasks of ``fit`` only; the new tasks have the attributes below.
    new_task_loadings_ : ndarray of shape (n_latent, n_new_tasks, rank)
        The new tasks' rows of every ``A_q``, with ``rank = rank_``
        columns (units of ``coregionalization_``).
    new_task_kappa_ : ndarray of shape (n_latent, n_new_tasks)
        Their own variances ``kappa_q``.
    new_task_covariance_ : ndarray of shape (n_new_tasks, n_tasks)
        Their rows of the task covariance, against the ``n_tasks`` tasks
        of ``tasks_`` (source tasks, then new ones), defined as ``task_covariance_``,
        without the variance of their offsets.
    new_task_correlation_ : ndarray of shape (n_new_tasks, n_tasks)
        ``new_task_covariance_`` scaled to correlations.
    new_noise_variance_ : ndarray of shape (n_new_tasks,)
        Their noise variances, in the units of ``y``.
    new_log_marginal_likelihood_ : ndarray of shape (n_new_tasks,)
        ``log p(y_n | y_source)`` of every new task's rows at its fitted
        row (targets in the units of the average task).

    See Also
    --------
    sklearn.gaussian_process.GaussianProcessRegressor : The single-task model,
        which this estimator equals when there is one task.

    Notes
    -----
    **Which model.** Independent GPs (one
    :class:`~sklearn.gaussian_process.GaussianProcessRegressor` per task)
    are the right choice when tasks are unrelated or every task has plenty
    of data: they cannot be hurt by a wrong task covariance. The ICM
    (``n_latent=1``) helps when the tasks are correlated functions with the
    same smoothness, especially when some tasks have few observations where
    others have many; ``rank`` 1 or 2 usually suffices, and it is the only
    model with the fast Kronecker solver. The LMC (``n_latent > 1``) lets
    the shared structure live on several length scales (e.g. a smooth trend
    shared by all tasks plus a rougher component shared by some); it has
    ``Q`` times more kernel hyper-parameters, a harder likelihood surface
    (use ``n_restarts_optimizer``) and always uses the dense solver.

    **Identifiability.** Only the products ``B_q k_q`` enter the likelihood:
    multiplying ``B_q`` by ``c`` and the ``ConstantKernel`` of ``k_q`` by
    ``1/c`` changes nothing, so ``coregionalization_`` and ``kernel_`` are
    determined only up to this scale; ``task_covariance_`` (which multiplies
    them back) and ``task_correlation_`` are determined. With several tasks
    and a kernel ``ConstantKernel * k`` the optimiser therefore keeps the
    constant at its start (``B_q`` carries the scale): left free it drifts
    along this flat valley, which costs evaluations and changes nothing.

    **Optimiser.** The default L-BFGS-B searches over ``sqrt(kappa)``
    instead of ``log(kappa)`` (``theta_`` stays in log space): a task fully
    explained by the shared part has its ``kappa`` at the lower bound, and
    in log space the likelihood is so flat there that L-BFGS-B crept towards
    the bound over some 100 evaluations. It keeps at least one correction
    pair per parameter (``maxcor``, scipy's default is 10), which shortens
    the final iterations. Stopping is scipy's default (relative change of
    the likelihood below ``2.2e-9``), as in scikit-learn. With one task
    ``B = 1`` is fixed and the model is exactly scikit-learn's GPR with
    ``kernel + WhiteKernel(0.1, noise_level_bounds=(1e-6, 1e5))`` (our noise,
    its start and bounds) and the same ``alpha``: the same ``theta``, the same
    likelihood, hence the same fit.

    **Bounds.** As scikit-learn, ``fit`` raises a ``ConvergenceWarning`` for
    every kernel hyper-parameter that ends on a bound, with the same words,
    except where moving it far beyond the bound leaves the kernel matrix
    unchanged (the length scale of an irrelevant or constant feature on its
    upper bound), as no other value can be better there. ``kappa`` and the
    noise variances, whose bounds are fixed in the units of the normalised
    targets, are reported on their upper bound, and on their lower bound
    when it is at least ``1e-4`` times the mean square of the task's targets
    (unscaled targets without ``normalize_y``).

    **Extreme magnitudes.** ``normalize_y`` normalises targets of any
    magnitude exactly (``1e-300`` included); targets beyond ``1e152``, whose
    variances (``noise_variance_``, ``task_covariance_``, predicted
    covariances) overflow float64, are refused. Inputs cannot be rescaled
    for an arbitrary kernel: ``fit`` refuses features of magnitude above
    ``1e100`` or (non-zero) below ``1e-100``, and a kernel matrix or log
    marginal likelihood that is not finite at the initial hyper-parameters,
    with a ``ValueError`` that says to scale the data. Predictions that are
    not finite raise a ``ValueError`` too.

    **Predictions** are of the noise-free latent values ``f_t(x)``, like
    scikit-learn's GPR with the noise in ``alpha``: ``std`` and covariances
    do not include ``noise_variance_``.

    **Sparse solver.** The bound (Titsias 2009) is

        F = log N(y | 0, Q + D) - tr(D^{-1} (K - Q)) / 2 <= log p(y),

    with ``Q`` the Nystrom approximation of the covariance ``K`` of the
    latent values through the inducing inputs ``Z`` and ``D`` the noise; it
    equals the log marginal likelihood when ``Z`` holds every training input.
    The inducing variables follow ``B_q = A_q A_q^T + diag(kappa_q)``: ``M``
    values for each of the ``rank`` shared processes of every latent
    process, and ``M`` values for the task-specific part of every task,
    which only that task's observations see. The task-specific blocks are
    eliminated task by task (in ``O(n_t M min(n_t, M))`` for a task with
    ``n_t`` observations), so an evaluation of the bound and its gradient
    costs ``O(N M^2 n_latent^2 rank + (n_latent rank M)^3)`` however many
    tasks there are, and memory ``O(N M)``. Predictions come from the
    optimal Gaussian distribution of the inducing values; building it costs
    ``O(N M^2 + n_tasks M^3)`` once and stores ``n_tasks`` matrices of size
    ``M x M (1 + rank)`` (times ``n_latent^2``). The independent start uses
    at most 200 observations per task, as for the other solvers. A small
    jitter (``1e-8`` times the mean prior variance) is added to the
    diagonal of ``k(Z, Z)``.

    **New and unknown tasks.** Given the source data, a task outside them
    is ``m_bar + sd_bar g(x)`` with ``g = sum_q a_q . u_q + sum_q
    sqrt(kappa_q) w_q + c``: ``u_q`` the shared processes of ``A_q`` (whose
    posterior the source data give), ``w_q`` processes of its own, ``c ~
    N(0, tau^2)`` its offset, ``m_bar``, ``sd_bar`` the means of the
    source tasks' target means and standard deviations and ``tau^2`` the
    sample variance of their means over ``sd_bar^2`` (0 without
    ``normalize_y`` or with one source task): the model removed every
    source task's mean, and a new task's mean is unknown, with the spread
    of the source tasks' means. The average task of ``unknown_task="shared"``
    takes the mean rows of the source tasks; :meth:`fit_new_tasks` fits
    the row of each new task to its rows. A new task is conditioned on the
    source data and its own rows only, so the source tasks' predictions do
    not change and new tasks do not inform each other; their joint
    covariance with the other tasks is that of ``f_n - G_n y_n``, ``G_n``
    the gain of its rows (the pathwise form of the update), whose marginal
    is the exact posterior ``p(f_n | y_source, y_n)``. With the sparse
    solver the source posterior is the optimal distribution of the
    inducing values. Predicting such a task costs, per query row, one
    posterior covariance with the source data (``O(N^2)`` dense, ``O(M^2)``
    sparse), like ``return_std`` for a source task.

    **Solvers.** With the dense solver ``fit`` stores a Cholesky factor of
    size ``N x N``; with the Kronecker solver an eigenbasis of size
    ``n x n``. While optimising, matrices smaller than 1000 x 1000 are
    decomposed with single-threaded BLAS (threads do not pay off at that
    size and cost much on a busy machine); control larger ones with
    ``threadpoolctl.threadpool_limits``.

    References
    ----------
    Bonilla, E. V., Chai, K. M. A. and Williams, C. K. I. (2008). Multi-task
    Gaussian process prediction. Advances in Neural Information Processing
    Systems 20.

    Alvarez, M. A., Rosasco, L. and Lawrence, N. D. (2012). Kernels for
    vector-valued functions: a review. Foundations and Trends in Machine
    Learning 4(3), 195-266.

    Titsias, M. (2009). Variational learning of inducing variables in sparse
    Gaussian processes. AISTATS 12, 567-574.

    Saatci, Y. (2012). Scalable inference for structured Gaussian process
    models. PhD thesis, University of Cambridge.

    Rasmussen, C. E. and Williams, C. K. I. (2006). Gaussian Processes for
    Machine Learning. MIT Press.

    Examples
    --------
    Two correlated tasks in long format, the second one with few rows:

    >>> import numpy as np
    >>> from skmtl.gaussian_process import MultiTaskGaussianProcessRegressor
    >>> rng = np.random.RandomState(0)
    >>> x = rng.uniform(0, 5, size=40)
    >>> task = np.r_[np.zeros(30), np.ones(10)]
    >>> y = np.sin(x) * np.where(task == 0, 1.0, -2.0) + 0.05 * rng.randn(40)
    >>> X = np.column_stack([task, x])
    >>> gp = MultiTaskGaussianProcessRegressor(task_column=0, random_state=0)
    >>> gp = gp.fit(X, y)
    >>> gp.solver_, gp.task_correlation_.shape
    ('dense', (2, 2))
    >>> bool(gp.task_correlation_[0, 1] < -0.9)
    True
    >>> mean, std = gp.predict(np.array([[1.0, 2.0]]), return_std=True)
    >>> mean.shape, std.shape
    ((1,), (1,))

    Wide format (every task at the same inputs) uses the Kronecker solver:

    >>> Y = np.column_stack([np.sin(x), np.cos(x), np.sin(x) + np.cos(x)])
    >>> gp = MultiTaskGaussianProcessRegressor(rank=2, random_state=0)
    >>> gp = gp.fit(x[:, None], Y)
    >>> gp.solver_, gp.predict(x[:3, None]).shape
    ('kronecker', (3, 3))
    """

    _parameter_constraints: dict = {
        "kernel": [None, Kernel],
        "rank": [Interval(Integral, 1, None, closed="left"), StrOptions({"full"})],
        "n_latent": [Interval(Integral, 1, None, closed="left")],
        "noise": [StrOptions({"task", "shared"})],
        "task_column": "no_validation",
        "normalize_y": ["boolean"],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "optimizer": [StrOptions({"fmin_l_bfgs_b"}), callable, None],
        "n_restarts_optimizer": [Interval(Integral, 0, None, closed="left")],
        "init": [StrOptions({"independent", "kernel"})],
        "solver": [StrOptions({"auto", "dense", "kronecker", "sparse"})],
        "inducing_points": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "optimize_inducing": ["boolean"],
        "max_dense_size": [Interval(Integral, 1, None, closed="left"), None],
        "unknown_task": [StrOptions({"error", "shared"})],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        kernel=None,
        *,
        rank=1,
        n_latent=1,
        noise="task",
        task_column=None,
        normalize_y=True,
        alpha=1e-10,
        optimizer="fmin_l_bfgs_b",
        n_restarts_optimizer=0,
        init="independent",
        solver="auto",
        inducing_points=100,
        optimize_inducing=False,
        max_dense_size=10_000,
        unknown_task="error",
        random_state=None,
    ):
        self.kernel = kernel
        self.rank = rank
        self.n_latent = n_latent
        self.noise = noise
        self.task_column = task_column
        self.normalize_y = normalize_y
        self.alpha = alpha
        self.optimizer = optimizer
        self.n_restarts_optimizer = n_restarts_optimizer
        self.init = init
        self.solver = solver
        self.inducing_points = inducing_points
        self.optimize_inducing = optimize_inducing
        self.max_dense_size = max_dense_size
        self.unknown_task = unknown_task
        self.random_state = random_state

    # ------------------------------------------------------------------
    # fit
    # ------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the multi-task GP: maximise the log marginal likelihood.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_columns)
            Features; in long format also the task column ``task_column``.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            Targets: 1-D in long and single-task format; 2-D in wide format,
            with ``NaN`` for targets that were not observed.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        data = check_task_data(
            self, X, y, task_column=self.task_column, accept_sparse=False
        )
        forget_new_tasks(self)
        n_tasks = data.n_tasks
        self.rank_ = n_tasks if self.rank == "full" else min(self.rank, n_tasks)
        self.solver_ = self._resolve_solver(data)
        kernel = self._default_kernel() if self.kernel is None else self.kernel
        layout = HyperParameters(
            latent_kernels(kernel, self.n_latent), n_tasks, self.rank_, self.noise
        )
        if self.solver_ == "dense" and self.max_dense_size is not None:
            if data.n_observations > self.max_dense_size:
                n_kernel_params = max(k.n_dims for k in layout.kernels)
                raise dense_size_error(
                    data.n_observations, self.max_dense_size, n_kernel_params
                )
        check_feature_magnitudes(data.X, getattr(self, "feature_names_in_", None))
        self._store_training_data(data)
        self._layout = layout
        rng = check_random_state(self.random_state)
        if self.solver_ == "sparse":
            self.inducing_points_ = self._initial_inducing_points(rng)
            if self.optimize_inducing and self.optimizer is not None:
                check_inducing_kernels(layout.kernels)
        with _blas_threads_for(self._factorised_size()):
            self._check_finite_start(layout)
            theta, lml = self._optimize(layout, rng)
            self._set_fitted_attributes(layout, theta, lml)
        if self.optimizer is not None:
            warn_on_bounds(
                layout,
                theta,
                self._bound_check_rows(rng),
                self.tasks_,
                self._target_mean_squares(),
            )
        return self

    def fit_new_tasks(self, X, y, sample_weight=None):
        """Add tasks the model was not fitted on, keeping the source tasks fixed.

        Every new task ``n`` gets its own row of the task covariance, its
        loadings ``a_q`` (a row of ``A_q`` of each latent process) and own
        variances ``kappa_q``, and its noise variance. The loadings are the
        mode of their posterior: the log likelihood of its rows given the
        source data, ``log p(y_n | y_source)``, plus a Gaussian prior whose
        mean and per-coordinate variance are those of the source tasks'
        rows of ``A_q``; ``kappa_q`` and the noise are the average task's
        (the shared noise with ``noise="shared"``): a few rows cannot
        estimate variances. The kernels, the source tasks' rows of ``A_q``,
        their ``kappa_q`` and noise stay as fitted, so the source tasks'
        predictions do not change. The GP likelihood weighs the rows of
        every task itself: no row weighting is needed. The optimiser
        (L-BFGS-B, at most 200 iterations) starts from the prior mean, the
        average task of ``unknown_task="shared"``, which is also the answer
        without rows.

        New tasks are independent of each other given the source tasks:
        each is conditioned on the source data and its own rows. Their
        targets are in the units of an average source task (see Notes), and
        their mean is an unknown offset whose prior variance is that of the
        source tasks' means. Each call replaces the tasks added by the
        previous one; ``fit`` removes them.

        The source posterior is extended once per fit; after that a new task
        with ``k`` rows costs one posterior covariance of its rows (with the
        dense solver ``O(k N^2)``, ``O(k M^2)`` with the sparse solver) and
        ``O(k^3)`` per likelihood evaluation; the source rows are not
        needed again.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_columns)
            Rows of the new tasks, with the task column (long format only).
        y : array-like of shape (n_samples,)
            Their targets.
        sample_weight : None
            Not supported, as in ``fit``: a ``TypeError`` if given.

        Returns
        -------
        self : object
            The estimator, with ``new_tasks_`` added to ``tasks_``.

        Examples
        --------
        >>> import numpy as np
        >>> from skmtl.gaussian_process import MultiTaskGaussianProcessRegressor
        >>> rng = np.random.RandomState(0)
        >>> x = rng.uniform(0, 5, size=60)
        >>> task = np.repeat([0, 1, 2], 20)
        >>> y = np.sin(x) * np.array([1.0, -1.0, 2.0])[task]
        >>> gp = MultiTaskGaussianProcessRegressor(task_column=0, random_state=0)
        >>> gp = gp.fit(np.column_stack([task, x]), y)
        >>> x_new = np.array([1.0, 2.0, 4.0])   # three rows of a new task 3
        >>> gp = gp.fit_new_tasks(np.column_stack([[3, 3, 3], x_new]), -np.sin(x_new))
        >>> gp.new_tasks_, bool(gp.new_task_correlation_[0, 0] < -0.9)
        (array([3.]), True)
        >>> gp.predict(np.array([[3, 3.0]])).round(1)
        array([-0.1])
        """
        if sample_weight is not None:
            raise TypeError(
                f"{type(self).__name__} does not support sample weights: its "
                "fit takes none and the Gaussian likelihood has no row weights. "
                "Call fit_new_tasks(X, y) without sample_weight (repeat rows "
                "only if they are repeated observations)."
            )
        data = check_new_task_data(self, X, y)
        adapt_new_tasks(self, data)
        add_new_tasks(self, data.tasks)
        return self

    def _initial_inducing_points(self, rng):
        """The inducing inputs the sparse solver starts from."""
        if isinstance(self.inducing_points, Integral):
            return choose_inducing_points(self.X_train_, self.inducing_points, rng)
        Z = np.array(self.inducing_points, dtype=np.float64)
        if Z.ndim != 2 or Z.shape[1] != self.n_features_in_ or not len(Z):
            raise ValueError(
                f"inducing_points must be an int or an array of shape "
                f"(n_inducing, {self.n_features_in_}) (the features, without the "
                f"task column); got an array of shape {Z.shape}. Pass inputs with "
                f"the {self.n_features_in_} features of X."
            )
        if not np.isfinite(Z).all():
            raise ValueError(
                "inducing_points contains NaN or infinite values; pass finite inputs."
            )
        return Z

    def _bound_check_rows(self, rng):
        """Rows for the bound warnings: all of them, at most 1,000 if sparse."""
        if self.solver_ != "sparse" or self._n_train_rows <= _BOUND_CHECK_ROWS:
            return self.X_train_
        chosen = rng.choice(self._n_train_rows, _BOUND_CHECK_ROWS, replace=False)
        return self.X_train_[np.sort(chosen)]

    def _target_mean_squares(self):
        """Mean square of every task's targets, in normalised units.

        The targets themselves, not centred: a constant task has a scale.
        """
        task_index = self._observations.task_index
        offset = self._y_train_mean / self._y_train_std
        targets = self.y_train_ + offset[task_index]
        sums = np.bincount(task_index, targets**2, minlength=self.n_tasks_)
        return sums / np.bincount(task_index, minlength=self.n_tasks_)

    def _check_finite_start(self, layout):
        """Refuse data whose kernel or likelihood overflows at the start.

        Evaluated at the kernel's own hyper-parameters, ``B`` near the
        identity and the initial noise (a fixed draw, so the estimator's
        random state is not consumed), before the optimiser or the
        independent start can turn non-finite values into NaN parameters.
        """
        theta = layout.initial(np.random.RandomState(0))
        kernels, _, _ = layout.split(theta)
        with np.errstate(all="ignore"):
            for kernel in kernels:
                try:
                    if self.solver_ == "sparse":
                        # k(X, X) is what the sparse solver never builds.
                        Z = self.inducing_points_
                        finite = np.isfinite(kernel(self.X_train_, Z)).all() and (
                            np.isfinite(kernel.diag(self.X_train_)).all()
                        )
                    else:
                        finite = np.isfinite(kernel(self.X_train_)).all()
                except OverflowError:  # Python float powers of parameters
                    finite = False
                if not finite:
                    raise non_finite_error("The kernel matrix")
            lml, gradient = self._evaluate(layout, theta, True)
        if not np.isfinite(lml):
            raise non_finite_error("The log marginal likelihood")
        if not np.isfinite(gradient).all():
            raise non_finite_error("The gradient of the log marginal likelihood")

    def _factorised_size(self):
        """Size of the matrix decomposed at every likelihood evaluation."""
        if self.solver_ == "kronecker":
            return self._n_train_rows
        if self.solver_ == "sparse":
            # Its factorisations are per task and of the shared inducing
            # values; many small ones, which threads slow down 10x on a busy
            # machine (measured on School: 0.7 s against 5-15 s).
            n_inducing = self.inducing_points_.shape[0]
            return n_inducing * self.n_latent * self.rank_
        return len(self.y_train_)

    def _default_kernel(self):
        return ConstantKernel(1.0) * RBF(length_scale=np.ones(self.n_features_in_))

    def _resolve_solver(self, data):
        kronecker_applies = data.shared_design and self.n_latent == 1
        if self.solver == "auto":
            n_rows = data.X.shape[0]
            if kronecker_applies and data.n_tasks > 1 and n_rows <= EXACT_MAX_SIZE:
                return "kronecker"
            if data.n_observations <= EXACT_MAX_SIZE:
                return "dense"
            return "sparse"
        if self.solver == "kronecker" and not kronecker_applies:
            reasons = []
            if not data.shared_design:
                reasons.append(
                    "the tasks are not all observed at the same inputs (long "
                    "format, or NaN in the wide Y)"
                )
            if self.n_latent != 1:
                reasons.append(f"n_latent={self.n_latent} (the LMC is not Kronecker)")
            raise ValueError(
                "solver='kronecker' needs every task observed at the same inputs "
                "(a wide Y without NaN) and n_latent=1, but "
                + " and ".join(reasons)
                + ". Use solver='auto' or 'dense'."
            )
        return self.solver

    def _store_training_data(self, data):
        n_tasks = data.n_tasks
        if self.normalize_y:
            mean, std = target_normalisation(data.y, data.task_index, n_tasks)
        else:
            magnitude = np.zeros(n_tasks)
            np.maximum.at(magnitude, data.task_index, np.abs(data.y))
            check_target_magnitudes(magnitude)
            mean, std = np.zeros(n_tasks), np.ones(n_tasks)
        self._y_train_mean = mean
        self._y_train_std = std
        self.X_train_ = np.array(data.X, dtype=np.float64)
        self.y_train_ = (data.y - mean[data.task_index]) / std[data.task_index]
        self._observations = Observations(
            data.task_index, data.row_index, data.offsets, data.X.shape[0]
        )
        self._n_train_rows = data.X.shape[0]

    def _train_matrix(self):
        """Targets as an (n_rows, n_tasks) matrix (Kronecker layout)."""
        return self.y_train_.reshape(self.n_tasks_, self._n_train_rows).T

    def _evaluate(self, layout, theta, eval_gradient):
        """Log marginal likelihood (and gradient) of the stored data at ``theta``.

        With the sparse solver, the bound; ``theta`` may then end with the
        inducing inputs (raveled) when they are optimised.
        """
        if self.solver_ == "sparse":
            return self._evaluate_sparse(layout, theta, eval_gradient)
        kernels, task_covariances, noise = layout.split(theta)
        noise = noise + self.alpha
        kernel_matrices = [kernel(self.X_train_) for kernel in kernels]
        if self.solver_ == "kronecker":
            result = kronecker_log_marginal_likelihood(
                self._train_matrix(),
                kernel_matrices[0],
                task_covariances[0],
                noise,
                eval_gradient,
            )
            if eval_gradient:
                lml, (K_adjoint, B_grad, noise_grad) = result
                result = lml, ([K_adjoint], [B_grad], noise_grad)
        else:
            result = dense_log_marginal_likelihood(
                self.y_train_,
                kernel_matrices,
                task_covariances,
                noise,
                self._observations,
                eval_gradient,
            )
        if not eval_gradient:
            return result
        lml, (K_adjoints, B_grads, noise_grad) = result
        kernel_grads = [
            kernel_gradient(kernel, self.X_train_, K_adjoint, K)
            for kernel, K_adjoint, K in zip(kernels, K_adjoints, kernel_matrices)
        ]
        return lml, layout.gradient(theta, kernel_grads, B_grads, noise_grad)

    def _task_structure(self, layout, theta):
        """The ``A_q`` and ``kappa_q`` of ``theta`` for the sparse solver."""
        if layout.task_covariances[0].fixed:
            ones = [np.ones((1, 1)) for _ in layout.kernels]
            zeros = [np.zeros(1) for _ in layout.kernels]
            return TaskStructure(ones, zeros, has_task_part=False)
        unpacked = [
            task_cov.unpack(layout.task_params(theta, q))
            for q, task_cov in enumerate(layout.task_covariances)
        ]
        return TaskStructure([A for A, _ in unpacked], [k for _, k in unpacked])

    def _evaluate_sparse(self, layout, theta, eval_gradient):
        theta = np.asarray(theta, dtype=np.float64)
        n_params = layout.n_params
        Z = self.inducing_points_
        with_inducing = len(theta) > n_params
        if with_inducing:
            Z = theta[n_params:].reshape(Z.shape)
            theta = theta[:n_params]
        kernels, _, noise = layout.split(theta)
        structure = self._task_structure(layout, theta)
        result = sparse_log_marginal_likelihood(
            self.y_train_,
            self.X_train_,
            Z,
            kernels,
            structure,
            noise + self.alpha,
            self._observations,
            eval_gradient=eval_gradient,
            inducing_gradient=with_inducing,
        )
        if not eval_gradient:
            return result
        bound, (kernel_grads, A_grads, kappa_grads, noise_grad, Z_grad) = result
        task_grads = []
        if structure.has_task_part:
            task_grads = [
                np.concatenate([dA.ravel(), dkappa * kappa])
                for dA, dkappa, kappa in zip(A_grads, kappa_grads, structure.kappa)
            ]
        log_noise_grad = noise * noise_grad
        if layout.noise == "shared":
            log_noise_grad = np.array([log_noise_grad.sum()])
        gradient = np.concatenate([*kernel_grads, *task_grads, log_noise_grad])
        if with_inducing:
            gradient = np.concatenate([gradient, Z_grad.ravel()])
        return bound, gradient

    def _optimize(self, layout, rng):
        """Return the best ``theta`` and its log marginal likelihood."""
        if self.optimizer is None:
            initial_theta = layout.initial(rng)
            return initial_theta, self._evaluate(layout, initial_theta, False)
        start = None
        if self.init == "independent" and self.n_tasks_ > 1:
            start = independent_start(
                self.X_train_,
                self.y_train_,
                self._observations,
                layout.kernels[0],
                self.alpha,
                rng,
            )
        initial_theta = layout.initial(rng, start=start)
        if not np.isfinite(initial_theta).all():
            # The independent fits overflowed: start from the kernel instead.
            initial_theta = layout.initial(rng)

        def obj_func(theta, eval_gradient=True):
            with np.errstate(over="ignore", invalid="ignore"):
                if not eval_gradient:
                    return -self._evaluate(layout, theta, False)
                lml, grad = self._evaluate(layout, theta, True)
            if not (np.isfinite(lml) and np.isfinite(grad).all()):
                # Overflow at extreme hyper-parameters: an infinite objective
                # with a zero gradient (as a failed Cholesky) makes L-BFGS-B
                # step back instead of propagating NaN parameters.
                return np.inf, np.zeros_like(grad)
            return -lml, -grad

        starts = [initial_theta]
        starts += [
            layout.initial(rng, restart=True) for _ in range(self.n_restarts_optimizer)
        ]
        bounds = [layout.optimizer_bounds(start) for start in starts]
        if self._optimizes_inducing():
            # The inducing inputs, raveled, follow theta, without bounds.
            Z = self.inducing_points_.ravel()
            starts = [np.concatenate([start, Z]) for start in starts]
            free = np.tile([-np.inf, np.inf], (len(Z), 1))
            bounds = [np.vstack([b, free]) for b in bounds]
        optima = [
            self._constrained_optimization(
                obj_func, start, bound, layout.kappa_positions()
            )
            for start, bound in zip(starts, bounds)
        ]
        values = [func_min for _, func_min in optima]
        best = int(np.argmin(values))
        theta = np.asarray(optima[best][0], dtype=np.float64)
        if not (np.isfinite(values[best]) and np.isfinite(theta).all()):
            raise non_finite_error(
                "The log marginal likelihood",
                where="at the hyper-parameters the optimiser found",
            )
        if self._optimizes_inducing():
            n_params = layout.n_params
            self.inducing_points_ = theta[n_params:].reshape(
                self.inducing_points_.shape
            )
            theta = theta[:n_params]
        return theta, -float(values[best])

    def _optimizes_inducing(self):
        return self.solver_ == "sparse" and self.optimize_inducing

    def _constrained_optimization(self, obj_func, initial_theta, bounds, kappa):
        if callable(self.optimizer):
            return self.optimizer(obj_func, initial_theta, bounds=bounds)
        to_theta, to_search, search_bounds, search_objective = _sqrt_kappa_search(
            obj_func, bounds, kappa
        )
        result = scipy.optimize.minimize(
            search_objective,
            to_search(initial_theta),
            method="L-BFGS-B",
            jac=True,
            bounds=search_bounds,
            options={"maxcor": max(LBFGS_MIN_MEMORY, len(initial_theta))},
        )
        if result.status != 0:
            warnings.warn(
                f"L-BFGS-B did not converge after {result.nit} iterations "
                f"(status={result.status}): {result.message}. The "
                "hyper-parameters may not maximise the likelihood; try "
                "n_restarts_optimizer > 0 or rescale the features.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return to_theta(result.x), result.fun

    def _set_fitted_attributes(self, layout, theta, lml):
        self.theta_ = theta
        self.bounds_ = layout.bounds()
        self.log_marginal_likelihood_value_ = lml
        kernels, task_covariances, noise = layout.split(theta)
        self.kernels_ = kernels
        self.kernel_ = kernels[0]
        self.coregionalization_ = np.stack(task_covariances)
        std = self._y_train_std
        self.noise_variance_ = noise * std**2
        prior_scale = [np.mean(kernel.diag(self.X_train_)) for kernel in kernels]
        covariance = sum(s * B for s, B in zip(prior_scale, task_covariances))
        self.task_covariance_ = covariance * np.outer(std, std)
        # From the normalised covariance: the correlation does not depend on
        # the units, whose squares underflow for targets of magnitude 1e-300.
        sd = np.sqrt(np.diag(covariance))
        self.task_correlation_ = covariance / np.outer(sd, sd)
        diagonal = noise + self.alpha
        if self.solver_ == "sparse":
            self._posterior = SparsePosterior(
                self.X_train_,
                self.y_train_,
                self.inducing_points_,
                kernels,
                self._task_structure(layout, theta),
                diagonal,
                self._observations,
            )
        elif self.solver_ == "kronecker":
            self._posterior = KroneckerPosterior(
                self.X_train_,
                self._train_matrix(),
                kernels[0],
                task_covariances[0],
                diagonal,
            )
        else:
            self._posterior = DensePosterior(
                self.X_train_,
                self.y_train_,
                kernels,
                task_covariances,
                diagonal,
                self._observations,
            )

    # ------------------------------------------------------------------
    # likelihood and predictions
    # ------------------------------------------------------------------

    def log_marginal_likelihood(self, theta=None, eval_gradient=False):
        """Log marginal likelihood of the training data, as scikit-learn's.

        Parameters
        ----------
        theta : array-like of shape (n_params,), default=None
            Full parameter vector laid out as ``theta_``. ``None`` returns
            ``log_marginal_likelihood_value_``.
        eval_gradient : bool, default=False
            Also return the gradient with respect to ``theta``; needs a
            ``theta``.

        Returns
        -------
        log_likelihood : float
            Log marginal likelihood of the (normalised) training targets;
            with the sparse solver, its variational lower bound at
            ``inducing_points_``.
        log_likelihood_gradient : ndarray of shape (n_params,), optional
            Its gradient, if ``eval_gradient`` is True.
        """
        check_is_fitted(self)
        if theta is None:
            if eval_gradient:
                raise ValueError("Gradient can only be evaluated for theta!=None")
            return self.log_marginal_likelihood_value_
        theta = np.asarray(theta, dtype=np.float64)
        # Validates the shape: the sparse evaluation also takes longer vectors.
        self._layout.split(theta)
        with _blas_threads_for(self._factorised_size()):
            return self._evaluate(self._layout, theta, eval_gradient)

    def _query_pairs(self, X):
        """Validated query rows and the (row, task) pairs to predict."""
        data = check_predict_data(self, X, allow_unknown=True, accept_sparse=False)
        Xq = data.X
        n_rows = Xq.shape[0]
        if data.layout == "long":
            unknown = data.unknown
            tasks = data.task_index
            if unknown.any():
                _, labels, name = split_task_column(X, self.task_column_)
                unknown_labels = unique_in_order(labels[unknown])
                if self.unknown_task == "error":
                    raise unknown_task_error(
                        unknown_labels,
                        self.tasks_,
                        name,
                        " To predict them as an average task, see the "
                        "unknown_task parameter; to adapt the model to a few "
                        "of their rows, use fit_new_tasks.",
                    )
                # One average task per unknown label, after the known tasks.
                tasks = tasks.copy()
                tasks[unknown] = self.n_tasks_ + lookup_tasks(
                    np.array(unknown_labels, dtype=object), labels[unknown]
                )
            return Xq, np.arange(n_rows), tasks, "long"
        rows = np.repeat(np.arange(n_rows), self.n_tasks_)
        tasks = np.tile(np.arange(self.n_tasks_), n_rows)
        return Xq, rows, tasks, data.layout

    @_overflow_checked
    def predict(self, X, return_std=False, return_cov=False):
        """Posterior mean (and std or covariance) of the latent functions.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_columns)
            Query rows; in long format with the task column.
        return_std : bool, default=False
            Also return the posterior standard deviation.
        return_cov : bool, default=False
            Also return the posterior covariance. At most one of
            ``return_std`` and ``return_cov`` may be True.

        Returns
        -------
        y_mean : ndarray of shape (n_samples,) or (n_samples, n_tasks)
            Long format: every row for its own task. Wide format: every row
            for every task. Single task: ``(n_samples,)``.
        y_std : ndarray, same shape as ``y_mean``, optional
            Standard deviation of the latent value (noise excluded).
        y_cov : ndarray of shape (n_samples, n_samples) or \
(n_samples, n_samples, n_tasks), optional
            Joint covariance of the rows. In wide format, as for
            scikit-learn's multi-output GPR, one covariance per task
            (``y_cov[..., t]``); the covariance across tasks is used by
            :meth:`sample_y`.
        """
        if return_std and return_cov:
            raise RuntimeError(
                "At most one of return_std or return_cov can be requested."
            )
        Xq, rows, tasks, layout = self._query_pairs(X)
        posterior = self._posterior_for(tasks)
        mean, variance = posterior.mean_and_variance(
            Xq, rows, tasks, return_variance=return_std
        )
        _check_finite_predictions(mean, variance)
        location, scale = task_units(self, tasks)
        mean = self._shape_output(mean * scale + location, layout)
        if return_std:
            return mean, self._shape_output(np.sqrt(variance) * scale, layout)
        if not return_cov:
            return mean
        if layout != "wide":
            covariance = posterior.covariance(Xq, rows, tasks)
            _check_finite_predictions(mean, covariance)
            return mean, covariance * np.outer(scale, scale)
        n_rows = Xq.shape[0]
        covariances = [
            self._posterior.covariance(Xq, np.arange(n_rows), np.full(n_rows, t))
            * self._y_train_std[t] ** 2
            for t in range(self.n_tasks_)
        ]
        _check_finite_predictions(mean, covariances)
        return mean, np.stack(covariances, axis=-1)

    def _posterior_for(self, tasks):
        """The source posterior, or the transfer one for new or unknown tasks."""
        if not len(tasks) or tasks.max() < n_source_tasks(self):
            return self._posterior
        return transfer_posterior(
            self, n_average=max(0, tasks.max() + 1 - self.n_tasks_)
        )

    def _shape_output(self, values, layout):
        if layout == "wide":
            return values.reshape(-1, self.n_tasks_)
        return values

    @_overflow_checked
    def sample_y(self, X, n_samples=1, random_state=0):
        """Draw latent function values from the joint posterior.

        The samples are jointly drawn over all rows and all tasks, so they
        carry the posterior correlation between tasks.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples_X, n_columns)
            Query rows; in long format with the task column.
        n_samples : int, default=1
            Number of samples per query.
        random_state : int, RandomState instance or None, default=0
            Seed of the draws.

        Returns
        -------
        y_samples : ndarray of shape (n_samples_X, n_samples) or \
(n_samples_X, n_tasks, n_samples)
            The second shape in wide format, as scikit-learn's multi-output
            GPR.
        """
        check_is_fitted(self)
        rng = check_random_state(random_state)
        Xq, rows, tasks, layout = self._query_pairs(X)
        posterior = self._posterior_for(tasks)
        mean, _ = posterior.mean_and_variance(Xq, rows, tasks, return_variance=False)
        location, scale = task_units(self, tasks)
        covariance = posterior.covariance(Xq, rows, tasks)
        _check_finite_predictions(mean, covariance)
        covariance = 0.5 * (covariance + covariance.T) * np.outer(scale, scale)
        # A symmetric square root tolerates the rounding-level negative
        # eigenvalues of a posterior covariance (a Cholesky factor does not).
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)
        factor = eigenvectors * np.sqrt(np.maximum(eigenvalues, 0.0))
        location = mean * scale + location
        samples = location[:, None] + factor @ rng.standard_normal(
            (len(rows), n_samples)
        )
        if layout == "wide":
            return samples.reshape(Xq.shape[0], self.n_tasks_, n_samples)
        return samples

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
