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
