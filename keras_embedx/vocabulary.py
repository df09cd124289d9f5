"""`Vocabulary`: tokens and ids with Keras' index conventions, in pure Python."""

import collections
import collections.abc
import re
import zlib

import numpy as np

from keras_embedx._checks import check_int, check_positive_int, check_unique

PAD_TOKEN = ""
OOV_TOKEN = "[UNK]"
# The punctuation `keras.layers.TextVectorization` strips by default.
_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
_STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation", None)
_PADDING = ("pre", "post")
_SPLIT = ("whitespace", "character")


def token_list(tokens, name="tokens"):
    """`tokens` as a list of str, or a `ValueError` naming what is wrong.

    Accepts any iterable of str (NumPy strings included); refuses one str
    (which would silently become a list of its characters) and non-str
    entries. A mapping `{token: id}` is refused: its ids would be lost
    (`tokens_by_id` reads them).
    """
    if isinstance(tokens, collections.abc.Mapping):
        raise ValueError(
            f"`{name}` must be a list of str in id order. Received a mapping "
            f"(e.g. {dict(list(tokens.items())[:2])!r}), whose ids a list would "
            "lose. Pass it to `keras_embedx.Vocabulary`, which honours the ids."
        )
    if isinstance(tokens, (str, bytes)):
        raise ValueError(
            f"`{name}` must be a list of str, not one str. "
            f"Received: {name}={tokens[:40]!r}"
        )
    try:
        tokens = list(tokens)
    except TypeError:
        raise ValueError(
            f"`{name}` must be a list of str. Received: {name}={tokens!r:.60}"
        ) from None
    tokens = [str(t) if isinstance(t, np.str_) else t for t in tokens]
    for i, t in enumerate(tokens):
        if not isinstance(t, str):
            raise ValueError(
                f"Every entry of `{name}` must be a str. Received: "
                f"{name}[{i}]={t!r} (of type {type(t).__name__})"
            )
    return tokens


def tokens_by_id(mapping, num_oov_indices=None, name="tokens"):
    """A `{token: id}` mapping as the list of its tokens by id.

    The ids are read with Keras' layout: id 0 is padding (`""` may name
    it), ids `1..num_oov_indices` are out-of-vocabulary ids (`"[UNK]"` may
    name id 1, or they are left out), then the words, one per id with no
    gap. `num_oov_indices` defaults to the ids below the first word. A
    keras `Tokenizer(oov_token="[UNK]")`'s `word_index` therefore reads
    as it is; one without `oov_token` gives a word id 1, the OOV id, and
    is refused, as are a word at id 0, negative, non-int, repeated or
    skipped ids.

    Returns:
        A list in `get_vocabulary()`'s layout: `""`, `"[UNK]"` per OOV id,
        then the words by id.
    """
    by_id = {}
    for token, i in mapping.items():
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or i < 0:
            raise ValueError(
                f"A mapping `{name}` gives each token its id, a non-negative "
                f"int. Received: {name}[{token!r}]={i!r} (of type "
                f"{type(i).__name__})"
            )
        if int(i) in by_id:
            raise ValueError(
                f"A mapping `{name}` must give each token its own id. Received "
                f"id {int(i)} for both {by_id[int(i)]!r} and {token!r} (its "
                "values are read as ids, not counts)."
            )
        by_id[int(i)] = token
    padding = by_id.pop(0, PAD_TOKEN)
    if padding != PAD_TOKEN:
        raise ValueError(
            f"Id 0 is the padding row (masked, never trained), so a mapping "
            f"`{name}` may give it only to {PAD_TOKEN!r}. Received: "
            f"{name}[{padding!r}]=0. Start the words after the OOV ids (at 2, "
            "with one OOV id)."
        )
    unk = [i for i, t in by_id.items() if t == OOV_TOKEN]
    words = sorted(i for i, t in by_id.items() if t != OOV_TOKEN)
    first = words[0] if words else max(unk, default=num_oov_indices or 1) + 1
    if first == 1:
        word = by_id[1]
        raise ValueError(
            f"A mapping `{name}` gives {word!r} id 1, but ids 1..num_oov_indices "
            "are out-of-vocabulary ids: unknown words and out-of-range ids read "
            f"row 1, so {word!r} would share its row with all of them. A keras "
            "`Tokenizer`'s `word_index` numbers words from 1 unless it has an "
            "`oov_token`. If "
            f"{word!r} is your OOV token, name it {OOV_TOKEN!r}: "
            f'Tokenizer(oov_token="{OOV_TOKEN}") gives {{"{OOV_TOKEN}": 1, '
            "<words from 2>}, which is taken as it is. Otherwise pass the words "
            f"as a list in id order, `sorted({name}, key={name}.get)`, and "
            "encode texts with `Vocabulary.encode` (its word ids start at 2)."
        )
    for i in unk:
        if i >= first:
            raise ValueError(
                f"{OOV_TOKEN!r} names the out-of-vocabulary ids, which come "
                f"before the words. Received: {name}[{OOV_TOKEN!r}]={i}, after "
                f"the first word's id {first}."
            )
    missing = (words[-1] - first + 1 - len(words)) if words else 0
    if missing:
        gap = next(a + 1 for a, b in zip(words, words[1:]) if b != a + 1)
        raise ValueError(
            f"A mapping `{name}` must number its words without gaps (each id "
            f"is a row of the table). Received words with ids {first} to "
            f"{words[-1]} but none with id {gap}"
            f"{f' (and {missing - 1:,} more)' if missing > 1 else ''}."
        )
    implied = first - 1
    if num_oov_indices is not None and num_oov_indices != implied:
        raise ValueError(
            f"A mapping `{name}` whose first word has id {first} leaves ids "
            f"1..{implied} to out-of-vocabulary ids, so num_oov_indices={implied}. "
            f"Received: num_oov_indices={num_oov_indices!r}. Leave it out."
        )
    return [PAD_TOKEN] + [OOV_TOKEN] * implied + [by_id[i] for i in words]


