"""``skmtl compare`` on broken files: a table, or one clear error line.

Every file here is small (3 tasks x 15 rows) and every run uses two splits
and the two cheap baselines, so that the whole set runs in seconds. A file
either gives a table (exit status 0) or ends with exactly one line on stderr
that starts with ``skmtl compare: error:``, says what is wrong and how to fix
it (exit status 2): never a traceback, never a hang.
"""

import gzip
import json
import re

import numpy as np
import pandas as pd
import pytest

from skmtl.__main__ import main
from skmtl._compare import ModelResult, check_some_model_ran


def _frame(n_per_task=15, tasks=("a", "b", "c"), seed=0):
    rng = np.random.RandomState(seed)
    n = n_per_task * len(tasks)
    frame = pd.DataFrame(
        {
            "task": np.repeat(list(tasks), n_per_task),
            "x1": rng.rand(n),
            "x2": rng.rand(n),
        }
    )
    frame["y"] = 2 * frame["x1"] + frame["x2"] + 0.3 * rng.rand(n)
    return frame


def _compare(path, capsys, *options, target="y", task_column="task"):
    """Run the command in-process; return its status, stdout and stderr."""
    status = main(
        [
            "compare",
            "--data",
            str(path),
            "--target",
            target,
            "--task-column",
            task_column,
            "--n-splits",
            "2",
            "--models",
            "per-task",
            "pooled",
            "--quiet",
            *options,
        ]
    )
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _error_line(status, err):
    """The one error line of a run that must have failed on its input."""
    assert status == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("skmtl compare: error: "), err
    return lines[0]


# --------------------------------------------------------------------------
# the broken files (each builder writes one into a directory)
# --------------------------------------------------------------------------


def _write(directory, frame, name="data.csv"):
    path = directory / name
    frame.to_csv(path, index=False)
    return path


def _text(directory, text, name="data.csv"):
    path = directory / name
    path.write_text(text)
    return path


def _empty(directory):
    return _text(directory, "")


def _header_only(directory):
    return _text(directory, "task,x1,x2,y\n")


def _no_target_column(directory):
    return _write(directory, _frame().drop(columns="y"))


def _no_task_column(directory):
    return _write(directory, _frame().drop(columns="task"))


def _target_all_missing(directory):
    return _write(directory, _frame().assign(y=np.nan))


def _task_with_one_row(directory):
    extra = pd.DataFrame({"task": ["d"], "x1": [0.5], "x2": [0.5], "y": [1.0]})
    return _write(directory, pd.concat([_frame(), extra]))


def _inf_in_a_feature(directory):
    frame = _frame()
    frame.loc[2, "y"] = np.nan  # a dropped row must not shift the row numbers
    frame.loc[16, "x2"] = np.inf
    return _write(directory, frame)


def _infs_in_two_features(directory):
    frame = _frame()
    frame.loc[[3, 30], "x1"] = [np.inf, -np.inf]
    frame.loc[40, "x2"] = np.inf
    return _write(directory, frame)


def _inf_in_the_target(directory):
    frame = _frame()
    frame.loc[5, "y"] = -np.inf
    return _write(directory, frame)


def _stray_word_in_the_target(directory):
    frame = _frame()
    frame["y"] = frame["y"].astype(object)
    frame.loc[5, "y"] = "oops"
    return _write(directory, frame)


def _stray_word_in_a_feature(directory):
    frame = _frame()
    frame["x1"] = frame["x1"].astype(object)
    frame.loc[[3, 20], "x1"] = ["?", "n/a?"]
    return _write(directory, frame)


def _repeated_column_name(directory):
    frame = _frame()
    frame["y_copy"] = frame["y"]
    path = _write(directory, frame)
    text = path.read_text().splitlines()
    text[0] = text[0].replace("y_copy", "y")
    return _text(directory, "\n".join(text) + "\n")


def _huge_target(directory):
    return _write(directory, _frame().assign(y=lambda f: f["y"] * 1e300))


def _tiny_feature(directory):
    return _write(directory, _frame().assign(x2=lambda f: f["x2"] * 1e-300))


def _only_task_and_target(directory):
    return _write(directory, _frame()[["task", "y"]])


