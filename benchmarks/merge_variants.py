"""Ways to look up a mixed table, timed against one gather.

`python -m benchmarks.merge_variants [--quick] [--jit]` on the current
`KERAS_BACKEND` (TensorFlow without `--jit` is the case it is about).

`PretrainedEmbedding(freeze="pretrained")` keeps its pretrained rows in a
non-trainable variable and the rows without a vector in a trainable one:
Keras' optimizers apply weight decay to every trainable variable they are
given, so pretrained rows that must stay bit-identical under AdamW cannot
sit in the trainable one. A forward lookup therefore reads two variables.
This times, in one process and interleaved, every way of doing that which
this project has tried, next to the single gather it is compared with:

- `keras.layers.Embedding` (the baseline, = 1);
- one gather from a merged copy: the frozen table, whose entries of
  trainable rows hold a copy of them, read alone. This is what a lookup
  would cost if that copy could be kept current; it can on PyTorch (which
  counts writes to a tensor, and so refreshes it, see `_synced_frozen`),
  not in a TensorFlow graph or under `jax.jit`, which keep no such count;
- the same gather as an XLA cluster (TensorFlow only): XLA's own gather
  loop, which the shipped lookup runs on;
- the shipped layer: on TensorFlow its lookup is one XLA cluster
  (`fused_on_tensorflow`), on JAX one fused computation; on PyTorch also
  a call that records gradients (the two-part path training takes);
- two gathers and a `where` over the output (plain backend ops);
- two gathers blended arithmetically (`f + m * (t - f)`);
- TensorFlow only: the frozen gather, then `tensor_scatter_nd_update` at
  the trainable positions; and `dynamic_partition` / `dynamic_stitch`
  (the way `tf.nn.embedding_lookup` reads a table split over variables).

Every variant is checked to give the shipped layer's rows before it is
timed. Without `--jit` each runs as `jit_compile=False` runs a model (a
`tf.function` without XLA; eager JAX and PyTorch); with `--jit`, as
`jit_compile=True` does (`tf.function(jit_compile=True)`, `jax.jit`; not on
PyTorch, whose forward without gradients is already one gather).
"""

import gc
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from benchmarks import _harness  # noqa: E402
from benchmarks.lookup import (  # noqa: E402
    case_parser,
    interleaved,
    make_ids,
    pretrained_layer,
    run_cases,
    run_words,
    stock_layer,
    timing_row,
)

EMBEDDING = "keras.layers.Embedding"
BOUND = "one gather from a merged copy"
SHIPPED = 'PretrainedEmbedding(freeze="pretrained") as shipped'


def generic_variants():
    """Name -> `fn(frozen, trainable, row_index, ids)` in backend-neutral ops.

    Each reads the ids' slots itself (`row_index`: the slot of a trainable
    row, negative for a frozen one), as the layer does.
    """
    from keras_embedx.layers._table import take_rows

    def two_gathers_where(frozen, trainable, row_index, ids):
        slots = take_rows(row_index, ids)
        train = take_rows(trainable, ops.maximum(slots, 0))
        is_frozen = ops.expand_dims(ops.less(slots, 0), -1)
        return ops.where(is_frozen, take_rows(frozen, ids), train)

    def blend(frozen, trainable, row_index, ids):
        slots = take_rows(row_index, ids)
        f = take_rows(frozen, ids)
        t = take_rows(trainable, ops.maximum(slots, 0))
        m = ops.expand_dims(ops.cast(ops.greater_equal(slots, 0), f.dtype), -1)
        return f + m * (t - f)

    return {
        "two gathers + where": two_gathers_where,
        "two gathers, arithmetic blend": blend,
    }


def tensorflow_variants():
    """Name -> `fn(frozen, trainable, row_index, ids)`, TensorFlow-only ops."""
    import tensorflow as tf

    def flat(row_index, ids):
        flat_ids = tf.reshape(ids, [-1])
        return flat_ids, tf.gather(row_index, flat_ids)

    def unflatten(out, ids):
        return tf.reshape(out, tf.concat([tf.shape(ids), [-1]], 0))

    def scatter(frozen, trainable, row_index, ids):
        flat_ids, slots = flat(row_index, ids)
        out = tf.gather(frozen, flat_ids)
        positions = tf.where(slots >= 0)
        rows = tf.gather(trainable, tf.gather_nd(slots, positions))
        return unflatten(tf.tensor_scatter_nd_update(out, positions, rows), ids)

    def partition(frozen, trainable, row_index, ids):
        flat_ids, slots = flat(row_index, ids)
        part = tf.cast(slots >= 0, "int32")
        where = tf.dynamic_partition(tf.range(tf.size(flat_ids)), part, 2)
        frozen_ids = tf.dynamic_partition(flat_ids, part, 2)[0]
        train_slots = tf.dynamic_partition(slots, part, 2)[1]
        rows = [tf.gather(frozen, frozen_ids), tf.gather(trainable, train_slots)]
        return unflatten(tf.dynamic_stitch(where, rows), ids)

    return {
        "gather + tensor_scatter_nd_update": scatter,
        "dynamic_partition + dynamic_stitch": partition,
    }


