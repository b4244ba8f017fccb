"""The command line: ``skmtl compare`` (also ``python -m skmtl compare``).

``skmtl compare`` answers a data analyst's question about a table with a task
column: does multi-task learning help, for which tasks, and by how much? It
reads the table, prepares it as a user would expect (one-hot encoding of
categorical columns, imputation and standardisation inside every training
part, rows with a missing target dropped), prints every such decision, runs
the protocol of :mod:`skmtl._compare` and prints a table; ``--json``,
``--plot`` and ``--save-model`` write every number, a figure and the refitted
best model. ``skmtl compare --new-tasks --shots 0 1 2 5 10`` asks instead how
well new tasks are predicted from k labelled rows each (the k-shot protocol of
:class:`skmtl.model_selection.FewShotTasksOut`).

A problem with the input is reported as one line on stderr starting with
``skmtl compare: error:`` and exit status 2, before any model is fitted where
the data show it (a file that cannot be read, a missing column, an infinite
value or a stray word in a column of numbers, named by column and row; rows
are counted from 1 below the header); any other failure as one line and exit
status 1. Set the environment variable ``SKMTL_DEBUG=1`` to get the traceback
instead. A model that fails is reported under the table while the others run
(exit status 0); when every model fails, the table is followed by one error
line giving each model's error (exit status 2).
"""

import argparse
import json
import os
import pickle
import shlex
import sys
import textwrap
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from . import __version__
from ._compare import (
    DEFAULT_SHOTS,
    LOGISTIC_FOLDS,
    MODELS,
    NEW_TASK_N_SPLITS,
    CompareError,
    Dataset,
    ModelResult,
    Split,
    best_result,
    build_model,
    check_enough_rows,
    check_new_task_rows,
    check_some_model_ran,
    format_new_tasks,
    format_results,
    inner_folds_for,
    make_new_task_folds,
    make_splits,
    metric_names,
    one_hot_encoder,
    one_line,
    run_comparison,
    run_new_tasks,
    unavailable_reason,
)

#: Kept for callers of the first version of this module.
UsageError = CompareError

SCHOOL_SOURCE = "School (bundled)"
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip")
TSV_SUFFIXES = (".tsv", ".tsv.gz", ".tab")
PARQUET_SUFFIXES = (".parquet", ".pq")
#: Three splits keep the default run on School (139 schools, 11,472 training
#: rows, the multi-task GP with its sparse solver included) to minutes rather
#: than an hour; the literature's protocol is --n-splits 10.
DEFAULT_N_SPLITS = 3
DEFAULT_TEST_SIZE = 0.25
#: A text column whose values are numbers but for at most this share is taken
#: for a numeric column with typing errors (and refused), not for categories.
NUMERIC_STRAY_SHARE = 0.1

