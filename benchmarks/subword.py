"""SubwordEmbedding speed: vectors for unseen words, and the layer's gather.

`python -m benchmarks.subword [--quick]` on the current `KERAS_BACKEND`.

1. Vectors for 10,000 words the model never saw (misspellings of corpus
   words), from a fastText model trained here with gensim on
   `lee_background.cor` and saved as a real fastText `.bin`
   (`save_facebook_model`): `SubwordEmbedding.word_vectors` against gensim's
   `FastTextKeyedVectors` (`kv[word]`, and `kv[list]`) on the same model, in
   the same process. Target: at least as fast as gensim.
2. The layer's forward and forward+backward (gradient of `sum(output)`)
   on a fresh trainable table, against a plain `keras.layers.Embedding` of
   the same size gathering the same number of rows (`batch x words x bag`
   ids, then summed over the bag), jit off and on (XLA / `jax.jit`; eager
   on PyTorch).
"""

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks import _harness  # noqa: E402
from benchmarks.lookup import interleaved, layer_functions  # noqa: E402


def train_model(path, dim, bucket):
    """A real fastText .bin, trained by gensim on its own lee_background corpus."""
    from gensim.models import FastText
    from gensim.models.fasttext import save_facebook_model
    from gensim.test.utils import datapath
    from gensim.utils import simple_preprocess

    with open(datapath("lee_background.cor"), encoding="utf-8") as f:
        sentences = [simple_preprocess(line) for line in f]
    model = FastText(
        sentences,
        vector_size=dim,
        bucket=bucket,
        min_count=1,
        epochs=1,
        seed=0,
        workers=1,
    )
    save_facebook_model(model, path)
    return sorted({w for s in sentences for w in s})


def unseen_words(vocab, n, rng):
    """`n` distinct misspellings of corpus words, none in the vocabulary."""
    known = set(vocab)
    out = set()
    letters = "abcdefghijklmnopqrstuvwxyz"
    while len(out) < n:
        w = vocab[rng.integers(len(vocab))]
        i = rng.integers(len(w) + 1)
        w = w[:i] + letters[rng.integers(26)] + w[i:] + letters[rng.integers(26)]
        if w not in known:
            out.add(w)
    return sorted(out)


def bench_unseen(quick, rng):
    from gensim.models.fasttext import load_facebook_vectors

    from keras_embedx.layers.subword import SubwordEmbedding

    dim, bucket = (50, 100_000) if quick else (100, 2_000_000)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "lee.bin")
        vocab = train_model(path, dim, bucket)
        words = unseen_words(vocab, 10_000, rng)
        kv = load_facebook_vectors(path)
        layer = SubwordEmbedding.from_fasttext(path)
        ours = layer.word_vectors(words)
        theirs = np.stack([kv[w] for w in words])
        max_diff = float(np.abs(ours - theirs).max())
        subjects = {
            "keras_embedx SubwordEmbedding.word_vectors(words)": (
                lambda: layer.word_vectors(words)
            ),
            "gensim [kv[w] for w in words]": lambda: [kv[w] for w in words],
            "gensim kv[words]": lambda: kv[words],
        }
        times = interleaved(subjects, rounds=3 if quick else 5, per_round=1)
    base = times["gensim [kv[w] for w in words]"]["median_s"]
    rows = []
    for name, t in times.items():
        rows.append(
            {
                "part": "10,000 unseen words",
                "subject": name,
                "model": f"{len(vocab)} words, bucket {bucket:,}, dim {dim}",
                "median_ms": t["median_s"] * 1e3,
                "iqr_ms": t["iqr_s"] * 1e3,
                "speedup_vs_gensim_loop": base / t["median_s"],
            }
        )
    return rows, max_diff


def bench_layer(quick, rng):
    from keras_embedx.layers.subword import SubwordEmbedding

    buckets, dim = (100_000, 64) if quick else (500_000, 100)
    batch, words, bag = (16, 32, 16) if quick else (32, 64, 21)
    layer = SubwordEmbedding(num_buckets=buckets, output_dim=dim, minn=3, maxn=6)
    layer.build()
    ids = rng.integers(2, layer.num_rows, size=(batch, words, bag)).astype("int32")
    ids[..., bag // 2 :][rng.random((batch, words, bag - bag // 2)) < 0.5] = 0
    stock = keras.layers.Embedding(layer.num_rows, dim)
    stock.build()

    rows = []
    backend = _harness.backend_name()
    jits = (False,) if backend == "torch" else (False, True)
    for jit in jits:
        subjects = {}
        ids_t = keras.ops.convert_to_tensor(ids)
        for name, lay in (
            ("keras_embedx SubwordEmbedding (mean over the bag)", layer),
            ("keras.layers.Embedding, same ids", stock),
        ):
            fwd, grad = layer_functions(lay, jit)
            x = ids_t if lay is layer else keras.ops.reshape(ids_t, (batch, -1))
            subjects[name, "forward"] = lambda f=fwd, x=x: f(x)
            subjects[name, "forward+backward"] = lambda g=grad, x=x: g(x)
        times = interleaved(subjects, rounds=3 if quick else 5, per_round=2)
        for (name, kind), t in times.items():
            rows.append(
                {
                    "part": f"gather {batch}x{words}x{bag} ids from {buckets:,} rows",
                    "subject": name,
                    "model": f"{kind}, jit {'on' if jit else 'off'}",
                    "median_ms": t["median_s"] * 1e3,
                    "iqr_ms": t["iqr_s"] * 1e3,
                    "speedup_vs_gensim_loop": None,
                }
            )
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    rows, max_diff = bench_unseen(args.quick, rng)
    rows += bench_layer(args.quick, rng)
    backend = _harness.backend_name()
    notes = (
        "Unseen words: a fastText skipgram model trained by gensim on "
        "`lee_background.cor` and saved as a fastText `.bin`; largest "
        f"difference between the two sets of vectors: {max_diff:.2g}. "
        "Layer: forward and forward+backward of a fresh trainable table; the "
        "plain Embedding gathers the same ids (padding included) without "
        "the bag reduction."
    )
    _harness.write_results(
        f"subword_{backend}",
        rows,
        ["part", "subject", "model", "median_ms", "iqr_ms", "speedup_vs_gensim_loop"],
        f"SubwordEmbedding ({backend})",
        "python -m benchmarks.subword" + (" --quick" if args.quick else ""),
        notes=notes,
    )


if __name__ == "__main__":
    main()
