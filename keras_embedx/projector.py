"""Write embedding tables where the TensorBoard Projector reads them.

`export_projector` is the one writer behind `ProjectorCallback` and
`keras-embedx project`. It needs neither TensorFlow nor a checkpoint: the
table goes to a raw little-endian float32 file declared with `tensor_shape`
(or to a TSV of floats when those bytes would be misread as text), the labels
to a metadata TSV, and an `embeddings { ... }` entry is added to
`projector_config.pbtxt` in `log_dir`, keeping every other entry of that file.
`log_dir` also gets one data-less event file, which makes it a run that
TensorBoard finds from `log_dir` or any directory above it.

Files are written to temporary names and renamed into place, tensor and
metadata first and the config last, so a crash never leaves the config
pointing at a half-written file. Exporters into one `log_dir` (processes or
threads) take turns on a lock while they update the config, so every one of
them ends up in it; the temporaries a killed exporter left are removed by the
next export. An export only ever deletes files of the shapes it writes, inside
`log_dir`, and never through a symbolic link.
"""

import codecs
import contextlib
import dataclasses
import functools
import hashlib
import os
import re
import secrets
import stat
import struct
import time
import warnings

import numpy as np

from keras_embedx import _atomic
from keras_embedx._atomic import fcntl  # None off POSIX: `_locked` uses a lock file.
from keras_embedx._walk import iter_layers
from keras_embedx.vectors.load import load_cli_vectors

CONFIG_NAME = "projector_config.pbtxt"
DATA_DIR = "projector"
REFRESH_DIR = ".projector-refresh"
LOCK_NAME = ".lock"
# The event file that makes `log_dir` a run. The `0` sorts it before every
# event file a summary writer names by its start time, so TensorBoard's
# Python reader (one file at a time, in name order) never leaves a writer's
# file for it.
RUN_MARKER = "events.out.tfevents.0.keras_embedx"
MAX_POINTS = 100_000
PAD_LABEL = "<pad>"
BLANK_LABEL = "<blank>"
_IF_EXISTS = ("replace", "rename", "error")


class ProjectorConfigError(ValueError):
    """`projector_config.pbtxt` exists but is not a valid projector config."""


@dataclasses.dataclass(frozen=True)
class ProjectorExport:
    """What `export_projector` wrote.

    Attributes:
        name: the tensor name the Projector lists (pass it as `name=` in the
            HTTP API, pick it in the "tensor" menu of the UI).
        log_dir: the directory to give `tensorboard --logdir` (or any
            directory above it).
        run: the TensorBoard run holding the entry when `--logdir` is
            `log_dir` itself (`"."`); from a directory above, the run is the
            path of `log_dir` relative to it (`fit/run1`).
        config_path: path of `projector_config.pbtxt`.
        tensor_path: path of the tensor file.
        metadata_path: path of the metadata TSV.
        shape: `(rows, dim)` as written.
        tensor_format: `"binary"` (raw float32) or `"tsv"`.
        row_ids: int array, the row of the source table behind each row
            written (`max_rows` may keep fewer rows or reorder them).
        columns: metadata column names, in file order.
    """

    name: str
    log_dir: str
    run: str
    config_path: str
    tensor_path: str
    metadata_path: str
    shape: tuple
    tensor_format: str
    row_ids: np.ndarray = dataclasses.field(repr=False, compare=False)
    columns: tuple = ()

    def tensorboard_command(self):
        """The shell command that serves this export."""
        return f"tensorboard --logdir {_shell_quote(self.log_dir)}"


def _shell_quote(path):
    if re.fullmatch(r"[A-Za-z0-9_./:=+-]+", path):
        return path
    return "'" + path.replace("'", "'\"'\"'") + "'"


# --------------------------------------------------------------------- tables
@dataclasses.dataclass
class EmbeddingSource:
    """One table to export: its rows and per-row metadata columns."""

    name: str
    matrix: np.ndarray
    columns: dict
    counts: np.ndarray = None


def _layer_path(layer):
    return getattr(layer, "path", None) or layer.name


def _to_numpy(value):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(value))


def _plain_embedding_matrix(layer):
    """Effective table of a `keras.layers.Embedding` (LoRA, quantization)."""
    if getattr(layer, "quantization_mode", None) is None:
        return _to_numpy(layer.embeddings)
    # Quantized tables: let the layer dequantize its own rows.
    import keras

    rows = []
    for start in range(0, layer.input_dim, 8192):
        ids = np.arange(start, min(start + 8192, layer.input_dim), dtype="int32")
        rows.append(_to_numpy(layer(keras.ops.convert_to_tensor(ids))))
    return np.concatenate(rows, axis=0)


def _vocabulary_labels(vocabulary, rows):
    labels = [str(w) for w in vocabulary]
    if len(labels) > rows:
        raise ValueError(
            f"The vocabulary has {len(labels)} entries but the table only {rows} rows."
        )
    if labels and labels[0] == "":
        labels[0] = PAD_LABEL
    # Rows past the vocabulary (e.g. hashed buckets) are labelled by id.
    labels += [f"#{i}" for i in range(len(labels), rows)]
    return labels


def layer_sources(root, layers=None):
    """Every embedding table found in a layer or model, outermost first.

    Finds the tables of keras_embedx layers (through their
    `embedding_tables()`) and of plain `keras.layers.Embedding` layers, also
    when nested inside other layers or models. A table reachable from
    several layers is listed once.

    Args:
        root: a Keras layer or model.
        layers: optional list of layer names, paths or layer objects to keep;
            their nested tables are included.

    Returns:
        A list of `EmbeddingSource`.
    """
    import keras

    found, seen = [], set()
    for layer in table_layers(root, layers):
        found.extend(_tables_of(layer, seen, keras))
    # Name tables relative to the model (Sequential puts its name in paths).
    prefix = f"{root.name}/"
    for source in found:
        if source.name.startswith(prefix):
            source.name = source.name[len(prefix) :]
    return found


