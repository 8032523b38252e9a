"""Property tests for easytune.mld: VAE masking and shapes, chunked loss, latent scale and cache, backbone seams."""
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from easytune.layers import length_mask, SkipTransformer, encoder_layer
from easytune.training import seeded_batch
from easytune.data import HumanML3D, make_toy_folder
from easytune.profiles import TINY_MLD
from easytune.mld import MLD, MLDConfig, LatentCache, MotionVAE, vae_batch_loss, vae_loss

fast = settings(max_examples=25, deadline=None)
TINY = dict(text_encoder='hash', **TINY_MLD, dropout=0.0, vae_batch_size=4, denoiser_batch_size=4, scale_batches=2,
            val_every=0)          # the smoke profile's MLD sizes


def tiny_vae(max_len=40, layers=3, seed=0):
    torch.manual_seed(seed)
    return MotionVAE(feat_dim=7, d_model=16, latent_dim=6, layers=layers, heads=2, ff=32, dropout=0.0, max_len=max_len).eval()


VAE = tiny_vae()


def padded_batch(seed, lengths, T, feat=7):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(len(lengths), T, feat, generator=g)
    return x * length_mask(torch.tensor(lengths), T)[..., None]


@pytest.fixture(scope='module')
def toy_ds(tmp_path_factory):
    root = make_toy_folder(tmp_path_factory.mktemp('toy') / 'toy', [40 + 9 * i for i in range(12)], seed=1)
    return HumanML3D(root, 'train', progress=False)


@fast
@given(seed=st.integers(0, 2**31), lengths=st.lists(st.integers(1, 30), min_size=1, max_size=5), extra=st.integers(0, 10))
def test_decode_encode_shapes_and_mask(seed, lengths, extra):
    T = max(lengths) + extra
    x = padded_batch(seed, lengths, T)
    L = torch.tensor(lengths)
    with torch.no_grad():
        mu, logvar = VAE.encode(x, L)
        y = VAE.decode(mu, L)
        y_long = VAE.decode(mu, L, max_len=T)
    assert mu.shape == logvar.shape == (len(lengths), 1, 6)
    assert y.shape == (len(lengths), max(lengths), 7) and y_long.shape == (len(lengths), T, 7)
    valid = length_mask(L, T)
    assert (y_long[~valid] == 0).all() and (y_long[valid] != 0).all()
    torch.testing.assert_close(y_long[:, :max(lengths)], y, atol=1e-5, rtol=1e-5)   # longer output, same frames


