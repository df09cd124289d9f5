"""Fault, fuzz and race tests: what must never go silently wrong.

Tests that exercise only files, NumPy and processes (readers, caches, the
Projector writer, the command line) do not depend on the Keras backend: mark
them `host_only` (see tests/conftest.py) so they run once, not three times.
Layer tests run under all three backends.
"""
