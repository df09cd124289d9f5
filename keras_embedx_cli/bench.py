"""`keras-embedx bench`: the benchmarks of a source checkout.

Its options, built without importing keras_embedx; `keras_embedx.cli.bench.run`
runs it.
"""

from keras_embedx_cli._arguments import (
    BACKENDS,
    list_action,
    output_argument,
)


def add_parser(sub):
    """Add the `bench` command to the subparsers `sub`."""
    p = sub.add_parser(
        "bench",
        help="run the benchmarks of a keras_embedx source checkout",
        description="Run the benchmark suite (`python -m benchmarks`) of the "
        "source checkout keras_embedx is installed from (`pip install -e .`). "
        "Results go to --output; the documentation is not changed.",
    )
    p.add_argument("--quick", action="store_true", help="the quick CPU subset")
    p.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes that only check that the suite runs (seconds)",
    )
    p.add_argument(
        "--only",
        nargs="+",
        action=list_action(),
        metavar="PART",
        help="parts to run, e.g. lookup load_vectors (default: all)",
    )
    p.add_argument(
        "--backends",
        nargs="+",
        action=list_action(BACKENDS, commas=True),
        metavar="BACKEND",
        help=f"Keras backends of the backend-dependent parts, among "
        f"{', '.join(BACKENDS)} (default: all three)",
    )
    p.add_argument(
        "--output",
        type=output_argument(directory=True),
        default="benchmark-results",
        help="directory for the results, JSON and markdown tables "
        "(default: ./benchmark-results)",
    )
    p.set_defaults(run="keras_embedx.cli.bench:run")