_EPILOG = """examples:
  skmtl compare
      School data (139 schools): the per-task and pooled baselines against the
      multi-task models, 3 random 75/25 splits within every school (the
      literature's protocol: --n-splits 10)
  skmtl compare --n-splits 3 --models per-task mean-regularized --plot school.png
  skmtl compare --data sales.csv --target units --task-column store \\
      --json sales.json --plot sales.png --save-model sales.pkl
  skmtl compare --data labels.parquet --targets spam urgent personal --cv 5
      wide data: one target column per task, all tasks on the same rows
  skmtl compare --new-tasks --shots 0 1 2 5 10 --plot curve.png
      new schools: 3 folds of held-out schools, each given k labelled rows;
      the score of every model against k

exit status:
  0  the table was printed; a model that failed is listed under it
  1  an unexpected error (SKMTL_DEBUG=1 shows the traceback)
  2  a problem with the data or the options, or every model failed: one line
     on stderr says what and how to fix it (rows are counted from 1 below
     the header)

models:
""" + "\n".join(f"  {name:<17} {spec.description}" for name, spec in MODELS.items())


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keep option names whole when wrapping help text (no break at hyphens)."""

    def _split_lines(self, text, width):
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


class _OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser():
    parser = _OneLineParser(
        prog="skmtl", description="Multi-task learning for tabular data."
    )
    parser.add_argument("--version", action="version", version=f"skmtl {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    compare = commands.add_parser(
        "compare",
        help="does multi-task learning help on my table? compare it with baselines",
        description=textwrap.fill(
            "Compare multi-task models with the per-task baseline (one model per "
            "task) and the pooled baseline (one model for all rows) on repeated "
            "train/test splits made within every task. Categorical columns are "
            "one-hot encoded; missing feature values are imputed and numeric "
            "columns standardised inside each training part (0/1 columns only "
            "centred); every "
            "hyper-parameter is chosen by cross-validation within every task on "
            "the training part only. Prints each decision and a table: the "
            "score (explained variance or accuracy) and error (RMSE or "
            "log-loss) of every model, mean +- std over splits, its fit time, "
            "and on how many tasks it beats the per-task baseline.",
            width=79,
            break_on_hyphens=False,
        ),
        epilog=_EPILOG,
        formatter_class=_HelpFormatter,
    )
    _data_arguments(compare)
    _protocol_arguments(compare)
    _output_arguments(compare)
    return parser


def _data_arguments(compare):
    group = compare.add_argument_group("data (default: the bundled School data)")
    group.add_argument(
        "--data",
        type=Path,
        metavar="PATH",
        help="CSV (.csv, .csv.gz, .tsv) or Parquet (.parquet) file with one row "
        "per example. Example: --data sales.csv",
    )
    group.add_argument(
        "--target",
        metavar="COL",
        help="target column, with --task-column (long format: tasks have their "
        "own rows). Example: --target units",
    )
    group.add_argument(
        "--task-column",
        metavar="COL",
        help="column naming the task of each row. Example: --task-column store",
    )
    group.add_argument(
        "--targets",
        nargs="+",
        metavar="COL",
        help="instead of --target and --task-column: one target column per task, "
        "all tasks on the same rows (wide format; an empty cell is a target not "
        "observed). Example: --targets sales_a sales_b sales_c",
    )
    _target_kind_arguments(group)
    _feature_arguments(group)


def _target_kind_arguments(group):
    kind = group.add_mutually_exclusive_group()
    kind.add_argument(
        "--classification",
        action="store_true",
        help="treat the target as classes (automatic when it is text, "
        "categorical or only 0/1); scores are accuracy and log-loss",
    )
    kind.add_argument(
        "--regression",
        action="store_true",
        help="treat a 0/1 target as numbers; scores are R^2 and RMSE",
    )


def _feature_arguments(group):
    group.add_argument(
        "--categorical",
        nargs="+",
        metavar="COL",
        default=[],
        help="numeric columns to one-hot encode as categories (text columns "
        "always are). Example: --categorical store_type region_code",
    )
    group.add_argument(
        "--max-categories",
        type=int,
        default=20,
        metavar="N",
        help="at most N indicator columns per categorical column; rarer "
        "categories share one (default: 20). Example: --max-categories 50",
    )
    group.add_argument(
        "--impute",
        choices=("mean", "median", "none"),
        default="mean",
        help="how missing numeric feature values are filled in, from the "
        "training part of each split; 'none' refuses missing values (default: "
        "mean). Example: --impute median",
    )


def _protocol_arguments(compare):
    group = compare.add_argument_group("protocol")
    group.add_argument(
        "--models",
        nargs="+",
        metavar="MODEL",
        help=f"models to compare, among {', '.join(MODELS)} (default: all that "
        "apply, but "
        + ", ".join(name for name, spec in MODELS.items() if not spec.default)
        + "). Example: --models per-task pooled trace-norm robust",
    )
    group.add_argument(
        "--n-splits",
        type=int,
        metavar="N",
        help=f"number of random train/test splits within every task (default: "
        f"{DEFAULT_N_SPLITS}); with --new-tasks, the number of folds of held-out "
        f"tasks (default: {NEW_TASK_N_SPLITS}). Example: --n-splits 3",
    )
    group.add_argument(
        "--test-size",
        type=float,
        metavar="F",
        help="fraction of every task's rows held out for testing in a random "
        f"split (default: {DEFAULT_TEST_SIZE}). Example: --test-size 0.2",
    )
    group.add_argument(
        "--cv",
        type=int,
        metavar="K",
        help="instead of random splits: K-fold cross-validation within every "
        "task, each row tested once. Example: --cv 5",
    )
    group.add_argument(
        "--random-state",
        type=int,
        default=0,
        metavar="N",
        help="seed: split k uses N + k (default: 0). Example: --random-state 42",
    )
    group.add_argument(
        "--new-tasks",
        action="store_true",
        help="instead of splits within every task: transfer to new tasks. "
        "Whole tasks are held out (--n-splits folds of tasks, default "
        f"{NEW_TASK_N_SPLITS}); every model is fitted on the other tasks, then "
        "given k labelled rows of each held-out task (--shots) and scored on "
        "the held-out tasks' remaining rows: multi-task models adapt with "
        "fit_new_tasks (k=0: their shared model), the per-task baseline is "
        "fitted on the k rows alone (k >= 2), the pooled one refitted with "
        "them. Example: --new-tasks --shots 0 1 2 5 10",
    )
    group.add_argument(
        "--shots",
        nargs="+",
        type=int,
        metavar="K",
        help="with --new-tasks: numbers of labelled rows of every held-out "
        f"task, increasing (default: {' '.join(map(str, DEFAULT_SHOTS))}); every "
        "task needs more than the largest. Example: --shots 0 2 5",
    )
    group.add_argument(
        "--n-jobs",
        type=int,
        default=1,
        metavar="N",
        help="fits run in parallel (joblib); -1 for every core (default: 1). "
        "Example: --n-jobs 2",
    )


def _output_arguments(compare):
    group = compare.add_argument_group("output")
    group.add_argument(
        "--json",
        type=Path,
        metavar="PATH",
        help="write every number and the exact settings. Example: --json out.json",
    )
    group.add_argument(
        "--plot",
        type=Path,
        metavar="PATH",
        help="save a figure: per-task scores of the best multi-task model "
        "against the per-task baseline, scores over splits, features selected "
        "by the joint-feature model and, when a model that relates the tasks "
        "ran (graph, clustered, task-relationship, mtgp), its task relations; "
        "with --new-tasks, the score of every model against k "
        '(needs matplotlib: pip install "skmtl[plot]"). '
        "Example: --plot out.png",
    )
    group.add_argument(
        "--save-model",
        type=Path,
        metavar="PATH",
        help="refit the best model on all rows and pickle it (a scikit-learn "
        "Pipeline: preprocessing and model). Example: --save-model best.pkl",
    )
    group.add_argument(
        "--quiet",
        action="store_true",
        help="print only the table: no decisions, no progress bar",
    )


# --------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------


def _check_settings(args):
    """Resolve defaults and reject impossible combinations, before any work."""
    if args.new_tasks:
        _check_new_task_settings(args)
    elif args.shots is not None:
        raise CompareError("--shots: only with --new-tasks.")
    elif args.cv is not None:
        if args.n_splits is not None or args.test_size is not None:
            raise CompareError(
                "--cv K replaces --n-splits and --test-size; give one or the other."
            )
        if args.cv < 2:
            raise CompareError(f"--cv must be at least 2, got {args.cv}.")
    else:
        args.n_splits = DEFAULT_N_SPLITS if args.n_splits is None else args.n_splits
        args.test_size = DEFAULT_TEST_SIZE if args.test_size is None else args.test_size
        if args.n_splits < 1:
            raise CompareError(f"--n-splits must be at least 1, got {args.n_splits}.")
        if not 0.0 < args.test_size < 1.0:
            raise CompareError(f"--test-size must be in (0, 1), got {args.test_size}.")
    if args.random_state < 0:
        raise CompareError(f"--random-state must be >= 0, got {args.random_state}.")
    if args.n_jobs == 0:
        raise CompareError("--n-jobs must not be 0; use 1, N > 1, or -1 for all.")
    if args.max_categories < 2:
        raise CompareError(
            f"--max-categories must be at least 2, got {args.max_categories}."
        )
    _check_data_options(args)
    _check_outputs(args)


def _check_new_task_settings(args):
    """Defaults and checks of --new-tasks (folds of tasks, --shots)."""
    from .model_selection._split import _check_shots

    if args.cv is not None or args.test_size is not None:
        given = "--cv" if args.cv is not None else "--test-size"
        raise CompareError(
            f"{given} does not apply to --new-tasks, which holds out whole "
            "tasks (--n-splits folds of tasks) and tests the rows of each after "
            "its first max(--shots); drop it."
        )
    if args.targets is not None:
        raise CompareError(
            "--new-tasks holds out whole tasks and needs a task column: give "
            "--target COL --task-column COL instead of --targets."
        )
    if args.save_model is not None:
        raise CompareError(
            "--save-model does not apply to --new-tasks (no single best model "
            "is refitted); run without --new-tasks to save a model."
        )
    args.n_splits = NEW_TASK_N_SPLITS if args.n_splits is None else args.n_splits
    if args.n_splits < 2:
        raise CompareError(
            f"--n-splits must be at least 2 with --new-tasks (folds of held-out "
            f"tasks), got {args.n_splits}."
        )
    try:
        args.shots = _check_shots(DEFAULT_SHOTS if args.shots is None else args.shots)
    except ValueError as exc:
        raise CompareError(f"--shots {' '.join(map(str, args.shots))}: {exc}") from None


def _check_data_options(args):
    if args.data is None:
        given = [
            option
            for option, value in (
                ("--target", args.target),
                ("--targets", args.targets),
                ("--task-column", args.task_column),
                ("--categorical", args.categorical),
            )
            if value
        ]
        if given:
            raise CompareError(f"{', '.join(given)}: only with --data PATH.")
        return
    if args.targets is not None:
        if args.target is not None or args.task_column is not None:
            raise CompareError(
                "--targets (wide format) replaces --target and --task-column; "
                "give one or the other."
            )
        if len(set(args.targets)) < 2:
            raise CompareError(
                "--targets needs at least two columns, one per task; for one "
                "target give --target COL --task-column COL."
            )
    elif args.target is None or args.task_column is None:
        raise CompareError(
            "--data needs --target COL and --task-column COL (or --targets "
            "COL COL ... for one target column per task)."
        )


def _check_outputs(args):
    for option, path in (
        ("--json", args.json),
        ("--plot", args.plot),
        ("--save-model", args.save_model),
    ):
        if path is not None and not path.resolve().parent.is_dir():
            raise CompareError(
                f"{option} {path}: the directory {str(path.parent)!r} does not "
                "exist; create it or write elsewhere."
            )
    if args.plot is not None:
        try:
            from matplotlib.backend_bases import FigureCanvasBase
        except ImportError:
            raise CompareError(
                "--plot needs matplotlib, which is not installed: "
                'pip install "skmtl[plot]"'
            ) from None
        formats = FigureCanvasBase.get_supported_filetypes()
        suffix = args.plot.suffix.lower().lstrip(".")
        if suffix not in formats:
            raise CompareError(
                f"--plot {args.plot}: unknown image format {suffix!r}; use one of "
                f"{sorted(formats)}, for example out.png."
            )


# --------------------------------------------------------------------------
# the data
# --------------------------------------------------------------------------


def _require_pandas():
    try:
        import pandas
    except ImportError:
        raise CompareError(
            "skmtl compare needs pandas, which is not installed: pip install "
            '"skmtl[pandas]"'
        ) from None
    return pandas


def _read_table(path):
    """Read a CSV or Parquet file into a DataFrame."""
    pd = _require_pandas()
    if path.is_dir():
        raise CompareError(
            f"--data {path}: is a directory; give a CSV or Parquet file."
        )
    if not path.is_file():
        raise CompareError(f"--data {path}: no such file.")
    name = path.name.lower()
    try:
        if name.endswith(CSV_SUFFIXES + TSV_SUFFIXES):
            return _read_csv(path, "," if name.endswith(CSV_SUFFIXES) else "\t")
        if name.endswith(PARQUET_SUFFIXES):
            return pd.read_parquet(path)
    except CompareError:
        raise
    except ImportError as exc:
        raise CompareError(
            f"reading {path} needs a Parquet engine: pip install pyarrow ({exc})"
        ) from None
    except UnicodeDecodeError as exc:
        raise CompareError(_not_utf8_message(path, exc)) from None
    except pd.errors.EmptyDataError:
        raise CompareError(
            f"{path} is empty: expected a header line naming the columns, then "
            "one line per example."
        ) from None
    except pd.errors.ParserError as exc:
        raise CompareError(
            f"cannot read {path}: {one_line(exc)}. Expected one value per column "
            "of the header on every line; quote values that contain the delimiter."
        ) from None
    except (ValueError, OSError, EOFError) as exc:
        raise CompareError(
            f"cannot read {path}: {one_line(exc)}. Check that the file is "
            "complete and in the format its name says."
        ) from None
    suffix = "".join(path.suffixes) or "(no suffix)"
    raise CompareError(
        f"--data {path}: unknown file format {suffix!r}; "
        f"expected CSV ({', '.join(CSV_SUFFIXES + TSV_SUFFIXES)}) or Parquet "
        f"({', '.join(PARQUET_SUFFIXES)})."
    )


def _read_csv(path, sep):
    """Read a delimited text file; refuse a header that repeats a name."""
    import pandas as pd

    frame = pd.read_csv(path, sep=sep)
    # pandas renames a repeated name "x" to "x.1": the copy would silently
    # become a feature (the target's copy, a perfect one).
    header = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str)
    names = [str(name) for name in header.iloc[0] if name == name]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise CompareError(
            f"the header of {path} names column(s) {repeated} more than once; "
            "give every column its own name."
        )
    return frame


def _not_utf8_message(path, exc):
    byte = exc.object[exc.start : exc.start + 1].hex()
    return (
        f"cannot read {path}: it is not UTF-8 text (byte 0x{byte} at position "
        f"{exc.start}). Save it as UTF-8 (for example 'CSV UTF-8' in a "
        f"spreadsheet) or convert it, for example: iconv -f latin1 -t utf-8 "
        f"{path.name} > utf8-{path.name}"
    )


def _load(args):
    """The table and the roles of its columns, from --data or School."""
    if args.data is None:
        from .datasets import load_school

        _require_pandas()
        school = load_school(as_frame=True)
        args.target, args.task_column = school.target.name, school.task_column
        return school.frame, SCHOOL_SOURCE
    frame = _read_table(args.data)
    frame.columns = [str(column) for column in frame.columns]
    return frame, str(args.data)


def _check_columns(frame, args, source):
    wanted = [args.task_column] if args.task_column is not None else []
    wanted += args.targets if args.targets is not None else [args.target]
    wanted += list(args.categorical)
    missing = [column for column in dict.fromkeys(wanted) if column not in frame]
    if missing:
        raise CompareError(
            f"column(s) {missing} not in {source}; available columns: "
            f"{list(frame.columns)}.{_delimiter_hint(frame)}"
        )
    if args.task_column is not None and args.task_column == args.target:
        raise CompareError(
            f"--target and --task-column are the same column {args.target!r}; "
            "give the column to predict and the column that names the task of "
            "each row."
        )
    roles = {args.task_column, args.target, *(args.targets or [])}
    overlap = [column for column in args.categorical if column in roles]
    if overlap:
        raise CompareError(
            f"--categorical {overlap}: these are the task or target column(s), "
            "not features; give only feature columns to --categorical."
        )
    if frame.empty:
        raise CompareError(
            f"{source} has a header but no rows: expected one row per example "
            "below the header."
        )


def _delimiter_hint(frame):
    """Why a file read as one column may not be comma-separated."""
    if len(frame.columns) != 1:
        return ""
    found = [sep for sep in (";", "\t", "|") if sep in frame.columns[0]]
    if not found:
        return ""
    return (
        f" The file seems to be separated by {found[0]!r}: save it with commas "
        "(.csv) or tabs (.tsv)."
    )


def _drop_missing(frame, args, notes):
    """Drop rows without a target (or task); say how many."""
    if args.targets is not None:
        no_target = frame[args.targets].isna().all(axis=1)
        dropped = {"rows with no target observed": int(no_target.sum())}
        keep = ~no_target
    else:
        no_task = frame[args.task_column].isna()
        no_target = frame[args.target].isna()
        dropped = {
            "rows with a missing target": int(no_target.sum()),
            "rows with a missing task": int((no_task & ~no_target).sum()),
        }
        keep = ~(no_task | no_target)
    counts = [
        f"{n} {what.replace('rows', 'row') if n == 1 else what}"
        for what, n in dropped.items()
        if n
    ]
    notes.append(("rows", "dropped " + ", ".join(counts) if counts else "none dropped"))
    frame = frame.loc[keep]
    if frame.empty:
        if args.targets is not None:
            why = f"the target columns {args.targets} are empty in every row"
        elif no_target.all():
            why = f"the target column {args.target!r} is empty in every row"
        elif no_task.all():
            why = f"the task column {args.task_column!r} is empty in every row"
        else:
            why = "no row has both a target and a task"
        raise CompareError(
            f"no rows left after dropping the rows without a target or task: "
            f"{why}. Check --target and --task-column (or --targets)."
        )
    return frame, dropped


def _rows(labels):
    """``"row 17"`` or ``"rows 3, 9 and 12"``: rows of the file, for messages."""
    labels = [int(label) for label in labels]
    if len(labels) == 1:
        return f"row {labels[0]}"
    shown = ", ".join(map(str, labels[:5]))
    if len(labels) > 5:
        return f"rows {shown}, ... ({len(labels)} in all)"
    return f"rows {shown.rsplit(', ', 1)[0]} and {labels[-1]}"


def _non_numbers(values):
    """The non-missing values of a column that are not numbers."""
    import pandas as pd

    observed = values.dropna()
    return observed[pd.to_numeric(observed, errors="coerce").isna()]


def _is_text(values):
    from pandas.api.types import is_object_dtype, is_string_dtype

    return is_object_dtype(values) or is_string_dtype(values)


def _mostly_numbers(values):
    """Whether a text column is numbers but for a few stray values."""
    if not _is_text(values):
        return False
    observed = values.dropna()
    stray = _non_numbers(observed)
    return 0 < len(stray) <= NUMERIC_STRAY_SHARE * len(observed)


def _numbers_read_as_text(frame, args):
    """Feature columns of text that holds only numbers, as numbers.

    pandas reads integers beyond the range of int64 as text; one-hot
    encoding them would make every value a category.
    """
    import pandas as pd

    skip = {args.task_column, args.target, *(args.targets or []), *args.categorical}
    frame = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if column in skip or not _is_text(values) or values.isna().all():
            continue
        if _non_numbers(values).empty:
            frame[column] = pd.to_numeric(values).astype(float)
    return frame


def _stray_text(column, values):
    """``"column 'x' holds numbers except 1 value: 'n/a?' (row 4)"``."""
    stray = _non_numbers(values)
    examples = ", ".join(repr(v) for v in dict.fromkeys(stray.astype(str)))
    examples = examples if len(examples) <= 80 else examples[:77] + "..."
    plural = "value" if len(stray) == 1 else "values"
    return (
        f"column {column!r} holds numbers except {len(stray)} {plural}: "
        f"{examples} ({_rows(stray.index)}; rows counted from 1 below the header)"
    )


def _overflow_limit(n_rows):
    """Largest magnitude whose squares, summed over the rows, stay finite."""
    return float(np.sqrt(np.finfo(np.float64).max / max(n_rows, 1)))


def _check_target_values(frame, args):
    """Refuse stray words, infinite values and overflowing magnitudes."""
    columns = args.targets if args.targets is not None else [args.target]
    for column in columns:
        values = frame[column]
        if not _is_numeric(values):
            wide = args.targets is not None
            if (wide or not args.classification) and _mostly_numbers(values):
                fix = (
                    "an empty cell is a target not observed)"
                    if wide
                    else "rows with no target are dropped), or give "
                    "--classification to treat every distinct value as a class"
                )
                raise CompareError(
                    f"target {_stray_text(column, values)}; expected numbers "
                    f"only. Correct these cells or empty them ({fix}."
                )
            continue
        infinite = values[np.isinf(values.astype(float))]
        if len(infinite):
            plural = "value" if len(infinite) == 1 else "values"
            raise CompareError(
                f"target column {column!r} has {len(infinite)} infinite "
                f"{plural} ({_rows(infinite.index)}; rows counted from 1 below "
                "the header): inf, or a number beyond float64's 1.8e308; "
                "expected finite numbers. Correct these cells or empty them "
                "(rows with no target are dropped)."
            )
        largest = float(values.abs().max())
        if not args.classification and largest > _overflow_limit(len(values)):
            raise CompareError(
                f"target column {column!r} reaches {largest:.3g}: its squares "
                "overflow float64, so R^2 and RMSE cannot be computed. Divide "
                "the target by a power of ten (for example "
                f"{10.0 ** np.floor(np.log10(largest)):.0e}) and run again."
            )


def _check_feature_values(frame, numeric, categorical, args):
    """Refuse infinite values and text columns of numbers with stray words."""
    for column in categorical:
        values = frame[column]
        if column not in args.categorical and _mostly_numbers(values):
            raise CompareError(
                f"feature {_stray_text(column, values)}; expected numbers only. "
                "Correct these cells or empty them (an empty cell is imputed), "
                f"or give --categorical {column} to use the column as categories."
            )
    infinite = {}
    for column in numeric:
        values = frame[column].astype(float)
        rows = values.index[np.isinf(values.to_numpy())]
        if len(rows):
            infinite[column] = rows
    if infinite:
        listed = ", ".join(
            f"{column!r} ({_rows(rows)})" for column, rows in infinite.items()
        )
        n_values = sum(len(rows) for rows in infinite.values())
        raise CompareError(
            f"{n_values} infinite {'value' if n_values == 1 else 'values'} in "
            f"feature column(s) {listed}, rows counted from 1 below the "
            "header (inf, or a number beyond float64's 1.8e308); expected "
            "finite numbers. Correct these cells or empty them (an empty cell "
            "is imputed)."
        )


def _needs_rescaling(frame, numeric, notes):
    """Whether numeric columns must be scaled before they are standardised.

    Standardising a column whose squares overflow float64 gives NaN;
    dividing every numeric column by its largest absolute value first
    changes nothing else, since standardising ignores the scale.
    """
    limit = _overflow_limit(len(frame))
    huge = {}
    for column in numeric:
        largest = float(frame[column].astype(float).abs().max())
        if largest > limit:
            huge[column] = largest
    if not huge:
        return False
    listed = ", ".join(f"{column!r} (up to {v:.3g})" for column, v in huge.items())
    notes.append(
        (
            "scaling",
            f"column(s) {listed} too large for float64 squares: numeric columns "
            "are divided by their largest absolute value in the training part "
            "before being standardised",
        )
    )
    return True


def _check_tiny_columns(frame, numeric):
    """Refuse columns too small to be standardised.

    Their squares underflow float64: standardising leaves them unscaled (a
    variance of 0 reads as a constant column) and every model ignores them.
    """
    smallest = float(np.sqrt(np.finfo(np.float64).tiny))
    for column in numeric:
        largest = float(frame[column].astype(float).abs().max())
        if 0.0 < largest < smallest:
            factor = 10.0 ** -np.floor(np.log10(largest))
            raise CompareError(
                f"feature column {column!r} holds only values smaller than "
                f"{largest:.3g} in magnitude: their squares underflow float64, "
                "so the column cannot be standardised and would be ignored. "
                f"Multiply it by a power of ten (for example {factor:.0e})."
            )


def _is_numeric(series):
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    return is_numeric_dtype(series) and not is_bool_dtype(series)


def _task_type(frame, args, notes):
    """Regression or classification, from the flags or from the target."""
    columns = args.targets if args.targets is not None else [args.target]
    targets = frame[columns]
    numeric = all(_is_numeric(targets[column]) for column in columns)
    if numeric:
        observed = targets.to_numpy(dtype=float).ravel()
        values = set(np.unique(observed[~np.isnan(observed)]).tolist())
    binary = numeric and values <= {0.0, 1.0}
    name = ", ".join(repr(c) for c in columns)
    name = f"targets {name} are" if len(columns) > 1 else f"target {name} is"
    if args.targets is not None and not numeric:
        text = [column for column in columns if not _is_numeric(targets[column])]
        examples = _non_numbers(targets[text[0]]).astype(str).unique()[:3]
        raise CompareError(
            f"--targets: target column(s) {text} are not numeric (for example "
            f"{', '.join(map(repr, examples))} in column {text[0]!r}); every "
            "target column must hold numbers (0/1 for classification), an "
            "empty cell being a target not observed."
        )
    if args.regression:
        if not numeric:
            text = next(c for c in columns if not _is_numeric(targets[c]))
            examples = _non_numbers(targets[text]).astype(str).unique()[:3]
            raise CompareError(
                f"--regression: the {name} not numeric (for example "
                f"{', '.join(map(repr, examples))} in column {text!r}); give "
                "the column of numbers to predict, or --classification."
            )
        notes.append(("task", "regression (--regression)"))
        return "regression"
    if args.classification:
        if args.targets is not None and not binary:
            others = sorted(values - {0.0, 1.0})[:3]
            raise CompareError(
                "--classification with --targets needs 0/1 target columns (one "
                f"binary label per task), but they also hold {others}. Recode "
                "every target column as 0/1, or drop --classification."
            )
        notes.append(("task", "classification (--classification)"))
        return "classification"
    if not numeric:
        n_classes = targets.iloc[:, 0].nunique()
        why = f"{name} not numeric ({n_classes} classes)"
    elif binary:
        why = f"{name} 0/1 only; --regression to override"
    else:
        notes.append(
            (
                "task",
                f"regression ({name} numeric with {len(values)} distinct "
                "values; --classification to override)",
            )
        )
        return "regression"
    notes.append(("task", f"classification ({why})"))
    return "classification"


def _targets_and_tasks(frame, args, task_type):
    """The target array and the task labels; check there are two tasks."""
    if args.targets is not None:
        return frame[args.targets].to_numpy(dtype=float), None
    target = frame[args.target]
    if task_type == "regression":
        y = target.to_numpy(dtype=float)
    elif _is_numeric(target) and (target % 1 == 0).all():
        y = target.to_numpy().astype("int64")
    else:
        y = target.to_numpy()
    tasks = frame[args.task_column]
    if hasattr(tasks, "cat"):
        tasks = tasks.astype(object)
    if _is_numeric(tasks) and (tasks % 1 == 0).all():
        tasks = tasks.astype("int64")
    labels = tasks.unique()
    if len(labels) < 2:
        raise CompareError(
            f"the task column {args.task_column!r} holds a single task "
            f"({labels[0]!r}); multi-task learning needs at least two tasks. "
            "Give the column that names the task of each row."
        )
    return y, tasks


def _check_targets(frame, y, tasks, args, task_type):
    """Refuse a target that is constant in a task (or a single class)."""
    if task_type == "classification":
        classes = set(y[~_missing(y)].tolist()) if y.ndim == 2 else set(y.tolist())
        if len(classes) < 2:
            raise CompareError(
                f"the target has a single class ({classes.pop()!r}) in every "
                "row; classification needs at least two. Check --target (or "
                "--targets)."
            )
        if args.targets is None:
            _check_rare_classes(frame[args.target])
        return
    if args.targets is not None:
        observed = frame[args.targets]
    else:
        observed = frame[args.target].groupby(tasks.to_numpy())
    # A task with one row is "too few rows", reported after this check.
    per_task = observed.nunique()[observed.count() > 1]
    constant = [task for task, n in per_task.items() if n < 2]
    if constant:
        shown = constant[:10] + (["..."] if len(constant) > 10 else [])
        raise CompareError(
            f"the target is constant within task(s) {shown}: R^2 is undefined "
            "there and nothing can be learnt. Remove these tasks from the data."
        )


def _check_rare_classes(target):
    """Refuse a class with a single row: it cannot be both trained and tested."""
    counts = target.value_counts()
    rare = target[target.isin(counts.index[counts < 2])]
    if rare.empty:
        return
    shown = ", ".join(f"{value!r} (row {row})" for row, value in rare[:3].items())
    shown += f", ... ({len(rare)} in all)" if len(rare) > 3 else ""
    hint = ""
    if _is_numeric(target) or _mostly_numbers(target):
        hint = " If the target is a quantity to predict, give --regression."
    raise CompareError(
        f"target column {target.name!r} has {len(rare)} class(es) with a single "
        f"row: {shown}, rows counted from 1 below the header; a class needs "
        "rows to train on and rows to test on. Correct or remove these rows, "
        f"or merge their classes.{hint}"
    )


def _missing(values):
    return values != values  # NaN is the only value unequal to itself


# --------------------------------------------------------------------------
# the features
# --------------------------------------------------------------------------


def _feature_roles(frame, args, notes):
    """Split the feature columns into numeric and categorical ones."""
    from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype

    roles = {args.task_column, args.target, *(args.targets or [])}
    numeric, categorical, dropped = [], [], []
    for column in frame.columns:
        if column in roles:
            continue
        values = frame[column]
        if values.isna().all():
            dropped.append(f"{column!r} (empty)")
        elif is_datetime64_any_dtype(values):
            dropped.append(f"{column!r} (dates: convert them to numbers)")
        elif column not in args.categorical and (
            _is_numeric(values) or is_bool_dtype(values)
        ):
            numeric.append(column)
        else:
            categorical.append(column)
    if dropped:
        notes.append(("dropped", "feature column(s) " + ", ".join(dropped)))
    if not numeric and not categorical:
        raise CompareError(
            "no feature columns: every column is the task, a target, empty or "
            f"a date (columns: {list(frame.columns)}); expected at least one "
            "column of features to predict the target from. Add feature "
            "columns to the file."
        )
    return numeric, categorical


def _feature_table(frame, numeric, categorical):
    """The feature values as the models' preprocessing expects them."""
    import pandas as pd

    columns = {}
    for column in frame.columns:
        values = frame[column]
        if column in numeric:
            columns[column] = values.astype(float)
        elif column in categorical:
            # Text, with missing values as NaN: the encoder needs one type.
            text = values.astype(object)
            columns[column] = text.where(values.isna(), values.astype(str))
    return pd.DataFrame(columns, index=frame.index)


