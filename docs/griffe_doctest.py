"""Docs build helper: show Keras-style `>>>` examples as Python code.

Keras docstrings write examples unindented after an `Example:` line, which
the Google-style parser leaves as plain Markdown (where `>>>` is a quote and
`['a', 'b']` a link). This griffe extension fences each run of `>>>` lines
(with their printed output) as a `python` code block before rendering.
"""

import griffe


def fence_doctests(text):
    out, block = [], []

    def flush():
        if block:
            out.extend(["```python", *block, "```"])
            block.clear()

    for line in text.splitlines():
        if line.lstrip().startswith(">>>") or line.lstrip().startswith("..."):
            block.append(line.strip())
        elif block and line.strip():
            block.append(line.strip())
        else:
            flush()
            out.append(line)
    flush()
    return "\n".join(out)


class FenceDoctests(griffe.Extension):
    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
