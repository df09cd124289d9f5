"""Before/after tables for the lookup hot-path changes (issue 8).

`python -m benchmarks.lookup_compare [--change NAME]` reads
`results/<before>_<backend>.json` and `results/<after>_<backend>.json` (the
lookup benchmark run with `--name <before>_<backend>` on the code before a
change and `--name <after>_<backend>` after it), and writes
`results/<out>.md`:
for each backend, jit setting and index distribution, the forward speed of
each keras_embedx subject relative to `keras.layers.Embedding` timed in the
same process, before and after. `CHANGES` names each change's files and
describes it.
"""

import argparse
import json
import os

from benchmarks._harness import RESULTS_DIR, markdown_table

SUBJECTS = [f'PretrainedEmbedding("{f}")' for f in ("none", "pretrained", "all")]


def _timings(path):
    with open(path) as f:
        payload = json.load(f)
    return payload, payload["extra"]["timings"]


def _ratios(timings, mode="forward"):
    fastest = {}
    for r in timings:
        if r["mode"] != mode:
            continue
        key = (r["vocab"], r["dim"], r["ids"], r["dist"], r["jit"])
        fastest[key + (r["subject"],)] = r["min_ms"]
    out = {}
    for key in {k[:5] for k in fastest}:
        base = fastest.get(key + ("keras.layers.Embedding",))
        take = fastest.get(key[:4] + ("-", "np.take")) if mode == "forward" else None
        for subject in SUBJECTS:
            ms = fastest.get(key + (subject,))
            if base and ms:
                out[key + (subject,)] = (base / ms, take / ms if take else None)
    return out


