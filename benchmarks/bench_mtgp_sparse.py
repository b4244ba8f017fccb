"""Multi-task GP, sparse solver: School in one fit, and scaling in N.

Two parts, in one process:

(a) **School** (``skmtl.datasets.load_school``, long format, 27 features,
    139 schools): 75% of every school for training (11,472 rows), the rest
    for test. One fit of ``MultiTaskGaussianProcessRegressor`` (default
    kernel, ``solver="auto"``, which picks the sparse solver, ``M``
    inducing inputs) against ``RidgeCV`` per school and pooled
    (``StandardScaler`` + ``RidgeCV`` on all schools); ``solver="sparse"``
    is explicit so that the 20 schools of ``--quick`` use it too; fit time and
    explained variance on the held-out 25%.
(b) **Scaling**: N = 2,000 / 10,000 / 50,000 training rows from a rank-2
    ICM with 4 tasks (long format, every task at its own inputs, 2
    features), 2,000 test rows. Fit time, peak traced memory
    (``tracemalloc``, a lower bound: BLAS buffers are not seen; measured on
    a fit with ``optimizer=None``, which makes the same allocations as one
    evaluation of the optimised fit) and test
    RMSE of the sparse solver (``M`` inducing inputs) and of the exact dense
    solver where it fits (N = 2,000), and of GPy's sparse coregionalised
    regression with the same inducing inputs (fixed, placed at every task;
    skipped with a message when ``import GPy`` fails, or above
    ``--gpy-max-rows``), with the ratios GPy / skmtl.

Run ``python benchmarks/bench_mtgp_sparse.py`` (several minutes on 2
cores) or ``--quick`` (20 schools, smaller sizes; about a minute). Results go to
``benchmarks/results/mtgp_sparse[_quick].json``.
"""

import argparse
import functools
import os
import time
import tracemalloc
import warnings

import numpy as np
from _harness import print_table, write_json
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeCV
from sklearn.metrics import explained_variance_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmtl.datasets import load_school
from skmtl.gaussian_process import MultiTaskGaussianProcessRegressor

try:  # GPy is optional.
    import GPy
except Exception as exc:
    GPY_IMPORT_ERROR = f"{type(exc).__name__}: {exc}"
else:
    GPY_IMPORT_ERROR = None

FULL_SETTINGS = {
    "school_inducing": 100,
    "n_schools": None,
    "sizes": (2000, 10000, 50000),
    "M": 100,
}
QUICK_SETTINGS = {"school_inducing": 30, "n_schools": 20, "sizes": (600, 3000), "M": 30}
RIDGE_ALPHAS = np.logspace(-3, 3, 13)


def school_split(n_schools=None, seed=0):
    """75% of every school (rounded down) for training, the rest for test.

    ``n_schools``: the first ones only (all 139 if None).
    """
    school = load_school()
    X, y = school.data, school.target
    if n_schools is not None:
        keep = np.isin(X[:, 0], np.unique(X[:, 0])[:n_schools])
        X, y = X[keep], y[keep]
    rng = np.random.RandomState(seed)
    train = []
    for label in np.unique(X[:, 0]):
        rows = rng.permutation(np.flatnonzero(X[:, 0] == label))
        train.extend(rows[: int(0.75 * len(rows))])
    train = np.sort(train)
    test = np.setdiff1d(np.arange(len(y)), train)
    return X[train], y[train], X[test], y[test]


def _timed(func):
    start = time.perf_counter()
    result = func()
    return result, time.perf_counter() - start


def _peak(func):
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def part_a(n_inducing, n_schools):
    X, y, X_test, y_test = school_split(n_schools)
    rows = []
    gp = MultiTaskGaussianProcessRegressor(
        task_column=0, solver="sparse", inducing_points=n_inducing, random_state=0
    )
    gp, seconds = _timed(lambda: gp.fit(X, y))
    rows.append(
        {
            "model": f"MTGP {gp.solver_}, M={n_inducing}",
            "n_train": len(y),
            "fit_s": seconds,
            "explained_variance": explained_variance_score(y_test, gp.predict(X_test)),
        }
    )

    def pooled():
        model = make_pipeline(StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS))
        return model.fit(X[:, 1:], y).predict(X_test[:, 1:])

    prediction, seconds = _timed(pooled)
    rows.append(
        {
            "model": "pooled RidgeCV",
            "n_train": len(y),
            "fit_s": seconds,
            "explained_variance": explained_variance_score(y_test, prediction),
        }
    )

    def per_task():
        prediction = np.empty(len(y_test))
        for label in np.unique(X[:, 0]):
            train, test = X[:, 0] == label, X_test[:, 0] == label
            model = make_pipeline(StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS))
            model.fit(X[train, 1:], y[train])
            prediction[test] = model.predict(X_test[test, 1:])
        return prediction

    prediction, seconds = _timed(per_task)
    rows.append(
        {
            "model": "per-task RidgeCV",
            "n_train": len(y),
            "fit_s": seconds,
            "explained_variance": explained_variance_score(y_test, prediction),
        }
    )
    return rows