def _ragged_rows(directory):
    text = _frame().to_csv(index=False).splitlines()
    text[4] += ",7.5"
    return _text(directory, "\n".join(text) + "\n")


def _latin1(directory):
    frame = _frame()
    frame["task"] = frame["task"].replace({"a": "caf\xe9"})
    path = directory / "data.csv"
    path.write_bytes(frame.to_csv(index=False).encode("latin-1"))
    return path


def _semicolons(directory):
    return _text(directory, _frame().to_csv(index=False, sep=";"))


def _one_class(directory):
    return _write(directory, _frame().assign(y=1))


def _task_column_empty(directory):
    return _write(directory, _frame().assign(task=np.nan))


def _task_column_of_numbers(directory):
    return _write(directory, _frame().assign(task=lambda f: f["x2"]))


def _class_with_one_row(directory):
    frame = _frame()
    frame["y"] = np.where(frame["x1"] > 0.5, "yes", "no").astype(object)
    frame.loc[3, "y"] = "maybe"
    return _write(directory, frame)


def _directory(directory):
    (directory / "data.csv").mkdir()
    return directory / "data.csv"


def _truncated_gzip(directory):
    path = directory / "data.csv.gz"
    path.write_bytes(gzip.compress(_frame().to_csv(index=False).encode())[:60])
    return path


def _binary_garbage(directory):
    path = directory / "data.csv"
    path.write_bytes(bytes(range(256)) * 4)
    return path


BROKEN = [
    pytest.param(_empty, [r"data\.csv is empty: expected a header line"], id="empty"),
    pytest.param(
        _header_only,
        [r"has a header but no rows: expected one row per example"],
        id="header-only",
    ),
    pytest.param(
        _no_target_column,
        [r"column\(s\) \['y'\] not in .*available columns: \['task', 'x1', 'x2'\]"],
        id="no-target-column",
    ),
    pytest.param(
        _no_task_column,
        [r"column\(s\) \['task'\] not in .*available columns: \['x1', 'x2', 'y'\]"],
        id="no-task-column",
    ),
    pytest.param(
        _target_all_missing,
        [r"no rows left .* the target column 'y' is empty in every row"],
        id="target-all-missing",
    ),
    pytest.param(
        _task_with_one_row,
        [r"too few rows .* task\(s\) 'd' \(1\)", "Remove these tasks"],
        id="task-with-one-row",
    ),
    pytest.param(
        _inf_in_a_feature,
        [
            r"1 infinite value in feature column\(s\) 'x2' \(row 17\)",
            "rows counted from 1 below the header",
            "expected finite numbers",
            r"empty them \(an empty cell is imputed\)",
        ],
        id="inf-in-a-feature",
    ),
    pytest.param(
        _infs_in_two_features,
        [r"3 infinite values in feature column\(s\) 'x1' \(rows 4 and 31\), 'x2'"],
        id="infs-in-two-features",
    ),
    pytest.param(
        _inf_in_the_target,
        [r"target column 'y' has 1 infinite value \(row 6;", "expected finite"],
        id="inf-in-the-target",
    ),
    pytest.param(
        _stray_word_in_the_target,
        [
            r"target column 'y' holds numbers except 1 value: 'oops' \(row 6;",
            "expected numbers only",
            "--classification",
        ],
        id="stray-word-in-the-target",
    ),
    pytest.param(
        _stray_word_in_a_feature,
        [
            r"feature column 'x1' holds numbers except 2 values: '\?', 'n/a\?' "
            r"\(rows 4 and 21;",
            "--categorical x1",
        ],
        id="stray-word-in-a-feature",
    ),
    pytest.param(
        _repeated_column_name,
        [r"header of .* names column\(s\) \['y'\] more than once; give every"],
        id="repeated-column-name",
    ),
    pytest.param(
        _huge_target,
        [r"target column 'y' reaches [0-9.]+e\+300: its squares overflow", "Divide"],
        id="huge-target",
    ),
    pytest.param(
        _tiny_feature,
        [r"column 'x2' holds only values smaller than [0-9.]+e-30\d", "Multiply"],
        id="tiny-feature",
    ),
    pytest.param(
        _only_task_and_target,
        [r"no feature columns: .*\(columns: \['task', 'y'\]\)", "Add feature columns"],
        id="no-feature-columns",
    ),
    pytest.param(
        _ragged_rows,
        [r"cannot read .*Expected 4 fields in line 5, saw 5", "one value per column"],
        id="ragged-rows",
    ),
    pytest.param(
        _latin1,
        [r"not UTF-8 text \(byte 0xe9 at position \d+\)", "Save it as UTF-8", "iconv"],
        id="not-utf8",
    ),
    pytest.param(
        _semicolons,
        [r"available columns: \['task;x1;x2;y'\]", "separated by ';'"],
        id="semicolons",
    ),
    pytest.param(
        _one_class,
        [r"target has a single class \(1\) in every row", "at least two"],
        id="one-class",
    ),
    pytest.param(
        _task_column_empty,
        [r"no rows left .* the task column 'task' is empty in every row"],
        id="task-column-empty",
    ),
    pytest.param(
        _task_column_of_numbers,
        [r"too few rows", "is --task-column the column that names the task"],
        id="task-column-of-numbers",
    ),
    pytest.param(
        _class_with_one_row,
        [
            r"target column 'y' has 1 class\(es\) with a single row: 'maybe' "
            r"\(row 4\)",
            "rows to train on and rows to test on",
        ],
        id="class-with-one-row",
    ),
    pytest.param(_directory, [r"data\.csv: is a directory"], id="directory"),
    pytest.param(_truncated_gzip, [r"cannot read .*data\.csv\.gz"], id="truncated-gz"),
    pytest.param(_binary_garbage, [r"cannot read .*data\.csv"], id="binary-garbage"),
]


