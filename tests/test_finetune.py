"""Tests for easytune.finetune: each preset's gradient flow, budgets, determinism, resume, config errors, CLI."""
import copy
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings, strategies as st

from easytune.backbone import ToyBackbone, ToyBackboneConfig
from easytune.data import make_toy_folder
from easytune.finetune import (PRESETS, FinetuneConfig, Finetuner, Plan, finetune, get_config, plan_steps, smoke_all,
                               tiny_backbone, main)
from easytune.reward import ToyReward

TEXTS, LENS = ['a person walks', 'a person jumps', 'someone waves'], [8, 6, 4]
N = 50


def toy(seed=0, cfg_scale=2.0):
    torch.manual_seed(seed)
    return ToyBackbone(ToyBackboneConfig(cfg_scale=cfg_scale)), ToyReward(6)


def weights(bb):
    return torch.cat([q.detach().flatten() for q in bb.denoiser_parameters()])


def probe(method, seed=1, **kw):
    bb, rw = toy()
    ft = Finetuner(bb, rw, get_config(method, batch_size=3, **kw))
    return ft.update(TEXTS, LENS, torch.Generator().manual_seed(seed), probe=True)


def reached(logs):
    return [i for i, s in enumerate(logs['state_grad']) if s]


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    return make_toy_folder(tmp_path_factory.mktemp('ft') / 'toy', [40 + 4 * i for i in range(14)],
                           splits={'train': [f'{i:06d}' for i in range(10)], 'val': [f'{i:06d}' for i in range(10, 14)]})


# --- gradient flow per preset (the table) -----------------------------------------------------------------------

@pytest.mark.parametrize('seed', [1, 2, 3])
def test_easytune_no_gradient_crosses_steps(seed):
    for m in ('easytune', 'easytune-chain'):
        L = probe(m, seed)
        assert L['grad_steps'] == L['scored_steps'] == tuple(range(40, 50))
        assert L['n_opt_steps'] == 10 and L['n_denoiser_calls'] == 50
        assert reached(L) == []                                   # neither x_T nor any state gets a gradient


@pytest.mark.parametrize('K', [1, 10, 50])
def test_draft_graph_spans_exactly_k_steps(K):
    L = probe(f'draft-{K}')
    assert L['grad_steps'] == tuple(range(N - K, N)) and L['scored_steps'] == () and L['n_opt_steps'] == 1
    assert reached(L) == list(range(N - K + 1 if K < N else 0, N + 1))


@pytest.mark.parametrize('M', [10, 20])
@pytest.mark.parametrize('seed', range(4))
def test_refl_scores_x0_at_one_step_in_window(M, seed):
    L = probe(f'refl-{M}', seed)
    assert N - M + 1 <= L['stop'] <= N - 1
    assert L['grad_steps'] == L['scored_steps'] == (L['stop'],)
    assert L['n_denoiser_calls'] == L['stop'] + 1 and L['n_opt_steps'] == 1 and reached(L) == []


@pytest.mark.parametrize('seed', range(4))
def test_drtune_linear_path_only(seed):
    L = probe('drtune', seed)
    g, stop = L['grad_steps'], L['stop']
    assert 41 <= stop <= 49 and L['scored_steps'] == (stop,) and L['n_opt_steps'] == 1
    assert all(b - a == 10 for a, b in zip(g, g[1:])) and g[0] < 10
    assert reached(L) == [0] * (g[0] == 0) + list(range(g[0] + 1, stop + 1))


@pytest.mark.parametrize('seed', range(4))
def test_alignprop_truncation(seed):
    L = probe('alignprop', seed)
    kd = len(L['grad_steps'])
    assert 1 <= kd <= N and L['grad_steps'] == tuple(range(N - kd, N)) and L['n_opt_steps'] == 1
    assert reached(L) == list(range(N - kd + 1 if kd < N else 0, N + 1))


def test_input_detach_blocks_network_jacobian():
    """Same steps, same final reward: 'none' (DRaFT) reaches the early states, 'input' only via the linear path."""
    a = probe('draft-10', detach='none')
    b = probe('draft-10', detach='input')
    assert reached(a) == reached(b) == list(range(41, 51))      # both carry the state, but through different paths
    bb, rw = toy()
    grads = {}
    for d in ('none', 'input'):
        bb, rw = toy()
        ft = Finetuner(bb, rw, get_config('draft-10', batch_size=3, detach=d))
        ft._opt_step = lambda: 0.0
        ft.update(TEXTS, LENS, torch.Generator().manual_seed(1))
        grads[d] = torch.cat([q.grad.flatten() for q in ft.params])
    assert not torch.allclose(grads['none'], grads['input'])


