"""Multi-process fine-tuning on CPU (torchrun, gloo): a 2-process run equals one process running the same two shards;
resume after a stop, also with another world size; only rank 0 writes; the bad configurations fail before any work."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.distributed as dist

from easytune.data import make_toy_folder
from easytune.distributed import run_torchrun
from easytune.finetune import finetune, launch, main, tiny_backbone
from easytune.mld import MLD
from easytune.reward import ToyReward

RUN = dict(updates=4, val_every=2, val_size=4, checkpoint_every=2)      # 2 checkpoints: after updates 2 and 4
SET = {'num_steps': 10, 'k': 3, 'lr': 0.01, 'batch_size': 4}
COLS = ['update', 'reward', 'val_reward', 'n_opt_steps', 'grad_norm']


@pytest.fixture(autouse=True)
def one_thread():
    "Each rank runs one thread; so does the one-process reference (float sums then run in the same order)."
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    return make_toy_folder(tmp_path_factory.mktemp('ddp') / 'toy', [40 + 4 * i for i in range(14)],
                           splits={'train': [f'{i:06d}' for i in range(10)], 'val': [f'{i:06d}' for i in range(10, 14)]})


def two_process_run(method, root, out, **flags):
    return launch(2, 'mld', method, timeout=300, tiny=True, reward='toy', profile='smoke', data=root, out=out,
                  set=SET, **(RUN | flags))


def one_process_run(method, root, shards, **kw):
    bb = tiny_backbone('mld', 0)
    return finetune(bb, ToyReward(263, seed=0), method, root, seed=0, progress=False, shards=shards, **(RUN | SET | kw))


def max_diff(a, b):
    return max(float((x - y).abs().max()) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.fixture(scope='module')
def runs(root, tmp_path_factory):
    "The 2-process runs (uninterrupted), by method: (output folder, model, history)."
    out = {}
    for m in ('easytune', 'easytune-chain', 'draft-10', 'easytune-chain@trajectory'):
        name, _, sync = m.partition('@')
        folder = two_process_run(name, root, tmp_path_factory.mktemp('run') / name, chain_sync=sync or None)
        out[m] = (folder, MLD.load(folder / 'model.pt'), pd.read_csv(folder / 'history.csv'))
    return out


@pytest.mark.parametrize('method', ['easytune', 'easytune-chain', 'draft-10', 'easytune-chain@trajectory'])
def test_two_processes_equal_one_process_running_both_shards(runs, root, method):
    """The same weights and history; Chain with one all-reduce per trajectory (chain_sync='trajectory') equals the
    one-process run with per-step steps too."""
    folder, model, hist = runs[method]
    bb, h = one_process_run(method.partition('@')[0], root, shards=2)
    assert max_diff(bb, model) <= 1e-5
    pd.testing.assert_frame_equal(h[COLS].reset_index(drop=True), hist[COLS], atol=1e-5, rtol=0, check_dtype=False)
    run = json.loads((folder / 'run.json').read_text())
    assert (run['world_size'], run['shards'], run['backend']) == (2, 2, 'gloo')
    if method == 'easytune':       # the shards matter: one shard (the single-process run) ends elsewhere
        assert max_diff(one_process_run(method, root, shards=None)[0], model) > 1e-3


def test_resume_after_stop_equals_uninterrupted(runs, root, tmp_path):
    out = tmp_path / 'stopped'
    two_process_run('easytune', root, out, stop_after=3)        # stops after update 3: the checkpoint holds update 2
    assert torch.load(out / 'finetune.ckpt', weights_only=False)['update'] == 2
    kept = tmp_path / 'update2.ckpt'; shutil.copy(out / 'finetune.ckpt', kept)
    two_process_run('easytune', root, out)                       # relaunched: resumes from update 2
    _, model, hist = runs['easytune']
    assert max_diff(MLD.load(out / 'model.pt'), model) == 0
    pd.testing.assert_frame_equal(pd.read_csv(out / 'history.csv')[COLS], hist[COLS])
    # another world size: the weights, optimiser, history and best-val state carry over; later updates are re-sharded
    one = tmp_path / 'one.ckpt'; shutil.copy(kept, one)
    bb, h = one_process_run('easytune', root, shards=None, checkpoint=one)
    pd.testing.assert_frame_equal(h[COLS][:3].reset_index(drop=True), hist[COLS][:3], atol=0, rtol=0, check_dtype=False)
    assert list(h['update']) == [0, 1, 2, 3, 4] and max_diff(bb, model) > 0


def test_bad_world_mismatched_data_and_only_rank0_writes(root, tmp_path):
    other = make_toy_folder(tmp_path / 'other', [44 + 4 * i for i in range(14)],
                            splits={'train': [f'{i:06d}' for i in range(10)], 'val': [f'{i:06d}' for i in range(10, 14)]})
    out, record = tmp_path / 'out', tmp_path / 'record'
    worker = Path(__file__).with_name('ddp_worker.py')
    run_torchrun([str(worker), f'{root},{other}', str(out), str(record)], 2, timeout=300)
    res = [json.loads(record.with_name(f'record.rank{r}.json').read_text()) for r in (0, 1)]
    for r in res:                                                 # both ranks stopped, with the same message
        assert r['mismatch_error'] and 'the ranks disagree on the data and the models (data)' in r['mismatch_error']
    assert res[0]['mismatch_error'] == res[1]['mismatch_error']
    mine = lambda r: sorted({Path(p).name for p in r['renames'] if Path(p).parent == out})
    assert mine(res[0]) == ['finetune.ckpt', 'history.csv', 'model.pt', 'run.json'] and mine(res[1]) == []


def test_bad_configurations_fail_before_any_work(root, monkeypatch):
    for k, v in dict(RANK='0', WORLD_SIZE='2', LOCAL_RANK='0').items(): monkeypatch.setenv(k, v)
    args = ['--backbone', 'mld', '--tiny', '--reward', 'toy', '--data', str(root), '--profile', 'smoke']
    with pytest.raises(ValueError, match='batch_size=3 is not divisible by the world size 2'):
        main(args + ['--set', 'batch_size=3'])
    with pytest.raises(ValueError, match='the shards are the ranks'): main(args + ['--shards', '4'])
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="backend 'nccl' (is not available|needs CUDA)"): main(args + ['--backend', 'nccl'])
    assert not dist.is_initialized()
    monkeypatch.delenv('WORLD_SIZE')
    with pytest.raises(ValueError, match='not divisible by the shards=3'):
        finetune(tiny_backbone('mld'), ToyReward(263), 'easytune', root, shards=3, batch_size=4)
    with pytest.raises(ValueError, match='only used under torchrun'): main(args + ['--backend', 'gloo'])


def test_sharded_evaluation_equals_one_process(tmp_path):
    "evaluate(shard=True, physical=True) on 2 ranks: each samples its batches; gathered, they give the one-process metrics."
    toy = make_toy_folder(tmp_path / 'toy', [64] * 40, splits={'test': [f'{i:06d}' for i in range(40)]}, seed=0)
    record = tmp_path / 'eval'
    run_torchrun([str(Path(__file__).with_name('ddp_eval_worker.py')), str(toy), str(record)], 2, timeout=300)
    got = [json.loads(record.with_name(f'eval.rank{r}.json').read_text()) for r in (0, 1)]
    single, s0, s1 = pd.DataFrame(got[0]['single']), pd.DataFrame(got[0]['sharded0']), pd.DataFrame(got[1]['sharded1'])
    assert {'R@1', 'FID', 'Diversity', 'MModality', 'foot_skating_ratio', 'jerk'} <= set(single.columns)
    assert len(single) == 4 and single.jerk.notna().all()                       # 2 replications x 2 rows (Real, model)
    pd.testing.assert_frame_equal(s0, single, check_exact=True)
    pd.testing.assert_frame_equal(s1, single, check_exact=True)
    with pytest.raises(ValueError, match='needs an initialised process group'):
        from easytune.metrics import evaluate
        evaluate(None, toy, None, None, shard=True)
