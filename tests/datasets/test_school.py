import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from skmtl.datasets import load_school

SCHOOL_MAT = Path(__file__).resolve().parents[3] / "shared" / "data" / "school.mat"

# Facts of the School data as published (15,362 students in 139 schools of
# 22 to 251 students, 27 attributes plus a bias column, scores 1 to 70).
N_STUDENTS = 15362
N_SCHOOLS = 139
N_FEATURES = 27

ONE_HOT_PREFIXES = [
    "year_",
    "student_gender_",
    "ethnic_group_",
    "school_gender_",
    "school_denomination_",
]


@pytest.fixture(scope="module")
def school():
    return load_school()


@pytest.fixture(scope="module")
def school_frame():
    pytest.importorskip("pandas")
    return load_school(as_frame=True)


def columns_with_prefix(bunch, prefix):
    return [j for j, name in enumerate(bunch.feature_names) if name.startswith(prefix)]


def test_array_shapes_and_dtypes(school):
    assert school.data.shape == (N_STUDENTS, N_FEATURES + 1)
    assert school.data.dtype == np.float64
    assert school.target.shape == (N_STUDENTS,)
    assert school.target.dtype == np.float64
    assert school.task_column == 0
    assert school.target_names == ["exam_score"]
    assert school.frame is None
    assert len(school.feature_names) == N_FEATURES
    assert len(set(school.feature_names)) == N_FEATURES
    assert "school" not in school.feature_names


def test_frame_shapes_and_dtypes(school_frame, school):
    data, target, frame = school_frame.data, school_frame.target, school_frame.frame
    assert list(data.columns) == ["school", *school.feature_names]
    assert data["school"].dtype == np.int64
    assert (data.dtypes.iloc[1:] == np.float64).all()
    assert target.name == "exam_score"
    assert target.dtype == np.float64
    assert list(frame.columns) == [*data.columns, "exam_score"]
    assert school_frame.task_column == "school"
    assert school_frame.feature_names == school.feature_names
    np.testing.assert_array_equal(data.to_numpy(dtype=float), school.data)
    np.testing.assert_array_equal(target.to_numpy(), school.target)


def test_return_X_y(school):
    data, target = load_school(return_X_y=True)
    np.testing.assert_array_equal(data, school.data)
    np.testing.assert_array_equal(target, school.target)


def test_return_X_y_as_frame(school_frame):
    data, target = load_school(return_X_y=True, as_frame=True)
    assert data.equals(school_frame.data)
    assert target.equals(school_frame.target)


def test_task_sizes(school):
    labels, sizes = np.unique(school.data[:, 0], return_counts=True)
    np.testing.assert_array_equal(labels, np.arange(1, N_SCHOOLS + 1))
    assert sizes.sum() == N_STUDENTS
    assert sizes.min() == 22
    assert sizes.max() == 251


def test_target_is_integer_exam_score(school):
    np.testing.assert_array_equal(school.target, np.round(school.target))
    assert school.target.min() == 1
    assert school.target.max() == 70


def test_equals_source_mat_file(school):
    if not SCHOOL_MAT.exists():
        pytest.skip(f"source file {SCHOOL_MAT} not available")
    scipy_io = pytest.importorskip("scipy.io")
    mat = scipy_io.loadmat(SCHOOL_MAT)
    cells_x, cells_y = mat["X"].ravel(), mat["Y"].ravel()
    columns = np.vstack([cell.astype(np.float64) for cell in cells_x])
    scores = np.concatenate([cell.astype(np.float64).ravel() for cell in cells_y])
    labels = np.repeat(np.arange(1, len(cells_x) + 1), [c.shape[0] for c in cells_x])

    np.testing.assert_array_equal(columns[:, -1], 1.0)
    np.testing.assert_array_equal(school.data[:, 0], labels)
    np.testing.assert_array_equal(school.data[:, 1:], columns[:, :-1])
    np.testing.assert_array_equal(school.target, scores)


@pytest.mark.parametrize("prefix", ONE_HOT_PREFIXES)
def test_named_groups_are_one_hot(school, prefix):
    block = school.data[:, 1:][:, columns_with_prefix(school, prefix)]
    assert block.shape[1] >= 2
    np.testing.assert_array_equal(block.sum(axis=1), 1.0)


def test_vr_band_has_at_most_one_band(school):
    block = school.data[:, 1:][:, columns_with_prefix(school, "vr_band_")]
    assert block.shape[1] == 3
    assert block.sum(axis=1).max() == 1
    assert (block.sum(axis=1) == 0).sum() == 15


@pytest.mark.parametrize("prefix", ["school_gender_", "school_denomination_"])
def test_school_attributes_constant_within_school(school, prefix):
    block = school.data[:, 1:][:, columns_with_prefix(school, prefix)]
    task = school.data[:, 0]
    for label in np.unique(task):
        assert len(np.unique(block[task == label], axis=0)) == 1


def test_girls_schools_have_only_female_students(school_frame):
    frame = school_frame.frame
    girls_school = frame["school_gender_girls"] == 1
    assert girls_school.any()
    assert (frame.loc[girls_school, "student_gender_female"] == 1).all()


def test_descr_states_provenance_and_protocol(school):
    descr = " ".join(school.DESCR.split())
    for fact in ["Inner London Education Authority", "MALSAR", "convert_school.py"]:
        assert fact in descr
    assert "75%" in descr and "25%" in descr and "explained variance" in descr
    assert "Argyriou" in descr and "Bakker" in descr
    for name in school.feature_names:
        assert f"``{name}``" in descr


def test_arrays_load_without_pandas():
    # A fresh interpreter in which importing pandas fails.
    code = (
        "import sys; sys.modules['pandas'] = None\n"
        "from skmtl.datasets import load_school\n"
        "assert load_school().data.shape == (15362, 28)\n"
        "try:\n"
        "    load_school(as_frame=True)\n"
        "except ImportError as exc:\n"
        "    assert 'requires pandas' in str(exc), exc\n"
        "else:\n"
        "    raise AssertionError('as_frame=True without pandas did not raise')\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
