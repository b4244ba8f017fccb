"""Low-rank multi-task models: skmtl against cvxpy, at scale and on School.

The models: ``TraceNormRegressor`` (``alpha ||W||_*``),
``SparseLowRankRegressor`` (``W = P + Q``, ``alpha_sparse ||P||_1 +
alpha_rank ||Q||_*``), ``RobustMultiTaskRegressor`` (``W = L + S``,
``alpha_rank ||L||_* + alpha_outlier sum_t ||S[t]||_2``) and
``DirtyModelRegressor`` (``W = B + S``, ``alpha_shared sum_j max_t |B[t, j]|
+ alpha_task ||S||_1``), and their logistic classifiers. Every objective is
evaluated by one function written in this script from the fitted blocks and
intercepts, never by a solver's own value.

Cases (``--case``, repeat for several; default all):

``school-cvxpy``
    Each regressor on School (long format, ``task_column="school"``,
    standardised features) at a fixed penalty: the first strength at 0.1 of
    the model's ``_alpha_max`` with the ratio of the two strengths fixed
    (ratios in ``TWO_STRENGTH_RATIOS``, chosen so that both blocks are
    non-zero on School; the table counts the non-zero entries of each
    block). ``solver="cvxpy"`` (Clarabel, modelling time included) gives
    ``F*``; skmtl's auto solver and FISTA walk the tolerance ladder 1e-2 ...
    1e-12 and the first fit with objective ``<= F* (1 + 1e-6)`` is timed.
    Goal: 20x. The four logistic classifiers run the same way on the first
    ``--classifier-schools`` schools with the target "score above its
    median" (cvxpy's exponential cones are slow on the full data). With
    ``--quick`` the regressors use the first 30 schools too.
``scale``
    ``TraceNormRegressor`` on synthetic rank-5 tasks (200 rows x 200
    features each) for 125, 250, 500 and 1000 tasks, solvers auto (the
    column says which it picked), ADMM in Gram form and FISTA at one
    ``--tol``: seconds, tracemalloc peak, growth exponents between sizes (1 =
    linear in tasks), rank chosen.
``accuracy``
    School, 10 random 75/25 splits within every school: pooled test R^2
    ("explained variance") of ``TraceNormRegressorCV``,
    ``SparseLowRankRegressorCV``, ``RobustMultiTaskRegressorCV`` and
    ``DirtyModelRegressorCV`` against per-task and pooled ``RidgeCV``, and
    the rank the trace-norm model chose. A ``*CV`` class that cannot be
    imported is replaced by ``GridSearchCV`` over a small grid of the base
    estimator (fractions of ``_alpha_max`` on the training part, the same
    task-aware folds) and the table says so.

Each case prints its tables and writes
``benchmarks/results/low_rank_<case>[_quick].json`` with the git commit
measured (and any uncommitted change under ``skmtl/``). BLAS runs on one
thread unless ``--blas-threads`` says otherwise. ``--help`` lists the options.
"""

import argparse
import importlib
import inspect
import time
import warnings
from collections import namedtuple

import numpy as np
from _equal_objective import (
    TOL_LADDER,
    first_tol_reaching,
    reached,
    source_state,
    time_repeated,
)
from _harness import blas_overrides, peak_memory, print_table, time_callable, write_json
from scipy.special import log_expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skmtl.baseline import PerTaskEstimator, PooledEstimator
from skmtl.datasets import load_school
from skmtl.linear_model import (
    DirtyModelClassifier,
    DirtyModelRegressor,
    RobustMultiTaskClassifier,
    RobustMultiTaskRegressor,
    SparseLowRankClassifier,
    SparseLowRankRegressor,
    TraceNormClassifier,
    TraceNormRegressor,
)
from skmtl.model_selection import TaskKFold, train_test_split_tasks

CaseResult = namedtuple("CaseResult", "rows columns notes settings")

CVXPY = "cvxpy (Clarabel)"
CVXPY_RTOL = 1e-6
MAX_ITER = 100_000
#: Fraction of ``_alpha_max`` of the first strength in ``school-cvxpy``.
ALPHA_FRACTION = 0.1
#: Second strength / first strength of the two-strength models: on School
#: both blocks are non-zero at 0.1 alpha_max with these ratios.
TWO_STRENGTH_RATIOS = {
    "SparseLowRank": 3.0,  # alpha_rank = 3 alpha_sparse
    "RobustMultiTask": 0.5,  # alpha_outlier = 0.5 alpha_rank
    "DirtyModel": 0.05,  # alpha_task = 0.05 alpha_shared (shared_norm="linf")
}
RIDGE_ALPHAS = tuple(np.logspace(-3, 4, 15))

