"""Run a snippet under another Keras backend in a fresh interpreter.

Used by the save-on-one-backend, load-on-another tests: the snippet runs with
`KERAS_BACKEND` set, may read/write files, and prints nothing the caller
needs except through files.
"""

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

BACKENDS = ("tensorflow", "jax", "torch")


def run_in_backend(backend, code, timeout=300):
    """Run `code` with `KERAS_BACKEND=backend`; raise with its output on failure.

    Skips the calling test where `backend` is not installed (`make test`
    installs all three; a machine with one backend can still run the rest).
    """
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"needs the {backend} backend installed to run a snippet there")
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"snippet failed under {backend} (exit {proc.returncode}):\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        )
    return proc.stdout


def other_backend(current):
    """A backend different from `current`, rotating so each pair gets exercised."""
    return BACKENDS[(BACKENDS.index(current) + 1) % len(BACKENDS)]
