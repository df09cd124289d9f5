"""Compact frozen tables: memory per row and quality drift against float32.

`python -m benchmarks.storage` on the current `KERAS_BACKEND`.

For `storage_dtype` in float32, float16, bfloat16 and int8 (per-row absmax
scale) it measures:

- memory: the bytes of a `PretrainedEmbedding`'s table variables per row,
  for widths 50, 100 and 300, with every row frozen (`freeze="all"`) and
  with a few trainable rows (`freeze="pretrained"`, which adds the 4-byte
  `row_index`), and the size of the saved `.keras` file;
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
(Student's t, 3 degrees of freedom).
Target: int8 at no more than 27% of the float32 memory with a mean cosine of
at least 0.999.
"""

import os
import tempfile
import zipfile
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks._harness import backend_name, write_results  # noqa: E402

DTYPES = ("float32", "float16", "bfloat16", "int8")
ANALOGIES = "questions-words.txt"
PAIRS = ("wordsim353.tsv", "simlex999.txt")


def vector_sets():
    """`(name, KeyedVectors)` pairs, all from gensim's wheel."""
    from gensim.models import KeyedVectors, Word2Vec
    from gensim.models.fasttext import load_facebook_vectors
    from gensim.test.utils import datapath

    sets = []
    kv = KeyedVectors.load_word2vec_format(
        datapath("pang_lee_polarity_fasttext.vec"), encoding="latin-1"
    )
    sets.append(("pang_lee_polarity_fasttext.vec (fastText)", kv))
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


def quality_rows():
    rows = []
    for name, kv in vector_sets():
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


def main():
    backend = backend_name()
    memory = memory_rows()
    write_results(
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
        command="python -m benchmarks.storage",
        notes=(
            "Bytes of all the table's variables per row of a 20,001-row "
            "`PretrainedEmbedding` (int8 adds a float32 scale per row; "
            '`freeze="pretrained"` with a trainable row adds the int32 '
            "`row_index`), and the size of `model.weights.h5` in the saved "
            "`.keras` file. Target: int8 at no more than 27% of float32. "
            f"Backend: {backend}."
        ),
    )
    quality = quality_rows()
    write_results(
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
        command="python -m benchmarks.storage",
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


if __name__ == "__main__":
    main()
