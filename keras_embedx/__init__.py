"""keras_embedx: serializable Keras 3 layers for word embeddings.

Load GloVe, word2vec or fastText vectors into a Keras table, align them to a
vocabulary, decide which rows train and when, build vectors from subwords or
characters, add positions for Transformers, and look at the result in the
TensorBoard Projector, on the TensorFlow, JAX and PyTorch backends.
"""

__version__ = "0.1.0"

from keras_embedx import callbacks, layers, optimizers
from keras_embedx.sizing import suggest_dim
from keras_embedx.vectors import WordVectors, load_vectors
from keras_embedx.vocabulary import Vocabulary

__all__ = [
    "Vocabulary",
    "WordVectors",
    "__version__",
    "callbacks",
    "layers",
    "load_vectors",
    "optimizers",
    "suggest_dim",
]


def __getattr__(name):
    # Heavier optional pieces load on first use so `import keras_embedx` stays fast.
    if name == "export_projector":
        from keras_embedx.projector import export_projector

        return export_projector
    if name in ("evaluation", "plot", "distribution", "projector"):
        import importlib

        return importlib.import_module(f"keras_embedx.{name}")
    raise AttributeError(f"module 'keras_embedx' has no attribute {name!r}")
