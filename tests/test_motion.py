"""Property and conformance tests for easytune.motion (features <-> joints, kinematics, quaternions)."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from easytune import motion as M

FIX = M.find_fixture_dir(__file__)
needs_fixtures = pytest.mark.skipif(FIX is None, reason="real HumanML3D fixtures not found")


def random_motion(seed, n=50):
    "A random, smooth motion through SMPL-style FK: random joint-angle curves, a wandering root."
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, n)[:, None]
    axes = rng.normal(size=(22, 3))
    amp, freq, phase = rng.uniform(0, 0.8, 22), rng.uniform(0.3, 2, 22), rng.uniform(0, 6, 22)
    angles = amp * np.sin(2 * np.pi * freq * t + phase)                     # [n, 22]
    rots = M.quat_from_axis_angle_np(np.broadcast_to(axes, (n, 22, 3)), angles)
    rots[:, 0] = M.quat_from_axis_angle_np([0., 1, 0], rng.uniform(-3, 3) + rng.uniform(-2, 2) * t[:, 0])
    root = np.c_[rng.normal() * t, 0.9 + 0.05 * np.sin(5 * t), rng.normal() * t]
    return M.forward_kinematics_local(root, rots)


@needs_fixtures
def test_recover_from_ric_matches_real_joints():
    fv, fj = np.load(FIX / 'new_joint_vecs_012314.npy'), np.load(FIX / 'new_joints_012314.npy')
    err = np.abs(M.recover_from_ric(fv) - fj).max()
    print(f"recover_from_ric(new_joint_vecs_012314) vs new_joints_012314: {err:.2e} m")
    assert err <= 1e-5


@needs_fixtures
def test_features_from_real_joints_per_group():
    fv, fj = np.load(FIX / 'new_joint_vecs_012314.npy'), np.load(FIX / 'new_joints_012314.npy')
    ours = M.features_from_joints(fj)
    assert ours.shape == (169, 263) and ours.dtype == np.float32
    head = M.feature_group_errors(ours[:89], fv[:89])
    whole = M.feature_group_errors(ours, fv[:169])
    print("\nfeature group | max abs error, first 89 frames | whole clip (169 frames)")
    for k in head: print(f"{k:>13} | {head[k]:.3e} | {whole[k]:.3e}")
    for k in ['rot_vel', 'lin_vel', 'root_y', 'ric', 'local_vel', 'contacts']:
        assert head[k] <= 1e-4, (k, head[k])
    assert head['rot6d'] <= 1e-3


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.integers(8, 80))
def test_round_trip_generated(seed, n):
    j = random_motion(seed, n)
    f = M.features_from_joints(j)
    assert f.shape == (n - 1, 263) and np.isfinite(f).all()
    np.testing.assert_allclose(M.recover_from_ric(f), M.canonicalize_joints(j)[:-1], atol=1e-4)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_canonical_frame(seed):
    "Canonical joints: target bone lengths, on the floor, root at the XZ origin, facing +Z at frame 0."
    c = M.canonicalize_joints(random_motion(seed, 30) * 1.3)      # a taller body is retargeted
    np.testing.assert_allclose(M.bone_lengths(c), np.broadcast_to(M.bone_lengths(M.TARGET_SKELETON_JOINTS), (30, 21)), atol=1e-6)
    assert abs(c[..., 1].min()) < 1e-9
    np.testing.assert_allclose(c[0, 0, [0, 2]], 0, atol=1e-9)
    across = (c[0, 2] - c[0, 1]) + (c[0, 17] - c[0, 16])
    fwd = np.cross([0, 1, 0], across)
    np.testing.assert_allclose(fwd / np.linalg.norm(fwd), [0, 0, 1], atol=1e-9)


def test_recover_from_ric_is_batched_and_differentiable():
    f = torch.tensor(M.features_from_joints(random_motion(1, 20)), dtype=torch.float64)
    batch = torch.stack([f, f * 1.01])
    out = M.recover_from_ric(batch)
    assert out.shape == (2, 19, 22, 3)
    torch.testing.assert_close(out[0], M.recover_from_ric(f))
    x = f[:6].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z: M.recover_from_ric(z), (x,), eps=1e-6, atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_quaternion_identities(seed):
    g = torch.Generator().manual_seed(seed)
    a, b = (M.qnormalize(torch.randn(8, 4, generator=g, dtype=torch.float64)) for _ in range(2))
    v = torch.randn(8, 3, generator=g, dtype=torch.float64)
    torch.testing.assert_close(M.qrot(M.qmul(a, b), v), M.qrot(a, M.qrot(b, v)))
    torch.testing.assert_close(M.qrot(a, v).norm(dim=-1), v.norm(dim=-1))
    torch.testing.assert_close(M.cont6d_to_matrix(M.quat_to_cont6d(a)), M.quat_to_matrix(a))


def test_feature_slices_kit():
    g = M.feature_groups(21)
    assert M.feature_dim(21) == 251 and g['ric'] == slice(4, 64) and g['contacts'] == slice(247, 251)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="joints"): M.features_from_joints(np.zeros((10, 22)))
    bad = random_motion(0, 10); bad[3, 4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"): M.features_from_joints(bad)
    with pytest.raises(ValueError, match="features"): M.recover_from_ric(np.zeros((5, 10)))
