"""The table behind every keras_embedx layer: `EmbeddingTable`.

A `[num_rows, output_dim]` table split in two parts, so that frozen rows
cost nothing in the optimizer:

- `frozen_table`: the rows that do not train, a non-trainable variable
  indexed by row id like the table itself, stored as
  `keras_embedx.layers._storage` encodes it (float32, float16, bfloat16,
  or int8 with a per-row scale). A trainable row's entry is never read as
  that row's value; in a float32 table it holds a copy of the row (see
  `keras_embedx.layers._fast.torch.merged_frozen`);
- `trainable_table`: the `num_trainable` rows that train, a trainable
  float32 variable.

When a table has both, `row_index` gives each row's slot in
`trainable_table`, or a negative number for a frozen row, and how fast
frozen rows learn is `keras_embedx.layers._schedule`'s business. A lookup
gathers the ids' rows from `frozen_table` and their slots from
`row_index`, and takes the rows of trainable slots from `trainable_table`,
so only the gathered rows are touched, never the whole matrix. The
backends' faster ways to do so are in `keras_embedx.layers._fast`.
"""

import inspect
import warnings

import keras
import numpy as np
from keras import ops

from keras_embedx._checks import (
    check_choice,
    check_fits_memory,
    check_positive_int,
    width_error,
)
from keras_embedx.layers import _schedule
from keras_embedx.layers._fast import (
    forget_merged,
    fused_on_tensorflow,
    take_rows,
    take_slots,
    torch_eager,
    torch_mixed_rows,
    torch_remap_in_range,
)
from keras_embedx.layers._ids import out_of_range_error
from keras_embedx.layers._row_sparse import (
    check_row_optimizer,
    make_row_sparse,
    serialize_row_optimizer,
    sparse_rows,
)
from keras_embedx.layers._sharding import row_shards
from keras_embedx.layers._storage import STORAGE_DTYPES, VARIABLE_NAMES, codec

OUT_OF_RANGE_MODES = ("oov", "error")


def to_int_ids(ids):
    """Cast ids to int32 unless they already are int32/int64.

    Unsigned 32- and 64-bit ids become int64, so that ids past int32 stay
    out of range (the OOV row) instead of wrapping onto a real row.
    """
    dtype = ops.dtype(ids)
    if dtype in ("uint32", "uint64"):
        return ops.cast(ids, "int64")
    if dtype not in ("int32", "int64"):
        ids = ops.cast(ids, "int32")
    return ids


# The code of `keras.Layer.__call__` itself (under Keras' traceback filter,
# whose wrapper code every filtered public function shares).
_LAYER_CALL_CODE = inspect.unwrap(keras.Layer.__call__).__code__


def in_layer_call():
    """True while some Keras layer (or model) is being called.

    Covers every backend and mode alike: a traced `fit` or `predict`
    step, an eager PyTorch step, a symbolic call building a functional
    model, and `model(x)`; not a callback between steps or user code outside
    any call.
    """
    frame = inspect.currentframe()
    while frame is not None:
        if frame.f_code is _LAYER_CALL_CODE:
            return True
        frame = frame.f_back
    return False


def embeddings_value(table):
    """A layer's `embeddings`: a tensor in a layer call, else a NumPy copy.

    Read while a layer is called (a tied output projection in another
    layer's `call`), the merged float32 table as a backend tensor whose
    gradient reaches the rows that train (`EmbeddingTable.dense_table`);
    read elsewhere, the NumPy copy `EmbeddingTable.full_table` (inspection,
    callbacks).
    """
    if in_layer_call():
        return table.dense_table("float32")
    return table.full_table()


def is_concrete(x):
    """True when `x` holds values (eager), False inside a traced function."""
    try:
        ops.convert_to_numpy(x)
    except Exception:
        return False
    return True


