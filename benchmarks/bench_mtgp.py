"""Multi-task GP: skmtl against GPy, the Kronecker solver, and accuracy.

Three parts, all in one process:

(a) **skmtl vs GPy's ICM** (``GPy.util.multioutput.ICM`` with
    ``GPy.kern.Coregionalize`` in ``GPy.models.GPCoregionalizedRegression``)
    on data drawn from a rank-2 ICM (4 tasks, 800 training rows per task, 3
    features, per-task noise). Both fit the same model: an ARD RBF kernel
    with a variance, ``B = W W^T + diag(kappa)`` with ``W`` of rank 2, and
    one noise variance per task, by L-BFGS-B from one start. The targets are
    standardised per task beforehand, so both maximise the same log marginal
    likelihood (LML), which the table reports as the objective. Two layouts:
    *shared inputs* (every task observed at the same rows; skmtl uses its
    Kronecker solver, GPy has no such path) and *own inputs* (every task at
    its own rows; both factorise the dense 3200 x 3200 covariance).
(b) **One LML + gradient in the Kronecker layout** for n in (500, 1000, 2000)
    inputs and t in (8, 16, 32) tasks, and a dense-vs-Kronecker row at the
    same LML.
(c) **Accuracy**: per-task test RMSE of the ICM and the LMC against one
    sklearn ``GaussianProcessRegressor`` per task and
    ``MultiOutputRegressor(GaussianProcessRegressor())``, on (c1) an LMC with
    two latent length scales mixed differently in each task, one task with
    few observations and missing targets, (c2)
    ``skmtl.datasets.make_multitask_regression`` (linear tasks, wide), and
    two real data sets: (c3) ``sklearn.datasets.load_linnerud`` (20 rows,
    3 standardised features, 3 physiological outputs; leave-one-row-out,
    ``n_train`` 19) and (c4) 15 random schools of
    ``skmtl.datasets.load_school`` (long format, 6 student-level features,
    half of every school for training). The real-data RMSE is against the
    observed targets, in their units.

Run ``python benchmarks/bench_mtgp.py`` for the sizes above (about 15-25
minutes on 2 cores, most of it GPy's dense fits), or add ``--quick`` for
small sizes (about a minute). ``--parts bc`` runs some parts only,
``--skip-gpy`` leaves GPy out, and ``--blas-threads 1`` limits every library
to one BLAS thread (on a busy machine OpenBLAS threads cost more than they
save). Results go to ``benchmarks/results/mtgp[_quick][_blas<k>][_<parts>].json``.
"""

import argparse
import contextlib
import os
import time
import warnings

import numpy as np
from _harness import compare, print_table, time_callable, write_json
from sklearn.datasets import load_linnerud
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
from sklearn.multioutput import MultiOutputRegressor
from threadpoolctl import threadpool_limits

from skmtl.datasets import load_school, make_multitask_regression
from skmtl.gaussian_process import MultiTaskGaussianProcessRegressor

try:  # GPy is optional: without it part (a) reports skmtl only.
    import GPy
except Exception as exc:  # an old GPy can fail on import with new numpy
    GPy = None
    GPY_IMPORT_ERROR = f"{type(exc).__name__}: {exc}"
else:
    GPY_IMPORT_ERROR = None


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------


def icm_task_covariance(n_tasks, rank, rng):
    """A random ``B = A A^T + 0.05 I`` with ``A`` of shape (n_tasks, rank)."""
    A = rng.standard_normal((n_tasks, rank))
    return A @ A.T + 0.05 * np.eye(n_tasks)


