"""Joint-feature (L2,1) models: skmtl against scikit-learn, skglm and cvxpy.

Every candidate is evaluated with one objective function written here from
docs/user_guide/regularization.rst (not with any solver's own value).
Solvers stop on different criteria: skmtl on ``gap <= tol P(0)`` (``P(0)``
the intercept-only objective), scikit-learn's ``MultiTaskLasso`` on ``gap <=
tol ||Y - mean||^2 / n = 2 tol P(0)``, skglm on a KKT violation. Where a
case says *equal objective*, each library's ``tol`` is tightened over the
ladder 1e-2, 1e-3, ..., 1e-12 and the first fit whose objective is ``<= F*
(1 + rtol)`` is timed (column ``tol``; ``reached`` says whether one did;
``objective_rel_diff`` is ``(F - F*) / F*``, negative when better than
``F*``).

Cases of issue 5 (``--case NAME``; all cases run without ``--case``):

``mtlasso``
    Shared design, n=2000, d=500, 20 tasks, 20 informative features,
    ``alpha = alpha_max / 20``. ``F*`` is scikit-learn's ``MultiTaskLasso``
    at ``tol=1e-8``; ``rtol = 1e-8``. Candidates: ``JointFeatureRegressor``,
    scikit-learn's and skglm's ``MultiTaskLasso`` (all fit an intercept; skglm
    is first called on a tiny problem so that numba compilation is not
    timed). Prints the time ratios skmtl/sklearn and skmtl/skglm.
``school-cvxpy``
    School in long format (``task_column="school"``, standardised features),
    ``alpha`` found by bisection on ``[0, alpha_max]`` so that 13 or 14 of
    the 27 features are selected; ``JointFeatureRegressor`` (BCD, FISTA)
    against ``solver="cvxpy"`` (Clarabel, including the cvxpy modelling
    time), ``F*`` = cvxpy's objective, ``rtol = 1e-6``. Goal: 10x.
``school-path``
    ``joint_feature_path`` on School, 100 ``alpha`` from ``alpha_max`` down
    to ``1e-3 alpha_max`` (warm starts) against 100 cold fits at the same
    ``alpha`` and ``tol``: total time (median of ``--repeat`` runs),
    speed-up, largest relative objective difference over the grid.
``scale-tasks``
    Long format, 100, 300 and 1,000 tasks x 200 rows x 200 features (20
    informative, ``make_multitask_regression``), ``alpha = alpha_max / 20``:
    seconds, tracemalloc peak and the growth exponents
    ``log(t2 / t1) / log(T2 / T1)`` between successive sizes.
``scale-wide``
    Shared design, n=1000, d=20,000 (50 informative), 20 tasks,
    ``alpha = alpha_max / 20``: ``JointFeatureRegressor`` against
    scikit-learn's ``MultiTaskLasso`` at equal objective (as ``mtlasso``),
    with time and tracemalloc peak.
``logistic-cvxpy``
    Binary long format, 30 tasks x 100 rows x 50 features (5 informative,
    ``make_multitask_classification``), ``alpha = alpha_max / 10``, free
    intercepts (``intercept_alpha=0``): ``JointFeatureClassifier`` (FISTA)
    against cvxpy at equal objective, ``rtol = 1e-6``; a FISTA fit at
    ``tol=1e-8`` shows how far below cvxpy's objective skmtl can go.
``school-accuracy``
    10 splits 75/25 within every school (``train_test_split_tasks``, seeds
    0-9): pooled test explained variance (R^2 of all test rows) of
    ``JointFeatureRegressorCV`` against per-task and pooled ``RidgeCV``, all
    after a ``StandardScaler`` fitted on the training rows
    (``TaskColumnPassthrough``). Settings of ``skmtl compare``: ridge alphas
    ``logspace(-3, 4, 15)``, 20 ``alpha`` down to ``alpha_max / 100`` chosen
    by a shuffled 5-fold ``TaskKFold`` within every school.

Earlier cases: ``shared`` (``JointFeatureRegressor`` against
``MultiTaskLasso`` at one ``--tol``, also with each BCD inner solver),
``path`` (against ``lasso_path`` on centred data), ``cv`` (against
``MultiTaskLassoCV``), ``school`` (BCD and FISTA against cvxpy at
``alpha_max / 10`` and ``/ 100``), ``logistic`` (FISTA against cvxpy).

Each case prints its tables and writes
``benchmarks/results/joint_feature_<case>[_quick].json`` with the git commit
measured (and any uncommitted change under ``skmtl/``). ``--quick`` runs
smaller sizes (all cases in about a minute, a quarter of it skglm's numba
compilation). With numba installed (the ``bench`` extra brings it with
skglm) skmtl's BCD solves its working sets with compiled cyclic descent;
settings record the numba version. BLAS runs on one thread
unless ``--blas-threads`` says otherwise. ``--help`` lists the options.
"""