def row_vocabulary(vocabulary, num_oov_indices, num_rows):
    """A layer's `vocabulary=`, checked: one str per row.

    The layout is `get_vocabulary()`'s (`""`, `"[UNK]"` per OOV id, then
    unique words), so that `StringLookup(mask_token="", vocabulary=...)`
    gives ids that index the same rows. A mapping `{token: id}` is read by
    `tokens_by_id`.
    """
    if isinstance(vocabulary, collections.abc.Mapping):
        vocabulary = tokens_by_id(vocabulary, num_oov_indices, "vocabulary")
    vocabulary = token_list(vocabulary, "vocabulary")
    if len(vocabulary) != num_rows:
        raise ValueError(
            f"The vocabulary must have one entry per row ({num_rows}). "
            f"Received: {len(vocabulary)} entries"
        )
    reserved = [PAD_TOKEN] + [OOV_TOKEN] * num_oov_indices
    if vocabulary[: len(reserved)] != reserved:
        raise ValueError(
            f"The vocabulary must open with {reserved} (padding, then one OOV "
            "entry per OOV row), as `get_vocabulary()` returns it. Received: "
            f"vocabulary[:{len(reserved)}]={vocabulary[: len(reserved)]!r}"
        )
    Vocabulary(vocabulary, num_oov_indices=num_oov_indices)  # unique words
    return vocabulary


def standardize_text(text, standardize="lower_and_strip_punctuation"):
    """Standardise one string as `TextVectorization`'s default does."""
    if callable(standardize):
        return standardize(text)
    if standardize in ("lower", "lower_and_strip_punctuation"):
        text = text.lower()
    if standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
        text = _PUNCTUATION.sub("", text)
    return text


def tokenize(text, standardize="lower_and_strip_punctuation", split="whitespace"):
    """Standardise then split one string into tokens."""
    text = standardize_text(text, standardize)
    if callable(split):
        return list(split(text))
    if split == "whitespace":
        return text.split()
    if split == "character":
        return list(text)
    _check_split(split)


def _check_split(split):
    if not callable(split) and split not in _SPLIT:
        raise ValueError(
            f"`split` must be one of {_SPLIT} or a callable. Received: split={split!r}"
        )


