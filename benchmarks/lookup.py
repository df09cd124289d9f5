"""Lookup speed and compact tables: keras_embedx against stock Keras.

`python -m benchmarks.lookup [--quick] [--torch-compile]` times lookups on
the current `KERAS_BACKEND`; `python -m benchmarks --only lookup` runs it on
every backend. `python -m benchmarks.lookup --storage [--quick]` measures
the compact storage dtypes instead (see "Storage dtypes" below).

For each table (vocabulary size x width), batch of ids (batch x sequence)
and index distribution (uniform, or Zipf with s = 1.1 as word frequencies),
it times in one process, interleaving the subjects round by round so that a
noisy machine slows them all alike:

- the limits: a NumPy copy moving the same bytes (on a GPU, a device copy)
  and NumPy's `np.take` on the same table and ids (CPU only);
- the baselines a user would pick instead: the backend's own gather
  (`tf.gather`, `jnp.take`, `torch.nn.functional.embedding`),
  `keras.ops.take`, and `keras.layers.Embedding`;
- keras_embedx's `PretrainedEmbedding` with `freeze="none"` (one trainable
  table), `freeze="pretrained"` (90% of the rows frozen, the rest
  trainable: the mixed two-table path) and `freeze="all"` (one frozen table).

Each subject runs forward and forward+backward (the gradient of
`sum(output)` with respect to its trainable tables), with `jit` off and on,
as `model.compile(jit_compile=...)` would run it: off is a `tf.function`
without XLA on TensorFlow and op-by-op eager on JAX and PyTorch; on is
`tf.function(jit_compile=True)`, `jax.jit`, and on PyTorch `torch.compile`
(only with `--torch-compile`: it compiles for minutes on a 2-core machine).
The ids are handed over as a tensor already on the device.

Effective GB/s counts the bytes a forward lookup must move: the rows read
plus the output written, `2 x ids x width x 4`.

Storage dtypes (`--storage`): for `storage_dtype` in float32, float16,
bfloat16 and int8 (per-row absmax scale) it measures

- memory: the bytes of a `PretrainedEmbedding`'s table variables per row,
  for widths 50, 100 and 300, with every row frozen (`freeze="all"`) and
  with a trainable row (`freeze="pretrained"`, which adds the 4-byte
  `row_index`), and the size of the saved `.keras` file's weights;
- quality: the rows as the layer stores them against gensim's float32
  vectors: mean and minimum cosine, and the scores gensim itself computes
  (`KeyedVectors.evaluate_word_analogies` on `questions-words.txt`,
  `evaluate_word_pairs` on `wordsim353.tsv` and `simlex999.txt`) on
  KeyedVectors built from the float32 vectors and from the stored ones.

The vectors are those gensim ships or trains from what it ships: the
fastText vectors of `pang_lee_polarity_fasttext.vec` (1694 x 100),
word2vec vectors gensim trains on `lee_background.cor` (100 and 300 wide),
the 300-wide word2vec vectors of `EN.1-10.cbow1_wind5_hs0_neg10_size300...`,
the word vectors of `lee_fasttext_new.bin` (10 wide), and, as a stress
case for absmax scaling, 100,000 x 300 heavy-tailed random vectors
(Student's t, 3 degrees of freedom); `--quick` uses the first set only and
2,000-row tables for the memory. Target: int8 at no more than 27% of the
float32 memory with a mean cosine of at least 0.999.
"""

import argparse
import gc
import os
import statistics
import tempfile
import zipfile
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks import _harness  # noqa: E402

FROZEN_SHARE = 0.9
OURS = ("none", "pretrained", "all")
# Plots of the tracked results go where the docs find them; a run with
# `--output DIR` (BENCH_OUTPUT) keeps its plot beside its results.
PLOT_DIR = (
    os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        "docs",
        "img",
        "benchmarks",
    )
    if _harness.RESULTS_DIR == _harness.TRACKED_RESULTS_DIR
    else _harness.RESULTS_DIR
)


