"""
==========================================================
A shared low-rank representation of the School tasks
==========================================================

:class:`~skmtl.linear_model.TraceNormRegressor` fits one linear model per
school and penalises the trace norm of the coefficient matrix ``W``
(schools x features), the sum of its singular values:

.. math::

    \\sum_t \\frac{1}{n_t} \\sum_{i \\in t}
    \\tfrac12 (y_i - x_i^\\top w_t - b_t)^2 + \\alpha \\|W\\|_* .

The larger ``alpha``, the lower the rank of ``W``: all schools' models are
combinations of a few shared directions of the features, learned from the
data (:ref:`low_rank`). We choose ``alpha`` by cross-validation within every
school, and look at the rank the data asks for and at the shared directions.
"""

# %%
# Data and the cross-validated model
# ----------------------------------
# 139 schools; 75% of every school's students to fit, 25% to test. The
# features are standardised with the statistics of the training rows.

import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.preprocessing import StandardScaler

from skmtl.datasets import load_school
from skmtl.linear_model import TraceNormRegressor, TraceNormRegressorCV
from skmtl.model_selection import train_test_split_tasks
from skmtl.pipeline import TaskColumnPassthrough

school = load_school(as_frame=True)
X_train, X_test, y_train, y_test = train_test_split_tasks(
    school.data, school.target, task_column="school", test_size=0.25, random_state=0
)
scaler = TaskColumnPassthrough(StandardScaler(), task_column="school").fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

start = time.perf_counter()
search = TraceNormRegressorCV(alphas=12, eps=1e-3, task_column="school")
search.fit(X_train, y_train)
print(f"cross-validation: {time.perf_counter() - start:.1f} s")
print(f"chosen alpha: {search.alpha_:.4g} (alpha_max {search.alphas_[0]:.4g})")
print(f"rank of W: {search.rank_} of {search.n_features_in_} features")
print(f"held-out explained variance: {search.score(X_test, y_test):.3f}")

# %%
# Rank and held-out score along the path
# --------------------------------------
# Every point of the path refitted on the training rows gives the rank of
# ``W``; the cross-validated score is that of ``cv_results_``. The score
# peaks at a rank well below the number of features, and a rank of one (the
# right of the plot, just below ``alpha_max``) already scores close to the
# best: the schools share most of their structure.

ranks = [
    TraceNormRegressor(alpha=alpha, task_column="school").fit(X_train, y_train).rank_
    for alpha in search.alphas_
]
fig, score_axis = plt.subplots(figsize=(6.4, 3.6))
score_axis.semilogx(
    search.alphas_, search.cv_results_["mean_test_score"], "o-", color="C0"
)
score_axis.axvline(search.alpha_, color="grey", linestyle=":")
score_axis.set_xlabel("alpha")
score_axis.set_ylabel("cross-validated R$^2$", color="C0")
rank_axis = score_axis.twinx()
rank_axis.semilogx(search.alphas_, ranks, "s--", color="C1")
rank_axis.set_ylabel("rank of W", color="C1")
score_axis.set_title("Trace-norm model on School")
fig.tight_layout()

# %%
# The shared directions
# ---------------------
# ``components_`` holds the orthonormal directions every school's model is
# a combination of, and ``explained_variance_ratio_`` their share of
# ``||W||_F^2``. On School the first direction carries most of it: the
# schools' models differ mostly in how much they use one common combination
# of the features. ``transform`` returns the students' coordinates on the
# directions: a representation shared by all schools.

ratio = search.explained_variance_ratio_
print("share of the first directions:", np.round(ratio[:3], 3))
names = np.asarray(search.feature_names_in_)
first = search.components_[0]
order = np.argsort(-np.abs(first))[:8]
fig, axis = plt.subplots(figsize=(6.4, 3.6))
axis.barh(names[order][::-1], first[order][::-1])
axis.set_xlabel("loading on the first shared direction")
fig.tight_layout()
print("shared features:", search.transform(X_test).shape)
plt.show()