def table_layers(root, layers=None):
    """The layers of `root` that hold embedding tables, without reading them.

    keras_embedx layers, bare `EmbeddingTable`s and `keras.layers.Embedding`,
    in model order; with `layers`, only those layers and their sublayers.
    Unbuilt layers count (a model is built on its first batch).
    """
    import keras

    chosen = None if layers is None else _select_layers(root, layers)
    out, seen = [], set()
    for layer in iter_layers(root):
        if chosen is not None and not any(layer is c for c in chosen):
            continue
        for sub in iter_layers(layer) if chosen is not None else (layer,):
            holds_table = (
                callable(getattr(sub, "embedding_tables", None))
                or callable(getattr(sub, "full_table", None))
                or isinstance(sub, keras.layers.Embedding)
            )
            if holds_table and id(sub) not in seen:
                seen.add(id(sub))
                out.append(sub)
    return out


def _select_layers(root, layers):
    if isinstance(layers, str) or not hasattr(layers, "__iter__"):
        layers = [layers]
    all_layers = list(iter_layers(root))
    chosen = []
    for want in layers:
        if isinstance(want, str):
            match = [
                layer
                for layer in all_layers
                if want in (layer.name, _layer_path(layer))
            ]
            if not match:
                names = sorted({_layer_path(layer) for layer in all_layers})
                raise ValueError(
                    f"No layer named {want!r} in {root.name!r}. Layers: {names}"
                )
            chosen.extend(match[:1])
        elif any(want is layer for layer in all_layers):
            chosen.append(want)
        else:
            raise ValueError(
                f"`layers` must name layers of {root.name!r}. Received: {want!r}"
            )
    return chosen


def _tables_of(layer, seen, keras):
    out = []
    if callable(getattr(layer, "embedding_tables", None)):
        tables = list(layer.embedding_tables())
        sources = None
        if callable(getattr(layer, "row_sources", None)):
            sources = list(layer.row_sources())
        for table_name, table, vocabulary in tables:
            if id(table) in seen:
                continue
            seen.add(id(table))
            if callable(getattr(table, "full_table", None)):
                matrix = np.asarray(table.full_table())
            else:
                matrix = _to_numpy(table)
            name = _layer_path(layer)
            if len(tables) > 1:
                name = f"{name}/{table_name}"
            columns = {}
            if vocabulary is not None:
                columns["word"] = _vocabulary_labels(vocabulary, len(matrix))
            else:
                columns["id"] = [str(i) for i in range(len(matrix))]
            if len(tables) == 1 and sources is not None:
                if len(sources) == len(matrix):
                    columns["source"] = sources
            out.append(EmbeddingSource(name, matrix, columns))
    elif callable(getattr(layer, "full_table", None)):
        # A bare keras_embedx EmbeddingTable used inside a custom layer.
        if id(layer) not in seen:
            seen.add(id(layer))
            matrix = np.asarray(layer.full_table())
            ids = [str(i) for i in range(len(matrix))]
            out.append(EmbeddingSource(_layer_path(layer), matrix, {"id": ids}))
    elif isinstance(layer, keras.layers.Embedding) and id(layer) not in seen:
        seen.add(id(layer))
        matrix = _plain_embedding_matrix(layer)
        ids = [str(i) for i in range(len(matrix))]
        out.append(EmbeddingSource(_layer_path(layer), matrix, {"id": ids}))
    return out


def _sources_of(source):
    """Resolve `source` into a list of `EmbeddingSource`."""
    if hasattr(source, "words") and hasattr(source, "vectors"):
        columns = {"word": list(source.words)}
        counts = getattr(source, "counts", None)
        if counts is not None:
            columns["count"] = [str(int(c)) for c in counts]
        name = "vectors"
        origin = getattr(source, "source", None)
        if isinstance(origin, str) and origin:
            name = os.path.basename(origin.rstrip("/\\")) or name
        return [EmbeddingSource(name, np.asarray(source.vectors), columns, counts)]
    if hasattr(source, "index_to_key") and hasattr(source, "vectors"):
        # gensim KeyedVectors
        words = list(source.index_to_key)
        return [EmbeddingSource("vectors", np.asarray(source.vectors), {"word": words})]
    if isinstance(source, np.ndarray) or isinstance(source, (list, tuple)):
        matrix = np.asarray(source)
        ids = [str(i) for i in range(len(matrix))] if matrix.ndim == 2 else []
        return [EmbeddingSource("embedding", matrix, {"id": ids})]
    import keras

    if isinstance(source, keras.layers.Layer):
        found = layer_sources(source)
        if not found:
            raise ValueError(
                f"Layer {source.name!r} has no embedding table: expected a "
                "keras_embedx layer, a `keras.layers.Embedding`, or a model "
                "containing one."
            )
        return found
    if isinstance(source, keras.Variable) or hasattr(source, "__array__"):
        matrix = _to_numpy(source)
        ids = [str(i) for i in range(len(matrix))] if matrix.ndim == 2 else []
        name = getattr(source, "path", None) or "embedding"
        return [EmbeddingSource(name, matrix, {"id": ids})]
    raise TypeError(
        "`source` must be a keras_embedx.WordVectors, a Keras layer or model, or "
        f"a 2D array. Received: {type(source).__name__}"
    )


