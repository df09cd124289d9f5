"""The one table mechanism behind every keras_embedx layer.

`EmbeddingTable` stores a `[num_rows, output_dim]` table split into two
parts so that frozen rows cost nothing in the optimizer:

- `frozen_table`: the rows that do not train, a non-trainable variable
  (optionally stored as float16, bfloat16 or int8 with a per-row scale),
  indexed by row id like the table itself. A trainable row's entry is
  never read as that row's value; in a float32 table it holds a copy of the
  row, written by `set_table` and refreshed by eager PyTorch lookups
  without gradients, which then need one gather (see `_synced_frozen`);
- `trainable_table`: the `num_trainable` rows that train, a trainable
  float32 variable.

When a table has both, `row_index` (int32, non-trainable) gives each row's
slot in `trainable_table`, or a negative number for a frozen row (see
`take_slots`). A lookup gathers the ids' rows from `frozen_table` and their
slots from `row_index`, and takes the rows of trainable slots from
`trainable_table`, so only the gathered rows are touched, never the whole
matrix. Both gathers use the ids themselves, so neither waits for the
other. On TensorFlow these steps run as one XLA cluster even in a graph
without XLA (see `fused_on_tensorflow`), where each would otherwise be a
separate pass over the output.

With `schedulable=True` the frozen rows also learn, at a rate set by the
non-trainable scalar `unfreeze_factor` (f, 0 by default), which
`UnfreezeSchedule` moves during `fit` without recompiling (`torch.compile`
compiles once more, the first time f leaves 0: its `ops.cond` is a Python
branch that `torch.compile` specialises on). While f == 0 a
frozen row reads `frozen_table`, and nothing reaches it. While f > 0 it
reads

    f * frozen_live

where `frozen_live` is a trainable float32 variable holding the row's value
divided by f, and the row's full gradient reaches `frozen_live` unscaled.
The optimizer therefore computes the same update for `frozen_live` as for a
fully trainable row, and the row moves by f times that update: f is a
per-row learning-rate multiplier for every optimizer, Adam and RMSprop
included (scaling the gradient instead would not slow them down, because
they divide it by its own running magnitude). Decoupled weight decay, which
shrinks a variable in proportion to itself, shrinks the row at the full
rate. Either way a lookup gathers from one variable, as a plain trainable
table does. `set_factor` rescales `frozen_live` (`live *= f_old / f_new`)
so the table does not jump when the factor changes, and when the factor
returns to 0 it stores what the rows learned back into `frozen_table`.
Rows stored in low precision keep that change in a non-trainable float32
`frozen_offset` instead (read as `frozen_table + frozen_offset` while
f == 0), so it is not rounded away.
"""

import inspect
import warnings
import weakref

import keras
import numpy as np
from keras import ops

from keras_embedx._checks import (
    check_choice,
    check_fits_memory,
    check_positive_int,
    width_error,
)
from keras_embedx.layers._backend import (
    is_concrete,
    scaled_rows,
    take_rows,
    torch_eager,
    torch_exporting,
    torch_tensor,
)
from keras_embedx.layers._ids import out_of_range_error
from keras_embedx.layers._row_sparse import (
    check_row_optimizer,
    make_row_sparse,
    serialize_row_optimizer,
    sparse_rows,
)
from keras_embedx.layers._sharding import row_shards

STORAGE_DTYPES = ("float32", "float16", "bfloat16", "int8")
_ITEM_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}
# Frozen rows' positions read (and send a zero gradient to) this many
# trainable rows at most; see `take_slots`.
FROZEN_SPREAD = 1024
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


def take_slots(table, slots):
    """Rows `table[slots]` where `slots >= 0`; the other positions are dropped.

    For the trainable rows of a mixed table: a frozen row's slot is
    negative, and the caller replaces its position with the frozen row, so
    the gradient reaching that position is zero. On JAX the gradient
    scatter skips those positions (see `_take_slots_jax`). Elsewhere a
    frozen row's slot `s` reads slot `-1 - s`: `row_index` stores
    `-1 - (row % m)` for frozen rows, with `m` the trainable rows or
    `FROZEN_SPREAD` if fewer, which spreads those zero gradients over up to
    1024 rows (tables saved with -1 everywhere send them all to row 0, with
    the same result). Why and what it costs: docs/design/lookup-history.md.
    """
    if keras.config.backend() == "jax":
        return _take_slots_jax(ops.convert_to_tensor(table), slots)
    return take_rows(table, ops.maximum(slots, ops.subtract(-1, slots)))