def test_opt_steps_per_update_per_preset():
    expect = {'easytune': 10, 'easytune-chain': 10}
    for m in PRESETS:
        assert probe(m)['n_opt_steps'] == expect.get(m, 1), m


def test_no_grad_steps_save_nothing_for_backward():
    """Steps without gradient run under no_grad: DRaFT-1 saves about one step, DRaFT-50 fifty times more."""
    def saved(method):
        bb, rw = toy()
        ft = Finetuner(bb, rw, get_config(method, batch_size=3))
        n = [0]
        def pack(t): n[0] += t.numel() * t.element_size(); return t
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            ft.update(TEXTS, LENS, torch.Generator().manual_seed(1))
        return n[0]
    s1, s50 = saved('draft-1'), saved('draft-50')
    assert s50 > 30 * s1


# --- plans ------------------------------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(method=st.sampled_from(sorted(PRESETS)), n=st.integers(2, 80), seed=st.integers(0, 2 ** 31))
def test_plan_invariants(method, n, seed):
    c = PRESETS[method]
    if c.early_stop is not None and n < 2: return
    p = plan_steps(c, n, torch.Generator().manual_seed(seed))
    assert 0 <= p.stop <= n - 1 and p.grad == tuple(sorted(set(p.grad)))
    assert all(0 <= i <= p.stop for i in p.grad) and len(p.grad) >= 1
    if c.reward_on == 'final': assert p.scored == () and p.stop == n - 1
    elif c.early_stop is not None: assert p.scored == (p.stop,) and p.stop >= max(n - c.early_stop + 1, 0)
    else: assert p.scored == p.grad
    assert p == plan_steps(c, n, torch.Generator().manual_seed(seed))    # seeded


def test_step_weights_scale_gradients():
    def grad(**kw):
        bb, rw = toy()
        ft = Finetuner(bb, rw, get_config('easytune', batch_size=3, num_steps=10, k=1, **kw))
        ft._opt_step = lambda: 0.0
        ft.update(TEXTS, LENS, torch.Generator().manual_seed(1))
        return torch.cat([q.grad.flatten() for q in ft.params])
    g = grad()
    torch.testing.assert_close(grad(step_weight='early'), 0.1 * g)
    torch.testing.assert_close(grad(grad_steps='first', step_weight='late'), 0.1 * grad(grad_steps='first'))
    torch.testing.assert_close(grad(checkpoint_reward=True), g)


# --- fairness, determinism, resume ----------------------------------------------------------------------------------

def test_equal_budgets_and_same_initial_noise(root):
    """Every method sees the same prompts, lengths and x_T for the same seed and update index."""
    seen = {}
    for m in PRESETS:
        bb, rw = toy()
        calls = []
        orig = Finetuner.update_shards
        def spy(self, shards, probe=False, choice_seed=None):
            (texts, lengths, generator, motion), = shards            # one process, one shard
            g = copy.deepcopy(generator)
            choice = torch.Generator().manual_seed(int(torch.randint(0, 2 ** 62, (1,), generator=g)))
            x_T = self.sampler.init_noise(self.backbone.latent_shape(torch.as_tensor(lengths)), g)
            calls.append((tuple(texts), tuple(torch.as_tensor(lengths).tolist()), x_T))
            return orig(self, shards, probe, choice_seed)
        Finetuner.update_shards = spy
        try:
            _, h = finetune(bb, rw, m, root, seed=4, updates=3, val_every=0, progress=False, batch_size=4, num_steps=10)
        finally:
            Finetuner.update_shards = orig
        assert len(h) == 4 and list(h['update']) == [0, 1, 2, 3]
        seen[m] = calls
    ref = seen['easytune']
    for m, calls in seen.items():
        assert len(calls) == 3
        for (t1, l1, x1), (t2, l2, x2) in zip(calls, ref):
            assert t1 == t2 and l1 == l2 and torch.equal(x1, x2), m


@pytest.mark.parametrize('method', ['easytune', 'easytune-chain', 'refl-10', 'alignprop', 'drtune'])
def test_resume_is_bit_identical(root, tmp_path, method):
    kw = dict(updates=5, val_every=2, val_size=4, progress=False, batch_size=4, num_steps=10, lr=3e-3, seed=2)
    bb1, rw = toy(); bb1, h1 = finetune(bb1, rw, method, root, **kw)
    ck = tmp_path / 'run.ckpt'
    bb2, rw = toy(); finetune(bb2, rw, method, root, checkpoint=ck, checkpoint_every=2, stop_after=3, **kw)
    torch.manual_seed(123)                                   # a new process: different global RNG state
    bb3, rw = toy(); bb3, h3 = finetune(bb3, rw, method, root, checkpoint=ck, checkpoint_every=2, **kw)
    cols = ['update', 'reward', 'val_reward', 'n_opt_steps', 'grad_norm']
    pd.testing.assert_frame_equal(h1[cols], h3[cols])
    assert torch.equal(weights(bb1), weights(bb3))
    assert h1.attrs['best_update'] == h3.attrs['best_update']


