"""``sketchtest check`` on files larger than ``--memory-budget``: ``normality_test`` streams every
row in two passes, ``--subsample`` runs the old path, one progress bar covers both passes."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import sketchtest as st
from sketchtest._cli.budget import SubsampleRows, plan_memory
from sketchtest._cli.main import main
from sketchtest._cli.readers import open_samples, parse_size
from support import save_torch_formats

SLICES = 16
#: 2000 x 6 float64 rows: 96 kB of data, streamed under a 256 kB budget.
SMALL_BUDGET = "256K"


def run(argv, capsys):
    """Exit status, stdout and stderr of ``sketchtest`` with `argv`."""
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse's own exits
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def check_json(path, capsys, *options):
    status, out, err = run(["check", str(path), "--json", "--no-progress", "--slices", str(SLICES),
                            *options], capsys)
    assert status == 0, err
    return json.loads(out)


def assert_same_normality(entry, result):
    """The CLI's ``normality_test`` entry has the numbers of `result` (a NormalityTestResult)."""
    assert entry["pvalue"] == pytest.approx(float(result.pvalue), rel=1e-10, abs=1e-300)
    assert entry["statistic"] == pytest.approx(float(result.statistic), rel=1e-10)
    components = {part["component"]: part for part in entry["components"]}
    assert set(components) == set(result.components)
    for name, part in result.components.items():
        expected = float(part.pvalue)
        if np.isnan(expected):
            assert components[name]["pvalue"] is None, name
        else:
            assert components[name]["pvalue"] == pytest.approx(expected, rel=1e-10, abs=1e-300), name


