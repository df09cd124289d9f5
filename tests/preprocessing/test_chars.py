"""Character inventories and the `[batch, words, chars]` encoding (NumPy only)."""

import os
import subprocess
import sys

import numpy as np
import pytest

from keras_embedx.demo import read_labelled_corpus
from keras_embedx.preprocessing.chars import (
    BOW_ID,
    EOW_ID,
    OOV_ID,
    CharInventory,
)

pytestmark = pytest.mark.host_only

B = 4  # first byte / character id


def byte_ids(data):
    """Ids of raw bytes in the byte inventory: the byte value + 4."""
    return [b + B for b in data]


# ---------------------------------------------------------------- bytes
def test_bytes_layout_is_utf8_with_markers_and_padding():
    inv = CharInventory(max_chars=8)
    out = inv.encode(["hé", ""])
    assert out.dtype == np.int32 and out.shape == (1, 2, 8)
    # "h" = 0x68, "é" = 0xC3 0xA9 in UTF-8.
    assert out[0, 0].tolist() == [BOW_ID, 0x68 + B, 0xC3 + B, 0xA9 + B, EOW_ID, 0, 0, 0]
    assert out[0, 1].tolist() == [0] * 8  # "" is the padding word
    assert len(inv) == 4 + 256


def test_bytes_ids_are_elmo_ids_shifted():
    # AllenNLP's ELMoCharacterMapper gives "hi" (max 6 chars) the ids
    # [259, 105, 106, 260, 261, 261]: byte + 1, begin/end of word 259/260,
    # padding 261. Ours: byte + 4, markers 2/3, padding 0.
    elmo = np.array([259, 105, 106, 260, 261, 261])
    ours = CharInventory(max_chars=6).encode(["hi"])[0, 0]
    mapped = np.where(
        elmo == 261, 0, np.where(elmo == 259, 2, np.where(elmo == 260, 3, elmo + 3))
    )
    np.testing.assert_array_equal(ours, mapped)


def test_truncation_keeps_first_chars_then_end_of_word():
    inv = CharInventory(max_chars=5)
    assert inv.encode(["abcdef"])[0, 0].tolist() == [BOW_ID, *byte_ids(b"abc"), EOW_ID]
    bare = CharInventory(max_chars=5, word_boundaries=False)
    assert bare.encode(["abcdef"])[0, 0].tolist() == byte_ids(b"abcde")
    # A multi-byte character is cut at a byte, as in ELMo.
    assert inv.encode(["ab\u00e9"])[0, 0].tolist() == [
        BOW_ID,
        *byte_ids(b"ab\xc3"),
        EOW_ID,
    ]


def test_invalid_utf8_from_the_polarity_corpus(datapath):
    path = datapath("pang_lee_polarity.cor")
    # Read as UTF-8 keeping the Windows-1252 bytes as lone surrogates: the
    # byte inventory turns them back into the file's own bytes.
    texts, labels, names = read_labelled_corpus(
        path, encoding="utf-8", errors="surrogateescape"
    )
    assert len(texts) == 200 and names == ["neg", "pos"]
    with open(path, "rb") as f:
        raw = [w for line in f for w in line.split()[1:]]
    words = [w for t in texts for w in t.split()]
    assert len(words) == len(raw)
    bad = [(w, r) for w, r in zip(words, raw) if not _is_utf8(r)]
    assert bad, "the fixture holds Windows-1252 bytes"
    inv = CharInventory(max_chars=50)
    for word, data in bad:
        ids = inv.encode([word])[0, 0]
        assert ids[: len(data) + 2].tolist() == [BOW_ID, *byte_ids(data), EOW_ID]
        np.testing.assert_array_equal(ids, inv.encode([data])[0, 0])
    chars = CharInventory("abcdefghijklmnopqrstuvwxyz")
    got = chars.encode([b"a\x97b"])[0, 0]
    assert got[:5].tolist() == [BOW_ID, 4, OOV_ID, 5, EOW_ID]
    with pytest.raises(ValueError, match="not valid UTF-8"):
        chars.encode([b"a\x97b"], errors="strict")


def _is_utf8(data):
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_surrogateescape_strings_give_back_their_bytes():
    inv = CharInventory()
    text = b"caf\xe9".decode("utf-8", "surrogateescape")
    np.testing.assert_array_equal(inv.encode([text]), inv.encode([b"caf\xe9"]))
    # Any other lone surrogate is encoded, not an error.
    assert inv.encode(["\ud800"])[0, 0, :5].tolist() == [
        BOW_ID,
        *byte_ids(b"\xed\xa0\x80"),
        EOW_ID,
    ]