# ----------------------------------------------------------------- inputs
def make_ids(distribution, vocab, shape, rng):
    """Int32 ids: uniform over the rows, or Zipf-distributed ranks (s=1.1)."""
    if distribution == "uniform":
        return rng.integers(0, vocab, size=shape).astype("int32")
    ranks = rng.zipf(1.1, size=shape)
    return np.minimum(ranks, vocab - 1).astype("int32")


def pretrained_layer(table, freeze, seed=0):
    from keras_embedx.layers import PretrainedEmbedding

    vocab, dim = table.shape
    num_frozen = {"none": 0, "pretrained": int(vocab * FROZEN_SHARE), "all": vocab}
    layer = PretrainedEmbedding(
        vocab, dim, freeze=freeze, num_frozen=num_frozen[freeze], mask_zero=False
    )
    layer.build()
    if freeze == "pretrained":
        mask = np.zeros(vocab, dtype=bool)
        perm = np.random.default_rng(seed).permutation(vocab)
        mask[perm[: num_frozen[freeze]]] = True
        layer.table.set_table(table, mask)
    else:
        layer.table.set_table(table)
    return layer


def stock_layer(table):
    layer = keras.layers.Embedding(*table.shape)
    layer.build()
    layer.embeddings.assign(table)
    return layer


def weights_mb(layer):
    return (
        sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in layer.weights)
        / 2**20
    )


# ------------------------------------------------------ compiled callables
def layer_functions(layer, jit):
    """`(forward(ids), forward_backward(ids) or None)` for a Keras layer."""
    backend = _harness.backend_name()
    trainable = list(layer.trainable_variables)
    if backend == "jax":
        import jax

        tv = [v.value for v in trainable]
        ntv = [v.value for v in layer.non_trainable_variables]

        def apply(tv, ntv, ids):
            return layer.stateless_call(tv, ntv, ids)[0]

        return _jax_functions(apply, tv, ntv, jit, bool(trainable), jax)
    if backend == "tensorflow":
        return _tf_functions(lambda ids: layer(ids), trainable, jit)
    return _torch_functions(lambda ids: layer(ids), [v.value for v in trainable], jit)


def raw_functions(kind, table, jit):
    """Functions for a gather on a bare table: `kind` "backend" or "ops.take"."""
    backend = _harness.backend_name()
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        gather = jnp.take if kind == "backend" else keras.ops.take

        def apply(tv, ntv, ids):
            return gather(tv[0], ids, axis=0)

        return _jax_functions(apply, [jnp.asarray(table)], [], jit, True, jax)
    if backend == "tensorflow":
        import tensorflow as tf

        var = tf.Variable(table)
        gather = tf.gather if kind == "backend" else keras.ops.take
        return _tf_functions(lambda ids: gather(var, ids, axis=0), [var], jit)
    import torch

    weight = torch.tensor(table, device=_torch_device(), requires_grad=True)
    if kind == "backend":
        return _torch_functions(
            lambda ids: torch.nn.functional.embedding(ids, weight), [weight], jit
        )
    return _torch_functions(
        lambda ids: keras.ops.take(weight, ids, axis=0), [weight], jit
    )


def _jax_functions(apply, tv, ntv, jit, has_grad, jax):
    def loss(tv, ntv, ids):
        return apply(tv, ntv, ids).astype("float32").sum()

    fwd = jax.jit(apply) if jit else apply
    grad = jax.grad(loss)
    grad = jax.jit(grad) if jit else grad
    return (
        lambda ids: fwd(tv, ntv, ids),
        (lambda ids: grad(tv, ntv, ids)) if has_grad else None,
    )


def _tf_functions(apply, trainable, jit):
    import tensorflow as tf

    fwd = tf.function(apply, jit_compile=jit)

    @tf.function(jit_compile=jit)
    def grad(ids):
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(tf.cast(apply(ids), "float32"))
        # A gather's gradient is an IndexedSlices: return its values.
        return [getattr(g, "values", g) for g in tape.gradient(total, trainable)]

    return fwd, (grad if trainable else None)


