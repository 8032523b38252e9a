"Tests of the reward model (easytune.reward), its training stages (easytune.reward_training), retrieval metrics (easytune.retrieval), the recipe."
import time
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st, HealthCheck

from easytune.training import fit, seeded_batch
from easytune.layers import length_mask
from easytune.data import HumanML3D, make_toy_folder
from easytune.profiles import TINY_REWARD
from easytune.reward import RewardConfig, RewardModel, ToyReward, decoded_reward, load_reward
from easytune.reward_training import RewardRun, info_nce, reward_loss, reward_stages
from easytune.retrieval import retrieval_metrics

torch.set_num_threads(1)

def tiny(**kw):
    return RewardConfig(**{**dict(text_encoder='hash', **TINY_REWARD,
                                  chunks=2, batch_size=8, stage1_iters=20, stage1_lr=3e-3, stage2_iters=10, stage2_lr=1e-3,
                                  val_every=10, val_batches=1), **kw})

# --- the reward contract -------------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def batch():
    g = torch.Generator().manual_seed(0)
    L = torch.tensor([30, 12, 25])
    x = torch.randn(3, 30, 263, generator=g) * length_mask(L, 30)[..., None]
    return x, L, ['a person walks forward', 'someone jumps', 'a person waves the left hand']

def test_reward_gradients_reach_motion_not_params(batch):
    x, L, c = batch
    torch.manual_seed(0); rm = RewardModel(tiny()).freeze()
    xg = x.clone().requires_grad_(True)
    r = rm.reward(xg, c, L); r.mean().backward()
    assert r.shape == (3,) and xg.grad is not None and xg.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in rm.parameters())
    assert (xg.grad[1, 12:] == 0).all()                 # padding does not influence the reward

def test_reward_deterministic_and_eval(batch):
    x, L, c = batch
    torch.manual_seed(0); rm = RewardModel(tiny(dropout=0.5)).freeze()
    r1 = rm(x, c, L); rm.train(); r2 = rm(x, c, L); r3 = rm(x, c, L)
    assert torch.equal(r1, r2) and torch.equal(r2, r3) and not rm.training
    mu_t = rm.encode_text(c)[0]; mu_m = rm.encode_motion(x, L)[0]
    assert torch.allclose(r1, F.cosine_similarity(mu_t, mu_m, dim=-1), atol=1e-6)   # cosine of the latent means

def test_noise_aware_t_handling(batch):
    x, L, c = batch
    torch.manual_seed(0); clean = RewardModel(tiny()).freeze(); na = RewardModel(tiny(noise_aware=True)).freeze()
    assert torch.equal(clean(x, c, L, t=0), clean(x, c, L))
    with pytest.raises(ValueError, match='not noise-aware'): clean(x, c, L, t=5)
    assert torch.allclose(na(x, c, L), na(x, c, L, t=0))
    assert not torch.allclose(na(x, c, L, t=0), na(x, c, L, t=400))
    assert torch.allclose(na(x, c, L, t=torch.tensor([400, 400, 400])), na(x, c, L, t=400))
    assert torch.allclose(na(x, c, L, t=999), na(x, c, L, t=na.config.max_noise_t))   # clamped to the trained range
    with pytest.raises(ValueError, match='timesteps'): na(x, c, L, t=torch.tensor([1, 2]))
    with pytest.raises(TypeError): na(x, c, L, t=0.5)

def test_toy_reward_and_decoded_reward(batch):
    x, L, c = batch
    toy = ToyReward()
    r = toy(x, c, L, t=3)
    assert r.shape == (3,) and torch.equal(r, toy(x, c, L))
    class Dec:                                                    # a latent "backbone": decode = fixed linear map
        W = torch.randn(4, 263)
        def decode(self, z, lengths): return (z @ self.W) * length_mask(lengths, z.shape[1])[..., None]
    z = torch.randn(3, 30, 4, requires_grad=True)
    s = decoded_reward(Dec(), toy)(z, c, L)
    assert torch.allclose(s, toy(Dec().decode(z, L), c, L))
    s.sum().backward(); assert z.grad.abs().sum() > 0

@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(1, 40), min_size=1, max_size=5), st.integers(1, 3), st.booleans())
def test_reward_ignores_padding(lens, patch, noise_aware):
    torch.manual_seed(0); rm = RewardModel(tiny(patch=patch, noise_aware=noise_aware)).freeze()
    L = torch.tensor(lens); T = int(L.max()) + 3
    valid = length_mask(L, T)[..., None]
    x = torch.randn(len(lens), T, 263) * valid
    caps = [f'caption {i}' for i in range(len(lens))]
    garbage = x + 5 * (~valid) * torch.randn_like(x)
    assert torch.allclose(rm(x, caps, L, t=7 if noise_aware else None), rm(garbage, caps, L, t=7 if noise_aware else None), atol=1e-5)
    one = torch.stack([rm(x[i:i + 1, :lens[i]], caps[i:i + 1], L[i:i + 1])[0] for i in range(len(lens))])
    assert torch.allclose(one, rm(x, caps, L), atol=1e-5)          # the batch (and its chunks) do not matter

