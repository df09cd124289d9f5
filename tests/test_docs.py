"""The code in the README and in the docs pages runs as written."""

import importlib.util
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Pages whose python blocks run in order, as one script. Left out:
# docs/guides/vectors.md (reads files the reader makes, shows errors) and
# docs/scaling.md (needs 8 devices set before JAX starts; the same set-up
# runs in tests/test_distribution.py).
PAGES = [
    "README.md",
    "docs/common-mistakes.md",
    "docs/guides/freezing.md",
    "docs/guides/subwords.md",
    "docs/guides/char.md",
    "docs/guides/transformers.md",
    "docs/guides/evaluation.md",
    "docs/guides/projector.md",
    "docs/guides/deploying.md",
]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
# Blocks that show TensorFlow features (tf.data, Keras' TensorBoard callback).
_NEEDS_TF = re.compile(r"^import tensorflow|keras\.callbacks\.TensorBoard", re.M)


def python_blocks(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return _BLOCK.findall(f.read())


@pytest.mark.parametrize("page", PAGES)
def test_page_code_runs(page, tmp_path, monkeypatch):
    blocks = python_blocks(page)
    assert blocks, f"{page} has no python code block"
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    for i, block in enumerate(blocks):
        if _NEEDS_TF.search(block) and not importlib.util.find_spec("tensorflow"):
            pytest.skip(f"{page} block {i + 1} and on need TensorFlow, not installed")
        code = compile(block, f"{page} block {i + 1}", "exec")
        exec(code, namespace)  # noqa: S102 - the project's own documentation
