"""The `keras-embedx` command line: demo, inspect, convert, project, plot, bench.

A package of its own, beside `keras_embedx`: importing `keras_embedx`
registers its layers with Keras (so that saved models load after
`import keras_embedx`), which imports Keras and its backend. This front end
imports nothing but the standard library, so `keras-embedx --help` and
`--version` answer at once; each subcommand imports what it needs when it
runs, with TensorFlow's C++ logging quieted for this process first.

One module per command holds its options (`keras_embedx_cli.inspect`, ...);
its handler runs from `keras_embedx.cli` (`keras_embedx.cli.inspect.run`,
...) or from the library module it belongs to (`project`, `plot`). The
options several commands share are in `keras_embedx_cli._arguments`.
"""

import importlib.util
import os
import re
import sys
import warnings

from keras_embedx_cli import bench, convert, demo, inspect, plot, project
from keras_embedx_cli._arguments import (
    BACKENDS,
    ERRORS,
    FORMATS,
    WRITE_FORMATS,
    Parser,
    add_file_arguments,
    encoding_argument,
    int_argument,
    output_argument,
)
from keras_embedx_cli._startup import handler
from keras_embedx_cli.plot import PLOT_METHODS
from keras_embedx_cli.project import MAX_POINTS

__all__ = [
    "BACKENDS",
    "ERRORS",
    "FORMATS",
    "MAX_POINTS",
    "PLOT_METHODS",
    "WRITE_FORMATS",
    "add_file_arguments",
    "as_flags",
    "build_parser",
    "encoding_argument",
    "int_argument",
    "main",
    "output_argument",
    "version",
]

DISTRIBUTION = "keras-embedx"
#: The commands, in the order `--help` lists them.
COMMANDS = (demo, inspect, convert, project, plot, bench)


def version():
    """The installed version of keras-embedx, from the package metadata.

    A source tree that was never installed has no metadata; its version is
    then read from `keras_embedx/__init__.py` without importing it.
    """
    from importlib import metadata

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        pass
    import ast

    spec = importlib.util.find_spec("keras_embedx")
    if spec is not None and spec.origin:
        with open(spec.origin, encoding="utf-8") as f:
            for node in ast.parse(f.read()).body:
                if (
                    isinstance(node, ast.Assign)
                    and [getattr(t, "id", None) for t in node.targets]
                    == ["__version__"]
                    and isinstance(node.value, ast.Constant)
                ):
                    return f"{node.value.value} (source tree, not installed)"
    return "unknown (not installed)"


def build_parser():
    """The `keras-embedx` argument parser; builds without importing keras_embedx."""
    parser = Parser(
        prog="keras-embedx",
        description="Word embeddings for Keras 3: demo, inspect, convert, project, "
        "plot, bench.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {version()}",
        help="print the version of keras-embedx and exit",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


# --------------------------------------------------------------------- main
def _one_line(error):
    """The message of `error` on one line; an `OSError` as `file: reason`."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        names = [os.fsdecode(error.filename)]
        if error.filename2 is not None:
            names.append(os.fsdecode(error.filename2))
        message = f"{' -> '.join(names)}: {error.strerror}"
    else:
        message = str(error) or type(error).__name__
    return " ".join(message.splitlines())


# A library message names its keyword arguments (`encoding='cp1252'`, or
# `load_vectors(path, format='glove')` in backticks); the CLI names its flags.
_KEYWORD = re.compile(r"(`load_vectors\(path, )?\b(\w+)=(['\"])([^'\"]*)\3(?(1)\)`)")


def as_flags(message, flags):
    """`message` with the keyword arguments that `flags` maps written as flags.

    Args:
        message: str, an error message of the library.
        flags: dict, keyword argument name to the command's flag, e.g.
            `{"encoding": "--encoding"}`.
    """

    def flag(match):
        name, value = match.group(2), match.group(4)
        if name not in flags:
            return match.group(0)
        return f"{flags[name]} {value}"

    return _KEYWORD.sub(flag, message)


def _choose_backend(args, command):
    """Set KERAS_BACKEND for `--backend` before Keras starts; 2 if too late."""
    keras = sys.modules.get("keras")
    running = keras.config.backend() if keras is not None else None
    if args.backend is None:
        installed_jax = "jax" if importlib.util.find_spec("jax") else None
        args.backend = running or os.environ.get("KERAS_BACKEND") or installed_jax
    elif running is not None and args.backend != running:
        print(
            f"{command}: error: --backend {args.backend}: Keras already runs on "
            f"{running} in this process; set KERAS_BACKEND before it starts",
            file=sys.stderr,
        )
        return 2
    if running is None and args.backend is not None:
        os.environ["KERAS_BACKEND"] = args.backend
    return 0


def main(argv=None):
    """Run `keras-embedx` with `argv` (default: `sys.argv[1:]`); returns the exit status.

    Bad arguments and files (a `ValueError`, such as `VectorFileError`, or an
    `OSError`) print one line naming them and return 2; Ctrl-C prints one
    line and returns 130. Any other exception is a bug and propagates.
    """
    # Before anything imports Keras (and so TensorFlow, its default backend):
    # TensorFlow's C++ start-up lines are noise to a CLI user.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        args = build_parser().parse_args(argv)
    except KeyboardInterrupt:
        print("keras-embedx: interrupted", file=sys.stderr)
        return 130
    command = f"keras-embedx {args.command}"

    def show_warning(message, category, filename, lineno, file=None, line=None):
        # One line that names the command's flags, without Python's source line.
        text = as_flags(" ".join(str(message).splitlines()), args.cli_flags)
        print(f"{command}: warning: {text}", file=sys.stderr)

    args.cli_flags = getattr(args, "cli_flags", {})
    if getattr(args, "keras_backend", False):
        code = _choose_backend(args, command)
        if code:
            return code
    try:
        with warnings.catch_warnings():
            warnings.showwarning = show_warning
            code = handler(args.run)(args)
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as e:
        message = as_flags(_one_line(e), args.cli_flags)
        print(f"{command}: error: {message}", file=sys.stderr)
        return 2
    return code or 0
