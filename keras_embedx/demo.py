"""The main job, end to end: `keras-embedx demo`.

Trains a sentiment classifier on the labelled sentences that ship inside the
gensim wheel (`pang_lee_polarity.cor`) with the fastText vectors shipped
beside them (`pang_lee_polarity_fasttext.vec`), through PretrainedEmbedding:
the training words the file lacks get vectors from character n-grams fitted
to the file (`SubwordEmbedding`), and the pretrained rows stay frozen for
the first epochs, then thaw on a linear ramp (`UnfreezeSchedule`), the
factor printed per epoch. Compares held-out accuracy with a randomly
initialised `keras.layers.Embedding`; saves, reloads and checks the reloaded
model predicts the same. No download.
"""

import importlib.util
import os
import time

import numpy as np

from keras_embedx._checks import check_int
from keras_embedx.vectors._source import check_encoding

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


def read_labelled_corpus(path, encoding="utf-8", errors="strict"):
    """Read `label text` lines (fastText's `__label__x` prefix accepted).

    The one reader of labelled corpora in keras_embedx (the demo, the
    word + char demo `keras_embedx.chars.polarity_demo`, the tests). The
    label is the first field, up to the first tab when the line has one,
    else up to the first space; blank lines are skipped.

    Args:
        path: the file.
        encoding: its text encoding, ASCII-compatible (gensim's
            `pang_lee_polarity.cor` is Windows-1252: `"cp1252"`).
        errors: as for `open`; `"surrogateescape"` keeps bytes that are not
            valid in `encoding` as lone surrogates, which
            `keras_embedx.chars.CharInventory` turns back into those bytes.

    Returns:
        `(texts, labels, label_names)`: `texts` are str (split them with
        `str.split()` for token lists), `labels` an int32 array indexing
        `label_names` (sorted, without the `__label__` prefix).
    """
    codec = check_encoding(encoding)
    texts, names = [], []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode(codec, errors).strip()
                if lineno == 1:
                    line = line.lstrip("\ufeff")
            except UnicodeDecodeError as e:
                raise ValueError(
                    f"{path}, line {lineno}: the line is not valid {codec} (byte "
                    f"0x{raw[e.start]:02x} at column {e.start + 1}). Pass the "
                    "file's encoding, e.g. encoding='cp1252' (Windows text)."
                ) from None
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


