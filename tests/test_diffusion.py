"""Property tests for easytune.diffusion: forward process, samplers' arithmetic, gradients, guidance, losses."""
import pytest
import torch
from hypothesis import given, settings, strategies as st

from easytune import diffusion as D

SL = D.make_schedule('scaled_linear')
COS = D.make_schedule('cosine')
SCHEDULES = {'scaled_linear': SL, 'cosine': COS, 'linear': D.make_schedule('linear', 1000, 1e-4, 0.02)}
fast = settings(max_examples=40, deadline=None)


def rand(seed, *shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@fast
@given(seed=st.integers(0, 2**31), kind=st.sampled_from(sorted(SCHEDULES)), batch=st.integers(1, 5))
def test_q_sample_then_invert_recovers_x0_and_eps(seed, kind, batch):
    sch = SCHEDULES[kind]
    x0, eps = rand(seed, batch, 3, 2), rand(seed + 1, batch, 3, 2)
    t = torch.randint(0, 1000, (batch,), generator=torch.Generator().manual_seed(seed))
    xt = D.q_sample(x0, t, eps, sch)
    torch.testing.assert_close(D.x0_from_eps(xt, eps, t, sch), x0, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(D.eps_from_x0(xt, x0, t, sch), eps, atol=1e-6, rtol=1e-6)
    # the two parameterisations of one output agree with each other
    x0p, epsp = D.predict_x0_and_eps(eps, xt, t, sch, 'eps')
    torch.testing.assert_close(D.predict_x0_and_eps(x0p, xt, t, sch, 'x0')[1], epsp, atol=1e-6, rtol=1e-6)


@fast
@given(seed=st.integers(0, 2**31), num_steps=st.sampled_from([1, 10, 20, 50, 100, 250]), i=st.integers(0, 10**6))
def test_ddim_exact_noise_stays_on_the_noise_path(seed, num_steps, i):
    "eta=0 with the true eps: x0_pred = x0 and the next sample is q_sample(x0, prev_t, same eps)."
    s = D.DDIMSampler(SL, num_steps)
    t = int(s.timesteps[i % num_steps])
    x0, eps = rand(seed, 2, 4), rand(seed + 1, 2, 4)
    out = s.step(eps, t, D.q_sample(x0, t, eps, SL))
    torch.testing.assert_close(out.x0_pred, x0, atol=1e-8, rtol=1e-8)
    t_prev = t - 1000 // num_steps
    a_prev = SL.alphas_cumprod[t_prev] if t_prev >= 0 else SL.alphas_cumprod[0]
    torch.testing.assert_close(out.prev_sample, a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps, atol=1e-8, rtol=1e-8)


@fast
@given(seed=st.integers(0, 2**31), kind=st.sampled_from(sorted(SCHEDULES)), pred=st.sampled_from(['eps', 'x0']))
def test_ddim_eta_one_over_all_steps_is_ddpm(seed, kind, pred):
    sch = SCHEDULES[kind]
    ddim = D.DDIMSampler(sch, 1000, eta=1.0, steps_offset=0, set_alpha_to_one=True, prediction=pred)
    ddpm = D.DDPMSampler(sch, prediction=pred)
    t = torch.randint(0, 1000, (4,), generator=torch.Generator().manual_seed(seed))
    xt, out, z = rand(seed, 4, 3), rand(seed + 1, 4, 3), rand(seed + 2, 4, 3)
    a, b = ddim.step(out, t, xt, noise=z), ddpm.step(out, t, xt, noise=z)
    torch.testing.assert_close(a.prev_sample, b.prev_sample, atol=1e-7, rtol=1e-7)
    torch.testing.assert_close(a.x0_pred, b.x0_pred)


def samplers():
    return [D.DDIMSampler(SL, 20), D.DDIMSampler(SL, 20, eta=0.7), D.DDPMSampler(COS, 25, prediction='x0'),
            D.LCMSampler(SL, 4)]


@pytest.mark.parametrize('sampler', samplers(), ids=repr)
def test_step_is_stateless_and_batches_over_t(sampler):
    "step depends on t alone: any call order gives the same result, and a [B] t equals B scalar calls."
    ts = sampler.timesteps
    xt, out, z = rand(0, len(ts), 3), rand(1, len(ts), 3), rand(2, len(ts), 3)
    in_order = [sampler.step(out[i:i + 1], ts[i], xt[i:i + 1], noise=z[i:i + 1]) for i in range(len(ts))]
    perm = torch.randperm(len(ts), generator=torch.Generator().manual_seed(3)).tolist()
    shuffled = {i: sampler.step(out[i:i + 1], int(ts[i]), xt[i:i + 1], noise=z[i:i + 1]) for i in perm}
    batched = sampler.step(out, ts, xt, noise=z)
    for i in range(len(ts)):
        torch.testing.assert_close(shuffled[i].prev_sample, in_order[i].prev_sample, rtol=0, atol=0)
        torch.testing.assert_close(batched.prev_sample[i:i + 1], in_order[i].prev_sample, atol=1e-12, rtol=1e-12)
        torch.testing.assert_close(batched.x0_pred[i:i + 1], in_order[i].x0_pred, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize('sampler', samplers(), ids=repr)
def test_step_gradients_match_finite_differences(sampler):
    "prev_sample and x0_pred are differentiable in model_output and x_t (float64 gradcheck, fixed noise)."
    t = torch.tensor([int(sampler.timesteps[0]), int(sampler.timesteps[-1])])
    z = rand(5, 2, 3)
    out, xt = rand(6, 2, 3).requires_grad_(), rand(7, 2, 3).requires_grad_()
    f = lambda o, x: tuple(sampler.step(o, t, x, noise=z))
    assert torch.autograd.gradcheck(f, (out, xt))


@pytest.mark.parametrize('sampler', samplers(), ids=repr)
def test_step_does_not_modify_inputs(sampler):
    t = sampler.timesteps[0]
    out, xt = rand(0, 2, 3), rand(1, 2, 3)
    out0, xt0, versions = out.clone(), xt.clone(), (out._version, xt._version)
    sampler.step(out, t, xt, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, out0) and torch.equal(xt, xt0) and (out._version, xt._version) == versions


def ddim_round_trip(num_steps, x0, mu, s):
    "Invert x0 with eta=0 DDIM (the same update run towards higher noise), then sample back with DDIMSampler."
    sampler = D.DDIMSampler(SL, num_steps)

    def eps_fn(x, t):                                                # optimal eps for N(mu, s^2) data
        a = SL.alphas_cumprod[t]
        return (1 - a).sqrt() * (x - a.sqrt() * mu) / (a * s**2 + 1 - a)

    grid = sampler.timesteps.flip(0).tolist()                        # 1, 21, ..., 981 for 50 steps
    x = x0
    for t_cur, t_next in zip([0] + grid[:-1], grid):                 # eps is evaluated at the lower level
        e, a_next = eps_fn(x, t_cur), SL.alphas_cumprod[t_next]
        x = a_next.sqrt() * D.x0_from_eps(x, e, t_cur, SL) + (1 - a_next).sqrt() * e
    for t in sampler.timesteps:
        x = sampler.step(eps_fn(x, int(t)), t, x).prev_sample
    return x


def test_ddim_inversion_round_trip_on_gaussian_data():
    """Inversion then sampling is an affine, increasing map of the data that tends to the identity as the steps
    shrink. Both directions are first order and pull towards the mean (about 11 % of the deviation at 50 steps)."""
    mu, s = 1.5, 0.4
    x0 = mu + s * rand(0, 500, 1)
    fits = {}
    for n in (50, 500):
        back = ddim_round_trip(n, x0, mu, s)
        fit = torch.linalg.lstsq(torch.cat([x0 - mu, torch.ones_like(x0)], 1), back - mu).solution[:, 0]
        torch.testing.assert_close(back - mu, fit[0] * (x0 - mu) + fit[1], atol=1e-9, rtol=0)   # affine
        assert abs(fit[1]) < 1e-3                                                               # mean preserved
        fits[n] = float(fit[0])
    assert 0.85 < fits[50] < fits[500] < 1 and fits[500] > 0.98


@fast
@given(seed=st.integers(0, 2**31), p=st.floats(0, 1))
def test_drop_condition_rows_are_kept_or_null(seed, p):
    cond, null = rand(seed, 64, 5) + 10, torch.zeros(5, dtype=torch.float64)
    out = D.drop_condition(cond, null, p, torch.Generator().manual_seed(seed))
    kept, dropped = (out == cond).all(1), (out == 0).all(1)
    assert (kept ^ dropped).all()
    if p == 0: assert kept.all()
    if p == 1: assert dropped.all()


def test_drop_condition_rate_and_gradient():
    cond = torch.ones(20000, 2, requires_grad=True)
    null = torch.zeros(2, requires_grad=True)
    out = D.drop_condition(cond, null, 0.1, torch.Generator().manual_seed(0))
    rate = (out[:, 0] == 0).double().mean()
    assert abs(rate - 0.1) < 0.01
    out.sum().backward()                                             # gradient reaches kept rows and the null embedding
    assert cond.grad[:, 0].sum() == (out[:, 0] == 1).sum() and null.grad[0] == (out[:, 0] == 0).sum()


@fast
@given(seed=st.integers(0, 2**31), lengths=st.lists(st.integers(1, 8), min_size=1, max_size=4))
def test_masked_loss_ignores_padding(seed, lengths):
    B, T = len(lengths), 8
    mask = torch.arange(T)[None] < torch.tensor(lengths)[:, None]            # [B, T]
    out, noise = rand(seed, B, T, 3), rand(seed + 1, B, T, 3)
    garbage = torch.where(mask[..., None], noise, noise + 1e3)              # padded frames differ wildly
    a = D.diffusion_loss(out, noise, noise, mask=mask, reduction='none')
    b = D.diffusion_loss(out, noise, garbage, mask=mask, reduction='none')
    torch.testing.assert_close(a, b)
    want = torch.stack([((out[i, :L] - noise[i, :L]) ** 2).mean() for i, L in enumerate(lengths)])
    torch.testing.assert_close(a, want)
    torch.testing.assert_close(D.diffusion_loss(out, noise, noise, mask=torch.ones(B, T)), D.diffusion_loss(out, noise, noise))


def test_mdm_layout_mask():
    "MDM's [B, 263, 1, T] samples take a [B, 1, 1, T] frame mask."
    out, x0 = rand(0, 2, 5, 1, 6), rand(1, 2, 5, 1, 6)
    mask = (torch.arange(6)[None] < torch.tensor([[3], [6]])).reshape(2, 1, 1, 6)
    got = D.diffusion_loss(out, x0, None, prediction='x0', mask=mask, reduction='none')
    torch.testing.assert_close(got, torch.stack([((out[0, ..., :3] - x0[0, ..., :3]) ** 2).mean(), ((out[1] - x0[1]) ** 2).mean()]))


@fast
@given(seed=st.integers(0, 2**31), w=st.floats(-2, 20))
def test_cfg_combine_extrapolates_from_uncond_towards_cond(seed, w):
    u, c = rand(seed, 3, 4), rand(seed + 1, 3, 4)
    torch.testing.assert_close(D.cfg_combine(u, c, 0.0), u)
    torch.testing.assert_close(D.cfg_combine(u, c, 1.0), c)
    torch.testing.assert_close(D.cfg_combine(u, c, w), (1 - w) * u + w * c)


def test_sample_loop_matches_a_hand_written_loop_and_returns_intermediates():
    "sample() is exactly timesteps + step; CFG-combined outputs feed step."
    sampler = D.DDIMSampler(SL, 10, eta=0.3)
    model = lambda x, t, c: 0.5 * x * c
    cond, uncond = torch.full((2, 3), 2.0), torch.full((2, 3), 0.5)
    tr = D.sample(model, sampler, (2, 3), torch.Generator().manual_seed(4), cfg_scale=3.0, cond=cond, uncond=uncond,
                  return_intermediates=True)
    g = torch.Generator().manual_seed(4)
    x = sampler.init_noise((2, 3), g)
    torch.testing.assert_close(tr.xs[0], x)
    for i, t in enumerate(sampler.timesteps):
        out = D.cfg_combine(model(x, t, uncond), model(x, t, cond), 3.0)
        x, x0 = sampler.step(out, t, x, generator=g)
        torch.testing.assert_close(tr.xs[i + 1], x); torch.testing.assert_close(tr.x0_preds[i], x0)
    torch.testing.assert_close(tr.sample, x)


def test_lcm_one_step_oracle_and_renoise_level():
    x0 = rand(0, 4, 3)
    s1 = D.LCMSampler(SL, 1, prediction='x0')
    xT = s1.init_noise(x0.shape, torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.testing.assert_close(s1.step(x0, 999, xT).prev_sample, x0, atol=1e-7, rtol=0)
    # a non-final step re-noises f(x_t, t) to the next grid timestep's noise level
    s4 = D.LCMSampler(SL, 4, prediction='x0')
    z = rand(1, 4, 3)
    out = s4.step(x0, 999, xT, noise=z)
    a = SL.alphas_cumprod[759]
    torch.testing.assert_close(out.prev_sample, a.sqrt() * out.x0_pred + (1 - a).sqrt() * z)
    c_skip, c_out = D.lcm_boundary_scalings(999)
    torch.testing.assert_close(out.x0_pred, c_skip * xT + c_out * x0)


@pytest.mark.parametrize('bad', [
    lambda: D.make_schedule('quadratic'),
    lambda: D.DDIMSampler(SL, 50, prediction='v'),
    lambda: D.DDIMSampler(SL, 50, eta=-1),
    lambda: D.DDPMSampler(SL, 1),
    lambda: D.LCMSampler(SL, 60),
    lambda: D.DDIMSampler(SL, 50).step(torch.zeros(1), 1000, torch.zeros(1)),
    lambda: D.DDPMSampler(SL, 10).step(torch.zeros(1), 998, torch.zeros(1)),
    lambda: D.q_sample(torch.zeros(2), torch.tensor([0.5, 1.0]), torch.zeros(2), SL),
    lambda: D.drop_condition(torch.zeros(2, 3), torch.zeros(3), 1.5),
])
def test_bad_input_raises_value_error(bad):
    with pytest.raises(ValueError):
        bad()
