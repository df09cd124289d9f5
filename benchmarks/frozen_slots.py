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

On JAX the gradient of the frozen positions is dropped, so the two tables
should time alike there.
"""

import gc
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks import _harness  # noqa: E402
from benchmarks.lookup import (  # noqa: E402
    case_parser,
    interleaved,
    layer_functions,
    make_ids,
    pretrained_layer,
    run_cases,
    run_words,
    stock_layer,
    timing_row,
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
            row = timing_row(
                t, base, vocab=vocab, dim=dim, ids=f"{batch}x{seq}", mode=mode
            )
            row["subject"] = name
            rows.append({**row, "time / spread's": round(t["min_s"] / now, 3)})
    del subjects, layers
    gc.collect()
    return rows


def main(argv=None):
    args = case_parser(__doc__, "--no-jit", "as jit_compile=False runs it").parse_args(
        argv
    )
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
    rows, calls = run_cases(cases, run_case, args.quick, rng=rng, jit=not args.no_jit)
    flags, mode = run_words(args.quick, not args.no_jit, args.no_jit and "--no-jit")
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
            f"{mode[0].upper()}{mode[1:]}. `spread (now)`: "
            '`PretrainedEmbedding(freeze="pretrained")` with 90% of its rows '
            "frozen, the frozen rows' positions spread over up to 1024 "
            "trainable rows; `all on row 0`: the same table with -1 for every "
            "frozen row in `row_index`, as tables saved before store it. `ms` "
            "is the fastest "
            f"of {calls} calls, interleaved; `time / spread's` above "
            "1 means the table as built now is faster."
        ),
    )


if __name__ == "__main__":
    main()