CVXPY_COLUMNS = [
    "candidate",
    "solver",
    "tol",
    "median_s",
    "speedup",
    "objective",
    "objective_rel_diff",
    "reached",
    "n_iter",
    "nonzero_blocks",
    "rank",
]


# --------------------------------------------------------------------------
# the models and their objective, written out here
# --------------------------------------------------------------------------


def _nuclear(W):
    return float(np.linalg.svd(W, compute_uv=False).sum())


#: name: (regressor, classifier, (first, second) strengths, penalty(model)).
MODELS = {
    "TraceNorm": (
        TraceNormRegressor,
        TraceNormClassifier,
        ("alpha", None),
        lambda m: m.alpha * _nuclear(m.coef_),
    ),
    "SparseLowRank": (
        SparseLowRankRegressor,
        SparseLowRankClassifier,
        ("alpha_sparse", "alpha_rank"),
        lambda m: (
            m.alpha_sparse * np.abs(m.sparse_coef_).sum()
            + m.alpha_rank * _nuclear(m.low_rank_coef_)
        ),
    ),
    "RobustMultiTask": (
        RobustMultiTaskRegressor,
        RobustMultiTaskClassifier,
        ("alpha_rank", "alpha_outlier"),
        lambda m: (
            m.alpha_rank * _nuclear(m.low_rank_coef_)
            + m.alpha_outlier * np.linalg.norm(m.outlier_coef_, axis=1).sum()
        ),
    ),
    "DirtyModel": (
        DirtyModelRegressor,
        DirtyModelClassifier,
        ("alpha_shared", "alpha_task"),
        lambda m: (
            m.alpha_shared * np.abs(m.block_sparse_coef_).max(axis=0).sum()
            + m.alpha_task * np.abs(m.sparse_coef_).sum()
        ),
    ),
}


def model_objective(X, y, task_column, name, loss):
    """``model -> objective`` of the documented problem of model ``name``.

    ``sum_t (1/n_t) sum_{i in t} loss_i + penalty`` with the squared loss
    halved, or the logistic loss plus ``(intercept_alpha / 2) sum_t (b_t -
    b_0)^2`` at the best ``b_0`` (the mean intercept).
    """
    features = X.drop(columns=task_column).to_numpy(dtype=float)
    tasks = X[task_column].to_numpy()
    penalty = MODELS[name][3]

    def objective(model):
        rows = np.searchsorted(model.tasks_, tasks)
        weight = 1.0 / np.bincount(rows)[rows]
        z = np.einsum("ij,ij->i", features, model.coef_[rows]) + model.intercept_[rows]
        if loss == "squared":
            fit = 0.5 * np.sum(weight * (y - z) ** 2)
        else:
            sign = np.where(y == model.classes_[1], 1.0, -1.0)
            b = model.intercept_
            fit = -np.sum(weight * log_expit(sign * z))
            fit += 0.5 * model.intercept_alpha * np.sum((b - b.mean()) ** 2)
        return float(fit + penalty(model))

    return objective


def strengths(name, estimator, X, y):
    """The strengths of ``school-cvxpy`` and a line that states them."""
    first, second = MODELS[name][2]
    ratio = TWO_STRENGTH_RATIOS.get(name)
    if second is not None:
        estimator.set_params(**{first: 1.0, second: ratio})
    alpha_max = estimator._alpha_max(X, y)
    params = {first: ALPHA_FRACTION * alpha_max}
    text = f"{first}={params[first]:.5g} ({ALPHA_FRACTION:g} alpha_max={alpha_max:.5g})"
    if second is not None:
        params[second] = ratio * params[first]
        text += f", {second}={params[second]:.5g} (= {ratio:g} {first})"
    return params, text


def _block_summary(model):
    names = getattr(model, "_block_attributes", ("coef_",))
    counts = [int(np.sum(np.abs(getattr(model, a)) > 1e-10)) for a in names]
    return "/".join(str(c) for c in counts)


# --------------------------------------------------------------------------
# school-cvxpy
# --------------------------------------------------------------------------