def _check_missing_features(features, impute, notes):
    counts = features.isna().sum()
    counts = counts[counts > 0]
    if counts.empty:
        notes.append(("missing", "no missing feature values"))
        return
    listed = ", ".join(f"{column!r} ({n})" for column, n in counts.items())
    if impute == "none":
        raise CompareError(
            f"--impute none, but feature column(s) have missing values: {listed}. "
            "Use --impute mean or --impute median, or fill them in."
        )
    notes.append(
        (
            "missing",
            f"feature values missing in {listed}: numeric ones imputed with the "
            f"{impute} of the training part of each split (--impute {impute}), "
            "categorical ones a category of their own",
        )
    )


def _indicator_columns(features, numeric):
    """The numeric columns whose values (missing ones aside) are all 0 or 1."""
    return [
        column
        for column in numeric
        if features[column].dropna().isin((0.0, 1.0)).all()
        and features[column].notna().any()
    ]


def _describe_features(features, numeric, categorical, max_categories, notes):
    """Note the encoding of the features; return the number of model inputs."""
    n_encoded = 0
    indicators = _indicator_columns(features, numeric)
    parts = [
        f"{len(numeric)} numeric (standardised with the training part of each split"
        + (
            f", except {len(indicators)} that hold only 0 and 1: only centred"
            if indicators
            else ""
        )
        + ")"
    ]
    if categorical:
        encoder = one_hot_encoder(max_categories).fit(features[categorical])
        n_encoded = len(encoder.get_feature_names_out())
        capped = [
            f"{column!r} ({features[column].nunique(dropna=False)} values)"
            for column in categorical
            if features[column].nunique(dropna=False) > max_categories
        ]
        parts.append(
            f"{len(categorical)} categorical {categorical} one-hot encoded into "
            f"{n_encoded} indicator columns"
            + (
                f" (rarest values of {', '.join(capped)} grouped, at most "
                f"{max_categories} per column: --max-categories)"
                if capped
                else ""
            )
        )
    else:
        parts.append("0 categorical")
    n_inputs = len(numeric) + n_encoded
    notes.append(("features", "; ".join(parts) + f"; {n_inputs} model inputs"))
    return n_encoded