def test_same_seed_same_run_different_seed_differs(root):
    kw = dict(updates=2, val_every=0, progress=False, batch_size=4, num_steps=10, lr=1e-3)
    a = finetune(*toy(), 'easytune', root, seed=0, **kw)[1]['reward']
    b = finetune(*toy(), 'easytune', root, seed=0, **kw)[1]['reward']
    c = finetune(*toy(), 'easytune', root, seed=1, **kw)[1]['reward']
    assert a.equals(b) and not a.equals(c)


def test_selection_and_patience(root):
    bb, rw = toy()
    bb, h = finetune(bb, rw, 'easytune', root, seed=0, updates=12, val_every=1, val_size=4, patience=2, progress=False,
                     batch_size=4, num_steps=10, lr=3e-2)
    vals = h['val_reward'].dropna()
    best = int(h.loc[vals.idxmax(), 'update'])
    assert h.attrs['best_update'] == best
    if h.attrs['stopped_early']: assert len(h) - 1 < 12 and (vals.index[-1] - vals.idxmax()) == 2


# --- backbones -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('kind,kw', [('mld', {}), ('mdm', {}), ('mdm', dict(sampler='ddpm', reward_on='xt')),
                                     ('mlcm', dict(sampler='lcm', num_steps=4, k=2)),
                                     ('mld', dict(sampler='ddpm', reward_on='xt'))])
def test_every_backbone_and_sampler(kind, kw):
    bb = tiny_backbone(kind); w0 = weights(bb)
    ft = Finetuner(bb, ToyReward(263), get_config('easytune', batch_size=2, lr=1e-3, **({'num_steps': 10, 'k': 3} | kw)))
    L = ft.update(TEXTS[:2], [12, 8], torch.Generator().manual_seed(0))
    assert L['n_opt_steps'] == len(L['grad_steps']) > 0 and math.isfinite(L['reward'])
    assert not torch.equal(weights(bb), w0)


def test_noise_aware_reward_gets_timesteps():
    got = []
    class Spy(ToyReward):
        def reward(self, motion, texts, lengths=None, t=None):
            got.append(None if t is None else torch.as_tensor(t).tolist()); return super().reward(motion, texts, lengths, t)
        forward = reward
    bb = tiny_backbone('mdm')
    ft = Finetuner(bb, Spy(263), get_config('easytune', batch_size=2, sampler='ddpm', num_steps=10, k=3, reward_on='xt'))
    ft.update(TEXTS[:2], [12, 8], torch.Generator().manual_seed(0))
    grid = ft.sampler.timesteps.tolist()            # scored: the states after steps 7, 8, 9 -> timesteps of 8, 9, and 0
    assert got == [[grid[8]] * 2, [grid[9]] * 2, [0, 0]]


def test_smoke_every_preset_on_tiny_mdm(root):
    sm = smoke_all(root, 'mdm', updates=1, num_steps=6)
    assert set(sm.index) == set(PRESETS) and (sm['trajectories'] == 1).all() and sm['reward'].notna().all()
    assert (sm['opt_steps_per_update'] >= 1).all() and (sm['samples'] == 4).all()    # speed is the benchmark's job


# --- errors and the CLI ----------------------------------------------------------------------------------------------

def test_config_errors():
    with pytest.raises(ValueError, match='method: expected one of'): get_config('EZTune')
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['kk'\]"): get_config('easytune', kk=3)
    with pytest.raises(ValueError, match='grad_steps'): get_config('easytune', grad_steps='middle')
    with pytest.raises(ValueError, match='chain'): get_config('draft-10', chain=True)
    with pytest.raises(ValueError, match="needs detach='state'"): get_config('easytune', detach='input')
    with pytest.raises(ValueError, match='early_stop'): get_config('draft-10', early_stop=5)
    with pytest.raises(ValueError, match='reg'): get_config('easytune', reg='l2')
    bb, rw = toy()
    with pytest.raises(ValueError, match='lengths'):
        Finetuner(bb, rw, get_config('easytune', batch_size=3)).update(TEXTS, [8, 6], torch.Generator())
    with pytest.raises(ValueError, match='updates'): finetune(bb, rw, 'easytune', '/nonexistent', updates=0)


def test_cli_bad_method_exits_before_work(capsys):
    with pytest.raises(SystemExit):
        main(['--backbone', 'mld', '--method', 'nope', '--data', '/nonexistent'])
    assert 'method' in capsys.readouterr().err


