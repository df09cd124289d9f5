"""Regenerate docs/benchmarks.md from benchmarks/results/*.md.

Usage: `python -m benchmarks.report`
"""

import glob
import os
import shutil

from benchmarks._harness import RESULTS_DIR

DOC = os.path.join(os.path.dirname(RESULTS_DIR), "..", "docs", "benchmarks.md")
INTRO = """# Benchmarks

Every figure on this page was produced by the command printed above its
table, on the machine it names, and is regenerated from
`benchmarks/results/` by `python -m benchmarks.report`. Ratios compare rows
measured in the same process, because the machines are shared and noisy.
Speed is measured here, never asserted in tests.

GPU: not yet measured (no GPU machine was available to the sessions that
ran these benchmarks). The suite detects a GPU and uses synchronised timing
when one is present.
"""


IMG_DIR = os.path.join(os.path.dirname(RESULTS_DIR), "..", "docs", "img", "benchmarks")


def main():
    # The "before" halves of a before/after comparison are read by
    # `benchmarks.lookup_compare`, which writes their section itself.
    sections = sorted(
        path
        for path in glob.glob(os.path.join(RESULTS_DIR, "*.md"))
        if not os.path.exists(path[: -len(".md")] + ".json")
        or "_before_" not in os.path.basename(path)
    )
    parts = [INTRO]
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
