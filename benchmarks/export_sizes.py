"""Exported file sizes of a float32 and an int8 table, per `model.export` format.

`KERAS_BACKEND=tensorflow python -m benchmarks.export_sizes` (any backend;
each runs the formats Keras exports there). Prints a markdown table; the
docs quote it by hand.

The model is a frozen `PretrainedEmbedding` of 50,000 x 64 random rows
(`freeze="all"`, `storage_dtype` float32 or int8 with its per-row float32
scale), average pooling and `Dense(1)`: the table is nearly all of it. The
size of an artifact is the bytes of every file the export writes (a
`tf_saved_model` directory; jax2onnx writes the weights of an `.onnx` file
to a `.onnx.data` file beside it).
"""

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

FORMATS = {
    "tensorflow": ("tf_saved_model", "onnx", "litert"),
    "jax": ("tf_saved_model", "onnx"),
    "torch": ("onnx", "torch"),
}
SUFFIX = {"tf_saved_model": "", "onnx": ".onnx", "litert": ".tflite", "torch": ".pt2"}


def model_with_table(rows, dim, storage_dtype, seed=0):
    from keras_embedx.layers import PretrainedEmbedding

    matrix = np.random.default_rng(seed).normal(size=(rows, dim)).astype("float32")
    layer = PretrainedEmbedding(
        rows, dim, freeze="all", storage_dtype=storage_dtype, weights=matrix
    )
    inputs = keras.Input((16,), dtype="int32")
    h = keras.layers.GlobalAveragePooling1D()(layer(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1)(h))
    model(np.ones((2, 16), "int32"))  # Keras' ONNX export wants a called model
    return model


def artifact_bytes(path):
    return sum(
        os.path.getsize(os.path.join(root, name))
        for root, _, names in os.walk(path)
        for name in names
    )


def export_kwargs(fmt):
    if fmt != "torch":
        return {}
    import torch

    return {"dynamic_shapes": {0: torch.export.Dim("batch", min=1, max=1024)}}


def measure(rows, dim, formats):
    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for storage_dtype in ("float32", "int8"):
            model = model_with_table(rows, dim, storage_dtype)
            for fmt in formats:
                folder = os.path.join(tmp, f"{storage_dtype}-{fmt}")
                os.mkdir(folder)
                path = os.path.join(folder, f"model{SUFFIX[fmt]}")
                model.export(path, format=fmt, verbose=False, **export_kwargs(fmt))
                sizes[fmt, storage_dtype] = artifact_bytes(folder)
    return sizes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=64)
    args = parser.parse_args(argv)
    backend = keras.config.backend()
    formats = FORMATS[backend]
    sizes = measure(args.rows, args.dim, formats)
    table_mb = args.rows * args.dim * 4 / 1e6
    print(
        f"Backend {backend}, table {args.rows:,} x {args.dim} "
        f"({table_mb:.1f} MB as float32)\n"
    )
    print("| format | float32 (MB) | int8 (MB) | float32 / int8 |")
    print("|---|---:|---:|---:|")
    for fmt in formats:
        f32, i8 = sizes[fmt, "float32"], sizes[fmt, "int8"]
        print(f"| `{fmt}` | {f32 / 1e6:.2f} | {i8 / 1e6:.2f} | {f32 / i8:.2f} |")


if __name__ == "__main__":
    main()
