"""Procedural text-motion dataset in HumanML3D's exact on-disk format.

    python -m data_prep.synthetic --out DIR --n N --seed S [--overwrite] [--workers W] [--format {humanml3d,kit}]

Every clip is one to three parameterised actions (see `actions.py`) performed by a person with a random
style, blended at the seams, solved to SMPL-style local rotations with planted feet (`body.py`), turned into
joints by `easytune.motion.forward_kinematics_local` and into 263-d features by
`easytune.motion.features_from_joints`. Captions come from `captions.py`. Each clip also gets its mirrored
copy `M<id>` (joints mirrored with `mirror_joints`, captions with `mirror_caption`).

Clip i is generated from its own seed (seed, i), so the result does not depend on the number of workers, and
the same seed gives byte-identical files. The output is written into a temporary folder beside DIR and
renamed at the end: an interrupted run leaves DIR untouched.

`--format kit` (or `--dataset kit`) writes the same clips in KIT-ML's HumanML3D-style format instead: each clip's
20 fps world joints are resampled to KIT-ML's 12.5 fps (linear interpolation), mapped to KIT-ML's 21-joint MMM
skeleton and converted to millimetres by `easytune.motion.kit_joints_from_t2m` (a synthetic approximation of
KIT's skeleton: see `easytune.motion.KIT_SKELETON` for the chain, names and assumptions), and turned into 251-d
features by `features_from_joints(..., skeleton=KIT_SKELETON)`; `Mean.npy`/`Std.npy` and `meta/` are KIT's own
(over its 251-d features), `new_joints/` holds [T, 21, 3] joints in millimetres, texts are the same captions.
Validation (feet penetration and skating) runs on the HumanML3D version of each clip, so a seed gives the same
clips (and retries) in both formats. The HumanML3D output is unchanged by this option.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

__all__ = ['DEFAULT_N', 'GENERATOR_VERSION', 'FORMATS', 'generate', 'resample', 'kit_joints', 'make_clip', 'make_motion', 'compose', 'clip_stats', 'main']

DEFAULT_N = 4000            # source clips (the dataset holds twice as many motions with the mirrored copies)
GENERATOR_VERSION = '1.2'
MIN_FRAMES, MAX_FRAMES = 40, 196   # feature frames (the joint sequences have one frame more)
PART_P = (0.55, 0.33, 0.12)        # probability of 1, 2, 3 actions per clip
OVERLAP = 6                        # frames blended at each seam
MAX_ATTEMPTS = 6
# validation thresholds
MAX_PENETRATION = 0.01             # m below the floor, feet joints
MAX_SKATE = 0.01                   # m per frame, mean horizontal slide of planted feet in a clip
PLANT_HEIGHT = {7: 0.07, 8: 0.07, 10: 0.025, 11: 0.025}  # contact joints below this (at t and t+1) are planted
FOOT_JOINTS = [7, 10, 8, 11]       # order of the contact features 259:263
FORMATS = ('humanml3d', 'kit')      # on-disk formats: HumanML3D (22 joints, 263-d, 20 fps, m), KIT-ML (21, 251, 12.5 fps, mm)


# ----------------------------------------------------------------------------------------------------------
# one clip

def _sample_parts(rng):
    from .actions import ACTIONS
    n_parts = int(rng.choice([1, 2, 3], p=PART_P))
    names = []
    for i in range(n_parts):
        if names and names[-1] == 'sit_down':
            names.append('stand_up'); continue
        pool = [a for a in ACTIONS.values() if not (a.name == 'stand_up' and i > 0)
                and not (names and a.name == names[-1])]
        w = np.array([a.weight for a in pool], dtype=np.float64)
        names.append(pool[int(rng.choice(len(pool), p=w / w.sum()))].name)
    return [(nm, ACTIONS[nm].sample(rng)) for nm in names]


def compose(tracks, overlap=OVERLAP):
    """Chain part tracks (each in its own local frame) into one world track, blending `overlap` frames at
    every seam. Returns (track, [(start_frame, end_frame) per part])."""
    from .body import Track
    from .rotations import smoothstep
    out, bounds, start = None, [], 0
    for i, tr in enumerate(tracks):
        if out is None:
            out = tr.copy(); bounds.append([0, len(tr)]); continue
        a = out.ankle[-1]
        origin = 0.5 * (a[0] + a[1])
        placed = tr.transformed(float(out.yaw[-1]), (origin[0], origin[2]))
        o = min(overlap, len(out) - 1, len(placed) - 1)
        w = smoothstep((np.arange(o) + 1.0) / (o + 1.0))
        head = out.slice(0, len(out) - o)
        tail, lead = out.slice(len(out) - o, len(out)), placed.slice(0, o)
        mix = {}
        for k in Track.names():
            x, y = getattr(tail, k), getattr(lead, k)
            ww = w.reshape((-1,) + (1,) * (x.ndim - 1))
            mix[k] = x * (1 - ww) + y * ww
        out = Track.concat([head, Track(**mix), placed.slice(o, len(placed))])
        seam = len(head) + o // 2
        bounds[-1][1] = seam
        bounds.append([seam, len(out)])
    return out, [tuple(b) for b in bounds]


def _idle_noise(track, rng, fps=20):
    "Slow, small, smooth wobble of the upper body and pelvis so that no frame is perfectly still."
    n = len(track)
    t = np.arange(n) / fps
    def wob(shape, amp):
        f = rng.uniform(0.15, 0.6, size=(3,) + shape)
        ph = rng.uniform(0, 2 * np.pi, size=(3,) + shape)
        a = rng.uniform(0.3, 1.0, size=(3,) + shape) * amp / 2
        return sum(a[i] * np.sin(2 * np.pi * f[i] * t.reshape((-1,) + (1,) * len(shape)) + ph[i]) for i in range(3))
    track.spine += wob((3,), 0.02)
    track.neck += wob((3,), 0.05)
    track.hand += wob((2, 3), 0.012)
    track.pelvis += wob((3,), 0.01)
    track.root[:, [0, 2]] += wob((2,), 0.006)
    return track


def _pad(track, rng, n_min):
    "Hold the first/last pose so the clip has at least n_min frames."
    from .body import Track
    if len(track) >= n_min: return track, 0
    extra = n_min - len(track)
    pre = int(rng.integers(0, extra + 1))
    parts = [track.slice(0, 1)] * pre + [track] + [track.slice(len(track) - 1, len(track))] * (extra - pre)
    return Track.concat(parts), pre


def _build_parts(parts, style, rng):
    "Tracks of the parts (None if one does not fit the builder's buffer)."
    from .actions import build_action
    tracks = []
    try:
        for i, (nm, p) in enumerate(parts):
            pre = int(rng.integers(3, 11)) if i == 0 else int(rng.integers(2, 5))
            post = int(rng.integers(4, 13)) if i == len(parts) - 1 else int(rng.integers(2, 5))
            tracks.append(build_action(nm, p, style, rng, pre=pre, post=post))
    except OverflowError:
        return None
    return tracks


def _finish(tracks, style, rng):
    "Compose, pad, add idle motion and solve: (world joints [N,22,3] float64, per-part frame bounds)."
    from .body import solve_pose, OFF
    from easytune.motion import forward_kinematics_local
    track, bounds = compose(tracks)
    track, pre = _pad(track, rng, MIN_FRAMES + 1)
    bounds = [(a + pre, b + pre) for a, b in bounds]
    bounds[0] = (0, bounds[0][1])
    bounds[-1] = (bounds[-1][0], len(track))
    track = _idle_noise(track, rng)
    root, local, _ = solve_pose(track)
    return forward_kinematics_local(root, local, OFF), bounds


def make_motion(parts, # [(action name, params dict), ...] performed one after the other
                seed=0, # seed of the style and of the random details
                style=None # a `primitives.Style` (default: sampled from the seed)
               ) -> np.ndarray: # [N, 22, 3] float64 world joints at 20 fps
    "Joints of a given action sequence (no length limit); used by tests and for previews."
    from .actions import ACTIONS
    from .primitives import Style
    for nm, p in parts:
        if nm not in ACTIONS: raise KeyError(f"parts: unknown action {nm!r}; expected one of {sorted(ACTIONS)}")
    rng = np.random.default_rng([int(seed), 0x0A0])
    style = style or Style.sample(rng)
    tracks = _build_parts(parts, style, rng)
    if tracks is None: raise ValueError(f"parts: the motion is too long for the builder's buffer: {parts}")
    return _finish(tracks, style, rng)[0]


def make_clip(seed, index, attempt=0):
    """Generate clip `index`: returns dict(parts, joints [N,22,3] float64 (world, before canonicalisation),
    lines (text lines), bounds (per-part frame ranges))."""
    from .captions import make_captions
    from .primitives import Style
    rng = np.random.default_rng([int(seed), int(index), int(attempt)])
    style = Style.sample(rng)
    for _ in range(30):
        parts = _sample_parts(rng)
        tracks = _build_parts(parts, style, rng)
        if tracks is None: continue
        if sum(len(t) for t in tracks) - OVERLAP * (len(tracks) - 1) - 1 <= MAX_FRAMES: break
    else:
        raise RuntimeError(f"clip {index}: could not sample a clip of at most {MAX_FRAMES} frames")
    joints, bounds = _finish(tracks, style, rng)
    T = len(joints) - 1
    segs = [(a / 20.0, min(b, T) / 20.0) for a, b in bounds]
    lines = make_captions(parts, rng, segments=segs if len(parts) > 1 else None)
    return dict(parts=parts, joints=joints, lines=lines, bounds=bounds)


def clip_stats(world_joints, features, new_joints):
    "Validation numbers for one clip: NaN, penetration (world), sliding of planted feet (final joints)."
    feet_y = world_joints[:, FOOT_JOINTS, 1]
    floor = float(world_joints[..., 1].min())
    contacts = features[:-1, 259:263] > 0.5                # contact t -> t+1; new_joints has t+1 for t < T-1
    disp = np.linalg.norm((new_joints[1:, FOOT_JOINTS] - new_joints[:-1, FOOT_JOINTS])[..., [0, 2]], axis=-1)
    height = new_joints[:, FOOT_JOINTS, 1]
    thr = np.array([PLANT_HEIGHT[j] for j in FOOT_JOINTS])
    planted = contacts & (height[:-1] < thr) & (height[1:] < thr)
    sk = disp[planted]
    return dict(finite=bool(np.isfinite(features).all() and np.isfinite(new_joints).all()),
                lowest_foot=float(feet_y.min()), floor=floor,
                skate_sum=float(sk.sum()), skate_n=int(sk.size), skate_max=float(sk.max()) if sk.size else 0.0,
                skate_mean=float(sk.mean()) if sk.size else 0.0,
                contact_frac=float(features[:, 259:263].mean()))


def _valid(st):
    return st['finite'] and st['lowest_foot'] >= -MAX_PENETRATION and st['skate_mean'] <= MAX_SKATE


def _clip_id(i): return f'{i:06d}'


def resample(joints, # [N, ...] frames at fps_in
             fps_in=20.0, fps_out=12.5) -> np.ndarray: # [M, ...] float64, frame k at time k / fps_out
    "Linear resampling in time; M = floor((N - 1) * fps_out / fps_in) + 1 (the last frame is kept when it lands)."
    x = np.asarray(joints, dtype=np.float64)
    n_out = int(np.floor((len(x) - 1) * fps_out / fps_in + 1e-9)) + 1
    t = np.arange(n_out) * (fps_in / fps_out)
    i0 = np.minimum(np.floor(t).astype(int), len(x) - 1)
    i1 = np.minimum(i0 + 1, len(x) - 1)
    w = (t - i0).reshape((-1,) + (1,) * (x.ndim - 1))
    return x[i0] * (1 - w) + x[i1] * w


def kit_joints(world_joints): # [N, 22, 3] world joints at 20 fps, metres
    "KIT-ML-format joints of a generated motion: [M, 21, 3] float64 at 12.5 fps, millimetres."
    from easytune.motion import kit_joints_from_t2m, KIT_SKELETON
    return kit_joints_from_t2m(resample(world_joints, 20.0, KIT_SKELETON.fps), KIT_SKELETON.units_per_metre)


def _work(args):
    "Worker: generate, validate and write clip i (and its mirror) into `out`; returns its summary."
    out, seed, i, *rest = args
    fmt = rest[0] if rest else 'humanml3d'
    from easytune.motion import features_from_joints, recover_from_ric, mirror_joints, mirror_caption, KIT_SKELETON
    for attempt in range(MAX_ATTEMPTS):
        clip = make_clip(seed, i, attempt)
        j = clip['joints']
        feats = features_from_joints(j)
        nj = recover_from_ric(feats)
        st = clip_stats(j, feats, nj)
        mj = mirror_joints(j)
        mfeats = features_from_joints(mj)
        mnj = recover_from_ric(mfeats)
        mst = clip_stats(mj, mfeats, mnj)
        if _valid(st) and _valid(mst): break
    else:
        raise RuntimeError(f"clip {i}: failed validation {MAX_ATTEMPTS} times (last: {st}, mirrored: {mst})")
    if fmt == 'kit':   # the validated clip (and its mirror), in KIT-ML's skeleton, units and frame rate
        kj, kmj = kit_joints(j), kit_joints(mj)
        feats, mfeats = (features_from_joints(x, skeleton=KIT_SKELETON) for x in (kj, kmj))
        nj, mnj = (recover_from_ric(f, joints_num=KIT_SKELETON.joints_num) for f in (feats, mfeats))
    cid = _clip_id(i)
    out = Path(out)
    for name, f, nj_ in ((cid, feats, nj), ('M' + cid, mfeats, mnj)):
        np.save(out / 'new_joint_vecs' / f'{name}.npy', f.astype(np.float32))
        np.save(out / 'new_joints' / f'{name}.npy', nj_.astype(np.float32))
    (out / 'texts' / f'{cid}.txt').write_text('\n'.join(clip['lines']) + '\n')
    (out / 'texts' / f'M{cid}.txt').write_text('\n'.join(mirror_caption(l) for l in clip['lines']) + '\n')
    src = '+'.join(f"{nm}({','.join(f'{k}={v}' for k, v in sorted(p.items()))})" for nm, p in clip['parts'])
    return dict(id=cid, index=i, parts=[nm for nm, _ in clip['parts']], source=src, frames=int(len(feats)),
                attempts=attempt + 1, n_lines=len(clip['lines']), stats=st, mstats=mst,
                words=[len(l.split('#')[1].split()) for l in clip['lines']],
                vocab=sorted({t for l in clip['lines'] for t in l.split('#')[1].split()}))


def _init_worker():
    import torch
    torch.set_num_threads(1)


# ----------------------------------------------------------------------------------------------------------
# the dataset

def _check_args(out_dir, n_clips, seed, overwrite, workers):
    if not isinstance(n_clips, (int, np.integer)) or isinstance(n_clips, bool) or n_clips < 1:
        raise ValueError(f"n_clips: expected a positive integer, got {n_clips!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    if workers is not None and (not isinstance(workers, (int, np.integer)) or workers < 1):
        raise ValueError(f"workers: expected a positive integer or None, got {workers!r}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"out_dir {str(out)!r} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"out_dir {str(out)!r} is not empty; pass overwrite=True (--overwrite) to replace it")
    return out


def _splits(n, seed):
    "Clip indices per split (about 80/5/15), from a permutation seeded by `seed`."
    perm = np.random.default_rng([int(seed), 0x5EED]).permutation(n)
    n_test = int(round(0.15 * n)); n_val = int(round(0.05 * n))
    if n >= 3:
        n_test, n_val = max(n_test, 1), max(n_val, 1)
    test, val, train = perm[:n_test], perm[n_test:n_test + n_val], perm[n_test + n_val:]
    return {'train': sorted(train.tolist()), 'val': sorted(val.tolist()), 'test': sorted(test.tolist())}


def _write_split(path, idx):
    ids = [_clip_id(i) for i in idx]
    path.write_text(''.join(f'{x}\n' for x in ids + ['M' + x for x in ids]))


def generate(out_dir, # output folder (HumanML3D layout); must be empty or absent unless overwrite
             n_clips=DEFAULT_N, # source clips; the dataset holds 2 * n_clips motions with the mirrored copies
             seed=0, # base seed: clip i uses seed (seed, i)
             overwrite=False, # replace a non-empty out_dir
             progress=True, # show a tqdm progress bar
             workers=None, # processes (default: the number of CPUs); the result does not depend on it
             dataset='humanml3d' # on-disk format: 'humanml3d' (22 joints, 263-d) or 'kit' (KIT-ML: 21 joints, 251-d)
            ) -> Path:
    "Generate the synthetic dataset into `out_dir` (atomically) and return its path."
    if dataset not in FORMATS: raise ValueError(f"dataset: expected one of {FORMATS}, got {dataset!r}")
    out = _check_args(out_dir, n_clips, seed, overwrite, workers)
    from tqdm.auto import tqdm
    from easytune.motion import mean_std
    import torch
    workers = int(workers or os.cpu_count() or 1)
    workers = max(1, min(workers, n_clips))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f'.{out.name}.partial-{os.getpid()}'
    if tmp.exists(): shutil.rmtree(tmp)
    old_threads = torch.get_num_threads()
    try:
        for sub in ('new_joints', 'new_joint_vecs', 'texts', 'meta'):
            (tmp / sub).mkdir(parents=True)
        jobs = [(str(tmp), int(seed), i) if dataset == 'humanml3d' else (str(tmp), int(seed), i, dataset)
                for i in range(n_clips)]
        bar = tqdm(total=n_clips, desc='synthetic clips', disable=not progress, unit='clip')
        results = []
        if workers == 1:
            torch.set_num_threads(1)
            for job in jobs:
                results.append(_work(job)); bar.update(1)
        else:
            import multiprocessing as mp
            with mp.get_context('spawn').Pool(workers, initializer=_init_worker) as pool:
                for r in pool.imap(_work, jobs, chunksize=max(1, min(16, n_clips // (workers * 8) or 1))):
                    results.append(r); bar.update(1)
        bar.close()
        # splits
        sp = _splits(n_clips, seed)
        for name in ('train', 'val', 'test'):
            _write_split(tmp / f'{name}.txt', sp[name])
        _write_split(tmp / 'train_val.txt', sorted(sp['train'] + sp['val']))
        _write_split(tmp / 'all.txt', list(range(n_clips)))
        # normalisation over all motions (ids in sorted order: deterministic)
        names = sorted([r['id'] for r in results] + ['M' + r['id'] for r in results])
        feats = np.concatenate([np.load(tmp / 'new_joint_vecs' / f'{nm}.npy') for nm in names], 0)
        jn = 21 if dataset == 'kit' else 22
        mean, std = mean_std(feats, joints_num=jn)
        np.save(tmp / 'Mean.npy', mean.astype(np.float32)); np.save(tmp / 'Std.npy', std.astype(np.float32))
        mmean, mstd = mean_std(feats, joints_num=jn, feat_bias=25)
        np.save(tmp / 'meta' / 'mean.npy', mmean.astype(np.float64)); np.save(tmp / 'meta' / 'std.npy', mstd.astype(np.float64))
        # index (HumanML3D's index.csv columns) and summary
        with open(tmp / 'index.csv', 'w') as fh:
            fh.write('source_path,start_frame,end_frame,new_name\n')
            for r in results:
                fh.write(f"synthetic/{r['source'].replace(',', ';')},0,{r['frames'] + 1},{r['id']}.npy\n")
        summary = _summary(results, seed, n_clips, sp, feats)
        if dataset == 'kit':
            summary.update(format='kit', fps=12.5, joints_num=21, feat_dim=int(feats.shape[1]), units='mm',
                           skeleton='KIT-ML 21-joint MMM chain (easytune.motion.KIT_SKELETON), synthetic offsets')
            summary['frames'] = _frames_summary(np.array([r['frames'] for r in results]), 12.5)
        (tmp / 'dataset.json').write_text(json.dumps(summary, indent=1, sort_keys=True) + '\n')
        del feats
        # swap into place
        trash = None
        if out.exists():
            trash = out.parent / f'.{out.name}.old-{os.getpid()}'
            out.rename(trash)
        tmp.rename(out)
        if trash is not None: shutil.rmtree(trash, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        torch.set_num_threads(old_threads)
    return out


def _frames_summary(frames, fps):
    return {'total': int(2 * frames.sum()), 'min': int(frames.min()), 'mean': round(float(frames.mean()), 2),
            'max': int(frames.max()), 'hours': round(float(2 * frames.sum() / fps / 3600), 3)}


def _summary(results, seed, n_clips, sp, feats):
    st = [r['stats'] for r in results]
    mst = [r['mstats'] for r in results]
    skate_n = sum(s['skate_n'] for s in st)
    skate = sum(s['skate_sum'] for s in st) / max(skate_n, 1)
    mskate = sum(s['skate_sum'] for s in mst) / max(sum(s['skate_n'] for s in mst), 1)
    frames = np.array([r['frames'] for r in results])
    per_action = Counter(nm for r in results for nm in r['parts'])
    clips_with = Counter(nm for r in results for nm in set(r['parts']))
    words = [w for r in results for w in r['words']]
    vocab = sorted({t.split('/')[0] for r in results for t in r['vocab']})
    return {
        'generator': 'easytune data_prep.synthetic', 'version': GENERATOR_VERSION, 'seed': int(seed),
        'n_clips': int(n_clips), 'n_motions': 2 * int(n_clips), 'fps': 20,
        'splits': {k: 2 * len(v) for k, v in sp.items()} | {'train_val': 2 * (len(sp['train']) + len(sp['val'])),
                                                             'all': 2 * n_clips},
        'frames': {'total': int(2 * frames.sum()), 'min': int(frames.min()), 'mean': round(float(frames.mean()), 2),
                   'max': int(frames.max()), 'hours': round(float(2 * frames.sum() / 20 / 3600), 3)},
        'parts_per_clip': {str(k): v for k, v in sorted(Counter(len(r['parts']) for r in results).items())},
        'action_counts': dict(sorted(per_action.items())),
        'clips_with_action': dict(sorted(clips_with.items())),
        'captions': {'lines': int(sum(r['n_lines'] for r in results)), 'mean_tokens': round(float(np.mean(words)), 2),
                     'vocabulary': len(vocab)},
        'validation': {
            'mean_foot_skate_m_per_frame': round(float(skate), 6),
            'mean_foot_skate_m_per_s': round(float(skate * 20), 5),
            'max_clip_mean_skate_m_per_frame': round(max(s['skate_mean'] for s in st + mst), 6),
            'mirrored_mean_foot_skate_m_per_frame': round(float(mskate), 6),
            'planted_foot_frames': int(skate_n),
            'lowest_foot_height_m': round(min(s['lowest_foot'] for s in st + mst), 6),
            'max_penetration_m': round(max(0.0, -min(s['lowest_foot'] for s in st + mst)), 6),
            'mean_contact': round(float(np.mean([s['contact_frac'] for s in st])), 4),
            'retried_clips': int(sum(r['attempts'] > 1 for r in results)),
            'thresholds': {'penetration_m': MAX_PENETRATION, 'mean_skate_m_per_frame': MAX_SKATE,
                           'plant_height_m': {str(k): v for k, v in PLANT_HEIGHT.items()}},
        },
        'feature_stats': {'mean_root_height': round(float(feats[:, 3].mean()), 4),
                          'finite': bool(np.isfinite(feats).all())},
    }


def _dir_size(path):
    return sum(f.stat().st_size for f in Path(path).rglob('*') if f.is_file())


def main(argv=None):
    ap = argparse.ArgumentParser(prog='python -m data_prep.synthetic', description=__doc__.split('\n\n')[0])
    ap.add_argument('--out', required=True, help='output folder (HumanML3D layout)')
    ap.add_argument('--n', type=int, default=DEFAULT_N, help=f'number of source clips (default {DEFAULT_N})')
    ap.add_argument('--seed', type=int, default=0, help='base seed (default 0)')
    ap.add_argument('--overwrite', action='store_true', help='replace a non-empty output folder')
    ap.add_argument('--workers', type=int, default=None, help='processes (default: number of CPUs)')
    ap.add_argument('--quiet', action='store_true', help='no progress bar')
    ap.add_argument('--format', '--dataset', dest='format', choices=FORMATS, default='humanml3d',
                    help="on-disk format: 'humanml3d' (default; 22 joints, 263-d, 20 fps) or 'kit' "
                         "(KIT-ML: 21 joints, 251-d, 12.5 fps, millimetres, its own Mean/Std)")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        out = generate(a.out, a.n, a.seed, overwrite=a.overwrite, progress=not a.quiet, workers=a.workers,
                       dataset=a.format)
    except (FileExistsError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    dt = time.perf_counter() - t0
    info = json.loads((out / 'dataset.json').read_text())
    v = info['validation']
    print(f"wrote {info['n_motions']} motions ({info['n_clips']} clips + mirrors) to {out} in {dt:.1f} s, "
          f"{_dir_size(out) / 2**20:.0f} MiB ({info.get('format', 'humanml3d')}); foot skate {v['mean_foot_skate_m_per_frame'] * 100:.3f} cm/frame, "
          f"lowest foot {v['lowest_foot_height_m'] * 100:.2f} cm")
    return 0


if __name__ == '__main__':
    sys.exit(main())
