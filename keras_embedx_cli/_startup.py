"""What the front end needs before, and while, keras_embedx starts.

Importing `keras_embedx` starts Keras and its backend (its layers register
with Keras on import), so the front end reads the one table it needs, the
vector format registry, straight from its file, and imports a command's
handler only when the command runs, with TensorFlow's start-up lines held
back.
"""

import contextlib
import importlib
import importlib.util
import os
import re
import sys

# TensorFlow 2.21 logs its start-up through absl before absl is initialised,
# straight to file descriptor 2 and whatever TF_CPP_MIN_LOG_LEVEL says.
_NATIVE_NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IWE]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\]"
    r"|To enable the following instructions: "
)
_FORMATS_MODULE = "keras_embedx.vectors.formats"


@contextlib.contextmanager
def native_logs_held_back():
    """Hold back what native code writes to stderr; then pass on all but
    TensorFlow's start-up log lines."""
    import tempfile

    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to guard
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            for line in held.read().decode(errors="replace").splitlines(True):
                if not _NATIVE_NOISE.match(line):
                    sys.stderr.write(line)
            sys.stderr.flush()


def import_quietly(name):
    """`importlib.import_module(name)`, without TensorFlow's start-up lines."""
    if name in sys.modules or "keras" in sys.modules:
        return importlib.import_module(name)
    with native_logs_held_back():
        return importlib.import_module(name)


def handler(spec):
    """The function a `"module:function"` spec names, imported quietly."""
    module, name = spec.split(":")
    return getattr(import_quietly(module), name)


def vector_formats():
    """`keras_embedx.vectors.formats` (the format registry), without Keras.

    The registry imports only the standard library; it is executed from its
    file under a private name unless keras_embedx is already imported.
    """
    if _FORMATS_MODULE in sys.modules:
        return sys.modules[_FORMATS_MODULE]
    private = "keras_embedx_cli._vector_formats"
    if private in sys.modules:
        return sys.modules[private]
    package = importlib.util.find_spec("keras_embedx")
    path = os.path.join(package.submodule_search_locations[0], "vectors", "formats.py")
    spec = importlib.util.spec_from_file_location(private, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[private] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[private]
        raise
    return module
