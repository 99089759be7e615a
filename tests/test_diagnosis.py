"""How a normality_test result is told: the departure named (text, JSON, explain), one index
convention, the figure, and the command line's details (N < 4, Mardia's caveat, the demo)."""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from scipy import stats

import sketchtest as st
from sketchtest._cli.main import main
from sketchtest._multivariate.diagnosis import diagnose, explain_lines, moment_diagnostics
from sketchtest._multivariate.normality import NormalityTestResult
from sketchtest._result import NormalityResult

N, D = 2000, 32


def run(argv, capsys):
    status = main(argv)
    captured = capsys.readouterr()
    assert captured.err == "", captured.err
    return status, captured.out


def check(tmp_path, capsys, x, *options):
    """The text report and the JSON report of ``sketchtest check`` on `x`."""
    np.save(tmp_path / "x.npy", x)
    status, text = run(["check", str(tmp_path / "x.npy"), "--no-progress", *options], capsys)
    assert status == 0
    status, out = run(["check", str(tmp_path / "x.npy"), "--no-progress", "--json", *options], capsys)
    assert status == 0
    return text, json.loads(out, parse_constant=refuse_non_finite)["tests"][0]


def refuse_non_finite(constant):
    raise ValueError(f"invalid JSON constant {constant}")  # NaN and Infinity are not JSON


def verdict_block(text):
    """The verdict lines of the text report, joined."""
    block = text[text.index("  verdict: "):text.index("\n  component ")]
    return " ".join(block.split())


