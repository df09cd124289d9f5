"""Write embedding tables where the TensorBoard Projector reads them.

`export_projector` is the one writer behind `ProjectorCallback` and
`keras-embedx project`. It needs neither TensorFlow nor a checkpoint: the
table goes to a raw little-endian float32 file declared with `tensor_shape`
(or to a TSV of floats when those bytes would be misread as text), the labels
to a metadata TSV, and an `embeddings { ... }` entry is added to
`projector_config.pbtxt` in `log_dir`, keeping every other entry of that file.
`log_dir` also gets one data-less event file, which makes it a run that
TensorBoard finds from `log_dir` or any directory above it.

The config is read and written with tensorboard's `ProjectorConfig` proto
and protobuf's text format, the event file with tensorboard's record writer,
none of which imports TensorFlow. tensorboard is an optional dependency
(`pip install keras-embedx[projector]`): this module imports without it, and
writing or reading Projector files raises an `ImportError` that says so.

Files are written to temporary names and renamed into place, tensor and
metadata first and the config last, so a crash never leaves the config
pointing at a half-written file. Exporters into one `log_dir` (processes or
threads) take turns on a lock while they update the config, so every one of
them ends up in it; the temporaries a killed exporter left are removed by the
next export. An export only ever deletes files of the shapes it writes, inside
`log_dir`, and never through a symbolic link.
"""

from keras_embedx.projector._config import (
    CONFIG_NAME,
    ProjectorConfigError,
    read_config,
)
from keras_embedx.projector._events import REFRESH_DIR, RUN_MARKER, event_file_bytes
from keras_embedx.projector._export import (
    MAX_POINTS,
    ProjectorExport,
    export_projector,
    run_project,
)
from keras_embedx.projector._files import DATA_DIR, LOCK_NAME
from keras_embedx.projector._names import safe_name
from keras_embedx.projector._payload import BLANK_LABEL, safe_label
from keras_embedx.projector._sources import (
    PAD_LABEL,
    EmbeddingSource,
    layer_sources,
    table_layers,
)

__all__ = [
    "BLANK_LABEL",
    "CONFIG_NAME",
    "DATA_DIR",
    "LOCK_NAME",
    "MAX_POINTS",
    "PAD_LABEL",
    "REFRESH_DIR",
    "RUN_MARKER",
    "EmbeddingSource",
    "ProjectorConfigError",
    "ProjectorExport",
    "event_file_bytes",
    "export_projector",
    "layer_sources",
    "read_config",
    "run_project",
    "safe_label",
    "safe_name",
    "table_layers",
]
