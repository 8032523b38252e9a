"""Small, vectorised numpy quaternion helpers (w, x, y, z) used by the procedural body model.

Everything here works on arrays with arbitrary leading dimensions and float64. Conventions match
`easytune.motion`: Y is up, the body faces +Z, the person's left is +X; a positive yaw (rotation about +Y)
turns the body to its left (counterclockwise seen from above).
"""
from __future__ import annotations

import numpy as np

__all__ = ['normalize', 'cross', 'qmul', 'qconj', 'qrot', 'qbetween', 'quat_axis_angle', 'quat_yaw', 'quat_euler',
           'yaw_dir', 'foot_dir', 'min_jerk', 'smoothstep', 'smooth_min']

_EPS = 1e-12


def normalize(v, axis=-1):
    "Unit vectors along `axis` (zero vectors stay zero)."
    v = np.asarray(v, dtype=np.float64)
    return v / np.maximum(np.linalg.norm(v, axis=axis, keepdims=True), _EPS)


def cross(a, b):
    "Cross product over the last axis (broadcasting; a faster stand-in for np.cross on small arrays)."
    a = np.asarray(a, dtype=np.float64); b = np.asarray(b, dtype=np.float64)
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], -1)


def qmul(q, r):
    "Hamilton product q*r (apply r first, then q)."
    q = np.asarray(q, dtype=np.float64); r = np.asarray(r, dtype=np.float64)
    w1, x1, y1, z1 = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    w2, x2, y2, z2 = r[..., 0], r[..., 1], r[..., 2], r[..., 3]
    return np.stack([w1*w2 - x1*x2 - y1*y2 - z1*z2, w1*x2 + x1*w2 + y1*z2 - z1*y2,
                     w1*y2 - x1*z2 + y1*w2 + z1*x2, w1*z2 + x1*y2 - y1*x2 + z1*w2], -1)


def qconj(q):
    "Conjugate (= inverse of a unit quaternion)."
    return np.asarray(q, dtype=np.float64) * np.array([1., -1., -1., -1.])


def qrot(q, v):
    "Rotate vectors v[..., 3] by unit quaternions q[..., 4] (broadcasting)."
    q = np.asarray(q, dtype=np.float64); v = np.asarray(v, dtype=np.float64)
    u, w = q[..., 1:], q[..., :1]
    uv = cross(u, v)
    return v + 2 * (w * uv + cross(u, uv))


def qbetween(u, v):
    "Shortest-arc unit quaternion taking direction u to direction v (antiparallel pairs get a 180 deg turn)."
    u = normalize(u); v = normalize(v)
    u, v = np.broadcast_arrays(u, v)
    w = 1.0 + (u * v).sum(-1, keepdims=True)
    axis = cross(u, v)
    q = np.concatenate([w, axis], -1)
    bad = w[..., 0] < 1e-9
    if np.any(bad):   # u == -v: rotate 180 deg about any axis perpendicular to u
        ub = u[bad]
        other = np.where(np.abs(ub[:, :1]) < 0.9, np.array([[1., 0, 0]]), np.array([[0., 1, 0]]))
        perp = normalize(cross(ub, other))
        q[bad] = np.concatenate([np.zeros((len(ub), 1)), perp], -1)
    return normalize(q)


def quat_axis_angle(axis, angle):
    "Quaternion rotating by `angle` radians about `axis` (normalised here)."
    axis = normalize(axis)
    half = np.asarray(angle, dtype=np.float64)[..., None] / 2
    return np.concatenate([np.cos(half) * np.ones_like(axis[..., :1]), np.sin(half) * axis], -1)


def _about(axis_index, angle):
    angle = np.asarray(angle, dtype=np.float64)
    q = np.zeros(angle.shape + (4,))
    q[..., 0] = np.cos(angle / 2)
    q[..., 1 + axis_index] = np.sin(angle / 2)
    return q


def quat_yaw(yaw):
    "Rotation about +Y by `yaw` radians (positive = turn to the body's left)."
    return _about(1, yaw)


def quat_euler(pitch, roll, yaw):
    """Ry(yaw) * Rx(pitch) * Rz(roll): positive pitch tilts +Y towards +Z (a forward lean),
    positive roll tilts +Y towards -X (a lean to the body's right), positive yaw turns left."""
    return qmul(_about(1, yaw), qmul(_about(0, pitch), _about(2, roll)))


def yaw_dir(yaw):
    "Horizontal unit vector [..., 3] of heading `yaw` (0 -> +Z, +pi/2 -> +X)."
    yaw = np.asarray(yaw, dtype=np.float64)
    return np.stack([np.sin(yaw), np.zeros_like(yaw), np.cos(yaw)], -1)


def foot_dir(yaw, pitch):
    "Unit direction ankle -> toe for a foot with heading `yaw` and pitch (positive = toes pointing down)."
    yaw = np.asarray(yaw, dtype=np.float64); pitch = np.asarray(pitch, dtype=np.float64)
    c = np.cos(pitch)
    return np.stack([np.sin(yaw) * c, -np.sin(pitch), np.cos(yaw) * c], -1)


def min_jerk(u):
    "Minimum-jerk ease 10u^3 - 15u^4 + 6u^5 on [0, 1] (clipped outside)."
    u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
    return u * u * u * (10 - 15 * u + 6 * u * u)


def smoothstep(u):
    "Cubic ease 3u^2 - 2u^3 on [0, 1] (clipped outside)."
    u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
    return u * u * (3 - 2 * u)


def smooth_min(a, b, k=0.02):
    "A smooth lower bound of min(a, b): never above either, within k/2 of the true minimum."
    a = np.asarray(a, dtype=np.float64); b = np.asarray(b, dtype=np.float64)
    return 0.5 * (a + b - np.sqrt((a - b) ** 2 + k * k))
