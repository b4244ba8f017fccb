"""Preprocessing that leaves the task column alone.

In a :class:`~sklearn.pipeline.Pipeline` the preprocessing steps see the whole
``X``, task column included, but only the features should be scaled, imputed or
encoded: the skmtl estimator at the end of the pipeline has to find the task
column unchanged. :class:`TaskColumnPassthrough` wraps any transformer so that
it is fitted on the feature columns only and the task column is passed through.
"""

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone
from sklearn.utils import get_tags
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _raise_for_params,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.validation import (
    _check_feature_names_in,
    _check_n_features,
    check_is_fitted,
    validate_data,
)

from ._tasks import (
    _is_dataframe,
    require_features,
    resolve_task_column,
    split_task_column,
)
from ._validation import format_labels, is_integer_index

__all__ = ["TaskColumnPassthrough"]

OUTPUT_CONTAINERS = ("default", "pandas")


class TaskColumnPassthrough(
    TransformerMixin, BaseEstimator, auto_wrap_output_keys=None
):
    """Apply a transformer to the features and pass the task column through.

    A clone of ``transformer`` is fitted on every column of ``X`` except the
    task column. :meth:`transform` returns its output with the task column
    inserted back, unchanged, so that a downstream skmtl estimator with the
    same ``task_column`` finds it:

    - **DataFrame output** (``X`` is a DataFrame, or ``set_output(transform=
      "pandas")`` was called, or the inner transformer returned a DataFrame):
      the task column keeps its name, values and dtype; the other columns are
      named by the fitted transformer's ``get_feature_names_out()``; the index
      of ``X`` is kept.
    - **array output**: float64, or dtype object when the task labels (or the
      transformed features) are not numeric.
    - **sparse output** (the inner transformer returned a sparse matrix): a
      CSR matrix; the task labels must then be numeric.

    The task column is inserted where it was in ``X``, clamped to the number of
    output columns. A negative integer ``task_column`` counts from the end of
    the output as it did in ``X``, so ``task_column=-1`` stays the last column
    even when the transformer changes the number of columns.

    Parameters
    ----------
    transformer : estimator instance
        A transformer with ``fit`` and ``transform``, for example
        ``StandardScaler()``, ``SimpleImputer()``,
        ``OneHotEncoder(sparse_output=False)`` or a ``ColumnTransformer``. It
        is cloned in :meth:`fit` and decides itself what to do with missing
        values in the features.
    task_column : hashable or None, default=None
        Name (DataFrame) or integer position (array; negative counts from the
        end) of the task column of ``X``. ``None`` means ``X`` has no task
        column (wide or single-task format): the transformer then sees every
        column and its output is returned as is (as a DataFrame under
        ``set_output(transform="pandas")``).

    Attributes
    ----------
    transformer_ : estimator instance
        The clone of ``transformer`` fitted on the feature columns.
    task_column_ : hashable or None
        The resolved task column: its name for a DataFrame, its non-negative
        position otherwise; ``None`` without a task column.
    n_features_in_ : int
        Number of columns of ``X`` seen during fit, task column included.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names of ``X`` seen during fit, task column included. Defined
        only when ``X`` has column names that are all strings.

    See Also
    --------
    sklearn.compose.ColumnTransformer : Apply transformers to column subsets.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.preprocessing import StandardScaler
    >>> X = pd.DataFrame({"school": ["A", "A", "B", "B"],
    ...                   "hours": [1.0, 2.0, 3.0, 4.0],
    ...                   "age": [10.0, 10.0, 12.0, 12.0]})
    >>> prep = TaskColumnPassthrough(StandardScaler(), task_column="school")
    >>> Xt = prep.fit_transform(X)
    >>> Xt.columns.tolist()
    ['school', 'hours', 'age']
    >>> Xt["school"].tolist()
    ['A', 'A', 'B', 'B']
    >>> Xt["age"].tolist()
    [-1.0, -1.0, 1.0, 1.0]

    With an array the task column is a position and stays where it was.

    >>> import numpy as np
    >>> X = np.array([[1.0, 10.0, 0.0], [3.0, 12.0, 1.0]])
    >>> TaskColumnPassthrough(StandardScaler(), task_column=-1).fit_transform(X)
    array([[-1., -1.,  0.],
           [ 1.,  1.,  1.]])
    """

    _parameter_constraints: dict = {
        "transformer": [HasMethods(["fit", "transform"])],
        "task_column": "no_validation",
    }

    def __init__(self, transformer, *, task_column=None):
        self.transformer = transformer
        self.task_column = task_column

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, **fit_params):
        """Fit a clone of ``transformer`` on the feature columns of ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Input with a task column.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks), default=None
            Targets, passed to the transformer's ``fit``.
        **fit_params : dict
            Further parameters of the transformer's ``fit`` (row-aligned, the
            task column plays no part). Under metadata routing
            (``sklearn.set_config(enable_metadata_routing=True)``), only those
            the transformer requests with ``set_fit_request``.

        Returns
        -------
        self : TaskColumnPassthrough
            The fitted transformer.
        """
        fit_params = self._route("fit", fit_params)
        features, _ = self._start_fit(X)
        self.transformer_.fit(features, y, **fit_params)
        return self

    @_fit_context(prefer_skip_nested_validation=False)
    def fit_transform(self, X, y=None, **fit_params):
        """Fit on the feature columns of ``X`` and transform ``X``.

        Uses the transformer's own ``fit_transform``.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Input with a task column.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks), default=None
            Targets, passed to the transformer.
        **fit_params : dict
            Further parameters of the transformer's ``fit_transform``; under
            metadata routing, those the transformer requests.

        Returns
        -------
        X_out : {ndarray, sparse matrix, DataFrame} of shape (n_samples, n_out)
            The transformed features with the task column inserted.
        """
        fit_params = self._route("fit_transform", fit_params)
        features, labels = self._start_fit(X)
        transformed = self.transformer_.fit_transform(features, y, **fit_params)
        if labels is None:
            return self._as_output(X, transformed)
        return self._insert_task_column(X, transformed, labels)

    def transform(self, X, **params):
        """Transform the feature columns of ``X``; pass the task column through.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_columns)
            Input with the same columns as in :meth:`fit`.
        **params : dict
            Metadata of the transformer's ``transform``. Only with metadata
            routing enabled, and requested by the transformer's
            ``set_transform_request``.

        Returns
        -------
        X_out : {ndarray, sparse matrix, DataFrame} of shape (n_samples, n_out)
            The transformed features with the task column inserted.
        """
        _raise_for_params(params, self, "transform")
        params = self._route("transform", params)
        check_is_fitted(self, "transformer_")
        _check_2d(X)
        self._check_columns(X, reset=False)
        if self.task_column_ is None:
            return self._as_output(X, self.transformer_.transform(X, **params))
        features, labels, _ = split_task_column(X, self.task_column_)
        transformed = self.transformer_.transform(features, **params)
        return self._insert_task_column(X, transformed, labels)

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns, task column included.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Names of the columns of ``X`` (task column included). Defaults to
            ``feature_names_in_``; to the column labels of ``X`` when they mix
            strings and numbers (a named task column next to numbered
            features); else ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of objects
            The transformer's output names with the task column's name at its
            position in the output.
        """
        check_is_fitted(self, "transformer_")
        input_names = self._input_names(input_features)
        inner_names = self._inner_names(input_names)
        if self.task_column_ is None:
            return np.asarray(inner_names, dtype=object)
        names = list(inner_names)
        names.insert(self._output_position(len(names)), input_names[self._position])
        return np.asarray(names, dtype=object)

    def set_output(self, *, transform=None):
        """Set the output container of :meth:`transform` and :meth:`fit_transform`.

        The setting is forwarded to ``transformer`` (and to ``transformer_``
        once fitted) when it has ``set_output``. With a task column, a
        DataFrame input gives a DataFrame output whatever the setting, so that
        the task column keeps its name.

        Parameters
        ----------
        transform : {"default", "pandas"}, default=None
            ``"default"``: the container of the input (array, sparse matrix
            or DataFrame); ``"pandas"``: always a DataFrame; ``None``: unchanged.

        Returns
        -------
        self : TaskColumnPassthrough
            This estimator.
        """
        if transform is None:
            return self
        if transform not in OUTPUT_CONTAINERS:
            raise ValueError(
                f"set_output(transform={transform!r}) is not supported by "
                f"TaskColumnPassthrough; expected one of {list(OUTPUT_CONTAINERS)}."
            )
        if not hasattr(self, "_sklearn_output_config"):
            self._sklearn_output_config = {}
        self._sklearn_output_config["transform"] = transform
        for inner in (self.transformer, getattr(self, "transformer_", None)):
            if hasattr(inner, "set_output"):
                inner.set_output(transform=transform)
        return self

    def get_metadata_routing(self):
        """Get the metadata routing of this object.

        ``fit``, ``fit_transform`` and ``transform`` route the metadata the
        transformer requests (``set_fit_request``, ``set_transform_request``)
        to the same method of the transformer. Routing is used only under
        ``sklearn.set_config(enable_metadata_routing=True)``.

        Returns
        -------
        routing : MetadataRouter
            A :class:`~sklearn.utils.metadata_routing.MetadataRouter`
            encapsulating the routing information.
        """
        return MetadataRouter(owner=self).add(
            transformer=self.transformer,
            method_mapping=MethodMapping()
            .add(caller="fit", callee="fit")
            .add(caller="fit_transform", callee="fit_transform")
            .add(caller="transform", callee="transform"),
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if hasattr(self.transformer, "__sklearn_tags__"):
            inner_tags = get_tags(self.transformer)
            tags.input_tags.allow_nan = inner_tags.input_tags.allow_nan
            tags.input_tags.sparse = inner_tags.input_tags.sparse
        return tags

    # ------------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------------

    def _route(self, method, params):
        """The parameters of the transformer's ``method``.

        Without metadata routing, ``fit`` parameters are passed on as given
        (as a ``Pipeline`` passes ``step__param``).
        """
        if not _routing_enabled():
            return params
        return dict(
            getattr(process_routing(self, method, **params).transformer, method)
        )

    def _start_fit(self, X):
        """Resolve the task column, set the fitted attributes, split ``X``.

        Returns the features for the transformer and the task labels (``None``
        without a task column).
        """
        _check_2d(X)
        self.transformer_ = clone(self.transformer)
        if self.task_column is None:
            self._check_columns(X, reset=True)
            self.task_column_ = None
            return X, None
        position, name = resolve_task_column(X, self.task_column)
        features, labels, name = split_task_column(X, self.task_column)
        require_features(features, name)
        self._check_columns(X, reset=True)
        self.task_column_ = name
        # A negative position (not a column name) counts from the end of the
        # output, so that the downstream estimator finds it with the same value.
        from_end = (
            is_integer_index(self.task_column)
            and self.task_column < 0
            and not (_is_dataframe(X) and self.task_column in list(X.columns))
        )
        self._position = position
        self._output_offset = int(self.task_column) if from_end else position
        return features, labels

    def _check_columns(self, X, *, reset):
        """Set (``reset``) or check ``n_features_in_`` and the column names.

        scikit-learn keeps column names only when all are strings and refuses
        a mix. A named task column next to numbered features (which the
        estimators accept) is such a mix: its labels are then kept privately,
        to name the output, and checked in :meth:`transform`.
        """
        if reset:
            self._column_labels = _mixed_column_labels(X)
        labels = getattr(self, "_column_labels", None)
        if labels is None:
            validate_data(self, X, reset=reset, skip_check_array=True)
            return
        _check_n_features(self, X, reset=reset)
        if reset and hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        if not reset and _is_dataframe(X) and list(X.columns) != labels:
            raise ValueError(
                f"The columns of X {format_labels(X.columns, max_shown=30)} "
                f"differ from those seen in fit "
                f"{format_labels(labels, max_shown=30)}. Pass X with the "
                "columns it was fitted on, in the same order."
            )

    def _input_names(self, input_features=None):
        """Names of the columns of ``X``, task column included."""
        labels = getattr(self, "_column_labels", None)
        if input_features is None and labels is not None:
            return np.asarray(labels, dtype=object)
        return _check_feature_names_in(self, input_features)

    def _output_position(self, n_out):
        """Where the task column goes among ``n_out`` transformed columns."""
        if self._output_offset >= 0:
            return min(self._output_offset, n_out)
        return max(n_out + 1 + self._output_offset, 0)

    def _inner_names(self, input_names):
        feature_names = np.asarray(input_names, dtype=object)
        if self.task_column_ is not None:
            feature_names = np.delete(feature_names, self._position)
        if all(isinstance(name, str) for name in feature_names):
            return self.transformer_.get_feature_names_out(feature_names)
        # Transformers build names from strings (OneHotEncoder: "0_a"); a
        # numbered column that passes through keeps its number.
        as_text = np.asarray([str(name) for name in feature_names], dtype=object)
        original = dict(zip(as_text, feature_names))
        names = self.transformer_.get_feature_names_out(as_text)
        return np.asarray([original.get(name, name) for name in names], dtype=object)

    def _pandas_output(self):
        config = getattr(self, "_sklearn_output_config", {})
        return config.get("transform", get_config()["transform_output"]) == "pandas"

    def _as_output(self, X, transformed):
        """The transformer's output in the configured container (no task column)."""
        if sp.issparse(transformed):
            self._check_sparse_allowed()
            return transformed
        if self._pandas_output() or (_is_dataframe(X) and _is_dataframe(transformed)):
            return self._frame(X, transformed)
        return transformed

    def _insert_task_column(self, X, transformed, labels):
        position = self._output_position(transformed.shape[1])
        if sp.issparse(transformed):
            return self._insert_sparse(transformed, labels, position)
        if _is_dataframe(X) or _is_dataframe(transformed) or self._pandas_output():
            return self._insert_frame(X, transformed, labels, position)
        return _insert_dense(np.asarray(transformed), labels, position)

    def _check_sparse_allowed(self):
        if self._pandas_output():
            raise ValueError(
                "set_output(transform='pandas') cannot hold the sparse matrix "
                f"returned by {type(self.transformer_).__name__}. Make it return "
                "dense output, for example with sparse_output=False."
            )

    def _insert_sparse(self, transformed, labels, position):
        self._check_sparse_allowed()
        if labels.dtype.kind not in "biuf":
            raise ValueError(
                f"{type(self.transformer_).__name__} returned a sparse matrix, "
                f"which cannot hold the non-numeric task labels of the task column "
                f"{self.task_column_!r} (for example {labels[0]!r}). Set "
                "sparse_output=False on the transformer (sparse_threshold=0 for a "
                "ColumnTransformer) to get dense output, or encode the task "
                "labels as numbers."
            )
        transformed = sp.csc_matrix(transformed, dtype=np.float64)
        task = sp.csc_matrix(labels.astype(np.float64).reshape(-1, 1))
        blocks = [transformed[:, :position], task, transformed[:, position:]]
        return sp.hstack([b for b in blocks if b.shape[1]], format="csr")

    def _insert_frame(self, X, transformed, labels, position):
        frame = self._frame(X, transformed)
        if _is_dataframe(X):
            input_position, task_name = resolve_task_column(X, self.task_column_)
            # The Series itself (its index is the frame's) keeps its dtype.
            task_values = X.iloc[:, input_position]
        else:
            task_name = self._input_names()[self._position]
            task_values = labels
        if task_name in list(frame.columns):
            raise ValueError(
                f"The transformed features already have a column named "
                f"{task_name!r}, the name of the task column. Rename the task "
                "column or the transformer's output."
            )
        frame.insert(position, task_name, task_values)
        return frame

    def _frame(self, X, transformed):
        """The transformed features as a DataFrame with the index of ``X``."""
        import pandas as pd

        index = X.index if _is_dataframe(X) else getattr(transformed, "index", None)
        if not _is_dataframe(transformed):
            return pd.DataFrame(
                np.asarray(transformed),
                index=index,
                columns=self._frame_column_names(),
            )
        frame = transformed.set_axis(index, axis=0)
        unnamed_input = not _is_dataframe(X) or (
            getattr(self, "_column_labels", None) is not None
        )
        if (
            self.task_column_ is not None
            and unnamed_input
            and hasattr(self.transformer_, "get_feature_names_out")
        ):
            # The transformer named its columns x0, x1, ... after its own
            # input, which lacks the task column or has numbered columns:
            # name them after X instead.
            frame = frame.set_axis(self._frame_column_names(), axis=1)
        return frame

    def _frame_column_names(self):
        try:
            return list(self._inner_names(self._input_names()))
        except AttributeError as exc:
            raise ValueError(
                f"{type(self.transformer_).__name__} has no get_feature_names_out, "
                "which is needed to name the columns of the DataFrame output. Use "
                "a transformer that names its output columns or pass a NumPy "
                "array."
            ) from exc


def _mixed_column_labels(X):
    """The column labels of a DataFrame that mix strings and other types."""
    if not _is_dataframe(X):
        return None
    is_string = {isinstance(column, str) for column in X.columns}
    return list(X.columns) if len(is_string) == 2 else None


def _insert_dense(transformed, labels, position):
    """Insert the task labels as column ``position`` of a dense array."""
    numeric = labels.dtype.kind in "biuf" and transformed.dtype.kind in "biuf"
    dtype = np.float64 if numeric else object
    return np.insert(
        transformed.astype(dtype, copy=False), position, labels.astype(dtype), axis=1
    )


def _check_2d(X):
    shape = getattr(X, "shape", None)
    if shape is None:
        shape = np.asarray(X, dtype=object).shape
    if len(shape) != 2:
        raise ValueError(
            f"Expected a 2-D X of shape (n_samples, n_columns), got shape "
            f"{tuple(shape)}. Reshape your data, for example with "
            "X.reshape(-1, 1) for a single column or X.reshape(1, -1) for a "
            "single row."
        )
