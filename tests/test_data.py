"""Property and integration tests for easytune.data (the HumanML3D-format loader)."""
import os, re, tempfile, warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st, HealthCheck

from easytune.data import (HUMANML3D, KIT, POS_ENUMERATOR, VIP_WORDS, DatasetFormatError, HumanML3D, WordVectorizer,
                           build_vocabulary, collate_sorted, load_stats, make_toy_folder, parse_text_line, pos_onehot,
                           sample_crop, save_word_vectorizer, toy_text_line, wrap_tokens)

SLOW = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------- pure functions

@given(n=st.integers(0, 45), max_text_len=st.integers(1, 25))
def test_wrap_tokens_invariants(n, max_text_len):
    toks = [f'w{i}/NOUN' for i in range(n)]
    out, sent_len = wrap_tokens(toks, max_text_len)
    assert len(out) == max_text_len + 2
    assert sent_len == min(n, max_text_len) + 2
    assert out[0] == 'sos/OTHER' and out[sent_len - 1] == 'eos/OTHER'
    assert out[1:sent_len - 1] == toks[:max_text_len]
    assert all(t == 'unk/OTHER' for t in out[sent_len:])


@given(length=st.integers(1, 400), unit=st.integers(1, 8), max_len=st.integers(8, 300), seed=st.integers(0, 2**32 - 1))
def test_sample_crop_invariants(length, unit, max_len, seed):
    rng = np.random.default_rng(seed)
    units = min(length, max_len) // unit
    if units < 1:
        with pytest.raises(ValueError): sample_crop(length, rng, unit, max_len)
        return
    start, m = sample_crop(length, rng, unit, max_len)
    assert m % unit == 0 and m <= min(length, max_len)
    assert m in {units * unit, (units - 1) * unit} and m > 0
    assert 0 <= start and start + m <= length


def test_sample_crop_one_unit_fewer_a_third_of_the_time():
    rng = np.random.default_rng(123)
    fewer = np.mean([sample_crop(137, rng)[1] == 132 for _ in range(6000)])
    assert abs(fewer - 1 / 3) < 0.025


_word = st.text('abcdefghijklmnopqrstuvwxyz', min_size=1, max_size=8)
_pos = st.sampled_from(['DET', 'NOUN', 'VERB', 'ADP', 'ADV', 'CCONJ', 'PRON', 'NUM', 'PART'])
_secs = st.floats(0, 20, allow_nan=False).map(lambda x: round(x, 2))

@given(words=st.lists(st.tuples(_word, _pos), min_size=1, max_size=30), start=_secs, end=_secs)
def test_text_line_round_trip(words, start, end):
    caption = ' '.join(w for w, _ in words)
    tokens = ' '.join(f'{w}/{p}' for w, p in words)
    line = parse_text_line(f'{caption}#{tokens}#{start}#{end}')
    assert line.caption == caption and line.tokens == tuple(tokens.split())
    assert (line.start, line.end) == (start, end) and line.whole_clip == (start == 0 and end == 0)


@given(start=st.sampled_from(['nan', 'NaN', '0', '0.0']), end=st.sampled_from(['nan', 'NaN', '0', '0.0']))
def test_nan_times_mean_whole_clip(start, end):
    line = parse_text_line(f'a man walks#a/DET man/NOUN walk/VERB#{start}#{end}')
    assert (line.start, line.end) == (0.0, 0.0) and line.whole_clip


@given(cls=st.sampled_from(sorted(VIP_WORDS)), data=st.data())
def test_vip_words_override_any_tag(cls, data):
    word = data.draw(st.sampled_from(VIP_WORDS[cls]))
    tag = data.draw(st.sampled_from(list(POS_ENUMERATOR) + ['CCONJ', 'PROPN']))
    v = pos_onehot(word, tag)
    assert v.sum() == 1 and v.argmax() == POS_ENUMERATOR[cls]

# ---------------------------------------------------------------- dataset items

_clip = st.tuples(st.integers(40, 199),                       # frames
                  st.lists(st.integers(1, 30), min_size=1, max_size=3),  # words per whole-clip caption
                  st.one_of(st.none(), st.tuples(_secs, _secs)))          # optional sub-segment line (seconds)

