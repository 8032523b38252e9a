"""Tests for the embedded procedural text-motion dataset (data_prep.synthetic and its helpers)."""
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from data_prep import synthetic as S
from data_prep.actions import ACTIONS
from data_prep.body import solve_pose, track_to_joints
from data_prep.captions import LEXICON, make_captions, parse_line
from easytune import motion as M

ROOT = Path(__file__).resolve().parents[1]
UPOS = {'ADJ', 'ADP', 'ADV', 'AUX', 'CCONJ', 'DET', 'INTJ', 'NOUN', 'NUM', 'PART', 'PRON', 'PROPN', 'PUNCT',
        'SCONJ', 'SYM', 'VERB', 'X'}
N_SMALL, SEED = 12, 3
VERB_LEMMAS = {lemma for pos, lemma in LEXICON.values() if pos == 'VERB'}


def tree_hashes(d):
    "sha256 of every file under d, by relative path."
    d = Path(d)
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.rglob('*')) if p.is_file()}


def ids_of(d, split='all'):
    return (Path(d) / f'{split}.txt').read_text().split()


@pytest.fixture(scope='module')
def small(tmp_path_factory):
    return S.generate(tmp_path_factory.mktemp('syn') / 'small', n_clips=N_SMALL, seed=SEED, workers=1, progress=False)


# ------------------------------------------------------------------------------------------------ determinism

def test_same_seed_byte_identical_any_workers(small, tmp_path):
    again = S.generate(tmp_path / 'again', n_clips=N_SMALL, seed=SEED, workers=2, progress=False)
    h1, h2 = tree_hashes(small), tree_hashes(again)
    assert len(h1) == 3 * 2 * N_SMALL + 5 + 4 + 2   # 3 files per motion, splits, Mean/Std + meta, dataset.json + index.csv
    assert h1 == h2


def test_other_seed_differs(small, tmp_path):
    other = S.generate(tmp_path / 'other', n_clips=4, seed=SEED + 1, workers=1, progress=False)
    assert tree_hashes(other)['new_joint_vecs/000000.npy'] != tree_hashes(small)['new_joint_vecs/000000.npy']


# ------------------------------------------------------------------------------------------------ layout

def test_layout_shapes_dtypes(small):
    ids = ids_of(small)
    assert len(ids) == 2 * N_SMALL and len(set(ids)) == len(ids)
    assert sorted(ids) == sorted([f'{i:06d}' for i in range(N_SMALL)] + [f'M{i:06d}' for i in range(N_SMALL)])
    for cid in ids:
        f = np.load(small / 'new_joint_vecs' / f'{cid}.npy'); j = np.load(small / 'new_joints' / f'{cid}.npy')
        assert f.dtype == np.float32 and j.dtype == np.float32
        assert f.ndim == 2 and f.shape[1] == 263 and j.shape == (f.shape[0], 22, 3)
        assert 40 <= f.shape[0] <= 196
        assert np.isfinite(f).all() and np.isfinite(j).all()
        assert set(np.unique(f[:, 259:263])) <= {0.0, 1.0}
        assert (small / 'texts' / f'{cid}.txt').exists()
    info = json.loads((small / 'dataset.json').read_text())
    assert info['n_clips'] == N_SMALL and info['n_motions'] == 2 * N_SMALL and info['seed'] == SEED
    assert sum(info['parts_per_clip'].values()) == N_SMALL
    assert info['validation']['max_penetration_m'] <= 0.01


def test_recover_from_ric_equals_new_joints(small):
    for cid in ids_of(small):
        f = np.load(small / 'new_joint_vecs' / f'{cid}.npy'); j = np.load(small / 'new_joints' / f'{cid}.npy')
        np.testing.assert_allclose(M.recover_from_ric(f), j, atol=1e-6)


