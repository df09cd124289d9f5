"""The vector file formats: one table that loading, saving and the CLI read.

Each `VectorFormat` names its reader, its writer (if any) and its content
check (`sniff`) as `"module:function"` strings, resolved when first used, so
this module imports only the standard library: the command line reads the
table to list its `--format` choices before Keras starts. Adding a format
is adding one entry to `REGISTRY` (and the functions it names):

- `read(src, options)` takes an open source (`keras_embedx.vectors._source`)
  and a `keras_embedx.vectors._read.ReadOptions`, and returns
  `(words, vectors, counts, index, info)`;
- `write(wv, path, *, precision, encoding)` writes a `WordVectors` and
  returns the path;
- `sniff(head)` tells from the first bytes of the (decompressed) content
  whether a file is in this format. The checks of the formats exclude one
  another; `format="auto"` picks the one that accepts the file.
"""

import dataclasses
import importlib

__all__ = [
    "FORMATS",
    "REGISTRY",
    "WRITE_FORMATS",
    "VectorFormat",
    "check_format",
    "get_format",
]


@dataclasses.dataclass(frozen=True)
class VectorFormat:
    """One vector file format.

    Args:
        name: str, the `format=` name (hyphens may stand for underscores).
        description: str, what the file holds, for messages.
        suffixes: tuple of str, the file name endings it usually has.
        binary: bool, whether the rows are raw numbers rather than text.
        read: str, `"module:function"` of its reader.
        write: str or None, `"module:function"` of its writer.
        sniff: str or None, `"module:function"` telling the format from the
            first bytes; None: `format="auto"` never picks it (its files read
            as another format's).
    """

    name: str
    description: str
    suffixes: tuple
    binary: bool
    read: str
    write: str | None = None
    sniff: str | None = None

    def reader(self):
        """The reader function."""
        return _resolve(self.read)

    def writer(self):
        """The writer function; a `ValueError` when the format has none."""
        if self.write is None:
            raise ValueError(
                f"Format {self.name!r} is read-only. Write one of {WRITE_FORMATS}."
            )
        return _resolve(self.write)

    def sniffer(self):
        """The content check, or None."""
        return None if self.sniff is None else _resolve(self.sniff)


_LOAD = "keras_embedx.vectors._read"
_SAVE = "keras_embedx.vectors.word_vectors"

#: Every format, in the order messages and the command line list them.
REGISTRY = (
    VectorFormat(
        "glove",
        "GloVe text (a word and its numbers a line, no header)",
        (".txt",),
        binary=False,
        read=f"{_LOAD}:read_glove",
        write=f"{_SAVE}:write_glove",
        sniff=f"{_LOAD}:is_glove",
    ),
    VectorFormat(
        "word2vec_text",
        "word2vec text (a 'count dim' header, then GloVe-like rows)",
        (".txt", ".vec"),
        binary=False,
        read=f"{_LOAD}:read_word2vec_text",
        write=f"{_SAVE}:write_word2vec_text",
        sniff=f"{_LOAD}:is_word2vec_text",
    ),
    VectorFormat(
        "word2vec_binary",
        "word2vec binary (a 'count dim' header, then words and raw float32)",
        (".bin",),
        binary=True,
        read=f"{_LOAD}:read_word2vec_binary",
        write=f"{_SAVE}:write_word2vec_binary",
        sniff=f"{_LOAD}:is_word2vec_binary",
    ),
    VectorFormat(
        "fasttext_vec",
        "fastText .vec (word2vec text as fastText writes it)",
        (".vec",),
        binary=False,
        read=f"{_LOAD}:read_word2vec_text",
    ),
    VectorFormat(
        "fasttext_bin",
        "fastText .bin model (its vocabulary's vectors)",
        (".bin",),
        binary=True,
        read=f"{_LOAD}:read_fasttext_bin",
        sniff=f"{_LOAD}:is_fasttext_bin",
    ),
    VectorFormat(
        "cache",
        "keras_embedx cache (written by WordVectors.save)",
        (".kxv",),
        binary=True,
        read=f"{_LOAD}:read_cache",
        write=f"{_SAVE}:write_cache",
        sniff="keras_embedx.vectors.cache:is_cache",
    ),
)

#: The names `load_vectors(format=...)` takes besides `"auto"`.
FORMATS = tuple(f.name for f in REGISTRY)
#: The names `WordVectors.save(format=...)` takes.
WRITE_FORMATS = tuple(f.name for f in REGISTRY if f.write is not None)

_BY_NAME = {f.name: f for f in REGISTRY}


def get_format(name):
    """The `VectorFormat` called `name` (exactly, as in `FORMATS`)."""
    return _BY_NAME[name]


def check_format(format, *, auto=False, write=False):
    """The normalised name of a `format=` argument, or an error listing the valid ones.

    Args:
        format: str, a format name; case and hyphens do not matter.
        auto: bool, also accept `"auto"` (returned as it is).
        write: bool, accept only the formats that have a writer.

    Returns:
        str, `"auto"` or a name in `FORMATS`.
    """
    if not isinstance(format, str):
        raise TypeError(
            f"`format` must be a str. Received: format={format!r} of type "
            f"{type(format).__name__}"
        )
    name = format.lower().replace("-", "_")
    valid = WRITE_FORMATS if write else FORMATS
    if (auto and name == "auto") or name in valid:
        return name
    expected = f"'auto' or one of {valid}" if auto else f"one of {valid}"
    raise ValueError(f"`format` must be {expected}. Received: format={format!r}")


def _resolve(spec):
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)
