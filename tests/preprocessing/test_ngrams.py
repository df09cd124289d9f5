"""fastText n-grams and hashing, checked against fastText's and gensim's output."""

import itertools
import random

import numpy as np
import pytest
from gensim.models.fasttext import ft_ngram_hashes
from gensim.models.fasttext_inner import compute_ngrams_bytes, ft_hash_bytes

from keras_embedx.preprocessing.ngrams import (
    fasttext_hash,
    ngram_hashes,
    ngrams,
    segment_mean,
    subword_rows,
)

pytestmark = pytest.mark.host_only

WORDS = [
    "where",
    "test",
    "тест",  # Cyrillic
    "テスト",  # Katakana
    "試し",  # CJK
    "café",  # accented Latin, one code point
    "cafe\u0301",  # the same, with a combining accent
    "naïveté",
    "🚑🚒🚓🚕",  # 4-byte UTF-8
    "👩\u200d👩\u200d👧",  # emoji ZWJ sequence
    "🇫🇷",  # regional indicators
    "",
    "a",
    "ab",
    " ",
    "at the",
    "x" * 50,
]
LENGTHS = [(3, 6), (1, 1), (1, 3), (2, 4), (5, 5), (3, 3), (0, 2), (0, 0), (4, 2)]


def read_fb_ngrams(path):
    """Parse gensim's fb-ngrams.txt, `fasttext print-ngrams` output for 6 words.

    Returns a list of `(word, ngrams, vectors)`: the n-grams in fastText's order
    and the 5-wide vectors fastText printed for them.
    """
    out = []
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip() for line in f]
    i = 0
    while i < len(lines) and lines[i]:
        assert lines[i] == "<start>"
        word = lines[i + 1]
        i += 3  # the next line is the word's own (all-zero, unknown-word) row
        grams, vectors = [], []
        while lines[i] != "<end>":
            columns = lines[i].split(" ")
            grams.append(" ".join(columns[:-5]))
            vectors.append([float(x) for x in columns[-5:]])
            i += 1
        out.append((word, grams, np.array(vectors, np.float32)))
        i += 1
    return out


def test_ngrams_equal_fasttext_print_ngrams_in_order(datapath):
    expected = read_fb_ngrams(datapath("fb-ngrams.txt"))
    assert len(expected) == 6
    for word, grams, _ in expected:
        assert ngrams(word, 3, 6) == grams, word


def test_ngrams_equal_gensim_port_of_compute_subwords():
    for (minn, maxn), word in itertools.product(LENGTHS, WORDS):
        expected = compute_ngrams_bytes(word, minn, maxn)
        assert [g.encode("utf-8") for g in ngrams(word, minn, maxn)] == expected
        assert ngrams(word.encode("utf-8"), minn, maxn) == expected


def test_fasttext_hash_sign_extends_every_byte_value():
    for b in range(256):
        assert fasttext_hash(bytes([b])) == ft_hash_bytes(bytes([b])), b
    for word in WORDS:
        data = word.encode("utf-8")
        assert fasttext_hash(data) == ft_hash_bytes(data)
        assert fasttext_hash(word) == ft_hash_bytes(data)
    # Textbook FNV-1a (no sign extension) differs for bytes >= 0x80.
    assert fasttext_hash(b"\xe9") != (2166136261 ^ 0xE9) * 16777619 % 2**32


def test_raw_hashes_and_splits_equal_gensim():
    for minn, maxn in LENGTHS:
        ids, splits = ngram_hashes(WORDS, minn, maxn, bucket=None)
        assert ids.dtype == np.int64 and splits.dtype == np.int64
        assert splits.shape == (len(WORDS) + 1,) and splits[0] == 0
        for i, word in enumerate(WORDS):
            grams = compute_ngrams_bytes(word, minn, maxn)
            expected = [ft_hash_bytes(g) for g in grams]
            assert ids[splits[i] : splits[i + 1]].tolist() == expected, word


def test_bucketed_hashes_equal_gensim_ft_ngram_hashes():
    for bucket in [1, 100, 2_000_000]:
        ids, splits = ngram_hashes(WORDS, 3, 6, bucket=bucket)
        for i, word in enumerate(WORDS):
            expected = ft_ngram_hashes(word, 3, 6, bucket)
            assert ids[splits[i] : splits[i + 1]].tolist() == expected, word


def test_many_random_unicode_words_equal_gensim():
    rnd = random.Random(7)
    alphabet = (
        "abcdefghijklmnopqrstuvwxyzABCXYZ0123-'éèñüßøåçıİабвгдежзийклмнопрстуфхцчшщ"
        "ъыьэюяあいうえおアイウエオ漢字語言葉中文한국어αβγδεζηθ🙂🚀🇩🇪\u0301\u200d"
    )
    words = [
        "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 14)))
        for _ in range(3000)
    ]
    ids, splits = ngram_hashes(words, 3, 6, bucket=2_000_000)
    flat = [h for w in words for h in ft_ngram_hashes(w, 3, 6, 2_000_000)]
    assert ids.tolist() == flat
    counts = [len(compute_ngrams_bytes(w, 3, 6)) for w in words]
    assert np.diff(splits).tolist() == counts