def draw_icm(n_train, n_test, n_tasks, rank, shared_inputs, seed):
    """Targets from an ICM with an ARD RBF kernel; train and test per task.

    Returns
    -------
    data : dict
        ``X_train``/``X_test``: lists of (n, 3) arrays per task;
        ``y_train``: list of noisy targets; ``f_test``: list of noise-free
        test values; ``B`` the true task covariance.
    """
    rng = np.random.RandomState(seed)
    n_features = 3
    B = icm_task_covariance(n_tasks, rank, rng)
    kernel = RBF(length_scale=[0.3, 0.6, 1.2])
    n_rows = n_train + n_test
    if shared_inputs:
        X = rng.uniform(0, 1, size=(n_rows, n_features))
        K = kernel(X) + 1e-8 * np.eye(n_rows)
        # f = L_K Z L_B^T has covariance B kron K.
        F = np.linalg.cholesky(K) @ rng.standard_normal((n_rows, n_tasks))
        F = F @ np.linalg.cholesky(B).T
        X_tasks = [X] * n_tasks
        f_tasks = [F[:, t] for t in range(n_tasks)]
    else:
        X_tasks = [rng.uniform(0, 1, size=(n_rows, n_features)) for _ in range(n_tasks)]
        X_all = np.vstack(X_tasks)
        task = np.repeat(np.arange(n_tasks), n_rows)
        covariance = B[np.ix_(task, task)] * kernel(X_all)
        covariance[np.diag_indices_from(covariance)] += 1e-8
        f = np.linalg.cholesky(covariance) @ rng.standard_normal(len(task))
        f_tasks = np.split(f, n_tasks)
    noise_sd = np.sqrt(0.1 * np.diag(B))
    y_train, f_test = [], []
    for t in range(n_tasks):
        noise = noise_sd[t] * rng.standard_normal(n_train)
        y_train.append(f_tasks[t][:n_train] + noise)
        f_test.append(f_tasks[t][n_train:])
    return {
        "X_train": [X[:n_train] for X in X_tasks],
        "X_test": [X[n_train:] for X in X_tasks],
        "y_train": y_train,
        "f_test": f_test,
        "B": B,
    }


def standardise(data):
    """Standardise the targets of every task (both libraries see the same y)."""
    means = [y.mean() for y in data["y_train"]]
    stds = [y.std() for y in data["y_train"]]
    data["y_train"] = [(y - m) / s for y, m, s in zip(data["y_train"], means, stds)]
    data["f_test"] = [(f - m) / s for f, m, s in zip(data["f_test"], means, stds)]
    return data


def rmse(prediction, truth):
    return float(np.sqrt(np.mean((np.asarray(prediction) - truth) ** 2)))


# --------------------------------------------------------------------------
# (a) skmtl vs GPy
# --------------------------------------------------------------------------


class CountingMTGP(MultiTaskGaussianProcessRegressor):
    """The estimator, counting its evaluations of the multi-task likelihood.

    (The independent per-task fits of ``init="independent"`` are not
    counted: they are part of the fit time, on subsamples.)
    """

    n_evaluations = 0

    def _evaluate(self, layout, theta, eval_gradient):
        CountingMTGP.n_evaluations += 1
        return super()._evaluate(layout, theta, eval_gradient)


def skmtl_icm(rank, **params):
    kernel = ConstantKernel(1.0) * RBF(length_scale=np.ones(3))
    return CountingMTGP(kernel, rank=rank, random_state=0, **params)


def fit_skmtl(data, shared_inputs, rank):
    n_tasks = len(data["y_train"])
    CountingMTGP.n_evaluations = 0
    if shared_inputs:
        model = skmtl_icm(rank).fit(
            data["X_train"][0], np.column_stack(data["y_train"])
        )
        predictions = model.predict(data["X_test"][0]).T
    else:
        X_long, y_long = to_long(data["X_train"], data["y_train"])
        model = skmtl_icm(rank, task_column=0).fit(X_long, y_long)
        X_test_long, _ = to_long(data["X_test"], data["f_test"])
        predictions = np.split(model.predict(X_test_long), n_tasks)
    lml = model.log_marginal_likelihood_value_
    return lml, predictions, model.solver_, CountingMTGP.n_evaluations


def to_long(X_tasks, y_tasks):
    task = np.concatenate([np.full(len(y), t) for t, y in enumerate(y_tasks)])
    return np.column_stack([task, np.vstack(X_tasks)]), np.concatenate(y_tasks)