def _prepare(frame, args, source):
    """Build the :class:`Dataset` and the notes of every decision taken."""
    notes = []
    _check_columns(frame, args, source)
    # Messages name rows as the file's data rows, counted from 1.
    frame = frame.set_axis(np.arange(1, len(frame) + 1))
    frame = _numbers_read_as_text(frame, args)
    frame, dropped = _drop_missing(frame, args, notes)
    _check_target_values(frame, args)
    task_type = _task_type(frame, args, notes)
    y, tasks = _targets_and_tasks(frame, args, task_type)
    _check_targets(frame, y, tasks, args, task_type)
    numeric, categorical = _feature_roles(frame, args, notes)
    _check_feature_values(frame, numeric, categorical, args)
    _check_tiny_columns(frame, numeric)
    rescale = _needs_rescaling(frame, numeric, notes)
    features = _feature_table(frame, numeric, categorical)
    _check_missing_features(features, args.impute, notes)
    n_encoded = _describe_features(
        features, numeric, categorical, args.max_categories, notes
    )
    if tasks is not None:
        features.insert(0, args.task_column, tasks)
    dataset = Dataset(
        X=features.reset_index(drop=True),
        y=y,
        task_column=args.task_column,
        task_type=task_type,
        numeric_columns=numeric,
        categorical_columns=categorical,
        target_names=list(args.targets) if args.targets else [args.target],
        impute=args.impute,
        max_categories=args.max_categories,
        source=source,
        rescale=rescale,
        indicator_columns=_indicator_columns(features, numeric),
    )
    info = {"rows_dropped": dropped, "n_encoded_columns": n_encoded}
    return dataset, notes, info


