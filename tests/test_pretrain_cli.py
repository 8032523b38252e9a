"Parallel pretraining from the command line: jobs in their own processes, dependencies respected, results cached."
import os, subprocess, sys
from pathlib import Path

import pytest

from easytune.data import make_toy_folder


def _run(args, cache, timeout=600):
    env = {**os.environ, 'EASYTUNE_CACHE': str(cache), 'OMP_NUM_THREADS': '1'}
    return subprocess.run([sys.executable, '-m', 'easytune.pretrain', *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_parallel_pretrain_trains_dependencies_first_and_caches(tmp_path):
    toy = make_toy_folder(tmp_path / 'toy', [48 + 4 * i for i in range(24)], seed=3,
                          splits={'train': [f'{i:06d}' for i in range(16)], 'val': [f'{i:06d}' for i in range(16, 20)],
                                  'test': [f'{i:06d}' for i in range(20, 24)]})
    cache = tmp_path / 'cache'
    r = _run(['--backbone', 'mlcm,evaluator', '--jobs', '2', '--data', str(toy), '--profile', 'smoke'], cache)
    assert r.returncode == 0, r.stdout + r.stderr
    started = [l.split()[1].rstrip(':') for l in r.stdout.splitlines() if l.endswith(')') and 'started' in l]
    done = [l.split()[1].rstrip(':') for l in r.stdout.splitlines() if ': done in' in l]
    assert sorted(started) == ['evaluator', 'mlcm', 'mld']
    assert done.index('mld') < started.index('mlcm')                   # MLCM starts only after its teacher is cached
    models = {p.name.split('-')[0] for p in (cache / 'models').iterdir() if (p / 'model.pt').exists()}
    assert models == {'evaluator', 'mld', 'mlcm'}
    assert all((cache / 'logs' / f'pretrain-{k}-seed0.log').stat().st_size > 0 for k in models)
    again = _run(['--backbone', 'mlcm,evaluator', '--jobs', '2', '--data', str(toy), '--profile', 'smoke'], cache)
    assert again.returncode == 0 and 'started' not in again.stdout      # everything cached: no job runs


def test_parallel_pretrain_reports_a_failed_job(tmp_path):
    bad = tmp_path / 'bad'; bad.mkdir()
    (bad / 'train.txt').write_text('000000\n')                         # not a usable dataset folder
    r = _run(['--backbone', 'evaluator,reward', '--jobs', '2', '--data', str(bad), '--profile', 'smoke'], tmp_path / 'c')
    assert r.returncode != 0
