"Property tests for easytune.viz: frame bookkeeping and what is drawn, for random motions and strides."
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from easytune.motion import T2M_KINEMATIC_CHAIN
from easytune.viz import animate, as_motion_list, keyframe_indices, project, view_basis


def random_motion(rng, T):
    "A random but finite joint array [T, 22, 3] (values in metres, on or above the floor)."
    j = rng.normal(0, .3, (T, 22, 3)); j[..., 1] = np.abs(j[..., 1]); return j


@settings(max_examples=15, deadline=None)
@given(lens=st.lists(st.integers(1, 40), min_size=1, max_size=3), stride=st.integers(1, 7), seed=st.integers(0, 2**16))
def test_frames_and_drawn_lines(lens, stride, seed):
    rng = np.random.default_rng(seed)
    motions = [random_motion(rng, T) for T in lens]
    anim = animate(motions, stride=stride, panel_size=1., dpi=30)
    assert anim.n_frames == len(range(0, max(lens), stride))
    assert len(anim.fig.axes) == len(lens)
    k = int(rng.integers(anim.n_frames))
    anim.draw_frame(k)
    for ax, m in zip(anim.axes, motions):
        t = min(k * stride, len(m) - 1)                                  # shorter motions hold their last frame
        for i, ch in enumerate(T2M_KINEMATIC_CHAIN):
            line = next(l for l in ax.lines if l.get_gid() == f'chain{i}')
            np.testing.assert_allclose(np.column_stack(line.get_data()), project(m[t][ch])[0], atol=1e-9)


@given(azim=st.floats(-360, 360), elev=st.floats(-89, 89))
def test_view_basis_orthonormal(azim, elev):
    B = np.stack(view_basis(azim, elev))
    np.testing.assert_allclose(B @ B.T, np.eye(3), atol=1e-12)
    assert abs(B[0, 1]) < 1e-12                                          # screen right stays horizontal


@given(T=st.integers(1, 500), n=st.integers(1, 12))
def test_keyframe_indices(T, n):
    idx = keyframe_indices(T, n)
    assert idx[0] == 0 and len(idx) == min(n, T) and (np.diff(idx) > 0).all()
    assert idx[-1] == (T - 1 if min(n, T) > 1 else 0)                     # first and last frame included


@pytest.mark.parametrize('shape', [(5, 22), (5, 21, 3), (5, 22, 3, 1), (5, 264), (0, 263)])
def test_bad_shapes_name_the_parameter(shape):
    with pytest.raises(ValueError, match=r'motions(\[1\])?: expected'):
        as_motion_list([np.zeros((3, 22, 3)), np.zeros(shape)])
