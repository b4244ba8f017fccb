"""``skmtl compare`` as an analysis tool: each tabular reality against an oracle.

The oracles redo the protocol with scikit-learn by hand: the same
within-task split (``train_test_split_tasks`` with the same seed), every
preprocessing step fitted on the training rows only, the same baseline
estimator; the command's numbers must agree to rounding.
"""

import json
import pickle
import shlex
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegressionCV, RidgeCV
from sklearn.metrics import accuracy_score, log_loss, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skmtl._compare as protocol
from skmtl.__main__ import main
from skmtl._compare import (
    LOGISTIC_CS,
    LOGISTIC_FOLDS,
    RIDGE_ALPHAS,
    ModelResult,
    count_improved_tasks,
    min_rows_per_task,
)
from skmtl.model_selection import FewShotTasksOut, train_test_split_tasks

# The command's numbers and the oracle's come from the same arithmetic in a
# different order: they agree to rounding.
RTOL = 1e-9


def _frame(n_per_task=20, tasks=("a", "b", "c"), seed=0):
    rng = np.random.RandomState(seed)
    n = n_per_task * len(tasks)
    frame = pd.DataFrame(
        {
            "store": np.repeat(list(tasks), n_per_task),
            "price": rng.rand(n),
            "promo": rng.rand(n),
        }
    )
    slope = np.repeat(np.arange(len(tasks)), n_per_task)
    frame["units"] = (3 + 0.5 * slope) * frame["price"] + rng.rand(n)
    return frame


def _run(tmp_path, frame, *arguments, name="data.csv", target="units"):
    """Run the command on a frame written to a file; return what it gave."""
    path = tmp_path / name
    if name.endswith(".parquet"):
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    out = tmp_path / "out.json"
    data = ["--data", str(path)]
    if "--targets" not in arguments:
        data += ["--target", target, "--task-column", "store"]
    status = main(["compare", *data, "--json", str(out), *arguments])
    return status, (json.loads(out.read_text()) if status == 0 else None)


def _result(report, model):
    return next(r for r in report["results"] if r["model"] == model)


def _split(frame, target="units", seed=0):
    features = frame.drop(columns=target)
    return train_test_split_tasks(
        features,
        frame[target].to_numpy(),
        task_column="store",
        test_size=0.25,
        random_state=seed,
    )


def test_missing_values_are_imputed_inside_the_training_part(tmp_path, capsys):
    frame = _frame()
    frame.loc[[1, 2, 25, 41, 50], "price"] = np.nan
    status, report = _run(
        tmp_path, frame, "--models", "pooled", "--n-splits", "1", "--impute", "median"
    )
    assert status == 0
    assert (
        "'price' (5): numeric ones imputed with the median" in capsys.readouterr().out
    )

    X_train, X_test, y_train, y_test = _split(frame)
    numeric = ["price", "promo"]

    def pooled_r2(imputer):
        scaler = StandardScaler().fit(imputer.transform(X_train[numeric]))

        def prepare(X):
            return scaler.transform(imputer.transform(X[numeric]))

        ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(prepare(X_train), y_train)
        return r2_score(y_test, ridge.predict(prepare(X_test)))

    inside = pooled_r2(SimpleImputer(strategy="median").fit(X_train[numeric]))
    leaky = pooled_r2(SimpleImputer(strategy="median").fit(frame[numeric]))
    reported = _result(report, "pooled")["per_split"]["explained_variance"][0]
    assert reported == pytest.approx(inside, rel=RTOL)
    # The oracle can tell: medians from all rows give another number.
    assert abs(reported - leaky) > 1e-6


