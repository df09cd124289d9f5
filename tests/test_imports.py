"""No module of keras_embedx imports, directly or through others, itself.

The import graph is read from the source with `ast`, so imports inside
functions count as much as those at the top of a module: a lazy import that
closes a cycle still ties the two modules together (each needs the other to
be complete, and neither can move or be tested alone). `from package import
name` is an edge to the submodule `package.name` when there is one, and to
the package's `__init__` otherwise.
"""

import ast
import importlib.util
import os
import pkgutil

import pytest

pytestmark = pytest.mark.host_only

PACKAGE = "keras_embedx"

# Imports the graph leaves out, each `(importer, imported): why`. Delete an
# entry when its import goes; the test fails while an entry names an import
# that no longer exists.
ALLOWED = {}


def package_modules(package=PACKAGE):
    """`{module name: source path}` of a package and all its submodules.

    Found on disk with `pkgutil.iter_modules`; nothing is imported.
    """
    spec = importlib.util.find_spec(package)
    modules = {package: spec.origin}

    def walk(directory, prefix):
        for info in pkgutil.iter_modules([directory], prefix):
            leaf = info.name.rpartition(".")[2]
            if info.ispkg:
                modules[info.name] = os.path.join(directory, leaf, "__init__.py")
                walk(os.path.join(directory, leaf), info.name + ".")
            else:
                modules[info.name] = os.path.join(directory, leaf + ".py")

    walk(spec.submodule_search_locations[0], package + ".")
    return modules


def _imported(node, module, is_package, modules):
    """The package modules one `import` / `from ... import` statement names."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            name = alias.name
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                yield name
        return
    base = node.module or ""
    if node.level:
        parts = module.split(".")
        anchor = parts if is_package else parts[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join(anchor + ([base] if base else []))
    for alias in node.names:
        if f"{base}.{alias.name}" in modules:
            yield f"{base}.{alias.name}"
        elif base in modules:
            yield base


def import_graph(modules):
    """`{module: {imported module: first line number}}` within `modules`.

    Only the imports a module writes count: importing `a.b.c` runs the
    `__init__` of `a` and `a.b` too, but a package importing its own
    submodules is how packages work, not a cycle.
    """
    graph = {}
    for module, path in modules.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename=path)
        is_package = os.path.basename(path) == "__init__.py"
        edges = graph.setdefault(module, {})
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _imported(node, module, is_package, modules):
                    if target != module:
                        edges[target] = min(edges.get(target, node.lineno), node.lineno)
    return graph


def cycles(graph):
    """One shortest cycle through each strongly connected group of modules."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def connect(v):  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    found = []
    for group in groups:
        start = min(group)
        # Breadth-first search inside the group back to `start`.
        paths = {start: [start]}
        queue = [start]
        while queue:
            v = queue.pop(0)
            for w in sorted(graph[v]):
                if w == start:
                    found.append(paths[v] + [start])
                    queue = []
                    break
                if w in group and w not in paths:
                    paths[w] = paths[v] + [w]
                    queue.append(w)
    return found


def _describe(cycle, graph, modules):
    root = os.path.dirname(modules[PACKAGE])
    return (
        " -> ".join(
            f"{a} ({os.path.relpath(modules[a], os.path.dirname(root))}:{graph[a][b]})"
            for a, b in zip(cycle, cycle[1:])
        )
        + f" -> {cycle[-1]}"
    )


def test_no_import_cycles():
    modules = package_modules()
    assert len(modules) > 20, sorted(modules)
    graph = import_graph(modules)
    for importer, imported in ALLOWED:
        assert imported in graph[importer], (
            f"{importer} no longer imports {imported}: drop its ALLOWED entry"
        )
        del graph[importer][imported]
    found = cycles(graph)
    assert not found, "Import cycles in keras_embedx:\n" + "\n".join(
        _describe(cycle, graph, modules) for cycle in found
    )


def test_finds_a_cycle_through_a_function_level_import(tmp_path, monkeypatch):
    # The checker itself: a cycle closed by an import inside a function, and a
    # relative import, are found; a package importing its submodules is not.
    pkg = tmp_path / "cyc_pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from cyc_pkg import a\n")
    (pkg / "a.py").write_text("from cyc_pkg.sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("def f():\n    from .. import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    modules = package_modules("cyc_pkg")
    assert sorted(modules) == ["cyc_pkg", "cyc_pkg.a", "cyc_pkg.sub", "cyc_pkg.sub.b"]
    assert cycles(import_graph(modules)) == [
        ["cyc_pkg.a", "cyc_pkg.sub.b", "cyc_pkg.a"]
    ]
