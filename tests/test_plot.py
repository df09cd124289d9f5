"""`keras_embedx.plot.plot_embeddings` on gensim's fixture vectors."""

import numpy as np
import pytest
from matplotlib.figure import Figure

import keras_embedx
from keras_embedx import plot


@pytest.fixture(scope="module")
def lee_kv():
    from gensim.models import KeyedVectors
    from gensim.test.utils import datapath

    return KeyedVectors.load_word2vec_format(datapath("lee_fasttext.vec"))


def points_and_labels(fig):
    ax = fig.axes[0]
    return ax.collections[0].get_offsets().data, [t.get_text() for t in ax.texts]


def assert_equal_up_to_sign(ours, theirs):
    for j in range(2):
        sign = np.sign(ours[:, j] @ theirs[:, j])
        np.testing.assert_allclose(ours[:, j], sign * theirs[:, j], atol=1e-6)


def test_pca_points_equal_sklearn_up_to_sign(lee_kv):
    from sklearn.decomposition import PCA

    wv = keras_embedx.WordVectors(lee_kv.index_to_key, lee_kv.vectors)
    fig = plot.plot_embeddings(wv, limit=60)
    assert isinstance(fig, Figure)
    points, labels = points_and_labels(fig)
    assert labels == lee_kv.index_to_key[:60]
    theirs = PCA(n_components=2).fit_transform(lee_kv.vectors[:60].astype(np.float64))
    assert_equal_up_to_sign(points, theirs)


def test_chosen_words_in_their_order(lee_kv):
    words = ["police", "government", "the", "Australia", "fire"]
    fig = plot.plot_embeddings(lee_kv, words=words)
    points, labels = points_and_labels(fig)
    assert labels == words and points.shape == (5, 2)
    from sklearn.decomposition import PCA

    theirs = PCA(n_components=2).fit_transform(np.stack([lee_kv[w] for w in words]))
    assert_equal_up_to_sign(points, theirs)


def test_tsne_uses_sklearn(lee_kv):
    from sklearn.manifold import TSNE

    fig = plot.plot_embeddings(
        lee_kv, method="tsne", limit=20, random_state=3, tsne_options={"max_iter": 300}
    )
    points, labels = points_and_labels(fig)
    assert labels == lee_kv.index_to_key[:20] and points.shape == (20, 2)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):
        theirs = TSNE(
            n_components=2, perplexity=19 / 3, init="pca", random_state=3, max_iter=300
        ).fit_transform(lee_kv.vectors[:20].astype(np.float64))
    np.testing.assert_allclose(points, theirs, rtol=1e-5, atol=1e-4)


def test_into_existing_axes_and_png(lee_kv, tmp_path):
    fig = Figure()
    ax = fig.add_subplot()
    assert plot.plot_embeddings(lee_kv, ax=ax, limit=5) is fig
    out = tmp_path / "words.png"
    fig.savefig(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_layer_is_plotted_with_its_vocabulary(lee_kv):
    wv = keras_embedx.WordVectors(lee_kv.index_to_key, lee_kv.vectors)
    vocab = keras_embedx.Vocabulary(["the", "of", "police", "government"])
    layer = keras_embedx.layers.PretrainedEmbedding.from_vectors(wv, vocab)
    points, labels = points_and_labels(plot.plot_embeddings(layer))
    assert labels == ["the", "of", "police", "government"]


def test_cli_writes_a_png(tmp_path, capsys):
    from gensim.test.utils import datapath

    from keras_embedx_cli import build_parser

    out = tmp_path / "toy.png"
    args = build_parser().parse_args(
        ["plot", datapath("toy-model.vec"), "--out", str(out)]
    )
    assert args.run == "keras_embedx.plot:run_plot"
    assert plot.run_plot(args) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert str(out) in capsys.readouterr().out


def test_bad_input(lee_kv):
    with pytest.raises(KeyError, match=r"1 of the 2 words have no vector: \['zzzz'\]"):
        plot.plot_embeddings(lee_kv, words=["the", "zzzz"])
    with pytest.raises(ValueError, match="`method` must be one of"):
        plot.plot_embeddings(lee_kv, method="umap")
    with pytest.raises(ValueError, match="at least 2 words"):
        plot.plot_embeddings(lee_kv, words=["the"])
    bad = keras_embedx.WordVectors(["a", "b", "c"], [[1.0, 2.0], [np.nan, 1.0], [0, 1]])
    with pytest.raises(ValueError, match=r"NaN or infinite values: \['b'\]"):
        plot.plot_embeddings(bad)