def test_categorical_columns_are_one_hot_encoded(tmp_path, capsys):
    frame = _frame()
    rng = np.random.RandomState(1)
    frame["region"] = rng.choice(["north", "south", "east"], len(frame))
    frame["channel"] = rng.choice(list("vwxyz"), len(frame))
    frame["units"] += 2.0 * (frame["region"] == "north")
    status, report = _run(
        tmp_path,
        frame,
        "--models",
        "pooled",
        "--n-splits",
        "1",
        "--max-categories",
        "3",
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert (
        "2 categorical ['region', 'channel'] one-hot encoded into 6 indicator columns"
        " (rarest values of 'channel' (5 values) grouped, at most 3 per column"
    ) in printed
    assert "10 model inputs" not in printed and "8 model inputs" in printed
    assert report["data"]["n_encoded_columns"] == 6
    assert report["data"]["categorical_columns"] == ["region", "channel"]

    # Oracle with region only: indicators of the training rows, not scaled.
    status, report = _run(
        tmp_path, frame.drop(columns="channel"), "--models", "pooled", "--n-splits", "1"
    )
    X_train, X_test, y_train, y_test = _split(frame.drop(columns="channel"))
    scaler = StandardScaler().fit(X_train[["price", "promo"]])

    def prepare(X):
        indicators = pd.get_dummies(X["region"]).reindex(
            columns=sorted(X_train["region"].unique()), fill_value=0
        )
        return np.column_stack([scaler.transform(X[["price", "promo"]]), indicators])

    ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(prepare(X_train), y_train)
    expected = r2_score(y_test, ridge.predict(prepare(X_test)))
    reported = _result(report, "pooled")["per_split"]["explained_variance"][0]
    assert reported == pytest.approx(expected, rel=RTOL)


def test_rows_with_a_missing_target_are_dropped_and_counted(tmp_path, capsys):
    frame = _frame()
    frame.loc[[0, 21, 22], "units"] = np.nan
    frame.loc[5, "store"] = np.nan
    status, report = _run(tmp_path, frame, "--models", "pooled", "--n-splits", "1")
    assert status == 0
    printed = capsys.readouterr().out
    assert "dropped 3 rows with a missing target, 1 row with a missing task" in printed
    assert "56 rows" in printed
    assert report["data"]["rows_dropped"] == {
        "rows with a missing target": 3,
        "rows with a missing task": 1,
    }
    assert report["data"]["n_rows"] == 56


def test_parquet_gives_the_numbers_of_the_same_csv(tmp_path):
    pytest.importorskip("pyarrow")
    frame = _frame()
    frame["region"] = np.where(np.arange(len(frame)) % 3 == 0, "north", "south")
    arguments = ("--models", "per-task", "pooled", "--n-splits", "2")
    status, from_csv = _run(tmp_path, frame, *arguments)
    assert status == 0
    status, from_parquet = _run(tmp_path, frame, *arguments, name="data.parquet")
    assert status == 0
    for model in ("per-task", "pooled"):
        assert (
            _result(from_parquet, model)["per_split"]["explained_variance"]
            == _result(from_csv, model)["per_split"]["explained_variance"]
        )


def test_wide_targets_match_per_task_ridge_by_hand(tmp_path, capsys):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3))
    frame = pd.DataFrame(X, columns=["x0", "x1", "x2"])
    for k in range(3):
        frame[f"y{k}"] = X @ rng.normal(size=3) + 0.3 * rng.normal(size=40)
    frame.loc[[3, 17], "y1"] = np.nan  # not observed for task y1
    status, report = _run(
        tmp_path, frame, "--targets", "y0", "y1", "y2", "--models", "per-task",
        "--n-splits", "1",
    )  # fmt: skip
    assert status == 0
    printed = capsys.readouterr().out
    assert "R^2 (mean over tasks)" in printed and "3 tasks (target columns" in printed
    assert report["data"]["layout"] == "wide"

    train, test = train_test_split(np.arange(40), test_size=0.25, random_state=0)
    train, test = np.sort(train), np.sort(test)
    scaler = StandardScaler().fit(X[train])
    scores = {}
    for k in range(3):
        y = frame[f"y{k}"].to_numpy()
        fit_rows = train[~np.isnan(y[train])]
        test_rows = test[~np.isnan(y[test])]
        ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(
            scaler.transform(X[fit_rows]), y[fit_rows]
        )
        prediction = ridge.predict(scaler.transform(X[test_rows]))
        scores[f"y{k}"] = r2_score(y[test_rows], prediction)
    result = _result(report, "per-task")
    assert result["per_split"]["r2"][0] == pytest.approx(
        np.mean(list(scores.values())), rel=RTOL
    )
    for task, score in scores.items():
        assert result["per_task"][task][0] == pytest.approx(score, rel=RTOL)


def _purchases(n_per_task=30, seed=0):
    frame = _frame(n_per_task=n_per_task, seed=seed)
    rng = np.random.RandomState(seed)
    frame["bought"] = (frame["units"] + 0.5 * rng.normal(size=len(frame)) > 2).astype(
        int
    )
    return frame.drop(columns="units")


