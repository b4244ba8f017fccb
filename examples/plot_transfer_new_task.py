"""
=======================================
Transfer to a new task
=======================================

A model fitted on many schools meets a school it has never seen. With no
labelled students of that school it can only predict from what the schools
share; as a few of its students get labelled, it can adapt.

* :class:`~skmtl.model_selection.LeaveTasksOut` holds out whole schools, so
  the test schools are truly new;
* ``unknown_task="shared"`` lets
  :class:`~skmtl.linear_model.MeanRegularizedRegressor` predict the rows of
  an unseen school with its shared model ``x . shared_coef_ +
  shared_intercept_`` instead of raising an error;
* refitting with ``k`` labelled students of each new school makes the new
  schools ordinary tasks, pulled towards the shared mean.

We compare, for ``k = 0, 1, 2, 4, 8, 16`` labelled students per new school,
the explained variance on the *other* students of the new schools (each new
school's students beyond its first 16, the same test rows for every ``k``).
"""

# %%
# Held-out schools
# ----------------
# Three folds of whole schools: every school is new exactly once. Within each
# school the students are put in a random order; the first ``k`` are the
# labelled ones.

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

from skmtl.baseline import PerTaskEstimator, PooledEstimator
from skmtl.datasets import load_school
from skmtl.linear_model import MeanRegularizedRegressor, MeanRegularizedRegressorCV
from skmtl.model_selection import LeaveTasksOut
from skmtl.pipeline import TaskColumnPassthrough

X, y = load_school(return_X_y=True, as_frame=True)
# Position of every student within its school, in a random order.
order = np.random.default_rng(0).permutation(len(y))
shuffled_schools = X["school"].to_numpy()[order]
position = np.empty(len(y), dtype=int)
position[order] = pd.Series(shuffled_schools).groupby(shuffled_schools).cumcount()
shots = [0, 1, 2, 4, 8, 16]
held_out = LeaveTasksOut(n_splits=3, task_column="school", random_state=0)

# %%
# Without a fallback, a new task is an error
# ------------------------------------------
# Per-task models have nothing to say about a school they have not seen, and
# by default neither has a multi-task model:

source, new = next(held_out.split(X))
model = MeanRegularizedRegressor(task_column="school").fit(
    X.iloc[source], y.iloc[source]
)
try:
    model.predict(X.iloc[new])
except ValueError as error:
    print(str(error)[:200], "...")

# %%
# The models
# ----------
# Features are standardised on the training rows. Besides the default
# :class:`~skmtl.linear_model.MeanRegularizedRegressor` we fit a variant whose
# intercept is a coefficient like the others: a constant feature
# (``PolynomialFeatures(degree=1)`` adds a column of ones) with
# ``fit_intercept=False``. Its intercept is then pulled towards the shared one
# too, which matters for a task with few rows (see below). Both take their
# strengths from :class:`~skmtl.linear_model.MeanRegularizedRegressorCV` on
# the source schools only.

ridge_alphas = np.logspace(-3, 4, 15)


def scaled(model, constant_feature=False):
    steps = [StandardScaler()]
    if constant_feature:
        steps.append(PolynomialFeatures(degree=1))
    features = TaskColumnPassthrough(make_pipeline(*steps), task_column="school")
    return make_pipeline(features, model)


def mean_regularized(source_rows, constant_feature):
    """Strengths chosen by CV on the source schools, as a fresh estimator."""
    fit_intercept = not constant_feature
    cv_model = scaled(
        MeanRegularizedRegressorCV(fit_intercept=fit_intercept, task_column="school"),
        constant_feature,
    ).fit(X.iloc[source_rows], y.iloc[source_rows])[-1]
    return scaled(
        MeanRegularizedRegressor(
            alpha=cv_model.alpha_,
            alpha_mean=cv_model.alpha_mean_,
            fit_intercept=fit_intercept,
            task_column="school",
            unknown_task="shared",
        ),
        constant_feature,
    )