def _torch_device():
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _torch_functions(apply, params, jit):
    import torch

    if jit:
        apply = torch.compile(apply)

    def fwd(ids):
        with torch.no_grad():
            return apply(ids)

    def grad(ids):
        return torch.autograd.grad(apply(ids).float().sum(), params)

    return fwd, (grad if params else None)


# ---------------------------------------------------------------- timing
def interleaved(subjects, rounds, per_round):
    """Times of each subject, measured round-robin.

    Every subject is warmed up (compiled) first; then each round times each
    subject `per_round` times, so slow phases of a shared machine hit all of
    them. Returns `{name: {"median_s", "iqr_s", "min_s", "max_s",
    "samples_s"}}` over all `rounds * per_round` calls.
    """
    samples = {}
    for name, fn in subjects.items():
        _harness.measure(fn, repeats=1, warmup=2)
        samples[name] = []
    for _ in range(rounds):
        for name, fn in subjects.items():
            for _ in range(per_round):
                t = _harness.measure(fn, repeats=1, warmup=0)
                samples[name].append(t["median_s"])
    out = {}
    for name, unsorted in samples.items():
        times = sorted(unsorted)
        q = statistics.quantiles(times, n=4) if len(times) > 1 else [times[0]] * 3
        out[name] = {
            "median_s": statistics.median(times),
            "iqr_s": q[2] - q[0],
            "min_s": times[0],
            "max_s": times[-1],
            "samples_s": unsorted,
        }
    return out


def run_case(case, rounds, per_round, torch_compile, rng):
    vocab, dim, batch, seq, dist = case
    backend = _harness.backend_name()
    gpu = _harness.device_kind() == "gpu"
    table = rng.standard_normal((vocab, dim)).astype("float32")
    ids_np = make_ids(dist, vocab, (batch, seq), rng)
    ids = keras.ops.convert_to_tensor(ids_np)
    if backend == "torch":
        ids = ids.to(_torch_device())
    n = ids_np.size
    nbytes = 2 * n * dim * 4
    _harness.reset_peak_memory()

    subjects = {}  # (subject, jit, mode) -> callable
    memory = {}
    if gpu:
        subjects["device copy (same bytes)", "-", "forward"] = _harness.device_copy(
            nbytes
        )
    else:
        subjects["numpy copy (same bytes)", "-", "forward"] = _harness.numpy_copy(
            nbytes
        )
        subjects["np.take", "-", "forward"] = lambda: np.take(table, ids_np, axis=0)
    gather_name = {
        "jax": "jnp.take",
        "tensorflow": "tf.gather",
        "torch": "F.embedding",
    }[backend]
    jits = [False, True] if backend != "torch" or torch_compile else [False]
    layers = {"keras.layers.Embedding": stock_layer(table)}
    for freeze in OURS:
        layers[f'PretrainedEmbedding("{freeze}")'] = pretrained_layer(table, freeze)
    for name, layer in layers.items():
        memory[name] = weights_mb(layer)
    for jit in jits:
        fns = {
            gather_name: raw_functions("backend", table, jit),
            "keras.ops.take": raw_functions("ops.take", table, jit),
        }
        for name, layer in layers.items():
            fns[name] = layer_functions(layer, jit)
        for name, (fwd, grad) in fns.items():
            subjects[name, jit, "forward"] = lambda f=fwd: f(ids)
            if grad is not None:
                subjects[name, jit, "forward+backward"] = lambda g=grad: g(ids)
    times = interleaved(subjects, rounds, per_round)
    peak = _harness.peak_memory_mb()

    rows = []
    for (name, jit, mode), t in times.items():
        rows.append(
            {
                "backend": backend,
                "device": "gpu" if gpu else "cpu",
                "vocab": vocab,
                "dim": dim,
                "batch": batch,
                "seq": seq,
                "ids": n,
                "dist": dist,
                "subject": name,
                "jit": jit,
                "mode": mode,
                "median_ms": t["median_s"] * 1e3,
                "iqr_ms": t["iqr_s"] * 1e3,
                "min_ms": t["min_s"] * 1e3,
                "max_ms": t["max_s"] * 1e3,
                # Speeds from the fastest call (see `paired`) and the median.
                "lookups_per_s": n / t["min_s"],
                "lookups_per_s_median": n / t["median_s"],
                "gb_per_s": nbytes / t["min_s"] / 1e9 if mode == "forward" else None,
                "weights_mb": memory.get(name),
                "peak_memory_mb": peak,
                "samples_ms": [x * 1e3 for x in t["samples_s"]],
            }
        )
    del subjects, layers, fns
    gc.collect()
    return rows


