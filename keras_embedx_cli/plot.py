"""`keras-embedx plot`: a PCA or t-SNE picture of word vectors.

Its options, built without importing keras_embedx; `keras_embedx.plot.run_plot`
runs it.
"""

from keras_embedx_cli._arguments import (
    add_file_arguments,
    int_argument,
    list_action,
    output_argument,
)

PLOT_METHODS = ("pca", "tsne")


def add_parser(sub):
    """Add the `plot` command to the subparsers `sub`."""
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
        action=list_action(commas=True),
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
