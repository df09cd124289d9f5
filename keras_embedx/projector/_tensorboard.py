"""The tensorboard and protobuf modules the Projector files are made with.

Imported on first use, so that `keras_embedx.projector` imports without
tensorboard. None of them imports TensorFlow.
"""

import types

INSTALL_HINT = "pip install keras-embedx[projector]"


def require():
    """tensorboard's projector config proto, Event proto and record writer,
    and protobuf's text and JSON formats, as one namespace.

    Raises:
        ImportError: tensorboard (or protobuf) is not installed.
    """
    try:
        from google.protobuf import json_format, text_format
        from tensorboard.compat.proto import event_pb2
        from tensorboard.plugins.projector import projector_config_pb2
        from tensorboard.summary.writer import record_writer
    except ImportError as e:
        raise ImportError(
            "Writing TensorBoard Projector files needs the `tensorboard` package, "
            f"which could not be imported ({e}). Install it with: "
            f"`{INSTALL_HINT}` (or `pip install tensorboard`)."
        ) from e
    return types.SimpleNamespace(
        json_format=json_format,
        text_format=text_format,
        Event=event_pb2.Event,
        ProjectorConfig=projector_config_pb2.ProjectorConfig,
        EmbeddingInfo=projector_config_pb2.EmbeddingInfo,
        RecordWriter=record_writer.RecordWriter,
    )