# ------------------------------------------------------------- summaries
def paired(base, other):
    """`base`'s time / `other`'s, from the fastest call of each.

    On a machine shared with other jobs the calls that ran undisturbed are
    the fastest, so the minimum estimates the work itself; medians and
    spread stay in the JSON.
    """
    return base["min_ms"] / other["min_ms"]


def summarise(rows):
    """One row per case, jit and mode: ratios of each subject to the baselines.

    `x vs Embedding` is Embedding's time / x's time (> 1: x is faster);
    `vs np.take` and `vs copy` are np.take's (the copy's) time / x's time,
    i.e. the fraction of NumPy's gather speed (of the memory's speed).
    Ratios come from the fastest call of each subject (see `paired`).
    """
    by_case = {}
    for r in rows:
        key = (r["vocab"], r["dim"], r["batch"], r["seq"], r["dist"])
        by_case.setdefault(key, []).append(r)
    out = []
    for key, case_rows in by_case.items():
        get = {(r["subject"], r["jit"], r["mode"]): r for r in case_rows}
        limit = next((r for r in case_rows if "copy" in r["subject"]), None)
        np_take = get.get(("np.take", "-", "forward"))
        jits = sorted({r["jit"] for r in case_rows if r["jit"] != "-"})
        gather = next(
            r["subject"]
            for r in case_rows
            if r["subject"] in ("jnp.take", "tf.gather", "F.embedding")
        )
        for jit in jits:
            for mode in ("forward", "forward+backward"):
                base = get.get(("keras.layers.Embedding", jit, mode))
                if base is None:
                    continue
                row = {
                    "vocab": key[0],
                    "dim": key[1],
                    "ids": f"{key[2]}x{key[3]}",
                    "dist": key[4],
                    "jit": jit,
                    "mode": mode,
                    "embedding_ms": base["min_ms"],
                    "embedding_gb_s": base["gb_per_s"],
                }
                for name, col in [
                    (gather, "gather"),
                    ("keras.ops.take", "ops_take"),
                    *[(f'PretrainedEmbedding("{f}")', f) for f in OURS],
                ]:
                    r = get.get((name, jit, mode))
                    row[col] = paired(base, r) if r else None
                if mode == "forward":
                    ours = [
                        get.get((f'PretrainedEmbedding("{f}")', jit, mode))
                        for f in OURS
                    ]
                    ours = [r for r in ours if r]
                    row["np_take_ms"] = np_take["median_ms"] if np_take else None
                    row["none_vs_np_take"] = (
                        paired(np_take, ours[0]) if np_take else None
                    )
                    row["embedding_vs_np_take"] = (
                        paired(np_take, base) if np_take else None
                    )
                    row["np_take_vs_copy"] = paired(limit, np_take) if np_take else None
                    row["none_vs_copy"] = paired(limit, ours[0])
                out.append(row)
    return out


COLUMNS = [
    "vocab",
    "dim",
    "ids",
    "dist",
    "jit",
    "mode",
    ("embedding_ms", "Embedding ms"),
    ("embedding_gb_s", "Embedding GB/s"),
    ("gather", "backend gather"),
    ("ops_take", "ops.take"),
    ("none", 'ours "none"'),
    ("pretrained", 'ours "pretrained"'),
    ("all", 'ours "all"'),
    ("none_vs_np_take", 'ours "none" / np.take'),
    ("embedding_vs_np_take", "Embedding / np.take"),
    ("np_take_vs_copy", "np.take / copy"),
    ("none_vs_copy", 'ours "none" / copy'),
]


