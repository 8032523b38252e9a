"""Property tests for easytune.metrics against independent, loop-based reference implementations."""
import math
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from easytune import metrics as M

FAST = settings(max_examples=int(os.environ.get("METRICS_EXAMPLES", 25)), deadline=None)  # raise for a stress run
seeds = st.integers(0, 2**32 - 1)


def paired(seed, n, d, noise):
    "Random paired embeddings: motions are noisy copies of texts (a mix of hits and misses)."
    rng = np.random.default_rng(seed)
    t = rng.normal(size=(n, d))
    return t, t + noise * rng.normal(size=(n, d))


# ---------------------------------------------------------------- independent references (plain loops)
def naive_ranks(t, m, group_size):
    "For each used row: how many motions of its group are strictly closer to the text than its own motion."
    ranks = []
    for g in range(0, len(t) // group_size * group_size, group_size):
        for i in range(g, g + group_size):
            d = [math.dist(t[i], m[j]) for j in range(g, g + group_size)]
            ranks.append(sum(dj < d[i - g] for dj in d))
    return np.array(ranks)


def naive_r_precision(t, m, top_k, group_size):
    ranks = naive_ranks(t, m, group_size)
    return np.array([(ranks <= k).mean() for k in range(top_k)])


def naive_matching_score(t, m, group_size):
    used = len(t) // group_size * group_size
    return sum(math.dist(t[i], m[i]) for i in range(used)) / used


def naive_trace_sqrt(s1, s2):
    "Tr((s1 s2)^1/2) for PSD s1, s2: the eigenvalues of s1 s2 equal those of s1^1/2 s2 s1^1/2 (symmetric PSD)."
    w, v = np.linalg.eigh(s1)
    r1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    ev = np.linalg.eigvalsh(r1 @ s2 @ r1)
    return np.sqrt(np.clip(ev, 0, None)).sum()


# ---------------------------------------------------------------- distances
@FAST
@given(seeds, st.integers(1, 20), st.integers(1, 20), st.integers(1, 16))
def test_distance_matrix_matches_direct_differences(seed, n, k, d):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(n, d)), rng.normal(size=(k, d))
    direct = np.array([[math.dist(x, y) for y in b] for x in a])
    np.testing.assert_allclose(M.euclidean_distance_matrix(a, b), direct, rtol=1e-9, atol=1e-6)
    same = M.euclidean_distance_matrix(a * 1e3, a * 1e3)
    assert (same >= 0).all() and np.isfinite(same).all()


# ---------------------------------------------------------------- R-precision and MM-Dist
@FAST
@given(seeds, st.integers(1, 5), st.integers(0, 40), st.sampled_from([4, 8, 32]), st.integers(1, 4),
       st.floats(0.3, 2.0))
def test_r_precision_matches_loops(seed, n_groups, extra, group_size, top_k, noise):
    n = n_groups * group_size + extra % group_size
    t, m = paired(seed, n, 6, noise)
    r = M.r_precision(t, m, top_k=top_k, group_size=group_size)
    np.testing.assert_array_equal(r, naive_r_precision(t, m, top_k, group_size))
    assert r.shape == (top_k,) and (np.diff(r) >= 0).all() and 0 <= r[0] and r[-1] <= 1


@FAST
@given(seeds, st.integers(32, 200), st.floats(0.3, 2.0))
def test_matching_score_matches_loops(seed, n, noise):
    t, m = paired(seed, n, 12, noise)
    assert math.isclose(M.matching_score(t, m), naive_matching_score(t, m, 32), rel_tol=1e-9)


@FAST
@given(seeds, st.integers(64, 200), st.integers(0, 1000))
def test_shuffle_is_a_seeded_permutation_of_rows(seed, n, shuffle_seed):
    t, m = paired(seed, n, 8, 1.0)
    perm = np.random.default_rng(shuffle_seed).permutation(n)
    np.testing.assert_array_equal(M.r_precision(t, m, shuffle=True, seed=shuffle_seed), M.r_precision(t[perm], m[perm]))
    assert M.matching_score(t, m, shuffle=True, seed=shuffle_seed) == M.matching_score(t[perm], m[perm])
    # the same seed always gives the same groups
    np.testing.assert_array_equal(M.r_precision(t, m, shuffle=True, seed=shuffle_seed),
                                  M.r_precision(t, m, shuffle=True, seed=shuffle_seed))