# ---------------------------------------------------------- learned chars
def test_from_texts_orders_by_frequency_and_maps_unknown_to_oov():
    inv = CharInventory.from_texts(["aab ba", ["cab"]], max_chars=6)
    assert inv.get_vocabulary() == ["", "[UNK]", "[BOW]", "[EOW]", "a", "b", "c"]
    assert inv.encode(["cz"])[0, 0].tolist() == [BOW_ID, 6, OOV_ID, EOW_ID, 0, 0]
    small = CharInventory.from_texts(["aab ba cab"], max_tokens=5)
    assert small.chars == ["a"]
    assert CharInventory.from_texts(["aab ba cab"], min_count=3).chars == ["a", "b"]


def test_chars_argument_forms():
    assert CharInventory("abca").chars == ["a", "b", "c"]
    full = CharInventory(["", "[UNK]", "[BOW]", "[EOW]", "x", "y"])
    assert full.chars == ["x", "y"]
    for bad, match in [
        (["ab"], "one character"),
        (["a", "a"], "unique"),
        ([], "at least one"),
        (b"ab", "str or a list"),
        ([1], "one character"),
    ]:
        with pytest.raises(ValueError, match=match):
            CharInventory(bad)


def test_code_points_not_bytes_for_learned_chars():
    inv = CharInventory("日本é")
    assert inv.encode(["日本é"])[0, 0, :5].tolist() == [BOW_ID, 4, 5, 6, EOW_ID]


# -------------------------------------------------------- batch handling
def test_flat_list_is_one_sentence_nested_is_a_batch():
    inv = CharInventory(max_chars=4)
    assert inv.encode(["a", "b", "c"]).shape == (1, 3, 4)
    out = inv.encode([["a", "b", "c"], ["d"]])
    assert out.shape == (2, 3, 4)
    assert (out[1, 1:] == 0).all()
    np.testing.assert_array_equal(inv.encode("a  b\tc"), inv.encode(["a", "b", "c"]))
    arr = np.array([["a", "b"], ["c", ""]])
    assert inv.encode(arr)[1, 1].tolist() == [0, 0, 0, 0]
    assert inv.encode([]).shape == (1, 0, 4)


def test_sequence_length_padding_and_truncating():
    inv = CharInventory(max_chars=3, word_boundaries=False)
    a, b, c = (byte_ids(x)[0] for x in (b"a", b"b", b"c"))
    assert inv.encode(["a", "b", "c"], sequence_length=2)[0, :, 0].tolist() == [a, b]
    assert inv.encode(["a", "b", "c"], sequence_length=2, truncating="pre")[
        0, :, 0
    ].tolist() == [b, c]
    assert inv.encode(["a"], sequence_length=3, padding="pre")[0, :, 0].tolist() == [
        0,
        0,
        a,
    ]


def test_bad_arguments_raise_clear_errors():
    inv = CharInventory()
    with pytest.raises(ValueError, match="str or bytes"):
        inv.encode([["a", 3]])
    with pytest.raises(ValueError, match="Mix of words and sentences"):
        inv.encode(["a", ["b"]])
    with pytest.raises(ValueError, match="max_chars"):
        CharInventory(max_chars=2)
    with pytest.raises(ValueError, match="padding"):
        inv.encode(["a"], padding="middle")
    with pytest.raises(ValueError, match="sequence_length"):
        inv.encode(["a"], sequence_length=0)
    with pytest.raises(ValueError, match="list of words"):
        inv.encode(42)


def test_labels_are_unique_and_projector_safe():
    labels = CharInventory().get_vocabulary()
    assert len(labels) == len(set(labels)) == 260
    assert labels[4 + ord("A")] == "A" and labels[4 + 0x20] == "<0x20>"
    assert not any("\t" in x or "\n" in x for x in labels)


def test_cached_encodings_cannot_be_corrupted():
    inv = CharInventory(max_chars=6)
    first = inv.encode(["hi"])
    first[0, 0, 1] = 99
    np.testing.assert_array_equal(
        inv.encode(["hi"])[0, 0, :4], [BOW_ID, *byte_ids(b"hi"), EOW_ID]
    )
    with pytest.raises(ValueError):
        inv.encode_word("hi")[0] = 5


def test_importing_chars_needs_no_tensorflow():
    code = (
        "import sys, keras_embedx.preprocessing.chars as c; c.CharInventory().encode(['a']); "
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'"
    )
    env = dict(os.environ, KERAS_BACKEND="jax")
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


# ---------------------------------------------------------------- old path
def test_polarity_demo_old_path_warns_and_runs_word_char_demo(monkeypatch):
    from keras_embedx import chars, demo

    calls = []
    monkeypatch.setattr(demo, "word_char_demo", lambda **kw: calls.append(kw) or kw)
    with pytest.warns(DeprecationWarning, match="keras_embedx.demo.word_char_demo"):
        result = chars.polarity_demo(epochs=2, seed=3, max_chars=9, verbose=1)
    expected = {"epochs": 2, "seed": 3, "max_chars": 9, "verbose": 1}
    assert calls == [expected] and result == expected