def test_cli_smoke(root, tmp_path):
    env = {'EASYTUNE_CACHE': str(tmp_path / 'cache'), 'OMP_NUM_THREADS': '1', 'PATH': '/usr/bin:/bin'}
    r = subprocess.run([sys.executable, '-m', 'easytune.finetune', '--backbone', 'mdm', '--method', 'refl-10',
                        '--profile', 'smoke', '--reward', 'toy', '--data', str(root), '--out', str(tmp_path / 'out'),
                        '--threads', '1', '--set', 'num_steps=12'],
                       capture_output=True, text=True, cwd=Path(__file__).parents[1], env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    run = json.loads((tmp_path / 'out' / 'run.json').read_text())
    assert run['method'] == 'refl-10' and run['config']['num_steps'] == 12 and run['config']['batch_size'] == 4
    h = pd.read_csv(tmp_path / 'out' / 'history.csv')
    assert list(h['update']) == [0, 1, 2] and (tmp_path / 'out' / 'model.pt').exists()


# --- the plausibility-aware objective (beyond the paper) -----------------------------------------------------------

def test_physical_weights_change_only_the_training_objective(root, tmp_path):
    pw = {'skating': 0.1, 'penetration': 10.0, 'jerk': 1e-4}
    kw = dict(seed=0, updates=2, val_every=2, val_size=4, progress=False, batch_size=2, num_steps=6, k=1, lr=1e-3)
    b0, h0 = finetune(tiny_backbone('mdm'), ToyReward(263), 'easytune', root, checkpoint=tmp_path / 'a.ckpt', **kw)
    b1, h1 = finetune(tiny_backbone('mdm'), ToyReward(263), 'easytune', root, checkpoint=tmp_path / 'b.ckpt',
                      physical_weights=pw, **kw)
    assert h1['val_reward_plain'][0] == h0['val_reward'][0]    # the plain reward of the same starting model ...
    assert h1['val_reward'][0] < h1['val_reward_plain'][0]     # ... while the objective (minus penalties) selects
    assert 'val_reward_plain' not in h0.columns                # off: the history's columns as they were
    assert h1['reward'][1] < h0['reward'][1]                   # the same first x̂0, scored minus positive penalties
    assert not torch.equal(weights(b0), weights(b1))
    ids = [json.loads(torch.load(tmp_path / f, weights_only=False)['config']) for f in ('a.ckpt', 'b.ckpt')]
    assert 'physical_weights' not in ids[0] and ids[1]['physical_weights'] == pw     # off: the identity of old runs
    assert all(c.physical_weights is None for c in PRESETS.values())
    with pytest.raises(ValueError, match="reward_on='xt'"):
        get_config('easytune', sampler='ddpm', reward_on='xt', physical_weights=pw)
    with pytest.raises(ValueError, match='physical_weights'): get_config('easytune', physical_weights={'slide': 1.0})
    with pytest.raises(ValueError, match='stats'):
        Finetuner(tiny_backbone('mdm'), ToyReward(263), get_config('easytune', physical_weights=pw))


def test_physical_weights_under_shards_log_both_val_rewards(root):
    "Sharded (as DDP ranks would): the val check size-weights both the objective and the plain reward over the shards."
    pw = {'skating': 0.1, 'penetration': 10.0, 'jerk': 1e-4}
    kw = dict(seed=0, updates=2, val_every=1, val_size=5, progress=False, batch_size=2, num_steps=6, k=1, lr=1e-3)
    _, h = finetune(tiny_backbone('mdm'), ToyReward(263), 'easytune', root, shards=2, physical_weights=pw, **kw)
    _, h0 = finetune(tiny_backbone('mdm'), ToyReward(263), 'easytune', root, shards=2, **kw)
    assert list(h['update']) == [0, 1, 2] and h['val_reward_plain'].notna().all()
    assert (h['val_reward'] < h['val_reward_plain']).all()                  # positive penalties on every shard
    assert h['val_reward_plain'][0] == pytest.approx(h0['val_reward'][0], abs=1e-6)   # same starting model and seeds


def test_cli_takes_physical_weights_as_json(root, tmp_path):
    out = tmp_path / 'out'
    main(['--backbone', 'mdm', '--tiny', '--profile', 'smoke', '--reward', 'toy', '--data', str(root), '--out', str(out),
          '--threads', '1', '--set', 'physical_weights={"skating": 0.1, "jerk": 0.0001}'])
    assert json.loads((out / 'run.json').read_text())['config']['physical_weights'] == {'skating': 0.1, 'jerk': 0.0001}
    h = pd.read_csv(out / 'history.csv')
    assert (h['val_reward'] < h['val_reward_plain']).all()
    with pytest.raises(SystemExit):
        main(['--backbone', 'mdm', '--tiny', '--reward', 'toy', '--set', 'physical_weights={"slide": 1}'])
