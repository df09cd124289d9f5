"""Old module paths keep working for one release; the package uses none of them."""

import ast
import importlib
import os
import subprocess
import sys

import pytest

from tests.test_imports import import_graph, package_modules

pytestmark = pytest.mark.host_only

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MOVED = {
    "keras_embedx.chars": "keras_embedx.preprocessing.chars",
    "keras_embedx.subwords": "keras_embedx.preprocessing.ngrams",
}


@pytest.mark.parametrize("old, new", sorted(MOVED.items()))
def test_old_path_warns_naming_the_new_one_and_gives_the_same_objects(
    old, new, monkeypatch
):
    monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.warns(DeprecationWarning, match=f"`{old}` moved to `{new}`") as got:
        exec(compile(f"import {old}", __file__, "exec"), {})
    # The warning points at the user's import line, not at the package.
    assert got[0].filename == __file__
    module = sys.modules[old]
    target = importlib.import_module(new)
    public = [n for n in vars(target) if not n.startswith("_") and n.isupper()]
    public += getattr(target, "__all__", [])
    public += [
        n
        for n, v in vars(target).items()
        if not n.startswith("_") and getattr(v, "__module__", None) == new
    ]
    assert public
    for name in set(public):
        assert getattr(module, name) is getattr(target, name), name


def test_the_package_imports_nothing_deprecated():
    # Every module of the package, imported with deprecation warnings made
    # errors: none reaches an old path (the old paths themselves excepted).
    modules = sorted(
        name
        for name in package_modules()
        if name not in MOVED and not name.endswith("__main__")
    )
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"assert not set({sorted(MOVED)!r}) & set(sys.modules), 'old path imported'\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, *sys.path]))
    proc = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_preprocessing_is_numpy_only():
    # Host-side: no Keras, no backend, no layer; within the package only the
    # argument checks.
    modules = package_modules()
    graph = import_graph(modules)
    for name, path in modules.items():
        if not name.startswith("keras_embedx.preprocessing"):
            continue
        inside = {
            m for m in graph[name] if not m.startswith("keras_embedx.preprocessing")
        }
        assert inside <= {"keras_embedx._checks"}, (name, inside)
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        roots = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level:
                roots.add(node.module.split(".")[0])
        allowed = {"numpy", "keras_embedx", *sys.stdlib_module_names}
        assert roots <= allowed, (name, roots - allowed)
