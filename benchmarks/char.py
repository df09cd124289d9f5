"""CharEmbedding against the hand-built char-CNN stack a Keras user writes.

`python -m benchmarks.char [--quick] [--backend jax|tensorflow|torch]`

Forward + backward throughput (words per second, one `train_on_batch` step
with SGD) of `keras_embedx.layers.CharEmbedding` and of the stack users
assemble by hand: `TimeDistributed(Embedding)` -> `TimeDistributed(Conv1D)`
per width -> `TimeDistributed(GlobalMaxPooling1D)` -> `Concatenate` ->
`Dense` highway layers -> `Dense` projection. Same sizes, same backend, same
process. The hand-built stack lets padding characters into the max (a
known mask bug); CharEmbedding does the extra work of keeping them out.

Without `--backend`, each backend runs in its own subprocess and writes
`benchmarks/results/char_<backend>.{json,md}`.
"""

import argparse
import os
import statistics
import subprocess
import sys

BACKENDS = ("tensorflow", "jax", "torch")
# (name, preset, max_chars, sentences, words per sentence)
CONFIGS_FULL = [
    ("kim_small", "kim_small", 24, 32, 20),
    ("kim_large", "kim_large", 24, 32, 20),
    ("elmo", "elmo", 50, 8, 20),
]
CONFIGS_QUICK = [("kim_small", "kim_small", 24, 16, 20)]


def hand_built(
    num_chars, char_dim, filters, highway_layers, activation, output_dim, shape=None
):
    """The stack a Keras user would write by hand (no masking).

    With `shape=None`: `TimeDistributed` around each per-word layer. With
    `shape=(words, chars)`: the faster variant that folds words into the batch
    with `ops.reshape` instead.
    """
    import keras
    from keras import layers, ops

    def per_word(layer):
        return layer if shape else layers.TimeDistributed(layer)

    ids = keras.Input(shape=shape or (None, None), dtype="int32")
    x = ops.reshape(ids, (-1, shape[1])) if shape else ids
    e = per_word(layers.Embedding(num_chars, char_dim))(x)
    pooled = []
    for width, count in filters:
        c = per_word(layers.Conv1D(count, width, activation=activation))(e)
        pooled.append(per_word(layers.GlobalMaxPooling1D())(c))
    h = layers.Concatenate()(pooled)
    dim = sum(count for _, count in filters)
    for _ in range(highway_layers):
        t = layers.Dense(dim, activation="sigmoid")(h)
        g = layers.Dense(dim, activation="relu")(h)
        h = ops.add(ops.multiply(t, g), ops.multiply(ops.subtract(1.0, t), h))
    if output_dim is not None:
        h = layers.Dense(output_dim)(h)
    if shape:
        h = ops.reshape(h, (-1, shape[0], h.shape[-1]))
    return keras.Model(ids, h)


def ours(preset, max_chars, output_dim):
    import keras

    from keras_embedx.layers.char import CharEmbedding

    layer = CharEmbedding.from_preset(
        preset, max_chars=max_chars, output_dim=output_dim
    )
    ids = keras.Input(shape=(None, None), dtype="int32")
    return keras.Model(ids, layer(ids)), layer


def sample_ids(layer, sentences, words, rng):
    """Real-looking words: lengths 1..12 letters, a few padding words."""
    import string

    letters = list(string.ascii_lowercase)
    batch = []
    for _ in range(sentences):
        n = int(rng.integers(words // 2, words + 1))
        sent = [
            "".join(rng.choice(letters, size=int(rng.integers(1, 13))))
            for _ in range(n)
        ]
        batch.append(sent)
    return layer.encode(batch, sequence_length=words)


def run_backend(quick):
    import keras
    import numpy as np

    from benchmarks import _harness

    backend = keras.config.backend()
    rng = np.random.default_rng(0)
    rows = []
    repeats = 5 if quick else 9
    configs = CONFIGS_QUICK if quick else CONFIGS_FULL
    for name, preset, max_chars, sentences, words in configs:
        keras.utils.set_random_seed(0)
        model, layer = ours(preset, max_chars, 128)
        sizes = (
            layer.num_chars,
            layer.char_dim,
            layer.filters,
            layer.highway_layers,
            keras.activations.serialize(layer.activation),
            128,
        )
        candidates = (
            ("hand-built, TimeDistributed", hand_built(*sizes)),
            ("hand-built, reshape", hand_built(*sizes, shape=(words, max_chars))),
            ("CharEmbedding", model),
        )
        x = sample_ids(layer, sentences, words, rng)
        y = rng.standard_normal((sentences, words, 128)).astype("float32")
        steps = {}
        for label, m in candidates:
            m.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
            steps[label] = lambda m=m, x=x, y=y: m.train_on_batch(x, y)
            _harness.measure(steps[label], repeats=1, warmup=2)
        # Interleaved rounds, so load changes on a shared machine hit every
        # model alike; each sample is one harness-timed step.
        times = {label: [] for label in steps}
        for r in range(repeats):
            order = list(steps)[r % len(steps) :] + list(steps)[: r % len(steps)]
            for label in order:
                t = _harness.measure(steps[label], repeats=1, warmup=0)
                times[label].append(t["median_s"])
        seconds = {}
        for label, m in candidates:
            ts = sorted(times[label])
            seconds[label] = statistics.median(ts)
            q = statistics.quantiles(ts, n=4)
            rows.append(
                {
                    "config": name,
                    "model": label,
                    "batch": f"{sentences}x{words}x{max_chars}",
                    "ms_per_step": 1000 * seconds[label],
                    "iqr_ms": 1000 * (q[2] - q[0]),
                    "words_per_s": sentences * words / seconds[label],
                    "params": m.count_params(),
                }
            )
        for row in rows[-len(candidates) :]:
            row["relative"] = seconds[row["model"]] / seconds["CharEmbedding"]
        print(
            f"{backend} {name}: "
            + ", ".join(f"{k} {1000 * v:.0f} ms" for k, v in seconds.items()),
            flush=True,
        )
    _harness.write_results(
        f"char_{backend}",
        rows,
        [
            ("config", "config"),
            ("model", "model"),
            ("batch", "sentences x words x chars"),
            ("ms_per_step", "ms / step"),
            ("iqr_ms", "IQR ms"),
            ("words_per_s", "words / s"),
            ("relative", "time / CharEmbedding's"),
            ("params", "params"),
        ],
        title=f"CharEmbedding vs hand-built char CNN ({backend})",
        command=f"python -m benchmarks.char{' --quick' if quick else ''}",
        notes=(
            "One `train_on_batch` step (forward + backward + SGD update) on random "
            "lowercase words of 1-12 letters (some sentences shorter, padded), "
            "projection to 128. Presets: Kim et al. 2016 small/large, ELMo's char "
            "CNN. The hand-built stacks let padding characters into the max; "
            "CharEmbedding masks them. `time / CharEmbedding's` above 1 means "
            "CharEmbedding is faster (target: >= 1 against the TimeDistributed "
            "stack)."
        ),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--backend", choices=BACKENDS)
    args = parser.parse_args(argv)
    if args.backend is None:
        for backend in BACKENDS:
            cmd = [sys.executable, "-m", "benchmarks.char", "--backend", backend]
            if args.quick:
                cmd.append("--quick")
            subprocess.run(cmd, check=True, env=dict(os.environ, KERAS_BACKEND=backend))
        return
    if os.environ.get("KERAS_BACKEND") != args.backend:
        os.environ["KERAS_BACKEND"] = args.backend
    run_backend(args.quick)


if __name__ == "__main__":
    main()