# ----------------------------------------------------------------- checking
_LINE_BREAKS = re.compile(r"[\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def safe_label(label):
    """A metadata cell the Projector shows as written.

    Tabs and line breaks become spaces (they would split cells and rows);
    blank labels become `"<blank>"` (the frontend drops them and shifts every
    later label).
    """
    text = _LINE_BREAKS.sub(" ", str(label))
    return text if text.strip() else BLANK_LABEL


def safe_name(name):
    """A tensor name safe in URLs and file names: `[A-Za-z0-9_.-/]` only."""
    text = re.sub(r"[^A-Za-z0-9_.\-/]+", "_", str(name))
    parts = [part.strip(".") for part in text.split("/")]
    text = "/".join(part for part in parts if part)
    return text[:200] or "embedding"


def _check_shape(matrix):
    if matrix.ndim != 2:
        raise ValueError(
            f"The table must be 2D `[rows, dim]`. Received: shape={tuple(matrix.shape)}"
        )
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise ValueError(
            "The table must have at least one row and one column. Received: "
            f"shape={tuple(matrix.shape)}"
        )
    if not np.issubdtype(matrix.dtype, np.number) or np.iscomplexobj(matrix):
        raise ValueError(
            f"The table must hold real numbers. Received: dtype={matrix.dtype}"
        )


def _check_finite(matrix, labels):
    finite = np.isfinite(matrix).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        shown = ", ".join(f"{i} ({labels[i]!r})" if labels else str(i) for i in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise ValueError(
            f"The table has {len(bad)} row(s) with NaN or infinite values: rows "
            f"{shown}{more}. The Projector cannot place them; fix the table "
            "(a diverged training run?) or drop those rows before exporting."
        )


def _metadata_columns(metadata, rows, default):
    """Validate user metadata into `{column: list of str}`."""
    if metadata is None:
        columns = default
    elif hasattr(metadata, "items") and not isinstance(metadata, str):
        columns = {str(k): list(v) for k, v in metadata.items()}
        if not columns:
            raise ValueError("`metadata` must have at least one column.")
    elif isinstance(metadata, str) or not hasattr(metadata, "__len__"):
        raise TypeError(
            "`metadata` must be a list of labels (one per row) or a dict of "
            f"columns. Received: {type(metadata).__name__}"
        )
    else:
        columns = {"label": list(metadata)}
    for column, values in columns.items():
        if len(values) != rows:
            raise ValueError(
                f"`metadata` must have one entry per table row ({rows} rows). "
                f"Received: {len(values)} entries in column {column!r}"
            )
    return columns


def _pick_rows(rows, max_rows, counts):
    if max_rows is not None and (
        isinstance(max_rows, bool)
        or not isinstance(max_rows, (int, np.integer))
        or max_rows < 1
    ):
        raise ValueError(
            f"`max_rows` must be a positive int or None. Received: {max_rows!r}"
        )
    if max_rows is None or max_rows >= rows:
        return np.arange(rows)
    if counts is None:
        return np.arange(max_rows)
    # Most frequent first; ties keep table order.
    return np.argsort(-np.asarray(counts, dtype=np.float64), kind="stable")[:max_rows]


# ------------------------------------------------------------ tensor bytes
def _readable_as_binary(data):
    """True when TensorBoard's reader will fall back to binary for `data`.

    The Projector first reads a tensor file as UTF-8 text, line by line, and
    reads it as raw float32 only when that raises `UnicodeDecodeError`. If the
    first non-empty line decodes (all-zero rows do), it parses text and fails.
    Lines are split both as TensorFlow's GFile does (on `\\n`) and as the
    TensorFlow-free stub does (universal newlines).
    """
    for pattern in (rb"\n", rb"\r\n|\r|\n"):
        pos = 0
        for match in re.finditer(pattern, data):
            line, pos = data[pos : match.start()], match.end()
            if line:
                break
        else:
            line = data[pos:]
        if not line:
            return False
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            continue
        return False
    return True


def _tensor_payload(matrix):
    """(bytes, format) for the tensor file."""
    data = np.ascontiguousarray(matrix, dtype="<f4").tobytes()
    if _readable_as_binary(data):
        return data, "binary"
    lines = ["\t".join(f"{v:.9g}" for v in row) for row in matrix.tolist()]
    return ("\n".join(lines) + "\n").encode("ascii"), "tsv"


# ------------------------------------------------------------------- config
# Fields of tensorboard/plugins/projector/projector_config.proto.
_SCHEMA = {
    "ProjectorConfig": {
        "model_checkpoint_path": ("string", False),
        "embeddings": ("EmbeddingInfo", True),
        "model_checkpoint_dir": ("string", False),
    },
    "EmbeddingInfo": {
        "tensor_name": ("string", False),
        "metadata_path": ("string", False),
        "bookmarks_path": ("string", False),
        "tensor_shape": ("uint32", True),
        "sprite": ("SpriteMetadata", False),
        "tensor_path": ("string", False),
    },
    "SpriteMetadata": {
        "image_path": ("string", False),
        "single_image_dim": ("uint32", True),
    },
}

_TOKEN = re.compile(
    r"""(?P<skip>\s+|\#[^\n]*)
    |(?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
    |(?P<number>[-+]?(?:0[xX][0-9a-fA-F]+|[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?))
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<punct>[{}<>:;,\[\]])""",
    re.VERBOSE,
)


class _ConfigParser:
    """Parser for the text-format `ProjectorConfig` TensorBoard reads.

    Accepts what protobuf's text format accepts for this message (comments,
    `field: value`, `field { }` / `field < >`, `[a, b]` lists, `;`/`,`
    separators) and rejects unknown fields, as TensorBoard would.
    """

    def __init__(self, text, path):
        self.text, self.path = text, path
        self.tokens = []
        pos = 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if not match:
                self._fail(pos, f"unexpected character {text[pos]!r}")
            if match.lastgroup != "skip":
                self.tokens.append((match.lastgroup, match.group(), pos, match.end()))
            pos = match.end()
        self.i = 0

    def _fail(self, pos, message):
        line = self.text.count("\n", 0, pos) + 1
        raise ProjectorConfigError(
            f"{self.path} line {line}: {message}. The Projector cannot read this "
            "file; it was left unchanged. Fix or remove it, or export to another "
            "log_dir."
        )

    def _peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _next(self, what):
        tok = self._peek()
        if tok is None:
            self._fail(len(self.text), f"expected {what}, found the end of the file")
        self.i += 1
        return tok

    def _accept(self, value):
        tok = self._peek()
        if tok is not None and tok[0] == "punct" and tok[1] == value:
            self.i += 1
            return tok
        return None

    def parse(self):
        """Return `[(field, value, start, end)]` for the top-level fields."""
        return self._message("ProjectorConfig", closing=None, top=True)

    def _message(self, type_name, closing, top=False):
        schema = _SCHEMA[type_name]
        fields, items, seen = {}, [], set()
        while True:
            tok = self._peek()
            if tok is None:
                if closing is not None:
                    self._fail(len(self.text), f"missing {closing!r}")
                break
            if closing is not None and tok[0] == "punct" and tok[1] == closing:
                self.i += 1
                break
            kind, name, start, _ = self._next("a field name")
            if kind != "ident":
                self._fail(start, f"expected a field name, found {name!r}")
            if name not in schema:
                self._fail(
                    start,
                    f"{type_name} has no field {name!r} (fields: {', '.join(schema)})",
                )
            field_type, repeated = schema[name]
            if not repeated and name in seen:
                self._fail(start, f"field {name!r} appears more than once")
            seen.add(name)
            values = self._field_values(field_type, name, start)
            if repeated:
                fields.setdefault(name, []).extend(values)
            else:
                fields[name] = values[0]
            if not self._accept(";"):
                self._accept(",")
            end = self.tokens[self.i - 1][3]
            if top:
                for value in values:
                    items.append((name, value, start, end))
        return items if top else fields

    def _field_values(self, field_type, name, start):
        is_message = field_type in _SCHEMA
        colon = self._accept(":")
        if self._accept("["):
            if not colon:
                self._fail(start, f"expected ':' after {name!r}")
            values = []
            if self._accept("]"):
                return values
            while True:
                values.append(self._value(field_type, name))
                if self._accept("]"):
                    return values
                if not self._accept(","):
                    tok = self._peek()
                    self._fail(tok[2] if tok else len(self.text), "expected ',' or ']'")
        if not is_message and not colon:
            self._fail(start, f"expected ':' after {name!r}")
        return [self._value(field_type, name)]

    def _value(self, field_type, name):
        if field_type in _SCHEMA:
            if self._accept("{"):
                return self._message(field_type, "}")
            if self._accept("<"):
                return self._message(field_type, ">")
            tok = self._peek()
            self._fail(
                tok[2] if tok else len(self.text), f"expected '{{' after {name!r}"
            )
        kind, text, start, _ = self._next(f"a value for {name!r}")
        if field_type == "string":
            if kind != "string":
                self._fail(start, f"{name!r} takes a quoted string, found {text!r}")
            parts = [text]
            while self._peek() is not None and self._peek()[0] == "string":
                parts.append(self._next("a string")[1])
            try:
                raw = b"".join(
                    codecs.escape_decode(p[1:-1].encode("utf-8"))[0] for p in parts
                )
                return raw.decode("utf-8")
            except (ValueError, UnicodeDecodeError) as e:
                self._fail(start, f"bad string {text}: {e}")
        if kind != "number" or not re.fullmatch(r"[0-9]+|0[xX][0-9a-fA-F]+", text):
            self._fail(start, f"{name!r} takes a non-negative integer, found {text!r}")
        value = int(text, 0) if text.lower().startswith("0x") else int(text)
        if value >= 2**32:
            self._fail(start, f"{name!r} is out of the uint32 range: {text}")
        return value


def read_config(log_dir):
    """Parse `log_dir/projector_config.pbtxt`.

    Returns:
        A list of dicts, one per `embeddings` entry (keys as in the proto:
        `tensor_name`, `tensor_path`, `metadata_path`, `tensor_shape`, ...);
        an empty list when there is no config.

    Raises:
        ProjectorConfigError: the file exists but does not parse.
    """
    path = os.path.join(log_dir, CONFIG_NAME)
    if not os.path.exists(path):
        return []
    text = _read_text(path)
    items = _ConfigParser(text, path).parse()
    return [value for field, value, _, _ in items if field == "embeddings"]


def _read_text(path):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise OSError(f"Cannot read {path}: {e.strerror or e}") from e
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise ProjectorConfigError(
            f"{path} line {line}: not UTF-8 text ({e.reason}). The file was left "
            "unchanged."
        ) from None


def _quote(text):
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _entry_text(name, tensor_rel, metadata_rel, shape):
    lines = [
        "embeddings {",
        f"  tensor_name: {_quote(name)}",
        f"  tensor_path: {_quote(tensor_rel)}",
        f"  metadata_path: {_quote(metadata_rel)}",
        f"  tensor_shape: {int(shape[0])}",
        f"  tensor_shape: {int(shape[1])}",
        "}",
    ]
    return "\n".join(lines) + "\n"


# -------------------------------------------------------------------- files
def _prepare_dir(log_dir):
    log_dir = os.fspath(log_dir)
    if os.path.exists(log_dir) and not os.path.isdir(log_dir):
        raise NotADirectoryError(
            f"`log_dir` must be a directory. Received: log_dir={log_dir!r}, which "
            "is a file."
        )
    try:
        os.makedirs(os.path.join(log_dir, DATA_DIR), exist_ok=True)
    except (FileExistsError, NotADirectoryError) as e:
        raise NotADirectoryError(
            f"Cannot create `log_dir`={log_dir!r}: {e.filename!r} is a file, not "
            "a directory."
        ) from None
    except OSError as e:
        raise PermissionError(
            f"Cannot write to `log_dir`={log_dir!r}: {e.strerror or e}. Choose a "
            "writable directory."
        ) from None


# Temporaries of earlier versions (`<final name>.tmp-<pid>-<token>`), unlocked.
_OLD_TEMP_RE = re.compile(r"(?P<final>.+)\.tmp-(?P<pid>[0-9]+)-[0-9a-f]{8}")
_OLD_TEMP_AGE = 60.0
# A data file after `<stem>-`: the key of the requested name, then a token.
_DATA_SUFFIX_RE = re.compile(
    r"(?:(?P<key>[0-9a-f]{8})-)?[0-9a-f]{6}\.(?:tensor\.bin|tensor\.tsv|metadata\.tsv)"
)
_DATA_FILE_RE = re.compile(r"[A-Za-z0-9_.-]+-" + _DATA_SUFFIX_RE.pattern)
_REFRESH_RUN_RE = re.compile(r"[0-9a-f]{8}")
_EVENT_FILE_RE = re.compile(r"events\.out\.tfevents\.[0-9]+\.keras_embedx")
_LOCK_WAIT = 60.0


@contextlib.contextmanager
def _locked(log_dir):
    """Hold `log_dir`'s export lock, across processes and threads.

    `flock` on `log_dir/projector/.lock` (released by the kernel when its
    holder dies); where `flock` is missing, a lock file created exclusively
    and removed on release.
    """
    path = os.path.join(log_dir, DATA_DIR, LOCK_NAME)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | _atomic.NOFOLLOW, 0o666)
    try:
        if fcntl is not None and _atomic.flock(fd, blocking=True):
            yield
        else:
            with _lock_file(f"{path}-held", log_dir):
                yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def _lock_file(path, log_dir):
    deadline = time.monotonic() + _LOCK_WAIT
    while True:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{path} has been held for {_LOCK_WAIT:.0f} s: another export "
                    f"into {log_dir} is running, or one was killed while holding "
                    "it. Remove the file if no export is running."
                ) from None
            time.sleep(0.01)
    try:
        yield
    finally:
        os.remove(path)


