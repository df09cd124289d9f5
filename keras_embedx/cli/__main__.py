"""`python -m keras_embedx.cli`: the `keras-embedx` command."""

import sys

from keras_embedx_cli import main

if __name__ == "__main__":
    sys.exit(main())
