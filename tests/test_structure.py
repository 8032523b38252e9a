"The package's import structure: no import cycle, no private name used across modules, no unused import."
import ast
from pathlib import Path
import pytest

PKG = Path(__file__).resolve().parents[1] / 'easytune'
MODULES = {p.stem: ast.parse(p.read_text(encoding='utf-8')) for p in sorted(PKG.glob('*.py')) if not p.stem.startswith('_')}


def _imports(tree):
    "(easytune module, names or None, bound alias or None, line) for every import of a sibling module, at any depth."
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ''
            if node.level == 0 and not (mod == 'easytune' or mod.startswith('easytune.')): continue
            mod = mod[len('easytune'):].lstrip('.') if node.level == 0 else mod
            if mod:
                yield mod.split('.')[0], [a.name for a in node.names], None, node.lineno
            else:                                   # from easytune import reward as _rw
                for a in node.names: yield a.name, None, a.asname or a.name, node.lineno
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith('easytune.'): yield a.name.split('.')[1], None, a.asname, node.lineno


def _graph():
    return {m: {dep for dep, *_ in _imports(t) if dep in MODULES and dep != m} for m, t in MODULES.items()}


def _cycle(graph):
    "One import cycle as a list of modules, or None."
    state, stack = {}, []
    def visit(m):
        state[m] = 'open'; stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 'open': return stack[stack.index(d):] + [d]
            if d not in state and (c := visit(d)): return c
        state[m] = 'done'; stack.pop()
    for m in sorted(graph):
        if m not in state and (c := visit(m)): return c


def test_no_import_cycle():
    assert _cycle(_graph()) is None, f"import cycle: {' -> '.join(_cycle(_graph()))}"


def test_cycle_finder_finds_a_planted_cycle():
    assert _cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': set()}) == ['a', 'b', 'c', 'a']
    assert _cycle({'a': {'b'}, 'b': set()}) is None


def test_no_private_name_across_modules():
    bad = []
    for m, tree in MODULES.items():
        aliases = {}
        for dep, names, alias, line in _imports(tree):
            bad += [f'{m}.py:{line} imports {dep}.{n}' for n in names or [] if n.startswith('_') and dep in MODULES]
            if alias: aliases[alias] = dep
        for node in ast.walk(tree):                  # module alias attribute access: _rw._private
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith('_') and not node.attr.startswith('__')):
                bad.append(f'{m}.py:{node.lineno} uses {aliases[node.value.id]}.{node.attr}')
    assert not bad, '\n'.join(bad)


def _unused(tree):
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    exported = set()
    for n in tree.body:
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == '__all__' for t in n.targets):
            exported = {e.value for e in n.value.elts}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and getattr(node, 'module', None) != '__future__':
            for a in node.names:
                name = (a.asname or a.name).split('.')[0]
                if name not in used and name not in exported: out.append((name, node.lineno))
    return out


@pytest.mark.parametrize('module', sorted(MODULES))
def test_no_unused_import(module):
    assert not _unused(MODULES[module]), f"{module}.py: unused imports {_unused(MODULES[module])}"


def test_unused_finder_sees_a_planted_import():
    assert _unused(ast.parse('import os, sys\nfrom x import y as z\nprint(sys)')) == [('os', 1), ('z', 2)]


MAX_LINES = 60   # a function a reader can see whole; longer ones are split into named phases


def test_functions_fit_on_a_screen():
    long = [f'{m}.py:{n.lineno} {n.name} ({n.end_lineno - n.lineno + 1} lines)' for m, tree in MODULES.items()
            for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and n.end_lineno - n.lineno + 1 > MAX_LINES]
    assert not long, '\n'.join(long)
