"""Task-relation models: skmtl against cvxpy on School, and School accuracy.

The models: ``GraphRegularizedRegressor`` (``(alpha / 2) sum_{s,t} A[s, t]
||w_s - w_t||^2 + (alpha_ridge / 2) ||W||_F^2``), ``ClusteredMultiTaskRegressor``
(``alpha eta (1 + eta) min_M tr(W^T (eta I + M)^{-1} W)``, ``0 <= M <= I``,
``tr M = n_clusters``) and ``TaskRelationshipRegressor`` (``(alpha / 2)
||W||_F^2 + (beta / 2) min_Omega tr(W^T Omega^{-1} W)``, ``Omega >= 0``,
``tr Omega = 1``), and their logistic classifiers. Every objective is
evaluated by one function written in this script from the fitted
coefficients and intercepts: the graph term as a sum over the edges, the
clustered term with the ``M`` that minimises it for the fitted ``W``
(``cluster_matrix_``) and the task-relationship term as ``(beta / 2)
||W||_*^2`` (its minimum over ``Omega``).

The task graph of School: every school is joined to its 5 nearest schools
(and they to it) in the school-level columns (share of free school meals,
of verbal-reasoning band 1, school gender and denomination; means over the
school's rows, standardised), weight 1.

Cases (``--case``, repeat for several; default all):

``school-cvxpy``
    Each regressor on School (long format, ``task_column="school"``,
    standardised features; the clustered and task-relationship models, whose
    cvxpy forms are semidefinite programs, on the first ``--sdp-schools``
    schools) at the fixed strengths of ``STRENGTHS``.
    ``solver="cvxpy"`` (Clarabel, modelling time included) gives ``F*``;
    skmtl's auto solver walks the tolerance ladder 1e-2 ... 1e-12 and the
    first fit with objective ``<= F* (1 + 1e-6)`` is timed. Goal: 20x. The
    logistic classifiers run the same way on the first
    ``--classifier-schools`` schools with the target "score above its
    median". With ``--quick`` the regressors use the first 30 schools too.
``accuracy``
    School, 10 random 75/25 splits within every school: pooled test R^2
    ("explained variance") of ``GraphRegularizedRegressorCV``,
    ``ClusteredMultiTaskRegressorCV`` (``ceil(sqrt(n_tasks / 2))`` clusters,
    as ``skmtl compare``), ``TaskRelationshipRegressorCV`` and
    ``MeanRegularizedRegressorCV`` against per-task and pooled ``RidgeCV``;
    and what the learned relations look like: the sizes of the clusters of
    the clustered model, and the share of the task covariance of MTRL in
    its largest eigenvalues.

Each case prints its tables and writes
``benchmarks/results/task_relations_<case>[_quick].json`` with the git
commit measured. BLAS runs on one thread unless ``--blas-threads`` says
otherwise. ``--help`` lists the options.
"""

import argparse
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
from _harness import blas_overrides, print_table, time_callable, write_json
from bench_low_rank import school_frame
from scipy.special import log_expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skmtl.baseline import PerTaskEstimator, PooledEstimator
from skmtl.linear_model import (
    ClusteredMultiTaskClassifier,
    ClusteredMultiTaskRegressor,
    ClusteredMultiTaskRegressorCV,
    GraphRegularizedClassifier,
    GraphRegularizedRegressor,
    GraphRegularizedRegressorCV,
    MeanRegularizedRegressorCV,
    TaskRelationshipClassifier,
    TaskRelationshipRegressor,
    TaskRelationshipRegressorCV,
)
from skmtl.model_selection import TaskKFold, train_test_split_tasks

CaseResult = namedtuple("CaseResult", "rows columns notes settings")

CVXPY = "cvxpy (Clarabel)"
CVXPY_RTOL = 1e-6
MAX_ITER = 100_000
RIDGE_ALPHAS = np.logspace(-3, 3, 13)
#: School-level columns that define the task graph.
SCHOOL_COLUMNS = [
    "fsm_percent",
    "vr1_percent",
    "school_gender_mixed",
    "school_gender_boys",
    "school_gender_girls",
    "school_denomination_maintained",
    "school_denomination_church_of_england",
    "school_denomination_roman_catholic",
]
N_NEIGHBOURS = 5

