"""Run the benchmark suite: `python -m benchmarks [--quick] [--only NAME ...]`.

Each part is a module (`python -m benchmarks.<part>` runs it alone). Parts
that depend on the Keras backend run once per backend, each in a fresh
process with `KERAS_BACKEND` set (a process cannot switch backends). At the
end `benchmarks.report` regenerates docs/benchmarks.md from the results.

`make bench` runs `python -m benchmarks --quick` (a CPU subset that fits in
10 minutes on 2 cores); `make bench-full` runs everything at full size.
"""

import argparse
import os
import subprocess
import sys
import time

BACKENDS = ("tensorflow", "jax", "torch")

# name: (runs per backend, arguments with --quick, arguments without).
# `None` for the quick arguments leaves the part out of the quick suite.
PARTS = {
    "lookup": (True, ["--quick"], []),
    "token_position": (True, ["--quick"], []),
    "train_step": (True, ["--quick"], []),
    "frozen_slots": (True, None, []),
    "merge_variants": (True, None, []),
    "char": (True, ["--quick"], []),
    "subword": (True, ["--quick"], []),
    "load_vectors": (False, ["--quick"], []),
    "storage": (False, None, []),
    "load_memory": (False, None, []),
    "glove_real": (False, ["--quick"], []),
}


def _exists(part):
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.exists(os.path.join(here, f"{part}.py"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the quick CPU subset")
    parser.add_argument("--only", nargs="+", choices=sorted(PARTS), help="parts to run")
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help="comma-separated backends for backend-dependent parts",
    )
    args = parser.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b]
    failed = []
    for part, (per_backend, quick_args, full_args) in PARTS.items():
        if args.only and part not in args.only:
            continue
        if not _exists(part):
            print(f"== benchmarks.{part}: not present, skipped", flush=True)
            continue
        part_args = quick_args if args.quick else full_args
        if part_args is None:
            print(f"== benchmarks.{part}: not in the quick suite", flush=True)
            continue
        for backend in backends if per_backend else [None]:
            env = dict(os.environ)
            if backend:
                env["KERAS_BACKEND"] = backend
            if part == "char" and backend:
                part_args = [*part_args, "--backend", backend]
            label = f"benchmarks.{part}" + (f" ({backend})" if backend else "")
            print(f"== {label}", flush=True)
            start = time.perf_counter()
            cmd = [sys.executable, "-m", f"benchmarks.{part}", *part_args]
            code = subprocess.run(cmd, env=env).returncode
            print(f"== {label}: {time.perf_counter() - start:.0f} s", flush=True)
            if code:
                failed.append(label)
            if part == "char" and backend:
                part_args = part_args[:-2]
    subprocess.run([sys.executable, "-m", "benchmarks.report"], check=True)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
