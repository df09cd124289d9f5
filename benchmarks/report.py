"""Regenerate docs/benchmarks.md from benchmarks/results/*.md.

Usage: `python -m benchmarks.report`
"""

import glob
import json
import os
import shutil
import statistics

from benchmarks._harness import BENCH_DIR, TRACKED_RESULTS_DIR, markdown_table

# The page is made from the tracked results, wherever a run wrote its own.
RESULTS_DIR = TRACKED_RESULTS_DIR
DOC = os.path.join(BENCH_DIR, "..", "docs", "benchmarks.md")
INTRO = """# Benchmarks

Every figure on this page was produced by the command printed above its
table, on the machine it names, and is regenerated from
`benchmarks/results/` by `python -m benchmarks.report`. Ratios compare rows
measured in the same process, because the machines are shared and noisy.
Speed is measured here, never asserted in tests.
"""
GPU_NOT_MEASURED = """\
GPU: not yet measured (no GPU machine was available to the sessions that
ran these benchmarks). The suite detects a GPU and uses synchronised timing
when one is present."""
GPU_MEASURED = """\
GPU: the sections whose title ends "on GPU" (or names `gpu`) were measured
on {devices}, with synchronised timing and a device copy of the same bytes
as the memory's limit, on the {backends} backend(s); {missing} The same
commands on a machine with a GPU write their results beside the CPU ones,
as `<name>_gpu.json`."""


LOOKUP_COLUMNS = [
    ("none", 'ours "none"'),
    ("pretrained", 'ours "pretrained"'),
    ("all", 'ours "all"'),
    ("none_vs_np_take", 'ours "none" / np.take'),
    ("embedding_vs_np_take", "Embedding / np.take"),
    ("embedding_vs_copy", "Embedding / copy"),
]
LOOKUP_NOTES = """\
How to read it: `ours "none"` is the same single gather as `Embedding`, so
its spread around 1 is this machine's run-to-run noise for the fastest of
21 calls. On PyTorch a call without gradients (how `predict` and this
benchmark run the forward) reads a mixed table with one gather as well, so
all three are level with `Embedding` within that noise.

Two gaps remain, both for the mixed table (`"pretrained"`). On TensorFlow
without XLA, which is how Keras compiles `fit` and `predict` on a CPU-only
machine, it runs at a median 0.86 of `Embedding`'s speed in the run above
(0.83 to 0.91 in the full runs before it; 0.53 before the change in
"Mixed tables on TensorFlow: one XLA cluster" below), lowest for 64-wide
rows. With the rows in two variables the lookup gathers from both and
selects; a graph without XLA would run each of those ops as its own pass
over the output, so the table runs them as one XLA cluster inside that
graph, which fuses them into one pass. "Ways to look up a mixed table
(tensorflow, no jit)" below times, in one process, every formulation this
project has tried. The shipped lookup (0.86 to 0.99 of `Embedding`'s
speed) keeps pace with a single gather compiled by XLA (0.91 to 1.04): what
is left is XLA's gather loop, slower than TensorFlow's own gather kernel
for some shapes. Every formulation in plain TensorFlow ops (two gathers
and a `where`, an arithmetic blend, one gather then
`tensor_scatter_nd_update` at the trainable positions,
`dynamic_partition` and `dynamic_stitch`) runs at 0.52 to 0.78. Only one
gather by TensorFlow's kernel from a merged copy of the table (1.0 to 1.15)
would close the gap, and a merged copy must be refreshed after every write
to the trainable rows: Keras' TensorFlow optimizers write to the
underlying `tf.Variable` directly (`assign_sub`, or `scatter_sub` for
sparse gradients, on `variable.value`), and TensorFlow variables keep no
write count (PyTorch tensors do, which is how PyTorch's lookup without
gradients reads one gather). Nor can both kinds of rows share one
trainable variable: Keras' optimizers apply weight decay to every variable
they update unless the optimizer itself is told to exclude it, so AdamW
would move pretrained rows that must stay bit-identical. With
`jit_compile=True` the whole step is XLA and the ratio is about 1. On JAX without `jit` (Keras runs JAX eagerly
only with `run_eagerly=True`) the lookup is one compiled call in which the
two gathers and the select are fused; that loop is slower than a plain
gather at some table sizes (the row above). Under `jax.jit`, where `fit`
and `predict` run it, the last full run put it at a median 0.86 of
`Embedding`'s speed, in a run where ours "none" (the same single gather as
`Embedding`) spread from 0.40 to 1.34: on this machine the noise of one
run is as large as the gap. In "Ways to look up a mixed table (jax, jit)"
below, the shipped lookup ran at 0.87 to 1.04 of `Embedding`'s speed and a
single gather from one table at 0.82 to 1.10.

The `/ np.take` columns compare with NumPy's gather on the same table and
ids. On TensorFlow the backend's own gather sets the ceiling
(`Embedding / np.take` is as low as ours); on PyTorch and JAX the fraction
varies with the table size and the distribution of the ids, and ours
follows `Embedding`'s.

On the GPU (the `gpu` rows, an NVIDIA H200; TensorFlow was not measured
there: the GPU machine has no TensorFlow, and only wheels carried with the
working tree, 64 MiB a run, could be installed, far less than TensorFlow's
GPU wheel) every case is small for the device: a forward call takes 0.06
to 0.2 ms, which is mostly the cost of launching kernels and of Python per
call, not of moving bytes. On PyTorch all three of ours are level with
`Embedding` (0.96 to 1.13); both run at about an eighth of
`torch.nn.functional.embedding`'s speed and under a tenth of a device copy
of the same bytes, because Keras' Python work per eager call (about
0.18 ms) dwarfs the gather (`torch.compile` is timed for one table in
"Frozen positions of a compiled mixed table (torch) on GPU" below: the
mixed table ran at 0.93 to 0.99 of `Embedding`'s speed forward and 0.88 to
1.03 forward+backward). On JAX under `jit`, `Embedding` reaches 0.80 to 1.08 of the
device copy (the GPU target is 0.7), ours "none" and "all" are level with
it, and the mixed table costs a fixed 0 to 21 microseconds more per call
whatever the batch (5.7 for 65,536 ids, 20.7 for 8,192): extra kernel work
per call rather than bandwidth, which puts it at 0.75 to 1.01 of
`Embedding`'s speed on these small batches. Without `jit` (Keras' JAX
backend runs eagerly only with `run_eagerly=True`) the lookup's compiled
call costs 30 to 100 microseconds more than `Embedding`'s eager gather.
Forward+backward on JAX under `jit` the mixed table now runs at 1.03 to
2.31 of `Embedding`'s speed, up from 0.25 to 1.93 (without `jit`, 0.89 to
1.17); the section "Mixed tables on JAX: the backward scatter skips frozen
positions" has the before and after."""


