"""Tensor names: URL-safe, and which entry an export replaces or keeps."""

import hashlib
import re
import warnings

from keras_embedx.projector._files import own_file


def safe_name(name):
    """A tensor name safe in URLs and file names: `[A-Za-z0-9_.-/]` only."""
    text = re.sub(r"[^A-Za-z0-9_.\-/]+", "_", str(name))
    parts = [part.strip(".") for part in text.split("/")]
    text = "/".join(part for part in parts if part)
    return text[:200] or "embedding"


def _unique_name(name, taken):
    if name not in taken:
        return name
    k = 2
    while f"{name}-{k}" in taken:
        k += 1
    return f"{name}-{k}"


def name_key(requested):
    """8 hex digits of the requested name, written into the file names.

    Names that `safe_name` maps to one tensor name (`"my model"` and
    `"my_model"`) keep distinct keys, so an export can tell a re-export of
    its own name from a collision with another.
    """
    data = requested.encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()[:8]


def choose_name(requested, entries, if_exists, config_path, warn=True):
    """The tensor name to write `requested` under, per `if_exists`.

    `entries` are the config's `EmbeddingInfo` protos.
    """
    taken = {e.tensor_name for e in entries}
    base = safe_name(requested)
    if if_exists == "rename":
        return _unique_name(base, taken)
    key = name_key(requested)
    family = re.compile(re.escape(base) + r"(?:-[0-9]+)?")
    own = []
    for entry in entries:
        name = entry.tensor_name
        if not family.fullmatch(name):
            continue
        written = own_file(name, entry.tensor_path)
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
