"""SubwordEmbedding, checked against fastText, gensim and keras-hub's tokenizers."""

import io
import pathlib
import struct
import sys

import keras
import numpy as np
import pytest
from gensim.models.fasttext import load_facebook_vectors
from gensim.test.utils import datapath

import keras_embedx
from keras_embedx.callbacks.unfreeze import find_table_layers
from keras_embedx.layers.subword import SubwordEmbedding, fill_missing_rows
from keras_embedx.vectors.fasttext_bin import FastTextFormatError
from tests._crossbackend import run_in_backend
from tests.conftest import BACKEND

if "/tmp/ftlib" not in sys.path and pathlib.Path("/tmp/ftlib").is_dir():
    sys.path.append("/tmp/ftlib")

FIXTURES = ["crime-and-punishment.bin", "toy-model.bin", "lee_fasttext_new.bin"]
UNSEEN = [
    "тестирование",  # Cyrillic
    "Раскольникова",
    "テスト",  # CJK
    "試し",
    "café",  # accented Latin, composed and decomposed
    "cafe\u0301",
    "naïveté",
    "🚑🚒🚓",  # emoji
    "q",  # shorter than minn once bracketed
    "zq",
    "",
    " ",
    "at the",
    "nightz",
    "Governments",
]
WORDS_IN_VOCAB = 40


@pytest.fixture(scope="module")
def layers():
    return {name: SubwordEmbedding.from_fasttext(datapath(name)) for name in FIXTURES}


def test_fb_ngrams_fixture_rows_are_what_the_layer_averages(layers):
    # fb-ngrams.txt: fastText's own printed n-gram vectors of unseen words.
    from tests.preprocessing.test_ngrams import read_fb_ngrams

    layer = layers["crime-and-punishment.bin"]
    for word, _, printed in read_fb_ngrams(datapath("fb-ngrams.txt")):
        np.testing.assert_allclose(
            layer.word_vectors([word])[0], printed.mean(axis=0), rtol=1e-3, atol=1e-5
        )


@pytest.mark.parametrize("name", FIXTURES)
def test_word_vectors_equal_gensim(name, layers):
    layer = layers[name]
    kv = load_facebook_vectors(datapath(name))
    # gensim adds n-grams to "</s>", fastText does not: leave it out here.
    words = [w for w in kv.index_to_key[:WORDS_IN_VOCAB] if w != "</s>"] + UNSEEN
    words = [w for w in words if w]  # gensim raises for a word with no n-grams
    expected = np.stack([kv[w] for w in words])
    np.testing.assert_allclose(layer.word_vectors(words), expected, atol=1e-6)


@pytest.mark.parametrize("name", FIXTURES)
def test_word_vectors_and_model_output_equal_fasttext(name, layers):
    fasttext = pytest.importorskip("fasttext")
    reference = fasttext.load_model(datapath(name))
    layer = layers[name]
    words = reference.words[:WORDS_IN_VOCAB] + UNSEEN + ["</s>"]
    expected = np.stack([reference.get_word_vector(w) for w in words])
    np.testing.assert_array_equal(layer.word_vectors(words), expected)
    raw = [b"\xe9t\xe9", b"\x80\x80ab", b"caf\xc3"]  # invalid UTF-8, as bytes
    np.testing.assert_array_equal(
        layer.word_vectors(raw), np.stack([reference.get_word_vector(w) for w in raw])
    )
    x = layer.encode(words)
    model = keras.Sequential([keras.Input(x.shape[1:], dtype="int32"), layer])
    out = model.predict(x, verbose=0)[0]
    # Eager: bit-identical. In a compiled TF graph, grappler may regroup the
    # float32 additions, so allow 1e-6.
    np.testing.assert_allclose(out, expected, atol=1e-6)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x))[0], expected)