def embeddings(kind, seed=0):
    """float32 (N, D) embeddings: healthy N(0, I), or with one planted defect."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, D))
    if kind == "collapsed":  # rank 4 of 32: four Gaussian factors, randomly rotated
        frame = np.linalg.qr(rng.standard_normal((D, D)))[0][:4]
        x = rng.standard_normal((N, 4)) @ frame
    elif kind == "shifted":
        x = x + 1000.0
    elif kind == "rescaled":
        x = x * 1e4
    elif kind == "anisotropic":  # zero-mean, symmetric, scales 1..10
        x = x * np.linspace(1.0, 10.0, D)
    return x.astype(np.float32)


# --- the departure is named, in the text, the JSON and explain() ---------------------------------

@pytest.mark.parametrize(("kind", "departure", "words"), [
    ("collapsed", "collapse", "collapse: the samples lie in a 4-dimensional subspace (rank 4 of 32, effective rank"),
    ("shifted", "mean_offset", "mean offset (|mean| = 5657"),  # 1000 sqrt(32) = 5657
    ("rescaled", "scale", "scale (average variance 1e+08"),
    ("anisotropic", "anisotropy", "anisotropy (covariance eigenvalues from"),
])
def test_the_verdict_names_the_departure(tmp_path, capsys, kind, departure, words):
    x = embeddings(kind)
    text, entry = check(tmp_path, capsys, x)
    verdict = verdict_block(text)
    assert verdict.startswith("verdict: not N(0, I) ("), verdict
    assert words in verdict.replace("9.995e+07", "1e+08"), verdict
    assert entry["departures"][0]["kind"] == departure
    assert entry["verdict"].replace("9.995e+07", "1e+08").count(words) == 1
    assert not any(name in verdict for name in ("nan", "inf", "smallest at"))
    lines = st.normality_test(x, seed=0).explain(x)
    assert lines[0] == "verdict: " + entry["verdict"]
    if kind == "collapsed":
        details = entry["departures"][0]["details"]
        assert details["rank"] == 4 and details["dimension"] == 32 and 3.5 < details["effective_rank"] <= 4


def test_a_zero_mean_anisotropic_sample_blames_neither_the_mean_nor_the_skewness(tmp_path, capsys):
    # under N(0, I) the mean and skewness statistics grow with the variance: with scales 1..10
    # they reject although the mean is 0 and the law symmetric; the verdict names the anisotropy
    text, entry = check(tmp_path, capsys, embeddings("anisotropic"))
    kinds = [departure["kind"] for departure in entry["departures"]]
    assert kinds == ["anisotropy"]
    assert {"mean", "skewness"} <= set(entry["also_rejecting"])
    rows = {line.split("  ")[1].strip(): line for line in text.splitlines() if line.startswith("  mean = 0 ")
            or line.startswith("  skewness ")}
    assert all(line.endswith("rejects (reacts to the shift or scale too)") for line in rows.values()), rows


def test_a_healthy_embedding_gets_no_departure(tmp_path, capsys):
    text, entry = check(tmp_path, capsys, embeddings("healthy"))
    assert verdict_block(text).startswith("verdict: consistent with N(0, I) (p = ")
    assert entry["departures"] == [] and entry["also_rejecting"] == [] and not entry["reject"]
    assert "departure" not in text


# --- one index convention: 0-based, as x[:, j] -----------------------------------------------

def test_text_json_and_explain_count_indices_the_same_way(tmp_path, capsys):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((N, 8))
    x[:, 3] = rng.exponential(size=N) - 1.0  # mean 0, variance 1, skewed: only coordinate 3
    text, entry = check(tmp_path, capsys, x, "--null", "normal")
    coordinates = next(part for part in entry["components"] if part["component"] == "coordinates")
    assert coordinates["most_significant"] == 3
    assert coordinates["most_significant_words"] == "coordinate 3 (x[:, 3])"
    assert "departure, strongest on coordinate 3 (x[:, 3])" in text
    assert "indices count from 0, as x[:, j]" in text and entry["indices"] == "indices count from 0, as x[:, j]"
    lines = st.normality_test(x, null="normal", seed=0).explain()
    assert any(line.endswith("(smallest at coordinate 3 (x[:, 3]))") for line in lines), lines
    assert "non-Gaussian coordinate 3 (x[:, 3])" in lines[0]


def test_clusters_along_the_top_axis_are_principal_axis_0_everywhere(tmp_path, capsys):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, 16))
    x[:, 5] = rng.choice([-2.0, 2.0], size=N) + 0.5 * rng.standard_normal(N)  # variance 4.25: top axis
    text, entry = check(tmp_path, capsys, x, "--null", "normal")
    axes = next(part for part in entry["components"] if part["component"] == "principal_axes")
    assert axes["most_significant"] == 0 and axes["reports"] == "principal_axis"
    assert "along principal axis 0 (the largest-variance axis)" in entry["verdict"]
    assert "strongest on principal axis 0" in text
    explained = st.normality_test(x, null="normal", seed=0).explain()
    assert "(smallest at principal axis 0)" in next(line for line in explained if line.startswith("principal"))


# --- explain() of constructed results: NaN, new and unknown components -------------------------

def part(pvalue, statistic=1.0, **extras):
    return NormalityResult(np.float64(statistic), np.float64(pvalue), extras=extras)


def test_explain_of_a_nan_result_names_no_direction():
    nan = float("nan")
    result = NormalityTestResult(np.float64(nan), np.float64(nan), {
        "random_slices": part(nan, nan, pvalues=np.full(4, nan), most_significant=np.int64(0)),
        "coordinates": part(nan, nan, pvalues=np.full(3, nan), most_significant=np.int64(0),
                            reason="values too large to square"),
    })
    lines = result.explain()
    assert not any("smallest at" in line or "direction 0" in line for line in lines), lines
    assert lines[0].startswith("verdict: undefined: ")
    assert lines[2] == "each coordinate Gaussian: not computed (values too large to square)"


def test_repr_shows_where_and_why_but_no_index_for_nan():
    nan = float("nan")
    result = NormalityTestResult(np.float64(0.5), np.float64(0.01), {
        "coordinates": part(0.01, pvalues=np.array([0.5, 0.01]), most_significant=np.int64(1)),
        "random_slices": part(nan, nan, pvalues=np.full(2, nan), most_significant=np.int64(0), reason="too few rows"),
    })
    text = repr(result)
    assert "coordinates    statistic=1, pvalue=0.01, most_significant=1" in text
    assert "random_slices  statistic=nan, pvalue=nan, reason='too few rows')" in text


def test_a_rank_component_is_told_as_a_collapse_and_unknown_components_by_name():
    # the contract of normality_test's rank component: extras rank, effective_rank, dimension
    result = NormalityTestResult(np.float64(50.0), np.float64(0.0), {
        "rank": part(0.0, rank=np.int64(4), effective_rank=np.float64(3.7), dimension=32, threshold=1e-10),
        "within_subspace": part(0.3),
        "a_new_check": part(1e-9, pvalues=np.array([0.5, 1e-10]), most_significant=np.int64(1)),
    }, null="normal")
    lines = result.explain()
    assert lines[0] == ("verdict: not Gaussian (p < 1e-16): collapse: the samples lie in a 4-dimensional "
                        "subspace (rank 4 of 32, effective rank 3.7) (p < 1e-16); a_new_check departs "
                        "(p = 1e-09)")
    assert "Gaussian inside the subspace the samples span: p = 0.3" in lines
    assert "a_new_check: p = 1e-09 (smallest at column 1)" in lines


@settings(max_examples=60, deadline=None)
@given(hst.lists(hst.one_of(hst.just(float("nan")), hst.floats(0.0, 1.0)), min_size=7, max_size=7),
       hst.integers(0, 7))
def test_any_mix_of_pvalues_is_told_without_error(pvalues, index):
    names = ["random_slices", "principal_axes", "coordinates", "skewness", "kurtosis", "covariance", "mean"]
    parts = {name: part(p, pvalues=np.array([p] * 8), most_significant=np.int64(index), null_mean=1.0)
             for name, p in zip(names, pvalues)}
    finite = [p for p in pvalues if not math.isnan(p)]
    combined = min(finite) if finite else float("nan")
    result = NormalityTestResult(np.float64(0.0), np.float64(combined), parts)
    diagnosis = diagnose(result)
    lines = explain_lines(result)
    for name, p in zip(names, pvalues):
        if math.isnan(p):  # a NaN component is never a departure and never says where
            assert all(departure.component != name for departure in diagnosis.departures)
            assert name not in diagnosis.also_rejecting
    assert not any("nan" in line.lower() for line in lines), lines
    if not finite:
        assert lines[0].startswith("verdict: undefined: ")


# --- the summary behind the words: checked against SciPy ---------------------------------------

def test_studentized_mean_is_the_t_test_in_one_dimension():
    x = np.random.default_rng(4).standard_normal(50) + 0.3
    summary = moment_diagnostics(x.mean(keepdims=True), np.var(x, ddof=1, keepdims=True), 50)
    # Hotelling's T^2 with D = 1 is Student's t squared: scipy.stats.ttest_1samp(x, 0).pvalue
    assert summary["studentized_mean_pvalue"] == pytest.approx(stats.ttest_1samp(x, 0.0).pvalue, rel=1e-9)


@pytest.mark.parametrize(("dtype", "rank"), [("float64", 4), ("float32", 4), ("float32", 31)])
def test_numerical_rank_of_collapsed_and_full_samples(dtype, rank):
    rng = np.random.default_rng(5)
    frame = np.linalg.qr(rng.standard_normal((D, D)))[0][:rank]
    x = (rng.standard_normal((N, rank)) @ frame + 10.0).astype(dtype).astype(np.float64)
    summary = moment_diagnostics(x.mean(axis=0), np.cov(x, rowvar=False), N, dtype=dtype)
    assert summary["numerical_rank"] == rank
    y = rng.standard_normal((D + 2, D))  # N(0, I) at N = D + 2: full rank
    assert moment_diagnostics(y.mean(axis=0), np.cov(y, rowvar=False), D + 2, dtype=dtype)["numerical_rank"] == D


# --- the figure -----------------------------------------------------------------------------------

def test_plot_draws_the_flagged_axis_and_the_collapsed_spectrum(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    x = embeddings("collapsed")
    figure = st.normality_test(x, seed=0).plot(x, tmp_path / "collapse")
    assert (tmp_path / "collapse.png").stat().st_size > 20_000
    titles = [axes.get_title() for axes in figure.axes]
    # under N(0, I) the coordinates are tested on the raw (collapsed) data: the flagged one comes first
    assert titles[0].startswith("coordinate ") and titles[0].endswith("p < 1e-16")
    assert titles[1].startswith("principal axis ")
    assert titles[2].startswith("covariance spectrum: rank 4 of 32 (effective ")
    labels = figure.axes[2].get_legend_handles_labels()[1]
    assert "collapse: rank 4" in labels and "rank threshold (rounding level)" in labels
    assert figure.texts[0].get_text().startswith("verdict: not N(0, I)")


def test_plot_of_a_skewed_coordinate_shows_that_coordinate(tmp_path):
    pytest.importorskip("matplotlib")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((N, 8))
    x[:, 3] = rng.exponential(size=N) - 1.0
    figure = st.normality_test(x, null="normal", seed=0).plot(x)
    titles = [axes.get_title() for axes in figure.axes]
    assert "coordinate 3 (x[:, 3]): p < 1e-16 (flagged)" in titles[:2], titles


def test_plot_without_matplotlib_says_how_to_install_it(monkeypatch):
    x = embeddings("healthy")[:100, :4]
    result = st.normality_test(x, seed=0, num_slices=4)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install -c \.ci/constraints\.txt -e "\.\[plot\]"'):
        result.plot(x)


def test_plot_and_explain_refuse_samples_of_another_shape():
    x = embeddings("healthy")[:100, :4]
    result = st.normality_test(x, seed=0, num_slices=4)
    with pytest.raises(ValueError, match="`x`"):
        result.explain(x[:, :3])


# --- command-line details ----------------------------------------------------------------------------

@pytest.mark.parametrize("rows", [2, 3])
def test_fewer_than_4_rows_say_so_whatever_the_budget(tmp_path, capsys, rows):
    np.savetxt(tmp_path / "x.csv", np.random.default_rng(rows).standard_normal((rows, 4)), delimiter=",")
    status, out = run(["check", str(tmp_path / "x.csv"), "--memory-budget", "100G"], capsys)
    assert status == 0
    assert f"not run: it needs at least 4 samples (rows); the file has N = {rows}" in out
    assert "memory-budget" not in out


def test_mardia_states_its_size_problem_at_large_dimension(tmp_path, capsys):
    x = np.random.default_rng(6).standard_normal((512, 64))
    _, entry = check(tmp_path, capsys, x, "--tests", "normality_test,mardia")
    status, out = run(["check", str(tmp_path / "x.npy"), "--json", "--tests", "mardia"], capsys)
    mardia = json.loads(out)["tests"][0]
    assert "13 of 40 at N = 512, D = 64" in mardia["caveat"]
    status, out = run(["check", str(tmp_path / "x.npy"), "--tests", "mardia"], capsys)
    assert "caveat: D = 64 is large for N = 512" in out
    np.save(tmp_path / "y.npy", x[:, :8])
    status, out = run(["check", str(tmp_path / "y.npy"), "--json", "--tests", "mardia"], capsys)
    assert "caveat" not in json.loads(out)["tests"][0]


def test_the_demo_says_what_it_plants_and_finds_each_plant(capsys):
    status, out = run(["check", "--demo"], capsys)
    assert status == 0
    assert "Demo: what is planted in these embeddings, and which component finds it" in out
    for planted in ("two clusters along one direction", "one skewed direction", "two directions of variance 0.25"):
        assert planted in out
    assert "NOT found" not in out and out.count(": found by ") == 3
    status, out = run(["check", "--demo", "--json"], capsys)
    findings = json.loads(out)["demo"]
    assert [item["found_by"] for item in findings] == ["principal_axes", "skewness", "covariance"]
    assert all(item["found"] for item in findings)
    assert findings[0]["where"] == "principal axis 0"


def test_the_cli_and_the_api_use_one_default_slice_count(capsys):
    status, out = run(["check", "--demo", "--json"], capsys)
    report = json.loads(out)
    direct = st.normality_test(np.load(report_path()), seed=0)
    assert report["num_slices"] == direct.extras["directions"].shape[1] == 128
    assert report["tests"][0]["pvalue"] == pytest.approx(float(direct.pvalue), rel=1e-6, abs=1e-300)


def report_path():
    import os

    return os.path.join(os.path.dirname(st.__file__), "data", "demo_embeddings.npy")


@pytest.mark.parametrize("library", ["torch", "jax"])
def test_explain_and_plot_take_samples_of_any_backend(library):
    pytest.importorskip("matplotlib")
    module = pytest.importorskip(library)
    x = np.random.default_rng(7).standard_normal((500, 6)).astype(np.float32) * 3.0  # scale 3: variance 9
    if library == "torch":
        samples = module.as_tensor(x).to(module.bfloat16)
    else:
        samples = module.numpy.asarray(x)
    result = st.normality_test(samples, seed=0)
    verdict = result.explain(samples)[0]
    assert verdict.startswith("verdict: not ") and "scale (average variance " in verdict, verdict
    average = float(verdict.split("average variance ")[1].split(",")[0])
    assert average == pytest.approx(np.var(x, axis=0, ddof=1).mean(), rel=2e-2)  # bfloat16 rounding: 2^-8
    assert len(result.plot(samples).axes) == 3
