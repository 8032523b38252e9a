"""easytune.physical: plausibility metrics on trajectories whose values are known analytically, the differentiable
penalties (values and gradients), the plausibility-aware reward, and evaluate(..., physical=True)."""
import math

import numpy as np
import pandas as pd
import pytest
import torch

from easytune.motion import TARGET_SKELETON_JOINTS, features_from_joints, recover_from_ric
from easytune.physical import (CONTACT_HEIGHT, FEET, PHYSICAL_METRICS, PlausibleReward, merge_sums, metrics_from_sums,
                               physical_metrics, physical_penalties, physical_sums, physical_summary)
from easytune.reward import ToyReward

FPS = 20
STAND = TARGET_SKELETON_JOINTS - np.array([0., TARGET_SKELETON_JOINTS[:, 1].min(), 0.])   # lowest joint on y = 0


def still(n):
    return np.repeat(STAND[None], n, 0).astype(np.float64)


def glide(speeds):
    "The standing body carried along x by `speeds[t]` metres between frames t and t + 1 (feet on the floor)."
    j = still(len(speeds) + 1)
    j[1:, :, 0] += np.cumsum(speeds)[:, None]
    return j


# --- the metrics ---------------------------------------------------------------------------------------------------

def test_standing_still_is_plausible():
    m = physical_metrics(still(10))
    for k in ('foot_skating_ratio', 'foot_skating_dist', 'penetration', 'penetration_max', 'jerk', 'bone_length_dev'):
        assert m[k] == 0.0, k
    assert math.isnan(m['floating'])                       # both toes always in contact


@pytest.mark.parametrize('speed,skates', [(0.03, True), (0.02, False), (0.026, True), (0.024, False)])
def test_a_sliding_foot_at_a_known_speed(speed, skates):
    m = physical_metrics(glide(np.full(8, speed)))        # 8 transitions, both toes in contact, sliding at `speed`
    assert m['foot_skating_ratio'] == (1.0 if skates else 0.0)
    assert m['foot_skating_dist'] == pytest.approx(2 * speed * FPS if skates else 0.0, rel=1e-9)


def test_skating_ratio_counts_transitions_and_either_foot():
    j = glide(np.r_[np.full(6, 0.04), np.zeros(14)])       # 6 of 20 transitions skate
    assert physical_metrics(j)['foot_skating_ratio'] == pytest.approx(6 / 20)
    one = still(5); one[:, FEET[1], 2] += 0.05 * np.arange(5)          # only the right toe slides, along z
    m = physical_metrics(one)
    assert m['foot_skating_ratio'] == 1.0 and m['foot_skating_dist'] == pytest.approx(0.05 * FPS)
    lifted = physical_metrics(glide(np.full(8, 0.04)) + np.array([0., CONTACT_HEIGHT + 0.01, 0.]))
    assert lifted['foot_skating_ratio'] == 0.0                          # no contact, no skating


@pytest.mark.parametrize('depth', [0.01, 0.1, 0.25])
def test_a_body_sunk_by_a_known_depth(depth):
    j = still(12); j[..., 1] -= depth
    m = physical_metrics(j)
    assert m['penetration'] == pytest.approx(depth) and m['penetration_max'] == pytest.approx(depth)
    j = still(12); j[3:6, :, 1] -= depth                                 # sunk on 3 of 12 frames
    m = physical_metrics(j)
    assert m['penetration'] == pytest.approx(depth * 3 / 12) and m['penetration_max'] == pytest.approx(depth)


def test_floating_is_the_lowest_joint_height_without_contact():
    j = still(10); j[:5, :, 1] += 0.2; j[5:8, :, 1] += 0.4                # 8 free frames: 5 at 0.2, 3 at 0.4
    assert physical_metrics(j)['floating'] == pytest.approx((5 * 0.2 + 3 * 0.4) / 8)