# ------------------------------------------------------- storage dtypes
DTYPES = ("float32", "float16", "bfloat16", "int8")
ANALOGIES = "questions-words.txt"
PAIRS = ("wordsim353.tsv", "simlex999.txt")


def vector_sets(quick=False):
    """`(name, KeyedVectors)` pairs, all from gensim's wheel (one if `quick`)."""
    from gensim.models import KeyedVectors, Word2Vec
    from gensim.models.fasttext import load_facebook_vectors
    from gensim.test.utils import datapath

    sets = []
    kv = KeyedVectors.load_word2vec_format(
        datapath("pang_lee_polarity_fasttext.vec"), encoding="latin-1"
    )
    sets.append(("pang_lee_polarity_fasttext.vec (fastText)", kv))
    if quick:
        return sets
    with open(datapath("lee_background.cor"), encoding="utf-8") as f:
        sentences = [line.lower().split() for line in f]
    for dim in (100, 300):
        model = Word2Vec(
            sentences,
            vector_size=dim,
            min_count=2,
            epochs=20,
            seed=0,
            workers=1,
            hashfxn=_stable_hash,  # Python's str hash changes per process
        )
        sets.append((f"word2vec on lee_background.cor, dim {dim}", model.wv))
    en = datapath("EN.1-10.cbow1_wind5_hs0_neg10_size300_smpl1e-05.txt")
    sets.append(
        ("EN.1-10.cbow...size300 (word2vec)", KeyedVectors.load_word2vec_format(en))
    )
    ft = load_facebook_vectors(datapath("lee_fasttext_new.bin"))
    sets.append(("lee_fasttext_new.bin words (fastText)", _plain(ft)))
    rng = np.random.default_rng(0)
    heavy = rng.standard_t(3, size=(100_000, 300)).astype(np.float32) * 0.1
    sets.append(
        (
            "random Student-t(3), 100k x 300",
            _keyed([f"r{i}" for i in range(len(heavy))], heavy),
        )
    )
    return sets


def _stable_hash(text):
    return zlib.crc32(text.encode("utf-8"))


def _keyed(words, vectors):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vectors.shape[1], dtype=np.float32)
    kv.add_vectors(list(words), np.asarray(vectors, np.float32))
    return kv


def _plain(kv):
    """A KeyedVectors of a fastText model's vocabulary words only."""
    words = list(kv.index_to_key)
    return _keyed(words, np.stack([kv[w] for w in words]))


def stored_rows(kv, storage_dtype):
    """The vectors as a frozen `PretrainedEmbedding` stores them (float32)."""
    from keras_embedx import WordVectors
    from keras_embedx.layers import PretrainedEmbedding

    wv = WordVectors(kv.index_to_key, kv.vectors)
    layer = PretrainedEmbedding.from_vectors(
        wv, freeze="all", storage_dtype=storage_dtype, seed=0
    )
    return layer.embeddings[2:]  # after the padding and OOV rows


def scores(kv):
    from gensim.test.utils import datapath

    out = {"analogy": None, "analogy_n": 0}
    accuracy, sections = kv.evaluate_word_analogies(datapath(ANALOGIES))
    total = next(s for s in sections if s["section"] == "Total accuracy")
    out["analogy_n"] = len(total["correct"]) + len(total["incorrect"])
    if out["analogy_n"]:
        out["analogy"] = accuracy
    for name in PAIRS:
        key = name.split(".")[0]
        try:
            pearson, spearman, oov = kv.evaluate_word_pairs(datapath(name))
        except ValueError:  # no pair with both words known
            pearson, spearman, oov = (None,), None, 100.0
        out[f"{key}_pearson"] = None if pearson[0] is None else float(pearson[0])
        out[f"{key}_spearman"] = (
            None if spearman is None else float(spearman.correlation)
        )
        out[f"{key}_oov"] = float(oov)
    return out


def _change(now, base):
    return None if now is None or base is None else now - base