def align_to_vectors(words, wv, lowercase=True):
    """Find the pretrained row of each word.

    Exact matches win. With `lowercase=True`, a word with no exact match
    takes the vector of the first word in the file whose lowercase form
    equals its own lowercase form ("Paris" finds "paris", "dog" finds "Dog").

    Returns:
        A tuple `(rows, how)`: `rows` is an int64 array, the index in
        `wv.words` of each word or -1; `how` is an array of str:
        `"exact"`, `"lowercase"` or `"missing"`.
    """
    lookup = getattr(wv, "_rows_of", None)
    if lookup is not None:  # a WordVectors: matched without building its index
        words = list(words)
        rows = lookup(words)
        how = np.where(rows >= 0, "exact", "missing").astype(object)
        missing = np.flatnonzero(rows < 0)
        if lowercase and len(missing):
            found = lookup([words[i].lower() for i in missing.tolist()], True)
            hit = found >= 0
            rows[missing[hit]] = found[hit]
            how[missing[hit]] = "lowercase"
        return rows, how
    index = wv.key_to_index
    rows = np.full(len(words), -1, dtype=np.int64)
    how = np.full(len(words), "missing", dtype=object)
    lower_index = None
    for i, word in enumerate(words):
        j = index.get(word)
        if j is not None:
            rows[i], how[i] = j, "exact"
            continue
        if not lowercase:
            continue
        if lower_index is None:
            lower_index = {}
            for k, w in enumerate(wv.words):
                lower_index.setdefault(w.lower(), k)
        j = lower_index.get(word.lower())
        if j is not None:
            rows[i], how[i] = j, "lowercase"
    return rows, how


Coverage = collections.namedtuple(
    "Coverage",
    ["types", "tokens", "types_with_fallback", "tokens_with_fallback", "missing"],
)
Coverage.__doc__ = """Share of a vocabulary that has pretrained vectors.

`types`/`tokens`: exact matches, as a share of distinct words and of running
words (token counts; 1 per word when counts are unknown).
`types_with_fallback`/`tokens_with_fallback`: after the lowercase fallback.
`missing`: the words with no vector at all, most frequent first.
"""