#: Fixed strengths of ``school-cvxpy`` (regression; the classifiers use a
#: tenth of them): near what the ``*CV`` classes choose on School.
STRENGTHS = {
    "graph": {"alpha": 4.0, "alpha_ridge": 0.04},
    "clustered": {"alpha": 0.3, "eta": 0.1, "n_clusters": 3},
    "task-relationship": {"alpha": 0.003, "beta": 0.3},
}

CVXPY_COLUMNS = [
    "candidate",
    "solver",
    "tol",
    "median_s",
    "objective",
    "objective_rel_diff",
    "reached",
    "n_iter",
    "speedup",
]


def school_graph(X, task_column):
    """Adjacency of the School task graph, tasks in sorted order (``tasks_``)."""
    means = X.groupby(task_column)[SCHOOL_COLUMNS].mean().sort_index()
    points = StandardScaler().fit_transform(means.to_numpy(dtype=float))
    neighbours = NearestNeighbors(n_neighbors=N_NEIGHBOURS + 1).fit(points)
    _, index = neighbours.kneighbors(points)
    A = np.zeros((len(means), len(means)))
    for s, row in enumerate(index):
        A[s, row[1:]] = 1.0
    A = np.maximum(A, A.T)
    return A, means.index.to_numpy()


def _nuclear(W):
    return float(np.linalg.svd(W, compute_uv=False).sum())


def _penalty(name, model, adjacency):
    W = model.coef_.reshape(model.coef_.shape[0], -1)
    if name == "graph":
        s, t = np.nonzero(np.triu(adjacency, k=1))
        edges = np.sum(adjacency[s, t] * np.sum((W[s] - W[t]) ** 2, axis=1))
        # (alpha / 2) over ordered pairs = alpha over the edges s < t.
        return model.alpha * edges + 0.5 * model.alpha_ridge * np.sum(W * W)
    if name == "clustered":
        eta = model.eta
        inner = np.linalg.solve(eta * np.eye(len(W)) + model.cluster_matrix_, W)
        return model.alpha * eta * (1 + eta) * float(np.sum(W * inner))
    return 0.5 * model.alpha * np.sum(W * W) + 0.5 * model.beta * _nuclear(W) ** 2


def model_objective(X, y, task_column, name, loss, adjacency):
    """``model -> objective`` of the documented problem of model ``name``."""
    features = X.drop(columns=task_column).to_numpy(dtype=float)
    tasks = X[task_column].to_numpy()

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
        return float(fit + _penalty(name, model, adjacency))

    return objective


MODELS = {
    "graph": (GraphRegularizedRegressor, GraphRegularizedClassifier),
    "clustered": (ClusteredMultiTaskRegressor, ClusteredMultiTaskClassifier),
    "task-relationship": (TaskRelationshipRegressor, TaskRelationshipClassifier),
}


def _params(name, loss, adjacency, tasks):
    params = dict(STRENGTHS[name])
    if loss == "logistic":
        for key in ("alpha", "alpha_ridge", "beta"):
            if key in params:
                params[key] = params[key] / 10
    if name == "graph":
        import pandas as pd

        params["graph"] = pd.DataFrame(adjacency, index=tasks, columns=tasks)
    return params


def _against_cvxpy(label, name, estimator_class, X, y, task_column, loss, args):
    adjacency, tasks = school_graph(X, task_column)
    params = _params(name, loss, adjacency, tasks)
    objective = model_objective(X, y, task_column, name, loss, adjacency)

    def fit(solver, tol=1e-4):
        return estimator_class(
            **params, task_column=task_column, solver=solver, tol=tol, max_iter=MAX_ITER
        ).fit(X, y)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        timing = time_callable(lambda: fit("cvxpy"), repeat=1, warmup=0)
    inaccurate = any("inaccurate" in str(w.message) for w in caught)
    target = objective(timing.result)
    rows = [_row(label, CVXPY, None, timing, target, target, True)]
    tol, ok = first_tol_reaching(
        lambda t: fit("auto", t), TOL_LADDER, objective, target, CVXPY_RTOL
    )
    timed = time_repeated(lambda: fit("auto", tol), args.repeat)
    rows.append(
        _row(label, "skmtl auto", tol, timed, objective(timed.result), target, ok)
    )
    for row in rows:
        row["speedup"] = rows[0]["median_s"] / row["median_s"]
    shown = {k: v for k, v in params.items() if k != "graph"}
    notes = [f"{label}: {shown}."]
    if inaccurate:
        notes.append(f"{label}: cvxpy reported optimal_inaccurate; F* is its value.")
    return rows, notes