def quality_rows(quick=False):
    rows = []
    for name, kv in vector_sets(quick):
        original = np.asarray(kv.vectors, np.float32)
        base = scores(kv)
        for storage_dtype in DTYPES:
            stored = stored_rows(kv, storage_dtype)
            cos = _cosines(stored, original)
            if storage_dtype == "float32":
                assert np.array_equal(stored, original)
                now = base
            else:
                now = scores(_keyed(kv.index_to_key, stored))
            rows.append(
                {
                    "vectors": name,
                    "rows": len(original),
                    "dim": original.shape[1],
                    "storage_dtype": storage_dtype,
                    "mean_cosine": float(cos.mean()),
                    "min_cosine": float(cos.min()),
                    "one_minus_mean_cosine": round(float(1 - cos.mean()), 12),
                    "one_minus_min_cosine": round(float(1 - cos.min()), 12),
                    "max_abs_error": float(np.abs(stored - original).max()),
                    "analogy_n": base["analogy_n"],
                    "analogy": now["analogy"],
                    "d_analogy": _change(now["analogy"], base["analogy"]),
                    "wordsim353_spearman": now["wordsim353_spearman"],
                    "d_wordsim353": _change(
                        now["wordsim353_spearman"], base["wordsim353_spearman"]
                    ),
                    "simlex999_spearman": now["simlex999_spearman"],
                    "d_simlex999": _change(
                        now["simlex999_spearman"], base["simlex999_spearman"]
                    ),
                    "d_wordsim353_pearson": _change(
                        now["wordsim353_pearson"], base["wordsim353_pearson"]
                    ),
                    "wordsim353_oov": base["wordsim353_oov"],
                    "simlex999_oov": base["simlex999_oov"],
                }
            )
            print(rows[-1], flush=True)
    return rows


