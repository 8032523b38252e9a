"""Tests for easytune.bench: the ratio arithmetic, the table, argument errors."""
import json

import pandas as pd
import pytest
import torch

from easytune.bench import bench_batch, cost_ratios, finetune_cost, main


def fake_table():
    rows = []
    for bk, step_mem, floor in (('mld', 2.0, 10.0), ('mdm', 8.0, 1.0)):
        for T in (20, 50, 200):
            for m, n_opt, graph_steps, secs in (('easytune', 10, 1, 10.0), ('refl-10', 1, 1, 2.0),
                                                ('draft-50', 1, min(50, T), 6.0)):
                rows.append({'backbone': bk, 'steps': T, 'method': m, 'variant': 'plain', 'batch_size': 4,
                             'saved_mib': floor + step_mem * graph_steps, 'seconds': secs, 'n_opt_steps': n_opt,
                             'sec_per_opt': secs / n_opt, 'cpu_seconds': secs / 2, 'cpu_sec_per_opt': secs / 2 / n_opt})
        rows.append({'backbone': bk, 'steps': 50, 'method': 'easytune', 'variant': 'lean', 'batch_size': 4,
                     'saved_mib': step_mem, 'seconds': 12.0, 'n_opt_steps': 10, 'sec_per_opt': 1.2, 'cpu_seconds': 6.0,
                     'cpu_sec_per_opt': 0.6})
    return pd.DataFrame(rows)


def test_cost_ratios_arithmetic():
    r = cost_ratios(fake_table(), 50)
    assert r['easytune_over_refl_mem'] == 1.0 and r['extra_mem_flatness_easytune'] == 1.0
    assert r['extra_mem_ratio_easytune_draft50'] == {'mld': 12 / 110, 'mdm': 9 / 401}
    assert r['sec_ratio_draft50_easytune'] == pytest.approx(6.0)          # per optimisation: 6 / (10 / 10)
    by = r['by_backbone']['mld']
    assert by['sec_ratio_draft50_easytune_per_trajectory'] == pytest.approx(0.6)
    assert by['cpu_sec_ratio_draft50_easytune'] == pytest.approx(6.0)
    assert by['lean_easytune_mem_ratio'] == pytest.approx(2 / 12) and by['lean_easytune_time_ratio'] == pytest.approx(1.2)
    assert r['holds'] == {'easytune_over_refl_mem': True, 'extra_mem_flatness_easytune': True,
                          'extra_mem_ratio_easytune_draft50': {'mld': True, 'mdm': True}, 'sec_ratio_draft50_easytune': True}


def test_cost_ratios_report_misses():
    t = fake_table()
    t.loc[(t['method'] == 'easytune') & (t['steps'] == 200), 'saved_mib'] *= 2      # not flat any more
    r = cost_ratios(t, 50)
    assert r['extra_mem_flatness_easytune'] == pytest.approx(2.0) and r['holds']['extra_mem_flatness_easytune'] is False


def test_bench_batch_is_seeded():
    a, b = bench_batch(6, seed=3), bench_batch(6, seed=3)
    assert a[0] == b[0] and torch.equal(a[1], b[1]) and not torch.equal(a[1], bench_batch(6, seed=4)[1])


def test_finetune_cost_smoke_subset(tmp_path):
    res = finetune_cost('smoke', backbones=('mld',), steps=(4, 8), methods=('easytune', 'refl-10', 'draft-50'),
                        progress=False)
    t = res['table']
    assert set(t['method']) == {'easytune', 'refl-10', 'draft-50'} and set(t['steps']) == {4, 8}
    e = t[(t['method'] == 'easytune') & (t['variant'] == 'plain')]['n_opt_steps']
    assert (e == [4, 8]).all()                                                    # K = 10 clamped to the grid
    assert res['ratios']['easytune_over_refl_mem'] == pytest.approx(1.0, rel=0.01)


def test_errors():
    with pytest.raises(ValueError, match='profile'): finetune_cost('gpu')
    with pytest.raises(ValueError, match='methods: unknown'): finetune_cost('smoke', methods=('nope',))
    with pytest.raises(SystemExit): main(['finetune-cost', '--backbones', 'mld,xyz'])
    with pytest.raises(SystemExit): main(['finetune-cost', '--steps', '20,abc'])


def test_cli_json(tmp_path, capsys):
    out = tmp_path / 'cost.json'
    main(['finetune-cost', '--profile', 'smoke', '--backbones', 'mdm', '--steps', '3,6', '--methods',
          'easytune,refl-10,draft-50', '--json', str(out)])
    blob = json.loads(out.read_text())
    assert set(blob) >= {'table', 'easytune_over_refl_mem', 'extra_mem_flatness_easytune',
                         'extra_mem_ratio_easytune_draft50', 'sec_ratio_draft50_easytune', 'meta'}
    assert set(blob['extra_mem_ratio_easytune_draft50']) == {'mdm'}
    assert 'saved-for-backward' in capsys.readouterr().out


def test_paper_profile_tiny(tmp_path):
    """The paper-scale path (`--profile paper`) on tiny official-format models, 2 steps: the JSON keys, and EasyTune
    saving fewer bytes than DRaFT-50 (extrapolated from batches 1, 2, 4 to the profile's batch)."""
    out = tmp_path / 'paper.json'
    main(['finetune-cost', '--profile', 'paper-smoke', '--backbone', 'mdm-official', '--methods', 'easytune,draft-50',
          '--json', str(out)])
    blob = json.loads(out.read_text())
    assert set(blob) >= {'table', 'extra_mem_ratio_easytune_draft50', 'saved_mib', 'params', 'meta', 'paper_table1'}
    assert set(blob['extra_mem_ratio_easytune_draft50']) == {'mdm-official'}
    s = blob['saved_mib']['mdm-official']
    assert set(s) == {'easytune', 'draft-50'} and s['easytune'] < s['draft-50']
    assert blob['extra_mem_ratio_easytune_draft50']['mdm-official'] == pytest.approx(s['easytune'] / s['draft-50'])
    p = blob['params']['mdm-official']
    assert set(p) == {'denoiser', 'backbone', 'reward'} and 0 < p['denoiser'] <= p['backbone']
    assert set(blob['meta']) >= {'commit', 'torch', 'torch_threads', 'load_before', 'load_after', 'batch_size'}
    plain = [r for r in blob['table'] if r['variant'] == 'plain']
    assert plain and all(r['linear'] and r['batch_size'] == 8 and r['scaled_from'] == [1, 2, 4] for r in plain)
    assert blob['paper_table1']['extra_mem_ratio_easytune_draft50'] == 0.3116


def test_paper_profile_errors():
    with pytest.raises(SystemExit): main(['finetune-cost', '--profile', 'paper', '--backbone', 'mld'])
    with pytest.raises(SystemExit): main(['finetune-cost', '--profile', 'cpu', '--backbone', 'mld-official'])
