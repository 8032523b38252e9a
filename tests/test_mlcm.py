"""Tests for easytune.mlcm: the consistency function, the distillation target with oracle teachers, the student."""
import copy

import pytest
import torch
from hypothesis import given, settings, strategies as st

from easytune.diffusion import LCMSampler, eps_from_x0, lcm_origin_timesteps, make_schedule, q_sample
from easytune.mld import MLD, MLDConfig
from easytune.profiles import TINY_MLD
from easytune.mlcm import (MLCM, MLCMConfig, DistillState, GuidanceEmbedding, consistency_distillation_loss,
                           consistency_output, pseudo_huber, skipping_step_pairs)

SL = make_schedule()
fast = settings(max_examples=30, deadline=None)
TINY = dict(text_encoder='hash', **TINY_MLD, dropout=0.0)     # the smoke profile's MLD sizes


def rand(seed, *shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope='module')
def pair():
    torch.manual_seed(0)
    teacher = MLD(MLDConfig(**TINY)).eval()
    teacher.latent_scale.fill_(1.3); teacher.freeze_vae()
    return teacher, MLCM.from_mld(teacher).eval()


@fast
@given(seed=st.integers(0, 2**31), idx=st.lists(st.integers(0, 49), min_size=1, max_size=6))
def test_skipping_pairs_and_oracle_teacher_step(seed, idx):
    t, s = skipping_step_pairs(torch.tensor(idx))
    grid = lcm_origin_timesteps(1000, 50)
    assert all(int(x) in grid.tolist() for x in t) and torch.equal(s, (t - 20).clamp(min=0))
    z0, noise = rand(seed, len(idx), 1, 5), rand(seed + 1, len(idx), 1, 5)
    oracle = lambda z, tt: eps_from_x0(z, z0, tt, SL)
    seen = {}
    def target(z, tt): seen['z'] = z; return oracle(z, tt)
    consistency_distillation_loss(oracle, target, oracle, z0, t, s, noise, SL)
    # one DDIM step of an exact teacher lands on the forward process at s
    torch.testing.assert_close(seen['z'], q_sample(z0, s, noise, SL), atol=1e-4, rtol=1e-4)


@fast
@given(seed=st.integers(0, 2**31), idx=st.lists(st.integers(1, 49), min_size=1, max_size=6))
def test_oracle_student_has_no_loss_off_the_boundary(seed, idx):
    t, s = skipping_step_pairs(torch.tensor(idx))
    z0, noise = rand(seed, len(idx), 1, 5), rand(seed + 1, len(idx), 1, 5)
    oracle = lambda z, tt: eps_from_x0(z, z0, tt, SL)
    loss, logs = consistency_distillation_loss(oracle, oracle, oracle, z0, t, s, noise, SL)
    assert float(loss) < 1e-6 and logs['mse'] < 1e-8


def test_boundary_interval_target_is_the_teacher_step():
    z0, noise = rand(0, 4, 1, 5), rand(1, 4, 1, 5)
    t, s = skipping_step_pairs(torch.zeros(4, dtype=torch.long))
    assert t.tolist() == [19] * 4 and s.tolist() == [0] * 4
    oracle = lambda z, tt: eps_from_x0(z, z0, tt, SL)
    zero_eps = lambda z, tt: torch.zeros_like(z)          # a target network that knows nothing
    # at s = 0 the boundary condition makes the target the teacher's step itself, whatever the target network says
    loss_a, _ = consistency_distillation_loss(oracle, oracle, oracle, z0, t, s, noise, SL)
    loss_b, _ = consistency_distillation_loss(oracle, zero_eps, oracle, z0, t, s, noise, SL)
    torch.testing.assert_close(loss_a, loss_b, atol=1e-6, rtol=1e-4)


