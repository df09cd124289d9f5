"""Character inventories and the char-id encoding `CharEmbedding` takes.

Pure Python and NumPy: no TensorFlow, usable anywhere (tf.data through
`tf.numpy_function`, a torch `DataLoader`, a JAX input pipeline).

Two inventories share one id layout, so the layer treats them alike:

| id | meaning |
|---|---|
| 0 | padding character `""` (masked; never influences a word) |
| 1 | out-of-inventory character `"[UNK]"` |
| 2 | begin-of-word `"[BOW]"` |
| 3 | end-of-word `"[EOW]"` |
| 4... | the units: bytes 0..255 (`kind="bytes"`) or learned characters |

- **Bytes** (`chars=None`), as ELMo does: a word is its UTF-8 bytes, so every
  string and every byte sequence is covered, invalid UTF-8 included, and
  nothing is ever out of inventory. Byte `b` has id `b + 4` (ELMo numbers the
  same layout `b + 1`, with its begin/end-of-word characters at 259/260).
- **Learned characters** (`chars=[...]` or `CharInventory.from_texts`), as
  Kim et al. 2016 and Ling et al. 2015 do: a word is its Unicode code points;
  a code point not in the inventory becomes `"[UNK]"`.

A word becomes `[BOW] u1 u2 ... un [EOW]` (without the two markers when
`word_boundaries=False`), left-aligned and right-padded with 0 to
`max_chars`. **Truncation**: a word with more units than fit keeps its first
`max_chars - 2` units and still ends with `[EOW]` (ELMo's policy); without
boundaries it keeps its first `max_chars` units. Bytes are cut at a byte, so a
multi-byte character may lose its tail, as in ELMo.

**Edge cases**, all handled without error:

- The empty word `""` is the padding word (as `""` is the padding token
  everywhere in keras_embedx): an all-zero row, masked by the layer.
- `bytes` words are used as they are by the byte inventory (invalid UTF-8
  included); the character inventory decodes them as UTF-8 with
  `errors="replace"`, so each invalid sequence becomes one `"[UNK]"` (or
  raises with `errors="strict"`).
- `str` words holding lone surrogates (from `errors="surrogateescape"`
  decoding) give back their original bytes in the byte inventory; other
  lone surrogates are encoded with `"surrogatepass"`.
- Anything else (numbers, None) raises a `ValueError` naming it.

Reference:
    - Kim et al., "Character-Aware Neural Language Models", AAAI 2016.
    - Peters et al., "Deep contextualized word representations", NAACL 2018
      (ELMo; the character layout of AllenNLP's `ELMoCharacterMapper`).
"""

import collections

import numpy as np

from keras_embedx._checks import check_positive_int

PAD_CHAR = ""
OOV_CHAR = "[UNK]"
BOW_CHAR = "[BOW]"
EOW_CHAR = "[EOW]"
RESERVED = (PAD_CHAR, OOV_CHAR, BOW_CHAR, EOW_CHAR)
PAD_ID, OOV_ID, BOW_ID, EOW_ID = 0, 1, 2, 3
NUM_RESERVED = len(RESERVED)
NUM_BYTES = 256
_PADDING = ("pre", "post")
_ERRORS = ("replace", "strict")


def _byte_label(b):
    """A visible, tab-free label for byte `b` (Projector metadata, vocabularies)."""
    return chr(b) if 0x21 <= b <= 0x7E else f"<0x{b:02X}>"


def _str_to_bytes(word):
    try:
        return word.encode("utf-8")
    except UnicodeEncodeError:
        pass
    try:  # lone surrogates from `errors="surrogateescape"`: the original bytes
        return word.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return word.encode("utf-8", "surrogatepass")


def _split_text(text):
    return text.split()


def normalize_chars(chars):
    """Validate a learned inventory: a str or a list of single characters.

    A list that opens with the reserved entries (as `get_vocabulary()` returns
    it) is accepted; they are dropped. Returns a list of unique 1-char str.
    """
    if isinstance(chars, str):
        chars = list(dict.fromkeys(chars))
    if isinstance(chars, (bytes, bytearray)) or not hasattr(chars, "__iter__"):
        raise ValueError(
            "`chars` must be a str or a list of single characters. "
            f"Received: chars={chars!r:.80}"
        )
    chars = [str(c) if isinstance(c, np.str_) else c for c in chars]
    skip = 0
    while skip < len(chars) and skip < NUM_RESERVED and chars[skip] == RESERVED[skip]:
        skip += 1
    chars = chars[skip:]
    seen = set()
    for i, c in enumerate(chars):
        if not isinstance(c, str) or len(c) != 1:
            raise ValueError(
                "Every entry of `chars` must be one character (a str of length 1). "
                f"Received {c!r} at position {i + skip}."
            )
        if c in seen:
            raise ValueError(
                f"`chars` must be unique. Received {c!r} twice (position {i + skip})."
            )
        seen.add(c)
    if not chars:
        raise ValueError("`chars` must hold at least one character. Received none.")
    return chars


