"End-to-end checks of the papermill runner: a report is written whole or not at all."
import json, nbformat, pytest
from pathlib import Path
from easytune.reproduce import run_report, build_index, REPORTS


def _notebook(path, body):
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell("profile = 'smoke'\nseed = 0\nout_dir = '.'\nfail = False")
    p.metadata['tags'] = ['parameters']
    nb.cells = [nbformat.v4.new_markdown_cell('# Tiny report'), p, nbformat.v4.new_code_cell(body)]
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}
    nbformat.write(nb, str(path))
    return path


BODY = """import json, pathlib
if fail: raise RuntimeError('planted failure')
pathlib.Path(out_dir, 'results.json').write_text(json.dumps({'value': seed * 2, 'profile': profile}))
print('value', seed * 2)"""


def test_report_written_whole_and_failures_leave_previous(tmp_path):
    nb = _notebook(tmp_path / 'tiny.ipynb', BODY)
    out = tmp_path / 'reports'
    m = run_report('dataset', profile='cpu', out_root=out, seed=21, notebook=nb, progress=False)
    res = json.loads((out / 'dataset' / 'results.json').read_text())
    assert res == {'value': 42, 'profile': 'cpu'}                       # parameters reached the notebook
    html = (out / 'dataset.html').read_text()
    assert 'value 42' in html and "raise RuntimeError" not in html      # outputs shown, code hidden
    assert m['parameters']['seed'] == 21 and m['duration'] > 0
    with pytest.raises(Exception, match='planted failure'):
        run_report('dataset', out_root=out, seed=5, notebook=nb, extra={'fail': True}, progress=False)
    assert json.loads((out / 'dataset' / 'results.json').read_text())['value'] == 42   # previous report intact
    assert (out / '.failed-dataset').is_dir()
    assert not [p for p in out.iterdir() if p.name.startswith('.dataset-')]            # no temp folders left
    idx = build_index(out).read_text()
    assert "href='dataset.html'" in idx and 'seed=21' in idx and 'profile' in idx


def test_unknown_parameter_fails_before_running(tmp_path):
    nb = _notebook(tmp_path / 'tiny.ipynb', BODY)
    with pytest.raises(ValueError, match="parameter 'lr'"):
        run_report('dataset', out_root=tmp_path / 'r', notebook=nb, extra={'lr': 1e-5}, progress=False)
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").iterdir())   # nothing written


# ---- claims judged against their noise -------------------------------------------------------------------------
import math
import numpy as np
from easytune.profiles import BUDGETS
from easytune.reproduce import (Timings, build_index as _build_index, claims_frame, claims_html, declared_parameters,
                                format_timings, judge_claim, median_range, nbs_dir, ordering_effect, seed_list, t_interval)


def test_t_interval_matches_hand_computation():
    x = [0.10, 0.14, 0.09, 0.12, 0.15]                       # mean 0.12, sd 0.025495, n 5, t(0.975, 4) = 2.776445
    m, lo, hi, h, n = t_interval(x)
    sd = math.sqrt(sum((v - 0.12) ** 2 for v in x) / 4)
    assert n == 5 and abs(m - 0.12) < 1e-12 and abs(h - 2.776445 * sd / math.sqrt(5)) < 1e-6
    assert abs(lo - (m - h)) < 1e-12 and abs(hi - (m + h)) < 1e-12
    c = judge_claim('x', '-', '-', x, threshold=0.05)
    assert c.ci95 == [lo, hi] and c.n_seeds == 5 and c.half_width == h


@pytest.mark.parametrize('values, threshold, verdict', [
    ([0.30, 0.32, 0.31], 0.0, 'holds'),                       # clearly above the threshold
    ([9.1, 9.4, 9.2], 8.2, 'holds'),                          # above a paper threshold
    ([1.0, 2.0, 1.5], 8.2, 'contradicted'),                   # short of the paper's threshold beyond the noise
    ([-0.5, -0.45, -0.55], 0.0, 'contradicted'),              # opposes the claimed direction
    ([-0.2, 0.3, 0.05], 0.0, 'inconclusive'),                 # the interval straddles the threshold
    ([8.0, 8.6, 8.1], 8.2, 'inconclusive'),
    ([float('nan')] * 3, 0.0, 'not measured'),
    ([], 0.0, 'not measured'),
    ([0.7], 0.0, 'inconclusive'),                             # one seed: no estimate of the noise
])
def test_verdicts_on_known_samples(values, threshold, verdict):
    assert judge_claim('c', '-', '-', values, threshold=threshold).verdict == verdict


def test_missing_seeds_dropped_and_deterministic_measurements():
    c = judge_claim('c', '-', '-', [0.3, float('nan'), 0.31, 0.29])
    assert c.n_seeds == 3 and c.verdict == 'holds' and math.isnan(c.per_seed[1])
    d = judge_claim('saves >= 68.84 %', '-', '-', [75.0, 75.0, 75.0], threshold=68.84, unit='%', deterministic=True)
    assert d.verdict == 'holds' and d.ci95 == [75.0, 75.0] and d.n_seeds == 3 and d.half_width == 0
    assert judge_claim('m', '-', '-', [60.0], threshold=68.84, deterministic=True).verdict == 'contradicted'
    with pytest.raises(ValueError, match='per-seed values differ'):
        judge_claim('m', '-', '-', [60.0, 61.0], deterministic=True)


