"""Joint-feature (L2,1) models: skmtl against scikit-learn and cvxpy.

Four cases, all in one process, every candidate evaluated with one objective
function written here from DESIGN section 3 (not with any solver's own
value):

(a) **MultiTaskLasso, shared design**: ``JointFeatureRegressor`` (BCD over
    working sets, accelerated proximal-gradient subproblems; and the cyclic
    per-feature inner solver for comparison) against scikit-learn's Cython
    ``MultiTaskLasso`` on wide data with few informative features, at
    ``alpha = 0.1 alpha_max`` (sparse solution) and ``0.01 alpha_max``
    (hundreds of features selected). Both stop on a duality gap; tolerances
    are tightened until the objectives agree to ``rtol``. scikit-learn's
    criterion ``gap <= tol ||Y - mean||^2 / n`` is ``2 tol P(0)``, skmtl's
    ``tol P(0)``: the same ``tol`` is twice as strict for skmtl.
(b) **Path**: ``joint_feature_path`` against scikit-learn's ``lasso_path``
    (multi-task coordinate descent) on centred data, same grid; the objective
    is the sum of the objectives over the grid.
(c) **Cross-validation**: ``JointFeatureRegressorCV`` against
    ``MultiTaskLassoCV``, same grid, same ``KFold`` folds; compared on the
    mean held-out MSE at the chosen ``alpha`` (both choose the same one).
(d) **Long format, School**: ``JointFeatureRegressor`` (BCD and FISTA)
    against the cvxpy reference on the 139 schools (standardised features),
    and ``JointFeatureClassifier`` (FISTA) against cvxpy on a long-format
    logistic problem. No other library fits these objectives.

Run ``python benchmarks/bench_joint_feature.py`` (a few minutes) or with
``--quick`` (about a minute); ``--help`` lists the options.
"""

import argparse

import numpy as np
from _harness import blas_overrides, compare, print_table, write_json
from scipy.special import log_expit
from sklearn.linear_model import MultiTaskLasso, MultiTaskLassoCV, lasso_path
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler

from skmtl.datasets import load_school, make_multitask_classification
from skmtl.linear_model import (
    JointFeatureClassifier,
    JointFeatureRegressor,
    JointFeatureRegressorCV,
    joint_feature_path,
)


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
        "skmtl BCD (APG inner)": lambda: JointFeatureRegressor(
            alpha=alpha, tol=tol, max_iter=100_000
        ).fit(X, Y),
    }
    if with_cyclic:
        candidates["skmtl BCD (cyclic inner)"] = lambda: _cyclic(X, Y, alpha, tol)
    return candidates


def _cyclic(X, Y, alpha, tol):
    """``JointFeatureRegressor`` fitted with the per-feature cyclic inner solver."""
    from skmtl._tasks import check_task_data
    from skmtl.solvers import bcd

    model = JointFeatureRegressor(alpha=alpha)
    data = check_task_data(model, X, Y)
    result = bcd.solve(data, alpha=alpha, tol=tol, max_iter=100_000, inner="cd")
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


def long_objective(X, y, alpha, loss):
    """The documented objective in long format (task in column 0)."""
    task = X[:, 0].astype(int)
    features = X[:, 1:]

    def objective(model):
        value = 0.0
        for t, label in enumerate(model.tasks_):
            rows = task == label
            z = features[rows] @ model.coef_[t] + model.intercept_[t]
            if loss == "squared":
                value += 0.5 * np.mean((y[rows] - z) ** 2)
            else:
                value += np.mean(-log_expit(z) + (1 - y[rows]) * z)
        return value + alpha * np.sum(np.linalg.norm(model.coef_, axis=0))

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


COLUMNS = [
    "candidate",
    "median_s",
    "speedup",
    "objective",
    "objective_rel_diff",
    "same_objective",
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller problems")
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions")
    parser.add_argument(
        "--tol", type=float, default=1e-8, help="tol of every solver (default 1e-8)"
    )
    parser.add_argument(
        "--rtol", type=float, default=1e-6, help="objective agreement required"
    )
    parser.add_argument("--n-alphas", type=int, default=30, help="path / CV grid size")
    args = parser.parse_args()
    if args.quick:
        args.repeat = min(args.repeat, 2)
        args.n_alphas = min(args.n_alphas, 20)
    if blas_overrides():
        print(f"note: BLAS overrides in effect: {blas_overrides()}")
    all_rows = []
    for title, case in [
        ("(a) shared design: JointFeatureRegressor vs MultiTaskLasso", case_shared),
        ("(b) regularisation path", case_path),
        ("(c) cross-validation", case_cv),
        ("(d) School, long format: skmtl vs cvxpy", case_school),
        ("(d') logistic, long format: skmtl vs cvxpy", case_logistic),
    ]:
        rows = case(args)
        print()
        print(title)
        for name in dict.fromkeys(row["benchmark"] for row in rows):
            print_table(
                [row for row in rows if row["benchmark"] == name],
                columns=COLUMNS + (["n_selected"] if "n_selected" in rows[0] else []),
                title=name,
            )
            print()
        all_rows.extend(rows)
    path = write_json(
        "joint_feature",
        all_rows,
        settings={
            "quick": args.quick,
            "repeat": args.repeat,
            "tol": args.tol,
            "rtol": args.rtol,
            "n_alphas": args.n_alphas,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