def draw_icm(n_train, n_test, n_tasks=4, seed=0):
    """Long-format data from a rank-2 ICM with an RBF kernel, 2 features."""
    rng = np.random.RandomState(seed)
    n = n_train + n_test
    X = rng.uniform(-3, 3, size=(n, 2))
    task = rng.randint(n_tasks, size=n)
    # Two latent functions (random Fourier features of an RBF, l = 1.5).
    W, b = rng.randn(2, 300) / 1.5, rng.uniform(0, 2 * np.pi, 300)
    features = np.sqrt(2.0 / 300) * np.cos(X @ W + b)
    latent = features @ rng.randn(300, 2)
    mixing = rng.randn(n_tasks, 2)
    f = np.sum(latent * mixing[task], axis=1)
    y = f + 0.2 * rng.randn(n)
    data = np.column_stack([task, X])
    return data[:n_train], y[:n_train], data[n_train:], f[n_train:]


def _fit_icm(solver, n_inducing, X, y, optimizer="fmin_l_bfgs_b"):
    model = MultiTaskGaussianProcessRegressor(
        task_column=0,
        rank=2,
        solver=solver,
        inducing_points=n_inducing,
        optimizer=optimizer,
        random_state=0,
    )
    return model.fit(X, y)


def _gpy_inputs(X):
    """GPy's coregionalised layout: the features, then the task index."""
    return np.column_stack([X[:, 1:], X[:, 0]])


def _fit_gpy(X, y, Z, n_tasks=4, optimize=True):
    """GPy's sparse coregionalised regression with inducing inputs ``Z`` fixed.

    GPy places the ``M`` inputs at every output (``Z_list = [Z] * n_tasks``);
    for an ICM with an invertible ``B`` its inducing variables span the same
    space as skmtl's (shared and task-specific processes at ``Z``), so both
    maximise the same bound. Rank-2 ICM with an ARD RBF, one Gaussian noise
    per task, inducing inputs fixed as in skmtl's default.
    """
    tasks = X[:, 0].astype(int)
    X_list = [X[tasks == t, 1:] for t in range(n_tasks)]
    Y_list = [y[tasks == t, np.newaxis] for t in range(n_tasks)]
    kernel = GPy.util.multioutput.ICM(
        input_dim=X.shape[1] - 1,
        num_outputs=n_tasks,
        kernel=GPy.kern.RBF(X.shape[1] - 1, ARD=True),
        W_rank=2,
    )
    model = GPy.models.SparseGPCoregionalizedRegression(
        X_list, Y_list, Z_list=[Z] * n_tasks, kernel=kernel
    )
    model.inducing_inputs.fix()
    if optimize:
        model.optimize("lbfgsb", max_iters=1000)
    return model


def _gpy_rows(X, y, X_test, f_test, Z, n_train, gpy_max_rows):
    if GPY_IMPORT_ERROR is not None:
        return []
    if n_train > gpy_max_rows:
        print(f"GPy skipped at N = {n_train} (--gpy-max-rows {gpy_max_rows}).")
        return []
    model, seconds = _timed(lambda: _fit_gpy(X, y, Z))
    tasks = X_test[:, 0].astype(int)
    mean, _ = model.predict(
        _gpy_inputs(X_test), Y_metadata={"output_index": tasks[:, np.newaxis]}
    )
    # As for skmtl: building the model evaluates the bound and its gradient
    # once, which is the peak of every optimiser step.
    memory = _peak(lambda: _fit_gpy(X, y, Z, optimize=False))
    return [
        {
            "model": f"GPy SparseGPCoregionalizedRegression, M={len(Z)}",
            "n_train": n_train,
            "fit_s": seconds,
            "peak_memory_MiB": memory / 2**20,
            "test_rmse": float(np.sqrt(np.mean((mean[:, 0] - f_test) ** 2))),
            "bound_or_lml": float(model.log_likelihood()),
        }
    ]