def test_encode_layout_padding_mask_and_ids(layers):
    layer = layers["toy-model.bin"]
    vocab = layer.get_vocabulary()
    assert vocab[:2] == ["", "[UNK]"] and len(vocab) == 2 + layer.num_words
    x = layer.encode([["society", "societyz"], ["society"]], max_ngrams=8)
    assert x.shape == (2, 2, 9) and x.dtype == np.int32
    assert x[0, 0, 0] == vocab.index("society")  # own row first
    assert x[0, 1, 0] == 1  # unseen: the OOV row, which adds nothing
    assert (x[1, 1] == 0).all()  # padding word
    mask = keras.ops.convert_to_numpy(layer.compute_mask(x))
    np.testing.assert_array_equal(mask, [[True, True], [True, False]])
    out = keras.ops.convert_to_numpy(layer(x))
    assert (out[1, 1] == 0).all()
    # Same bags from vocabulary ids (StringLookup's layout) via the cache.
    ids = np.array([[vocab.index("society"), 1]])
    np.testing.assert_array_equal(layer.encode_ids(ids, 8)[0, 0], x[0, 0])
    # A str is one text split on whitespace; sequence_length pads and cuts.
    assert layer.encode("night nightz night", sequence_length=2).shape[:2] == (1, 2)
    assert layer.encode([["night"]], sequence_length=3)[0, 1:].sum() == 0


def test_stringlookup_accepts_vocabulary(layers):
    pytest.importorskip("tensorflow")  # StringLookup runs on it on every backend
    layer = layers["toy-model.bin"]
    lookup = keras.layers.StringLookup(mask_token="", vocabulary=layer.get_vocabulary())
    ids = keras.ops.convert_to_numpy(lookup(["society", "societyz", ""]))
    np.testing.assert_array_equal(ids, [2 + 11, 1, 0])


def test_max_ngrams_cut_and_max_word_chars_bound_cost(datapath):
    layer = SubwordEmbedding.from_fasttext(datapath("toy-model.bin"), max_word_chars=20)
    huge = "a" * 10_000
    x = layer.encode([huge])
    # 20 chars + brackets: at most 22 * 4 n-grams with minn=3, maxn=6.
    assert x.shape[-1] <= 1 + 22 * 4
    np.testing.assert_array_equal(
        layer.word_vectors([huge]), layer.word_vectors(["a" * 20])
    )
    exact = SubwordEmbedding.from_fasttext(datapath("toy-model.bin"))
    cut = exact.encode(["nightz"], max_ngrams=3)
    assert cut.shape == (1, 1, 4) and (cut[..., 1:] >= 2).all()


