"""Shared test fixtures. The suite runs once per KERAS_BACKEND (see Makefile)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

BACKEND = keras.config.backend()


@pytest.fixture
def backend():
    return BACKEND


@pytest.fixture
def datapath():
    """gensim's shipped fixtures: `datapath("crime-and-punishment.vec")`."""
    from gensim.test.utils import datapath as gensim_datapath

    return gensim_datapath


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True, scope="module")
def _clear_keras_session_per_module():
    # Once per module: clear_session() runs a full gc.collect(), ~1 s with
    # TensorFlow or torch loaded, too slow to pay after every test.
    yield
    keras.backend.clear_session()
