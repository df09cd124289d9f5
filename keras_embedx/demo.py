"""The main job, end to end: `keras-embedx demo`.

Trains a sentiment classifier on the labelled sentences that ship inside the
gensim wheel (`pang_lee_polarity.cor`) with the fastText vectors shipped
beside them (`pang_lee_polarity_fasttext.vec`), through PretrainedEmbedding;
compares held-out accuracy with a randomly initialised
`keras.layers.Embedding`; saves, reloads and checks the reloaded model
predicts the same. No download.
"""

import importlib.util
import os
import time

import numpy as np

DEFAULT_VECTORS = "pang_lee_polarity_fasttext.vec"
DEFAULT_CORPUS = "pang_lee_polarity.cor"
# Both shipped files are Windows-1252 text (e.g. byte 0x97 is an em dash).
DEFAULT_ENCODING = "cp1252"


def shipped_file(name):
    """Path of a file in gensim's test data, found without importing gensim."""
    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"The demo's default data ({name}) ships inside the gensim wheel, "
            "which is not installed. Run `pip install gensim`, or pass "
            "--vectors and --corpus."
        )
    path = os.path.join(spec.submodule_search_locations[0], "test", "test_data", name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is missing from the gensim install.")
    return path


def read_labelled_corpus(path, encoding="utf-8"):
    """Read `label text` lines (fastText's `__label__x` prefix accepted).

    Returns:
        `(texts, labels, label_names)`: labels are ints indexing
        `label_names` (sorted).
    """
    texts, names = [], []
    with open(path, encoding=encoding) as f:
        for lineno, line in enumerate(f, start=1):
            line = line.strip()
            if not line:
                continue
            label, sep, text = (
                line.partition("\t") if "\t" in line else line.partition(" ")
            )
            if not sep or not text.strip():
                raise ValueError(
                    f"{path}, line {lineno}: expected 'label<space or tab>text'. "
                    f"Received: {line[:60]!r}"
                )
            names.append(label.removeprefix("__label__"))
            texts.append(text.strip())
    label_names = sorted(set(names))
    if len(label_names) < 2:
        raise ValueError(f"{path}: expected at least two labels, found {label_names}.")
    labels = np.array([label_names.index(n) for n in names], dtype="int32")
    return texts, labels, label_names


def _split(n, test_share, seed):
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(1, int(round(n * test_share)))
    return order[n_test:], order[:n_test]


def _classifier(embedding, num_classes, seq_len):
    import keras

    return keras.Sequential(
        [
            keras.Input((seq_len,), dtype="int32"),
            embedding,
            keras.layers.Bidirectional(keras.layers.LSTM(32)),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(num_classes, activation="softmax"),
        ]
    )


def _accuracy(model, x, y):
    pred = model.predict(x, verbose=0).argmax(axis=-1)
    return float((pred == y).mean())


def _look_at(layer, vocab, output_dir):
    """Save a PCA picture and a Projector export of the trained table."""
    import matplotlib

    matplotlib.use("Agg")
    from keras_embedx.plot import plot_embeddings
    from keras_embedx.projector import export_projector

    picture = os.path.join(output_dir, "pca.png")
    figure = plot_embeddings(layer, words=vocab.tokens[:60], method="pca")
    figure.savefig(picture, dpi=100)
    export = export_projector(os.path.join(output_dir, "projector"), layer)
    return picture, export


def run(
    vectors=None,
    corpus=None,
    encoding=None,
    epochs=12,
    seq_len=40,
    output_dir="demo_output",
    seed=0,
    log=print,
):
    """Run the demo and return a dict of what it measured."""
    import keras

    import keras_embedx
    from keras_embedx.layers import PretrainedEmbedding

    start = time.perf_counter()
    keras.utils.set_random_seed(seed)
    if vectors is None and corpus is None and encoding is None:
        encoding = DEFAULT_ENCODING
    encoding = encoding or "utf-8"
    vectors = vectors or shipped_file(DEFAULT_VECTORS)
    corpus = corpus or shipped_file(DEFAULT_CORPUS)
    log(
        f"keras_embedx {keras_embedx.__version__} demo, backend {keras.config.backend()}"
    )
    wv = keras_embedx.load_vectors(vectors, encoding=encoding, progress=False)
    log(f"vectors: {vectors}\n  {len(wv)} words x {wv.dim} dims")
    texts, labels, label_names = read_labelled_corpus(corpus, encoding=encoding)
    log(f"corpus: {corpus}\n  {len(texts)} sentences, labels {label_names}")

    train_idx, test_idx = _split(len(texts), 0.2, seed)
    vocab = keras_embedx.Vocabulary.from_texts([texts[i] for i in train_idx])
    cov = vocab.coverage(wv)
    log(
        f"coverage of the {len(vocab.tokens)} training words: "
        f"{cov.types:.1%} of types and {cov.tokens:.1%} of tokens exactly, "
        f"{cov.types_with_fallback:.1%} / {cov.tokens_with_fallback:.1%} "
        "with the lowercase fallback"
    )
    x = vocab.encode(texts, sequence_length=seq_len)
    x_train, y_train = x[train_idx], labels[train_idx]
    x_test, y_test = x[test_idx], labels[test_idx]
    num_classes = len(label_names)

    results = {}
    for name in ("pretrained", "baseline"):
        keras.utils.set_random_seed(seed)
        if name == "pretrained":
            embedding = PretrainedEmbedding.from_vectors(
                wv, vocab, freeze="pretrained", seed=seed, name="words"
            )
        else:
            embedding = keras.layers.Embedding(
                len(vocab), wv.dim, mask_zero=True, name="words"
            )
        model = _classifier(embedding, num_classes, seq_len)
        model.compile(
            keras.optimizers.Adam(3e-3),
            "sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        model.fit(x_train, y_train, epochs=epochs, batch_size=16, verbose=0)
        results[name] = (model, _accuracy(model, x_test, y_test))
    acc, base_acc = results["pretrained"][1], results["baseline"][1]
    log(
        f"held-out accuracy ({len(test_idx)} sentences, so +-8 points of noise): "
        f"PretrainedEmbedding {acc:.1%}, random keras.layers.Embedding {base_acc:.1%}"
    )

    model = results["pretrained"][0]
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, "sentiment.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    same = np.array_equal(
        model.predict(x_test, verbose=0), reloaded.predict(x_test, verbose=0)
    )
    if not same:
        raise RuntimeError(f"The model reloaded from {path} predicts differently.")
    layer = reloaded.get_layer("words")
    frozen = layer.table.frozen_mask()
    kept = np.array_equal(
        layer.embeddings[frozen],
        results["pretrained"][0].get_layer("words").embeddings[frozen],
    )
    log(f"saved {path}; reloaded model predicts identically: {same}")
    log(f"pretrained rows unchanged by training: {kept}")
    picture, export = _look_at(layer, vocab, output_dir)
    log(f"PCA picture of the 60 most frequent words: {picture}")
    log(
        f"Projector export '{export.name}' ({export.shape[0]} rows); "
        f"to see it run:  {export.tensorboard_command()}"
    )
    results_extra = {"projector_log_dir": export.log_dir, "pca_png": picture}
    elapsed = time.perf_counter() - start
    log(f"done in {elapsed:.0f} s")
    return {
        "accuracy": acc,
        "baseline_accuracy": base_acc,
        "coverage": cov,
        "reload_identical": same,
        "model_path": path,
        "seconds": elapsed,
        **results_extra,
    }