def test_claim_record_and_table():
    cs = [judge_claim('EasyTune MM-Dist improvement over DRaFT-50 >= 8.2 %', '8.2 %', '3.0 -> 2.7', [9.0, 10.0, 9.5], 8.2, '%'),
          judge_claim('not run', '-', '-', None)]
    rec = json.loads(json.dumps([c.to_dict() for c in cs]))          # strict JSON: no NaN / Infinity
    for r in rec: assert {'claim', 'paper', 'ours', 'effect', 'ci95', 'n_seeds', 'verdict'} <= set(r)
    assert rec[0]['verdict'] == 'holds' and len(rec[0]['ci95']) == 2 and rec[1]['effect'] is None
    f = claims_frame(cs)
    assert list(f.columns[:4]) == ['claim', 'paper', 'ours', 'effect'] and {'ci95', 'n_seeds', 'verdict'} <= set(f.columns)
    h = claims_html(cs)
    hw = 4.302653 * 0.5 / math.sqrt(3)                                # t(0.975, 2) sd / sqrt(n) of [9, 10, 9.5]
    assert 'Smallest detectable effect' in h and f'±{hw:.4g} %' in h and 'not measured' in h


def test_ordering_effect_is_paired_per_seed():
    per = {'easytune': [0.60, 0.50], 'draft-50': [0.55, 0.58], 'refl-10': [0.62, 0.40]}
    np.testing.assert_allclose(ordering_effect(per, 'easytune').to_numpy(), [-0.02, -0.08])
    np.testing.assert_allclose(ordering_effect(per, 'easytune', higher_is_better=False).to_numpy(), [-0.05, -0.10])


def test_seed_budgets_and_parameters():
    assert BUDGETS['smoke'].seeds == 2 and BUDGETS['cpu'].seeds >= 3 and BUDGETS['paper'].seeds == 5
    assert seed_list(3, None, 'cpu') == list(range(3, 3 + BUDGETS['cpu'].seeds))
    assert seed_list(0, 1, 'paper') == [0]
    for nb in ('table1', 'table3', 'table4', 'table5', 'table6', 'ablations', 'gradients'):
        assert {'seed', 'seeds'} <= set(declared_parameters(nbs_dir() / f'reproduce_{nb}.ipynb')), nb
    assert median_range([5.0, float('nan'), 2.0, 3.0]) == (4.0, 2.0, 5.0, 3, 4)


def test_index_shows_where_the_time_went(tmp_path):
    nb = _notebook(tmp_path / 'tiny.ipynb', BODY)
    out = tmp_path / 'reports'
    run_report('dataset', profile='smoke', out_root=out, notebook=nb, progress=False)
    res = {'timings': {'pretrain/load': 4.2, 'finetune': 210.4, 'evaluate': 120.0, 'plots': 0.4},
           'claims': [judge_claim('a', '-', '-', [1.0, 1.1, 0.9]).to_dict(), judge_claim('b', '-', '-', [-1.0, 1.1]).to_dict()]}
    (out / 'dataset' / 'results.json').write_text(json.dumps(res))      # a hand-made results.json
    idx = _build_index(out).read_text()
    assert 'finetune 210 s, evaluate 120 s, pretrain/load 4 s, plots 0.4 s' in idx
    assert '1 holds, 1 inconclusive' in idx
    t = Timings()
    with t('evaluate'): pass
    assert set(t) == {'evaluate'} and format_timings({}) == '-'


def test_reports_carry_no_machine_path(tmp_path, monkeypatch):
    cache = tmp_path / 'cache'
    monkeypatch.setenv('EASYTUNE_CACHE', str(cache))
    body = ("import json, os, pathlib\n"
            "paths = {'cache': os.environ['EASYTUNE_CACHE'] + '/data/synthetic', 'out': str(pathlib.Path(out_dir).resolve())}\n"
            "print(paths)\n"
            "pathlib.Path(out_dir, 'results.json').write_text(json.dumps(paths))")
    nb = _notebook(tmp_path / 'tiny.ipynb', body)
    out = tmp_path / 'reports'
    run_report('dataset', profile='cpu', out_root=out, notebook=nb, progress=False)
    res = json.loads((out / 'dataset' / 'results.json').read_text())
    assert res == {'cache': '$EASYTUNE_CACHE/data/synthetic', 'out': 'reports/dataset'}
    for f in [*(out / 'dataset').iterdir(), out / 'dataset.html']:
        text = f.read_text()
        assert str(cache) not in text and str(tmp_path) not in text, f
    assert "$EASYTUNE_CACHE/data/synthetic" in (out / 'dataset.html').read_text()