def test_classification_is_detected_and_scored_like_sklearn(tmp_path, capsys):
    frame = _purchases()
    status, report = _run(
        tmp_path, frame, "--models", "pooled", "--n-splits", "1", target="bought"
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "classification (target 'bought' is 0/1 only" in printed
    assert "accuracy" in printed and "log-loss" in printed
    assert report["settings"]["task_type"] == "classification"

    X_train, X_test, y_train, y_test = _split(frame, target="bought")
    features = ["price", "promo"]
    scaler = StandardScaler().fit(X_train[features])
    logistic = LogisticRegressionCV(
        Cs=LOGISTIC_CS,
        l1_ratios=(0.0,),
        cv=LOGISTIC_FOLDS,
        scoring="neg_log_loss",
        max_iter=1000,
        use_legacy_attributes=False,
    ).fit(scaler.transform(X_train[features]), y_train)
    X_test = scaler.transform(X_test[features])
    result = _result(report, "pooled")["per_split"]
    assert result["accuracy"][0] == accuracy_score(y_test, logistic.predict(X_test))
    assert result["log_loss"][0] == pytest.approx(
        log_loss(y_test, logistic.predict_proba(X_test)), rel=RTOL
    )


@pytest.mark.parametrize(
    "values, flags, expected",
    [
        (lambda y: np.where(y > 0, "yes", "no"), (), "classification (target"),
        (lambda y: y.astype(int), ("--regression",), "regression (--regression)"),
        (lambda y: y.astype(int), ("--classification",), "classification (--class"),
        (lambda y: y + 0.5, (), "regression (target"),
    ],
)
def test_task_type_auto_detection_and_override(
    tmp_path, capsys, values, flags, expected
):
    frame = _purchases()
    frame["bought"] = values(frame["bought"].to_numpy())
    arguments = ("--models", "pooled", "--n-splits", "1", *flags)
    status, report = _run(tmp_path, frame, *arguments, target="bought")
    assert status == 0
    assert expected in capsys.readouterr().out


def test_a_failing_model_is_reported_and_the_others_run(tmp_path, capsys):
    frame = _purchases()
    frame.loc[frame["store"] == "c", "bought"] = 0  # one class in task c
    arguments = ("--models", "per-task", "pooled", "--n-splits", "1")
    status, report = _run(tmp_path, frame, *arguments, target="bought")
    assert status == 0
    printed = capsys.readouterr().out
    assert "per-task failed: failed on 1 of 1 split(s)" in printed
    assert "Task(s) ['c'] hold a single class" in printed
    per_task, pooled = _result(report, "per-task"), _result(report, "pooled")
    assert per_task["status"] == "failed" and "single class" in per_task["reason"]
    assert pooled["status"] == "ok" and pooled["tasks_improved"] is None


def test_cv_tests_every_row_once(tmp_path, capsys):
    frame = _frame()
    status, report = _run(
        tmp_path, frame, "--cv", "3", "--models", "per-task", "pooled"
    )
    assert status == 0
    assert "3-fold cross-validation within every task" in capsys.readouterr().out
    splits = report["protocol"]["splits"]
    assert len(splits) == 3
    assert sum(split["n_test"] for split in splits) == len(frame)
    assert all(split["n_train"] + split["n_test"] == len(frame) for split in splits)
    assert report["settings"]["cv"] == 3 and report["settings"]["n_splits"] is None
    assert len(_result(report, "pooled")["per_split"]["rmse"]) == 3


def test_json_holds_the_settings_and_every_number(tmp_path, capsys):
    frame = _frame()
    arguments = ("--models", "per-task", "mean-regularized", "--n-splits", "2")
    status, report = _run(tmp_path, frame, *arguments, "--random-state", "3")
    assert status == 0
    assert report["settings"] == {
        "data": str(tmp_path / "data.csv"),
        "target": "units",
        "targets": None,
        "task_column": "store",
        "task_type": "regression",
        "categorical": [],
        "max_categories": 20,
        "impute": "mean",
        "models": ["per-task", "mean-regularized"],
        "n_splits": 2,
        "test_size": 0.25,
        "cv": None,
        "random_state": 3,
        "n_jobs": 1,
        "new_tasks": False,
        "shots": None,
    }
    assert [s["seed"] for s in report["protocol"]["splits"]] == [3, 4]
    assert report["data"]["task_sizes"] == {"a": 20, "b": 20, "c": 20}
    assert {d["topic"] for d in report["decisions"]} >= {"data", "task", "features"}
    for result in report["results"]:
        for key in ("explained_variance", "rmse", "fit_time"):
            values = result["per_split"][key]
            assert len(values) == 2
            assert result[f"{key}_mean"] == pytest.approx(np.mean(values))
            assert result[f"{key}_std"] == pytest.approx(np.std(values))
        assert sorted(result["per_task"]) == ["a", "b", "c"]
        for task, values in result["per_task"].items():
            assert result["per_task_mean"][task] == pytest.approx(np.mean(values))
    regularized = _result(report, "mean-regularized")
    assert set(regularized["hyper_parameters"][0]) >= {"alpha", "alpha_mean"}
    assert regularized["tasks_compared"] == 3
    improved = sum(
        regularized["per_task_mean"][t]
        > _result(report, "per-task")["per_task_mean"][t]
        for t in "abc"
    )
    assert regularized["tasks_improved"] == improved

    # The printed command gives the same numbers again.
    command = shlex.split(report["command"])
    out = tmp_path / "again.json"
    assert main([*command[1:], "--json", str(out)]) == 0
    again = json.loads(out.read_text())
    for before, after in zip(report["results"], again["results"]):
        assert before["per_split"]["rmse"] == after["per_split"]["rmse"]


def test_plot_writes_a_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    frame = _frame()
    path = tmp_path / "figure.png"
    arguments = ("--models", "per-task", "pooled", "joint-feature", "--n-splits", "2")
    status, _ = _run(tmp_path, frame, *arguments, "--plot", str(path))
    assert status == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {path}" in capsys.readouterr().out


def test_plot_without_matplotlib_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.backend_bases", None)
    status = main(["compare", "--plot", str(tmp_path / "figure.png")])
    assert status == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "skmtl compare: error: --plot needs matplotlib, which is not installed: "
        'pip install "skmtl[plot]"'
    )


def test_saved_model_is_the_refitted_best_model(tmp_path, capsys):
    frame = _frame()
    model_path = tmp_path / "model.pkl"
    arguments = ("--models", "per-task", "--n-splits", "1")
    status, report = _run(tmp_path, frame, *arguments, "--save-model", str(model_path))
    assert status == 0
    assert report["saved_model"] == {"model": "per-task", "path": str(model_path)}
    with open(model_path, "rb") as file:
        model = pickle.load(file)
    X = frame.drop(columns="units")
    # Oracle: per-task ridge on the features standardised over every row.
    features = ["price", "promo"]
    scaler = StandardScaler().fit(X[features])
    expected = np.empty(len(frame))
    for task in "abc":
        rows = (X["store"] == task).to_numpy()
        ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(
            scaler.transform(X.loc[rows, features]), frame["units"][rows]
        )
        expected[rows] = ridge.predict(scaler.transform(X.loc[rows, features]))
    np.testing.assert_allclose(model.predict(X), expected, rtol=RTOL)


def test_mtgp_runs_with_the_sparse_solver_on_large_data(tmp_path, monkeypatch):
    # The GP is never skipped: above the exact solvers' size it runs sparse.
    # A limit of 10 observations makes the 45 training rows "large".
    import skmtl.gaussian_process._mtgp as mtgp_module

    monkeypatch.setattr(mtgp_module, "EXACT_MAX_SIZE", 10)
    frame = _frame()
    arguments = ("--models", "per-task", "mtgp", "--n-splits", "1")
    status, report = _run(tmp_path, frame, *arguments)
    assert status == 0
    result = _result(report, "mtgp")
    assert result["status"] == "ok"

    dataset = _dataset(frame)
    split = protocol.make_splits(dataset, n_splits=1)[0]
    model = protocol.build_model("mtgp", dataset, random_state=split.seed)
    model.fit(dataset.X.iloc[split.train], dataset.y[split.train])
    assert model[-1].solver_ == "sparse"
    expected = r2_score(
        dataset.y[split.test], model.predict(dataset.X.iloc[split.test])
    )
    assert result["per_split"]["explained_variance"][0] == pytest.approx(
        expected, rel=1e-6
    )


