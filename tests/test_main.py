"""The command line, against the same protocol computed with sklearn by hand."""

import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from sklearn.preprocessing import StandardScaler

from skmtl.__main__ import main
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
    reported = json.loads(out.read_text())["results"][0]["explained_variance"][0]

    school = load_school(as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split_tasks(
        school.data,
        school.target.to_numpy(),
        task_column="school",
        test_size=0.25,
        random_state=0,
    )
    features = [c for c in X_train.columns if c != "school"]
    scaler = StandardScaler().fit(X_train[features])
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
    assert reported == pytest.approx(r2_score(y_test, predictions), rel=1e-10)


def _user_csv(tmp_path):
    rng = np.random.RandomState(0)
    frame = pd.DataFrame(
        {
            "store": np.repeat(["a", "b", "c"], 20),
            "price": rng.rand(60),
            "promo": rng.rand(60),
        }
    )
    frame["units"] = 3 * frame["price"] + rng.rand(60)
    path = tmp_path / "sales.csv"
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
    printed = capsys.readouterr().out
    assert "60 rows, 3 tasks, 2 features" in printed


@pytest.mark.parametrize(
    "arguments, message",
    [
        (
            ["--data", "missing.csv", "--target", "y", "--task-column", "t"],
            "no such file",
        ),
        (
            ["--data", "{csv}", "--target", "sales", "--task-column", "store"],
            r"column\(s\) \['sales'\] not in .*available columns: \['store', 'price'",
        ),
        (["--data", "{csv}"], "--data needs --target COL and --task-column COL"),
        (["--models", "magic"], r"unknown model\(s\) \['magic'\]; available"),
        (["--n-splits", "0"], "--n-splits must be at least 1"),
    ],
)
def test_compare_bad_input_is_one_line_and_exit_2(tmp_path, capsys, arguments, message):
    path = _user_csv(tmp_path)
    arguments = [a.replace("{csv}", str(path)) for a in arguments]
    assert main(["compare", *arguments]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("skmtl compare: error:")
    assert re.search(message, err)