import argparse
import time
import warnings
from collections import namedtuple

import numpy as np
from _equal_objective import (
    TOL_LADDER,
    equal_objective_rows,
    source_state,
    time_ratio_lines,
)
from _harness import (
    blas_overrides,
    compare,
    peak_memory,
    print_table,
    time_callable,
    write_json,
)
from scipy.special import log_expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import MultiTaskLasso, MultiTaskLassoCV, RidgeCV, lasso_path
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skmtl.baseline import PerTaskEstimator, PooledEstimator
from skmtl.datasets import (
    load_school,
    make_multitask_classification,
    make_multitask_regression,
)
from skmtl.linear_model import (
    JointFeatureClassifier,
    JointFeatureRegressor,
    JointFeatureRegressorCV,
    joint_feature_path,
)
from skmtl.model_selection import TaskKFold, train_test_split_tasks
from skmtl.pipeline import TaskColumnPassthrough

try:
    from skglm import MultiTaskLasso as SkglmMultiTaskLasso
except ImportError:  # the other cases run without it
    SkglmMultiTaskLasso = None

#: What a case hands to ``main``: rows, table columns, lines printed under
#: the tables, and settings for the JSON file.
CaseResult = namedtuple("CaseResult", "rows columns notes settings")

SKLEARN = "sklearn MultiTaskLasso"
SKLEARN_REFERENCE = "sklearn tol=1e-8 (F*)"
SKGLM = "skglm MultiTaskLasso"
SKMTL = "skmtl JointFeatureRegressor"
CVXPY = "cvxpy (Clarabel)"
#: Objective agreement of the equal-objective cases.
SHARED_RTOL = 1e-8
CVXPY_RTOL = 1e-6
#: Ridge strengths of the baselines, as in ``skmtl compare``.
RIDGE_ALPHAS = tuple(np.logspace(-3, 4, 15))
MAX_ITER = 100_000

EQUAL_COLUMNS = [
    "candidate",
    "tol",
    "median_s",
    "speedup",
    "objective",
    "objective_rel_diff",
    "reached",
    "n_selected",
]