def test_mtgp_max_rows_is_gone(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--mtgp-max-rows", "10"])
    assert "unrecognized arguments: --mtgp-max-rows" in capsys.readouterr().err


def test_an_unavailable_model_is_skipped_with_its_reason(tmp_path, capsys, monkeypatch):
    def not_there(*args):
        raise ImportError("cannot import name 'JointFeatureRegressorCV'")

    spec = protocol.MODELS["joint-feature"]
    monkeypatch.setitem(
        protocol.MODELS,
        "joint-feature",
        protocol.ModelSpec(spec.name, spec.description, True, not_there, None),
    )
    arguments = ("--models", "pooled", "joint-feature", "--n-splits", "1")
    status, report = _run(tmp_path, _frame(), *arguments)
    assert status == 0
    assert (
        "joint-feature skipped: cannot be imported (ImportError: cannot import name"
        in capsys.readouterr().out
    )


def test_parallel_fits_give_the_same_numbers(tmp_path):
    frame = _frame()
    arguments = ("--models", "per-task", "mean-regularized", "--n-splits", "2")
    _, serial = _run(tmp_path, frame, *arguments)
    _, parallel = _run(tmp_path, frame, *arguments, "--n-jobs", "2")
    for before, after in zip(serial["results"], parallel["results"]):
        assert before["per_split"]["rmse"] == after["per_split"]["rmse"]
        assert before["per_task"] == after["per_task"]


@pytest.mark.parametrize("tqdm_installed", [True, False])
def test_progress_is_shown_on_a_terminal_only(
    tmp_path, capsys, monkeypatch, tqdm_installed
):
    if tqdm_installed:
        pytest.importorskip("tqdm")
    else:
        monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    arguments = ("--models", "pooled", "--n-splits", "2")
    assert _run(tmp_path, _frame(), *arguments)[0] == 0
    err = capsys.readouterr().err
    assert "split 2 pooled" in err
    assert _run(tmp_path, _frame(), *arguments, "--quiet")[0] == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "n_rows, test_size, cv", [(3, 0.25, None), (4, 0.5, None), (5, 0.9, None)]
)
def test_min_rows_per_task_agrees_with_the_splitter(n_rows, test_size, cv):
    def n_train(rows):
        X = np.zeros((rows, 2))
        train, _ = train_test_split_tasks(
            X, task_column=0, test_size=test_size, random_state=0
        )
        return len(train)

    needed = min_rows_per_task(test_size=test_size, cv=cv)
    assert n_train(needed) >= protocol.MIN_TRAINING_ROWS
    assert n_train(needed - 1) < protocol.MIN_TRAINING_ROWS
    if test_size == 0.25:
        assert needed == n_rows


def test_min_rows_per_task_with_cv():
    # k folds: a row in every test fold, two training rows in every fold.
    assert min_rows_per_task(cv=2) == 4
    assert min_rows_per_task(cv=5) == 5


def test_count_improved_tasks_by_hand():
    baseline = ModelResult(
        "per-task", task_scores={"a": [0.1, 0.3], "b": [0.5, 0.5], "c": [np.nan] * 2}
    )
    model = ModelResult(
        "pooled", task_scores={"a": [0.3, 0.2], "b": [0.5, 0.5], "c": [0.9, 0.9]}
    )
    failed = ModelResult("mtgp", status="failed")
    count_improved_tasks([baseline, model, failed])
    # a: 0.25 > 0.2; b: a tie is no improvement; c: undefined for the baseline.
    assert (model.tasks_improved, model.tasks_compared) == (1, 2)
    assert failed.tasks_improved is None and baseline.tasks_improved is None


def test_warnings_of_tiny_tasks_are_collected_not_raised(tmp_path, capsys):
    # pytest turns warnings into errors: a fit that warned would fail here.
    frame = _frame(n_per_task=4, tasks=tuple("abcdefgh"))
    big = _frame(n_per_task=40, tasks=("z",), seed=1)
    frame = pd.concat([frame, big], ignore_index=True)
    arguments = ("--models", "per-task", "mean-regularized", "--n-splits", "1")
    status, report = _run(tmp_path, frame, *arguments)
    assert status == 0
    printed = capsys.readouterr().out
    assert "mean-regularized: 1 distinct warning(s) while fitting" in printed
    assert "counted over the 1 of 9 tasks whose per-task score is defined" in printed
    warned = _result(report, "mean-regularized")["warnings"]
    assert len(warned) == 1 and "fewer rows than n_splits=5" in warned[0]
    assert _result(report, "mean-regularized")["tasks_compared"] == 1


def test_numeric_codes_can_be_declared_categorical(tmp_path, capsys):
    frame = _frame()
    frame["grade"] = np.arange(len(frame)) % 4 + 1
    arguments = ("--models", "pooled", "--n-splits", "1", "--categorical", "grade")
    status, report = _run(tmp_path, frame, *arguments)
    assert status == 0
    assert "1 categorical ['grade'] one-hot encoded into 4 indicator columns" in (
        capsys.readouterr().out
    )
    assert report["data"]["numeric_columns"] == ["price", "promo"]
    assert "--categorical grade" in report["command"]


def test_indicator_columns_are_imputed_but_not_standardised(tmp_path, capsys):
    # Oracle: sklearn's imputer and scaler applied by hand to the training rows.
    frame = _frame()
    rng = np.random.RandomState(1)
    frame["rare"] = (rng.rand(len(frame)) < 0.1).astype(float)
    frame.loc[[3, 7], "rare"] = np.nan
    frame["grade"] = np.arange(len(frame)) % 3  # 0, 1, 2: not an indicator
    frame["flag"] = rng.rand(len(frame)) < 0.5  # booleans are indicators
    status, report = _run(tmp_path, frame, "--models", "pooled", "--n-splits", "1")
    assert status == 0
    assert report["data"]["indicator_columns"] == ["rare", "flag"]
    assert "except 2 that hold only 0 and 1: only centred" in (capsys.readouterr().out)

    dataset = _dataset(frame)
    dataset.numeric_columns = ["price", "promo", "rare", "grade"]
    dataset.indicator_columns = ["rare"]
    dataset.X = dataset.X.drop(columns="flag")
    out = protocol.build_preprocessor(dataset).fit_transform(dataset.X)
    imputed = frame["rare"].fillna(frame["rare"].mean())
    np.testing.assert_allclose(out["rare"], imputed - imputed.mean(), atol=1e-15)
    scaled = StandardScaler().fit_transform(frame[["price", "grade"]])
    np.testing.assert_allclose(out[["price", "grade"]], scaled)
    assert list(out["store"]) == list(frame["store"])