class CharInventory:
    """Characters (or bytes) and their ids, and the `[batch, words, chars]` encoding.

    Args:
        chars: None for the UTF-8 byte inventory (default), or a str / list
            of single characters for a learned inventory.
        max_chars: int, characters per word including the begin/end-of-word
            markers; longer words are truncated (see the module docstring).
        word_boundaries: bool, wrap each word in `[BOW]`/`[EOW]`.
        cache_size: int, how many distinct words' encodings to remember.

    Example:

    >>> from keras_embedx.preprocessing.chars import CharInventory
    >>> inv = CharInventory(max_chars=6)
    >>> inv.encode(["hi", ""]).tolist()
    [[[2, 108, 109, 3, 0, 0], [0, 0, 0, 0, 0, 0]]]
    """

    def __init__(
        self, chars=None, max_chars=50, word_boundaries=True, cache_size=65536
    ):
        max_chars = check_positive_int("max_chars", max_chars)
        word_boundaries = bool(word_boundaries)
        room = max_chars - 2 if word_boundaries else max_chars
        if room < 1:
            raise ValueError(
                "`max_chars` must leave room for at least one character besides "
                f"the begin/end-of-word markers (>= 3). Received: max_chars={max_chars}"
            )
        self.chars = None if chars is None else normalize_chars(chars)
        self.max_chars = max_chars
        self.word_boundaries = word_boundaries
        self._room = room
        self._index = (
            None
            if self.chars is None
            else {c: i + NUM_RESERVED for i, c in enumerate(self.chars)}
        )
        self._cache = {}
        self._cache_size = cache_size

    @classmethod
    def from_texts(cls, texts, max_tokens=None, min_count=1, **kwargs):
        """Learn a character inventory from texts, most frequent characters first.

        Args:
            texts: iterable of str (split on whitespace) or of word lists.
            max_tokens: int or None, the size of the whole inventory
                including the 4 reserved ids.
            min_count: int, drop characters seen fewer times.
            **kwargs: `max_chars`, `word_boundaries`.
        """
        min_count = check_positive_int("min_count", min_count)
        if max_tokens is not None and (
            check_positive_int("max_tokens", max_tokens) <= NUM_RESERVED
        ):
            raise ValueError(
                f"`max_tokens` must exceed the {NUM_RESERVED} reserved ids. "
                f"Received: max_tokens={max_tokens}"
            )
        if isinstance(texts, (str, bytes)):
            texts = [texts]
        counter = collections.Counter()
        for text in texts:
            words = _split_text(text) if isinstance(text, str) else text
            for word in words:
                if isinstance(word, (bytes, bytearray)):
                    word = bytes(word).decode("utf-8", "replace")
                if not isinstance(word, str):
                    raise ValueError(
                        f"Texts must be str or lists of str. Received: {word!r:.80}"
                    )
                counter.update(word)
        items = [c for c, n in counter.most_common() if n >= min_count]
        if max_tokens is not None:
            items = items[: max_tokens - NUM_RESERVED]
        if not items:
            raise ValueError(
                "No character occurs often enough in `texts` "
                f"(min_count={min_count}) to build an inventory."
            )
        return cls(items, **kwargs)

    # ------------------------------------------------------------ inventory
    @property
    def kind(self):
        """`"bytes"` or `"chars"`."""
        return "bytes" if self.chars is None else "chars"

    def __len__(self):
        """The number of ids (rows of the character table)."""
        n = NUM_BYTES if self.chars is None else len(self.chars)
        return NUM_RESERVED + n

    def __repr__(self):
        return (
            f"CharInventory(kind={self.kind!r}, size={len(self)}, "
            f"max_chars={self.max_chars}, word_boundaries={self.word_boundaries})"
        )

    def get_vocabulary(self):
        """One label per id: the 4 reserved entries, then the bytes or characters.

        Bytes show as themselves when printable ASCII, else as `"<0xHH>"`.
        """
        if self.chars is None:
            units = [_byte_label(b) for b in range(NUM_BYTES)]
        else:
            units = list(self.chars)
        return list(RESERVED) + units

    # ------------------------------------------------------------- encoding
    def unit_ids(self, word, errors="replace"):
        """The ids of a word's units (bytes or characters), before markers."""
        if self.chars is None:
            data = _str_to_bytes(word) if isinstance(word, str) else bytes(word)
            return np.frombuffer(data, dtype=np.uint8).astype(np.int32) + NUM_RESERVED
        if not isinstance(word, str):
            word = bytes(word).decode("utf-8", errors)
        get = self._index.get
        return np.fromiter((get(c, OOV_ID) for c in word), dtype=np.int32)

    def encode_word(self, word, errors="replace"):
        """One word → int32 ids of length `<= max_chars` (no padding added).

        `""` (or `b""`) gives an empty array: the padding word.
        """
        if isinstance(word, bytearray):
            word = bytes(word)
        elif not isinstance(word, (str, bytes)):
            raise ValueError(
                "Each word must be a str or bytes. "
                f"Received: {word!r:.80} of type {type(word).__name__}"
            )
        key = (word, errors)
        found = self._cache.get(key)
        if found is not None:
            return found
        try:
            units = self.unit_ids(word, errors)
        except UnicodeDecodeError as e:
            raise ValueError(
                f"Word {word!r:.80} is not valid UTF-8 ({e.reason} at byte "
                f"{e.start}). Use errors='replace' to map invalid bytes to "
                "[UNK], or the byte inventory (chars=None)."
            ) from None
        if len(units) == 0:
            ids = units
        elif self.word_boundaries:
            ids = np.empty(min(len(units), self._room) + 2, dtype=np.int32)
            ids[0] = BOW_ID
            ids[1:-1] = units[: self._room]
            ids[-1] = EOW_ID
        else:
            ids = units[: self._room]
        ids.setflags(write=False)
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[key] = ids
        return ids

    def encode(
        self,
        words_or_sentences,
        sequence_length=None,
        padding="post",
        truncating="post",
        errors="replace",
    ):
        """Encode words into the int32 `[batch, words, max_chars]` array the layer takes.

        Args:
            words_or_sentences: a flat list of words (one sentence: batch of
                1); a list of lists of words (a batch of sentences, padded
                with padding words to the longest); a str or bytes (one text,
                split on whitespace); or a 1D/2D NumPy array of str / bytes.
                `""` is the padding word.
            sequence_length: int or None, words per sentence (default: the
                longest sentence). Longer sentences are truncated.
            padding: `"post"` (default) or `"pre"`: where padding words go.
            truncating: `"post"` (default) or `"pre"`: which end of a long
                sentence is cut.
            errors: `"replace"` (default) or `"strict"`: invalid UTF-8 in
                bytes words, for the learned-character inventory only.

        Returns:
            int32 ndarray `[batch, words, max_chars]`.
        """
        for name, value in (("padding", padding), ("truncating", truncating)):
            if value not in _PADDING:
                raise ValueError(
                    f"`{name}` must be one of {_PADDING}. Received: {value!r}"
                )
        if errors not in _ERRORS:
            raise ValueError(f"`errors` must be one of {_ERRORS}. Received: {errors!r}")
        if sequence_length is not None:
            sequence_length = check_positive_int("sequence_length", sequence_length)
        sentences = self._as_sentences(words_or_sentences)
        length = sequence_length or max((len(s) for s in sentences), default=0)
        out = np.zeros((len(sentences), length, self.max_chars), dtype=np.int32)
        for b, sentence in enumerate(sentences):
            if len(sentence) > length:
                sentence = (
                    sentence[:length] if truncating == "post" else sentence[-length:]
                )
            offset = 0 if padding == "post" else length - len(sentence)
            for j, word in enumerate(sentence):
                ids = self.encode_word(word, errors)
                out[b, offset + j, : len(ids)] = ids
        return out

    @staticmethod
    def _as_sentences(x):
        if isinstance(x, (str, bytes)):
            return [x.split()]
        if isinstance(x, np.ndarray):
            if x.ndim not in (1, 2):
                raise ValueError(
                    "An array of words must be 1D (one sentence) or 2D (a batch). "
                    f"Received: shape={x.shape}"
                )
            x = x.tolist()
        if not isinstance(x, (list, tuple)):
            raise ValueError(
                "Expected a list of words, a list of lists of words, or a str. "
                f"Received: {type(x).__name__}"
            )
        if not x:
            return [[]]
        nested = [isinstance(item, (list, tuple, np.ndarray)) for item in x]
        if all(nested):
            return [list(s) for s in x]
        if any(nested):
            i = nested.index(False) if nested[0] else nested.index(True)
            raise ValueError(
                "Mix of words and sentences: pass a flat list of words (one "
                "sentence) or a list of lists of words (a batch). Received "
                f"{x[i]!r:.60} at position {i}."
            )
        return [list(x)]

    def get_config(self):
        return {
            "chars": None if self.chars is None else list(self.chars),
            "max_chars": self.max_chars,
            "word_boundaries": self.word_boundaries,
        }