CHANGES = {
    "hot-path": {
        "before": "lookup_before",
        "after": "lookup",
        "out": "lookup_before_after",
        "title": "Lookup hot path: before and after (issue 8)",
        "about": "The change (commit 44b9c3e): `PretrainedEmbedding` reads its "
        "table directly instead of through a nested layer call (Keras' per-call "
        "bookkeeping cost about 0.15 ms); an eager call on JAX runs the whole "
        "lookup as one compiled call (op-by-op dispatch of the id remapping and "
        "the mixed-table merge cost more than the gather); PyTorch gathers with "
        "`torch.nn.functional.embedding` and merges a mixed table with an "
        "in-place `index_put_` at the trainable positions instead of a "
        "full-size `where` (`benchmarks.profile_lookup` shows the stages). The "
        "change before it (commit 825cdc9): JAX gathers with "
        '`jnp.take(mode="clip")` for ids already in range instead of "fill" '
        "mode's per-element NaN select.",
    },
    "row-order": {
        "before": "lookup_before_rows",
        "after": "lookup",
        "out": "lookup_before_after_rows",
        "title": "Mixed tables indexed by row id: before and after (issue 2)",
        "about": "The change: a mixed table's frozen part is indexed by row id "
        "(a zero entry for each trainable row), so a lookup gathers the frozen "
        "rows with the ids themselves instead of with the slots it first "
        "gathers from `row_index`: the two gathers no longer wait for each "
        "other, and XLA fuses them into one pass. On PyTorch the slot gather "
        "is plain indexing instead of `keras.ops.take`.",
    },
    "one-gather": {
        "before": "lookup_before_sync",
        "after": "lookup",
        "out": "lookup_before_after_one_gather",
        "title": "Mixed tables on PyTorch without gradients: one gather (issue 2)",
        "about": "The change (PyTorch only): a mixed table's frozen part keeps "
        "a copy of each trainable row in that row's entry, refreshed when the "
        "trainable rows may have changed (PyTorch's write counters, new "
        "storage, a step of a `torch.optim` optimizer), so an "
        "eager call without gradients (`predict`, `torch.no_grad`, which is how "
        "this benchmark times the forward) is one gather, as in "
        "`keras.layers.Embedding`. Calls that record gradients still gather "
        "from both parts and merge with an in-place `index_copy_` on flat "
        "positions; ids and variables reach the gathers without "
        "`keras.ops.convert_to_tensor`, whose Python cost per call was larger "
        "than the small gathers.",
    },
    "xla-cluster": {
        "before": "lookup_before_xla",
        "after": "lookup",
        "out": "lookup_before_after_xla",
        "title": "Mixed tables on TensorFlow: one XLA cluster (issue 2)",
        "about": "The change (TensorFlow only): the mixed lookup (the slot "
        "gather, the two row gathers and the select) runs as one "
        "`tf.function(jit_compile=True)` inside whatever graph calls it, so "
        "XLA fuses it into one pass over the output even where the graph "
        "around it has no XLA (`fit` and `predict` on a CPU, the jit-off "
        "rows); with `jit_compile=True` it is inlined as before. Gathers on "
        "TensorFlow also skip `keras.ops.take`'s rewrite of negative ids, "
        "which the table's ids never are.",
    },
    "gpu-scatter": {
        "before": "lookup_before_scatter",
        "after": "lookup",
        "out": "lookup_before_after_scatter",
        "title": "Mixed tables on JAX: the backward scatter skips frozen "
        "positions (GPU)",
        "device": "gpu",
        "mode": "forward+backward",
        "about": "The change (JAX only, commit 3692d3c): the gather of "
        "trainable rows sends frozen positions to an out-of-range slot in "
        '"fill" mode instead of to slot 0, so the gradient scatter skips them. '
        "Before, the zero gradient of every frozen position (90% of them here) "
        "was added into trainable row 0, and on a GPU those adds to one row "
        "serialise. The values and gradients are the same "
        "(`tests/test_pretrained.py::test_gradient_reaches_each_trainable_row_"
        "from_its_positions_only`); on the 2-core CPU the backward was "
        "about 0.8 of the time before (a throwaway timing, not in the "
        "results).",
    },
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--change", choices=sorted(CHANGES), default="row-order")
    change_name = parser.parse_args(argv).change
    change = CHANGES[change_name]
    suffix = "_gpu" if change.get("device") == "gpu" else ""
    mode = change.get("mode", "forward")
    rows = []
    commands = []
    quick = False  # whether a "before" run timed only the quick subset
    for backend in ("tensorflow", "jax", "torch"):
        before = os.path.join(RESULTS_DIR, f"{change['before']}_{backend}{suffix}.json")
        after = os.path.join(RESULTS_DIR, f"{change['after']}_{backend}{suffix}.json")
        if not (os.path.exists(before) and os.path.exists(after)):
            continue
        pb, tb = _timings(before)
        pa, ta = _timings(after)
        quick = quick or "--quick" in pb["command"]
        commands.append(
            f"{backend}: before commit {pb['machine']['git_commit']} "
            f"({pb['machine']['date']}), after commit {pa['machine']['git_commit']} "
            f"({pa['machine']['date']})"
            + (f", on {pa['machine'].get('gpu_name')}" if suffix else "")
        )
        rb, ra = _ratios(tb, mode), _ratios(ta, mode)
        for key in sorted(set(rb) & set(ra), key=str):
            vocab, dim, ids, dist, jit, subject = key
            rows.append(
                {
                    "backend": backend,
                    "case": f"{vocab}x{dim}, {ids} ids, {dist}",
                    "jit": jit,
                    "subject": subject,
                    "before": rb[key][0],
                    "after": ra[key][0],
                    "take_before": rb[key][1],
                    "take_after": ra[key][1],
                }
            )
    text = (
        f"## {change['title']}\n\n"
        "Command: `KERAS_BACKEND=<backend> python -m benchmarks.lookup "
        + ("--quick " if quick else "")
        + f"--name {change['before']}_<backend>{suffix}` on the code before the "
        "change, `KERAS_BACKEND=<backend> python -m benchmarks.lookup` after (the "
        f"full grid, written to `{change['after']}_<backend>{suffix}.json`), then "
        f"`python -m benchmarks.lookup_compare --change {change_name}`.  \n"
        + "  \n".join(commands)
        + f"\n\n{mode.capitalize()} speed relative to `keras.layers.Embedding` in "
        "the same process (> 1: faster than Embedding)"
        + (
            ", and as a fraction of `np.take` on the same table and ids"
            if mode == "forward" and not suffix
            else ""
        )
        + ", from the fastest call of each subject. "
        + change["about"]
        + "\n\n"
        + markdown_table(
            rows,
            [
                "backend",
                "case",
                "jit",
                "subject",
                ("before", "vs Embedding, before"),
                ("after", "vs Embedding, after"),
                *(
                    [
                        ("take_before", "/ np.take, before"),
                        ("take_after", "/ np.take, after"),
                    ]
                    if mode == "forward" and not suffix
                    else []
                ),
            ],
        )
        + "\n"
    )
    path = os.path.join(RESULTS_DIR, f"{change['out']}.md")
    with open(path, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
