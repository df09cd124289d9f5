"""The options the commands share: value types, lists, and a vector file's options.

Everything here builds without importing keras_embedx; the choices of
`--format` come from the library's format registry
(`keras_embedx.vectors.formats`), read from its file.
"""

import argparse
import functools
import os
import sys

from keras_embedx_cli._startup import import_quietly, vector_formats

# The parser shows these before any of keras_embedx is imported; the format
# names come from the registry itself, the others are checked against the
# library's by the tests (keras_embedx.vectors.load.ERRORS, ...).
FORMATS = vector_formats().FORMATS
WRITE_FORMATS = vector_formats().WRITE_FORMATS
ERRORS = ("strict", "skip", "replace")
BACKENDS = ("tensorflow", "jax", "torch")


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line, as the commands' own are."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


# ------------------------------------------------------------ argument types
def int_argument(low, high=None):
    """An argparse `type`: an int in `[low, high]`, else an error naming the flag.

    Args:
        low: int, the smallest value accepted.
        high: optional int, the largest value accepted.
    """

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an int. Received: {text!r}"
            ) from None
        if value < low or (high is not None and value > high):
            if high is not None:
                kind = f"an int from {low} to {high}"
            else:
                kind = {0: "a non-negative int", 1: "a positive int"}.get(
                    low, f"an int >= {low}"
                )
            raise argparse.ArgumentTypeError(f"must be {kind}. Received: {value}")
        return value

    return parse


def encoding_argument(text):
    """An argparse `type`: a text encoding the vector readers accept."""
    source = import_quietly("keras_embedx.vectors._source")
    try:
        return source.check_encoding(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "expected a text encoding Python knows that keeps ASCII bytes as "
            f"ASCII, such as utf-8, latin-1 or cp1252. Received: {text!r}"
        ) from None


def output_argument(directory=False):
    """An argparse `type`: a path a command can write, checked before any work.

    Refuses an existing directory where a file is wanted (or a file where a
    directory is wanted) and a path whose folder is missing, not a folder,
    or not writable.

    Args:
        directory: bool, whether the path names a directory (created when
            missing) rather than a file.
    """

    def parse(text):
        if not text:
            raise argparse.ArgumentTypeError("expected a path. Received: ''")
        if directory and os.path.exists(text) and not os.path.isdir(text):
            raise argparse.ArgumentTypeError(
                f"{text!r} is a file; expected a directory"
            )
        if not directory and os.path.isdir(text):
            raise argparse.ArgumentTypeError(
                f"{text!r} is a directory; expected a file name"
            )
        # The nearest existing folder on the way must be a writable folder.
        parent = os.path.dirname(os.path.abspath(text))
        while not os.path.exists(parent):
            if directory:
                parent = os.path.dirname(parent)
            else:
                raise argparse.ArgumentTypeError(
                    f"no such directory: {os.path.dirname(text)!r} (to write "
                    f"{text!r}). Create it first"
                )
        if not os.path.isdir(parent):
            raise argparse.ArgumentTypeError(
                f"cannot write {text!r}: {parent!r} is a file, not a directory"
            )
        target = text if directory and os.path.isdir(text) else parent
        if not os.access(target, os.W_OK | os.X_OK):
            raise argparse.ArgumentTypeError(
                f"cannot write {text!r}: no permission to write in {target!r}"
            )
        return text

    return parse


class _ListAction(argparse.Action):
    """`--flag a b c` (space-separated, one list syntax for every command).

    With `commas`, one value holding commas (`--flag a,b`, the older syntax
    of `--words` and `--backends`) is split at them with a deprecation note
    on stderr; a value with an empty part (the word ",") is kept.
    """

    def __init__(self, *args, allowed=None, commas=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.allowed = allowed
        self.commas = commas

    def __call__(self, parser, namespace, values, option_string=None):
        note = None
        if self.commas and len(values) == 1 and "," in values[0]:
            parts = values[0].split(",")
            if all(parts):
                note = (
                    f"{parser.prog}: note: {option_string} {values[0]} is "
                    "deprecated and will stop working in the next release; "
                    f"separate values with spaces: {option_string} "
                    f"{' '.join(parts)}"
                )
                values = parts
        if self.allowed is not None:
            unknown = [v for v in values if v not in self.allowed]
            if unknown:
                parser.error(
                    f"argument {option_string}: expected values among "
                    f"{', '.join(self.allowed)}. Received: "
                    f"{', '.join(map(repr, unknown))}"
                )
        if note:
            print(note, file=sys.stderr)
        setattr(namespace, self.dest, values)


def list_action(allowed=None, commas=False):
    """The `action` of a list option, limited to `allowed` values if given."""
    return functools.partial(_ListAction, allowed=allowed, commas=commas)


def add_file_arguments(parser, format_flag="--format"):
    """Add the options of a command that reads a vector file.

    `--format` (renamed `format_flag` for a command whose `--format` is its
    output's), `--encoding`, `--errors` and `--progress/--no-progress`; the
    command passes them on with `keras_embedx.vectors.load.load_cli_vectors`.
    """
    parser.add_argument(
        format_flag,
        dest="input_format",
        default="auto",
        choices=("auto", *FORMATS),
        help="format of the vector file (default: auto, from its name and bytes)",
    )
    parser.add_argument(
        "--encoding",
        default="utf-8",
        type=encoding_argument,
        help="encoding of the words (default: utf-8; e.g. cp1252, latin-1)",
    )
    parser.add_argument(
        "--errors",
        default="strict",
        choices=ERRORS,
        help="malformed rows: stop with an error (strict, the default), drop "
        "them (skip), or load words that do not decode with U+FFFD (replace)",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show the progress of loading a text or binary file over 8 MB on "
        "stderr (default: when stderr is a terminal; elsewhere --progress "
        "writes one line when the load is done)",
    )
    parser.set_defaults(
        cli_flags={
            "format": format_flag,
            "encoding": "--encoding",
            "errors": "--errors",
        }
    )