def test_normalisation_files(small):
    mean, std = np.load(small / 'Mean.npy'), np.load(small / 'Std.npy')
    mmean, mstd = np.load(small / 'meta' / 'mean.npy'), np.load(small / 'meta' / 'std.npy')
    assert mean.shape == std.shape == mmean.shape == mstd.shape == (263,)
    assert mean.dtype == std.dtype == np.float32 and mmean.dtype == mstd.dtype == np.float64
    feats = [np.load(small / 'new_joint_vecs' / f'{cid}.npy') for cid in sorted(ids_of(small))]
    em, es = M.mean_std(feats)
    np.testing.assert_allclose(mean, em, rtol=1e-6, atol=1e-7); np.testing.assert_allclose(std, es, rtol=1e-6)
    np.testing.assert_array_equal(mmean, mean.astype(np.float64))
    ratio = std / mstd
    biased = np.r_[0:4, 259:263]
    np.testing.assert_allclose(ratio[biased], 25.0, rtol=1e-5)
    np.testing.assert_allclose(np.delete(ratio, biased), 1.0, rtol=1e-6)
    assert (std > 0).all()


def test_mirrored_motion_is_mirror_of_source(small):
    # the same motion mirrored; HumanML3D's retargeting scales the mirrored root path by the ratio of the target
    # skeleton's right leg to its (longer) left leg, and swaps which side gets the longer bones
    scale = 0.8158 / 0.8260
    for i in range(N_SMALL):
        src = M.mirror_joints(np.load(small / 'new_joints' / f'{i:06d}.npy'))
        mir = np.load(small / 'new_joints' / f'M{i:06d}.npy')
        rel = lambda j: j - j[:, :1] * np.array([1, 0, 1])
        assert np.abs(rel(mir) - rel(src)).max() < 0.06
        path = np.linalg.norm(np.diff(src[:, 0, [0, 2]], axis=0), axis=-1).sum()
        assert np.abs(mir[:, 0, [0, 2]] - scale * src[:, 0, [0, 2]]).max() < 0.02 + 0.01 * path


# ------------------------------------------------------------------------------------------------ captions

def check_line(line):
    assert line.count('#') == 3, line
    cap, toks, s, e = line.split('#')
    assert cap and cap == cap.lower() and not re.search(r'[^a-z ,.]', cap), cap
    words = re.findall(r'[a-z]+', cap)
    pairs = toks.split()
    assert len(pairs) == len(words), line
    assert parse_line(line) == (cap, [tuple(p.split('/')) for p in pairs], float(s), float(e))
    for p, w in zip(pairs, words):
        assert re.fullmatch(r'[a-z]+/[A-Z]+', p), p
        word, pos = p.split('/')
        assert pos in UPOS, p
        if pos == 'VERB': assert word in VERB_LEMMAS, p          # verbs lemmatised
        elif pos == 'NOUN' and w != 'left': assert word == LEXICON.get(w, (None, w))[1], p
        else: assert word == w, p
        if w in ('two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'): assert pos == 'NUM', p
    return float(s), float(e)


def test_caption_lines_parse(small):
    for cid in ids_of(small):
        lines = (small / 'texts' / f'{cid}.txt').read_text().splitlines()
        spans = [check_line(l) for l in lines]
        whole = [sp for sp in spans if sp == (0.0, 0.0)]
        assert len(whole) >= 3
        assert all(l.endswith('#0.0#0.0') for l, sp in zip(lines, spans) if sp == (0.0, 0.0))
        T = np.load(small / 'new_joint_vecs' / f'{cid}.npy').shape[0]
        for s, e in spans:
            if (s, e) != (0.0, 0.0): assert 0 <= s < e <= T / 20 + 1e-9


def test_composed_clips_have_subsegment_line(small):
    rows = (small / 'index.csv').read_text().splitlines()[1:]
    n_composed = 0
    for row in rows:
        src, _, _, name = row.split(',')
        lines = (small / 'texts' / name.replace('.npy', '.txt')).read_text().splitlines()
        sub = [l for l in lines if not l.endswith('#0.0#0.0')]
        composed = '+' in src
        n_composed += composed
        assert len(sub) == (1 if composed else 0), (src, lines)
    assert n_composed >= 1


