"""The format registry is the one list loading, saving and the command line use."""

import ast
import sys

import numpy as np
import pytest
from gensim.models import KeyedVectors
from gensim.models.fasttext import load_facebook_vectors

import keras_embedx
import keras_embedx_cli
from keras_embedx.vectors import formats, load, word_vectors
from keras_embedx_cli import build_parser

pytestmark = pytest.mark.host_only

NAMES = ("glove", "word2vec_text", "word2vec_binary", "fasttext_vec")
NAMES += ("fasttext_bin", "cache")


def _file(fmt, datapath, tmp_path):
    """A real file of each format, and gensim's reading of it."""
    if fmt == "glove":
        path = datapath("test_glove.txt")
        kv = KeyedVectors.load_word2vec_format(path, no_header=True)
    elif fmt == "word2vec_binary":
        path = datapath("euclidean_vectors.bin")
        kv = KeyedVectors.load_word2vec_format(path, binary=True)
    elif fmt in ("word2vec_text", "fasttext_vec"):
        path = datapath("toy-model.vec")
        kv = KeyedVectors.load_word2vec_format(path)
    elif fmt == "fasttext_bin":
        path = datapath("toy-model.bin")
        kv = load_facebook_vectors(path)
    else:
        path = datapath("euclidean_vectors.bin")
        kv = KeyedVectors.load_word2vec_format(path, binary=True)
        path = str(tmp_path / "vectors.kxv")
        keras_embedx.load_vectors(datapath("euclidean_vectors.bin")).save(path)
    return path, kv


def _choices(parser, command, flag):
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    (action,) = [a for a in sub.choices[command]._actions if flag in a.option_strings]
    return tuple(action.choices)


def test_every_list_of_formats_is_the_registrys():
    names = tuple(f.name for f in formats.REGISTRY)
    writable = tuple(f.name for f in formats.REGISTRY if f.write is not None)
    assert names == formats.FORMATS == load.FORMATS == keras_embedx_cli.FORMATS
    assert writable == formats.WRITE_FORMATS == word_vectors.SAVE_FORMATS
    assert writable == keras_embedx_cli.WRITE_FORMATS
    parser = build_parser()
    for command in ("inspect", "project", "plot"):
        assert _choices(parser, command, "--format") == ("auto", *names)
    assert _choices(parser, "convert", "--from") == ("auto", *names)
    assert _choices(parser, "convert", "--format") == writable


@pytest.mark.parametrize("fmt", NAMES)
def test_each_format_loads_through_its_entry(fmt, datapath, tmp_path):
    path, kv = _file(fmt, datapath, tmp_path)
    wv = keras_embedx.load_vectors(path, format=fmt)
    assert wv.format == fmt and wv.words == list(kv.index_to_key)
    np.testing.assert_allclose(wv.vectors, kv.vectors, rtol=1e-6, atol=1e-7)
    # `format="auto"` picks the one entry whose content check accepts the
    # file (a fastText .vec is word2vec text, which it reads as).
    head = open(path, "rb").read(4096)
    accepted = [f.name for f in formats.REGISTRY if f.sniff and f.sniffer()(head)]
    expected = "word2vec_text" if fmt == "fasttext_vec" else fmt
    assert accepted == [expected]
    assert keras_embedx.vectors.detect_format(path) == expected


def test_the_registry_covers_the_formats_tested_here():
    # A new entry needs a file in `_file` above.
    assert formats.FORMATS == NAMES


@pytest.mark.parametrize("fmt", formats.WRITE_FORMATS)
def test_each_writable_format_reads_back(fmt, datapath, tmp_path):
    wv = keras_embedx.load_vectors(datapath("euclidean_vectors.bin"), limit=50)
    path = wv.save(tmp_path / f"v.{fmt}", format=fmt)
    back = keras_embedx.load_vectors(path)
    assert back.format == fmt and back.words == wv.words
    np.testing.assert_array_equal(back.vectors, wv.vectors)


def test_a_read_only_format_is_refused_when_saving(tmp_path):
    wv = keras_embedx.WordVectors(["a"], np.ones((1, 2), np.float32))
    with pytest.raises(ValueError, match="one of") as info:
        wv.save(tmp_path / "a.bin", format="fasttext_bin")
    assert all(repr(name) in str(info.value) for name in formats.WRITE_FORMATS)
    assert not (tmp_path / "a.bin").exists()


def test_a_bad_format_name_lists_the_valid_ones(datapath, tmp_path, capsys):
    with pytest.raises(ValueError) as info:
        keras_embedx.load_vectors(datapath("test_glove.txt"), format="word2vec")
    message = str(info.value)
    assert "'auto'" in message and "Received: format='word2vec'" in message
    assert all(repr(name) in message for name in formats.FORMATS)
    wv = keras_embedx.WordVectors(["a"], np.ones((1, 2), np.float32))
    with pytest.raises(ValueError) as info:
        wv.save(tmp_path / "a.txt", format="text")
    assert all(repr(name) in str(info.value) for name in formats.WRITE_FORMATS)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["inspect", "f", "--format", "word2vec"])
    err = capsys.readouterr().err
    assert all(name in err for name in formats.FORMATS)


def test_the_registry_imports_only_the_standard_library():
    # The command line reads it before Keras starts.
    with open(formats.__file__, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    roots = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert roots <= set(sys.stdlib_module_names), roots
