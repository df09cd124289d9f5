"""`projector_config.pbtxt`, read and written with tensorboard's proto.

The file is parsed with protobuf's text format into tensorboard's
`ProjectorConfig`, as TensorBoard parses it, and entries are written as
protobuf prints them.
"""

import os
import re

from keras_embedx.projector._tensorboard import require

CONFIG_NAME = "projector_config.pbtxt"


class ProjectorConfigError(ValueError):
    """`projector_config.pbtxt` exists but is not a valid projector config."""


def read_config(log_dir):
    """Parse `log_dir/projector_config.pbtxt`.

    Returns:
        A list of dicts, one per `embeddings` entry (keys as in the proto:
        `tensor_name`, `tensor_path`, `metadata_path`, `tensor_shape`, ...);
        an empty list when there is no config.

    Raises:
        ProjectorConfigError: the file exists but does not parse.
        ImportError: tensorboard is not installed.
    """
    tb = require()
    _, config = load(os.path.join(log_dir, CONFIG_NAME))
    return [
        tb.json_format.MessageToDict(entry, preserving_proto_field_name=True)
        for entry in config.embeddings
    ]


def load(path):
    """`(text, ProjectorConfig)` of the config at `path`, empty when there is none."""
    tb = require()
    config = tb.ProjectorConfig()
    if not os.path.exists(path):
        return "", config
    text = _read_text(path)
    try:
        tb.text_format.Parse(text, config)
    except tb.text_format.ParseError as e:
        where = "" if e.GetLine() is None else f" line {e.GetLine()}"
        reason = re.sub(r"^[0-9]+:[0-9]+ : ", "", str(e)).rstrip(".")
        raise ProjectorConfigError(
            f"{path}{where}: {reason}. The Projector cannot read this file; it "
            "was left unchanged. Fix or remove it, or export to another log_dir."
        ) from None
    return text, config


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


def entry_text(entry):
    """One `embeddings { ... }` entry (an `EmbeddingInfo`), as protobuf prints it."""
    tb = require()
    config = tb.ProjectorConfig(embeddings=[entry])
    return tb.text_format.MessageToString(config, as_utf8=True)


def with_entry(text, config, entry):
    """The config `text` (parsed: `config`) with `entry` replacing the entries
    of its tensor name, or added.

    The rest of `text` is kept byte for byte when the entries it replaces
    are there as protobuf prints them (as this module writes them); else the
    remaining entries are printed anew by protobuf.
    """
    tb = require()
    kept = tb.ProjectorConfig()
    kept.CopyFrom(config)
    del kept.embeddings[:]
    kept.embeddings.extend(
        e for e in config.embeddings if e.tensor_name != entry.tensor_name
    )
    new_text = text if not text or text.endswith("\n") else text + "\n"
    if len(kept.embeddings) < len(config.embeddings):
        for old in config.embeddings:
            if old.tensor_name == entry.tensor_name:
                new_text = _cut_block(new_text, entry_text(old))
        try:
            same = tb.text_format.Parse(new_text, tb.ProjectorConfig()) == kept
        except tb.text_format.ParseError:
            same = False
        if not same:
            new_text = tb.text_format.MessageToString(kept, as_utf8=True)
    return new_text + entry_text(entry)


def _cut_block(text, block):
    """`text` without its first copy of the lines `block`."""
    start = 0
    while (at := text.find(block, start)) >= 0:
        if at == 0 or text[at - 1] == "\n":
            return text[:at] + text[at + len(block) :]
        start = at + 1
    return text