def _lookup_ratio(row, key):
    """A summary ratio of one forward row; None where it was not measured."""
    if key == "embedding_vs_copy" and row.get("none_vs_copy") and row.get("none"):
        # (copy / ours "none") / (Embedding / ours "none"), from the same calls.
        return row["none_vs_copy"] / row["none"]
    return row.get(key)


def gpu_statement():
    """INTRO's last paragraph: which results come from a GPU, and which not."""
    devices, backends = set(), set()
    for path in glob.glob(os.path.join(RESULTS_DIR, "*_gpu.json")):
        with open(path) as f:
            machine = json.load(f)["machine"]
        devices.add(machine.get("gpu_name") or "a GPU")
        backends.add(machine.get("backend", "?"))
    if not devices:
        return GPU_NOT_MEASURED
    missing = sorted({"tensorflow", "jax", "torch"} - backends)
    return GPU_MEASURED.format(
        devices=", ".join(sorted(devices)),
        backends=", ".join(sorted(backends)),
        missing=(
            "not measured on GPU: "
            + ", ".join(missing)
            + ' (see the notes under "Lookup speed at a glance").'
            if missing
            else "every backend was measured."
        ),
    )


def lookup_summary():
    """Markdown: per backend and jit, the range of the lookup ratios."""
    rows = []
    for path in sorted(glob.glob(os.path.join(RESULTS_DIR, "lookup_*.json"))):
        if "_before_" in os.path.basename(path):
            continue
        with open(path) as f:
            payload = json.load(f)
        machine = payload["machine"]
        forward = [r for r in payload["rows"] if r["mode"] == "forward"]
        for jit in sorted({r["jit"] for r in forward}):
            row = {
                "backend": machine["backend"],
                "device": machine["device"],
                "jit": jit,
                "cases": sum(r["jit"] == jit for r in forward),
            }
            for key, _ in LOOKUP_COLUMNS:
                values = [
                    _lookup_ratio(r, key)
                    for r in forward
                    if r["jit"] == jit and _lookup_ratio(r, key)
                ]
                row[key] = (
                    f"{min(values):.2f} to {max(values):.2f} "
                    f"(median {statistics.median(values):.2f})"
                    if values
                    else "-"
                )
            rows.append(row)
    if not rows:
        return None
    return (
        "## Lookup speed at a glance\n\n"
        "Forward lookups over every case of `python -m benchmarks.lookup` on "
        "each backend (sections below): the lowest and highest ratio, and the "
        "median, of each keras_embedx subject's speed to `keras.layers.Embedding`"
        "'s in the same process (target: at least 1), and of the speed to NumPy's "
        "`np.take` (target: at least 0.8) on a CPU, and of `Embedding`'s speed "
        "to a copy of the same bytes (target on a GPU: at least 0.7).\n\n"
        + markdown_table(rows, ["backend", "device", "jit", "cases", *LOOKUP_COLUMNS])
        + "\n\n"
        + LOOKUP_NOTES
    )


IMG_DIR = os.path.join(BENCH_DIR, "..", "docs", "img", "benchmarks")


def main():
    # The "before" halves of a before/after comparison are read by
    # `benchmarks.lookup_compare`, which writes their section itself.
    sections = sorted(
        path
        for path in glob.glob(os.path.join(RESULTS_DIR, "*.md"))
        if not os.path.exists(path[: -len(".md")] + ".json")
        or "_before_" not in os.path.basename(path)
    )
    parts = [INTRO + "\n" + gpu_statement()]
    summary = lookup_summary()
    if summary:
        parts.append(summary)
    for path in sections:
        with open(path) as f:
            parts.append(f.read().strip())
    text = "\n\n".join(parts)
    # Plots a section does not embed itself go at the end.
    # (PNGs written next to the results are copied to where the page finds them.)
    os.makedirs(IMG_DIR, exist_ok=True)
    for png in glob.glob(os.path.join(RESULTS_DIR, "*.png")):
        shutil.copy(png, IMG_DIR)
    pngs = sorted(glob.glob(os.path.join(IMG_DIR, "*.png")))
    extra = []
    for png in pngs:
        name = os.path.basename(png)
        if f"img/benchmarks/{name}" not in text:
            extra.append(f"![{name}](img/benchmarks/{name})")
    if extra:
        text += "\n\n## Plots\n\n" + "\n\n".join(extra)
    with open(os.path.normpath(DOC), "w") as f:
        f.write(text + "\n")
    print(f"wrote {os.path.normpath(DOC)} from {len(sections)} result file(s)")


if __name__ == "__main__":
    main()