@FAST
@given(seeds)
def test_r_precision_invariant_to_within_group_permutation_and_full_at_group_size(seed):
    t, m = paired(seed, 64, 8, 1.5)
    rng = np.random.default_rng(seed)
    perm = np.concatenate([rng.permutation(32), 32 + rng.permutation(32)])   # rows stay in their group
    np.testing.assert_array_equal(M.r_precision(t, m), M.r_precision(t[perm], m[perm]))
    assert M.r_precision(t, m, top_k=32)[-1] == 1.0


def test_remainder_rows_are_ignored():
    t, m = paired(0, 64, 8, 1.0)
    junk_t, junk_m = paired(1, 6, 8, 50.0)
    t70, m70 = np.concatenate([t, junk_t]), np.concatenate([m, junk_m])
    np.testing.assert_array_equal(M.r_precision(t70, m70), M.r_precision(t, m))
    assert M.matching_score(t70, m70) == M.matching_score(t, m)


def test_float32_embeddings_keep_the_public_dtype():
    t, m = paired(3, 96, 16, 1.0)
    r32 = M.r_precision(t.astype(np.float32), m.astype(np.float32))
    assert r32.dtype == np.float64
    assert abs(M.matching_score(t.astype(np.float32), m.astype(np.float32)) - M.matching_score(t, m)) < 1e-4


# ---------------------------------------------------------------- FID
@FAST
@given(seeds, st.integers(2, 8), st.floats(0.2, 3.0))
def test_fid_properties(seed, d, scale):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(60, d))
    y = rng.normal(size=(50, d)) @ rng.normal(size=(d, d)) * scale + rng.normal(size=d)
    f = M.fid(x, y)
    assert abs(M.fid(x, x)) < 1e-6
    assert math.isclose(f, M.fid(y, x), rel_tol=1e-6, abs_tol=1e-6)
    assert f > -1e-6
    mu1, s1 = M.gaussian_stats(x)
    mu2, s2 = M.gaussian_stats(y)
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * naive_trace_sqrt(s1, s2)
    assert math.isclose(f, expected, rel_tol=1e-6, abs_tol=1e-6)
    shift = rng.normal(size=d)
    assert math.isclose(M.fid(x, x + shift), (shift ** 2).sum(), rel_tol=1e-6, abs_tol=1e-6)


@FAST
@given(st.lists(st.tuples(st.floats(-3, 3), st.floats(0.01, 9), st.floats(-3, 3), st.floats(0.01, 9)),
                min_size=1, max_size=6))
def test_frechet_distance_diagonal_closed_form(params):
    m1, v1, m2, v2 = map(np.array, zip(*params))
    closed = ((m1 - m2) ** 2).sum() + (v1 + v2 - 2 * np.sqrt(v1 * v2)).sum()
    assert math.isclose(M.frechet_distance(m1, np.diag(v1), m2, np.diag(v2)), closed, rel_tol=1e-8, abs_tol=1e-8)


def test_gaussian_stats_uses_n_minus_1_covariance():
    x = np.random.default_rng(0).normal(size=(10, 3))
    mu, s = M.gaussian_stats(x)
    c = x - x.mean(0)
    np.testing.assert_allclose(s, c.T @ c / 9, rtol=1e-12)
    np.testing.assert_allclose(mu, x.mean(0))


@pytest.mark.parametrize("n,d", [(5, 16), (3, 64), (20, 128)])
def test_fid_with_fewer_samples_than_dims_is_finite(n, d):
    rng = np.random.default_rng(n)
    x, y = rng.normal(size=(n, d)), rng.normal(size=(n + 1, d)) + 0.5
    f = M.fid(x, y)
    assert np.isfinite(f) and f > 0
    mu1, s1 = M.gaussian_stats(x)
    mu2, s2 = M.gaussian_stats(y)
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * naive_trace_sqrt(s1, s2)
    assert math.isclose(f, expected, rel_tol=1e-5, abs_tol=1e-5)