def test_constant_acceleration_has_zero_jerk_and_a_cubic_has_6c_fps3():
    t = np.arange(20.)[:, None, None]
    rng = np.random.default_rng(0)
    v, a, c = rng.normal(size=3) * 0.01, rng.normal(size=3) * 0.002, rng.normal(size=3) * 1e-4
    assert physical_metrics(still(20) + v * t + a * t ** 2 / 2)['jerk'] < 1e-9
    for fps in (20, 12.5):
        got = physical_metrics(still(20) + c * t ** 3, fps=fps)['jerk']
        assert got == pytest.approx(6 * np.linalg.norm(c) * fps ** 3, rel=1e-6)


@pytest.mark.parametrize('factor', [1.1, 1.5, 0.8])
def test_a_bone_stretched_by_a_known_factor(factor):
    j = still(9)
    for f in (1, 4):                                         # the right thigh (hip 2 -> knee 5) on 2 of 9 frames
        d = (j[f, 5] - j[f, 2]) * (factor - 1)
        j[f, [5, 8, 11]] += d                                # the knee and everything below it move along the bone
    assert physical_metrics(j)['bone_length_dev'] == pytest.approx(abs(factor - 1), rel=1e-9)


def test_batches_pool_frames_and_ignore_padding():
    a, b = glide(np.full(10, 0.03)), still(6)
    b[..., 1] -= 0.05
    batch = np.full((2, 11, 22, 3), np.nan); batch[0], batch[1, :6] = a, b
    pooled = physical_metrics(batch, [11, 6])
    assert pooled['foot_skating_ratio'] == pytest.approx(10 / (10 + 5))
    assert pooled['penetration'] == pytest.approx(6 * 0.05 / (11 + 6))
    rows = physical_metrics(batch, np.array([11, 6]), per_clip=True)
    assert len(rows) == 2 and rows.loc[0, 'foot_skating_ratio'] == 1.0 and rows.loc[1, 'penetration'] == pytest.approx(0.05)
    pd.testing.assert_series_equal(pd.Series(metrics_from_sums(merge_sums(physical_sums(a), physical_sums(b)))),
                                   pd.Series(pooled))


def test_features_are_recovered_and_real_clips_sit_on_the_floor():
    from data_prep.synthetic import make_clip
    f = features_from_joints(make_clip(0, 4)['joints'])
    m = physical_metrics(f)
    assert m['penetration_max'] < 1e-6 and m['bone_length_dev'] < 1e-5 and m['foot_skating_ratio'] < 0.3
    assert m == pytest.approx(physical_metrics(recover_from_ric(f)), rel=1e-4, abs=1e-6, nan_ok=True)


@pytest.mark.parametrize('call,match', [
    (lambda: physical_metrics(np.zeros((5, 21, 3))), 'joints: expected'),
    (lambda: physical_metrics(np.zeros((2, 5, 22, 3)), [5, 6]), 'lengths'),
    (lambda: physical_metrics(np.zeros((2, 5, 22, 3)), [5, 1]), 'lengths'),
    (lambda: physical_metrics(np.full((5, 22, 3), np.nan)), 'NaN'),
    (lambda: physical_metrics(still(5), fps=-1), 'fps'),
    (lambda: physical_metrics(still(5), contact_height=0), 'contact_height'),
    (lambda: physical_metrics(still(5), feet=(22,)), 'feet'),
    (lambda: physical_summary(pd.DataFrame({'model': ['a']})), 'columns'),
])
def test_bad_input_fails_with_one_clear_error(call, match):
    with pytest.raises(ValueError, match=match): call()


# --- the penalties ---------------------------------------------------------------------------------------------------

def soft(h): return 1 / (1 + math.exp(-(CONTACT_HEIGHT - h) / 0.01))


def pen(j, **kw):
    return {k: float(v[0]) for k, v in physical_penalties(torch.as_tensor(j)[None], **kw).items()}


def test_penalties_on_known_trajectories():
    j = still(10); j[..., 1] -= 0.03
    assert pen(j)['penetration'] == pytest.approx(0.03)
    w = sum(soft(STAND[f, 1]) ** 2 for f in FEET)
    assert pen(glide(np.full(6, 0.02)))['skating'] == pytest.approx(w * 0.02 * FPS, rel=1e-6)   # no threshold
    t = np.arange(12.)[:, None, None]; c = np.array([1e-4, 2e-4, 0.])
    assert pen(still(12) + c * t ** 3)['jerk'] == pytest.approx(6 * np.linalg.norm(c) * FPS ** 3, rel=1e-4)
    p = physical_penalties(torch.as_tensor(np.stack([glide(np.full(6, 0.02)), still(7)])), torch.tensor([7, 3]))
    assert p['skating'][1] < 1e-5 and p['jerk'][1] < 1e-5          # still; and no jerk term within 3 frames


