"""The subcommands of `keras-embedx`: demo, inspect, convert and bench.

The parser and `main` live in `keras_embedx_cli`, which imports none of
keras_embedx; it calls these handlers (and `keras_embedx.projector.run_project`,
`keras_embedx.plot.run_plot`) when their subcommand runs. `main` and
`build_parser` are importable from here too.
"""

import os
import subprocess
import sys

from keras_embedx.vectors.cache import verify_vectors
from keras_embedx.vectors.load import check_not_input, load_cli_vectors
from keras_embedx_cli import build_parser, main

__all__ = ["build_parser", "main"]


def run_demo(args):
    """Handler of `keras-embedx demo`."""
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
        result = demo.word_char_demo(epochs=8, seed=args.seed, verbose=0)
        print(
            "word + char model (PretrainedEmbedding + CharEmbedding CNN): "
            f"train accuracy {result['train_accuracy']:.1%}, held-out accuracy "
            f"{result['test_accuracy']:.1%}; {result['test_words_unseen']:.1%} of "
            "held-out words were never seen in training and got vectors from "
            "their characters"
        )


def run_inspect(args):
    """Handler of `keras-embedx inspect`."""
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


def run_convert(args):
    """Handler of `keras-embedx convert`."""
    check_not_input(args.out, args.path, "the output")
    wv = load_cli_vectors(args)
    # From here on a message's `format=` is the output's.
    args.cli_flags = {"format": "--format"}
    wv.save(args.out, format=args.format)
    print(f"wrote {args.out} ({len(wv)} words x {wv.dim}, format {args.format})")


def checkout_root():
    """The source checkout keras_embedx is imported from, or None.

    The checkout (an editable install, `pip install -e .`, or a clone on
    `sys.path`) holds `benchmarks/` beside `keras_embedx/` and a
    pyproject.toml naming keras-embedx; an install from a wheel has neither.
    The working directory plays no part.
    """
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        with open(os.path.join(root, "pyproject.toml"), encoding="utf-8") as f:
            ours = 'name = "keras-embedx"' in f.read()
    except OSError:
        return None
    if ours and os.path.isfile(os.path.join(root, "benchmarks", "__main__.py")):
        return root
    return None


def run_bench(args):
    """Handler of `keras-embedx bench`: the checkout's `python -m benchmarks`."""
    root = checkout_root()
    if root is None:
        package = os.path.dirname(os.path.abspath(__file__))
        raise ValueError(
            "the benchmarks ship with the keras_embedx source repository, not "
            f"with the installed package ({package}): clone the repository, "
            "install it with `pip install -e .` and run keras-embedx bench again"
        )
    command = [sys.executable, "-m", "benchmarks", "--output"]
    command.append(os.path.abspath(args.output))
    for flag in ("quick", "smoke"):
        if getattr(args, flag):
            command.append(f"--{flag}")
    if args.only:
        command += ["--only", *args.only]
    if args.backends:
        command += ["--backends", *args.backends]
    print(f"benchmarks of {root}; results go to {os.path.abspath(args.output)}")
    sys.stdout.flush()
    return subprocess.call(command, cwd=root)


if __name__ == "__main__":
    sys.exit(main())
