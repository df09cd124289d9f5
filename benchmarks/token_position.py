"""TokenAndPosition against keras-hub's TokenAndPositionEmbedding, same sizes.

`python -m benchmarks.token_position [--quick]` on the current `KERAS_BACKEND`.

Each subject is wrapped in a one-layer functional model and timed, in the
same process, in two modes:

- forward: the model's output for a batch of ids (compiled with `jax.jit`
  on JAX, `tf.function(jit_compile=True)` on TensorFlow, eager under
  `torch.no_grad()` on PyTorch, as `predict` runs them);
- forward+backward: the gradient of `sum(output)` with respect to every
  trainable variable (the same compilation; `torch.autograd.grad` on
  PyTorch), i.e. a training step without the optimizer.

Subjects: keras-hub's `TokenAndPositionEmbedding` (the baseline),
`TokenAndPosition` with the same arguments (learned positions, own table;
target: ratio <= 1), `TokenAndPosition` over a `PretrainedEmbedding` whose
rows are all frozen (`freeze="pretrained"`), where the backward pass skips
the table; and for sinusoidal positions, keras-hub's recipe
(`keras.layers.Embedding` + `keras_hub.layers.SinePositionEncoding`, the
baseline) against `TokenAndPosition(position="sinusoidal")` (target: ratio
<= 1). A same-size elementwise add is the memory-speed reference (GB/s
counts the output bytes written).
"""

import argparse
import gc
import os
import statistics
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks._harness import backend_name, measure, write_results  # noqa: E402

SIZES = {
    "full": {"vocab": 30_000, "seq": 128, "dim": 256, "batch": 32, "repeats": 150},
    "quick": {"vocab": 5_000, "seq": 64, "dim": 64, "batch": 16, "repeats": 40},
}


def keras_hub_layer(size):
    import keras_hub

    return keras_hub.layers.TokenAndPositionEmbedding(
        size["vocab"], size["seq"], size["dim"], mask_zero=True
    )


def keras_sine_layers(size):
    """keras-hub's own way to sinusoidal positions: Embedding + SinePositionEncoding."""
    import keras_hub

    embedding = keras.layers.Embedding(size["vocab"], size["dim"], mask_zero=True)
    sine = keras_hub.layers.SinePositionEncoding()

    def apply(ids):
        tokens = embedding(ids)
        return tokens + sine(tokens)

    return apply


def ours(size, **kwargs):
    from keras_embedx.layers.token_and_position import TokenAndPosition

    return TokenAndPosition(size["vocab"], size["seq"], size["dim"], **kwargs)


def ours_pretrained(size):
    from keras_embedx.layers import PretrainedEmbedding
    from keras_embedx.vectors import WordVectors

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(size["vocab"] - 2)]
    vectors = rng.standard_normal((len(words), size["dim"]), dtype="float32")
    table = PretrainedEmbedding.from_vectors(WordVectors(words, vectors), seed=0)
    return ours(size, token_embedding=table)


def compiled_functions(model):
    """`(forward(ids), forward_backward(ids))`, compiled as the backend allows."""
    backend = backend_name()
    trainable = model.trainable_variables
    if backend == "jax":
        import jax

        state = (
            [v.value for v in trainable],
            [v.value for v in model.non_trainable_variables],
        )

        def loss(tv, ntv, ids):
            out, _ = model.stateless_call(tv, ntv, ids)
            return out.astype("float32").sum()

        fwd = jax.jit(lambda tv, ntv, ids: model.stateless_call(tv, ntv, ids)[0])
        grad = jax.jit(jax.grad(loss))
        return (
            lambda ids: fwd(*state, ids),
            lambda ids: jax.block_until_ready(grad(*state, ids)),
        )
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=True)
        def fwd(ids):
            return model(ids, training=False)

        @tf.function(jit_compile=True)
        def grad(ids):
            with tf.GradientTape() as tape:
                total = tf.reduce_sum(tf.cast(model(ids, training=True), "float32"))
            return tape.gradient(total, trainable)

        def grad_values(ids):
            # tf.function runs synchronously on CPU; read the smallest
            # gradient so a GPU finishes too. A gather's gradient is sparse.
            grads = [getattr(g, "values", g) for g in grad(ids)]
            return min(grads, key=lambda g: int(tf.size(g))).numpy()

        return fwd, grad_values
    import torch

    def fwd(ids):
        with torch.no_grad():
            return model(ids, training=False)

    def grad(ids):
        out = model(ids, training=True)
        grads = torch.autograd.grad(out.float().sum(), [v.value for v in trainable])
        return grads[-1]

    return fwd, grad