def _row(benchmark, candidate, tol, timing, value, target, ok):
    model = timing.result
    return {
        "benchmark": benchmark,
        "candidate": candidate,
        "solver": model.solver_,
        "tol": tol,
        "median_s": timing.median,
        "min_s": timing.min,
        "objective": value,
        "objective_rel_diff": (value - target) / abs(target),
        "reached": bool(ok and reached(value, target, CVXPY_RTOL)),
        "n_iter": model.n_iter_,
        "times_s": timing.times,
    }


#: Models whose cvxpy form is a semidefinite program (``matrix_frac``).
SDP_MODELS = ("clustered", "task-relationship")


def case_school_cvxpy(args):
    rows, notes = [], []
    for name, (regressor, _) in MODELS.items():
        n_regression = None if name not in SDP_MODELS else args.sdp_schools
        X, y, task_column = school_frame(30 if args.quick else n_regression)
        where = f"{X[task_column].nunique()} schools, {len(X)} rows"
        label = f"{regressor.__name__}, School ({where}), squared loss"
        new_rows, new_notes = _against_cvxpy(
            label, name, regressor, X, y, task_column, "squared", args
        )
        rows += new_rows
        notes += new_notes
    X, y, task_column = school_frame(args.classifier_schools)
    y = (y > np.median(y)).astype(int)
    where = f"{X[task_column].nunique()} schools, {len(X)} rows"
    for name, (_, classifier) in MODELS.items():
        label = f"{classifier.__name__}, School ({where}), score > median"
        new_rows, new_notes = _against_cvxpy(
            label, name, classifier, X, y, task_column, "logistic", args
        )
        rows += new_rows
        notes += new_notes
    for row in rows:
        if row["candidate"] != CVXPY:
            met = row["speedup"] >= 20 and row["reached"]
            row["goal_20x"] = "met" if met else "NOT met"
    notes.append(
        "tol: first rung of the ladder whose objective is <= F* (1 + 1e-6); "
        "reached = some rung got there."
    )
    if not args.quick:
        notes.append(
            f"The semidefinite cvxpy forms run on the first {args.sdp_schools} "
            "schools: on all 139, Clarabel ran out of this machine's 24 GB."
        )
    settings = {
        "sdp_schools": args.sdp_schools,
        "classifier_schools": args.classifier_schools,
        "strengths": STRENGTHS,
        "rtol": CVXPY_RTOL,
    }
    return CaseResult(rows, CVXPY_COLUMNS + ["goal_20x"], notes, settings)


def accuracy_models(X, y, task_column, seed, quick):
    """label -> unfitted model of the accuracy case."""
    import pandas as pd

    inner = TaskKFold(5, task_column=task_column, shuffle=True, random_state=seed)
    adjacency, tasks = school_graph(X, task_column)
    graph = pd.DataFrame(adjacency, index=tasks, columns=tasks)
    cv = {"alphas": 5 if quick else 10, "cv": inner}
    return {
        "GraphRegularizedRegressorCV (5-NN school graph)": GraphRegularizedRegressorCV(
            graph=graph, task_column=task_column, **cv
        ),
        "GraphRegularizedRegressorCV (complete graph)": GraphRegularizedRegressorCV(
            graph="complete", task_column=task_column, **cv
        ),
        "ClusteredMultiTaskRegressorCV": ClusteredMultiTaskRegressorCV(
            n_clusters=int(np.ceil(np.sqrt(len(tasks) / 2))),
            task_column=task_column,
            **cv,
        ),
        "TaskRelationshipRegressorCV": TaskRelationshipRegressorCV(
            task_column=task_column, **cv
        ),
        "MeanRegularizedRegressorCV": MeanRegularizedRegressorCV(
            task_column=task_column, cv=inner
        ),
        "per-task RidgeCV": PerTaskEstimator(
            RidgeCV(alphas=RIDGE_ALPHAS), task_column=task_column
        ),
        "pooled RidgeCV": PooledEstimator(
            RidgeCV(alphas=RIDGE_ALPHAS), task_column=task_column
        ),
    }


