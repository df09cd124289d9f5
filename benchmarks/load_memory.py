"""Huge vector files in bounded memory.

`python -m benchmarks.load_memory [--rows 2000000] [--dim 300] [--vocab 50000]`

Writes a GloVe text file of `rows x dim` numbers (2,000,000 x 300 is about
5 GB of text: it goes to benchmarks/results/tmp/, or `--dir`, and is deleted
at the end unless `--keep`), then measures, each in a fresh child process
(so one case's memory cannot hide in another's):

- `load_vectors(path)`: peak resident memory against the size of the
  resulting matrix (target: at most 1.5 x);
- `load_vectors(path, vocabulary=...)` with a `--vocab`-word vocabulary:
  memory proportional to the vocabulary, not the file;
- `WordVectors.load(cache, mmap=True)` on the package's cache file of the
  same vectors, then `PretrainedEmbedding.from_vectors` for a `--vocab`-word
  vocabulary (the first words, as a frequency-sorted file gives, and a
  random sample): how much of the memory-mapped file the process maps in
  (the `Rss` of the file's mapping in /proc/self/smaps) and reads from
  storage (`read_bytes` in /proc/self/io, after the file's pages are dropped
  from the page cache with `posix_fadvise(DONTNEED)`), against touching
  every row.

Resident memory is the child's `ru_maxrss` (peak) minus its resident memory
after `import keras_embedx` and building a tiny layer (the baseline:
Python, NumPy, pandas, Keras and its backend started), so the numbers
belong to the loading alone; the totals are recorded too.
"""

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np

from benchmarks._harness import TMP_DIR, write_results

MIB = 1024.0**2

_CHILD_PRELUDE = """
import json, os, resource, sys, time
import numpy as np

def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0

def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

def read_mib():
    with open("/proc/self/io") as f:
        for line in f:
            if line.startswith("read_bytes:"):
                return int(line.split()[1]) / 1024.0**2

def mapped_mib(path):
    # Resident pages of `path`'s mappings in this process.
    total, inside = 0, False
    real = os.path.realpath(path)
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()
            if head and "-" in head[0] and len(head) >= 5 and ":" in head[3]:
                inside = len(head) >= 6 and head[-1] == real
            elif inside and line.startswith("Rss:"):
                total += int(head[1])
    return total / 1024.0

import keras
import keras_embedx
from keras_embedx.layers import PretrainedEmbedding
try:
    import pandas  # noqa: F401  (the text reader's bulk parser, when installed)
except ImportError:
    pass
PretrainedEmbedding(4, 2).build()  # start the backend: a fixed cost, not loading's
base = rss_mib()
out = {"baseline_mib": base}
"""


def _child(code, timeout=3600):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.setdefault("KERAS_BACKEND", "jax")
    script = _CHILD_PRELUDE + textwrap.dedent(code) + "\nprint(json.dumps(out))\n"
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"child failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def generate(path, rows, dim, seed=0, pool=1009):
    """A GloVe text file: `w0 .. w{rows-1}`, each with `dim` numbers.

    The numbers come from a pool of `pool` random rows printed with five
    decimals, like GloVe's own files, so writing 5 GB takes a minute.
    """
    rng = np.random.default_rng(seed)
    values = rng.normal(scale=0.4, size=(pool, dim))
    lines = [" ".join(f"{v:.5f}" for v in row).encode() + b"\n" for row in values]
    step = 20_000
    with open(path, "wb") as f:
        for start in range(0, rows, step):
            stop = min(rows, start + step)
            f.write(b"".join(b"w%d " % i + lines[i % pool] for i in range(start, stop)))
    return os.path.getsize(path)


