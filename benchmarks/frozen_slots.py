"""Where a mixed table's frozen positions read the trainable rows, compiled.

`python -m benchmarks.frozen_slots [--quick]` on the current `KERAS_BACKEND`
(PyTorch is the one it is about).

Outside JAX, a compiled lookup of a mixed table (`freeze="pretrained"`)
reads a trainable row for every position, frozen ones included, and then
selects the frozen row there, so those positions send a zero gradient to
the trainable row they read. `row_index` spreads the frozen rows over up
to 1024 trainable rows (`-1 - (row % m)`); tables saved before stored -1
for every frozen row, which sends them all to row 0.
The values are the same either way. This times, in one process, compiled
as `model.compile(jit_compile=True)` compiles (`torch.compile`,
`tf.function(jit_compile=True)`, `jax.jit`), or with `--no-jit` as
`jit_compile=False` runs it (a `tf.function` without XLA, in which the
mixed lookup is one XLA cluster; eager JAX and PyTorch; two more cases,
64-wide rows and a 1,000,000-row table), the forward lookup and the
gradient of `sum(output)` of:

- `keras.layers.Embedding` (the baseline);
- `PretrainedEmbedding(freeze="pretrained")`, 90% of its rows frozen, as
  built now (frozen positions spread over up to 1024 trainable rows);
- the same table with every frozen slot at -1 (all of them on row 0).

On JAX the frozen positions read an out-of-range slot whose gradient is
dropped, so the two tables should time alike there.
"""

import argparse
import gc
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks import _harness  # noqa: E402
from benchmarks.lookup import (  # noqa: E402
    interleaved,
    layer_functions,
    make_ids,
    pretrained_layer,
    stock_layer,
)

SUBJECTS = ("Embedding", "spread (now)", "all on row 0 (saved before)")


def all_on_row_zero(layer):
    """`layer` with -1 in `row_index` for every frozen row, as saved before."""
    index = layer.table.row_index
    index.assign(np.maximum(keras.ops.convert_to_numpy(index), -1))
    return layer


def run_case(vocab, dim, batch, seq, rounds, per_round, rng, jit=True):
    table = rng.standard_normal((vocab, dim)).astype("float32")
    ids = keras.ops.convert_to_tensor(make_ids("uniform", vocab, (batch, seq), rng))
    layers = dict(
        zip(
            SUBJECTS,
            (
                stock_layer(table),
                pretrained_layer(table, "pretrained"),
                all_on_row_zero(pretrained_layer(table, "pretrained")),
            ),
        )
    )
    subjects = {}
    for name, layer in layers.items():
        fwd, grad = layer_functions(layer, jit=jit)
        subjects[name, "forward"] = lambda f=fwd: f(ids)
        subjects[name, "forward+backward"] = lambda g=grad: g(ids)
    times = interleaved(subjects, rounds, per_round)
    rows = []
    for mode in ("forward", "forward+backward"):
        base = times["Embedding", mode]["min_s"]
        now = times[SUBJECTS[1], mode]["min_s"]
        for name in SUBJECTS:
            t = times[name, mode]
            rows.append(
                {
                    "vocab": vocab,
                    "dim": dim,
                    "ids": f"{batch}x{seq}",
                    "mode": mode,
                    "subject": name,
                    "ms": round(t["min_s"] * 1e3, 4),
                    "median ms": round(t["median_s"] * 1e3, 4),
                    "vs Embedding": round(base / t["min_s"], 3),
                    "time / spread's": round(t["min_s"] / now, 3),
                }
            )
    del subjects, layers
    gc.collect()
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one case, fewer calls")
    parser.add_argument(
        "--no-jit", action="store_true", help="as jit_compile=False runs it"
    )
    args = parser.parse_args(argv)
    if _harness.backend_name() == "torch":
        import torch

        # Each subject is a new function for torch.compile to trace.
        torch._dynamo.config.recompile_limit = 64
    rng = np.random.default_rng(0)
    cases = [(100_000, 128, 32, 256)]
    if not args.quick:
        cases += [(100_000, 128, 256, 256), (100_000, 128, 1024, 256)]
    if args.no_jit and not args.quick:
        # Where TensorFlow's graph lookup is furthest below Embedding's.
        cases += [(100_000, 64, 32, 256), (1_000_000, 128, 32, 256)]
    rounds, per_round = (5, 3) if args.quick else (7, 3)
    rows = []
    for case in cases:
        print(f"case {case}", flush=True)
        rows += run_case(*case, rounds, per_round, rng, jit=not args.no_jit)
    flags = (" --quick" if args.quick else "") + (" --no-jit" if args.no_jit else "")
    compiled = (
        "Run as `jit_compile=False` runs it."
        if args.no_jit
        else "Compiled as `jit_compile=True` compiles."
    )
    _harness.write_results(
        f"frozen_slots_{_harness.backend_name()}" + ("_nojit" if args.no_jit else ""),
        rows,
        [
            "vocab",
            "dim",
            "ids",
            "mode",
            "subject",
            "ms",
            "median ms",
            "vs Embedding",
            "time / spread's",
        ],
        "Frozen positions of a"
        + (" mixed table without jit" if args.no_jit else " compiled mixed table")
        + f" ({_harness.backend_name()})",
        f"KERAS_BACKEND={_harness.backend_name()} "
        f"python -m benchmarks.frozen_slots{flags}",
        notes=(
            f"{compiled} `spread (now)`: "
            '`PretrainedEmbedding(freeze="pretrained")` with 90% of its rows '
            "frozen, the frozen rows' positions spread over up to 1024 "
            "trainable rows; `all on row 0`: the same table with -1 for every "
            "frozen row in `row_index`, as tables saved before store it. `ms` "
            "is the fastest "
            f"of {rounds * per_round} calls, interleaved; `time / spread's` above "
            "1 means the table as built now is faster."
        ),
    )


if __name__ == "__main__":
    main()