def test_fid_fallback_regularises_both_covariances(monkeypatch):
    "When the first square root is not finite, the second call gets (s1 + eps I)(s2 + eps I)."
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 16)), rng.normal(size=(6, 16))
    _, s1 = M.gaussian_stats(x)
    _, s2 = M.gaussian_stats(y)
    real_sqrtm, seen = M.sqrtm, []

    def failing_once(a):
        seen.append(a.copy())
        return np.full_like(a, np.inf) if len(seen) == 1 else real_sqrtm(a)

    monkeypatch.setattr(M, "sqrtm", failing_once)
    f = M.fid(x, y)
    assert len(seen) == 2 and np.isfinite(f)
    eye = np.eye(16) * 1e-6
    np.testing.assert_allclose(seen[1], (s1 + eye) @ (s2 + eye), rtol=1e-12)


def test_fid_nilpotent_product_uses_real_fallback():
    "scipy's sqrtm of a nilpotent product is not finite; the regularised retry gives the closed form."
    eps = 1e-6
    f = M.frechet_distance(np.zeros(2), np.array([[0., 1], [0, 0]]), np.zeros(2), np.eye(2))
    assert math.isclose(f, 2 - 4 * math.sqrt((1 + eps) * eps), rel_tol=1e-6)


def test_frechet_distance_rejects_large_imaginary_part():
    with pytest.raises(ValueError, match="imaginary"):
        M.frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.diag([-1.0, 1.0]))