def test_mirrored_captions_swap_sides(small):
    swapped = 0
    for i in range(N_SMALL):
        a = (small / 'texts' / f'{i:06d}.txt').read_text().splitlines()
        b = (small / 'texts' / f'M{i:06d}.txt').read_text().splitlines()
        assert b == [M.mirror_caption(l) for l in a]
        for la, lb in zip(a, b):
            wa, wb = la.split('#')[0].split(), lb.split('#')[0].split()
            for x, y in zip(wa, wb):
                x, y = x.strip(',.'), y.strip(',.')
                if x in ('left', 'right'): assert y == {'left': 'right', 'right': 'left'}[x]; swapped += 1
                elif x == 'clockwise': assert y == 'counterclockwise'
                else: assert x == y
    lines = make_captions([('wave', dict(side='left', count=2, speed='normal'))], np.random.default_rng(0), vague_p=0)
    assert all('left' in l.split('#')[0] and 'left/ADJ' in l for l in lines)
    assert all('right/ADJ' in M.mirror_caption(l) and 'left' not in M.mirror_caption(l) for l in lines)


def test_vague_captions_are_shared_across_actions():
    "Vague VPs appear at about `vague_p` and never name a parameter; each is shared by more than one action."
    from data_prep.captions import VAGUE
    for vps in {tuple(v) for v in VAGUE.values()}: assert sum(tuple(v) == vps for v in VAGUE.values()) >= 2
    rng, n, vague = np.random.default_rng(1), 300, 0
    for _ in range(n):
        line = make_captions([('clap', dict(count=3, speed='normal'))], rng, n_lines=1)[0].split('#')[0]
        if 'clap' not in line: vague += 1; assert 'three' not in line and ('arms' in line or 'hands' in line), line
    assert 0.12 < vague / n < 0.28, vague / n
    assert all('clap' in l for l in make_captions([('clap', dict(count=3, speed='normal'))], rng, n_lines=4, vague_p=0))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_captions_for_any_clip_are_well_formed(seed):
    rng = np.random.default_rng(seed)
    parts = S._sample_parts(rng)
    lines = make_captions(parts, rng, segments=[(i * 2.0, i * 2.0 + 2.0) for i in range(len(parts))])
    for l in lines: check_line(l)
    assert len([l for l in lines if l.endswith('#0.0#0.0')]) >= 3


def test_counts_and_speeds_are_in_the_text():
    rng = np.random.default_rng(0)
    walk = lambda sp, n: make_captions([('walk', dict(speed=sp, steps=n, curve='none', angle=0, lead=0))], rng, n_lines=4)
    slow, fast = ' '.join(walk('slow', 4) * 5), ' '.join(walk('fast', 4) * 5)
    assert re.search(r'slow|stroll|leisurely', slow) and not re.search(r'quick|fast|brisk', slow)
    assert re.search(r'quick|fast|brisk|hurr', fast) and not re.search(r'slow', fast)
    claps = [make_captions([('clap', dict(count=3, speed='normal'))], np.random.default_rng(k)) for k in range(10)]
    assert any('three' in l for c in claps for l in c)
    assert not any(re.search(r'\b(two|four|twice|once)\b', l.split('#')[0]) for c in claps for l in c)


# ------------------------------------------------------------------------------------------------ splits

def test_splits(small):
    sp = {k: ids_of(small, k) for k in ('train', 'val', 'test', 'train_val', 'all')}
    tr, va, te = set(sp['train']), set(sp['val']), set(sp['test'])
    assert not (tr & va or tr & te or va & te)
    assert tr | va | te == set(sp['all'])
    assert set(sp['train_val']) == tr | va and len(sp['train_val']) == len(tr) + len(va)
    for s in (tr, va, te):
        assert s, 'every split is non-empty'
        for x in s:
            assert (x[1:] if x.startswith('M') else 'M' + x) in s
    info = json.loads((small / 'dataset.json').read_text())
    assert info['splits'] == {k: len(v) for k, v in sp.items()}
    big = S._splits(4000, 0)
    assert [len(big[k]) for k in ('train', 'val', 'test')] == [3200, 200, 600]