def _write_error(path, e):
    return PermissionError(
        f"Cannot write {path}: {e.strerror or e}. Choose a writable `log_dir`."
    )


def _atomic_write(path, data):
    """Write `path` through a temporary renamed into place (call under `_locked`)."""
    try:
        with _atomic.Temporary(os.path.dirname(path) or ".") as tmp:
            tmp.write(data)
            tmp.commit(path)
    except OSError as e:
        raise _write_error(path, e) from None


def _remove_stale_temporaries(log_dir):
    """Delete the temporaries killed exporters left (call under `_locked`).

    Only names of the shapes this module writes, in `log_dir` and
    `log_dir/projector`, regular files, whose writer is dead (see
    `keras_embedx._atomic`); an unlocked temporary of an earlier version
    counts only when its process is gone and it is a minute old.
    """
    config = functools.partial(_old_and_dead, re.compile(re.escape(CONFIG_NAME)))
    _atomic.remove_stale_temporaries(log_dir, also=config)
    data = functools.partial(_old_and_dead, _DATA_FILE_RE)
    _atomic.remove_stale_temporaries(
        os.path.join(log_dir, DATA_DIR), follow=False, also=data
    )


def _old_and_dead(finals, directory, name):
    """True for a temporary of an earlier version for a name `finals` matches."""
    old = _OLD_TEMP_RE.fullmatch(name)
    if old is None or not finals.fullmatch(old["final"]):
        return False
    try:
        age = time.time() - directory.lstat(name).st_mtime
    except OSError:
        return False
    return age > _OLD_TEMP_AGE and _atomic.pid_is_dead(int(old["pid"]))