# ---------------------------------------------------------------- Diversity and MultiModality
@FAST
@given(seeds, st.integers(1, 50), st.integers(1, 60), st.floats(0.1, 10))
def test_diversity_matches_loops_and_scales(seed, n_pairs, extra, scale):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_pairs + extra, 5))
    r = np.random.default_rng(seed)
    i1, i2 = r.choice(len(x), n_pairs, replace=False), r.choice(len(x), n_pairs, replace=False)
    naive = sum(math.dist(x[a], x[b]) for a, b in zip(i1, i2)) / n_pairs
    div = M.diversity(x, n_pairs=n_pairs, seed=seed)
    assert math.isclose(div, naive, rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(M.diversity(x * scale + 3.0, n_pairs=n_pairs, seed=seed), scale * div, rel_tol=1e-9, abs_tol=1e-9)
    assert len(set(i1)) == n_pairs and len(set(i2)) == n_pairs      # without replacement


def test_diversity_regular_simplex():
    "All distinct pairs are at sqrt(2)*s; a draw that pairs a point with itself contributes 0."
    n, s = 350, 2.5
    x = np.eye(n) * s
    for seed in range(5):
        r = np.random.default_rng(seed)
        i1, i2 = r.choice(n, 300, replace=False), r.choice(n, 300, replace=False)
        assert math.isclose(M.diversity(x, seed=seed), math.sqrt(2) * s * (i1 != i2).mean(), rel_tol=1e-12)


def test_diversity_legacy_stream_reproduces_global_numpy_draws():
    x = np.random.default_rng(1).normal(size=(400, 8)).astype(np.float32)
    np.random.seed(11)
    a, b = np.random.choice(400, 300, replace=False), np.random.choice(400, 300, replace=False)
    public = np.linalg.norm(x[a] - x[b], axis=1).mean()
    assert M.diversity(x, seed=np.random.RandomState(11)) == float(public)


@FAST
@given(seeds, st.integers(1, 12), st.integers(1, 8), st.integers(1, 10))
def test_multimodality_matches_loops(seed, n_texts, n_pairs, extra):
    n_rep = n_pairs + extra
    x = np.random.default_rng(seed).normal(size=(n_texts, n_rep, 4))
    r = np.random.default_rng(seed)
    j1, j2 = r.choice(n_rep, n_pairs, replace=False), r.choice(n_rep, n_pairs, replace=False)
    naive = sum(math.dist(x[i, a], x[i, b]) for i in range(n_texts) for a, b in zip(j1, j2)) / (n_texts * n_pairs)
    assert math.isclose(M.multimodality(x, n_pairs=n_pairs, seed=seed), naive, rel_tol=1e-9, abs_tol=1e-12)
    same = np.repeat(x[:, :1], n_rep, axis=1)
    assert M.multimodality(same, n_pairs=n_pairs, seed=seed) == 0.0


def test_seeds_are_deterministic():
    x = np.random.default_rng(0).normal(size=(400, 8))
    e = np.random.default_rng(1).normal(size=(10, 30, 8))
    assert M.diversity(x, seed=3) == M.diversity(x, seed=3)
    assert M.multimodality(e, seed=3) == M.multimodality(e, seed=3)
    assert M.diversity(x, seed=3) != M.diversity(x, seed=4)


# ---------------------------------------------------------------- aggregation
@FAST
@given(st.lists(st.floats(0, 10), min_size=1, max_size=30))
def test_aggregate_ci_is_population_std(values):
    agg = M.aggregate([{"FID": v} for v in values]).set_index("metric").loc["FID"]
    x = np.array(values)
    assert agg["n"] == len(x)
    assert agg["mean"] == np.mean(x)
    assert agg["ci95"] == 1.96 * np.std(x) / np.sqrt(len(x))


def test_aggregate_groups_models_and_expands_r_precision():
    reps = [{"model": "A", "R": [0.1, 0.2, 0.3], "FID": 1.0}, {"model": "A", "R": [0.3, 0.4, 0.5], "FID": 3.0},
            {"model": "B", "R": [0.5, 0.6, 0.7], "FID": 2.0}]
    agg = M.aggregate(reps)
    assert list(agg.columns) == ["model", "metric", "mean", "ci95", "n"]
    a = agg[agg.model == "A"].set_index("metric")
    assert a.loc["R@2", "mean"] == pytest.approx(0.3) and a.loc["FID", "ci95"] == pytest.approx(1.96 * 1 / math.sqrt(2))
    tab = M.format_table(agg)
    assert list(tab.index) == ["A", "B"] and list(tab.columns) == ["R@1", "R@2", "R@3", "FID"]
    assert tab.loc["B", "FID"] == "2.000 ± 0.000" and tab.loc["A", "FID"] == "2.000 ± 1.386"


# ---------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("call,match", [
    (lambda: M.r_precision(np.zeros((64, 4)), np.zeros((63, 4))), "same number of rows"),
    (lambda: M.r_precision(np.zeros((64, 4)), np.zeros((64, 5))), "same embedding size"),
    (lambda: M.r_precision(np.zeros((31, 4)), np.zeros((31, 4))), "group_size=32"),
    (lambda: M.r_precision(np.zeros((64, 4)), np.zeros((64, 4)), top_k=0), "top_k"),
    (lambda: M.r_precision(np.zeros((64, 4)), np.zeros((64, 4)), group_size=0), "group_size"),
    (lambda: M.r_precision(np.zeros(64), np.zeros(64)), "text_emb must be a 2-D"),
    (lambda: M.matching_score(np.zeros((64, 4)), np.zeros((64, 4, 1))), "motion_emb must be a 2-D"),
    (lambda: M.matching_score(np.full((64, 4), np.nan), np.zeros((64, 4))), "text_emb contains NaN"),
    (lambda: M.fid(np.zeros((10, 4)), np.zeros((10, 3))), "same embedding size"),
    (lambda: M.fid(np.zeros((10, 4)), np.zeros((1, 4))), "gen_emb"),
    (lambda: M.fid(np.zeros(10), np.zeros((10, 4))), "real_emb must be a 2-D"),
    (lambda: M.diversity(np.zeros((300, 4))), "n_pairs=300"),
    (lambda: M.diversity(np.zeros((30, 4)), n_pairs=-1), "n_pairs must be"),
    (lambda: M.diversity(np.zeros((30, 4, 2)), n_pairs=5), "emb must be a 2-D"),
    (lambda: M.multimodality(np.zeros((100, 10, 4))), "n_pairs=10"),
    (lambda: M.multimodality(np.zeros((100, 4))), "emb must be a 3-D"),
    (lambda: M.aggregate([]), "replications is empty"),
    (lambda: M.aggregate([1.0, 2.0]), r"replications\[0\]"),
    (lambda: M.format_table(pd.DataFrame({"x": [1]})), "expects the output of aggregate"),
])
def test_bad_inputs_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