def school_frame(n_schools=None, standardise=True):
    """School (first ``n_schools`` schools), features standardised."""
    bunch = load_school(as_frame=True)
    X, task_column = bunch.data, bunch.task_column
    y = bunch.target.to_numpy(dtype=float)
    if n_schools is not None:
        keep = X[task_column].isin(X[task_column].unique()[:n_schools]).to_numpy()
        X, y = X[keep].reset_index(drop=True), y[keep]
    X = X.copy()
    features = [column for column in X.columns if column != task_column]
    if standardise:
        X[features] = StandardScaler().fit_transform(X[features])
    return X, y, task_column


def _against_cvxpy(name, model_name, estimator_class, X, y, task_column, loss, args):
    """Rows of cvxpy (timed once) and skmtl auto / FISTA at cvxpy's objective."""
    estimator = estimator_class(task_column=task_column, max_iter=MAX_ITER)
    params, text = strengths(model_name, estimator, X, y)
    objective = model_objective(X, y, task_column, model_name, loss)

    def fit(solver, tol=1e-4):
        return estimator_class(
            **params, task_column=task_column, solver=solver, tol=tol, max_iter=MAX_ITER
        ).fit(X, y)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # One timed call: a cvxpy fit on full School takes minutes.
        timing = time_callable(lambda: fit("cvxpy"), repeat=1, warmup=0)
    inaccurate = any("inaccurate" in str(w.message) for w in caught)
    target = objective(timing.result)
    rows = [_cvxpy_row(name, CVXPY, None, timing, target, target, True)]
    for label, solver, tols in (
        ("skmtl auto", "auto", TOL_LADDER),
        ("skmtl FISTA", "fista", TOL_LADDER),
        # Shows how far below cvxpy's objective a tight fit goes.
        ("skmtl auto tol=1e-8", "auto", (1e-8,)),
    ):
        tol, ok = first_tol_reaching(
            lambda t, s=solver: fit(s, t), tols, objective, target, CVXPY_RTOL
        )
        timed = time_repeated(lambda s=solver, t=tol: fit(s, t), args.repeat)
        value = objective(timed.result)
        rows.append(_cvxpy_row(name, label, tol, timed, value, target, ok))
    for row in rows:
        row["speedup"] = rows[0]["median_s"] / row["median_s"]
        row["model"] = model_name
        row["strengths"] = text
    notes = [f"{name}: {text}."]
    if inaccurate:
        notes.append(f"{name}: cvxpy reported optimal_inaccurate; F* is its value.")
    return rows, notes


def _cvxpy_row(name, label, tol, timing, value, target, ok):
    model = timing.result
    return {
        "benchmark": name,
        "candidate": label,
        "solver": model.solver_,
        "tol": tol,
        "median_s": timing.median,
        "min_s": timing.min,
        "objective": value,
        "objective_rel_diff": (value - target) / abs(target),
        "reached": bool(ok and reached(value, target, CVXPY_RTOL)),
        "n_iter": model.n_iter_,
        "nonzero_blocks": _block_summary(model),
        "rank": getattr(model, "rank_", None),
        "times_s": timing.times,
    }


def case_school_cvxpy(args):
    n_regression = 30 if args.quick else None
    rows, notes = [], []
    X, y, task_column = school_frame(n_regression)
    where = f"{X[task_column].nunique()} schools, {len(X)} rows"
    for model_name, (regressor, _, _, _) in MODELS.items():
        name = f"{regressor.__name__}, School ({where}), squared loss"
        new_rows, new_notes = _against_cvxpy(
            name, model_name, regressor, X, y, task_column, "squared", args
        )
        rows += new_rows
        notes += new_notes
    X, y, task_column = school_frame(args.classifier_schools)
    y = (y > np.median(y)).astype(int)
    where = f"{X[task_column].nunique()} schools, {len(X)} rows"
    for model_name, (_, classifier, _, _) in MODELS.items():
        name = f"{classifier.__name__}, School ({where}), score > median, logistic"
        new_rows, new_notes = _against_cvxpy(
            name, model_name, classifier, X, y, task_column, "logistic", args
        )
        rows += new_rows
        notes += new_notes
    for row in rows:
        if row["candidate"] != CVXPY:
            met = row["speedup"] >= 20 and row["reached"]
            row["goal_20x"] = "met" if met else "NOT met"
    notes.append(
        "tol: first rung of the ladder whose objective is <= F* (1 + 1e-6); "
        "reached = some rung got there. nonzero_blocks: entries > 1e-10 of "
        "each block (cvxpy's are never exactly zero)."
    )
    settings = {
        "regression_schools": n_regression,
        "classifier_schools": args.classifier_schools,
        "alpha_fraction": ALPHA_FRACTION,
        "ratios": TWO_STRENGTH_RATIOS,
        "rtol": CVXPY_RTOL,
    }
    return CaseResult(rows, CVXPY_COLUMNS + ["goal_20x"], notes, settings)


