"""How a table stores its frozen rows: one codec per storage dtype.

A codec creates the variables that hold the frozen rows, writes rows into
them and reads rows back as float32. The table and its schedule reach the
stored rows only through `codec(storage_dtype)`; a new storage dtype is a
new codec in `CODECS` (and its variable names in
`keras_embedx.layers._sharding.ROW_VARIABLES` if it adds any).
"""

import numpy as np
from keras import ops

from keras_embedx.layers._fast import take_rows


class Cast:
    """Frozen rows stored in a float dtype and read back as float32.

    Variables: `frozen_table` `[rows, width]` in that dtype.
    """

    variable_names = ("frozen_table",)

    def __init__(self, dtype, item_bytes):
        self.dtype = dtype
        self.item_bytes = item_bytes

    @property
    def lossy(self):
        """Whether storing rounds the rows (a schedulable table then keeps
        what its frozen rows learned in a float32 offset)."""
        return self.dtype != "float32"

    @property
    def keeps_copies(self):
        """Whether the entries of trainable rows hold copies of those rows."""
        return self.dtype == "float32"

    def row_bytes(self, width):
        """Bytes one stored row takes."""
        return width * self.item_bytes

    def create(self, table, rows, width):
        table.frozen_table = table._weight(
            "frozen_table", (rows, width), dtype=self.dtype
        )

    def store(self, table, matrix):
        """Write a float32 `[num_rows, width]` matrix (padded to the variables)."""
        table.frozen_table.assign(table._pad_rows(matrix))

    def read_rows(self, table, ids):
        """Float32 stored rows of in-range ids."""
        rows = take_rows(table.frozen_table, ids)
        return rows if self.dtype == "float32" else ops.cast(rows, "float32")

    def read_all(self, table):
        """Float32 tensor of every stored row (padding rows included)."""
        return ops.cast(table.frozen_table, "float32")


class Int8(Cast):
    """Frozen rows stored as int8 with a float32 abs-max scale per row.

    Variables: `frozen_table` `[rows, width]` int8 and `frozen_scale`
    `[rows, 1]` float32; a row reads `frozen_table * frozen_scale`.
    """

    variable_names = ("frozen_table", "frozen_scale")

    def __init__(self):
        super().__init__("int8", 1)

    def row_bytes(self, width):
        return width * self.item_bytes + 4

    def create(self, table, rows, width):
        super().create(table, rows, width)
        table.frozen_scale = table._weight(
            "frozen_scale", (rows, 1), initializer="ones"
        )

    def store(self, table, matrix):
        scale = np.abs(matrix).max(axis=1, keepdims=True) / 127.0
        scale = np.where(scale == 0, 1.0, scale).astype("float32")
        table.frozen_scale.assign(table._pad_rows(scale))
        quantized = np.clip(np.rint(matrix / scale), -127, 127).astype("int8")
        table.frozen_table.assign(table._pad_rows(quantized))

    def read_rows(self, table, ids):
        return super().read_rows(table, ids) * take_rows(table.frozen_scale, ids)

    def read_all(self, table):
        return super().read_all(table) * table.frozen_scale


CODECS = {
    "float32": Cast("float32", 4),
    "float16": Cast("float16", 2),
    "bfloat16": Cast("bfloat16", 2),
    "int8": Int8(),
}
STORAGE_DTYPES = tuple(CODECS)
#: Every variable name a codec may create.
VARIABLE_NAMES = tuple(
    dict.fromkeys(n for c in CODECS.values() for n in c.variable_names)
)


def codec(storage_dtype):
    """The codec of a storage dtype (one of `STORAGE_DTYPES`)."""
    return CODECS[storage_dtype]