def test_penalty_gradients_match_finite_differences():
    """gradcheck (float64) through recover_from_ric and every penalty, with lengths and a body 1 cm into the floor.
    A real clip jittered a little: a planted toe, a static joint (norms at 0) or two toes at the same height (a tie
    of the min) are kinks where finite differences and the (valid) subgradient disagree."""
    from data_prep.synthetic import make_clip
    f = torch.as_tensor(features_from_joints(make_clip(0, 3)['joints'])[:12], dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    x = (torch.stack([f, f.flip(0)]) + 0.02 * torch.randn(2, 12, 263, generator=g, dtype=torch.float64)).requires_grad_(True)
    lens = torch.tensor([12, 9])
    for name in ('skating', 'penetration', 'jerk'):
        def fn(x, name=name):
            j = recover_from_ric(x) - torch.tensor([0., 0.01, 0.], dtype=x.dtype)    # 1 cm sunk: penetration is active
            return physical_penalties(j, lens, softness=0.02)[name]
        assert (fn(x) > 0).all(), name
        assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=True), name
    out = sum(v.sum() for v in physical_penalties(recover_from_ric(x), lens).values())
    out.backward()
    assert torch.isfinite(x.grad).all() and x.grad[0].abs().sum() > 0 and x.grad[1, 9:].abs().sum() == 0


def test_recover_from_ric_torch_equals_numpy():
    from data_prep.synthetic import make_clip
    f = features_from_joints(make_clip(0, 5)['joints'])
    np.testing.assert_allclose(recover_from_ric(torch.as_tensor(f, dtype=torch.float64)).numpy(), recover_from_ric(f),
                               atol=1e-5)


def test_plausible_reward_is_the_reward_minus_weighted_penalties():
    from data_prep.synthetic import make_clip
    feats = np.stack([features_from_joints(make_clip(0, i)['joints'])[:40] for i in (0, 3)])
    mean, std = feats.reshape(-1, 263).mean(0), feats.reshape(-1, 263).std(0) + 1e-2
    x = torch.as_tensor((feats - mean) / std, dtype=torch.float32)
    texts, lens, toy = ['a', 'b'], torch.tensor([40, 30]), ToyReward(263)
    w = {'skating': 0.5, 'penetration': 3.0, 'jerk': 2e-4}
    pr = PlausibleReward(toy, mean, std, w)
    joints = recover_from_ric(torch.as_tensor(feats, dtype=torch.float32))          # de-normalised by hand
    p = physical_penalties(joints, lens)
    expect = toy(x, texts, lens) - sum(w[k] * p[k] for k in w)
    torch.testing.assert_close(pr(x, texts, lens), expect, rtol=1e-4, atol=1e-5)
    assert torch.equal(PlausibleReward(toy, mean, std, {'jerk': 0.0})(x, texts, lens), toy(x, texts, lens))
    with pytest.raises(ValueError, match='clean motions'): pr(x, texts, lens, t=5)


def test_physical_summary_for_results_json():
    tab = pd.DataFrame({'model': ['Real', 'Real', 'm'], 'metric': ['jerk', 'FID', 'penetration'],
                        'mean': [1.0, 0.0, 0.01], 'ci95': [0.1, 0.0, float('nan')]})
    got = physical_summary(tab)
    assert set(got) == {'Real', 'm'} and all(set(v) == set(PHYSICAL_METRICS) for v in got.values())
    assert got['Real']['jerk'] == {'mean': 1.0, 'ci95': 0.1} and got['m']['penetration'] == {'mean': 0.01, 'ci95': None}
    assert got['m']['jerk'] == {'mean': None, 'ci95': None}
    assert set(PHYSICAL_METRICS) >= {'foot_skating_ratio', 'penetration', 'floating', 'jerk', 'bone_length_dev'}