@fast
@given(seed=st.integers(0, 2**31), lengths=st.lists(st.integers(1, 30), min_size=1, max_size=5), extra=st.integers(0, 10))
def test_encoding_ignores_padding(seed, lengths, extra):
    T = max(lengths) + extra
    x = padded_batch(seed, lengths, T)
    L = torch.tensor(lengths)
    garbage = x + 10 * (~length_mask(L, T))[..., None] * torch.randn(x.shape, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        mu = VAE.encode(x, L)[0]
        torch.testing.assert_close(VAE.encode(garbage, L)[0], mu, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(VAE.encode(x[:, :max(lengths)], L)[0], mu, atol=1e-5, rtol=1e-5)
        for i, n in enumerate(lengths):    # each motion alone, cropped to itself, encodes the same
            torch.testing.assert_close(VAE.encode(x[i:i + 1, :n], L[i:i + 1])[0], mu[i:i + 1], atol=1e-5, rtol=1e-5)


@fast
@given(seed=st.integers(0, 2**31), lengths=st.lists(st.integers(1, 30), min_size=1, max_size=6), chunks=st.integers(1, 8))
def test_chunked_vae_loss_equals_whole_batch_loss(seed, lengths, chunks):
    x, L = padded_batch(seed, lengths, max(lengths)), torch.tensor(lengths)
    with torch.no_grad():
        loss, logs = vae_batch_loss(VAE, x, L, 1e-2, torch.Generator().manual_seed(seed), chunks)
        recon, mu, logvar = VAE(x, L, torch.Generator().manual_seed(seed))
        ref, ref_logs = vae_loss(recon, x, L, mu, logvar, 1e-2)
    torch.testing.assert_close(loss, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(logs['kl'], ref_logs['kl'], atol=1e-5, rtol=1e-5)


def test_vae_rejects_bad_lengths():
    mu = torch.zeros(2, 1, 6)
    with pytest.raises(ValueError, match='max_len'): VAE.decode(mu, torch.tensor([41, 3]))
    with pytest.raises(ValueError, match='lengths'): VAE.decode(mu, torch.tensor([0, 3]))


def test_skip_transformer_uses_every_layer_and_skip():
    torch.manual_seed(0)
    st_ = SkipTransformer(lambda: encoder_layer(8, 2, 16, 0.0), 3, 8).eval()
    x = torch.randn(2, 5, 8)
    y = st_(x)
    st_.skip_proj[0].weight.data[:, 8:] = 0        # cut the long skip
    assert not torch.allclose(st_(x), y)


@pytest.mark.parametrize('bad, match', [(dict(layers=4), 'odd'), (dict(vae_layers=2), 'odd'), (dict(heads=3), 'heads'),
                                        (dict(latent_dim=0), 'latent_dim'), (dict(dropout=1.0), 'dropout'),
                                        (dict(prediction='v'), 'prediction')])
def test_config_validation(bad, match):
    with pytest.raises(ValueError, match=match): MLD(MLDConfig(**{**TINY, **bad}))


def test_latent_scale_cache_and_roundtrip(toy_ds):
    torch.manual_seed(0)
    m = MLD(MLDConfig(**TINY)).eval()
    with pytest.raises(RuntimeError, match='latent scale'): m.encode_motion(torch.zeros(1, 40, 263), [40])
    scale = m.fit_latent_scale(toy_ds)
    zs = torch.cat([m.encode_motion(b['motion'], b['m_length'])
                    for b in (seeded_batch(toy_ds, 4, 12345, k) for k in range(2))])
    assert abs(float(zs.std()) - 1) < 1e-4 and float(m.latent_scale) == pytest.approx(scale)
    assert not any(p.requires_grad for p in m.vae.parameters())
    b = seeded_batch(toy_ds, 4, 0, 3)
    cache = LatentCache(m)
    torch.testing.assert_close(cache(b['motion'], b['m_length']), m.encode_motion(b['motion'], b['m_length']), atol=1e-4, rtol=1e-4)
    assert (cache.hits, cache.misses) == (0, 4)
    cache(b['motion'].flip(0), b['m_length'].flip(0))
    assert (cache.hits, cache.misses) == (4, 4)
    feats = m.generate(['a person walks', 'jump'], [44, 60], seed=0, sampler=m.make_sampler(num_steps=5))
    assert feats.shape == (2, 60, 263) and (feats[0, 44:] == 0).all()
    with tempfile.TemporaryDirectory() as d:
        m2 = MLD.load(m.save(Path(d) / 'm.pt'))
        assert torch.equal(m2.latent_scale, m.latent_scale) and not any(p.requires_grad for p in m2.vae.parameters())
        assert torch.equal(m2.generate(['a person walks', 'jump'], [44, 60], seed=0, sampler=m2.make_sampler(num_steps=5)), feats)


def test_guided_doubles_batch_once():
    torch.manual_seed(0)
    m = MLD(MLDConfig(**TINY)).eval()
    sizes = []
    h = m.denoiser.register_forward_hook(lambda mod, a, o: sizes.append(a[0].shape[0]))
    x, c = torch.randn(3, 1, 8), m.encode_text(['a', 'b c', 'd'])
    out = m.guided(x, torch.tensor([10, 500, 999]), c, [40] * 3, cfg_scale=2.5)
    h.remove()
    assert sizes == [6]
    u = m.null_condition(3)
    t = torch.tensor([10, 500, 999])
    ref = m.denoise(x, t, u) + 2.5 * (m.denoise(x, t, c) - m.denoise(x, t, u))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_denoiser_gradients_reach_only_the_denoiser(toy_ds):
    torch.manual_seed(0)
    m = MLD(MLDConfig(**TINY))
    m.fit_latent_scale(toy_ds)
    x = torch.randn(2, 1, 8)
    eps = m.denoise(x, 500, m.encode_text(['a', 'b']))
    from easytune.diffusion import x0_from_eps
    m.decode(x0_from_eps(x, eps, 500, m.schedule), [40, 44]).square().mean().backward()
    assert all(p.grad is not None for p in m.denoiser_parameters())
    assert all(p.grad is None for p in m.vae.parameters())