@pytest.fixture
def gaussian_file(tmp_path):
    """A float64 (2000, 6) sample with a heavy-tailed coordinate, and its .npy path."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2000, 6))
    x[:, 4] = rng.standard_t(5, size=2000)
    path = tmp_path / "x.npy"
    np.save(path, x)
    return x, path


@pytest.mark.parametrize("null", ["standard", "normal"])
def test_streamed_pvalues_equal_normality_test_on_every_row(gaussian_file, capsys, monkeypatch, null):
    x, path = gaussian_file
    budget = SMALL_BUDGET if null == "standard" else "325M"  # null="normal" simulates in 160 MiB
    if null == "normal":  # chunks of a few rows within that budget: a row's update counted as 4 MB
        monkeypatch.setattr("sketchtest._cli.budget.STREAM_NORMALITY_CELL_BYTES", 80_000)
    plan = plan_memory(open_samples(path), num_slices=SLICES, budget=parse_size(budget),
                       normality=True, normal_null=null == "normal")
    assert plan.stream_normality and plan.chunk_rows < 2000  # several chunks, two passes
    report = check_json(path, capsys, "--memory-budget", budget, "--null", null)
    entry = report["tests"][0]
    assert (entry["test"], entry["rows"], entry["passes"], entry["streamed"]) == \
        ("normality_test", 2000, 2, True)
    assert report["passes"] == 2 and "subsample" not in entry and "error" not in entry
    assert_same_normality(entry, st.normality_test(x, null=null, seed=0, num_slices=SLICES))


def test_every_format_streams_every_row(gaussian_file, capsys, tmp_path):
    """.npz, .csv, .safetensors and .pt are read a chunk at a time in both passes, like .npy."""
    x, _ = gaussian_file
    expected = st.normality_test(x, seed=0, num_slices=SLICES)
    paths = [tmp_path / "x.npz", tmp_path / "x.csv"]
    np.savez_compressed(paths[0], x=x)
    np.savetxt(paths[1], x, delimiter=",", fmt="%.17g")
    paths += save_torch_formats(x, tmp_path)
    for path in paths:
        report = check_json(path, capsys, "--memory-budget", SMALL_BUDGET)
        entry = report["tests"][0]
        assert (entry["rows"], entry["passes"]) == (2000, 2), path
        assert "reading_note" not in report, path
        assert_same_normality(entry, expected)


def test_a_layout_read_whole_says_so(capsys, tmp_path):
    """A Fortran-order array in an .npz cannot be read a chunk of rows at a time: the report
    says it was read whole, and why; the answer is the same."""
    x = np.asfortranarray(np.random.default_rng(5).standard_normal((600, 3)))
    np.savez(tmp_path / "f.npz", x=x)
    report = check_json(tmp_path / "f.npz", capsys, "--memory-budget", "1M")
    assert "read whole" in report["reading_note"] and "Fortran-order" in report["reading_note"]
    assert_same_normality(report["tests"][0], st.normality_test(x, seed=0, num_slices=SLICES))
    status, out, _ = run(["check", str(tmp_path / "f.npz"), "--slices", "4"], capsys)
    assert status == 0 and "note: read whole at each pass" in out


def test_float32_file_streams_in_float32(capsys, tmp_path):
    """A float32 file is streamed in float32, as ``normality_test`` runs on the float32 array."""
    x = np.random.default_rng(9).standard_normal((2000, 6)).astype(np.float32)
    np.save(tmp_path / "x32.npy", x)
    entry = check_json(tmp_path / "x32.npy", capsys, "--memory-budget", SMALL_BUDGET)["tests"][0]
    assert entry["passes"] == 2
    expected = st.normality_test(x, seed=0, num_slices=SLICES)
    assert entry["pvalue"] == pytest.approx(float(expected.pvalue), rel=1e-4)


def test_subsample_runs_every_test_on_the_same_random_rows(gaussian_file, capsys):
    x, path = gaussian_file
    report = check_json(path, capsys, "--subsample", "500", "--tests", "normality_test,jarque_bera")
    normality, jarque_bera = report["tests"]
    assert report["passes"] == 1 and report["subsample"] == 500 and report["streamed"] is False
    assert (normality["rows"], normality["passes"], normality["streamed"]) == (500, 1, False)
    assert normality["subsample"] == jarque_bera["subsample"] == 500
    chosen = SubsampleRows(2000, 500, seed=0).between(0, 2000)  # the rows --seed 0 picks
    assert_same_normality(normality, st.normality_test(x[chosen], seed=0, num_slices=SLICES))
    # the moment diagnostics still use every row
    assert report["diagnostics"]["mean_norm"] == pytest.approx(np.linalg.norm(x.mean(axis=0)), rel=1e-10)
    status, out, _ = run(["check", str(path), "--subsample", "500", "--slices", "4"], capsys)
    assert status == 0 and "--subsample 500: the tests ran on 500 random rows (seed 0)" in out
    # more rows than the file: every row, one pass
    entry = check_json(path, capsys, "--subsample", "5000")["tests"][0]
    assert (entry["rows"], entry["passes"]) == (2000, 1) and "subsample" not in entry
    status, out, _ = run(["check", str(path), "--subsample", "5000", "--slices", "4"], capsys)
    assert status == 0 and "the file has fewer rows; the tests ran on every row" in out


def test_a_file_larger_than_the_budget_is_used_whole(capsys, tmp_path):
    """1.2 MB of rows under a 512 kB budget: every row reaches normality_test (rows = N)."""
    x = np.random.default_rng(2).standard_normal((20_000, 8))
    np.save(tmp_path / "big.npy", x)
    assert (tmp_path / "big.npy").stat().st_size > 2 * parse_size("512K")
    report = check_json(tmp_path / "big.npy", capsys, "--memory-budget", "512K",
                        "--tests", "normality_test,jarque_bera")
    normality, jarque_bera = report["tests"]
    assert report["rows_in_memory"] < 20_000 and jarque_bera["subsample"] == report["rows_in_memory"]
    assert (normality["rows"], normality["passes"]) == (20_000, 2)
    assert report["timing"]["rows_per_second"] > 0
    assert_same_normality(normality, st.normality_test(x, seed=0, num_slices=SLICES))


def test_too_few_rows_give_their_reason(capsys, tmp_path):
    np.save(tmp_path / "three.npy", np.random.default_rng(0).standard_normal((3, 2)))
    entry = check_json(tmp_path / "three.npy", capsys)["tests"][0]
    assert entry["error"] == "it needs at least 4 samples (rows); the file has N = 3"
    np.save(tmp_path / "many.npy", np.random.default_rng(0).standard_normal((100, 2)))
    entry = check_json(tmp_path / "many.npy", capsys, "--subsample", "3")["tests"][0]
    assert entry["error"] == "it needs at least 4 samples (rows); --subsample gives 3"


@pytest.mark.parametrize("option, words", [
    (["--subsample", "0"], "--subsample must be at least 2 rows; got 0"),
    (["--subsample", "1"], "--subsample must be at least 2 rows; got 1"),
    (["--subsample", "many"], "argument --subsample: invalid int value"),
    (["--subsample", "1900", "--memory-budget", "256K"], "--subsample 1900: 1900 rows of D = 6 "
                                                          "do not fit --memory-budget 256.0 KiB"),
])
def test_bad_subsample_is_a_one_line_usage_error(gaussian_file, capsys, option, words):
    _, path = gaussian_file
    status, out, err = run(["check", str(path), "--slices", "4", *option], capsys)
    assert status == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert words in err


def test_a_failing_first_pass_is_reported_not_raised(gaussian_file, capsys, monkeypatch):
    from sketchtest._multivariate.normality_stream import StreamingNormalityTest

    def fail(self):
        raise np.linalg.LinAlgError("Eigenvalues did not converge")

    monkeypatch.setattr(StreamingNormalityTest, "end_first_pass", fail)
    _, path = gaussian_file
    report = check_json(path, capsys, "--memory-budget", SMALL_BUDGET)
    assert report["tests"][0]["error"] == "Eigenvalues did not converge"
    assert report["passes"] == 1


def test_progress_bar_counts_both_passes(gaussian_file, capsys, monkeypatch):
    _, path = gaussian_file
    argv = ["check", str(path), "--slices", "4", "--memory-budget", SMALL_BUDGET]
    status, _, err = run(argv, capsys)  # stderr is not a terminal: no bar
    assert status == 0 and err == ""
    monkeypatch.setattr("sketchtest._cli.report._stderr_is_terminal", lambda: True)
    monkeypatch.setattr("sketchtest._cli.report.PROGRESS_DELAY", 0.0)
    status, _, err = run(argv, capsys)  # tqdm's bar
    assert status == 0 and "pass 1 of 2" in err and "pass 2 of 2" in err and "/4000 " in err
    monkeypatch.setitem(sys.modules, "tqdm", None)  # the plain bar
    status, _, err = run(argv, capsys)
    assert status == 0 and "pass 1 of 2 [" in err and "pass 2 of 2 [" in err
    assert "4000/4000 rows" in err and "2000/4000 rows" in err
    status, _, err = run([*argv, "--no-progress"], capsys)
    assert status == 0 and err == ""
    status, _, err = run([*argv, "--subsample", "50"], capsys)  # one pass: "reading"
    assert status == 0 and "reading [" in err and "2000/2000 rows" in err and "pass" not in err


def test_a_ten_gigabyte_file_streams_within_one_gigabyte():
    """The plan for 10^7 x 256 float32 rows (10 GB) under the default 1G: normality_test streams
    every row in chunks whose measured costs (raw and converted rows, the accumulator's working
    set per row and column) and the kept rows fit, with the accumulator's state, in the budget."""
    from sketchtest._cli import budget
    from sketchtest._cli.rows import RowSource

    source = RowSource("big.npy", "npy", 10**7, 256, np.dtype(np.float32), read=None)
    plan = plan_memory(source, num_slices=128, budget=2**30, normality=True, stream_epps_pulley=False)
    assert plan.stream_normality and plan.normality_rows == 10**7
    assert plan.chunk_rows >= 4000  # not thousands of tiny reads per pass
    columns = 256 + 128 + budget.PRINCIPAL_AXES
    chunk = plan.chunk_rows * (256 * (4 + 4) + budget.STREAM_NORMALITY_CELL_BYTES * columns)
    state = budget.stream_normality_state_bytes(256, 128) + 3 * 256 * 256 * 8
    assert chunk + plan.kept_rows * 256 * 4 + state < 2**30


def test_only_streamed_tests_keep_few_rows(gaussian_file, capsys, monkeypatch):
    """When every test streams, the kept rows (a quarter of the budget) shrink to REPORT_ROWS."""
    _, path = gaussian_file
    monkeypatch.setattr("sketchtest._cli.main.REPORT_ROWS", 100)
    argv = ["--memory-budget", "1M", "--tests"]
    report = check_json(path, capsys, *argv, "normality_test")
    assert report["rows_in_memory"] == 100 and report["tests"][0]["rows"] == 2000
    report = check_json(path, capsys, *argv, "normality_test,jarque_bera")  # one runs in memory
    assert report["rows_in_memory"] > 100 and report["tests"][0]["rows"] == 2000