@pytest.mark.parametrize("build, patterns", BROKEN)
def test_a_broken_file_ends_with_one_error_line(tmp_path, capsys, build, patterns):
    status, out, err = _compare(build(tmp_path), capsys)
    line = _error_line(status, err)
    for pattern in patterns:
        assert re.search(pattern, line), line


def test_numbers_forced_into_classes_suggest_regression(tmp_path, capsys):
    path = _write(tmp_path, _frame())
    status, _, err = _compare(path, capsys, "--classification")
    line = _error_line(status, err)
    assert "has 45 class(es) with a single row" in line and "(45 in all)" in line
    assert "give --regression" in line


@pytest.mark.parametrize(
    "build, value", [(_inf_in_a_feature, "inf"), (_stray_word_in_the_target, "oops")]
)
def test_row_numbers_are_the_data_rows_of_the_file(tmp_path, capsys, build, value):
    path = build(tmp_path)
    _, _, err = _compare(path, capsys)
    row = int(re.search(r"\(row (\d+)", err).group(1))
    # Line 0 is the header, so data row k is line k of the file.
    assert value in path.read_text().splitlines()[row].split(",")


# --------------------------------------------------------------------------
# odd files that are fine
# --------------------------------------------------------------------------


def _text_column_with_one_number(frame):
    frame["shop"] = np.where(np.arange(len(frame)) % 2, "north", "south")
    frame.loc[4, "shop"] = "17"
    return frame


def _constant_column(frame):
    return frame.assign(x3=3.0)


def _duplicated_column(frame):
    return frame.assign(x3=frame["x1"])


def _rows_without_a_task(frame):
    frame.loc[[1, 20], "task"] = np.nan
    return frame


def _empty_feature_column(frame):
    return frame.assign(x3=np.nan)


def _integers_beyond_int64(frame):
    # pandas reads these as text: they must stay one numeric column.
    return frame.assign(x3=[str(10**20 * k) for k in range(len(frame))])


def _true_false_target(frame):
    return frame.assign(y=frame["x1"] > 0.5)


FINE = [
    pytest.param(_text_column_with_one_number, "1 categorical ['shop']", id="text"),
    pytest.param(_constant_column, "3 numeric", id="constant-column"),
    pytest.param(_duplicated_column, "3 numeric", id="duplicated-column"),
    pytest.param(_rows_without_a_task, "2 rows with a missing task", id="no-task"),
    pytest.param(_empty_feature_column, "'x3' (empty)", id="empty-column"),
    pytest.param(_integers_beyond_int64, "3 numeric", id="huge-integers"),
    pytest.param(_true_false_target, "classification (target 'y' is", id="bool"),
]