def _ratios(rows):
    """GPy's time and memory over skmtl sparse's, at every N."""
    by_size = {}
    for row in rows:
        kind = "gpy" if row["model"].startswith("GPy") else row["model"]
        by_size.setdefault(row["n_train"], {})[kind] = row
    ratios = []
    for n_train, models in by_size.items():
        sparse = next((r for k, r in models.items() if "sparse" in k), None)
        if sparse is None or "gpy" not in models:
            continue
        gpy = models["gpy"]
        ratios.append(
            {
                "n_train": n_train,
                "time GPy/skmtl": gpy["fit_s"] / sparse["fit_s"],
                "memory GPy/skmtl": gpy["peak_memory_MiB"] / sparse["peak_memory_MiB"],
                "rmse GPy/skmtl": gpy["test_rmse"] / sparse["test_rmse"],
            }
        )
    return ratios


def part_b(sizes, n_inducing, gpy_max_rows=np.inf):
    rows = []
    for n_train in sizes:
        X, y, X_test, f_test = draw_icm(n_train, 2000)
        solvers = ["sparse"] + (["dense"] if n_train <= 2000 else [])
        Z = None
        for solver in solvers:
            fit = functools.partial(_fit_icm, solver, n_inducing, X, y)
            model, seconds = _timed(fit)
            rmse = np.sqrt(np.mean((model.predict(X_test) - f_test) ** 2))
            # Every evaluation allocates the same arrays: the peak of a fit
            # is that of its start, one evaluation and the posterior, which
            # a fit without optimiser measures at a fraction of the time.
            memory = _peak(functools.partial(fit, optimizer=None))
            rows.append(
                {
                    "model": f"skmtl {solver}"
                    + (f", M={n_inducing}" if solver == "sparse" else ""),
                    "n_train": n_train,
                    "fit_s": seconds,
                    "peak_memory_MiB": memory / 2**20,
                    "test_rmse": rmse,
                    "bound_or_lml": model.log_marginal_likelihood_value_,
                }
            )
            print(rows[-1], flush=True)
            if solver == "sparse":
                Z = model.inducing_points_
        rows += _gpy_rows(X, y, X_test, f_test, Z, n_train, gpy_max_rows)
        if rows and rows[-1]["model"].startswith("GPy"):
            print(rows[-1], flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (<1 min)")
    parser.add_argument("--parts", default="ab", help="parts to run, e.g. 'b'")
    parser.add_argument(
        "--sizes", type=int, nargs="+", help="training sizes of part (b)"
    )
    parser.add_argument(
        "--gpy-max-rows",
        type=float,
        default=np.inf,
        help="skip GPy above this many training rows (it is slow)",
    )
    args = parser.parse_args(argv)
    settings = dict(QUICK_SETTINGS if args.quick else FULL_SETTINGS)
    if args.sizes:
        settings["sizes"] = tuple(args.sizes)
    settings.update(
        quick=args.quick,
        gpy_import_error=GPY_IMPORT_ERROR,
        load_average_at_start=os.getloadavg(),
    )
    if GPY_IMPORT_ERROR is not None:
        print(f"GPy could not be imported ({GPY_IMPORT_ERROR}): skmtl only.")
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if "a" in args.parts:
            part = part_a(settings["school_inducing"], settings["n_schools"])
            print_table(part, title="(a) School, one fit, held-out 25%")
            rows += [dict(row, part="a") for row in part]
        if "b" in args.parts:
            part = part_b(settings["sizes"], settings["M"], args.gpy_max_rows)
            print_table(part, title="(b) rank-2 ICM, 4 tasks, long format")
            rows += [dict(row, part="b") for row in part]
            ratios = _ratios(part)
            if ratios:
                print_table(ratios, title="(b) GPy / skmtl sparse, same M")
                rows += [dict(row, part="b-ratio") for row in ratios]
    settings["load_average_at_end"] = os.getloadavg()
    name = "mtgp_sparse_quick" if args.quick else "mtgp_sparse"
    print(f"\nwrote {write_json(name, rows, settings=settings)}")


if __name__ == "__main__":
    main()