# --------------------------------------------------------------------------
# models with task relations and the relations panel of --plot
# --------------------------------------------------------------------------


def _dataset(frame):
    return protocol.Dataset(
        X=frame.drop(columns="units"),
        y=frame["units"].to_numpy(),
        task_column="store",
        task_type="regression",
        numeric_columns=["price", "promo"],
        categorical_columns=[],
        target_names=["units"],
        source="data.csv",
    )


def test_plot_adds_the_task_correlation_of_the_mtgp(tmp_path):
    pytest.importorskip("matplotlib")
    from skmtl._compare_plot import plot_comparison

    dataset = _dataset(_frame(tasks=("a", "b", "c", "d")))
    splits = protocol.make_splits(dataset, n_splits=2)
    results = protocol.run_comparison(dataset, ["per-task", "mtgp"], splits)
    assert all(relation is not None for relation in results[1].relations)
    # Oracle: the GP refitted by hand on the training rows of every split.
    correlations = []
    for split in splits:
        model = protocol.build_model("mtgp", dataset, random_state=split.seed)
        model.fit(dataset.X.iloc[split.train], dataset.y[split.train])
        correlations.append(model[-1].task_correlation_)
    mean = np.mean(correlations, axis=0)

    figure = plot_comparison(tmp_path / "figure.png", results, dataset)
    panel = figure.axes[3]
    assert panel.get_title(loc="left").startswith(
        "(d) mtgp: task correlation, mean over 2 split(s)"
    )
    shown = [label.get_text() for label in panel.get_yticklabels()]
    assert sorted(shown) == ["a", "b", "c", "d"]
    order = ["abcd".index(label) for label in shown]
    # Same fits, possibly on another number of BLAS threads: equal to rounding.
    np.testing.assert_allclose(
        panel.images[0].get_array(), mean[np.ix_(order, order)], rtol=1e-8
    )


def _ran(name, score):
    return ModelResult(
        name,
        scores={"explained_variance": [score], "rmse": [1.0]},
        fit_time=[0.1],
        task_scores={"a": [score], "b": [score]},
        details=[{}],
    )


def test_plot_has_three_panels_without_a_model_with_relations(tmp_path):
    pytest.importorskip("matplotlib")
    from skmtl._compare_plot import plot_comparison

    dataset = _dataset(_frame(tasks=("a", "b")))
    skipped = ModelResult("mtgp", status="skipped", reason="too many rows")
    results = [_ran("per-task", 0.5), _ran("pooled", 0.6), skipped]
    figure = plot_comparison(tmp_path / "figure.png", results, dataset)
    assert len(figure.axes) == 3


def test_plot_says_why_a_model_with_relations_is_not_drawn(tmp_path):
    pytest.importorskip("matplotlib")
    from skmtl._compare_plot import plot_comparison

    dataset = _dataset(_frame(tasks=("a", "b")))
    failed = ModelResult("task-relationship", status="failed", reason="bad")
    results = [_ran("per-task", 0.5), failed]
    figure = plot_comparison(tmp_path / "figure.png", results, dataset)
    texts = [text.get_text() for text in figure.axes[3].texts]
    assert texts == ["no model with task relations ran: task-relationship (failed)"]


def _with_relations(result, value, attribute="task_correlation_"):
    result.relations = [
        {
            "matrix": np.array([[1.0, value], [value, 1.0]]),
            "labels": np.array(["a", "b"]),
            "quantity": "task correlation",
            "clusters": None,
            "attribute": attribute,
        }
    ]
    return result


def test_plot_draws_the_best_scoring_model_with_relations(tmp_path):
    pytest.importorskip("matplotlib")
    from skmtl._compare_plot import plot_comparison

    dataset = _dataset(_frame(tasks=("a", "b")))
    results = [
        _ran("per-task", 0.5),
        _with_relations(_ran("mtgp", 0.6), 0.2),
        _with_relations(_ran("task-relationship", 0.7), 0.9),
    ]
    figure = plot_comparison(tmp_path / "figure.png", results, dataset)
    panel = figure.axes[3]
    assert panel.get_title(loc="left").startswith(
        "(d) task-relationship: task correlation"
    )
    np.testing.assert_array_equal(panel.images[0].get_array(), [[1, 0.9], [0.9, 1]])
    texts = [t.get_text() for t in panel.texts]
    assert "the best-scoring of: mtgp, task-relationship" in texts


def test_plot_prefers_learned_relations_to_a_given_graph(tmp_path):
    pytest.importorskip("matplotlib")
    from skmtl._compare_plot import plot_comparison

    dataset = _dataset(_frame(tasks=("a", "b")))
    graph = _with_relations(_ran("graph", 0.9), 1.0, attribute="adjacency_")
    results = [_ran("per-task", 0.5), _with_relations(_ran("mtgp", 0.6), 0.2), graph]
    panel = plot_comparison(tmp_path / "f.png", results, dataset).axes[3]
    assert panel.get_title(loc="left").startswith("(d) mtgp: task correlation")
    # The graph alone is drawn when no model learned relations.
    panel = plot_comparison(tmp_path / "f.png", [results[0], graph], dataset).axes[3]
    assert panel.get_title(loc="left").startswith("(d) graph:")


