"""StreamingNormalityTest: two passes over batches give normality_test's answer, merged across processes."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st_

import sketchtest as st

NULLS = ("standard", "normal")


def _samples(kind, n=600, dim=6, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return rng.standard_normal((n, dim))
    if kind == "shifted_scaled":
        return 1e3 + 7.0 * rng.standard_normal((n, dim))
    if kind == "collapsed":  # rank 3 in D = dim
        return rng.standard_normal((n, 3)) @ rng.standard_normal((3, dim))
    if kind == "exponential":
        return rng.exponential(size=(n, dim))
    if kind == "far":  # values beyond 64: the standard moments reject outright
        return 100.0 * rng.standard_normal((n, dim))
    raise AssertionError(kind)


def _streamed(x, *, null, seed, first_batches=5, second_batches=3, **options):
    stream = st.StreamingNormalityTest(x.shape[1], null=null, seed=seed, **options)
    for batch in np.array_split(x, first_batches):
        stream.update(batch)
    stream.end_first_pass()
    for batch in np.array_split(x[::-1], second_batches):  # another order and batching
        stream.update(batch)
    return stream.result()


def _assert_same(one_shot, streamed, tolerance=1e-10):
    assert list(streamed.components) == list(one_shot.components)
    for name, part in one_shot.components.items():
        other = streamed.components[name]
        for field in ("statistic", "pvalue"):
            expected, got = float(getattr(part, field)), float(getattr(other, field))
            if np.isnan(expected) or np.isinf(expected):
                assert np.isnan(got) if np.isnan(expected) else got == expected, (name, field)
            else:
                assert got == pytest.approx(expected, rel=tolerance, abs=tolerance), (name, field)
        if "pvalues" in part.extras:
            np.testing.assert_allclose(np.asarray(other.extras["pvalues"]), np.asarray(part.extras["pvalues"]),
                                       rtol=tolerance, atol=tolerance)
            assert int(other.extras["most_significant"]) == int(part.extras["most_significant"])
    assert float(streamed.pvalue) == pytest.approx(float(one_shot.pvalue), rel=tolerance, abs=tolerance)


@pytest.mark.parametrize("null", NULLS)
@pytest.mark.parametrize("kind", ["gaussian", "shifted_scaled", "collapsed", "exponential", "far"])
def test_two_passes_equal_the_one_shot_test_in_float64(kind, null):
    x = _samples(kind)
    _assert_same(st.normality_test(x, null=null, seed=3), _streamed(x, null=null, seed=3))


def test_a_collapsed_stream_reports_the_rank_and_the_test_within_its_subspace():
    x = _samples("collapsed", n=900, dim=12)
    result = _streamed(x, null="normal", seed=1)
    assert float(result.pvalue) == 0.0
    assert int(result.components["rank"].extras["rank"]) == 3
    assert "within_subspace" in result.components


def test_a_collapse_below_the_sample_span_at_n_below_d_streams_like_the_one_shot_test():
    x = _samples("collapsed", n=30, dim=64, seed=2)  # rank 3, below the 29 dimensions 30 samples span
    one_shot, streamed = st.normality_test(x, seed=0, num_slices=16), _streamed(x, null="standard", seed=0,
                                                                                 num_slices=16)
    _assert_same(one_shot, streamed)
    assert float(streamed.components["rank"].pvalue) == 0.0 and "within_subspace" in streamed.components


@settings(max_examples=15, deadline=None)
@given(first=st_.lists(st_.integers(0, 200), min_size=1, max_size=6),
       second=st_.lists(st_.integers(0, 200), min_size=1, max_size=6), null=st_.sampled_from(NULLS))
def test_any_batching_gives_the_same_answer(first, second, null):
    x = _samples("exponential", n=300, dim=4, seed=5)
    stream = st.StreamingNormalityTest(4, null=null, seed=2)
    for batch in np.split(x, sorted(min(cut, 300) for cut in first)):
        stream.update(batch)
    stream.end_first_pass()
    for batch in np.split(x, sorted(min(cut, 300) for cut in second)):
        stream.update(batch)
    _assert_same(st.normality_test(x, null=null, seed=2), stream.result())


@pytest.mark.parametrize("null", NULLS)
def test_partials_merge_across_pickles_and_spawned_second_passes(null):
    torch = pytest.importorskip("torch")
    x = _samples("collapsed", n=900, dim=8, seed=4)
    partials = [st.StreamingNormalityTest(8, null=null, seed=7) for _ in range(3)]
    for partial, rows in zip(partials, np.array_split(x, 3)):
        partial.update(rows)
    lead = pickle.loads(pickle.dumps(partials[0]))
    for partial in partials[1:]:
        lead.merge(pickle.loads(pickle.dumps(partial)))
    lead.end_first_pass()
    workers = [pickle.loads(pickle.dumps(lead.spawn())) for _ in range(2)]
    for worker, rows in zip(workers, np.array_split(x, 2)):
        worker.update(torch.from_numpy(rows))  # another library in pass 2: the sums live on the host
    for worker in workers:
        lead.merge(pickle.loads(pickle.dumps(worker)))
    _assert_same(st.normality_test(x, null=null, seed=7), lead.result())


@pytest.mark.parametrize("null", NULLS)
def test_float32_batches_agree_with_float64_on_the_same_values(null):
    x = (1e4 + _samples("gaussian", n=4000, dim=16, seed=8)).astype(np.float32)
    wide = st.normality_test(x.astype(np.float64), null=null, seed=0)
    streamed = _streamed(x, null=null, seed=0)
    for name in ("random_slices", "principal_axes", "coordinates"):
        assert float(streamed.components[name].pvalue) == pytest.approx(
            float(wide.components[name].pvalue), abs=2e-3), name
    assert float(streamed.pvalue) == pytest.approx(float(wide.pvalue), abs=2e-3)


@pytest.mark.parametrize("scale", [1e-150, 1e150])
def test_extreme_float64_scales_stream_like_the_one_shot_test(scale):
    x = scale * _samples("gaussian", n=400, dim=5, seed=9)
    _assert_same(st.normality_test(x, null="normal", seed=0), _streamed(x, null="normal", seed=0), 1e-8)


def test_memory_does_not_grow_with_the_rows():
    rng = np.random.default_rng(0)
    sizes = []
    for rows in (1_000, 20_000):
        stream = st.StreamingNormalityTest(8, seed=0)
        stream.update(rng.standard_normal((rows, 8)))
        stream.end_first_pass()
        stream.update(rng.standard_normal((rows, 8)))
        sizes.append(len(pickle.dumps(stream)))
    assert abs(sizes[1] - sizes[0]) < 64


def test_non_finite_rows_give_nan_or_raise():
    x = _samples("gaussian", n=100, dim=3)
    x[5, 1] = np.inf
    stream = st.StreamingNormalityTest(3, seed=0)
    stream.update(x).end_first_pass().update(x)
    assert np.isnan(float(stream.result().pvalue))
    assert np.isnan(float(st.normality_test(x, seed=0).pvalue))
    with pytest.raises(ValueError, match="nan_policy='raise'"):
        st.StreamingNormalityTest(3, nan_policy="raise").update(x)


def test_misuse_raises_naming_the_cause():
    x = _samples("gaussian", n=50, dim=3)
    with pytest.raises(ValueError, match="`batch` must have shape"):
        st.StreamingNormalityTest(4).update(x)
    with pytest.raises(ValueError, match="`dim`|dim"):
        st.StreamingNormalityTest(0)
    with pytest.raises(ValueError, match="null"):
        st.StreamingNormalityTest(3, null="gaussian")
    stream = st.StreamingNormalityTest(3).update(x)
    with pytest.raises(ValueError, match="two passes"):
        stream.result()
    stream.end_first_pass()
    with pytest.raises(ValueError, match="already"):
        stream.end_first_pass()
    stream.update(x[:10])
    with pytest.raises(ValueError, match="pass 2 saw 10 rows, pass 1 saw 50"):
        stream.result()
    with pytest.raises(TypeError, match="one dtype"):
        stream.update(x.astype(np.float32))
    with pytest.raises(ValueError, match="at least 4"):
        st.StreamingNormalityTest(3).update(x[:3]).end_first_pass()
    with pytest.raises(ValueError, match="D \\+ 2"):
        st.StreamingNormalityTest(3, null="normal").update(x[:4]).end_first_pass()


def test_merging_refuses_other_options_directions_or_passes():
    x = _samples("gaussian", n=50, dim=3)
    lead = st.StreamingNormalityTest(3, seed=0).update(x)
    with pytest.raises(ValueError, match="other directions"):
        lead.merge(st.StreamingNormalityTest(3, seed=1))
    with pytest.raises(ValueError, match="other options"):
        lead.merge(st.StreamingNormalityTest(3, seed=0, null="normal"))
    with pytest.raises(TypeError, match="StreamingNormalityTest"):
        lead.merge(x)
    ended = st.StreamingNormalityTest(3, seed=0).update(x).end_first_pass()
    with pytest.raises(ValueError, match="pass 1"):
        ended.merge(st.StreamingNormalityTest(3, seed=0))
    other = st.StreamingNormalityTest(3, seed=0).update(x[::2]).end_first_pass()
    with pytest.raises(ValueError, match="another first pass"):
        ended.merge(other)