def test_fresh_layer_learns_bucket_rows():
    keras.utils.set_random_seed(0)
    layer = SubwordEmbedding(num_buckets=64, output_dim=4, minn=2, maxn=3)
    words = ["good", "great", "goody", "bad", "badly", "worse"]
    labels = np.array([1, 1, 1, 0, 0, 0], "float32")
    x = layer.encode([[w] for w in words])
    model = keras.Sequential(
        [
            keras.Input(x.shape[1:], dtype="int32"),
            layer,
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy")
    before = layer.embeddings.copy()
    hist = model.fit(x, labels, epochs=30, verbose=0).history["loss"]
    assert hist[-1] < 0.5 * hist[0]
    used = np.unique(x[x >= 2])
    assert not np.allclose(layer.embeddings[used], before[used])
    unused = np.setdiff1d(np.arange(2, layer.num_rows), used)
    np.testing.assert_array_equal(layer.embeddings[unused], before[unused])


@pytest.mark.parametrize("freeze", ["words", "all"])
def test_freeze_keeps_rows_bit_identical(freeze, datapath):
    layer = SubwordEmbedding.from_fasttext(datapath("toy-model.bin"), freeze=freeze)
    x = layer.encode([["night", "nights", "nightz", "light"]])
    model = keras.Sequential(
        [keras.Input(x.shape[1:], dtype="int32"), layer, keras.layers.Dense(1)]
    )
    model.compile(keras.optimizers.Adam(0.1), "mse")
    before = layer.embeddings.copy()
    model.fit(x, np.ones((1, 4, 1)), epochs=3, verbose=0)
    after = layer.embeddings
    words = slice(0, 2 + layer.num_words)
    np.testing.assert_array_equal(after[words], before[words])
    buckets = slice(2 + layer.num_words, None)
    assert np.array_equal(after[buckets], before[buckets]) == (freeze == "all")
    assert find_table_layers(model)  # UnfreezeSchedule / Projector see the table


def test_unfreeze_schedule_thaws_frozen_rows(datapath):
    from keras_embedx.callbacks.unfreeze import UnfreezeSchedule

    layer = SubwordEmbedding.from_fasttext(
        datapath("toy-model.bin"), freeze="all", schedulable=True
    )
    x = layer.encode([["night", "nightz"]])
    model = keras.Sequential(
        [keras.Input(x.shape[1:], dtype="int32"), layer, keras.layers.Dense(1)]
    )
    model.compile(keras.optimizers.Adam(0.1), "mse")
    before = layer.embeddings.copy()
    model.fit(x, np.ones((1, 2, 1)), epochs=1, verbose=0)
    np.testing.assert_array_equal(layer.embeddings, before)
    model.fit(
        x,
        np.ones((1, 2, 1)),
        epochs=3,
        verbose=0,
        callbacks=[UnfreezeSchedule({0: 0.0, 1: 1.0})],
    )
    assert not np.array_equal(layer.embeddings, before)


@pytest.mark.parametrize("storage_dtype", ["float16", "int8"])
def test_low_precision_frozen_table(storage_dtype, datapath, layers):
    layer = SubwordEmbedding.from_fasttext(
        datapath("lee_fasttext_new.bin"), storage_dtype=storage_dtype
    )
    kv = load_facebook_vectors(datapath("lee_fasttext_new.bin"))
    words = ["government", "governments", "тест", "nightz"]
    expected = np.stack([kv[w] for w in words])
    tol = 2e-3 if storage_dtype == "float16" else 2e-2
    np.testing.assert_allclose(layer.word_vectors(words), expected, atol=tol)
    out = keras.ops.convert_to_numpy(layer(layer.encode(words)))[0]
    np.testing.assert_array_equal(out, layer.word_vectors(words))


def _save_model(layer, x, path):
    model = keras.Sequential([keras.Input(x.shape[1:], dtype="int32"), layer])
    model.save(path)
    return model.predict(x, verbose=0)


def test_save_load_round_trip_and_config(tmp_path, datapath):
    layer = SubwordEmbedding.from_fasttext(datapath("toy-model.bin"), freeze="words")
    x = layer.encode([["night", "nightz", "тест"]], max_ngrams=30)
    path = tmp_path / "m.keras"
    expected = _save_model(layer, x, path)
    config = layer.get_config()
    assert (config["minn"], config["maxn"], config["num_buckets"]) == (3, 6, 100)
    assert config["hash"] == "fasttext" and "vocabulary" not in config
    reloaded = keras.models.load_model(path)
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), expected)
    again = reloaded.layers[-1]
    assert again.get_vocabulary() == layer.get_vocabulary()
    np.testing.assert_array_equal(
        again.word_vectors(["nightz"]), layer.word_vectors(["nightz"])
    )


def test_tf_data_path(layers):
    tf = pytest.importorskip("tensorflow")
    layer = layers["toy-model.bin"]
    sentences = [["night", "nightz"], ["light", ""]]
    ds = tf.data.Dataset.from_tensor_slices(tf.constant(sentences)).batch(2)
    ds = ds.map(lambda s: layer.tf_encode(s, max_ngrams=20))
    (got,) = [b.numpy() for b in ds]
    assert got.shape == (2, 2, 21)
    np.testing.assert_array_equal(got, layer.encode(sentences[:1] + [["light"]], 2, 20))