def fit_gpy(data, rank):
    n_tasks = len(data["y_train"])
    np.random.seed(0)  # noqa: NPY002 (GPy draws its initial W from this generator)
    kernel = GPy.util.multioutput.ICM(
        input_dim=3,
        num_outputs=n_tasks,
        kernel=GPy.kern.RBF(3, ARD=True),
        W_rank=rank,
    )
    model = GPy.models.GPCoregionalizedRegression(
        data["X_train"], [y[:, None] for y in data["y_train"]], kernel=kernel
    )
    model.optimize("lbfgsb", max_iters=1000)
    predictions = []
    for t, X in enumerate(data["X_test"]):
        index = np.full((len(X), 1), t)
        mean, _ = model.predict_noiseless(
            np.hstack([X, index]), Y_metadata={"output_index": index}
        )
        predictions.append(mean[:, 0])
    n_evaluations = model.optimization_runs[-1].funct_eval
    return float(model.log_likelihood()), predictions, "dense", n_evaluations


def _keeping_result(results, label, func):
    """Wrap ``func`` so that its last result is kept in ``results[label]``."""

    def run():
        results[label] = func()
        return results[label]

    return run


def part_a(n_train, n_test, skip_gpy):
    rows = []
    for shared_inputs in (True, False):
        layout = "shared inputs" if shared_inputs else "own inputs"
        data = standardise(
            draw_icm(n_train, n_test, 4, 2, shared_inputs, seed=int(shared_inputs))
        )
        candidates = {"skmtl": lambda d=data, s=shared_inputs: fit_skmtl(d, s, 2)}
        if GPy is not None and not skip_gpy:
            candidates["GPy"] = lambda d=data: fit_gpy(d, 2)
        results = {}
        compared = compare(
            f"ICM fit, {layout}",
            {
                label: _keeping_result(results, label, func)
                for label, func in candidates.items()
            },
            objective=lambda result: result[0],
            rtol=1e-3,
            repeat=1,
            warmup=0,
        )
        for row in compared:
            lml, predictions, solver, n_evaluations = results[row["candidate"]]
            test_rmse = [rmse(p, f) for p, f in zip(predictions, data["f_test"])]
            row.update(
                layout=layout,
                solver=solver,
                n_observations=4 * n_train,
                lml_evaluations=n_evaluations,
                mean_test_rmse=float(np.mean(test_rmse)),
                test_rmse_per_task=test_rmse,
            )
            rows.append(row)
    return rows


# --------------------------------------------------------------------------
# (b) the Kronecker solver
# --------------------------------------------------------------------------


def kronecker_model(n, n_tasks, seed=0, **params):
    rng = np.random.RandomState(seed)
    X = rng.uniform(0, 1, size=(n, 3))
    latent = np.column_stack([np.sin(6 * X[:, 0]), np.cos(4 * X[:, 1] + X[:, 2])])
    Y = latent @ rng.standard_normal((2, n_tasks)) + 0.3 * rng.randn(n, n_tasks)
    model = skmtl_icm(rank=2, optimizer=None, **params).fit(X, Y)
    return model


def part_b(sizes, task_counts, dense_size):
    rows = []
    for n in sizes:
        for n_tasks in task_counts:
            model = kronecker_model(n, n_tasks)
            theta = model.theta_
            timing = time_callable(
                lambda m=model, th=theta: m.log_marginal_likelihood(th, True),
                repeat=3,
                warmup=1,
            )
            rows.append(
                {
                    "benchmark": "Kronecker LML + gradient",
                    "n": n,
                    "n_tasks": n_tasks,
                    "n_observations": n * n_tasks,
                    "n_params": len(theta),
                    "min_s": timing.min,
                    "median_s": timing.median,
                }
            )
    n, n_tasks = dense_size
    models = {
        solver: kronecker_model(n, n_tasks, solver=solver)
        for solver in ("kronecker", "dense")
    }
    theta = models["kronecker"].theta_
    same_lml = compare(
        f"LML + gradient, n={n}, t={n_tasks} (N={n * n_tasks})",
        {
            solver: lambda m=model: m.log_marginal_likelihood(theta, True)
            for solver, model in models.items()
        },
        objective=lambda result: result[0],
        rtol=1e-8,
        repeat=3,
    )
    return rows, same_lml


# --------------------------------------------------------------------------
# (c) accuracy
# --------------------------------------------------------------------------


