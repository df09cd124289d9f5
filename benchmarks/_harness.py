"""Shared benchmark harness: timing, machine facts, results files.

Every benchmark module builds a list of result rows with `measure(...)` and
hands them to `write_results(name, rows, ...)`, which writes
`benchmarks/results/<name>.json` (everything, for tools) and
`benchmarks/results/<name>.md` (a table, for people), or into the directory
named by the environment variable `BENCH_OUTPUT` (`python -m benchmarks
--output DIR` sets it). `python -m benchmarks.report` assembles
docs/benchmarks.md from the files in `benchmarks/results/`.

Timings are medians over repeats after warm-up, with the spread (min, max,
interquartile range) recorded. Ratios are taken between rows measured in the
same process, because these machines are shared and noisy.
"""

import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
#: The tracked results the docs are made from.
TRACKED_RESULTS_DIR = os.path.join(BENCH_DIR, "results")
RESULTS_DIR = os.path.abspath(os.environ.get("BENCH_OUTPUT") or TRACKED_RESULTS_DIR)
TMP_DIR = os.path.join(RESULTS_DIR, "tmp")


def backend_name():
    import keras

    return keras.config.backend()


def device_kind():
    """`"gpu"` when the current backend sees a GPU, else `"cpu"`."""
    backend = backend_name()
    try:
        if backend == "jax":
            import jax

            return "gpu" if jax.default_backend() == "gpu" else "cpu"
        if backend == "torch":
            import torch

            return "gpu" if torch.cuda.is_available() else "cpu"
        if backend == "tensorflow":
            import tensorflow as tf

            return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    except Exception:
        pass
    return "cpu"


def synchronize(value=None):
    """Block until `value` (or all queued device work) is computed.

    `value` may be a tensor or a nested list/tuple/dict of tensors (e.g.
    gradients). On a GPU every backend waits for the device; on CPU, JAX
    dispatches asynchronously and is waited for too.
    """
    backend = backend_name()
    if backend == "jax":
        import jax

        if value is not None:
            jax.block_until_ready(value)
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
    elif backend == "tensorflow":
        import tensorflow as tf

        if device_kind() == "gpu" and hasattr(tf.experimental, "sync_devices"):
            tf.experimental.sync_devices()
        elif hasattr(value, "numpy"):
            value.numpy()
    return value


