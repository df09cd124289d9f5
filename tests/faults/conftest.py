"""Fault, fuzz and race tests: what must never go silently wrong.

Tests that exercise only files, NumPy and processes (readers, caches, the
Projector writer, the command line) do not depend on the Keras backend. Mark
them `@pytest.mark.host_only` (or `pytestmark = pytest.mark.host_only`): they
then run once, under one of `make test`'s three backends
(`KERAS_EMBEDX_HOST_BACKEND`, default jax). Layer tests run under all three.

Property-based tests use the hypothesis profile named by `HYPOTHESIS_PROFILE`:
`ci` (the default: a fixed, derandomized set of examples, so `make test` is
repeatable and quick) or `fuzz` (`FUZZ_EXAMPLES` random examples a test,
default 2,000, for `make fuzz`).
"""

import os

import keras
import pytest
from hypothesis import HealthCheck, settings

HOST_BACKEND = os.environ.get("KERAS_EMBEDX_HOST_BACKEND", "jax")

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile(
    "ci",
    max_examples=30,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=_SLOW_OK,
)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "2000")),
    deadline=None,
    suppress_health_check=_SLOW_OK,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(config, items):
    if keras.config.backend() == HOST_BACKEND:
        return
    skip = pytest.mark.skip(
        reason=f"backend-independent: runs once, under KERAS_BACKEND={HOST_BACKEND}"
    )
    for item in items:
        if item.get_closest_marker("host_only"):
            item.add_marker(skip)