def draw_two_scale_lmc(n_train, n_test, seed=0):
    """Wide data from an LMC: a smooth and a rough latent process.

    Task 0 is mostly smooth, task 2 mostly rough, tasks 1 and 3 mix both;
    task 3 observes only 10% of the training rows and 20% of all other
    targets are missing.
    """
    rng = np.random.RandomState(seed)
    n_rows = n_train + n_test
    X = rng.uniform(0, 1, size=(n_rows, 2))
    smooth = RBF(0.8)(X)
    rough = RBF(0.12)(X)
    jitter = 1e-8 * np.eye(n_rows)
    g_smooth = np.linalg.cholesky(smooth + jitter) @ rng.standard_normal(n_rows)
    g_rough = np.linalg.cholesky(rough + jitter) @ rng.standard_normal(n_rows)
    weights = np.array([[1.0, 0.1], [0.8, 0.6], [0.2, 1.0], [-0.7, 0.7]])
    F = np.column_stack([g_smooth, g_rough]) @ weights.T
    Y = F[:n_train] + 0.1 * rng.standard_normal((n_train, 4))
    Y[rng.rand(n_train, 4) < 0.2] = np.nan
    Y[rng.rand(n_train) > 0.1, 3] = np.nan
    return X[:n_train], Y, X[n_train:], F[n_train:]


def draw_linear_tasks(n_train, n_test, seed=0):
    X, Y, _ = make_multitask_regression(
        n_tasks=4,
        n_samples=n_train + n_test,
        n_features=5,
        n_informative=3,
        task_relatedness=0.9,
        noise=0.0,
        format="wide",
        random_state=seed,
    )
    rng = np.random.RandomState(seed + 1)
    Y_noisy = Y[:n_train] + 0.5 * rng.standard_normal((n_train, 4))
    return X[:n_train], Y_noisy, X[n_train:], Y[n_train:]


#: Student-level School features (the school-level ones are constant within
#: a task: a per-task GP cannot use them).
SCHOOL_FEATURES = [
    "year_1985",
    "year_1986",
    "student_gender_female",
    "vr_band_1",
    "vr_band_2",
    "ethnic_group_eswi",
]


def load_school_subset(n_schools, seed=0):
    """``n_schools`` random schools of ``load_school``, half of each for test.

    Long format: column 0 of ``X`` is the task (0..n_schools-1), then
    :data:`SCHOOL_FEATURES`; the targets are the exam scores (real data:
    the test RMSE is against the observed, noisy, scores).
    """
    school = load_school()
    columns = [school.feature_names.index(name) + 1 for name in SCHOOL_FEATURES]
    rng = np.random.RandomState(seed)
    labels = rng.choice(np.unique(school.data[:, 0]), n_schools, replace=False)
    train, test = [], []
    for task, label in enumerate(labels):
        rows = rng.permutation(np.flatnonzero(school.data[:, 0] == label))
        block = np.column_stack(
            [np.full(len(rows), task), school.data[rows][:, columns]]
        )
        half = len(rows) // 2
        train.append((block[:half], school.target[rows[:half]]))
        test.append((block[half:], school.target[rows[half:]]))
    X, y = (np.concatenate(part) for part in zip(*train))
    X_test, y_test = (np.concatenate(part) for part in zip(*test))
    return X, y, X_test, y_test


def load_linnerud_standardised():
    """``sklearn.datasets.load_linnerud``: 20 rows, 3 features, 3 outputs."""
    X, Y = load_linnerud(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), Y


def sklearn_gpr(n_features):
    kernel = ConstantKernel() * RBF(np.ones(n_features)) + WhiteKernel(0.1)
    return GaussianProcessRegressor(kernel, normalize_y=True, random_state=0)


def per_task_gpr(X, Y, X_test):
    predictions = []
    for t in range(Y.shape[1]):
        observed = ~np.isnan(Y[:, t])
        model = sklearn_gpr(X.shape[1]).fit(X[observed], Y[observed, t])
        predictions.append(model.predict(X_test))
    return np.column_stack(predictions)


def per_task_gpr_long(X, y, X_test):
    """One sklearn GPR per task of long-format data (task in column 0)."""
    prediction = np.empty(len(X_test))
    for task in np.unique(X[:, 0]):
        rows, test_rows = X[:, 0] == task, X_test[:, 0] == task
        model = sklearn_gpr(X.shape[1] - 1).fit(X[rows, 1:], y[rows])
        prediction[test_rows] = model.predict(X_test[test_rows, 1:])
    return prediction