def _metadata_payload(columns, row_ids):
    names = list(columns)
    cells = [[safe_label(columns[n][i]) for n in names] for i in row_ids.tolist()]
    lines = []
    if len(names) > 1:
        lines.append("\t".join(safe_label(n) for n in names))
    lines.extend("\t".join(row) for row in cells)
    return ("\n".join(lines) + "\n").encode("utf-8")


def _unique_name(name, taken):
    if name not in taken:
        return name
    k = 2
    while f"{name}-{k}" in taken:
        k += 1
    return f"{name}-{k}"


def _name_key(requested):
    """8 hex digits of the requested name, written into the file names.

    Names that `safe_name` maps to one tensor name (`"my model"` and
    `"my_model"`) keep distinct keys, so an export can tell a re-export of
    its own name from a collision with another.
    """
    data = requested.encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()[:8]


def _own_file(entry, key):
    """`(file name, name key)` when `entry[key]` names a file this module wrote.

    That is `projector/<stem>-[<name key>-]<token>.<kind>`, with `<stem>` the
    entry's tensor name (`/` as `_`); anything else (another tool's file, a
    subdirectory, `..`, an absolute path) gives None.
    """
    stem = str(entry.get("tensor_name", "")).replace("/", "_")
    rel = entry.get(key, "")
    prefix = f"{DATA_DIR}/{stem}-"
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", stem) or not rel.startswith(prefix):
        return None
    match = _DATA_SUFFIX_RE.fullmatch(rel[len(prefix) :])
    if match is None:
        return None
    return rel[len(DATA_DIR) + 1 :], match["key"]