@ops.custom_gradient
def _take_slots_jax(table, slots):
    """`take_slots` on JAX: in-range reads, and a gradient that skips drops.

    The forward reads slot 0 at dropped positions and zeroes them: every
    index stays in range, which runtimes that check bounds require (the
    LiteRT interpreter running a SavedModel exported from JAX fails on
    "fill" mode's out-of-range reads, which XLA would clamp). The gradient
    is the transpose of "fill" mode's gather: a scatter that drops those
    positions.
    """
    import jax.numpy as jnp  # backend fast path, imported only on JAX

    keep = ops.expand_dims(ops.greater_equal(slots, 0), -1)
    rows = jnp.take(table, ops.maximum(slots, 0), axis=0, mode="clip")
    out = ops.where(keep, rows, ops.zeros((), table.dtype))

    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        dropped = jnp.where(slots < 0, table.shape[0], slots)
        return jnp.zeros_like(table).at[dropped].add(upstream, mode="drop"), None

    return out, grad


def compiled_when_eager(layer, fn, *args):
    """`fn(*args)`, run as one compiled call when JAX executes eagerly.

    Op-by-op JAX dispatches every small op of a lookup (remapping ids,
    gathering from two parts, selecting) separately, which costs more than
    the gather itself. Called eagerly on JAX with concrete arrays, this
    traces `fn` once per input signature with `jax.jit`, reading `layer`'s
    variables through a `keras.StatelessScope`, and runs it as one kernel;
    inside a traced function (`fit`, `predict`, `jax.grad`) and on the
    other backends it simply calls `fn(*args)`.
    """
    if keras.config.backend() != "jax":
        return fn(*args)
    import jax  # backend fast path, imported only on JAX

    if any(
        isinstance(a, jax.core.Tracer) or keras.backend.is_keras_tensor(a) for a in args
    ):
        return fn(*args)
    return _compiled(layer, "_compiled_when_eager", fn, jax.jit)(*args)


def fused_on_tensorflow(layer, fn, *args):
    """`fn(*args)`, run on TensorFlow as one XLA cluster, however it is called.

    A TensorFlow graph without XLA (how Keras compiles `fit` and `predict`
    unless `jit_compile=True`) runs every op as its own kernel; compiled
    with `tf.function(jit_compile=True)`, XLA fuses the mixed lookup's
    gathers and select into one pass, inside a graph without XLA, eagerly,
    or inlined into a graph that already is XLA. The values stay exact
    (gathers and a select, no arithmetic is reordered). XLA compiles once
    per shape of the inputs. Inside a graph (`fit`, `predict`, `model.export`), the ops are marked
    for one XLA cluster (`tf.xla.experimental.jit_scope`) instead of
    calling a compiled function: a graph frozen for export to another
    runtime (tf2onnx for `format="onnx"`) cannot inline a function that
    must be compiled, and serves the marked ops as ordinary ones.
    Ragged or sparse inputs, and inputs of unknown rank, take the plain
    path. On the other backends this simply calls `fn(*args)`.
    """
    if keras.config.backend() != "tensorflow":
        return fn(*args)
    import tensorflow as tf  # backend fast path, imported only on TensorFlow

    if any(isinstance(a, (tf.RaggedTensor, tf.SparseTensor)) for a in args):
        return fn(*args)  # XLA takes dense tensors only
    ranks = tuple(tf.TensorShape(a.shape).rank for a in args)
    if None in ranks:
        return fn(*args)
    if not tf.executing_eagerly():
        with tf.xla.experimental.jit_scope(separate_compiled_gradients=False):
            return fn(*args)

    def xla(pure):
        # Traced once per rank of the inputs (sizes generalise to None).
        return tf.function(
            pure, jit_compile=True, reduce_retracing=True, autograph=False
        )

    return _compiled(layer, f"_fused_on_tensorflow{ranks}", fn, xla)(*args)


def _compiled(layer, key, fn, compile_fn):
    """`compile_fn` of `fn` with `layer`'s variables as explicit inputs.

    The compiled function reads the variables through a
    `keras.StatelessScope` mapping them to its inputs (so it captures no
    state and gradients flow to whatever the caller passes), and is cached
    on `layer` under `key` until the layer's variables change (new ones
    after `build`, replaced ones after `quantize`).
    """
    variables = layer.variables
    ids = [id(v) for v in variables]
    cache = layer.__dict__.get(key)
    if cache is None or cache[0] != ids:

        def pure(values, *inner):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return fn(*inner)

        # The variables stay referenced with their ids, so an id cannot be
        # reused by a variable created later (`quantize` replaces some).
        cache = (ids, compile_fn(pure), variables)
        object.__setattr__(layer, key, cache)
    compiled = cache[1]
    return lambda *args: compiled([v.value for v in variables], *args)


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


