"""The two kinds of units a `SubwordEmbedding` composes words from.

`HashedNgrams` (fastText's hashed character n-grams, `units="ngrams"`) and
`TokenizerUnits` (a keras-hub tokenizer's units, `units="tokenizer"`) share
one interface; the layer picks one when it is constructed and asks it, on
the host, how words become rows:

- `check_arguments(num_words, pooling, freeze)` (before construction): the
  constructor arguments this kind of units cannot take;
- `set_vocabulary(vocabulary)`: check the labels of the labelled rows;
- `row_labels(labels)`: labels of every table row;
- `bags(words, max_ngrams)` and `bag_width(max_ngrams)`: each word's rows;
- `word_vectors(words)`, `encode_ids(word_ids, max_ngrams)`.
"""

import numpy as np
from keras import ops

from keras_embedx._checks import check_positive_int, check_unique
from keras_embedx.preprocessing import ngrams as subwords
from keras_embedx.preprocessing.units import pad_bags

NUM_RESERVED = 2  # row 0: padding, row 1: OOV (a word with no rows at all)
OOV_ID = 1


class HashedNgrams:
    """fastText units: each word's own row (if in the vocabulary), then its n-grams."""

    row_noun = "word"

    def __init__(self, layer):
        self.layer = layer
        self._index = None
        self._word_bags = {}

    @staticmethod
    def check_arguments(num_words, pooling, freeze):
        if pooling != "mean":
            raise ValueError(
                "fastText n-gram units always average a word's rows, as "
                "fastText does; `pooling` applies to tokenizer units. "
                f"Received: pooling={pooling!r} with units='ngrams'"
            )

    def labelled_rows(self):
        return self.layer.num_words

    def set_vocabulary(self, vocabulary):
        check_unique("vocabulary", vocabulary)  # each word has its own row
        self._index = None
        self._word_bags = {}

    def row_labels(self, labels):
        return labels + [f"[BUCKET {i}]" for i in range(self.layer.num_buckets)]

    def bag_width(self, max_ngrams):
        return max_ngrams + 1

    def bags(self, words, max_ngrams):
        """Each word's own row (1 when it has none), then its n-gram rows."""
        own = self._word_ids(words)
        rows, splits = self._subword_rows(words, own)
        rows += NUM_RESERVED
        has_own = own >= 0
        counts = np.diff(splits) - has_own
        first = np.where(has_own, own + NUM_RESERVED, OOV_ID).astype(np.int32)
        # Drop each word's own row from the flat list, keeping the n-grams.
        drop = np.zeros(rows.shape[0], bool)
        drop[splits[:-1][has_own]] = True
        width = int(counts.max(initial=0)) if max_ngrams is None else max_ngrams
        width = check_positive_int("max_ngrams", width, allow_zero=True)
        grams = pad_bags(rows[~drop], counts, width)
        return np.concatenate([first[:, None], grams], axis=1)

    def word_vectors(self, words):
        rows, splits = self._subword_rows(words, self._word_ids(words))
        unique, inverse = np.unique(rows, return_inverse=True)
        matrix = self.layer.rows(unique + NUM_RESERVED)
        return subwords.segment_mean(matrix, inverse.reshape(-1), splits)

    def _subword_rows(self, words, word_ids):
        layer = self.layer
        return subwords.subword_rows(
            words,
            layer.num_words,
            layer.minn,
            layer.maxn,
            layer.num_buckets,
            word_ids=word_ids,
            max_word_chars=layer.max_word_chars,
        )

    def encode_ids(self, word_ids, max_ngrams):
        layer = self.layer
        max_ngrams = check_positive_int("max_ngrams", max_ngrams, allow_zero=True)
        table = self._word_bags.get(max_ngrams)
        if table is None:
            words = layer.get_vocabulary()[NUM_RESERVED:]
            table = np.zeros((layer.num_rows, 1 + max_ngrams), np.int32)
            table[OOV_ID, 0] = OOV_ID
            if words:
                table[NUM_RESERVED : NUM_RESERVED + len(words)] = self.bags(
                    words, max_ngrams
                )
            self._word_bags = {max_ngrams: table}
        ids = np.asarray(word_ids, np.int64)
        ids = np.where((ids < 0) | (ids >= NUM_RESERVED + layer.num_words), 1, ids)
        return table[ids]

    def _word_ids(self, words):
        layer = self.layer
        if not layer.num_words:
            return np.full(len(words), -1, np.int64)
        if layer._vocabulary is None:
            raise ValueError(
                f"Layer {layer.name!r} has {layer.num_words} word rows but no "
                "vocabulary, so it cannot tell which words have one (a layer "
                "made by `from_config` or `keras.models.clone_model` does not "
                "carry it; `model.save` stores it as an asset). Call "
                "`set_vocabulary(words)` or load the saved model."
            )
        if self._index is None:
            index = {}
            for i, w in enumerate(layer.get_vocabulary()[NUM_RESERVED:]):
                index.setdefault(w, i)
            self._index = index
        out = np.empty(len(words), np.int64)
        for k, w in enumerate(words):
            if isinstance(w, (bytes, bytearray)):
                try:
                    w = bytes(w).decode("utf-8")
                except UnicodeDecodeError:
                    out[k] = -1
                    continue
            elif not isinstance(w, str):
                raise TypeError(
                    f"Each word must be a str or bytes. Received at index {k}: "
                    f"{type(w).__name__} {w!r:.60}"
                )
            out[k] = self._index.get(w, -1)
        return out


