"""The ``sketchtest check`` command: exit statuses, errors, the JSON schema, --demo, streaming."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sketchtest
import sketchtest._cli.main
from sketchtest._cli.main import main
from sketchtest._cli.report import MomentAccumulator, moment_diagnostics
from support import save_torch_formats

DEMO = os.path.join(os.path.dirname(sketchtest.__file__), "data", "demo_embeddings.npy")


def run(argv, capsys):
    """Exit status, stdout and stderr of ``sketchtest`` with `argv`."""
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse's own exits
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(status, out, err):
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and "error" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [
    [],
    ["check"],
    ["check", "--demo", DEMO],
    ["check", "--demo", "--tests", "t_test"],
    ["check", "--demo", "--slices", "0"],
    ["check", "--demo", "--slices", "many"],
    ["check", "--demo", "--alpha", "1.5"],
    ["check", "--demo", "--seed", "-1"],
    ["check", "--demo", "--backend", "tensorflow"],
    ["check", "--demo", "--device", "cuda:0"],
    ["check", "--demo", "--memory-budget", "lots"],
    ["check", "--demo", "--memory-budget", "inf"],
    ["check", "--demo", "--memory-budget", "nan"],
    ["check", "--demo", "--memory-budget", "0.5"],
    ["check", "--demo", "--memory-budget", "-1G"],
    ["check", "--demo", "--seed", str(2**63)],
    ["check", "--demo", "--slices", "1000000", "--memory-budget", "64M"],
])
def test_usage_errors_exit_2_with_one_line(argv, capsys):
    assert_one_line_error(*run(argv, capsys))


def test_input_errors_exit_2_with_one_line(tmp_path, capsys):
    x = np.random.default_rng(0).standard_normal((20, 3))
    x[3, 2], x[5, 0] = np.nan, np.inf
    np.save(tmp_path / "bad.npy", x)
    status, out, err = run(["check", str(tmp_path / "bad.npy")], capsys)
    assert_one_line_error(status, out, err)
    assert "1 NaN and 1 +inf" in err and "(row 3, column 2)" in err
    np.save(tmp_path / "one.npy", np.zeros((1, 3)))
    status, out, err = run(["check", str(tmp_path / "one.npy")], capsys)
    assert_one_line_error(status, out, err)
    assert "at least 2 samples" in err
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    status, out, err = run(["check", str(tmp_path / "objects.npy")], capsys)
    assert_one_line_error(status, out, err)
    assert "pickled" in err


def test_plot_without_matplotlib_is_a_usage_error(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    status, out, err = run(["check", "--demo", "--plot", str(tmp_path / "p.png")], capsys)
    assert_one_line_error(status, out, err)
    assert "needs matplotlib" in err


def test_python_dash_m_missing_file(tmp_path):
    completed = subprocess.run([sys.executable, "-m", "sketchtest", "check", str(tmp_path / "no.npy")],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == [
        f"sketchtest check: error: {tmp_path / 'no.npy'}: no such file"]


@pytest.mark.skipif(shutil.which("sketchtest") is None, reason="console script not installed")
def test_console_script_version():
    completed = subprocess.run(["sketchtest", "--version"], capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 0
    assert completed.stdout.strip() == f"sketchtest {sketchtest.__version__}"


def test_demo_diagnostics_match_numpy(capsys):
    status, out, _ = run(["check", "--demo", "--json", "--tests", "jarque_bera"], capsys)
    assert status == 0
    report = json.loads(out)
    x = np.load(DEMO).astype(np.float64)
    assert (report["samples"], report["dimensions"], report["dtype"]) == (2048, 16, "float32")
    d = report["diagnostics"]
    assert math.isclose(d["mean_norm"], np.linalg.norm(x.mean(axis=0)), rel_tol=1e-10)
    eigenvalues = np.sort(np.linalg.eigvalsh(np.cov(x, rowvar=False)))[::-1]
    np.testing.assert_allclose(d["eigenvalues"], eigenvalues, rtol=1e-9)
    assert math.isclose(d["eigenvalue_ratio"], eigenvalues[0] / eigenvalues[-1], rel_tol=1e-9)
    assert d["isotropic"] is False  # the demo has two collapsed directions (variance 0.25)


def test_moment_diagnostics_closed_forms():
    # eigenvalues (4, 1, 1, 1): p = (4, 1, 1, 1) / 7, effective rank exp(-sum p log p)
    p = np.array([4.0, 1, 1, 1]) / 7
    d = moment_diagnostics(np.zeros(4), np.diag([1.0, 4.0, 1.0, 1.0]), samples=400)
    assert math.isclose(d["effective_rank"], math.exp(-np.sum(p * np.log(p))), rel_tol=1e-12)
    assert d["eigenvalue_ratio"] == 4.0 and d["average_variance"] == 1.75
    assert d["marchenko_pastur_range"] == pytest.approx([(1 - 0.1) ** 2, (1 + 0.1) ** 2])
    assert d["eigenvalues_outside_range"] == 4 and d["isotropic"] is False
    assert moment_diagnostics(np.zeros(3), np.eye(3), samples=10**6)["isotropic"] is True


def test_moment_accumulator_matches_numpy_far_from_zero():
    x = 1e6 + np.random.default_rng(1).standard_normal((500, 3))
    moments = MomentAccumulator()
    for start in range(0, 500, 70):
        moments.update(x[start:start + 70])
    np.testing.assert_allclose(moments.mean(), x.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(moments.covariance(), np.cov(x, rowvar=False), rtol=1e-9)


def test_demo_json_schema_and_verdict(capsys):
    status, out, err = run(["check", "--demo", "--json", "--slices", "64",
                            "--tests", "epps_pulley,anderson_darling,jarque_bera"], capsys)
    assert status == 0, err
    report = json.loads(out)
    assert {"samples", "dimensions", "tests", "diagnostics", "alpha"} <= set(report)
    names = [test["test"] for test in report["tests"]]
    assert names == ["epps_pulley", "anderson_darling", "jarque_bera"]
    for test in report["tests"]:
        assert "error" not in test, test
        assert isinstance(test["statistic"], float) and 0.0 <= test["pvalue"] <= 1.0
        assert test["reject"] == (test["pvalue"] < 0.05)
        assert len(test["worst_slices"]) == 5
        pvalues = [entry["pvalue"] for entry in test["worst_slices"]]
        assert pvalues == sorted(pvalues)
    # the demo is bimodal and skewed along two directions: Epps-Pulley must see it
    assert report["tests"][0]["reject"] is True


def test_demo_text_report(capsys):
    status, out, _ = run(["check", "--demo", "--slices", "32", "--tests", "epps_pulley"], capsys)
    assert status == 0
    for needle in ("N = 2048", "D = 16", "alpha = 0.05", "epps_pulley (sliced",
                   "Worst slices", "effective rank", "isotropic?"):
        assert needle in out


# --- the default check: normality_test and its components, in words ------------------------------

COMPONENTS = ["random_slices", "principal_axes", "coordinates", "skewness", "kurtosis",
              "covariance", "mean", "rank"]


def strict_json(text):
    """``json.loads`` that refuses NaN and Infinity (invalid JSON that Python writes by default)."""
    def refuse(constant):
        raise ValueError(f"invalid JSON constant {constant}")
    return json.loads(text, parse_constant=refuse)


def assert_reads_well(out):
    """No nan/inf and no statistic like 1e+27 in the text report (small p-values: 2.76e-06)."""
    assert not re.search(r"\b(nan|inf|infinity)\b", out, flags=re.IGNORECASE), out
    assert not re.search(r"\de\+\d", out), out


def verdict_of(out):
    """The verdict of the text report, on one line (it may be printed on two)."""
    text = out[out.index("verdict: "):out.index("\n  component ")]
    return " ".join(text.split())


def check_file(tmp_path, capsys, x, *options):
    np.save(tmp_path / "x.npy", x)
    status, out, err = run(["check", str(tmp_path / "x.npy"), *options], capsys)
    assert status == 0 and err == "", err
    return out


def test_default_check_runs_normality_test(capsys):
    status, out, err = run(["check", "--demo"], capsys)
    assert status == 0 and err == "", err
    assert out.index("Is it Gaussian? normality_test") < out.index("Mean and covariance")
    assert "Other tests" not in out and "Worst slices" not in out  # normality_test only
    for words in ("random directions", "principal axes", "coordinates", "skewness", "kurtosis",
                  "covariance = I", "mean = 0"):
        assert f"\n  {words} " in out, words
    # the demo is skewed and bimodal along one direction, with two directions of variance 0.25
    verdict = verdict_of(out)
    assert verdict.startswith("verdict: not Gaussian (p < 1e-16): anisotropy "), verdict
    assert "along principal axis 0 (the largest-variance axis) (p < 1e-16)" in verdict
    assert "skewness" in verdict
    assert_reads_well(out)


def test_default_json_is_strict_and_holds_the_components(capsys):
    status, out, err = run(["check", "--demo", "--json"], capsys)
    assert status == 0, err
    report = strict_json(out)
    (test,) = report["tests"]
    assert test["test"] == "normality_test" and test["kind"] == "combined"
    assert [part["component"] for part in test["components"]] == COMPONENTS
    x = np.load(DEMO)
    direct = sketchtest.normality_test(x, seed=0)  # the API's default slice count is the CLI's
    assert test["pvalue"] == pytest.approx(float(direct.pvalue), rel=1e-6, abs=1e-300)
    for part in test["components"]:
        expected = float(direct.components[part["component"]].pvalue)
        assert part["pvalue"] == pytest.approx(expected, rel=1e-6, abs=1e-300)
        assert part["reject"] == (part["pvalue"] < 0.05)
    assert report["verdict"] == test["verdict"] and test["reject"] is True
    # Mardia's kurtosis mean under N(0, I) is D(D + 2) (Mardia 1970): 288 at D = 16
    kurtosis = test["components"][COMPONENTS.index("kurtosis")]
    assert kurtosis["expected_under_h0"] == 16 * 18


def test_uniform_cube_is_not_gaussian_and_names_kurtosis(tmp_path, capsys):
    cube = np.random.default_rng(0).uniform(-3**0.5, 3**0.5, size=(2000, 16))  # mean 0, covariance I
    out = check_file(tmp_path, capsys, cube, "--slices", "64")
    verdict = verdict_of(out)
    assert "not Gaussian" in verdict and "light tails (kurtosis below the Gaussian's) (p < 1e-16)" in verdict, verdict
    assert re.search(r"\n  mean = 0 .* consistent\n", out)  # the moments it matches are not blamed
    assert_reads_well(out)


def test_two_clusters_are_not_gaussian_and_name_the_principal_axes(tmp_path, capsys):
    rng = np.random.default_rng(1)
    axis = rng.standard_normal(16)
    axis /= np.linalg.norm(axis)
    x = rng.standard_normal((2000, 16)) + np.outer(rng.choice([-1.5, 1.5], size=2000), axis)
    out = check_file(tmp_path, capsys, x, "--slices", "64", "--null", "normal")
    verdict = verdict_of(out)
    assert "not Gaussian" in verdict and "along principal axis 0 (the largest-variance axis)" in verdict, verdict
    assert "departure, strongest on principal axis 0" in out  # the clusters lie along the top axis
    assert_reads_well(out)


@pytest.mark.parametrize("seed", [10, 11, 12])
def test_standard_normal_data_raise_no_alarm(tmp_path, capsys, seed):
    x = np.random.default_rng(seed).standard_normal((1000, 16))
    out = check_file(tmp_path, capsys, x, "--slices", "64")
    assert "verdict: consistent with N(0, I) (p = " in out
    assert "departure" not in out
    assert_reads_well(out)


def test_a_scaled_gaussian_is_not_standard_but_gaussian(tmp_path, capsys):
    x = 2.0 * np.random.default_rng(5).standard_normal((2000, 16))
    out = check_file(tmp_path, capsys, x, "--slices", "64")
    verdict = verdict_of(out)
    assert verdict.startswith("verdict: not N(0, I) (p < 1e-16)") and "--null normal asks" in verdict
    assert "scale (average variance 3.998, 1 under N(0, I))" in verdict, verdict  # x 2: variance 4
    assert re.search(r"\n  covariance = I .* [\d,]+ \(136\) +< 1e-16 +departure: scale\n", out), out
    assert re.search(r"\n  principal axes .* consistent\n", out), out  # the shape is Gaussian
    assert_reads_well(out)
    out = check_file(tmp_path, capsys, x, "--slices", "64", "--null", "normal")
    assert verdict_of(out).startswith("verdict: consistent with a Gaussian (p = ")
    assert "covariance = I" not in out and "mean = 0" not in out  # shape only


def test_a_collapsed_file_is_an_answer_not_an_error(tmp_path, capsys):
    x = np.random.default_rng(2).standard_normal((500, 4))
    x[:, 2] = 3.0
    out = check_file(tmp_path, capsys, x, "--slices", "16")
    # a constant coordinate is a collapse: the samples lie in a 3-dimensional subspace
    assert "collapse: the samples lie in a 3-dimensional subspace (rank 3 of 4" in verdict_of(out)
    assert "undefined" not in out
    assert_reads_well(out)
    report = strict_json(check_file(tmp_path, capsys, x, "--slices", "16", "--json"))
    (test,) = report["tests"]
    assert test["pvalue"] == 0.0 and test["reject"] is True
    assert test["departures"][0]["kind"] == "collapse" and test["departures"][0]["details"]["rank"] == 3
    x[:, 2] = x[:, 0] + x[:, 1]  # collinear: singular, no constant column
    out = check_file(tmp_path, capsys, x, "--slices", "16", "--null", "normal")
    assert "collapse: the samples lie in a 3-dimensional subspace (rank 3 of 4" in verdict_of(out)
    # the components that need whitening say why they were not computed
    assert "not computed: the covariance is singular" in out


def test_normality_test_on_every_row_when_the_budget_is_small(tmp_path, capsys):
    """Rows that do not fit stream in two passes (tests/test_cli_stream.py checks the numbers);
    ``--subsample`` runs the old path on a random subsample."""
    from sketchtest._cli.budget import plan_memory
    from sketchtest._cli.readers import open_samples

    x = np.random.default_rng(3).standard_normal((3000, 8))
    np.save(tmp_path / "x.npy", x)
    plan = plan_memory(open_samples(str(tmp_path / "x.npy")), num_slices=16, budget=2**20,
                       normality=True)
    assert plan.stream_normality and plan.kept_rows < 3000
    argv = ["check", str(tmp_path / "x.npy"), "--slices", "16", "--memory-budget", "1M", "--no-progress"]
    status, out, err = run([*argv, "--json"], capsys)
    assert status == 0, err
    test = strict_json(out)["tests"][0]
    assert (test["rows"], test["passes"], test["streamed"]) == (3000, 2, True)
    assert "subsample" not in test and "error" not in test
    status, out, err = run(argv, capsys)
    assert "every row: 3000 streamed in 2 passes" in out
    status, out, err = run([*argv, "--subsample", "200"], capsys)
    assert status == 0, err
    assert "on a random subsample of 200 rows" in out


def test_plot_of_the_default_check_shows_the_flagged_axis_and_the_spectrum(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    drawn = []
    original = sketchtest._cli.main.draw_figure

    def spy(*args, **kwargs):
        drawn.append(original(*args, **kwargs))
        return drawn[-1]

    monkeypatch.setattr(sketchtest._cli.main, "draw_figure", spy)
    status, out, err = run(["check", "--demo", "--slices", "64", "--plot", str(tmp_path / "p.png")],
                           capsys)
    assert status == 0, err
    titles = [axes.get_title() for axes in drawn[0].axes]
    # the verdict names principal axis 0 (the clusters): its Q-Q plot comes first, then the spectrum
    assert titles[0] == "principal axis 0: p < 1e-16 (flagged)", titles
    assert titles[1].startswith("coordinate ") and "(x[:, " in titles[1], titles
    assert titles[2].startswith("covariance spectrum: effective rank 15"), titles
    assert (tmp_path / "p.png").stat().st_size > 20_000


def test_sliced_tests_still_run_after_normality_test(capsys):
    status, out, err = run(["check", "--demo", "--slices", "32",
                            "--tests", "normality_test,epps_pulley,mardia"], capsys)
    assert status == 0, err
    assert out.index("Is it Gaussian?") < out.index("Other tests at alpha") < out.index("Worst slices")
    assert re.search(r"epps_pulley \(sliced, cauchy\) +- +\d\.\d\de-\d\d +reject", out), out
    assert re.search(r"\n  mardia +- +< 1e-16 +reject", out), out
    assert_reads_well(out)


@pytest.mark.parametrize("given, written", [("check.png", "check.png"), ("check", "check.png"),
                                            (".", "sketchtest-check.png")])
def test_plot_reports_the_path_it_wrote(tmp_path, capsys, given, written):
    pytest.importorskip("matplotlib")
    status, out, err = run(["check", "--demo", "--slices", "32", "--tests", "epps_pulley", "--json",
                            "--plot", str(tmp_path / given)], capsys)
    assert status == 0, err
    target = tmp_path / written
    assert json.loads(out)["plot"] == os.path.normpath(str(target)) or \
        json.loads(out)["plot"] == str(target)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and target.stat().st_size > 20_000


def test_streamed_equals_in_memory(tmp_path, capsys):
    x = np.random.default_rng(2).standard_normal((3000, 4))
    np.save(tmp_path / "x.npy", x)
    argv = ["check", str(tmp_path / "x.npy"), "--json", "--slices", "16", "--tests", "epps_pulley"]
    _, out, _ = run(argv, capsys)
    in_memory = json.loads(out)
    status, out, _ = run(argv + ["--memory-budget", "256K", "--no-progress"], capsys)
    streamed = json.loads(out)
    assert status == 0 and streamed["streamed"] is True and in_memory["streamed"] is False
    assert streamed["chunk_rows"] < 3000
    assert math.isclose(streamed["tests"][0]["statistic"], in_memory["tests"][0]["statistic"],
                        rel_tol=1e-9)
    np.testing.assert_allclose(streamed["diagnostics"]["eigenvalues"],
                               in_memory["diagnostics"]["eigenvalues"], rtol=1e-9)


def test_streamed_nan_is_an_input_error(tmp_path, capsys):
    x = np.random.default_rng(3).standard_normal((3000, 4))
    x[2500, 1] = np.nan
    np.save(tmp_path / "x.npy", x)
    status, out, err = run(["check", str(tmp_path / "x.npy"), "--memory-budget", "256K",
                            "--no-progress", "--slices", "8"], capsys)
    assert_one_line_error(status, out, err)
    assert "1 NaN value(s), first at (row 2500, column 1)" in err


def test_torch_backend_agrees_with_numpy(capsys):
    pytest.importorskip("torch")
    argv = ["check", "--demo", "--json", "--slices", "16", "--tests", "epps_pulley,jarque_bera"]
    _, out, _ = run(argv, capsys)
    reference = json.loads(out)
    status, out, err = run(argv + ["--backend", "torch", "--device", "cpu"], capsys)
    assert status == 0, err
    for ours, theirs in zip(json.loads(out)["tests"], reference["tests"]):
        assert math.isclose(ours["statistic"], theirs["statistic"], rel_tol=1e-4)


def test_mardia_parts_and_composite_only_slices(capsys):
    status, out, err = run(["check", "--demo", "--json", "--slices", "16",
                            "--tests", "mardia,shapiro_wilk"], capsys)
    assert status == 0, err
    mardia, shapiro = json.loads(out)["tests"]
    assert "error" not in mardia, mardia
    assert [part["part"] for part in mardia["parts"]] == ["skewness", "kurtosis"]
    assert "error" not in shapiro and shapiro["null"] == "normal"  # Shapiro-Wilk has no N(0, 1) null


def test_large_dimension_skips_the_spectrum(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr("sketchtest._cli.report.MAX_COVARIANCE_DIMENSIONS", 3)
    x = 2.0 * np.random.default_rng(4).standard_normal((400, 5))
    moments = MomentAccumulator()
    moments.update(x[:150])
    moments.update(x[150:])
    np.testing.assert_allclose(moments.covariance(), np.var(x, axis=0, ddof=1), rtol=1e-12)
    np.save(tmp_path / "wide.npy", x)
    status, out, err = run(["check", str(tmp_path / "wide.npy"), "--json", "--tests", "jarque_bera",
                            "--slices", "8"], capsys)
    assert status == 0, err
    d = json.loads(out)["diagnostics"]
    assert "spectrum_skipped" in d and "eigenvalues" not in d
    assert math.isclose(d["average_variance"], np.var(x, axis=0, ddof=1).mean(), rel_tol=1e-12)


def _write_every_format(x, folder):
    """The same (N, D) float64 samples in every format the command reads."""
    paths = [folder / "x.npy", folder / "x.npz", folder / "x.csv", folder / "x.txt"]
    np.save(paths[0], x)
    np.savez(paths[1], samples=x)
    np.savetxt(paths[2], x, delimiter=",", fmt="%.17g", header="a,b,c", comments="")
    np.savetxt(paths[3], x, fmt="%.17g")
    return paths + save_torch_formats(x, folder, key="embeddings")


def test_every_format_gives_the_same_report(tmp_path, capsys):
    x = np.random.default_rng(5).standard_normal((300, 3))
    reports = []
    for path in _write_every_format(x, tmp_path):
        status, out, err = run(["check", str(path), "--json", "--slices", "8", "--tests", "jarque_bera"],
                               capsys)
        assert status == 0, (path, err)
        reports.append(json.loads(out))
    assert len({report["format"] for report in reports}) == len(reports) - 1  # .csv and .txt: "text"
    for report in reports[1:]:
        assert report["tests"][0]["statistic"] == reports[0]["tests"][0]["statistic"]
        assert report["diagnostics"]["eigenvalues"] == reports[0]["diagnostics"]["eigenvalues"]


# --- inputs that must exit 2 with one line, never block, never allocate the header's claim -----

def _hostile_files(folder):
    """Files of every reader that must be refused: {name: text the error must hold}."""
    os.mkfifo(folder / "fifo.npy")
    with open(folder / "huge.npy", "wb") as stream:
        np.lib.format.write_array_header_2_0(
            stream, {"descr": "<f4", "fortran_order": False, "shape": (10**12, 1)})
    (folder / "zip.npz").write_bytes(b"this is no zip archive")
    header = json.dumps({"x": {"dtype": "F64", "shape": [2, 2], "data_offsets": ["0", 32]}}).encode()
    (folder / "bad.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 32)
    (folder / "row.csv").write_text("1,2,3,4,5\n")
    (folder / "complex.csv").write_text("1+1j,2\n3,4\n")
    return {"fifo.npy": "not a regular file", "huge.npy": "header declares",
            "zip.npz": "not a valid zip", "bad.safetensors": "data_offsets",
            "row.csv": "at least 2 samples; got 1", "complex.csv": "complex value"}


def test_hostile_files_exit_2_with_one_line(tmp_path, capsys):
    for name, needle in _hostile_files(tmp_path).items():
        status, out, err = run(["check", str(tmp_path / name)], capsys)
        assert_one_line_error(status, out, err)
        assert needle in err, (name, err)


def test_slices_that_do_not_fit_name_the_option(capsys):
    status, out, err = run(["check", "--demo", "--slices", "1000000", "--memory-budget", "64M"], capsys)
    assert_one_line_error(status, out, err)
    assert "--slices 1000000" in err and "--memory-budget" in err


def test_slice_blocks_combine_as_one_call(capsys):
    """A budget that splits the slices into blocks gives the slice p-values of one call."""
    from sketchtest._cli.budget import plan_memory
    from sketchtest._cli.readers import open_samples

    plan = plan_memory(open_samples(DEMO), num_slices=64, budget=2**21)
    assert plan.kept_rows == 2048 and plan.test_block < 64  # all rows, blocks of slices
    status, out, err = run(["check", "--demo", "--json", "--slices", "64", "--tests",
                            "jarque_bera", "--worst", "64", "--memory-budget", "2M"], capsys)
    assert status == 0, err
    test = json.loads(out)["tests"][0]
    x = np.load(DEMO)
    whole = sketchtest.sliced_test(x.astype(np.float64), test="jarque_bera", num_slices=64, seed=0)
    ours = sorted((entry["slice"], entry["pvalue"]) for entry in test["worst_slices"])
    np.testing.assert_allclose([p for _, p in ours], whole.slice_pvalues, rtol=1e-4)
    assert math.isclose(test["pvalue"], float(whole.pvalue), rel_tol=1e-3)


@given(exponent=st.integers(-320, 308), constant=st.booleans())
@settings(max_examples=25, deadline=None)
def test_extreme_scales_report_or_refuse_never_crash(tmp_path_factory, exponent, constant):
    x = np.random.default_rng(abs(exponent)).standard_normal((64, 3))
    x = (np.ones_like(x) if constant else x) * 10.0**exponent  # may overflow to inf: exit 2
    path = tmp_path_factory.mktemp("scale") / "x.npy"
    np.save(path, x)
    status = main(["check", str(path), "--json", "--slices", "4",
                   "--tests", "epps_pulley,jarque_bera,mardia"])
    assert status in (0, 2)


def test_overflowing_covariance_is_reported_not_a_crash(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((50, 3)) * 1e300)
    status, out, err = run(["check", str(tmp_path / "x.npy"), "--json", "--slices", "4",
                            "--tests", "jarque_bera,mardia"], capsys)
    assert status == 0, err
    assert "not finite" in json.loads(out)["diagnostics"]["spectrum_skipped"]
    status, out, err = run(["check", str(tmp_path / "x.npy"), "--slices", "4", "--tests", "mardia"],
                           capsys)
    assert status == 0 and "covariance spectrum         skipped" in out and err == ""


def test_closed_pipe_exits_2_with_one_line(monkeypatch, capsys):
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader went away (head -1 has exited)
    with open(write_end, "w") as closed:
        monkeypatch.setattr(sys, "stdout", closed)
        status = main(["check", "--demo", "--slices", "8", "--tests", "jarque_bera"])
        monkeypatch.undo()
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and "broken pipe" in err and "Traceback" not in err


def test_head_dash_1_has_no_traceback(tmp_path):
    command = (f"{sys.executable} -m sketchtest check --demo --json --slices 4000 --worst 4000 "
               "--tests jarque_bera --no-progress | head -1")
    completed = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True,
                               text=True, timeout=120)
    assert completed.stdout == "{\n" and "Traceback" not in completed.stderr
    # the report may fit in the pipe's buffer before head exits (0, silent); otherwise 2 and one line
    assert (completed.returncode, completed.stderr.count("\n")) in ((0, 0), (2, 1)), completed.stderr


# --- memory: the peak stays within --memory-budget, for every format ---------------------------

_MEASURE = r"""
import json, sys
from sketchtest._cli.main import main
try:
    import torch  # noqa: F401  (importing torch is not the check's memory)
