"""The command line: ``skmtl compare`` (also ``python -m skmtl compare``)."""

import argparse
import json
import sys
from pathlib import Path

from . import __version__

_EPILOG = """examples:
  skmtl compare
      School data (139 schools), every model, 10 random 75/25 within-school splits
  skmtl compare --n-splits 3 --models per-task pooled
  skmtl compare --data sales.csv --target units --task-column store --json out.json
"""


def _parser():
    parser = argparse.ArgumentParser(
        prog="skmtl", description="Multi-task learning for tabular data."
    )
    parser.add_argument("--version", action="version", version=f"skmtl {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    compare = commands.add_parser(
        "compare",
        help="compare multi-task models with the per-task and pooled baselines",
        description=(
            "Fit every model on repeated random train/test splits made within "
            "each task and print the pooled explained variance (R^2 of all test "
            "rows) and RMSE of each. Features are standardised inside each "
            "training part; hyper-parameters are chosen by cross-validation on "
            "the training part only."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compare.add_argument(
        "--data", type=Path, help="CSV file (default: the bundled School data)"
    )
    compare.add_argument("--target", help="target column of --data")
    compare.add_argument("--task-column", help="task column of --data")
    compare.add_argument(
        "--models",
        nargs="+",
        metavar="MODEL",
        help="models to compare (default: all available)",
    )
    compare.add_argument(
        "--n-splits", type=int, default=10, help="number of random splits (10)"
    )
    compare.add_argument(
        "--test-size",
        type=float,
        default=0.25,
        help="fraction of each task's rows used for testing (0.25)",
    )
    compare.add_argument(
        "--random-state", type=int, default=0, help="seed of the splits (0)"
    )
    compare.add_argument("--json", type=Path, help="write every number to this file")
    compare.add_argument("--quiet", action="store_true", help="print only the table")
    return parser


class UsageError(Exception):
    """A problem with the user's input, reported as one line."""


def _load(args):
    if args.data is None:
        from .datasets import load_school

        school = load_school(as_frame=True)
        return school.data, school.target.to_numpy(), school.task_column, "School"
    if args.target is None or args.task_column is None:
        raise UsageError("--data needs --target COL and --task-column COL.")
    if not args.data.is_file():
        raise UsageError(f"--data {args.data}: no such file.")
    import pandas as pd

    frame = pd.read_csv(args.data)
    missing = [c for c in (args.target, args.task_column) if c not in frame.columns]
    if missing:
        raise UsageError(
            f"column(s) {missing} not in {args.data}; available columns: "
            f"{list(frame.columns)}."
        )
    y = frame[args.target].to_numpy(dtype=float)
    return frame.drop(columns=args.target), y, args.task_column, str(args.data)


def _models(requested):
    from ._compare import MODELS

    available = [name for name in MODELS if _importable(name)]
    if requested is None:
        return available
    unknown = [name for name in requested if name not in available]
    if unknown:
        raise UsageError(f"unknown model(s) {unknown}; available: {available}.")
    return requested


def _importable(name):
    from ._compare import MODELS

    try:
        MODELS[name][0](None)
    except ImportError:
        return False
    return True


def compare(args):
    """Run ``skmtl compare`` with parsed arguments; return the exit status."""
    from ._compare import format_results, run_comparison

    if args.n_splits < 1:
        raise UsageError(f"--n-splits must be at least 1, got {args.n_splits}.")
    if not 0.0 < args.test_size < 1.0:
        raise UsageError(f"--test-size must be in (0, 1), got {args.test_size}.")
    X, y, task_column, source = _load(args)
    models = _models(args.models)
    n_tasks = len(set(X[task_column]))
    if not args.quiet:
        print(
            f"{source}: {len(y)} rows, {n_tasks} tasks, {X.shape[1] - 1} features; "
            f"{args.n_splits} random splits, {args.test_size:.0%} of each task's "
            f"rows for testing (random_state={args.random_state})."
        )

    def progress(split, name):
        if not args.quiet and sys.stderr.isatty():
            print(
                f"\rsplit {split + 1}/{args.n_splits}: {name:<20}",
                end="",
                file=sys.stderr,
                flush=True,
            )

    results = run_comparison(
        X,
        y,
        task_column=task_column,
        models=models,
        n_splits=args.n_splits,
        test_size=args.test_size,
        random_state=args.random_state,
        progress=progress,
    )
    if not args.quiet and sys.stderr.isatty():
        print("\r" + " " * 40 + "\r", end="", file=sys.stderr)
    print(format_results(results))
    if args.json is not None:
        settings = {
            key: str(value) if isinstance(value, Path) else value
            for key, value in vars(args).items()
        }
        payload = {
            "settings": settings,
            "data": {"source": source, "n_rows": len(y), "n_tasks": n_tasks},
            "results": [result.summary() for result in results],
            "skmtl_version": __version__,
        }
        args.json.write_text(json.dumps(payload, indent=2))
        if not args.quiet:
            print(f"wrote {args.json}")
    return 0


def main(argv=None):
    """Entry point of the ``skmtl`` command."""
    args = _parser().parse_args(argv)
    try:
        return compare(args)
    except (UsageError, ValueError) as exc:
        print(f"skmtl {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
