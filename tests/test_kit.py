"KIT-ML's format: the 21-joint skeleton and 251-d features, the synthetic KIT-format folder, its loader, evaluator and model sizes."
import json

import numpy as np
import pytest
import torch

import easytune.motion as M
from data_prep import synthetic
from data_prep.synthetic import kit_joints, make_motion, resample

PARTS = [('jump_in_place', dict(count=2))]


@pytest.fixture(scope='module')
def world():
    return make_motion(PARTS, seed=1)                      # [N, 22, 3] metres, 20 fps


@pytest.fixture(scope='module')
def kit_root(tmp_path_factory):
    out = tmp_path_factory.mktemp('kit') / 'kit3'
    assert synthetic.main(['--out', str(out), '--n', '3', '--seed', '2', '--format', 'kit', '--workers', '1', '--quiet']) == 0
    return out


def test_skeleton_tables():
    sk = M.KIT_SKELETON
    assert sk.joints_num == M.KIT_JOINTS_NUM == 21 and sk.feat_dim == M.KIT_FEAT_DIM == 251
    assert len(sk.joint_names) == 21 and sk.raw_offsets.shape == (21, 3)
    for chain in sk.chains:                                # parents agree with the kinematic chains
        for a, b in zip(chain[:-1], chain[1:]): assert sk.parents[b] == a
    assert sorted(sk.left_chain + sk.right_chain) == sorted(set(sk.left_chain + sk.right_chain))
    assert M.feature_groups(21)['contacts'] == slice(247, 251)
    # HumanML3D's spec holds exactly the old module constants
    t = M.T2M_SKELETON
    np.testing.assert_array_equal(t.target_offsets(), M.target_offsets())
    assert t.joints_num == 22 and t.feat_dim == 263 and t.mirror_perm() == M._MIRROR_PERM


def test_humanml3d_path_unchanged(world):
    f = M.features_from_joints(world)
    np.testing.assert_array_equal(f, M.features_from_joints(world, skeleton=M.T2M_SKELETON))
    np.testing.assert_array_equal(f, M.features_from_joints(world, feet_thre=0.002))
    assert f.shape == (len(world) - 1, 263)


def test_resample_and_units(world):
    x = np.arange(41.0)[:, None]
    np.testing.assert_allclose(resample(x, 20, 12.5)[:, 0], np.arange(26) * 1.6)
    kj = kit_joints(world)
    assert kj.shape == ((len(world) - 1) * 5 // 8 + 1, 21, 3)
    np.testing.assert_allclose(kj[0], M.kit_joints_from_t2m(world[0]))           # millimetres
    assert 500 < kj[0, 0, 1] < 1500


def test_kit_feature_round_trip(world):
    kj = kit_joints(world)
    f = M.features_from_joints(kj, skeleton=M.KIT_SKELETON)
    assert f.shape == (len(kj) - 1, 251) and np.isfinite(f).all()
    canon = M.canonicalize_joints(kj, skeleton=M.KIT_SKELETON)
    rec = M.recover_from_ric(f, joints_num=21)
    np.testing.assert_allclose(rec, canon[:-1], atol=0.05)   # mm
    # the retargeted skeleton keeps KIT's target bone lengths
    np.testing.assert_allclose(M.bone_lengths(canon, M.KIT_SKELETON.parents),
                               np.broadcast_to(np.linalg.norm(M.KIT_SKELETON.target_offsets()[1:], axis=-1), (len(canon), 20)),
                               atol=1e-6)
    # mirroring twice is the identity; the mirrored motion's features are finite and 251-d
    mj = M.mirror_joints(kj, M.KIT_SKELETON)
    np.testing.assert_allclose(M.mirror_joints(mj, M.KIT_SKELETON), kj)
    assert M.features_from_joints(mj, skeleton=M.KIT_SKELETON).shape == f.shape
    assert 0 < f[:, 247:].mean() < 1                        # some contacts, not all


def test_kit_folder_loads(kit_root):
    from easytune.data import HumanML3D, KIT, detect_spec
    info = json.loads((kit_root / 'dataset.json').read_text())
    assert info['format'] == 'kit' and info['feat_dim'] == 251 and info['fps'] == 12.5 and info['units'] == 'mm'
    assert np.load(kit_root / 'Mean.npy').shape == (251,) and np.load(kit_root / 'meta' / 'std.npy').shape == (251,)
    assert detect_spec(kit_root) is KIT
    f = np.load(kit_root / 'new_joint_vecs' / '000000.npy'); j = np.load(kit_root / 'new_joints' / '000000.npy')
    assert f.shape[1] == 251 and j.shape == (len(f), 21, 3)
    np.testing.assert_allclose(M.recover_from_ric(f, joints_num=21), j, atol=1e-3)
    for split, normalise in (('train', 'dataset'), ('test', 'evaluator')):
        ds = HumanML3D(kit_root, split, normalise=normalise, progress=False)     # spec detected from the folder
        assert ds.spec is KIT and len(ds) > 0
        assert ds[0]['motion'].shape[-1] == 251


def test_evaluator_and_models_at_251(kit_root):
    from easytune.evaluator import EvaluatorConfig, T2MEvaluator
    from easytune.profiles import TINY_EVALUATOR
    from easytune.pretrain import data_feat_dim, with_feat_dim
    from easytune.mld import MLDConfig
    from easytune.reward import RewardConfig
    ev = T2MEvaluator(EvaluatorConfig(**{**TINY_EVALUATOR, 'dim_pose': 251}))
    assert ev.movement_encoder.main[0].in_channels == 247
    emb = ev.motion_embedding(torch.randn(2, 24, 251), torch.tensor([24, 16]))
    assert emb.shape == (2, ev.config.dim_coemb)
    assert data_feat_dim(kit_root) == 251
    c = with_feat_dim(MLDConfig(), 251); assert c.feat_dim == 251 and MLDConfig().feat_dim == 263
    assert with_feat_dim(EvaluatorConfig(), 251).dim_pose == 251
    assert with_feat_dim(RewardConfig(), 251).feat_dim == 251
    c0 = MLDConfig(); assert with_feat_dim(c0, 263) is c0


def test_cli_rejects_unknown_format(tmp_path, capsys):
    with pytest.raises(SystemExit): synthetic.main(['--out', str(tmp_path / 'x'), '--format', 'amass'])
    with pytest.raises(ValueError, match='dataset'): synthetic.generate(tmp_path / 'y', 1, dataset='amass')
