"""Multi-task MLPs (hard and soft parameter sharing): speed and accuracy.

Three cases, all in one process:

(a) **Time per epoch, one task**: ``MultiTaskMLPRegressor`` (hard sharing,
    one task, no task layers: scikit-learn's architecture and objective)
    against scikit-learn's ``MLPRegressor`` on the same data, the same
    hidden layers and the same batch size, with Adam (time per epoch) and
    L-BFGS (time per iteration). Goal: no slower than 1.2x.
(b) **Time per epoch, 139 tasks** (School, long format): hard and soft
    sharing with Adam, against one pooled ``MLPRegressor`` epoch on the same
    rows (one network on all the data) and 139 per-task ``MLPRegressor``
    epochs (as many networks as soft sharing has).
(c) **Accuracy**: School (75/25 of every school, 10 random splits) and
    ``make_multitask_regression`` with a non-linear target (``sin`` of each
    task's linear score plus its square; 5 splits): hard and soft sharing
    against per-task and pooled ``MLPRegressor`` (the same architecture and
    ``alpha``) and ``MeanRegularizedRegressorCV``. Features and targets are
    standardised on the training rows (the same for every model); reported
    is the pooled test R^2, mean +- std over the splits.

BLAS runs on one thread unless ``OPENBLAS_NUM_THREADS`` says otherwise: the
products here are small, and threaded OpenBLAS on a shared 2-core machine ran
them up to 30 times slower, for scikit-learn and skmtl alike.

Run ``python benchmarks/bench_mlp.py`` (about 15 minutes on 2 cores) or with
``--quick`` (under a minute); ``--help`` lists the options.
"""

import os

# Before numpy is imported, so that OpenBLAS starts with one thread.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from functools import partial  # noqa: E402

import numpy as np  # noqa: E402
from _harness import print_table, write_json  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import r2_score  # noqa: E402
from sklearn.neural_network import MLPRegressor  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skmtl.baseline import PerTaskEstimator, PooledEstimator  # noqa: E402
from skmtl.datasets import load_school, make_multitask_regression  # noqa: E402
from skmtl.linear_model import MeanRegularizedRegressorCV  # noqa: E402
from skmtl.model_selection import train_test_split_tasks  # noqa: E402
from skmtl.neural_network import MultiTaskMLPRegressor  # noqa: E402

#: ``alpha`` of every network on School and on the synthetic tasks.
SCHOOL_ALPHA, SYNTHETIC_ALPHA = 10.0, 1.0


def _quietly(func):
    """Run ``func`` ignoring ConvergenceWarning (epochs are fixed on purpose)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return func()


def _best_time(func, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = _quietly(func)
        times.append(time.perf_counter() - start)
    return min(times), result


def _adam(estimator_class, epochs, **params):
    """An Adam fit of exactly ``epochs`` epochs (no early stop)."""
    return estimator_class(
        solver="adam", max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1,
        random_state=0, **params,
    )  # fmt: skip


def time_one_task(args):
    """(a) time per epoch (Adam) and per iteration (L-BFGS), one task."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.n_samples, args.n_features))
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2] + 0.1 * rng.normal(size=len(X))
    hidden = dict(hidden_layer_sizes=(args.hidden,))
    rows = []
    for solver, per in (("adam", "epoch"), ("lbfgs", "iteration")):
        times = {}
        for name, cls in (("sklearn", MLPRegressor), ("skmtl", MultiTaskMLPRegressor)):
            if solver == "adam":
                model = _adam(cls, args.epochs, batch_size=200, **hidden)
            else:
                model = cls(solver="lbfgs", max_iter=args.epochs, random_state=0)
                model.set_params(**hidden)
            seconds, fitted = _best_time(lambda m=model: m.fit(X, y), args.repeats)
            times[name] = seconds / fitted.n_iter_
        rows.append(
            {
                "solver": solver,
                "per": per,
                "sklearn_s": times["sklearn"],
                "skmtl_s": times["skmtl"],
                "ratio": times["skmtl"] / times["sklearn"],
            }
        )
    return rows


def standardised_school():
    """School in long format (task in column 0), features and target standardised."""
    X, y = load_school(return_X_y=True)
    X = X.copy()
    X[:, 1:] = StandardScaler().fit_transform(X[:, 1:])
    return X, (y - y.mean()) / y.std()


def time_school(args):
    """(b) time per Adam epoch on the 139 tasks of School."""
    X, y = standardised_school()
    hidden = dict(hidden_layer_sizes=(args.hidden,))
    hard = _adam(MultiTaskMLPRegressor, args.epochs, task_column=0, **hidden)
    candidates = {
        "pooled MLPRegressor": (_adam(MLPRegressor, args.epochs, **hidden), X[:, 1:]),
        "per-task MLPRegressor": (
            PerTaskEstimator(_adam(MLPRegressor, args.epochs, **hidden), task_column=0),
            X,
        ),
        "mlp-hard": (hard, X),
        "mlp-soft": (clone(hard).set_params(sharing="soft"), X),
    }
    rows = []
    for name, (model, features) in candidates.items():
        seconds, fitted = _best_time(partial(model.fit, features, y), args.repeats)
        # Per task: every network runs the same number of epochs.
        n_iter = getattr(fitted, "n_iter_", args.epochs)
        rows.append({"candidate": name, "epoch_s": seconds / n_iter})
    reference = rows[0]["epoch_s"]
    for row in rows:
        row["vs_pooled"] = row["epoch_s"] / reference
    return rows


