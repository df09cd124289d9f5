"""Run the benchmark suites: `python -m benchmarks [--quick] [--only NAME ...]`.

`python -m benchmarks --list` names the suites and the command each runs
(`python -m benchmarks.<module>` runs one alone). Suites that depend on the
Keras backend run once per backend, each in a fresh process with
`KERAS_BACKEND` set (a process cannot switch backends). Results go to
`benchmarks/results/`, or to `--output DIR`. Only `--report` (or
`python -m benchmarks.report`) regenerates docs/benchmark-tables.md, the
full tables, from `benchmarks/results/`.

`make bench` runs `python -m benchmarks --quick --report` (a CPU subset that
fits in 10 minutes on 2 cores); `make bench-full` runs everything at full
size.
"""

import argparse
import os
import subprocess
import sys
import time

BACKENDS = ("tensorflow", "jax", "torch")
# The checkout this package is in: its parts run from here, whatever the
# working directory (which may hold a `benchmarks` package of its own).
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name: (module, runs per backend, arguments with --quick, arguments
# without). `None` for the quick arguments leaves the suite out of the quick
# run. SMOKE: the arguments of `--smoke`, a seconds-long run that checks the
# suite runs and writes its results (its numbers mean nothing).
SMOKE = {"load_vectors": ["--quick", "--rows", "2000"]}
SUITES = {
    "lookup": ("lookup", True, ["--quick"], []),
    "storage": ("lookup", False, ["--storage", "--quick"], ["--storage"]),
    "token_position": ("token_position", True, ["--quick"], []),
    "train_step": ("train_step", True, ["--quick"], []),
    "char": ("char", True, ["--quick"], []),
    "subword": ("subword", True, ["--quick"], []),
    "load_vectors": ("load_vectors", False, ["--quick"], []),
    "load_memory": ("load_memory", False, None, []),
    "glove_real": ("glove_real", False, ["--quick"], []),
}


def _exists(module):
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.exists(os.path.join(here, f"{module}.py"))


def list_suites():
    """One line per suite: its name, the command it runs, and its runs."""
    lines = []
    for name, (module, per_backend, quick_args, full_args) in SUITES.items():
        command = " ".join(["python -m", f"benchmarks.{module}", *full_args])
        runs = "once per backend" if per_backend else "once"
        quick = "" if quick_args is not None else ", not in --quick"
        lines.append(f"{name:<15} {command:<45} ({runs}{quick})")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the quick CPU subset")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"tiny sizes that only check the suite runs ({', '.join(SMOKE)})",
    )
    parser.add_argument(
        "--only", nargs="+", choices=sorted(SUITES), help="suites to run"
    )
    parser.add_argument("--list", action="store_true", help="list the suites and exit")
    parser.add_argument(
        "--backends",
        nargs="+",
        choices=BACKENDS,
        default=BACKENDS,
        help="backends for backend-dependent suites (default: all three)",
    )
    parser.add_argument(
        "--output",
        help="directory for the results (default: benchmarks/results, the "
        "tracked results the docs are made from)",
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="then regenerate docs/benchmark-tables.md from benchmarks/results",
    )
    args = parser.parse_args(argv)
    if args.list:
        print(list_suites())
        return
    if args.report and args.output:
        parser.error("--report makes the docs from benchmarks/results; drop --output")
    backends = args.backends
    env = dict(os.environ)
    if args.output:
        env["BENCH_OUTPUT"] = os.path.abspath(args.output)
    failed = []
    for part, (module, per_backend, quick_args, full_args) in SUITES.items():
        if args.only and part not in args.only:
            continue
        if not _exists(module):
            print(f"== benchmarks.{module}: not present, skipped", flush=True)
            continue
        part_args = quick_args if args.quick else full_args
        if args.smoke:
            part_args = SMOKE.get(part)
        if part_args is None:
            suite = "smoke" if args.smoke else "quick"
            print(f"== {part}: not in the {suite} suite", flush=True)
            continue
        for backend in backends if per_backend else [None]:
            part_env = dict(env)
            run_args = list(part_args)
            if backend:
                part_env["KERAS_BACKEND"] = backend
            if part == "char" and backend:
                run_args += ["--backend", backend]
            label = f"benchmarks.{module} {' '.join(run_args)}".rstrip() + (
                f" ({backend})" if backend else ""
            )
            print(f"== {label}", flush=True)
            start = time.perf_counter()
            cmd = [sys.executable, "-m", f"benchmarks.{module}", *run_args]
            code = subprocess.run(cmd, env=part_env, cwd=ROOT).returncode
            print(f"== {label}: {time.perf_counter() - start:.0f} s", flush=True)
            if code:
                failed.append(label)
    if args.report:
        subprocess.run(
            [sys.executable, "-m", "benchmarks.report"], check=True, cwd=ROOT
        )
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
