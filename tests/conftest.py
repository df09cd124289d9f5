"""Shared test fixtures. The suite runs once per KERAS_BACKEND (see Makefile)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

BACKEND = keras.config.backend()

# Backend-independent tests (files, NumPy, processes) carry the `host_only`
# mark and run once, under one of `make test`'s three backends.
# KERAS_EMBEDX_HOST_TESTS=only runs just them, =none none of them, so that
# `make test` can run them in a process of their own beside the backends.
HOST_BACKEND = os.environ.get("KERAS_EMBEDX_HOST_BACKEND", "jax")
HOST_TESTS = os.environ.get("KERAS_EMBEDX_HOST_TESTS", "")


def pytest_collection_modifyitems(config, items):
    if HOST_TESTS not in ("", "only", "none"):
        raise pytest.UsageError(
            "KERAS_EMBEDX_HOST_TESTS must be unset, 'only' or 'none'. "
            f"Received: {HOST_TESTS!r}"
        )
    if HOST_TESTS == "only":
        others = [item for item in items if not item.get_closest_marker("host_only")]
        config.hook.pytest_deselected(items=others)
        items[:] = [item for item in items if item.get_closest_marker("host_only")]
    if BACKEND == HOST_BACKEND and HOST_TESTS != "none":
        return
    where = (
        "in the host-only run"
        if HOST_TESTS == "none"
        else f"under KERAS_BACKEND={HOST_BACKEND}"
    )
    skip = pytest.mark.skip(reason=f"backend-independent: runs once, {where}")
    for item in items:
        if item.get_closest_marker("host_only"):
            item.add_marker(skip)


def _float32_matmuls_in_full():
    """Exact float32 products on GPUs too, as on a CPU.

    The tests compare layers with independent references at float32
    tolerances; on recent NVIDIA GPUs cuDNN (PyTorch), XLA (JAX) and
    TensorFlow by default multiply float32 in TF32, which keeps 10 bits of
    mantissa (relative error about 1e-3). On a CPU this changes nothing.
    """
    if BACKEND == "torch":
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    elif BACKEND == "jax":
        import jax

        jax.config.update("jax_default_matmul_precision", "highest")
    elif BACKEND == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_tensor_float_32_execution(False)


_float32_matmuls_in_full()


@pytest.fixture
def backend():
    return BACKEND


@pytest.fixture(scope="session")
def host_backend():
    """The backend whose run holds the backend-independent tests."""
    return HOST_BACKEND


# gensim's fastText vectors for its polarity corpus (Latin-1 text).
POLARITY_VEC = "pang_lee_polarity_fasttext.vec"


@pytest.fixture(scope="session")
def kv():
    """gensim's `KeyedVectors` of the shipped polarity vectors."""
    from gensim.models import KeyedVectors
    from gensim.test.utils import datapath as gensim_datapath

    return KeyedVectors.load_word2vec_format(
        gensim_datapath(POLARITY_VEC), encoding="latin-1"
    )


@pytest.fixture(scope="session")
def wv(kv):
    """The same vectors as a `WordVectors`."""
    from keras_embedx.vectors import WordVectors

    return WordVectors(kv.index_to_key, kv.vectors)


@pytest.fixture(scope="module")
def toy_kv():
    """gensim's `KeyedVectors` of its toy fastText vectors (22 words, dim 5)."""
    from gensim.models import KeyedVectors
    from gensim.test.utils import datapath as gensim_datapath

    return KeyedVectors.load_word2vec_format(gensim_datapath("toy-model.vec"))


@pytest.fixture(scope="module")
def toy_wv():
    """The same toy vectors, read by `keras_embedx.load_vectors`."""
    from gensim.test.utils import datapath as gensim_datapath

    import keras_embedx

    return keras_embedx.load_vectors(gensim_datapath("toy-model.vec"), progress=False)


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


@pytest.fixture(scope="session")
def cross_backend():
    """A `tests.harness.CrossBackendLoader` for the next backend (None where
    that backend is not installed); one process for the whole session."""
    from tests.harness import cross_backend_loader

    loader = cross_backend_loader(BACKEND)
    yield loader
    if loader is not None:
        loader.close()
