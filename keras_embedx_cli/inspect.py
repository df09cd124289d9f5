"""`keras-embedx inspect`: the size, norms and neighbours of a vector file.

Its options, built without importing keras_embedx; `keras_embedx.cli.inspect.run`
runs it.
"""

from keras_embedx_cli._arguments import (
    add_file_arguments,
    int_argument,
    list_action,
)


def add_parser(sub):
    """Add the `inspect` command to the subparsers `sub`."""
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
        action=list_action(),
        metavar="WORD",
        help="print the 5 nearest words of each WORD",
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="check every value: a cache file against its checksum, and that "
        "all numbers are finite (reads the whole file)",
    )
    p.set_defaults(run="keras_embedx.cli.inspect:run")
