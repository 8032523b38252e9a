"Real data and the released models end to end: every input checked first, in one error; Table 1 and Table 4 run on them."
import json, os, re, shutil, subprocess, sys
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch

from easytune import paper_inputs as pin
from easytune.official import TINY_TEXT_FOR_TESTS
from easytune.paper_inputs import PaperInputsError, check_inputs, input_name, inputs_for, write_tiny_inputs
from easytune.reproduce import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    "Every external input of Tables 1 and 4 at toy sizes, in the upstream layouts (deps/t2m, deps/glove, checkpoints/)."
    return write_tiny_inputs(tmp_path_factory.mktemp('inputs'), kinds=('mld', 'mlcm', 'mdm'))


def _problems(**kw):
    with pytest.raises(PaperInputsError) as e: check_inputs(**kw)
    return e.value


def test_empty_folder_every_input_named_once_in_one_error(tmp_path):
    e = tmp_path
    err = _problems(data_dir=e, ckpt=e / 'a.ckpt', ckpt_mlcm=e / 'b.ckpt', ckpt_mdm=e / 'c.pt', evaluator_dir=e,
                    glove_dir=e / 'glove', text_models=e / 'towers', reward_ckpt=e / 'r.pt')
    heads = [p.split(':')[0] for p in err.problems]
    for param in pin.INPUTS: assert input_name(param) in heads, param            # every input is named
    assert str(err).startswith(f'{len(err.problems)} problems with the inputs (nothing was run):')
    assert len(err.problems) == 9                 # the evaluator has two: no finest.tar, no meta
    assert all('expected' in p or 'looked' in p or 'lacks' in p for p in err.problems)   # each says what was wanted


def test_missing_data_and_checkpoints_named_by_what_the_run_needs(tiny):
    err = _problems(ckpt=tiny['ckpt'], text_models=TINY_TEXT_FOR_TESTS,
                    need={'mlcm': 'table4 needs it', 'mdm': 'table4 needs it'})
    assert [p.split(':')[0] for p in err.problems] == [input_name('data_dir'), input_name('ckpt_mlcm'), input_name('ckpt_mdm')]
    with pytest.raises(PaperInputsError) as e:
        inputs_for('table4', {**{k: v for k, v in tiny.items() if k not in ('ckpt_mlcm', 'ckpt_mdm')}, 'backbones': 'all'})
    assert len(e.value.problems) == 2 and 'mlcm-1, mlcm-4 need it' in str(e.value) and 'backbone mdm needs it' in str(e.value)
    pi = inputs_for('table4', {**tiny, 'ckpt_mlcm': None, 'ckpt_mdm': None, 'backbones': 'mld'})   # left out: fine
    assert set(pi.checkpoints) == {'mld'}


def test_partly_filled_inputs(tiny, tmp_path):
    ev = tmp_path / 't2m'; shutil.copytree(tiny['evaluator_dir'], ev)
    shutil.rmtree(ev / 'Comp_v6_KLD01')                                       # no meta mean/std
    data = tmp_path / 'data'; shutil.copytree(tiny['data_dir'], data); (data / 'Std.npy').unlink()
    err = _problems(data_dir=data, ckpt=tiny['ckpt_mdm'], evaluator_dir=ev, glove_dir=tmp_path / 'noglove',
                    text_models=TINY_TEXT_FOR_TESTS)
    text = str(err)
    assert len(err.problems) == 4, text
    assert 'lacks Std.npy' in text and 'no meta/mean.npy and meta/std.npy' in text
    assert "not an MLD-family checkpoint" in text and 'no our_vab_data.npy, our_vab_words.pkl, our_vab_idx.pkl' in text


def test_checks_build_no_model(tiny):
    "The whole check of valid inputs reads files and shapes only: no backbone or evaluator is built or loaded."
    fail = AssertionError('a model was built during the checks')
    with mock.patch('easytune.mld_official.OfficialMLD.__init__', side_effect=fail), \
         mock.patch('easytune.mdm_official.OfficialMDM.__init__', side_effect=fail), \
         mock.patch('easytune.evaluator.T2MEvaluator.load_official', side_effect=fail):
        pi = inputs_for('table4', tiny)
    assert pi.official and {k: v['variant'] for k, v in pi.checkpoints.items()} == {'mld': 'mld-v1', 'mlcm': 'mlcm-v1', 'mdm': 'mdm'}


