"""Mean-regularised multi-task regression: speed, scaling and accuracy.

Four cases, all in one process:

(a) **School, same objective**: ``MeanRegularizedRegressor`` with the closed
    form against the cvxpy reference formulation of the same objective (and
    the L-BFGS solver), on the 139 schools in long format; the objective is
    evaluated on every candidate's coefficients with one function.
(b) **Scaling**: closed-form fit time and peak traced memory for 100, 300 and
    1000 tasks of 200 rows x 200 features; both should grow linearly with
    the number of tasks.
(c) **Cross-validation**: ``MeanRegularizedRegressorCV`` against
    ``GridSearchCV(MeanRegularizedRegressor)`` over the same grid and the same
    ``TaskKFold`` folds on School: speed-up, the selected point, and the
    largest difference of the mean test scores.
(d) **Accuracy on School**: the usual protocol (75/25 of every school, 10
    random splits; Argyriou et al. 2008). Hyper-parameters are chosen on the
    training part only: ``RidgeCV``'s leave-one-out for the per-task and the
    pooled Ridge baselines, task-aware 5-fold CV for
    ``MeanRegularizedRegressorCV``. Reported: pooled test R^2 (the "explained
    variance" of the School literature), mean +- std over the splits.

Features: School's features are counts, percentages and binary indicators on
very different scales, while every model here has one ridge strength for all
coefficients. All cases standardise the features (``StandardScaler`` fitted on
the training rows only in (d), so that the test rows stay unseen); this is the
same for every model, so the comparison stays fair.

Run ``python benchmarks/bench_mean_regularized.py`` (a few minutes) or with
``--quick`` (well under a minute); ``--help`` lists the options.
"""

import argparse
import time

import numpy as np
from _harness import blas_overrides, compare, peak_memory, print_table, write_json
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from skmtl._tasks import check_task_data
from skmtl.datasets import load_school, make_multitask_regression
from skmtl.linear_model import MeanRegularizedRegressor, MeanRegularizedRegressorCV
from skmtl.model_selection import TaskKFold, train_test_split_tasks
from skmtl.solvers.closed_form import mean_regularized_objective

RIDGE_ALPHAS = np.logspace(-3, 4, 15)


def standardised_school():
    """School in long format (task in column 0), features standardised."""
    X, y = load_school(return_X_y=True)
    X = X.copy()
    X[:, 1:] = StandardScaler().fit_transform(X[:, 1:])
    return X, y


def objective_of(X, y, alpha, alpha_mean):
    """The documented objective evaluated on a fitted model's coefficients."""
    data = check_task_data(MeanRegularizedRegressor(), X, y, task_column=0)

    def objective(model):
        return mean_regularized_objective(
            data,
            model.coef_,
            model.intercept_,
            model.shared_coef_,
            alpha=alpha,
            alpha_mean=alpha_mean,
        )

    return objective


def school_same_objective(args):
    """(a) closed form vs cvxpy (and L-BFGS) on School, same objective."""
    X, y = standardised_school()
    alpha, alpha_mean = args.alpha, args.alpha_mean

    def fit(solver, **params):
        return lambda: MeanRegularizedRegressor(
            alpha, alpha_mean, task_column=0, solver=solver, **params
        ).fit(X, y)

    rows = compare(
        "school_same_objective",
        {
            "closed_form": fit("closed_form"),
            "lbfgs": fit("lbfgs"),
            "cvxpy": fit("cvxpy"),
        },
        objective=objective_of(X, y, alpha, alpha_mean),
        rtol=1e-6,
        repeat=args.repeat,
        warmup=0,
        reference="cvxpy",
    )
    title = (
        f"(a) School, 139 tasks, alpha={alpha}, alpha_mean={alpha_mean}: "
        "speed-up over cvxpy at the same objective"
    )
    print_table(rows, title=title)
    return rows


