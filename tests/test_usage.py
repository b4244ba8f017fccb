"""The user experience promised by the user guide and the README runs as written."""

import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skmtl.datasets import load_school
from skmtl.linear_model import MeanRegularizedRegressor, MeanRegularizedRegressorCV
from skmtl.model_selection import TaskKFold, train_test_split_tasks
from skmtl.pipeline import TaskColumnPassthrough

README = Path(__file__).parents[1] / "README.md"


def _python_blocks(path):
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


@pytest.mark.parametrize("block", _python_blocks(README))
def test_readme_python_blocks_run(block, capsys):
    exec(compile(block, str(README), "exec"), {})
    printed = capsys.readouterr().out.strip().splitlines()
    # the README prints a pooled R^2 of School: a number between 0 and 1
    assert 0.0 < float(printed[-1]) < 1.0


def test_long_format_usage_on_school():
    school = load_school(as_frame=True)
    X, y = school.data, school.target
    X_train, X_test, y_train, y_test = train_test_split_tasks(
        X, y, task_column="school", test_size=0.25, random_state=0
    )
    model = Pipeline(
        [
            ("scale", TaskColumnPassthrough(StandardScaler(), task_column="school")),
            ("mtl", MeanRegularizedRegressor(task_column="school")),
        ]
    )
    grid = {"mtl__alpha": [0.01, 0.1, 1, 10], "mtl__alpha_mean": [1e-3, 1e-1]}
    search = GridSearchCV(
        model,
        grid,
        cv=TaskKFold(n_splits=5, task_column="school", shuffle=True, random_state=0),
    )
    search.fit(X_train, y_train)
    assert 0.2 < search.score(X_test, y_test) < 0.6
    cv_model = MeanRegularizedRegressorCV(task_column="school").fit(X_train, y_train)
    assert cv_model.coef_.shape == (139, 27)
    assert cv_model.alpha_ in cv_model.alphas_ and cv_model.alpha_mean_ > 0
    # an unseen school gets the shared model
    shared = MeanRegularizedRegressor(task_column="school", unknown_task="shared")
    shared.fit(X_train, y_train)
    new_school = X_test.assign(school=1000)
    expected = new_school.drop(columns="school") @ shared.shared_coef_
    np.testing.assert_allclose(
        shared.predict(new_school), expected + shared.shared_intercept_
    )
