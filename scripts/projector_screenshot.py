"""Make the docs pictures: a real TensorBoard Projector screenshot and a PCA plot.

Exports the fastText vectors shipped with gensim
(`pang_lee_polarity_fasttext.vec`) with `keras_embedx.export_projector`,
serves them with a real `tensorboard` on 127.0.0.1, renders the Projector in
headless Chromium and saves `docs/img/projector.png`; then saves
`docs/img/pca.png` with `keras_embedx.plot.plot_embeddings`.

    .venv/bin/python scripts/projector_screenshot.py [--out-dir docs/img]

Needs Chromium (Debian: `apt-get install -y chromium`).
"""

import argparse
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import _servers  # noqa: E402

import keras_embedx  # noqa: E402
from keras_embedx.plot import plot_embeddings  # noqa: E402

VECTORS = "pang_lee_polarity_fasttext.vec"
PCA_WORDS = [
    "good", "bad", "great", "funny", "boring", "best", "worst", "fun", "dull",
    "film", "movie", "story", "characters", "director", "comedy", "drama",
    "love", "life", "man", "woman", "he", "she", "is", "was", "the", "a",
]  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=os.path.join(ROOT, "docs", "img"))
    args = parser.parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)

    from gensim.test.utils import datapath

    wv = keras_embedx.load_vectors(datapath(VECTORS), errors="replace")
    with tempfile.TemporaryDirectory() as log_dir:
        export = keras_embedx.export_projector(log_dir, wv, name="pang_lee_fasttext")
        print(f"exported {export.shape} as {export.name!r} ({export.tensor_format})")
        png = os.path.join(args.out_dir, "projector.png")
        with _servers.TensorBoard(log_dir, tensorflow=False) as tb:
            _servers.screenshot(tb.url + "/#projector", png)
        points = _servers.count_point_pixels(png)
        print(f"wrote {png}: {points} point pixels")
        if points < 3000:
            raise SystemExit("The screenshot shows no points; not a usable picture.")

    words = [w for w in PCA_WORDS if w in wv]
    fig = plot_embeddings(
        wv, words=words, title="pang_lee_polarity_fasttext.vec, PCA", figsize=(7, 6)
    )
    pca_png = os.path.join(args.out_dir, "pca.png")
    fig.savefig(pca_png, dpi=110)
    print(f"wrote {pca_png}")


if __name__ == "__main__":
    main()
