"""What `keras-embedx convert` does (its options: `keras_embedx_cli.convert`)."""

from keras_embedx.vectors.load import check_not_input, load_cli_vectors


def run(args):
    """Run `keras-embedx convert` with the parsed `args`."""
    check_not_input(args.out, args.path, "the output")
    wv = load_cli_vectors(args)
    # From here on a message's `format=` is the output's.
    args.cli_flags = {"format": "--format"}
    wv.save(args.out, format=args.format)
    print(f"wrote {args.out} ({len(wv)} words x {wv.dim}, format {args.format})")