def subjects_for(layer, embedding, ids, jit):
    """Name -> zero-argument forward call, compiled as `jit` says.

    Every subject gets the ids as an argument (captured, they would be a
    constant that TensorFlow folds id arithmetic into) and, for the raw
    variants, the tables too (captured by `jax.jit`, they would be baked
    into the program).
    """
    from keras_embedx.layers._table import take_rows

    backend = _harness.backend_name()
    table = layer.table
    tables = (table.frozen_table, table.trainable_table, table.row_index)
    models = ((EMBEDDING, embedding), (SHIPPED, layer))
    variants = {BOUND: lambda frozen, trainable, row_index, i: take_rows(frozen, i)}
    variants.update(generic_variants())
    if backend == "tensorflow":
        import tensorflow as tf

        variants.update(tensorflow_variants())
        if not jit:
            xla_gather = tf.function(tf.gather, jit_compile=True)
            variants["one gather as an XLA cluster"] = (
                lambda frozen, trainable, row_index, i: xla_gather(frozen, i)
            )

        def run(fn):
            fn = tf.function(fn, jit_compile=jit)
            return lambda: fn(ids)

        variables = [v.value for v in tables]  # the tf.Variables themselves
        layers = {name: run(model) for name, model in models}
        raw = {
            name: run(lambda i, fn=fn: fn(*variables, i))
            for name, fn in variants.items()
        }
        return {**layers, **raw}
    if backend == "jax":
        import jax

        def run(fn, *args):
            fn = jax.jit(fn) if jit else fn
            return lambda: fn(*args, ids)

        def stateless(model):
            def forward(tv, ntv, i):
                # The output alone: returning the variables would copy them.
                return model.stateless_call(tv, ntv, i)[0]

            tv = [v.value for v in model.trainable_variables]
            ntv = [v.value for v in model.non_trainable_variables]
            return run(forward, tv, ntv)

        values = [v.value for v in tables]
        layers = {name: stateless(model) for name, model in models}
        raw = {name: run(fn, *values) for name, fn in variants.items()}
        return {**layers, **raw}
    import torch

    def run(fn):
        def call():
            with torch.no_grad():
                return fn(ids)

        return call

    layers = {name: run(model) for name, model in models}
    layers[SHIPPED + ", recording gradients"] = lambda: layer(ids)
    raw = {name: run(lambda i, fn=fn: fn(*tables, i)) for name, fn in variants.items()}
    return {**layers, **raw}


def run_case(vocab, dim, batch, seq, rounds, per_round, jit, rng):
    table = rng.standard_normal((vocab, dim)).astype("float32")
    ids = ops.convert_to_tensor(make_ids("uniform", vocab, (batch, seq), rng))
    layer = pretrained_layer(table, "pretrained")
    embedding = stock_layer(table)
    subjects = subjects_for(layer, embedding, ids, jit)
    expected = ops.convert_to_numpy(layer(ids))
    np.testing.assert_array_equal(expected, table[ops.convert_to_numpy(ids)])
    for name, fn in subjects.items():
        # Each variant must give the table's rows before its time counts.
        np.testing.assert_array_equal(
            ops.convert_to_numpy(fn()), expected, err_msg=name
        )
    times = interleaved(subjects, rounds, per_round)
    base = times[EMBEDDING]["min_s"]
    ids_shape = f"{batch}x{seq}"
    rows = [
        timing_row(t, base, vocab=vocab, dim=dim, ids=ids_shape, subject=name)
        for name, t in times.items()
    ]
    del subjects, layer, embedding
    gc.collect()
    return rows


def main(argv=None):
    parser = case_parser(__doc__, "--jit", "as jit_compile=True compiles it")
    args = parser.parse_args(argv)
    backend = _harness.backend_name()
    if args.jit and backend == "torch":
        parser.error("--jit is for TensorFlow and JAX (see the module docstring)")
    rng = np.random.default_rng(0)
    cases = [(100_000, 128, 32, 256)]
    if not args.quick:
        cases += [
            (100_000, 64, 32, 256),
            (100_000, 128, 256, 256),
            (1_000_000, 128, 32, 256),
            (1_000, 128, 32, 256),
        ]
    rows, calls = run_cases(cases, run_case, args.quick, jit=args.jit, rng=rng)
    flags, mode = run_words(args.quick, args.jit, args.jit and "--jit")
    _harness.write_results(
        f"merge_variants_{backend}" + ("_jit" if args.jit else ""),
        rows,
        ["vocab", "dim", "ids", "subject", "ms", "median ms", "vs Embedding"],
        f"Ways to look up a mixed table ({backend}"
        + (", jit" if args.jit else ", no jit")
        + ")",
        f"KERAS_BACKEND={backend} python -m benchmarks.merge_variants{flags}",
        notes=(
            f"Forward lookups {mode}. Each table has 90% of its rows frozen "
            "(chosen at random) and ids drawn uniformly. `one gather from a "
            "merged copy` is the bound a lookup of two variables could reach "
            "only by keeping a merged copy current (see the module docstring "
            "of `benchmarks/merge_variants.py`). `ms` is the fastest of "
            f"{calls} calls, interleaved; `vs Embedding` is "
            "Embedding's time over the subject's (above 1: faster). Every "
            "variant was checked to return the table's rows."
        ),
    )


if __name__ == "__main__":
    main()