# ------------------------------------------------------------------------------------------------ atomic writes

def test_refuses_to_overwrite(tmp_path, monkeypatch):
    d = tmp_path / 'out'; d.mkdir(); (d / 'keep.txt').write_text('old')
    monkeypatch.setattr(S, '_work', lambda *a: pytest.fail('work started before the check'))
    with pytest.raises(FileExistsError, match=re.escape(str(d))):
        S.generate(d, n_clips=2, seed=0, workers=1, progress=False)
    assert (d / 'keep.txt').read_text() == 'old'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['out']
    for bad in (dict(n_clips=0), dict(n_clips=2.5), dict(seed=-1), dict(workers=0)):
        with pytest.raises(ValueError, match=list(bad)[0]):
            S.generate(tmp_path / 'new', **{'n_clips': 2, **bad}, progress=False)
    r = subprocess.run([sys.executable, '-m', 'data_prep.synthetic', '--out', str(d), '--n', '2', '--quiet'],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2 and str(d) in r.stderr and 'overwrite' in r.stderr


def test_overwrite_replaces(tmp_path):
    d = tmp_path / 'out'; d.mkdir(); (d / 'keep.txt').write_text('old')
    assert S.main(['--out', str(d), '--n', '2', '--seed', '1', '--overwrite', '--quiet', '--workers', '1']) == 0
    assert not (d / 'keep.txt').exists() and len(ids_of(d)) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ['out']


def test_failure_midway_leaves_nothing(tmp_path, monkeypatch):
    real = S._work
    def flaky(args):
        if args[2] == 3: raise RuntimeError('simulated crash')
        return real(args)
    monkeypatch.setattr(S, '_work', flaky)
    with pytest.raises(RuntimeError, match='simulated'):
        S.generate(tmp_path / 'fresh', n_clips=5, seed=0, workers=1, progress=False)
    assert list(tmp_path.iterdir()) == []
    d = tmp_path / 'old'; d.mkdir(); (d / 'keep.txt').write_text('old')
    with pytest.raises(RuntimeError, match='simulated'):
        S.generate(d, n_clips=5, seed=0, overwrite=True, workers=1, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ['old'] and [p.name for p in d.iterdir()] == ['keep.txt']
    assert (d / 'keep.txt').read_text() == 'old'


# ------------------------------------------------------------------------------------------------ physics

WALKS = [dict(speed=sp, steps=n, curve=c, angle=90 if c != 'none' else 0, lead=k % 2)
         for k, (sp, n, c) in enumerate([('slow', 4, 'none'), ('normal', 6, 'none'), ('fast', 7, 'none'),
                                         ('normal', 5, 'left')])]


@pytest.mark.parametrize('params', WALKS, ids=lambda p: f"{p['speed']}-{p['steps']}-{p['curve']}")
def test_walks_plant_their_feet(params):
    world = S.make_motion([('walk', params)], seed=params['steps'])
    f = M.features_from_joints(world); j = M.recover_from_ric(f)
    st_ = S.clip_stats(world, f, j)
    assert st_['finite'] and st_['lowest_foot'] >= -0.01          # no ground penetration
    assert st_['skate_n'] > 0.5 * len(j) and st_['skate_mean'] < 0.003 and st_['skate_max'] < 0.02
    feet_y = j[:, [7, 10, 8, 11], 1]
    heel_or_toe = np.minimum(j[:, [7, 8], 1].min(1) - 0.055, j[:, [10, 11], 1].min(1))
    assert (heel_or_toe < 0.01).all()                            # a walk always has a foot on the floor
    assert feet_y.min() >= 0 and j[..., 1].min() >= 0
    c = f[:, 259:263]
    assert (c.max(1) == 1).mean() > 0.95 and 0.3 < c.mean() < 0.95
    # the pelvis travels forward, as far as the steps go
    d = j[-1, 0] - j[0, 0]
    assert d[2] > 0.4 * (params['steps'] - 1) * 0.4


def test_dataset_validation_stats(small):
    v = json.loads((small / 'dataset.json').read_text())['validation']
    assert v['max_penetration_m'] <= 0.01 and v['mean_foot_skate_m_per_frame'] < 0.003
    assert v['planted_foot_frames'] > 1000 and 0.5 < v['mean_contact'] < 0.98


def _facing(j, t):
    across = (j[t, 2] - j[t, 1]) + (j[t, 17] - j[t, 16])
    fwd = np.cross([0, 1, 0], across)
    return np.arctan2(fwd[0], fwd[2])


def _motion(name, **p):
    w = S.make_motion([(name, p)], seed=7)
    return M.recover_from_ric(M.features_from_joints(w))


def test_sides_directions_and_counts_match_the_motion():
    d = lambda j: j[-1, 0] - j[0, 0]
    assert d(_motion('walk_backward', speed='normal', steps=5, lead=0))[2] < -0.8
    assert d(_motion('sidestep', side='left', count=3))[0] > 0.5
    assert d(_motion('sidestep', side='right', count=3))[0] < -0.5
    for side, sign in (('left', 1), ('right', -1)):
        j = _motion('turn', side=side, angle=90)
        assert abs(_facing(j, len(j) - 1) - sign * np.pi / 2) < 0.35
    def turned(**p):
        j = _motion('spin', **p)
        a = np.unwrap([_facing(j, t) for t in range(len(j))])
        return a[-1] - a[0]
    assert abs(turned(direction='counterclockwise') - 2 * np.pi) < 0.4
    assert abs(turned(direction='clockwise') + 2 * np.pi) < 0.4
    j = _motion('wave', side='right', count=3, speed='normal')
    assert j[:, 21, 1].max() > j[:, 15, 1].max() - 0.1 and j[:, 20, 1].max() < j[:, 0, 1].max()
    j = _motion('kick', side='left', count=1, height='high')
    assert j[:, 7, 1].max() > 0.4 and j[:, 8, 1].max() < 0.1
    for n in (2, 5):
        j = _motion('clap', count=n, speed='normal')
        close = np.linalg.norm(j[:, 20] - j[:, 21], axis=-1) < 0.12
        assert np.sum(close[1:] & ~close[:-1]) == n
    for n in (1, 3):
        j = _motion('jump_in_place', count=n)
        air = j[:, [7, 10, 8, 11], 1].min(1) > 0.03
        assert np.sum(air[1:] & ~air[:-1]) == n


def test_every_action_builds_and_reaches_its_supporting_feet():
    rng = np.random.default_rng(0)
    from data_prep.actions import build_action
    from data_prep.primitives import Style
    assert len(ACTIONS) >= 20
    for name, a in ACTIONS.items():
        tr = build_action(name, a.sample(rng), Style.sample(rng), rng)
        root, local, info = solve_pose(tr)
        sup = tr.support > 0.5
        miss = np.linalg.norm(info['ankle'] - info['ankle_target'], axis=-1)
        assert miss[sup].max() < 1e-6, name
        assert np.median(np.linalg.norm(info['wrist'] - info['wrist_target'], axis=-1)) < 1e-3, name
        j = track_to_joints(tr)
        np.testing.assert_allclose(j, info['joints'], atol=1e-9)   # FK of the local rotations = the solve
        np.testing.assert_allclose(M.bone_lengths(j), np.broadcast_to(np.linalg.norm(M.target_offsets()[1:], axis=-1),
                                                                      (len(j), 21)), atol=1e-9)
        assert j[:, [10, 11], 1].min() > -1e-6, name