def scaling(args):
    """(b) closed-form fit time and peak memory against the number of tasks."""
    rows = []
    for n_tasks in args.scaling_tasks:
        X, y, _ = make_multitask_regression(
            n_tasks,
            args.scaling_rows,
            args.scaling_features,
            n_informative=args.scaling_features,
            random_state=0,
        )
        model = MeanRegularizedRegressor(task_column=0)
        [row] = compare(
            f"scaling_{n_tasks}_tasks",
            {f"{n_tasks} tasks": lambda X=X, y=y, model=model: model.fit(X, y)},
            repeat=max(1, args.repeat // 2),
            warmup=0,
        )
        _, row["peak_memory_bytes"] = peak_memory(
            lambda X=X, y=y, model=model: model.fit(X, y)
        )
        row["n_tasks"] = n_tasks
        row["input_bytes"] = X.nbytes
        rows.append(row)
    first = rows[0]
    for row in rows:
        growth = row["n_tasks"] / first["n_tasks"]
        row["time_growth"] = row["median_s"] / first["median_s"] / growth
        row["memory_growth"] = (
            row["peak_memory_bytes"] / first["peak_memory_bytes"] / growth
        )
        row["peak_mb"] = row["peak_memory_bytes"] / 2**20
        row["input_mb"] = row["input_bytes"] / 2**20
    print_table(
        rows,
        columns=[
            "candidate",
            "median_s",
            "peak_mb",
            "input_mb",
            "time_growth",
            "memory_growth",
        ],
        title=(
            f"(b) scaling, {args.scaling_rows} rows x {args.scaling_features} "
            "features per task (growth = ratio to the first row per task; 1 = linear)"
        ),
    )
    return rows


def cv_versus_grid_search(args):
    """(c) MeanRegularizedRegressorCV vs GridSearchCV, same grid and folds."""
    X, y = standardised_school()
    folds = TaskKFold(5, task_column=0, shuffle=True, random_state=0)
    # The default grids depend on the data: take those the CV class builds
    # on School, so that both search the same points.
    fitted = MeanRegularizedRegressorCV(task_column=0, cv=folds).fit(X, y)
    grid = {"alpha": list(fitted.alphas_), "alpha_mean": list(fitted.alpha_means_)}
    candidates = {
        "MeanRegularizedRegressorCV": lambda: MeanRegularizedRegressorCV(
            task_column=0, cv=folds
        ).fit(X, y),
        "GridSearchCV": lambda: GridSearchCV(
            MeanRegularizedRegressor(task_column=0), grid, cv=folds
        ).fit(X, y),
    }
    rows = compare(
        "school_cv",
        candidates,
        objective=lambda search: search.best_score_,
        rtol=1e-8,
        repeat=max(1, args.repeat // 2),
        warmup=0,
        reference="GridSearchCV",
    )
    ours, theirs = (
        candidates["MeanRegularizedRegressorCV"](),
        candidates["GridSearchCV"](),
    )
    for row, fitted in zip(rows, (ours, theirs)):
        params = getattr(fitted, "best_params_", None) or {
            "alpha": fitted.alpha_,
            "alpha_mean": fitted.alpha_mean_,
        }
        row["alpha"], row["alpha_mean"] = params["alpha"], params["alpha_mean"]
    score_difference = np.max(
        np.abs(
            ours.cv_results_["mean_test_score"] - theirs.cv_results_["mean_test_score"]
        )
    )
    rows[0]["max_mean_score_diff"] = float(score_difference)
    n_points = len(grid["alpha"]) * len(grid["alpha_mean"])
    print_table(
        rows,
        columns=[
            "candidate",
            "median_s",
            "speedup",
            "objective",
            "same_objective",
            "alpha",
            "alpha_mean",
            "max_mean_score_diff",
        ],
        title=(
            f"(c) School, {n_points} grid points x 5 TaskKFold folds "
            "(objective = best mean CV R^2)"
        ),
    )
    return rows


def _per_task_ridge_cv(X_train, y_train, X_test):
    predictions = np.empty(len(X_test))
    for task in np.unique(X_train[:, 0]):
        train, test = X_train[:, 0] == task, X_test[:, 0] == task
        model = RidgeCV(alphas=RIDGE_ALPHAS).fit(X_train[train, 1:], y_train[train])
        predictions[test] = model.predict(X_test[test, 1:])
    return predictions


def _pooled_ridge_cv(X_train, y_train, X_test):
    model = RidgeCV(alphas=RIDGE_ALPHAS).fit(X_train[:, 1:], y_train)
    return model.predict(X_test[:, 1:])


def _mean_regularized_cv(X_train, y_train, X_test):
    model = MeanRegularizedRegressorCV(task_column=0).fit(X_train, y_train)
    return model.predict(X_test)


def school_accuracy(args):
    """(d) pooled test R^2 on School, 75/25 within every school."""
    X, y = load_school(return_X_y=True)
    models = {
        "per-task RidgeCV": _per_task_ridge_cv,
        "pooled RidgeCV": _pooled_ridge_cv,
        "MeanRegularizedRegressorCV": _mean_regularized_cv,
    }
    scores = {name: [] for name in models}
    seconds = {name: 0.0 for name in models}
    for seed in range(args.splits):
        X_train, X_test, y_train, y_test = train_test_split_tasks(
            X, y, task_column=0, test_size=0.25, random_state=seed
        )
        scaler = StandardScaler().fit(X_train[:, 1:])
        X_train, X_test = X_train.copy(), X_test.copy()
        X_train[:, 1:] = scaler.transform(X_train[:, 1:])
        X_test[:, 1:] = scaler.transform(X_test[:, 1:])
        for name, fit_predict in models.items():
            start = time.perf_counter()
            predictions = fit_predict(X_train, y_train, X_test)
            seconds[name] += time.perf_counter() - start
            scores[name].append(r2_score(y_test, predictions))
    rows = [
        {
            "candidate": name,
            "test_r2_mean": float(np.mean(values)),
            "test_r2_std": float(np.std(values)),
            "fit_predict_s": seconds[name] / args.splits,
            "test_r2_splits": [float(v) for v in values],
        }
        for name, values in scores.items()
    ]
    print_table(
        rows,
        title=(
            f"(d) School, 75/25 within every school, {args.splits} random splits: "
            "pooled test R^2"
        ),
    )
    return rows


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes, fewer repeats"
    )
    parser.add_argument(
        "--cases", default="abcd", help="which cases to run, e.g. 'ac' (default all)"
    )
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--alpha-mean", type=float, default=0.01)
    parser.add_argument("--scaling-tasks", type=int, nargs="+", default=None)
    parser.add_argument("--scaling-rows", type=int, default=200)
    parser.add_argument("--scaling-features", type=int, default=200)
    parser.add_argument("--splits", type=int, default=None)
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="limit BLAS threads (threadpoolctl); default: leave as is",
    )
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.scaling_tasks is None:
        args.scaling_tasks = [30, 100, 300] if args.quick else [100, 300, 1000]
    if args.splits is None:
        args.splits = 3 if args.quick else 10
    return args


def main(argv=None):
    """Run the selected cases, print their tables and write the JSON file.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; ``sys.argv[1:]`` if None.
    """
    args = parse_arguments(argv)
    overrides = blas_overrides()
    if overrides:
        print(f"NOTE: BLAS environment overrides are set: {overrides}")
    cases = {
        "a": school_same_objective,
        "b": scaling,
        "c": cv_versus_grid_search,
        "d": school_accuracy,
    }
    from threadpoolctl import threadpool_limits

    rows = []
    with threadpool_limits(limits=args.blas_threads, user_api="blas"):
        for key in args.cases:
            rows.extend(cases[key](args))
            print()
    path = write_json("mean_regularized", rows, settings=vars(args))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
