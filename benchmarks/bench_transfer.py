"""Transfer to new tasks: ``fit_new_tasks`` against a full refit.

On the bundled School data, prepared exactly as ``skmtl compare`` prepares
it, ``--n-new`` schools (10 by default) are held out; each gives ``--shots``
labelled students (5 by default) and its other students are the test rows.
Every model of ``skmtl compare`` is built as there (``*CV`` classes choose
their strengths on the training rows) and

- fitted on the source schools, then adapted with ``fit_new_tasks`` on the
  labelled rows (the preprocessing stays as fitted on the source rows);
- refitted from scratch on the source rows plus the labelled rows, which is
  what a user without ``fit_new_tasks`` would do (strengths chosen again).

Reported: the time of ``fit_new_tasks``, the time of the full refit, their
ratio, and the explained variance on the test rows of the new schools for
both (how close the adaptation comes to the refit). No other library offers
adaptation to new tasks, so the refit is the reference.

Run ``python benchmarks/bench_transfer.py`` (several minutes: every model is
fitted twice; the multi-task GP is the slowest) or ``--models`` for a subset.
"""

import os

# Before numpy is imported, so that OpenBLAS starts with one thread.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
from _harness import print_table, write_json  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from skmtl import __main__ as cli  # noqa: E402
from skmtl._compare import MODELS, build_model, score_model  # noqa: E402

MULTI_TASK = [name for name in MODELS if name not in ("per-task", "pooled")]


def school_dataset():
    """School as ``skmtl compare`` prepares it (bundled data, default options)."""
    args = cli._parser().parse_args(["compare"])
    frame, source = cli._load(args)
    return cli._prepare(frame, args, source)[0]


def held_out_rows(dataset, n_new, shots, seed):
    """Source rows, the labelled rows and the test rows of ``n_new`` schools."""
    rng = np.random.default_rng(seed)
    tasks = dataset.X[dataset.task_column].to_numpy()
    new = rng.choice(np.unique(tasks), size=n_new, replace=False)
    source = np.flatnonzero(~np.isin(tasks, new))
    labelled, test = [], []
    for task in new:
        rows = rng.permutation(np.flatnonzero(tasks == task))
        labelled.append(rows[:shots])
        test.append(rows[shots:])
    return source, np.concatenate(labelled), np.concatenate(test)


def run_model(name, dataset, source, labelled, test, seed):
    X, y = dataset.X, dataset.y
    model = build_model(name, dataset, random_state=seed)
    model.fit(X.iloc[source], y[source])
    start = time.perf_counter()
    model[-1].fit_new_tasks(model[:-1].transform(X.iloc[labelled]), y[labelled])
    adapt_time = time.perf_counter() - start
    adapted = score_model(model, dataset, test)[0]["explained_variance"]

    both = np.concatenate([source, labelled])
    refit = build_model(name, dataset, random_state=seed)
    start = time.perf_counter()
    refit.fit(X.iloc[both], y[both])
    refit_time = time.perf_counter() - start
    refitted = score_model(refit, dataset, test)[0]["explained_variance"]
    return {
        "model": name,
        "fit_new_tasks s": adapt_time,
        "full refit s": refit_time,
        "refit / adapt": refit_time / adapt_time,
        "R2 adapted": adapted,
        "R2 refit": refitted,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=MULTI_TASK, choices=MODELS)
    parser.add_argument("--n-new", type=int, default=10)
    parser.add_argument("--shots", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    dataset = school_dataset()
    source, labelled, test = held_out_rows(dataset, args.n_new, args.shots, args.seed)
    print(
        f"School: {len(source)} source rows; {args.n_new} new schools with "
        f"{args.shots} labelled rows each, {len(test)} test rows"
    )
    rows = []
    for name in args.models:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            row = run_model(name, dataset, source, labelled, test, args.seed)
        rows.append(row)
        print(f"  {name}: done", flush=True)
    print_table(rows, columns=list(rows[0]))
    write_json("transfer", rows, settings=vars(args))


if __name__ == "__main__":
    main()
