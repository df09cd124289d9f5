"""Run the benchmark suite: `python -m benchmarks [--quick]`."""

import subprocess
import sys

PARTS = ["load_vectors", "lookup"]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    for part in PARTS:
        print(f"== benchmarks.{part}", flush=True)
        subprocess.run([sys.executable, "-m", f"benchmarks.{part}", *argv], check=True)
    subprocess.run([sys.executable, "-m", "benchmarks.report"], check=True)


if __name__ == "__main__":
    main()
