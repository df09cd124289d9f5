"""The handlers of `keras-embedx`'s commands, one module per command.

The parser and `main` live in `keras_embedx_cli`, which imports none of
keras_embedx so that `--help` answers at once; it calls
`keras_embedx.cli.<command>.run` (or, for `project` and `plot`,
`keras_embedx.projector.run_project` and `keras_embedx.plot.run_plot`) when
its command runs. `main` and `build_parser` are importable from here too,
and `python -m keras_embedx.cli` runs the command line.
"""

from keras_embedx.cli.bench import checkout_root
from keras_embedx.cli.bench import run as run_bench
from keras_embedx.cli.convert import run as run_convert
from keras_embedx.cli.demo import run as run_demo
from keras_embedx.cli.inspect import run as run_inspect
from keras_embedx_cli import build_parser, main

__all__ = [
    "build_parser",
    "checkout_root",
    "main",
    "run_bench",
    "run_convert",
    "run_demo",
    "run_inspect",
]
