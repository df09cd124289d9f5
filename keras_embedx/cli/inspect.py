"""What `keras-embedx inspect` does (its options: `keras_embedx_cli.inspect`)."""

import numpy as np

from keras_embedx.vectors.cache import verify_vectors
from keras_embedx.vectors.load import load_cli_vectors


def run(args):
    """Run `keras-embedx inspect` with the parsed `args`."""
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