# --- training -------------------------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def toy_root(tmp_path_factory):
    ids = [f'{i:06d}' for i in range(24)]
    return make_toy_folder(tmp_path_factory.mktemp('rw') / 'toy', [40 + 5 * i for i in range(24)], seed=1,
                           splits={'train': ids[:16], 'val': ids[16:20], 'test': ids[20:]})

def test_smoke_training_both_stages(toy_root):
    tr, va = HumanML3D(toy_root, 'train', progress=False), HumanML3D(toy_root, 'val', progress=False)
    torch.manual_seed(0); pair = RewardRun(tiny(), control=False)
    t0 = time.perf_counter()
    s1, s2 = reward_stages(pair, precompute=[tr, va])
    h1 = fit(s1, tr, va, seed=0, progress=False)
    before = {k: v.clone() for k, v in pair.clean.state_dict().items()}
    h2 = fit(s2, tr, va, seed=0, progress=False)
    assert time.perf_counter() - t0 < 30
    assert np.mean(h1['loss'][-4:]) < np.mean(h1['loss'][:4])
    assert bool(pair.spl_initialised) and all('spl' in l for l in h2['logs'])
    assert all(torch.equal(v, pair.clean.state_dict()[k]) for k, v in before.items())
    assert any(not torch.equal(a, b) for a, b in zip(pair.clean.state_dict().values(), pair.spl.state_dict().values()))

def test_loss_is_seeded(toy_root):
    tr = HumanML3D(toy_root, 'train', progress=False)
    torch.manual_seed(0); m = RewardModel(tiny(noise_aware=True)).train()
    b = seeded_batch(tr, 8, 0, 0)
    a = reward_loss(m, b, torch.Generator().manual_seed(1))[0]; a2 = reward_loss(m, b, torch.Generator().manual_seed(1))[0]
    assert torch.equal(a, a2)

def test_info_nce_masks_negatives():
    z = torch.tensor([[1., 0], [1., 0.05], [0, 1]])
    m = torch.zeros(3, 3, dtype=torch.bool); m[0, 1] = m[1, 0] = True
    assert info_nce(z, z, 0.1, m) < info_nce(z, z, 0.1)

# --- retrieval ------------------------------------------------------------------------------------------------------

def test_retrieval_perfect_and_permutation():
    e = torch.randn(64, 6)
    r = retrieval_metrics(e, e)
    assert r['T2M R@1'] == 100 and r['M2T R@1'] == 100 and r['T2M MedR'] == 1
    t, m = torch.randn(40, 6), torch.randn(40, 6)
    p = torch.randperm(40)
    a, b = retrieval_metrics(t, m, 'all'), retrieval_metrics(t[p], m[p], 'all')
    assert all(a[k] == pytest.approx(b[k]) for k in a)
    for d in ('T2M', 'M2T'):
        ks = [a[f'{d} R@{k}'] for k in (1, 2, 3, 5, 10)]
        assert ks == sorted(ks)

# --- the recipe -----------------------------------------------------------------------------------------------------

def test_recipe_caches(toy_root, tmp_path, monkeypatch):
    monkeypatch.setenv('EASYTUNE_CACHE', str(tmp_path / 'cache'))
    from easytune.pretrain import pretrain, model_dir
    cfg = tiny(stage1_iters=3, stage2_iters=3, batch_size=4, val_every=3)
    m1, info1 = pretrain('reward', toy_root, 'smoke', config=cfg, progress=False)
    assert m1.noise_aware and m1.frozen
    assert {k: v['iters'] for k, v in info1['stages'].items()} == {'reward-stage1': 3, 'reward-noise': 3, 'reward-spl': 3}
    t0 = time.perf_counter(); m2, info2 = pretrain('reward', toy_root, 'smoke', config=cfg, progress=False)
    assert time.perf_counter() - t0 < 5 and info2 == info1
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    d = model_dir('reward', toy_root, 'smoke', config=cfg)
    assert not load_reward(d / 'model.pt', 'clean').noise_aware and load_reward(d / 'model.pt', 'noise').noise_aware
    assert model_dir('reward', toy_root, 'smoke', config=tiny(stage1_iters=4, stage2_iters=3, batch_size=4, val_every=3)) != d
