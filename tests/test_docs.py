"""The python code in the README and in every docs page runs as pasted.

Each page's blocks run in page order, as one script, in an empty working
directory. A page whose blocks pick their own backend (they set
`KERAS_BACKEND` or `XLA_FLAGS` before Keras starts, like docs/scaling.md)
runs in fresh processes, one per such program, and so does nothing else.
Pages whose code builds no Keras model run under one backend only.
"""

import glob
import importlib.util
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Pages left out, each with its reason. Keep this empty or nearly so.
EXCLUDED = {}
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
# Blocks that show TensorFlow features (tf.data, Keras' TensorBoard callback).
_NEEDS_TF = re.compile(r"^import tensorflow|keras\.callbacks\.TensorBoard", re.M)
# A block that starts a program of its own: it sets up the process first.
_OWN_PROCESS = re.compile(r'^os\.environ\["(KERAS_BACKEND|XLA_FLAGS)"\] =', re.M)
_USES_KERAS = re.compile(r"\bkeras\.|\blayers\.|\.fit\(|load_model")


def pages():
    found = ["README.md"] + sorted(
        os.path.relpath(path, ROOT)
        for path in glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True)
    )
    return [page for page in found if page not in EXCLUDED]


def python_blocks(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return _BLOCK.findall(f.read())


def _param(page):
    blocks = python_blocks(page)
    own = any(_OWN_PROCESS.search(b) for b in blocks)
    backend_free = not any(_USES_KERAS.search(b) for b in blocks)
    marks = [pytest.mark.host_only] if own or backend_free else []
    return pytest.param(page, marks=marks, id=page)


def _resolve(name):
    """The object a dotted name (`keras_embedx.layers.char.word_char_model`) names."""
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for part in parts[split:]:
            obj = getattr(obj, part)
        return obj
    raise ImportError(name)


@pytest.mark.host_only
def test_every_public_name_the_pages_use_has_an_api_entry():
    import types

    entries = set()
    for path in glob.glob(os.path.join(ROOT, "docs", "api", "*.md")):
        with open(path, encoding="utf-8") as f:
            entries |= set(re.findall(r"^::: (\S+)", f.read(), re.M))
    documented = [_resolve(name) for name in sorted(entries)]
    used = set()
    for page in pages():
        for block in python_blocks(page):
            used |= set(re.findall(r"\bkeras_embedx(?:\.\w+)+", block))
            for module, names in re.findall(
                r"^from (keras_embedx[\w.]*) import ([\w, ]+)$", block, re.M
            ):
                used |= {f"{module}.{n.strip()}" for n in names.split(",")}
    missing = []
    for name in sorted(used):
        obj = _resolve(name)
        if isinstance(obj, types.ModuleType):
            continue
        parent = _resolve(name.rsplit(".", 1)[0])
        if not any(obj is d or parent is d for d in documented):
            missing.append(name)
    assert missing == []


def test_every_page_with_code_is_tested():
    # The exclusion list only names pages that exist and hold python code.
    for page, reason in EXCLUDED.items():
        assert python_blocks(page) and reason, page


@pytest.mark.parametrize("page", [_param(p) for p in pages() if python_blocks(p)])
def test_page_code_runs(page, tmp_path, monkeypatch):
    blocks = python_blocks(page)
    monkeypatch.chdir(tmp_path)
    if any(_OWN_PROCESS.search(b) for b in blocks):
        return _run_programs(page, blocks, tmp_path)
    namespace = {"__name__": "__docs__"}
    for i, block in enumerate(blocks):
        if _NEEDS_TF.search(block) and not importlib.util.find_spec("tensorflow"):
            pytest.skip(f"{page} block {i + 1} and on need TensorFlow, not installed")
        code = compile(block, f"{page} block {i + 1}", "exec")
        exec(code, namespace)  # noqa: S102 - the project's own documentation


def _run_programs(page, blocks, tmp_path):
    """Each run of blocks from one that sets up its process, in a new process."""
    programs = []
    for i, block in enumerate(blocks):
        if _OWN_PROCESS.search(block) or not programs:
            programs.append([])
        programs[-1].append((i, block))
    env = {
        k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "XLA_FLAGS")
    }
    env["PYTHONPATH"] = os.pathsep.join([ROOT, *sys.path])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for program in programs:
        first = program[0][0] + 1
        if any(
            _NEEDS_TF.search(b) for _, b in program
        ) and not importlib.util.find_spec("tensorflow"):
            continue
        code = "\n".join(f"# {page} block {i + 1}\n{b}" for i, b in program)
        proc = subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, (
            f"{page} from block {first}:\n{proc.stderr[-3000:]}"
        )
