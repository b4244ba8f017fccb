"""Tests of the bookkeeping of ``benchmarks/_harness.py``.

Nothing here asserts how long anything takes: timings are read back from what
the harness recorded, or produced by a fake clock, and checked for consistency.
"""

import doctest
import gc
import importlib.util
import json
import math
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

HARNESS_PATH = Path(__file__).parents[1] / "benchmarks" / "_harness.py"


@pytest.fixture(scope="module")
def harness():
    module_name = "skmtl_benchmarks_harness"
    spec = importlib.util.spec_from_file_location(module_name, HARNESS_PATH)
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolve the module of a class through sys.modules.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(module_name, None)


class FakeClock:
    """Clock that only moves when a fake workload advances it."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def workload(self, seconds, result):
        def run():
            self.now += seconds
            return result

        return run


def test_timing_statistics_match_numpy(harness):
    timing = harness.time_callable(lambda: np.ones(100).sum(), repeat=7)
    times = np.asarray(timing.times)
    assert times.shape == (7,)
    assert np.all(times >= 0)
    assert timing.min == np.min(times)
    assert timing.median == np.median(times)
    assert timing.mean == pytest.approx(np.mean(times), rel=1e-12)
    assert timing.std == pytest.approx(np.std(times), rel=1e-12, abs=1e-15)
    assert timing.result == 100.0


def test_time_callable_counts_calls_and_keeps_last_result(harness):
    calls = []

    def func():
        calls.append(len(calls))
        return calls[-1]

    timing = harness.time_callable(func, repeat=3, number=4, warmup=2)
    assert len(calls) == 2 + 3 * 4
    assert timing.result == calls[-1]
    assert len(timing.times) == 3


def test_time_callable_divides_by_number(harness):
    clock = FakeClock()
    timing = harness.time_callable(
        clock.workload(0.5, None), repeat=2, number=4, timer=clock
    )
    assert timing.times == [0.5, 0.5]


@pytest.mark.parametrize("gc_enabled_before", [True, False])
def test_time_callable_disables_and_restores_gc(harness, gc_enabled_before):
    states = []
    was_enabled = gc.isenabled()
    (gc.enable if gc_enabled_before else gc.disable)()
    try:
        harness.time_callable(lambda: states.append(gc.isenabled()), warmup=0)
        assert gc.isenabled() is gc_enabled_before
    finally:
        (gc.enable if was_enabled else gc.disable)()
    assert states == [False] * 5


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"repeat": 0}, ValueError, "repeat must be >= 1; got 0"),
        ({"number": 0}, ValueError, "number must be >= 1; got 0"),
        ({"warmup": -1}, ValueError, "warmup must be >= 0; got -1"),
        ({"repeat": 2.5}, TypeError, "repeat must be an integer; got 2.5"),
    ],
)
def test_time_callable_rejects_bad_counts(harness, kwargs, error, match):
    with pytest.raises(error, match=match):
        harness.time_callable(lambda: None, **kwargs)


def test_peak_memory_sees_numpy_allocation(harness):
    n_values = 1_000_000
    array, peak_bytes = harness.peak_memory(lambda: np.ones(n_values))
    assert array.shape == (n_values,)
    # The returned array alone is 8 MB; interpreter noise adds a little.
    assert array.nbytes <= peak_bytes < array.nbytes + 1_000_000
    assert not tracemalloc.is_tracing()


def test_peak_memory_leaves_running_trace_on(harness):
    tracemalloc.start()
    try:
        _, peak_bytes = harness.peak_memory(lambda: np.zeros(100_000))
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()
    assert peak_bytes >= 100_000 * 8


def test_compare_flags_objective_outside_rtol(harness):
    rtol = 1e-6
    candidates = {
        "reference": lambda: 2.0,
        "within": lambda: 2.0 * (1 + 0.5 * rtol),
        "outside": lambda: 2.0 * (1 + 2 * rtol),
        "failed": lambda: math.nan,
    }
    rows = harness.compare("flags", candidates, objective=float, rtol=rtol, repeat=2)
    by_label = {row["candidate"]: row for row in rows}
    assert list(by_label) == list(candidates)
    assert by_label["reference"]["same_objective"] is True
    assert by_label["within"]["same_objective"] is True
    assert by_label["outside"]["same_objective"] is False
    assert by_label["failed"]["same_objective"] is False
    assert by_label["within"]["objective_rel_diff"] == pytest.approx(0.5 * rtol)
    assert by_label["outside"]["objective_rel_diff"] == pytest.approx(2 * rtol)


def test_compare_atol_accepts_objectives_near_zero(harness):
    candidates = {"a": lambda: 1e-14, "b": lambda: 3e-14}
    strict = harness.compare("zero", candidates, objective=float, repeat=1)
    loose = harness.compare("zero", candidates, objective=float, atol=1e-12, repeat=1)
    assert strict[1]["same_objective"] is False
    assert loose[1]["same_objective"] is True


def test_compare_without_objective_records_none(harness):
    rows = harness.compare("plain", {"a": lambda: 1, "b": lambda: 2}, repeat=1)
    for row in rows:
        assert row["objective"] is None
        assert row["objective_rel_diff"] is None
        assert row["same_objective"] is None


def test_compare_ratios_use_recorded_medians(harness):
    candidates = {
        "small": lambda: np.ones((50, 50)).sum(),
        "large": lambda: np.ones((400, 400)).sum(),
    }
    rows = harness.compare("ratios", candidates, repeat=5, reference="large")
    medians = {row["candidate"]: float(np.median(row["times_s"])) for row in rows}
    for row in rows:
        assert row["median_s"] == medians[row["candidate"]]
        assert row["min_s"] == min(row["times_s"])
        assert row["speedup"] == pytest.approx(
            medians["large"] / medians[row["candidate"]], rel=1e-12
        )
        assert row["reference"] == "large"


def test_compare_ratios_with_fake_clock(harness):
    clock = FakeClock()
    candidates = {
        "slow": clock.workload(2.0, 1.0),
        "fast": clock.workload(0.5, 1.0),
        "slower": clock.workload(8.0, 1.0),
    }
    rows = harness.compare("fake", candidates, objective=float, repeat=3, timer=clock)
    assert [row["median_s"] for row in rows] == [2.0, 0.5, 8.0]
    assert [row["speedup"] for row in rows] == [1.0, 4.0, 0.25]


def test_compare_measures_memory_on_request(harness):
    rows = harness.compare(
        "memory", {"ones": lambda: np.ones(200_000)}, repeat=1, measure_memory=True
    )
    assert rows[0]["peak_memory_bytes"] >= 200_000 * 8


@pytest.mark.parametrize(
    "candidates, reference, error, match",
    [
        ({}, None, ValueError, "non-empty dict"),
        ({"a": lambda: 1}, "b", ValueError, r"reference 'b' is not a candidate"),
        ({"a": 1}, None, TypeError, "Candidate 'a' must be a zero-argument callable"),
    ],
)
def test_compare_rejects_bad_candidates(harness, candidates, reference, error, match):
    with pytest.raises(error, match=match):
        harness.compare("bad", candidates, reference=reference, repeat=1)


def test_print_table_shows_every_candidate(harness, capsys):
    labels = ["numpy.linalg.solve", "scipy.linalg.cho_solve", "skmtl"]
    rows = harness.compare(
        "table", {label: lambda: 1.0 for label in labels}, objective=float, repeat=1
    )
    harness.print_table(rows, title="Table title")
    output = capsys.readouterr().out
    lines = output.splitlines()
    assert lines[0] == "Table title"
    for label in labels:
        assert label in output
    # Every label starts where the header of its column starts.
    start = lines[1].index("candidate")
    assert [line[start:].split()[0] for line in lines[3:]] == labels
    assert "WARNING" not in output


def test_print_table_formats_and_warns(harness, capsys):
    rows = [
        {
            "candidate": "ref",
            "median_s": 0.0123456,
            "speedup": 1.0,
            "objective": 1.23456789012,
            "same_objective": True,
        },
        {
            "candidate": "early",
            "median_s": 0.000236149,
            "speedup": 52.29,
            "objective": 1.3,
            "same_objective": False,
        },
    ]
    harness.print_table(rows)
    output = capsys.readouterr().out
    assert "0.0123 " in output
    assert "0.000236" in output
    assert "52.3x" in output
    assert "1.00x" in output
    assert "1.2345679" in output
    assert "NO" in output
    assert "WARNING: early reached a different objective value" in output


def test_print_table_selects_columns(harness, capsys):
    rows = [{"candidate": "a", "median_s": 1.0, "secret": "hidden-value"}]
    harness.print_table(rows, columns=["candidate", "median_s"])
    assert "hidden-value" not in capsys.readouterr().out


def test_write_json_round_trips(harness, tmp_path):
    clock = FakeClock()
    rows = harness.compare(
        "round_trip",
        {"a": clock.workload(1.0, 3.0), "b": clock.workload(2.0, 3.0)},
        objective=float,
        repeat=2,
        timer=clock,
    )
    rows[0]["numpy_value"] = np.float64(0.25)
    rows[1]["infinite"] = math.inf
    settings = {"n_tasks": 5, "alpha": 0.1, "seed": np.int64(0)}
    directory = tmp_path / "new" / "results"

    path = harness.write_json(
        "round_trip", rows, settings=settings, directory=directory
    )

    assert path == directory / "round_trip.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["name"] == "round_trip"
    assert document["settings"] == {"n_tasks": 5, "alpha": 0.1, "seed": 0}
    assert document["rows"][0] == {**rows[0], "numpy_value": 0.25}
    assert document["rows"][1] == {**rows[1], "infinite": "inf"}
    assert float(document["rows"][1]["infinite"]) == math.inf
    environment = document["environment"]
    assert environment["numpy"] == np.__version__
    for key in ["python", "scipy", "scikit-learn", "skmtl", "platform", "cpu_count"]:
        assert key in environment
    for pool in environment["threadpools"]:
        assert set(pool) == {"library", "internal_api", "num_threads", "architecture"}
    assert "T" in document["timestamp"]
    # The caller's rows are not changed by the conversion.
    assert isinstance(rows[0]["numpy_value"], np.float64)


@pytest.mark.parametrize("name", ["", "../escape", "a/b", "with space"])
def test_write_json_rejects_bad_names(harness, tmp_path, name):
    with pytest.raises(ValueError, match="name must be a file stem"):
        harness.write_json(name, [], directory=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_harness_examples_run(harness):
    results = doctest.testmod(
        harness, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert results.attempted > 0
    assert results.failed == 0