def test_mean_relations_aligns_the_tasks_by_label():
    from skmtl._compare_plot import mean_relations

    first = {
        "matrix": np.array([[1.0, 0.2, 0.4], [0.2, 1.0, 0.6], [0.4, 0.6, 1.0]]),
        "labels": np.array(["a", "b", "c"]),
        "quantity": "task similarity",
    }
    # The same tasks in the order c, a, b.
    second = {
        "matrix": np.array([[1.0, 0.0, 0.8], [0.0, 1.0, 0.6], [0.8, 0.6, 1.0]]),
        "labels": np.array(["c", "a", "b"]),
        "quantity": "task similarity",
    }
    other_tasks = {
        "matrix": np.eye(2),
        "labels": np.array(["a", "z"]),
        "quantity": "task similarity",
    }
    matrix, labels, quantity, n_splits = mean_relations(
        [first, None, second, other_tasks]
    )
    # By hand: a-b (0.2 + 0.6) / 2, a-c (0.4 + 0.0) / 2, b-c (0.6 + 0.8) / 2.
    expected = [[1.0, 0.4, 0.2], [0.4, 1.0, 0.7], [0.2, 0.7, 1.0]]
    np.testing.assert_allclose(matrix, expected, rtol=1e-15)
    assert labels.tolist() == ["a", "b", "c"]
    assert (quantity, n_splits) == ("task similarity", 2)


def test_clustered_n_clusters_by_hand():
    # ceil(sqrt(n_tasks / 2)), between 1 and n_tasks.
    counts = [protocol.clustered_n_clusters(n) for n in (1, 2, 3, 8, 9, 139)]
    assert counts == [1, 1, 2, 2, 3, 9]


@pytest.mark.parametrize(
    "name, estimator, params",
    [
        ("graph", "GraphRegularized", {"graph": "complete"}),
        (
            "clustered",
            "ClusteredMultiTask",
            {"etas": protocol.CLUSTERED_ETAS, "n_clusters": 2},
        ),
        ("task-relationship", "TaskRelationship", {}),
    ],
)
@pytest.mark.parametrize("task_type", ["regression", "classification"])
def test_models_with_relations_are_built_with_short_paths(
    name, estimator, params, task_type
):
    spec = protocol.MODELS[name]
    assert spec.relations and spec.multi_task and not spec.default
    dataset = _dataset(_frame())  # three tasks
    dataset.task_type = task_type
    model = protocol.build_model(name, dataset, random_state=3)[-1]
    kind = "Regressor" if task_type == "regression" else "Classifier"
    assert type(model).__name__ == f"{estimator}{kind}CV"
    expected = {"alphas": protocol.STRUCTURE_N_ALPHAS, "task_column": "store"}
    assert {**expected, **params}.items() <= model.get_params().items()
    assert (model.cv.n_splits, model.cv.random_state) == (protocol.INNER_FOLDS, 3)


def test_task_relationship_matches_the_model_fitted_by_hand(tmp_path):
    from skmtl.linear_model import TaskRelationshipRegressorCV
    from skmtl.model_selection import TaskKFold

    frame = _frame()
    arguments = ("--models", "task-relationship", "--n-splits", "1")
    status, report = _run(tmp_path, frame, *arguments)
    assert status == 0

    X_train, X_test, y_train, y_test = _split(frame)
    features = ["price", "promo"]
    scaler = StandardScaler().fit(X_train[features])

    def prepare(X):
        scaled = pd.DataFrame(scaler.transform(X[features]), columns=features)
        return scaled.assign(store=X["store"].to_numpy())

    cv = TaskKFold(5, task_column="store", shuffle=True, random_state=0)
    model = TaskRelationshipRegressorCV(alphas=10, task_column="store", cv=cv)
    model.fit(prepare(X_train), y_train)
    result = _result(report, "task-relationship")
    expected = r2_score(y_test, model.predict(prepare(X_test)))
    assert result["per_split"]["explained_variance"][0] == pytest.approx(
        expected, rel=RTOL
    )
    chosen = result["hyper_parameters"][0]
    assert chosen["beta"] == pytest.approx(model.beta_, rel=1e-12)
    assert chosen["ridge_ratio"] == model.ridge_ratio_


def test_fitted_details_and_relations_of_a_clustered_model():
    from skmtl.linear_model import ClusteredMultiTaskRegressor

    frame = _frame(tasks=("a", "b", "c", "d"))
    model = make_pipeline(
        ClusteredMultiTaskRegressor(n_clusters=2, task_column="store")
    )
    model.fit(frame.drop(columns="units"), frame["units"].to_numpy())
    fitted = model[-1]
    details = protocol.fitted_details(model)
    assert details["task_clusters"] == fitted.task_clusters_.tolist()
    relations = protocol.fitted_relations(model)
    np.testing.assert_array_equal(relations["matrix"], fitted.task_similarity_)
    assert relations["labels"].tolist() == ["a", "b", "c", "d"]
    assert relations["clusters"].tolist() == fitted.task_clusters_.tolist()
    assert relations["attribute"] == "task_similarity_"


def test_graph_model_runs_and_is_drawn(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "figure.png"
    arguments = (
        "--models",
        "per-task",
        "graph",
        "--n-splits",
        "1",
        "--plot",
        str(path),
    )
    status, report = _run(tmp_path, _frame(), *arguments)
    assert status == 0
    assert _result(report, "graph")["status"] == "ok"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "name, params",
    [
        ("mlp-hard", {"alpha": 100.0}),
        ("mlp-soft", {"sharing": "soft", "alpha": 100.0, "sharing_alpha": 100.0}),
    ],
)
def test_mlp_matches_the_model_fitted_by_hand(tmp_path, name, params):
    from skmtl.neural_network import MultiTaskMLPRegressor

    frame = _frame()
    status, report = _run(tmp_path, frame, "--models", name, "--n-splits", "1")
    assert status == 0
    spec = protocol.MODELS[name]
    assert spec.multi_task and not spec.default

    X_train, X_test, y_train, y_test = _split(frame)
    features = ["price", "promo"]
    scaler = StandardScaler().fit(X_train[features])

    def prepare(X):
        scaled = pd.DataFrame(scaler.transform(X[features]), columns=features)
        return scaled.assign(store=X["store"].to_numpy())

    model = MultiTaskMLPRegressor(
        (32,), max_iter=1000, task_column="store", random_state=0, **params
    )
    model.fit(prepare(X_train), y_train)
    expected = r2_score(y_test, model.predict(prepare(X_test)))
    result = _result(report, name)
    assert result["per_split"]["explained_variance"][0] == pytest.approx(
        expected, rel=RTOL
    )