#: Multi-task models of part (c): the ICM with rank 1 and 2, and the LMC
#: with two latent processes of rank 1 (each with its own kernel and
#: per-task ``kappa``, so it can fall back towards independent tasks).
MTGP_MODELS = {
    "ICM rank 1": {"rank": 1},
    "ICM rank 2": {"rank": 2},
    "LMC Q=2 rank 1": {"n_latent": 2, "rank": 1},
}


def accuracy_models(n_features, long=False):
    def mtgp(**params):
        kernel = ConstantKernel() * RBF(np.ones(n_features))
        if long:
            params["task_column"] = 0
        return lambda X, Y, X_test: (
            MultiTaskGaussianProcessRegressor(kernel, random_state=0, **params)
            .fit(X, Y)
            .predict(X_test)
        )

    def multi_output(X, Y, X_test):
        if long or np.isnan(Y).any():
            return None  # MultiOutputRegressor needs every target of every row
        model = MultiOutputRegressor(sklearn_gpr(n_features)).fit(X, Y)
        return model.predict(X_test)

    models = {label: mtgp(**params) for label, params in MTGP_MODELS.items()}
    models["per-task GPR"] = per_task_gpr_long if long else per_task_gpr
    models["MultiOutput(GPR)"] = multi_output
    return models


def leave_one_out(fit_predict, X, Y):
    """Leave-one-row-out predictions of a wide model, shape of ``Y``."""
    predictions = []
    for row in range(len(X)):
        keep = np.arange(len(X)) != row
        prediction = fit_predict(X[keep], Y[keep], X[row : row + 1])
        if prediction is None:
            return None
        predictions.append(prediction[0])
    return np.array(predictions)


def _score_rows(name, n_train, scores, fit_times, labels):
    """Per-task RMSE rows, then the mean and fit-time rows, of one data set."""
    rows = []
    for t, count in enumerate(n_train):
        row = {"dataset": name, "task": t, "n_train": int(count)}
        for label in labels:
            row[label] = None if scores[label] is None else scores[label][t]
        rows.append(row)
    mean_row = {"dataset": name, "task": "mean", "n_train": None}
    time_row = {"dataset": name, "task": "fit s", "n_train": None}
    for label in labels:
        known = scores[label] is not None
        mean_row[label] = float(np.mean(scores[label])) if known else None
        time_row[label] = fit_times[label] if known else None
    return rows + [mean_row, time_row]


def _wide_scores(X, Y, X_test, F_test, loo=False):
    models = accuracy_models(X.shape[1])
    scores, fit_times = {}, {}
    for label, fit_predict in models.items():
        start = time.perf_counter()
        if loo:
            prediction = leave_one_out(fit_predict, X, Y)
        else:
            prediction = fit_predict(X, Y, X_test)
        fit_times[label] = time.perf_counter() - start
        scores[label] = (
            None
            if prediction is None
            else [rmse(prediction[:, t], F_test[:, t]) for t in range(Y.shape[1])]
        )
    n_train = (~np.isnan(Y)).sum(axis=0) - (1 if loo else 0)
    return n_train, scores, fit_times, list(models)


def _long_scores(X, y, X_test, y_test):
    models = accuracy_models(X.shape[1] - 1, long=True)
    n_tasks = int(X[:, 0].max()) + 1
    scores, fit_times = {}, {}
    for label, fit_predict in models.items():
        start = time.perf_counter()
        prediction = fit_predict(X, y, X_test)
        fit_times[label] = time.perf_counter() - start
        scores[label] = None
        if prediction is not None:
            scores[label] = [
                rmse(prediction[X_test[:, 0] == t], y_test[X_test[:, 0] == t])
                for t in range(n_tasks)
            ]
    n_train = np.bincount(X[:, 0].astype(int), minlength=n_tasks)
    return n_train, scores, fit_times, list(models)