def test_bad_input_errors(tmp_path, datapath):
    source = pathlib.Path(datapath("toy-model.bin")).read_bytes()
    truncated = tmp_path / "cut.bin"
    truncated.write_bytes(source[: len(source) // 2])
    with pytest.raises(FastTextFormatError, match="truncated"):
        SubwordEmbedding.from_fasttext(truncated)
    magic = tmp_path / "magic.bin"
    magic.write_bytes(struct.pack("<i", 1234) + source[4:])
    with pytest.raises(FastTextFormatError, match="magic"):
        SubwordEmbedding.from_fasttext(magic)
    bucket = tmp_path / "bucket.bin"
    data = bytearray(source)
    struct.pack_into("<i", data, 40, 99)  # header bucket != matrix rows
    bucket.write_bytes(bytes(data))
    with pytest.raises(FastTextFormatError, match="bucket"):
        SubwordEmbedding.from_fasttext(bucket)
    with pytest.raises(FastTextFormatError, match="supervised"):
        SubwordEmbedding.from_fasttext(datapath("pang_lee_polarity_fasttext.bin"))
    with pytest.raises(ValueError, match="num_buckets"):
        SubwordEmbedding(num_buckets=0, output_dim=4)
    with pytest.raises(ValueError, match="freeze"):
        SubwordEmbedding(num_buckets=4, output_dim=4, freeze="pretrained")
    layer = SubwordEmbedding(num_buckets=10, output_dim=4)
    with pytest.raises(ValueError, match="UTF-8"):
        layer.encode(["bad\ud800"])
    with pytest.raises(TypeError, match="list"):
        layer.word_vectors("word")
    # Empty and whitespace-only words are words: "" has no rows (zeros, but
    # not padding), " " has the n-grams of "< >".
    x = layer.encode([["", " "]])
    assert x[0, 0, 0] == 1 and (x[0, 0, 1:] == 0).all() and (x[0, 1, 1:] > 0).any()
    assert keras.ops.convert_to_numpy(layer.compute_mask(x)).all()
    np.testing.assert_array_equal(layer.word_vectors([""]), np.zeros((1, 4)))


# ------------------------------------------------------------ tokenizer units
def _unit_vectors(tmp_path, units, dim=3):
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((len(units), dim)).astype("float32")
    path = tmp_path / "units.txt"
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"{len(units)} {dim}\n")
        for u, v in zip(units, vectors):
            f.write(u + " " + " ".join(repr(float(a)) for a in v) + "\n")
    return keras_embedx.load_vectors(path, progress=False), dict(zip(units, vectors))


def _wordpiece():
    import keras_hub

    vocab = ["[PAD]", "[UNK]", "the", "qu", "##ick", "fox", "##es", "brown"]
    return keras_hub.tokenizers.WordPieceTokenizer(vocabulary=vocab, lowercase=True)


@pytest.mark.parametrize("pooling", ["mean", "sum", "first", "last"])
def test_wordpiece_units_pooled(pooling, tmp_path):
    tok = _wordpiece()
    wv, by_unit = _unit_vectors(tmp_path, ["qu", "##ick", "fox", "##es", "the"])
    layer = SubwordEmbedding.from_tokenizer(tok, vectors=wv, pooling=pooling)
    assert layer.units_found == 5
    x = layer.encode([["quick", "foxes", "the"], ["fox"]])
    out = keras.ops.convert_to_numpy(layer(x))
    pieces = {"quick": ["qu", "##ick"], "foxes": ["fox", "##es"], "the": ["the"]}
    for i, word in enumerate(["quick", "foxes", "the"]):
        vecs = np.stack([by_unit[u] for u in pieces[word]])
        want = {
            "mean": vecs.mean(0),
            "sum": vecs.sum(0),
            "first": vecs[0],
            "last": vecs[-1],
        }[pooling]
        np.testing.assert_allclose(out[0, i], want, rtol=1e-6, atol=1e-6)
    assert (out[1, 1] == 0).all()
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer.compute_mask(x)),
        [[True, True, True], [True, False, False]],
    )


def test_unit_sequence_and_save_load(tmp_path):
    tok = _wordpiece()
    wv, by_unit = _unit_vectors(tmp_path, ["qu", "##ick", "brown", "fox"])
    layer = SubwordEmbedding.from_tokenizer(tok, vectors=wv, pooling=None)
    x = layer.encode(["the quick brown fox", "fox"])
    assert x.shape == (2, 5)
    out = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(
        out[0, 1:],
        np.stack([by_unit[u] for u in ["qu", "##ick", "brown", "fox"]]),
        rtol=1e-6,
    )
    model = keras.Sequential([keras.Input((5,), dtype="int32"), layer])
    path = tmp_path / "units.keras"
    model.save(path)
    again = keras.models.load_model(path)
    np.testing.assert_array_equal(
        again.predict(x, verbose=0), model.predict(x, verbose=0)
    )
    np.testing.assert_array_equal(
        again.layers[-1].encode(["the quick brown fox", "fox"]), x
    )