@pytest.mark.parametrize("change, note", FINE)
def test_an_odd_but_valid_file_gives_a_table(tmp_path, capsys, change, note):
    path = _write(tmp_path, change(_frame()))
    status = main(
        ["compare", "--data", str(path), "--target", "y", "--task-column", "task"]
        + ["--n-splits", "2", "--models", "per-task", "pooled"]
    )
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert captured.err == ""
    assert note in captured.out
    assert re.search(r"^per-task +-?\d\.\d{4} \+- ", captured.out, re.MULTILINE)
    assert re.search(r"^pooled +-?\d\.\d{4} \+- ", captured.out, re.MULTILINE)


def test_a_declared_categorical_column_may_hold_stray_words(tmp_path, capsys):
    status, out, err = _compare(
        _stray_word_in_a_feature(tmp_path), capsys, "--categorical", "x1"
    )
    assert status == 0, err


def test_regression_on_text_names_the_text_values(tmp_path, capsys):
    frame = _frame()
    frame["y"] = np.where(frame["x1"] > 0.5, "high", "low")
    status, _, err = _compare(_write(tmp_path, frame), capsys, "--regression")
    line = _error_line(status, err)
    assert re.search(r"not numeric \(for example '(high|low)', '(high|low)'", line)
    assert "column 'y'" in line and "--classification" in line


def test_wide_targets_with_a_stray_word_name_it(tmp_path, capsys):
    frame = _frame().drop(columns="task")
    frame["y2"] = frame["y"].astype(object)
    frame.loc[9, "y2"] = "missing"
    path = _write(tmp_path, frame)
    status = main(
        ["compare", "--data", str(path), "--targets", "y", "y2"]
        + ["--n-splits", "2", "--models", "per-task", "pooled"]
    )
    line = _error_line(status, capsys.readouterr().err)
    assert "target column 'y2' holds numbers except 1 value: 'missing' (row 10;" in line
    assert "an empty cell is a target not observed" in line
    assert "--classification" not in line  # not a way out in wide format


def _wide(tmp_path, **columns):
    frame = _frame().drop(columns="task").assign(**columns)
    return _write(tmp_path, frame)


@pytest.mark.parametrize(
    "options, patterns",
    [
        pytest.param(
            ["--targets", "y", "word"],
            [
                r"--targets: target column\(s\) \['word'\] are not numeric \(for "
                r"example '(no|yes)', '(no|yes)' in column 'word'\)",
                "must hold numbers",
            ],
            id="wide-text-target",
        ),
        pytest.param(
            ["--targets", "label", "three", "--classification"],
            [r"needs 0/1 target columns .* also hold \[2\.0\]", "Recode"],
            id="wide-not-binary",
        ),
    ],
)
def test_wide_target_messages(tmp_path, capsys, options, patterns):
    x1 = _frame()["x1"]
    path = _wide(
        tmp_path,
        word=np.where(x1 > 0.5, "yes", "no"),
        label=(x1 > 0.5).astype(int),
        three=np.arange(len(x1)) % 3,
    )
    status = main(["compare", "--data", str(path), *options, "--n-splits", "2"])
    line = _error_line(status, capsys.readouterr().err)
    for pattern in patterns:
        assert re.search(pattern, line), line


@pytest.mark.parametrize(
    "options, patterns",
    [
        pytest.param(
            ["--target", "task", "--task-column", "task"],
            [r"same column 'task'; give the column to predict and the column"],
            id="target-is-task",
        ),
        pytest.param(
            ["--target", "y", "--task-column", "task", "--categorical", "y"],
            [r"--categorical \['y'\]: .* not features; give only feature columns"],
            id="categorical-target",
        ),
        pytest.param(
            ["--target", "y", "--task-column", "task", "--models", "mtgp"]
            + ["--classification"],
            [r"no model can run \(mtgp: not available for classification\); "],
            id="no-model-can-run",
        ),
    ],
)
def test_option_messages_say_how_to_fix(tmp_path, capsys, options, patterns):
    frame = _frame().assign(y=lambda f: (f["x1"] > 0.5).astype(int))
    path = _write(tmp_path, frame)
    status = main(["compare", "--data", str(path), *options, "--n-splits", "2"])
    line = _error_line(status, capsys.readouterr().err)
    for pattern in patterns:
        assert re.search(pattern, line), line