def _data_line(dataset):
    sizes = dataset.task_sizes()
    n_features = len(dataset.numeric_columns) + len(dataset.categorical_columns)
    if dataset.layout == "wide":
        tasks = f"{len(sizes)} tasks (target columns, {min(sizes.values())} to "
        tasks += f"{max(sizes.values())} observed each)"
    else:
        tasks = f"{len(sizes)} tasks (column {dataset.task_column!r}, "
        tasks += f"{min(sizes.values())} to {max(sizes.values())} rows each)"
        tasks += f", target {dataset.target_names[0]!r}"
    return f"{dataset.source}: {dataset.n_samples} rows, {n_features} features, {tasks}"


# --------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------


def _select_models(args, dataset):
    """The models to run, and the skipped ones with their reason."""
    defaults = [name for name, spec in MODELS.items() if spec.default]
    requested = list(dict.fromkeys(args.models)) if args.models else defaults
    unknown = [name for name in requested if name not in MODELS]
    if unknown:
        raise CompareError(f"unknown model(s) {unknown}; available: {list(MODELS)}.")
    runnable, skipped = [], {}
    for name in requested:
        reason = unavailable_reason(name, dataset.task_type)
        if reason is None:
            runnable.append(name)
        else:
            skipped[name] = reason
    if not runnable:
        reasons = "; ".join(f"{name}: {why}" for name, why in skipped.items())
        raise CompareError(
            f"no model can run ({reasons}); choose others with --models."
        )
    return requested, runnable, skipped


