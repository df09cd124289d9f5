"""The table protocol: a third-party `TableLayer` is found everywhere, and
only `TableLayer`s are asked for their tables.

`UnfreezeSchedule`, `export_projector`, `keras_embedx.distribution.layout_map`
and `keras_embedx.evaluation` find tables through `_walk.iter_tables`; these
tests build a layer outside the package on `TableLayer` and check that each of
them finds it, on real vectors (gensim's shipped fixtures).
"""

import keras
import numpy as np
import pytest

import keras_embedx
from keras_embedx import evaluation
from keras_embedx._walk import iter_tables
from keras_embedx.callbacks import UnfreezeSchedule
from keras_embedx.distribution import layout_map
from keras_embedx.layers import (
    EmbeddingTable,
    PretrainedEmbedding,
    TableLayer,
    TableRef,
    TokenAndPosition,
)
from tests.projector.test_projector import read_metadata, read_tensor
from tests.test_distribution import _mesh

RESERVED = ["", "[UNK]"]


class WordTable(TableLayer):
    """A third-party layer: one table of word vectors, padding and OOV rows first."""

    def __init__(self, words, vectors, schedulable=False, **kwargs):
        super().__init__(**kwargs)
        self.words = RESERVED + list(words)
        self.output_dim = vectors.shape[1]
        self.table = EmbeddingTable(
            len(self.words),
            self.output_dim,
            num_frozen=len(words),
            schedulable=schedulable,
            name="rows",
        )
        self._vectors = np.concatenate(
            [np.zeros((len(RESERVED), self.output_dim), "float32"), vectors]
        )

    def build(self, input_shape=None):
        self.table.build()
        frozen = np.arange(len(self.words)) >= len(RESERVED)  # the word rows
        self.table.set_table(self._vectors, frozen)
        self.built = True

    def call(self, ids):
        return self.table(ids)

    def embedding_tables(self):
        return [TableRef("words", self.table, self.words)]


class Wrapper(keras.layers.Layer):
    """A user layer holding another layer as an attribute."""

    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner

    def build(self, input_shape):
        self.inner.build(input_shape)

    def call(self, ids):
        return self.inner(ids)


class Impostor(keras.layers.Layer):
    """Has an `embedding_tables()` method, but is not a `TableLayer`."""

    def __init__(self, words, vectors, **kwargs):
        super().__init__(**kwargs)
        self.words = RESERVED + list(words)
        self.table = EmbeddingTable(
            len(self.words),
            vectors.shape[1],
            num_frozen=2,
            schedulable=True,
            name="rows",
        )

    def build(self, input_shape=None):
        self.table.build()

    def call(self, ids):
        return self.table(ids)

    def embedding_tables(self):
        return [TableRef("words", self.table, self.words)]


def _model(layer, length=4):
    inputs = keras.Input((length,), dtype="int32")
    x = Wrapper(layer, name="wrapper")(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(1, name="head")(x))


@pytest.fixture
def words(kv):
    return kv.index_to_key[:40]


@pytest.fixture
def vectors(kv):
    return np.asarray(kv.vectors[:40], "float32")


# ------------------------------------------------------------ found by each
def test_unfreeze_schedule_finds_a_third_party_table(words, vectors):
    layer = WordTable(words, vectors, schedulable=True, name="mine")
    model = _model(layer)
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    ids = np.array([[2, 3, 4, 0], [5, 6, 1, 0]], "int32")
    y = np.array([[1.0], [-1.0]], "float32")
    schedule = UnfreezeSchedule({0: 0.0, 1: 1.0})
    history = model.fit(ids, y, epochs=1, callbacks=[schedule], verbose=0)
    assert history.history["unfreeze_factor"] == [0.0]
    np.testing.assert_array_equal(layer.get_weights()[0][2:], vectors)
    history = model.fit(
        ids, y, epochs=2, initial_epoch=1, callbacks=[schedule], verbose=0
    )
    assert history.history["unfreeze_factor"] == [1.0]
    moved = np.abs(layer.get_weights()[0][2:] - vectors).max(axis=1) > 0
    # The rows the batch looked up learned; the others did not move.
    assert moved.tolist() == [i in (2, 3, 4, 5, 6) for i in range(2, 42)]