@fast
@given(seed=st.integers(0, 2**31), t=st.lists(st.integers(0, 999), min_size=1, max_size=5))
def test_consistency_output_matches_lcm_sampler(seed, t):
    t = torch.tensor(t)
    x, e = rand(seed, len(t), 1, 4), rand(seed + 1, len(t), 1, 4)
    torch.testing.assert_close(consistency_output(e, x, t, SL), LCMSampler(SL, 1).denoise(e, t, x), atol=1e-5, rtol=1e-5)


@fast
@given(a=st.floats(-50, 50), b=st.floats(-50, 50), c=st.floats(1e-4, 1.0))
def test_pseudo_huber(a, b, c):
    v = float(pseudo_huber(torch.tensor([a], dtype=torch.float64), torch.tensor([b], dtype=torch.float64), c))
    d = abs(a - b)
    assert v >= 0 and v == pytest.approx(float(pseudo_huber(torch.tensor([b], dtype=torch.float64), torch.tensor([a], dtype=torch.float64), c)))
    assert d - c <= v + 1e-12 and v <= min(d, d * d / (2 * c)) + 1e-12      # between |d| - c and min(|d|, d^2 / 2c)


def test_guidance_token_starts_at_zero_and_learns_w():
    ge = GuidanceEmbedding(8, 16)
    assert (ge(torch.tensor([5.0, 15.0]), 2) == 0).all()
    torch.nn.init.normal_(ge.mlp[-1].weight)
    out = ge(torch.tensor([5.0, 15.0]), 2)
    assert not torch.allclose(out[0], out[1])


def test_student_copies_teacher_and_samples_deterministically(pair):
    teacher, student = pair
    assert isinstance(student, MLD) and student.kind == 'mlcm'
    for a, b in zip(student.denoiser.state_dict().values(), teacher.denoiser.state_dict().values()):
        assert torch.equal(a, b)
    assert torch.equal(student.latent_scale, teacher.latent_scale)
    for n, grid in [(1, [999]), (2, [999, 499]), (4, [999, 759, 519, 279])]:
        sm = student.make_sampler(num_steps=n)
        assert sm.timesteps.tolist() == grid
        a = student.generate(['a person waves', 'b'], [52, 40], seed=5, sampler=sm)
        assert a.shape == (2, 52, 263) and (a[1, 40:] == 0).all()
        assert torch.equal(a, student.generate(['a person waves', 'b'], [52, 40], seed=5, sampler=sm))
        assert not torch.equal(a, student.generate(['a person waves', 'b'], [52, 40], seed=6, sampler=sm))


def test_one_step_sample_is_the_consistency_function_of_the_noise(pair):
    _, student = pair
    g = torch.Generator().manual_seed(3)
    sm = student.make_sampler(num_steps=1)
    x_T = sm.init_noise(student.latent_shape([40, 40]), generator=torch.Generator().manual_seed(3))
    c = student.encode_text(['a', 'b'])
    expected = consistency_output(student.denoise(x_T, 999, c), x_T, torch.tensor([999, 999]), student.schedule)
    feats, z = student.generate(['a', 'b'], [40, 40], seed=3, return_latent=True)
    torch.testing.assert_close(z, expected, atol=1e-5, rtol=1e-5)


def test_ema_update_and_teacher_untouched(pair):
    teacher, student = pair
    student = copy.deepcopy(student)
    state = DistillState(student, teacher)
    before = [p.clone() for p in state.target.parameters()]
    with torch.no_grad():
        for p in student.denoiser_parameters(): p.add_(1.0)
    state.update_target(0.95)
    for p_t, p0, p in zip(state.target.parameters(), before,
                          list(student.denoiser.parameters()) + list(student.w_embed.parameters())):
        torch.testing.assert_close(p_t, 0.95 * p0 + 0.05 * p)
    assert all(p.requires_grad for p in teacher.denoiser.parameters())     # the caller's teacher is not modified


def test_from_mld_needs_a_fitted_teacher():
    with pytest.raises(ValueError, match='latent scale'): MLCM.from_mld(MLD(MLDConfig(**TINY)))