def _protocol_notes(args, dataset, splits, inner_folds, runnable, skipped):
    within = "within every task" if dataset.layout == "long" else "of the rows"
    if args.cv is not None:
        outer = f"{args.cv}-fold cross-validation {within}, shuffled (seed "
        outer += f"{args.random_state})"
    else:
        last = args.random_state + args.n_splits - 1
        seeds = f"seed {args.random_state}" + (f"..{last}" if args.n_splits > 1 else "")
        plural = "s" if args.n_splits > 1 else ""
        outer = f"{args.n_splits} random split{plural} {within}, {args.test_size:.0%} "
        outer += f"for testing ({seeds})"
    notes = [
        ("protocol", outer),
        ("tuning", _tuning_note(dataset, inner_folds, within, runnable)),
        (
            "models",
            ", ".join(runnable)
            + (f"; skipped: {', '.join(skipped)} (see below)" if skipped else ""),
        ),
    ]
    return notes


def _tuning_note(dataset, inner_folds, within, runnable):
    exceptions = [
        "ridge baselines: efficient leave-one-out"
        if dataset.task_type == "regression"
        else f"logistic baselines: stratified {LOGISTIC_FOLDS}-fold"
    ]
    if "mtgp" in runnable:
        exceptions.append("multi-task GP: marginal likelihood")
    return (
        f"hyper-parameters by {inner_folds}-fold cross-validation {within} on "
        f"the training part only ({'; '.join(exceptions)})"
    )