def accuracy_models(hidden, alpha, sharing_alpha, max_iter):
    """The compared models, all in long format with the task in column 0."""
    network = dict(hidden_layer_sizes=(hidden,), alpha=alpha, max_iter=max_iter)
    mlp = MLPRegressor(solver="lbfgs", random_state=0, **network)
    return {
        "mlp-hard": MultiTaskMLPRegressor(task_column=0, random_state=0, **network),
        "mlp-soft": MultiTaskMLPRegressor(
            task_column=0,
            sharing="soft",
            sharing_alpha=sharing_alpha,
            random_state=0,
            **network,
        ),  # fmt: skip
        "per-task MLP": PerTaskEstimator(mlp, task_column=0),
        "pooled MLP": PooledEstimator(mlp, task_column=0),
        "MeanRegularizedCV": MeanRegularizedRegressorCV(task_column=0),
    }


def split_scores(X, y, n_splits, models, test_size=0.25):
    """Pooled test R^2 of every model over ``n_splits`` within-task splits."""
    scores = {name: [] for name in models}
    for seed in range(n_splits):
        X_train, X_test, y_train, y_test = train_test_split_tasks(
            X, y, task_column=0, test_size=test_size, random_state=seed
        )
        scaler = StandardScaler().fit(X_train[:, 1:])
        X_train = np.column_stack([X_train[:, 0], scaler.transform(X_train[:, 1:])])
        X_test = np.column_stack([X_test[:, 0], scaler.transform(X_test[:, 1:])])
        mean, scale = y_train.mean(), y_train.std()
        for name, model in models.items():
            fitted = _quietly(partial(model.fit, X_train, (y_train - mean) / scale))
            prediction = fitted.predict(X_test) * scale + mean
            scores[name].append(r2_score(y_test, prediction))
    return [
        {
            "model": name,
            "r2_mean": float(np.mean(values)),
            "r2_std": float(np.std(values)),
        }
        for name, values in scores.items()
    ]


def nonlinear_tasks(seed=0, n_tasks=20, n_samples=100):
    """Related tasks with a non-linear target: ``sin(2 z) + z^2 / 2``, z linear."""
    X, z, _ = make_multitask_regression(
        n_tasks=n_tasks, n_samples=n_samples, n_features=10, n_informative=5,
        task_relatedness=0.9, noise=0.0, random_state=seed,
    )  # fmt: skip
    z = z / z.std()
    noise = np.random.default_rng(seed).normal(scale=0.1, size=len(z))
    return X, np.sin(2 * z) + z**2 / 2 + noise


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 2 splits")
    parser.add_argument("--hidden", type=int, default=32, help="hidden units")
    parser.add_argument("--max-iter", type=int, default=200, help="L-BFGS iterations")
    args = parser.parse_args()
    args.n_samples, args.n_features = (2000, 20) if args.quick else (10_000, 20)
    args.epochs, args.repeats = (3, 1) if args.quick else (10, 3)
    timing_args = argparse.Namespace(**{**vars(args), "hidden": 100})

    rows_a = time_one_task(timing_args)
    print_table(rows_a, title="(a) one task, 100 hidden units: seconds per epoch")
    rows_b = time_school(timing_args)
    print_table(rows_b, title="\n(b) School, 139 tasks, Adam: seconds per epoch")

    # alpha and sharing_alpha of the networks: chosen on one School split and
    # one synthetic split (seed 0; the tables average other seeds too).
    models = accuracy_models(args.hidden, SCHOOL_ALPHA, 1.0, args.max_iter)
    X, y = load_school(return_X_y=True)
    n_school = 2 if args.quick else 10
    rows_c = split_scores(X, y, n_school, models)
    print_table(rows_c, title=f"\n(c) School, {n_school} splits 75/25: test R^2")
    models = accuracy_models(args.hidden, SYNTHETIC_ALPHA, 0.1, args.max_iter)
    X, y = nonlinear_tasks()
    n_synthetic = 2 if args.quick else 5
    rows_d = split_scores(X, y, n_synthetic, models, test_size=0.5)
    print_table(
        rows_d,
        title=f"\n(d) non-linear make_multitask_regression, {n_synthetic} splits: R^2",
    )
    write_json(
        "mlp",
        rows_a + rows_b + rows_c + rows_d,
        settings={**vars(args), "school_alpha": SCHOOL_ALPHA, "alpha": SYNTHETIC_ALPHA},
    )


if __name__ == "__main__":
    main()
