"""Convert the School data from MALSAR's ``school.mat`` to ``school.csv.gz``.

One-off provenance script: it produced ``skmtl/datasets/data/school.csv.gz``
from ``data/school.mat`` of the MALSAR toolbox. The source holds two 1 x 139
cell arrays of uint8: ``X`` (per school, ``(n_t, 28)``, the last column a
constant bias) and ``Y`` (per school, ``(n_t, 1)`` exam scores).

The script checks the structural facts the column names rely on (one-hot
groups sum to one per row, school attributes are constant within a school)
before it writes anything, and writes a gzip stream with a fixed timestamp so
that running it twice gives byte-identical files.

Usage::

    python tools/convert_school.py /path/to/school.mat
"""

import argparse
import gzip
import io
from pathlib import Path

import numpy as np
import scipy.io

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO_ROOT / "skmtl" / "datasets" / "data" / "school.csv.gz"

YEAR = ["year_1985", "year_1986", "year_1987"]
SCHOOL_PERCENTAGES = ["fsm_percent", "vr1_percent"]
STUDENT_GENDER = ["student_gender_female", "student_gender_male"]
VR_BAND = ["vr_band_3", "vr_band_1", "vr_band_2"]
ETHNIC_GROUP = [
    f"ethnic_group_{name}"
    for name in (
        "eswi",
        "african",
        "arab",
        "bangladeshi",
        "caribbean",
        "greek",
        "indian",
        "pakistani",
        "south_east_asian",
        "turkish",
        "other",
    )
]
SCHOOL_GENDER = ["school_gender_mixed", "school_gender_boys", "school_gender_girls"]
SCHOOL_DENOMINATION = [
    "school_denomination_maintained",
    "school_denomination_church_of_england",
    "school_denomination_roman_catholic",
]
FEATURE_NAMES = (
    YEAR
    + SCHOOL_PERCENTAGES
    + STUDENT_GENDER
    + VR_BAND
    + ETHNIC_GROUP
    + SCHOOL_GENDER
    + SCHOOL_DENOMINATION
)
ONE_HOT_GROUPS = [
    YEAR,
    STUDENT_GENDER,
    ETHNIC_GROUP,
    SCHOOL_GENDER,
    SCHOOL_DENOMINATION,
]
SCHOOL_LEVEL = SCHOOL_GENDER + SCHOOL_DENOMINATION

N_STUDENTS = 15362
N_SCHOOLS = 139


def read_mat(path):
    """Return school labels (1..139), the 28 raw columns and the exam scores."""
    mat = scipy.io.loadmat(path)
    cells_x = mat["X"].ravel()
    cells_y = mat["Y"].ravel()
    school = np.concatenate(
        [np.full(cell.shape[0], label) for label, cell in enumerate(cells_x, 1)]
    )
    columns = np.vstack([cell.astype(np.int64) for cell in cells_x])
    exam_score = np.concatenate([cell.astype(np.int64).ravel() for cell in cells_y])
    return school, columns, exam_score


def check_structure(school, columns, exam_score):
    """Raise if the data do not have the layout the column names assume."""
    sizes = np.bincount(school)[1:]
    if (sizes.size, sizes.sum(), sizes.min(), sizes.max()) != (
        N_SCHOOLS,
        N_STUDENTS,
        22,
        251,
    ):
        raise ValueError(f"Unexpected task sizes: {sizes}")
    if columns.shape != (N_STUDENTS, 28) or exam_score.shape != (N_STUDENTS,):
        raise ValueError(f"Unexpected shapes {columns.shape}, {exam_score.shape}")
    if not np.all(columns[:, -1] == 1):
        raise ValueError("The last column is not the constant bias column.")
    features = columns[:, :-1]
    position = {name: j for j, name in enumerate(FEATURE_NAMES)}
    for group in ONE_HOT_GROUPS:
        block = features[:, [position[name] for name in group]]
        if not np.all(block.sum(axis=1) == 1):
            raise ValueError(f"Columns {group} are not one-hot.")
    vr_rows = features[:, [position[name] for name in VR_BAND]].sum(axis=1)
    if not np.all(vr_rows <= 1):
        raise ValueError("VR band columns have more than one 1 in a row.")
    for name in SCHOOL_LEVEL:
        values = features[:, position[name]]
        for label in range(1, N_SCHOOLS + 1):
            if np.unique(values[school == label]).size != 1:
                raise ValueError(f"{name} varies within school {label}.")


def to_csv_gz(school, features, exam_score):
    """Encode the table as integer CSV in a gzip stream with a fixed mtime."""
    table = np.column_stack([school, features, exam_score]).astype(np.int64)
    header = ",".join(["school", *FEATURE_NAMES, "exam_score"])
    text = io.StringIO()
    np.savetxt(text, table, fmt="%d", delimiter=",", header=header, comments="")
    return gzip.compress(text.getvalue().encode("ascii"), compresslevel=9, mtime=0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="path to MALSAR's school.mat")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    school, columns, exam_score = read_mat(args.source)
    check_structure(school, columns, exam_score)
    args.output.write_bytes(to_csv_gz(school, columns[:, :-1], exam_score))
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