class Vocabulary:
    """Tokens and their ids, with the index conventions of Keras' lookups.

    Id 0 is the padding token `""` (masked by the layers), ids
    `1..num_oov_indices` are out-of-vocabulary ids (`"[UNK]"`), then the
    tokens in order. `get_vocabulary()` is accepted unchanged by
    `keras.layers.StringLookup(mask_token="", vocabulary=...)` and
    `keras.layers.TextVectorization(vocabulary=...)`, and `encode` gives the
    ids those layers give, without TensorFlow.

    With `num_oov_indices > 1`, unknown tokens are hashed into the OOV ids
    with CRC-32 (`zlib.crc32` of the UTF-8 bytes); Keras' lookups hash with
    FarmHash, so only the choice among OOV ids differs.

    Args:
        tokens: list of unique str, or a mapping `{token: id}` such as a
            keras `Tokenizer`'s `word_index`, whose ids are kept: id 0 is
            padding, ids `1..num_oov_indices` OOV ids, then the words with
            no gap (a word at id 1 is refused: build the `Tokenizer` with
            `oov_token="[UNK]"`). A list that already begins with the
            reserved `""` and `"[UNK]"` (as `get_vocabulary()` returns) is
            accepted.
        num_oov_indices: int, how many OOV ids (at least 1). Defaults to
            the number of `"[UNK]"` entries `tokens` opens with (for a
            mapping, the ids below its first word), else 1.
        counts: optional list of int, the frequency of each token (of a
            mapping's words, in id order).
        standardize: how `encode` standardises raw text:
            `"lower_and_strip_punctuation"` (default, as TextVectorization),
            `"lower"`, `"strip_punctuation"`, None or a callable.
        split: `"whitespace"` (default), `"character"` or a callable.

    Example:

    >>> vocab = keras_embedx.Vocabulary.from_texts(["The cat sat.", "The dog!"])
    >>> vocab.get_vocabulary()
    ['', '[UNK]', 'the', 'cat', 'sat', 'dog']
    >>> vocab.encode(["the cat", "a dog"], sequence_length=3).tolist()
    [[2, 3, 0], [1, 5, 0]]
    """

    def __init__(
        self,
        tokens,
        num_oov_indices=None,
        counts=None,
        standardize="lower_and_strip_punctuation",
        split="whitespace",
    ):
        if not callable(standardize) and standardize not in _STANDARDIZE:
            raise ValueError(
                f"`standardize` must be one of {_STANDARDIZE} or a callable. "
                f"Received: standardize={standardize!r}"
            )
        _check_split(split)
        if isinstance(tokens, collections.abc.Mapping):
            tokens = tokens_by_id(tokens, num_oov_indices, "tokens")
            if counts is not None:  # counted words only; reserved ids open `tokens`
                counts = [0] * tokens.count(OOV_TOKEN) + [0] + list(counts)
        tokens = token_list(tokens, "tokens")
        # Reserved entries may open the list as `get_vocabulary()` writes
        # them: `""`, then one `"[UNK]"` per OOV id.
        start = int(bool(tokens) and tokens[0] == PAD_TOKEN)
        listed = 0
        while start + listed < len(tokens) and tokens[start + listed] == OOV_TOKEN:
            listed += 1
        if num_oov_indices is None:
            num_oov_indices = listed or 1
        num_oov_indices = check_int("num_oov_indices", num_oov_indices, low=1)
        if listed and listed != num_oov_indices:
            raise ValueError(
                f"`tokens` opens with {listed} {OOV_TOKEN!r} entries (one per OOV "
                f"id), but num_oov_indices={num_oov_indices}: the ids of every "
                f"token after them would shift. Pass num_oov_indices={listed} or "
                f"leave it out. Received: tokens[:{start + listed + 1}]="
                f"{tokens[: start + listed + 1]!r}"
            )
        reserved = start + listed
        if counts is not None:
            counts = list(counts)[reserved:]
        tokens = tokens[reserved:]
        for i, t in enumerate(tokens):
            if t in (PAD_TOKEN, OOV_TOKEN):
                raise ValueError(
                    f"The reserved token {t!r} may only open the list. Received "
                    f"it at position {i + reserved}."
                )
        check_unique("tokens", tokens, offset=reserved)
        if counts is not None and len(counts) != len(tokens):
            raise ValueError(
                f"`counts` must have one entry per token. Received {len(counts)} "
                f"counts for {len(tokens)} tokens."
            )
        self.tokens = tokens
        self.num_oov_indices = num_oov_indices
        self.counts = None if counts is None else np.asarray(counts, dtype=np.int64)
        self.standardize = standardize
        self.split = split
        self._ids = {t: i + 1 + num_oov_indices for i, t in enumerate(tokens)}

    @classmethod
    def from_texts(
        cls,
        texts,
        max_tokens=None,
        min_count=1,
        num_oov_indices=1,
        standardize="lower_and_strip_punctuation",
        split="whitespace",
    ):
        """Build a vocabulary from raw texts, most frequent tokens first.

        Args:
            texts: iterable of str (or of token lists, used as they are).
            max_tokens: int or None, the size of the whole vocabulary
                including the padding and OOV ids, as for TextVectorization.
            min_count: int, drop tokens seen fewer times.
            num_oov_indices: int, how many OOV ids.
            standardize: see the class.
            split: see the class.

        Returns:
            A `Vocabulary`; ties in frequency keep first-seen order.
        """
        if isinstance(texts, (str, bytes)):
            raise ValueError(
                "`texts` must be a list of texts, not one str: wrap it in a "
                f"list. Received: texts={texts[:40]!r}"
            )
        min_count = check_int("min_count", min_count, low=1)
        num_oov_indices = check_int("num_oov_indices", num_oov_indices, low=1)
        reserved = 1 + num_oov_indices
        if max_tokens is not None:
            max_tokens = check_int("max_tokens", max_tokens, low=1)
        if max_tokens is not None and max_tokens <= reserved:
            raise ValueError(
                f"`max_tokens` must exceed the {reserved} reserved ids (padding + "
                f"OOV). Received: max_tokens={max_tokens}"
            )
        counter = collections.Counter()
        for text in texts:
            counter.update(
                text
                if not isinstance(text, str)
                else tokenize(text, standardize, split)
            )
        counter.pop(PAD_TOKEN, None)
        counter.pop(OOV_TOKEN, None)
        items = [(t, c) for t, c in counter.most_common() if c >= min_count]
        if max_tokens is not None:
            items = items[: max_tokens - reserved]
        return cls(
            [t for t, _ in items],
            num_oov_indices=num_oov_indices,
            counts=[c for _, c in items],
            standardize=standardize,
            split=split,
        )

    def __len__(self):
        """The number of ids, reserved ones included (the table's rows)."""
        return 1 + self.num_oov_indices + len(self.tokens)

    def __contains__(self, token):
        return token in self._ids

    def __repr__(self):
        return (
            f"Vocabulary(size={len(self)}, tokens={len(self.tokens)}, "
            f"num_oov_indices={self.num_oov_indices})"
        )

    def get_vocabulary(self):
        """All entries by id: `""`, `"[UNK]"` per OOV id, then the tokens."""
        return [PAD_TOKEN] + [OOV_TOKEN] * self.num_oov_indices + list(self.tokens)

    def token_to_id(self, token):
        """The id of one token (an OOV id when unknown)."""
        found = self._ids.get(token)
        if found is not None:
            return found
        if token == PAD_TOKEN:
            return 0
        if self.num_oov_indices == 1:
            return 1
        return 1 + zlib.crc32(token.encode("utf-8")) % self.num_oov_indices

    def tokenize(self, text):
        """Standardise and split one raw string as `encode` does."""
        return tokenize(text, self.standardize, self.split)

    def encode(
        self,
        texts_or_tokens,
        sequence_length=None,
        padding="post",
        truncating="post",
    ):
        """Turn texts into a padded int32 id matrix, with NumPy only.

        Args:
            texts_or_tokens: one str, a list of str (each a text, tokenised
                with the vocabulary's standardize/split), or a list of token
                lists (used as they are).
            sequence_length: int or None (the longest sequence).
            padding: `"post"` (default, as TextVectorization) or `"pre"`
                (as `keras.utils.pad_sequences`' default).
            truncating: `"post"` (default) or `"pre"`.

        Returns:
            int32 ndarray `[n, sequence_length]`, padded with 0.
        """
        check = {"padding": padding, "truncating": truncating}
        for name, value in check.items():
            if value not in _PADDING:
                raise ValueError(
                    f"`{name}` must be one of {_PADDING}. Received: {value!r}"
                )
        if sequence_length is not None:
            sequence_length = check_positive_int("sequence_length", sequence_length)
        if isinstance(texts_or_tokens, str):
            texts_or_tokens = [texts_or_tokens]
        sequences = []
        for i, item in enumerate(texts_or_tokens):
            if isinstance(item, str):
                tokens = self.tokenize(item)
            else:
                tokens = token_list(item, f"texts_or_tokens[{i}]")
            sequences.append([self.token_to_id(t) for t in tokens])
        length = sequence_length or max((len(s) for s in sequences), default=0)
        out = np.zeros((len(sequences), length), dtype=np.int32)
        for row, seq in enumerate(sequences):
            if len(seq) > length:
                seq = seq[:length] if truncating == "post" else seq[-length:]
            if seq:
                if padding == "post":
                    out[row, : len(seq)] = seq
                else:
                    out[row, length - len(seq) :] = seq
        return out

    def coverage(self, wv):
        """How much of this vocabulary has a vector in `wv`.

        Args:
            wv: a `keras_embedx.WordVectors` (or anything with
                `key_to_index`).

        Returns:
            A `Coverage` named tuple; token shares weight each word by its
            count when the vocabulary has counts.
        """
        rows, how = align_to_vectors(self.tokens, wv, lowercase=True)
        weights = (
            self.counts.astype(np.float64)
            if self.counts is not None
            else np.ones(len(self.tokens))
        )
        exact = how == "exact"
        found = rows >= 0
        total_types = max(len(self.tokens), 1)
        total_tokens = max(weights.sum(), 1.0)
        missing = [t for t, ok in zip(self.tokens, found) if not ok]
        return Coverage(
            types=exact.sum() / total_types,
            tokens=weights[exact].sum() / total_tokens,
            types_with_fallback=found.sum() / total_types,
            tokens_with_fallback=weights[found].sum() / total_tokens,
            missing=missing,
        )