@SLOW
@given(clips=st.lists(_clip, min_size=1, max_size=4), seed=st.integers(0, 1000), normalise=st.sampled_from(['dataset', 'evaluator', None]))
def test_item_invariants(clips, seed, normalise):
    rng = np.random.default_rng(seed)
    lengths, texts, expected = {}, {}, {}
    for k, (n, caps, seg) in enumerate(clips):
        cid = f'{k:06d}'
        lengths[cid] = n
        texts[cid] = [toy_text_line(rng, w) for w in caps]
        expected[cid] = n
        if seg is not None and seg != (0, 0):
            texts[cid].append(toy_text_line(rng, 5, *seg))
    with tempfile.TemporaryDirectory() as d:
        root = make_toy_folder(Path(d) / 'toy', lengths, texts=texts, seed=seed)
        ds = HumanML3D(root, normalise=normalise, seed=seed, progress=False)
        # whole clips all present, in split order; sub-segments obey the length window and the naming rule
        whole = [n for n in ds.names if '_' not in n]
        assert whole == list(lengths)
        for name, n in zip(ds.names, ds.lengths):
            if '_' in name:
                assert re.fullmatch(r'[A-W]_\d{6}', name)
                assert 40 <= n < 200
            else:
                assert n == lengths[name]
        for epoch in (0, 3):
            ds.set_epoch(epoch)
            for i in range(len(ds)):
                x = ds[i]
                m, L, s, n = x['motion'], x['m_length'], x['crop_start'], ds.lengths[i]
                assert m.shape == (196, 263) and m.dtype == np.float32
                assert L % 4 == 0 and (min(n, 196) // 4 - 1) * 4 <= L <= min(n, 196) and 0 <= s <= n - L
                assert not m[L:].any()
                np.testing.assert_allclose(ds.denormalise(m[:L]), ds.raw_motion(i)[s:s + L], rtol=1e-5, atol=1e-4)
                caption_words = x['caption'].split()
                assert x['sent_len'] == min(len(caption_words), 20) + 2
                assert [t.split('/')[0] for t in x['tokens'][1:x['sent_len'] - 1]] == caption_words[:20]
                assert len(x['tokens']) == 22
        # same seed, fresh object: identical items
        ds2 = HumanML3D(root, normalise=normalise, seed=seed, progress=False)
        assert ds2.names == ds.names
        ds.set_epoch(0)
        for i in range(len(ds)):
            a, b = ds[i], ds2[i]
            assert a['caption'] == b['caption'] and np.array_equal(a['motion'], b['motion'])


_BREAKS = [None, None, 'no_motion', 'no_text', 'bad_line', 'bad_token', 'nan', 'short', 'dim']

@SLOW
@given(breaks=st.lists(st.sampled_from(_BREAKS), min_size=6, max_size=6))
def test_strict_and_skip_report_exactly_the_broken_clips(breaks):
    with tempfile.TemporaryDirectory() as d:
        root = make_toy_folder(Path(d) / 'toy', [60, 70, 80, 90, 100, 110], seed=1)
        broken = set()
        for k, how in enumerate(breaks):
            cid = f'{k:06d}'
            mp, tp = root / 'new_joint_vecs' / f'{cid}.npy', root / 'texts' / f'{cid}.txt'
            if how is None: continue
            broken.add(cid)
            if how == 'no_motion': mp.unlink()
            elif how == 'no_text': tp.unlink()
            elif how == 'bad_line': tp.write_text('a man walks#a/DET man/NOUN walk/VERB#0.0\n')
            elif how == 'bad_token': tp.write_text('a man walks#a/DET man walk/VERB#0#0\n')
            elif how == 'nan':
                x = np.load(mp); x[3, 5] = np.nan; np.save(mp, x)
            elif how == 'short': np.save(mp, np.zeros((20, 263), np.float32))
            elif how == 'dim': np.save(mp, np.zeros((60, 250), np.float32))
        good = [f'{k:06d}' for k in range(6) if f'{k:06d}' not in broken]
        if broken:
            with pytest.raises(DatasetFormatError) as e:
                HumanML3D(root, progress=False)
            problem_ids = {p.id for p in e.value.problems}
            # header/text problems are raised before NaN scanning, so the first error may miss the NaN clips
            assert problem_ids <= broken and (problem_ids == broken or any(breaks[int(c)] == 'nan' for c in broken - problem_ids))
            for p in e.value.problems: assert Path(p.path).name.startswith(p.id) and p.path in str(e.value)
        if not good:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                with pytest.raises(DatasetFormatError, match='no usable items'): HumanML3D(root, mode='skip', progress=False)
            return
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            ds = HumanML3D(root, mode='skip', progress=False)
        assert {p.id for p in ds.skipped} == broken
        assert ds.names == good
        msgs = [str(m.message) for m in w if 'skipped' in str(m.message)]
        assert len(msgs) == (1 if broken else 0)


def test_dataloader_workers_give_the_same_batches(tmp_path):
    root = make_toy_folder(tmp_path / 'toy', [60 + 9 * k for k in range(10)], seed=3)
    save_word_vectorizer(tmp_path / 'wv', build_vocabulary(root, splits=['train']), dim=16, seed=0)
    ds = HumanML3D(root, word_vectorizer=tmp_path / 'wv', progress=False)

    def run(workers, epoch):
        ds.set_epoch(epoch)
        dl = torch.utils.data.DataLoader(ds, batch_size=4, shuffle=True, num_workers=workers, collate_fn=collate_sorted,
                                         generator=torch.Generator().manual_seed(epoch))
        return list(dl)

    for epoch in (0, 1):
        a, b = run(0, epoch), run(2, epoch)
        assert len(a) == len(b) == 3
        for x, y in zip(a, b):
            assert x['name'] == y['name'] and x['caption'] == y['caption']
            assert torch.equal(x['motion'], y['motion']) and torch.equal(x['word_embs'], y['word_embs'])
            assert (x['sent_len'][:-1] >= x['sent_len'][1:]).all()
            assert x['word_embs'].shape[1:] == (22, 16) and x['pos_onehot'].shape[1:] == (22, 15)
    # same index, another epoch: other draws (captions / crops); back to epoch 0: the same draws again
    def draws(epoch):
        ds.set_epoch(epoch)
        return [(x['caption'], x['m_length'], x['crop_start']) for x in (ds[i] for i in range(len(ds)))]
    assert draws(0) != draws(1) and draws(0) == draws(0)


def test_kit_spec(tmp_path):
    texts = {'000002': ['a man walks#a/DET man/NOUN walk/VERB#0#0', 'a man turns#a/DET man/NOUN turn/VERB#2.0#6.08']}
    root = make_toy_folder(tmp_path / 'kit', [24, 50, 199, 200], spec=KIT, texts=texts, seed=2)
    ds = HumanML3D(root, spec=KIT, progress=False)
    # the sub-segment is cut at int(2.0 * 12.5) = 25 .. int(6.08 * 12.5) = 76 (12.5 fps, not 20)
    assert list(ds.lengths) == [24, 50, 199, 51] and ds.filtered[0][0] == '000003'
    assert np.array_equal(ds.raw_motion(3), np.load(root / 'new_joint_vecs' / '000002.npy')[25:76])
    for i in range(len(ds)):
        x = ds[i]
        assert x['motion'].shape == (196, 251) and x['m_length'] % 4 == 0 and x['m_length'] >= 20


def test_word_vectorizer_round_trip(tmp_path):
    root = make_toy_folder(tmp_path / 'toy', [60, 70], seed=4)
    vocab = build_vocabulary(root, splits=['train'])
    vecs = np.random.default_rng(0).standard_normal((len(vocab), 300)).astype(np.float32)
    save_word_vectorizer(tmp_path / 'glove', vocab, vectors=vecs)
    wv = WordVectorizer(tmp_path / 'glove')
    assert wv.words == vocab and wv.dim == 300
    for i, w in enumerate(vocab):
        v, p = wv[f'{w}/NOUN']
        assert np.array_equal(v, vecs[i]) and p.sum() == 1
    v, p = wv['zebra/NOUN']
    assert np.array_equal(v, vecs[2]) and p.argmax() == POS_ENUMERATOR['OTHER']

# ---------------------------------------------------------------- the real clip, when the fixtures are present

def _fixtures():
    env = os.environ.get('EASYTUNE_FIXTURES')
    cands = [Path(env), Path(env) / 'humanml3d_sample'] if env else []
    here = Path(__file__).resolve().parent
    for d in [Path.cwd(), *Path.cwd().parents, here, *here.parents]:
        cands.append(d / 'shared' / 'fixtures' / 'humanml3d_sample')
    return next((c for c in cands if (c / 'new_joint_vecs_012314.npy').is_file()), None)


def test_real_clip_012314(tmp_path):
    fx = _fixtures()
    if fx is None: pytest.skip('real HumanML3D fixtures not found')
    root = tmp_path / 'real'
    (root / 'new_joint_vecs').mkdir(parents=True); (root / 'texts').mkdir(); (root / 'meta').mkdir()
    feats = np.load(fx / 'new_joint_vecs_012314.npy')
    np.save(root / 'new_joint_vecs' / '012314.npy', feats)
    for a, b in [('Mean.npy', 'Mean.npy'), ('Std.npy', 'Std.npy'), ('evaluator_meta_mean.npy', 'meta/mean.npy'),
                 ('evaluator_meta_std.npy', 'meta/std.npy')]:
        np.save(root / b, np.load(fx / a))
    (root / 'texts' / '012314.txt').write_text('a person moves#a/DET person/NOUN move/VERB#0.0#0.0\n')
    (root / 'train.txt').write_text('012314\n')
    mean, std = load_stats(root)
    assert mean.dtype == np.float32 and std.shape == (263,)
    me, se = load_stats(root, 'evaluator')
    ratio = std / se
    assert np.all((ratio[:4] > 24.9) & (ratio[:4] < 25.3)) and np.all((ratio[259:] > 24.9) & (ratio[259:] < 25.3))
    for normalise in ('dataset', 'evaluator'):
        ds = HumanML3D(root, normalise=normalise, progress=False)
        for epoch in range(5):
            ds.set_epoch(epoch)
            x = ds[0]; L, s = x['m_length'], x['crop_start']
            assert L in (164, 168) and 0 <= s <= 170 - L
            np.testing.assert_allclose(ds.denormalise(x['motion'][:L]), feats[s:s + L], atol=1e-5)


def _truncate(path: Path, keep_bytes: int):
    data = path.read_bytes(); path.write_bytes(data[:len(data) - keep_bytes])


def test_truncated_npy_is_one_clear_error_naming_the_file(tmp_path):
    root = make_toy_folder(tmp_path / 'toy', [60, 70, 80], seed=5)
    bad = root / 'new_joint_vecs' / '000001.npy'
    _truncate(bad, 263 * 4 * 3)                                  # three frames short; the header still says 70
    with pytest.raises(DatasetFormatError) as e:
        HumanML3D(root, 'train', progress=False)
    msg = str(e.value)
    assert str(bad) in msg and 'truncated' in msg and "Failed to read all data" not in msg
    with warnings.catch_warnings(record=True):
        warnings.simplefilter('always')
        ds = HumanML3D(root, 'train', mode='skip', progress=False)
    assert [p.id for p in ds.skipped] == ['000001'] and 'truncated' in ds.skipped[0].reason
    assert {it['name'].split('_')[0] for it in (ds[i] for i in range(len(ds)))} <= {'000000', '000002'}


def test_a_file_damaged_after_the_header_scan_is_skipped_not_raised_raw(tmp_path, monkeypatch):
    import easytune.data as D
    root = make_toy_folder(tmp_path / 'toy', [60, 70, 80], seed=6)
    bad = root / 'new_joint_vecs' / '000002.npy'
    real_load = np.load
    def flaky(path, *a, **k):                                    # the file changes between the scan and the read
        if Path(path) == bad: raise ValueError('Failed to read all data for array')
        return real_load(path, *a, **k)
    monkeypatch.setattr(D.np, 'load', flaky)
    with pytest.raises(DatasetFormatError, match=re.escape(str(bad))):
        HumanML3D(root, 'train', progress=False)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter('always')
        ds = HumanML3D(root, 'train', mode='skip', progress=False)
    assert [p.id for p in ds.skipped] == ['000002'] and 'not a readable .npy file' in ds.skipped[0].reason
