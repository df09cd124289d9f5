"""`keras-embedx convert`: write a vector file in another format.

Its options, built without importing keras_embedx; `keras_embedx.cli.convert.run`
runs it.
"""

from keras_embedx_cli._arguments import (
    WRITE_FORMATS,
    add_file_arguments,
    output_argument,
)


def add_parser(sub):
    """Add the `convert` command to the subparsers `sub`."""
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
    p.set_defaults(run="keras_embedx.cli.convert:run")