def _relations(model):
    """A short description of the relations a fitted model learned."""
    if hasattr(model, "task_clusters_"):
        sizes = np.sort(np.bincount(model.task_clusters_))[::-1]
        return "cluster sizes " + "/".join(str(s) for s in sizes)
    if hasattr(model, "task_covariance_"):
        values = np.sort(np.linalg.eigvalsh(model.task_covariance_))[::-1]
        return f"top-3 eigenvalues of Omega hold {values[:3].sum():.0%}"
    return None


def case_accuracy(args):
    X, y, task_column = school_frame(standardise=False)
    n_splits = 2 if args.quick else 10
    features = [column for column in X.columns if column != task_column]
    scores, fit_times, relations = {}, {}, {}
    for seed in range(n_splits):
        X_train, X_test, y_train, y_test = train_test_split_tasks(
            X, y, task_column=task_column, test_size=0.25, random_state=seed
        )
        scaler = StandardScaler().fit(X_train[features])
        X_train, X_test = X_train.copy(), X_test.copy()
        X_train[features] = scaler.transform(X_train[features])
        X_test[features] = scaler.transform(X_test[features])
        for label, model in accuracy_models(
            X_train, y_train, task_column, seed, args.quick
        ).items():
            start = time.perf_counter()
            model.fit(X_train, y_train)
            fit_times.setdefault(label, []).append(time.perf_counter() - start)
            scores.setdefault(label, []).append(
                float(r2_score(y_test, model.predict(X_test)))
            )
            relations.setdefault(label, []).append(_relations(model))
    baseline = np.asarray(scores["per-task RidgeCV"])
    rows = []
    for label, values in scores.items():
        values = np.asarray(values)
        rows.append(
            {
                "candidate": label,
                "explained_variance_mean": float(values.mean()),
                "explained_variance_std": float(values.std()),
                "minus_per_task_mean": float(np.mean(values - baseline)),
                "splits_better_than_per_task": int(np.sum(values > baseline)),
                "relations_split_0": relations[label][0],
                "fit_s_mean": float(np.mean(fit_times[label])),
                "explained_variance": values.tolist(),
                "relations": relations[label],
            }
        )
    name = f"School, {n_splits} splits 75/25 within school: pooled test R^2"
    for row in rows:
        row["benchmark"] = name
    notes = [
        "The *CV classes: "
        + ("5" if args.quick else "10")
        + " strengths on their default path, 5 TaskKFold folds."
    ]
    columns = ["candidate", "explained_variance_mean", "explained_variance_std"]
    columns += ["minus_per_task_mean", "splits_better_than_per_task"]
    columns += ["relations_split_0", "fit_s_mean"]
    return CaseResult(rows, columns, notes, {"n_splits": n_splits, "test_size": 0.25})


CASES = {
    "school-cvxpy": ("1. School: skmtl vs cvxpy at equal objective", case_school_cvxpy),
    "accuracy": ("2. School accuracy", case_accuracy),
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
        "--classifier-schools",
        type=int,
        default=30,
        help="schools of the logistic part of school-cvxpy (default 30)",
    )
    parser.add_argument(
        "--sdp-schools",
        type=int,
        default=50,
        help="schools of the clustered and task-relationship regressors in "
        "school-cvxpy (their cvxpy forms are semidefinite; default 50)",
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
    start = time.perf_counter()
    result = case(args)
    print(f"\n{title} [measured at {source['git_commit']}]")
    for benchmark in dict.fromkeys(row["benchmark"] for row in result.rows):
        rows = [row for row in result.rows if row["benchmark"] == benchmark]
        print_table(rows, columns=result.columns, title=benchmark)
    for line in result.notes:
        print(line)
    settings = {"case": name, "quick": args.quick, "repeat": args.repeat}
    settings.update(blas_threads=args.blas_threads, **source)
    settings.update(result.settings, wall_s=time.perf_counter() - start)
    rows = [dict(row, notes=result.notes) for row in result.rows]
    suffix = "_quick" if args.quick else ""
    path = write_json(f"task_relations_{name}{suffix}", rows, settings=settings)
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
