"""The procedural body: control signals (a `Track`) -> SMPL-style local joint rotations -> joints by FK.

A `Track` holds, per frame, what an animator would key: the pelvis position and heading, pelvis/spine/neck
angles, world-space ankle targets with foot heading and pitch for both feet, and wrist targets relative to
the shoulders. `solve_pose` turns it into local joint rotations: the pelvis height is lowered (smoothly)
wherever a supporting foot would be out of reach, the legs and arms are solved by analytic two-bone IK, and
every other joint gets its rotation from the angle curves. `track_to_joints` runs
`easytune.motion.forward_kinematics_local` on the result with the HumanML3D target skeleton, so the bone
lengths are exactly those of the skeleton that `features_from_joints` retargets to.

Index 0 of every per-foot / per-arm axis is the LEFT side (+X), index 1 the RIGHT side.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from easytune.motion import T2M_PARENTS, forward_kinematics_local, target_offsets

from scipy.ndimage import gaussian_filter1d, maximum_filter1d

from .rotations import cross, foot_dir, normalize, qbetween, qconj, qmul, qrot, quat_euler, quat_yaw

__all__ = ['OFF', 'LEN', 'ANKLE_H', 'FOOT_PITCH0', 'Track', 'solve_pose', 'track_to_joints', 'standing_height',
           'LEG_LEN', 'ARM_LEN', 'FOOT_LEN']

OFF = target_offsets()                                  # [22, 3] raw direction x bone length
LEN = np.linalg.norm(OFF, axis=-1)                      # bone length of joint j to its parent
HIP = np.array([1, 2]); KNEE = np.array([4, 5]); ANKLE = np.array([7, 8]); TOE = np.array([10, 11])
COLLAR = np.array([13, 14]); SHOULDER = np.array([16, 17]); ELBOW = np.array([18, 19]); WRIST = np.array([20, 21])
THIGH = LEN[KNEE]; SHIN = LEN[ANKLE]; FOOT_LEN = LEN[TOE]       # per side (left, right)
LEG_LEN = THIGH + SHIN
UPPER_ARM = LEN[ELBOW]; FOREARM = LEN[WRIST]; ARM_LEN = UPPER_ARM + FOREARM
ANKLE_H = 0.055                                        # ankle height with the foot flat (toe joint on the floor)
FOOT_PITCH0 = np.arcsin(ANKLE_H / FOOT_LEN)            # resting foot pitch per side (toes down), ~22 deg
SIDE = np.array([1.0, -1.0])                           # +X for the left side, -X for the right
HEAD_BASE = np.deg2rad(-50.0)                          # neck rotation that points the head bone up-forward
SPINE_W = np.array([0.35, 0.35, 0.30])                 # share of the spine bend taken by spine1/2/3
DOWN = np.array([0., -1., 0.])


@dataclass
class Track:
    "Per-frame control signals of one clip (world frame, metres, radians); see the module docstring."
    root: np.ndarray        # [n, 3] pelvis position (y is the wanted height; it is lowered where a foot is out of reach)
    yaw: np.ndarray         # [n] heading of the body
    pelvis: np.ndarray      # [n, 3] pelvis pitch (forward tilt), roll, yaw offset relative to the heading
    spine: np.ndarray       # [n, 3] total spine pitch (forward bend), roll, twist (spread over spine1/2/3)
    neck: np.ndarray        # [n, 3] head pitch (nod), roll, twist relative to the chest
    ankle: np.ndarray       # [n, 2, 3] world ankle targets (left, right)
    foot_yaw: np.ndarray    # [n, 2] world heading of each foot
    foot_pitch: np.ndarray  # [n, 2] pitch of the foot bone, positive = toes down
    support: np.ndarray     # [n, 2] 1 where the foot carries weight (its target must be reached), 0 in the air
    knee_out: np.ndarray    # [n, 2] outward rotation of the knee direction (rad)
    hand: np.ndarray        # [n, 2, 3] wrist target relative to the shoulder, in the arm frame
    hand_w: np.ndarray      # [n, 2] arm frame: 0 = chest frame, 1 = heading frame (yaw only)
    elbow_pole: np.ndarray  # [n, 2, 3] where the elbow should point, in the arm frame
    shrug: np.ndarray       # [n, 2] collar elevation (rad) added to the resting one

    def __len__(self): return len(self.yaw)

    @classmethod
    def names(cls): return [f.name for f in fields(cls)]

    def copy(self): return Track(**{k: getattr(self, k).copy() for k in self.names()})

    def slice(self, a, b): return Track(**{k: getattr(self, k)[a:b].copy() for k in self.names()})

    @classmethod
    def concat(cls, tracks): return cls(**{k: np.concatenate([getattr(t, k) for t in tracks], 0) for k in cls.names()})

    def transformed(self, yaw0, origin):
        "This track rotated by `yaw0` about +Y and moved by `origin` (XZ); body-relative signals unchanged."
        q = quat_yaw(yaw0)
        o = np.array([origin[0], 0.0, origin[-1]])
        t = self.copy()
        t.root = qrot(q, self.root) + o
        t.ankle = qrot(q, self.ankle) + o
        t.yaw = self.yaw + yaw0
        t.foot_yaw = self.foot_yaw + yaw0
        return t


def _leg_ik(hip, target, pole, l1, l2):
    "Two-bone IK: knee position and the (possibly clamped) ankle position [..., 3]."
    d_vec = target - hip
    d = np.linalg.norm(d_vec, axis=-1, keepdims=True)
    e = d_vec / np.maximum(d, 1e-9)
    d = np.clip(d, abs(l1 - l2) + 1e-3, (l1 + l2) * 0.99995)
    x = (l1 * l1 - l2 * l2 + d * d) / (2 * d)
    r = np.sqrt(np.maximum(l1 * l1 - x * x, 0.0))
    p = pole - (pole * e).sum(-1, keepdims=True) * e
    p_norm = np.linalg.norm(p, axis=-1, keepdims=True)
    # if the pole is (nearly) parallel to the limb, fall back to any perpendicular direction
    fallback = normalize(cross(e, np.array([1.0, 0.0, 0.0])) + 1e-6)
    p = np.where(p_norm > 1e-6, p / np.maximum(p_norm, 1e-12), fallback)
    knee = hip + x * e + r * p
    return knee, hip + d * e


def standing_height(half_width=0.1, reach=0.985):
    "Pelvis height for an upright stance with the ankles `half_width` from the midline."
    dh = np.abs(half_width - np.abs(OFF[HIP, 0]))
    return float(np.min(ANKLE_H + np.sqrt((reach * LEG_LEN) ** 2 - dh ** 2)))


def solve_pose(track: Track, reach=0.998, smooth_radius=4):
    """Local rotations for `track`: returns (root_pos [n,3], local_rots [n,22,4], info dict).

    info: 'ankle_target' (after the toe-above-floor fix), 'ankle' (reached), 'wrist_target', 'wrist' and 'joints'
    (the positions computed on the way)."""
    n = len(track)
    g = np.zeros((n, 22, 4)); g[..., 0] = 1.0          # global rotations
    p = np.zeros((n, 22, 3))                           # positions
    ankle_t = track.ankle.copy()
    # the toe must stay above the floor and the ankle above 3 cm
    ankle_t[..., 1] = np.maximum(ankle_t[..., 1], np.maximum(FOOT_LEN * np.sin(track.foot_pitch), 0.03))

    g[:, 0] = quat_euler(track.pelvis[:, 0], track.pelvis[:, 1], track.yaw + track.pelvis[:, 2])
    root = track.root.astype(np.float64).copy()
    hip_off = qrot(g[:, 0, None], OFF[HIP][None])                  # [n, 2, 3]
    # lower the pelvis wherever a supporting foot would be out of reach. The shortfall is widened with a
    # max-filter and then smoothed with a Gaussian no wider than it, so the smoothed lowering is never less
    # than needed (planted feet are always reached) and it starts a few frames ahead (no jerk at touchdown)
    lim = np.full(n, np.inf)
    for s in range(2):
        hip_xz = root[:, [0, 2]] + hip_off[:, s][:, [0, 2]]
        dh = np.linalg.norm(hip_xz - ankle_t[:, s][:, [0, 2]], axis=-1)
        lr = reach * LEG_LEN[s]
        ymax = ankle_t[:, s, 1] + np.sqrt(np.maximum(lr * lr - dh * dh, 1e-4)) - hip_off[:, s, 1]
        lim = np.minimum(lim, np.where(track.support[:, s] > 0.5, ymax, np.inf))
    short = np.maximum(root[:, 1] - lim, 0.0)
    if n > 1 and short.any():
        short = gaussian_filter1d(maximum_filter1d(short, 2 * smooth_radius + 1, mode='nearest'), smooth_radius / 2,
                                  mode='nearest', truncate=2.0)
        root[:, 1] -= short
    p[:, 0] = root
    p[:, HIP] = root[:, None] + hip_off
    # spine, neck, head
    parts = [track.spine * w for w in SPINE_W]
    for j, par, part in zip([3, 6, 9], [0, 3, 6], parts):
        g[:, j] = qmul(g[:, par], quat_euler(part[:, 0], part[:, 1], part[:, 2]))
        p[:, j] = p[:, par] + qrot(g[:, par], OFF[j])
    g[:, 12] = qmul(g[:, 9], qmul(quat_euler(track.neck[:, 0], track.neck[:, 1], track.neck[:, 2]),
                                  quat_euler(np.full(n, HEAD_BASE), np.zeros(n), np.zeros(n))))
    p[:, 12] = p[:, 9] + qrot(g[:, 9], OFF[12])
    p[:, 15] = p[:, 12] + qrot(g[:, 12], OFF[15])
    g[:, 15] = g[:, 12]
    heading = quat_yaw(track.yaw)
    wrist_t = np.zeros((n, 2, 3))
    # arms: collar points the shoulder up and out, then two-bone IK to the wrist target
    for s in range(2):
        c, sh, el, wr = COLLAR[s], SHOULDER[s], ELBOW[s], WRIST[s]
        elev = np.deg2rad(60.0) + track.shrug[:, s]
        cdir = np.stack([SIDE[s] * np.cos(elev), np.sin(elev), np.full(n, -0.05)], -1)
        g[:, c] = qmul(g[:, 9], qbetween(DOWN, cdir))
        p[:, c] = p[:, 9] + qrot(g[:, 9], OFF[c])
        p[:, sh] = p[:, c] + qrot(g[:, c], OFF[sh])
        w = np.clip(track.hand_w[:, s], 0, 1)[:, None]
        rel = (1 - w) * qrot(g[:, 9], track.hand[:, s]) + w * qrot(heading, track.hand[:, s])
        pole = (1 - w) * qrot(g[:, 9], track.elbow_pole[:, s]) + w * qrot(heading, track.elbow_pole[:, s])
        elbow, wrist = _leg_ik(p[:, sh], p[:, sh] + rel, pole, UPPER_ARM[s], FOREARM[s])
        wrist_t[:, s] = p[:, sh] + rel
        g[:, sh] = qmul(g[:, c], qbetween(DOWN, qrot(qconj(g[:, c]), elbow - p[:, sh])))
        p[:, el] = elbow
        g[:, el] = qmul(g[:, sh], qbetween(DOWN, qrot(qconj(g[:, sh]), wrist - elbow)))
        p[:, wr] = wrist
        g[:, wr] = g[:, el]
    # legs: two-bone IK to the ankle target, knee towards the feet's heading, then the foot bone
    for s in range(2):
        h, k, a, t = HIP[s], KNEE[s], ANKLE[s], TOE[s]
        kyaw = 0.5 * (track.foot_yaw[:, s] + track.yaw + track.pelvis[:, 2]) + SIDE[s] * track.knee_out[:, s]
        pole = np.stack([np.sin(kyaw), np.full(n, 0.05), np.cos(kyaw)], -1)
        knee, ankle = _leg_ik(p[:, h], ankle_t[:, s], pole, THIGH[s], SHIN[s])
        g[:, h] = qmul(g[:, 0], qbetween(DOWN, qrot(qconj(g[:, 0]), knee - p[:, h])))
        p[:, k] = knee
        g[:, k] = qmul(g[:, h], qbetween(DOWN, qrot(qconj(g[:, h]), ankle - knee)))
        p[:, a] = ankle
        fd = foot_dir(track.foot_yaw[:, s], track.foot_pitch[:, s])
        g[:, a] = qmul(g[:, k], qbetween(np.array([0., 0., 1.]), qrot(qconj(g[:, k]), fd)))
        p[:, t] = ankle + FOOT_LEN[s] * fd
        g[:, t] = g[:, a]
    # local rotations: parent^-1 * global
    local = np.empty_like(g)
    local[:, 0] = g[:, 0]
    for j in range(1, 22):
        local[:, j] = qmul(qconj(g[:, T2M_PARENTS[j]]), g[:, j])
    local = normalize(local)
    return root, local, {'ankle_target': ankle_t, 'ankle': p[:, ANKLE], 'wrist_target': wrist_t,
                         'wrist': p[:, WRIST], 'joints': p}


def track_to_joints(track: Track, **kw) -> np.ndarray:
    "World joint positions [n, 22, 3] (float64) of a track, through `forward_kinematics_local`."
    root, local, _ = solve_pose(track, **kw)
    return forward_kinematics_local(root, local, OFF)