def remap_out_of_range(ids, num_rows, oov_id, mode="oov"):
    """Send ids outside `[0, num_rows)`, negative ones included, to `oov_id`.

    Only the ids are transformed, never the table. Mode "error" raises a
    `ValueError` when the ids are concrete (eager execution, any backend).
    Inside a compiled function, where no backend can raise from data, the
    offending positions are returned as a bool mask for the caller to fill
    with NaN, so the problem surfaces in the loss instead of a silently
    wrong row.

    Returns:
        `(ids, bad)`: int ids within range, and None or the bool mask.
    """
    ids = to_int_ids(ids)
    if mode == "oov" and torch_eager():
        # Eager PyTorch pays Keras' per-op dispatch for each op below.
        return torch_remap_in_range(ids, num_rows, oov_id), None
    bad = ops.logical_or(ops.less(ids, 0), ops.greater_equal(ids, num_rows))
    if mode == "error" and is_concrete(ids):
        bad_np = ops.convert_to_numpy(bad)
        if bad_np.any():
            raise out_of_range_error(num_rows, ops.convert_to_numpy(ids), bad_np)
        return ids, None
    ids = ops.where(bad, oov_id, ids)
    return ids, (bad if mode == "error" else None)


@keras.saving.register_keras_serializable(package="keras_embedx")
class EmbeddingTable(keras.layers.Layer):
    """A table with frozen and trainable rows, used by every keras_embedx layer.

    Rows listed as frozen never reach the optimizer (their variable is not
    trainable); the other rows train. With `schedulable=True`, the frozen
    rows learn at `unfreeze_factor` times the full rate (0 by default): each
    step moves them by that factor times the update the optimizer would
    apply to a trainable row. `keras_embedx.callbacks.UnfreezeSchedule`
    changes the factor during `fit`.

    `trainable` is Keras' switch for the whole table: `False` freezes every
    row (no variable of the table is trainable), `True` restores the
    frozen/trainable split the table was built with. Frozen rows stay frozen
    when it is set to `True` (with a warning naming the ways to thaw them),
    and owner layers pass their own `trainable=False` on to their table.

    Tables whose variables could not fit this machine's memory (RAM plus
    swap) are refused when constructed, before anything is allocated: a
    `.keras` config with impossible sizes raises a `ValueError` naming
    them.

    Args:
        num_rows: int, rows of the table.
        output_dim: int, width of each row.
        num_frozen: int, how many rows are frozen (which ones is stored in the
            `row_index` weight and set by `set_table`). Defaults to 0.
        schedulable: bool, give frozen rows a trainable float32 copy so
            their learning rate can be scheduled (and, for low-precision
            storage, a float32 offset that keeps what they learned). Costs
            one float32 copy of the frozen rows (two with low-precision
            storage) plus the optimizer's slots for one. Defaults to
            `False`.
        storage_dtype: dtype of the frozen rows: `"float32"`, `"float16"`,
            `"bfloat16"` or `"int8"` (per-row scale). Defaults to `"float32"`.
        embeddings_initializer: initializer of the trainable rows. A
            `keras.initializers.Constant` holding a `[num_rows, output_dim]`
            matrix sets every row, frozen ones included.
        embeddings_regularizer: regularizer of the trainable rows.
        embeddings_constraint: constraint of the trainable rows (applied
            by the optimizer after each update, as Keras does).
        row_optimizer: None (the model's optimizer trains the rows) or a
            `keras_embedx.optimizers` optimizer that trains them row-sparsely:
            each training step updates only the rows its batch looks up.

    Call arguments:
        ids: int tensor of any shape with values in `[0, num_rows)`.
        training: bool, whether the call is a training step (row-sparse
            training records its rows only then).

    Input shape:
        Any shape `(...)`.

    Output shape:
        `(..., output_dim)`.
    """

    def __init__(
        self,
        num_rows,
        output_dim,
        num_frozen=0,
        schedulable=False,
        storage_dtype="float32",
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        embeddings_constraint=None,
        row_optimizer=None,
        **kwargs,
    ):
        num_rows = check_positive_int("num_rows", num_rows)
        output_dim = check_positive_int("output_dim", output_dim)
        num_frozen = check_positive_int("num_frozen", num_frozen, allow_zero=True)
        if num_frozen > num_rows:
            raise ValueError(
                "`num_frozen` cannot exceed `num_rows`. Received: "
                f"num_frozen={num_frozen}, num_rows={num_rows}"
            )
        check_choice("storage_dtype", storage_dtype, STORAGE_DTYPES)
        if storage_dtype != "float32" and num_frozen == 0:
            raise ValueError(
                f"storage_dtype={storage_dtype!r} applies to frozen rows, and this "
                "table has none. Freeze rows (the layer's `freeze` argument) or "
                "keep storage_dtype='float32'."
            )
        super().__init__(**kwargs)
        self.num_rows = num_rows
        self.output_dim = output_dim
        self.num_frozen = num_frozen
        self.num_trainable = num_rows - num_frozen
        self.schedulable = bool(schedulable)
        self.storage_dtype = storage_dtype
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.embeddings_regularizer = keras.regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = keras.constraints.get(embeddings_constraint)
        self.row_optimizer = check_row_optimizer(
            row_optimizer, self.embeddings_regularizer, self.embeddings_constraint
        )
        self._row_sparse = None
        # The table casts its output itself; its variables are never
        # autocast, even when the owner layer runs inside an autocast scope
        # and calls `lookup` directly.
        self.autocast = False
        # Row-axis variables are padded to a multiple of this (set in build).
        self._shards = 1
        self._initial_matrix = self._check_initializer()
        check_fits_memory(
            f"A table of {num_rows:,} rows x {output_dim:,} columns (the layer's "
            "input_dim or vocabulary size x output_dim)",
            self._variable_bytes(),
            "Check the layer's sizes (input_dim, vocabulary_size, num_buckets, "
            "output_dim, embedding_dim): a saved config asking for this is "
            "damaged or was not written by keras_embedx.",
        )

    def _check_initializer(self):
        """The matrix of a `Constant` initializer that sets whole rows, or None.

        A matrix must be `[num_rows, output_dim]` (a vector or a single row
        is broadcast over the rows as Keras does); any other shape is
        refused here rather than failing inside the initializer.
        """
        init = self.embeddings_initializer
        if not isinstance(init, keras.initializers.Constant):
            return None
        shape = tuple(getattr(init.value, "shape", None) or np.shape(init.value))
        if not shape:
            return None
        if shape[-1] != self.output_dim:
            raise width_error(
                "The rows of `embeddings_initializer`",
                shape[-1],
                "output_dim",
                self.output_dim,
                f"Pass output_dim={shape[-1]} to keep their width; to start "
                "from pretrained vectors, `PretrainedEmbedding.from_vectors(wv, "
                "vocabulary)` takes the width from them.",
            )
        if len(shape) > 2 or (len(shape) == 2 and shape[0] not in (1, self.num_rows)):
            raise ValueError(
                "`embeddings_initializer` must hold one row per row of the table, "
                f"[{self.num_rows}, {self.output_dim}] (input_dim x output_dim), "
                f"or one row to repeat. Received: a matrix of shape {shape}"
            )
        if len(shape) == 2 and shape[0] == self.num_rows > 1:
            return init.value
        return None

    def _variable_bytes(self):
        """Bytes of the variables `build` creates (before any padding)."""
        total = self.num_trainable * self.output_dim * 4
        if self.num_frozen:
            storage = codec(self.storage_dtype)
            total += self.num_rows * storage.row_bytes(self.output_dim) + 4
            if self.schedulable:
                cells = self.num_rows * self.output_dim
                total += cells * 4 * (2 if storage.lossy else 1)
        if self.is_mixed:
            total += self.num_rows * 4
        return total

    @staticmethod
    def follow_owner_trainable(owner):
        """Give `owner`'s tables and sublayers its `trainable=False`.

        For the end of an owner layer's `__init__`: `keras.layers.Layer`
        applies `trainable=False` to the sublayers it has when the argument
        is set, before the owner creates its table and sublayers, whose
        variables would then still train. Assigning `owner.trainable =
        False` again does not help: TensorFlow's attribute tracking skips
        an assignment of the value an attribute already holds.
        """
        if not owner.trainable:
            keras.layers.Layer.trainable.fset(owner, False)

    @property
    def trainable(self):
        return keras.layers.Layer.trainable.fget(self)

    @trainable.setter
    def trainable(self, value):
        keras.layers.Layer.trainable.fset(self, value)
        if value and self.num_frozen:
            warnings.warn(
                "`trainable = True` trains the trainable rows of table "
                f"{self.path or self.name!r}; "
                f"its {self.num_frozen} frozen rows stay frozen, as the layer's "
                "`freeze=` argument asks. To thaw them during `fit`, build the "
                "layer with `schedulable=True` and add "
                "`keras_embedx.callbacks.UnfreezeSchedule`; to train every row, "
                "build it with `freeze='none'`.",
                UserWarning,
                stacklevel=3,
            )

    @property
    def is_mixed(self):
        return self.num_frozen > 0 and self.num_trainable > 0

    def build(self, input_shape=None):
        if self.built:
            return
        # Under a keras.distribution that shards the rows (JAX needs even
        # shards), zero rows are appended up to a multiple of the shards.
        self._shards = row_shards(self)
        if self.quantization_mode is not None:
            # A quantized table saved in a `.keras` file: its owner restores
            # the quantized dtype policy before building (see `_quantize`).
            self._check_quantization_mode(self.quantization_mode)
            self._set_quantized_layout()
        self._make_variables()
        self.built = True
        if self.quantization_mode is not None:
            self._is_quantized = True
        if self._initial_matrix is not None:
            matrix = self._initial_matrix
            if not isinstance(matrix, (list, tuple, np.ndarray)):
                matrix = ops.convert_to_numpy(matrix)
            self.set_table(matrix)

    def _make_variables(self):
        d = self.output_dim
        # Frozen rows are indexed by row id (a table with trainable rows too
        # keeps an entry for each of them, see the module docstring).
        n_frozen = self._padded(self.num_rows)
        if self.num_frozen:
            codec(self.storage_dtype).create(self, n_frozen, d)
            _schedule.create(self, n_frozen, d, trainable=self.row_optimizer is None)
        initializer = self.embeddings_initializer
        if self._initial_matrix is not None:
            initializer = "zeros"  # the whole matrix is set below
        if self.num_trainable:
            self.trainable_table = self._weight(
                "trainable_table",
                (self._padded(self.num_trainable), d),
                initializer=initializer,
                regularizer=self.embeddings_regularizer,
                constraint=self.embeddings_constraint,
                trainable=self.row_optimizer is None,
            )
        if self.is_mixed:
            self.row_index = self._weight(
                "row_index", (self._padded(self.num_rows),), dtype="int32"
            )
            # Default layout: the first `num_frozen` rows frozen.
            trainable = np.arange(self.num_rows) >= self.num_frozen
            self.row_index.assign(self._pad_rows(_schedule.slots(trainable)))
        self._row_sparse = make_row_sparse(self)

    def _weight(
        self, name, shape, dtype="float32", initializer="zeros", trainable=False, **kw
    ):
        # Never autocast: the table casts its output itself, and owners call
        # `lookup` from inside their own autocast scope.
        return self.add_weight(
            name=name,
            shape=shape,
            dtype=dtype,
            initializer=initializer,
            trainable=trainable,
            autocast=False,
            **kw,
        )

    # ------------------------------------------------------------ quantize
    _VARIABLE_NAMES = (
        "trainable_table",
        *VARIABLE_NAMES,
        "unfreeze_factor",
        "frozen_live",
        "frozen_offset",
        "row_index",
    )

    def quantize(self, mode=None, type_check=True, config=None):
        """Store every row as int8 with a per-row scale (Keras' quantize hook).

        `model.quantize("int8")` calls this for each table. The table then
        holds the int8 rows and their float32 scales (as
        `storage_dtype="int8"` stores frozen rows); no row trains any more
        (the trainable rows, their slots and any scheduled learning are
        dropped), and the dtype policy becomes `"int8_from_<policy>"`. Other
        modes raise `NotImplementedError` (`model.quantize` turns that into
        a warning and leaves the table as it is).

        Args:
            mode: `"int8"`.
            type_check: bool, refuse subclasses (as Keras' layers do).
            config: None or a `keras.quantizers.Int8QuantizationConfig`
                without a custom weight quantizer.
        """
        if type_check and type(self) is not EmbeddingTable:
            raise self._not_implemented_error(self.quantize)
        self._check_quantization_mode(mode)
        if self.row_optimizer is not None:
            raise NotImplementedError(
                f"Table {self.name!r} trains with a row optimizer; quantize a "
                "copy built with row_optimizer=None (load its weights) instead."
            )
        quantizer = getattr(config, "weight_quantizer", None)
        if quantizer is not None:
            raise NotImplementedError(
                f"Table {self.name!r} quantizes each row with its own abs-max "
                "scale (the int8 storage of keras_embedx); a custom weight "
                "quantizer is not supported. Received: "
                f"weight_quantizer={quantizer!r}"
            )
        matrix = self.full_table()
        for name in self._VARIABLE_NAMES:
            if name in self.__dict__:
                delattr(self, name)
        self._set_quantized_layout()
        self._make_variables()
        codec(self.storage_dtype).store(self, matrix)
        self._is_quantized = True
        forget_merged(self)
        policy = keras.dtype_policies.get(f"{mode}_from_{self.dtype_policy.name}")
        self.dtype_policy = policy

    def _check_quantization_mode(self, mode):
        if mode != "int8":
            raise NotImplementedError(
                "keras_embedx tables support quantization mode 'int8' (int8 "
                "rows with a per-row float32 scale). For other compressed "
                "storage use storage_dtype='float16' or 'bfloat16' on the "
                f"frozen rows. Received: mode={mode!r}"
            )

    def _set_quantized_layout(self):
        """The layout of a quantized table: every row frozen, stored as int8."""
        self.num_frozen = self.num_rows
        self.num_trainable = 0
        self.storage_dtype = "int8"
        self.schedulable = False
        self._initial_matrix = None

    def _int8_call(self, ids):
        # The int8 rows are the table's own storage: `call` reads them.
        return self.call(ids)

    # ------------------------------------------------------------------ lookup
    def lookup(self, ids, oov_id=None, out_of_range="oov", training=None):
        """`self(ids)` without a nested layer call's bookkeeping.

        Layers that own a table call this from their own `call`: the table
        is built with its owner, and Keras' per-call work (autocasting,
        masks, name scopes) already ran for the owner.

        Args:
            ids: int tensor of any shape.
            oov_id: None (the ids lie in `[0, num_rows)`), or the row that
                ids outside that range read (see `remap_out_of_range`).
            out_of_range: with `oov_id`: `"oov"`, or `"error"` to raise
                when the ids are concrete, and give NaN rows at the
                offending positions inside a compiled function.
            training: bool, whether this is a training step.
        """
        if oov_id is None:
            return self.call(ids, training=training)
        ids, bad = remap_out_of_range(ids, self.num_rows, oov_id, mode=out_of_range)
        out = self.call(ids, training=training)
        if bad is not None:
            out = ops.where(ops.expand_dims(bad, -1), float("nan"), out)
        return out

    def call(self, ids, training=None):
        if self._row_sparse is not None:
            out = sparse_rows(self, to_int_ids(ids), training)
        else:
            out = self._rows(to_int_ids(ids))
        if ops.dtype(out) != self.compute_dtype:
            out = ops.cast(out, self.compute_dtype)
        return out

    def _rows(self, ids):
        """The rows of int ids in `[0, num_rows)`, in the variables' dtype."""
        if not self.num_frozen:
            out = take_rows(self.trainable_table, ids)
        elif not self.num_trainable:
            out = self._frozen_rows(ids)
        elif torch_eager():
            out = torch_mixed_rows(self, ids, self._frozen_rows)
        elif self.schedulable:
            # TensorFlow cannot differentiate a `cond` inside an XLA cluster
            # called from a graph without XLA: no fused path here.
            out = self._mixed(ids)
        else:
            out = fused_on_tensorflow(self, self._mixed, ids)
        return out

    def _mixed(self, ids):
        slots = take_rows(self.row_index, ids)
        train = take_slots(self.trainable_table, slots)
        is_frozen = ops.expand_dims(ops.less(slots, 0), -1)
        return ops.where(is_frozen, self._frozen_rows(ids), train)

    def _frozen_rows(self, ids):
        return _schedule.frozen_rows(self, ids)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    # ---------------------------------------------------------- NumPy access
    def set_table(self, matrix, frozen_mask=None):
        """Assign the whole table from NumPy.

        Args:
            matrix: float array `[num_rows, output_dim]`.
            frozen_mask: bool array `[num_rows]` with exactly `num_frozen`
                True entries; defaults to the first `num_frozen` rows.
        """
        self.flush_rows()
        matrix = np.asarray(matrix, dtype="float32")
        if matrix.shape != (self.num_rows, self.output_dim):
            raise ValueError(
                f"Expected a matrix of shape {(self.num_rows, self.output_dim)}. "
                f"Received: shape={matrix.shape}"
            )
        if frozen_mask is None:
            frozen_mask = np.arange(self.num_rows) < self.num_frozen
        frozen_mask = np.asarray(frozen_mask, dtype=bool)
        if (
            frozen_mask.shape != (self.num_rows,)
            or frozen_mask.sum() != self.num_frozen
        ):
            raise ValueError(
                f"`frozen_mask` must have shape ({self.num_rows},) and "
                f"{self.num_frozen} True entries. Received: shape={frozen_mask.shape}, "
                f"{int(frozen_mask.sum())} True"
            )
        if not self.built:
            self.build()
        forget_merged(self)
        if self.num_frozen:
            # Storage that keeps copies of the trainable rows in their
            # entries gets them; other storage, zeros.
            storage = codec(self.storage_dtype)
            if storage.keeps_copies:
                matrix_frozen = matrix
            else:
                matrix_frozen = np.where(frozen_mask[:, None], matrix, 0)
            storage.store(self, matrix_frozen)
            _schedule.reset(self)
        if self.num_trainable:
            self.trainable_table.assign(self._pad_rows(matrix[~frozen_mask]))
        if self.is_mixed:
            self.row_index.assign(self._pad_rows(_schedule.slots(~frozen_mask)))

    def frozen_mask(self):
        """Bool NumPy array `[num_rows]`: which rows are frozen."""
        return _schedule.frozen_mask(self)

    def full_table(self):
        """The effective table as a float32 NumPy array `[num_rows, output_dim]`."""
        if not self.built:
            self.build()
        self.flush_rows()
        if self.num_frozen:
            frozen = _schedule.frozen_values(self)
            out = ops.convert_to_numpy(frozen)[: self.num_rows]
        else:
            out = np.empty((self.num_rows, self.output_dim), dtype="float32")
        if self.num_trainable:
            train = ops.convert_to_numpy(self.trainable_table)[: self.num_trainable]
            if self.is_mixed:
                slots = _schedule.row_slots(self)
                out[slots >= 0] = train[slots[slots >= 0]]
            else:
                out[:] = train
        return out

    # ------------------------------------------------------------- schedule
    @property
    def factor(self):
        """How fast frozen rows learn now: 0 (frozen) to 1 (full rate)."""
        return _schedule.factor(self)

    def set_factor(self, value):
        """Set how fast the frozen rows learn, in [0, 1].

        The table's values do not jump: the rows' values are carried over
        into `frozen_live` (rescaled for the new factor), and when the
        factor returns to 0 what the rows learned is stored back into
        `frozen_table` (or, for low-precision storage, `frozen_offset`).
        Call it outside compiled functions (from a callback, between
        steps); on JAX inside `fit`, sync the trainer state first
        (`UnfreezeSchedule` does).

        Args:
            value: float in [0, 1]; above 0 needs `schedulable=True`.
        """
        value = _schedule.check_factor(self, value)
        if not self.num_frozen:
            return
        if not self.built:
            self.build()
        self.flush_rows()
        forget_merged(self)
        _schedule.set_factor(self, value)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_rows": self.num_rows,
                "output_dim": self.output_dim,
                "num_frozen": self.num_frozen,
                "schedulable": self.schedulable,
                "storage_dtype": self.storage_dtype,
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer
                ),
                "embeddings_regularizer": keras.regularizers.serialize(
                    self.embeddings_regularizer
                ),
                "embeddings_constraint": keras.constraints.serialize(
                    self.embeddings_constraint
                ),
                "row_optimizer": serialize_row_optimizer(self.row_optimizer),
            }
        )
        return config

    # ------------------------------------------- whole table as a tensor
    def dense_table(self, dtype=None):
        """The effective table `[num_rows, output_dim]` as a differentiable tensor.

        Frozen and trainable rows merged in row order (through `row_index`),
        frozen rows dequantised and with their scheduled change. Gradients
        reach the trainable variables as in `call`. A table with only
        trainable rows reads its variable without copying; use it where
        every row is needed at once (a tied output projection
        `hidden @ table.T`).

        Args:
            dtype: dtype of the result; defaults to the compute dtype.
        """
        if not self.built:
            self.build()
        dtype = self.compute_dtype if dtype is None else dtype
        if self._row_sparse is not None:
            self._row_sparse.commit()
        if self.num_frozen:
            table = self._rows(ops.arange(self.num_rows, dtype="int32"))
        else:
            table = self.trainable_table
            if self._shards > 1:
                table = table[: self.num_trainable]
        return ops.cast(table, dtype)

    # ------------------------------------------------- distribution padding
    # For keras_embedx.distribution: JAX shards only axes
    # that divide evenly, so under a distribution that shards the rows the
    # row-axis variables get zero rows at the end (never read). Saved
    # weights leave them out, so files load on any mesh or backend.
    def _padded(self, rows):
        return -(-rows // self._shards) * self._shards

    def _pad_rows(self, array):
        array = np.asarray(array)
        extra = self._padded(len(array)) - len(array)
        if not extra:
            return array
        return np.concatenate([array, np.zeros((extra, *array.shape[1:]), array.dtype)])

    def _logical_rows(self, variable):
        if self._row_sparse is not None:
            rows = self._row_sparse.logical_rows(variable)
            if rows is not None:
                return rows
        if variable.name == "trainable_table":
            return self.num_trainable
        if variable.name == "row_index":
            return self.num_rows
        if variable.name.startswith("frozen_"):
            return self.num_rows
        return None

    def flush_rows(self):
        """Apply a pending row-sparse update now (a no-op without `row_optimizer`).

        A row-sparse training step leaves its update to be applied by the
        table's next call; reads from outside a call (`full_table`, saving,
        `get_weights`) apply it first.
        """
        if self._row_sparse is not None and self.built:
            self._row_sparse.flush()

    def get_weights(self):
        self.flush_rows()
        return super().get_weights()

    def set_weights(self, weights):
        forget_merged(self)
        super().set_weights(weights)

    def save_own_variables(self, store):
        self.flush_rows()
        if self._shards == 1:
            return super().save_own_variables(store)
        staged = {}
        super().save_own_variables(staged)
        variables = self._trainable_variables + self._non_trainable_variables
        for key, value in staged.items():
            rows = self._logical_rows(variables[int(key)])
            store[key] = value if rows is None else ops.convert_to_numpy(value)[:rows]

    def load_own_variables(self, store):
        forget_merged(self)
        if self._shards > 1:
            variables = self._trainable_variables + self._non_trainable_variables
            store = {
                key: (
                    self._pad_rows(store[key])
                    if int(key) < len(variables)
                    and self._logical_rows(variables[int(key)]) is not None
                    else store[key]
                )
                for key in store.keys()
            }
        return super().load_own_variables(store)