class _Progress:
    """A progress bar on a terminal (tqdm if installed), silent otherwise."""

    def __init__(self, total, enabled):
        self.total, self.done, self.bar = total, 0, None
        self.enabled = enabled
        if not enabled:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            return
        self.bar = tqdm(total=total, file=sys.stderr, unit="fit", leave=False)

    def __call__(self, name, split):
        self.done += 1
        if self.bar is not None:
            self.bar.set_description(f"split {split + 1} {name}")
            self.bar.update()
        elif self.enabled:
            print(
                f"\r{self.done}/{self.total} fits (split {split + 1} {name})".ljust(60),
                end="",
                file=sys.stderr,
                flush=True,
            )

    def close(self):
        if self.bar is not None:
            self.bar.close()
        elif self.enabled:
            print("\r" + " " * 60 + "\r", end="", file=sys.stderr, flush=True)


def _run(args, dataset, splits, runnable, inner_folds):
    progress = _Progress(
        len(splits) * len(runnable), not args.quiet and sys.stderr.isatty()
    )
    try:
        return run_comparison(
            dataset,
            runnable,
            splits,
            inner_folds=inner_folds,
            n_jobs=args.n_jobs,
            progress=progress,
        )
    finally:
        progress.close()


def _save_model(args, dataset, results):
    """Refit the best model on every row and pickle it; return its name."""
    from threadpoolctl import threadpool_limits

    best = best_result(results)
    if best is None:
        raise CompareError(
            "--save-model: no model ran on every split, so there is no best "
            "model to save; the reasons are under the table."
        )
    rows = np.arange(dataset.n_samples)
    everything = Split(0, rows, rows[:0], args.random_state)
    model = build_model(
        best.name,
        dataset,
        random_state=args.random_state,
        inner_folds=inner_folds_for(dataset, [everything]),
    )
    single_thread = MODELS[best.name].single_blas_thread
    with threadpool_limits(1, "blas") if single_thread else nullcontext():
        model.fit(dataset.X, dataset.y)
    with open(args.save_model, "wb") as file:
        pickle.dump(model, file)
    return best.name


# --------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------


def _settings(args, task_type, requested):
    """The resolved settings: running them again gives the same numbers."""
    return {
        "data": None if args.data is None else str(args.data),
        "target": args.target if args.targets is None else None,
        "targets": args.targets,
        "task_column": args.task_column,
        "task_type": task_type,
        "categorical": list(args.categorical),
        "max_categories": args.max_categories,
        "impute": args.impute,
        "models": requested,
        "n_splits": args.n_splits,
        "test_size": args.test_size,
        "cv": args.cv,
        "random_state": args.random_state,
        "n_jobs": args.n_jobs,
        "new_tasks": args.new_tasks,
        "shots": list(args.shots) if args.new_tasks else None,
    }


def _command_line(settings):
    """The ``skmtl compare`` command with every setting spelt out."""
    words = ["skmtl", "compare"]
    if settings["data"] is not None:
        words += ["--data", settings["data"]]
        if settings["targets"]:
            words += ["--targets", *settings["targets"]]
        else:
            words += ["--target", settings["target"]]
            words += ["--task-column", settings["task_column"]]
    words.append(f"--{settings['task_type']}")
    if settings["categorical"]:
        words += ["--categorical", *settings["categorical"]]
    words += ["--max-categories", str(settings["max_categories"])]
    words += ["--impute", settings["impute"], "--models", *settings["models"]]
    if settings["new_tasks"]:
        words += ["--new-tasks", "--shots", *map(str, settings["shots"])]
        words += ["--n-splits", str(settings["n_splits"])]
    elif settings["cv"] is not None:
        words += ["--cv", str(settings["cv"])]
    else:
        words += ["--n-splits", str(settings["n_splits"])]
        words += ["--test-size", f"{settings['test_size']:g}"]
    words += ["--random-state", str(settings["random_state"])]
    return shlex.join(words)


def _versions():
    import numpy
    import pandas
    import scipy
    import sklearn

    return {
        "skmtl": __version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "pandas": pandas.__version__,
        "python": sys.version.split()[0],
    }


def _payload(report):
    """Every number of the run, as one JSON-ready dict."""
    dataset, results = report["dataset"], report["results"]
    names = metric_names(dataset)
    best = best_result(results)
    best_multi_task = best_result(results, multi_task_only=True)
    return {
        "command": _command_line(report["settings"]),
        "settings": report["settings"],
        "versions": _versions(),
        "data": {
            "source": dataset.source,
            "layout": dataset.layout,
            "task_type": dataset.task_type,
            "n_rows": dataset.n_samples,
            "n_tasks": len(dataset.task_sizes()),
            "task_sizes": {str(k): v for k, v in dataset.task_sizes().items()},
            "targets": dataset.target_names,
            "numeric_columns": dataset.numeric_columns,
            "indicator_columns": dataset.indicator_columns,
            "categorical_columns": dataset.categorical_columns,
            **report["info"],
        },
        "decisions": [
            {"topic": topic, "text": text} for topic, text in report["notes"]
        ],
        "protocol": {
            "splits": [
                {
                    "index": split.index,
                    "seed": split.seed,
                    "n_train": len(split.train),
                    "n_test": len(split.test),
                }
                for split in report["splits"]
            ],
            "inner_folds": report["inner_folds"],
            "score": names["score"][0],
            "error": names["error"][0],
            "task_score": names["task"],
            "baseline": "per-task",
        },
        "results": [result.summary() for result in results],
        "best_model": None if best is None else best.name,
        "best_multi_task_model": None
        if best_multi_task is None
        else best_multi_task.name,
        "saved_model": report.get("saved_model"),
        "elapsed_seconds": report["elapsed"],
    }


def _print_notes(notes):
    width = max(len(topic) for topic, _ in notes)
    for topic, text in notes:
        print(f"{topic:<{width}}  {text}")


def _table_results(requested, results, skipped):
    """Results in the requested order, skipped models included."""
    by_name = {result.name: result for result in results}
    for name, reason in skipped.items():
        by_name[name] = ModelResult(name, status="skipped", reason=reason)
    return [by_name[name] for name in requested]


def compare(args):
    """Run ``skmtl compare`` with parsed arguments; return the exit status.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.

    Returns
    -------
    status : int
        0 on success.
    """
    start = time.perf_counter()
    _check_settings(args)
    frame, source = _load(args)
    dataset, notes, info = _prepare(frame, args, source)
    if args.new_tasks:
        return _compare_new_tasks(args, dataset, notes, info, start)
    check_enough_rows(dataset, test_size=args.test_size, cv=args.cv)
    splits = make_splits(
        dataset,
        n_splits=args.n_splits,
        test_size=args.test_size,
        cv=args.cv,
        random_state=args.random_state,
    )
    inner_folds = inner_folds_for(dataset, splits)
    requested, runnable, skipped = _select_models(args, dataset)
    notes = [("data", _data_line(dataset)), *notes]
    notes += _protocol_notes(args, dataset, splits, inner_folds, runnable, skipped)
    if not args.quiet:
        _print_notes(notes)
        print()
    results = _run(args, dataset, splits, runnable, inner_folds)
    table = _table_results(requested, results, skipped)
    print(format_results(table, dataset))
    check_some_model_ran(results)
    report = {
        "settings": _settings(args, dataset.task_type, requested),
        "dataset": dataset,
        "results": table,
        "notes": notes,
        "info": info,
        "splits": splits,
        "inner_folds": inner_folds,
    }
    _write_outputs(args, report, start)
    return 0