def _choose_name(requested, entries, if_exists, config_path, warn=True):
    """The tensor name to write `requested` under, per `if_exists`."""
    taken = {e.get("tensor_name", "") for e in entries}
    base = safe_name(requested)
    if if_exists == "rename":
        return _unique_name(base, taken)
    key = _name_key(requested)
    family = re.compile(re.escape(base) + r"(?:-[0-9]+)?")
    own = []
    for entry in entries:
        name = entry.get("tensor_name", "")
        if not family.fullmatch(name):
            continue
        written = _own_file(entry, "tensor_path")
        entry_key = written[1] if written else None
        # Entries of other tools and earlier versions carry no key: same name.
        if entry_key == key or (entry_key is None and name == base):
            own.append(name)
    if own:
        name = base if base in own else own[0]
        if if_exists == "error":
            raise ValueError(
                f"{config_path} already has an embedding named {name!r}. Pass "
                "if_exists='replace' or 'rename', or another `name`."
            )
        return name
    if base not in taken:
        return base
    if if_exists == "error":
        raise ValueError(
            f"{config_path} already has an embedding named {base!r}, exported "
            f"under another name than {requested!r} (both map to {base!r}). Pass "
            "if_exists='rename', or another `name`."
        )
    name = _unique_name(base, taken)
    if warn:
        warnings.warn(
            f"{config_path} already has a tensor named {base!r} from an export "
            "of another name (tensor names keep only [A-Za-z0-9_.-/], so 'a b' "
            f"and 'a_b' both give 'a_b'). Exported `name={requested!r}` as "
            f"{name!r} to keep both; pass a name of those characters to choose "
            "the tensor name yourself.",
            stacklevel=6,
        )
    return name


# ------------------------------------------------------------------ refresh
def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def _masked_crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def event_file_bytes(wall_time=None):
    """A TensorBoard event file holding one `Event{wall_time, file_version}`.

    TFRecord framing (length, masked CRC32C of the length, data, masked
    CRC32C of the data) around a hand-encoded `tensorboard.Event` proto, so
    no TensorFlow or protobuf is needed.
    """
    wall_time = time.time() if wall_time is None else float(wall_time)
    version = b"brain.Event:2"
    event = b"\x09" + struct.pack("<d", wall_time) + b"\x1a"
    event += bytes([len(version)]) + version
    header = struct.pack("<Q", len(event))
    return (
        header
        + struct.pack("<I", _masked_crc32c(header))
        + event
        + struct.pack("<I", _masked_crc32c(event))
    )


_MARKER_SIZE = len(event_file_bytes(0))


def _mark_run(log_dir):
    """Make `log_dir` a run TensorBoard finds from any parent `--logdir`.

    TensorBoard lists a directory as a run only when it holds a non-empty
    event file, and reads projector configs of runs (and of the `--logdir`
    root) only. This writes `RUN_MARKER`, one data-less event, once per
    directory, and leaves every other file alone. Call it after the exports:
    a TensorBoard that sees the new run then sees all of its entries.
    """
    path = os.path.join(log_dir, RUN_MARKER)
    try:
        with _locked(log_dir):
            try:
                st = os.stat(path, follow_symlinks=False)
                if stat.S_ISREG(st.st_mode) and st.st_size == _MARKER_SIZE:
                    return
            except FileNotFoundError:
                pass
            _atomic_write(path, event_file_bytes())
    except OSError as e:
        if e.errno is None:  # Already says what failed.
            raise
        raise _write_error(e.filename or path, e) from None


def _signal_refresh(log_dir):
    """Make a running TensorBoard re-read `projector_config.pbtxt`.

    The Projector re-reads configs only when the set of runs changes, so
    this replaces the run `.projector-refresh/<token>` (one event file, no
    data) by a new one. Best effort: failures are ignored. Only runs of the
    shape written here are removed, never through a link.
    """
    base = os.path.join(log_dir, REFRESH_DIR)
    try:
        with _locked(log_dir):
            os.makedirs(base, exist_ok=True)
            with _atomic.Directory(base) as runs:
                old = [n for n in runs.names() if _REFRESH_RUN_RE.fullmatch(n)]
                run = os.path.join(base, secrets.token_hex(4))
                os.makedirs(run)
                stamp = time.time()
                path = os.path.join(
                    run, f"events.out.tfevents.{int(stamp)}.keras_embedx"
                )
                _atomic_write(path, event_file_bytes(stamp))
                for name in old:
                    _remove_refresh_run(runs, name)
    except OSError:
        pass


def _remove_refresh_run(runs, name):
    """Delete the run `name` if it holds only files written here."""
    try:
        run = runs.sub(name)
    except OSError:
        return
    with run:
        names = run.names()
        if not all(
            _EVENT_FILE_RE.fullmatch(n) or _atomic.TEMP_NAME.fullmatch(n) for n in names
        ):
            return
        for n in names:
            if _EVENT_FILE_RE.fullmatch(n):
                run.remove_file(n)
            else:
                _atomic.remove_if_stale(run, n)
    runs.remove_dir(name)


