"""Fault, fuzz and race tests: what must never go silently wrong.

Tests that exercise only files, NumPy and processes (readers, caches, the
Projector writer, the command line) do not depend on the Keras backend: mark
them `host_only` (see tests/conftest.py) so they run once, not three times.
Layer tests run under all three backends.

Property-based tests use the hypothesis profile named by `HYPOTHESIS_PROFILE`:
`ci` (the default: a fixed, derandomized set of examples, so `make test` is
repeatable and quick) or `fuzz` (`FUZZ_EXAMPLES` random examples a test,
default 2,000, for `make fuzz`).
"""

import os

from hypothesis import HealthCheck, settings

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