class TokenizerUnits:
    """keras-hub tokenizer units: each word's (or text's) unit rows."""

    row_noun = "unit"

    def __init__(self, layer):
        self.layer = layer

    @staticmethod
    def check_arguments(num_words, pooling, freeze):
        if num_words:
            raise ValueError(
                "Tokenizer units have no word rows: `num_words` must be 0. "
                f"Received: num_words={num_words}"
            )
        if freeze == "words":
            raise ValueError(
                "freeze='words' freezes word rows, which tokenizer units do not "
                "have. Use freeze='none' or 'all'."
            )

    def labelled_rows(self):
        return self.layer.num_buckets

    def set_vocabulary(self, vocabulary):
        pass  # the tokenizer's own list: nothing more to check

    def row_labels(self, labels):
        return labels

    def bag_width(self, max_ngrams):
        return max_ngrams

    def bags(self, words, max_ngrams):
        """Each word's unit rows, at least one column (padding when none)."""
        bags, counts = self._unit_bags(words)
        if max_ngrams is None:
            # At least one column, so words without units are padding
            # words of a usual bag.
            width = max(int(counts.max(initial=0)), 1)
        else:
            width = check_positive_int("max_ngrams", max_ngrams)
        return pad_bags(bags, counts, width)

    def encode_texts(self, texts, sequence_length):
        """Each text's unit rows, `[len(texts), sequence_length]` (`pooling=None`)."""
        if isinstance(texts, str):
            texts = [texts]
        bags, counts = self._unit_bags(list(texts))
        if sequence_length is None:
            # The longest text; 0 when no text has a unit, as Vocabulary.encode.
            width = int(counts.max(initial=0))
        else:
            width = check_positive_int("sequence_length", sequence_length)
        return pad_bags(bags, counts, width)

    def word_vectors(self, words):
        layer = self.layer
        return ops.convert_to_numpy(layer(layer.encode([words])))[0].astype(np.float32)

    def encode_ids(self, word_ids, max_ngrams):
        raise ValueError("encode_ids works with fastText units only.")

    def _unit_bags(self, words):
        layer = self.layer
        if layer.tokenizer is None:
            raise ValueError(
                f"Layer {layer.name!r} has no tokenizer to encode text with. Pass "
                "`tokenizer=` (the same one the layer was built from)."
            )
        out = layer.tokenizer(
            [w.decode("utf-8") if isinstance(w, bytes) else w for w in words]
        )
        out = [np.asarray(ops.convert_to_numpy(u)).reshape(-1) for u in out]
        counts = np.array([len(u) for u in out], np.int64)
        bags = np.concatenate(out or [np.zeros(0)]).astype(np.int64) + NUM_RESERVED
        return bags, counts


UNIT_KINDS = {"ngrams": HashedNgrams, "tokenizer": TokenizerUnits}