def _compare_new_tasks(args, dataset, notes, info, start):
    """``skmtl compare --new-tasks``: learning curves on held-out tasks."""
    check_new_task_rows(dataset, shots=args.shots, n_splits=args.n_splits)
    folds = make_new_task_folds(
        dataset,
        n_splits=args.n_splits,
        shots=args.shots,
        random_state=args.random_state,
    )
    sources = [Split(fold.index, fold.source, fold.test, fold.seed) for fold in folds]
    inner_folds = inner_folds_for(dataset, sources)
    requested, runnable, skipped = _select_models(args, dataset)
    notes = [("data", _data_line(dataset)), *notes]
    notes += _new_task_notes(args, dataset, folds, inner_folds, runnable, skipped)
    if not args.quiet:
        _print_notes(notes)
        print()
    progress = _Progress(
        len(folds) * len(runnable), not args.quiet and sys.stderr.isatty()
    )
    try:
        results = run_new_tasks(
            dataset,
            runnable,
            folds,
            args.shots,
            inner_folds=inner_folds,
            n_jobs=args.n_jobs,
            progress=progress,
        )
    finally:
        progress.close()
    table = _new_task_table(requested, results, skipped, args.shots)
    print(format_new_tasks(table, dataset))
    check_some_model_ran(results)
    report = {
        "settings": _settings(args, dataset.task_type, requested),
        "dataset": dataset,
        "results": table,
        "notes": notes,
        "info": info,
        "folds": folds,
        "inner_folds": inner_folds,
    }
    _write_new_task_outputs(args, report, start)
    return 0


def _new_task_notes(args, dataset, folds, inner_folds, runnable, skipped):
    n_tasks = len(dataset.task_sizes())
    held_out = "/".join(str(len(fold.held_out)) for fold in folds)
    protocol = (
        f"new tasks: {len(folds)} folds of held-out tasks ({held_out} of "
        f"{n_tasks} tasks, seed {args.random_state}); k = "
        f"{', '.join(map(str, args.shots))} labelled rows of each held-out task, "
        f"tested on its rows after the first {max(args.shots)}"
    )
    models = ", ".join(runnable)
    if skipped:
        models += f"; skipped: {', '.join(skipped)} (see below)"
    return [
        ("protocol", protocol),
        (
            "tuning",
            _tuning_note(dataset, inner_folds, "within every task", runnable).replace(
                "the training part only", "the source tasks only"
            ),
        ),
        ("models", models),
    ]


def _new_task_table(requested, results, skipped, shots):
    """Results in the requested order, skipped models included."""
    from ._compare import NewTaskResult

    by_name = {result.name: result for result in results}
    for name, reason in skipped.items():
        by_name[name] = NewTaskResult(name, shots, status="skipped", reason=reason)
    return [by_name[name] for name in requested]


def _new_task_payload(report):
    """Every number of a --new-tasks run, as one JSON-ready dict."""
    dataset = report["dataset"]
    names = metric_names(dataset)
    return {
        "command": _command_line(report["settings"]),
        "settings": report["settings"],
        "versions": _versions(),
        "data": {
            "source": dataset.source,
            "layout": dataset.layout,
            "task_type": dataset.task_type,
            "n_rows": dataset.n_samples,
            "n_tasks": len(dataset.task_sizes()),
            "task_sizes": {str(k): v for k, v in dataset.task_sizes().items()},
            "targets": dataset.target_names,
            **report["info"],
        },
        "decisions": [
            {"topic": topic, "text": text} for topic, text in report["notes"]
        ],
        "protocol": {
            "new_tasks": True,
            "shots": list(report["settings"]["shots"]),
            "folds": [
                {
                    "index": fold.index,
                    "seed": fold.seed,
                    "held_out_tasks": [str(task) for task in fold.held_out],
                    "n_source": len(fold.source),
                    "n_test": len(fold.test),
                }
                for fold in report["folds"]
            ],
            "inner_folds": report["inner_folds"],
            "score": names["score"][0],
            "error": names["error"][0],
        },
        "results": [result.summary() for result in report["results"]],
        "elapsed_seconds": report["elapsed"],
    }


def _write_new_task_outputs(args, report, start):
    say = (lambda *a: None) if args.quiet else print
    if not args.quiet:
        print()
    if args.plot is not None:
        from ._compare_plot import plot_new_tasks

        plot_new_tasks(args.plot, report["results"], report["dataset"])
        say(f"wrote {args.plot}")
    report["elapsed"] = time.perf_counter() - start
    if args.json is not None:
        args.json.write_text(json.dumps(_new_task_payload(report), indent=2))
        say(f"wrote {args.json}")
    say(f"reproduce: {_command_line(report['settings'])}")
    say(f"total time: {report['elapsed']:.1f} s")


def _write_outputs(args, report, start):
    say = (lambda *a: None) if args.quiet else print
    if not args.quiet:
        print()
    if args.save_model is not None:
        name = _save_model(args, report["dataset"], report["results"])
        report["saved_model"] = {"model": name, "path": str(args.save_model)}
        say(
            f"saved {name}, refitted on all {report['dataset'].n_samples} rows, to "
            f"{args.save_model}"
        )
    if args.plot is not None:
        from ._compare_plot import plot_comparison

        plot_comparison(args.plot, report["results"], report["dataset"])
        say(f"wrote {args.plot}")
    report["elapsed"] = time.perf_counter() - start
    if args.json is not None:
        args.json.write_text(json.dumps(_payload(report), indent=2))
        say(f"wrote {args.json}")
    say(f"reproduce: {_command_line(report['settings'])}")
    say(f"total time: {report['elapsed']:.1f} s")


def main(argv=None):
    """Entry point of the ``skmtl`` command.

    Parameters
    ----------
    argv : list of str or None
        Arguments without the program name; ``None`` reads ``sys.argv``.

    Returns
    -------
    status : int
        0 on success, 2 for a problem with the input, 1 for any other error.
    """
    args = _parser().parse_args(argv)
    try:
        return compare(args)
    except CompareError as exc:
        status = 2
        message = one_line(exc)
    except Exception as exc:
        if os.environ.get("SKMTL_DEBUG"):
            raise
        status = 1
        message = one_line(exc)
    print(f"skmtl {args.command}: error: {message}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