# --------------------------------------------------------------------------
# every model failing
# --------------------------------------------------------------------------


def test_every_model_failing_is_an_error_naming_each_failure(tmp_path, capsys):
    frame = _frame()
    frame["y"] = (frame["x1"] > 0.5).astype(int)
    frame.loc[frame["task"] == "c", "y"] = 0  # the per-task model cannot fit c
    path = _write(tmp_path, frame)
    status = main(
        ["compare", "--data", str(path), "--target", "y", "--task-column", "task"]
        + ["--n-splits", "2", "--models", "per-task"]
    )
    captured = capsys.readouterr()
    line = _error_line(status, captured.err)
    assert re.search(r"every model failed \(per-task\) with the same error: ", line)
    assert "single class" in line and "fix the data or the options" in line
    # The table, with the failure under it, is still printed.
    assert "per-task failed: failed on 2 of 2 split(s)" in captured.out


def test_some_models_failing_still_succeeds(tmp_path, capsys):
    frame = _frame()
    frame["y"] = (frame["x1"] > 0.5).astype(int)
    frame.loc[frame["task"] == "c", "y"] = 0
    status, out, err = _compare(_write(tmp_path, frame), capsys)
    assert status == 0 and err == ""
    assert "per-task failed" in out and re.search(r"^pooled +\d\.\d{4}", out, re.M)


def test_check_some_model_ran_lists_each_distinct_error():
    results = [
        ModelResult("per-task", status="failed", error="ValueError: bad x"),
        ModelResult("pooled", status="failed", error="TypeError: " + "long " * 80),
    ]
    with pytest.raises(ValueError, match="every model failed: ") as info:
        check_some_model_ran(results)
    message = str(info.value)
    assert "per-task: ValueError: bad x; pooled: TypeError: long" in message
    assert len(message) < 400  # long errors are shortened
    check_some_model_ran([*results, ModelResult("mtgp")])  # one ran: no error


# --------------------------------------------------------------------------
# extreme magnitudes: rescaled, same answer, no hang
# --------------------------------------------------------------------------


def _report(tmp_path, capsys, frame, name, *models):
    path, out = tmp_path / f"{name}.csv", tmp_path / f"{name}.json"
    frame.to_csv(path, index=False)
    status = main(
        ["compare", "--data", str(path), "--target", "y", "--task-column", "task"]
        + ["--n-splits", "1", "--models", *models, "--json", str(out)]
    )
    printed = capsys.readouterr()
    assert status == 0, printed.err
    return json.loads(out.read_text()), printed.out


@pytest.mark.parametrize("scale", [1e300, 1e160])
def test_a_column_of_huge_magnitude_gives_the_numbers_of_the_plain_one(
    tmp_path, capsys, scale
):
    frame = _frame()
    plain, _ = _report(tmp_path, capsys, frame, "plain", "per-task", "pooled")
    frame["x2"] = frame["x2"] * scale
    extreme, printed = _report(tmp_path, capsys, frame, "huge", "per-task", "pooled")
    assert "column(s) 'x2' (up to" in printed
    assert "too large for float64 squares: numeric columns are divided" in printed
    for ours, reference in zip(extreme["results"], plain["results"]):
        # Standardising ignores the scale: equal up to rounding.
        assert ours["status"] == "ok"
        for key in ("explained_variance", "rmse"):
            assert ours["per_split"][key] == pytest.approx(
                reference["per_split"][key], rel=1e-9
            )


@pytest.mark.timeout(60)
def test_multi_task_models_finish_on_a_column_of_magnitude_1e300(tmp_path, capsys):
    models = ("joint-feature", "mean-regularized")
    frame = _frame()
    plain, _ = _report(tmp_path, capsys, frame, "plain", *models)
    frame["x2"] = frame["x2"] * 1e300
    extreme, _ = _report(tmp_path, capsys, frame, "extreme", *models)
    for ours, reference in zip(extreme["results"], plain["results"]):
        assert ours["status"] == "ok", ours["reason"]
        # Iterative solvers on inputs equal up to rounding: close, not equal.
        assert ours["explained_variance_mean"] == pytest.approx(
            reference["explained_variance_mean"], rel=1e-6
        )