def shared_problem(n, p, n_tasks, n_informative=10, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    coef = np.zeros((n_tasks, p))
    coef[:, :n_informative] = rng.standard_normal((n_tasks, n_informative))
    Y = X @ coef.T + 0.5 * rng.standard_normal((n, n_tasks)) + 1.0
    return X, Y


def shared_alpha_max(X, Y):
    Xc, Yc = X - X.mean(axis=0), Y - Y.mean(axis=0)
    return np.max(np.linalg.norm(Xc.T @ Yc, axis=1)) / X.shape[0]


def shared_objective(X, Y, alpha):
    """``(1 / 2n) ||Y - X W^T - b||_F^2 + alpha sum_j ||W[:, j]||``."""

    def objective(model):
        residual = Y - X @ model.coef_.T - model.intercept_
        return 0.5 * np.sum(residual**2) / X.shape[0] + alpha * np.sum(
            np.linalg.norm(model.coef_, axis=0)
        )

    return objective


def case_shared(args):
    rows = []
    sizes = [(500, 1000, 5), (1000, 5000, 10)]
    if not args.quick:
        sizes.append((2000, 10000, 20))
    for n, p, n_tasks in sizes:
        X, Y = shared_problem(n, p, n_tasks)
        alpha_max = shared_alpha_max(X, Y)
        for fraction in (0.1, 0.01):
            alpha = fraction * alpha_max
            candidates = _shared_candidates(
                X, Y, alpha, args.tol, with_cyclic=fraction == 0.1 and n <= 1000
            )
            objective = shared_objective(X, Y, alpha)
            supports = []

            def objective_and_support(model, objective=objective, supports=supports):
                supports.append(
                    int(np.count_nonzero(np.linalg.norm(model.coef_, axis=0)))
                )
                return objective(model)

            case = compare(
                f"shared n={n} p={p} T={n_tasks} alpha={fraction}*alpha_max",
                candidates,
                objective=objective_and_support,
                rtol=args.rtol,
                repeat=args.repeat,
            )
            for row, n_selected in zip(case, supports):
                row["n_selected"] = n_selected
            rows.extend(case)
    return rows


def _shared_candidates(X, Y, alpha, tol, with_cyclic):
    candidates = {
        "sklearn MultiTaskLasso": lambda: MultiTaskLasso(
            alpha=alpha, tol=tol, max_iter=100_000
        ).fit(X, Y),
        "skmtl BCD (auto inner)": lambda: JointFeatureRegressor(
            alpha=alpha, tol=tol, max_iter=100_000
        ).fit(X, Y),
    }
    if with_cyclic:
        for inner in ("apg", "cd"):
            candidates[f"skmtl BCD ({inner} inner)"] = lambda inner=inner: _bcd_inner(
                X, Y, alpha, tol, inner
            )
    return candidates


def _bcd_inner(X, Y, alpha, tol, inner):
    """``JointFeatureRegressor`` fitted with a given BCD inner solver.

    ``"cd"``: cyclic descent over the working set (compiled with numba when
    installed); ``"apg"``: accelerated proximal gradient.
    """
    from skmtl._tasks import check_task_data
    from skmtl.solvers import bcd

    model = JointFeatureRegressor(alpha=alpha)
    data = check_task_data(model, X, Y)
    result = bcd.solve(data, alpha=alpha, tol=tol, max_iter=100_000, inner=inner)
    model.coef_, model.intercept_ = result.coef, result.intercept
    return model


def case_path(args):
    n, p, n_tasks = (300, 1000, 5) if args.quick else (1000, 5000, 10)
    X, Y = shared_problem(n, p, n_tasks, seed=1)
    Xc, Yc = X - X.mean(axis=0), Y - Y.mean(axis=0)
    alphas = joint_feature_path(Xc, Yc, n_alphas=args.n_alphas, eps=1e-2)[0]

    def total_objective(result):
        coefs = result  # (n_alphas, n_tasks, p)
        residual = Yc[None] - np.einsum("ij,atj->ait", Xc, coefs)
        data = 0.5 * np.sum(residual**2, axis=(1, 2)) / n
        groups = np.sum(np.linalg.norm(coefs, axis=1), axis=1)
        return float(np.sum(data + alphas * groups))

    def sklearn_path():
        _, coefs, _ = lasso_path(Xc, Yc, alphas=alphas, tol=args.tol, max_iter=100_000)
        return np.moveaxis(coefs, -1, 0)  # (n_alphas, n_tasks, p)

    def skmtl_path():
        return joint_feature_path(
            Xc, Yc, alphas=alphas, fit_intercept=False, tol=args.tol, max_iter=100_000
        )[1]

    return compare(
        f"path n={n} p={p} T={n_tasks}, {len(alphas)} alphas down to 0.01 alpha_max",
        {"sklearn lasso_path": sklearn_path, "skmtl joint_feature_path": skmtl_path},
        objective=total_objective,
        rtol=args.rtol,
        repeat=max(1, args.repeat // 2),
    )


def case_cv(args):
    n, p, n_tasks = (300, 500, 5) if args.quick else (500, 2000, 10)
    X, Y = shared_problem(n, p, n_tasks, seed=2)
    folds = KFold(5)

    def chosen_mse(model):
        path = model.mse_path_.mean(axis=-1)
        return float(path[np.argmin(np.abs(model.alphas_ - model.alpha_))])

    rows = compare(
        f"CV n={n} p={p} T={n_tasks}, {args.n_alphas} alphas, 5 folds",
        {
            "sklearn MultiTaskLassoCV": lambda: MultiTaskLassoCV(
                alphas=args.n_alphas,
                eps=1e-2,
                cv=folds,
                tol=args.tol,
                max_iter=100_000,
            ).fit(X, Y),
            "skmtl JointFeatureRegressorCV": lambda: JointFeatureRegressorCV(
                n_alphas=args.n_alphas,
                eps=1e-2,
                cv=folds,
                tol=args.tol,
                max_iter=100_000,
            ).fit(X, Y),
        },
        objective=chosen_mse,
        rtol=1e-5,
        repeat=max(1, args.repeat // 2),
    )
    return rows


def long_objective_arrays(features, task, y, loss="squared"):
    """The objective of docs/user_guide/regularization.rst, long format, arrays.

    Returns ``(labels, value)``: the sorted task labels (the order of the
    rows of ``coef_``) and ``value(coef, intercept, alpha)``.
    """
    labels = np.unique(task)
    rows = [np.flatnonzero(task == label) for label in labels]

    def value(coef, intercept, alpha):
        total = 0.0
        for t, r in enumerate(rows):
            z = features[r] @ coef[t] + intercept[t]
            if loss == "squared":
                total += 0.5 * np.mean((y[r] - z) ** 2)
            else:
                total += np.mean(-log_expit(z) + (1 - y[r]) * z)
        return float(total + alpha * np.sum(np.linalg.norm(coef, axis=0)))

    return labels, value


def long_objective(X, y, alpha, loss, task_column=0):
    """The objective of a fitted model, ``X`` an array or a DataFrame."""
    if hasattr(X, "columns"):
        task = X[task_column].to_numpy()
        features = X.drop(columns=task_column).to_numpy(dtype=float)
    else:
        task, features = X[:, task_column], np.delete(X, task_column, axis=1)
    labels, value = long_objective_arrays(features, task, y, loss)

    def objective(model):
        if not np.array_equal(model.tasks_, labels):
            raise RuntimeError("tasks_ is not in the sorted order of the labels")
        return value(model.coef_, model.intercept_, alpha)

    return objective


def case_school(args):
    X, y = load_school(return_X_y=True)
    X = X.copy()
    X[:, 1:] = StandardScaler().fit_transform(X[:, 1:])
    alpha_max = joint_feature_path(X, y, task_column=0, n_alphas=1)[0][0]
    rows = []
    for fraction in (0.1, 0.01):
        alpha = fraction * alpha_max

        def fit(solver, a=alpha):
            return JointFeatureRegressor(
                alpha=a, task_column=0, solver=solver, tol=args.tol, max_iter=100_000
            ).fit(X, y)

        rows.extend(
            compare(
                f"School (139 tasks, long) alpha={fraction}*alpha_max",
                {
                    "cvxpy (Clarabel)": lambda: fit("cvxpy"),
                    "skmtl BCD": lambda: fit("bcd"),
                    "skmtl FISTA": lambda: fit("fista"),
                },
                objective=long_objective(X, y, alpha, "squared"),
                rtol=args.rtol,
                repeat=max(1, args.repeat // 2),
                warmup=0,
            )
        )
    return rows


def case_logistic(args):
    X, y, _ = make_multitask_classification(
        n_tasks=20, n_samples=100, n_features=50, n_informative=5, random_state=0
    )
    alpha_max = joint_feature_path(
        X, y, task_column=0, loss="logistic", n_alphas=1, intercept_alpha=0.0
    )[0][0]
    alpha = 0.1 * alpha_max

    def fit(solver):
        return JointFeatureClassifier(
            alpha=alpha,
            task_column=0,
            intercept_alpha=0.0,
            solver=solver,
            tol=args.tol,
            max_iter=100_000,
        ).fit(X, y)

    return compare(
        "logistic, 20 tasks x 100 rows x 50 features (long), alpha=0.1*alpha_max",
        {"cvxpy (Clarabel)": lambda: fit("cvxpy"), "skmtl FISTA": lambda: fit("fista")},
        objective=long_objective(X, y, alpha, "logistic"),
        rtol=args.rtol,
        repeat=max(1, args.repeat // 2),
        warmup=0,
    )


# --------------------------------------------------------------------------
# issue 5: equal objective on a shared design (mtlasso, scale-wide)
# --------------------------------------------------------------------------


def n_selected(model):
    """Number of features with a non-zero group ``coef_[:, j]``."""
    return int(np.count_nonzero(np.linalg.norm(model.coef_, axis=0)))


def warm_up_skglm():
    """Compile skglm's numba code on a tiny problem; return the seconds taken."""
    X, Y = shared_problem(20, 5, 3, n_informative=2, seed=9)
    start = time.perf_counter()
    SkglmMultiTaskLasso(alpha=0.1).fit(X, Y)
    return time.perf_counter() - start


def shared_candidates(X, Y, alpha, with_skglm):
    """``{label: (fit(tol), tols)}`` of the shared-design libraries."""

    def sklearn(tol):
        return MultiTaskLasso(alpha=alpha, tol=tol, max_iter=MAX_ITER).fit(X, Y)

    def skmtl(tol):
        return JointFeatureRegressor(alpha=alpha, tol=tol, max_iter=MAX_ITER).fit(X, Y)

    def skglm(tol):
        return SkglmMultiTaskLasso(
            alpha=alpha, tol=tol, max_iter=1000, max_epochs=MAX_ITER
        ).fit(X, Y)

    candidates = {
        SKLEARN_REFERENCE: (sklearn, (1e-8,)),
        SKLEARN: (sklearn, TOL_LADDER),
        SKMTL: (skmtl, TOL_LADDER),
    }
    if with_skglm:
        candidates[SKGLM] = (skglm, TOL_LADDER)
    return candidates


def equal_objective_shared(name, X, Y, alpha, args, *, with_skglm, memory=False):
    """Rows of every library at scikit-learn's ``tol=1e-8`` objective ``F*``."""
    objective = shared_objective(X, Y, alpha)
    target = objective(
        MultiTaskLasso(alpha=alpha, tol=1e-8, max_iter=MAX_ITER).fit(X, Y)
    )
    return equal_objective_rows(
        name,
        shared_candidates(X, Y, alpha, with_skglm),
        objective,
        target,
        rtol=SHARED_RTOL,
        repeat=args.repeat,
        reference=SKLEARN,
        memory=memory,
        support=n_selected,
    )


def case_mtlasso(args):
    n, p, n_tasks = (500, 200, 10) if args.quick else (2000, 500, 20)
    X, Y = shared_problem(n, p, n_tasks, n_informative=20, seed=0)
    alpha = shared_alpha_max(X, Y) / 20
    with_skglm = SkglmMultiTaskLasso is not None
    notes = []
    compile_s = warm_up_skglm() if with_skglm else None
    if with_skglm:
        notes.append(
            f"skglm was first fitted on a 20 x 5 problem (numba compilation, "
            f"{compile_s:.3g} s) so that compilation is not in its times."
        )
    else:
        notes.append("skglm is not installed: pip install skglm")
    name = f"shared n={n} p={p} T={n_tasks}, 20 informative, alpha=alpha_max/20"
    rows = equal_objective_shared(name, X, Y, alpha, args, with_skglm=with_skglm)
    notes += time_ratio_lines(rows, SKMTL, [SKLEARN] + ([SKGLM] if with_skglm else []))
    settings = {"n": n, "p": p, "n_tasks": n_tasks, "n_informative": 20}
    settings.update(alpha=alpha, rtol=SHARED_RTOL, skglm_compile_s=compile_s)
    return CaseResult(rows, EQUAL_COLUMNS, notes, settings)


def case_scale_wide(args):
    n, p, n_tasks = (300, 5000, 10) if args.quick else (1000, 20_000, 20)
    X, Y = shared_problem(n, p, n_tasks, n_informative=50, seed=3)
    alpha = shared_alpha_max(X, Y) / 20
    name = f"wide n={n} p={p} T={n_tasks}, 50 informative, alpha=alpha_max/20"
    rows = equal_objective_shared(
        name, X, Y, alpha, args, with_skglm=False, memory=True
    )
    notes = time_ratio_lines(rows, SKMTL, [SKLEARN])
    notes.append(f"X is {X.nbytes / 2**20:.1f} MiB (not in the peaks).")
    settings = {"n": n, "p": p, "n_tasks": n_tasks, "n_informative": 50}
    settings.update(alpha=alpha, rtol=SHARED_RTOL, x_bytes=X.nbytes)
    return CaseResult(rows, EQUAL_COLUMNS + ["peak_memory_bytes"], notes, settings)


# --------------------------------------------------------------------------
# issue 5: School (school-cvxpy, school-path, school-accuracy)
# --------------------------------------------------------------------------


def school_frame(standardise=True):
    """School as a DataFrame with its ``school`` column, and the targets."""
    bunch = load_school(as_frame=True)
    X = bunch.data.copy()
    features = [column for column in X.columns if column != bunch.task_column]
    if standardise:
        X[features] = StandardScaler().fit_transform(X[features])
    return X, bunch.target.to_numpy(dtype=float), bunch.task_column


def bisect_alpha(fit, alpha_max, n_features, max_steps=40):
    """Bisection on ``[0, alpha_max]`` for half of the features selected.

    ``fit(alpha)`` returns a fitted model. Stops when the number of selected
    features is within 1/2 of ``n_features / 2``. Returns ``(alpha, count,
    steps)``.
    """
    low, high, half = 0.0, alpha_max, n_features / 2
    steps = 0
    while steps < max_steps:
        steps += 1
        alpha = 0.5 * (low + high)
        count = int(np.sum(fit(alpha).support_))
        if abs(count - half) <= 0.5:
            break
        low, high = (alpha, high) if count > half else (low, alpha)
    return alpha, count, steps


def case_school_cvxpy(args):
    X, y, task_column = school_frame()
    n_features = X.shape[1] - 1

    def fit(alpha, solver="auto", tol=args.tol):
        return JointFeatureRegressor(
            alpha=alpha,
            task_column=task_column,
            solver=solver,
            tol=tol,
            max_iter=MAX_ITER,
        ).fit(X, y)

    alpha_max = joint_feature_path(X, y, task_column=task_column, n_alphas=1)[0][0]
    alpha, count, steps = bisect_alpha(fit, alpha_max, n_features)
    notes = [
        f"alpha = {alpha:.6g} = {alpha / alpha_max:.4g} alpha_max selects {count} "
        f"of {n_features} features ({steps} bisection steps, skmtl tol={args.tol:g})."
    ]
    objective = long_objective(X, y, alpha, "squared", task_column)
    candidates = {
        CVXPY: (lambda tol: fit(alpha, "cvxpy"), (None,)),
        "skmtl BCD (auto)": (lambda tol: fit(alpha, "bcd", tol), TOL_LADDER),
        "skmtl FISTA": (lambda tol: fit(alpha, "fista", tol), TOL_LADDER),
    }
    rows, cvxpy_notes = _against_cvxpy(
        "School (139 tasks, long)", candidates, objective, args
    )
    notes += cvxpy_notes + _cvxpy_lines(rows, goal=10.0)
    settings = {"alpha": alpha, "alpha_max": alpha_max, "n_selected_skmtl": count}
    settings.update(rtol=CVXPY_RTOL, bisection_tol=args.tol)
    return CaseResult(rows, EQUAL_COLUMNS, notes, settings)


def _against_cvxpy(name, candidates, objective, args):
    """Equal-objective rows with cvxpy's objective as ``F*``, and notes.

    A note says so when the conic solver called its solution inaccurate
    (then its warnings are not repeated for every timed call).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        target = objective(candidates[CVXPY][0](None))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Solution may be inaccurate")
        rows = equal_objective_rows(
            name,
            candidates,
            objective,
            target,
            rtol=CVXPY_RTOL,
            repeat=args.repeat,
            reference=CVXPY,
            support=n_selected,
        )
    inaccurate = any("inaccurate" in str(w.message) for w in caught)
    notes = [
        "cvxpy reported its solution as inaccurate (optimal_inaccurate); "
        "F* is its objective all the same."
    ]
    return rows, notes if inaccurate else []


def _cvxpy_lines(rows, goal=None):
    lines = [
        "cvxpy's coefficients are not exactly zero: its n_selected counts "
        "features with any non-zero coefficient."
    ]
    for row in rows:
        if row["candidate"] == CVXPY:
            continue
        line = f"{row['candidate']}: speed-up over cvxpy {row['speedup']:.3g}x"
        if goal is not None:
            met = row["speedup"] >= goal and row["reached"]
            line += f"; goal >= {goal:g}x {'met' if met else 'NOT met'}"
        lines.append(line + ".")
    return lines


def case_school_path(args):
    X, y, task_column = school_frame()
    n_alphas, eps = (10, 1e-2) if args.quick else (100, 1e-3)
    labels, value = long_objective_arrays(
        X.drop(columns=task_column).to_numpy(), X[task_column].to_numpy(), y
    )

    def path():
        return joint_feature_path(
            X,
            y,
            task_column=task_column,
            n_alphas=n_alphas,
            eps=eps,
            tol=args.tol,
            max_iter=MAX_ITER,
        )

    warm = time_callable(path, repeat=args.repeat, warmup=0)
    alphas, coefs, intercepts, _ = warm.result

    def cold_fits():
        fits = []
        for alpha in alphas:
            model = JointFeatureRegressor(
                alpha=alpha, task_column=task_column, tol=args.tol, max_iter=MAX_ITER
            ).fit(X, y)
            fits.append((model.coef_, model.intercept_))
        return fits

    cold = time_callable(cold_fits, repeat=args.repeat, warmup=0)
    warm_values = np.array(
        [value(*fit, a) for a, *fit in zip(alphas, coefs, intercepts)]
    )
    cold_values = np.array([value(*fit, a) for a, fit in zip(alphas, cold.result)])
    rows = _path_rows(warm, cold, warm_values, cold_values, n_alphas)
    name = f"School path, {n_alphas} alphas down to {eps:g} alpha_max, tol={args.tol:g}"
    for row in rows:
        row["benchmark"] = name
    settings = {"n_alphas": n_alphas, "eps": eps, "tol": args.tol}
    settings.update(
        alphas=alphas, relative_difference=(warm_values - cold_values) / cold_values
    )
    columns = [
        "candidate",
        "total_s",
        "speedup",
        "objective_sum",
        "max_rel_diff",
        "worst_alpha_index",
    ]
    return CaseResult(rows, columns, [], settings)


def _path_rows(warm, cold, warm_values, cold_values, n_alphas):
    relative = np.abs(warm_values - cold_values) / np.abs(cold_values)
    worst = int(np.argmax(relative))
    return [
        {
            "candidate": f"{n_alphas} cold fits",
            "total_s": cold.median,
            "speedup": 1.0,
            "objective_sum": float(cold_values.sum()),
            "max_rel_diff": None,
            "worst_alpha_index": None,
        },
        {
            "candidate": "joint_feature_path (warm starts)",
            "total_s": warm.median,
            "speedup": cold.median / warm.median,
            "objective_sum": float(warm_values.sum()),
            "max_rel_diff": float(relative[worst]),
            "worst_alpha_index": worst,
        },
    ]


def accuracy_models(task_column, seed):
    """The three pipelines of ``school-accuracy``, inner CV seeded by ``seed``."""

    def pipeline(model):
        scale = TaskColumnPassthrough(StandardScaler(), task_column=task_column)
        return make_pipeline(scale.set_output(transform="pandas"), model)

    inner = TaskKFold(5, task_column=task_column, shuffle=True, random_state=seed)
    return {
        "JointFeatureRegressorCV": pipeline(
            JointFeatureRegressorCV(
                n_alphas=20, eps=1e-2, task_column=task_column, cv=inner
            )
        ),
        "per-task RidgeCV": pipeline(
            PerTaskEstimator(RidgeCV(alphas=RIDGE_ALPHAS), task_column=task_column)
        ),
        "pooled RidgeCV": pipeline(
            PooledEstimator(RidgeCV(alphas=RIDGE_ALPHAS), task_column=task_column)
        ),
    }


def case_school_accuracy(args):
    X, y, task_column = school_frame(standardise=False)
    n_splits = 2 if args.quick else 10
    scores, fit_times = {}, {}
    for seed in range(n_splits):
        X_train, X_test, y_train, y_test = train_test_split_tasks(
            X, y, task_column=task_column, test_size=0.25, random_state=seed
        )
        for label, model in accuracy_models(task_column, seed).items():
            start = time.perf_counter()
            model.fit(X_train, y_train)
            fit_times.setdefault(label, []).append(time.perf_counter() - start)
            score = r2_score(y_test, model.predict(X_test))
            scores.setdefault(label, []).append(float(score))
    baseline = np.asarray(scores["per-task RidgeCV"])
    rows = [
        _accuracy_row(label, values, fit_times[label], baseline)
        for label, values in scores.items()
    ]
    name = f"School, {n_splits} splits 75/25 within school: pooled test R^2"
    for row in rows:
        row["benchmark"] = name
    columns = ["candidate", "explained_variance_mean", "explained_variance_std"]
    columns += ["minus_per_task_mean", "splits_better_than_per_task", "fit_s_mean"]
    return CaseResult(rows, columns, [], {"n_splits": n_splits, "test_size": 0.25})


def _accuracy_row(label, values, fit_times, baseline):
    values = np.asarray(values)
    return {
        "candidate": label,
        "explained_variance_mean": float(values.mean()),
        "explained_variance_std": float(values.std()),
        "minus_per_task_mean": float(np.mean(values - baseline)),
        "splits_better_than_per_task": int(np.sum(values > baseline)),
        "fit_s_mean": float(np.mean(fit_times)),
        "explained_variance": values.tolist(),
        "fit_s": list(fit_times),
    }


# --------------------------------------------------------------------------
# issue 5: growth in the number of tasks, logistic against cvxpy
# --------------------------------------------------------------------------


def case_scale_tasks(args):
    sizes, n_rows, p = (
        ((30, 100, 300), 100, 50) if args.quick else ((100, 300, 1000), 200, 200)
    )
    rows = []
    for n_tasks in sizes:
        X, y, _ = make_multitask_regression(
            n_tasks, n_rows, p, n_informative=20, random_state=0
        )
        alpha = joint_feature_path(X, y, task_column=0, n_alphas=1)[0][0] / 20

        def fit(X=X, y=y, alpha=alpha):
            return JointFeatureRegressor(
                alpha=alpha, task_column=0, tol=args.tol, max_iter=MAX_ITER
            ).fit(X, y)

        timing = time_callable(fit, repeat=args.repeat, warmup=0)
        _, peak = peak_memory(fit)
        rows.append(
            {
                "candidate": "skmtl JointFeatureRegressor",
                "n_tasks": n_tasks,
                "n_observations": X.shape[0],
                "median_s": timing.median,
                "min_s": timing.min,
                "peak_memory_bytes": peak,
                "x_mib": X.nbytes / 2**20,
                "n_selected": n_selected(timing.result),
                "n_iter": timing.result.n_iter_,
                "times_s": timing.times,
            }
        )
    _growth_exponents(rows)
    name = f"long format, tasks x {n_rows} rows x {p} features, alpha=alpha_max/20"
    for row in rows:
        row["benchmark"] = name
    columns = ["n_tasks", "n_observations", "median_s", "peak_memory_bytes", "x_mib"]
    columns += ["time_exponent", "memory_exponent", "n_selected", "n_iter"]
    settings = {"sizes": sizes, "n_rows": n_rows, "n_features": p, "tol": args.tol}
    notes = [
        "exponents: log(ratio of seconds or of peaks) / log(ratio of tasks), "
        "from the previous size."
    ]
    return CaseResult(rows, columns, notes, settings)


def _growth_exponents(rows):
    rows[0]["time_exponent"] = rows[0]["memory_exponent"] = None
    for previous, row in zip(rows, rows[1:]):
        growth = np.log(row["n_tasks"] / previous["n_tasks"])
        row["time_exponent"] = float(
            np.log(row["median_s"] / previous["median_s"]) / growth
        )
        row["memory_exponent"] = float(
            np.log(row["peak_memory_bytes"] / previous["peak_memory_bytes"]) / growth
        )


def case_logistic_cvxpy(args):
    n_rows, p = (40, 20) if args.quick else (100, 50)
    X, y, _ = make_multitask_classification(
        n_tasks=30, n_samples=n_rows, n_features=p, n_informative=5, random_state=0
    )
    alpha_max = joint_feature_path(
        X, y, task_column=0, loss="logistic", n_alphas=1, intercept_alpha=0.0
    )[0][0]
    alpha = alpha_max / 10

    def fit(solver, tol=args.tol):
        return JointFeatureClassifier(
            alpha=alpha,
            task_column=0,
            intercept_alpha=0.0,
            solver=solver,
            tol=tol,
            max_iter=MAX_ITER,
        ).fit(X, y)

    candidates = {
        CVXPY: (lambda tol: fit("cvxpy"), (None,)),
        "skmtl FISTA (auto)": (lambda tol: fit("fista", tol), TOL_LADDER),
        # Shows whether a tighter fit goes below cvxpy's objective.
        "skmtl FISTA tol=1e-8": (lambda tol: fit("fista", tol), (1e-8,)),
    }
    name = (
        f"logistic, 30 tasks x {n_rows} rows x {p} features (long), alpha=alpha_max/10"
    )
    rows, notes = _against_cvxpy(
        name, candidates, long_objective(X, y, alpha, "logistic"), args
    )
    settings = {"n_tasks": 30, "n_rows": n_rows, "n_features": p, "alpha": alpha}
    settings.update(rtol=CVXPY_RTOL)
    return CaseResult(rows, EQUAL_COLUMNS, notes + _cvxpy_lines(rows), settings)


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

COLUMNS = [
    "candidate",
    "median_s",
    "speedup",
    "objective",
    "objective_rel_diff",
    "same_objective",
]


def _earlier(case, with_selected=False):
    """Wrap an earlier case, which returns its rows only."""

    def run(args):
        columns = COLUMNS + (["n_selected"] if with_selected else [])
        return CaseResult(case(args), columns, [], {})

    return run


CASES = {
    "mtlasso": ("1. shared design at sklearn's tol=1e-8 objective", case_mtlasso),
    "school-cvxpy": ("2. School, long format: skmtl vs cvxpy", case_school_cvxpy),
    "school-path": ("3. School path: warm starts vs cold fits", case_school_path),
    "scale-tasks": ("4a. growth in the number of tasks", case_scale_tasks),
    "scale-wide": ("4b. wide shared design vs MultiTaskLasso", case_scale_wide),
    "logistic-cvxpy": ("5. logistic, long format: skmtl vs cvxpy", case_logistic_cvxpy),
    "school-accuracy": ("6. School accuracy", case_school_accuracy),
    "shared": ("(a) shared design at one tol", _earlier(case_shared, True)),
    "path": ("(b) regularisation path vs lasso_path", _earlier(case_path)),
    "cv": ("(c) cross-validation vs MultiTaskLassoCV", _earlier(case_cv)),
    "school": ("(d) School at one tol vs cvxpy", _earlier(case_school)),
    "logistic": ("(d') logistic at one tol vs cvxpy", _earlier(case_logistic)),
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
        "--tol",
        type=float,
        default=1e-8,
        help="tol of fixed-tolerance fits, paths and bisection (default 1e-8)",
    )
    parser.add_argument(
        "--rtol", type=float, default=1e-6, help="objective agreement, earlier cases"
    )
    parser.add_argument(
        "--n-alphas", type=int, default=30, help="grid size of the cases path and cv"
    )
    parser.add_argument(
        "--blas-threads", type=int, default=1, help="BLAS threads (default 1)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat = min(args.repeat, 2)
        args.n_alphas = min(args.n_alphas, 20)
    return args


def _version(module):
    try:
        return __import__(module).__version__
    except ImportError:
        return None


def warm_up_skmtl():
    """Fit tiny wide and long problems: numba compiles skmtl's kernels once.

    Returns the seconds taken (the compilation, when the on-disk cache is
    stale).
    """
    X, Y = shared_problem(30, 6, 3, n_informative=2, seed=8)
    long_X, long_y, _ = make_multitask_regression(3, 20, 6, random_state=8)
    start = time.perf_counter()
    JointFeatureRegressor(alpha=0.01).fit(X, Y)
    JointFeatureRegressor(alpha=0.01, task_column=0).fit(long_X, long_y)
    return time.perf_counter() - start


def run_case(name, args):
    """Run one case, print its tables and notes, write its JSON file."""
    title, case = CASES[name]
    warm_up_s = warm_up_skmtl()
    source = source_state()
    state = source["git_commit"]
    if source["uncommitted_package_files"]:
        state += " + uncommitted changes under skmtl/ (listed below)"
    start = time.perf_counter()
    result = case(args)
    print(f"\n{title} [measured at {state}]")
    for benchmark in dict.fromkeys(row["benchmark"] for row in result.rows):
        rows = [row for row in result.rows if row["benchmark"] == benchmark]
        print_table(rows, columns=result.columns, title=benchmark)
    notes = result.notes + [
        f"skmtl was first fitted on tiny wide and long problems ({warm_up_s:.3g} s, "
        "numba compilation if its cache was stale), untimed."
    ]
    if source["uncommitted_package_files"]:
        changed = [line[3:] for line in source["uncommitted_package_files"]]
        notes.append(f"uncommitted under skmtl/: {', '.join(changed)}")
    for line in notes:
        print(line)
    settings = {"case": name, "quick": args.quick, "repeat": args.repeat}
    settings.update(tol=args.tol, blas_threads=args.blas_threads, **source)
    settings.update(result.settings, wall_s=time.perf_counter() - start)
    settings.update(skmtl_warm_up_s=warm_up_s, numba=_version("numba"))
    rows = [dict(row, notes=notes) for row in result.rows]
    suffix = "_quick" if args.quick else ""
    path = write_json(f"joint_feature_{name}{suffix}", rows, settings=settings)
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
