"""The generic engine takes the focal level and its reference from the spec or the study,
never from a default argument that names the housing study; and no import cycle runs
through the project's modules (both checked on the source's AST, as the layout tests of
test_workflows.py do)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from data import codebook as cb

ROOT = Path(__file__).resolve().parents[1]
ENGINE = sorted(str(p.relative_to(ROOT)) for folder in ("models", "inference", "diagnostics")
                for p in (ROOT / folder).glob("*.py"))
# the study's variables, its focal level and its levels
STUDY_WORDS = {v.name for v in cb.VARIABLES} | set(cb.FORM_CODES) | {
    cb.REFERENCE_FORM, "living_form", "complex_id", "tenant_id"}


def _study_defaults(path: Path) -> list[str]:
    """``function(argument=value)`` for every default that is a study word."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults,
                         strict=True))
        pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
                  if d is not None]
        for arg, default in pairs:
            words = [c.value for c in ast.walk(default) if isinstance(c, ast.Constant)
                     and isinstance(c.value, str) and c.value in STUDY_WORDS]
            words += [c.attr for c in ast.walk(default) if isinstance(c, ast.Attribute)
                      and c.attr in {"REFERENCE_FORM", "FORM_CODES", "FORMS"}]
            name = getattr(node, "name", "lambda")
            found += [f"{name}({arg.arg}={w!r})" for w in words]
    return found


@pytest.mark.parametrize("module", ENGINE)
def test_no_default_argument_names_the_study(module):
    assert _study_defaults(ROOT / module) == [], f"{module}: study defaults"


def test_the_check_sees_a_study_default(tmp_path):
    path = tmp_path / "m.py"
    path.write_text('def f(x, *, focal="living_form", ref=cb.REFERENCE_FORM):\n    pass\n')
    assert _study_defaults(path) == ["f(focal='living_form')", "f(ref='REFERENCE_FORM')"]


@pytest.mark.parametrize("module", sorted(str(p.relative_to(ROOT))
                                          for p in (ROOT / "models").glob("*.py")))
def test_models_import_no_higher_layer(module):
    """models/ is the lowest layer: not even a function-level import of inference/,
    diagnostics/, workflows/ or the study (data/), so no import cycle runs through it
    (the joint model's draws come from models.draws, not diagnostics.effects)."""
    tree = ast.parse((ROOT / module).read_text())
    imports = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)] + \
        [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    higher = [m for m in imports if m and m.split(".")[0] in
              ("inference", "diagnostics", "workflows", "data", "run_models")]
    assert higher == [], f"{module} imports {higher}"


def _runtime_imports(path: Path) -> set[str]:
    """Modules ``path`` imports at run time, at any depth (not under ``TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text())
    typing_only = {id(m) for n in ast.walk(tree) if isinstance(n, ast.If)
                   and getattr(n.test, "id", None) == "TYPE_CHECKING" for m in ast.walk(n)}
    out = set()
    for n in ast.walk(tree):
        if id(n) in typing_only:
            continue
        if isinstance(n, ast.ImportFrom) and n.module:
            out.add(n.module)
        elif isinstance(n, ast.Import):
            out |= {a.name for a in n.names}
    return out


def test_no_import_cycle_between_the_projects_modules():
    """Function-level imports count too: a lazy import that closes a cycle still ties
    two modules together (the former diagnostics.effects <-> models.joint)."""
    paths = {f"{p.parent.name}.{p.stem}": p for folder in
             ("data", "models", "inference", "diagnostics", "workflows", "clusterwonen")
             for p in (ROOT / folder).glob("*.py")}
    graph = {m: _runtime_imports(p) & set(paths) for m, p in paths.items()}
    cycles = []
    for start in graph:
        stack = [(start, (start,))]
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    cycles.append(" -> ".join((*path, start)))
                elif nxt not in path and nxt > start:
                    stack.append((nxt, (*path, nxt)))
    assert cycles == []