def test_bpe_and_sentencepiece_units(tmp_path):
    import keras_hub

    vocab = {"a": 0, "b": 1, "ab": 2, "c": 3, "abc": 4}
    bpe = keras_hub.tokenizers.BytePairTokenizer(
        vocabulary=vocab, merges=["a b", "ab c"]
    )
    layer = SubwordEmbedding.from_tokenizer(bpe, output_dim=4, pooling="mean")
    x = layer.encode([["abc", "ba"]])
    table = layer.embeddings
    out = keras.ops.convert_to_numpy(layer(x))[0]
    np.testing.assert_allclose(out[0], table[2 + 4], rtol=1e-6)
    np.testing.assert_allclose(out[1], (table[2 + 1] + table[2 + 0]) / 2, rtol=1e-6)

    spm = pytest.importorskip("sentencepiece")
    from keras_embedx.demo import read_labelled_corpus

    texts, _, _ = read_labelled_corpus(datapath("pang_lee_polarity.cor"), "cp1252")
    proto = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts[:300]),
        model_writer=proto,
        vocab_size=150,
        minloglevel=2,
    )
    sp = keras_hub.tokenizers.SentencePieceTokenizer(proto=proto.getvalue())
    layer = SubwordEmbedding.from_tokenizer(sp, output_dim=4, pooling="sum")
    ids = [int(i) for i in keras.ops.convert_to_numpy(sp("wonderful"))]
    x = layer.encode([["wonderful"]])
    want = layer.embeddings[np.array(ids) + 2].sum(0)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x))[0, 0], want, rtol=1e-5, atol=1e-6
    )


def test_fill_missing_rows_of_pretrained(tmp_path):
    ft = SubwordEmbedding.from_fasttext(datapath("lee_fasttext_new.bin"))
    kv = load_facebook_vectors(datapath("lee_fasttext_new.bin"))
    known = kv.index_to_key[10:20]
    path = tmp_path / "v.txt"
    with open(path, "w", encoding="utf-8") as f:
        for w in known:
            f.write(w + " " + " ".join(repr(float(a)) for a in kv[w]) + "\n")
    wv = keras_embedx.load_vectors(path, format="glove", progress=False)
    vocab = known + ["governmentz", "Раскольников"]
    pre = keras_embedx.layers.PretrainedEmbedding.from_vectors(wv, vocab)
    assert fill_missing_rows(pre, ft) == 2
    rows = pre.embeddings
    np.testing.assert_allclose(rows[-2], kv["governmentz"], atol=1e-6)
    np.testing.assert_allclose(rows[-1], kv["Раскольников"], atol=1e-6)
    np.testing.assert_array_equal(rows[2:12], np.stack([kv[w] for w in known]))


# ------------------------------------------- fit_to_vectors / fill_missing_rows
def _unit(x):
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


@pytest.fixture(scope="module")
def lee_plural_split():
    """gensim's lee_fasttext.vec (1762 x 10, fastText skipgram), with the
    plural of every other "word"/"words" pair held out."""
    wv = keras_embedx.load_vectors(datapath("lee_fasttext.vec"), progress=False)
    known = set(wv.words)
    pairs = [(w, w + "s") for w in wv.words if len(w) >= 5 and w + "s" in known]
    pairs = pairs[::2]
    held = {plural for _, plural in pairs}
    keep = [i for i, w in enumerate(wv.words) if w not in held]
    train = keras_embedx.WordVectors(
        [wv.words[i] for i in keep], wv.vectors[keep], source="lee_fasttext.vec"
    )
    return wv, train, pairs