def _cosines(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    na = np.linalg.norm(a, axis=1)
    nb = np.linalg.norm(b, axis=1)
    ok = (na > 0) & (nb > 0)
    return (a[ok] * b[ok]).sum(1) / na[ok] / nb[ok]


def memory_rows(rows_count=20_000):
    """Bytes per row and saved weights of each storage dtype, per width."""
    from keras_embedx import WordVectors
    from keras_embedx.layers import PretrainedEmbedding

    rng = np.random.default_rng(0)
    out = []
    tmp = tempfile.mkdtemp(prefix="kx_storage_")
    for dim in (50, 100, 300):
        vectors = rng.normal(size=(rows_count, dim)).astype(np.float32)
        words = [f"w{i}" for i in range(rows_count)]
        wv = WordVectors(words, vectors)
        reference = {}
        for freeze in ("all", "pretrained"):
            for storage_dtype in DTYPES:
                layer = PretrainedEmbedding.from_vectors(
                    wv,
                    words + ["new-word"],  # one trainable row when freeze="pretrained"
                    freeze=freeze,
                    storage_dtype=storage_dtype,
                    seed=0,
                )
                nbytes = sum(
                    int(np.prod(v.shape)) * np.dtype(_np_dtype(v.dtype)).itemsize
                    for v in layer.table.weights
                )
                path = os.path.join(tmp, f"{dim}_{freeze}_{storage_dtype}.keras")
                keras.Sequential([keras.Input((3,), dtype="int32"), layer]).save(path)
                with zipfile.ZipFile(path) as zf:
                    weights = zf.getinfo("model.weights.h5").file_size
                per_row = nbytes / layer.input_dim
                if storage_dtype == "float32":
                    reference = {"per_row": per_row, "weights": weights}
                out.append(
                    {
                        "dim": dim,
                        "freeze": freeze,
                        "storage_dtype": storage_dtype,
                        "bytes_per_row": round(per_row, 2),
                        "of_float32": per_row / reference["per_row"],
                        "weights_file_mib": weights / 1024.0**2,
                        "file_of_float32": weights / reference["weights"],
                    }
                )
                print(out[-1], flush=True)
                os.remove(path)
    os.rmdir(tmp)
    return out


def _np_dtype(dtype):
    name = keras.backend.standardize_dtype(dtype)
    if name == "bfloat16":
        import ml_dtypes

        return ml_dtypes.bfloat16
    return np.dtype(name)


def run_storage(quick):
    """Write `storage_memory` and `storage_quality` for every storage dtype."""
    backend = _harness.backend_name()
    rows_count = 2_000 if quick else 20_000
    memory = memory_rows(rows_count)
    command = "python -m benchmarks.lookup --storage" + (" --quick" if quick else "")
    _harness.write_results(
        "storage_memory",
        memory,
        [
            "dim",
            "freeze",
            ("storage_dtype", "storage"),
            ("bytes_per_row", "bytes/row"),
            ("of_float32", "of float32"),
            ("weights_file_mib", "weights file MiB"),
            ("file_of_float32", "file of float32"),
        ],
        title="Compact frozen tables: memory per row",
        command=command,
        notes=(
            "Bytes of all the table's variables per row of a "
            f"{rows_count + 1:,}-row "
            "`PretrainedEmbedding` (int8 adds a float32 scale per row; "
            '`freeze="pretrained"` with a trainable row adds the int32 '
            "`row_index`), and the size of `model.weights.h5` in the saved "
            "`.keras` file. Target: int8 at no more than 27% of float32. "
            f"Backend: {backend}."
        ),
    )
    quality = quality_rows(quick)
    _harness.write_results(
        "storage_quality",
        quality,
        [
            "vectors",
            "rows",
            "dim",
            ("storage_dtype", "storage"),
            ("one_minus_mean_cosine", "1 - mean cos"),
            ("one_minus_min_cosine", "1 - min cos"),
            ("analogy_n", "analogies"),
            ("analogy", "analogy acc"),
            ("d_analogy", "Δ analogy"),
            ("wordsim353_spearman", "WS353 ρ"),
            ("d_wordsim353", "Δ WS353 ρ"),
            ("simlex999_spearman", "SimLex ρ"),
            ("d_simlex999", "Δ SimLex ρ"),
        ],
        title="Compact frozen tables: quality drift against float32",
        command=command,
        notes=(
            "Rows as a frozen `PretrainedEmbedding` stores them, against gensim's "
            "float32 vectors. Scores are gensim's own "
            "(`evaluate_word_analogies`, `evaluate_word_pairs`, Spearman ρ) on "
            "KeyedVectors of the stored rows; Δ is the change from float32 "
            "(0 means the same score). *analogies*: questions whose four words "
            "the vectors know (the small shipped vocabularies cover few). "
            "*1 - mean cos*: one minus the mean cosine between each stored row "
            "and its float32 original (0: identical; the target for int8, a mean "
            "cosine of at least 0.999, is 1 - mean cos <= 0.001)."
        ),
    )


# ----------------------------------------------------------------- plots
def plot(rows, backend, stem):
    """PNG `stem.png`: forward GB/s per subject against vocabulary size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(PLOT_DIR, exist_ok=True)
    fwd = [r for r in rows if r["mode"] == "forward" and r["dist"] == "uniform"]
    dims = sorted({r["dim"] for r in fwd})
    dim = 128 if 128 in dims else dims[0]
    fwd = [r for r in fwd if r["dim"] == dim]
    sizes = sorted({r["ids"] for r in fwd})
    fwd = [r for r in fwd if r["ids"] == sizes[len(sizes) // 2]]
    jits = [j for j in (False, True) if any(r["jit"] == j for r in fwd)]
    fig, axes = plt.subplots(1, len(jits), figsize=(6 * len(jits), 4.2), squeeze=False)
    vocabs = sorted({r["vocab"] for r in fwd})
    for ax, jit in zip(axes[0], jits):
        names = []
        for r in fwd:
            if r["jit"] in (jit, "-") and r["subject"] not in names:
                names.append(r["subject"])
        for name in names:
            pts = sorted(
                (r["vocab"], r["gb_per_s"])
                for r in fwd
                if r["subject"] == name and r["jit"] in (jit, "-")
            )
            style = "--" if r_is_limit(name) else "-"
            if len(vocabs) > 1:
                ax.plot(*zip(*pts), style, marker="o", label=name)
            else:
                ax.bar(name, pts[0][1])
        if len(vocabs) > 1:
            ax.set_xscale("log")
            ax.set_xlabel("vocabulary rows")
            ax.legend(fontsize=7)
        else:
            ax.tick_params(axis="x", labelrotation=60, labelsize=7)
        ax.set_yscale("log")
        ax.set_ylabel("effective GB/s (forward)")
        device = fwd[0]["device"].upper()
        ax.set_title(
            f"{backend} on {device}, jit={'on' if jit else 'off'}, width {dim}"
        )
    fig.tight_layout()
    path = os.path.join(PLOT_DIR, f"{stem}.png")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def r_is_limit(name):
    return "copy" in name or name == "np.take"


# ------------------------------------------------------------------ main
def grid(quick):
    if quick:
        return [(100_000, 128, 32, 256, d) for d in ("uniform", "zipf")]
    center = (100_000, 128, 32, 256)
    cases = []
    for vocab in (1_000, 10_000, 100_000, 1_000_000):
        for dist in ("uniform", "zipf"):
            cases.append((vocab, *center[1:], dist))
    for dim in (64, 256, 512):
        cases.append((center[0], dim, *center[2:], "uniform"))
    for batch, seq in ((8, 128), (256, 256)):
        cases.append((center[0], center[1], batch, seq, "uniform"))
    return cases


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small subset")
    parser.add_argument(
        "--torch-compile",
        action="store_true",
        help="also time PyTorch with torch.compile (jit on); slow to compile",
    )
    parser.add_argument(
        "--storage",
        action="store_true",
        help="measure the memory and quality of each storage_dtype instead",
    )
    parser.add_argument("--name", default=None, help="result file stem")
    args = parser.parse_args(argv)
    if args.storage:
        run_storage(args.quick)
        return
    rng = np.random.default_rng(0)
    rounds, per_round = (5, 3) if args.quick else (7, 3)
    cases = grid(args.quick)
    rows = []
    for done, case in enumerate(cases, 1):
        print("vocab={} dim={} ids={}x{} {}".format(*case), flush=True)
        rows.extend(run_case(case, rounds, per_round, args.torch_compile, rng))
        # Written after every case, so a run stopped early keeps what it did.
        save(rows, args, rounds * per_round, (done, len(cases)))


def save(rows, args, calls, progress):
    """Write the results file, its plot and its section for `rows`."""
    backend = _harness.backend_name()
    command = (
        f"KERAS_BACKEND={backend} python -m benchmarks.lookup"
        + (" --quick" if args.quick else "")
        + (" --torch-compile" if args.torch_compile else "")
    )
    device = _harness.device_kind()
    name = args.name or _harness.result_name(f"lookup_{backend}")
    png = plot(rows, backend, name)
    done, total = progress
    partial = (
        f"Only {done} of the {total} cases ran (the run was stopped early).\n\n"
        if done < total
        else ""
    )
    _harness.write_results(
        name,
        summarise(rows),
        COLUMNS,
        title=f"Lookup speed ({backend}, {device})",
        command=command,
        notes=(
            partial
            + "Ratios are speeds relative to stock `keras.layers.Embedding` with the "
            "same `jit` setting and mode, measured in the same process (> 1: "
            "faster; target for ours: >= 1). `ours` is `PretrainedEmbedding` with "
            'the `freeze=` shown ("pretrained": 90% of rows frozen, the rest '
            "trainable). `/ np.take` is the fraction of NumPy's gather speed on "
            "the same table and ids (target >= 0.8); `/ copy` the fraction of a "
            "same-size copy. Ratios, ms and GB/s are from the fastest of "
            f"{calls} calls per subject (undisturbed by other jobs on a "
            "shared machine), the calls interleaved across subjects. Every timing "
            "(with spread, peak memory and table "
            f"bytes) is in `benchmarks/results/{name}.json`.\n\n"
            f"![lookup {backend}](img/benchmarks/{os.path.basename(png)})"
        ),
        extra={"timings": rows, "plot": os.path.relpath(png, PLOT_DIR)},
        quiet=done < total,
    )


if __name__ == "__main__":
    main()
