"""Loading word vector files: keras_embedx against gensim.

`python -m benchmarks.load_vectors [--quick] [--rows N]`

Generates a GloVe-format text file (200,000 words x 300, or 50,000 with
`--quick`; kept under benchmarks/results/tmp/ for the next run), then times, in
the same process:

- `keras_embedx.load_vectors(path)` (pandas' C reader in blocks when pandas is
  installed), and the NumPy path used without pandas;
- gensim's `KeyedVectors.load_word2vec_format(path, no_header=True)`;
- reopening the package's cache file (`WordVectors.save` then
  `WordVectors.load`, memory-mapped, and read into memory, each also with
  `verify=True`), with gensim's own `KeyedVectors.save`/`load(mmap="r")` for
  reference.

Each load also records its peak memory above the process's resident size
before the call (Linux: `/proc/self/status` VmHWM after resetting it), next
to the size of the float32 matrix it returns. The result is checked to be
identical (every word, every float) to gensim's.
"""

import argparse
import gc
import os
import time

import numpy as np

from benchmarks._harness import TMP_DIR, measure, write_results

DIM = 300


def make_glove_file(rows, dim=DIM):
    """A deterministic GloVe-format file with `rows` unique words."""
    path = os.path.join(TMP_DIR, f"glove_{rows}x{dim}.txt")
    if os.path.exists(path):
        return path
    from keras_embedx import WordVectors

    os.makedirs(TMP_DIR, exist_ok=True)
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lengths = rng.integers(1, 9, rows)
    words = [
        "".join(letters[rng.integers(0, 26, n)]) + str(i)
        for i, n in enumerate(lengths.tolist())
    ]
    vectors = rng.normal(0.0, 0.4, (rows, dim)).astype(np.float32)
    print(f"writing {path} ...", flush=True)
    tmp = path + ".part"
    # 6 significant digits, as GloVe's own files have about.
    WordVectors(words, vectors).save(tmp, format="glove", precision=6)
    os.replace(tmp, path)
    return path