def device_copy(nbytes):
    """A callable that moves `nbytes` through the device's memory.

    It reads `nbytes / 2` bytes and writes as many (`x + 1` over float32,
    compiled where the backend compiles), so it moves the same bytes as a
    lookup that reads `nbytes / 2` of rows and writes its output. On a GPU
    this is the device's memory speed limit for a lookup; on CPU use a NumPy
    copy instead (`numpy_copy`).
    """
    n = max(int(nbytes) // 8, 1)
    backend = backend_name()
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        x = jnp.ones((n,), "float32")
        fn = jax.jit(lambda a: a + 1.0)
        return lambda: fn(x)
    if backend == "torch":
        import torch

        x = torch.ones(n, dtype=torch.float32, device="cuda" if _cuda() else "cpu")
        return lambda: x + 1.0
    import tensorflow as tf

    x = tf.ones((n,), "float32")
    fn = tf.function(lambda a: a + 1.0, jit_compile=True)
    return lambda: fn(x)


def result_name(stem):
    """`stem`, or `stem + "_gpu"` when the current backend runs on a GPU.

    Results from a GPU machine sit beside the CPU ones instead of
    replacing them (`write_results` applies it to every name).
    """
    if device_kind() == "gpu" and not stem.endswith("_gpu"):
        return f"{stem}_gpu"
    return stem


def numpy_copy(nbytes):
    """A callable: a NumPy copy that reads and writes `nbytes / 2` bytes each."""
    import numpy as np

    src = np.ones(max(int(nbytes) // 8, 1), dtype="float32")
    return src.copy


def _cuda():
    import torch

    return torch.cuda.is_available()


def reset_peak_memory():
    """Reset the device's peak-memory counter (GPU; no-op on CPU)."""
    if device_kind() != "gpu":
        return
    backend = backend_name()
    try:
        if backend == "torch":
            import torch

            torch.cuda.reset_peak_memory_stats()
        elif backend == "tensorflow":
            import tensorflow as tf

            tf.config.experimental.reset_memory_stats("GPU:0")
    except Exception:
        pass


def peak_memory_mb():
    """Peak memory in MiB: the device's on a GPU, else the process' RSS.

    On a GPU, since the last `reset_peak_memory()` (JAX cannot reset its
    counter: its figure is the process' peak). On CPU, the process' peak
    resident memory so far.
    """
    if device_kind() == "gpu":
        backend = backend_name()
        try:
            if backend == "torch":
                import torch

                return torch.cuda.max_memory_allocated() / 2**20
            if backend == "tensorflow":
                import tensorflow as tf

                return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
            import jax

            stats = jax.local_devices()[0].memory_stats() or {}
            return stats.get("peak_bytes_in_use", 0) / 2**20
        except Exception:
            return None
    return peak_rss_mb()


def machine_info():
    """Machine, device and library versions, recorded with every result."""
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "git_commit": _git_commit(),
    }
    for module in (
        "numpy",
        "keras",
        "tensorflow",
        "jax",
        "torch",
        "keras_hub",
        "gensim",
    ):
        mod = sys.modules.get(module)
        if mod is not None:
            info[f"{module}_version"] = getattr(mod, "__version__", "?")
    if "keras" in sys.modules:
        info["backend"] = backend_name()
        info["device"] = device_kind()
        if info["device"] == "gpu":
            info["gpu_name"] = _gpu_name()
    return info


def _gpu_name():
    """The GPU's model name as the backend reports it, or None."""
    backend = backend_name()
    try:
        if backend == "torch":
            import torch

            return torch.cuda.get_device_name(0)
        if backend == "jax":
            import jax

            return jax.devices()[0].device_kind
        import tensorflow as tf

        gpu = tf.config.list_physical_devices("GPU")[0]
        return tf.config.experimental.get_device_details(gpu).get("device_name")
    except Exception:
        return None


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _git_commit():
    # A copy of the working tree without `.git` (a GPU machine's) names its
    # commit in BENCH_GIT_COMMIT.
    if os.environ.get("BENCH_GIT_COMMIT"):
        return os.environ["BENCH_GIT_COMMIT"]
    try:
        here = BENCH_DIR

        def git(*args):
            return subprocess.run(
                ["git", *args], capture_output=True, text=True, cwd=here, timeout=5
            )

        commit = git("rev-parse", "--short", "HEAD").stdout.strip() or None
        # Code changed since that commit (results and docs aside) is said.
        changed = git(
            "diff",
            "--quiet",
            "HEAD",
            "--",
            "..",
            ":(exclude)results",
            ":(exclude)../docs",
        )
        if commit and changed.returncode == 1:
            commit += " + uncommitted changes"
        return commit
    except Exception:
        return None


def peak_rss_mb():
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(fn, repeats=5, warmup=1, number=1, sync=True):
    """Time `fn()`: median seconds per call over `repeats` after `warmup`.

    Args:
        fn: callable with no arguments; its return value is synchronised
            (device work finished) before the clock stops.
        repeats: timed repeats.
        warmup: untimed calls first (compilation, caches).
        number: calls per repeat (for very short functions).

    Returns:
        dict with `median_s`, `min_s`, `max_s`, `iqr_s`, `repeats`, `number`.
    """
    for _ in range(warmup):
        out = fn()
        if sync:
            synchronize(out)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            out = fn()
        if sync:
            synchronize(out)
        times.append((time.perf_counter() - start) / number)
    times.sort()
    q = statistics.quantiles(times, n=4) if len(times) >= 2 else [times[0]] * 3
    return {
        "median_s": statistics.median(times),
        "min_s": times[0],
        "max_s": times[-1],
        "iqr_s": q[2] - q[0],
        "repeats": repeats,
        "number": number,
    }


def fmt(value, digits=3):
    if value is None:
        return "-"
    if isinstance(value, float):
        if value == 0 or 1e-3 <= abs(value) < 1e6:
            return f"{value:.{digits}g}"
        return f"{value:.2e}"
    return str(value)


def markdown_table(rows, columns):
    """A markdown table of `rows` (dicts) over `columns` (keys or (key, title))."""
    cols = [(c, c) if isinstance(c, str) else c for c in columns]
    lines = [
        "| " + " | ".join(title for _, title in cols) + " |",
        "|" + "|".join("---" for _ in cols) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(fmt(row.get(key)) for key, _ in cols) + " |")
    return "\n".join(lines)


def write_results(
    name, rows, columns, title, command, notes=None, extra=None, quiet=False
):
    """Write `results/<name>.json` and `results/<name>.md`.

    Args:
        name: result file stem, e.g. `"lookup_jax"`.
        rows: list of dicts (one per measurement).
        columns: the columns of the markdown table.
        title: section title in docs/benchmarks.md.
        command: the exact command that reproduces the results.
        notes: optional markdown paragraph(s) (targets, how to read).
        extra: optional dict saved in the JSON.
        quiet: do not print the table (for intermediate writes).

    On a GPU the name gets `_gpu` appended (`result_name`) and the title
    says so, so CPU and GPU results of one benchmark are kept side by side.

    Returns:
        The path of the markdown file.
    """
    os.makedirs(RESULTS_DIR, exist_ok=True)
    info = machine_info()
    if info.get("device") == "gpu":
        name = result_name(name)
        if "gpu" not in title.lower():
            title = f"{title} on GPU"
    payload = {
        "name": name,
        "title": title,
        "command": command,
        "machine": info,
        "rows": rows,
        "extra": extra or {},
    }
    with open(os.path.join(RESULTS_DIR, f"{name}.json"), "w") as f:
        json.dump(payload, f, indent=1, default=str)
    header = (
        f"## {title}\n\n"
        f"Command: `{command}`  \n"
        f"Machine: {info['processor']}, {info['cpu_count']} cores; "
        f"{info.get('backend', '-')} backend on {info.get('device', 'cpu')}"
        + (f" ({info['gpu_name']})" if info.get("gpu_name") else "")
        + "; "
        f"{info['date']}, commit {info['git_commit']}.\n\n"
    )
    body = markdown_table(rows, columns)
    text = header + (notes.strip() + "\n\n" if notes else "") + body + "\n"
    md_path = os.path.join(RESULTS_DIR, f"{name}.md")
    with open(md_path, "w") as f:
        f.write(text)
    if not quiet:
        print(text)
    return md_path