def test_reward_files(tiny, tmp_path):
    from easytune.reward import RewardConfig, RewardModel
    from easytune.profiles import TINY_REWARD
    RewardModel(RewardConfig(**TINY_REWARD, text_encoder='hash')).save(tmp_path / 'ours.pt')
    assert check_inputs(reward_ckpt=tmp_path / 'ours.pt').reward == (tmp_path / 'ours.pt').resolve()
    torch.save({'state_dict': {'motion_encoder.norm.weight': torch.ones(2), 'dist_motion_layer.weight': torch.ones(2, 2)}},
               tmp_path / 'spm.pth')
    err = _problems(reward_ckpt=tmp_path / 'spm.pth')                     # an SPM file missing most of its tensors
    assert 'does not match the SPM layout' in str(err)
    from easytune.official import TINY_TEXT_FOR_TESTS
    from easytune.paper_inputs import report_reward
    from easytune.spm import SPM, SPMConfig
    torch.manual_seed(0)
    spm = SPM(SPMConfig(mode='M1T0', d_model=16, ff=32, layers=3, heads=2, dropout=0.0, text_dim=32,
                        text_dir=TINY_TEXT_FOR_TESTS, sentence_dim=24)).freeze()
    path = spm.export_official(tmp_path / 'spm_M1T0.pth')
    pi = check_inputs(reward_ckpt=path, text_models=TINY_TEXT_FOR_TESTS)   # a whole SPM file is accepted...
    assert pi.reward == path.resolve()
    loaded, info = report_reward(pi, None)                                  # ...and loaded as the run's reward
    assert info['format'] == 'SPM M1T0' and isinstance(loaded, SPM)
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), spm.state_dict().values()))


def test_cli_lists_every_problem_and_runs_nothing(tmp_path, capsys):
    out = tmp_path / 'reports'
    with pytest.raises(SystemExit) as e:
        main(['table1', 'table4', '--profile', 'smoke', '--ckpt', str(tmp_path / 'm.ckpt'), '--evaluator', str(tmp_path),
              '-p', 'backbones', 'mld', '--out', str(out)])
    assert e.value.code == 2
    msg = capsys.readouterr().err
    assert re.search(r'error: \d+ problems with the inputs of table1, table4 \(nothing was run\)', msg)
    for what in ('DATA (--data, data_dir=): not given', 'CKPT (--ckpt, ckpt=): file not found', 'no finest.tar',
                 'GLOVE (--glove, glove_dir=): no our_vab_data.npy'):
        assert msg.count(what) == 1, what                                    # once, though both reports read it
    assert not out.exists()


