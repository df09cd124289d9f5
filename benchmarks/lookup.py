"""Forward lookup speed: keras_embedx tables against stock Keras and raw gathers.

`python -m benchmarks.lookup [--quick]` on the current `KERAS_BACKEND`.

For each table size, width, batch and index distribution it times, in the
same process:

- `PretrainedEmbedding` (freeze="pretrained": 90% of the rows pretrained and
  frozen, the rest trainable, so the mixed two-table path is exercised) and
  `freeze="none"` (one trainable table), through `model.predict_on_batch`
  with `jit_compile` on and off;
- stock `keras.layers.Embedding` the same way;
- `keras.ops.take` and NumPy's `np.take` on the same table and ids, and a
  NumPy copy of the same number of bytes (the memory's limit).

Effective GB/s counts the bytes a lookup must move: the gathered rows read
plus the output written (2 x ids x width x 4 bytes).
"""

import argparse
import gc
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks._harness import backend_name, measure, write_results  # noqa: E402


def make_ids(distribution, vocab, shape, rng):
    if distribution == "uniform":
        return rng.integers(0, vocab, size=shape).astype("int32")
    # Zipf over the vocabulary (s ~ 1.1, as word frequencies), id 0 excluded.
    ranks = rng.zipf(1.1, size=shape)
    return (np.minimum(ranks, vocab - 1)).astype("int32")


def _model(layer, seq, jit):
    inputs = keras.Input((seq,), dtype="int32")
    model = keras.Model(inputs, layer(inputs))
    model.compile(jit_compile=jit)
    return model


def _pretrained(table, freeze):
    from keras_embedx.layers import PretrainedEmbedding

    vocab = table.shape[0]
    layer = PretrainedEmbedding(
        vocab,
        table.shape[1],
        freeze=freeze,
        num_frozen=0 if freeze == "none" else int(vocab * 0.9),
        mask_zero=False,
    )
    layer.build()
    if freeze == "none":
        layer.table.set_table(table)
    else:
        mask = np.zeros(vocab, dtype=bool)
        mask[np.random.default_rng(0).permutation(vocab)[: int(vocab * 0.9)]] = True
        layer.table.set_table(table, mask)
    return layer


def run_case(vocab, dim, batch, seq, distribution, repeats, rng):
    table = rng.standard_normal((vocab, dim)).astype("float32")
    ids = make_ids(distribution, vocab, (batch, seq), rng)
    nbytes = 2 * ids.size * dim * 4
    rows = []

    def add(name, jit, fn):
        t = measure(fn, repeats=repeats, warmup=2)
        rows.append(
            {
                "backend": backend_name(),
                "vocab": vocab,
                "dim": dim,
                "ids": ids.size,
                "dist": distribution,
                "subject": name,
                "jit": jit,
                "median_ms": t["median_s"] * 1e3,
                "iqr_ms": t["iqr_s"] * 1e3,
                "lookups_per_s": ids.size / t["median_s"],
                "gb_per_s": nbytes / t["median_s"] / 1e9,
            }
        )

    flat = table.ravel()
    add("numpy copy (same bytes)", "-", lambda: flat[: nbytes // 8].copy())
    add("np.take", "-", lambda: np.take(table, ids, axis=0))
    k_table = keras.ops.convert_to_tensor(table)
    k_ids = keras.ops.convert_to_tensor(ids)
    add("keras.ops.take (eager)", False, lambda: keras.ops.take(k_table, k_ids, axis=0))
    for jit in (False, True):
        stock = keras.layers.Embedding(vocab, dim)
        stock.build()
        stock.embeddings.assign(table)
        model = _model(stock, seq, jit)
        add("keras.layers.Embedding", jit, lambda m=model: m.predict_on_batch(ids))
        for freeze in ("none", "pretrained"):
            model = _model(_pretrained(table, freeze), seq, jit)
            add(
                f"PretrainedEmbedding({freeze})",
                jit,
                lambda m=model: m.predict_on_batch(ids),
            )
    base = {
        r["jit"]: r["median_ms"]
        for r in rows
        if r["subject"] == "keras.layers.Embedding"
    }
    take = next(r["median_ms"] for r in rows if r["subject"] == "np.take")
    copy = rows[0]["median_ms"]
    for r in rows:
        r["vs_embedding"] = (
            base[r["jit"]] / r["median_ms"] if r["jit"] in base else None
        )
        r["vs_np_take"] = take / r["median_ms"]
        r["vs_copy"] = copy / r["median_ms"]
    gc.collect()
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small subset")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    if args.quick:
        grid = [(100_000, 128, 64, 128, d) for d in ("uniform", "zipf")]
        repeats = 7
    else:
        grid = [
            (vocab, dim, 256, 128, dist)
            for vocab in (1_000, 100_000, 1_000_000)
            for dim in (64, 512)
            for dist in ("uniform", "zipf")
        ]
        repeats = 9
    rows = []
    for vocab, dim, batch, seq, dist in grid:
        print(f"vocab={vocab} dim={dim} ids={batch}x{seq} {dist}", flush=True)
        rows.extend(run_case(vocab, dim, batch, seq, dist, repeats, rng))
    backend = backend_name()
    command = f"KERAS_BACKEND={backend} python -m benchmarks.lookup" + (
        " --quick" if args.quick else ""
    )
    write_results(
        f"lookup_{backend}",
        rows,
        [
            "vocab",
            "dim",
            "ids",
            "dist",
            "subject",
            "jit",
            ("median_ms", "ms"),
            ("gb_per_s", "GB/s"),
            ("vs_embedding", "speed vs Embedding"),
            ("vs_np_take", "vs np.take"),
            ("vs_copy", "vs copy"),
        ],
        title=f"Forward lookup ({backend})",
        command=command,
        notes=(
            "`speed vs Embedding` > 1 means faster than stock "
            "`keras.layers.Embedding` with the same `jit` setting (target: >= 1). "
            "Layers are timed through `model.predict_on_batch`, which includes "
            "moving ids in and vectors out; raw gathers are not."
        ),
    )


if __name__ == "__main__":
    main()