def part_c(n_train, n_test, n_schools):
    synthetic = {
        "c1 two-scale LMC (NaN)": draw_two_scale_lmc(n_train, n_test),
        "c2 make_multitask_regression": draw_linear_tasks(n_train // 3, n_test),
    }
    rows = []
    for name, (X, Y, X_test, F_test) in synthetic.items():
        rows += _score_rows(name, *_wide_scores(X, Y, X_test, F_test))
    X, Y = load_linnerud_standardised()
    rows += _score_rows("c3 linnerud (LOO)", *_wide_scores(X, Y, X, Y, loo=True))
    school = load_school_subset(n_schools)
    rows += _score_rows(f"c4 school, {n_schools} schools", *_long_scores(*school))
    return rows


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (~1 min)")
    parser.add_argument("--skip-gpy", action="store_true", help="skmtl only in (a)")
    parser.add_argument("--parts", default="abc", help="parts to run, e.g. 'bc'")
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="limit BLAS threads of every library for the whole run",
    )
    args = parser.parse_args(argv)
    settings = dict(QUICK_SETTINGS if args.quick else FULL_SETTINGS)
    settings.update(
        quick=args.quick,
        a_test_rows_per_task=200,
        c_test_rows=500,
        gpy=None if GPy is None else GPy.__version__,
        gpy_import_error=GPY_IMPORT_ERROR,
        blas_threads=args.blas_threads,
        load_average_at_start=os.getloadavg(),
    )
    if GPy is None:
        print(
            f"GPy could not be imported ({GPY_IMPORT_ERROR}); (a) reports skmtl only."
        )
    limit = (
        contextlib.nullcontext()
        if args.blas_threads is None
        else threadpool_limits(limits=args.blas_threads, user_api="blas")
    )
    with limit, warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        all_rows = run_parts(args.parts, settings, args.skip_gpy)
    settings["load_average_at_end"] = os.getloadavg()
    flat = [dict(row, part=part) for part, rows in all_rows.items() for row in rows]
    path = write_json(_result_name(args), flat, settings=settings)
    print(f"\nwrote {path}")


def _result_name(args):
    """``mtgp[_quick][_blas<k>][_<parts>]``: runs of other options do not clash."""
    name = "mtgp_quick" if args.quick else "mtgp"
    if args.blas_threads is not None:
        name += f"_blas{args.blas_threads}"
    if sorted(args.parts) != ["a", "b", "c"]:
        name += "_" + "".join(sorted(set(args.parts)))
    return name


QUICK_SETTINGS = {
    "a_rows_per_task": 150,
    "b_sizes": [250, 500],
    "b_task_counts": [4, 8],
    "b_dense": [100, 8],
    "c_rows": 120,
    "c_schools": 4,
}
FULL_SETTINGS = {
    "a_rows_per_task": 800,
    "b_sizes": [500, 1000, 2000],
    "b_task_counts": [8, 16, 32],
    "b_dense": [250, 8],
    "c_rows": 300,
    "c_schools": 15,
}

A_COLUMNS = [
    "benchmark",
    "candidate",
    "solver",
    "n_observations",
    "lml_evaluations",
    "median_s",
    "speedup",
    "objective",
    "same_objective",
    "mean_test_rmse",
]


def run_parts(parts, settings, skip_gpy):
    all_rows = {}
    if "a" in parts:
        rows = part_a(settings["a_rows_per_task"], 200, skip_gpy)
        title = "(a) ICM fit: time, LML (objective) and mean test RMSE over 4 tasks"
        print_table(rows, columns=A_COLUMNS, title=title)
        all_rows["a"] = rows
    if "b" in parts:
        rows, same_lml = part_b(
            settings["b_sizes"], settings["b_task_counts"], settings["b_dense"]
        )
        print()
        print_table(rows, title="(b) one LML + gradient evaluation, Kronecker solver")
        print()
        print_table(
            same_lml,
            columns=["benchmark", "candidate", "median_s", "speedup", "objective"],
            title="(b) same LML, Kronecker vs dense",
        )
        all_rows["b"] = rows + same_lml
    if "c" in parts:
        rows = part_c(
            settings["c_rows"], settings["c_test_rows"], settings["c_schools"]
        )
        print()
        print_table(
            rows,
            title="(c) test RMSE per task (c1, c2: against the noise-free truth; "
            "c3, c4 real data: against the observed targets)",
        )
        all_rows["c"] = rows
    return all_rows


if __name__ == "__main__":
    main()
