"""
=======================================
Transfer to a new task
=======================================

A model fitted on many schools meets a school it has never seen. With no
labelled students of that school it can only predict from what the schools
share; as a few of its students get labelled, it can adapt.

* :class:`~skmtl.model_selection.FewShotTasksOut` holds out whole schools and
  gives ``k`` labelled students of each to training, keeping the same other
  students for testing at every ``k``;
* ``unknown_task="shared"`` predicts the rows of an unseen school with the
  shared model (``k = 0``);
* ``fit_new_tasks`` adapts a fitted model to the new schools from their ``k``
  labelled students, holding what the source schools learned fixed;
* a full refit with the ``k`` students, a pooled ridge regression and a
  ridge regression per new school are the alternatives.
"""

# %%
# Held-out schools
# ----------------
# Three folds of whole schools: every school is new exactly once.

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmtl.baseline import PerTaskEstimator, PooledEstimator
from skmtl.datasets import load_school
from skmtl.linear_model import MeanRegularizedRegressor, MeanRegularizedRegressorCV
from skmtl.model_selection import FewShotTasksOut
from skmtl.pipeline import TaskColumnPassthrough

X, y = load_school(return_X_y=True, as_frame=True)
shots = (0, 1, 2, 4, 8, 16)
protocol = FewShotTasksOut(
    n_splits=3, shots=shots, task_column="school", random_state=0
)
ridge_alphas = np.logspace(-3, 4, 15)


def scaled(model):
    """Features standardised on the training rows; the task column passes."""
    return make_pipeline(
        TaskColumnPassthrough(StandardScaler(), task_column="school"), model
    )


# %%
# The models
# ----------
# The mean-regularised model takes its strengths from
# :class:`~skmtl.linear_model.MeanRegularizedRegressorCV` on the source
# schools only. It is then used three ways: as the shared model for a new
# school (``k = 0``), adapted with ``fit_new_tasks``, and refitted from
# scratch on the source rows plus the ``k`` labelled rows.


def source_model(source_rows):
    cv_model = scaled(MeanRegularizedRegressorCV(task_column="school"))
    cv_model.fit(X.iloc[source_rows], y.iloc[source_rows])
    chosen = cv_model[-1]
    return scaled(
        MeanRegularizedRegressor(
            alpha=chosen.alpha_,
            alpha_mean=chosen.alpha_mean_,
            task_column="school",
            unknown_task="shared",
        )
    ).fit(X.iloc[source_rows], y.iloc[source_rows])


names = [
    "mean-regularised, fit_new_tasks",
    "mean-regularised, full refit",
    "pooled ridge",
    "per-task ridge (k rows only)",
]
scores = {name: np.full((protocol.n_splits, len(shots)), np.nan) for name in names}
for fold, k, train, test in protocol.split_shots(X):
    j = shots.index(k)
    X_test, y_test = X.iloc[test], y.iloc[test]
    if k == 0:
        source = train
        model = source_model(source)
    else:
        labelled = np.setdiff1d(train, source)
        # The preprocessing stays as fitted on the source rows.
        model[-1].fit_new_tasks(model[0].transform(X.iloc[labelled]), y.iloc[labelled])
    scores[names[0]][fold, j] = model.score(X_test, y_test)
    refit = scaled(
        MeanRegularizedRegressor(
            alpha=model[-1].alpha,
            alpha_mean=model[-1].alpha_mean,
            task_column="school",
            unknown_task="shared",
        )
    )
    scores[names[1]][fold, j] = refit.fit(X.iloc[train], y.iloc[train]).score(
        X_test, y_test
    )
    pooled = scaled(PooledEstimator(RidgeCV(alphas=ridge_alphas), task_column="school"))
    scores[names[2]][fold, j] = pooled.fit(X.iloc[train], y.iloc[train]).score(
        X_test, y_test
    )
    if k >= 4:
        alone = scaled(
            PerTaskEstimator(RidgeCV(alphas=ridge_alphas), task_column="school")
        )
        alone.fit(X.iloc[labelled], y.iloc[labelled])
        scores[names[3]][fold, j] = alone.score(X_test, y_test)

for name in names:
    print(f"{name:>32}:", np.round(np.mean(scores[name], axis=0), 3))

fig, ax = plt.subplots(figsize=(7, 5), layout="constrained")
styles = ["o-", "s--", "--", "^:"]
colors = ["tab:orange", "tab:red", "tab:blue", "tab:gray"]
for name, style, color in zip(names, styles, colors):
    ax.plot(shots, np.mean(scores[name], axis=0), style, color=color, label=name)
ax.set_xscale("symlog", linthresh=1)
ax.set_xticks(shots, [str(k) for k in shots])
ax.set_ylim(-0.25, 0.45)
ax.axhline(0, color="black", lw=0.5)
ax.set_xlabel("labelled students per new school (k)")
ax.set_ylabel("explained variance on the new schools")
ax.set_title("School: new schools, 3 folds of held-out schools")
fig.legend(fontsize="small", loc="outside lower center", ncols=2)
plt.show()

# %%
# What the curves say
# -------------------
# * **No labelled rows** (``k = 0``): the shared model does about as well as
#   a pooled ridge regression. With nothing known about a school, the mean of
#   all schools is the best guess, and both estimate it.
# * **A few labelled rows, full refit**: the refitted model gets *worse*
#   before it gets better. Its data term averages the loss within each task,
#   so a school with one labelled student weighs as much as one with a
#   hundred, and its free intercept is fitted to that one student.
# * **A few labelled rows, fit_new_tasks**: the adapted model counts the new
#   school's rows as rows of an average school and ties its intercept to the
#   shared one with a strength measured on the source schools, so one student
#   moves it a little and sixteen move it further. It never falls below the
#   shared model, and it rises above the pooled one from two labelled
#   students on.
# * A ridge regression fitted on a school's own few rows explains almost
#   nothing: 16 rows are far too few for 27 coefficients without the other
#   schools.