def _rss_kb(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def peak_increment_mb(fn):
    """Run `fn()`; return (result, MiB of peak RSS above the RSS before)."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
    except OSError:
        return fn(), None
    before = _rss_kb("VmRSS")
    out = fn()
    peak = _rss_kb("VmHWM")
    if before is None or peak is None:
        return out, None
    return out, (peak - before) / 1024.0


def _drop(obj):
    del obj
    gc.collect()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50,000 rows")
    parser.add_argument("--rows", type=int, default=None, help="rows to generate")
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed repeats of our loader"
    )
    args = parser.parse_args(argv)
    rows = args.rows or (50_000 if args.quick else 200_000)
    repeats = args.repeats or 3

    from gensim.models import KeyedVectors

    from keras_embedx import WordVectors, load_vectors
    from keras_embedx.vectors import _text_parser

    path = make_glove_file(rows)
    size_mb = os.path.getsize(path) / 2**20
    matrix_mb = rows * DIM * 4 / 2**20
    with open(path, "rb") as f:  # warm the page cache for every contender
        while f.read(64 << 20):
            pass

    results = []

    def add(name, timing, peak_mb, note=""):
        results.append(
            {
                "loader": name,
                "rows": rows,
                "median_s": timing["median_s"],
                "min_s": timing["min_s"],
                "repeats": timing["repeats"],
                "peak_mb": peak_mb,
                "note": note,
            }
        )
        print(
            f"{name}: {timing['median_s']:.3f} s (min {timing['min_s']:.3f}), "
            f"peak +{peak_mb if peak_mb is None else round(peak_mb)} MiB",
            flush=True,
        )

    # keras_embedx, text -------------------------------------------------------
    # Time first (this also imports pandas), then measure memory on a warm run.
    timing = measure(
        lambda: load_vectors(path, progress=False),
        repeats=repeats,
        warmup=0,
        sync=False,
    )
    ours, peak = peak_increment_mb(lambda: load_vectors(path, progress=False))
    add("keras_embedx load_vectors (pandas)", timing, peak)

    pandas_factory = _text_parser._pandas
    _text_parser._pandas = lambda: None
    try:
        start = time.perf_counter()
        wv, peak = peak_increment_mb(lambda: load_vectors(path, progress=False))
        numpy_s = time.perf_counter() - start
        identical_numpy = wv.words == ours.words and np.array_equal(
            wv.vectors, ours.vectors
        )
        _drop(wv)
    finally:
        _text_parser._pandas = pandas_factory
    add(
        "keras_embedx load_vectors (NumPy, no pandas)",
        {"median_s": numpy_s, "min_s": numpy_s, "repeats": 1},
        peak,
    )

    # gensim, text ---------------------------------------------------------------
    start = time.perf_counter()
    kv, peak = peak_increment_mb(
        lambda: KeyedVectors.load_word2vec_format(path, no_header=True)
    )
    gensim_s = time.perf_counter() - start
    add(
        "gensim load_word2vec_format(no_header=True)",
        {"median_s": gensim_s, "min_s": gensim_s, "repeats": 1},
        peak,
    )
    identical = ours.words == kv.index_to_key and np.array_equal(
        ours.vectors, kv.vectors
    )
    print(f"identical to gensim: {identical}; NumPy path identical: {identical_numpy}")

    # caches -------------------------------------------------------------------------
    cache_path = os.path.join(TMP_DIR, f"glove_{rows}x{DIM}.kxv")
    start = time.perf_counter()
    ours.save(cache_path)
    save_s = time.perf_counter() - start
    _, peak = peak_increment_mb(lambda: WordVectors.load(cache_path))
    add(
        "keras_embedx WordVectors.load (mmap)",
        measure(lambda: WordVectors.load(cache_path), repeats=20, sync=False),
        peak,
        f"save took {save_s:.2f} s",
    )
    _, peak = peak_increment_mb(lambda: WordVectors.load(cache_path, mmap=False))
    add(
        "keras_embedx WordVectors.load (mmap=False)",
        measure(
            lambda: WordVectors.load(cache_path, mmap=False), repeats=5, sync=False
        ),
        peak,
    )
    for mmap in (True, False):
        label = "mmap" if mmap else "mmap=False"

        def verified(mmap=mmap):
            return WordVectors.load(cache_path, mmap=mmap, verify=True)

        _, peak = peak_increment_mb(verified)
        add(
            f"keras_embedx WordVectors.load ({label}, verify=True)",
            measure(verified, repeats=5, sync=False),
            peak,
            "checksum of every byte, finite check of every number",
        )
    gensim_native = os.path.join(TMP_DIR, f"glove_{rows}x{DIM}.kv")
    kv.save(gensim_native)
    _drop(kv)
    _, peak = peak_increment_mb(lambda: KeyedVectors.load(gensim_native, mmap="r"))
    add(
        "gensim KeyedVectors.load(mmap='r') (its pickle + .npy)",
        measure(
            lambda: KeyedVectors.load(gensim_native, mmap="r"), repeats=20, sync=False
        ),
        peak,
    )
    for suffix in ("", ".vectors.npy"):
        if os.path.exists(gensim_native + suffix):
            os.remove(gensim_native + suffix)

    ours_s = results[0]["median_s"]
    cache_s = results[3]["median_s"]
    for row in results:
        row["x_faster_than_gensim_text"] = gensim_s / row["median_s"]
    text_ratio = gensim_s / ours_s
    cache_ratio = gensim_s / cache_s
    notes = (
        f"File: {rows:,} words x {DIM}, GloVe text format, {size_mb:.0f} MB "
        f"(float32 matrix: {matrix_mb:.0f} MiB), generated with 6 significant "
        "digits. Targets: text load at least 5x faster than gensim's "
        f"`load_word2vec_format(no_header=True)` (measured {text_ratio:.1f}x); "
        f"cached reload at least 100x faster than gensim's text load (measured "
        f"{cache_ratio:.0f}x). `peak_mb`: peak resident memory above the "
        "process's size before the call. Result identical to gensim's (every "
        f"word, every float32): {identical}."
    )
    write_results(
        "load_vectors",
        results,
        [
            ("loader", "loader"),
            ("median_s", "median s"),
            ("min_s", "min s"),
            ("repeats", "repeats"),
            ("x_faster_than_gensim_text", "x vs gensim text"),
            ("peak_mb", "peak MiB"),
            ("note", "note"),
        ],
        title=f"Loading a {rows:,} x {DIM} GloVe text file",
        command="python -m benchmarks.load_vectors"
        + (" --quick" if args.quick else ""),
        notes=notes,
        extra={
            "file_mb": size_mb,
            "matrix_mb": matrix_mb,
            "identical_to_gensim": identical,
            "numpy_path_identical": identical_numpy,
            "text_speedup": text_ratio,
            "cache_speedup": cache_ratio,
        },
    )


if __name__ == "__main__":
    main()