# --------------------------------------------------------------------------
# --new-tasks: the k-shot protocol on held-out tasks
# --------------------------------------------------------------------------

TASKS = ("a", "b", "c", "d", "e", "f")
SHOTS = (0, 1, 2, 5)


class TaskMeans(RegressorMixin, BaseEstimator):
    """A multi-task model whose task model is the mean of the task's targets.

    Its shared model is the mean of all training targets; ``fit_new_tasks``
    gives every new task the mean of its rows.
    """

    def __init__(self, task_column="store", unknown_task="error"):
        self.task_column = task_column
        self.unknown_task = unknown_task

    def fit(self, X, y):
        self.shared_ = float(np.mean(y))
        self.means_ = pd.Series(y, index=X[self.task_column].to_numpy())
        self.means_ = self.means_.groupby(level=0).mean().to_dict()
        self.n_source_ = len(self.means_)
        return self

    def fit_new_tasks(self, X, y):
        means = pd.Series(y, index=X[self.task_column].to_numpy())
        source = dict(list(self.means_.items())[: self.n_source_])
        self.means_ = {**source, **means.groupby(level=0).mean().to_dict()}
        return self

    def predict(self, X):
        tasks = X[self.task_column].to_numpy()
        unknown = sorted(set(tasks) - set(self.means_))
        if unknown and self.unknown_task == "error":
            raise ValueError(f"unknown tasks {unknown}")
        return np.array([self.means_.get(t, self.shared_) for t in tasks])


class TaskMeansWithoutAdaptation(TaskMeans):
    fit_new_tasks = property()  # hasattr() is False


def _with_fake_model(monkeypatch, name="task-means", estimator=TaskMeans):
    spec = protocol.ModelSpec(
        name, "task means", True, lambda column, cv, seed: estimator(column), None
    )
    monkeypatch.setitem(protocol.MODELS, name, spec)


def _few_shot_folds(frame, n_splits=3, shots=SHOTS, seed=0):
    """The folds of FewShotTasksOut, read from the splitter itself."""
    cv = FewShotTasksOut(n_splits, shots=shots, task_column="store", random_state=seed)
    folds = {}
    for fold, k, train, test in cv.split_shots(frame.drop(columns="units")):
        folds.setdefault(fold, {"test": test, "train": {}})["train"][k] = train
    return list(folds.values())


def _new_tasks_run(tmp_path, monkeypatch, models, *arguments):
    _with_fake_model(monkeypatch)
    frame = _frame(tasks=TASKS)
    shots = [str(k) for k in SHOTS]
    status, report = _run(
        tmp_path,
        frame,
        "--new-tasks",
        "--shots",
        *shots,
        "--models",
        *models,
        *arguments,
    )
    return frame, status, report


def _curve(report, model, key="explained_variance"):
    result = _result(report, model)
    return {point["k"]: point[key] for point in result["curve"]}


def test_new_tasks_adapts_a_multi_task_model_with_fit_new_tasks(
    tmp_path, capsys, monkeypatch
):
    frame, status, report = _new_tasks_run(tmp_path, monkeypatch, ["task-means"])
    assert status == 0
    y, tasks = frame["units"].to_numpy(), frame["store"].to_numpy()
    curve = _curve(report, "task-means")
    for index, fold in enumerate(_few_shot_folds(frame)):
        test = fold["test"]
        held_out = set(tasks[test])
        source = np.flatnonzero(~np.isin(tasks, list(held_out)))
        for k in SHOTS:
            # Oracle: the mean of the k labelled rows of each held-out task,
            # the mean of the source rows at k = 0.
            labelled = np.setdiff1d(fold["train"][k], source)
            y_pred = np.array(
                [
                    y[labelled][tasks[labelled] == task].mean()
                    if k > 0
                    else y[source].mean()
                    for task in tasks[test]
                ]
            )
            assert curve[k][index] == pytest.approx(r2_score(y[test], y_pred), RTOL)
    printed = capsys.readouterr().out
    assert "k=0" in printed and "k=5" in printed
    assert "3 folds of held-out tasks (2/2/2 of 6 tasks" in printed


def test_new_tasks_baselines_match_the_protocol_by_hand(tmp_path, capsys, monkeypatch):
    frame, status, report = _new_tasks_run(
        tmp_path, monkeypatch, ["per-task", "pooled"]
    )
    assert status == 0
    X, y = frame.drop(columns="units"), frame["units"].to_numpy()
    features = ["price", "promo"]
    per_task, pooled = _curve(report, "per-task"), _curve(report, "pooled")
    for index, fold in enumerate(_few_shot_folds(frame)):
        test = fold["test"]
        held_out = set(X["store"].to_numpy()[test])
        source = np.flatnonzero(~X["store"].isin(held_out).to_numpy())
        for k in SHOTS:
            train = fold["train"][k]
            # Pooled: RidgeCV refitted on the source rows and the k rows.
            scaler = StandardScaler().fit(X.iloc[train][features])
            ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(
                scaler.transform(X.iloc[train][features]), y[train]
            )
            expected = r2_score(
                y[test], ridge.predict(scaler.transform(X.iloc[test][features]))
            )
            assert pooled[k][index] == pytest.approx(expected, RTOL)
            if k < 2:
                assert per_task[k][index] is None
                continue
            # Per-task: RidgeCV on each held-out task's k rows alone, with the
            # features standardised as on the source rows.
            scaler = StandardScaler().fit(X.iloc[source][features])
            y_pred = np.empty(len(test))
            for task in held_out:
                rows = np.setdiff1d(train, source)
                rows = rows[X["store"].to_numpy()[rows] == task]
                ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(
                    scaler.transform(X.iloc[rows][features]), y[rows]
                )
                in_task = X["store"].to_numpy()[test] == task
                y_pred[in_task] = ridge.predict(
                    scaler.transform(X.iloc[test[in_task]][features])
                )
            assert per_task[k][index] == pytest.approx(r2_score(y[test], y_pred), RTOL)
    table = capsys.readouterr().out
    per_task_row = next(
        line for line in table.splitlines() if line.startswith("per-task")
    )
    assert per_task_row.split()[1:3] == ["-", "-"]