def test_makefile_checks_first_and_pretrains_only_what_is_missing():
    def dry(*args):
        env = {k: v for k, v in os.environ.items() if k not in ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL')}  # CI runs us under make
        r = subprocess.run(['make', '--no-print-directory', '-n', 'report', *args], cwd=ROOT, env=env,
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return r.stdout.splitlines()
    lines = dry('CKPT=/x/mld.ckpt', 'EVALUATOR=/x/t2m', 'DATA=/x/data', 'PROFILE=paper')
    assert '--check' in lines[0] and '--ckpt /x/mld.ckpt' in lines[0] and '--evaluator /x/t2m' in lines[0]
    assert [l.split('--backbone ')[1].split()[0] for l in lines if 'easytune.pretrain' in l] == ['reward']
    assert '--ckpt /x/mld.ckpt' in lines[-1] and '--profile paper' in lines[-1]
    lines = dry('REPORTS=table4', 'PRETRAIN=all', 'CKPT=a', 'CKPT_MLCM=b', 'CKPT_MDM=c', 'EVALUATOR=d', 'REWARD=e', 'DATA=f')
    assert not any('easytune.pretrain' in l for l in lines) and '--ckpt-mdm c' in lines[-1] and '--reward e' in lines[-1]
    assert [l.split('--backbone ')[1].split()[0] for l in dry() if 'easytune.pretrain' in l] == ['evaluator,mld,reward']


def _run_report(args, cache, out):
    env = {**os.environ, 'EASYTUNE_CACHE': str(cache), 'OMP_NUM_THREADS': '1', 'PYTHONPATH': str(ROOT)}
    env.pop('IN_TEST', None)
    r = subprocess.run([sys.executable, '-m', 'easytune.reproduce', *args, '--profile', 'smoke', '--out', str(out)],
                       env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def _no_machine_paths(out, *paths):
    for f in out.rglob('*'):
        if f.is_file() and f.suffix in ('.json', '.ipynb', '.html'):
            text = f.read_text()
            for p in paths: assert str(p) not in text, (f, p)


def test_table1_runs_on_the_released_mld_and_the_official_evaluator(tiny, tmp_path):
    out, cache = tmp_path / 'reports', tmp_path / 'cache'
    _run_report(['table1', '--data', tiny['data_dir'], '--ckpt', tiny['ckpt'], '--evaluator', tiny['evaluator_dir'],
                 '--text-models', TINY_TEXT_FOR_TESTS, '-p', 'methods', "'easytune'", '-p', 'seeds', '1'], cache, out)
    res = json.loads((out / 'table1' / 'results.json').read_text())
    inp = res['inputs']
    assert inp['official'] and inp['data'] == '$DATA' and res['data_root'] == '$DATA'
    assert (inp['ckpt']['path'], inp['ckpt']['file'], inp['ckpt']['variant']) == ('$CKPT', 'mld_humanml_v1.ckpt', 'mld-v1')
    assert inp['ckpt']['sha256'] == pin.sha256_file(tiny['ckpt'])
    assert inp['evaluator']['path'] == '$EVALUATOR/text_mot_match/model/finest.tar' and inp['glove'] == '$GLOVE'
    assert inp['evaluator']['meta'] == ['$EVALUATOR/Comp_v6_KLD01/meta/mean.npy', '$EVALUATOR/Comp_v6_KLD01/meta/std.npy']
    assert {m['model'] for m in res['metrics']} == {'Real', 'MLD (base)', 'easytune'}
    # only the reward was trained: the base model and the evaluator are the given files (the data has no meta/ either)
    assert sorted(p.name.split('-')[0] for p in (cache / 'models').iterdir()) == ['reward']
    _no_machine_paths(out, Path(tiny['data_dir']).parent, tmp_path)


def test_table4_runs_on_the_released_backbones(tiny, tmp_path):
    "MLD and MotionLCM (1 and 4 steps); the released MDM samples 1000 DDPM steps, minutes on a CPU, so it is loaded only."
    out, cache = tmp_path / 'reports', tmp_path / 'cache'
    _run_report(['table4', '--data', tiny['data_dir'], '--ckpt', tiny['ckpt'], '--ckpt-mlcm', tiny['ckpt_mlcm'],
                 '--evaluator', tiny['evaluator_dir'], '--text-models', TINY_TEXT_FOR_TESTS,
                 '-p', 'backbones', "'mld,mlcm-1,mlcm-4'", '-p', 'seeds', '1'], cache, out)
    res = json.loads((out / 'table4' / 'results.json').read_text())
    assert res['inputs']['ckpt_mlcm']['variant'] == 'mlcm-v1' and res['inputs']['ckpt_mlcm']['path'] == '$CKPT_MLCM'
    assert res['settings']['mlcm-4'] == {'sampler': 'lcm', 'num_steps': 4, 'k': 4, 'reward_on': 'x0'}
    assert {m['model'] for m in res['metrics']} >= {'MLCM (4-step) +EasyTune', 'MLD base'}
    assert sorted(p.name.split('-')[0] for p in (cache / 'models').iterdir()) == ['reward']
    _no_machine_paths(out, Path(tiny['data_dir']).parent, tmp_path)
    pi = inputs_for('table4', tiny)
    mdm, info = pin.report_backbone(pi, 'mdm', pi.data)
    assert type(mdm).__name__ == 'OfficialMDM' and info['source'] == 'released'
    assert np.array_equal(mdm.feature_std.numpy(), np.load(pi.data / 'Std.npy').astype(np.float32))