# ---------------------------------------------------------------------- API
def export_projector(
    log_dir,
    source,
    metadata=None,
    name=None,
    max_rows=None,
    counts=None,
    if_exists="replace",
    refresh=False,
):
    """Write an embedding table where the TensorBoard Projector shows it.

    Adds one `embeddings` entry to `log_dir/projector_config.pbtxt` (created
    if needed; other entries are kept) and writes the table and its labels
    under `log_dir/projector/`. No TensorFlow and no checkpoint are needed:
    run `tensorboard --logdir LOG_DIR` and open the Projector tab (run `"."`),
    or point `--logdir` at any directory above it (`tensorboard --logdir logs`
    over `logs/fit/run1`: the run `fit/run1`).

    TensorBoard lists a directory as a run only when it holds an event file,
    so `log_dir` gets one, `events.out.tfevents.0.keras_embedx` (one event,
    no data), written once and after the config. Other event files there,
    such as `keras.callbacks.TensorBoard`'s under `train/` and
    `validation/` or a summary writer's in `log_dir` itself, are left alone
    and read as before: the `0` sorts the file before theirs.

    The table goes to raw little-endian float32 with `tensor_shape`, which
    TensorBoard loads fast; when those bytes would be misread as text (an
    all-zero table decodes as UTF-8) it goes to a TSV of floats instead.
    Metadata gets a header row when it has several columns. Labels are made
    safe: tabs and line breaks become spaces, the padding token `""` becomes
    `"<pad>"` and other blank labels `"<blank>"`.

    The Projector shows at most 100,000 points; `max_rows` keeps the most
    frequent rows (by `counts` when known, else the first rows, which is
    frequency order for vector files and vocabularies built from text).

    Processes and threads may export into one `log_dir` at the same time:
    they take turns (a lock on `log_dir/projector/.lock`) to update the
    config, and every entry is kept. A killed export leaves the previous
    config and files as they were; the temporaries it left
    (`.keras_embedx-tmp-*`) are removed by the next export into `log_dir`.
    Replacing an entry deletes only the files this function wrote for it,
    never through a symbolic link.

    Args:
        log_dir: directory to write to (created if needed): the one you give
            `tensorboard --logdir`, or a run directory below it.
        source: a `keras_embedx.WordVectors` (labels: word, and count when
            known) or gensim `KeyedVectors`; a Keras layer or model (every
            keras_embedx table and `keras.layers.Embedding` in it; labels: the
            layer's vocabulary, and where each row came from for
            `PretrainedEmbedding`); or a 2D array (labels: row ids).
        metadata: optional labels replacing the default ones: a list with one
            label per table row, or a dict `{column: list}` for several
            columns.
        name: tensor name shown in the Projector. Defaults to the layer path,
            or `"vectors"`/the vector file's name, or `"embedding"`. Made
            URL-safe (`[A-Za-z0-9_.-/]`); when an export of another name
            already has the same safe name (`"my model"` and `"my_model"`),
            this one gets a `-2`, `-3`, ... suffix and a warning
            (`ProjectorExport.name` is the name used).
        max_rows: optional int, keep at most this many rows.
        counts: optional frequencies, one per table row, used by `max_rows`
            and written as a `count` column. Defaults to `WordVectors.counts`.
        if_exists: what to do when `log_dir` already has an entry exported
            under this name: `"replace"` (default) it and delete its files,
            `"rename"` the new one (`name-2`, ...), or `"error"`.
        refresh: bool, make a TensorBoard that is already running show the
            new entry. TensorBoard re-reads projector configs only when its
            set of runs changes, so this swaps a data-less run
            `.projector-refresh/<token>` for a new one (it then appears in
            TensorBoard's run lists). Defaults to `False`; the callback
            turns it on.

    Returns:
        A `ProjectorExport` (name, paths, shape, format, rows written); a
        list of them when `source` holds several tables.

    Raises:
        ValueError: NaN/infinite rows, metadata of the wrong length, an
            unparsable `projector_config.pbtxt` (`ProjectorConfigError`; the
            file is left unchanged).
        NotADirectoryError, PermissionError: `log_dir` is a file or cannot
            be written.
        TimeoutError: (file systems without `flock` only) another export
            held `log_dir`'s lock file for a minute.

    Example:

    >>> import tempfile
    >>> from gensim.test.utils import datapath
    >>> wv = keras_embedx.load_vectors(datapath("toy-model.vec"))
    >>> out = keras_embedx.export_projector(tempfile.mkdtemp(), wv, name="toy")
    >>> out.name, out.shape, out.tensor_format
    ('toy', (22, 5), 'binary')
    """
    log_dir = os.fspath(log_dir)
    results = _export_sources(
        log_dir, source, metadata, name, max_rows, counts, if_exists
    )
    _mark_run(log_dir)
    if refresh:
        _signal_refresh(log_dir)
    return results[0] if len(results) == 1 else results


def _export_sources(log_dir, source, metadata, name, max_rows, counts, if_exists):
    """Export every table of `source`; the list of `ProjectorExport`."""
    if if_exists not in _IF_EXISTS:
        raise ValueError(
            f"`if_exists` must be one of {_IF_EXISTS}. Received: {if_exists!r}"
        )
    sources = _sources_of(source)
    if name is not None and len(sources) > 1:
        for s in sources:
            s.name = f"{name}/{s.name}"
    elif name is not None:
        sources[0].name = str(name)
    if len(sources) > 1 and (metadata is not None or counts is not None):
        raise ValueError(
            f"`source` holds {len(sources)} tables "
            f"({[s.name for s in sources]}); `metadata` and `counts` apply to one "
            "table. Export each table on its own."
        )
    # A loop, not a comprehension: warnings name the caller's line (stacklevel).
    results = []
    for s in sources:
        results.append(_export_one(log_dir, s, metadata, max_rows, counts, if_exists))
    return results