def run(args):
    os.makedirs(args.dir, exist_ok=True)
    text = os.path.join(args.dir, f"load_memory_{args.rows}x{args.dim}.txt")
    cache = os.path.join(args.dir, f"load_memory_{args.rows}x{args.dim}.kxv")
    rng = np.random.default_rng(1)
    first = [f"w{i}" for i in range(args.vocab)]
    sample = sorted(rng.choice(args.rows, size=args.vocab, replace=False).tolist())
    random_words = [f"w{i}" for i in sample]
    vocab_path = os.path.join(args.dir, "load_memory_vocab.json")
    with open(vocab_path, "w") as f:
        json.dump({"first": first, "random": random_words}, f)

    start = time.perf_counter()
    size = generate(text, args.rows, args.dim)
    gen_s = time.perf_counter() - start
    print(f"wrote {text}: {size / 1e9:.2f} GB in {gen_s:.0f} s", flush=True)
    matrix_mib = args.rows * args.dim * 4 / MIB
    vocab_mib = args.vocab * args.dim * 4 / MIB
    rows = []
    try:
        # 1. The whole file.
        full = _child(
            f"""
            t = time.perf_counter()
            wv = keras_embedx.load_vectors({text!r}, progress=False)
            out["seconds"] = time.perf_counter() - t
            out["peak_mib"] = peak_mib()
            out["matrix_mib"] = wv.vectors.nbytes / 1024.0**2
            out["rows"] = len(wv)
            wv.save({cache!r})
            """
        )
        rows.append(_row("load_vectors(text)", full, matrix_mib, size))
        print(rows[-1], flush=True)

        # 2. Restricted to a vocabulary (plus words the file does not have).
        restricted = _child(
            f"""
            words = json.load(open({vocab_path!r}))["random"]
            words += ["not-in-file-%d" % i for i in range(1000)]
            t = time.perf_counter()
            wv = keras_embedx.load_vectors({text!r}, vocabulary=words, progress=False)
            out["seconds"] = time.perf_counter() - t
            out["peak_mib"] = peak_mib()
            out["matrix_mib"] = wv.vectors.nbytes / 1024.0**2
            out["rows"] = len(wv)
            """
        )
        rows.append(
            _row(
                f"load_vectors(text, vocabulary={args.vocab})",
                restricted,
                vocab_mib,
                size,
            )
        )
        print(rows[-1], flush=True)

        # 3. The cache, memory-mapped, and layers built from it.
        for label, which, init in (
            ("first", "first", "vector_stats"),
            ("random", "random", "vector_stats"),
            ("random", "random", "zeros"),
        ):
            mapped = _child(
                f"""
                fd = os.open({cache!r}, os.O_RDONLY)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                os.close(fd)
                words = json.load(open({vocab_path!r}))[{which!r}]
                read0 = read_mib()
                t = time.perf_counter()
                wv = keras_embedx.WordVectors.load({cache!r}, mmap=True)
                out["open_seconds"] = time.perf_counter() - t
                out["open_rss_mib"] = rss_mib() - base
                out["open_mapped_mib"] = mapped_mib({cache!r})
                t = time.perf_counter()
                layer = PretrainedEmbedding.from_vectors(
                    wv, words, initializer={init!r}, seed=0)
                out["seconds"] = time.perf_counter() - t
                out["mapped_mib"] = mapped_mib({cache!r})
                out["read_mib"] = read_mib() - read0
                out["peak_mib"] = peak_mib()
                out["rows"] = layer.input_dim
                out["matrix_mib"] = layer.embeddings.nbytes / 1024.0**2
                """
            )
            name = f"cache mmap + from_vectors({args.vocab} {label} words, {init})"
            rows.append(_row(name, mapped, vocab_mib, os.path.getsize(cache)))
            print(rows[-1], flush=True)

        # 4. For scale: every row of the mapped file touched.
        touched = _child(
            f"""
            fd = os.open({cache!r}, os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)
            read0 = read_mib()
            wv = keras_embedx.WordVectors.load({cache!r}, mmap=True)
            t = time.perf_counter()
            wv.vectors.mean(axis=0)
            out["seconds"] = time.perf_counter() - t
            out["mapped_mib"] = mapped_mib({cache!r})
            out["read_mib"] = read_mib() - read0
            out["peak_mib"] = peak_mib()
            out["rows"] = len(wv)
            out["matrix_mib"] = wv.vectors.nbytes / 1024.0**2
            """
        )
        rows.append(
            _row(
                "cache mmap, mean of all rows",
                touched,
                matrix_mib,
                os.path.getsize(cache),
            )
        )
        print(rows[-1], flush=True)
    finally:
        if not args.keep:
            for path in (text, cache, vocab_path):
                if os.path.exists(path):
                    os.remove(path)
    return rows, {"file_bytes": size, "generate_seconds": gen_s}


def _row(case, res, result_mib, file_bytes):
    peak = res["peak_mib"] - res["baseline_mib"]
    return {
        "case": case,
        "rows": res.get("rows"),
        "file_mib": round(file_bytes / MIB),
        "result_mib": round(res.get("matrix_mib", result_mib), 1),
        "peak_over_baseline_mib": round(peak, 1),
        "peak_ratio": round(peak / max(res.get("matrix_mib", result_mib), 1e-9), 2),
        "peak_total_mib": round(res["peak_mib"], 1),
        "baseline_mib": round(res["baseline_mib"], 1),
        "open_mib": None
        if "open_rss_mib" not in res
        else round(res["open_rss_mib"], 1),
        "mapped_mib": None if "mapped_mib" not in res else round(res["mapped_mib"], 1),
        "read_mib": None if "read_mib" not in res else round(res["read_mib"], 1),
        "seconds": round(res["seconds"], 2),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--vocab", type=int, default=50_000)
    parser.add_argument("--dir", default=TMP_DIR)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    rows, extra = run(args)
    command = "python -m benchmarks.load_memory" + (
        ""
        if (args.rows, args.dim, args.vocab) == (2_000_000, 300, 50_000)
        else f" --rows {args.rows} --dim {args.dim} --vocab {args.vocab}"
    )
    notes = f"""
A generated GloVe text file of {args.rows:,} x {args.dim} ({extra["file_bytes"] / 1e9:.2f}
GB), each case in a fresh process. *peak over baseline*: the child's peak
resident memory minus its resident memory after `import keras_embedx` (and
the backend started);
*ratio*: that over the size of the result (`rows x dim x 4` bytes); target
for the whole file: at most 1.5. *after open*: resident memory over baseline
once the cache is open (its words and their index; the vectors stay on
disk). *mapped*: resident pages of the memory-mapped
cache file in the process; *read*: bytes the process read from storage after
the file was dropped from the page cache. The last row touches every row of
the mapped file, for scale.
"""
    write_results(
        "load_memory",
        rows,
        [
            "case",
            "rows",
            ("file_mib", "file MiB"),
            ("result_mib", "result MiB"),
            ("peak_over_baseline_mib", "peak over baseline MiB"),
            ("peak_ratio", "ratio"),
            ("open_mib", "after open MiB"),
            ("mapped_mib", "mapped MiB"),
            ("read_mib", "read MiB"),
            ("seconds", "s"),
            ("baseline_mib", "baseline MiB"),
        ],
        title="Huge vector files in bounded memory",
        command=command,
        notes=notes,
        extra=extra,
    )


if __name__ == "__main__":
    main()