def test_short_words_have_only_the_ngrams_that_fit():
    # "<>" has 2 characters: no n-gram of length 3 or more, one 2-gram.
    assert ngrams("", 3, 6) == []
    assert ngrams("", 1, 6) == ["<>"]  # the lone "<" and ">" 1-grams are skipped
    assert ngrams("a", 3, 6) == ["<a>"]
    assert ngrams("a", 1, 1) == ["a"]
    assert ngrams(" ", 3, 6) == ["< >"]
    assert ngrams("where", 0, 0) == []
    assert ngrams("where", 6, 3) == []  # minn > maxn: none, as in fastText
    ids, splits = ngram_hashes(["", "a"], 3, 6, bucket=10)
    assert splits.tolist() == [0, 0, 1]


def test_invalid_utf8_bytes_follow_fasttext_byte_rules():
    # Lone lead bytes (Latin-1 "été") are each one character.
    assert ngrams(b"\xe9t\xe9", 3, 3) == [b"<\xe9t", b"\xe9t\xe9", b"t\xe9>"]
    # Leading continuation bytes stick to "<"; they never start an n-gram.
    assert ngrams(b"\x80\x80ab", 3, 3) == [b"<\x80\x80ab", b"ab>"]
    ids, _ = ngram_hashes([b"\x80\x80ab"], 3, 3, bucket=None)
    assert ids.tolist() == [ft_hash_bytes(b"<\x80\x80ab"), ft_hash_bytes(b"ab>")]


def test_str_that_cannot_be_utf8_encoded_is_a_clear_error():
    with pytest.raises(ValueError, match="index 1 cannot be encoded as UTF-8"):
        ngram_hashes(["ok", "bad\ud800"], 3, 6)
    with pytest.raises(ValueError, match="cannot be encoded"):
        ngrams("\udcff", 3, 6)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(TypeError, match="not a single str"):
        ngram_hashes("where", 3, 6)
    with pytest.raises(TypeError, match="index 1: int"):
        ngram_hashes(["a", 3], 3, 6)
    with pytest.raises(ValueError, match="`minn` must be an int >= 0"):
        ngram_hashes(["a"], -1, 6)
    with pytest.raises(TypeError, match="`maxn` must be an int"):
        ngrams("a", 3, 6.0)
    with pytest.raises(ValueError, match="`bucket` must be a positive int"):
        ngram_hashes(["a"], 3, 6, bucket=0)
    with pytest.raises(ValueError, match="max_word_chars"):
        ngram_hashes(["a"], 3, 6, max_word_chars=0)


def test_empty_word_list():
    ids, splits = ngram_hashes([], 3, 6)
    assert ids.shape == (0,) and splits.tolist() == [0]


def test_very_long_word_is_exact_and_linear():
    word = "абвгдеёжзи" * 1000  # 10,000 characters
    ids, splits = ngram_hashes([word], 3, 6, bucket=2_000_000)
    # (L + 2 - n + 1) n-grams of each length n = 3..6.
    assert splits.tolist() == [0, sum(10_002 - n + 1 for n in range(3, 7))]
    assert ids.tolist() == ft_ngram_hashes(word, 3, 6, 2_000_000)


def test_max_word_chars_cuts_long_words_to_their_first_characters():
    word = "тестирование"
    ids, splits = ngram_hashes([word, "ab"], 3, 6, 1000, max_word_chars=4)
    assert ids[: splits[1]].tolist() == ft_ngram_hashes("тест", 3, 6, 1000)
    assert ids[splits[1] :].tolist() == ft_ngram_hashes("ab", 3, 6, 1000)
    # Bytes are cut at character (UTF-8 lead byte) boundaries.
    cut, _ = ngram_hashes([word.encode("utf-8")], 3, 6, 1000, max_word_chars=4)
    assert cut.tolist() == ids[: splits[1]].tolist()


def test_subword_rows_lists_own_row_then_ngram_rows():
    words = ["</s>", "тест", "ab", ""]
    rows, splits = subword_rows(words, 50, 3, 6, 100, word_ids=[0, 7, -1, -1])
    got = [rows[splits[i] : splits[i + 1]].tolist() for i in range(len(words))]
    assert got[0] == [0]  # end-of-sentence: its own row only
    assert got[1] == [7] + [50 + h for h in ft_ngram_hashes("тест", 3, 6, 100)]
    assert got[2] == [50 + h for h in ft_ngram_hashes("ab", 3, 6, 100)]
    assert got[3] == []
    rows, splits = subword_rows(words, 50, 3, 0, 0, word_ids=[0, 7, -1, -1])
    assert rows.tolist() == [0, 7] and splits.tolist() == [0, 1, 2, 2, 2]
    with pytest.raises(ValueError, match="one id per word"):
        subword_rows(words, 50, 3, 6, 100, word_ids=[0])


def test_segment_mean_adds_rows_in_order_like_fasttext(rng):
    matrix = rng.normal(size=(50, 7)).astype(np.float32)
    lengths = [3, 0, 1, 40, 2, 0]
    rows = rng.integers(0, 50, sum(lengths))
    splits = np.concatenate([[0], np.cumsum(lengths)])
    # fastText: add each row in turn in float32, then multiply by float32(1/n).
    expected = np.zeros((len(lengths), 7), np.float32)
    for i, n in enumerate(lengths):
        for r in rows[splits[i] : splits[i + 1]]:
            expected[i] += matrix[r]
        if n:
            expected[i] *= np.float32(1.0 / n)
    np.testing.assert_array_equal(segment_mean(matrix, rows, splits), expected)
    pieces = segment_mean(matrix, rows, splits, max_piece_bytes=4 * 7 * 2)
    np.testing.assert_array_equal(pieces, expected)