_TORCH_SYNCED = weakref.WeakSet()  # tables whose copy a step may outdate
_TORCH_STEP_HOOK = []


def _forget_after_torch_optimizer_steps(table):
    """Make any `torch.optim` step drop `table`'s copy of its trainable rows.

    Registers, once per process, a hook that runs after every
    `torch.optim.Optimizer.step` (PyTorch's public global step hook).
    """
    _TORCH_SYNCED.add(table)
    if _TORCH_STEP_HOOK:
        return
    from torch.optim.optimizer import register_optimizer_step_post_hook

    def forget(optimizer, args, kwargs):
        for synced in list(_TORCH_SYNCED):
            synced.__dict__.pop("_torch_synced", None)
        _TORCH_SYNCED.clear()

    _TORCH_STEP_HOOK.append(register_optimizer_step_post_hook(forget))


# Keras' optimizers warn when a trainable variable gets no gradient, and
# suggest a missing loss. Eager PyTorch lookups read `frozen_live` only
# while the unfreeze factor is above 0 (see `_frozen_rows`), so at 0 it has
# none, by design; the warning is silenced only when such variables are
# all it names.
_ONLY_FROZEN_LIVE = (
    r"Gradients do not exist for variables "
    r"\[('[^']*/frozen_live', )*'[^']*/frozen_live'\] when minimizing"
)


