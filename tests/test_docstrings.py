"""Every `>>>` example in the package's docstrings runs as written.

The suite runs once per backend, so each example is checked on TensorFlow,
JAX and PyTorch; examples must therefore print what every backend prints
(e.g. `tuple(x.shape)`, not a backend's own shape type).
"""

import doctest
import importlib
import pkgutil

import keras
import numpy as np
import pytest

import keras_embedx


def _examples():
    names = [keras_embedx.__name__] + [
        info.name
        for info in pkgutil.walk_packages(keras_embedx.__path__, "keras_embedx.")
    ]
    finder = doctest.DocTestFinder(exclude_empty=True)
    found = {}
    for name in sorted(names):
        module = importlib.import_module(name)
        for test in finder.find(module, name):
            if test.examples and test.name not in found:
                found[test.name] = test
    return found


EXAMPLES = _examples()


def test_the_package_has_examples():
    assert len(EXAMPLES) >= 10, sorted(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_docstring_example_runs(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write here
    test = EXAMPLES[name]
    test.globs = {**test.globs, "keras_embedx": keras_embedx, "keras": keras, "np": np}
    report = []
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    result = runner.run(test, out=report.append, clear_globs=False)
    assert result.failed == 0, "".join(report)