def _schedule_epochs(epochs):
    """`(start, end)` of the demo's ramp for `UnfreezeSchedule.linear`.

    Frozen for the first third of the epochs, full rate from two thirds on;
    12 epochs: factor 0 in epochs 1-4, 0.2 to 0.8 in epochs 5-8, 1 from
    epoch 9 (1-based).
    """
    start = max(0, epochs // 3 - 1)
    return start, max(start + 1, (2 * epochs) // 3)


def _fill_from_subwords(layer, wv, subword, log):
    """Give the layer's "missing" rows subword vectors and say what it did."""
    from keras_embedx.layers.subword import fill_missing_rows

    missing = [
        w for w, s in zip(layer.get_vocabulary(), layer.row_sources()) if s == "missing"
    ]
    filled = fill_missing_rows(layer, subword)
    examples = []
    for word in missing[:3]:
        near = wv.most_similar(subword.word_vectors([word])[0], topn=3)
        examples.append(f"{word} -> {', '.join(w for w, _ in near)}")
    log(
        f"subword vectors for the {filled} training words the file lacks; "
        "nearest file words of the first:\n  " + "\n  ".join(examples)
    )
    return filled


def _epoch_logger(layer, schedule, epochs, log):
    """A callback that prints the unfreeze factor, loss and accuracies per epoch.

    It also adds `file_rows_moved` to the logs: how far the rows that came
    from the vector file have moved since training began (relative norm).
    """
    import keras

    from_file = np.isin(layer.row_sources(), ("pretrained", "lowercase"))
    state = {}

    def begin(logs=None):
        state["start"] = layer.embeddings[from_file].copy()

    def end(epoch, logs):
        start = state["start"]
        moved = float(
            np.linalg.norm(layer.embeddings[from_file] - start) / np.linalg.norm(start)
        )
        logs["file_rows_moved"] = moved
        log(
            f"  epoch {epoch + 1:2d}/{epochs}: unfreeze factor "
            f"{logs[schedule.log_key]:.2f}, loss {logs['loss']:.3f}, train "
            f"accuracy {logs['accuracy']:.1%}, held-out {logs['val_accuracy']:.1%}; "
            f"file rows moved {moved:.1%}"
        )

    return keras.callbacks.LambdaCallback(on_train_begin=begin, on_epoch_end=end)


def _prepare_output_dir(output_dir):
    """Create `output_dir` up front, so that a bad one fails before training."""
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise ValueError(
            "`output_dir` must be a directory. Received: "
            f"output_dir={output_dir!r}, which is a file."
        )
    os.makedirs(output_dir, exist_ok=True)


def run(
    vectors=None,
    corpus=None,
    encoding=None,
    epochs=12,
    seq_len=40,
    output_dir="demo_output",
    seed=0,
    num_buckets=20_000,
    log=print,
):
    """Run the demo and return a dict of what it measured.

    Args:
        vectors: a vector file (default: gensim's `pang_lee_polarity_fasttext.vec`).
        corpus: `label text` lines (default: gensim's `pang_lee_polarity.cor`).
        encoding: text encoding of both files (default: cp1252 for a
            shipped file, utf-8 for a file of yours).
        epochs: positive int, training epochs of each model.
        seq_len: int, words per sentence.
        output_dir: where the model, the PCA picture and the Projector
            export go.
        seed: int.
        num_buckets: int, n-gram buckets of the subword vectors fitted to
            the file.
        log: function called with each line of the report.

    Returns:
        dict: `accuracy`, `baseline_accuracy`, `coverage`, `subword_filled`
        (rows given subword vectors), `unfreeze_factors` and
        `file_rows_moved` (per epoch, from the History logs),
        `reload_identical`, `model_path`, `projector_log_dir`, `pca_png`,
        `seconds`.
    """
    import keras

    import keras_embedx
    from keras_embedx.callbacks import UnfreezeSchedule
    from keras_embedx.layers import PretrainedEmbedding
    from keras_embedx.layers.subword import fit_to_vectors
    from keras_embedx.vectors.load import load_for_command

    start = time.perf_counter()
    epochs = check_int("epochs", epochs)
    seq_len = check_int("seq_len", seq_len)
    seed = check_int("seed", seed, low=0)
    num_buckets = check_int("num_buckets", num_buckets)
    if encoding is not None:
        check_encoding(encoding)
    # The shipped files are Windows-1252; a file of the user's is UTF-8
    # unless `encoding` says otherwise.
    vectors_encoding = encoding or (DEFAULT_ENCODING if vectors is None else "utf-8")
    corpus_encoding = encoding or (DEFAULT_ENCODING if corpus is None else "utf-8")
    vectors = vectors or shipped_file(DEFAULT_VECTORS)
    corpus = corpus or shipped_file(DEFAULT_CORPUS)
    log(
        f"keras_embedx {keras_embedx.__version__} demo, backend {keras.config.backend()}"
    )
    # Both files are read, and any problem with them or with `output_dir`
    # reported, before training.
    texts, labels, label_names = read_labelled_corpus(corpus, encoding=corpus_encoding)
    wv = load_for_command(vectors, encoding=vectors_encoding, progress=False)
    log(f"vectors: {vectors}\n  {len(wv)} words x {wv.dim} dims")
    log(f"corpus: {corpus}\n  {len(texts)} sentences, labels {label_names}")
    _prepare_output_dir(output_dir)
    keras.utils.set_random_seed(seed)

    train_idx, test_idx = _split(len(texts), 0.2, seed)
    vocab = keras_embedx.Vocabulary.from_texts([texts[i] for i in train_idx])
    cov = vocab.coverage(wv)
    log(
        f"coverage of the {len(vocab.tokens)} training words: "
        f"{cov.types:.1%} of types and {cov.tokens:.1%} of tokens exactly, "
        f"{cov.types_with_fallback:.1%} / {cov.tokens_with_fallback:.1%} "
        "with the lowercase fallback"
    )
    fit_start = time.perf_counter()
    subword = fit_to_vectors(wv, num_buckets=num_buckets, max_iterations=50)
    log(
        f"fitted {subword.num_buckets} character n-gram buckets "
        f"({subword.minn}-{subword.maxn} chars) to the {len(wv)} file vectors "
        f"in {time.perf_counter() - fit_start:.1f} s"
    )
    x = vocab.encode(texts, sequence_length=seq_len)
    x_train, y_train = x[train_idx], labels[train_idx]
    x_test, y_test = x[test_idx], labels[test_idx]
    num_classes = len(label_names)
    ramp = _schedule_epochs(epochs)

    results = {}
    for name in ("pretrained", "baseline"):
        keras.utils.set_random_seed(seed)
        callbacks = []
        if name == "pretrained":
            embedding = PretrainedEmbedding.from_vectors(
                wv,
                vocab,
                freeze="pretrained",
                schedulable=True,
                seed=seed,
                name="words",
            )
            filled = _fill_from_subwords(embedding, wv, subword, log)
            schedule = UnfreezeSchedule.linear(*ramp)
            callbacks = [schedule, _epoch_logger(embedding, schedule, epochs, log)]
            log(
                f"training with the pretrained rows frozen through epoch "
                f"{ramp[0] + 1}, then thawed linearly to the full rate at epoch "
                f"{ramp[1] + 1} (UnfreezeSchedule.linear{ramp}):"
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
        history = model.fit(
            x_train,
            y_train,
            epochs=epochs,
            batch_size=16,
            verbose=0,
            validation_data=(x_test, y_test) if callbacks else None,
            callbacks=callbacks,
        )
        results[name] = (model, _accuracy(model, x_test, y_test), history.history)
    acc, base_acc = results["pretrained"][1], results["baseline"][1]
    log(
        f"held-out accuracy ({len(test_idx)} sentences, so +-8 points of noise): "
        f"PretrainedEmbedding {acc:.1%}, random keras.layers.Embedding {base_acc:.1%}"
    )
    factors = [float(f) for f in results["pretrained"][2][schedule.log_key]]
    moved = [float(m) for m in results["pretrained"][2]["file_rows_moved"]]
    frozen_epochs = [m for f, m in zip(factors, moved) if f == 0.0]
    log(
        f"file rows unchanged while the factor was 0 ({len(frozen_epochs)} "
        f"epochs): {all(m == 0.0 for m in frozen_epochs)}; moved "
        f"{moved[-1]:.1%} by the end"
    )

    model = results["pretrained"][0]
    path = os.path.join(output_dir, "sentiment.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    same = np.array_equal(
        model.predict(x_test, verbose=0), reloaded.predict(x_test, verbose=0)
    )
    if not same:
        raise RuntimeError(f"The model reloaded from {path} predicts differently.")
    layer = reloaded.get_layer("words")
    log(f"saved {path}; reloaded model predicts identically: {same}")
    picture, export = _look_at(layer, vocab, output_dir)
    log(f"PCA picture of the 60 most frequent words: {picture}")
    log(
        f"Projector export '{export.name}' ({export.shape[0]} rows); "
        f"to see it run:  {export.tensorboard_command()}"
    )
    elapsed = time.perf_counter() - start
    log(f"done in {elapsed:.0f} s")
    return {
        "accuracy": acc,
        "baseline_accuracy": base_acc,
        "coverage": cov,
        "subword_filled": filled,
        "unfreeze_factors": factors,
        "file_rows_moved": moved,
        "reload_identical": same,
        "model_path": path,
        "projector_log_dir": export.log_dir,
        "pca_png": picture,
        "seconds": elapsed,
    }