def test_new_tasks_json_curve_and_reproduce_line(tmp_path, capsys, monkeypatch):
    _, status, report = _new_tasks_run(
        tmp_path, monkeypatch, ["per-task", "task-means"], "--n-splits", "2"
    )
    assert status == 0
    assert report["settings"]["new_tasks"] is True
    assert report["settings"]["shots"] == list(SHOTS)
    assert report["protocol"]["shots"] == list(SHOTS)
    assert len(report["protocol"]["folds"]) == 2
    for point in _result(report, "task-means")["curve"]:
        values = point["explained_variance"]
        assert len(values) == 2
        assert point["explained_variance_mean"] == pytest.approx(np.mean(values))
        assert point["explained_variance_std"] == pytest.approx(np.std(values))
    assert "--new-tasks --shots 0 1 2 5 --n-splits 2" in report["command"]


def test_new_tasks_without_fit_new_tasks_fails_at_k_above_0_only(
    tmp_path, capsys, monkeypatch
):
    _with_fake_model(monkeypatch, "no-adapt", TaskMeansWithoutAdaptation)
    frame, status, report = _new_tasks_run(tmp_path, monkeypatch, ["no-adapt"])
    assert status == 0
    curve = _curve(report, "no-adapt")
    assert all(value is not None for value in curve[0])
    assert all(value is None for k in SHOTS[1:] for value in curve[k])
    printed = capsys.readouterr().out
    row = next(line for line in printed.splitlines() if line.startswith("no-adapt"))
    assert row.split()[4:7] == ["failed"] * 3
    # One note for the same error at every k.
    assert "no-adapt failed at k=1, 2, 5: TaskMeansWithoutAdaptation has no " in (
        printed
    )
    assert printed.count("no-adapt failed at") == 1


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--shots", "1", "2"], "--shots: only with --new-tasks"),
        (["--new-tasks", "--cv", "3"], "--cv does not apply to --new-tasks"),
        (["--new-tasks", "--n-splits", "1"], "at least 2 with --new-tasks"),
        (["--new-tasks", "--shots", "2", "1"], "--shots 2 1: shots must be increasing"),
        (["--new-tasks", "--shots", "0", "-1"], "invalid value(s) [-1]"),
        (["--new-tasks", "--shots", "0", "20"], "every task needs more than 20 rows"),
        (["--new-tasks", "--n-splits", "7"], "only 6 tasks to hold out"),
        (["--new-tasks", "--save-model", "m.pkl"], "--save-model does not apply"),
    ],
)
def test_new_tasks_bad_options_are_one_line_errors(
    tmp_path, capsys, arguments, message
):
    status, _ = _run(tmp_path, _frame(tasks=TASKS), "--models", "pooled", *arguments)
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("skmtl compare: error: ") and message in err
    assert err.count("\n") == 1


def test_new_tasks_plot_draws_score_against_k(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    from skmtl._compare_plot import plot_new_tasks

    path = tmp_path / "curve.png"
    _, status, report = _new_tasks_run(
        tmp_path, monkeypatch, ["per-task", "task-means"], "--plot", str(path)
    )
    assert status == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The lines of the figure are the curves of the table.
    dataset = _dataset(_frame(tasks=TASKS))
    folds = protocol.make_new_task_folds(dataset, n_splits=3, shots=SHOTS)
    results = protocol.run_new_tasks(dataset, ["per-task", "task-means"], folds, SHOTS)
    figure = plot_new_tasks(tmp_path / "again.png", results, dataset)
    lines = {
        container.get_label(): container.lines[0].get_data()
        for container in figure.axes[0].containers
    }
    assert list(lines["per-task"][0]) == [2, 5]
    means = [_result(report, "task-means")["curve"][i] for i in range(len(SHOTS))]
    np.testing.assert_allclose(
        np.asarray(lines["task-means"][1], dtype=float),
        [p["explained_variance_mean"] for p in means],
    )


class FailingTaskMeans(TaskMeans):
    def fit(self, X, y):
        raise ValueError("cannot fit these tasks")


def test_new_tasks_when_every_model_fails_is_exit_2(tmp_path, capsys, monkeypatch):
    _with_fake_model(monkeypatch, "failing", FailingTaskMeans)
    _, status, _ = _new_tasks_run(tmp_path, monkeypatch, ["failing"])
    assert status == 2
    captured = capsys.readouterr()
    assert "failing failed: failed on 3 of 3 fold(s)" in captured.out
    assert "every model failed" in captured.err
    assert "cannot fit these tasks" in captured.err


def test_new_tasks_classification_adapts_through_a_grid_search(tmp_path, capsys):
    # The mean-regularised classifier is a GridSearchCV: fit_new_tasks is
    # called on its best estimator, and k = 0 predicts with the shared model.
    frame = _purchases()
    status, report = _run(
        tmp_path,
        frame,
        "--new-tasks",
        "--shots",
        "0",
        "5",
        "--n-splits",
        "2",
        "--models",
        "pooled",
        "mean-regularized",
        target="bought",
    )
    assert status == 0
    for model in ("pooled", "mean-regularized"):
        result = _result(report, model)
        assert result["status"] == "ok"
        for point in result["curve"]:
            assert point["error"] is None
            assert all(0 <= value <= 1 for value in point["accuracy"])
