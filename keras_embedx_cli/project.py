"""`keras-embedx project`: export a vector file to the TensorBoard Projector.

Its options, built without importing keras_embedx; `keras_embedx.projector.run_project`
runs it.
"""

from keras_embedx_cli._arguments import (
    add_file_arguments,
    int_argument,
    output_argument,
)

MAX_POINTS = 100_000


def add_parser(sub):
    """Add the `project` command to the subparsers `sub`."""
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
