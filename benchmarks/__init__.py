"""keras_embedx benchmarks: `python -m benchmarks.<name>` or `python -m benchmarks`."""