def reference_add(size):
    """A same-size elementwise add: the memory's speed for this output."""
    shape = (size["batch"], size["seq"], size["dim"])
    a = keras.ops.ones(shape)
    b = keras.ops.ones(shape)
    backend = backend_name()
    if backend == "jax":
        import jax

        add = jax.jit(lambda x, y: x + y)
    elif backend == "tensorflow":
        import tensorflow as tf

        add = tf.function(lambda x, y: x + y, jit_compile=True)
    else:
        add = keras.ops.add
    return lambda: add(a, b)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    args = parser.parse_args(argv)
    size = SIZES["quick" if args.quick else "full"]
    backend = backend_name()
    rng = np.random.default_rng(0)
    ids = rng.integers(1, size["vocab"], (size["batch"], size["seq"])).astype("int32")
    ids[:, -size["seq"] // 4 :] = 0  # some padding, as real batches have
    out_bytes = ids.size * size["dim"] * 4
    # (name, make, baseline it is compared with, target); a subject whose
    # baseline is None is itself a baseline.
    subjects = [
        (
            "keras_hub TokenAndPositionEmbedding",
            lambda: keras_hub_layer(size),
            None,
            None,
        ),
        ("TokenAndPosition (learned)", lambda: ours(size), "learned", "<= 1"),
        (
            'TokenAndPosition(PretrainedEmbedding freeze="pretrained")',
            lambda: ours_pretrained(size),
            "learned",
            None,
        ),
        (
            "keras Embedding + keras_hub SinePositionEncoding",
            lambda: keras_sine_layers(size),
            None,
            None,
        ),
        (
            'TokenAndPosition(position="sinusoidal")',
            lambda: ours(size, position="sinusoidal"),
            "sinusoidal",
            "<= 1",
        ),
    ]
    load_before = os.getloadavg()[0]
    x = keras.ops.convert_to_tensor(ids)
    timed = []  # (name, mode, compare_to, target, fn)
    for name, make, compare_to, target in subjects:
        print("building", name, flush=True)
        inputs = keras.Input((size["seq"],), dtype="int32")
        with warnings.catch_warnings():
            # keras-hub's layers print a false "mask destroyed" warning.
            warnings.simplefilter("ignore")
            model = keras.Model(inputs, make()(inputs))
        fwd, grad = compiled_functions(model)
        for mode, fn in (("forward", fwd), ("forward+backward", grad)):
            timed.append((name, mode, compare_to, target, lambda f=fn: f(x)))
    timed.append(
        ("reference: same-size add", "forward", None, None, reference_add(size))
    )
    # Rounds that visit every subject in turn, so that the load of a shared
    # machine falls on all of them alike; each round times one call each.
    samples = {i: [] for i in range(len(timed))}
    for *_, fn in timed:
        measure(fn, repeats=1, warmup=2)  # compile and warm up
    for _ in range(size["repeats"]):
        for i, (*_, fn) in enumerate(timed):
            samples[i].append(measure(fn, repeats=1, warmup=0)["median_s"])
    rows = []
    baseline = {}
    for i, (name, mode, compare_to, target, _) in enumerate(timed):
        times = sorted(samples[i])
        quartiles = statistics.quantiles(times, n=4)
        median = statistics.median(times)
        row = {
            "backend": backend,
            "subject": name,
            "mode": mode,
            "ms": median * 1e3,
            "min_ms": times[0] * 1e3,
            "iqr_ms": (quartiles[2] - quartiles[0]) * 1e3,
            "gb_s": out_bytes / median / 1e9,
            "ratio": None,
            "min_ratio": None,
            "target": target,
        }
        if name.startswith("keras"):
            kind = "learned" if "TokenAndPositionEmbedding" in name else "sinusoidal"
            baseline[kind, mode] = row
        elif compare_to is not None:
            row["ratio"] = row["ms"] / baseline[compare_to, mode]["ms"]
            row["min_ratio"] = row["min_ms"] / baseline[compare_to, mode]["min_ms"]
        rows.append(row)
    gc.collect()
    command = f"KERAS_BACKEND={backend} python -m benchmarks.token_position" + (
        " --quick" if args.quick else ""
    )
    compiled = {
        "jax": "`jax.jit`",
        "tensorflow": "`tf.function(jit_compile=True)`",
        "torch": "eager PyTorch",
    }[backend]
    write_results(
        f"token_position_{backend}",
        rows,
        [
            "subject",
            "mode",
            ("ms", "ms / call"),
            ("min_ms", "min ms"),
            ("iqr_ms", "IQR ms"),
            ("gb_s", "output GB/s"),
            ("ratio", "ratio to keras-hub"),
            ("min_ratio", "ratio of mins"),
            "target",
        ],
        title=f"TokenAndPosition vs keras-hub ({backend})",
        command=command,
        notes=(
            f"Batch {size['batch']} x {size['seq']} ids (a quarter padding), "
            f"vocabulary {size['vocab']:,}, width {size['dim']}, "
            f"{compiled}; median over {size['repeats']} rounds that time every "
            "subject in turn (one call each, after warm-up). "
            "forward+backward is the gradient of `sum(output)` with respect to "
            "the trainable variables. `ratio` divides by the keras-hub baseline's "
            "time in the same mode (`TokenAndPositionEmbedding` for learned "
            "positions, `Embedding` + `SinePositionEncoding` for sinusoidal), "
            "measured in the same process. Load average (1 min) at the start "
            f"and end: {load_before:.1f} and {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} cores; a busy machine spreads the times (see "
            "IQR and min), the interleaved rounds keep the ratios fair, and the "
            "ratio of the fastest calls is the steadiest under load."
        ),
        extra={"sizes": size, "load_average": [load_before, os.getloadavg()[0]]},
    )


if __name__ == "__main__":
    main()
