"""2D pictures of word vectors: PCA (NumPy SVD) or t-SNE (scikit-learn).

Figures are built on matplotlib's Agg canvas without `pyplot`, so they work
headless and leave pyplot's global state alone.
"""

import os

import numpy as np

from keras_embedx._checks import check_int
from keras_embedx.evaluation import as_word_vectors

METHODS = ("pca", "tsne")
_METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE"}
_SMALL_TSNE = 5000


def pca_2d(vectors):
    """The first two principal-component coordinates of each row.

    Centres the rows and projects them on the top two right singular vectors
    (NumPy SVD). Each component's sign is fixed so that its largest loading
    is positive, which makes the picture deterministic.

    Args:
        vectors: float array `[n, dim]`, `n >= 2`.

    Returns:
        float64 array `[n, 2]`.
    """
    x = np.asarray(vectors, np.float64)
    x = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    components = vt[:2]
    signs = np.sign(
        components[np.arange(len(components)), np.abs(components).argmax(1)]
    )
    coords = x @ (components * signs[:, None]).T
    if coords.shape[1] < 2:  # one-dimensional vectors
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
    return coords


def tsne_2d(vectors, perplexity=None, random_state=0, **options):
    """t-SNE coordinates from scikit-learn (`init="pca"`, seeded).

    `options` go to `sklearn.manifold.TSNE` (e.g. `max_iter`).
    """
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        raise ImportError(
            "method='tsne' needs scikit-learn: pip install scikit-learn "
            "(or keras-embedx[plot])."
        ) from None
    x = np.asarray(vectors, np.float64)
    if perplexity is None:
        perplexity = min(30.0, (len(x) - 1) / 3.0)
    if not 0 < perplexity < len(x):
        raise ValueError(
            f"`perplexity` must lie in (0, {len(x)}) for {len(x)} words. "
            f"Received: perplexity={perplexity}"
        )
    options = {"init": "pca", **options}
    tsne = TSNE(
        n_components=2, perplexity=perplexity, random_state=random_state, **options
    )
    if len(x) > _SMALL_TSNE:
        return tsne.fit_transform(x)
    # A few hundred words: one OpenMP thread, which next to the backends'
    # thread pools is much faster (docs/design/real-vectors-speed.md).
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):
        return tsne.fit_transform(x)


def _pick_words(all_words, words, limit):
    index = {w: i for i, w in reversed(list(enumerate(all_words)))}
    if words is None:
        chosen = list(range(min(limit, len(all_words))))
        return [all_words[i] for i in chosen], chosen
    words = [words] if isinstance(words, str) else list(words)
    missing = [w for w in words if w not in index]
    if missing:
        raise KeyError(
            f"{len(missing)} of the {len(words)} words have no vector: "
            f"{missing[:10]}{' ...' if len(missing) > 10 else ''}"
        )
    return words, [index[w] for w in words]


