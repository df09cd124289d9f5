"""Fixtures shared by the peer tests."""

import numpy as np
import pytest

import keras_embedx


@pytest.fixture(scope="module")
def matrix():
    """The first 20 vectors of gensim's crime-and-punishment.vec."""
    from gensim.test.utils import datapath

    wv = keras_embedx.load_vectors(datapath("crime-and-punishment.vec"), limit=20)
    return np.asarray(wv.vectors, dtype="float32")