def test_fit_to_vectors_reproduces_the_file_and_generalises(lee_plural_split):
    from keras_embedx.layers.subword import fit_to_vectors

    wv, train, pairs = lee_plural_split
    assert len(pairs) >= 20
    sub = fit_to_vectors(train, num_buckets=20_000)
    assert isinstance(sub, SubwordEmbedding)
    assert (sub.num_words, sub.num_buckets, sub.output_dim) == (0, 20_000, 10)
    assert (sub.minn, sub.maxn) == (3, 6)

    # Known words: the mean of their n-gram rows is (nearly) the file's
    # vector, much closer than the vector of another word.
    words = [w for w in train.words if w != "</s>"]  # "</s>" has no n-grams
    file_vecs = np.stack([train[w] for w in words])
    got = _unit(sub.word_vectors(words))
    own = np.sum(got * _unit(file_vecs), axis=1)
    other = np.sum(got * _unit(np.roll(file_vecs, 1, axis=0)), axis=1)
    assert own.mean() > 0.99
    assert np.mean(own > other) > 0.99
    # The layer computes the same vectors in a model.
    out = keras.ops.convert_to_numpy(sub(sub.encode([words[:50]])))[0]
    np.testing.assert_allclose(_unit(out), got[:50], atol=1e-5)

    # Held-out plurals: their vector lies next to their singular in the file
    # (median rank among the 1700+ training words: a handful, chance ~860).
    singular = [s for s, _ in pairs]
    plural = [p for _, p in pairs]
    sims = _unit(sub.word_vectors(plural)) @ _unit(train.vectors).T
    idx = [train.key_to_index[s] for s in singular]
    ranks = np.sum(sims > sims[np.arange(len(idx)), idx][:, None], axis=1)
    assert np.median(ranks) < 20, ranks
    # ... and closer to the singular than the file's vector of a random word.
    rng = np.random.default_rng(0)
    random_sim = sims[np.arange(len(idx)), rng.integers(0, len(train), len(idx))]
    assert np.mean(sims[np.arange(len(idx)), idx] > random_sim) > 0.9
    # The same words in the file agree: the held-out targets were reachable.
    true = np.sum(
        _unit(sub.word_vectors(plural))
        * _unit(wv.vectors[[wv.key_to_index[p] for p in plural]]),
        axis=1,
    )
    assert np.median(true) > 0.9


def test_fit_to_vectors_is_deterministic_and_checks_its_arguments():
    from keras_embedx.layers.subword import fit_to_vectors

    wv = keras_embedx.load_vectors(datapath("toy-model.vec"), progress=False)
    a = fit_to_vectors(wv, num_buckets=500, max_iterations=20)
    b = fit_to_vectors(wv, num_buckets=500, max_iterations=20)
    np.testing.assert_array_equal(a.embeddings, b.embeddings)
    assert not a.embeddings[:2].any()  # padding and OOV rows stay zero
    with pytest.raises(ValueError, match="nothing to fit"):
        fit_to_vectors(wv, maxn=0)
    with pytest.raises(ValueError, match="tolerance"):
        fit_to_vectors(wv, tolerance=0)
    with pytest.raises(ValueError, match="num_buckets"):
        fit_to_vectors(wv, num_buckets=0)


@pytest.mark.host_only
@pytest.mark.parametrize(
    "name, num_buckets",
    # More buckets than words (many exact fits: the smallest is expected),
    # and fewer (one least-squares fit).
    [("toy-model.vec", 500), ("lee_fasttext.vec", 300)],
)
def test_fit_to_vectors_equals_a_dense_least_squares_solution(name, num_buckets):
    from gensim.models.fasttext import ft_ngram_hashes

    from keras_embedx.layers.subword import fit_to_vectors

    wv = keras_embedx.load_vectors(datapath(name), progress=False)
    words = [w for w in wv.words if w != "</s>"]  # fastText gives it no n-grams
    # A[w, b]: share of word w's n-grams (gensim's hashing) in bucket b.
    a = np.zeros((len(words), num_buckets))
    for i, word in enumerate(words):
        buckets = ft_ngram_hashes(word, 3, 6, num_buckets)
        np.add.at(a[i], buckets, 1.0 / len(buckets))
    target = np.stack([wv[w] for w in words]).astype(np.float64)
    expected, *_ = np.linalg.lstsq(a, target, rcond=None)  # least norm

    sub = fit_to_vectors(wv, num_buckets=num_buckets, tolerance=1e-6)
    rows = sub.embeddings[2:]  # after the padding and OOV rows
    scale = np.abs(expected).max()
    np.testing.assert_allclose(rows, expected, atol=1e-5 * scale)
    np.testing.assert_allclose(sub.word_vectors(words), a @ expected, atol=1e-5 * scale)