# --------------------------------------------------------------------------
# scale
# --------------------------------------------------------------------------


def low_rank_tasks(n_tasks, n_rows, n_features, rank=5, noise=0.1, seed=0):
    """Long-format tasks with ``W = U V`` of rank ``rank``, plus noise."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n_tasks, rank)) @ rng.standard_normal((rank, n_features))
    W /= np.sqrt(n_features)
    features = rng.standard_normal((n_tasks * n_rows, n_features))
    task = np.repeat(np.arange(n_tasks), n_rows)
    y = np.einsum("ij,ij->i", features, W[task])
    y += noise * rng.standard_normal(len(y))
    return np.column_stack([task, features]), y


def case_scale(args):
    sizes, n_rows, p = (
        ((50, 100, 200), 100, 100) if args.quick else ((125, 250, 500, 1000), 200, 200)
    )
    rows = []
    for n_tasks in sizes:
        X, y = low_rank_tasks(n_tasks, n_rows, p)
        alpha = TraceNormRegressor(task_column=0)._alpha_max(X, y) * args.scale_fraction
        reference = None
        for solver in ("auto", "admm", "fista"):

            def fit(X=X, y=y, alpha=alpha, solver=solver):
                return TraceNormRegressor(
                    alpha, task_column=0, solver=solver, tol=args.tol, max_iter=MAX_ITER
                ).fit(X, y)

            timing = time_callable(fit, repeat=args.repeat, warmup=0)
            _, peak = peak_memory(fit)
            model = timing.result
            value = model_objective_array(X, y, model)
            reference = value if reference is None else reference
            rows.append(
                {
                    "candidate": f"solver={solver} ({model.solver_})",
                    "n_tasks": n_tasks,
                    "n_observations": X.shape[0],
                    "median_s": timing.median,
                    "min_s": timing.min,
                    "peak_mib": peak / 2**20,
                    "x_mib": X.nbytes / 2**20,
                    "objective_rel_diff": (value - reference) / abs(reference),
                    "rank": model.rank_,
                    "n_iter": model.n_iter_,
                    "times_s": timing.times,
                }
            )
    for solver in ("auto", "admm", "fista"):
        _growth_exponents([row for row in rows if f"={solver} " in row["candidate"]])
    name = (
        f"TraceNormRegressor, tasks x {n_rows} rows x {p} features, true rank 5, "
        f"alpha={args.scale_fraction:g} alpha_max, tol={args.tol:g}"
    )
    for row in rows:
        row["benchmark"] = name
    columns = ["candidate", "n_tasks", "median_s", "peak_mib", "x_mib"]
    columns += ["time_exponent", "memory_exponent", "objective_rel_diff"]
    columns += ["rank", "n_iter"]
    notes = [
        "exponents: log(ratio of seconds or of peaks) / log(ratio of tasks), "
        "from the previous size of the same solver; peak_mib is tracemalloc's "
        "(numpy buffers, not BLAS work space), X (x_mib) is allocated before.",
        "objective_rel_diff: against the auto solver's objective at the same tol "
        "and size.",
    ]
    settings = {"sizes": sizes, "n_rows": n_rows, "n_features": p, "rank": 5}
    settings.update(tol=args.tol, alpha_fraction=args.scale_fraction)
    return CaseResult(rows, columns, notes, settings)


def model_objective_array(X, y, model):
    """The trace-norm objective of a model fitted on ``[task | features]``."""
    rows = np.searchsorted(model.tasks_, X[:, 0])
    weight = 1.0 / np.bincount(rows)[rows]
    z = np.einsum("ij,ij->i", X[:, 1:], model.coef_[rows]) + model.intercept_[rows]
    return float(
        0.5 * np.sum(weight * (y - z) ** 2) + model.alpha * _nuclear(model.coef_)
    )


def _growth_exponents(rows):
    rows[0]["time_exponent"] = rows[0]["memory_exponent"] = None
    for previous, row in zip(rows, rows[1:]):
        growth = np.log(row["n_tasks"] / previous["n_tasks"])
        row["time_exponent"] = float(
            np.log(row["median_s"] / previous["median_s"]) / growth
        )
        row["memory_exponent"] = float(
            np.log(row["peak_mib"] / previous["peak_mib"]) / growth
        )


# --------------------------------------------------------------------------
# accuracy
# --------------------------------------------------------------------------


def _cv_class(name):
    """``skmtl.linear_model.<name>RegressorCV``, or None if it does not exist."""
    module = importlib.import_module("skmtl.linear_model")
    return getattr(module, f"{name}RegressorCV", None)


def _grid(name, estimator, X, y, quick):
    """Small grid of strengths: fractions of ``_alpha_max`` on ``X, y``."""
    first, second = MODELS[name][2]
    fractions = (0.1, 0.01) if quick else (0.3, 0.1, 0.03, 0.01)
    ratios = [TWO_STRENGTH_RATIOS.get(name)]
    if second is not None and not quick:
        ratios = [ratios[0] / 3, ratios[0], ratios[0] * 3]
    grid = []
    for ratio in ratios:
        if second is not None:
            estimator.set_params(**{first: 1.0, second: ratio})
        alpha_max = estimator._alpha_max(X, y)
        for fraction in fractions:
            point = {first: [fraction * alpha_max]}
            if second is not None:
                point[second] = [fraction * alpha_max * ratio]
            grid.append(point)
    return grid


def _quick_cv_params(cv_class):
    """5 strengths down to 1e-2 of the largest, the middle default ratio."""
    params = {"alphas": 5, "eps": 1e-2}
    for name, parameter in inspect.signature(cv_class).parameters.items():
        if name.endswith("_ratios"):
            ratios = tuple(parameter.default)
            params[name] = (ratios[len(ratios) // 2],)
    return params


def accuracy_models(X, y, task_column, seed, quick):
    """Fitted-on-demand models of ``accuracy``: label -> (estimator, how)."""
    inner = TaskKFold(5, task_column=task_column, shuffle=True, random_state=seed)
    models = {}
    for name, (regressor, _, _, _) in MODELS.items():
        cv_class = _cv_class(name)
        if cv_class is not None:
            params = _quick_cv_params(cv_class) if quick else {}
            models[cv_class.__name__] = (
                cv_class(task_column=task_column, cv=inner, **params),
                "CV class" + (" (small grid)" if quick else ""),
            )
            continue
        base = regressor(task_column=task_column)
        grid = _grid(name, regressor(task_column=task_column), X, y, quick)
        label = f"{regressor.__name__} + GridSearchCV"
        models[label] = (GridSearchCV(base, grid, cv=inner), f"{len(grid)} points")
    ridge = RidgeCV(alphas=RIDGE_ALPHAS)
    models["per-task RidgeCV"] = (
        PerTaskEstimator(ridge, task_column=task_column),
        "baseline",
    )
    models["pooled RidgeCV"] = (
        PooledEstimator(ridge, task_column=task_column),
        "baseline",
    )
    return models


def _fitted_rank(model):
    fitted = getattr(model, "best_estimator_", model)
    return getattr(fitted, "rank_", None)


def case_accuracy(args):
    X, y, task_column = school_frame(standardise=False)
    n_splits = 2 if args.quick else 10
    features = [column for column in X.columns if column != task_column]
    scores, fit_times, ranks, how = {}, {}, {}, {}
    for seed in range(n_splits):
        X_train, X_test, y_train, y_test = train_test_split_tasks(
            X, y, task_column=task_column, test_size=0.25, random_state=seed
        )
        # The scaler sees the training rows only, so the test rows stay unseen.
        scaler = StandardScaler().fit(X_train[features])
        X_train, X_test = X_train.copy(), X_test.copy()
        X_train[features] = scaler.transform(X_train[features])
        X_test[features] = scaler.transform(X_test[features])
        models = accuracy_models(X_train, y_train, task_column, seed, args.quick)
        for label, (model, kind) in models.items():
            start = time.perf_counter()
            model.fit(X_train, y_train)
            fit_times.setdefault(label, []).append(time.perf_counter() - start)
            scores.setdefault(label, []).append(
                float(r2_score(y_test, model.predict(X_test)))
            )
            ranks.setdefault(label, []).append(_fitted_rank(model))
            how[label] = kind
    baseline = np.asarray(scores["per-task RidgeCV"])
    rows = []
    for label, values in scores.items():
        values = np.asarray(values)
        chosen = [rank for rank in ranks[label] if rank is not None]
        rows.append(
            {
                "candidate": label,
                "selection": how[label],
                "explained_variance_mean": float(values.mean()),
                "explained_variance_std": float(values.std()),
                "minus_per_task_mean": float(np.mean(values - baseline)),
                "splits_better_than_per_task": int(np.sum(values > baseline)),
                "rank_chosen": " ".join(str(r) for r in chosen) or None,
                "fit_s_mean": float(np.mean(fit_times[label])),
                "explained_variance": values.tolist(),
                "fit_s": fit_times[label],
            }
        )
    name = f"School, {n_splits} splits 75/25 within school: pooled test R^2"
    for row in rows:
        row["benchmark"] = name
    notes = []
    if any(row["candidate"].endswith("GridSearchCV") for row in rows):
        notes.append(
            "A *RegressorCV class was not importable: GridSearchCV over fractions "
            f"{'0.1, 0.01' if args.quick else '0.3, 0.1, 0.03, 0.01'} of "
            "_alpha_max on the training part (two-strength models: ratios "
            f"{'as in school-cvxpy' if args.quick else 'x1/3, x1, x3 of school-cvxpy'}"
            "), the same 5 TaskKFold folds."
        )
    if args.quick and any(row["selection"].startswith("CV class") for row in rows):
        notes.append(
            "--quick: every *RegressorCV searches 5 strengths down to 1e-2 of its "
            "largest and the middle one of its default ratios."
        )
    notes.append("rank_chosen: rank_ of the refitted model, one per split.")
    columns = ["candidate", "selection", "explained_variance_mean"]
    columns += ["explained_variance_std", "minus_per_task_mean"]
    columns += ["splits_better_than_per_task", "rank_chosen", "fit_s_mean"]
    return CaseResult(rows, columns, notes, {"n_splits": n_splits, "test_size": 0.25})


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

CASES = {
    "school-cvxpy": ("1. School: skmtl vs cvxpy at equal objective", case_school_cvxpy),
    "scale": ("2. trace norm: growth in the number of tasks", case_scale),
    "accuracy": ("3. School accuracy", case_accuracy),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--case",
        action="append",
        choices=list(CASES),
        help="case to run (repeat for several); default: all",
    )
    parser.add_argument("--quick", action="store_true", help="smaller problems")
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions")
    parser.add_argument(
        "--tol", type=float, default=1e-6, help="tol of the scale case (default 1e-6)"
    )
    parser.add_argument(
        "--scale-fraction",
        type=float,
        default=0.1,
        help="alpha / alpha_max of the scale case (default 0.1)",
    )
    parser.add_argument(
        "--classifier-schools",
        type=int,
        default=30,
        help="schools of the logistic part of school-cvxpy (default 30)",
    )
    parser.add_argument(
        "--blas-threads", type=int, default=1, help="BLAS threads (default 1)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat = min(args.repeat, 2)
    return args


def run_case(name, args):
    """Run one case, print its tables and notes, write its JSON file."""
    title, case = CASES[name]
    source = source_state()
    state = source["git_commit"]
    if source["uncommitted_package_files"]:
        state += " + uncommitted changes under skmtl/ (listed below)"
    start = time.perf_counter()
    result = case(args)
    print(f"\n{title} [measured at {state}, BLAS threads: {args.blas_threads}]")
    for benchmark in dict.fromkeys(row["benchmark"] for row in result.rows):
        rows = [row for row in result.rows if row["benchmark"] == benchmark]
        print_table(rows, columns=result.columns, title=benchmark)
    notes = list(result.notes)
    if source["uncommitted_package_files"]:
        changed = [line[3:] for line in source["uncommitted_package_files"]]
        notes.append(f"uncommitted under skmtl/: {', '.join(changed)}")
    for line in notes:
        print(line)
    settings = {"case": name, "quick": args.quick, "repeat": args.repeat}
    settings.update(blas_threads=args.blas_threads, **source)
    settings.update(result.settings, wall_s=time.perf_counter() - start)
    rows = [dict(row, notes=notes) for row in result.rows]
    suffix = "_quick" if args.quick else ""
    path = write_json(f"low_rank_{name}{suffix}", rows, settings=settings)
    print(f"wrote {path}", flush=True)


def main(argv=None):
    args = parse_args(argv)
    if blas_overrides():
        print(f"note: BLAS overrides in effect: {blas_overrides()}")
    with threadpool_limits(limits=args.blas_threads, user_api="blas"):
        with warnings.catch_warnings():
            # Loose rungs of the tolerance ladder may stop on max_iter.
            warnings.simplefilter("ignore", ConvergenceWarning)
            for name in args.case or list(CASES):
                run_case(name, args)


if __name__ == "__main__":
    main()