def _export_one(log_dir, src, metadata, max_rows, counts, if_exists):
    matrix = np.asarray(src.matrix)
    _check_shape(matrix)
    rows = matrix.shape[0]
    if counts is not None:
        counts = np.asarray(counts)
        if counts.shape != (rows,):
            raise ValueError(
                f"`counts` must have one entry per table row ({rows} rows). "
                f"Received: shape={counts.shape}"
            )
        src.columns = {k: v for k, v in src.columns.items() if k != "count"}
        if metadata is None:
            src.columns["count"] = [str(int(c)) for c in counts]
    else:
        counts = src.counts
    columns = _metadata_columns(metadata, rows, src.columns)
    _check_finite(matrix, next(iter(columns.values()), None))
    row_ids = _pick_rows(rows, max_rows, counts)
    table = np.ascontiguousarray(matrix[row_ids], dtype=np.float32)
    if len(table) > MAX_POINTS:
        warnings.warn(
            f"Exporting {len(table)} rows: the Projector shows only the first "
            f"{MAX_POINTS}. Pass max_rows={MAX_POINTS} to keep the most frequent.",
            stacklevel=4,
        )
    tensor_bytes, tensor_format = _tensor_payload(table)
    metadata_bytes = _metadata_payload(columns, row_ids)

    # Check the config and the name before touching anything on disk.
    config_path = os.path.join(log_dir, CONFIG_NAME)
    requested = str(src.name)
    if os.path.isdir(log_dir):
        _, items = _read_config_items(config_path)
        _choose_name(requested, _entries(items), if_exists, config_path, warn=False)
    _prepare_dir(log_dir)
    data_dir = os.path.join(log_dir, DATA_DIR)
    temps = []
    try:
        with _locked(log_dir):
            _remove_stale_temporaries(log_dir)
            temps = [_atomic.Temporary(data_dir), _atomic.Temporary(data_dir)]
        # The tables are written outside the lock; other exporters go on.
        for temp, data in zip(temps, (tensor_bytes, metadata_bytes)):
            temp.write(data)
        with _locked(log_dir):
            name, tensor_path, metadata_path = _commit(
                log_dir, requested, if_exists, temps, tensor_format, table.shape
            )
    except OSError as e:
        if e.errno is None:  # Already says what failed.
            raise
        raise _write_error(e.filename or log_dir, e) from None
    finally:
        for temp in temps:
            temp.discard()
    return ProjectorExport(
        name=name,
        log_dir=log_dir,
        run=".",
        config_path=config_path,
        tensor_path=tensor_path,
        metadata_path=metadata_path,
        shape=tuple(int(s) for s in table.shape),
        tensor_format=tensor_format,
        row_ids=row_ids,
        columns=tuple(columns),
    )


def _read_config_items(config_path):
    """`(text, items)` of the config; `("", [])` when there is none."""
    if not os.path.exists(config_path):
        return "", []
    text = _read_text(config_path)
    return text, _ConfigParser(text, config_path).parse()


def _entries(items):
    return [value for field, value, _, _ in items if field == "embeddings"]


def _commit(log_dir, requested, if_exists, temps, tensor_format, shape):
    """Rename the written temporaries into place and add their config entry.

    Called under `_locked`: the config read here is the latest, and no other
    exporter changes it before this one's update is in place.
    """
    config_path = os.path.join(log_dir, CONFIG_NAME)
    text, items = _read_config_items(config_path)
    name = _choose_name(requested, _entries(items), if_exists, config_path)
    stem = f"{name.replace('/', '_')}-{_name_key(requested)}-{secrets.token_hex(3)}"
    kind = "bin" if tensor_format == "binary" else "tsv"
    rels = (f"{DATA_DIR}/{stem}.tensor.{kind}", f"{DATA_DIR}/{stem}.metadata.tsv")
    paths = [os.path.join(log_dir, *rel.split("/")) for rel in rels]
    committed = []
    try:
        for temp, path in zip(temps, paths):
            temp.commit(path)
            committed.append(path)
        # Drop the entries this one replaces, keep everything else verbatim.
        replaced = [
            (start, end, value)
            for field, value, start, end in items
            if field == "embeddings" and value.get("tensor_name") == name
        ]
        new_text = text
        for start, end, _ in sorted(replaced, reverse=True):
            if new_text[end : end + 1] == "\n":
                end += 1
            new_text = new_text[:start] + new_text[end:]
        if new_text and not new_text.endswith("\n"):
            new_text += "\n"
        new_text += _entry_text(name, rels[0], rels[1], shape)
        _atomic_write(config_path, new_text.encode("utf-8"))
    except BaseException:
        for path in committed:
            try:
                os.remove(path)
            except OSError:
                pass
        raise
    kept = [v for v in _entries(items) if v.get("tensor_name") != name]
    in_use = set(rels)
    for entry in kept:
        in_use.update(v for v in entry.values() if isinstance(v, str))
    _remove_own_files(log_dir, [value for _, _, value in replaced], in_use)
    return name, paths[0], paths[1]


def _remove_own_files(log_dir, entries, in_use):
    """Delete replaced entries' files: only those this module wrote.

    A file goes only when its path has the shape this module writes for that
    entry's name (`projector/<stem>-...` with no other directory), no entry
    still names it, and it is a regular file reached without a link.
    """
    names = []
    for entry in entries:
        for key in ("tensor_path", "metadata_path"):
            own = _own_file(entry, key)
            if own is not None and entry[key] not in in_use:
                names.append(own[0])
    if not names:
        return
    try:
        with _atomic.Directory(os.path.join(log_dir, DATA_DIR)) as directory:
            for name in names:
                directory.remove_file(name)
    except OSError:
        pass


# ---------------------------------------------------------------------- CLI
def run_project(args):
    """Handler of `keras-embedx project`; returns the exit status."""
    wv = load_cli_vectors(args)
    if not len(wv):
        raise ValueError(f"{args.path}: no word vectors to export (0 rows loaded).")
    name = args.name or os.path.basename(args.path)
    result = export_projector(args.log_dir, wv, name=name, max_rows=args.max_rows)
    print(
        f"Wrote {result.shape[0]} x {result.shape[1]} ({result.tensor_format}) as "
        f"{result.name!r} to {result.log_dir}"
    )
    print("Open it with:")
    print(f"  {result.tensorboard_command()}")
    print("then the PROJECTOR tab (http://localhost:6006/#projector).")
    return 0