# %%
# Scores as labelled rows of the new schools arrive
# -------------------------------------------------
# The pooled model ignores the school, so a few labelled rows of the new
# schools (at most 16 per school, among about 10,000 training rows) hardly
# change it: we fit it once per fold, on the source schools. The per-task
# ridge regressions see only the ``k`` labelled rows of their school.

names = [
    "mean-regularised",
    "mean-regularised, penalised intercept",
    "pooled ridge",
    "per-task ridge (k rows only)",
]
n_folds = held_out.get_n_splits()
scores = {name: np.full((n_folds, len(shots)), np.nan) for name in names}
for fold, (source, new) in enumerate(held_out.split(X)):
    query = new[position[new] >= max(shots)]
    X_query, y_query = X.iloc[query], y.iloc[query]
    pooled = scaled(PooledEstimator(RidgeCV(alphas=ridge_alphas), task_column="school"))
    pooled.fit(X.iloc[source], y.iloc[source])
    scores[names[2]][fold] = pooled.score(X_query, y_query)
    multi_task = {
        names[0]: mean_regularized(source, constant_feature=False),
        names[1]: mean_regularized(source, constant_feature=True),
    }
    for j, k in enumerate(shots):
        labelled = new[position[new] < k]
        train = np.concatenate([source, labelled])
        for name, model in multi_task.items():
            model.fit(X.iloc[train], y.iloc[train])
            scores[name][fold, j] = model.score(X_query, y_query)
        if k >= 4:
            alone = scaled(
                PerTaskEstimator(RidgeCV(alphas=ridge_alphas), task_column="school")
            )
            alone.fit(X.iloc[labelled], y.iloc[labelled])
            scores[names[3]][fold, j] = alone.score(X_query, y_query)

for name in names:
    print(f"{name:>38}:", np.round(np.mean(scores[name], axis=0), 3))

fig, ax = plt.subplots(figsize=(7, 5), layout="constrained")
styles = ["o-", "s-", "--", "^:"]
colors = ["tab:orange", "tab:red", "tab:blue", "tab:gray"]
for name, style, color in zip(names, styles, colors):
    ax.plot(shots, np.mean(scores[name], axis=0), style, color=color, label=name)
ax.set_xscale("symlog", linthresh=1)
ax.set_xticks(shots, [str(k) for k in shots])
ax.set_ylim(-0.25, 0.4)
ax.axhline(0, color="black", lw=0.5)
ax.set_xlabel("labelled students per new school (k)")
ax.set_ylabel("explained variance on the new schools")
ax.set_title("School: new schools, 3 folds of held-out schools")
fig.legend(fontsize="small", loc="outside lower center", ncols=2)
plt.show()

# %%
# What the curves say
# -------------------
# * **No labelled rows** (``k = 0``): the shared model of the
#   mean-regularised fit does as well as a pooled ridge regression, and no
#   better. With nothing known about a school, the mean of all schools is the
#   best guess, and both estimate it.
# * **A few labelled rows**: the default model gets much *worse* before it
#   gets better. Its task intercepts ``b_t`` are not penalised, so a new
#   school's intercept is fitted from its ``k`` students alone, and one or two
#   students give a very noisy intercept. With the intercept among the
#   penalised coefficients, the dip is much smaller, but it remains: the data
#   term averages the loss within each task, so a school with four labelled
#   students weighs as much in the objective as one with a hundred, and its
#   deviation from the shared mean is fitted to four students.
# * **16 labelled rows**: the default model is back at the level of the
#   pooled one; neither variant beats it clearly. A ridge regression fitted
#   on the 16 rows of a school alone explains almost nothing: 16 rows are far
#   too few for 27 coefficients without the other schools.
#
# The practical lesson for this data: predict a new school with the shared
# model (``unknown_task="shared"``) rather than refit with a handful of its
# rows; here even 16 labelled rows only bring the refitted model level with
# it. :class:`LeaveTasksOut
# <skmtl.model_selection.LeaveTasksOut>` is the way to check such a rule on
# your own tasks.
