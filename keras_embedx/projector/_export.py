"""`export_projector` and the `keras-embedx project` command."""

import dataclasses
import os
import re
import secrets
import warnings

import numpy as np

from keras_embedx import _atomic
from keras_embedx.projector import _config, _events, _files, _names, _payload
from keras_embedx.projector._sources import sources_of
from keras_embedx.projector._tensorboard import require
from keras_embedx.vectors.load import load_cli_vectors

MAX_POINTS = 100_000
_IF_EXISTS = ("replace", "rename", "error")


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
    under `log_dir/projector/`. No TensorFlow and no checkpoint are needed,
    only the `tensorboard` package (`pip install keras-embedx[projector]`):
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
        ImportError: tensorboard is not installed.

    Example:

    >>> import tempfile
    >>> from gensim.test.utils import datapath
    >>> wv = keras_embedx.load_vectors(datapath("toy-model.vec"))
    >>> out = keras_embedx.export_projector(tempfile.mkdtemp(), wv, name="toy")
    >>> out.name, out.shape, out.tensor_format
    ('toy', (22, 5), 'binary')
    """
    log_dir = os.fspath(log_dir)
    results = export_sources(
        log_dir, source, metadata, name, max_rows, counts, if_exists
    )
    _events.mark_run(log_dir)
    if refresh:
        _events.signal_refresh(log_dir)
    return results[0] if len(results) == 1 else results


def export_sources(log_dir, source, metadata, name, max_rows, counts, if_exists):
    """Export every table of `source`; the list of `ProjectorExport`."""
    require()
    if if_exists not in _IF_EXISTS:
        raise ValueError(
            f"`if_exists` must be one of {_IF_EXISTS}. Received: {if_exists!r}"
        )
    sources = sources_of(source)
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
    _payload.check_shape(matrix)
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
    columns = _payload.metadata_columns(metadata, rows, src.columns)
    _payload.check_finite(matrix, next(iter(columns.values()), None))
    row_ids = _payload.pick_rows(rows, max_rows, counts)
    table = np.ascontiguousarray(matrix[row_ids], dtype=np.float32)
    if len(table) > MAX_POINTS:
        warnings.warn(
            f"Exporting {len(table)} rows: the Projector shows only the first "
            f"{MAX_POINTS}. Pass max_rows={MAX_POINTS} to keep the most frequent.",
            stacklevel=4,
        )
    tensor_bytes, tensor_format = _payload.tensor_payload(table)
    metadata_bytes = _payload.metadata_payload(columns, row_ids)

    # Check the config and the name before touching anything on disk.
    config_path = os.path.join(log_dir, _config.CONFIG_NAME)
    requested = str(src.name)
    if os.path.isdir(log_dir):
        _, config = _config.load(config_path)
        _names.choose_name(
            requested, config.embeddings, if_exists, config_path, warn=False
        )
    _files.prepare_dir(log_dir)
    data_dir = os.path.join(log_dir, _files.DATA_DIR)
    temps = []
    try:
        with _files.locked(log_dir):
            _files.remove_stale_temporaries(log_dir)
            temps = [_atomic.Temporary(data_dir), _atomic.Temporary(data_dir)]
        # The tables are written outside the lock; other exporters go on.
        for temp, data in zip(temps, (tensor_bytes, metadata_bytes)):
            temp.write(data)
        with _files.locked(log_dir):
            name, tensor_path, metadata_path = _commit(
                log_dir, requested, if_exists, temps, tensor_format, table.shape
            )
    except OSError as e:
        if e.errno is None:  # Already says what failed.
            raise
        raise _files.write_error(e.filename or log_dir, e) from None
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


def _commit(log_dir, requested, if_exists, temps, tensor_format, shape):
    """Rename the written temporaries into place and add their config entry.

    Called under `_files.locked`: the config read here is the latest, and no
    other exporter changes it before this one's update is in place.
    """
    tb = require()
    config_path = os.path.join(log_dir, _config.CONFIG_NAME)
    text, config = _config.load(config_path)
    name = _names.choose_name(requested, config.embeddings, if_exists, config_path)
    key = _names.name_key(requested)
    stem = f"{name.replace('/', '_')}-{key}-{secrets.token_hex(3)}"
    kind = "bin" if tensor_format == "binary" else "tsv"
    data_dir = _files.DATA_DIR
    rels = (f"{data_dir}/{stem}.tensor.{kind}", f"{data_dir}/{stem}.metadata.tsv")
    paths = [os.path.join(log_dir, *rel.split("/")) for rel in rels]
    entry = tb.EmbeddingInfo(
        tensor_name=name,
        tensor_path=rels[0],
        metadata_path=rels[1],
        tensor_shape=[int(s) for s in shape],
    )
    committed = []
    try:
        for temp, path in zip(temps, paths):
            temp.commit(path)
            committed.append(path)
        new_text = _config.with_entry(text, config, entry)
        _files.atomic_write(config_path, new_text.encode("utf-8"))
    except BaseException:
        for path in committed:
            try:
                os.remove(path)
            except OSError:
                pass
        raise
    replaced = [e for e in config.embeddings if e.tensor_name == name]
    in_use = set(rels)
    for kept in config.embeddings:
        if kept.tensor_name != name:
            in_use.update(_paths_of(kept))
    _files.remove_own_files(log_dir, replaced, in_use)
    return name, paths[0], paths[1]


def _paths_of(entry):
    """Every file path an `EmbeddingInfo` names."""
    return (
        entry.tensor_path,
        entry.metadata_path,
        entry.bookmarks_path,
        entry.sprite.image_path,
    )


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
