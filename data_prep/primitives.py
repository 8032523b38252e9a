"""Motion primitives: a per-clip `Style`, the neutral stance, a keyframing `Builder`, footstep locomotion and jumps.

All primitives write control signals into a `Track` (see `body.py`). Frames are at 20 fps. A `Builder` keeps a
cursor: keyed channels are interpolated (minimum jerk) from their value at the cursor and then *held* until
the end of the track, so the next phase starts from where the previous one ended.

Locomotion is path-first: the pelvis follows a smooth path (velocity ramps in and out, heading may turn) and
every foot lands where the pelvis will be at the middle of that foot's stance, offset sideways by the stance
half-width. Planted feet do not move (the ankle target is constant); a foot leaves the floor by rolling over
its toe joint and lands heel first, then rolls flat. The legs are solved by IK in `body.solve_pose`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from .body import ANKLE_H, FOOT_LEN, FOOT_PITCH0, SIDE, UPPER_ARM, FOREARM, Track, standing_height
from .rotations import foot_dir, min_jerk, qrot, quat_yaw, smoothstep, yaw_dir

__all__ = ['FPS', 'Style', 'neutral_track', 'seated_pose', 'Builder', 'locomote', 'jump', 'arm_rel', 'rest_hands']

FPS = 20
GRAVITY = 9.81


@dataclass(frozen=True)
class Style:
    "Per-clip body style: small constant offsets and gains that vary from person to person."
    half_width: float   # ankle distance from the midline (m)
    toe_out: float      # outward foot angle (rad)
    reach: float        # leg extension when standing (fraction of the leg length)
    elbow_bend: float   # resting elbow flexion (rad)
    hand_out: float     # resting wrist offset outwards (m)
    hand_fwd: float     # resting wrist offset forwards (m)
    lean: float         # resting spine pitch (rad)
    head_pitch: float   # resting head pitch (rad)
    swing: float        # arm swing amplitude factor
    tempo: float        # duration factor (> 1: slower)
    bob: float          # vertical bounce factor
    shrug: float        # resting collar elevation offset (rad)
    pelvis_tilt: float  # resting pelvis pitch (rad)
    knee_out: float     # resting outward knee direction (rad)
    step: float         # step length factor

    @classmethod
    def sample(cls, rng):
        u = rng.uniform
        return cls(half_width=u(0.085, 0.125), toe_out=u(0.02, 0.2), reach=u(0.99, 0.998),
                   elbow_bend=u(0.15, 0.5), hand_out=u(0.02, 0.08), hand_fwd=u(-0.01, 0.07),
                   lean=u(-0.04, 0.1), head_pitch=u(-0.12, 0.2), swing=u(0.6, 1.4), tempo=u(0.92, 1.08),
                   bob=u(0.7, 1.3), shrug=u(-0.12, 0.12), pelvis_tilt=u(-0.05, 0.1), knee_out=u(0.0, 0.2),
                   step=u(0.92, 1.08))

    @classmethod
    def default(cls):
        return cls(0.1, 0.1, 0.995, 0.3, 0.05, 0.03, 0.03, 0.05, 1.0, 1.0, 1.0, 0.0, 0.02, 0.1, 1.0)

    def frames(self, seconds):
        "Seconds at this person's tempo -> whole frames (at least 1)."
        return max(1, int(round(seconds * FPS * self.tempo)))


def arm_rel(side, out, down, fwd):
    "A wrist target relative to the shoulder: `out` is towards the side of the arm (left arm: +X)."
    return np.array([SIDE[side] * out, -down, fwd], dtype=np.float64)


def rest_hands(style):
    "Resting wrist targets [2, 3] (arms hanging) and elbow poles [2, 3] in the heading frame."
    l1, l2 = UPPER_ARM, FOREARM
    d = np.sqrt(l1 ** 2 + l2 ** 2 + 2 * l1 * l2 * np.cos(style.elbow_bend))
    hands = np.stack([arm_rel(s, style.hand_out, np.sqrt(np.maximum(d[s] ** 2 - style.hand_out ** 2
                                                                   - style.hand_fwd ** 2, 0.01)), style.hand_fwd)
                      for s in range(2)])
    poles = np.stack([np.array([SIDE[s] * 0.35, 0.0, -1.0]) for s in range(2)])
    return hands, poles


def stance_feet(style, half_width=None):
    "Neutral ankle positions [2, 3] and foot yaws [2] in the body frame (origin at the pelvis, facing +Z)."
    hw = style.half_width if half_width is None else half_width
    ankle = np.array([[hw, ANKLE_H, 0.0], [-hw, ANKLE_H, 0.0]])
    return ankle, SIDE * style.toe_out


def neutral_track(n, style) -> Track:
    "`n` frames of the upright neutral stance at the origin, facing +Z."
    ankle, fyaw = stance_feet(style)
    hands, poles = rest_hands(style)
    h = standing_height(style.half_width, style.reach)
    rep = lambda a: np.repeat(np.asarray(a, dtype=np.float64)[None], n, 0)
    return Track(root=rep([0.0, h, 0.0]), yaw=np.zeros(n), pelvis=rep([style.pelvis_tilt, 0.0, 0.0]),
                 spine=rep([style.lean, 0.0, 0.0]), neck=rep([style.head_pitch, 0.0, 0.0]), ankle=rep(ankle),
                 foot_yaw=rep(fyaw), foot_pitch=rep(FOOT_PITCH0), support=np.ones((n, 2)),
                 knee_out=np.full((n, 2), style.knee_out), hand=rep(hands), hand_w=np.ones((n, 2)),
                 elbow_pole=rep(poles), shrug=np.full((n, 2), style.shrug))


def seated_pose(style):
    "Channel values of the seated pose (on an invisible chair behind the person), in the body frame."
    return dict(root=np.array([0.0, 0.5, -0.3]), pelvis=np.array([-0.1, 0.0, 0.0]),
                spine=np.array([0.05 + 0.5 * style.lean, 0.0, 0.0]),
                hand=np.stack([arm_rel(s, 0.06, 0.36, 0.3) for s in range(2)]),
                elbow_pole=np.stack([np.array([SIDE[s] * 0.6, 0.0, -1.0]) for s in range(2)]))


class Builder:
    "Keyframe control signals onto a neutral track with a time cursor (frames)."

    def __init__(self, style, rng, n_max=420, seated=False):
        self.style, self.rng, self.t = style, rng, 0
        self.tr = neutral_track(n_max, style)
        self.seated = seated
        if seated:
            for k, v in seated_pose(style).items(): getattr(self.tr, k)[:] = v

    @property
    def n_max(self): return len(self.tr)

    def value(self, name, idx=(), t=None):
        "Current value of a channel at frame t (default: the cursor)."
        t = self.t if t is None else t
        return np.array(getattr(self.tr, name)[min(t, self.n_max - 1)][idx], dtype=np.float64)

    def key(self, name, keys, idx=(), t0=None, ease=min_jerk):
        """Interpolate channel `name` (optionally `[idx]` of each frame) through keys [(dt, value), ...] (dt in
        frames from t0, increasing), starting from its value at t0; the last value is held to the end."""
        arr = getattr(self.tr, name)
        t0 = self.t if t0 is None else t0
        prev_t, prev_v = 0, self.value(name, idx, t0)
        for dt, v in keys:
            v = np.asarray(v, dtype=np.float64)
            dt = int(round(dt))
            if dt <= prev_t:
                prev_v = v; continue
            r = np.arange(prev_t + 1, dt + 1)
            w = ease((r - prev_t) / (dt - prev_t)).reshape((-1,) + (1,) * v.ndim)
            frames = t0 + r
            ok = frames < self.n_max
            vals = prev_v[None] + (v - prev_v)[None] * w
            self._write(arr, frames[ok], idx, vals[ok])
            prev_t, prev_v = dt, v
        self._hold(arr, t0 + prev_t, idx)
        return t0 + prev_t

    def write(self, name, values, idx=(), t0=None):
        "Write raw per-frame values from t0 on and hold the last one."
        arr = getattr(self.tr, name)
        t0 = self.t if t0 is None else t0
        values = np.asarray(values, dtype=np.float64)
        frames = t0 + np.arange(len(values))
        ok = frames < self.n_max
        self._write(arr, frames[ok], idx, values[ok])
        self._hold(arr, t0 + len(values) - 1, idx)

    def _write(self, arr, frames, idx, vals):
        if idx == ():
            arr[frames] = vals
        else:
            sub = arr[frames]
            sub[(slice(None),) + (idx if isinstance(idx, tuple) else (idx,))] = vals
            arr[frames] = sub

    def _hold(self, arr, t_last, idx):
        t_last = min(t_last, self.n_max - 1)
        if t_last + 1 >= self.n_max: return
        if idx == ():
            arr[t_last + 1:] = arr[t_last]
        else:
            full = (slice(t_last + 1, None),) + (idx if isinstance(idx, tuple) else (idx,))
            arr[full] = arr[(t_last,) + (idx if isinstance(idx, tuple) else (idx,))]

    def advance(self, k):
        self.t += int(k)
        if self.t >= self.n_max - 2: raise OverflowError("motion longer than the builder's buffer")
        return self.t

    def local(self, v, t=None):
        "A body-frame vector -> world frame at the heading of frame t (rotation only)."
        return qrot(quat_yaw(self.value('yaw', (), t)), np.asarray(v, dtype=np.float64))

    def origin(self, t=None):
        "Ground-projected pelvis reference of the current stance: midpoint of the two ankles (XZ)."
        a = self.value('ankle', (), t)
        return 0.5 * (a[0] + a[1]) * np.array([1.0, 0.0, 1.0])

    def track(self):
        "The track up to the cursor (inclusive)."
        return self.tr.slice(0, self.t + 1)


# ----------------------------------------------------------------------------------------------------------
# locomotion

def _ramp(n, t0, t1, acc):
    "A smooth 0..1..0 velocity profile over frames [t0, t1] with ease-in/out of `acc` frames."
    t = np.arange(n, dtype=np.float64)
    acc = max(acc, 1.0)
    return smoothstep((t - t0) / acc) * smoothstep((t1 - t) / acc)


@dataclass
class GaitSpec:
    "Timing and shape of one locomotion bout (times in frames, lengths in metres)."
    period: float       # frames per step
    swing: float        # frames a foot is in the air per step
    heel_off: float     # frames of heel rise before the toe leaves the floor
    height: float       # swing clearance of the ankle
    pitch_off: float    # foot pitch at toe-off (rad)
    pitch_land: float   # foot pitch at touchdown (rad)
    roll: float = 3     # frames for the landing foot to roll flat
    sway: float = 0.3   # pelvis shift towards the supporting foot (fraction)
    bob: float = 0.02   # vertical bounce of the pelvis (m); > 0: highest in single support (walk), < 0: run
    drop: float = 0.0   # mean lowering of the pelvis (m)
    half_width: float | None = None   # stance half-width during the bout (default: the style's)
    accel: float = 1.5  # steps over which the pelvis speeds up (and slows down)
    plant_phase: float = 0.42   # fraction of a foot's stance at which the pelvis passes over it


def locomote(b: Builder, n_steps, lead, gait: GaitSpec, direction=(0.0, 1.0), step_len=0.6, turn=0.0,
             arms='swing', arm_amp=0.15, lean=0.0, head_turn=0.0):
    """Walk/run/sidestep/turn from the builder's cursor with `n_steps` foot swings (the last one closes the
    stance), the first by foot `lead` (0 left, 1 right). `direction` (x, z) is the travel direction in the
    body frame, `step_len` the distance the pelvis covers per step, `turn` the total heading change (rad).
    Moves the cursor to (and returns) the frame where the closing step has rolled flat."""
    s = b.style
    t0 = b.t
    n = b.n_max
    T, sw, ho = gait.period, gait.swing, gait.heel_off
    shift = max(2, int(round(0.45 * T)))
    lands = t0 + shift + sw + T * np.arange(n_steps)
    lifts = lands - sw
    t_end = float(lands[-1])
    if t_end + gait.roll + 2 >= n: raise OverflowError("motion longer than the builder's buffer")
    # the pelvis path: speed ramps in and out between t0 and the closing step's landing
    acc = max(gait.accel * T, 4.0)
    ramp = _ramp(n, t0 + 0.5 * shift, t_end, acc)     # the pelvis sets off as the first foot lifts
    ramp[int(np.ceil(t_end)) + 1:] = 0
    cum = np.cumsum(ramp); cum = cum / cum[-1]
    yaw0 = b.value('yaw', (), t0)
    yaw = yaw0 + turn * cum
    d = np.array([direction[0], 0.0, direction[1]], dtype=np.float64)
    # peak speed = one step length per step period; the first and last steps come out shorter
    dist = step_len / T * ramp.sum() if np.linalg.norm(d) > 0 else 0.0
    vel = qrot(quat_yaw(yaw), d[None]) * (ramp / max(ramp.sum(), 1e-9) * dist)[:, None]
    p0 = b.value('root', (), t0) * np.array([1.0, 0.0, 1.0])
    path = p0[None] + np.cumsum(vel, 0)
    path[:t0 + 1] = p0
    origin0 = b.origin(t0)
    pel_off = b.value('root', (), t0) - origin0          # pelvis offset from the stance midpoint (keep it)
    pel_off[1] = 0.0
    # feet: each foot lands where the pelvis will be at `plant_phase` of its stance, offset sideways
    frames = np.arange(n, dtype=np.float64)
    interp = lambda arr, t: np.array([np.interp(t, frames, arr[:, k]) for k in range(arr.shape[1])])
    hw_move = s.half_width if gait.half_width is None else gait.half_width
    ankle = b.tr.ankle.copy(); fyaw = b.tr.foot_yaw.copy(); fpitch = b.tr.foot_pitch.copy()
    support = b.tr.support.copy()
    cur_pos = [b.value('ankle', (k,), t0) for k in range(2)]
    cur_yaw = [b.value('foot_yaw', (k,), t0) for k in range(2)]
    feet = [(lead + k) % 2 for k in range(n_steps)]
    for k in range(n_steps):
        f = feet[k]
        final = k >= n_steps - 2
        tm = t_end if final else min(lands[k] + gait.plant_phase * (2 * T - sw), t_end)
        yw = float(np.interp(tm, frames, yaw))
        hw = s.half_width if final else hw_move
        target = interp(path, tm) - qrot(quat_yaw(yw), pel_off) + qrot(quat_yaw(yw), np.array([SIDE[f] * hw, 0, 0]))
        target[1] = ANKLE_H
        tyaw = yw + SIDE[f] * s.toe_out
        _swing_foot(ankle, fyaw, fpitch, support, f, cur_pos[f], cur_yaw[f], target, tyaw, lifts[k], lands[k],
                    ho, gait, n)
        cur_pos[f], cur_yaw[f] = target, tyaw
    i1 = int(np.ceil(t_end + gait.roll)) + 1
    sl = slice(t0, n)
    b.tr.ankle[sl], b.tr.foot_yaw[sl], b.tr.foot_pitch[sl], b.tr.support[sl] = \
        ankle[sl], fyaw[sl], fpitch[sl], support[sl]
    # pelvis: path + sway towards the supporting foot + bounce
    sup = support[:, 0] + support[:, 1]
    cen = ankle.mean(1)
    sp = (support[:, :1] * ankle[:, 0] + support[:, 1:] * ankle[:, 1]) / np.maximum(sup, 1e-6)[:, None]
    sp = np.where(sup[:, None] > 0, sp, cen)
    lat = qrot(quat_yaw(yaw), np.array([[1.0, 0.0, 0.0]]))
    sway = ((sp - cen) * lat).sum(-1, keepdims=True) * lat * gait.sway
    sway = gaussian_filter1d(sway, max(T / 4, 1.0), axis=0, mode='nearest')
    single = np.abs(support[:, 0] - support[:, 1])
    flight = (1 - support[:, 0]) * (1 - support[:, 1])
    if gait.bob >= 0:
        bounce = gait.bob * s.bob * (gaussian_filter1d(single, 1.5) - 0.6)
    else:
        bounce = -gait.bob * s.bob * (gaussian_filter1d(flight, 1.5) - gaussian_filter1d(single, 2.0))
    env = gaussian_filter1d(((frames > t0 + shift * 0.5) & (frames < t_end)).astype(float), 2.0)
    root = b.tr.root.copy()
    root_xz = path + qrot(quat_yaw(yaw), pel_off) * np.array([1.0, 0.0, 1.0]) + sway * env[:, None]
    root[sl, 0], root[sl, 2] = root_xz[sl, 0], root_xz[sl, 2]
    root[sl, 1] = b.value('root', (1,), t0) + env[sl] * (bounce[sl] - gait.drop)
    b.tr.root[sl] = root[sl]
    b.tr.yaw[sl] = yaw[sl]
    # upper body: pelvis/chest counter-rotation and arm swing driven by the feet
    fwd = yaw_dir(yaw)
    delta = ((ankle[:, 0] - ankle[:, 1]) * fwd).sum(-1) / max(step_len, 0.2)   # > 0: left foot ahead
    delta = np.clip(gaussian_filter1d(delta, 1.0), -1.5, 1.5) * env
    b.tr.pelvis[sl, 2] = b.value('pelvis', (2,), t0) - 0.08 * delta[sl]
    b.tr.spine[sl, 2] = b.value('spine', (2,), t0) + 0.1 * delta[sl]
    lean_env = env * lean
    b.tr.spine[sl, 0] = b.value('spine', (0,), t0) + lean_env[sl]
    b.tr.neck[sl, 2] = b.value('neck', (2,), t0) + head_turn * np.sin(np.pi * np.clip(cum, 0, 1))[sl]
    hands0, poles0 = b.value('hand', (), t0), b.value('elbow_pole', (), t0)
    if arms in ('swing', 'run'):
        base = hands0.copy(); pole = poles0.copy()
        if arms == 'run':
            base = np.stack([arm_rel(k, 0.07, 0.27, 0.2) for k in range(2)])
            pole = np.stack([np.array([SIDE[k] * 0.25, -0.2, -1.0]) for k in range(2)])
        amp = arm_amp * s.swing
        for k in range(2):
            sign = -1.0 if k == 0 else 1.0       # the left arm swings back when the left foot is ahead
            sw_f = sign * amp * delta
            d = np.linalg.norm(base[k])
            rise = d - np.sqrt(np.maximum(d * d - sw_f ** 2, 0.0))           # a pendulum: the hand rises as it swings
            target = base[k][None] + np.stack([np.zeros(n), rise, sw_f], -1)
            mix = env[:, None]
            hand = hands0[k][None] * (1 - mix) + target * mix
            b.tr.hand[sl, k] = hand[sl]
            b.tr.elbow_pole[sl, k] = (poles0[k][None] * (1 - mix) + pole[k][None] * mix)[sl]
            b.tr.hand_w[sl, k] = 1.0
    b.t = i1
    return i1


def _swing_foot(ankle, fyaw, fpitch, support, f, pos0, yaw0, pos1, yaw1, lift, land, heel_off, gait, n):
    "Write one foot's heel-off, swing and landing into the foot arrays (and the planted state after it)."
    p0 = FOOT_PITCH0[f]; lf = FOOT_LEN[f]
    frames = np.arange(n, dtype=np.float64)
    toe0 = pos0 + lf * foot_dir(yaw0, p0)
    # heel-off: roll over the toe joint
    h0 = lift - heel_off
    m = (frames >= np.floor(h0)) & (frames <= lift)
    if heel_off > 0 and m.any():
        u = smoothstep((frames[m] - h0) / heel_off)
        pitch = p0 + (gait.pitch_off - p0) * u
        ankle[m, f] = toe0[None] - lf * foot_dir(np.full(m.sum(), yaw0), pitch)
        fpitch[m, f] = pitch
        fyaw[m, f] = yaw0
    a_off = toe0 - lf * foot_dir(yaw0, gait.pitch_off) if heel_off > 0 else pos0
    p_start = gait.pitch_off if heel_off > 0 else p0
    # swing
    m = (frames > lift) & (frames < land)
    if m.any():
        u = (frames[m] - lift) / (land - lift)
        e = min_jerk(u)[:, None]
        pos = a_off[None] + (pos1 - a_off)[None] * e
        pos[:, 1] += gait.height * np.sin(np.pi * u) ** 0.8
        ankle[m, f] = pos
        fpitch[m, f] = p_start + (gait.pitch_land - p_start) * smoothstep(u / 0.75)
        fyaw[m, f] = yaw0 + (yaw1 - yaw0) * min_jerk(u)
        support[m, f] = 0.0
    # landing and the planted state
    m = frames >= land
    ankle[m, f] = pos1
    fyaw[m, f] = yaw1
    u = smoothstep((frames[m] - land) / max(gait.roll, 1))
    fpitch[m, f] = gait.pitch_land + (p0 - gait.pitch_land) * u
    support[m, f] = 1.0


# ----------------------------------------------------------------------------------------------------------
# jumps and hops

def jump(b: Builder, feet=(0, 1), move=(0.0, 0.0), height=0.25, crouch=0.15, land_half_width=None,
         arms='swing', turn=0.0, tempo=1.0):
    """One jump (both feet) or hop (one foot in `feet`) from the cursor. `move` (x, z) is the body-frame
    displacement of the landing, `height` the rise of the pelvis in flight, `crouch` the preparatory dip;
    `land_half_width` changes the stance width on landing (jumping jacks), `arms='swing'` swings the arms
    back in the crouch and up in flight (anything else leaves them to the caller), `turn` turns in the air.
    The pelvis flies on a ballistic arc; the feet push off over the toes and land toes first. Returns the end frame."""
    s = b.style
    g = GRAVITY
    fr = lambda sec: max(2, int(round(sec * FPS * s.tempo * tempo)))
    n_c, n_p = fr(0.35 if crouch > 0.08 else 0.2), fr(0.15)
    t_flight = 2 * np.sqrt(2 * max(height, 0.01) / g)
    n_f = max(3, int(round(t_flight * FPS)))
    n_l, n_r = fr(0.15), fr(0.35)
    t0 = b.t
    root0 = b.value('root', (), t0)
    yaw0 = b.value('yaw', (), t0)
    q = quat_yaw(yaw0)
    mv = qrot(q, np.array([move[0], 0.0, move[1]]))
    # takeoff: crouch, then push up onto the toes
    b.key('root', [(n_c, root0 + np.array([0, -crouch, 0]) + 0.15 * mv),
                   (n_c + n_p, root0 + np.array([0, 0.05, 0]) + 0.3 * mv)], t0=t0)
    b.key('spine', [(n_c, b.value('spine') + np.array([0.25 + crouch, 0, 0])),
                    (n_c + n_p, b.value('spine') + np.array([0.05, 0, 0]))], t0=t0)
    b.key('pelvis', [(n_c, b.value('pelvis') + np.array([0.2 + crouch, 0, 0])),
                     (n_c + n_p, b.value('pelvis'))], t0=t0)
    hands0 = b.value('hand', (), t0)
    if arms == 'swing':
        for k in range(2):
            b.key('hand', [(n_c, arm_rel(k, 0.08, 0.42, -0.25)), (n_c + n_p + n_f // 2, arm_rel(k, 0.1, 0.2, 0.3)),
                           (n_c + n_p + n_f + n_l, arm_rel(k, 0.08, 0.4, 0.15)),
                           (n_c + n_p + n_f + n_l + n_r, hands0[k])], idx=k, t0=t0)
    t_to = t0 + n_c + n_p          # toes leave the floor
    p_to = np.deg2rad(62.0)
    ankle, fyaw, fpitch, support = b.tr.ankle, b.tr.foot_yaw, b.tr.foot_pitch, b.tr.support
    frames = np.arange(b.n_max)
    rel_to, rel_land, toe_land = {}, {}, {}
    root_to = root0 + np.array([0, 0.05, 0]) + 0.3 * mv
    root_land = root_to + mv
    for f in feet:
        a0 = b.value('ankle', (f,), t0); y0 = b.value('foot_yaw', (f,), t0); pp = FOOT_PITCH0[f]; lf = FOOT_LEN[f]
        toe0 = a0 + lf * foot_dir(y0, pp)
        m = (frames >= t0 + n_c) & (frames <= t_to)
        u = smoothstep((frames[m] - (t0 + n_c)) / n_p)
        pitch = pp + (p_to - pp) * u
        ankle[m, f] = toe0 - lf * foot_dir(np.full(m.sum(), y0), pitch)
        fpitch[m, f] = pitch
        a_to = toe0 - lf * foot_dir(y0, p_to)
        rel_to[f] = a_to - root_to
        a1 = a0 + mv
        if land_half_width is not None:
            a1 = a1 + qrot(q, np.array([SIDE[f] * (land_half_width - abs(qrot(quat_yaw(-yaw0), a0 - b.origin(t0))[0])),
                                        0, 0]))
        y1 = y0 + turn
        toe1 = a1 + lf * foot_dir(y1, pp)
        toe_land[f] = (toe1, y1, a1)
        rel_land[f] = toe1 - lf * foot_dir(y1, p_to) - root_land
    # flight: ballistic pelvis, feet follow with a tuck
    t_land = t_to + n_f
    m = (frames > t_to) & (frames < t_land)
    u = (frames[m] - t_to) / n_f
    tf = u * t_flight
    v0 = g * t_flight / 2
    fl = root_to[None] + mv[None] * u[:, None]
    fl[:, 1] = root_to[1] + v0 * tf - 0.5 * g * tf ** 2
    b.tr.root[m] = fl
    b.tr.yaw[m] = yaw0 + turn * min_jerk(u)
    for f in feet:
        rel = rel_to[f][None] * (1 - min_jerk(u))[:, None] + rel_land[f][None] * min_jerk(u)[:, None]
        rel[:, 1] += 0.6 * height * np.sin(np.pi * u) + 0.05
        ankle[m, f] = fl + rel
        fpitch[m, f] = p_to - 0.25 * np.sin(np.pi * u)
        fyaw[m, f] = b.value('foot_yaw', (f,), t0) + turn * min_jerk(u)
        support[m, f] = 0.0
    # landing: toes first, roll down, absorb, stand up
    m = frames >= t_land
    for f in feet:
        toe1, y1, a1 = toe_land[f]
        pp = FOOT_PITCH0[f]; lf = FOOT_LEN[f]
        mm = m & (frames <= t_land + n_l)
        u = smoothstep((frames[mm] - t_land) / n_l)
        pitch = p_to + (pp - p_to) * u
        ankle[mm, f] = toe1 - lf * foot_dir(np.full(mm.sum(), y1), pitch)
        fpitch[mm, f] = pitch
        after = frames > t_land + n_l
        ankle[after, f] = a1; fpitch[after, f] = pp
        fyaw[m, f] = y1
        support[m, f] = 1.0
    b.tr.yaw[m] = yaw0 + turn
    b.t = t_land
    b.tr.root[t_land:] = root_land
    absorb = 0.6 * crouch + 0.05
    b.key('root', [(n_l, root0 + mv + np.array([0, -absorb, 0])), (n_l + n_r, root0 + mv)], t0=t_land)
    b.key('spine', [(n_l, b.value('spine', (), t0) + np.array([0.15 + absorb, 0, 0])),
                    (n_l + n_r, b.value('spine', (), t0))], t0=t_land)
    b.key('pelvis', [(n_l, b.value('pelvis', (), t0) + np.array([0.1 + absorb, 0, 0])),
                     (n_l + n_r, b.value('pelvis', (), t0))], t0=t_land)
    b.t = t_land + n_l + n_r
    return b.t