def plot_embeddings(
    wv,
    words=None,
    method="pca",
    limit=100,
    ax=None,
    figsize=(8, 8),
    title=None,
    perplexity=None,
    random_state=0,
    fontsize=8,
    tsne_options=None,
):
    """Scatter words in 2D, each point labelled with its word.

    Args:
        wv: a `keras_embedx.WordVectors`, a gensim `KeyedVectors`, or a Keras
            layer with a vocabulary (its current table).
        words: optional list of words to show; defaults to the first `limit`
            words (the most frequent in vector files).
        method: `"pca"` (NumPy SVD, default) or `"tsne"` (scikit-learn).
        limit: int, how many words when `words` is None. Defaults to 100.
        ax: optional matplotlib Axes to draw into; by default a new Figure.
        figsize: size of a new Figure in inches.
        title: optional title; defaults to the method and word count.
        perplexity: t-SNE perplexity; defaults to `min(30, (n - 1) / 3)`.
        random_state: int seed for t-SNE.
        fontsize: label size.
        tsne_options: optional dict of more `sklearn.manifold.TSNE`
            arguments (e.g. `{"max_iter": 500}`).

    Returns:
        The matplotlib `Figure` (save it with `fig.savefig("words.png")`).
        The points are `fig.axes[0].collections[0].get_offsets()`, in the
        order of the labels `[t.get_text() for t in fig.axes[0].texts]`.

    Example:

    >>> from gensim.test.utils import datapath
    >>> wv = keras_embedx.load_vectors(datapath("toy-model.vec"))
    >>> fig = keras_embedx.plot.plot_embeddings(wv, limit=10)
    >>> len(fig.axes[0].texts)
    10
    """
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}. Received: {method!r}")
    limit = check_int("limit", limit, low=2)
    all_words, vectors = as_word_vectors(wv)
    labels, rows = _pick_words(all_words, words, limit)
    if len(rows) < 2:
        raise ValueError(
            f"Plotting needs at least 2 words. Received: {len(rows)} ({labels})"
        )
    x = np.asarray(vectors)[rows]
    if not np.isfinite(x).all():
        bad = [labels[i] for i in np.flatnonzero(~np.isfinite(x).all(axis=1))[:5]]
        raise ValueError(f"Vectors with NaN or infinite values: {bad}")
    if method == "pca":
        coords = pca_2d(x)
    else:
        coords = tsne_2d(
            x,
            perplexity=perplexity,
            random_state=random_state,
            **(tsne_options or {}),
        )

    if ax is None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=figsize, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    ax.scatter(coords[:, 0], coords[:, 1], s=12, alpha=0.8)
    for label, (px, py) in zip(labels, coords):
        ax.annotate(
            label,
            (px, py),
            xytext=(3, 3),
            textcoords="offset points",
            fontsize=fontsize,
        )
    axis = ("PC1", "PC2") if method == "pca" else ("t-SNE 1", "t-SNE 2")
    ax.set_xlabel(axis[0])
    ax.set_ylabel(axis[1])
    ax.set_title(title or f"{len(labels)} words, {_METHOD_NAMES[method]}")
    return fig


# ---------------------------------------------------------------------- CLI
def _cli_words(words):
    """The words of `--words a b c`, or a `ValueError` naming the flag."""
    words = [w for w in words if w]
    if len(words) < 2:
        raise ValueError(
            "--words must name at least 2 words, separated by spaces. "
            f"Received: --words {' '.join(words)}"
        )
    return words


def _check_image_path(path, method):
    """Refuse, before any work, an image format matplotlib cannot write and a
    t-SNE picture without scikit-learn."""
    from matplotlib.backend_bases import FigureCanvasBase

    kinds = FigureCanvasBase.get_supported_filetypes()
    extension = os.path.splitext(path)[1][1:].lower()
    if extension and extension not in kinds:
        raise ValueError(
            f"--out {path!r}: matplotlib cannot write .{extension} images; use "
            f"one of {', '.join(sorted(kinds))}."
        )
    if method == "tsne":
        try:
            import sklearn.manifold  # noqa: F401
        except ImportError:
            raise ValueError(
                "--method tsne needs scikit-learn: pip install scikit-learn "
                "(or keras-embedx[plot])."
            ) from None


def run_plot(args):
    """Handler of `keras-embedx plot`; returns the exit status."""
    from keras_embedx.vectors.load import check_not_input, load_cli_vectors

    words = None if args.words is None else _cli_words(args.words)
    check_not_input(args.out, args.path, "--out")
    _check_image_path(args.out, args.method)
    wv = load_cli_vectors(args)
    if len(wv) < 2:
        raise ValueError(
            f"{args.path}: plotting needs at least 2 word vectors; {len(wv)} loaded."
        )
    if words is not None:
        try:
            _pick_words(wv.words, words, args.limit)
        except KeyError as e:
            raise ValueError(f"--words: {e.args[0]} in {args.path}") from None
    fig = plot_embeddings(wv, words=words, method=args.method, limit=args.limit)
    fig.savefig(args.out, dpi=args.dpi)
    print(f"Wrote {os.path.abspath(args.out)}")
    return 0