except ImportError:
    pass

def status(key):
    with open("/proc/self/status") as stream:
        return next(int(line.split()[1]) * 1024 for line in stream if line.startswith(key))

budget, options, paths = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
main(["check", "--demo", "--no-progress", "--json", *options])  # warm-up: every lazy import
for path in paths:
    with open("/proc/self/clear_refs", "w") as stream:
        stream.write("5")  # the peak (VmHWM) restarts from the current RSS
    before = status("VmRSS")
    code = main(["check", path, "--no-progress", "--json", "--memory-budget", budget, *options])
    print(json.dumps({"path": path, "status": code, "growth": status("VmHWM") - before}),
          file=sys.stderr)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc")
def test_peak_memory_stays_within_the_budget(tmp_path):
    """12 MB files read with a 4 MB budget: the peak grows by less than the budget + 6 MB
    (reading any of them whole, or one float64 copy, would add 12 MB)."""
    x = np.random.default_rng(0).standard_normal((196_608, 8))
    paths = [tmp_path / "x.npy", tmp_path / "x.npz", tmp_path / "x.csv"]
    np.save(paths[0], x)
    np.savez_compressed(paths[1], x=x)
    np.savetxt(paths[2], x[:40_000], delimiter=",", fmt="%.10g")  # text parses slowly: 4 MB
    paths += save_torch_formats(x, tmp_path)
    completed = subprocess.run(
        [sys.executable, "-c", _MEASURE, "4M", "--tests epps_pulley,jarque_bera,mardia --slices 8",
         *map(str, paths)], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    measured = [json.loads(line) for line in completed.stderr.splitlines() if line.startswith("{")]
    assert len(measured) == len(paths)
    for entry in measured:
        assert entry["status"] == 0, entry
        assert entry["growth"] <= 4 * 2**20 + 6 * 2**20, entry


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc")
def test_streamed_normality_test_stays_within_the_budget(tmp_path):
    """normality_test streams every row of 12 MB files in two passes within a 4 MB budget: the
    peak grows by less than the budget + 6 MB (holding the rows would add 12 MB)."""
    x = np.random.default_rng(0).standard_normal((49_152, 32))
    paths = [tmp_path / "x.npy", tmp_path / "x.npz"]
    np.save(paths[0], x)
    np.savez_compressed(paths[1], x=x)
    completed = subprocess.run(
        [sys.executable, "-c", _MEASURE, "4M", "--tests normality_test --slices 8", *map(str, paths)],
        capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    measured = [json.loads(line) for line in completed.stderr.splitlines() if line.startswith("{")]
    assert [entry["status"] for entry in measured] == [0, 0], measured
    for entry in measured:
        assert entry["growth"] <= 4 * 2**20 + 6 * 2**20, entry


def test_progress_shows_on_a_terminal_after_the_delay_only(monkeypatch, tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.random.default_rng(6).standard_normal((3000, 4)))
    argv = ["check", str(tmp_path / "x.npy"), "--slices", "8", "--tests", "epps_pulley",
            "--memory-budget", "256K"]
    status, _, err = run(argv, capsys)  # not a terminal: nothing on stderr
    assert status == 0 and err == ""
    monkeypatch.setattr("sketchtest._cli.report._stderr_is_terminal", lambda: True)
    status, _, err = run(argv, capsys)  # a terminal, but faster than the delay
    assert status == 0 and err == ""
    monkeypatch.setattr("sketchtest._cli.report.PROGRESS_DELAY", 0.0)
    monkeypatch.setitem(sys.modules, "tqdm", None)  # the plain bar
    status, _, err = run(argv, capsys)
    assert status == 0 and "reading [" in err and "3000/3000 rows" in err
    status, _, err = run(argv + ["--no-progress"], capsys)
    assert status == 0 and err == ""


def test_eigen_solver_failure_is_a_sentence_not_a_crash(monkeypatch, capsys):
    def fail(*args, **kwargs):
        raise np.linalg.LinAlgError("Eigenvalues did not converge")

    monkeypatch.setattr(np.linalg, "eigvalsh", fail)
    monkeypatch.setattr("sketchtest._multivariate.affine.mardia", lambda x: fail())
    status, out, err = run(["check", "--demo", "--json", "--slices", "4",
                            "--tests", "jarque_bera,mardia"], capsys)
    assert status == 0, err
    report = json.loads(out)
    assert report["diagnostics"]["spectrum_skipped"] == \
        "the eigen-solver failed (Eigenvalues did not converge)"
    assert report["tests"][1]["error"] == "Eigenvalues did not converge"
    status, out, err = run(["check", "--demo", "--slices", "4", "--tests", "mardia"], capsys)
    assert status == 0 and "not run: Eigenvalues did not converge" in out


def test_a_csv_with_a_utf8_byte_order_mark_keeps_its_header_and_rows(tmp_path, capsys):
    """Excel's "CSV UTF-8" starts with a BOM: the header is still a header, no data row is lost."""
    x = np.random.default_rng(3).standard_normal((40, 3))
    plain, marked = tmp_path / "plain.csv", tmp_path / "marked.csv"
    np.savetxt(plain, x, delimiter=",", fmt="%.17g", header="a,b,c", comments="")
    marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    reports = [json.loads(run(["check", str(path), "--json"], capsys)[1]) for path in (plain, marked)]
    for report in reports:
        report.pop("source"), report.pop("timing")
    assert reports[0] == reports[1] and reports[1]["samples"] == 40
    headless = tmp_path / "headless.csv"  # no header: the first row, behind the BOM, is data
    headless.write_bytes(b"\xef\xbb\xbf" + "\n".join(",".join(f"{value:.17g}" for value in row) for row in x).encode())
    assert json.loads(run(["check", str(headless), "--json"], capsys)[1])["samples"] == 40


def test_an_error_naming_a_file_with_a_newline_stays_on_one_line(tmp_path, capsys):
    assert_one_line_error(*run(["check", str(tmp_path / "no\nsuch.csv")], capsys))
