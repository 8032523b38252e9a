"""The parameterised action library: 22 action types, each a parameter sampler plus a motion builder.

Every builder starts at the origin facing +Z in the neutral stance (or seated for `stand_up`) and ends in
the neutral stance (or seated after `sit_down`), so actions can be chained. The parameters that captions
talk about (speed, count, side, direction, angle, ...) truly change the motion: counts are exact, sides are
the body's own left (+X) and right, speeds change tempo and stride.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .body import ANKLE_H, FOOT_LEN, FOOT_PITCH0, SIDE
from .primitives import Builder, GaitSpec, arm_rel, jump, locomote, rest_hands, seated_pose
from .rotations import foot_dir, min_jerk, qrot, quat_yaw

__all__ = ['ACTIONS', 'ActionDef', 'build_action']

D = np.deg2rad


@dataclass(frozen=True)
class ActionDef:
    name: str
    weight: float                                  # sampling weight
    sample: Callable                               # rng -> params dict
    build: Callable                                # (Builder, params) -> None (moves the cursor)
    start: str = 'stand'                           # pose the action starts in
    end: str = 'stand'                             # pose it ends in


def _jit(b, lo=0.9, hi=1.1): return b.rng.uniform(lo, hi)


def _f(b, sec):
    "Seconds -> frames at the person's tempo with a small jitter."
    return max(2, int(round(sec * 20 * b.style.tempo * _jit(b))))


def _rest(b, k):
    "Return both arms to rest (heading frame) over k frames from the cursor."
    hands, poles = rest_hands(b.style)
    b.key('hand', [(k, hands)]); b.key('elbow_pole', [(k, poles)]); b.key('hand_w', [(k, np.ones(2))])


def _restore(b, k, spine=True):
    "Return pelvis, spine and neck to the resting values over k frames."
    s = b.style
    b.key('pelvis', [(k, np.array([s.pelvis_tilt, 0, 0]))])
    if spine: b.key('spine', [(k, np.array([s.lean, 0, 0]))])
    b.key('neck', [(k, np.array([s.head_pitch, 0, 0]))])
    b.key('shrug', [(k, np.full(2, s.shrug))])
    b.key('knee_out', [(k, np.full(2, s.knee_out))])


def _world_root(b, rel, t=None):
    "A body-frame offset from the stance midpoint -> world pelvis position (height kept from rel[1])."
    o = b.origin(t)
    w = b.local(np.array([rel[0], 0.0, rel[2]]), t) + o
    w[1] = rel[1]
    return w


def _stand_h(b):
    from .body import standing_height
    return standing_height(b.style.half_width, b.style.reach)


def attach_foot(b, f, t0, keys):
    """Move foot `f` off the floor from frame t0 through keys [(dt, kind, pos, pitch)], kind 'body' (relative to
    the pelvis, heading frame, evaluated every frame) or 'world'; the first key is implicitly the planted foot.
    The foot carries no weight strictly between the first and the last key (the last key must be 'world')."""
    tr = b.tr
    a0 = tr.ankle[t0, f].copy(); p0 = tr.foot_pitch[t0, f]; y0 = tr.foot_yaw[t0, f]
    seq = [(0, 'world', a0, p0)] + list(keys)
    t_last = t0 + seq[-1][0]
    for (ta, ka, pa, qa), (tb, kb, pb, qb) in zip(seq[:-1], seq[1:]):
        fr = np.arange(t0 + ta, t0 + tb + 1)
        fr = fr[fr < b.n_max]
        u = min_jerk((fr - (t0 + ta)) / max(tb - ta, 1))[:, None]
        def ev(kind, pos):
            if kind == 'world': return np.broadcast_to(pos, (len(fr), 3))
            return tr.root[fr] + qrot(quat_yaw(tr.yaw[fr]), np.broadcast_to(pos, (len(fr), 3)))
        tr.ankle[fr, f] = ev(ka, pa) * (1 - u) + ev(kb, pb) * u
        tr.foot_pitch[fr, f] = qa + (qb - qa) * u[:, 0]
        tr.foot_yaw[fr, f] = y0
    tr.support[t0 + 1:t_last, f] = 0.0
    tr.ankle[t_last:, f] = seq[-1][2]; tr.foot_pitch[t_last:, f] = seq[-1][3]; tr.support[t_last:, f] = 1.0


def pivot_foot(b, f, keys, t0=None):
    "Roll foot `f` over its toe joint through pitch keys [(dt, pitch)], the toe staying planted."
    t0 = b.t if t0 is None else t0
    tr = b.tr
    a0, y0, p0 = tr.ankle[t0, f].copy(), tr.foot_yaw[t0, f], tr.foot_pitch[t0, f]
    toe = a0 + FOOT_LEN[f] * foot_dir(y0, p0)
    end = b.key('foot_pitch', keys, idx=f, t0=t0)
    fr = np.arange(t0, b.n_max)
    tr.ankle[fr, f] = toe - FOOT_LEN[f] * foot_dir(np.full(len(fr), y0), tr.foot_pitch[fr, f])
    return end


def _step_foot(b, f, target, frames, height=0.06, pitch_land=0.25):
    "A single step of foot f to a world ankle target (heel-off, swing, landing) from the cursor."
    from .primitives import _swing_foot
    tr = b.tr
    ho = max(2, frames // 3)
    g = GaitSpec(period=frames, swing=frames, heel_off=ho, height=height, pitch_off=D(45), pitch_land=pitch_land)
    target = np.array(target, dtype=np.float64); target[1] = ANKLE_H
    _swing_foot(tr.ankle, tr.foot_yaw, tr.foot_pitch, tr.support, f, tr.ankle[b.t, f].copy(),
                tr.foot_yaw[b.t, f], target, tr.foot_yaw[b.t, f], b.t + ho, b.t + ho + frames, ho, g, b.n_max)
    return b.t + ho + frames + g.roll


# ----------------------------------------------------------------------------------------------------------
# locomotion family

WALK = {'slow': (12.5, 0.42, 0.10, 0.02), 'normal': (10.5, 0.57, 0.16, 0.035), 'fast': (9.0, 0.68, 0.2, 0.06)}


def s_walk(rng):
    speed = rng.choice(['slow', 'normal', 'fast'], p=[0.3, 0.4, 0.3])
    curve = rng.choice(['none', 'left', 'right'], p=[0.8, 0.1, 0.1])
    return dict(speed=str(speed), steps=int(rng.integers(3, 11)), curve=str(curve),
                angle=int(rng.choice([45, 90])) if curve != 'none' else 0, lead=int(rng.integers(2)))


def b_walk(b, p):
    T, L, amp, lean = WALK[p['speed']]
    T *= b.style.tempo * _jit(b, 0.95, 1.05); L *= b.style.step * _jit(b, 0.95, 1.05)
    g = GaitSpec(period=T, swing=(0.75 if p['speed'] == 'fast' else 0.8) * T, heel_off=0.35 * T, height=0.06 + 0.03 * (p['speed'] == 'fast'),
                 pitch_off=D(50), pitch_land=D(5), sway=0.3, bob=0.025, drop=0.01)
    turn = {'none': 0.0, 'left': 1.0, 'right': -1.0}[p['curve']] * D(p['angle'])
    locomote(b, p['steps'], p['lead'], g, (0.0, 1.0), L, turn=turn, arm_amp=amp, lean=lean)


def s_walk_backward(rng):
    return dict(speed=str(rng.choice(['slow', 'normal'], p=[0.4, 0.6])), steps=int(rng.integers(2, 8)),
                lead=int(rng.integers(2)))


def b_walk_backward(b, p):
    T = (14.5 if p['speed'] == 'slow' else 11.5) * b.style.tempo * _jit(b, 0.95, 1.05)
    L = (0.3 if p['speed'] == 'slow' else 0.4) * b.style.step
    g = GaitSpec(period=T, swing=0.75 * T, heel_off=0.2 * T, height=0.05, pitch_off=D(35), pitch_land=D(32),
                 sway=0.25, bob=0.015, drop=0.015)
    locomote(b, p['steps'], p['lead'], g, (0.0, -1.0), L, arm_amp=0.06, lean=-0.02)


def s_jog(rng): return dict(steps=int(rng.integers(6, 17)), lead=int(rng.integers(2)))


def b_jog(b, p):
    T = 7.6 * b.style.tempo * _jit(b, 0.95, 1.05)
    g = GaitSpec(period=T, swing=1.2 * T, heel_off=0.25 * T, height=0.16, pitch_off=D(58), pitch_land=D(18),
                 roll=2, sway=0.12, bob=-0.035, drop=0.035, accel=2.5)
    locomote(b, p['steps'], p['lead'], g, (0.0, 1.0), 0.95 * b.style.step, arms='run', arm_amp=0.12, lean=0.1)


def s_run(rng): return dict(steps=int(rng.integers(6, 21)), lead=int(rng.integers(2)))


def b_run(b, p):
    T = 6.6 * b.style.tempo * _jit(b, 0.95, 1.05)
    g = GaitSpec(period=T, swing=1.35 * T, heel_off=0.25 * T, height=0.26, pitch_off=D(62), pitch_land=D(20),
                 roll=2, sway=0.1, bob=-0.045, drop=0.055, accel=3.0)
    locomote(b, p['steps'], p['lead'], g, (0.0, 1.0), 1.3 * b.style.step, arms='run', arm_amp=0.2, lean=0.16)


def s_sidestep(rng): return dict(side=str(rng.choice(['left', 'right'])), count=int(rng.integers(1, 6)))


def b_sidestep(b, p):
    f = 0 if p['side'] == 'left' else 1
    T = 11.0 * b.style.tempo * _jit(b, 0.92, 1.08)
    g = GaitSpec(period=T, swing=0.62 * T, heel_off=2, height=0.045, pitch_off=D(35), pitch_land=D(18),
                 sway=0.35, bob=0.01, half_width=b.style.half_width + 0.06)
    locomote(b, 2 * p['count'], f, g, (SIDE[f], 0.0), 0.15 * b.style.step, arm_amp=0.03)


def s_turn(rng): return dict(side=str(rng.choice(['left', 'right'])), angle=int(rng.choice([90, 180], p=[0.6, 0.4])))


def b_turn(b, p):
    f = 0 if p['side'] == 'left' else 1
    n = {90: 3, 180: 4}[p['angle']] + int(b.rng.integers(0, 2))
    T = 11.5 * b.style.tempo * _jit(b)
    g = GaitSpec(period=T, swing=0.7 * T, heel_off=2, height=0.04, pitch_off=D(35), pitch_land=D(15), sway=0.25,
                 bob=0.01)
    locomote(b, n, f, g, (0.0, 0.0), 0.0, turn=SIDE[f] * D(p['angle']), arm_amp=0.04, head_turn=SIDE[f] * 0.3)


def s_spin(rng): return dict(direction=str(rng.choice(['clockwise', 'counterclockwise'])))


def b_spin(b, p):
    f = 0 if p['direction'] == 'counterclockwise' else 1     # counterclockwise (from above) = to the left
    T = 7.5 * b.style.tempo * _jit(b)
    g = GaitSpec(period=T, swing=0.75 * T, heel_off=1, height=0.05, pitch_off=D(35), pitch_land=D(15), roll=2,
                 sway=0.15, bob=0.01)
    locomote(b, 7 + int(b.rng.integers(0, 2)), f, g, (0.0, 0.0), 0.0, turn=SIDE[f] * 2 * np.pi, arm_amp=0.02,
             head_turn=SIDE[f] * 0.35)


# ----------------------------------------------------------------------------------------------------------
# jumps

def s_jump_forward(rng): return dict(count=int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15])))


def b_jump_forward(b, p):
    for i in range(p['count']):
        jump(b, move=(0.0, b.rng.uniform(0.5, 0.9)), height=b.rng.uniform(0.2, 0.32), crouch=b.rng.uniform(0.15, 0.22))
        b.advance(_f(b, 0.15))


def s_jump_in_place(rng): return dict(count=int(rng.integers(1, 6)))


def b_jump_in_place(b, p):
    for i in range(p['count']):
        jump(b, height=b.rng.uniform(0.15, 0.3), crouch=b.rng.uniform(0.1, 0.2), tempo=0.8 if p['count'] > 2 else 1.0)
        b.advance(_f(b, 0.1))


def s_hop(rng): return dict(side=str(rng.choice(['left', 'right'])), count=int(rng.integers(2, 7)),
                            direction=str(rng.choice(['place', 'forward'], p=[0.6, 0.4])))


def b_hop(b, p):
    f = 0 if p['side'] == 'left' else 1           # the foot that hops
    o = 1 - f
    tr = b.tr
    t0 = b.t
    k = _f(b, 0.45)
    # shift the pelvis over the hopping foot, then lift the other foot
    over = tr.ankle[t0, f] * np.array([1, 0, 1]) + b.local(np.array([-SIDE[f] * 0.02, 0, 0.0]))
    r0 = b.value('root')
    b.key('root', [(k, np.array([over[0], r0[1] - 0.01, over[2]]))])
    b.key('spine', [(k, b.value('spine') + np.array([0.05, SIDE[f] * 0.06, 0]))])
    b.advance(k)
    t_lift = b.t
    k_l = _f(b, 0.3)
    b.advance(k_l)
    for i in range(p['count']):
        jump(b, feet=(f,), move=(0.0, 0.3 if p['direction'] == 'forward' else 0.0), height=b.rng.uniform(0.07, 0.12),
             crouch=0.06, arms='none', tempo=0.75)
    b.advance(_f(b, 0.1))
    # put the free foot down beside the hopping foot, pelvis back to the middle
    t_down = b.t
    af = tr.ankle[t_down, f]
    yaw = tr.yaw[t_down]
    land = af + qrot(quat_yaw(yaw), np.array([-SIDE[f] * 2 * b.style.half_width, 0, 0]))
    land[1] = ANKLE_H
    lifted = np.array([SIDE[o] * b.style.half_width, -0.48, -0.22])
    attach_foot(b, o, t_lift, [(k_l, 'body', lifted, D(45)), (t_down - t_lift, 'body', lifted, D(45)),
                               (t_down - t_lift + k_l, 'world', land, FOOT_PITCH0[o])])
    tr.foot_yaw[t_down:, o] = yaw + SIDE[o] * b.style.toe_out
    b.advance(k_l)
    mid = 0.5 * (af + land)
    b.key('root', [(k, np.array([mid[0], _stand_h(b), mid[2]]))])
    b.key('spine', [(k, np.array([b.style.lean, 0, 0]))])
    b.advance(k)


def s_jumping_jacks(rng): return dict(count=int(rng.integers(2, 7)))


def b_jumping_jacks(b, p):
    hands0, poles0 = rest_hands(b.style)
    up = np.stack([arm_rel(k, 0.28, -0.42, 0.0) for k in range(2)])
    pole_up = np.stack([np.array([0.0, -1.0, -0.4]) for _ in range(2)])
    for i in range(p['count']):
        t = b.t
        n = _f(b, 0.35)
        b.key('hand', [(n, up)], t0=t); b.key('elbow_pole', [(n, pole_up)], t0=t)
        jump(b, height=b.rng.uniform(0.07, 0.11), crouch=0.05, land_half_width=0.3, arms='none', tempo=0.6)
        t = b.t
        b.key('hand', [(n, hands0)], t0=t); b.key('elbow_pole', [(n, poles0)], t0=t)
        jump(b, height=b.rng.uniform(0.07, 0.11), crouch=0.05, land_half_width=b.style.half_width, arms='none',
             tempo=0.6)
    _rest(b, _f(b, 0.3))


# ----------------------------------------------------------------------------------------------------------
# in-place leg actions

SQUAT = {'slow': 1.3, 'normal': 0.8, 'fast': 0.45}


def s_squat(rng): return dict(count=int(rng.integers(1, 6)), speed=str(rng.choice(['slow', 'normal', 'fast'],
                                                                                   p=[0.25, 0.5, 0.25])),
                              arms=str(rng.choice(['forward', 'chest'])))


def b_squat(b, p):
    s = b.style
    r0 = b.value('root')
    depth = b.rng.uniform(0.3, 0.42)
    bottom = _world_root(b, np.array([0, r0[1] - depth, -0.14]))
    top = b.value('root')
    arms = np.stack([arm_rel(k, 0.05, 0.05, 0.47) if p['arms'] == 'forward' else arm_rel(k, -0.12, 0.2, 0.25)
                     for k in range(2)])
    poles = np.stack([np.array([SIDE[k], -1.0, 0.0]) for k in range(2)])
    k_arm = _f(b, 0.4)
    b.key('hand', [(k_arm, arms)]); b.key('elbow_pole', [(k_arm, poles)]); b.key('hand_w', [(k_arm, np.full(2, 0.5))])
    b.advance(k_arm // 2)
    for i in range(p['count']):
        n = _f(b, SQUAT[p['speed']])
        b.key('root', [(n, bottom), (2 * n + 2, top)], ease=min_jerk)
        b.key('pelvis', [(n, np.array([s.pelvis_tilt + 0.35, 0, 0])), (2 * n + 2, np.array([s.pelvis_tilt, 0, 0]))])
        b.key('spine', [(n, np.array([s.lean + 0.3, 0, 0])), (2 * n + 2, np.array([s.lean, 0, 0]))])
        b.key('knee_out', [(n, np.full(2, s.knee_out + 0.2)), (2 * n + 2, np.full(2, s.knee_out))])
        b.advance(2 * n + 2 + _f(b, 0.15))
    _rest(b, k_arm)
    b.advance(k_arm // 2)


def s_lunge(rng): return dict(side=str(rng.choice(['left', 'right'])), count=int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15])))


def b_lunge(b, p):
    f = 0 if p['side'] == 'left' else 1
    o = 1 - f
    s = b.style
    for i in range(p['count']):
        tr = b.tr
        home = tr.ankle[b.t, f].copy()
        fwd = b.local(np.array([0.0, 0.0, b.rng.uniform(0.6, 0.75)]))
        n_step = _f(b, 0.4)
        r0 = b.value('root')
        t_land = _step_foot(b, f, home + fwd, n_step)
        n_down = t_land - b.t + _f(b, 0.4)
        low = r0 + 0.45 * fwd; low[1] = r0[1] - b.rng.uniform(0.26, 0.34)
        b.key('root', [(n_step // 2, r0 + 0.15 * fwd - np.array([0, 0.04, 0])), (n_down, low)])
        b.key('spine', [(n_down, np.array([s.lean - 0.05, 0, 0]))])
        b.key('pelvis', [(n_down, np.array([s.pelvis_tilt - 0.05, 0, 0]))])
        pivot_foot(b, o, [(n_down, D(65))], t0=b.t + n_step // 2)
        hold = _f(b, 0.4)
        b.advance(n_down + hold)
        # push back to the start: rise half-way between the feet, then bring the front foot home
        n_up = _f(b, 0.5)
        pivot_foot(b, o, [(n_up, FOOT_PITCH0[o])])
        mid = r0 + 0.35 * fwd; mid[1] = r0[1] - 0.12
        b.key('root', [(n_up, mid), (n_up + n_step + 4, r0)])
        b.key('spine', [(n_up, np.array([s.lean, 0, 0]))])
        b.key('pelvis', [(n_up, np.array([s.pelvis_tilt, 0, 0]))])
        b.advance(n_up // 2)
        t_back = _step_foot(b, f, home, n_step)
        b.advance(max(t_back - b.t, n_up // 2 + n_step + 4) + _f(b, 0.2))


def s_kick(rng): return dict(side=str(rng.choice(['left', 'right'])), count=int(rng.choice([1, 2, 3], p=[0.55, 0.3, 0.15])),
                             height=str(rng.choice(['low', 'high'], p=[0.6, 0.4])))


def b_kick(b, p):
    f = 0 if p['side'] == 'left' else 1
    o = 1 - f
    s = b.style
    tr = b.tr
    t0 = b.t
    k = _f(b, 0.35)
    r0 = b.value('root')
    over = tr.ankle[t0, o] * np.array([1, 0, 1]) + b.local(np.array([SIDE[o] * -0.03, 0, 0.0]))
    b.key('root', [(k, np.array([over[0], r0[1] - 0.02, over[2]]))])
    guard = np.stack([arm_rel(j, 0.15, 0.25, 0.2) for j in range(2)])
    b.key('hand', [(k, guard)]); b.key('hand_w', [(k, np.full(2, 0.3))])
    b.advance(k)
    t_lift = b.t
    h = 0.38 if p['height'] == 'low' else 0.62
    chamber = np.array([SIDE[f] * 0.1, -0.42, 0.28])
    kick_rel = np.array([SIDE[f] * 0.06, h - 0.86, 0.66])
    keys, dt = [], 0
    n_ch, n_ex, n_re = _f(b, 0.3), _f(b, 0.13), _f(b, 0.2)
    for i in range(p['count']):
        keys += [(dt + n_ch, 'body', chamber, D(30)), (dt + n_ch + n_ex, 'body', kick_rel, D(55)),
                 (dt + n_ch + n_ex + n_re, 'body', chamber, D(30))]
        dt += n_ch + n_ex + n_re
        b.key('spine', [(dt - n_re - n_ex // 2, np.array([s.lean - 0.2, 0, 0])), (dt, np.array([s.lean, 0, 0]))],
              t0=t_lift)
    n_dn = _f(b, 0.35)
    home = tr.ankle[t0, f].copy()
    attach_foot(b, f, t_lift, keys + [(dt + n_dn, 'world', home, FOOT_PITCH0[f])])
    b.advance(dt + n_dn)
    b.key('root', [(k, r0)])
    _rest(b, k)
    b.advance(k)


# ----------------------------------------------------------------------------------------------------------
# arm actions

def s_punch(rng): return dict(side=str(rng.choice(['left', 'right', 'both'], p=[0.35, 0.35, 0.3])),
                              count=int(rng.integers(1, 7)))


def b_punch(b, p):
    s = b.style
    guard = np.stack([arm_rel(k, -0.08, 0.06, 0.25) for k in range(2)])
    poles = np.stack([np.array([SIDE[k] * 0.8, -1.0, -0.2]) for k in range(2)])
    k = _f(b, 0.4)
    b.key('hand', [(k, guard)]); b.key('elbow_pole', [(k, poles)]); b.key('hand_w', [(k, np.zeros(2))])
    b.key('root', [(k, b.value('root') + np.array([0, -0.03, 0]))])
    b.advance(k)
    for i in range(p['count']):
        side = {'left': 0, 'right': 1}.get(p['side'], i % 2)
        n_out, n_back = _f(b, 0.13), _f(b, 0.22)
        b.key('hand', [(n_out, arm_rel(side, -0.1, 0.02, 0.5)), (n_out + n_back, guard[side])], idx=side)
        b.key('spine', [(n_out, np.array([s.lean + 0.05, 0, -SIDE[side] * 0.3])),
                        (n_out + n_back, np.array([s.lean, 0, 0]))])
        b.advance(n_out + n_back + _f(b, 0.12))
    _rest(b, k)
    b.key('root', [(k, b.value('root') + np.array([0, 0.03, 0]))])
    b.advance(k)


WAVE = {'slow': 0.7, 'normal': 0.45}


def s_wave(rng): return dict(side=str(rng.choice(['left', 'right', 'both'], p=[0.35, 0.4, 0.25])),
                             count=int(rng.integers(2, 6)), speed=str(rng.choice(['slow', 'normal'], p=[0.3, 0.7])))


def b_wave(b, p):
    sides = {'left': [0], 'right': [1], 'both': [0, 1]}[p['side']]
    up = {k: arm_rel(k, 0.28, -0.3, 0.12) for k in sides}
    pole = {k: np.array([SIDE[k], -0.6, 0.0]) for k in sides}
    k = _f(b, 0.55)
    for j in sides:
        b.key('hand', [(k, up[j])], idx=j); b.key('elbow_pole', [(k, pole[j])], idx=j)
        b.key('hand_w', [(k, 0.5)], idx=j)
    b.advance(k)
    per = _f(b, WAVE[p['speed']])
    amp = b.rng.uniform(0.09, 0.14)
    for i in range(p['count']):
        for j in sides:
            b.key('hand', [(per // 2, up[j] + np.array([SIDE[j] * amp, -0.02, 0])),
                           (per, up[j] - np.array([SIDE[j] * amp, 0.0, 0]))], idx=j)
        b.advance(per)
    for j in sides:
        b.key('hand', [(per // 2, up[j])], idx=j)
    b.advance(per // 2)
    _rest(b, k)
    b.advance(k)


def s_raise_arms(rng): return dict(side=str(rng.choice(['left', 'right', 'both'], p=[0.25, 0.25, 0.5])),
                                   mode=str(rng.choice(['up', 'side'], p=[0.6, 0.4])))


def b_raise_arms(b, p):
    sides = {'left': [0], 'right': [1], 'both': [0, 1]}[p['side']]
    k = _f(b, 0.8)
    for j in sides:
        tgt = arm_rel(j, 0.08, -0.5, 0.06) if p['mode'] == 'up' else arm_rel(j, 0.5, -0.04, 0.08)
        pole = np.array([SIDE[j] * 0.5, 0.0, -1.0]) if p['mode'] == 'up' else np.array([0.0, -0.5, -1.0])
        b.key('hand', [(k, tgt)], idx=j); b.key('elbow_pole', [(k, pole)], idx=j); b.key('hand_w', [(k, 0.0)], idx=j)
        if p['mode'] == 'up': b.key('shrug', [(k, b.style.shrug + 0.15)], idx=j)
    b.key('neck', [(k, np.array([b.style.head_pitch - 0.2 * (p['mode'] == 'up'), 0, 0]))])
    b.advance(k + _f(b, b.rng.uniform(0.4, 1.2)))
    _rest(b, k)
    _restore(b, k, spine=False)
    b.advance(k)


CLAP = {'slow': 0.6, 'normal': 0.38, 'fast': 0.25}


def s_clap(rng): return dict(count=int(rng.integers(2, 8)), speed=str(rng.choice(['slow', 'normal', 'fast'], p=[0.25, 0.5, 0.25])))


def b_clap(b, p):
    openp = np.stack([arm_rel(k, 0.02, 0.2, 0.3) for k in range(2)])
    shut = np.stack([arm_rel(k, -0.155, 0.18, 0.33) for k in range(2)])
    poles = np.stack([np.array([SIDE[k], -1.0, -0.3]) for k in range(2)])
    k = _f(b, 0.45)
    b.key('hand', [(k, openp)]); b.key('elbow_pole', [(k, poles)]); b.key('hand_w', [(k, np.zeros(2))])
    b.advance(k)
    per = _f(b, CLAP[p['speed']])
    for i in range(p['count']):
        b.key('hand', [(per // 2, shut), (per, openp)])
        b.advance(per)
    _rest(b, k)
    b.advance(k)


def s_bow(rng): return dict(depth=str(rng.choice(['slight', 'deep'], p=[0.5, 0.5])), count=int(rng.choice([1, 2], p=[0.75, 0.25])))


def b_bow(b, p):
    s = b.style
    a = b.rng.uniform(0.35, 0.5) if p['depth'] == 'slight' else b.rng.uniform(0.8, 1.0)
    r0 = b.value('root')
    for i in range(p['count']):
        n = _f(b, 0.7 + 0.3 * a)
        back = _world_root(b, np.array([0, r0[1] - 0.03 * a, -0.1 * a]))
        b.key('spine', [(n, np.array([s.lean + 0.65 * a, 0, 0]))])
        b.key('pelvis', [(n, np.array([s.pelvis_tilt + 0.4 * a, 0, 0]))])
        b.key('neck', [(n, np.array([s.head_pitch + 0.2, 0, 0]))])
        b.key('root', [(n, back)])
        b.advance(n + _f(b, 0.4))
        b.key('root', [(n, r0)])
        _restore(b, n)
        b.advance(n + _f(b, 0.2))


def s_sit_down(rng): return dict()


def b_sit_down(b, p):
    s = b.style
    sp = seated_pose(s)
    n = _f(b, b.rng.uniform(1.2, 1.7))
    mid = _world_root(b, np.array([0, 0.68, -0.15]))
    end = _world_root(b, sp['root'])
    b.key('root', [(n // 2, mid), (n, end)])
    b.key('spine', [(n // 2, np.array([s.lean + 0.5, 0, 0])), (n, sp['spine'])])
    b.key('pelvis', [(n // 2, np.array([0.3, 0, 0])), (n, sp['pelvis'])])
    b.key('hand', [(n, sp['hand'])]); b.key('elbow_pole', [(n, sp['elbow_pole'])])
    b.key('hand_w', [(n, np.ones(2))])
    b.advance(n + _f(b, 0.4))


def s_stand_up(rng): return dict()


def b_stand_up(b, p):
    s = b.style
    n = _f(b, b.rng.uniform(1.1, 1.6))
    mid = _world_root(b, np.array([0, 0.62, -0.12]))
    top = _world_root(b, np.array([0, _stand_h(b), 0.0]))
    b.key('spine', [(n // 3, np.array([s.lean + 0.55, 0, 0])), (n, np.array([s.lean, 0, 0]))])
    b.key('pelvis', [(n // 3, np.array([0.35, 0, 0])), (n, np.array([s.pelvis_tilt, 0, 0]))])
    b.key('root', [(n // 3, b.value('root') + b.local(np.array([0, 0, 0.05]))), (2 * n // 3, mid), (n, top)])
    hands, poles = rest_hands(s)
    b.key('hand', [(n // 3, np.stack([arm_rel(k, 0.08, 0.35, 0.28) for k in range(2)])), (n, hands)])
    b.key('elbow_pole', [(n, poles)])
    b.advance(n + _f(b, 0.3))


def s_throw(rng): return dict(side=str(rng.choice(['left', 'right'], p=[0.35, 0.65])))


def b_throw(b, p):
    f = 0 if p['side'] == 'left' else 1
    o = 1 - f
    s = b.style
    r0 = b.value('root')
    n_w, n_t, n_f, n_r = _f(b, 0.6), _f(b, 0.2), _f(b, 0.3), _f(b, 0.7)
    wind = arm_rel(f, 0.22, -0.12, -0.28)
    b.key('hand', [(n_w, wind), (n_w + n_t, arm_rel(f, -0.02, -0.05, 0.5)), (n_w + n_t + n_f, arm_rel(f, -0.2, 0.38, 0.3))], idx=f)
    b.key('elbow_pole', [(n_w, np.array([SIDE[f], -0.2, -0.6])), (n_w + n_t, np.array([SIDE[f], -1.0, 0.0]))], idx=f)
    b.key('hand', [(n_w, arm_rel(o, 0.1, 0.15, 0.4)), (n_w + n_t + n_f, arm_rel(o, 0.15, 0.4, -0.1))], idx=o)
    b.key('hand_w', [(n_w, np.zeros(2))])
    b.key('spine', [(n_w, np.array([s.lean - 0.1, SIDE[f] * 0.1, SIDE[f] * 0.45])),
                    (n_w + n_t, np.array([s.lean + 0.25, 0, -SIDE[f] * 0.35])),
                    (n_w + n_t + n_f, np.array([s.lean + 0.3, 0, -SIDE[f] * 0.4]))])
    b.key('root', [(n_w, r0 + b.local(np.array([SIDE[f] * 0.02, -0.02, -0.06]))),
                   (n_w + n_t, r0 + b.local(np.array([0, -0.03, 0.07])))])
    b.advance(n_w + n_t + n_f + _f(b, 0.2))
    _rest(b, n_r); _restore(b, n_r)
    b.key('root', [(n_r, r0)])
    b.advance(n_r)


ACTIONS = {a.name: a for a in [
    ActionDef('walk', 12, s_walk, b_walk),
    ActionDef('walk_backward', 4, s_walk_backward, b_walk_backward),
    ActionDef('jog', 4, s_jog, b_jog),
    ActionDef('run', 4, s_run, b_run),
    ActionDef('sidestep', 4, s_sidestep, b_sidestep),
    ActionDef('turn', 6, s_turn, b_turn),
    ActionDef('spin', 3, s_spin, b_spin),
    ActionDef('jump_forward', 3, s_jump_forward, b_jump_forward),
    ActionDef('jump_in_place', 3, s_jump_in_place, b_jump_in_place),
    ActionDef('hop', 3, s_hop, b_hop),
    ActionDef('jumping_jacks', 3, s_jumping_jacks, b_jumping_jacks),
    ActionDef('squat', 4, s_squat, b_squat),
    ActionDef('lunge', 3, s_lunge, b_lunge),
    ActionDef('kick', 4, s_kick, b_kick),
    ActionDef('punch', 4, s_punch, b_punch),
    ActionDef('wave', 5, s_wave, b_wave),
    ActionDef('raise_arms', 4, s_raise_arms, b_raise_arms),
    ActionDef('clap', 4, s_clap, b_clap),
    ActionDef('bow', 3, s_bow, b_bow),
    ActionDef('sit_down', 3, s_sit_down, b_sit_down, end='sit'),
    ActionDef('stand_up', 2, s_stand_up, b_stand_up, start='sit'),
    ActionDef('throw', 4, s_throw, b_throw),
]}


def build_action(name, params, style, rng, pre=4, post=4):
    "Track (local frame: starts at the origin facing +Z) of one action with `pre`/`post` frames of stillness."
    a = ACTIONS[name]
    b = Builder(style, rng, seated=a.start == 'sit')
    b.advance(pre)
    a.build(b, params)
    b.advance(post)
    return b.track()
