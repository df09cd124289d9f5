"""Fault, fuzz and race tests: what must never go silently wrong.

Tests that exercise only files, NumPy and processes (readers, caches, the
Projector writer, the command line) do not depend on the Keras backend. Mark
them `@pytest.mark.host_only` (or `pytestmark = pytest.mark.host_only`): they
then run once, under one of `make test`'s three backends
(`KERAS_EMBEDX_HOST_BACKEND`, default jax). Layer tests run under all three.
"""

import os

import keras
import pytest

HOST_BACKEND = os.environ.get("KERAS_EMBEDX_HOST_BACKEND", "jax")


def pytest_collection_modifyitems(config, items):
    if keras.config.backend() == HOST_BACKEND:
        return
    skip = pytest.mark.skip(
        reason=f"backend-independent: runs once, under KERAS_BACKEND={HOST_BACKEND}"
    )
    for item in items:
        if item.get_closest_marker("host_only"):
            item.add_marker(skip)
