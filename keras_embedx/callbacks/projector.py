"""`ProjectorCallback`: the model's embedding tables in the TensorBoard Projector."""

import os

import keras

from keras_embedx._checks import check_positive_int
from keras_embedx.projector._events import mark_run, signal_refresh
from keras_embedx.projector._export import MAX_POINTS, export_sources
from keras_embedx.projector._sources import layer_sources, table_layers
from keras_embedx.projector._tensorboard import require


def _check_optional_positive_int(name, value):
    if value is None:
        return None
    return check_positive_int(name, value)


class ProjectorCallback(keras.callbacks.Callback):
    """Writes a model's embedding tables where the TensorBoard Projector shows them.

    Every `every_n_epochs` epochs (and once more at the end of `fit` when
    the last epoch was not due), each table of the model's keras_embedx layers
    and each plain `keras.layers.Embedding`, also those nested inside other
    layers or models, is exported with `keras_embedx.export_projector`:
    labelled with the layer's vocabulary (padding shown as `<pad>`) and, for
    `PretrainedEmbedding`, where each row came from (`pretrained`,
    `lowercase`, `missing`, `oov`, `padding`). Plain `Embedding` rows are
    labelled by id.

    Each export gets its own tensor name, `<layer path>/epoch_<n>` in the
    first `fit`, `<layer path>/fit_<k>/epoch_<n>` in later ones, with a `-2`,
    `-3`, ... suffix when the name is already taken (an earlier run into the
    same `log_dir`), so the Projector's tensor menu lists every epoch and never
    serves a stale copy. The entries go to `log_dir/projector_config.pbtxt`,
    and `log_dir` is made a TensorBoard run (an event file with no data,
    `events.out.tfevents.0.keras_embedx`), so `tensorboard --logdir` finds
    them when pointed at `log_dir` (the run `"."`) or at any directory above
    it: `ProjectorCallback("logs/fit/run1")` and `tensorboard --logdir logs`
    show the run `fit/run1`. This works with or without
    `keras.callbacks.TensorBoard` writing to the same `log_dir` (its scalars
    go to the runs `<log_dir>/train` and `<log_dir>/validation`; leave its
    `embeddings_freq` at 0: it rewrites `projector_config.pbtxt` at the start
    of every `fit`) and without TensorFlow installed; it needs the
    `tensorboard` package (`pip install keras-embedx[projector]`).

    A TensorBoard that is already running re-reads projector configs only
    when its list of runs changes; with `refresh=True` each export swaps a
    data-less run `.projector-refresh/<token>` for a new one so that reloading
    the Projector page shows the new epoch.

    Args:
        log_dir: directory that `tensorboard --logdir` will serve, or a run
            directory below it (the layout of `keras.callbacks.TensorBoard`,
            `logs/fit/<run>`).
        layers: optional list of layer names, paths or layer objects whose
            tables to export; defaults to every table in the model.
        every_n_epochs: int, export after every this many epochs. Defaults
            to 1.
        max_rows: int or None, keep at most this many rows per table (the
            first ones, which are the most frequent words for vocabularies
            built from text or vector files). Defaults to 100,000, the most
            the Projector shows.
        refresh: bool, let a running TensorBoard pick up each export.
            Defaults to `True`.

    Example:

    >>> import tempfile
    >>> import numpy as np
    >>> log_dir = tempfile.mkdtemp()
    >>> model = keras.Sequential(
    ...     [keras.layers.Embedding(20, 4, name="emb"), keras.layers.Dense(1)]
    ... )
    >>> model.compile("sgd", "mse")
    >>> cb = keras_embedx.callbacks.ProjectorCallback(log_dir)
    >>> x, y = np.ones((8, 3), "int32"), np.zeros((8, 3, 1))
    >>> _ = model.fit(x, y, epochs=2, callbacks=[cb], verbose=0)
    >>> [e.name for e in cb.exports]
    ['emb/epoch_1', 'emb/epoch_2']

    Then run `tensorboard --logdir LOG_DIR` (or a directory above it) and
    open the Projector tab.

    Reference:
        - [TensorBoard Projector](https://www.tensorflow.org/tensorboard/tensorboard_projector_plugin)
    """

    def __init__(
        self,
        log_dir,
        layers=None,
        every_n_epochs=1,
        max_rows=MAX_POINTS,
        refresh=True,
    ):
        super().__init__()
        require()  # Fails before training when tensorboard is missing.
        if not isinstance(log_dir, (str, os.PathLike)):
            raise ValueError(
                "`log_dir` must be a path (str or os.PathLike). Received: "
                f"log_dir={log_dir!r}"
            )
        if os.path.exists(log_dir) and not os.path.isdir(log_dir):
            raise NotADirectoryError(
                f"`log_dir` must be a directory. Received: log_dir={log_dir!r}, "
                "which is a file."
            )
        self.log_dir = os.fspath(log_dir)
        if isinstance(layers, (str, keras.layers.Layer)):
            layers = [layers]
        self.layers = None if layers is None else list(layers)
        self.every_n_epochs = _check_optional_positive_int(
            "every_n_epochs", every_n_epochs
        )
        if self.every_n_epochs is None:
            raise ValueError("`every_n_epochs` must be a positive int. Received: None")
        self.max_rows = _check_optional_positive_int("max_rows", max_rows)
        self.refresh = bool(refresh)
        self.exports = []
        self._fits = 0
        self._last_epoch = None
        self._last_exported = None

    def on_train_begin(self, logs=None):
        self._fits += 1
        self._last_epoch = None
        self._last_exported = None
        if not table_layers(self.model, self.layers):
            raise ValueError(
                f"ProjectorCallback found no embedding table in model "
                f"{self.model.name!r}: expected keras_embedx layers or "
                "`keras.layers.Embedding`"
                + (f" among layers={self.layers!r}" if self.layers else "")
                + "."
            )

    def on_epoch_end(self, epoch, logs=None):
        self._last_epoch = epoch
        if (epoch + 1) % self.every_n_epochs == 0:
            self.export(epoch)

    def on_train_end(self, logs=None):
        if self._last_epoch is not None and self._last_exported != self._last_epoch:
            self.export(self._last_epoch)

    def export(self, epoch):
        """Export every table now, named `<layer>/epoch_<epoch + 1>`."""
        fit = f"/fit_{self._fits}" if self._fits > 1 else ""
        written = []
        for source in layer_sources(self.model, self.layers):
            written.extend(
                export_sources(
                    self.log_dir,
                    source.matrix,
                    metadata=source.columns,
                    name=f"{source.name}{fit}/epoch_{epoch + 1}",
                    max_rows=self.max_rows,
                    counts=None,
                    if_exists="rename",
                )
            )
        if written:
            # After every table: a TensorBoard that sees the new run sees all.
            mark_run(self.log_dir)
        if self.refresh and written:
            signal_refresh(self.log_dir)
        self._last_exported = epoch
        self.exports.extend(written)
        return written