def test_export_projector_finds_a_third_party_table(tmp_path, words, vectors):
    layer = WordTable(words, vectors, name="mine")
    model = _model(layer)
    out = keras_embedx.export_projector(tmp_path, model)
    assert out.name == "wrapper/mine"
    np.testing.assert_array_equal(read_tensor(out)[2:], vectors)
    assert read_metadata(out.metadata_path) == ["<pad>", "[UNK]", *words]


def test_layout_map_shards_a_third_party_table(words, vectors):
    layer = WordTable(words, vectors, name="mine")
    model = _model(layer)
    model.build((None, 4))
    layouts = layout_map(_mesh(), model)
    paths = {v.path for v in layer.table.variables}
    assert set(layouts) == paths
    (frozen,) = [p for p in paths if p.endswith("/frozen_table")]
    assert layouts[frozen].axes == ("model", None)


def test_evaluation_of_a_third_party_table_equals_gensim(datapath):
    from gensim.models import KeyedVectors

    kv = KeyedVectors.load_word2vec_format(
        datapath("euclidean_vectors.bin"), binary=True
    )
    layer = WordTable(kv.index_to_key, np.asarray(kv.vectors, "float32"))
    layer.build()
    pearson, spearman, oov = kv.evaluate_word_pairs(datapath("wordsim353.tsv"))
    ours = evaluation.word_pairs(Wrapper(layer), datapath("wordsim353.tsv"))
    assert ours.pearson == pytest.approx(pearson.statistic, abs=1e-6)
    assert ours.spearman == pytest.approx(spearman.statistic, abs=1e-6)
    assert ours.oov_ratio == pytest.approx(oov)


# ------------------------------------------------------- only TableLayers
def test_a_layer_with_embedding_tables_but_no_table_layer_is_not_asked(
    tmp_path, words, vectors
):
    impostor = Impostor(words, vectors, name="impostor")
    model = _model(impostor)
    model.compile(optimizer="sgd", loss="mse")
    assert list(iter_tables(model)) == []
    with pytest.raises(ValueError, match="found no keras_embedx table"):
        model.fit(
            np.array([[2, 3, 0, 0]], "int32"),
            np.zeros((1, 1), "float32"),
            callbacks=[UnfreezeSchedule({0: 1.0})],
            verbose=0,
        )
    with pytest.raises(ValueError, match="no table with a vocabulary"):
        evaluation.as_word_vectors(impostor)
    # Its table is still a keras_embedx table, exported unlabelled (row ids).
    out = keras_embedx.export_projector(tmp_path, model)
    assert out.name == "wrapper/impostor/rows"
    assert read_metadata(out.metadata_path)[:3] == ["0", "1", "2"]


# ------------------------------------------------------------ the walker
def test_iter_tables_lists_shared_and_nested_tables_once(kv, wv, words, vectors):
    pretrained = PretrainedEmbedding.from_vectors(wv, words, name="pretrained")
    tp = TokenAndPosition(None, 4, None, token_embedding=pretrained, name="tp")
    mine = WordTable(words, vectors, name="mine")
    inputs = keras.Input((4,), dtype="int32")
    outputs = [
        tp(inputs),
        pretrained(inputs),  # shared: also used on its own
        Wrapper(mine, name="wrapper")(inputs),
        mine(inputs),  # shared: held by the wrapper and called here
    ]
    model = keras.Model(inputs, outputs)
    found = [(layer.name, ref.name, ref.table) for layer, ref in iter_tables(model)]
    assert found == [
        ("tp", "token_embedding/table", pretrained.table),
        ("mine", "words", mine.table),
    ]
    for name, table, vocabulary in tp.embedding_tables():  # a plain 3-tuple too
        assert (name, table, vocabulary[2:]) == (
            "token_embedding/table",
            pretrained.table,
            words,
        )
    outside = [ref.table for _, ref in iter_tables(model, unlisted="outside")]
    assert outside == [pretrained.table, mine.table]
    every = [ref.table for _, ref in iter_tables(model, unlisted="all")]
    assert every == [pretrained.table, tp.position_embedding, mine.table]


def test_a_wrong_embedding_tables_entry_is_named(words, vectors):
    class Broken(WordTable):
        def embedding_tables(self):
            return [("words", self.table.name, None)]

    with pytest.raises(TypeError, match="'broken'.*TableRef"):
        list(iter_tables(Broken(words, vectors, name="broken")))
