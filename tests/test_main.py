"""The command line: the School protocol by hand, the help, every bad input."""

import json
import re
from contextlib import nullcontext

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from sklearn.preprocessing import StandardScaler

from skmtl.__main__ import _parser, main
from skmtl._compare import RIDGE_ALPHAS
from skmtl.datasets import load_school
from skmtl.model_selection import train_test_split_tasks


def test_compare_per_task_matches_a_hand_made_protocol(tmp_path, capsys):
    out = tmp_path / "result.json"
    status = main(
        ["compare", "--n-splits", "1", "--models", "per-task", "--json", str(out)]
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "per-task" in printed and "explained variance" in printed
    result = json.loads(out.read_text())["results"][0]
    reported = result["per_split"]["explained_variance"][0]

    school = load_school(as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split_tasks(
        school.data,
        school.target.to_numpy(),
        task_column="school",
        test_size=0.25,
        random_state=0,
    )
    features = [c for c in X_train.columns if c != "school"]
    # 0/1 columns are centred, the others standardised.
    indicators = [c for c in features if school.data[c].isin((0, 1)).all()]
    assert 0 < len(indicators) < len(features)
    scaler = ColumnTransformer(
        [("indicator", StandardScaler(with_std=False), indicators)],
        remainder=StandardScaler(),
    ).fit(X_train[features])
    predictions = np.empty(len(y_test))
    for task in np.unique(X_train["school"]):
        train_rows = (X_train["school"] == task).to_numpy()
        test_rows = (X_test["school"] == task).to_numpy()
        ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(
            scaler.transform(X_train.loc[train_rows, features]), y_train[train_rows]
        )
        predictions[test_rows] = ridge.predict(
            scaler.transform(X_test.loc[test_rows, features])
        )
    # Same folds, same scaling, same ridge: equal up to rounding.
    assert reported == pytest.approx(r2_score(y_test, predictions), rel=1e-10)
    first_task = sorted(np.unique(X_test["school"]))[0]
    rows = (X_test["school"] == first_task).to_numpy()
    assert result["per_task"][str(first_task)][0] == pytest.approx(
        r2_score(y_test[rows], predictions[rows]), rel=1e-10
    )


def _user_csv(tmp_path, name="sales.csv", **columns):
    rng = np.random.RandomState(0)
    frame = pd.DataFrame(
        {
            "store": np.repeat(["a", "b", "c"], 20),
            "price": rng.rand(60),
            "promo": rng.rand(60),
        }
    )
    frame["units"] = 3 * frame["price"] + rng.rand(60)
    for column, values in columns.items():
        frame[column] = values
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_compare_on_a_user_file(tmp_path, capsys):
    path = _user_csv(tmp_path)
    status = main(
        [
            "compare",
            "--data",
            str(path),
            "--target",
            "units",
            "--task-column",
            "store",
            "--n-splits",
            "2",
            "--models",
            "per-task",
            "pooled",
        ]
    )
    assert status == 0
    captured = capsys.readouterr()
    assert "60 rows, 2 features, 3 tasks" in captured.out
    assert "reproduce: skmtl compare --data" in captured.out
    # Not a terminal: no progress bar, nothing on stderr.
    assert captured.err == ""


def test_help_explains_every_option_with_an_example():
    compare = _parser()._subparsers._group_actions[0].choices["compare"]
    text = compare.format_help()
    for action in compare._actions:
        if action.option_strings and action.nargs != 0 and action.dest != "help":
            assert f"Example: {action.option_strings[0]}" in " ".join(
                action.help.split()
            )
    assert "examples:" in text and "skmtl compare --data sales.csv" in text
    for model in ("per-task", "pooled", "mean-regularized", "joint-feature", "mtgp"):
        assert model in text


def _constant_in_task_b(n=60):
    units = np.arange(n, dtype=float)
    units[20:40] = 5.0
    return units


def _bad_parquet(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_text("this is not parquet")
    return str(path)


BAD_INPUTS = [
    pytest.param(
        ["--data", "missing.csv", "--target", "y", "--task-column", "t"],
        "no such file",
        id="no-file",
    ),
    pytest.param(
        ["--data", "{xlsx}", "--target", "units", "--task-column", "store"],
        r"unknown file format '\.xlsx'; expected CSV",
        id="unknown-format",
    ),
    pytest.param(
        ["--data", "{parquet}", "--target", "units", "--task-column", "store"],
        # Without pyarrow the error says to install it.
        r"(cannot read|reading) .*broken\.parquet",
        id="broken-parquet",
    ),
    pytest.param(
        ["--data", "{csv}", "--target", "sales", "--task-column", "store"],
        r"column\(s\) \['sales'\] not in .*available columns: \['store', 'price'",
        id="missing-column",
    ),
    pytest.param(
        ["--data", "{csv}"],
        "--data needs --target COL and --task-column COL",
        id="no-target",
    ),
    pytest.param(
        ["--data", "{csv}", "--target", "units", "--task-column", "one"],
        r"task column 'one' holds a single task \('x'\)",
        id="one-task",
    ),
    pytest.param(
        ["--data", "{csv}", "--target", "constant", "--task-column", "store"],
        r"target is constant within task\(s\) \['b'\]",
        id="constant-target",
    ),
    pytest.param(
        ["--data", "{csv}", "--target", "units", "--task-column", "tiny"],
        r"too few rows .* at least 3 rows .* task\(s\) 'z' \(2\)",
        id="too-few-rows",
    ),
    pytest.param(
        [
            "--data",
            "{csv}",
            "--target",
            "units",
            "--task-column",
            "store",
            "--cv",
            "30",
        ],
        r"too few rows .*--cv 30 every task needs at least 30 rows",
        id="too-few-rows-cv",
    ),
    pytest.param(
        ["--data", "{csv}", "--target", "units", "--task-column", "store"]
        + ["--impute", "none"],
        r"--impute none, but feature column\(s\) have missing values: "
        r"'holes' \(2\), 'label' \(1\)",
        id="impute-none",
    ),
    pytest.param(
        ["--data", "{csv}", "--targets", "units"],
        "--targets needs at least two columns",
        id="one-wide-target",
    ),
    pytest.param(
        ["--models", "magic"], r"unknown model\(s\) \['magic'\]; available", id="model"
    ),
    pytest.param(["--n-splits", "0"], "--n-splits must be at least 1", id="n-splits"),
    pytest.param(["--cv", "3", "--n-splits", "2"], "--cv K replaces", id="cv-and-n"),
    pytest.param(["--test-size", "1.5"], r"--test-size must be in \(0, 1\)", id="size"),
    pytest.param(["--target", "y"], "--target: only with --data PATH", id="no-data"),
    pytest.param(["--n-splits", "two"], "invalid int value: 'two'", id="argparse"),
    pytest.param(
        ["--plot", "out.xyz"],
        "unknown image format 'xyz'|--plot needs matplotlib",
        id="plot-format",
    ),
    pytest.param(
        ["--json", "no/such/dir/out.json"], "does not exist", id="json-directory"
    ),
]


@pytest.mark.parametrize("arguments, message", BAD_INPUTS)
def test_compare_bad_input_is_one_line_and_exit_2(tmp_path, capsys, arguments, message):
    rows = np.arange(60)
    path = _user_csv(
        tmp_path,
        one=["x"] * 60,
        tiny=np.where(rows < 2, "z", "y"),
        constant=_constant_in_task_b(),
        holes=np.where(rows % 30 == 1, np.nan, 1.0 * rows),
        label=np.where(rows == 7, None, "k"),
    )
    xlsx = tmp_path / "sales.xlsx"
    xlsx.write_bytes(b"PK")
    replacements = {
        "{csv}": str(path),
        "{xlsx}": str(xlsx),
        "{parquet}": _bad_parquet(tmp_path),
    }
    arguments = [replacements.get(a, a) for a in arguments]
    argparse_error = message.startswith("invalid int")
    with pytest.raises(SystemExit) if argparse_error else nullcontext():
        assert main(["compare", *arguments]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("skmtl compare: error:")
    assert "Traceback" not in err
    assert re.search(message, err), err


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--n-splits", "two"])
    assert exit_info.value.code == 2


def test_unexpected_errors_are_one_line_with_exit_1(tmp_path, capsys, monkeypatch):
    import skmtl.__main__ as cli

    def broken(*args, **kwargs):
        raise RuntimeError("something\nunexpected")

    monkeypatch.setattr(cli, "make_splits", broken)
    path = _user_csv(tmp_path)
    arguments = ["compare", "--data", str(path), "--target", "units"]
    assert main([*arguments, "--task-column", "store"]) == 1
    err = capsys.readouterr().err
    assert err == "skmtl compare: error: RuntimeError: something unexpected\n"


def test_missing_pandas_is_a_clear_error(capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)
    assert main(["compare", "--n-splits", "1"]) == 2
    assert capsys.readouterr().err == (
        "skmtl compare: error: skmtl compare needs pandas, which is not installed: "
        'pip install "skmtl[pandas]"\n'
    )


def test_structure_models_run_through_models_and_only_trace_norm_by_default(
    tmp_path, capsys
):
    """trace-norm joins the default comparison; the other three need --models."""
    from skmtl._compare import MODELS

    defaults = [name for name, spec in MODELS.items() if spec.default]
    assert "trace-norm" in defaults
    assert not {"sparse-low-rank", "robust", "dirty"} & set(defaults)
    path = _user_csv(tmp_path)
    out = tmp_path / "result.json"
    status = main(
        [
            "compare",
            "--data",
            str(path),
            "--target",
            "units",
            "--task-column",
            "store",
            "--n-splits",
            "1",
            "--models",
            "trace-norm",
            "sparse-low-rank",
            "robust",
            "dirty",
            "--json",
            str(out),
        ]
    )
    assert status == 0
    table = capsys.readouterr().out
    for name in ("trace-norm", "sparse-low-rank", "robust", "dirty"):
        assert re.search(rf"^{name}\s+0\.\d+", table, flags=re.M), name


def test_default_run_has_three_splits_and_the_multi_task_gp():
    from skmtl.__main__ import _check_settings, _select_models
    from skmtl._compare import Dataset

    args = _parser().parse_args(["compare"])
    _check_settings(args)
    assert args.n_splits == 3 and args.test_size == 0.25
    regression = Dataset(None, np.zeros(1), "school", "regression", [], [], ["y"])
    _, runnable, skipped = _select_models(args, regression)
    assert "mtgp" in runnable and not skipped
    text = _parser()._subparsers._group_actions[0].choices["compare"].format_help()
    assert "--mtgp-max-rows" not in text
