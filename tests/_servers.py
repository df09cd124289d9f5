"""Real servers and browsers for tests: TensorBoard and headless Chromium.

Everything binds to 127.0.0.1 on a free port, and only the processes started
here are stopped, by their own pid.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np

PROJECTOR_API = "/data/plugin/projector"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tensorboard_executable():
    """The `tensorboard` next to this Python, else the one on PATH, else None."""
    here = os.path.join(os.path.dirname(sys.executable), "tensorboard")
    if os.path.exists(here):
        return here
    return shutil.which("tensorboard")


def _hide_tensorflow_dir():
    """A directory whose `tensorflow` package fails to import."""
    path = os.path.join(tempfile.gettempdir(), "keras_embedx_no_tensorflow")
    os.makedirs(os.path.join(path, "tensorflow"), exist_ok=True)
    init = os.path.join(path, "tensorflow", "__init__.py")
    if not os.path.exists(init):
        with open(init, "w") as f:
            f.write('raise ImportError("TensorFlow hidden by keras_embedx tests")\n')
    return path


class _PortTaken(RuntimeError):
    pass


class TensorBoard:
    """A `tensorboard --logdir` subprocess on 127.0.0.1.

    Use as a context manager; `get(path)` returns `(status, bytes)`.

    Args:
        logdir: the directory to serve.
        tensorflow: whether TensorBoard may import TensorFlow. Without it
            TensorBoard uses its TensorFlow-free file readers (what a JAX or
            PyTorch user without TensorFlow gets) and starts in ~3 s instead
            of ~15 s. Defaults to True under the TensorFlow backend only, so
            the suite checks both readers.
        args: more command-line flags (`["--load_fast=false"]`: the Python
            event reader instead of the Rust data server).
    """

    def __init__(self, logdir, tensorflow=None, timeout=90, args=()):
        self.logdir = os.fspath(logdir)
        if tensorflow is None:
            import keras

            tensorflow = keras.config.backend() == "tensorflow"
        self.tensorflow = bool(tensorflow)
        self.timeout = timeout
        self.args = list(args)
        self.port = free_port()
        self.proc = None
        self.log = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, attempts=3):
        """Start and wait until it answers.

        The port is picked free but bound only after TensorBoard's imports, so
        another process may take it in between: then retry on a fresh port.
        """
        for _ in range(attempts):
            try:
                return self._start_once()
            except _PortTaken:
                self.port = free_port()
        raise RuntimeError(
            f"tensorboard found its port taken {attempts} times:\n{self.output()}"
        )

    def _start_once(self):
        exe = tensorboard_executable()
        if exe is None:
            raise RuntimeError("The `tensorboard` executable was not found.")
        if self.log is not None:
            self.log.close()
        self.log = tempfile.TemporaryFile()
        env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
        if not self.tensorflow:
            paths = [_hide_tensorflow_dir(), env.get("PYTHONPATH", "")]
            env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        self.proc = subprocess.Popen(
            [
                exe,
                "--logdir",
                self.logdir,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--reload_interval",
                "1",
                *self.args,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                output = self.output()
                if "already in use" in output:
                    raise _PortTaken(output)
                raise RuntimeError(f"tensorboard exited early:\n{output}")
            try:
                status, _ = self.get("/data/plugins_listing", timeout=2)
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"tensorboard did not start in {self.timeout} s")

    def output(self):
        if self.log is None:
            return ""
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-4000:]

    def get(self, path, timeout=30):
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def projector(self, route, **params):
        """GET a projector route; returns `(status, bytes)`."""
        query = urllib.parse.urlencode(params)
        return self.get(f"{PROJECTOR_API}/{route}" + (f"?{query}" if query else ""))

    def projector_json(self, route, **params):
        status, body = self.projector(route, **params)
        if status != 200:
            raise AssertionError(f"{route} {params} -> {status}: {body[:300]!r}")
        return json.loads(body)

    def wait_for_tensors(self, names, run=".", timeout=30):
        """Poll `/info` until every tensor in `names` is listed; return the info.

        TensorBoard reads projector configs lazily (and from a background
        thread too), so the first answers after start may still be partial.
        """
        deadline = time.monotonic() + timeout
        info, listed = None, set()
        while time.monotonic() < deadline:
            try:
                status, body = self.projector("info", run=run)
            except OSError:  # a reset or slow answer on a busy machine
                status = None
            if status == 200:
                info = json.loads(body)
                listed = {e["tensorName"] for e in info.get("embeddings", [])}
                if set(names) <= listed:
                    return info
            time.sleep(0.3)
        raise AssertionError(
            f"TensorBoard did not list {sorted(set(names) - listed)} in run {run!r} "
            f"within {timeout} s (listed: {sorted(listed)})"
        )

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.log is not None:
            self.log.close()
            self.log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# ------------------------------------------------------------------ Chromium
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium_executable():
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(
    url, out_png, width=1600, height=1000, budget_ms=20000, timeout=120, log_path=None
):
    """Render `url` in headless Chromium and save a PNG screenshot.

    Flags as verified for the Projector (see FACTS.md): without a virtual
    time budget the WebGL plot is still blank when the shot is taken.
    Software WebGL is asked for by name (`--use-angle=swiftshader
    --enable-unsafe-swiftshader`; the page is our own local server): Chromium
    has deprecated falling back to it by itself, and a run where it did not
    fall back drew the Projector's page without a single point. Chromium's
    output goes to `log_path` when one is given.
    """
    exe = chromium_executable()
    if exe is None:
        raise RuntimeError("Chromium is not installed (apt-get install chromium).")
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--use-angle=swiftshader",
            "--enable-unsafe-swiftshader",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--virtual-time-budget={budget_ms}",
            f"--window-size={width},{height}",
            f"--screenshot={os.path.abspath(out_png)}",
            url,
        ]
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # Chromium starts helper processes in its own session: end that group.
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise RuntimeError(f"chromium did not finish in {timeout} s") from None
    log = out.decode("utf-8", "replace")
    if log_path is not None:
        with open(log_path, "w", encoding="utf-8") as f:
            f.write(log)
    if not os.path.exists(out_png):
        raise RuntimeError(f"chromium wrote no screenshot:\n{log[-3000:]}")
    return out_png


def count_point_pixels(png_path, region=(0.22, 0.12, 0.80, 0.98)):
    """Pixels of the Projector's default point colour in the plot area.

    The plot sits between the data panel (left ~20%) and the inspector (right
    ~20%). Points are drawn in a saturated blue-violet; the page chrome there
    is white or grey, and the three axis lines are thin.

    Args:
        region: (left, top, right, bottom) as fractions of the image.
    """
    from PIL import Image

    img = np.asarray(Image.open(png_path).convert("RGB")).astype(np.int32)
    h, w, _ = img.shape
    left, top, right, bottom = region
    crop = img[int(top * h) : int(bottom * h), int(left * w) : int(right * w)]
    r, g, b = crop[..., 0], crop[..., 1], crop[..., 2]
    bluish = (b - r > 60) & (b - g > 60)
    return int(bluish.sum())
