"""Property tests of easytune.mdm: padding, masks, batching, crops, CFG and the x0 loss."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st, HealthCheck

from easytune.mdm import MDM, MDMConfig, mdm_loss, random_crop, parameter_counts
from easytune.diffusion import cfg_combine

@pytest.fixture(autouse=True, scope='module')
def one_thread():
    "The models here are tiny: one thread is as fast, and avoids OpenMP stalls when other processes load the cores."
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


SETTINGS = dict(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
D = 263


def tiny(**kw):
    return MDMConfig(text_encoder='hash', d_model=32, layers=2, heads=2, ff=64, max_len=40, **kw)


torch.manual_seed(0)
MODEL = MDM(tiny()).eval()
TEXTS = ['a person walks forward', 'someone jumps', 'a man waves his left hand', 'a person sits down', '']


def batch(draw_lengths, seed):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(draw_lengths)
    T = int(lengths.max())
    x = torch.randn(len(lengths), T, D, generator=g)
    cond = MODEL.encode_text([TEXTS[i % len(TEXTS)] for i in range(len(lengths))])
    t = torch.randint(0, MODEL.config.num_train_steps, (len(lengths),), generator=g)
    return x, t, cond, lengths


lengths_st = st.lists(st.integers(1, 24), min_size=1, max_size=4)


@settings(**SETTINGS)
@given(lengths=lengths_st, extra=st.integers(0, 8), seed=st.integers(0, 10_000), scale=st.floats(0.1, 100))
def test_output_zero_beyond_length_and_independent_of_padding(lengths, extra, seed, scale):
    x, t, cond, lens = batch(lengths, seed)
    with torch.no_grad():
        out = MODEL.denoise(x, t, cond, lens)
        # other padding content (large values) and more padding frames
        x2 = torch.cat([x, torch.zeros(len(x), extra, D)], 1)
        g = torch.Generator().manual_seed(seed + 1)
        pad = ~(torch.arange(x2.shape[1])[None] < lens[:, None])
        x2[pad] = scale * torch.randn(int(pad.sum()), D, generator=g)
        out2 = MODEL.denoise(x2, t, cond, lens)
    for i, n in enumerate(lens.tolist()):
        assert (out[i, n:] == 0).all() and (out2[i, n:] == 0).all()
        assert out[i, :n].abs().sum() > 0
    torch.testing.assert_close(out2[:, :x.shape[1]], out, atol=2e-5, rtol=1e-4)


@settings(**SETTINGS)
@given(lengths=st.lists(st.integers(1, 24), min_size=2, max_size=4), seed=st.integers(0, 10_000))
def test_each_motion_independent_of_the_rest_of_the_batch(lengths, seed):
    x, t, cond, lens = batch(lengths, seed)
    with torch.no_grad():
        out = MODEL.denoise(x, t, cond, lens)
        for i, n in enumerate(lens.tolist()):
            solo = MODEL.denoise(x[i:i + 1, :n], t[i:i + 1], cond[i:i + 1], lens[i:i + 1])
            torch.testing.assert_close(solo[0], out[i, :n], atol=2e-5, rtol=1e-4)


@settings(**SETTINGS)
@given(lengths=lengths_st, seed=st.integers(0, 10_000))
def test_decode_masks_and_latent_shape(lengths, seed):
    x, _, _, lens = batch(lengths, seed)
    y = MODEL.decode(x, lens)
    assert MODEL.latent_shape(lens) == (len(lens), max(lengths), D)
    for i, n in enumerate(lengths):
        assert torch.equal(y[i, :n], x[i, :n]) and (y[i, n:] == 0).all()


@settings(**SETTINGS)
@given(lengths=lengths_st, seed=st.integers(0, 10_000), s=st.floats(0.0, 8.0))
def test_guided_is_cfg_of_two_calls(lengths, seed, s):
    x, t, cond, lens = batch(lengths, seed)
    with torch.no_grad():
        g = MODEL.guided(x, t, cond, lens, cfg_scale=s)
        u = MODEL.denoise(x, t, MODEL.null_condition(len(x)), lens)
        c = MODEL.denoise(x, t, cond, lens)
    torch.testing.assert_close(g, cfg_combine(u, c, s), atol=1e-4, rtol=1e-4)


@settings(**SETTINGS)
@given(lengths=st.lists(st.integers(1, 30), min_size=1, max_size=5), crop=st.integers(1, 30), seed=st.integers(0, 10_000))
def test_random_crop_takes_windows(lengths, crop, seed):
    lens = torch.tensor(lengths)
    T = int(lens.max()) + 3
    mo = torch.randn(len(lens), T, 5)
    mo = mo * (torch.arange(T)[None] < lens[:, None])[..., None]
    out, new, starts = random_crop(mo, lens, crop, torch.Generator().manual_seed(seed))
    assert torch.equal(new, lens.clamp(max=crop)) and out.shape == (len(lens), int(new.max()), 5)
    for i, (n, m, s) in enumerate(zip(lengths, new.tolist(), starts.tolist())):
        assert 0 <= s <= n - m
        assert torch.equal(out[i, :m], mo[i, s:s + m]) and (out[i, m:] == 0).all()


@settings(**SETTINGS)
@given(lengths=st.lists(st.integers(2, 24), min_size=1, max_size=4), seed=st.integers(0, 10_000),
       crop=st.one_of(st.none(), st.integers(1, 16)), vel=st.sampled_from([0.0, 1.0]))
def test_loss_ignores_padding_content(lengths, seed, crop, vel):
    lens = torch.tensor(lengths)
    g = torch.Generator().manual_seed(seed)
    motion = torch.randn(len(lens), 40, D, generator=g)
    pad = ~(torch.arange(40)[None] < lens[:, None])
    motion[pad] = 0
    b = {'motion': motion, 'm_length': lens, 'caption': [TEXTS[i % 4] for i in range(len(lens))]}
    b2 = dict(b, motion=motion.clone()); b2['motion'][pad] = 7.0
    with torch.no_grad():
        l1, logs = mdm_loss(MODEL, b, torch.Generator().manual_seed(seed), crop=crop, cond_drop=0.3, vel_weight=vel)
        l2, _ = mdm_loss(MODEL, b2, torch.Generator().manual_seed(seed), crop=crop, cond_drop=0.3, vel_weight=vel)
    assert torch.isfinite(l1) and torch.equal(l1, l2)
    assert ('vel' in logs) == (vel > 0)


def test_loss_is_masked_x0_mse():
    "With a model that returns x_t itself, the loss is the masked MSE between x_t and x0, computed by hand."
    class Identity(MDM):
        def denoise(self, x_t, t, cond, lengths, pos_offset=None): return x_t
    m = Identity(tiny())
    lens = torch.tensor([5, 3])
    motion = torch.randn(2, 40, D); motion[1, 3:] = 0; motion[0, 5:] = 0
    b = {'motion': motion, 'm_length': lens, 'caption': ['a', 'b']}
    loss, _ = mdm_loss(m, b, torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(0)
    t = torch.randint(0, 50, (2,), generator=g); noise = torch.randn((2, 5, D), generator=g)
    abar = m.schedule.alphas_cumprod[t].float()[:, None, None]
    x0 = motion[:, :5]
    xt = abar.sqrt() * x0 + (1 - abar).sqrt() * noise
    per = [((xt[i, :n] - x0[i, :n]) ** 2).mean() for i, n in enumerate([5, 3])]
    torch.testing.assert_close(loss, torch.stack(per).mean())


def test_config_errors_are_clear():
    with pytest.raises(ValueError, match="predicts 'x0'"): MDM(MDMConfig(text_encoder='hash', prediction='eps'))
    with pytest.raises(ValueError, match='multiple of heads'): MDMConfig(d_model=30, heads=4).validate()
    x, t, cond, lens = batch([4, 6], 0)
    with pytest.raises(ValueError, match='lengths must lie'): MODEL.denoise(x, t, cond, torch.tensor([4, 7]))
    with pytest.raises(ValueError, match='frame positions'): MODEL.denoise(x, t, cond, lens, pos_offset=38)
    with pytest.raises(ValueError, match='DDIM num_steps'): MODEL.make_sampler('ddim', 51)


def test_default_size():
    counts = parameter_counts(MDM(MDMConfig(text_encoder='hash')))
    assert counts['total'] == 943_111