@pytest.mark.host_only
def test_fit_to_vectors_without_scipy_says_to_install_it(monkeypatch):
    from keras_embedx.layers.subword import fit_to_vectors

    wv = keras_embedx.load_vectors(datapath("toy-model.vec"), progress=False)
    monkeypatch.setitem(sys.modules, "scipy", None)  # as if not installed
    with pytest.raises(ImportError, match="pip install scipy"):
        fit_to_vectors(wv, num_buckets=500)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"freeze": "none"},
        {"freeze": "all"},
        {"schedulable": True},
        {"storage_dtype": "int8"},
    ],
)
def test_fill_missing_rows_fills_only_the_missing_rows(lee_plural_split, options):
    from keras_embedx.layers.subword import fit_to_vectors

    wv, train, pairs = lee_plural_split
    sub = fit_to_vectors(train, num_buckets=5_000, max_iterations=30)
    held = [p for _, p in pairs[:5]]
    # "GOVERNMENT" gets the vector of "government" (lowercase fallback).
    vocab = list(train.words[:40]) + held + ["GOVERNMENT", "Xqzwv"]
    pre = keras_embedx.layers.PretrainedEmbedding.from_vectors(train, vocab, **options)
    if options.get("schedulable"):
        pre.table.set_factor(0.5)  # as mid-way through an UnfreezeSchedule
    sources = np.array(pre.row_sources())
    missing = sources == "missing"
    assert missing.sum() == len(held) + 1
    assert sources[vocab.index("GOVERNMENT") + 2] == "lowercase"
    before, mask = pre.embeddings.copy(), pre.table.frozen_mask()

    assert fill_missing_rows(pre, sub) == missing.sum()
    after = pre.embeddings
    np.testing.assert_array_equal(after[~missing], before[~missing])  # bit for bit
    np.testing.assert_array_equal(pre.table.frozen_mask(), mask)
    want = sub.word_vectors(np.array(pre.get_vocabulary())[missing].tolist())
    np.testing.assert_allclose(after[missing], want, atol=1e-6)
    # The model sees the filled rows.
    ids = np.flatnonzero(missing)[None]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(pre(ids))[0], after[missing], atol=1e-6
    )
    # `words=` limits the filling to those words (others are ignored).
    assert fill_missing_rows(pre, sub, words=[held[0], "not-in-vocab"]) == 1


def test_fill_missing_rows_needs_the_same_width(lee_plural_split):
    wv, train, _ = lee_plural_split
    pre = keras_embedx.layers.PretrainedEmbedding.from_vectors(
        train, list(train.words[:10]) + ["Xqzwv"]
    )
    narrow = SubwordEmbedding(num_buckets=100, output_dim=4)
    with pytest.raises(ValueError, match="4 dims but the table has 10"):
        fill_missing_rows(pre, narrow)


def test_keras_nlp_tokenizer_is_accepted():
    keras_nlp = pytest.importorskip("keras_nlp")
    tok = keras_nlp.tokenizers.WordPieceTokenizer(
        vocabulary=["[PAD]", "[UNK]", "the", "qu", "##ick", "fox", "##es"],
        lowercase=True,
    )
    layer = SubwordEmbedding.from_tokenizer(tok, output_dim=4, pooling="first")
    x = layer.encode([["quick", "the"]])
    # Row = tokenizer id + 2: "qu" is id 3, "the" id 2.
    np.testing.assert_array_equal(x[0, :, 0], [3 + 2, 2 + 2])
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer(x))[0],
        layer.embeddings[[3 + 2, 2 + 2]],
    )


@pytest.mark.skipif(BACKEND == "tensorflow", reason="runs without TensorFlow")
def test_tokenizer_units_without_tensorflow():
    # TensorFlow made unimportable: encode (keras-hub's Python path) and the
    # layer still work on this backend.
    out = run_in_backend(
        BACKEND,
        """
        import sys
        sys.modules["tensorflow"] = None
        import keras, keras_hub, numpy as np
        from keras_embedx.layers import SubwordEmbedding
        tok = keras_hub.tokenizers.WordPieceTokenizer(
            vocabulary=["[PAD]", "[UNK]", "the", "qu", "##ick", "fox", "##es"],
            lowercase=True,
        )
        layer = SubwordEmbedding.from_tokenizer(tok, output_dim=4)
        x = layer.encode([["quick", "foxes", "the"]])
        print(x[0].tolist(), keras.ops.convert_to_numpy(layer(x)).shape)
        """,
    )
    assert "[[5, 6], [7, 8], [4, 0]] (1, 3, 4)" in out
