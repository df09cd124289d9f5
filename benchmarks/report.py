"""Regenerate docs/benchmark-tables.md from benchmarks/results/*.md.

Usage: `python -m benchmarks.report`. The page holds every suite's latest
full tables; docs/benchmarks.md, the summary that links to them, is
written by hand.
"""

import glob
import json
import os
import shutil
import statistics

from benchmarks._harness import BENCH_DIR, TRACKED_RESULTS_DIR, markdown_table

# The page is made from the tracked results, wherever a run wrote its own.
RESULTS_DIR = TRACKED_RESULTS_DIR
DOC = os.path.join(BENCH_DIR, "..", "docs", "benchmark-tables.md")
INTRO = """# Benchmark tables

The latest full results of every suite; [Benchmarks](benchmarks.md) is
their summary. Every figure on this page was produced by the command
printed above its table, on the machine it names, and is regenerated from
`benchmarks/results/` by `python -m benchmarks.report`. Ratios compare rows
measured in the same process, because the machines are shared and noisy.
"""
GPU_NOT_MEASURED = """\
GPU: not measured. The suites detect a GPU and use synchronised timing
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
`ours "none"` is the same single gather as `Embedding`, so its spread around
1 is the machine's run-to-run noise for the fastest of the calls timed.
[Benchmarks](benchmarks.md) reads these ranges; [the lookup's
design](design/lookup-history.md) has what was tried to reach them."""


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
            + " (see [Benchmarks](benchmarks.md))."
            if missing
            else "every backend was measured."
        ),
    )


def lookup_summary():
    """Markdown: per backend and jit, the range of the lookup ratios."""
    rows = []
    for path in sorted(glob.glob(os.path.join(RESULTS_DIR, "lookup_*.json"))):
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
    sections = sorted(glob.glob(os.path.join(RESULTS_DIR, "*.md")))
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
