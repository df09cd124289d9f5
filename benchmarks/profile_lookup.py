"""Where the time of a mixed (frozen + trainable) lookup goes.

`python -m benchmarks.profile_lookup` on the current `KERAS_BACKEND`.

`PretrainedEmbedding(freeze="pretrained")` keeps its pretrained rows in a
non-trainable variable and the rows without a vector in a trainable one,
so a lookup reads from two tables. This times, in one process and without
`jit` (as `benchmarks.lookup`'s "jit off"), each stage of that lookup on
its own next to `keras.layers.Embedding`'s single gather:

1. remapping out-of-range ids to the OOV row;
2. the int gather of each id's slot (`row_index`);
3. the gather from the frozen table (by row id: as large as Embedding's
   gather);
4. the gather from the trainable table;
5. merging the two: a full-size `where` on TensorFlow and JAX, on PyTorch
   an in-place `index_copy_` at the trainable positions only;

and the whole layer. On TensorFlow the whole layer runs stages 2 to 5 as
one XLA cluster (`fused_on_tensorflow`), so it costs less than their sum.
On PyTorch that is the path of a call that records
gradients (training); a call without gradients (`predict`, `torch.no_grad`)
is one gather from the frozen table, whose entries of trainable rows hold a
copy of them, and is timed as a row of its own. PyTorch also prints
`torch.profiler`'s operator table for the whole layer with gradients.
Results: `benchmarks/results/profile_lookup_<backend>.md`.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from benchmarks import _harness  # noqa: E402

VOCAB, DIM, SHAPE, FROZEN_SHARE = 100_000, 128, (32, 256), 0.9


def graph(fn):
    """`fn` as the "jit off" mode runs it: a `tf.function` on TensorFlow."""
    if _harness.backend_name() == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=False)
    return fn


def stages(layer, ids):
    """Name -> zero-argument callable, one per stage of the mixed lookup."""
    from keras_embedx.layers._table import remap_out_of_range, take_rows

    table = layer.table
    slots = take_rows(table.row_index, ids)
    frozen = take_rows(table.frozen_table, ids)
    train = take_rows(table.trainable_table, ops.maximum(slots, 0))
    out = {
        "1. remap out-of-range ids": lambda i: remap_out_of_range(i, VOCAB, 1)[0],
        "2. slot of each id (int gather)": lambda i: take_rows(table.row_index, i),
        "3. frozen-table gather": lambda i: take_rows(table.frozen_table, i),
        "4. trainable-table gather": lambda s: take_rows(
            table.trainable_table, ops.maximum(s, 0)
        ),
    }
    args = {name: (slots if name.startswith("4") else ids) for name in out}
    if _harness.backend_name() == "torch":
        import torch

        def merge(f, s):
            f, s = f.reshape(-1, f.shape[-1]).clone(), s.reshape(-1)
            positions = torch.nonzero(s >= 0).reshape(-1)
            rows = take_rows(table.trainable_table, s.index_select(0, positions))
            return f.index_copy_(0, positions, rows)

        out["5. merge (index_copy_ at trainable positions)"] = merge
        args["5. merge (index_copy_ at trainable positions)"] = (frozen, slots)
    else:
        out["5. merge (full-size where)"] = lambda f, t, s: ops.where(
            ops.expand_dims(ops.less(s, 0), -1), f, t
        )
        args["5. merge (full-size where)"] = (frozen, train, slots)
    bound = {}
    for name, fn in out.items():
        compiled, a = graph(fn), args[name]
        a = a if isinstance(a, tuple) else (a,)
        bound[name] = lambda compiled=compiled, a=a: compiled(*a)
    return bound


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    from keras_embedx.layers import PretrainedEmbedding

    backend = _harness.backend_name()
    rng = np.random.default_rng(0)
    num_frozen = int(VOCAB * FROZEN_SHARE)
    layer = PretrainedEmbedding(
        VOCAB, DIM, freeze="pretrained", num_frozen=num_frozen, mask_zero=False
    )
    layer.build()
    mask = np.zeros(VOCAB, bool)
    mask[rng.choice(VOCAB, num_frozen, replace=False)] = True
    layer.table.set_table(rng.standard_normal((VOCAB, DIM), dtype="float32"), mask)
    embedding = keras.layers.Embedding(VOCAB, DIM)
    embedding.build()
    ids = ops.convert_to_tensor(rng.integers(0, VOCAB, SHAPE).astype("int32"))

    subjects = {
        "keras.layers.Embedding (one gather)": graph(lambda: embedding(ids)),
        'PretrainedEmbedding(freeze="pretrained"), whole layer': graph(
            lambda: layer(ids)
        ),
        **stages(layer, ids),
    }
    if backend == "torch":
        import torch

        def without_gradients(fn):
            def call():
                with torch.no_grad():
                    return fn(ids)

            return call

        subjects["keras.layers.Embedding without gradients"] = without_gradients(
            embedding
        )
        subjects["the whole layer without gradients (one gather)"] = without_gradients(
            layer
        )
    timed = {name: [] for name in subjects}
    for fn in subjects.values():
        _harness.measure(fn, repeats=1, warmup=3)
    for _ in range(args.repeats):
        for name, fn in subjects.items():
            timed[name].append(_harness.measure(fn, repeats=1, warmup=0)["min_s"])
    base = min(timed["keras.layers.Embedding (one gather)"])
    rows = [
        {"stage": name, "ms": min(t) * 1e3, "vs Embedding": min(t) / base}
        for name, t in timed.items()
    ]
    notes = (
        f"Table {VOCAB:,} x {DIM}, {FROZEN_SHARE:.0%} of the rows frozen, ids "
        f"{SHAPE[0]}x{SHAPE[1]} uniform; fastest of {args.repeats} interleaved "
        "calls each, jit off (TensorFlow: `tf.function` without XLA, each stage "
        "a graph of its own, the whole layer with its lookup as the one XLA "
        "cluster it makes; JAX: the stages op by op, the whole layer as the one "
        "compiled call it makes when run eagerly; PyTorch: eager). "
        "`vs Embedding`: time over Embedding's."
    )
    if backend == "torch":
        with torch.profiler.profile() as prof:
            for _ in range(20):
                layer(ids)
        table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12)
        notes += (
            "\n\n`torch.profiler` over 20 calls of the whole layer with "
            "gradients:\n\n```\n" + table + "\n```"
        )
    _harness.write_results(
        f"profile_lookup_{backend}",
        rows,
        ["stage", "ms", "vs Embedding"],
        title=f"Profile of a mixed lookup ({backend})",
        command=f"KERAS_BACKEND={backend} python -m benchmarks.profile_lookup",
        notes=notes,
    )


if __name__ == "__main__":
    main()
