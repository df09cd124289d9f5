"""The tensor and metadata files' bytes, and the checks before they are made."""

import re

import numpy as np

BLANK_LABEL = "<blank>"
_LINE_BREAKS = re.compile(r"[\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def safe_label(label):
    """A metadata cell the Projector shows as written.

    Tabs and line breaks become spaces (they would split cells and rows);
    blank labels become `"<blank>"` (the frontend drops them and shifts every
    later label).
    """
    text = _LINE_BREAKS.sub(" ", str(label))
    return text if text.strip() else BLANK_LABEL


def check_shape(matrix):
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


def check_finite(matrix, labels):
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


def metadata_columns(metadata, rows, default):
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


def pick_rows(rows, max_rows, counts):
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


def tensor_payload(matrix):
    """(bytes, format) for the tensor file."""
    data = np.ascontiguousarray(matrix, dtype="<f4").tobytes()
    if _readable_as_binary(data):
        return data, "binary"
    lines = ["\t".join(f"{v:.9g}" for v in row) for row in matrix.tolist()]
    return ("\n".join(lines) + "\n").encode("ascii"), "tsv"


def metadata_payload(columns, row_ids):
    names = list(columns)
    cells = [[safe_label(columns[n][i]) for n in names] for i in row_ids.tolist()]
    lines = []
    if len(names) > 1:
        lines.append("\t".join(safe_label(n) for n in names))
    lines.extend("\t".join(row) for row in cells)
    return ("\n".join(lines) + "\n").encode("utf-8")