def _quiet_frozen_live_without_gradient():
    import warnings

    warnings.filterwarnings("ignore", message=_ONLY_FROZEN_LIVE, category=UserWarning)


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
        # Eager PyTorch pays Keras' per-op dispatch for each of the four ops
        # below (about as much as the gather itself); this is three kernels.
        # On CPU one reduction first tells whether any id needs them (ids
        # are nearly always in range); on an accelerator that answer would
        # wait for the device, so the rewrite runs unconditionally.
        import torch  # backend fast path, imported only on PyTorch

        ids = torch_tensor(ids)
        if ids.device.type == "cpu" and ids.numel():
            low, high = torch.aminmax(ids)
            if low.item() >= 0 and high.item() < num_rows:
                return ids, None
        return ids.masked_fill(ids.clamp(0, num_rows - 1) != ids, oov_id), None
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
        self._has_offset = False
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
        cells = self.num_rows * self.output_dim
        total = self.num_trainable * self.output_dim * 4
        if self.num_frozen:
            total += cells * _ITEM_BYTES[self.storage_dtype] + 4
            if self.storage_dtype == "int8":
                total += self.num_rows * 4
            if self.schedulable:
                total += cells * 4 * (2 if self.storage_dtype != "float32" else 1)
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
            self.frozen_table = self._weight(
                "frozen_table", (n_frozen, d), dtype=self.storage_dtype
            )
            if self.storage_dtype == "int8":
                self.frozen_scale = self._weight(
                    "frozen_scale", (n_frozen, 1), initializer="ones"
                )
            self.unfreeze_factor = self._weight("unfreeze_factor", ())
            if self.schedulable:
                # Rows stored as float32 absorb what they learned directly;
                # low-precision rows keep it in a float32 offset instead.
                self._has_offset = self.storage_dtype != "float32"
                self.frozen_live = self._weight(
                    "frozen_live", (n_frozen, d), trainable=self.row_optimizer is None
                )
                if keras.config.backend() == "torch" and self.row_optimizer is None:
                    _quiet_frozen_live_without_gradient()
                if self._has_offset:
                    self.frozen_offset = self._weight("frozen_offset", (n_frozen, d))
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
            self.row_index.assign(
                self._pad_rows(self._slots(np.arange(self.num_rows) >= self.num_frozen))
            )
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
        "frozen_table",
        "frozen_scale",
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
        self._assign_frozen(matrix)
        self._is_quantized = True
        self.__dict__.pop("_torch_synced", None)
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
        self._has_offset = False
        self._initial_matrix = None

    def _int8_call(self, ids):
        # The int8 rows are the table's own storage: `call` reads them.
        return self.call(ids)

    # ------------------------------------------------------------------ lookup
    def _frozen_rows(self, ids):
        if not self.schedulable:
            return self._stored_rows(ids)
        factor = self.unfreeze_factor

        def learning():
            return scaled_rows(take_rows(self.frozen_live, ids), factor)

        # One gather either way: the stored rows while the factor is 0 (no
        # gradient can reach them), the live rows while it is above 0.
        if torch_eager():
            return learning() if self.factor > 0 else self._stored_rows(ids)
        if torch_exporting():
            # PyTorch's `ops.cond` is a Python branch on the factor's value:
            # gather both and select, which gives the same rows.
            return ops.where(ops.greater(factor, 0), learning(), self._stored_rows(ids))
        return ops.cond(
            ops.greater(factor, 0), learning, lambda: self._stored_rows(ids)
        )

    def _stored_rows(self, ids):
        rows = take_rows(self.frozen_table, ids)
        if self.storage_dtype != "float32":
            rows = ops.cast(rows, "float32")
        if self.storage_dtype == "int8":
            rows = rows * take_rows(self.frozen_scale, ids)
        if self._has_offset:
            rows = rows + take_rows(self.frozen_offset, ids)
        return rows

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
            out = self._mixed_torch(ids)
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

    def _mixed_torch(self, ids):
        # Eager PyTorch runs every op on its own, and a full-size `where`
        # costs more than the gather: gather the
        # frozen rows for every position, then overwrite only the positions
        # of trainable rows (a differentiable `index_copy_`). Flat 1-D
        # indexing keeps each step one kernel.
        import torch  # backend fast path, imported only on PyTorch

        if not torch.is_grad_enabled() and self.storage_dtype == "float32":
            if not self.schedulable or self.factor == 0:
                table = self._synced_frozen()
                if table is not None:
                    ids = torch_tensor(ids, device=table.device)
                    return torch.nn.functional.embedding(ids, table)
        ids = torch_tensor(ids, device=self.row_index.value.device)
        flat = ids.reshape(-1)
        # `out` is fresh and flat: an in-place write to a view of it would
        # make the backward pass copy the whole output again.
        out = self._frozen_rows(flat)
        slots = take_rows(self.row_index, flat)
        positions = torch.nonzero(slots >= 0).reshape(-1)
        rows = take_rows(self.trainable_table, slots.index_select(0, positions))
        out = out.index_copy_(0, positions, rows)
        return out.reshape(*ids.shape, out.shape[-1])

    def _synced_frozen(self):
        """`frozen_table` with the trainable rows copied into their entries.

        For eager PyTorch calls without gradients (`predict`, inference):
        the entries of trainable rows in `frozen_table` are never read
        otherwise (every other lookup overwrites them), so they hold a copy
        of the trainable rows and a lookup is a single gather, as in
        `keras.layers.Embedding`, without a second copy of the table.

        The copy is refreshed when the trainable rows may have changed
        since: a write PyTorch counts (`assign`, weight loading, Keras'
        optimizers), new storage, or a step of any `torch.optim` optimizer
        (fused ones write without PyTorch counting it). Not seen: in-place
        edits of `variable.value.data` by hand, which bypass both. Returns
        None where the copy cannot be kept: tensors a `keras.StatelessScope`
        supplies (a lookup must not write to them) and tensors made under
        `torch.inference_mode` (which keep no write count); such calls take
        the two-part path.
        """
        import torch  # backend fast path, imported only on PyTorch

        parts = (
            self.frozen_table.value,
            self.trainable_table.value,
            self.row_index.value,
        )
        for part in parts:
            if not isinstance(part, torch.nn.Parameter) or part.is_inference():
                return None
        state = [(t, t._version, t.data_ptr()) for t in parts]
        synced = self.__dict__.get("_torch_synced")
        if synced is None or any(
            a[0] is not b[0] or a[1:] != b[1:] for a, b in zip(state, synced)
        ):
            frozen, train, index = parts
            slots = index[: self.num_rows]
            rows = torch.nonzero(slots >= 0).reshape(-1)
            frozen.index_copy_(0, rows, train.index_select(0, slots[rows]))
            state[0] = (frozen, frozen._version, frozen.data_ptr())
            object.__setattr__(self, "_torch_synced", state)
            _forget_after_torch_optimizer_steps(self)
        return parts[0]

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
        if self.num_frozen:
            # Float32 frozen tables keep a copy of the trainable rows in
            # their entries (see `_synced_frozen`); other storage, zeros.
            if self.storage_dtype != "float32":
                matrix_frozen = np.where(frozen_mask[:, None], matrix, 0)
            else:
                matrix_frozen = matrix
            self._assign_frozen(matrix_frozen)
            if self.schedulable:
                if self._has_offset:
                    self.frozen_offset.assign(
                        np.zeros(self.frozen_offset.shape, "float32")
                    )
                factor = self.factor
                # The stored rows, divided by the factor while it is above 0.
                self.frozen_live.assign(
                    self._stored_values() / factor
                    if factor > 0
                    else ops.zeros(self.frozen_live.shape, "float32")
                )
        if self.num_trainable:
            self.trainable_table.assign(self._pad_rows(matrix[~frozen_mask]))
        if self.is_mixed:
            self.row_index.assign(self._pad_rows(self._slots(~frozen_mask)))

    @staticmethod
    def _slots(trainable_mask):
        """`row_index` values: each trainable row's slot, negative if frozen.

        A frozen row stores `-1 - (row % m)`, `m` being the number of
        trainable rows or `FROZEN_SPREAD`, whichever is fewer (see
        `take_slots`).
        """
        trainable_mask = np.asarray(trainable_mask, dtype=bool)
        spread = min(max(int(trainable_mask.sum()), 1), FROZEN_SPREAD)
        rows = np.arange(len(trainable_mask))
        slots = -1 - rows % spread
        slots[trainable_mask] = np.arange(int(trainable_mask.sum()))
        return slots.astype("int32")

    def _assign_frozen(self, rows):
        if self.storage_dtype == "int8":
            scale = np.abs(rows).max(axis=1, keepdims=True) / 127.0
            scale = np.where(scale == 0, 1.0, scale).astype("float32")
            self.frozen_scale.assign(self._pad_rows(scale))
            self.frozen_table.assign(
                self._pad_rows(np.clip(np.rint(rows / scale), -127, 127).astype("int8"))
            )
        else:
            self.frozen_table.assign(self._pad_rows(rows))

    def frozen_mask(self):
        """Bool NumPy array `[num_rows]`: which rows are frozen."""
        if not self.num_frozen:
            return np.zeros(self.num_rows, dtype=bool)
        if not self.num_trainable:
            return np.ones(self.num_rows, dtype=bool)
        return self._row_slots() < 0

    def _row_slots(self):
        return ops.convert_to_numpy(self.row_index)[: self.num_rows]

    def full_table(self):
        """The effective table as a float32 NumPy array `[num_rows, output_dim]`."""
        if not self.built:
            self.build()
        self.flush_rows()
        if self.num_frozen:
            out = ops.convert_to_numpy(self._frozen_values())[: self.num_rows]
        else:
            out = np.empty((self.num_rows, self.output_dim), dtype="float32")
        if self.num_trainable:
            train = ops.convert_to_numpy(self.trainable_table)[: self.num_trainable]
            if self.is_mixed:
                slots = self._row_slots()
                out[slots >= 0] = train[slots[slots >= 0]]
            else:
                out[:] = train
        return out

    # ------------------------------------------------------------- schedule
    @property
    def factor(self):
        """How fast frozen rows learn now: 0 (frozen) to 1 (full rate)."""
        if not self.num_frozen:
            return 1.0
        return float(ops.convert_to_numpy(self.unfreeze_factor))

    def set_factor(self, value):
        """Set how fast the frozen rows learn, in [0, 1].

        The table's values do not jump: the rows' values are carried over
        into `frozen_live` (rescaled for the new factor), and when the
        factor returns to 0 what the rows learned is stored back into
        `frozen_table` (or, for low-precision storage, `frozen_offset`).
        Call it outside compiled functions (from a callback, between
        steps); on JAX inside `fit`, sync the trainer state first
        (`UnfreezeSchedule` does).
        """
        value = float(value)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"The factor must lie in [0, 1]. Received: {value}")
        if not self.num_frozen:
            return
        if value > 0 and not self.schedulable:
            raise ValueError(
                f"Table {self.path!r} keeps its frozen rows in a non-trainable "
                "variable, so they cannot learn. Build the layer with "
                "`schedulable=True` to schedule their learning rate."
            )
        if not self.built:
            self.build()
        self.flush_rows()
        old = self.factor
        if value == old:
            return
        if self.schedulable:
            values = self._frozen_values()
            if value > 0:
                self.frozen_live.assign(values / value)
            elif self._has_offset:
                stored = self._stored_values(with_offset=False)
                self.frozen_offset.assign(values - stored)
            else:
                self.frozen_table.assign(values)
        self.unfreeze_factor.assign(value)

    def _stored_values(self, with_offset=True):
        """Float32 tensor of the stored frozen rows (all padded rows)."""
        values = ops.cast(self.frozen_table, "float32")
        if self.storage_dtype == "int8":
            values = values * self.frozen_scale
        if with_offset and self._has_offset:
            values = values + self.frozen_offset
        return values

    def _frozen_values(self):
        """Float32 tensor of what the frozen rows read now (all padded rows)."""
        if self.schedulable and self.factor > 0:
            return ops.multiply(self.unfreeze_factor, self.frozen_live)
        return self._stored_values()

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
