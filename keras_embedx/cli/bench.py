"""What `keras-embedx bench` does (its options: `keras_embedx_cli.bench`)."""

import os
import subprocess
import sys


def checkout_root():
    """The source checkout keras_embedx is imported from, or None.

    The checkout (an editable install, `pip install -e .`, or a clone on
    `sys.path`) holds `benchmarks/` beside `keras_embedx/` and a
    pyproject.toml naming keras-embedx; an install from a wheel has neither.
    The working directory plays no part.
    """
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    root = os.path.dirname(package)
    try:
        with open(os.path.join(root, "pyproject.toml"), encoding="utf-8") as f:
            ours = 'name = "keras-embedx"' in f.read()
    except OSError:
        return None
    if ours and os.path.isfile(os.path.join(root, "benchmarks", "__main__.py")):
        return root
    return None


def run(args):
    """Run `keras-embedx bench`: the checkout's `python -m benchmarks`."""
    root = checkout_root()
    if root is None:
        package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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
